"""`sketchforge-scene-data`: generate the top-down sketch -> scene layout training set, and look at it.

    sketchforge-scene-data generate --out DIR --count N --seed S [--workers W] [--shard-size 256] [--quiet]
    sketchforge-scene-data sheet --data DIR --out sheet.png [--n 8] [--cols 2]

Shard k holds items k * shard_size ..; item i is `make_item(item_seed(S, i))`, so a shard is a
pure function of (settings, k): its bytes do not depend on the number of workers or on which
shards were made before. `progress.json` records the finished shards with the settings, so an
interrupted run resumes where it stopped (rerun the same command); `manifest.json` describes the
arrays, the records and the counts (no times or dates in it: two runs give the same file).

Errors (bad arguments, a folder made with other settings, a damaged shard) are one line on
stderr and exit status 2; an interrupt is exit status 130 with the finished shards kept.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from ..commands import SHARDS_KEPT, Parser, add_generate_command, dispatch, item_bar, run_command
from ..shardpool import ShardedConfig, generate_shards, make_items, manifest_shards, shard_name, write_shard
from ..shardpool import item_seed as item_seed  # item i is make_item(item_seed(S, i)); part of this API
from ..sheets import check_sheet_request, write_png
from .data import ARRAYS, FORMAT, RECORD_FIELDS, RES, VERSION, DataError, make_item, shard_arrays, shard_bytes
from .sketching import KINDS
from .world import CATEGORIES, MATERIALS, STYLES

PROG = "sketchforge-scene-data"


@dataclass(frozen=True)
class GenerateConfig(ShardedConfig):
    """Everything a dataset's content depends on (the worker count is not part of it)."""


def make_shard(out: Path, config: GenerateConfig, k: int, on_item: Callable[[], None] | None = None) -> dict:
    """Make shard k of `config` under `out` (a pure function of both); returns its summary."""
    t0 = time.perf_counter()
    first = k * config.shard_size
    items = make_items(config, k, make_item, on_item)
    records = [it.record(first + j) for j, it in enumerate(items)]
    write_shard(out, k, *shard_bytes(shard_arrays(items, first), records))
    counts: Counter = Counter()
    for it in items:
        counts.update({name: n for name, n in it.world.counts().items()})
        counts["styled"] += it.world.style is not None
    return {"shard": k, "items": len(items), "counts": dict(sorted(counts.items())),
            "seconds": round(time.perf_counter() - t0, 3)}


def generate(out: str | Path, config: GenerateConfig, workers: int = 1,
             progress: Callable[[int], None] | None = None) -> dict:
    """Make every shard of `config` under `out` not made already; returns the manifest."""
    return generate_shards(out, config, fmt=FORMAT, shard_name=shard_name, make_shard=make_shard,
                           manifest=build_manifest, workers=workers, progress=progress)


def build_manifest(config: GenerateConfig, done: dict) -> dict:
    """The dataset's self-description (deterministic: no times)."""
    counts: Counter = Counter()
    for shard in done.values():
        counts.update(shard["counts"])
    shards = manifest_shards(done)
    return {
        "format": FORMAT, "version": VERSION, "complete": len(done) == config.shard_count, "config": asdict(config),
        "resolution": RES, "arrays": {k: {"dtype": d, "shape": ["K", *s]} for k, (d, s) in ARRAYS.items()},
        "record_fields": RECORD_FIELDS, "kinds": list(KINDS), "categories": list(CATEGORIES),
        "materials": list(MATERIALS), "styles": list(STYLES), "shards": shards,
        "counts": {"items": sum(s["items"] for s in shards), **dict(sorted(counts.items()))},
        "units": "arrays on a RES x RES grid over the sketch's ground rectangle, row 0 north; heights in metres "
                 "(height_range); objects in the records in world metres, origin at the world's centre, +x east, "
                 "+y north; sketches in the sketch-file convention (millimetres, Z up)",
    }


# -- command line ------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description="Scene training data: procedural worlds, their top-down sketches and maps.")
    sub = p.add_subparsers(dest="command", parser_class=Parser)
    add_generate_command(sub)
    s = sub.add_parser("sheet", help="write a contact sheet PNG of a dataset")
    s.add_argument("--data", required=True, type=Path, help="dataset folder")
    s.add_argument("--out", required=True, type=Path, help="PNG path")
    s.add_argument("--n", type=int, default=8, help="number of items")
    s.add_argument("--cols", type=int, default=2, help="items per row")
    return p


def main(argv: list[str] | None = None) -> int:
    return run_command(PROG, lambda: _main(argv), (DataError, OSError), interrupted=SHARDS_KEPT)


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    return dispatch(args.command, {"generate": lambda: _generate(args), "sheet": lambda: _sheet(args)})


def _generate(args) -> int:
    config = GenerateConfig(args.count, args.seed, args.shard_size)
    with item_bar(config.count, args.quiet) as progress:
        m = generate(args.out, config, args.workers, progress)
    c = m["counts"]
    print(f"{c['items']} items in {len(m['shards'])} shards under {args.out}; "
          f"{c.get('rivers', 0)} rivers, {c.get('lakes', 0)} lakes, {c.get('roads', 0)} roads, "
          f"{c.get('buildings', 0)} buildings, {c.get('trees', 0)} trees")
    return 0


def _sheet(args) -> int:
    from .sheet import contact_sheet
    check_sheet_request(args.data, args.out, args.n, args.cols, PROG)
    print(f"wrote {write_png(args.out, contact_sheet(args.data, args.n, args.cols))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
