"""The signs of a scribble in a face sketch, and scribbles to measure the refusal with.

A face sketch is an outline with a few features inside, drawn with smooth strokes that seldom
turn back on themselves. A scribble is ink going back and forth: hatching, a tangle, loops run
together, shading, lines thrown across, a pile of circles. The networks turn anything into some
head, so the back end reads these signs (`scribble_signs`) and its calibrated refusal
(`refusal.py`, `assets/face/refusal.json`) decides from them, refusing with a message saying what
to draw instead.

The signs, two of them from the maps network's reading of the sketch (the coarse stage's reading,
which the back end makes anyway):

* turn: the mean absolute turn of the plain strokes per 100 px of their length in the frame
  (after resampling every 4 px);
* overlap: stroke length times the pen width over the inked pixels (ink drawn over ink);
* fill: the inked share of the strokes' bounding box;
* straight: the share of the plain strokes' length in long straight strokes (a chord at least
  97% of the length, longer than a tenth of the frame): thrown lines and hatching;
* strokes: how many plain strokes;
* loops: how many plain strokes each span most of the drawing (three fifths of its box both
  ways): an outline is drawn once or twice, a pile of circles many times;
* unsure: the share of the frame the maps network gives a head probability between 0.2 and 0.8,
  over the area it is sure of (`NO_HEAD` when it is sure of less than 1% of the frame);
* drawn border: the share of the predicted head's border lying within 3 px of a stroke;
* passes: the plain strokes' length within 6 px of the predicted head's border over the border's
  length (how many times the outline is drawn over).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sketchforge.modeling.sketch import Sketch, Stroke

from .frame import PEN_PX, SIZE, FaceFrame

NO_HEAD = 10.0  # the unsure sign when the maps network sees no head at all

__all__ = ["NO_HEAD", "SCRIBBLE_KINDS", "ScribbleSigns", "scribble_signs", "scribble_sketch", "with_hair",
           "with_shading"]


@dataclass(frozen=True)
class ScribbleSigns:
    turn: float      # radians per 100 px of plain stroke
    overlap: float   # stroke length x pen width / inked pixels
    fill: float      # inked share of the strokes' box
    straight: float  # share of the length in long straight strokes
    strokes: int     # plain strokes
    loops: int       # plain strokes spanning most of the drawing
    unsure: float    # maps network: unsure area / sure head area
    drawn_border: float  # share of the predicted head's border near a stroke
    passes: float    # length near the predicted border / the border's length


def _resample(p: np.ndarray, step: float) -> np.ndarray:
    d = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))]
    if d[-1] < step:
        return p[:1]
    s = np.arange(0.0, d[-1], step)
    return np.stack([np.interp(s, d, p[:, 0]), np.interp(s, d, p[:, 1])], 1)


def scribble_signs(frame: FaceFrame, strokes: list[tuple[np.ndarray, str | None]],
                   mask: np.ndarray) -> ScribbleSigns:
    """The signs of the plain strokes (plane points with kinds, as `FaceFrame.of_sketch` gives
    them); `mask` (H, W) is the maps network's head probability for them."""
    plain = [(p, k) for p, k in strokes if k not in ("ridge", "valley")]
    ink = frame.ink(plain)[0] > 0
    m = np.asarray(mask, np.float32)
    sure = m > 0.5
    sure8 = sure.astype(np.uint8)
    border = sure8 - cv2.erode(sure8, np.ones((3, 3), np.uint8))
    band = cv2.dilate(border, np.ones((13, 13), np.uint8)) > 0
    length = turn = straight = near_border = 0.0
    pix = [frame.to_pixels(p) for p, _ in plain]
    every = np.concatenate(pix) if pix else np.zeros((1, 2))
    extent = np.maximum(np.ptp(every, axis=0), 1.0)
    loops = sum(bool((np.ptp(q, axis=0) >= 0.6 * extent).all()) for q in pix)
    for p in pix:
        q = _resample(p, 1.0)
        length += len(q)
        inside = np.clip(np.round(q).astype(int), 0, SIZE - 1)
        near_border += float(band[inside[:, 1], inside[:, 0]].sum())
        if len(q) > SIZE / 10 and np.linalg.norm(q[-1] - q[0]) >= 0.97 * (len(q) - 1):
            straight += len(q)
        r = _resample(q, 4.0)
        if len(r) < 3:
            continue
        v = np.diff(r, axis=0)
        a = np.arctan2(v[:, 1], v[:, 0])
        turn += float(np.abs((np.diff(a) + np.pi) % (2 * np.pi) - np.pi).sum())
    inked = int(ink.sum())
    ys, xs = np.nonzero(ink)
    box = (np.ptp(xs) + 1) * (np.ptp(ys) + 1) if inked else 1
    near = cv2.dilate(ink.astype(np.uint8), np.ones((7, 7), np.uint8))
    by, bx = np.nonzero(border)
    return ScribbleSigns(turn=100.0 * turn / max(length, 1.0), overlap=length * PEN_PX / max(inked, 1),
                         fill=inked / box, straight=straight / max(length, 1.0), strokes=len(plain), loops=loops,
                         unsure=float(((m > 0.2) & (m < 0.8)).sum() / sure.sum()) if sure.sum() >= 0.01 * m.size
                         else NO_HEAD,
                         drawn_border=float(near[by, bx].mean()) if len(by) else 0.0,
                         passes=near_border / max(len(by), 1))


