"""Light networks for live interpretation: the teacher, a student trained alone, the distilled
student, and the distilled student with canvas selectors, on the held-out test set.

    .venv/bin/python benchmarks/bench_lowflop.py [--test data/test] [--teacher W] [--alone W]
        [--alone-selectors S1,...] [--student W] [--selectors S1,S2,...] [--pipeline 600] [--timing 300]

The defaults are the shipped files under assets/cad/ (teacher, the standard network, student,
selector); `--alone` (the same student layout trained without the teacher) has no shipped file and
its row is left out without it. Per row:

- parameters (the selector's added where there is one);
- FLOPs per sketch, counted by `torch.utils.flop_counter`: the network at its canvas, or with a
  selector the mean over the test items of the chosen canvas's FLOPs plus the selector's own;
- CPU ms p50 of the network part as the app runs it: one thread, the selector's choice from the
  item's strokes (in the view the network reads) and `CadNet.predict` on the item's stored arrays;
  20 warm-up calls, then the median over `--timing` items, each run 3 times;
- operation accuracy, stitching-face IoU (mean over items) and curve-role accuracy (over all
  labelled stroke pixels) on every test item's stored input, read at the row's canvas;
- the share of the first `--pipeline` items whose top proposal (and the best of the top 3), applied
  to the model, reaches volume IoU >= 0.95: whole interpretations as the app runs them (framing,
  context renders, selector, network, fitting), in two worker processes.

Also the histogram of the canvas sizes each selector chose, every fixed canvas's figures for the
distilled student, and a plot (PNG) of operation accuracy against FLOPs for all rows. Writes
benchmarks/results/lowflop.json and benchmarks/results/lowflop.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.common import RESULTS, write  # noqa: E402
from sketchforge.modeling.files import atomic_write_bytes  # noqa: E402
from sketchforge.neural.cad.backend import NETWORKS  # noqa: E402
from sketchforge.neural.cad.evaluate import IOU_OK, evaluate_pipeline, summarise  # noqa: E402
from sketchforge.neural.cad.infer import CadNet  # noqa: E402
from sketchforge.neural.cad.net import count_flops, count_params, load_model  # noqa: E402
from sketchforge.neural.cad.select import item_figures, item_sequences  # noqa: E402
from sketchforge.neural.cad.strokeroles import stroke_stage_path  # noqa: E402
from sketchforge.neural.selector import CANVASES, count_selector_flops, load_selector, pad_sequences  # noqa: E402
from sketchforge.neural.synth.reading import read_manifest, read_shard  # noqa: E402
from sketchforge.neural.training import load_kept, save_kept  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WARMUP, REPEAT = 20, 3


def choices(selector, seqs: list[np.ndarray]) -> np.ndarray:
    """The canvas index the selector picks for each sequence (greedy)."""
    with torch.inference_mode():
        return np.concatenate([selector(*pad_sequences(seqs[i:i + 256])).argmax(1).numpy()
                               for i in range(0, len(seqs), 256)])


def figures(f: dict[str, np.ndarray], pick: np.ndarray) -> dict:
    """Network figures for the canvas column `pick[n]` of each item n."""
    n = np.arange(len(pick))
    return {"op_accuracy": float(f["class_ok"][n, pick].mean()),
            "stitch_iou": float(f["stitch_iou"][n, pick].mean()),
            "role_accuracy": float(f["roles_right"][n, pick].sum() / max(f["role_pixels"].sum(), 1))}


def test_arrays(root: Path, count: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(stroke, normal, depth) of the first `count` items, as `CadNet.predict` takes them."""
    out = []
    for shard in read_manifest(root)["shards"]:
        a = read_shard(root / shard["npz"])
        for i in range(len(a["item"])):
            out.append((a["stroke"][i], a["normal"][i].astype(np.float32), a["depth"][i]))
            if len(out) >= count:
                return out
    return out


def cpu_ms(net: CadNet, arrays: list, seqs: list[np.ndarray] | None, selector) -> dict:
    """Milliseconds of the network part per sketch (selector choice + prediction), one thread."""
    torch.set_num_threads(1)

    def once(k: int) -> None:
        canvas = selector.choose_sequence(seqs[k]) if selector is not None else None
        net.predict(*arrays[k], canvas=canvas)

    for k in range(WARMUP):
        once(k % len(arrays))
    samples = []
    for k in range(len(arrays)):
        for _ in range(REPEAT):
            t = time.perf_counter()
            once(k)
            samples.append((time.perf_counter() - t) * 1e3)
    a = np.asarray(samples)
    return {"p50_ms": round(float(np.median(a)), 3), "p95_ms": round(float(np.percentile(a, 95)), 3),
            "runs": len(a)}


CACHE = ROOT / "data" / "bench-cache"


def _key(*parts) -> str:
    """A cache key naming files by path, size and time, so changed weights are never reused."""
    import hashlib
    desc = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) if isinstance(p, Path) else p for p in parts]
    return hashlib.sha1(json.dumps(desc, default=str).encode()).hexdigest()[:16]


