"""Redrawing part of a map remakes that region of the scene and keeps the rest.

    changed_lines(old_sketch, new_sketch) -> list[Changed]   the strokes drawn or erased since
    Redraw.of(old_layout, new_layout, lines) -> Redraw                   the region and the merged layout
    assemble(redraw.layout, seed, keep=redraw.keep(old_scene))           (`assemble`) the scene

The region is the ground within `MARGIN_M` of every stroke drawn or erased since the scene was
made, the areas such strokes enclose, and every patch where the reading changed (its category, or,
when a ridge was drawn or erased, its height by more than `HEIGHT_STEP_M`) that touches them (a
forest outline drawn wider moves the forest's edge away from the stroke; an erased ridge lowers
its flanks too), all widened by the margin. Outside the region the old reading stands; inside, the new one, its heights
eased into the old ones over `BAND_M` at the region's edge. The assembly keeps the old scene's
trees, rocks, bushes and buildings outside the region (where they still may stand) and places new
ones inside it; what it computes without chance (terrain, water, roads) follows from the merged
layout, so it is what it was wherever the layout is. A region over `WHOLE_SHARE` of the map, a map
moved or resized, or another style make the whole scene again (`Redraw.of` returns None).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np
from scipy import ndimage

from sketchforge.modeling.scenes import SceneBody
from sketchforge.modeling.sketch import Sketch, Stroke

from .layout import Layout, ground_rectangle
from .sketching import KINDS, closes
from .water import smoothstep

__all__ = ["BAND_M", "HEIGHT_STEP_M", "MARGIN_M", "WHOLE_SHARE", "Changed", "Keep", "Redraw", "changed_lines"]

MARGIN_M = 12.0
"""How far around a changed stroke the scene is made again (m; at least two cells of the layout)."""
BAND_M = 15.0
"""Width of the band inside the region's edge over which new heights ease into the kept ones (m)."""
HEIGHT_STEP_M = 2.0
"""A cell whose reading's height moved by more than this counts as changed (a ridge drawn or erased)."""
WHOLE_SHARE = 0.6
"""A region larger than this share of the map makes the whole scene again."""


def _key(stroke: Stroke) -> tuple:
    return (stroke.kind, np.round(np.asarray(stroke.points, float)[:, :2], 3).tobytes())


class Changed(NamedTuple):
    """A stroke drawn or erased: its kind, whether it closes on itself, its ground polyline (K, 2) m."""

    kind: str
    closed: bool
    xy: np.ndarray


def changed_lines(old: Sketch, new: Sketch) -> list[Changed]:
    """The strokes of scene kinds in one sketch and not the other (drawn since, or erased), as ground
    polylines (`Changed`). Raises ValueError when the two sketches
    do not show the same ground (then nothing of the old scene can be kept)."""
    if ground_rectangle(old) != ground_rectangle(new):
        raise ValueError("the map shows other ground than the scene's")
    old_keys = Counter(_key(s) for s in old.strokes if s.kind in KINDS and len(s.points))
    new_keys = Counter(_key(s) for s in new.strokes if s.kind in KINDS and len(s.points))
    out: list[Changed] = []
    for sketch, gone in ((new, new_keys - old_keys), (old, old_keys - new_keys)):
        for s in sketch.strokes:
            k = _key(s) if s.kind in KINDS and len(s.points) else None
            if k is not None and gone.get(k, 0) > 0:
                gone[k] -= 1
                o, _ = sketch.camera.rays(np.asarray(s.points, float)[:, :2], sketch.width, sketch.height)
                out.append(Changed(str(s.kind), closes(s.points), o[:, :2] / 1000.0))
    return out


