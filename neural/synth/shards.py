"""Generating a dataset: shards of items written in parallel, resumable, deterministic.

Shard k holds items k * shard_size .. and is made from random generators seeded with (seed, k)
alone, so its content does not depend on the number of workers or on which shards were made
before (a resumed run makes exactly the shards a full run would). Each shard is

    shard-KKKKK.npz    arrays only (np.savez_compressed; read with allow_pickle=False), see ARRAYS
    shard-KKKKK.jsonl  one JSON record per item: ground-truth parameters, history, sketch
    steps/item-IIIIII-before.step, -after.step, sketches/item-IIIIII.sketch.json
                       for a sample of items (`step_sample`), to replay them end to end

`progress.json` records the finished shards (with the settings they were made with), so a rerun
skips them; `manifest.json` documents every array, the settings, the counts and how many of
the generated operations applied cleanly.

A random operation can, rarely, keep the CAD kernel busy for many minutes (it cannot be
interrupted from Python). With several workers, a shard that makes no item for `stall_seconds`
is given up: the workers are stopped, the shard is recorded as failed in `progress.json` and in
the manifest's `failed_shards`, and the others go on. A rerun does not retry failed shards unless
asked (`retry_failed`): the shard is a pure function of the settings, so it would stall again.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from sketchforge.modeling.exchange import export_step
from sketchforge.modeling.files import atomic_write_bytes, atomic_write_npz

from ..shardpool import check_settings, item_reporter, pending_shards, pool_round, read_progress, tell
from .curves import operation_curves
from .item import ItemConfig, make_item
from .reading import DataError, read_manifest, read_records, read_shard  # noqa: F401 - part of this API
from .sequences import CLASS_NAMES, OP_IDS, ClassBalancer, OpStats, SequenceConfig, random_sequence
from .views import ViewConfig

log = logging.getLogger(__name__)

FORMAT = "sketchforge.sketch2cad-data"
VERSION = 1

# Every array in a shard: dtype, shape (N items, H = W = size), meaning, values.
ARRAYS: dict[str, dict] = {
    "item": {"dtype": "int64", "shape": "(N,)", "meaning": "global item number (names the STEP and sketch files)",
             "range": "shard * shard_size + position in the shard"},
    "sequence": {"dtype": "int32", "shape": "(N,)", "meaning": "number of the generated sequence within the shard",
                 "range": ">= 0"},
    "step": {"dtype": "int16", "shape": "(N,)",
             "meaning": "position of the operation among the sequence's random operations",
             "range": "0 .. max_ops - 1"},
    "op_class": {"dtype": "uint8", "shape": "(N,)",
                 "meaning": "Sketch2CAD class: 0 extrude, 1 add/subtract, 2 bevel, 3 sweep", "range": "0..3"},
    "op_id": {"dtype": "uint8", "shape": "(N,)", "meaning": f"operation id, index into {list(OP_IDS)}",
              "range": "0..4"},
    "depth": {"dtype": "float32", "shape": "(N, H, W)",
              "meaning": "context depth before the operation: distance along the camera's forward axis, mm",
              "range": "> 0 on the model, 0 on the background (face_id == -1)"},
    "normal": {"dtype": "float16", "shape": "(N, H, W, 3)",
               "meaning": "context unit normals before the operation in the camera frame (x right, y up, z towards "
                          "the viewer; world n -> (n.r, n.t, -n.f) with the sketch-spec basis r, t, f)",
               "range": "-1..1 (z >= 0) on the model, 0 on the background"},
    "face_id": {"dtype": "int16", "shape": "(N, H, W)",
                "meaning": "face of the model before the operation seen at each pixel (global face id of the "
                           "face-id render; with one body, the B-rep face index)",
                "range": "-1 background, else 0..faces-1"},
    "stroke": {"dtype": "uint8", "shape": "(N, H, W)",
               "meaning": "the rasterised sketch: ink coverage (Sketch2CAD's input channel is 1 - stroke/255)",
               "range": "0 no ink .. 255 full ink"},
    "role": {"dtype": "uint8", "shape": "(N, H, W)",
             "meaning": "curve role of each stroke pixel; exactly the pixels with stroke > 0 have a role",
             "range": "0 none, 1 base, 2 profile, 3 offset"},
    "stitch": {"dtype": "uint8", "shape": "(N, H, W)",
               "meaning": "stitching-face mask: pixels of the face(s) the operation attaches to in the render "
                          "before it (bevel: both faces beside the edge)",
               "range": "0 / 1"},
    "target_faces": {"dtype": "int16", "shape": "(N, 2)",
                     "meaning": "global face ids of the stitching faces (second is -1 except for a bevel)",
                     "range": "-1 or 0..faces-1"},
    "camera": {"dtype": "float32", "shape": "(N, 10)",
               "meaning": "the view of the arrays: the sketch's camera turned about its eye by "
                          "neural.framing (as the interpreter frames it): eye (3), target (3), up (3), "
                          "fov_y_deg (perspective), world mm; the record's sketch keeps the camera it was "
                          "drawn with",
               "range": "fov up to 50 degrees; narrower where a small sketch is seen up close"},
}


@dataclass(frozen=True)
class GenerateConfig:
    """Everything a dataset's content depends on (the worker count is not part of it)."""

    count: int
    size: int = 128
    seed: int = 0
    shard_size: int = 128
    views_per_op: int = 3
    max_ops: int = 4
    balance: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    style_factor: float = 1.0
    step_sample: float = 0.02

    def __post_init__(self) -> None:
        if self.count < 1:
            raise DataError(f"--count must be at least 1, got {self.count}")
        if not 16 <= self.size <= 1024:
            raise DataError(f"--size must be between 16 and 1024 pixels, got {self.size}")
        if self.seed < 0:
            raise DataError(f"--seed must be a non-negative integer, got {self.seed}")
        if self.shard_size < 1:
            raise DataError(f"--shard-size must be at least 1, got {self.shard_size}")
        if self.views_per_op < 1:
            raise DataError(f"--views-per-op must be at least 1, got {self.views_per_op}")
        if self.max_ops < 1:
            raise DataError(f"--max-ops must be at least 1, got {self.max_ops}")
        if not 0.0 <= self.step_sample <= 1.0:
            raise DataError(f"--step-sample must be a share between 0 and 1, got {self.step_sample}")
        if not 0.25 <= self.style_factor <= 4.0:
            raise DataError(f"--style-factor must be between 0.25 and 4, got {self.style_factor}")
        if len(self.balance) != 4 or any(w < 0 for w in self.balance) or sum(self.balance) <= 0:
            raise DataError("--balance needs four non-negative weights (extrude, add/subtract, bevel, sweep) "
                            "with a positive sum, e.g. 1,1,1,1")

    @property
    def shard_count(self) -> int:
        return (self.count + self.shard_size - 1) // self.shard_size

    def shard_items(self, k: int) -> int:
        return min(self.shard_size, self.count - k * self.shard_size)

    def to_json(self) -> dict:
        d = asdict(self)
        d["balance"] = list(self.balance)
        return d

    @staticmethod
    def from_json(d: dict) -> "GenerateConfig":
        d = dict(d)
        d["balance"] = tuple(d["balance"])
        return GenerateConfig(**d)

    def sequence_config(self) -> SequenceConfig:
        return SequenceConfig(max_ops=self.max_ops, balance=self.balance)

    def item_config(self) -> ItemConfig:
        return ItemConfig(self.size, ViewConfig(size=self.size), self.style_factor)


