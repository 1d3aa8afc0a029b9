"""The render's camera, fast: projection, rays and lifting of pixel arrays of any leading shape."""

from __future__ import annotations

import numpy as np

from sketchforge.modeling.camera import Camera

from .tuning import REF_SIZE


class View:
    """Projection and rays of the render's camera for arrays of any leading shape."""

    def __init__(self, camera: Camera, width: int, height: int) -> None:
        self.camera, self.w, self.h = camera, int(width), int(height)
        r, t, f = camera.basis()
        self.rot = np.stack([r, t, f])
        self.eye = np.asarray(camera.eye, float)
        self.forward = np.asarray(f, float)
        self.s = camera.scale(self.w, self.h)
        self.persp = camera.projection == "perspective"
        self.k = max(self.w, self.h) / REF_SIZE  # pixel tolerances scale with the render

    def project(self, p: np.ndarray) -> np.ndarray:
        """World points (..., 3) to pixels (..., 2); NaN behind a perspective eye."""
        q = (np.asarray(p, float) - self.eye) @ self.rot.T
        if self.persp:
            z = q[..., 2]
            z = np.where(z > 1e-9, z, np.nan)
            return np.stack([self.w / 2.0 + self.s * q[..., 0] / z, self.h / 2.0 - self.s * q[..., 1] / z], -1)
        return np.stack([self.w / 2.0 + self.s * q[..., 0], self.h / 2.0 - self.s * q[..., 1]], -1)

    def rays(self, uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Origins and unit directions (N, 3) of the rays through pixels (N, 2)."""
        return self.camera.rays(np.asarray(uv, float).reshape(-1, 2), self.w, self.h)

    def lift_plane(self, uv: np.ndarray, origin, normal) -> np.ndarray:
        """Pixels (N, 2) onto the plane through `origin` with `normal`; NaN rows where the ray
        misses it (parallel, or the plane is behind the eye)."""
        o, d = self.rays(uv)
        n = np.asarray(normal, float)
        den = d @ n
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((np.asarray(origin, float) - o) @ n) / den
        ok = np.abs(den) > 1e-9
        if self.persp:
            ok &= t > 0
        p = o + t[:, None] * d
        p[~ok] = np.nan
        return p

    def lift_depth(self, uv: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Pixels (N, 2) onto the rendered surface, by the depth render at their pixels."""
        uv = np.asarray(uv, float).reshape(-1, 2)
        iu = np.clip(np.floor(uv[:, 0]).astype(int), 0, self.w - 1)
        iv = np.clip(np.floor(uv[:, 1]).astype(int), 0, self.h - 1)
        z = depth[iv, iu].astype(float)
        o, d = self.rays(uv)
        cos = d @ self.forward
        with np.errstate(invalid="ignore"):
            p = o + (z / cos)[:, None] * d if self.persp else o + z[:, None] * d
        p[~np.isfinite(z)] = np.nan
        return p
