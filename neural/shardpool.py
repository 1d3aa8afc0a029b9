"""Work shared out to spawned worker processes of one thread each: the pool the data generators
make their shards in (with progress, stall detection and an interrupt that stops the workers at
once) and the one the CAD evaluation reads sketches in.

Workers are spawned, not forked: OpenCascade (and torch) are not safe to fork once used, so each
worker starts with a fresh kernel. Each keeps to one thread: the processes already fill the cores,
and idle BLAS / OpenMP threads spinning beside them halve the throughput.

A shard worker tells the parent how it is doing through the queue `init_worker` installs:
`tell("start", k)` when it begins shard k and `item_reporter(k)()` after each item; a shard that
says nothing for `stall_seconds` is given up (see `pool_round`).

Also here: the `progress.json` bookkeeping both generators keep in their output folder, and the
shard files of the points and scene generators (a safetensors file of arrays and a JSON-lines
file of records, `shard_file_bytes`, `read_shard_files`).
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import queue as queue_mod
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Collection, Iterable, Iterator, TypeVar

from .synth.reading import DataError

if TYPE_CHECKING:
    import numpy as np

T = TypeVar("T")

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_queue = None  # a worker's line to the parent (set by init_worker)


@contextmanager
def spawn_pool(workers: int, initializer: Callable | None = None, initargs: tuple = ()) -> Iterator:
    """A spawned pool of `workers` processes whose numeric libraries start with one thread each
    (the variables are set for the children only; this process's are put back at once). Leaving
    the block terminates the workers, as `multiprocessing.Pool`'s own context does: callers take
    every result they want inside it, and a stall, an error or an interrupt stops them at once."""
    ctx = mp.get_context("spawn")
    saved = {k: os.environ.get(k) for k in THREAD_VARS}
    for k in THREAD_VARS:
        os.environ[k] = "1"
    try:
        pool = ctx.Pool(workers, initializer=initializer, initargs=initargs)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        yield pool
    finally:
        pool.terminate()
        pool.join()


def init_worker(q, memory_cap: int | None = None) -> None:
    """Worker start-up: the parent's queue, warnings-only logging, and optionally a cap on the
    address space (a few degenerate booleans make OpenCascade allocate without end; with a cap the
    kernel fails with an out-of-memory error instead, which rejects that operation like any other
    failure, deterministically, rather than the system killing the worker)."""
    global _queue
    _queue = q
    logging.basicConfig(level=logging.WARNING)
    if memory_cap:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = memory_cap if hard == resource.RLIM_INFINITY else min(memory_cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def tell(kind: str, k: int) -> None:
    """From a worker: ("start" | "item", shard k) to the parent (nothing outside a pool)."""
    if _queue is not None:
        _queue.put((kind, k))


def item_reporter(k: int) -> Callable[[], None] | None:
    """From a worker: the per-item callback of shard k (None outside a pool)."""
    q = _queue
    return (lambda: q.put(("item", k))) if q is not None else None


def pool_round(work: Callable, jobs: dict[int, tuple], workers: int, finished: Callable[[dict], None],
               progress: Callable[[int], None] | None = None, stall_seconds: float | None = None,
               memory_cap: int | None = None) -> tuple[int | None, set[int]]:
    """Run `work(jobs[k])` for every shard k in spawned workers, calling `finished(result)` in
    shard order as they come and `progress(n)` with the items made. A shard silent for
    `stall_seconds` (None: never) stops the round: every worker is terminated (a kernel operation
    cannot be interrupted), the items counted for the shards cut short are taken back from
    `progress`, and that shard is returned. Returns (the shard given up or None, the shards made)."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    made: set[int] = set()
    active: dict[int, float] = {}  # running shard -> time of its last sign of life
    counted: dict[int, int] = {}  # items shown per running shard (taken back if cut short)
    stalled, left = None, set(jobs)
    try:
        with spawn_pool(min(workers, len(jobs)), init_worker, (q, memory_cap)) as pool:
            handles = {k: pool.apply_async(work, (args,)) for k, args in jobs.items()}

            def drain(block: bool) -> None:
                while True:
                    try:
                        kind, k = q.get(timeout=0.2) if block else q.get_nowait()
                    except queue_mod.Empty:
                        return
                    block = False
                    active[k] = time.monotonic()
                    if kind == "item":
                        counted[k] = counted.get(k, 0) + 1
                        if progress is not None:
                            progress(1)

            while left:
                drain(True)
                for k in sorted(k for k in left if handles[k].ready()):
                    finished(handles[k].get())
                    made.add(k)
                    left.discard(k)
                    active.pop(k, None)
                    counted.pop(k, None)
                if stall_seconds is not None:
                    now = time.monotonic()
                    late = [k for k, t in active.items() if k in left and now - t > stall_seconds]
                    if late:
                        stalled = late[0]
                        break
            else:
                drain(False)
    finally:
        if (stalled is not None or left) and progress is not None and counted:
            progress(-sum(counted.values()))  # items of the shards cut short are made again (or never)
    return stalled, made


# -- progress.json ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShardedConfig:
    """The settings every item-by-seed dataset has (the points and scene generators subclass it with
    their own): how many items, the seed item i is made from (`item_seed`), items per shard."""

    count: int
    seed: int = 0
    shard_size: int = 256

    def __post_init__(self) -> None:
        if self.count < 1:
            raise DataError(f"--count must be at least 1, got {self.count}")
        if self.seed < 0:
            raise DataError(f"--seed must be a non-negative integer, got {self.seed}")
        if self.shard_size < 1:
            raise DataError(f"--shard-size must be at least 1, got {self.shard_size}")

    @property
    def shard_count(self) -> int:
        return (self.count + self.shard_size - 1) // self.shard_size

    def shard_items(self, k: int) -> int:
        return min(self.shard_size, self.count - k * self.shard_size)


def shard_name(k: int) -> str:
    return f"shard-{k:05d}"


def item_seed(seed: int, item: int) -> int:
    """The seed of item `item` of a dataset made with `seed`: 64 bits from both, so item i is the same
    whatever the number of workers or the shard size (the points and scene generators)."""
    import numpy as np
    a, b = np.random.SeedSequence([seed, item]).generate_state(2, np.uint32)
    return int(a) << 32 | int(b)


def check_settings(out: Path, old: object, want: dict) -> None:
    """DataError unless the settings the folder `out` was made with (`old`) are `want`."""
    if old == want:
        return
    old = old if isinstance(old, dict) else {}
    diff = sorted(k for k in set(old) | set(want) if old.get(k) != want.get(k))
    raise DataError(f"{out} holds data made with other settings ({', '.join(diff)} differ); "
                    "use the same settings to resume, or another --out folder")


def read_progress(out: Path) -> dict | None:
    """The folder's progress.json (None when there is none); DataError when it is damaged."""
    path = out / "progress.json"
    if not path.exists():
        return None
    try:
        prog = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(prog, dict) or "config" not in prog or not isinstance(prog["done"], dict):
            raise TypeError
    except (OSError, ValueError, UnicodeDecodeError, KeyError, TypeError):
        raise DataError(f"{path} is damaged; delete it to start {out} afresh") from None
    return prog


def pending_shards(out: Path, done: dict, count: int, name: Callable[[int], str],
                   skip: Iterable[str] = (), suffix: str = ".npz") -> list[int]:
    """The shards of `count` still to make: not recorded in `done` with both files present (the
    arrays, `suffix`, and the records, .jsonl; those recorded without them are dropped from
    `done`), and not in `skip`."""
    skip = set(skip)

    def made(k: int) -> bool:
        n = name(k)
        return str(k) in done and (out / f"{n}{suffix}").is_file() and (out / f"{n}.jsonl").is_file()

    pending = [k for k in range(count) if str(k) not in skip and not made(k)]
    for k in pending:
        done.pop(str(k), None)
    return pending


def manifest_shards(done: dict) -> list[dict]:
    """The finished shards of `done` (progress.json's) as a manifest lists them, in shard order: the
    two files and the number of items of each."""
    shards = []
    for key in sorted(done, key=int):
        name = shard_name(int(key))
        shards.append({"arrays": f"{name}.safetensors", "records": f"{name}.jsonl", "items": done[key]["items"]})
    return shards


def _shard_worker(make_shard: Callable[..., dict], config_type: type, args: tuple[str, dict, int]) -> dict:
    """In a worker: rebuild the config and make shard k, telling the parent how it goes."""
    out, cfg, k = args
    tell("start", k)
    return make_shard(Path(out), config_type(**cfg), k, on_item=item_reporter(k))


def generate_shards(out: str | Path, config: Any, *, fmt: str, shard_name: Callable[[int], str],
                    make_shard: Callable[..., dict], manifest: Callable[[Any, dict], dict],
                    worker: Callable[[tuple], dict] | None = None, workers: int = 1,
                    progress: Callable[[int], None] | None = None, suffix: str = ".safetensors") -> dict:
    """Make every shard of `config` (a dataclass with `shard_count`) under `out` not made already,
    here (`make_shard(out, config, k, on_item=...)`, a module-level function, one worker) or in
    `workers` spawned processes (`worker((str(out), asdict(config), k))`; by default one that
    rebuilds the config and calls make_shard), keeping `progress.json` so an interrupted run
    resumes; writes and returns `manifest(config, done)` as `manifest.json`. `progress(n)` hears
    of items made."""
    from dataclasses import asdict

    from sketchforge.modeling.files import atomic_write_bytes

    def save(path: Path, data: dict) -> None:
        atomic_write_bytes(path, json.dumps(data, indent=1).encode("utf-8"))

    out = Path(out)
    if workers < 1:
        raise DataError(f"--workers must be at least 1, got {workers}")
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} is a file; give a folder for the dataset")
    out.mkdir(parents=True, exist_ok=True)
    want = asdict(config)
    prog = read_progress(out)
    if prog is not None:
        check_settings(out, prog["config"], want)
    done = prog["done"] if prog is not None else {}
    prog = {"format": fmt, "config": want, "done": done}
    pending = pending_shards(out, done, config.shard_count, shard_name, suffix=suffix)
    save(out / "progress.json", prog)

    def finished(res: dict) -> None:
        done[str(res["shard"])] = res
        save(out / "progress.json", prog)

    if progress is not None and done:
        progress(sum(d["items"] for d in done.values()))
    if workers == 1:
        for k in pending:
            finished(make_shard(out, config, k, on_item=(lambda: progress(1)) if progress else None))
    elif pending:
        jobs = {k: (str(out), want, k) for k in pending}
        pool_round(worker or partial(_shard_worker, make_shard, type(config)), jobs, workers, finished, progress)
    result = manifest(config, done)
    save(out / "manifest.json", result)
    return result


