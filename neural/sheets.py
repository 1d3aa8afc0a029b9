"""Contact sheets and benchmark pictures: equal tiles in a labelled grid under a colour legend."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["check_sheet_request", "tile_grid", "write_png"]


def write_png(path: str | Path, rgb: np.ndarray) -> Path:
    """Write an RGB picture (H, W, 3) uint8 as a PNG, atomically, making its folder; DataError
    when it cannot be encoded."""
    import cv2

    from sketchforge.modeling.files import atomic_write_bytes

    from .synth.reading import DataError
    ok, buf = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
    if not ok:
        raise DataError("could not encode the picture as PNG")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, buf.tobytes())
    return out


def check_sheet_request(data: Path, out: Path, n: int, cols: int, prog: str) -> None:
    """DataError unless a contact sheet of `n` items in `cols` columns of the dataset folder `data`
    (made by `prog generate`) can be written to the PNG `out`."""
    from .synth.reading import DataError
    if n < 1 or cols < 1:
        raise DataError(f"--n and --cols must be at least 1, got --n {n} --cols {cols}")
    if out.suffix.lower() != ".png":
        raise DataError(f"--out must end in .png, got {out}")
    if not data.is_dir():
        raise DataError(f"{data} is not a folder; give a dataset folder made by `{prog} generate`")


def tile_grid(tiles: list[np.ndarray], labels: list[str], legend: list[tuple[str, tuple[int, int, int]]],
              cols: int, min_width: int = 0) -> np.ndarray:
    """Equal RGB tiles in a grid of `cols` columns, each under its label, with a colour legend on top."""
    import cv2
    h, w = tiles[0].shape[:2]
    bar, pad, head = 18, 4, 26
    cols = max(1, min(cols, len(tiles)))
    rows = (len(tiles) + cols - 1) // cols
    sheet = np.full((head + rows * (h + bar + pad) + pad, max(pad + cols * (w + pad), min_width), 3), 255, np.uint8)
    x = pad
    for name, rgb in legend:
        cv2.rectangle(sheet, (x, 8), (x + 14, 20), rgb, -1)
        cv2.putText(sheet, name, (x + 18, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (30, 30, 30), 1, cv2.LINE_AA)
        x += 90
    for k, (tile, label) in enumerate(zip(tiles, labels)):
        r, c = divmod(k, cols)
        y0 = head + pad + r * (h + bar + pad)
        x0 = pad + c * (w + pad)
        cv2.putText(sheet, label, (x0 + 2, y0 + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (20, 20, 20), 1, cv2.LINE_AA)
        sheet[y0 + bar:y0 + bar + h, x0:x0 + w] = tile
    return sheet
