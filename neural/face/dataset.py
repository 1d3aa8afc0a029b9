"""Generating the sketch-to-head training set: shards of procedural heads, their front maps and
humanised sketches, written in parallel, resumable, deterministic.

Follows the CAD data writer's conventions (`neural.synth.shards`). Shard k holds items
k * shard_size .. and is made from random generators seeded with (seed, k) alone, so its content
does not depend on the number of workers or on which shards were made before (a resumed run makes
exactly the shards a full run would). Each shard is

    shard-KKKKK.npz    arrays only (np.savez_compressed; read with allow_pickle=False), see ARRAYS
    shard-KKKKK.jsonl  one JSON record per item: head parameters, variant, sketch file (JSON)
    meshes/item-IIIIII.npz
                       the ground-truth mesh of every `mesh_sample`-th item (item % mesh_sample
                       == 0; 0 saves none), compressed: `vertices` (V, 3) float32 head-frame
                       units, `triangles` (F, 3) int32, closed and outward wound
                       (`heads.mesh_head` at MESH_RESOLUTION)

`progress.json` records the finished shards with the settings they were made with, so a rerun
skips them (and refuses other settings with a clear error); `manifest.json` documents every array,
the settings and the counts. Files are written atomically (`modeling.files`).

Seeds
    Shard k: the variants of its items are `arange(n) % 4` (indices into `heads.VARIANTS`)
    permuted by `default_rng([seed, k, 0])`, so each shard is balanced (counts differ by at most
    one). Item at position j of shard k: its head is `sample_head(default_rng([seed, k, 1, j]),
    variant)`, its sketch `head_sketch(head, default_rng([seed, k, 2, j]), size)`. `item_head`
    regenerates a head from the settings and the item number.

This module imports no CAD kernel and no Qt: numpy, OpenCV and scikit-image only.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from sketchforge.modeling.files import atomic_write_bytes, atomic_write_npz

from ..shardpool import check_settings, item_reporter, pending_shards, pool_round, read_progress, tell
from ..synth.reading import DataError
from .heads import CAMERA_Z, EXTENT, VARIANTS, HeadParams, front_maps, mesh_head, sample_head
from .sketches import KINDS, MIN_SIZE, head_sketch

__all__ = [
    "FORMAT",
    "VERSION",
    "ARRAYS",
    "MESH_RESOLUTION",
    "DataError",
    "FaceConfig",
    "generate",
    "make_shard",
    "shard_variants",
    "item_head",
    "read_face_shard",
    "read_face_manifest",
    "read_face_records",
    "read_mesh",
]

log = logging.getLogger(__name__)

FORMAT = "sketchforge.face-data"
VERSION = 1
MESH_RESOLUTION = 96  # marching-cubes grid points per axis of the sampled ground-truth meshes
MAX_SIZE = 1024

# Every array in a shard: dtype, shape (N items, H = W = size), meaning, values.
ARRAYS: dict[str, dict] = {
    "item": {"dtype": "int64", "shape": "(N,)", "meaning": "global item number (names the mesh file)",
             "range": "shard * shard_size + position in the shard"},
    "variant": {"dtype": "uint8", "shape": "(N,)", "meaning": f"head variant, index into {list(VARIANTS)}",
                "range": f"0..{len(VARIANTS) - 1}; balanced within each shard"},
    "stroke": {"dtype": "uint8", "shape": "(N, H, W)",
               "meaning": "the rasterised humanised sketch: ink (a network's input channel is 1 - stroke/255)",
               "range": "0 no ink, 255 ink; exactly the pixels with kinds > 0"},
    "kinds": {"dtype": "uint8", "shape": "(N, H, W)",
              "meaning": "line kind of each stroke pixel (the stroke drawn last labels a crossing)",
              "range": "0 none, 1 contour, 2 ridge, 3 valley"},
    "normal": {"dtype": "float16", "shape": "(N, H, W, 3)",
               "meaning": "front-view unit normals (heads.front_maps): x right, y up, z towards the viewer",
               "range": "-1..1 on the head, 0 off it"},
    "depth": {"dtype": "float16", "shape": "(N, H, W)",
              "meaning": f"front-view depth: CAMERA_Z - z of the visible surface, head units (CAMERA_Z = "
                         f"{CAMERA_Z}; 1 unit = sketches.HEAD_MM mm)",
              "range": "> 0 on the head (about 0.1 .. 3.5), 0 off it (mask false)"},
    "mask": {"dtype": "bool", "shape": "(N, H, W)", "meaning": "pixels that see the head",
             "range": "True / False"},
}


@dataclass(frozen=True)
class FaceConfig:
    """Everything a face dataset's content depends on (the worker count is not part of it)."""

    items: int
    seed: int = 0
    size: int = 128
    shard_size: int = 64
    mesh_sample: int = 16
    mesh_resolution: int = MESH_RESOLUTION

    def __post_init__(self) -> None:
        for name in ("items", "seed", "size", "shard_size", "mesh_sample", "mesh_resolution"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise DataError(f"--{name.replace('_', '-')} must be an integer, got {v!r}")
        if self.items < 1:
            raise DataError(f"--items must be at least 1, got {self.items}")
        if self.seed < 0:
            raise DataError(f"--seed must be a non-negative integer, got {self.seed}")
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise DataError(f"--size must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {self.size}")
        if self.shard_size < 1:
            raise DataError(f"--shard-size must be at least 1, got {self.shard_size}")
        if self.mesh_sample < 0:
            raise DataError(f"--mesh-sample must be 0 (no meshes) or a positive step, got {self.mesh_sample}")
        if not 16 <= self.mesh_resolution <= 512:
            raise DataError(f"mesh_resolution must be between 16 and 512, got {self.mesh_resolution}")

    @property
    def shard_count(self) -> int:
        return (self.items + self.shard_size - 1) // self.shard_size

    def shard_items(self, k: int) -> int:
        return min(self.shard_size, self.items - k * self.shard_size)

    def meshed(self, item: int) -> bool:
        return self.mesh_sample > 0 and item % self.mesh_sample == 0

    def to_json(self) -> dict:
        return {k: int(v) for k, v in asdict(self).items()}

    @staticmethod
    def from_json(d: dict) -> "FaceConfig":
        return FaceConfig(**d)


def shard_name(k: int) -> str:
    return f"shard-{k:05d}"


def mesh_path(item: int) -> str:
    """The mesh file of an item, relative to the dataset folder."""
    return f"meshes/item-{item:06d}.npz"


def _check_shard(config: FaceConfig, k: int) -> None:
    if not 0 <= k < config.shard_count:
        raise DataError(f"shard {k} does not exist; the dataset has shards 0..{config.shard_count - 1}")


def shard_variants(config: FaceConfig, k: int) -> np.ndarray:
    """The variant indices (into `VARIANTS`) of shard k's items, in item order: balanced."""
    _check_shard(config, k)
    n = config.shard_items(k)
    return np.random.default_rng([config.seed, k, 0]).permutation(np.arange(n) % len(VARIANTS)).astype(np.uint8)


def item_head(config: FaceConfig, item: int) -> HeadParams:
    """The head of global item `item` of the dataset `config` describes (regenerated)."""
    if not 0 <= item < config.items:
        raise DataError(f"item {item} does not exist; the dataset has items 0..{config.items - 1}")
    k, j = divmod(int(item), config.shard_size)
    variant = VARIANTS[int(shard_variants(config, k)[j])]
    return sample_head(np.random.default_rng([config.seed, k, 1, j]), variant)


def make_shard(out: str | Path, config: FaceConfig, k: int, on_item: Callable[[], None] | None = None) -> dict:
    """Generate shard `k` of `config` under `out` (a pure function of (config, k)); returns its summary."""
    out = Path(out)
    _check_shard(config, k)
    t0 = time.perf_counter()
    n = config.shard_items(k)
    first = k * config.shard_size
    variants = shard_variants(config, k)
    cols: dict[str, list] = {name: [] for name in ("stroke", "kinds", "normal", "depth", "mask")}
    lines, meshes = [], 0
    for j in range(n):
        item = first + j
        variant = VARIANTS[int(variants[j])]
        params = sample_head(np.random.default_rng([config.seed, k, 1, j]), variant)
        sketch = head_sketch(params, np.random.default_rng([config.seed, k, 2, j]), config.size)
        maps = front_maps(params, config.size)
        mask = maps["mask"]
        cols["stroke"].append(sketch.stroke)
        cols["kinds"].append(sketch.kinds)
        cols["normal"].append(np.where(mask[..., None], maps["normal"], 0.0))
        cols["depth"].append(np.where(mask, maps["depth"], 0.0))
        cols["mask"].append(mask)
        rec = {"item": item, "shard": k, "variant": variant, "head": params.to_json(),
               "strokes": len(sketch.sketch.strokes), "sketch": sketch.sketch.to_json()}
        if config.meshed(item):
            verts, tris = mesh_head(params, config.mesh_resolution)
            (out / "meshes").mkdir(exist_ok=True)
            atomic_write_npz(out / mesh_path(item), {"vertices": verts.astype(np.float32),
                                               "triangles": tris.astype(np.int32)})
            rec["mesh"] = mesh_path(item)
            meshes += 1
        lines.append(json.dumps(rec, separators=(",", ":")))
        if on_item is not None:
            on_item()
    arrays = {"item": np.arange(first, first + n, dtype=np.int64), "variant": variants}
    for name, values in cols.items():
        arrays[name] = np.stack(values).astype(ARRAYS[name]["dtype"])
    name = shard_name(k)
    atomic_write_bytes(out / f"{name}.jsonl", ("\n".join(lines) + "\n").encode("utf-8"))
    atomic_write_npz(out / f"{name}.npz", arrays)
    per_variant = np.bincount(variants, minlength=len(VARIANTS))
    return {"shard": k, "items": n, "per_variant": {v: int(c) for v, c in zip(VARIANTS, per_variant)},
            "meshes": meshes, "seconds": round(time.perf_counter() - t0, 3)}


# -- running many shards ------------------------------------------------------------------------
def _worker(args: tuple[str, dict, int]) -> dict:
    """Make one shard in a worker process, telling the parent when it starts and at each item."""
    out, cfg, k = args
    tell("start", k)
    return make_shard(Path(out), FaceConfig.from_json(cfg), k, on_item=item_reporter(k))


def _load_progress(out: Path, config: FaceConfig) -> dict:
    """progress.json (or a fresh one); DataError when the folder holds data of other settings."""
    want = config.to_json()
    mpath = out / "manifest.json"
    if mpath.exists():  # a finished (or earlier) set: its settings must match too
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
            fmt, old = manifest.get("format"), manifest.get("config")
        except (OSError, ValueError, UnicodeDecodeError, AttributeError):
            raise DataError(f"{mpath} is damaged; delete it (and progress.json) to start {out} afresh") from None
        if fmt != FORMAT:
            raise DataError(f"{out} holds another kind of dataset ({fmt!r}, not {FORMAT!r}); use another --out folder")
        check_settings(out, old, want)
    prog = read_progress(out)
    if prog is None:
        return {"format": FORMAT, "config": want, "done": {}}
    check_settings(out, prog["config"], want)
    return {"format": FORMAT, "config": want, "done": prog["done"]}


def _save_progress(out: Path, prog: dict) -> None:
    atomic_write_bytes(out / "progress.json", json.dumps(prog, indent=1).encode("utf-8"))


def _clean_temp(out: Path) -> None:
    """Temp files an interrupted worker left (a worker stopped mid-write cannot clean up)."""
    for pattern in (".shard-*.tmp", ".progress.json.*.tmp", ".manifest.json.*.tmp"):
        for p in out.glob(pattern):
            p.unlink(missing_ok=True)
    if (out / "meshes").is_dir():
        for p in (out / "meshes").glob(".item-*.tmp"):
            p.unlink(missing_ok=True)


def generate(root: str | Path, items: int, seed: int, size: int = 128, shard_size: int = 64, workers: int = 2,
             mesh_sample: int = 16, progress: Callable[[int], None] | None = None) -> dict:
    """Make every shard of the face dataset under `root` not made already; returns the manifest.

    `progress(n)` is called with the number of items just finished (first, on a resumed run, with
    the items of the shards already made). `workers` > 1 makes shards in spawned worker processes;
    the data does not depend on it. A rerun with the same settings skips finished shards (a finished
    set only gets its manifest rewritten); other settings raise DataError before anything changes.
    """
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise DataError(f"--workers must be at least 1, got {workers!r}")
    config = FaceConfig(items=items, seed=seed, size=size, shard_size=shard_size, mesh_sample=mesh_sample)
    out = Path(root)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} is a file; give a folder for the dataset")
    out.mkdir(parents=True, exist_ok=True)
    prog = _load_progress(out, config)
    done = prog["done"]
    pending = pending_shards(out, done, config.shard_count, shard_name)
    _clean_temp(out)
    _save_progress(out, prog)
    already = sum(d["items"] for d in done.values())
    if progress is not None and already:
        progress(already)

    def finished(res: dict) -> None:
        done[str(res["shard"])] = res
        _save_progress(out, prog)

    if workers == 1 or len(pending) <= 1:
        step = (lambda: progress(1)) if progress is not None else None
        for k in pending:
            finished(make_shard(out, config, k, on_item=step))
    else:  # spawned workers of one thread each (see neural/shardpool.py)
        jobs = {k: (str(out), config.to_json(), k) for k in pending}
        pool_round(_worker, jobs, workers, finished, progress)
    manifest = build_manifest(config, done)
    atomic_write_bytes(out / "manifest.json", json.dumps(manifest, indent=1).encode("utf-8"))
    return manifest