# -- shard files ------------------------------------------------------------------------------------
def make_items(config: ShardedConfig, k: int, make_item: Callable[[int], T],
               on_item: Callable[[], None] | None = None) -> list[T]:
    """The items of shard k of `config`: item i is `make_item(item_seed(config.seed, i))`; `on_item()`
    after each."""
    first = k * config.shard_size
    items = []
    for i in range(first, first + config.shard_items(k)):
        items.append(make_item(item_seed(config.seed, i)))
        if on_item is not None:
            on_item()
    return items


def write_shard(out: Path, k: int, blob: bytes, lines: bytes) -> None:
    """Shard k's two files under `out` (`shard_file_bytes`), each written atomically, the records first."""
    from sketchforge.modeling.files import atomic_write_bytes
    atomic_write_bytes(out / f"{shard_name(k)}.jsonl", lines)
    atomic_write_bytes(out / f"{shard_name(k)}.safetensors", blob)


def shard_file_bytes(arrays: dict[str, np.ndarray], records: list[dict], fmt: str) -> tuple[bytes, bytes]:
    """The two files of a shard as bytes: the arrays as safetensors with `fmt` ("format/version") as
    its metadata, the records as JSON lines."""
    import numpy as np
    from safetensors.numpy import save
    # one metadata entry: the writer orders several at random, and a shard's bytes must not vary
    blob = save({k: np.ascontiguousarray(v) for k, v in arrays.items()}, metadata={"format": fmt})
    lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
    return blob, lines.encode("utf-8")