def shard_name(k: int) -> str:
    return f"shard-{k:05d}"


def item_name(i: int) -> str:
    return f"item-{i:06d}"


@dataclass
class ShardResult:
    """What making one shard produced and how it went."""

    shard: int
    items: int
    per_class: list[int]
    per_op: dict[str, int]
    ops: dict
    views: dict
    sequences: int
    steps_saved: int
    seconds: float
    curve_errors: int = 0

    def to_json(self) -> dict:
        return asdict(self)


def make_shard(out: Path, config: GenerateConfig, k: int, on_item: Callable[[], None] | None = None) -> ShardResult:
    """Generate shard `k` of `config` under `out` (a pure function of (config, k))."""
    if not 0 <= k < config.shard_count:
        raise DataError(f"shard {k} does not exist; the dataset has shards 0..{config.shard_count - 1}")
    t0 = time.perf_counter()
    n = config.shard_items(k)
    seq_cfg, item_cfg = config.sequence_config(), config.item_config()
    seq_rng = np.random.default_rng([config.seed, k, 0])
    sample_rng = np.random.default_rng([config.seed, k, 2])
    balancer = ClassBalancer(config.balance)
    stats = OpStats()
    tally: dict[str, int] = {}
    items, meta = [], []
    seq_no = curve_errors = 0
    while len(items) < n:
        if seq_no > 20 * n + 50:
            raise RuntimeError(f"shard {k}: the generator keeps failing to make items; see the log")
        for step in random_sequence(seq_rng, seq_cfg, balancer, stats):
            try:
                curves = operation_curves(step.op, step.before_body, step.after_body)
            except ValueError as exc:
                curve_errors += 1
                log.warning("no curves for %s: %s", step.op.describe(), exc)
                balancer.record(step.op_class, 0)
                continue
            made = 0
            for v in range(config.views_per_op):
                if len(items) >= n:
                    break
                rng = np.random.default_rng([config.seed, k, 1, seq_no, step.index, v])
                it = make_item(step, rng, item_cfg, curves, tally)
                if it is None:
                    continue
                items.append(it)
                meta.append((seq_no, step.index))
                made += 1
                if on_item is not None:
                    on_item()
            balancer.record(step.op_class, made)
            if len(items) >= n:
                break
        seq_no += 1

    first = k * config.shard_size
    sampled = sample_rng.random(n) < config.step_sample
    arrays = {
        "item": np.arange(first, first + n, dtype=np.int64),
        "sequence": np.array([s for s, _ in meta], np.int32),
        "step": np.array([j for _, j in meta], np.int16),
    }
    for name in ARRAYS:
        if name not in arrays:
            arrays[name] = np.stack([it.arrays[name] for it in items]).astype(ARRAYS[name]["dtype"])
    lines = []
    for i, it in enumerate(items):
        rec = {"item": first + i, "shard": k, "sequence": meta[i][0], **it.record}
        if sampled[i]:
            rec["files"] = _write_replay(out, first + i, it)
        lines.append(json.dumps(rec, separators=(",", ":")))
    name = shard_name(k)
    atomic_write_npz(out / f"{name}.npz", arrays)
    write_file(out / f"{name}.jsonl", ("\n".join(lines) + "\n").encode("utf-8"))
    shared(out / f"{name}.npz")
    per_class = np.bincount(arrays["op_class"], minlength=4).tolist()
    per_op = {OP_IDS[j]: int(c) for j, c in enumerate(np.bincount(arrays["op_id"], minlength=len(OP_IDS)))}
    return ShardResult(k, n, per_class, per_op, stats.to_json(), tally, seq_no, int(sampled.sum()),
                       round(time.perf_counter() - t0, 3), curve_errors)


