"""One training item of the scene back end, and the shard files items are stored in.

    make_item(seed) -> SceneItem         a pure function of the seed
    read_scene_shard(path) -> (arrays, records)

An item is a world (`world.make_world`, its aspect and style word drawn from the seed), the
sketch a person draws of it (`sketching.draw_world`, a hand of drawn messiness) and the training
arrays on a `RES` x `RES` grid laid over the sketch's ground rectangle (so a non-square world is
stretched: a cell is `size_m / RES` metres along each axis; row 0 is the north edge, as on the
canvas): the sketch rasterised as one channel per stroke kind, and the truth resampled to the same
grid. Each stage draws from its own generator seeded with (seed, stage).

The arrays (`ARRAYS`): `sketch` ink per kind in `KINDS` order (0-255, anti-aliased lines one cell
wide); `category` the `world.CATEGORIES` code of each cell by an area vote weighted towards the
thin classes (a road 4 m wide still shows on a 3 m cell); `height` the mean ground height
normalised to 0..65535 over the item's own range, `height_range` that range in metres (min, max);
`splat` the material weights (`world.MATERIALS` order) in 0..255 summing to 255 per cell;
`trees` the number of trees standing in each cell.

A shard is two files:
    shard-NNNNN.safetensors  the arrays of `ARRAYS` with a leading item axis K (no pickle)
    shard-NNNNN.jsonl        one JSON record per item, in the same order (`RECORD_FIELDS`)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from sketchforge.modeling.sketch import Sketch

from ..shardpool import check_array_specs, read_shard_files, shard_file_bytes
from ..synth.reading import DataError
from .sketching import KINDS, MapDrawing, SketchStyle, draw_world
from .world import CATEGORIES, MATERIALS, STYLES, World, make_world

__all__ = ["ARRAYS", "RECORD_FIELDS", "RES", "DataError", "SceneItem", "layout_arrays", "make_item",
           "rasterise_sketch", "read_scene_shard"]

FORMAT = "sketchforge.scene-data"
VERSION = 1
RES = 128
"""Cells along each side of an item's training grid."""
ASPECTS: dict[tuple[int, int], float] = {(1, 1): 0.7, (4, 3): 0.2, (3, 4): 0.1}
"""Canvas aspects (width, height) and their shares."""
STYLE_SHARE = 0.5
"""Share of items made in one of the style words (the rest have no prompt)."""
CATEGORY_WEIGHT = np.array([1.0, 1.6, 2.2, 1.0, 2.5], np.float32)
"""Vote weights of the categories when a cell covers several (ground, water, road, forest, building)."""

ARRAYS: dict[str, tuple[str, tuple]] = {
    "sketch": ("uint8", (len(KINDS), RES, RES)),  # ink per stroke kind, KINDS order
    "category": ("uint8", (RES, RES)),  # CATEGORIES codes
    "height": ("uint16", (RES, RES)),  # normalised over height_range
    "height_range": ("float32", (2,)),  # metres: min, max
    "splat": ("uint8", (len(MATERIALS), RES, RES)),  # MATERIALS weights, summing to 255
    "trees": ("uint8", (RES, RES)),  # trees per cell
    "item": ("int64", ()),  # global item number in the dataset
}
"""Per-item arrays of a shard: dtype and shape without the leading item axis."""

RECORD_FIELDS: dict[str, str] = {
    "item": "global item number", "seed": "the seed make_item(seed) rebuilds the item from",
    "prompt": "the style word (the sketch's prompt) or null",
    "size_m": "the world's extent (east-west, north-south) in metres; a training cell is size_m / RES",
    "cell_m": "the world grid's cell (m)", "grid": "the world grid's (rows, cols)",
    "relief": "flat, hills or mountains", "height_range_m": "the world's lowest and highest ground (m)",
    "counts": "rivers, lakes, roads, bridges, ridges, trees, buildings",
    "category_share": "share of the world's cells in each category",
    "rivers": "per river: width, depth, length (m) and the river it joins (-1: none)",
    "lakes": "per lake: area (m2), water level and depth (m)",
    "roads": "per road: width, length (m), the road it branches off, the steepest grade",
    "bridges": "per bridge: road, span and deck heights (m)",
    "buildings": "x, y, yaw, size per building (m, radians; world conventions)",
    "params": "the world's drawn parameters", "messiness": "the hand's messiness (SketchStyle.scaled)",
    "manner": "how each kind was drawn", "left_out": "what the sketch leaves out, by kind",
    "strokes": "the number of strokes of each kind",
    "sketch": "the sketch as a sketch file (sketch-file spec v1; mode scene)",
}


@dataclass
class SceneItem:
    """One item: the world, its drawing and the training arrays."""

    seed: int
    world: World
    drawing: MapDrawing
    messiness: float
    arrays: dict[str, np.ndarray]

    @property
    def sketch(self) -> Sketch:
        return self.drawing.sketch

    def record(self, item: int) -> dict:
        summary = self.world.summary()
        summary.pop("style", None)
        kinds = [s.kind for s in self.sketch.strokes]
        return {"item": item, "seed": self.seed, "prompt": self.world.style, **summary,
                "messiness": round(self.messiness, 4), "manner": dict(sorted(self.drawing.manner.items())),
                "left_out": dict(sorted(self.drawing.left_out.items())),
                "strokes": {k: kinds.count(k) for k in KINDS}, "sketch": self.sketch.to_json()}


