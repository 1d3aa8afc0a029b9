"""Human-like strokes from exact visible curves: how a hand with a pen or stylus draws them.

A person does not trace a projected edge: the pen starts a little off and stops short or runs
past the end, wanders slowly sideways, bows long lines (the arm pivots at the elbow), moves slowly
at the ends and fast in the middle (so a digitiser's samples are unevenly spaced), lifts the pen
at most sharp corners, draws some lines twice, and does not always keep the same order. Each
`StrokeStyle` field controls one of these, with the range we draw it from and why.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

_ROLE_ORDER = ("base", "profile", "offset")  # Sketch2CAD's usual drawing order
_NATURAL = np.array([0.6, 0.8])  # right-handed drawing runs rightwards and downwards (v down)


@dataclass(frozen=True)
class StrokeStyle:
    """The perturbation parameters of `humanise`; every distance is in pixels of the canvas."""

    overshoot: tuple[float, float] = (-0.04, 0.08)
    """Each end moves by a fraction of the stroke's length drawn from this range (negative: stops
    short). People aim at a target corner and run past it more often than they stop short, by a
    few percent of the line."""
    wobble_px: float = 0.8
    """Peak sideways wander. A steady hand stays within about a pixel of the intended line at
    256-512 px canvases (the reference data's "about 1 px")."""
    wobble_wavelength_px: tuple[float, float] = (40.0, 160.0)
    """Wavelengths of the wander: slow drift of the arm and wrist, not jitter; shorter waves would
    look like tremor, longer ones like bowing."""
    bow: float = 0.01
    """Largest sagitta of a straight stroke as a fraction of its length (drawn from 0..bow, either
    side): long lines drawn by pivoting the wrist or elbow come out as flat arcs."""
    tremor_px: float = 0.15
    """Standard deviation of per-sample noise: the tremor of the hand and the digitiser's own
    noise, a fraction of a pixel."""
    spacing_px: tuple[float, float] = (1.5, 4.0)
    """Mean distance between recorded points, per stroke: a digitiser samples at a fixed rate, so
    this is the drawing speed divided by the rate (about 300-900 px/s at 200 Hz)."""
    spacing_jitter: float = 0.3
    """Relative random variation of each spacing on top of the speed profile (slow at both ends,
    fast in the middle, as in a minimum-jerk movement)."""
    corner_deg: float = 35.0
    """A turn sharper than this is a corner where the pen may lift; gentler bends (arcs, circles)
    are drawn in one go."""
    through_corner: float = 0.3
    """Probability that a corner is drawn through without lifting the pen (a polygon or a loop in
    one stroke); most people split polygons at corners, some draw them in one go."""
    order_shuffle: float = 0.2
    """Probability that the drawing abandons the usual base, profile, offset order and draws its
    curves in any order (people sometimes draw the offset first, or go back to a missed line)."""
    reverse: float = 0.25
    """Probability of drawing a stroke against the natural direction (rightwards and downwards
    for right-handers, anticlockwise for loops); the rest follow it."""
    double_stroke: float = 0.08
    """Probability of going over a stroke a second time, as people reinforce a line they judge
    too faint or slightly off."""
    double_offset_px: tuple[float, float] = (0.5, 2.0)
    """Sideways distance of the second pass: it is never exactly on top of the first."""
    width_px: tuple[float, float] = (1.0, 2.5)
    """Pen width for the whole drawing (one tool per drawing), varied by +-10% per stroke with
    pressure; thin lines, as on a sketch canvas."""
    pressure: tuple[float, float] = (0.45, 0.9)
    """Peak pressure range per stroke: people press differently, and lighter on construction
    lines."""
    pressure_ramp: float = 0.15
    """Fraction of the stroke over which pressure builds up at the start and is released at the
    end (touch-down and lift-off are gradual)."""
    skip_profile: float = 0.1
    """Probability that a profile line is left out (Sketch2CAD: "one or more lines along the
    normal"); at least one profile line of a drawing is always kept."""

    @staticmethod
    def stronger(factor: float) -> "StrokeStyle":
        """A messier hand for the robustness evaluation: displacements, noise and the
        probabilities of double strokes, skipped lines and shuffled order scaled by `factor`
        (1 gives the defaults)."""
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"the style factor must be a positive number, got {factor}")
        d = StrokeStyle()
        return dataclasses.replace(
            d,
            overshoot=(d.overshoot[0] * factor, d.overshoot[1] * factor),
            wobble_px=d.wobble_px * factor,
            bow=d.bow * factor,
            tremor_px=d.tremor_px * factor,
            spacing_jitter=min(0.9, d.spacing_jitter * factor),
            order_shuffle=min(1.0, d.order_shuffle * factor),
            double_stroke=min(0.5, d.double_stroke * factor),
            double_offset_px=(d.double_offset_px[0] * factor, d.double_offset_px[1] * factor),
            skip_profile=min(0.5, d.skip_profile * factor),
        )

    def deviation_bound(self, length_px: float) -> float:
        """The farthest a stroke drawn from a curve of `length_px` strays from that curve (px);
        the tremor is clipped at four standard deviations per coordinate."""
        ends = max(abs(self.overshoot[0]), abs(self.overshoot[1])) * length_px
        return (ends + self.wobble_px + self.bow * length_px + self.double_offset_px[1]
                + 6.0 * self.tremor_px + 1.0)


