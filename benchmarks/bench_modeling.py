"""Modeling figures: apply one operation, regenerate a 30-step history, context renders, exports.

    .venv/bin/python benchmarks/bench_modeling.py [--quick]

Writes benchmarks/results/modeling.json and prints a table. Targets (issue 2): apply p50 <= 100 ms;
depth + normal + face-id + lines together <= 50 ms at 256x256; regenerating 30 steps <= 2 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import build_part, timeit, write  # noqa: E402
from sketchforge.modeling.camera import Camera  # noqa: E402
from sketchforge.modeling.operations import ArcPath, Circle, LinePath  # noqa: E402
from sketchforge.modeling.render import render_context  # noqa: E402
from sketchforge.modeling.session import Session  # noqa: E402


def sample_operations(session: Session, body: str) -> dict:
    """One operation of each kind that applies to the 30-step part (built once, applied many times)."""
    ops = {}
    specs = {
        "extrude": lambda: session.extrude(body, "-x", 3.0),
        "add": lambda: session.add(body, (-90.0, 0.0, 30.0), [(-95, -5), (-85, -5), (-85, 5), (-95, 5)], 6.0),
        "subtract": lambda: session.subtract(body, (-90.0, 0.0, 30.0), [(-95, -5), (-85, -5), (-90, 5)], 4.0),
        "bevel": lambda: session.bevel(body, (107.0, -1.25, 30.0), 2.0, 3.0),
        "sweep_line": lambda: session.sweep(body, (-90.0, 0.0, 30.0), Circle((-90.0, 0.0), 3.0),
                                            LinePath(10.0, 20.0, 0.0)),
        "sweep_arc": lambda: session.sweep(body, (-90.0, 0.0, 30.0), Circle((-90.0, 0.0), 3.0),
                                           ArcPath(10.0, 90.0, 0.0)),
    }
    for name, make in specs.items():
        ops[name] = make()
        session.undo()
    return ops


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    args = ap.parse_args()
    reps = 5 if args.quick else 30

    s = Session()
    body = build_part(s)
    part = s.bodies[body]
    figures: dict = {"part": {"operations": len(s.history), "faces": len(part.faces), "edges": len(part.edges)}}

    doc = s.document
    apply = {}
    all_samples = []
    for name, op in sample_operations(s, body).items():
        def once(op=op):
            doc.apply(op)
            doc.undo()
        apply[name] = timeit(once, reps)
        all_samples.append(apply[name]["p50_ms"])
    figures["apply_ms"] = apply
    figures["apply_p50_ms_worst_kind"] = max(all_samples)

    figures["regenerate_30_ms"] = timeit(doc.regenerate, max(3, reps // 6), warmup=1)

    cam = Camera.looking_at((0.0, 0.0, 20.0), 330.0, -55.0, 35.0)
    renders = {}
    for size in (128, 256):
        # a fresh body each run would measure tessellation too: report both
        renders[f"{size}"] = {
            "all_four_cached_mesh": timeit(lambda size=size: render_context(s.bodies, cam, size, size), reps),
            "without_lines": timeit(lambda size=size: render_context(s.bodies, cam, size, size, lines=False), reps),
        }
    figures["render_ms"] = renders

    exports = {}
    with tempfile.TemporaryDirectory() as tmp:
        for ext in ("step", "obj", "glb", "ply"):
            path = Path(tmp) / f"part.{ext}"
            exports[ext] = timeit(lambda path=path: s.export(path), max(3, reps // 3))
            exports[ext]["bytes"] = path.stat().st_size
        path = Path(tmp) / "part.sketchforge"
        exports["session_save"] = timeit(lambda: s.save(path), max(3, reps // 3))
    figures["export_ms"] = exports

    r256 = renders["256"]["all_four_cached_mesh"]["p50_ms"]
    figures["targets"] = {
        "apply_p50_le_100ms": figures["apply_p50_ms_worst_kind"] <= 100.0,
        "renders_256_le_50ms": r256 <= 50.0,
        "regenerate_30_le_2s": figures["regenerate_30_ms"]["p50_ms"] <= 2000.0,
    }
    out = write("modeling", figures)

    print(f"part: {figures['part']}")
    print(f"{'figure':40s} {'p50 ms':>10s} {'p95 ms':>10s}")
    for name, t in apply.items():
        print(f"{'apply ' + name:40s} {t['p50_ms']:10.1f} {t['p95_ms']:10.1f}")
    t = figures["regenerate_30_ms"]
    print(f"{'regenerate 30 steps':40s} {t['p50_ms']:10.1f} {t['p95_ms']:10.1f}")
    for size, d in renders.items():
        for k, t in d.items():
            print(f"{'render ' + size + ' ' + k:40s} {t['p50_ms']:10.1f} {t['p95_ms']:10.1f}")
    for k, t in exports.items():
        print(f"{'export ' + k:40s} {t['p50_ms']:10.1f} {t['p95_ms']:10.1f}")
    print(f"targets: {figures['targets']}\nwritten: {out}")


if __name__ == "__main__":
    main()
