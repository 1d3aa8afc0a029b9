"""Line counts of the largest modules of app/, neural/ and modeling/, now and at an earlier commit.

    .venv/bin/python benchmarks/bench_module_sizes.py [--before REV] [--top 12]

The house rule is one idea per module and no module of app/ or neural/ over about 900 lines; this
lists the largest ones in the working tree and at `--before` (a git revision) so a split is
measured, not guessed. Writes benchmarks/results/module_sizes.json.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ROOMS = ("app", "neural", "modeling")
LIMIT = 900


def sizes_now() -> dict[str, int]:
    return {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
            for room in ROOMS for p in sorted((ROOT / room).rglob("*.py"))}


def sizes_at(rev: str) -> dict[str, int]:
    names = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "--", *ROOMS], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    out = {}
    for name in names:
        if name.endswith(".py"):
            text = subprocess.run(["git", "show", f"{rev}:{name}"], cwd=ROOT, check=True, capture_output=True,
                                  text=True).stdout
            out[name] = len(text.splitlines())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default="503c0d1", help="the revision to compare with")
    ap.add_argument("--top", type=int, default=12)
    a = ap.parse_args()
    now, before = sizes_now(), sizes_at(a.before)

    def top(sizes: dict[str, int]) -> list[dict]:
        return [{"module": k, "lines": v} for k, v in sorted(sizes.items(), key=lambda kv: -kv[1])[:a.top]]

    over = {k: v for k, v in now.items() if v > LIMIT and not k.startswith("modeling/")}
    path = write("module_sizes", {
        "before": a.before, "largest_before": top(before), "largest_now": top(now),
        "modules_before": len(before), "modules_now": len(now), "over_limit_now": over, "limit": LIMIT})
    print(f"{'before (' + a.before + ')':<44} {'now':<44}")
    for b, n in zip(top(before), top(now)):
        print(f"{b['module']:<36}{b['lines']:>6}   {n['module']:<36}{n['lines']:>6}")
    print("over the limit now:", over or "none")
    print("wrote", path)


if __name__ == "__main__":
    main()