@dataclass(frozen=True)
class SynthStroke:
    """A synthetic stroke in pixel coordinates (sketch-file convention: u right, v down, centres at
    +0.5), with the role of the curve it draws; `curve` is that curve's index in the drawing."""

    points: np.ndarray  # (N, 2)
    role: str
    width: float  # px
    pressure: np.ndarray  # (N,) 0..1
    curve: int = -1


def humanise(runs: list[tuple[np.ndarray, str, int]], rng: np.random.Generator,
             style: StrokeStyle = StrokeStyle()) -> list[SynthStroke]:
    """Human-like strokes drawing the visible runs (`visible_runs` output), in drawing order."""
    runs = _skip_profiles([(np.asarray(p, float).reshape(-1, 2), r, int(i)) for p, r, i in runs], rng, style)
    units = [(role, index, _pieces(poly, rng, style)) for poly, role, index in runs if len(poly) >= 2]
    order = _order(units, rng, style)
    base_width = float(rng.uniform(*style.width_px))
    out: list[SynthStroke] = []
    for u in order:
        role, index, pieces = units[u]
        for piece, loop in pieces:
            passes = 2 if rng.random() < style.double_stroke else 1
            for k in range(passes):
                shift = 0.0 if k == 0 else float(rng.uniform(*style.double_offset_px)) * rng.choice([-1.0, 1.0])
                pts = _draw(piece, loop, shift, rng, style)
                if len(pts) < 2:
                    continue
                out.append(SynthStroke(pts, role, base_width * float(rng.uniform(0.9, 1.1)),
                                       _pressure(pts, rng, style), index))
    return out


# -- which curves, in which order ---------------------------------------------------------------
def _skip_profiles(runs, rng, style):
    profiles = [k for k, (_, role, _) in enumerate(runs) if role == "profile"]
    if len(profiles) < 2:
        return runs
    drop = {k for k in profiles if rng.random() < style.skip_profile}
    if len(drop) == len(profiles):
        drop.discard(int(rng.choice(profiles)))
    return [r for k, r in enumerate(runs) if k not in drop]


def _order(units, rng, style) -> list[int]:
    """Unit indices in drawing order: role blocks in the usual order, shuffled within a block;
    with probability `order_shuffle`, any order."""
    idx = list(rng.permutation(len(units)))
    if rng.random() < style.order_shuffle:
        return [int(i) for i in idx]
    rank = {r: k for k, r in enumerate(_ROLE_ORDER)}
    return [int(i) for i in sorted(idx, key=lambda i: rank.get(units[i][0], len(rank)))]


# -- splitting a run into pen-down pieces -------------------------------------------------------
def _pieces(poly: np.ndarray, rng, style) -> list[tuple[np.ndarray, bool]]:
    """The pen-down pieces of one run, in order, each flagged when it is a whole loop."""
    length = _length(poly)
    closed = len(poly) >= 4 and np.linalg.norm(poly[0] - poly[-1]) < 1.5 and length > 6.0
    if closed:
        ring = poly[:-1] if np.linalg.norm(poly[0] - poly[-1]) < 1e-9 else poly
        corners = _corner_indices(np.vstack([ring, ring[:1]]), style.corner_deg, closed=True)
        if len(corners) == 0:
            start = int(rng.integers(len(ring)))
            loop = np.vstack([np.roll(ring, -start, axis=0), ring[start:start + 1]])
            return [(loop, True)]
        first = int(rng.choice(corners))
        ring = np.roll(ring, -first, axis=0)
        corners = sorted(((c - first) % len(ring)) for c in corners)
        poly = np.vstack([ring, ring[:1]])
        cuts = corners + [len(ring)]
    else:
        cuts = [0, *_corner_indices(poly, style.corner_deg, closed=False), len(poly) - 1]
    segments = [poly[a:b + 1] for a, b in zip(cuts[:-1], cuts[1:]) if b > a]
    merged = [segments[0]]
    for seg in segments[1:]:
        if rng.random() < style.through_corner:
            merged[-1] = np.vstack([merged[-1], seg[1:]])
        else:
            merged.append(seg)
    if closed and len(merged) > 1 and rng.random() < style.through_corner:
        merged[0] = np.vstack([merged.pop(), merged[0][1:]])
    is_loop = closed and len(merged) == 1
    return [(m, is_loop) for m in merged]


