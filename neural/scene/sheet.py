"""A contact sheet of a scene dataset: per item the sketch (strokes coloured by kind), the category
map and a hillshade of the heightmap with its water and roads, so a person can check at a glance
that the sketch and the world agree."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from sketchforge.modeling.sketch import Sketch

from ..sheets import tile_grid
from .data import RES, DataError, read_scene_shard
from .world import CATEGORIES, ROAD, WATER

TILE = 200  # pixels per panel
CATEGORY_RGB = np.array([[205, 222, 170], [70, 130, 220], [90, 90, 90], [40, 115, 50], [200, 60, 40]], np.uint8)
KIND_RGB = {"water": (40, 100, 230), "road": (50, 50, 50), "forest": (30, 140, 50), "building": (215, 40, 30),
            "mountain": (150, 90, 30)}


def sketch_panel(sketch: Sketch) -> np.ndarray:
    """The sketch letterboxed into a TILE square, each stroke in its kind's colour (RGB)."""
    s = TILE / max(sketch.width, sketch.height)
    w, h = int(round(s * sketch.width)), int(round(s * sketch.height))
    x0, y0 = (TILE - w) // 2, (TILE - h) // 2
    panel = np.full((TILE, TILE, 3), 255, np.uint8)
    for stroke in sketch.strokes:
        if len(stroke.points) < 2:
            continue
        uv = stroke.uv * s + (x0, y0)
        cv2.polylines(panel, [np.round(uv * 16).astype(np.int32)], False, KIND_RGB.get(stroke.kind or "", (0, 0, 0)),
                      1, cv2.LINE_AA, 4)
    cv2.rectangle(panel, (x0, y0), (x0 + w - 1, y0 + h - 1), (200, 200, 200), 1)
    return panel


def _fit(img: np.ndarray, sketch: Sketch) -> np.ndarray:
    """A RES x RES map stretched back to the sketch's aspect and letterboxed like `sketch_panel`."""
    s = TILE / max(sketch.width, sketch.height)
    w, h = int(round(s * sketch.width)), int(round(s * sketch.height))
    panel = np.full((TILE, TILE, 3), 255, np.uint8)
    x0, y0 = (TILE - w) // 2, (TILE - h) // 2
    panel[y0:y0 + h, x0:x0 + w] = cv2.resize(img, (w, h), interpolation=cv2.INTER_NEAREST)
    return panel


def hillshade(height: np.ndarray, span_m: float, cell_m: tuple[float, float]) -> np.ndarray:
    """Grey relief (H, W) in 0..1 from a height map in metres lit from the north-west."""
    gy, gx = np.gradient(height, cell_m[1], cell_m[0])
    nx, ny, nz = -gx, gy, np.ones_like(gx)  # rows run south: flip the row gradient to get +y north
    norm = np.sqrt(nx * nx + ny * ny + nz * nz)
    light = np.array([-1.0, 1.0, 1.5]) / np.sqrt(4.25)
    return np.clip((nx * light[0] + ny * light[1] + nz * light[2]) / norm, 0.0, 1.0)


def item_tile(arrays: dict[str, np.ndarray], i: int, record: dict) -> np.ndarray:
    """One item: sketch | category map | hillshade, side by side (RGB)."""
    sketch = Sketch.from_json(record["sketch"])
    category = arrays["category"][i]
    lo, hi = (float(v) for v in arrays["height_range"][i])
    height = lo + arrays["height"][i].astype(float) / 65535.0 * (hi - lo)
    size = record["size_m"]
    shade = hillshade(height, hi - lo, (size[0] / RES, size[1] / RES))
    level = (height - lo) / max(hi - lo, 1e-6)
    rgb = (np.stack([shade] * 3, axis=-1) * (150 + 80 * level[..., None]) + 20).clip(0, 255)
    rgb[category == WATER] = 0.4 * rgb[category == WATER] + 0.6 * np.array(CATEGORY_RGB[WATER], float)
    rgb[category == ROAD] = 0.5 * rgb[category == ROAD] + 0.5 * np.array([60, 50, 40], float)
    trees = arrays["trees"][i] > 0
    rgb[trees] = 0.6 * rgb[trees] + 0.4 * np.array([20, 90, 30], float)
    gap = np.full((TILE, 4, 3), 255, np.uint8)
    return np.hstack([sketch_panel(sketch), gap, _fit(CATEGORY_RGB[category], sketch), gap,
                      _fit(rgb.astype(np.uint8), sketch)])


def contact_sheet(root: str | Path, n: int = 8, cols: int = 2) -> np.ndarray:
    """A grid of the first `n` items of a scene dataset folder (RGB)."""
    root = Path(root)
    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
        shards = [s["arrays"] for s in manifest["shards"]]
    except (OSError, ValueError, KeyError, TypeError):
        raise DataError(f"{root} has no readable manifest.json; make the set with "
                        f"`sketchforge-scene-data generate --out {root} --count N --seed S`") from None
    tiles: list[np.ndarray] = []
    labels: list[str] = []
    for name in shards:
        arrays, records = read_scene_shard(root / name)
        for i, rec in enumerate(records):
            if len(tiles) >= n:
                break
            tiles.append(item_tile(arrays, i, rec))
            w, h = rec["size_m"]
            labels.append(f"#{rec['item']} {w:.0f} x {h:.0f} m {rec['relief']}"
                          + (f", '{rec['prompt']}'" if rec["prompt"] else ""))
        if len(tiles) >= n:
            break
    if not tiles:
        raise DataError(f"{root} holds no items yet")
    legend = [(c, tuple(int(v) for v in CATEGORY_RGB[k])) for k, c in enumerate(CATEGORIES)]
    legend.append(("mountain", KIND_RGB["mountain"]))  # the other kinds' strokes share their category's colour
    return tile_grid(tiles, labels, legend, cols)
