"""Timing helpers and the reference models the benchmarks measure."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Callable

import numpy as np

from sketchforge.modeling.operations import ArcPath, Circle, LinePath
from sketchforge.modeling.session import Session

RESULTS = Path(__file__).resolve().parent / "results"


def timeit(fn: Callable[[], object], repeat: int, warmup: int = 2) -> dict:
    """Median, p95, min and mean wall time in milliseconds over `repeat` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1e3)
    a = np.asarray(samples)
    return {"p50_ms": round(float(np.median(a)), 3), "p95_ms": round(float(np.percentile(a, 95)), 3),
            "min_ms": round(float(a.min()), 3), "mean_ms": round(float(a.mean()), 3), "runs": repeat}


def machine() -> dict:
    info = {"cpu_count": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def write(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "machine": machine(), "when": time.strftime("%Y-%m-%dT%H:%M:%S"), **payload}
    path.write_text(json.dumps(payload, indent=1))
    return path


def build_part(session: Session) -> str:
    """A plate with 30 operations of all four kinds (deterministic, every one valid)."""
    b = session.box((200.0, 120.0, 30.0))
    cells = [(x, y) for y in (-38.0, 0.0, 38.0) for x in (-75.0, -45.0, -15.0, 15.0, 45.0, 75.0)]
    blocks = []
    for i, (x, y) in enumerate(cells):
        on_top = (x, y, 30.0)
        if i % 3 == 0:
            session.add(b, on_top, [(x - 8, y - 8), (x + 8, y - 8), (x + 8, y + 8), (x - 8, y + 8)], 8.0)
            blocks.append((x, y))
        elif i % 3 == 1:
            session.subtract(b, on_top, [(x - 6, y - 6), (x + 6, y - 6), (x, y + 7)], 5.0)
        else:
            path = LinePath(10.0, 20.0, 90.0) if i % 2 else ArcPath(12.0, 60.0, 90.0)
            session.sweep(b, on_top, Circle((x, y), 4.0), path)
    for x, y in blocks:                                   # chamfer each block's front top edge
        session.bevel(b, (x, y - 8.0, 38.0), 1.5, 2.5)
    session.extrude(b, "+x", 4.0)
    session.extrude(b, "+x", 3.0)
    session.bevel(b, (-100.0, -60.0, 15.0), 5.0, style="fillet")
    session.bevel(b, (-100.0, 60.0, 15.0), 4.0, 6.0)
    session.extrude(b, "-y", 2.5)
    return b
