"""Knowing when it does not know: a calibrated refusal for points sketches.

The shape network turns any strokes into some cloud, so the back end first reads the scribble
signs of the strokes themselves (`signs`: no network, a few milliseconds) and a logistic
regression over them (`neural/refusal.py`) gives the probability that they draw an object. An
object's drawing is its outline and the edges between its parts: strokes that run on smoothly,
meet other strokes at their ends, do not cross one another and leave most of their box empty. A
scribble goes back and forth (a zigzag, hatching, shading), tangles, loops, crosses itself and
other strokes, or throws lines that end in the air.

The signs, over the strokes as the back end reads them (`as_read`), every length a share of the
diagonal D of the drawing's box, so that neither the canvas nor the device's sampling counts
(the strokes are resampled every D/50):

* turn: the absolute turn of the strokes resampled every D/25 (a hand's tremor is finer),
  radians per diagonal of stroke length;
* reversals: the places where a stroke turns back on itself (its direction flips by more than
  150 degrees within D/25), per diagonal of stroke length;
* repeats: the flips within D/10 beyond the second in each stroke, summed (a leg's outline
  turns back once at its foot; a zigzag or a hatching in one stroke turns back again and again);
* crossings: how many times strokes cross (themselves or each other) at more than 25 degrees,
  each farther from its stroke's ends than D/16 and a fifth of the stroke (an overshoot at a
  corner does not count), per stroke: object edges meet at their ends, they do not cross;
* loose ends: the share of stroke ends whose tail, from the end to where the stroke first comes
  within D/40 of other ink, is longer than an overshoot (a fifth of the stroke and D/25);
* overlap: the stroke length over the inked cells of a 128-cell grid over the box (ink over ink);
* fill: the share of the box (at least a quarter of its longer side each way: a pole's drawing
  is thin, not full) within two cells of ink;
* ink: the stroke length in diagonals;
* dashes: the share of the ink in strokes shorter than D/30;
* strokes: how many strokes;
* loops: how many strokes each span most of the drawing (three fifths of its box both ways).

Only the first `MAX_STROKES` strokes and `MAX_INK` diagonals of ink are read for the signs but
ink, dashes and strokes (an object's drawing has far less of either), which keeps a 20,000-point
scribble cheap. The regression's features (`features`) clip each sign at about the most any
generated object's drawing shows (`CLIP`): beyond it every sketch is a scribble, and the
regression need not rank them. Strokes, ink and dashes have bounds besides (1.5 times the most
any drawing fitted on shows): a sketch beyond one is refused whatever the regression says.

The regression is fitted by `sketchforge-calibrate-points-refusal` on generated objects
(`data.make_item`) drawn five ways (`VARIANTS`: as drawn, by a messier hand, the first half of
the strokes, stopped part way as a person stops to look, the outline alone) against the face
generator's scribbles (`neural/face/scribble.py`), its threshold set so that at most half a
percent of those drawings are refused. The CAD refusal's scribbles (`neural/cad/refusal.py`) are
another generator it never sees: `benchmarks/bench_refusal.py` measures both. The weights ship as
`assets/points/refusal.json`.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from scipy.spatial import cKDTree

from sketchforge.modeling.sketch import Sketch

from ..refusal import Refusal, fit_refusal

__all__ = ["FEATURES", "SIGNS", "FORMAT", "VARIANTS", "signs", "features", "reason", "load", "as_read",
           "object_variants", "drawing_bounds", "collect", "main"]

FEATURES = ("turn", "reversals", "repeats", "crossings", "loose_ends", "overlap", "fill", "log_ink", "log_strokes",
            "loops")
SIGNS = (-1, -1, -1, -1, -1, -1, -1, -1, -1, -1)  # every sign may only count against an object (`fit_refusal`)
CLIP = {"turn": 8.0, "reversals": 1.5, "repeats": 2.0, "crossings": 0.3, "overlap": 2.0, "fill": 0.7,
        "ink": 20.0, "loops": 4.0}
BOUNDED = ("strokes", "ink", "dashes")
SIGN_NAMES = ("turn", "reversals", "repeats", "crossings", "loose_ends", "overlap", "fill", "ink", "dashes",
              "strokes", "loops")
FORMAT = "sketchforge.points-refusal"
REMAKE = "make it again with sketchforge-calibrate-points-refusal (see assets/points/MODEL_CARD.md)"
ADVICE = ("draw the object's outline and the edges between its parts, each edge once "
          "(in the window, Backspace takes the last stroke back)")
VARIANTS = ("as drawn", "messier", "first half", "stopped to look", "outline only")
MAX_STROKES = 400
MAX_INK = 60.0  # diagonals
GRID = 128
# what each sign says when it is the one that weighs most against an object
_WHY = {"turn": "the strokes keep changing direction", "reversals": "the strokes keep turning back on themselves",
        "repeats": "a stroke goes back and forth over the same place",
        "crossings": "the strokes cross each other instead of meeting at their ends",
        "loose_ends": "the lines end in the air instead of meeting other lines",
        "overlap": "the strokes go over the same place again and again", "fill": "the ink fills the drawing's area",
        "log_ink": "there is more ink than an object's drawing has",
        "ink": "there is far more ink than an object's drawing has", "dashes": "it is mostly dots and dashes",
        "log_strokes": "there are more strokes than an object's drawing has",
        "strokes": "there are far more strokes than an object's drawing has",
        "loops": "the same outline is drawn over and over"}


def _resample(p: np.ndarray, step: float, upto: float) -> np.ndarray:
    """Points every `step` along the polyline `p`, over at most its first `upto` of length (the
    last point kept; both ends of a shorter one)."""
    d = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))]
    if d[-1] < step:
        return p[[0, -1]] if len(p) > 1 else p[:1]
    last = min(float(d[-1]), upto)
    s = np.r_[np.arange(0.0, last, step), last]
    return np.stack([np.interp(s, d, p[:, 0]), np.interp(s, d, p[:, 1])], 1)


def _orient(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.sign((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def signs(sketch: Sketch) -> dict[str, float]:
    """The scribble signs of the sketch's strokes (module notes); every one 0 for a sketch with
    no stroke."""
    raw = [np.asarray(s.uv, float) for s in sketch.strokes if len(s.points)]
    out = dict.fromkeys(SIGN_NAMES, 0.0)
    if not raw:
        return out
    every = np.concatenate(raw)
    lo, hi = every.min(0), every.max(0)
    diag = max(float(np.linalg.norm(hi - lo)), 1.0)
    lengths = np.array([float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum()) for p in raw])
    out["ink"], out["strokes"] = float(lengths.sum()) / diag, float(len(raw))
    out["dashes"] = float(lengths[lengths < diag / 30.0].sum() / max(float(lengths.sum()), 1e-9))
    step, budget, res = diag / 50.0, MAX_INK * diag, []
    for p in raw[:MAX_STROKES]:
        if budget <= 0:
            break
        res.append(_resample(p, step, budget))
        budget -= float(np.linalg.norm(np.diff(res[-1], axis=0), axis=1).sum())
    raw, lengths = raw[: len(res)], lengths[: len(res)]
    seglen = [np.linalg.norm(np.diff(q, axis=0), axis=1) for q in res]
    ink = max(float(sum(x.sum() for x in seglen)) / diag, 1e-6)
    out.update(_turning(res, diag, ink))
    out["crossings"] = _crossings(res, seglen, diag) / len(res)
    out["loose_ends"] = _loose_ends(res, seglen, diag)
    # overlap and fill on a grid over the box (its longer side GRID - 5 cells, two cells around it)
    scale = (GRID - 5) / max(float((hi - lo).max()), 1.0)
    img = np.zeros((GRID, GRID), np.uint8)
    cv2.polylines(img, [np.round(((q - lo) * scale + 2) * 16).astype(np.int32) for q in res], False, 255, 1,
                  cv2.LINE_8, 4)
    out["overlap"] = ink * diag * scale / max(int(np.count_nonzero(img)), 1)
    w, h = np.maximum((hi - lo) * scale + 5, GRID / 4)  # a pole's drawing is thin, not full
    out["fill"] = float(np.count_nonzero(cv2.dilate(img, np.ones((5, 5), np.uint8)))) / float(w * h)
    extent = np.maximum(hi - lo, 1e-9)
    out["loops"] = float(sum(bool((np.ptp(p, axis=0) >= 0.6 * extent).all()) for p in raw))
    return out


def _turning(res: list[np.ndarray], diag: float, ink: float) -> dict[str, float]:
    """Turn per diagonal of ink (the strokes resampled every D/25), reversals (direction flips by
    more than 150 degrees within D/25) per diagonal of ink, and repeats (flips within D/10 beyond
    the second in a stroke); `res` resampled every D/50."""
    turn, reversals, repeats = 0.0, 0, 0
    for q in res:
        coarse = _resample(q, diag / 25.0, math.inf)
        if len(coarse) >= 3:
            a = np.arctan2(*np.diff(coarse, axis=0).T[::-1])
            turn += float(np.abs((np.diff(a) + np.pi) % (2 * np.pi) - np.pi).sum())
        v = np.diff(q, axis=0)
        if len(v) < 2:
            continue
        u = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
        flip = np.zeros(len(u), bool)
        for k in range(1, 6):
            flip[:-k] |= np.einsum("ij,ij->i", u[:-k], u[k:]) < -0.866
            if k == 2:
                reversals += int((flip & ~np.r_[False, flip[:-1]]).sum())
        repeats += max(0, int((flip & ~np.r_[False, flip[:-1]]).sum()) - 2)
    return {"turn": turn / ink, "reversals": reversals / ink, "repeats": float(repeats)}


def _crossings(res: list[np.ndarray], seglen: list[np.ndarray], diag: float) -> int:
    """How many times the strokes cross (themselves or each other) at more than 25 degrees
    (directions over D/7 about the crossing, so two wobbly strokes side by side do not count),
    each segment farther from its stroke's ends than D/16 and a fifth of the stroke (an
    overshoot at a corner does not count)."""
    segs, sid, index, away, chord = [], [], [], [], []
    for k, (q, x) in enumerate(zip(res, seglen)):
        if not len(x):
            continue
        n = len(x)
        segs.append(np.stack([q[:-1], q[1:]], 1))
        sid.append(np.full(n, k))
        index.append(np.arange(n))
        mid, total = np.cumsum(x) - x / 2, float(x.sum())
        away.append(np.minimum(mid, total - mid) > max(diag / 16.0, total / 5.0))
        i = np.arange(n)
        chord.append(q[np.minimum(i + 4, n)] - q[np.maximum(i - 3, 0)])
    if sum(len(s) for s in segs) < 2:
        return 0
    seg, sid_, idx, far = np.concatenate(segs), np.concatenate(sid), np.concatenate(index), np.concatenate(away)
    d = np.concatenate(chord)
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    reach = float(max(x.max() for x in seglen if len(x)))
    pairs = cKDTree(seg.mean(1)).query_pairs(reach * 1.001, output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    keep = ((sid_[i] != sid_[j]) | (np.abs(idx[i] - idx[j]) > 2)) & far[i] & far[j]
    i, j = i[keep], j[keep]
    p1, p2, p3, p4 = seg[i, 0], seg[i, 1], seg[j, 0], seg[j, 1]
    hit = (_orient(p1, p2, p3) * _orient(p1, p2, p4) < 0) & (_orient(p3, p4, p1) * _orient(p3, p4, p2) < 0)
    wide = np.abs(np.einsum("ij,ij->i", d[i], d[j])) < math.cos(math.radians(25.0))
    return int((hit & wide).sum())


def _loose_ends(res: list[np.ndarray], seglen: list[np.ndarray], diag: float) -> float:
    """The share of stroke ends whose tail (from the end to where the stroke first comes within
    D/40 of other ink: another stroke, or itself farther along) is longer than an overshoot (a
    fifth of the stroke and D/25)."""
    pts = np.concatenate(res)
    pid = np.concatenate([np.full(len(q), k) for k, q in enumerate(res)])
    parc = np.concatenate([np.r_[0.0, np.cumsum(x)] for x in seglen])
    tol, k = diag / 40.0, min(12, len(pts))
    dist, near = cKDTree(pts).query(pts, k=k, distance_upper_bound=tol)
    dist, near = dist.reshape(len(pts), k), near.reshape(len(pts), k)
    found = np.isfinite(dist)
    near = np.where(found, near, 0)
    touch = (found & ((pid[near] != pid[:, None]) | (np.abs(parc[near] - parc[:, None]) > 3 * tol))).any(1)
    loose, start = 0, 0
    for q, x in zip(res, seglen):
        t, arc = touch[start: start + len(q)], parc[start: start + len(q)]
        start += len(q)
        length = float(x.sum())
        allowed = length / 5.0 + diag / 25.0
        if not t.any():
            loose += 2 if length > allowed else 0
        else:
            loose += int(arc[np.argmax(t)] > allowed) + int(length - arc[len(t) - 1 - np.argmax(t[::-1])] > allowed)
    return loose / (2.0 * len(res))


def features(signs: dict[str, float]) -> np.ndarray:
    """The regression's features (`FEATURES`) of a sketch's signs: each clipped at `CLIP`, logs of
    ink and strokes."""
    c = {k: min(signs[k], v) for k, v in CLIP.items()}
    return np.array([c["turn"], c["reversals"], c["repeats"], c["crossings"], signs["loose_ends"], c["overlap"],
                     c["fill"], math.log(max(c["ink"], 0.5)), math.log1p(signs["strokes"]), c["loops"]])


def reason(refusal: Refusal, sketch: Sketch) -> str | None:
    """The message for the user when the refusal takes the sketch for a scribble (naming the sign
    that weighs most against an object, or the bound it is beyond), None when it reads as an
    object's drawing."""
    s = signs(sketch)
    if refusal.beyond(s):
        worst = max(refusal.bounds, key=lambda k: s.get(k, 0.0) / max(refusal.bounds[k], 1e-9))
    else:
        f = features(s)
        if not refusal.refuses(f.tolist()):
            return None
        z = (f - np.asarray(refusal.mean)) / np.asarray(refusal.std)
        worst = refusal.features[int(np.argmin(np.asarray(refusal.weights) * z))]
    return f"this looks like a scribble, not an object ({_WHY.get(worst, 'it reads as no object')}): {ADVICE}"