def cached_figures(model, weights: Path, test: Path, canvases: tuple[int, ...], limit: int | None) -> dict:
    key = _key(weights, test.resolve() / 'manifest.json', canvases, limit)
    path = CACHE / f"figures-{key}.npz"
    kept = load_kept(path, key)
    if kept is not None:
        return kept
    f = item_figures(model, test, canvases, limit)
    CACHE.mkdir(parents=True, exist_ok=True)
    save_kept(path, key, f)
    return f


def pipeline_share(test: Path, weights: Path, selector: Path | None, count: int, workers: int = 2) -> dict:
    torch.set_num_threads(2)
    t = time.perf_counter()
    stage = stroke_stage_path(weights)  # whole interpretations read the roles with it where there is one
    parts = (weights, selector, test.resolve() / 'manifest.json', count) + ((stage,) if stage.is_file() else ())
    path = CACHE / f"pipeline-{_key(*parts)}.json"
    if path.is_file():
        rows = json.loads(path.read_text())
    else:
        rows = evaluate_pipeline(test, weights, count, workers=workers, progress=False, selector=selector)
        CACHE.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, json.dumps(rows).encode("utf-8"))
    summary = summarise(rows)
    s = summary["all"]
    return {"items": s["items"], "iou95_top1": s["iou95_top1"], "iou95_top3": s["iou95_top3"],
            "op_accuracy": s["top1_op_accuracy"], "stage_ms": summary["stage_ms"],
            "seconds": round(time.perf_counter() - t, 1)}


