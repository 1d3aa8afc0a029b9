"""Nightly fuzzing of the file readers: the properties of tests/test_fuzz_readers.py, for longer.

    .venv/bin/python benchmarks/fuzz_readers.py --minutes N

Each target (sketch values, sketch files, session files, mesh files) gets an equal share of the
time, in rounds of fresh random examples. An example that raises anything but the reader's own
error is a finding; findings are told apart by exception type and the place it was raised, kept
with the first example that showed each, and the run goes on. Writes the budget, the examples
run and the findings to benchmarks/results/fuzz.json and prints a small table; the exit status is
1 when there is a finding.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import test_fuzz_readers as fuzz  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402

from benchmarks.common import write  # noqa: E402

ROUND = 200  # examples per round; a round is a fresh random start


def _where(exc: BaseException) -> str:
    """The innermost project frame (else the innermost frame) an exception came from."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/modeling/" in f.filename or "/app/" in f.filename or "/neural/" in f.filename]
    f = (ours or frames or [None])[-1]
    return f"{Path(f.filename).name}:{f.lineno} in {f.name}" if f else "?"


def fuzz_target(name: str, strategy, check, seconds: float) -> dict:
    """Run `check` on examples of `strategy` for about `seconds`; collect findings, do not stop at one."""
    findings: dict[str, dict] = {}
    count = 0

    def one(value) -> None:
        nonlocal count
        count += 1
        try:
            check(value)
        except fuzz.Finding as finding:
            cause = finding.__cause__ or finding
            key = f"{type(cause).__name__} at {_where(cause)}"
            entry = findings.setdefault(key, {"error": str(finding)[:300], "example": repr(value)[:20_000], "hits": 0})
            entry["hits"] += 1

    run = settings(max_examples=ROUND, deadline=None, database=None,
                   suppress_health_check=list(HealthCheck))(given(strategy)(one))
    t0 = time.perf_counter()
    rounds = 0
    while time.perf_counter() - t0 < seconds:
        run()
        rounds += 1
    return {"seconds": round(time.perf_counter() - t0, 1), "rounds": rounds, "examples": count,
            "findings": len(findings), "found": findings}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="total time, shared equally by the targets")
    ap.add_argument("--only", choices=sorted(fuzz.TARGETS), action="append", help="fuzz only these targets")
    args = ap.parse_args(argv)
    logging.disable(logging.WARNING)  # readers log what they skip in damaged files; thousands of lines
    warnings.simplefilter("ignore")   # third-party warnings about damaged data are noise here
    for category in (DeprecationWarning, UserWarning, RuntimeWarning):  # our own warnings, as in the tests
        warnings.filterwarnings("error", category=category, module=r"sketchforge\.")
    names = args.only or list(fuzz.TARGETS)
    share = args.minutes * 60.0 / len(names)
    results = {}
    for name in names:
        strategy, check = fuzz.TARGETS[name]
        results[name] = fuzz_target(name, strategy, check, share)
        r = results[name]
        print(f"{name:<14} {r['examples']:>8} examples  {r['seconds']:>7.1f} s  {r['findings']} findings", flush=True)
        for key, f in r["found"].items():
            print(f"    {key} ({f['hits']}x): {f['error'][:150]}")
    total = sum(r["findings"] for r in results.values())
    path = write("fuzz", {"minutes": args.minutes, "targets": results, "findings": total,
                          "examples": sum(r["examples"] for r in results.values())})
    print(f"{total} findings in {sum(r['examples'] for r in results.values())} examples -> {path}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
