"""Knowing when it does not know: a calibrated refusal for CAD readings.

The fitting always finds *some* operation, so a scribble over the model used to come back as an
extrude scored 0.05. The refusal reads the drawing (how many strokes and points, how much ink for
its size, how much it turns) and the reading (the best proposal's score and fitting distance, the
network's class certainty, how far the second proposal trails) and gives the probability that the
sketch is a real operation sketch: a logistic regression fitted on generated sketches against
generated scribbles (`sketchforge-calibrate-cad-refusal`), its threshold set so that at most a
given share of the real sketches it was fitted on are refused. The weights are a small JSON file
(`assets/cad/refusal.json`, never unpickled).

Scribble kinds (`SCRIBBLE_KINDS`), drawn over the area of a real sketch in its own view: 20 random
segments, a zigzag, 2,000 tiny strokes, 20,000 random points in one stroke, one straight line, a
tangle (a random walk) and hatching.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from sketchforge.modeling.sketch import Sketch, Stroke

from ..refusal import Refusal, fit_refusal

log = logging.getLogger(__name__)

# No point count: how densely a stroke is sampled depends on the device (a tablet at 200 Hz draws
# ten times the points of a mouse), not on what is drawn.
FEATURES = ("log_score", "fit_px", "class_max", "second_ratio", "log_strokes", "ink", "turning", "proposals")
SCRIBBLE_KINDS = ("segments", "zigzag", "many", "points", "line", "tangle", "hatch")
FORMAT = "sketchforge.cad-refusal"
HINT = ("Not sure what this is: draw the outline on a face of the model and one line for the height "
        "(or, for a bevel, the new edges beside an edge)")


def drawing_features(sketch: Sketch) -> dict[str, float]:
    """What the drawing itself says, whatever it is read as: strokes (log), ink for its size (length
    over the diagonal of its box) and turning (radians per diagonal of length, the strokes
    resampled at 1/100 of the diagonal, so the device's sampling does not count)."""
    strokes = [np.asarray(s.uv, float) for s in sketch.strokes if len(s.points)]
    if not strokes:
        return {"log_strokes": 0.0, "ink": 0.0, "turning": 0.0}
    every = np.concatenate(strokes)
    diag = max(float(np.linalg.norm(every.max(0) - every.min(0))), 1.0)
    step = diag / 100.0
    length = turning = 0.0
    for p in strokes:
        seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
        total = float(seg.sum())
        length += total
        if total < 2 * step:
            continue
        d = np.r_[0.0, np.cumsum(seg)]
        s = np.arange(0.0, total, step)
        q = np.stack([np.interp(s, d, p[:, 0]), np.interp(s, d, p[:, 1])], 1)
        v = np.diff(q, axis=0)
        a = np.arctan2(v[:, 1], v[:, 0])
        turning += float(np.abs((np.diff(a) + np.pi) % (2 * np.pi) - np.pi).sum())
    return {"log_strokes": math.log1p(len(strokes)), "ink": length / diag,
            "turning": turning / max(length / diag, 1e-6)}


def reading_features(sketch: Sketch, proposals: Sequence, class_probs) -> np.ndarray:
    """The feature vector (`FEATURES`) of a sketch and how it was read (proposals best first, the
    network's class probabilities or None)."""
    f = drawing_features(sketch)
    top = proposals[0] if proposals else None
    score = float(top.score) if top is not None else 0.0
    second = float(proposals[1].score) if len(proposals) > 1 else 0.0
    fit_px = float(top.extra.get("fit_px", 10.0)) if top is not None else 10.0
    probs = np.asarray(class_probs, float) if class_probs is not None else np.zeros(1)
    return np.array([math.log(score + 1e-4), min(fit_px, 10.0), float(probs.max()),
                     second / max(score, 1e-6) if top is not None else 1.0, f["log_strokes"],
                     min(f["ink"], 200.0), min(f["turning"], 200.0), float(len(proposals))])


REMAKE = "make it again with sketchforge-calibrate-cad-refusal (see assets/cad/MODEL_CARD.md)"


def obvious(refusal: Refusal, sketch: Sketch) -> bool:
    """True when the drawing alone is far outside what real sketches draw (1.5 times the most any
    real sketch of the calibration set drew): refused before any fitting, which also keeps a
    20,000-point scribble from costing seconds of fitting."""
    return refusal.beyond(drawing_features(sketch))


def load(path: str | Path) -> Refusal:
    """The CAD refusal file at `path` (ValueError saying how to make it again when it is not one)."""
    return Refusal.load(path, FORMAT, FEATURES, REMAKE)


def drawing_bounds(sketches: Sequence[Sketch], margin: float = 1.5) -> dict[str, float]:
    """`margin` times the most any of the real `sketches` draws, per drawing feature."""
    feats = [drawing_features(s) for s in sketches]
    return {k: margin * max(f[k] for f in feats) for k in ("log_strokes", "ink", "turning")}


def scribble(kind: str, like: Sketch, rng: np.random.Generator) -> Sketch:
    """A scribble of `kind` over the area of the sketch `like` (its box grown by a tenth), in its view."""
    uv = np.concatenate([s.uv for s in like.strokes])
    lo, hi = uv.min(0), uv.max(0)
    span = np.maximum(hi - lo, 8.0)
    lo, hi = lo - 0.1 * span, hi + 0.1 * span

    def anywhere(k: int) -> np.ndarray:
        return lo + rng.random((k, 2)) * (hi - lo)

    lines: list[np.ndarray] = []
    if kind == "segments":
        lines = [np.linspace(*anywhere(2), 12) for _ in range(20)]
    elif kind == "zigzag":
        k = int(rng.integers(8, 30))
        xs = np.linspace(lo[0], hi[0], k)
        ys = np.where(np.arange(k) % 2, lo[1], hi[1]) + rng.normal(0, 0.03 * span[1], k)
        pts = np.stack([xs, ys], 1)
        lines = [np.concatenate([np.linspace(pts[i], pts[i + 1], 6) for i in range(k - 1)])]
    elif kind == "many":
        lines = [np.stack([p, p + rng.normal(0, 2.0, 2)]) for p in anywhere(2000)]
    elif kind == "points":
        lines = [anywhere(20000)]
    elif kind == "line":
        lines = [np.linspace(*anywhere(2), 30)]
    elif kind == "tangle":
        p, a, pts = anywhere(1)[0], 0.0, []
        for _ in range(int(rng.integers(150, 400))):
            a += rng.normal(0, 0.8)
            p = np.clip(p + 0.02 * np.linalg.norm(span) * np.array([np.cos(a), np.sin(a)]), lo, hi)
            pts.append(p)
        lines = [np.array(pts)]
    elif kind == "hatch":
        slant = rng.uniform(0.1, 0.5)
        starts = [np.array([lo[0] + t * (hi[0] - lo[0]), lo[1]]) for t in np.linspace(0, 1, int(rng.integers(8, 20)))]
        lines = [np.linspace(a, a + np.array([slant * span[0], hi[1] - lo[1]]), 10) for a in starts]
    else:
        raise ValueError(f"unknown scribble {kind!r}; pick one of {', '.join(SCRIBBLE_KINDS)}")
    strokes = tuple(Stroke(np.column_stack([q, np.ones(len(q)), 8.0 * np.arange(len(q))])) for q in lines)
    return Sketch(like.camera, like.width, like.height, strokes, like.mode, like.prompt)


def _items(data: Path, limit: int) -> list[tuple[Path, Path]]:
    out = []
    for sk in sorted((data / "sketches").glob("*.sketch.json")):
        item = sk.name.split(".")[0].split("-")[1]
        out.append((data / "steps" / f"item-{item}-before.step", sk))
    return out[:limit]


def collect(data: Path, limit: int, seed: int, progress: bool = True) -> tuple[np.ndarray, np.ndarray, dict]:
    """Features of the set's sketches (as drawn, reversed, shuffled) and of one scribble per
    sketch (kinds in turn), each read over its model with the refusal off; and the drawing bounds
    of the real sketches (scribbles beyond them are refused before fitting, so they are left out
    of the regression)."""
    from sketchforge.modeling.session import Session

    from ..backend import tidy_sketch
    from .backend import CadBackend
    backend = CadBackend(refuse=False)
    rng = np.random.default_rng(seed)
    real, fake = [], []
    items = _items(data, limit)
    bounds = drawing_bounds([Sketch.load(path) for _, path in items])
    gate = Refusal(FORMAT, FEATURES, (), 0.0, (), (), 0.0, {}, bounds)
    t0 = time.perf_counter()
    for k, (model, path) in enumerate(items):
        s = Session()
        s.import_file(model)
        sketch = Sketch.load(path)
        order = list(rng.permutation(len(sketch.strokes)))
        variants = [sketch, Sketch(sketch.camera, sketch.width, sketch.height,
                                   tuple(Stroke(st.points[::-1], st.kind) for st in sketch.strokes)),
                    Sketch(sketch.camera, sketch.width, sketch.height, tuple(sketch.strokes[i] for i in order))]
        for v in variants:
            v = tidy_sketch(v, min_extent=2.0) or v  # as the back end reads it
            r = backend.propose(v, s.context(v.camera))
            real.append(reading_features(v, r.proposals, r.report.details.get("class_probs")))
        sc = scribble(SCRIBBLE_KINDS[k % len(SCRIBBLE_KINDS)], sketch, rng)
        sc = tidy_sketch(sc, min_extent=2.0) or sc
        if not obvious(gate, sc):
            r = backend.propose(sc, s.context(sc.camera))
            fake.append(reading_features(sc, r.proposals, r.report.details.get("class_probs")))
        if progress and (k + 1) % 20 == 0:
            print(f"{k + 1}/{len(items)} sketches ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    return np.array(real), np.array(fake), bounds


PROG = "sketchforge-calibrate-cad-refusal"


def main(argv: list[str] | None = None) -> int:
    """sketchforge-calibrate-cad-refusal: fit the refusal on a generated set and its scribbles."""
    from ..commands import run_command
    return run_command(PROG, lambda: _main(argv), (ValueError, OSError), interrupted="nothing was written")


def _main(argv: list[str] | None) -> int:
    from ..commands import Parser, UsageError
    ap = Parser(prog=PROG, description="Fit the CAD back end's refusal on a generated set and its scribbles.")
    ap.add_argument("--data", type=Path, required=True, help="a generated set (sketchforge data generate "
                    "... --step-sample 1): its sketches/ and steps/")
    ap.add_argument("--limit", type=int, default=300, help="sketches to read (default 300)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the scribbles and stroke orders")
    ap.add_argument("--max-refused", type=float, default=0.005, help="share of the real sketches the threshold "
                    "may refuse (default 0.005)")
    ap.add_argument("--out", type=Path, required=True, help="the refusal file to write (JSON)")
    a = ap.parse_args(argv)
    if not (a.data / "sketches").is_dir() or not (a.data / "steps").is_dir():
        raise UsageError(f"{a.data} has no sketches/ and steps/; make a set with sketchforge data generate "
                         "--step-sample 1")
    real, fake, bounds = collect(a.data, a.limit, a.seed)
    r = fit_refusal(real, fake, FORMAT, FEATURES, a.max_refused, bounds=bounds,
                    extra={"data": str(a.data), "limit": a.limit, "seed": a.seed, "real": len(real),
                           "scribbles_fitted": len(fake), "scribbles_drawn": a.limit})
    r.save(a.out)
    refused = np.mean([r.refuses(f) for f in real])
    caught = (a.limit - len(fake) + sum(r.refuses(f) for f in fake)) / max(a.limit, 1)
    print(f"wrote {a.out}: threshold {r.threshold:.3f}; on its own data {refused:.1%} of real sketches refused, "
          f"{caught:.1%} of scribbles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