def build_manifest(config: FaceConfig, done: dict) -> dict:
    """The dataset's self-description: arrays, settings and counts."""
    per_variant: Counter = Counter({v: 0 for v in VARIANTS})
    shards, items, meshes, seconds = [], 0, 0, 0.0
    for key in sorted(done, key=int):
        d = done[key]
        per_variant.update(d["per_variant"])
        items += d["items"]
        meshes += d["meshes"]
        seconds += d["seconds"]
        name = shard_name(int(key))
        shards.append({"npz": f"{name}.npz", "jsonl": f"{name}.jsonl", "items": d["items"]})
    return {
        "format": FORMAT, "version": VERSION,
        "complete": items == config.items,
        "config": config.to_json(),
        "seed": config.seed,
        "size": [config.size, config.size],
        "arrays": [{"name": k, **v} for k, v in ARRAYS.items()],
        "variants": list(VARIANTS),
        "kinds": {str(v): k for k, v in KINDS.items()},
        "frame": {"view": f"orthographic front view along -z; columns x = -{EXTENT}..{EXTENT} left to right, "
                          f"rows y = {EXTENT}..-{EXTENT} top to bottom (pixel centres), head units",
                  "camera_z": CAMERA_Z},
        "shards": shards,
        "counts": {"items": items, "per_variant": {v: int(per_variant[v]) for v in VARIANTS}, "meshes": meshes},
        "meshes": {"path": "meshes/item-IIIIII.npz", "which": "items with item % mesh_sample == 0 (none if 0)",
                   "vertices": "float32 (V, 3), head frame (x right, y up, z to the viewer), head units",
                   "triangles": "int32 (F, 3), closed, outward winding",
                   "resolution": config.mesh_resolution, "maker": "sketchforge.neural.face.heads.mesh_head"},
        "jsonl_record": {
            "item": "global item number", "shard": "shard number", "variant": "variant name",
            "head": "HeadParams.to_json(): every shape parameter (HeadParams.from_json reads it)",
            "strokes": "number of strokes",
            "sketch": "the sketch file (Sketch.to_json, sketch-file spec v1, mode 'face')",
            "mesh": "present for sampled items: the mesh file relative to the dataset",
        },
        "generator": {"heads": "sketchforge.neural.face.heads (sample_head, front_maps)",
                      "sketches": "sketchforge.neural.face.sketches (head_sketch)",
                      "seeds": "sketchforge.neural.face.dataset (module docstring)"},
        "worker_seconds": round(seconds, 2),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "cpu_count": os.cpu_count(),
    }


