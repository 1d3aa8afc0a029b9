"""Heads from held-out face sketches against their truth: the three reconstructions side by side.

    .venv/bin/python benchmarks/bench_face.py [--test data/faces-test] [--items 256] [--grid 65]
                                              [--picture benchmarks/results/face.png]

Runs `sketchforge-eval-face` (`neural/face/evaluate.py`) with the shipped networks, one thread per
process, in `--workers` processes (2: one per core of this machine, each on every other item):
per held-out head, the coarse mesh and the three variants the reference compares (implicit +
marching cubes only, depth back-projection only, full IDGMM), scored against the true mesh by
Chamfer-L2, normal consistency, F-score at 1% and volume IoU, with the time each variant takes.
Writes benchmarks/results/face.json (summary, per head variant, per item) and a picture of a
few held-out heads: sketch, IDGMM result, truth.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.common import RESULTS, write  # noqa: E402
from sketchforge.neural.face.evaluate import evaluate, merge, picture  # noqa: E402
from sketchforge.neural.face.reconstruct import GRID, FaceModel  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _part(test: str, items: int, grid: int, k: int, n: int) -> dict:
    torch.set_num_threads(1)
    return evaluate(test, FaceModel.load(grid=grid), items, progress=k == 0, part=(k, n))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--test", type=Path, default=ROOT / "data" / "faces-test")
    ap.add_argument("--items", type=int, default=256)
    ap.add_argument("--grid", type=int, default=GRID)
    ap.add_argument("--picture", type=Path, default=RESULTS / "face.png")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(1)
    t = time.perf_counter()
    import multiprocessing as mp
    with mp.get_context("spawn").Pool(a.workers) as pool:
        parts = pool.starmap(_part, [(str(a.test), a.items, a.grid, k, a.workers) for k in range(a.workers)])
    report = merge(parts)
    report["wall_seconds"] = round(time.perf_counter() - t, 1)
    report["threads"] = 1
    report["processes"] = a.workers
    picture(a.test, FaceModel.load(grid=a.grid), a.picture, items=6)
    report["picture"] = str(a.picture.relative_to(ROOT)) if a.picture.is_relative_to(ROOT) else str(a.picture)
    path = write("face", report)
    print(f"wrote {path}")
    s = report["summary"]
    for v in ("coarse", "implicit_only", "depth_only", "idgmm"):
        if v in s:
            d = s[v]
            print(f"{v:14s} CD-L2 {d['chamfer_l2']['mean']:.5f}  NC {d['normal_consistency']['mean']:.4f}  "
                  f"F@1% {d['fscore_1pct']['mean']:.3f}  vIoU {d['volume_iou']['mean']:.3f}  "
                  f"p50 {d['ms']['p50']:.0f} ms")


if __name__ == "__main__":
    main()
