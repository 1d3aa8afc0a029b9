"""Streaming generated shards into training: a torch `IterableDataset`, one shard in memory per worker.

Shards are split across DataLoader workers (worker w takes every w-th shard of the epoch's
order), read with `allow_pickle=False`, and their items shuffled within the shard. Each sample is
a dict of tensors:

    input   float32 (5, H, W)  Sketch2CAD's input: strokes (0 on a stroke, 1 background; ink
                               coverage c in 0..255 gives 1 - c / 255), context normal in the
                               camera frame (3, 0 off the model), context depth (1) normalised per
                               item over the model: 0 nearest .. 1 farthest, background 1
    op_class int64 ()          0 extrude, 1 add/subtract, 2 bevel, 3 sweep
    stitch  float32 (1, H, W)  stitching-face mask, 0 / 1
    role    int64 (H, W)       curve role of stroke pixels: 0 none, 1 base, 2 profile, 3 offset
    item    int64 ()           global item number (finds the JSON record and any STEP files)
    index   int64 ()           the item's place in the folder's manifest order (shard by shard),
                               unique in a merged set too, where item numbers of two sets repeat
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from .reading import read_manifest

SAMPLE_SHAPES = {"input": (5, "H", "W"), "op_class": (), "stitch": (1, "H", "W"), "role": ("H", "W"), "item": (),
                 "index": ()}


def normalised_depth(depth: np.ndarray, mask: np.ndarray, span: tuple[float, float] | None = None) -> np.ndarray:
    """Depth over the model mapped to 0 (nearest) .. 1 (farthest); background 1, like a cleared z-buffer.
    `span` (nearest, farthest) is the depth range over the mask unless given (a sample of an image's
    pixels normalised as the whole image is)."""
    out = np.ones(depth.shape, np.float32)
    if mask.any():
        d = depth[mask].astype(np.float32)
        lo, hi = span if span is not None else (float(d.min()), float(d.max()))
        out[mask] = (d - lo) / (hi - lo) if hi > lo else 0.0
    return out


def depth_span(depth: np.ndarray, mask: np.ndarray) -> tuple[float, float] | None:
    """(nearest, farthest) depth over the mask as `normalised_depth` takes it; None for an empty mask."""
    if not mask.any():
        return None
    d = depth[mask].astype(np.float32)
    return float(d.min()), float(d.max())


def network_input(stroke: np.ndarray, normal: np.ndarray, depth: np.ndarray, mask: np.ndarray,
                  channels_last: bool = False) -> np.ndarray:
    """The network's five float32 input channels: paper (1 - ink coverage), the normal's x, y, z and
    `normalised_depth`; (5, H, W), or (H, W, 5) with `channels_last` (the layout the CPU network
    runs in, so a live reading makes it without a transpose). `stroke` (H, W) uint8 ink coverage,
    `normal` (H, W, 3), `depth` (H, W), `mask` (H, W) bool: the pixels on the model."""
    h, w = stroke.shape
    out = np.empty((h, w, 5) if channels_last else (5, h, w), np.float32)
    parts = out if channels_last else np.moveaxis(out, 0, -1)
    np.divide(stroke, np.float32(255.0), out=parts[..., 0], casting="unsafe")
    np.subtract(np.float32(1.0), parts[..., 0], out=parts[..., 0])
    parts[..., 1:4] = normal
    parts[..., 4] = normalised_depth(depth, mask)
    return out


def sample_arrays(arrays: dict[str, np.ndarray], i: int) -> dict[str, np.ndarray]:
    """Item `i` of a shard as numpy arrays in the layout the dataset yields."""
    mask = arrays["face_id"][i] >= 0
    return {
        "input": network_input(arrays["stroke"][i], arrays["normal"][i], arrays["depth"][i], mask),
        "op_class": np.int64(arrays["op_class"][i]),
        "stitch": arrays["stitch"][i][None].astype(np.float32),
        "role": arrays["role"][i].astype(np.int64),
        "item": np.int64(arrays["item"][i]),
    }


class ShardDataset(IterableDataset):
    """Streams the items of a generated dataset folder (see `shards.py`), shard by shard."""

    def __init__(self, root: str | Path, shards: Sequence[int] | None = None, shuffle: bool = True,
                 seed: int = 0) -> None:
        super().__init__()
        self.root = Path(root)
        listed = read_manifest(self.root)["shards"]
        first = np.concatenate([[0], np.cumsum([int(s["items"]) for s in listed])[:-1]]).astype(np.int64)
        keep = list(range(len(listed))) if shards is None else [int(k) for k in shards]
        self.files = [self.root / listed[k]["npz"] for k in keep]
        self.first_index = {f: int(first[k]) for f, k in zip(self.files, keep)}
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle differently next time (call once per epoch, before iterating)."""
        self.epoch = int(epoch)

    def _my_files(self) -> list[Path]:
        order = list(range(len(self.files)))
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.files)).tolist()
        info = get_worker_info()
        if info is not None:
            order = order[info.id::info.num_workers]
        return [self.files[k] for k in order]

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        for path in self._my_files():
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in ("face_id", "stroke", "normal", "depth", "op_class", "stitch",
                                            "role", "item")}
            n = len(arrays["item"])
            order = np.arange(n)
            if self.shuffle:
                order = np.random.default_rng([self.seed, self.epoch, int(arrays["item"][0])]).permutation(n)
            start = self.first_index[path]
            for i in order:
                sample = {k: torch.from_numpy(np.asarray(v)) for k, v in sample_arrays(arrays, int(i)).items()}
                sample["index"] = torch.tensor(start + int(i), dtype=torch.int64)
                yield sample