def _write_replay(out: Path, index: int, it) -> dict:
    """The before / after models as STEP and the sketch file of one item (paths relative to `out`)."""
    stem = item_name(index)
    (out / "steps").mkdir(exist_ok=True)
    (out / "sketches").mkdir(exist_ok=True)
    files = {"before": f"steps/{stem}-before.step", "after": f"steps/{stem}-after.step",
             "sketch": f"sketches/{stem}.sketch.json"}
    export_step(dict(it.step.before.bodies), out / files["before"])
    export_step(dict(it.step.after.bodies), out / files["after"])
    it.sketch.save(out / files["sketch"])
    for f in files.values():
        shared(out / f)
    return files


def shared(path: Path) -> None:
    """Give a file written atomically (private temp file) the usual permissions of the umask,
    so a dataset can be read by the other users of a training machine."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def write_file(path: Path, data: bytes) -> None:
    """Write atomically with the usual permissions."""
    atomic_write_bytes(path, data)
    shared(path)


# -- running many shards ------------------------------------------------------------------------
WORKER_MEMORY = 6 * 2**30  # bytes of address space per worker process (shardpool.init_worker)
STALL_SECONDS = 900.0  # a shard making no item for this long is given up (a shard takes ~1 min)


def _worker(args: tuple[str, dict, int]) -> dict:
    """Make one shard in a worker process, telling the parent when it starts and at each item."""
    out, cfg, k = args
    tell("start", k)
    return make_shard(Path(out), GenerateConfig.from_json(cfg), k, on_item=item_reporter(k)).to_json()


def _load_progress(out: Path, config: GenerateConfig) -> dict:
    want = config.to_json()
    prog = read_progress(out)
    if prog is None:
        return {"format": FORMAT, "config": want, "done": {}, "failed": {}}
    check_settings(out, prog["config"], want)
    failed = prog.get("failed", {})
    return {"format": FORMAT, "config": want, "done": prog["done"],
            "failed": failed if isinstance(failed, dict) else {}}


def _save_progress(out: Path, prog: dict) -> None:
    write_file(out / "progress.json", json.dumps(prog, indent=1).encode("utf-8"))


def generate(out: str | Path, config: GenerateConfig, workers: int = 1, progress: bool = True,
             stall_seconds: float = STALL_SECONDS, retry_failed: bool = False, work: Callable | None = None) -> dict:
    """Make every shard of `config` under `out` not made already; returns the manifest.

    With `workers` > 1 a shard making no item for `stall_seconds` is given up and recorded as
    failed (see the module notes); failed shards are skipped on a rerun unless `retry_failed`.
    `work` replaces the shard worker function (a module-level function, for tests)."""
    out = Path(out)
    if workers < 1:
        raise DataError(f"--workers must be at least 1, got {workers}")
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} is a file; give a folder for the dataset")
    out.mkdir(parents=True, exist_ok=True)
    prog = _load_progress(out, config)
    done, failed = prog["done"], prog["failed"]
    if retry_failed:
        failed.clear()
    pending = pending_shards(out, done, config.shard_count, shard_name, skip=failed)
    _save_progress(out, prog)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=config.count, initial=sum(d["items"] for d in done.values()), unit="item",
                   desc="generating", dynamic_ncols=True)

    def finished(res: dict) -> None:
        done[str(res["shard"])] = res
        _save_progress(out, prog)

    def gave_up(k: int, reason: str) -> None:
        failed[str(k)] = reason
        log.warning("shard %d given up: %s", k, reason)
        _save_progress(out, prog)

    try:
        # One worker runs in this process; more run in capped worker processes, even for one shard
        # left (a resumed run's last shard is as likely as any to meet a runaway boolean).
        if workers == 1 and work is None:
            for k in pending:
                finished(make_shard(out, config, k, on_item=(lambda: bar.update(1)) if bar else None).to_json())
        else:
            _run_pool(out, config, pending, workers, bar, finished, gave_up, stall_seconds, work or _worker)
    finally:
        if bar is not None:
            bar.close()
    manifest = build_manifest(config, done, failed)
    write_file(out / "manifest.json", json.dumps(manifest, indent=1).encode("utf-8"))
    return manifest


def _run_pool(out: Path, config: GenerateConfig, pending: list[int], workers: int, bar,
              finished: Callable[[dict], None], gave_up: Callable[[int, str], None], stall_seconds: float,
              work: Callable) -> None:
    """Make the `pending` shards in worker processes; a shard silent for `stall_seconds` is given
    up: every worker is stopped (the kernel cannot be interrupted) and the pool restarts for the
    shards still to make (a shard is a pure function of the settings, so redoing one is exact)."""
    todo = list(pending)
    while todo:
        jobs = {k: (str(out), config.to_json(), k) for k in todo}
        stalled, made = pool_round(work, jobs, workers, finished, bar.update if bar is not None else None,
                                   stall_seconds, WORKER_MEMORY)
        if stalled is not None:
            gave_up(stalled, f"no item for {stall_seconds:.0f} s: a kernel operation did not finish")
        todo = [k for k in todo if k not in made and k != stalled]


def build_manifest(config: GenerateConfig, done: dict, failed: dict | None = None) -> dict:
    """The dataset's self-description: arrays, settings, counts and clean-apply share."""
    stats = OpStats()
    views: Counter = Counter()
    per_class = np.zeros(4, np.int64)
    per_op: Counter = Counter()
    shards, items, steps, seqs, seconds = [], 0, 0, 0, 0.0
    for key in sorted(done, key=int):
        d = done[key]
        stats.merge(OpStats.from_json(d["ops"]))
        views.update(d["views"])
        per_class += np.asarray(d["per_class"], np.int64)
        per_op.update(d["per_op"])
        items += d["items"]
        steps += d["steps_saved"]
        seqs += d["sequences"]
        seconds += d["seconds"]
        name = shard_name(int(key))
        shards.append({"npz": f"{name}.npz", "jsonl": f"{name}.jsonl", "items": d["items"]})
    ops = stats.to_json()
    return {
        "format": FORMAT, "version": VERSION,
        "complete": items == config.count,
        "config": config.to_json(),
        "seed": config.seed,
        "size": [config.size, config.size],
        "arrays": [{"name": k, **v} for k, v in ARRAYS.items()],
        "classes": list(CLASS_NAMES),
        "op_ids": list(OP_IDS),
        "roles": {"1": "base", "2": "profile", "3": "offset"},
        "shards": shards,
        "failed_shards": {k: failed[k] for k in sorted(failed or {}, key=int)},
        "counts": {"items": items, "per_class": per_class.tolist(), "per_op": dict(per_op),
                   "sequences": seqs, "items_with_step_files": steps},
        "operations": {**ops, "note": "random operations only (start bodies excluded); clean_share = "
                                      "applied / attempted; rejected ones are discarded, never saved"},
        "views_rejected": dict(views),
        "worker_seconds": round(seconds, 2),
        "jsonl_record": {
            "item": "global item number", "shard": "shard number", "sequence": "sequence in the shard",
            "op_class": "0..3", "class_name": "Sketch2CAD class name",
            "operation": "the operation as {op, params}: ground truth in world units (mm, degrees)",
            "step": "position among the random operations", "history": "operations building the model before it",
            "target_faces": "face indices in the model before (bevel: the edge's two faces)",
            "target_face_ids": "their global ids in the face-id render", "view_tries": "cameras drawn",
            "strokes": "number of strokes", "sketch": "the sketch file (sketch-file spec v1)",
            "files": "present for sampled items: before/after STEP and sketch paths relative to the dataset",
        },
        "generator": {
            "sequences": "sketchforge.neural.synth.sequences (ranges in its docstring)",
            "views": "sketchforge.neural.synth.views", "items": "sketchforge.neural.synth.item",
            "strokes": "sketchforge.neural.synth.strokes (StrokeStyle)",
        },
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "cpu_count": os.cpu_count(),
    }


