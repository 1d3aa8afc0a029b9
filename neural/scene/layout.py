"""What a scene sketch means, on a grid over the ground it shows: the one thing the readers of a
sketch (the network, and the rules alone as the baseline) hand to the assembly.

    Layout.of_world(world, extent, shape)   the truth over a ground rectangle (for training, figures)
    layout.height_at(xy)                    terrain height under world points, bilinear

Conventions are the world's (`world` module notes): metres, +x east, +y north, z up; maps are
(rows, cols) with row 0 the north edge and column 0 the west edge; `category` holds the
`world.CATEGORIES` codes and `splat` the `world.MATERIALS` weights. `extent` is the ground
rectangle (west, south, east, north) in the sketch's world metres: a sketch need not be centred
on the origin, so a layout carries where it lies.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sketchforge.modeling.sketch import Sketch

from .world import CATEGORIES, MATERIALS, World

__all__ = ["Layout", "SIZE_LIMITS_M", "ground_rectangle"]

SIZE_LIMITS_M = (20.0, 4000.0)
"""The smallest and largest ground a scene sketch may show along either side (m)."""
_STRAIGHT = 1e-4  # how far the view may turn from straight down, north up (1 - cosine; about 0.8 degrees)


def ground_rectangle(sketch: Sketch) -> tuple[float, float, float, float]:
    """The ground (west, south, east, north) in metres the sketch's canvas shows; ValueError saying
    what to change when the view is not the contract's map (orthographic, straight down, north up:
    eye (cx, cy, h), target (cx, cy, 0), up (0, 1, 0)) or the ground is absurdly small or large."""
    cam = sketch.camera
    if cam.projection != "orthographic":
        raise ValueError("a scene sketch is drawn on a map: the camera must be orthographic, looking straight "
                         f"down (its projection is {cam.projection!r})")
    right, up, forward = cam.basis()
    if abs(forward[2] + 1.0) > _STRAIGHT or abs(right[0] - 1.0) > _STRAIGHT or abs(up[1] - 1.0) > _STRAIGHT:
        raise ValueError("a scene sketch is drawn on a map: the camera must look straight down with north up "
                         "(eye (cx, cy, h), target (cx, cy, 0), up (0, 1, 0))")
    if sketch.width < 1 or sketch.height < 1:
        raise ValueError(f"the canvas is {sketch.width} x {sketch.height} pixels; it needs a positive size")
    height_m = cam.height / 1000.0
    width_m = height_m * sketch.width / sketch.height
    lo, hi = SIZE_LIMITS_M
    if not (lo <= height_m <= hi and lo <= width_m <= hi):
        raise ValueError(f"the map shows {width_m:.4g} m x {height_m:.4g} m of ground; a scene is {lo:g} m to "
                         f"{hi / 1000:g} km on a side (camera.height is the ground along the canvas's height in mm)")
    cx, cy = cam.target[0] / 1000.0, cam.target[1] / 1000.0
    return (cx - 0.5 * width_m, cy - 0.5 * height_m, cx + 0.5 * width_m, cy + 0.5 * height_m)


@dataclass(frozen=True)
class Layout:
    """Category, height and splat maps over the ground rectangle `extent` (module notes)."""

    category: np.ndarray  # (R, C) uint8 codes of world.CATEGORIES
    height: np.ndarray    # (R, C) float32 metres
    splat: np.ndarray     # (R, C, len(MATERIALS)) float32 weights summing to 1
    extent: tuple[float, float, float, float]  # west, south, east, north (m)
    trees: np.ndarray | None = None  # (R, C) float32 trees expected per cell, where a reader gives them
    style: str | None = None

    def __post_init__(self) -> None:
        r, c = self.category.shape
        if self.height.shape != (r, c) or self.splat.shape != (r, c, len(MATERIALS)):
            raise ValueError(f"maps disagree: category {self.category.shape}, height {self.height.shape}, "
                             f"splat {self.splat.shape}")
        if self.trees is not None and self.trees.shape != (r, c):
            raise ValueError(f"trees {self.trees.shape} is not over the category grid {(r, c)}")
        w, s, e, n = self.extent
        if not (e > w and n > s):
            raise ValueError(f"extent {self.extent} is not a rectangle (west < east, south < north)")
        if self.category.size and int(self.category.max()) >= len(CATEGORIES):
            raise ValueError(f"category codes go up to {len(CATEGORIES) - 1}, got {int(self.category.max())}")

    @property
    def shape(self) -> tuple[int, int]:
        return self.category.shape  # type: ignore[return-value]

    @property
    def cell_m(self) -> tuple[float, float]:
        """(east-west, north-south) size of a cell in metres."""
        w, s, e, n = self.extent
        rows, cols = self.shape
        return (e - w) / cols, (n - s) / rows

    def cell_of(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (row, col) of world points (N, 2), cell centres at integers."""
        w, s, e, n = self.extent
        rows, cols = self.shape
        p = np.asarray(xy, np.float64).reshape(-1, 2)
        col = (p[:, 0] - w) / (e - w) * cols - 0.5
        row = (n - p[:, 1]) / (n - s) * rows - 0.5
        return row, col

    def height_at(self, xy: np.ndarray) -> np.ndarray:
        """Terrain height (N,) under world points (N, 2), bilinear, clamped at the borders."""
        row, col = self.cell_of(xy)
        rows, cols = self.shape
        r = np.clip(row, 0, rows - 1)
        c = np.clip(col, 0, cols - 1)
        r0, c0 = np.floor(r).astype(int), np.floor(c).astype(int)
        r1, c1 = np.minimum(r0 + 1, rows - 1), np.minimum(c0 + 1, cols - 1)
        fr, fc = r - r0, c - c0
        h = self.height
        top = h[r0, c0] * (1 - fc) + h[r0, c1] * fc
        bottom = h[r1, c0] * (1 - fc) + h[r1, c1] * fc
        return (top * (1 - fr) + bottom * fr).astype(np.float64)

    @staticmethod
    def of_world(world: World, extent: tuple[float, float, float, float] | None = None,
                 shape: tuple[int, int] | None = None) -> "Layout":
        """The world's own maps as a layout over `extent` (default: the world, centred on the origin)
        resampled to `shape` (rows, cols; default the world's grid): categories by majority, heights
        and splat by area means."""
        g = world.grid
        default = (-0.5 * g.width_m, -0.5 * g.height_m, 0.5 * g.width_m, 0.5 * g.height_m)
        extent = tuple(float(v) for v in (extent or default))  # type: ignore[assignment]
        rows, cols = shape or (g.rows, g.cols)
        if (rows, cols) == (g.rows, g.cols):
            category, height, splat = world.category, world.height.astype(np.float32), world.splat
        else:
            interp = cv2.INTER_AREA if rows < g.rows else cv2.INTER_LINEAR

            def resized(a: np.ndarray) -> np.ndarray:  # channel by channel (cv2 takes at most 4)
                return np.stack([cv2.resize(np.ascontiguousarray(a[..., k]), (cols, rows), interpolation=interp)
                                 for k in range(a.shape[-1])], -1)
            onehot = np.stack([(world.category == k).astype(np.float32) for k in range(len(CATEGORIES))], -1)
            category = np.argmax(resized(onehot), -1).astype(np.uint8)
            height = cv2.resize(world.height.astype(np.float32), (cols, rows), interpolation=interp)
            splat = resized(world.splat.astype(np.float32))
            splat = splat / np.maximum(splat.sum(-1, keepdims=True), 1e-9)
        return Layout(np.asarray(category, np.uint8), np.asarray(height, np.float32),
                      np.asarray(splat, np.float32), extent, style=world.style)  # type: ignore[arg-type]
