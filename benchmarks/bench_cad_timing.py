"""Time per cad interpretation with each shipped network, nothing else running.

    .venv/bin/python benchmarks/bench_cad_timing.py [--test data/test] [--items 200]

The first `--items` test sketches are interpreted by the back end as the app runs it (framing and
context renders, the network part, fitting and checking the top 3 proposals) in one process on one
thread, once per network of `backend.NETWORKS` (standard, light = student + canvas selector,
reference), one after the other on the same items; the stage times come from the back end's own
clock (`Interpretation.seconds`). Also per network: the share of items whose top proposal is the
recorded operation and whose applied top proposal reaches volume IoU >= 0.95, so a faster network
is seen together with what it costs. Writes benchmarks/results/cad_timing.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.common import write  # noqa: E402
from sketchforge.neural.cad.backend import NETWORKS  # noqa: E402
from sketchforge.neural.cad.evaluate import IOU_OK, evaluate_pipeline, summarise  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--test", type=Path, default=ROOT / "data" / "test")
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--networks", default=",".join(NETWORKS))
    a = ap.parse_args()
    torch.set_num_threads(1)
    out, t0 = {}, time.perf_counter()
    for name in a.networks.split(","):
        weights, selector, _ = NETWORKS[name]
        rows = evaluate_pipeline(a.test, weights, a.items, workers=1, progress=False, selector=selector)
        rows = [r for r in rows if "unreplayable" not in r]
        stages = summarise(rows)["stage_ms"]
        out[name] = {"items": len(rows), "stage_ms": stages,
                     "top1_op_accuracy": round(float(np.mean([r["op_ok"] for r in rows])), 4),
                     "iou95_top1": round(float(np.mean([r["iou_top1"] >= IOU_OK for r in rows])), 4)}
        print(name, out[name], flush=True)
    path = write("cad_timing", {
        "command": "python benchmarks/bench_cad_timing.py " + " ".join(sys.argv[1:]),
        "what": "ms per cad interpretation by stage (view = framing + context renders, net = selector + "
                "network, fit = fitting and checking proposals), one process, one thread, per network",
        "test": str(a.test), "threads": 1, "networks": out, "seconds": round(time.perf_counter() - t0, 1)})
    print("wrote", path)


if __name__ == "__main__":
    main()
