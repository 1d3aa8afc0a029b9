"""What the networks' command-line entry points share: one-line errors and the exit codes.

Every `sketchforge-*` command of the data, training and evaluation tools answers a mistake with
one line, `PROG: error: what to do`, and exit code 2 (argparse's own code for a bad command line),
and an interrupt (Ctrl+C) with a line saying what was kept and exit code 130, never with a
traceback::

    def main(argv=None) -> int:
        return run_command(PROG, lambda: _main(argv), (DataError, OSError),
                           interrupted="finished shards are kept; rerun the same command to resume")

with the parser built from `Parser` (subparsers: ``add_subparsers(..., parser_class=Parser)``).
The sharded data generators (`shardpool.generate_shards`) also share their `generate` subcommand
(`add_generate_command`) and its progress bar (`item_bar`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

__all__ = ["Parser", "UsageError", "run_command", "dispatch", "SHARDS_KEPT", "CHECKPOINT_KEPT", "add_generate_command",
           "item_bar"]

SHARDS_KEPT = "finished shards are kept, rerun the same command to resume"  # a data command's interrupt
CHECKPOINT_KEPT = "rerun the same command with --resume to go on from the last checkpoint"  # a trainer's interrupt


class UsageError(ValueError):
    """A command line argparse cannot read (an unknown option, a missing or malformed value)."""


class Parser(argparse.ArgumentParser):
    """argparse that raises `UsageError` with its one-line message instead of printing the usage
    block and exiting (`--help` still prints the help and exits 0)."""

    def error(self, message: str) -> None:
        raise UsageError(message)


def run_command(prog: str, body: Callable[[], int], errors: tuple[type[BaseException], ...] = (),
                interrupted: str = "", log_progress: bool = False) -> int:
    """`body()`'s exit code; `errors` (and `UsageError`) become one line on stderr and code 2, an
    interrupt a line ending in `interrupted` (what was kept, how to go on) and code 130.
    `log_progress` logs INFO lines with the time (long training runs), otherwise warnings only."""
    if log_progress:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    else:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return body()
    except (UsageError, *errors) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted" + (f"; {interrupted}" if interrupted else ""), file=sys.stderr)
        return 130


def dispatch(command: str | None, handlers: dict[str, Callable[[], int]]) -> int:
    """Run the handler of a subcommand; no subcommand is a `UsageError` naming the ones there are."""
    if command not in handlers:
        names = list(handlers)
        raise UsageError(f"give a command: {', '.join(names[:-1])} or {names[-1]} (see --help)")
    return handlers[command]()


def add_generate_command(sub: Any, own: Callable[[argparse.ArgumentParser], object] | None = None
                         ) -> argparse.ArgumentParser:
    """The `generate` subcommand of a sharded data generator on the subparsers `sub`: --out, --count,
    --seed, --workers, --shard-size, the generator's `own` options, --quiet."""
    g = sub.add_parser("generate", help="generate a sharded dataset (resumable)")
    g.add_argument("--out", required=True, type=Path, help="dataset folder (created; rerun to resume)")
    g.add_argument("--count", required=True, type=int, help="number of items")
    g.add_argument("--seed", required=True, type=int, help="random seed (non-negative)")
    g.add_argument("--workers", type=int, default=1, help="worker processes (the data does not depend on it)")
    g.add_argument("--shard-size", type=int, default=256, help="items per shard")
    if own is not None:
        own(g)
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    return g


@contextmanager
def item_bar(total: int, quiet: bool) -> Iterator[Callable[[int], None] | None]:
    """A generator's `progress(n)`: a bar over `total` items, shown from the first item on and
    closed on leaving; None when `quiet`."""
    bar = None

    def progress(n: int) -> None:
        nonlocal bar
        if bar is None:
            from tqdm import tqdm
            bar = tqdm(total=total, unit="item", desc="generating", dynamic_ncols=True)
        bar.update(n)

    try:
        yield None if quiet else progress
    finally:
        if bar is not None:
            bar.close()
