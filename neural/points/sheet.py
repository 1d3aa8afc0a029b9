"""A contact sheet of a points dataset: per item the sketch, the colored cloud seen through the
sketch's camera (a point splat under the sketch's lines in faint grey) and the prompt, so a person
can check at a glance that sketch, cloud and words agree."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import cv2
import numpy as np

from sketchforge.modeling.sketch import Sketch

from .data import DataError, read_points_shard
from .drawing import sketch_image

TILE = 220  # pixels per panel


def _fit(sketch: Sketch) -> tuple[float, float, float]:
    """Scale and offsets that letterbox the sketch's canvas into a TILE square."""
    s = TILE / max(sketch.width, sketch.height)
    return s, 0.5 * (TILE - s * sketch.width), 0.5 * (TILE - s * sketch.height)


def _letterbox(ink: np.ndarray, sketch: Sketch) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A canvas-sized ink image (H, W) uint8 scaled into a TILE square: ink 0..1 and the box."""
    s, ox, oy = _fit(sketch)
    w, h = int(round(s * sketch.width)), int(round(s * sketch.height))
    x0, y0 = int(round(ox)), int(round(oy))
    out = np.zeros((TILE, TILE), np.float32)
    out[y0:y0 + h, x0:x0 + w] = cv2.resize(ink, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return out, (x0, y0, w, h)


def _panel_sketch(sketch: Sketch) -> np.ndarray:
    s, _, _ = _fit(sketch)
    ink, (x0, y0, w, h) = _letterbox(sketch_image(sketch, thickness=max(1.0, 1.0 / s)), sketch)
    panel = 255.0 * (1.0 - np.minimum(1.0, 1.6 * ink))
    panel = np.repeat(panel[..., None], 3, axis=2).astype(np.uint8)
    cv2.rectangle(panel, (x0, y0), (x0 + w - 1, y0 + h - 1), (215, 215, 215), 1)
    return panel


def splat(points: np.ndarray, colors: np.ndarray, sketch: Sketch, radius: float = 2.0) -> np.ndarray:
    """The cloud as discs seen through the sketch's camera, far ones first, with the sketch's
    lines faint over it, to show they agree (RGB, TILE x TILE)."""
    s, ox, oy = _fit(sketch)
    panel = np.full((TILE, TILE, 3), 255, np.uint8)
    cam = sketch.camera
    uv = cam.project(points, sketch.width, sketch.height) * s + (ox, oy)
    span = np.nanmax(uv, 0) - np.nanmin(uv, 0)
    radius = float(np.clip(0.6 * np.sqrt(span[0] * span[1] / max(len(points), 1)), 1.0, radius))
    depth = cam.depth(points)
    near, far = np.percentile(depth, [2, 98])
    shade = 1.0 - 0.25 * np.clip((depth - near) / max(far - near, 1e-9), 0, 1)
    for k in np.argsort(-depth):
        if not np.isfinite(uv[k]).all():
            continue
        c = tuple(int(v) for v in np.clip(colors[k] * shade[k], 0, 255))
        cv2.circle(panel, (int(round(uv[k, 0] * 4)), int(round(uv[k, 1] * 4))), int(round(radius * 4)), c, -1,
                   cv2.LINE_AA, 2)
    ink, _ = _letterbox(sketch_image(sketch), sketch)
    lines = np.minimum(1.0, 1.5 * ink)[..., None] * 0.45
    return (panel * (1.0 - lines) + 90.0 * lines).astype(np.uint8)


def item_tile(points: np.ndarray, colors: np.ndarray, record: dict) -> np.ndarray:
    """One item: sketch | cloud side by side, the category and prompt below (RGB)."""
    sketch = Sketch.from_json(record["sketch"])
    top = np.hstack([_panel_sketch(sketch), np.full((TILE, 4, 3), 255, np.uint8), splat(points, colors, sketch)])
    text = np.full((46, top.shape[1], 3), 255, np.uint8)
    canvas = f"{sketch.width}x{sketch.height} {sketch.camera.projection[:5]}"
    cv2.putText(text, f"#{record['item']} {record['category']}  {canvas}", (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                (90, 90, 90), 1, cv2.LINE_AA)
    for k, line in enumerate(textwrap.wrap(record["prompt"], 62)[:2]):
        cv2.putText(text, line, (4, 28 + 14 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (10, 10, 10), 1, cv2.LINE_AA)
    return np.vstack([top, text])


def contact_sheet(root: str | Path, n: int = 24, cols: int = 4) -> np.ndarray:
    """A grid of the first `n` items of a points dataset folder (RGB)."""
    root = Path(root)
    manifest_path = root / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        shards = [s["arrays"] for s in manifest["shards"]]
    except (OSError, ValueError, KeyError, TypeError):
        raise DataError(f"{root} has no readable manifest.json; make the set with "
                        f"`sketchforge-points-data generate --out {root} --count N --seed S`") from None
    tiles: list[np.ndarray] = []
    for name in shards:
        arrays, records = read_points_shard(root / name)
        for i, rec in enumerate(records):
            if len(tiles) >= n:
                break
            tiles.append(item_tile(arrays["points"][i], arrays["colors"][i], rec))
        if len(tiles) >= n:
            break
    if not tiles:
        raise DataError(f"{root} holds no items yet")
    cols = max(1, min(cols, len(tiles)))
    h, w = tiles[0].shape[:2]
    rows = (len(tiles) + cols - 1) // cols
    sheet = np.full((rows * (h + 8) + 8, cols * (w + 8) + 8, 3), 240, np.uint8)
    for k, t in enumerate(tiles):
        r, c = divmod(k, cols)
        sheet[8 + r * (h + 8):8 + r * (h + 8) + h, 8 + c * (w + 8):8 + c * (w + 8) + w] = t
    return sheet
