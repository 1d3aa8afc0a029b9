"""One training item of the point-cloud back end, and the shard files items are stored in.

    make_item(seed) -> PointsItem        a pure function of the seed
    read_points_shard(path) -> (arrays, records)

An item is an object (`objects.make_object`), its colors and prompt (`prompts.plan_colors`,
`prompts.prompt_text`), a colored, part-labelled cloud of `POINTS` points sampled on its surface
and a person's sketch of it (`drawing.draw`, mode "points", the prompt set). The cloud is spread
evenly: each part name gets points in proportion to its area (at least `MIN_PART_POINTS`), drawn
as farthest points among four times as many uniform samples on that part, then shuffled. The
optional dense cloud (`DENSE_POINTS`, for meshing) is uniform, area-weighted. Each stage draws from
its own generator seeded with (seed, stage), so asking for the dense cloud changes nothing else.

A shard is two files:
    shard-NNNNN.safetensors  the arrays of `ARRAYS` with a leading item axis K (no pickle)
    shard-NNNNN.jsonl        one JSON record per item, in the same order (`RECORD_FIELDS`)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sketchforge.modeling.sketch import Sketch

from ..shardpool import check_array_specs, read_shard_files, shard_file_bytes
from ..synth.reading import DataError
from .drawing import DrawConfig, draw
from .objects import CATEGORIES, PART_NAMES, PointsObject, make_object
from .palette import point_colors
from .prompts import ColorPlan, part_rgb, plan_colors, prompt_text

__all__ = ["ARRAYS", "DENSE_ARRAYS", "POINTS", "DENSE_POINTS", "RECORD_FIELDS", "DataError", "PointsItem",
           "make_item", "main", "read_points_shard", "sample_cloud"]

FORMAT = "sketchforge.points-data"
VERSION = 1
POINTS = 2048
DENSE_POINTS = 8192
MIN_PART_POINTS = 8

ARRAYS: dict[str, tuple[str, tuple]] = {
    "points": ("float32", (POINTS, 3)),  # world millimetres, Z up, the object on z = 0 centred in XY
    "colors": ("uint8", (POINTS, 3)),  # RGB
    "parts": ("int16", (POINTS,)),  # part label: index into PART_NAMES
    "category": ("int16", ()),  # index into CATEGORIES
    "item": ("int64", ()),  # global item number in the dataset
}
"""Per-item arrays of a shard: dtype and shape without the leading item axis."""

DENSE_ARRAYS: dict[str, tuple[str, tuple]] = {
    "dense_points": ("float32", (DENSE_POINTS, 3)), "dense_colors": ("uint8", (DENSE_POINTS, 3)),
    "dense_parts": ("int16", (DENSE_POINTS,)),
}
"""Arrays a shard made with the dense cloud holds in addition."""

RECORD_FIELDS: dict[str, str] = {
    "item": "global item number", "seed": "the seed make_item(seed) rebuilds the item from",
    "category": "category name (CATEGORIES)", "parts": "part names present, in PART_NAMES order",
    "labels": "their labels (indices into PART_NAMES)", "style": "the variants the object was built with",
    "size_mm": "bounding box size (x, y, z) in mm", "prompt": "the text prompt",
    "named": "what the prompt names: {whole: paint words or null, parts: {part: paint words}}",
    "paints": "the paint (color and/or material words) of every part present",
    "rgb": "the base RGB of every part present (points vary slightly around it)",
    "sketch": "the sketch as a sketch file (sketch-file spec v1; mode points, prompt set)",
}


@dataclass
class PointsItem:
    """One item: the object, its cloud, its prompt and colors, and the sketch."""

    seed: int
    obj: PointsObject
    points: np.ndarray  # (POINTS, 3) float32 mm
    colors: np.ndarray  # (POINTS, 3) uint8
    parts: np.ndarray  # (POINTS,) int16 labels
    prompt: str
    plan: ColorPlan
    rgb: dict[str, np.ndarray]
    sketch: Sketch
    dense: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def category(self) -> str:
        return self.obj.category

    def record(self, item: int) -> dict:
        lo, hi = self.obj.bounds()
        names = self.obj.part_names()
        return {
            "item": item, "seed": self.seed, "category": self.category, "parts": list(names),
            "labels": [PART_NAMES.index(n) for n in names], "style": dict(self.obj.style),
            "size_mm": [round(float(x), 2) for x in hi - lo], "prompt": self.prompt, "named": self.plan.named_json(),
            "paints": {p: self.plan.paints[p].word for p in names},
            "rgb": {p: [int(round(float(c))) for c in self.rgb[p]] for p in names},
            "sketch": self.sketch.to_json(),
        }


def make_item(seed: int, dense: bool = False, config: DrawConfig | None = None) -> PointsItem:
    """The item of `seed` (a pure function of it); with `dense` also the `DENSE_POINTS` cloud."""
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"an item seed must be non-negative, got {seed}")
    obj = make_object(np.random.default_rng([seed, 0]))
    color_rng = np.random.default_rng([seed, 1])
    plan = plan_colors(obj, color_rng)
    prompt = prompt_text(obj, plan, color_rng)
    rgb = part_rgb(plan, color_rng)
    points, colors, parts = sample_cloud(obj, plan, rgb, POINTS, np.random.default_rng([seed, 2]), even=True)
    sketch = draw(obj, np.random.default_rng([seed, 3]), prompt, config or DrawConfig()).sketch
    extra = None
    if dense:
        extra = sample_cloud(obj, plan, rgb, DENSE_POINTS, np.random.default_rng([seed, 4]), even=False)
    return PointsItem(seed, obj, points, colors, parts, prompt, plan, rgb, sketch, extra)


def sample_cloud(obj: PointsObject, plan: ColorPlan, rgb: dict[str, np.ndarray], count: int,
                 rng: np.random.Generator, even: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`count` points on the object's surface (float32), their colors (uint8) and part labels
    (int16), every part name with at least `MIN_PART_POINTS` (see the module notes)."""
    names = obj.part_names()
    tris = {n: np.concatenate([p.mesh.vertices[p.mesh.faces] for p in obj.parts if p.name == n]) for n in names}
    areas = {n: 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1) for n, t in tris.items()}
    share = np.array([areas[n].sum() for n in names])
    alloc = _allocate(share / share.sum(), count, MIN_PART_POINTS)
    pts, cols, labels = [], [], []
    for n, k in zip(names, alloc):
        cand = _uniform(tris[n], areas[n], 4 * k if even else k, rng)
        chosen = cand[_farthest(cand, k, rng)] if even else cand
        pts.append(chosen)
        cols.append(point_colors(rgb[n], plan.paints[n], chosen, rng))
        labels.append(np.full(k, PART_NAMES.index(n), np.int16))
    order = rng.permutation(count)
    return (np.concatenate(pts)[order].astype(np.float32), np.concatenate(cols)[order],
            np.concatenate(labels)[order])


