"""Viewport figures: frame time while orbiting a 100k-triangle mesh, under Xvfb + Mesa llvmpipe.

    .venv/bin/python benchmarks/bench_viewport.py

Starts a private X server, draws the real `Viewport` (640x480) orbiting a 100k-triangle mesh
and the 30-step benchmark part, and writes benchmarks/results/viewport.json. Each frame is a
synchronous paintGL (scene, edges, strokes overlay) followed by glFinish, so the time is what the
GPU emulation really spends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FRAMES = 60

CHILD = r"""
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from PySide6.QtCore import QCoreApplication, Qt
QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
from PySide6.QtWidgets import QApplication
app = QApplication([])
from OpenGL import GL
import trimesh
from sketchforge.app.viewport import Viewport
from sketchforge.modeling.bodies import MeshBody
from sketchforge.modeling.session import Session
from benchmarks.common import build_part

def orbit(view, frames):
    view.fit_all()
    app.processEvents()
    times = []
    for k in range(frames + 5):
        view.setCameraPosition(azimuth=(k * 6) % 360)
        view.makeCurrent()
        t = time.perf_counter()
        view.paintGL()
        GL.glFinish()
        dt = time.perf_counter() - t
        view.doneCurrent()
        if k >= 5:
            times.append(dt * 1e3)
    a = np.asarray(times)
    return {"p50_ms": round(float(np.median(a)), 2), "p95_ms": round(float(np.percentile(a, 95)), 2),
            "fps_p50": round(1000.0 / float(np.median(a)), 1), "frames": frames}

out = {"renderer": None}
view = Viewport()
view.resize(640, 480)
view.show()
app.processEvents()
view.makeCurrent()
out["renderer"] = GL.glGetString(GL.GL_RENDERER).decode()
view.doneCurrent()
sphere = trimesh.creation.icosphere(subdivisions=7, radius=50.0)  # 327,680 triangles: take 100k
tris = sphere.faces[:100_000]
mesh = MeshBody(sphere.vertices, tris)
t = time.perf_counter(); view.set_bodies({"m": mesh}); app.processEvents()
out["mesh_100k"] = {"triangles": int(len(tris)), "set_bodies_ms": round((time.perf_counter() - t) * 1e3, 1),
                    **orbit(view, int(sys.argv[2]))}
s = Session(); build_part(s)
body = s.bodies["body1"]
t = time.perf_counter(); view.set_bodies(s.bodies); app.processEvents()
out["part_30_steps"] = {"triangles": int(len(body.mesh().triangles)), "edges": int(len(body.edge_segments())),
                        "set_bodies_ms": round((time.perf_counter() - t) * 1e3, 1), **orbit(view, int(sys.argv[2]))}
print("RESULT " + json.dumps(out))
"""


def main() -> None:
    from benchmarks.common import write
    from sketchforge.app.xvfb import private_display
    with private_display() as display:
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
        run = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(FRAMES)], env=env,
                             capture_output=True, text=True, timeout=600)
    line = [ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")]
    if run.returncode != 0 or not line:
        sys.exit(f"the viewport benchmark failed:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}")
    figures = json.loads(line[-1][len("RESULT "):])
    figures["canvas"] = [640, 480]
    out = write("viewport", figures)
    for name in ("mesh_100k", "part_30_steps"):
        f = figures[name]
        print(f"{name:16s} {f['triangles']:>8d} triangles  frame p50 {f['p50_ms']:6.1f} ms  p95 {f['p95_ms']:6.1f} ms"
              f"  ({f['fps_p50']} fps)")
    print(f"renderer: {figures['renderer']}\nwritten: {out}")


if __name__ == "__main__":
    main()
