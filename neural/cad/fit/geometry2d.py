"""The 2-D geometry kit of the fitting: point-to-segment distances, polyline resampling, and
polygons and circles fitted to points in a face's plane."""

from __future__ import annotations

import math

import cv2
import numpy as np

from .tuning import MAX_STROKE_POINTS


# -- distances ----------------------------------------------------------------------------------
def segments(polys: list[np.ndarray], closed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Start and end points (M, D) of the segments of polylines (N_i, D)."""
    a, b = [], []
    for p in polys:
        if len(p) < 2:
            if len(p) == 1:
                a.append(p)
                b.append(p)
            continue
        if closed:
            a.append(p)
            b.append(np.roll(p, -1, axis=0))
        else:
            a.append(p[:-1])
            b.append(p[1:])
    if not a:
        d = polys[0].shape[-1] if polys else 2
        return np.zeros((0, d)), np.zeros((0, d))
    return np.concatenate(a), np.concatenate(b)


def seg_dist(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from points p (N, D) to the nearest segment a -> b (..., M, D): (..., N).

    Segments with NaN ends (behind the eye) are ignored; no segment at all gives inf. Image-plane
    distances (D = 2, the fitting's inner loop) are computed per coordinate in float32, which is
    several times faster than the general form and exact enough for pixels."""
    if a.shape[-2] == 0:
        return np.full(a.shape[:-2] + (len(p),), np.inf)
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        a = np.nan_to_num(a, nan=1e9, posinf=1e9, neginf=-1e9)
        b = np.nan_to_num(b, nan=1e9, posinf=1e9, neginf=-1e9)
    if p.shape[-1] == 2:
        f32 = np.float32
        px, py = p[:, 0].astype(f32)[:, None], p[:, 1].astype(f32)[:, None]  # (N, 1)
        ax, ay = a[..., 0].astype(f32)[..., None, :], a[..., 1].astype(f32)[..., None, :]  # (..., 1, M)
        abx, aby = b[..., 0].astype(f32)[..., None, :] - ax, b[..., 1].astype(f32)[..., None, :] - ay
        inv = 1.0 / np.maximum(abx * abx + aby * aby, f32(1e-18))
        dx, dy = px - ax, py - ay  # (..., N, M)
        t = (dx * abx + dy * aby) * inv
        np.clip(t, 0.0, 1.0, out=t)
        dx -= t * abx
        dy -= t * aby
        dx *= dx
        dy *= dy
        dx += dy
        return np.sqrt(dx.min(-1)).astype(float)
    if a.size * len(p) > 20_000:
        p, a, b = p.astype(np.float32), a.astype(np.float32), b.astype(np.float32)
    ab = b - a
    den = np.maximum(np.einsum("...md,...md->...m", ab, ab), 1e-18)  # (..., M)
    ap = p[..., :, None, :] - a[..., None, :, :]  # (..., N, M, D)
    t = np.einsum("...nmd,...md->...nm", ap, ab) / den[..., None, :]
    np.clip(t, 0.0, 1.0, out=t)
    d = ap - t[..., None] * ab[..., None, :, :]
    return np.sqrt(np.einsum("...nmd,...nmd->...nm", d, d).min(-1)).astype(float)


def closest_on_segments(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For points p (N, D): the closest point on segments a -> b (M, D) and that segment's index."""
    ab = b - a
    den = np.maximum((ab * ab).sum(-1), 1e-18)
    ap = p[:, None, :] - a[None]
    t = np.clip((ap * ab[None]).sum(-1) / den[None], 0.0, 1.0)
    q = a[None] + t[..., None] * ab[None]
    d = ((p[:, None, :] - q) ** 2).sum(-1)
    k = np.argmin(d, axis=1)
    return q[np.arange(len(p)), k], k


def robust(d: np.ndarray, trunc: float) -> np.ndarray:
    """Distances truncated at `trunc` (NaN and inf count as `trunc`), so outliers weigh a bounded amount."""
    return np.minimum(np.nan_to_num(d, nan=trunc, posinf=trunc), trunc)


# -- polylines -------------------------------------------------------------------------------
def resample(uv: np.ndarray, step: float) -> np.ndarray:
    """A polyline resampled at about `step` px by arc length (at most MAX_STROKE_POINTS points);
    non-finite points are dropped."""
    uv = uv[np.isfinite(uv).all(axis=1)]
    if len(uv) < 2:
        return uv
    seg = np.linalg.norm(np.diff(uv, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] <= 1e-9:
        return uv[:1]
    n = int(min(MAX_STROKE_POINTS, max(2, math.ceil(s[-1] / step) + 1)))
    t = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(t, s, uv[:, 0]), np.interp(t, s, uv[:, 1])], axis=1)


def thin(p: np.ndarray, n: int) -> np.ndarray:
    """At most `n` of the points, evenly spread over the array."""
    if len(p) <= n:
        return p
    return p[np.linspace(0, len(p) - 1, n).round().astype(int)]


# -- polygons and circles in a face's plane --------------------------------------------------
def convex_hull(p: np.ndarray) -> np.ndarray:
    """The convex hull of 2D points, counter-clockwise from the lowest-x (then lowest-y) point, as
    the monotone chain gives it (OpenCV finds it; the corners are the input's own points)."""
    pts = np.unique(p, axis=0)
    if len(pts) < 3:
        return pts
    idx = cv2.convexHull(pts.astype(np.float32), clockwise=False, returnPoints=False)[:, 0]
    hull = pts[idx]
    return np.roll(hull, -int(np.lexsort((hull[:, 1], hull[:, 0]))[0]), axis=0)


def polygon_area(poly: np.ndarray) -> float:
    """Signed area of a closed 2D polygon (positive counter-clockwise)."""
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _reduce(poly: np.ndarray, k: int) -> np.ndarray:
    """Drop the corners of a convex polygon that cost the least area until `k` are left."""
    poly = poly.copy()
    while len(poly) > k:
        prev, nxt = np.roll(poly, 1, axis=0), np.roll(poly, -1, axis=0)
        tri = 0.5 * np.abs((poly[:, 0] - prev[:, 0]) * (nxt[:, 1] - prev[:, 1])
                           - (nxt[:, 0] - prev[:, 0]) * (poly[:, 1] - prev[:, 1]))
        poly = np.delete(poly, int(np.argmin(tri)), axis=0)
    return poly


def _line_fit(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Total least squares line: a point on it and its unit direction (the principal axis of the
    points' 2x2 scatter, in closed form)."""
    c = p.mean(axis=0)
    d = p - c
    sxx, syy, sxy = float(d[:, 0] @ d[:, 0]), float(d[:, 1] @ d[:, 1]), float(d[:, 0] @ d[:, 1])
    theta = 0.5 * math.atan2(2.0 * sxy, sxx - syy)
    return c, np.array([math.cos(theta), math.sin(theta)])


def _intersect(c1, d1, c2, d2) -> np.ndarray | None:
    m = np.array([[d1[0], -d2[0]], [d1[1], -d2[1]]])
    if abs(np.linalg.det(m)) < 1e-6:
        return None
    t = np.linalg.solve(m, c2 - c1)
    return c1 + t[0] * d1


def fit_polygon(p: np.ndarray, k: int, iterations: int = 5, hull: np.ndarray | None = None) -> np.ndarray | None:
    """A convex k-gon through 2D points drawn along its sides (overshoot at corners allowed);
    `hull` is their convex hull where the caller has it already."""
    hull = convex_hull(p) if hull is None else hull
    if len(hull) < k:
        return None
    poly = _reduce(hull, k)
    for _ in range(iterations):
        a, b = poly, np.roll(poly, -1, axis=0)
        _, side = closest_on_segments(p, a, b)
        lines = []
        for i in range(k):
            q = p[side == i]
            ab = b[i] - a[i]
            ln = float(np.linalg.norm(ab))
            if ln > 1e-12 and len(q) >= 3:
                t = (q - a[i]) @ ab / ln ** 2
                inner = q[(t > 0.12) & (t < 0.88)]
                q = inner if len(inner) >= 3 else q
            if len(q) >= 2 and np.ptp(q, axis=0).max() > 1e-9:
                lines.append(_line_fit(q))
            else:
                lines.append((0.5 * (a[i] + b[i]), ab / max(ln, 1e-12)))
        new = []
        for i in range(k):
            x = _intersect(*lines[i - 1], *lines[i])
            new.append(poly[i] if x is None else x)
        new = np.array(new)
        if not np.isfinite(new).all() or polygon_area(new) <= 0 or not _convex(new):
            break
        poly = new
    return poly


def _convex(poly: np.ndarray) -> bool:
    d1 = np.roll(poly, -1, axis=0) - poly
    d2 = np.roll(d1, -1, axis=0)
    cross = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    return bool((cross > 0).all())


def snap_polygon(poly: np.ndarray, p: np.ndarray, axes: list[float]) -> np.ndarray:
    """Near-rectangles to rectangles (aligned with a face direction when close to one), and
    near-regular pentagons and hexagons to regular ones."""
    k = len(poly)
    d = np.roll(poly, -1, axis=0) - poly
    ln = np.linalg.norm(d, axis=1)
    ang = np.degrees(np.arctan2(d[:, 1], d[:, 0]))
    turn = (np.diff(np.concatenate([ang, ang[:1]])) + 180.0) % 360.0 - 180.0
    if k == 4 and np.all(np.abs(np.abs(turn) - 90.0) < 12.0):
        w = np.concatenate([ln, ln])
        a4 = np.radians(np.concatenate([ang, ang]) * 4.0)
        theta = math.degrees(math.atan2((w * np.sin(a4)).sum(), (w * np.cos(a4)).sum())) / 4.0
        for ax in axes:
            if abs(((theta - ax) + 45.0) % 90.0 - 45.0) < 6.0:
                theta = ax
                break
        c, s = math.cos(math.radians(theta)), math.sin(math.radians(theta))
        rot = np.array([[c, s], [-s, c]])  # world -> rectangle frame
        q = poly @ rot.T
        lo, hi = q.min(axis=0), q.max(axis=0)
        # the sides: medians of the points nearest each side of the first guess
        pq = p @ rot.T
        xs = [lo[0], hi[0]]
        ys = [lo[1], hi[1]]
        dx = np.minimum(np.abs(pq[:, 0] - lo[0]), np.abs(pq[:, 0] - hi[0]))
        dy = np.minimum(np.abs(pq[:, 1] - lo[1]), np.abs(pq[:, 1] - hi[1]))
        on_x = dx < dy
        for j, edge in enumerate((lo[0], hi[0])):
            sel = on_x & (np.abs(pq[:, 0] - edge) == dx) & (pq[:, 1] > lo[1]) & (pq[:, 1] < hi[1])
            if sel.sum() >= 3:
                xs[j] = float(np.median(pq[sel, 0]))
        for j, edge in enumerate((lo[1], hi[1])):
            sel = ~on_x & (np.abs(pq[:, 1] - edge) == dy) & (pq[:, 0] > lo[0]) & (pq[:, 0] < hi[0])
            if sel.sum() >= 3:
                ys[j] = float(np.median(pq[sel, 1]))
        rect = np.array([[xs[0], ys[0]], [xs[1], ys[0]], [xs[1], ys[1]], [xs[0], ys[1]]])
        if xs[1] - xs[0] > 0 and ys[1] - ys[0] > 0:
            return rect @ rot
        return poly
    if k in (5, 6):
        c = poly.mean(axis=0)
        r = np.linalg.norm(poly - c, axis=1)
        inner = 180.0 - 360.0 / k
        if r.std() < 0.12 * r.mean() and np.all(np.abs(180.0 - np.abs(turn) - inner) < 15.0):
            phi = np.arctan2(poly[:, 1] - c[1], poly[:, 0] - c[0])
            base = phi - 2 * math.pi * np.arange(k) / k
            phase = math.atan2(np.sin(k * base).sum(), np.cos(k * base).sum()) / k
            # pick the branch of the phase nearest the first corner
            cands = phase + 2 * math.pi * np.arange(k) / k
            phase = cands[np.argmin(np.abs(np.angle(np.exp(1j * (cands - phi[0])))))]
            a = phase + 2 * math.pi * np.arange(k) / k
            return c + r.mean() * np.stack([np.cos(a), np.sin(a)], axis=1)
    return poly


def fit_circle(p: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Algebraic (Kasa) circle fit followed by a few geometric Gauss-Newton steps."""
    if len(p) < 3:
        return None
    a = np.column_stack([p, np.ones(len(p))])
    b = -(p ** 2).sum(axis=1)
    try:
        sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    except np.linalg.LinAlgError:
        return None
    c = -0.5 * sol[:2]
    r2 = float(c @ c - sol[2])
    if not np.isfinite(r2) or r2 <= 0:
        return None
    r = math.sqrt(r2)
    for _ in range(5):
        d = p - c
        dist = np.linalg.norm(d, axis=1)
        ok = dist > 1e-12
        if ok.sum() < 3:
            break
        u = d[ok] / dist[ok, None]
        jac = np.column_stack([-u, -np.ones(ok.sum())])
        res = dist[ok] - r
        try:
            step, *_ = np.linalg.lstsq(jac, -res, rcond=None)
        except np.linalg.LinAlgError:
            break
        c = c + step[:2]
        r = r + step[2]
        if np.abs(step).max() < 1e-9 * max(r, 1.0):
            break
    if not (np.isfinite(c).all() and np.isfinite(r) and r > 0):
        return None
    return c, float(r)


# -- inside or out ---------------------------------------------------------------------------
def in_polygon(poly: np.ndarray, p: np.ndarray) -> bool:
    """Whether pixel p lies inside the closed pixel polygon (even-odd rule)."""
    poly = poly[np.isfinite(poly).all(axis=1)]
    if len(poly) < 3:
        return False
    x, y = poly[:, 0], poly[:, 1]
    x2, y2 = np.roll(x, -1), np.roll(y, -1)
    cross = (y > p[1]) != (y2 > p[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        xs = x + (p[1] - y) * (x2 - x) / (y2 - y)
    return bool(np.count_nonzero(cross & (p[0] < xs)) % 2)
