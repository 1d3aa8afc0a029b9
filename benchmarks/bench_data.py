"""Training-data figures: labelled samples per second, clean-apply share, per-class counts.

    .venv/bin/python benchmarks/bench_data.py [--quick] [--count N] [--repeat R] [--workers W]

Runs `generate` end to end (spawning the workers, writing compressed shards, recording progress)
into a temporary folder, `--repeat` times with different seeds, at 128x128 with 2 workers, and
once with 1 worker in this process as the baseline of the same run. Writes
benchmarks/results/data.json and prints a table. Target (issue 4): >= 40 samples/s with 2 workers
on the 2-core machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import write  # noqa: E402
from sketchforge.neural.synth.sequences import CLASS_NAMES  # noqa: E402
from sketchforge.neural.synth.shards import GenerateConfig, generate  # noqa: E402

SIZE = 128
SHARD = 64


def run(count: int, seed: int, workers: int) -> dict:
    """One generation run: wall time, rate and the manifest's counts."""
    cfg = GenerateConfig(count=count, size=SIZE, seed=seed, shard_size=SHARD, step_sample=0.0)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        m = generate(Path(tmp) / "data", cfg, workers=workers, progress=False)
        wall = time.perf_counter() - t
    busy = m["worker_seconds"] / workers  # time inside shards, without start-up and hand-over
    return {"seed": seed, "workers": workers, "items": m["counts"]["items"], "wall_s": round(wall, 3),
            "samples_per_s": round(count / wall, 2), "samples_per_s_in_shards": round(count / busy, 2),
            "per_class": m["counts"]["per_class"], "per_op": m["counts"]["per_op"], "operations": m["operations"],
            "views_rejected": m["views_rejected"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="a short smoke run")
    ap.add_argument("--count", type=int, default=None, help="items per run (default 768, quick 128)")
    ap.add_argument("--repeat", type=int, default=None, help="runs with 2 workers (default 3, quick 1)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    count = args.count or (128 if args.quick else 768)
    repeat = args.repeat or (1 if args.quick else 3)

    baseline = run(count // 2, seed=100, workers=1)
    runs = [run(count, seed=s, workers=args.workers) for s in range(repeat)]
    rates = np.array([r["samples_per_s"] for r in runs])
    attempted = np.sum([r["operations"]["attempted"] for r in runs], axis=0)
    applied = np.sum([r["operations"]["applied"] for r in runs], axis=0)
    per_class = np.sum([r["per_class"] for r in runs], axis=0)
    rejected_views: dict = {}
    for r in runs:
        for k, v in r["views_rejected"].items():
            rejected_views[k] = rejected_views.get(k, 0) + v
    figures = {
        "size": SIZE, "shard_size": SHARD, "count_per_run": count, "workers": args.workers,
        "samples_per_s": {"p50": round(float(np.median(rates)), 2), "min": round(float(rates.min()), 2),
                          "max": round(float(rates.max()), 2), "runs": len(runs)},
        "samples_per_s_in_shards_p50": round(float(np.median([r["samples_per_s_in_shards"] for r in runs])), 2),
        "baseline_1_worker": {k: baseline[k] for k in ("items", "wall_s", "samples_per_s")},
        "speedup_vs_1_worker": round(float(np.median(rates)) / baseline["samples_per_s"], 2),
        "clean_apply_share": round(float(applied.sum() / attempted.sum()), 4),
        "clean_apply_share_per_class": {CLASS_NAMES[c]: round(float(applied[c] / attempted[c]), 4)
                                        for c in range(4) if attempted[c]},
        "operations_attempted": attempted.tolist(), "operations_applied": applied.tolist(),
        "per_class_counts": {CLASS_NAMES[c]: int(per_class[c]) for c in range(4)},
        "views_rejected": rejected_views,
        "target_samples_per_s": 40,
        "runs": runs,
    }
    path = write("data", figures)
    print(f"{'figure':38s} value")
    print(f"{'samples/s, ' + str(args.workers) + ' workers, 128x128 (p50)':38s} {figures['samples_per_s']['p50']}"
          f"  (min {figures['samples_per_s']['min']}, max {figures['samples_per_s']['max']}, target >= 40)")
    print(f"{'samples/s inside shards (p50)':38s} {figures['samples_per_s_in_shards_p50']}")
    print(f"{'samples/s, 1 worker (baseline)':38s} {baseline['samples_per_s']}")
    print(f"{'clean-apply share':38s} {figures['clean_apply_share']:.1%}")
    for name, n in figures["per_class_counts"].items():
        print(f"{'items ' + name:38s} {n}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