def plot(rows: list[dict], path: Path) -> None:
    """Operation accuracy and the share of whole interpretations reaching IoU >= 0.95 against FLOPs,
    one point per row (squares: with a selector), named in one legend."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), dpi=110)
    colours = plt.get_cmap("tab10" if len(rows) <= 10 else "tab20").colors
    panels = [("operation accuracy (%)", lambda r: 100 * r["op_accuracy"]),
              ("whole interpretations with IoU >= 0.95, top-1 (%)",
               lambda r: 100 * r["pipeline"]["iou95_top1"] if r.get("pipeline") else None)]
    for ax, (label, value) in zip(axes, panels):
        for k, r in enumerate(rows):
            y = value(r)
            if y is not None:
                ax.scatter(r["flops"] / 1e6, y, marker="s" if r["selector"] else "o", s=48,
                           color=colours[k % len(colours)], label=r["name"], edgecolors="black", linewidths=0.4)
        ax.set_xscale("log")
        ax.set_xlabel("MFLOPs per sketch (log; expected value with a selector)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8, frameon=False)
    fig.suptitle("CAD interpretation on the test set: accuracy against FLOPs")
    fig.tight_layout(rect=(0, 0, 0.79, 1))
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--test", type=Path, default=ROOT / "data" / "test")
    p.add_argument("--teacher", type=Path, default=NETWORKS["reference"][0])
    p.add_argument("--standard", type=Path, default=NETWORKS["standard"][0], help="the app's default network")
    p.add_argument("--alone", type=Path, default=None, help="the student layout trained without a teacher")
    p.add_argument("--student", type=Path, default=NETWORKS["light"][0])
    p.add_argument("--selectors", default=str(NETWORKS["light"][1]), help="comma-separated selector files")
    p.add_argument("--alone-selectors", default="", help="comma-separated selector files trained for --alone")
    p.add_argument("--pipeline", type=int, default=600, help="whole interpretations of the first N items")
    p.add_argument("--timing", type=int, default=300, help="items timed for CPU ms")
    p.add_argument("--limit", type=int, default=None, help="network figures on the first N items (default all)")
    p.add_argument("--prefetch", action="store_true",
                   help="only compute (and cache under data/bench-cache) the rows' network figures and "
                        "whole interpretations without a selector, one process, no timing")
    p.add_argument("--plot-only", action="store_true",
                   help="draw the plot again from the last results, measuring nothing")
    a = p.parse_args()
    if a.plot_only:
        rows = json.loads((RESULTS / "lowflop.json").read_text())["rows"]
        plot(rows, RESULTS / "lowflop.png")
        print(f"drew {RESULTS / 'lowflop.png'} from {RESULTS / 'lowflop.json'}")
        return
    t0 = time.perf_counter()
    torch.set_num_threads(2)
    selectors = [Path(s) for s in a.selectors.split(",") if s.strip()]
    alone_selectors = [Path(s) for s in a.alone_selectors.split(",") if s.strip()]
    if alone_selectors and a.alone is None:
        p.error("--alone-selectors needs --alone (the student they were trained for)")
    specs = [("teacher", a.teacher, None)]
    if a.standard is not None and a.standard.is_file():
        specs.append(("standard network", a.standard, None))
    if a.alone is not None:
        specs.append(("student alone", a.alone, None))
    for s in alone_selectors:
        sel, extra = load_selector(s)
        specs.append((f"alone + selector ({extra.get('tradeoff', sel.config.tradeoff)})", a.alone, s))
    specs.append(("distilled student", a.student, None))
    for s in selectors:
        sel, extra = load_selector(s)
        specs.append((f"distilled + selector ({extra.get('tradeoff', sel.config.tradeoff)})", a.student, s))

    figs: dict[Path, dict] = {}
    models: dict[Path, torch.nn.Module] = {}
    for _, w, _ in specs:
        if w not in figs:
            model, _ = load_model(w)
            models[w] = model.eval().to(memory_format=torch.channels_last)
            t = time.perf_counter()
            figs[w] = cached_figures(models[w], w, a.test, CANVASES if w in (a.student, a.alone) else (128,), a.limit)
            print(f"scored {w} in {time.perf_counter() - t:.0f} s", flush=True)
    if a.prefetch:
        for name, w, s in specs:
            if s is None and a.pipeline:
                pipeline_share(a.test, w, None, a.pipeline, workers=1)
                print(f"{name}: whole interpretations cached", flush=True)
        return
    items = figs[a.student]["items"]
    seqs = item_sequences(a.test, items) if selectors or alone_selectors else None
    arrays = test_arrays(a.test, a.timing)

    rows, histograms = [], {}
    for name, w, s in specs:
        model, f = models[w], figs[w]
        canv = CANVASES if w in (a.student, a.alone) else (128,)
        flops = [count_flops(model, c) for c in canv]
        row = {"name": name, "weights": str(w), "selector": str(s) if s else None, "params": count_params(model)}
        sel = None
        if s is None:
            pick = np.full(len(f["items"]), canv.index(128))
            row["flops"] = flops[pick[0]]
        else:
            sel, _ = load_selector(s)
            pick = choices(sel, seqs)
            own = np.mean([count_selector_flops(sel, len(q)) for q in seqs])
            row["params"] += count_params(sel)
            row["flops"] = float(np.mean(np.asarray(flops)[pick]) + own)
            row["selector_flops"] = float(own)
            histograms[name] = {str(c): int((pick == k).sum()) for k, c in enumerate(canv)}
            row["histogram"] = histograms[name]
        row.update(figures(f, pick))
        row["cpu"] = cpu_ms(CadNet(model), arrays, seqs[:len(arrays)] if sel is not None else None, sel)
        print(f"{name}: {row['flops'] / 1e6:.1f} MFLOPs, op {row['op_accuracy']:.4f}, "
              f"{row['cpu']['p50_ms']:.2f} ms", flush=True)
        if a.pipeline:
            row["pipeline"] = pipeline_share(a.test, w, s, a.pipeline)
            print(f"  pipeline: IoU>={IOU_OK} top-1 {row['pipeline']['iou95_top1']:.4f}", flush=True)
        rows.append(row)

    per_canvas = {name: {str(c): {**figures(figs[w], np.full(len(items), k)), "flops": count_flops(models[w], c)}
                         for k, c in enumerate(CANVASES)}
                  for name, w in (("distilled student", a.student), ("student alone", a.alone)) if w is not None}
    teacher = next(r for r in rows if r["name"] == "teacher")
    distilled = next(r for r in rows if r["name"] == "distilled student")
    alone = next((r for r in rows if r["name"] == "student alone"), None)
    base = {a.student: distilled, a.alone: alone}  # each selector against the student it chooses for
    targets = {
        "student_flops_saved": 1 - distilled["flops"] / teacher["flops"],
        "student_op_loss_points": 100 * (teacher["op_accuracy"] - distilled["op_accuracy"]),
        "alone_flops_saved": 1 - alone["flops"] / teacher["flops"] if alone else None,
        "alone_op_loss_points": 100 * (teacher["op_accuracy"] - alone["op_accuracy"]) if alone else None,
        "selectors": {r["name"]: {"flops_saved_of_student": 1 - r["flops"] / base[Path(r["weights"])]["flops"],
                                  "op_loss_points": 100 * (base[Path(r["weights"])]["op_accuracy"] - r["op_accuracy"]),
                                  "cpu_p50_ms": r["cpu"]["p50_ms"]}
                      for r in rows if r["selector"]},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    png = RESULTS / "lowflop.png"
    plot(rows, png)
    path = write("lowflop", {
        "test": {"path": str(a.test), "items": int(len(items)), "seed": read_manifest(a.test).get("seed")},
        "pipeline_items": a.pipeline, "timing_items": len(arrays), "threads_timing": 1,
        "rows": rows, "per_canvas": per_canvas, "targets": targets, "plot": str(png.relative_to(ROOT)),
        "seconds": round(time.perf_counter() - t0, 1),
    })
    print(table(rows))
    print(f"wrote {path} and {png}")


def table(rows: list[dict]) -> str:
    head = ("| row | params | MFLOPs/sketch | CPU ms p50 | operation | stitching IoU | curve roles | "
            "IoU>=0.95 top-1 | top-3 |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    lines = [head]
    for r in rows:
        pl = r.get("pipeline") or {}
        lines.append(f"| {r['name']} | {r['params']:,} | {r['flops'] / 1e6:.1f} | {r['cpu']['p50_ms']:.2f} | "
                     f"{100 * r['op_accuracy']:.1f}% | {r['stitch_iou']:.3f} | {100 * r['role_accuracy']:.1f}% | "
                     + (f"{100 * pl['iou95_top1']:.1f}% | {100 * pl['iou95_top3']:.1f}% |" if pl else "– | – |"))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