def _allocate(share: np.ndarray, count: int, floor: int) -> np.ndarray:
    """Integer counts summing to `count`, proportional to `share`, none below `floor`."""
    n = len(share)
    floor = min(floor, count // max(n, 1))
    extra = count - floor * n
    raw = share * extra
    out = np.floor(raw).astype(int)
    rest = extra - int(out.sum())
    out[np.argsort(-(raw - out), kind="stable")[:rest]] += 1
    return out + floor


def _uniform(tri: np.ndarray, area: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points uniform on triangles (T, 3, 3) by area."""
    cdf = np.cumsum(area)
    idx = np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), len(tri) - 1)
    r1, r2 = rng.random(n), rng.random(n)
    s = np.sqrt(r1)[:, None]
    t = tri[idx]
    return (1 - s) * t[:, 0] + s * (1 - r2[:, None]) * t[:, 1] + s * r2[:, None] * t[:, 2]


def _farthest(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of k farthest-point samples of points (N, 3), starting from a random one (float32
    coordinates in separate arrays: the update is the whole cost)."""
    x, y, z = (np.ascontiguousarray(points[:, j], np.float32) for j in range(3))
    d = np.full(len(x), np.inf, np.float32)
    t, u = np.empty_like(d), np.empty_like(d)
    chosen = np.empty(k, np.int64)
    c = int(rng.integers(len(x)))
    for i in range(k):
        chosen[i] = c
        np.subtract(x, x[c], out=u)
        u *= u
        for axis in (y, z):
            np.subtract(axis, axis[c], out=t)
            t *= t
            u += t
        np.minimum(d, u, out=d)
        c = int(d.argmax())
    return chosen


# -- shard files ---------------------------------------------------------------------------------------
def shard_arrays(items: list[PointsItem], first: int) -> dict[str, np.ndarray]:
    """The stacked arrays of a shard's items (numbered from `first`)."""
    cats = list(CATEGORIES)
    out: dict[str, np.ndarray] = {
        "points": np.stack([it.points for it in items]).astype(np.float32),
        "colors": np.stack([it.colors for it in items]).astype(np.uint8),
        "parts": np.stack([it.parts for it in items]).astype(np.int16),
        "category": np.array([cats.index(it.category) for it in items], np.int16),
        "item": np.arange(first, first + len(items), dtype=np.int64),
    }
    if items and all(it.dense is not None for it in items):
        for name, k in (("dense_points", 0), ("dense_colors", 1), ("dense_parts", 2)):
            out[name] = np.stack([it.dense[k] for it in items if it.dense is not None]).astype(DENSE_ARRAYS[name][0])
    return out


def shard_bytes(arrays: dict[str, np.ndarray], records: list[dict]) -> tuple[bytes, bytes]:
    """The two files of a shard as bytes (safetensors, JSON lines)."""
    return shard_file_bytes(arrays, records, f"{FORMAT}/{VERSION}")


def read_points_shard(path: str | Path) -> tuple[dict[str, np.ndarray], list[dict]]:
    """The arrays and records of a shard (`shard-NNNNN.safetensors` and the .jsonl beside it);
    DataError naming the problem when a file is missing or malformed (never unpickles)."""
    return read_shard_files(path, fmt=FORMAT, version=VERSION, what="points", command="sketchforge-points-data",
                            check_arrays=_check_arrays, record_fields=RECORD_FIELDS)


def _check_arrays(path: Path, arrays: dict[str, np.ndarray]) -> int:
    specs = dict(ARRAYS)
    if any(name in arrays for name in DENSE_ARRAYS):
        specs.update(DENSE_ARRAYS)
    k = check_array_specs(path, arrays, specs)
    for name in ("points", "dense_points"):
        if name in arrays and not np.isfinite(arrays[name]).all():
            raise DataError(f"{path}: array {name!r} holds NaN or infinite coordinates")
    for name, top in (("parts", len(PART_NAMES)), ("dense_parts", len(PART_NAMES)), ("category", len(CATEGORIES))):
        a = arrays.get(name)
        if a is not None and a.size and not (0 <= int(a.min()) and int(a.max()) < top):
            raise DataError(f"{path}: array {name!r} holds values outside 0..{top - 1}")
    return k


def main(argv: list[str] | None = None) -> int:
    """`sketchforge-points-data` (see `cli.py`)."""
    from .cli import main as cli_main
    return cli_main(argv)