# -- scribbles, and heads with hair or shading, to measure the test with ------------------------
def _stroke(uv: np.ndarray) -> Stroke:
    """A plain stroke through pixel points (M, 2): even pressure, 8 ms between points."""
    uv = np.asarray(uv, float).reshape(-1, 2)
    return Stroke(np.column_stack([uv, np.full(len(uv), 0.5), 8.0 * np.arange(len(uv))]))


def _walk(rng, n, step, turn_sd, start) -> np.ndarray:
    a = rng.uniform(0, 2 * np.pi)
    p = [np.asarray(start, float)]
    for _ in range(int(n)):
        a += rng.normal(0, turn_sd)
        p.append(p[-1] + step * np.array([np.cos(a), np.sin(a)]))
    return np.array(p)


def _centre(rng, w, h):
    return rng.uniform([0.3 * w, 0.3 * h], [0.7 * w, 0.7 * h])


def _zigzag(rng, w, h):
    c, bw, bh = _centre(rng, w, h), rng.uniform(0.1, 0.4) * w, rng.uniform(0.1, 0.4) * h
    ang = rng.uniform(0, np.pi)
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    pts = []
    for i, y in enumerate(np.linspace(-bh / 2, bh / 2, rng.integers(5, 25))):
        xs = np.linspace(-bw / 2, bw / 2, 12)[:: 1 if i % 2 == 0 else -1]
        pts.extend(np.stack([xs, np.full(12, y)], 1) + rng.normal(0, 0.008 * w, (12, 2)))
    return [np.array(pts) @ rot.T + c]


def _tangle(rng, w, h):
    return [_walk(rng, rng.integers(100, 500), rng.uniform(3, 8) * w / 256, rng.uniform(0.3, 1.0), _centre(rng, w, h))
            for _ in range(rng.integers(1, 4))]


def _loops(rng, w, h):
    c, r, n = _centre(rng, w, h), rng.uniform(0.03, 0.12) * w, rng.integers(4, 20)
    t = np.linspace(0, 2 * np.pi * n, 40 * n)
    drift, ang = np.linspace(0, rng.uniform(0.1, 0.5) * w, len(t)), rng.uniform(0, 2 * np.pi)
    x = c[0] + r * np.cos(t) + drift * np.cos(ang)
    y = c[1] + 0.8 * r * np.sin(t) + drift * np.sin(ang)
    return [np.stack([x, y], 1) + rng.normal(0, 0.004 * w, (len(t), 2))]