@dataclass(frozen=True)
class Keep:
    """What a regional remake keeps: the old scene, and the region made again (`region`, cells of a
    grid over `extent`, row 0 the north edge)."""

    scene: SceneBody
    region: np.ndarray
    extent: tuple[float, float, float, float]

    def inside(self, xy: np.ndarray) -> np.ndarray:
        """Whether ground points (..., 2) m lie in the region (the nearest cell's word)."""
        w, s, e, n = self.extent
        rows, cols = self.region.shape
        p = np.asarray(xy, float)
        c = np.clip(np.floor((p[..., 0] - w) / (e - w) * cols).astype(int), 0, cols - 1)
        r = np.clip(np.floor((n - p[..., 1]) / (n - s) * rows).astype(int), 0, rows - 1)
        return self.region[r, c]

    def kept_objects(self) -> list[tuple[str, float, float, float, float]]:
        """The old scene's objects standing outside the region: (variant name, x, y, yaw, scale)."""
        body = self.scene
        if not len(body.placements):
            return []
        names = [body.variants[int(k)].name for k in body.variant]
        out = ~self.inside(body.placements[:, :2])
        return [(names[i], float(p[0]), float(p[1]), float(p[3]), float(p[4]))
                for i, p in enumerate(body.placements) if out[i]]


@dataclass(frozen=True)
class Redraw:
    """The region a redrawn map makes again (cells of the layouts' grid) and the layout to assemble."""

    region: np.ndarray
    layout: Layout

    @property
    def share(self) -> float:
        return float(self.region.mean())

    def keep(self, scene: SceneBody) -> Keep:
        return Keep(scene, self.region, self.layout.extent)

    @staticmethod
    def of(old: Layout, new: Layout, lines: list[Changed]) -> "Redraw | None":
        """The redraw of a map read as `old` before and `new` now, `lines` what changed
        (`changed_lines`); None when the whole scene should be made again (module notes)."""
        if not lines or old.shape != new.shape or old.extent != new.extent or old.style != new.style:
            return None
        w, s, e, n = new.extent
        rows, cols = new.shape
        cw, ch = (e - w) / cols, (n - s) / rows
        seed = np.zeros((rows, cols), np.uint8)
        for _, closed, xy in lines:
            cc = np.round((xy[:, 0] - w) / cw - 0.5).astype(np.int32)
            rr = np.round((n - xy[:, 1]) / ch - 0.5).astype(np.int32)
            pts = np.stack([cc, rr], 1).reshape(-1, 1, 2)
            cv2.polylines(seed, [pts], bool(closed), 1, 1)
            if closed:
                cv2.fillPoly(seed, [pts], 1)
        grown = _within(seed > 0, MARGIN_M, cw, ch)
        moved = old.category != new.category
        if any(line.kind == "mountain" for line in lines):  # a ridge drawn or erased moves the ground around it
            moved |= np.abs(old.height - new.height) > HEIGHT_STEP_M
        changed, count = ndimage.label(moved)
        if count:
            touching = np.unique(changed[grown & (changed > 0)])
            grown |= _within(np.isin(changed, touching[touching > 0]), MARGIN_M, cw, ch)
        if not grown.any() or grown.mean() > WHOLE_SHARE:
            return None
        depth = ndimage.distance_transform_edt(grown, sampling=(ch, cw))
        t = smoothstep(np.clip(depth / BAND_M, 0.0, 1.0))[..., None]
        height = np.where(grown, old.height + t[..., 0] * (new.height - old.height), old.height)
        splat = np.where(grown[..., None], old.splat * (1 - t) + new.splat * t, old.splat)
        splat = splat / np.maximum(splat.sum(-1, keepdims=True), 1e-9)
        trees = None
        if old.trees is not None and new.trees is not None:
            trees = np.where(grown, new.trees, old.trees).astype(np.float32)
        merged = Layout(np.where(grown, new.category, old.category).astype(np.uint8), height.astype(np.float32),
                        splat.astype(np.float32), new.extent, trees=trees, style=new.style)
        return Redraw(grown, merged)


def _within(mask: np.ndarray, metres: float, cw: float, ch: float) -> np.ndarray:
    """Cells within `metres` of `mask`."""
    if not mask.any():
        return mask.copy()
    return ndimage.distance_transform_edt(~mask, sampling=(ch, cw)) <= metres