def load(path: str | Path) -> Refusal:
    """The points refusal file at `path` (ValueError saying how to make it again when it is not one)."""
    return Refusal.load(path, FORMAT, FEATURES, REMAKE)


def object_variants(seed: int) -> dict[str, Sketch]:
    """The object of item `seed` drawn the ways the refusal is fitted and measured on
    (`VARIANTS`): as `data.make_item(seed)` draws it, by a messier hand from another view, its
    first half of the strokes, the strokes up to a random one with that one cut part way (a
    person stopping to look), and its outline strokes alone."""
    from ..synth.strokes import StrokeStyle
    from .drawing import DrawConfig, draw
    from .objects import make_object
    from .prompts import plan_colors, prompt_text
    obj = make_object(np.random.default_rng([seed, 0]))
    color_rng = np.random.default_rng([seed, 1])
    prompt = prompt_text(obj, plan_colors(obj, color_rng), color_rng)
    drawn = draw(obj, np.random.default_rng([seed, 3]), prompt)
    sk = drawn.sketch
    rng = np.random.default_rng([seed, 7])
    messy = DrawConfig(style=dataclasses.replace(StrokeStyle.stronger(2.0), bow=2.0 * DrawConfig().style.bow))
    n = len(sk.strokes)

    def some(strokes) -> Sketch:
        return Sketch(sk.camera, sk.width, sk.height, tuple(strokes), sk.mode, sk.prompt)

    least = min(3, n)  # a person who stopped after a line or two has drawn no object yet
    stop = int(rng.integers(max(least, n // 3), n)) if n > least else n
    last = sk.strokes[stop - 1]
    cut = dataclasses.replace(last, points=last.points[: max(2, int(len(last.points) * rng.uniform(0.3, 1.0)))])
    outline = [s for s, made in zip(sk.strokes, drawn.strokes) if made.role == "base"]
    return {"as drawn": sk, "messier": draw(obj, rng, prompt, messy).sketch,
            "first half": some(sk.strokes[: max(least, n // 2)]),
            "stopped to look": some((*sk.strokes[: stop - 1], cut)), "outline only": some(outline or sk.strokes)}


def as_read(sketch: Sketch) -> Sketch | None:
    """The sketch as the back end reads it (`tidy_sketch` with its off-canvas share), None when
    nothing is left."""
    from ..backend import tidy_sketch
    from .backend import OFF_CANVAS
    return tidy_sketch(sketch, off_canvas=OFF_CANVAS)


def drawing_bounds(real: list[dict[str, float]], margin: float = 1.5) -> dict[str, float]:
    """`margin` times the most any of the real drawings' signs (`real`) shows, per sign of `BOUNDED`."""
    return {k: margin * max(s[k] for s in real) for k in BOUNDED}


def collect(items: int, seed: int, progress: bool = True) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Features of `items` generated objects (item seeds `cli.item_seed(seed, k)`, each drawn the
    five ways of `object_variants`) and of one scribble of each kind of the face generator's
    `SCRIBBLE_KINDS` on each object's canvas; and the bounds of the real drawings (scribbles
    beyond them are refused before the regression, so they are left out of it)."""
    from ..face.scribble import SCRIBBLE_KINDS, scribble_sketch
    from .cli import item_seed
    rng = np.random.default_rng([seed, 1])
    real: list[dict[str, float]] = []
    fake: list[dict[str, float]] = []
    t0 = time.perf_counter()
    for k in range(items):
        variants = object_variants(item_seed(seed, k))
        real += [signs(v) for v in map(as_read, variants.values()) if v is not None]
        for kind in SCRIBBLE_KINDS:
            sc = as_read(scribble_sketch(kind, rng, variants["as drawn"]))
            if sc is not None:
                fake.append(signs(sc))
        if progress and (k + 1) % 50 == 0:
            print(f"{k + 1}/{items} objects ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    bounds = drawing_bounds(real)
    gate = Refusal(FORMAT, FEATURES, (), 0.0, (), (), 0.0, {}, bounds)
    return (np.array([features(s) for s in real]), np.array([features(s) for s in fake if not gate.beyond(s)]),
            bounds)


PROG = "sketchforge-calibrate-points-refusal"


def main(argv: list[str] | None = None) -> int:
    """sketchforge-calibrate-points-refusal: fit the points refusal on generated objects and scribbles."""
    from ..commands import run_command
    return run_command(PROG, lambda: _main(argv), (ValueError, OSError), interrupted="nothing was written")


def _main(argv: list[str] | None) -> int:
    from ..commands import Parser, UsageError
    from ..face.scribble import SCRIBBLE_KINDS
    ap = Parser(prog=PROG, description="Fit the points back end's refusal on generated objects and scribbles.")
    ap.add_argument("--items", type=int, default=400, help="objects to generate (each drawn five ways; default 400)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the objects and scribbles (non-negative)")
    ap.add_argument("--max-refused", type=float, default=0.005, help="share of the objects' drawings the "
                    "threshold may refuse (default 0.005)")
    ap.add_argument("--out", type=Path, required=True, help="the refusal file to write (JSON)")
    a = ap.parse_args(argv)
    if a.items < 10:
        raise UsageError("--items must be at least 10")
    if a.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, got {a.seed}")
    if not 0.0 <= a.max_refused < 0.5:
        raise UsageError(f"--max-refused must be a share from 0 to 0.5, got {a.max_refused}")
    real, fake, bounds = collect(a.items, a.seed)
    drawn = a.items * len(SCRIBBLE_KINDS)
    r = fit_refusal(real, fake, FORMAT, FEATURES, a.max_refused, signs=SIGNS, bounds=bounds,
                    extra={"items": a.items, "seed": a.seed, "real": len(real), "scribbles_fitted": len(fake),
                           "scribbles_drawn": drawn, "variants": list(VARIANTS),
                           "scribble_kinds": list(SCRIBBLE_KINDS)})
    r.save(a.out)
    refused = np.mean([r.refuses(f) for f in real])
    caught = (drawn - len(fake) + sum(r.refuses(f) for f in fake)) / max(drawn, 1)
    print(f"wrote {a.out}: threshold {r.threshold:.3f}; on its own data {refused:.1%} of the objects' drawings "
          f"refused, {caught:.1%} of scribbles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
