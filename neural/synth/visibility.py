"""Hidden-line removal of drawn curves against a depth render: what of each curve a viewer sees.

A curve is resampled in 3D so that its projection advances at most `step_px` pixels per sample
(perspective-correct: equal 3D steps are unequal on screen); each sample is kept when
it lies inside the canvas and is not behind the rendered surface. Because the curves lie *on*
that surface, the test allows a depth tolerance and looks at the 3x3 neighbourhood of the
sample's pixel: a curve along a silhouette or a crease has a neighbour pixel showing the face it
lies on (or the background), whereas a curve behind the model has the model in front of it in
every neighbour.
"""

from __future__ import annotations

import numpy as np

from sketchforge.modeling.camera import Camera

from .curves import Curve

MIN_RUN_PX = 3.0  # shorter visible pieces are dropped: a person would not draw them
DEPTH_TOLERANCE = 3e-3  # default tolerance, as a fraction of the scene's median depth


def visible_runs(curves: list[Curve], camera: Camera, width: int, height: int, depth: np.ndarray,
                 step_px: float = 1.0, tolerance: float | None = None) -> list[tuple[np.ndarray, str, int]]:
    """The visible pieces of `curves` as (pixel polyline (M, 2), role, index of the curve).

    `depth` is the depth render (along the camera's forward axis, inf for background) of the
    model the curves are drawn over, normally the model after the operation. A sample is visible
    when its depth exceeds the largest depth in its 3x3 pixel neighbourhood by at most
    `tolerance` (world units; default `DEPTH_TOLERANCE` times the median depth of the model in
    view). Pixel coordinates follow the sketch-file spec (u right, v down, centres at +0.5).
    Runs shorter than `MIN_RUN_PX` are dropped; a closed curve seen whole comes back as one run
    whose last point repeats its first.
    """
    depth = np.asarray(depth, np.float32)
    if depth.shape != (height, width):
        raise ValueError(f"the depth render is {depth.shape[1]}x{depth.shape[0]} but the canvas is "
                         f"{width}x{height}; render the model at the canvas size")
    if step_px <= 0:
        raise ValueError(f"step_px must be positive, got {step_px}")
    far = _neighbourhood_max(depth)
    tol = tolerance if tolerance is not None else _default_tolerance(depth)
    runs: list[tuple[np.ndarray, str, int]] = []
    for index, curve in enumerate(curves):
        pts = np.asarray(curve.points, float).reshape(-1, 3)
        if len(pts) < 2:
            continue
        if curve.closed:
            pts = np.vstack([pts, pts[:1]])
        world = _resample(pts, camera, width, height, step_px)
        uv = camera.project(world, width, height)
        z = camera.depth(world)
        seen = _visible(uv, z, far, tol, width, height)
        for run in _split_runs(uv, seen, curve.closed):
            if _length(run) >= MIN_RUN_PX:
                runs.append((run, curve.role, index))
    return runs


def _default_tolerance(depth: np.ndarray) -> float:
    finite = depth[np.isfinite(depth)]
    if finite.size == 0:
        return 0.0  # nothing to hide behind
    return DEPTH_TOLERANCE * float(np.median(finite))


def _neighbourhood_max(depth: np.ndarray) -> np.ndarray:
    """The largest depth in each pixel's 3x3 neighbourhood (inf where any is background)."""
    pad = np.pad(depth, 1, mode="edge")
    h, w = depth.shape
    out = depth.copy()
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            np.maximum(out, pad[dy:dy + h, dx:dx + w], out=out)
    return out


def _resample(pts: np.ndarray, camera: Camera, width: int, height: int, step_px: float) -> np.ndarray:
    """Points along the 3D polyline at equal pixel steps of at most `step_px` per segment.

    Equal steps on screen are unequal in 3D under perspective: a screen fraction s of a segment
    from depth za to zb is the 3D fraction t = (s / zb) / ((1 - s) / za + s / zb).
    """
    uv = camera.project(pts, width, height)
    z = camera.depth(pts)
    seg_px = np.linalg.norm(np.diff(uv, axis=0), axis=1)
    finite = np.isfinite(seg_px)
    n = np.ones(len(seg_px), np.int64)
    n[finite] = np.clip(np.ceil(seg_px[finite] / step_px), 1, 100_000).astype(np.int64)
    seg = np.repeat(np.arange(len(seg_px)), n)  # the segment of each new sample
    first = np.repeat(np.cumsum(n) - n, n)
    s = (np.arange(len(seg), dtype=float) - first + 1.0) / n[seg]  # 1/n .. n/n along each segment
    if camera.projection == "perspective":
        za, zb = z[:-1][seg], z[1:][seg]
        persp = (za > 0) & (zb > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(persp, (s / zb) / ((1.0 - s) / za + s / zb), s)
    a = pts[:-1][seg]
    return np.concatenate([pts[:1], a + s[:, None] * (pts[1:][seg] - a)])


def _visible(uv: np.ndarray, z: np.ndarray, far: np.ndarray, tol: float, width: int, height: int) -> np.ndarray:
    ok = np.isfinite(uv).all(axis=1) & (z > 0)
    ok &= (uv[:, 0] >= 0) & (uv[:, 0] < width) & (uv[:, 1] >= 0) & (uv[:, 1] < height)
    seen = np.zeros(len(uv), bool)
    idx = np.nonzero(ok)[0]
    px = np.clip(np.floor(uv[idx]).astype(np.int64), 0, [width - 1, height - 1])
    seen[idx] = z[idx] <= far[px[:, 1], px[:, 0]] + tol
    return seen


def _split_runs(uv: np.ndarray, seen: np.ndarray, closed: bool) -> list[np.ndarray]:
    """Consecutive visible samples as polylines; a closed curve's run through its start is joined."""
    if seen.all():
        return [uv.copy()]
    edges = np.diff(np.concatenate([[0], seen.astype(np.int8), [0]]))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    runs = [uv[s:e] for s, e in zip(starts, ends)]
    if closed and len(runs) >= 2 and seen[0] and seen[-1]:
        head, tail = runs.pop(0), runs.pop()
        runs.append(np.vstack([tail, head[1:]]))  # uv[-1] is uv[0] repeated
    return runs


def _length(poly: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(poly, axis=0), axis=1).sum()) if len(poly) > 1 else 0.0