def merge_sets(out: str | Path, roots: Sequence[str | Path]) -> dict:
    """A dataset folder `out` whose manifest lists the shards of several finished sets (no copies:
    the shards are named relative to `out`, so keep the folders where they are). The sets must
    have the same canvas size and different seeds; counts add up, `sources` records each set."""
    out = Path(out)
    if len(roots) < 2:
        raise DataError("merge needs at least two dataset folders")
    manifests = []
    for root in roots:
        manifests.append(read_manifest(root))
    sizes = {tuple(m["size"]) for m in manifests}
    if len(sizes) > 1:
        raise DataError(f"the sets have different canvas sizes {sorted(sizes)}; merge sets of one size")
    seeds = [m["seed"] for m in manifests]
    if len(set(map(json.dumps, seeds))) < len(seeds):
        raise DataError(f"two sets share a seed ({seeds}): their items would repeat")
    out.mkdir(parents=True, exist_ok=True)
    merged = dict(manifests[0])
    shards, per_class, per_op = [], np.zeros(4, np.int64), Counter()
    items = seqs = steps = 0
    for root, m in zip(roots, manifests):
        rel = Path(os.path.relpath(Path(root).resolve(), out.resolve()))
        shards += [{**s, "npz": str(rel / s["npz"]), "jsonl": str(rel / s["jsonl"])} for s in m["shards"]]
        c = m["counts"]
        per_class += np.asarray(c["per_class"], np.int64)
        per_op.update(c["per_op"])
        items, seqs, steps = items + c["items"], seqs + c["sequences"], steps + c["items_with_step_files"]
    merged.update(
        complete=all(m.get("complete", False) for m in manifests), seed=seeds, shards=shards,
        counts={"items": items, "per_class": per_class.tolist(), "per_op": dict(per_op), "sequences": seqs,
                "items_with_step_files": steps},
        sources=[{"path": str(r), "seed": m["seed"], "config": m["config"], "items": m["counts"]["items"]}
                 for r, m in zip(roots, manifests)],
        when=time.strftime("%Y-%m-%dT%H:%M:%S"))
    for key in ("operations", "views_rejected", "worker_seconds"):
        merged.pop(key, None)
    write_file(out / "manifest.json", json.dumps(merged, indent=1).encode("utf-8"))
    return merged
