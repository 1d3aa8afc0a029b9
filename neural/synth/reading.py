"""Reading a generated dataset folder: its manifest, shard arrays and records (numpy + json only,
no pickle, no CAD kernel, so the training loader stays light)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


class DataError(ValueError):
    """Settings or a folder that generation cannot work with; the message says what to do."""


def read_manifest(root: str | Path) -> dict:
    """The manifest of a dataset folder; DataError saying what to do when it is missing or damaged."""
    path = Path(root) / "manifest.json"
    if not path.is_file():
        raise DataError(f"{root} has no manifest.json; make the set with `sketchforge-data generate --out {root} "
                        "--count N --seed S` (rerun the same command to finish an interrupted one)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise DataError(f"{path} is damaged; rerun `sketchforge-data generate` for that folder") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("shards"), list):
        raise DataError(f"{path} is not a dataset manifest; point at a folder made by `sketchforge-data generate`")
    return manifest


def read_shard(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of one shard (no pickle)."""
    with np.load(Path(path), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def read_records(path: str | Path) -> list[dict]:
    """The JSON records of one shard, in item order."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def arrays_camera(row: np.ndarray, drawn):
    """The camera of an item's arrays (its `camera` row: eye, target, up, fov_y_deg), as the
    framed turn of `drawn`, the camera the item's sketch was drawn with."""
    from dataclasses import replace
    c = np.asarray(row, float)
    return replace(drawn, eye=tuple(c[:3]), target=tuple(c[3:6]), up=tuple(c[6:9]), fov_y_deg=float(c[9]))
