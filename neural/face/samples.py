"""Signed-distance samples around each head of a face dataset: the targets of the implicit network.

`sdf_samples(params, rng, n)` draws `n` points in the meshing box (`heads.BOX_MIN` .. `BOX_MAX`)
and their exact field values (`heads.head_sdf`), concentrated where the implicit network has to
be right, near the surface:

    * NEAR_SHARE of the points: the candidates nearest the surface among 4 n drawn uniformly in
      the grid cells the surface may cross, each moved by a Gaussian of NEAR_SIGMA head units;
    * BAND_SHARE: other such candidates as drawn (within a cell or so of the surface);
    * the rest: uniform over the whole box (inside and outside far from the surface).

The cells come from a COARSE^3 grid over the box: a cell may hold surface when a corner is nearer
than half its diagonal (the field is close to a distance near the surface). About 0.05 s a head.

`write_samples(root)` adds `samples-KKKKK.npz` next to every `shard-KKKKK.npz` of a dataset
(`points` (N, P, 3) float32 head frame, `sdf` (N, P) float32, in the shard's item order), seeded
by the dataset's seed and the shard number only, atomically, skipping shards already done.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from sketchforge.modeling.files import atomic_write_npz

from ..synth.reading import DataError
from .dataset import FaceConfig, read_face_manifest, read_face_records, shard_name
from .heads import BOX_MAX, BOX_MIN, HeadParams, head_sdf

__all__ = ["POINTS", "sdf_samples", "samples_name", "write_samples", "read_samples"]

POINTS = 3072
COARSE = 20
NEAR_SHARE = 0.45
BAND_SHARE = 0.35
NEAR_SIGMA = 0.01


def sdf_samples(params: HeadParams, rng: np.random.Generator, n: int = POINTS) -> tuple[np.ndarray, np.ndarray]:
    """`n` points (n, 3) float32 and their field values (n,) float32; see the module docstring."""
    if not isinstance(params, HeadParams):
        raise ValueError(f"pass a HeadParams (from sample_head), not {type(params).__name__}")
    if not isinstance(n, (int, np.integer)) or n < 8:
        raise ValueError(f"pass at least 8 points, got {n!r}")
    lo, hi = np.array(BOX_MIN), np.array(BOX_MAX)
    h = (hi - lo) / COARSE
    axes = [lo[i] + h[i] * np.arange(COARSE + 1) for i in range(3)]
    gx, gy, gz = np.meshgrid(*axes, indexing="ij")
    corners = np.abs(head_sdf(params, np.stack([gx.ravel(), gy.ravel(), gz.ravel()], 1)))
    corners = corners.reshape((COARSE + 1,) * 3)
    near = corners[:-1, :-1, :-1]
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                near = np.minimum(near, corners[dx:COARSE + dx, dy:COARSE + dy, dz:COARSE + dz])
    cells = np.argwhere(near < 0.5 * float(np.linalg.norm(h)))
    if len(cells) == 0:
        raise ValueError("the head has no surface inside the meshing box")
    n_near = int(round(NEAR_SHARE * n))
    n_band = int(round(BAND_SHARE * n))
    n_box = n - n_near - n_band
    pick = cells[rng.integers(0, len(cells), 4 * n)]
    cand = lo + (pick + rng.random((4 * n, 3))) * h
    d = head_sdf(params, cand)
    order = np.argsort(np.abs(d), kind="stable")
    near_pts = cand[order[:n_near]] + rng.normal(0.0, NEAR_SIGMA, (n_near, 3))
    band_idx = order[n_near:][rng.permutation(len(order) - n_near)[:n_band]]
    box_pts = lo + rng.random((n_box, 3)) * (hi - lo)
    pts = np.concatenate([near_pts, cand[band_idx], box_pts])
    pts = np.clip(pts, lo, hi)
    sdf = head_sdf(params, pts)
    return pts.astype(np.float32), sdf.astype(np.float32)


def samples_name(k: int) -> str:
    return f"samples-{k:05d}.npz"


def write_samples(root: str | Path, points: int = POINTS, on_shard: Callable[[int, int], None] | None = None) -> int:
    """Write the samples of every shard of the dataset at `root` that lacks them; returns how many
    shards were written. `on_shard(done, total)` reports progress."""
    root = Path(root)
    manifest = read_face_manifest(root)
    config = FaceConfig.from_json(manifest["config"])
    seed = config.seed
    written = 0
    for k in range(config.shard_count):
        out = root / samples_name(k)
        if out.is_file():
            try:
                with np.load(out, allow_pickle=False) as z:
                    if z["points"].shape[1] == points:
                        if on_shard:
                            on_shard(k + 1, config.shard_count)
                        continue
            except (OSError, ValueError, KeyError):
                pass  # unreadable: write it again
        records = read_face_records(root / f"{shard_name(k)}.jsonl")
        pts = np.zeros((len(records), points, 3), np.float32)
        sdf = np.zeros((len(records), points), np.float32)
        for j, rec in enumerate(records):
            rng = np.random.default_rng([seed, k, 7, j])
            pts[j], sdf[j] = sdf_samples(HeadParams.from_json(rec["head"]), rng, points)
        atomic_write_npz(out, {"points": pts, "sdf": sdf, "meta": np.frombuffer(
            json.dumps({"points": points, "seed": seed, "shard": k}).encode(), np.uint8)})
        written += 1
        if on_shard:
            on_shard(k + 1, config.shard_count)
    return written


def read_samples(root: str | Path, k: int) -> tuple[np.ndarray, np.ndarray]:
    """`points` (N, P, 3) and `sdf` (N, P) of shard k; DataError with what to run when missing."""
    path = Path(root) / samples_name(k)
    if not path.is_file():
        raise DataError(f"{path} is missing; run `sketchforge-face-data samples --data {root}` first")
    try:
        with np.load(path, allow_pickle=False) as z:
            return z["points"], z["sdf"]
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise DataError(f"{path} is not a readable samples file ({exc}); delete it and rerun "
                        f"`sketchforge-face-data samples --data {root}`") from None
