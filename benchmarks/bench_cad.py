"""Figures of the `cad` interpretation on held-out sets: network, whole interpretations, time, and
the command line replayed from files.

    .venv/bin/python benchmarks/bench_cad.py [--test data/test] [--messy data/test-messy]
        [--messy-pipeline 512] [--timing 200] [--replay 200] [--workers 2] [--weights W]

Sets (made here when missing; seeds 3 and 4 are never used for training or validation):

    sketchforge-data generate --out data/test --count 2048 --size 128 --seed 3 --step-sample 0.15
    sketchforge-data generate --out data/test-messy --count 2048 --size 128 --seed 4 --step-sample 0.15 \
        --style-factor 2.0

1. `sketchforge-eval-cad` figures (neural/cad/evaluate.py) on every test item: the network on the
   stored inputs, and every item interpreted as the app does it (2 processes, one thread each).
2. The same on the messier set (stroke perturbation twice the training data's), first N items.
3. Time per interpretation with nothing else running: the first `--timing` test items in one
   process on one thread, split into view (framing + context renders), network and fitting.
4. End to end through the command line: the first `--replay` test items that have files, each run
   as `sketchforge interpret --model before.step --sketch item.sketch.json --out out.step --report
   r.json` in its own process (two at a time), the written STEP read back and compared with the
   recorded after STEP (volume IoU, changed-region IoU), the report's best operation with the
   recorded one; wall time per command, process start included.

Writes benchmarks/results/cad.json (figures) and benchmarks/results/cad_items.json (per-item rows).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import write  # noqa: E402
from sketchforge.neural.cad import evaluate as E  # noqa: E402
from sketchforge.neural.cad.backend import WEIGHTS  # noqa: E402
from sketchforge.neural.synth.shards import GenerateConfig, generate  # noqa: E402

TEST = dict(count=2048, size=128, seed=3, step_sample=0.15)
MESSY = dict(count=2048, size=128, seed=4, step_sample=0.15, style_factor=2.0)


def ensure(root: Path, settings: dict, workers: int) -> float:
    t = time.perf_counter()
    if not (root / "manifest.json").is_file():
        generate(root, GenerateConfig(**settings), workers=workers, progress=True)
    return round(time.perf_counter() - t, 1)


def replay(root: Path, limit: int, weights: Path | None) -> list[dict]:
    """`sketchforge interpret` on the first `limit` items with files, two processes at a time."""
    from sketchforge.modeling.exchange import import_step
    from sketchforge.neural.cad.metrics import changed_iou, volume_iou

    recs = [r for shard in E.records(root) for r in shard if r.get("files")][:limit]
    exe = Path(sys.executable).parent / "sketchforge"
    tmp = Path(tempfile.mkdtemp(prefix="cad-replay-"))

    def one(rec: dict) -> dict:
        f = rec["files"]
        out, report = tmp / f"{rec['item']}.step", tmp / f"{rec['item']}.json"
        cmd = [str(exe), "interpret", "--model", str(root / f["before"]), "--sketch", str(root / f["sketch"]),
               "--out", str(out), "--report", str(report)]
        env = {**os.environ, "SKETCHFORGE_CAD_WEIGHTS": str(weights)} if weights is not None else None
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        wall = time.perf_counter() - t
        row = {"item": rec["item"], "class": int(rec["op_class"]), "op": rec["operation"]["op"],
               "exit": proc.returncode, "wall_s": round(wall, 3), "stderr": proc.stderr.strip()[-300:]}
        if proc.returncode == 0:
            rep = json.loads(report.read_text())
            row["reported_s"] = rep["seconds"]
            row["top"] = rep["proposals"][0]["operation"]
            before = import_step((root / f["before"]).read_bytes(), f["before"])
            truth = import_step((root / f["after"]).read_bytes(), f["after"])
            got = import_step(out.read_bytes(), out.name)
            row["iou"] = volume_iou(got, truth)
            row["changed_iou"] = changed_iou(before, truth, got)
        return row

    with ThreadPoolExecutor(2) as pool:
        rows = list(pool.map(one, recs))
    return rows


def replay_summary(rows: list[dict]) -> dict:
    ok = [r for r in rows if r["exit"] == 0]
    wall = np.array([r["wall_s"] for r in rows]) * 1e3
    return {
        "items": len(rows), "exit_0": len(ok),
        "exit_codes": {str(c): sum(r["exit"] == c for r in rows) for c in sorted({r["exit"] for r in rows})},
        "top1_op_accuracy": round(float(np.mean([r.get("top") == r["op"] for r in rows])), 4),
        "top1_class_accuracy": round(float(np.mean([r.get("top") is not None and E.OP_CLASS[r["top"]] == r["class"]
                                                    for r in rows])), 4),
        "iou95": round(float(np.mean([r.get("iou", 0.0) >= E.IOU_OK for r in rows])), 4),
        "changed_iou_median": round(float(np.median([r.get("changed_iou", 0.0) for r in rows])), 4),
        "command_ms_p50": round(float(np.median(wall)), 1), "command_ms_p95": round(float(np.percentile(wall, 95)), 1),
        "reported_ms_p50": round(float(np.median([r["reported_s"] for r in ok])) * 1e3, 1) if ok else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--test", type=Path, default=ROOT / "data" / "test")
    ap.add_argument("--messy", type=Path, default=ROOT / "data" / "test-messy")
    ap.add_argument("--pipeline", type=int, default=None, help="test items interpreted (default all)")
    ap.add_argument("--messy-pipeline", type=int, default=512)
    ap.add_argument("--timing", type=int, default=200)
    ap.add_argument("--replay", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--weights", type=Path, default=WEIGHTS,
                    help="the network measured (default the standard one, which these figures describe)")
    a = ap.parse_args()

    gen = {"test": ensure(a.test, TEST, a.workers), "messy": ensure(a.messy, MESSY, a.workers)}
    t = time.perf_counter()
    test = E.run(a.test, a.weights, None, a.pipeline, a.workers)
    print(E.table(test["network"], test["pipeline"]), flush=True)
    messy = E.run(a.messy, a.weights, None, a.messy_pipeline, a.workers)
    print(E.table(messy["network"], messy["pipeline"]), flush=True)
    timing_rows = E.evaluate_pipeline(a.test, a.weights, a.timing, workers=1, progress=True)
    timing = E.summarise(timing_rows)["stage_ms"]
    print("quiet timing (ms):", timing, flush=True)
    rows = replay(a.test, a.replay, a.weights)
    rep = replay_summary(rows)
    print("command line:", rep, flush=True)
    figures = {
        "what": "cad interpretation on held-out synthetic sets: network maps, whole interpretations "
                "(app path), quiet timing, and `sketchforge interpret` replayed from files",
        "command": ".venv/bin/python benchmarks/bench_cad.py " + " ".join(sys.argv[1:]),
        "generate_s": gen,
        "test": {k: v for k, v in test.items() if k != "rows"},
        "messy": {k: v for k, v in messy.items() if k != "rows"},
        "timing_one_thread": {"items": len(timing_rows), "stage_ms": timing},
        "command_line": rep,
        "seconds": round(time.perf_counter() - t, 1),
    }
    path = write("cad", figures)
    write("cad_items", {"test": test["rows"], "messy": messy["rows"], "command_line": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
