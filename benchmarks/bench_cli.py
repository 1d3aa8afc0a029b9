"""`sketchforge interpret` end to end, against the time Python needs to import its libraries.

    .venv/bin/python benchmarks/bench_cli.py [--label after] [--runs 10] [--batch 12]

In one run, each a fresh process, interleaved round by round so that a change in the machine's
load touches every series alike (after one warm-up run of each, not counted):

- `baseline`: `python -c "import torch; import OCP.STEPControl; import open3d"`, what any reading
  of a sketch over a STEP model has to load;
- `cad`: `sketchforge interpret --model item-before.step --sketch item.sketch.json --out o.step
  --report r.json` on a generated CAD item (`synth.shards.generate`, a seed never trained on);
- `face`: `sketchforge interpret --sketch head.sketch.json --out head.glb --report r.json` on a
  drawn human head (`face.sketches.head_sketch`), no model.

Then the batch: `--batch` sketches over one model in one process (CAD: the item's sketch redrawn
with half a pixel of jitter per point, so every copy is its own sketch; face: that many different
heads), each sketch's wall time in the batch (its report's `seconds`: reading the sketch file,
interpreting, applying, writing) against the back end's own `report.total`. Where the command has
no batch form (the figures taken before it had one), the same sketches run as one command each.

The FLOP cache lives in a temporary folder (SKETCHFORGE_CACHE): the CAD warm-up run finds it empty
(its time is kept as `cad_cold_cache_s`); the timed runs find it filled, as every run after a
user's first does. Timings on a shared machine are noisy: medians and p95 over the runs, with the
load average before and after, and the CPU seconds of the same runs (user + system, which other
work moves far less). Writes benchmarks/results/cli.json, keeping the other labels' figures.

Another version of the code is measured by putting it first on the path: for the commit's own,

    mkdir -p /tmp/head/sketchforge && git archive HEAD app modeling neural assets | tar -x -C /tmp/head/sketchforge
    touch /tmp/head/sketchforge/__init__.py
    PYTHONPATH=/tmp/head .venv/bin/python benchmarks/bench_cli.py --label before-head
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.common import RESULTS, machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PY = Path(sys.executable)
EXE = PY.with_name("sketchforge")
BASELINE = "import torch; import OCP.STEPControl; import open3d"


def _env(cache: Path) -> dict:
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    env["SKETCHFORGE_CACHE"] = str(cache)
    return env


def _timed(cmd: list[str], env: dict, check: bool = True) -> tuple[float, subprocess.CompletedProcess]:
    wall, _, r = _timed_cpu(cmd, env, check)
    return wall, r


def _timed_cpu(cmd: list[str], env: dict, check: bool = True) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall seconds, CPU seconds (user + system, the child and its children) and the result."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed ({r.returncode}): {r.stderr.strip()[-400:]}")
    return wall, cpu, r


def _stats(samples: list[float]) -> dict:
    a = np.asarray(samples, float)
    return {"p50_s": round(float(np.median(a)), 3), "p95_s": round(float(np.percentile(a, 95)), 3),
            "min_s": round(float(a.min()), 3), "runs": len(a), "samples_s": [round(float(x), 3) for x in a]}


def _cad_item(work: Path, seed: int, env: dict) -> tuple[Path, Path, float]:
    """A generated item whose sketch the command reads (the first that gives a proposal), its
    model, and the time of that first (cold-cache) run."""
    from sketchforge.neural.synth.shards import GenerateConfig, generate
    items = work / "items"
    generate(items, GenerateConfig(count=4, seed=seed, step_sample=1.0, shard_size=4), workers=1, progress=False)
    for sk in sorted((items / "sketches").glob("*.sketch.json")):
        model = items / "steps" / f"{sk.name.split('.')[0]}-before.step"
        wall, r = _timed(_cad_cmd(model, sk, work), env, check=False)
        if r.returncode == 0:
            return sk, model, wall
    raise RuntimeError(f"none of the generated items (seed {seed}) was interpreted; try another --seed")


def _cad_cmd(model: Path, sketch: Path, work: Path) -> list[str]:
    return [str(EXE), "interpret", "--model", str(model), "--sketch", str(sketch),
            "--out", str(work / "cad.step"), "--report", str(work / "cad.json")]


def _face_cmd(sketch: Path, work: Path) -> list[str]:
    return [str(EXE), "interpret", "--sketch", str(sketch), "--out", str(work / "face.glb"),
            "--report", str(work / "face.json")]


def _head(seed: int, path: Path) -> Path:
    from sketchforge.neural.face.heads import sample_head
    from sketchforge.neural.face.sketches import head_sketch
    rng = np.random.default_rng(seed)
    head_sketch(sample_head(rng, "human"), rng, 256).sketch.save(path)
    return path


def _jittered(sketch: Path, folder: Path, n: int, seed: int) -> list[Path]:
    """`n` copies of a sketch file, each point moved by up to half a pixel (its own sketch)."""
    data = json.loads(sketch.read_text())
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        copy = json.loads(json.dumps(data))
        for st in copy["strokes"]:
            for p in st["points"]:
                p[0] = round(p[0] + float(rng.uniform(-0.5, 0.5)), 3)
                p[1] = round(p[1] + float(rng.uniform(-0.5, 0.5)), 3)
        path = folder / f"cad-{i:02d}.sketch.json"
        path.write_text(json.dumps(copy))
        out.append(path)
    return out


def _has_batch(env: dict) -> bool:
    r = subprocess.run([str(EXE), "interpret", "--help"], capture_output=True, text=True, env=env)
    return "--format" in r.stdout


def _batch(sketches: list[Path], model: Path | None, fmt: str, work: Path, env: dict, batch_form: bool) -> dict:
    """Per-sketch wall time inside the batch (reports' `seconds`) against the back end's own total."""
    outs, reports = work / "out", work / "reports"
    for d in (outs, reports):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    per, own, walls = [], [], []
    if batch_form:
        cmd = [str(EXE), "interpret", "--sketch", *map(str, sketches), "--out", str(outs), "--format", fmt,
               "--report", str(reports), "--quiet"] + (["--model", str(model)] if model else [])
        wall, _ = _timed(cmd, env, check=False)
        walls.append(wall)
    else:  # no batch form: one command per sketch
        for sk in sketches:
            name = sk.name.removesuffix(".sketch.json")
            cmd = [str(EXE), "interpret", "--sketch", str(sk), "--out", str(outs / f"{name}.{fmt}"),
                   "--report", str(reports / f"{name}.json")] + (["--model", str(model)] if model else [])
            wall, _ = _timed(cmd, env, check=False)
            walls.append(wall)
    for sk in sketches:
        rep = reports / f"{sk.name.removesuffix('.sketch.json')}.json"
        if rep.is_file():
            data = json.loads(rep.read_text())
            own.append(data["interpretation"]["stage_seconds"]["total"])
            per.append(data["seconds"] if batch_form else walls[sketches.index(sk)])
    if not per:
        raise RuntimeError("no sketch of the batch was interpreted")
    p, o = float(np.median(per)), float(np.median(own))
    return {"form": "one process" if batch_form else "one command per sketch", "sketches": len(sketches),
            "interpreted": len(per), "per_sketch": _stats(per), "backend_total": _stats(own),
            "ratio_p50": round(p / o, 3), "process_wall_s": round(float(sum(walls)), 3)}


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--label", default="after", help="which figures these are (before / after)")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=12, help="sketches per batch")
    ap.add_argument("--seed", type=int, default=424242)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    try:
        env = _env(work / "cache")
        load_before = _load()
        sk, model, cold = _cad_item(work, a.seed, env)
        face = _head(21, work / "head.sketch.json")
        series: dict[str, list[float]] = {"baseline": [], "cad": [], "face": []}
        cpu: dict[str, list[float]] = {k: [] for k in series}
        cmds = {"baseline": [str(PY), "-c", BASELINE], "cad": _cad_cmd(model, sk, work),
                "face": _face_cmd(face, work)}
        for name in ("baseline", "face"):  # warm-up (the CAD one ran in _cad_item)
            _timed(cmds[name], env)
        names = list(series)
        for run in range(a.runs):
            order = names[run % 3:] + names[:run % 3]
            for name in order:
                wall, used, _ = _timed_cpu(cmds[name], env)
                series[name].append(wall)
                cpu[name].append(used)
            print(f"run {run + 1}/{a.runs}: " + ", ".join(f"{n} {series[n][-1]:.2f} s" for n in names), flush=True)
        threads = subprocess.run([str(PY), "-c", "import torch; print(torch.get_num_threads())"],
                                 capture_output=True, text=True, env=env).stdout.strip()
        batch_form = _has_batch(env)
        cad_batch = _batch(_jittered(sk, work / "cad-sketches", a.batch, a.seed), model, "step", work, env, batch_form)
        (work / "face-sketches").mkdir()
        heads = [_head(100 + i, work / "face-sketches" / f"head-{i:02d}.sketch.json") for i in range(a.batch)]
        face_batch = _batch(heads, None, "glb", work, env, batch_form)
        summary = {k: _stats(v) for k, v in series.items()}
        cpu_summary = {k: _stats(v) for k, v in cpu.items()}
        base = summary["baseline"]["p50_s"]
        figures = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "machine": {**machine(), "torch_threads_default": threads,
                        "load_average_before": load_before, "load_average_after": _load()},
            "item": sk.name, "seed": a.seed,
            "single": summary,
            "ratio_to_baseline_p50": {k: round(summary[k]["p50_s"] / base, 3) for k in ("cad", "face")},
            # CPU seconds (user + system) of the same runs: far less moved by other work on the machine
            "cpu": cpu_summary,
            "cpu_ratio_to_baseline_p50": {k: round(cpu_summary[k]["p50_s"] / cpu_summary["baseline"]["p50_s"], 3)
                                          for k in ("cad", "face")},
            "cad_cold_cache_s": round(cold, 3),
            "batch": {"cad": cad_batch, "face": face_batch},
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    path = RESULTS / "cli.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    runs = old.get("runs", {}) if isinstance(old.get("runs"), dict) else {}
    runs[a.label] = figures
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"benchmark": "cli", "what": __doc__.split("\n\n")[0].strip(), "runs": runs},
                               indent=1))
    print(f"\n{a.label}: {a.runs} runs each, one process each (seconds; load average "
          f"{figures['machine']['load_average_before']} -> {figures['machine']['load_average_after']})")
    cbase = cpu_summary["baseline"]["p50_s"]
    print(f"{'':28}{'p50':>8}{'p95':>8}{'x base':>8}{'cpu p50':>9}{'x base':>8}")
    for k, label in (("baseline", "import torch, OCP, open3d"), ("cad", "interpret CAD"), ("face", "interpret face")):
        s, c = summary[k], cpu_summary[k]
        print(f"{label:28}{s['p50_s']:8.2f}{s['p95_s']:8.2f}{s['p50_s'] / base:8.2f}"
              f"{c['p50_s']:9.2f}{c['p50_s'] / cbase:8.2f}")
    print(f"{'CAD, empty FLOP cache':28}{cold:8.2f}")
    for k, b in figures["batch"].items():
        print(f"batch {k} ({b['form']}, {b['interpreted']}/{b['sketches']}): per sketch p50 "
              f"{b['per_sketch']['p50_s']:.3f} s, back end p50 {b['backend_total']['p50_s']:.3f} s, "
              f"ratio {b['ratio_p50']:.2f}")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