def make_item(seed: int) -> SceneItem:
    """The item of `seed` (a pure function of it)."""
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"an item seed must be non-negative, got {seed}")
    plan = np.random.default_rng([seed, 10])
    keys = list(ASPECTS)
    aspect = keys[int(plan.choice(len(keys), p=np.array(list(ASPECTS.values())) / sum(ASPECTS.values())))]
    style = str(plan.choice(STYLES)) if plan.random() < STYLE_SHARE else None
    messiness = float(plan.uniform(0.6, 1.6))
    world = make_world(seed, aspect=aspect, style=style)
    drawing = draw_world(world, np.random.default_rng([seed, 11]), SketchStyle().scaled(messiness))
    return SceneItem(seed, world, drawing, messiness, layout_arrays(world, drawing.sketch))


def rasterise_sketch(sketch: Sketch, res: int = RES) -> np.ndarray:
    """The sketch's strokes on a res x res grid over its canvas, one channel per kind in `KINDS`
    order (uint8 ink, anti-aliased, one cell wide); plain strokes and other kinds are not drawn."""
    out = np.zeros((len(KINDS), res, res), np.uint8)
    scale = np.array([res / sketch.width, res / sketch.height])
    for s in sketch.strokes:
        if s.kind not in KINDS or len(s.points) == 0:
            continue
        uv = s.uv * scale - 0.5
        if len(uv) == 1:
            uv = np.vstack([uv, uv])
        cv2.polylines(out[KINDS.index(s.kind)], [np.round(uv * 16).astype(np.int32)], False, 255, 1, cv2.LINE_AA, 4)
    return out


def layout_arrays(world: World, sketch: Sketch, res: int = RES) -> dict[str, np.ndarray]:
    """The training arrays of a world and its sketch (see the module notes), without `item`."""
    size = (res, res)
    onehot = np.stack([(world.category == k).astype(np.float32) for k in range(len(CATEGORIES))], axis=-1)
    votes = _resize(onehot, size) * CATEGORY_WEIGHT
    category = np.argmax(votes, axis=-1).astype(np.uint8)
    h = _resize(world.height.astype(np.float32), size)
    lo, hi = float(h.min()), float(h.max())
    height = np.round((h - lo) / max(hi - lo, 1e-6) * 65535.0).astype(np.uint16)
    splat = _resize(world.splat.astype(np.float32), size)
    splat = np.maximum(splat, 0.0)
    splat /= np.maximum(splat.sum(axis=-1, keepdims=True), 1e-9)
    q = np.floor(splat * 255.0).astype(np.int32)
    rest = 255 - q.sum(axis=-1)  # floor rounding leaves 0..4 per cell: give it to the largest weights
    order = np.argsort(-(splat * 255.0 - q), axis=-1, kind="stable")
    q = _fill_rest(q, order, rest)
    trees = np.zeros(size, np.int32)
    if len(world.trees):
        g = world.grid
        col = ((world.trees[:, 0] + 0.5 * g.width_m) / g.width_m * res).astype(np.int64).clip(0, res - 1)
        row = ((0.5 * g.height_m - world.trees[:, 1]) / g.height_m * res).astype(np.int64).clip(0, res - 1)
        np.add.at(trees, (row, col), 1)
    return {
        "sketch": rasterise_sketch(sketch, res), "category": category, "height": height,
        "height_range": np.array([lo, hi], np.float32), "splat": np.moveaxis(q, -1, 0).astype(np.uint8),
        "trees": np.minimum(trees, 255).astype(np.uint8),
    }


def _resize(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A map (H, W) or (H, W, C) resampled to `size` (rows, cols): area means when shrinking."""
    if a.ndim == 3:
        return np.stack([_resize(a[..., c], size) for c in range(a.shape[-1])], axis=-1)
    return cv2.resize(a, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def _fill_rest(q: np.ndarray, order: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """Add one to the `rest` channels with the largest remainders (in `order`) of every cell."""
    for j in range(q.shape[-1]):
        pick = rest > j
        ch = order[..., j]
        rows, cols = np.nonzero(pick)
        q[rows, cols, ch[rows, cols]] += 1
    return q


# -- shard files ---------------------------------------------------------------------------------
def shard_arrays(items: list[SceneItem], first: int) -> dict[str, np.ndarray]:
    """The stacked arrays of a shard's items (numbered from `first`)."""
    out = {name: np.stack([it.arrays[name] for it in items]).astype(ARRAYS[name][0])
           for name in ARRAYS if name != "item"}
    out["item"] = np.arange(first, first + len(items), dtype=np.int64)
    return out


def shard_bytes(arrays: dict[str, np.ndarray], records: list[dict]) -> tuple[bytes, bytes]:
    """The two files of a shard as bytes (safetensors, JSON lines)."""
    return shard_file_bytes(arrays, records, f"{FORMAT}/{VERSION}")


def read_scene_shard(path: str | Path) -> tuple[dict[str, np.ndarray], list[dict]]:
    """The arrays and records of a shard (`shard-NNNNN.safetensors` and the .jsonl beside it);
    DataError naming the problem when a file is missing or malformed (never unpickles)."""
    return read_shard_files(path, fmt=FORMAT, version=VERSION, what="scene", command="sketchforge-scene-data",
                            check_arrays=_check_arrays, record_fields=RECORD_FIELDS)


def _check_arrays(path: Path, arrays: dict[str, np.ndarray]) -> int:
    k = check_array_specs(path, arrays, ARRAYS)
    if not np.isfinite(arrays["height_range"]).all():
        raise DataError(f"{path}: array 'height_range' holds NaN or infinite heights")
    c = arrays["category"]
    if c.size and int(c.max()) >= len(CATEGORIES):
        raise DataError(f"{path}: array 'category' holds values outside 0..{len(CATEGORIES) - 1}")
    return k
