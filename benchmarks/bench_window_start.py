"""Window start and the first interpretation in a fresh process, prepared against cold.

    .venv/bin/python benchmarks/bench_window_start.py [--runs 3]

Each run is a fresh Python process under a private Xvfb display (Mesa llvmpipe), as a user starts
the app: it builds the real `MainWindow` (console, history, start page), shows it, and records the
time from the process's start to the window on screen. It then puts a model and a sketch in the
window (a generated CAD item over its model, or a drawn head in face mode) and presses Space, timing
until the proposals (or the hint) are shown, in three settings:

- `cold`: the window's background preparation switched off (what the first Space cost before
  back ends were prepared: networks loaded, FLOPs counted and graphs traced on the user's sketch);
- `at once`: Space pressed as soon as the window shows, while the preparation runs;
- `prepared`: Space pressed once the preparation is done (a user who looks at the window first);
  how long after the window shows that is, is recorded too.

A second, different sketch is read after the first in every run (the steady state). The status
line's stages are checked to add up to the total it prints. Writes benchmarks/results/window_start.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.common import write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, sys, time
t_start = float(sys.argv[1])
mode, setting, pairs = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
from PySide6.QtCore import QCoreApplication, Qt
QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
from PySide6.QtWidgets import QApplication
app = QApplication(["sketchforge"])
from sketchforge.app.window import MainWindow
from sketchforge.modeling.sketch import Sketch
if setting == "cold":
    MainWindow.prepare_backend = lambda self, mode=None: None
from sketchforge.app import paths
paths.settings().setValue("mode", mode)
w = MainWindow(recover=False)
w.show()
app.processEvents()
shown = time.time() - t_start
ready = None
if setting == "prepared":
    t = time.perf_counter()
    while w._preparing is None or w._preparing.is_alive():
        app.processEvents()
        time.sleep(0.005)
    ready = time.perf_counter() - t
rows = []
for model, path in pairs:
    if model:
        w.session.new()
        w.session.import_file(model)
        app.processEvents()
    w.hide_start_page()
    w.viewport.load_sketch(Sketch.load(path))
    app.processEvents()
    t = time.perf_counter()
    w.interpret()
    while w.jobs.busy:
        app.processEvents()
        time.sleep(0.001)
    app.processEvents()
    seconds = time.perf_counter() - t
    rep = w._report
    stages = {k: v for k, v in rep.seconds.items() if k != "total"} if rep is not None else {}
    rows.append({"seconds": seconds, "proposals": len(w.proposals), "status": w.status_label.text(),
                 "report_total": rep.total if rep is not None else None, "stages": stages,
                 "stages_sum": sum(stages.values())})
    w.sketch.clear()
w.session.document._saved_revision = w.session.document.revision
w.session._saved_revision = w.session.document.revision
t = time.perf_counter()
w.close()
closed = time.perf_counter() - t
print(json.dumps({"shown_s": shown, "ready_after_shown_s": ready, "rows": rows, "close_s": closed}))
"""


def _cad_inputs(folder: Path) -> list[tuple[str, str]]:
    """Two generated items the network reads as something (a real reading is timed): (model, sketch)."""
    from sketchforge.neural.synth.shards import GenerateConfig, generate
    generate(folder, GenerateConfig(count=8, size=128, seed=515151, shard_size=8, step_sample=1.0), workers=1,
             progress=False)
    from sketchforge.modeling.session import Session
    from sketchforge.modeling.sketch import Sketch
    good = []
    for sk in sorted((folder / "sketches").glob("*.sketch.json")):
        item = sk.name.split(".")[0].split("-")[1]
        model = str(folder / "steps" / f"item-{item}-before.step")
        s = Session()
        s.import_file(model)
        if s.interpret(Sketch.load(sk)).proposals:
            good.append((model, str(sk)))
        if len(good) == 2:
            return good
    raise SystemExit("fewer than two generated items were read; try another seed")


def _face_inputs(folder: Path) -> list[tuple[str, str]]:
    from sketchforge.neural.face.heads import sample_head
    from sketchforge.neural.face.sketches import head_sketch
    out = []
    for k, variant in enumerate(("human", "cartoon")):
        sk = head_sketch(sample_head(np.random.default_rng(70 + k), variant), np.random.default_rng(80 + k),
                         256).sketch
        path = folder / f"face-{k}.sketch.json"
        sk.save(path)
        out.append(("", str(path)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--modes", default="cad,face")
    a = ap.parse_args()
    from sketchforge.app.xvfb import private_display
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="bench-window-"))
    inputs = {}
    if "cad" in a.modes:
        inputs["cad"] = _cad_inputs(tmp / "cad")
    if "face" in a.modes:
        inputs["face"] = _face_inputs(tmp)
    settings = ("cold", "at once", "prepared")
    runs: dict[str, dict[str, list]] = {m: {s: [] for s in settings} for m in inputs}
    with private_display() as display:
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "OMP_NUM_THREADS": "1",
               "SKETCHFORGE_HOME": str(tmp / "home")}
        for run in range(a.runs):
            for mode, pairs in inputs.items():
                for setting in settings if run % 2 == 0 else settings[::-1]:
                    home = tmp / "home" / f"{mode}-{setting}-{run}"
                    res = subprocess.run([sys.executable, "-c", _CHILD, repr(time.time()), mode, setting,
                                          json.dumps(pairs)], capture_output=True, text=True, cwd=ROOT,
                                         env={**env, "SKETCHFORGE_HOME": str(home)}, timeout=600)
                    if res.returncode != 0:
                        raise SystemExit(f"the window run failed:\n{res.stderr[-3000:]}")
                    row = json.loads(res.stdout.strip().splitlines()[-1])
                    runs[mode][setting].append(row)
                    print(mode, setting, f"shown {row['shown_s']:.2f} s, first {row['rows'][0]['seconds'] * 1e3:.0f} "
                          f"ms, next {row['rows'][1]['seconds'] * 1e3:.0f} ms, close {row['close_s'] * 1e3:.0f} ms",
                          flush=True)
    summary = {}
    for mode, by_setting in runs.items():
        summary[mode] = {}
        for setting, rows in by_setting.items():
            first = [r["rows"][0]["seconds"] for r in rows]
            second = [r["rows"][1]["seconds"] for r in rows]
            summary[mode][setting] = {
                "window_shown_s_median": round(float(np.median([r["shown_s"] for r in rows])), 3),
                "first_ms_median": round(float(np.median(first)) * 1e3, 1),
                "second_ms_median": round(float(np.median(second)) * 1e3, 1),
                "close_ms_median": round(float(np.median([r["close_s"] for r in rows])) * 1e3, 1),
                "ready_after_shown_s_median": (round(float(np.median([r["ready_after_shown_s"] for r in rows])), 3)
                                               if setting == "prepared" else None),
                "stages_add_up": all(abs(x["stages_sum"] - x["report_total"]) < 1e-3
                                     for r in rows for x in r["rows"] if x["report_total"] is not None),
                "proposals": [x["proposals"] for r in rows for x in r["rows"]],
            }
    path = write("window_start", {
        "what": "a fresh process per run under Xvfb: seconds from the process's start to the window shown; "
                "ms from Space to the proposals shown for the first and the next sketch, with the window's "
                "background preparation off (cold), running (at once) and done (prepared); ms to close",
        "runs": runs, "summary": summary, "seconds": round(time.perf_counter() - t0, 1)})
    print(json.dumps(summary, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main()
