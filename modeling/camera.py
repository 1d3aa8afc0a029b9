"""The view a sketch is drawn in, exactly as `specs/sketch-file.md` defines it.

One code path projects points and casts rays for both the interpreter and the training data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np


class CameraError(ValueError):
    """A camera that cannot define a view (degenerate vectors, bad field of view)."""


@dataclass(frozen=True)
class Camera:
    """A pinhole (perspective) or orthographic camera in world millimetres, Z up."""

    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    up: tuple[float, float, float] = (0.0, 0.0, 1.0)
    projection: str = "perspective"
    fov_y_deg: float = 35.0
    height: float = 100.0

    def __post_init__(self) -> None:
        for name in ("eye", "target", "up"):
            v = tuple(float(x) for x in getattr(self, name))
            if len(v) != 3 or not all(math.isfinite(x) for x in v):
                raise CameraError(f"camera.{name} must be three finite numbers, got {getattr(self, name)!r}")
            object.__setattr__(self, name, v)
        if self.projection not in ("perspective", "orthographic"):
            raise CameraError(
                f"camera.projection must be 'perspective' or 'orthographic', got {self.projection!r}")
        f = np.subtract(self.target, self.eye)
        if np.linalg.norm(f) < 1e-9:
            raise CameraError("camera.eye and camera.target are the same point; move the eye back")
        if np.linalg.norm(np.cross(f, self.up)) < 1e-9 * np.linalg.norm(f) * max(np.linalg.norm(self.up), 1e-300):
            raise CameraError("camera.up is parallel to the viewing direction; pick another up vector")
        if self.projection == "perspective" and not (0.1 <= float(self.fov_y_deg) < 179.0):
            raise CameraError(f"camera.fov_y_deg must be between 0.1 and 179 degrees, got {self.fov_y_deg}")
        if self.projection == "orthographic" and not (float(self.height) > 0 and math.isfinite(self.height)):
            raise CameraError(f"camera.height must be a positive number, got {self.height}")

    # -- frame -------------------------------------------------------------------------------
    def basis(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Right, true-up and forward unit vectors (r, t, f) of the spec (read-only arrays)."""
        return self._basis

    @cached_property
    def _basis(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        f = np.subtract(self.target, self.eye).astype(float)
        f /= np.linalg.norm(f)
        r = np.cross(f, np.asarray(self.up, float))
        r /= np.linalg.norm(r)
        t = np.cross(r, f)
        for v in (r, t, f):
            v.setflags(write=False)
        return r, t, f

    def scale(self, width: int, height: int) -> float:
        """Pixels per unit: per unit of x/z (perspective) or per millimetre (orthographic)."""
        if self.projection == "perspective":
            return (height / 2.0) / math.tan(math.radians(self.fov_y_deg) / 2.0)
        return height / self.height

    # -- projection ----------------------------------------------------------------------------
    def to_view(self, points: np.ndarray) -> np.ndarray:
        """World points (N, 3) to view coordinates (x, y, z) with z > 0 in front of the eye."""
        r, t, f = self.basis()
        d = np.asarray(points, float).reshape(-1, 3) - np.asarray(self.eye)
        return np.stack([d @ r, d @ t, d @ f], axis=1)

    def project(self, points: np.ndarray, width: int, height: int) -> np.ndarray:
        """World points (N, 3) to pixel coordinates (N, 2) (u right, v down, centres at +0.5).

        Points behind a perspective eye come back as NaN.
        """
        xyz = self.to_view(points)
        s = self.scale(width, height)
        if self.projection == "perspective":
            z = xyz[:, 2]
            with np.errstate(divide="ignore", invalid="ignore"):
                u = width / 2.0 + s * xyz[:, 0] / z
                v = height / 2.0 - s * xyz[:, 1] / z
            bad = z <= 1e-9
            u[bad] = np.nan
            v[bad] = np.nan
        else:
            u = width / 2.0 + s * xyz[:, 0]
            v = height / 2.0 - s * xyz[:, 1]
        return np.stack([u, v], axis=1)

    def depth(self, points: np.ndarray) -> np.ndarray:
        """Depth along the viewing direction, the value the depth render stores."""
        return self.to_view(points)[:, 2]

    def rays(self, uv: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """Rays (origins, unit directions) through pixel coordinates uv (N, 2)."""
        uv = np.asarray(uv, float).reshape(-1, 2)
        r, t, f = self.basis()
        s = self.scale(width, height)
        a = (uv[:, 0] - width / 2.0) / s
        b = -(uv[:, 1] - height / 2.0) / s
        if self.projection == "perspective":
            d = f[None, :] + a[:, None] * r[None, :] + b[:, None] * t[None, :]
            d /= np.linalg.norm(d, axis=1, keepdims=True)
            o = np.broadcast_to(np.asarray(self.eye, float), d.shape).copy()
        else:
            o = np.asarray(self.eye, float)[None, :] + a[:, None] * r[None, :] + b[:, None] * t[None, :]
            d = np.broadcast_to(f, o.shape).copy()
        return o, d

    def pixel_rays(self, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """Rays through every pixel centre, row-major (height * width, 3) each."""
        vv, uu = np.mgrid[0:height, 0:width]
        uv = np.stack([uu.ravel() + 0.5, vv.ravel() + 0.5], axis=1)
        return self.rays(uv, width, height)

    # -- files -------------------------------------------------------------------------------
    def to_json(self) -> dict:
        d = {"eye": list(self.eye), "target": list(self.target), "up": list(self.up),
             "projection": self.projection}
        if self.projection == "perspective":
            d["fov_y_deg"] = self.fov_y_deg
        else:
            d["height"] = self.height
        return d

    @staticmethod
    def looking_at(center, distance: float, azimuth_deg: float, elevation_deg: float,
                   fov_y_deg: float = 35.0) -> "Camera":
        """A perspective camera orbiting `center` (azimuth from +X towards +Y, elevation from XY)."""
        az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
        c = np.asarray(center, float)
        eye = c + distance * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
        return Camera(tuple(eye), tuple(c), (0.0, 0.0, 1.0), "perspective", fov_y_deg)
