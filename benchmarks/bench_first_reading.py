"""The first reading in a fresh process, with and without the back end prepared beforehand.

    .venv/bin/python benchmarks/bench_first_reading.py [--runs 3] [--head 5]

The window prepares a mode's back end in the background when the mode is picked
(`backend.prepare()`). This measures what that buys the user's first sketch: each run is a fresh
Python process (one thread) that builds a session, optionally calls `prepare()` (not timed), then
times `backend.propose` on a held-out face sketch (`data/faces-test`, item `--head`) and on a
second, different sketch (item `--head` + 1: the next reading). Runs alternate between the two
settings.
Writes benchmarks/results/first_reading.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.common import write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, sys, time
import torch
torch.set_num_threads(1)
from sketchforge.modeling.session import Session
from sketchforge.modeling.sketch import Sketch
mode, prepare, sketches, before = sys.argv[1], sys.argv[2] == "1", json.loads(sys.argv[3]), sys.argv[4]
s = Session()
if before:
    s.import_file(before)
backend = s.backend(mode)
if prepare:
    backend.prepare()
times = []
for sk in sketches:
    sketch = Sketch.from_json(sk) if isinstance(sk, dict) else Sketch.load(sk)
    t = time.perf_counter()
    backend.propose(sketch, s.context(sketch.camera))
    times.append(time.perf_counter() - t)
print(json.dumps(times))
"""


def _face_sketches(data: Path, head: int) -> list[dict]:
    from sketchforge.neural.face.dataset import read_face_records
    recs = read_face_records(data / "shard-00000.jsonl")
    return [recs[head]["sketch"], recs[head + 1]["sketch"]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--head", type=int, default=5)
    ap.add_argument("--faces", type=Path, default=ROOT / "data" / "faces-test")
    a = ap.parse_args()
    t0 = time.perf_counter()
    face = _face_sketches(a.faces, a.head)
    out: dict[str, dict[str, list]] = {"face": {"prepared": [], "cold": []}}
    for run in range(a.runs):
        for setting in ("cold", "prepared") if run % 2 == 0 else ("prepared", "cold"):
            res = subprocess.run([sys.executable, "-c", _CHILD, "face", "1" if setting == "prepared" else "0",
                                  json.dumps(face), ""], capture_output=True, text=True, cwd=ROOT, check=True)
            out["face"][setting].append(json.loads(res.stdout.strip().splitlines()[-1]))
            print("face", setting, out["face"][setting][-1], flush=True)
    summary = {}
    for mode, settings in out.items():
        summary[mode] = {s: {"first_s_median": round(float(np.median([r[0] for r in runs])), 3),
                             "second_s_median": round(float(np.median([r[1] for r in runs])), 3)}
                         for s, runs in settings.items()}
    path = write("first_reading", {
        "what": "seconds of backend.propose for the first and second sketch in a fresh process, one thread, "
                "with and without backend.prepare() called first (not timed)",
        "faces": str(a.faces), "head": a.head, "runs": out, "summary": summary,
        "seconds": round(time.perf_counter() - t0, 1)})
    print(json.dumps(summary, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main()
