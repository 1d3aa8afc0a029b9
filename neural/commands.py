"""What the networks' command-line entry points share: one-line errors and the exit codes.

Every `sketchforge-*` command of the data, training and evaluation tools answers a mistake with
one line, `PROG: error: what to do`, and exit code 2 (argparse's own code for a bad command line),
and an interrupt (Ctrl+C) with a line saying what was kept and exit code 130, never with a
traceback::

    def main(argv=None) -> int:
        return run_command(PROG, lambda: _main(argv), (DataError, OSError),
                           interrupted="finished shards are kept; rerun the same command to resume")

with the parser built from `Parser` (subparsers: ``add_subparsers(..., parser_class=Parser)``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable

__all__ = ["Parser", "UsageError", "run_command", "dispatch", "SHARDS_KEPT"]

SHARDS_KEPT = "finished shards are kept, rerun the same command to resume"  # a data command's interrupt


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