def read_shard_files(path: str | Path, *, fmt: str, version: int, what: str, command: str,
                     check_arrays: Callable[[Path, dict[str, np.ndarray]], int],
                     record_fields: Collection[str]) -> tuple[dict[str, np.ndarray], list[dict]]:
    """The arrays and records of a shard (`shard-NNNNN.safetensors` and the .jsonl beside it) of
    format `fmt` up to `version`: `check_arrays(path, arrays)` checks the arrays and gives the item
    count, every record must hold `record_fields`. DataError naming the problem (a `what` shard,
    made again with `command generate`) when a file is missing or malformed (never unpickles)."""
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_suffix(".safetensors")
    jsonl = path.with_suffix(".jsonl")
    for p in (path, jsonl):
        if not p.is_file():
            raise DataError(f"{p} is missing; regenerate the shard with `{command} generate` "
                            "(rerunning the same command makes the missing shards)")
    try:
        from safetensors import safe_open
        with safe_open(str(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
            arrays = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:  # the reader raises its own error types for damaged files
        raise DataError(f"{path} is not a readable safetensors shard ({str(exc).splitlines()[0][:120]}); "
                        "regenerate it") from None
    kind, _, found = str(meta.get("format", "")).partition("/")
    if kind != fmt:
        raise DataError(f"{path} is not a {what} shard (format {meta.get('format')!r}, expected {fmt!r})")
    if not found.isdigit() or int(found) > version:
        raise DataError(f"{path} is a {what} shard of version {found or '?'}; this Sketchforge reads up to "
                        f"{version}: update Sketchforge or regenerate the set")
    k = check_arrays(path, arrays)
    records = _read_records(jsonl, k, record_fields)
    for i, r in enumerate(records):
        if r["item"] != int(arrays["item"][i]):
            raise DataError(f"{jsonl} line {i + 1} is item {r['item']} but the arrays hold item "
                            f"{int(arrays['item'][i])}; the two files of the shard do not belong together")
    return arrays, records


def check_array_specs(path: Path, arrays: dict[str, np.ndarray], specs: dict[str, tuple[str, tuple]]) -> int:
    """The item count K of a shard's `arrays`; DataError unless each array of `specs` (name: dtype and
    shape without K) is there with that dtype and shape."""
    import numpy as np
    k = None
    for name, (dtype, shape) in specs.items():
        a = arrays.get(name)
        if a is None:
            raise DataError(f"{path} has no array {name!r}; regenerate the shard")
        k = a.shape[0] if k is None and a.ndim else k
        if a.dtype != np.dtype(dtype) or a.shape != (k, *shape):
            raise DataError(f"{path}: array {name!r} is {a.dtype} {a.shape}, expected {dtype} {(k, *shape)}")
    assert k is not None
    return k


def _read_records(path: Path, k: int, fields: Collection[str]) -> list[dict]:
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        records = [json.loads(line) for line in lines]
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path} is not readable JSON lines ({exc}); regenerate the shard") from None
    if len(records) != k:
        raise DataError(f"{path} holds {len(records)} records but the arrays hold {k} items")
    for i, r in enumerate(records):
        missing = [f for f in fields if not isinstance(r, dict) or f not in r]
        if missing:
            raise DataError(f"{path} line {i + 1} lacks {', '.join(missing)}")
    return records