def _corner_indices(poly: np.ndarray, corner_deg: float, closed: bool) -> list[int]:
    """Indices into `poly` where it turns by more than `corner_deg` (after simplification, so
    sampling noise and the small turns of an arc do not count)."""
    keep = _simplify(poly, 0.7)
    if closed and len(keep) >= 3:
        ring = keep[:-1]  # the last kept point is the closing copy of the first
        prev = [ring[-1], *ring[:-1]]
        nxt = [*ring[1:], ring[0]]
        cand = list(zip(prev, ring, nxt))
    else:
        cand = list(zip(keep[:-2], keep[1:-1], keep[2:]))
    out = []
    for a, b, c in cand:
        u, v = poly[b] - poly[a], poly[c] - poly[b]
        nu, nv = np.linalg.norm(u), np.linalg.norm(v)
        if nu < 1e-9 or nv < 1e-9:
            continue
        turn = math.degrees(math.acos(float(np.clip(np.dot(u, v) / (nu * nv), -1.0, 1.0))))
        if turn > corner_deg:
            out.append(int(b))
    return sorted(set(out))


def _simplify(poly: np.ndarray, eps: float) -> list[int]:
    """Ramer-Douglas-Peucker: the indices of the vertices kept."""
    n = len(poly)
    if n <= 2:
        return list(range(n))
    keep = np.zeros(n, bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        seg = poly[b] - poly[a]
        rel = poly[a + 1:b] - poly[a]
        ls = float(np.linalg.norm(seg))
        if ls < 1e-12:
            d = np.linalg.norm(rel, axis=1)
        else:
            d = np.abs(seg[0] * rel[:, 1] - seg[1] * rel[:, 0]) / ls
        k = int(np.argmax(d))
        if d[k] > eps:
            m = a + 1 + k
            keep[m] = True
            stack += [(a, m), (m, b)]
    return list(np.nonzero(keep)[0])


# -- drawing one piece --------------------------------------------------------------------------
def _draw(piece: np.ndarray, loop: bool, shift: float, rng, style) -> np.ndarray:
    """One pen-down pass over `piece`: direction, ends, speed-dependent sampling, wander."""
    pts = _dedupe(piece)
    if len(pts) < 2:
        return pts
    if _against_nature(pts, loop) != (rng.random() < style.reverse):
        pts = pts[::-1]
    length = _length(pts)
    pts = _ends(pts, loop, length, rng, style)
    s_new = _spacing(_length(pts), rng, style)
    pts = _at_arclength(pts, s_new)
    normal = _normals(pts)
    s = s_new - s_new[0]
    total = max(float(s[-1]), 1e-9)
    offset = np.full(len(pts), shift)
    amp = style.wobble_px * float(rng.uniform(0.5, 1.0))
    w1 = float(rng.uniform(0.3, 0.7))
    for w in (w1, 1.0 - w1):
        lam = float(rng.uniform(*style.wobble_wavelength_px))
        offset += amp * w * np.sin(2 * math.pi * s / lam + rng.uniform(0, 2 * math.pi))
    if not loop:
        sag = style.bow * length * float(rng.uniform(0.0, 1.0)) * rng.choice([-1.0, 1.0])
        offset += sag * 4.0 * (s / total) * (1.0 - s / total)
    pts = pts + offset[:, None] * normal
    if style.tremor_px > 0:
        pts = pts + rng.normal(0.0, style.tremor_px, pts.shape).clip(-4 * style.tremor_px, 4 * style.tremor_px)
    return pts


def _against_nature(pts: np.ndarray, loop: bool) -> bool:
    """True when the piece runs against a right-hander's habit (see `StrokeStyle.reverse`)."""
    if loop:
        u, v = pts[:, 0], pts[:, 1]
        area = 0.5 * float(np.dot(u, np.roll(v, -1)) - np.dot(v, np.roll(u, -1)))
        return area > 0  # v points down: a positive (u, v) area is clockwise on screen
    return float(np.dot(pts[-1] - pts[0], _NATURAL)) < 0


def _ends(pts: np.ndarray, loop: bool, length: float, rng, style) -> np.ndarray:
    """Over- or undershoot both ends; a loop runs on past its start instead of straight on."""
    lo, hi = style.overshoot
    a, b = (float(rng.uniform(lo, hi)) * length for _ in range(2))
    if loop:
        extra = max(a, 0.0) + max(b, 0.0)
        if extra > 0:
            s = _arclength(pts)
            pts = np.vstack([pts, _at_arclength(pts, s[1:][s[1:] <= min(extra, s[-1])])[:, :2]])
        return pts
    cut_a = min(-a, 0.3 * length) if a < 0 else 0.0
    cut_b = min(-b, 0.3 * length) if b < 0 else 0.0
    if cut_a or cut_b:
        s = _arclength(pts)
        inner = s[(s > cut_a) & (s < s[-1] - cut_b)]
        pts = _at_arclength(pts, np.concatenate([[cut_a], inner, [s[-1] - cut_b]]))
    if a > 0:
        pts = np.vstack([pts[0] - a * _end_direction(pts), pts])
    if b > 0:
        pts = np.vstack([pts, pts[-1] + b * _end_direction(pts[::-1]) * -1.0])
    return pts


def _end_direction(pts: np.ndarray) -> np.ndarray:
    """Unit direction the polyline leaves its first point in, over its first few pixels."""
    s = _arclength(pts)
    reach = min(5.0, 0.25 * s[-1])
    k = int(np.searchsorted(s, reach))
    d = pts[min(max(k, 1), len(pts) - 1)] - pts[0]
    n = np.linalg.norm(d)
    return d / n if n > 1e-12 else np.array([1.0, 0.0])


def _spacing(length: float, rng, style) -> np.ndarray:
    """Arc-length positions of the recorded points: slow at both ends, fast in the middle."""
    mean = float(rng.uniform(*style.spacing_px))
    s = [0.0]
    while s[-1] < length:
        x = s[-1] / max(length, 1e-9)
        step = mean * (0.5 + 0.8 * math.sin(math.pi * x))  # averages to `mean`
        step *= max(0.2, 1.0 + style.spacing_jitter * float(rng.normal()))
        s.append(s[-1] + max(step, 0.05))
    s[-1] = length
    if len(s) < 2:
        s.append(length)
    return np.asarray(s)


def _normals(pts: np.ndarray) -> np.ndarray:
    """Unit normals of a polyline from tangents smoothed over a few pixels (so that wander does
    not kink at a corner drawn through)."""
    n = len(pts)
    t = np.zeros_like(pts)
    for k in range(n):
        a, b = max(0, k - 2), min(n - 1, k + 2)
        t[k] = pts[b] - pts[a]
    norm = np.linalg.norm(t, axis=1, keepdims=True)
    t = np.where(norm > 1e-12, t / np.maximum(norm, 1e-12), np.array([1.0, 0.0]))
    return np.stack([-t[:, 1], t[:, 0]], axis=1)


def _pressure(pts: np.ndarray, rng, style) -> np.ndarray:
    """Touch-down, a steady middle and lift-off, with a little noise, within 0..1."""
    peak = float(rng.uniform(*style.pressure))
    s = _arclength(pts)
    x = s / max(float(s[-1]), 1e-9)
    ramp = max(style.pressure_ramp, 1e-6)
    env = np.minimum(1.0, np.minimum(x / ramp, (1.0 - x) / ramp))
    p = peak * (0.35 + 0.65 * np.clip(env, 0.0, 1.0)) + rng.normal(0.0, 0.02, len(pts))
    return np.clip(p, 0.02, 1.0)


# -- polyline helpers ---------------------------------------------------------------------------
def _dedupe(pts: np.ndarray) -> np.ndarray:
    if len(pts) < 2:
        return pts
    keep = np.concatenate([[True], np.linalg.norm(np.diff(pts, axis=0), axis=1) > 1e-9])
    return pts[keep]


def _arclength(pts: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])


def _length(pts: np.ndarray) -> float:
    return float(_arclength(pts)[-1]) if len(pts) > 1 else 0.0


def _at_arclength(pts: np.ndarray, s_new: np.ndarray) -> np.ndarray:
    s = _arclength(pts)
    return np.stack([np.interp(s_new, s, pts[:, 0]), np.interp(s_new, s, pts[:, 1])], axis=1)