def _lines(rng, w, h):
    """Lines thrown across: shaky, or straight as a mouse or a ruler draws them."""
    out, shake = [], rng.choice([0.0, 0.002, 0.004]) * w
    for _ in range(rng.integers(3, 20)):
        a, b = rng.uniform([0.2 * w, 0.2 * h], [0.8 * w, 0.8 * h], (2, 2))
        out.append(np.linspace(a, b, 30) + rng.normal(0, shake, (30, 2)))
    return out


def _circles(rng, w, h):
    c, r, out = rng.uniform([0.4 * w, 0.4 * h], [0.6 * w, 0.6 * h]), rng.uniform(0.1, 0.3) * w, []
    t = np.linspace(0, 2 * np.pi, 80)
    for _ in range(rng.integers(3, 12)):
        rr, cc = r * rng.uniform(0.8, 1.2), c + rng.normal(0, 0.05 * w, 2)
        out.append(np.stack([cc[0] + rr * np.cos(t), cc[1] + rr * np.sin(t)], 1))
    return out


def _shading(rng, w, h):
    c, s = _centre(rng, w, h), rng.uniform(0.1, 0.35) * w
    p = [c]
    for _ in range(rng.integers(200, 800)):
        p.append(c + np.clip(p[-1] + rng.normal(0, 0.15 * s, 2) - c, -s, s))
    return [np.array(p)]


_KINDS = {"zigzag": _zigzag, "tangle": _tangle, "loops": _loops, "lines": _lines,
          "circles": _circles, "shading": _shading}
SCRIBBLE_KINDS = tuple(_KINDS)


def scribble_sketch(kind: str, rng: np.random.Generator, like: Sketch) -> Sketch:
    """A scribble of `kind` (`SCRIBBLE_KINDS`) on the canvas and camera of `like`, as a face sketch."""
    if kind not in _KINDS:
        raise ValueError(f"unknown scribble {kind!r}; pick one of {', '.join(SCRIBBLE_KINDS)}")
    lines = _KINDS[kind](rng, like.width, like.height)
    return Sketch(like.camera, like.width, like.height, tuple(_stroke(p) for p in lines),
                  "face", None)


def with_hair(sketch: Sketch, rng: np.random.Generator) -> Sketch:
    """The sketch with 3-9 short squiggles over the top of the head, as hair is often drawn."""
    pts = np.concatenate([s.uv for s in sketch.strokes])
    lo, hi = pts.min(0), pts.max(0)
    w = hi[0] - lo[0]
    extra = []
    for _ in range(rng.integers(3, 10)):
        start = [rng.uniform(lo[0] + 0.2 * w, hi[0] - 0.2 * w), lo[1] + rng.uniform(0.0, 0.15) * w]
        extra.append(_stroke(_walk(rng, rng.integers(10, 40), 0.008 * w, 0.5, start)))
    return Sketch(sketch.camera, sketch.width, sketch.height, sketch.strokes + tuple(extra), sketch.mode, sketch.prompt)


def with_shading(sketch: Sketch, rng: np.random.Generator) -> Sketch:
    """The sketch with a patch of hatching (one zigzag stroke of 5-11 lines) on each cheek, as a
    person shades a face with the plain pen."""
    pts = np.concatenate([s.uv for s in sketch.strokes])
    lo, hi = pts.min(0), pts.max(0)
    w = hi - lo
    extra = []
    for side in (-1, 1):
        c = lo + w * np.array([0.5 + side * rng.uniform(0.2, 0.3), rng.uniform(0.5, 0.65)])
        n, length, ang = int(rng.integers(5, 12)), rng.uniform(0.06, 0.12) * w[0], rng.uniform(0.6, 1.2)
        d = np.array([np.cos(ang), np.sin(ang)])
        across = np.array([-d[1], d[0]])
        zig = []
        for i in range(n):
            mid = c + across * (i - n / 2) * 0.012 * w[0]
            a, b = mid - d * length / 2, mid + d * length / 2
            zig += [a, b] if i % 2 == 0 else [b, a]
        extra.append(_stroke(np.array(zig, float)))
    return Sketch(sketch.camera, sketch.width, sketch.height, sketch.strokes + tuple(extra), sketch.mode, sketch.prompt)