# -- reading ------------------------------------------------------------------------------------
def read_face_manifest(root: str | Path) -> dict:
    """The manifest of a face dataset folder; DataError saying what to do when missing or damaged."""
    path = Path(root) / "manifest.json"
    if not path.is_file():
        raise DataError(f"{root} has no manifest.json; make the set with `sketchforge-face-data generate --out "
                        f"{root} --items N --seed S` (rerun the same command to finish an interrupted one)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        raise DataError(f"{path} is damaged; rerun `sketchforge-face-data generate` for that folder") from None
    if (not isinstance(manifest, dict) or manifest.get("format") != FORMAT
            or not isinstance(manifest.get("shards"), list)):
        raise DataError(f"{path} is not a face dataset manifest; point at a folder made by "
                        "`sketchforge-face-data generate`")
    return manifest


def read_face_shard(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of one face shard (no pickle); DataError when the file is not one."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file; give a shard-KKKKK.npz of a face dataset")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path} is not a face-data shard (not a numpy .npz archive: {exc})") from None
    if not hasattr(loaded, "files"):
        raise DataError(f"{path} is not a face-data shard (a single .npy array, not an .npz archive)")
    try:
        with loaded as z:
            missing = sorted(set(ARRAYS) - set(z.files))
            if missing:
                raise DataError(f"{path} is not a face-data shard: arrays {', '.join(missing)} are missing")
            arrays = {k: z[k] for k in ARRAYS}
    except DataError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path} is not a readable face-data shard ({exc})") from None
    n = len(arrays["item"])
    for k, spec in ARRAYS.items():
        a = arrays[k]
        if a.dtype != np.dtype(spec["dtype"]) or len(a) != n:
            raise DataError(f"{path} is not a face-data shard: array {k!r} is {a.dtype} {a.shape}, "
                            f"expected {spec['dtype']} {spec['shape']} with N = {n}")
    return arrays


def read_face_records(path: str | Path) -> list[dict]:
    """The JSON records of one shard (its .jsonl), in item order."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def read_mesh(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """A sampled ground-truth mesh: vertices (V, 3) float32 and triangles (F, 3) int32."""
    with np.load(Path(path), allow_pickle=False) as z:
        return z["vertices"], z["triangles"]
