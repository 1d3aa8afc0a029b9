"""Held-out evaluation of the `cad` interpretation: the network's maps, and whole interpretations.

    sketchforge-eval-cad --data data/test [--weights W] [--selector S] [--limit N] [--pipeline N]
                         [--workers 2] [--out results.json]

`--weights` defaults to the shipped standard network; `--selector` makes whole interpretations
read each sketch at the canvas the selector picks (the network part always reads the full canvas).

Two parts, both on a set made by `sketchforge-data generate` with a seed never used in training:

network   every item's stored input (the generator's own view and raster) through the network:
          operation accuracy with the confusion matrix, stitching-face IoU (sigmoid > 0.5 against
          the mask, mean over items), curve-role accuracy over stroke pixels (also per operation
          class with its role confusion, and along strokes after the fitting's vote along each
          stroke, `fit.stroke_runs`). Fast (batched).
pipeline  the first N items interpreted exactly as the app does it: the item's history is
          replayed into a `Session` (the model before the operation), the item's sketch file goes
          through the `cad` back end (framing, context renders, network, fitting), and the
          proposals are compared with the recorded operation applied to the same model:
            - the top proposal's operation (extrude, add, subtract, bevel, sweep) and its class;
            - the class the network gave the framed view (before fitting re-ranks);
            - relative size error and sign of the top proposal (`metrics.distance_error`);
            - volume IoU of the applied result against the truth, top proposal and best of the top 3
              (the lower proposals are scored only while none has reached the 0.95 threshold);
            - IoU of the changed region alone (`metrics.changed_iou`), which small operations need;
            - seconds per stage (view = framing + context renders, net, fit) and in total;
            - how much of the canvas the sketch spans (`sketch_span`): the summary gives every
              figure per class, overall, and per span bucket (`SPAN_BINS`).
          Items run in worker processes (one thread each), whole shards per process.

Writes the figures as JSON (`--out`) and prints a table. The benchmark `benchmarks/bench_cad.py`
runs this on the test sets and adds the timing and command-line replay figures.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from ..commands import Parser, run_command
from ..labels import CLASS_NAMES, OP_CLASS
from ..shardpool import spawn_pool

PROG = "sketchforge-eval-cad"
IOU_OK = 0.95
BODY = "body1"


class EvalError(ValueError):
    """A set or weight file evaluation cannot use; the message says what to do."""


def manifest(root: Path) -> dict:
    from ..synth.reading import DataError, read_manifest
    try:
        return read_manifest(root)
    except DataError as exc:
        raise EvalError(str(exc)) from None


# -- the network's maps ---------------------------------------------------------------------------
def evaluate_network(weights: Path, root: Path, limit: int | None = None, batch: int = 64,
                     strokes: bool = True) -> dict:
    """Operation accuracy + confusion, stitching-face IoU and role accuracy on the stored inputs.

    The curve roles are measured twice where the network has a stroke stage (`strokeroles.py`,
    used unless `strokes` is False): the image network's own pixel roles (`role_acc` and the
    figures beside it), and the roles the fitting reads, after the stage (`strokes`)."""
    import torch
    from torch.utils.data import default_collate

    from ..synth.dataset import ShardDataset
    from .backend import load_stroke_stage
    from .net import load_model
    from .strokeroles import stroke_stage_path
    from .train import evaluate

    model, extra = load_model(weights)
    model = model.to(memory_format=torch.channels_last)
    ds = ShardDataset(root, shuffle=False, seed=0)

    def batches() -> Iterator[dict]:
        buf: list[dict] = []
        seen = 0
        for item in ds:
            if limit is not None and seen >= limit:
                break
            buf.append(item)
            seen += 1
            if len(buf) == batch:
                yield default_collate(buf)
                buf = []
        if buf:
            yield default_collate(buf)

    stage = load_stroke_stage(weights) if strokes else None
    roles = _RoleFigures(root, stage)
    t = time.perf_counter()
    res = evaluate(model, batches(), on_batch=roles)
    res["seconds"] = round(time.perf_counter() - t, 1)
    res.update(roles.figures("network"))
    if stage is not None:
        res["strokes"] = {"weights": str(stroke_stage_path(weights)), **roles.figures("stage")}
    res["per_class_acc"] = [round(row[i] / max(sum(row), 1), 4) for i, row in enumerate(res["confusion"])]
    res.pop("score", None)
    return res


class _RoleFigures:
    """Curve-role figures of one set, for the image network's pixel roles and (with a stroke stage)
    the stage's: per class with the role confusion, where strokes of two roles touch and
    elsewhere, and along strokes as the fitting reads them (each stroke split into runs of one role
    by a vote along it, `fit.stroke_runs`, the same code the back end runs; every point of a run
    on a labelled stroke pixel counts right when the run's role is the label). The strokes are
    carried into the view the network reads (the item's framed camera)."""

    def __init__(self, root: Path, stage=None) -> None:
        from ..synth.reading import read_manifest
        self.recs = {r["item"]: r for shard in records(root) for r in shard}
        self.cameras: dict[int, np.ndarray] = {}
        for s in read_manifest(root)["shards"]:
            with np.load(root / s["npz"], allow_pickle=False) as z:
                self.cameras.update(zip(z["item"].tolist(), z["camera"]))
        self.stage = stage
        kinds = ("network", "stage") if stage is not None else ("network",)
        # per kind: per class truth role x predicted role (pixels); [pixels, right] near another
        # role (where the label says which stroke was drawn last rather than what the pixel is)
        # and clear of one; [points, right] along strokes
        self.confusion = {k: np.zeros((4, 3, 3), np.int64) for k in kinds}
        self.near = {k: np.zeros(2, np.int64) for k in kinds}
        self.clear = {k: np.zeros(2, np.int64) for k in kinds}
        self.along = {k: np.zeros(2, np.int64) for k in kinds}

    def __call__(self, batch: dict, out) -> None:
        from .strokes_train import batch_readings, view_strokes
        labels = batch["role"].numpy()
        read = batch_readings(out, batch["input"])
        for k, (item, c) in enumerate(zip(batch["item"].tolist(), batch["op_class"].tolist())):
            rec = self.recs.get(int(item))
            truth = labels[k]
            reading, net_roles = read[k]
            strokes = view_strokes(rec, self.cameras[int(item)], truth.shape[0]) if rec is not None else None
            maps = {"network": net_roles}
            if self.stage is not None and strokes is not None:
                maps["stage"] = self.stage.refine(strokes, reading, net_roles > 0, net_roles)[0]
            for kind, roles in maps.items():
                self._count(kind, int(c), truth, roles, strokes)

    def _count(self, kind: str, c: int, truth: np.ndarray, roles: np.ndarray, strokes) -> None:
        from .fit import polyline_runs
        on = truth > 0
        np.add.at(self.confusion[kind][c], (truth[on] - 1, np.clip(roles[on], 1, 3) - 1), 1)
        near = _near_other_role(truth)
        right = roles == truth
        for acc, sel in ((self.near[kind], on & near), (self.clear[kind], on & ~near)):
            acc += (int(sel.sum()), int((right & sel).sum()))
        if strokes is None:
            return
        h, w = truth.shape
        for run in polyline_runs(strokes, roles):
            iu = np.clip(np.floor(run.uv[:, 0]).astype(int), 0, w - 1)
            iv = np.clip(np.floor(run.uv[:, 1]).astype(int), 0, h - 1)
            t = truth[iv, iu]
            self.along[kind] += (int((t > 0).sum()), int((t[t > 0] == run.role).sum()))

    def figures(self, kind: str) -> dict:
        conf = self.confusion[kind]
        total = int(self.near[kind][0] + self.clear[kind][0])
        res = {"role_acc": round(float(np.trace(conf.sum(0)) / max(conf.sum(), 1)), 4),
               "stroke_role_acc": round(float(self.along[kind][1] / self.along[kind][0]), 4)
               if self.along[kind][0] else None,
               "role_confusion_per_class": {
                   "rows": "truth base, profile, offset", "columns": "predicted base, profile, offset",
                   **{CLASS_NAMES[c]: conf[c].tolist() for c in range(4)}},
               "role_acc_per_class": [None if conf[c].sum() == 0 else round(float(np.trace(conf[c]) / conf[c].sum()), 4)
                                      for c in range(4)]}
        if total:
            res.update({"role_near_other_px": NEAR_PX,
                        "role_near_other_share": round(float(self.near[kind][0] / total), 4),
                        "role_acc_near_other": round(float(self.near[kind][1] / max(self.near[kind][0], 1)), 4),
                        "role_acc_clear": round(float(self.clear[kind][1] / max(self.clear[kind][0], 1)), 4)})
        return res


NEAR_PX = 2  # a stroke pixel this close (Chebyshev, px) to another role's pixel is "near another role"


def _near_other_role(labels: np.ndarray) -> np.ndarray:
    """(H, W) bool: labelled stroke pixels within NEAR_PX of a pixel labelled with another role."""
    import cv2
    kernel = np.ones((2 * NEAR_PX + 1, 2 * NEAR_PX + 1), np.uint8)
    near = np.zeros(labels.shape, bool)
    for r in (1, 2, 3):
        here = labels == r
        if here.any():
            near |= (labels > 0) & ~here & (cv2.dilate(here.astype(np.uint8), kernel) > 0)
    return near


# -- whole interpretations ------------------------------------------------------------------------
def records(root: Path) -> list[list[dict]]:
    """The JSON records of every shard of a set, shard by shard."""
    from ..synth.reading import read_records
    return [read_records(root / s["jsonl"]) for s in manifest(root)["shards"]]


def _session_for(history: list[dict]):
    from sketchforge.modeling.session import Session
    session = Session()
    for step in history:
        session.apply(session.operations.get(step["op"]).from_params(step["params"]))
    return session


def interpret_item(backend, session, rec: dict, top_k: int = 3) -> dict:
    """One item through the back end, scored against its recorded operation. Never changes `session`."""
    from sketchforge.modeling.contract import Report
    from sketchforge.modeling.sketch import Sketch

    from .metrics import changed_iou, distance_error, sign_of, volume_iou

    gt = session.operations.get(rec["operation"]["op"]).from_params(rec["operation"]["params"])
    before = session.solid(BODY)
    truth = gt.apply(session.document.state).solid(BODY)
    sketch = Sketch.from_json(rec["sketch"])
    revision = session.document.revision
    try:
        result = backend.propose(sketch, session.context(sketch.camera), top_k=top_k)
        proposals, info, error = list(result.proposals), result.report, None
    except Exception as exc:  # noqa: BLE001 - counted as a failed item, the message is kept
        proposals, info, error = [], Report(), f"{type(exc).__name__}: {exc}"
    if session.document.revision is not revision:
        raise RuntimeError("interpreting changed the document")
    ious, changed = [], None
    for k, p in enumerate(proposals):
        if ious and max(ious) >= IOU_OK:
            break  # the top-3 figure only asks whether one reaches the threshold
        try:
            result = p.apply_to(session.document.state).solid(BODY)
        except Exception:  # noqa: BLE001 - proposals are validated when made; score 0 if one still fails
            ious.append(0.0)
            continue
        ious.append(volume_iou(result, truth))
        if k == 0:
            changed = changed_iou(before, truth, result)
    top = proposals[0].operation if proposals else None
    probs = info.details.get("class_probs")
    return {
        "item": rec["item"], "shard": rec["shard"], "class": int(rec["op_class"]), "op": gt.id,
        "proposals": [p.operation.id for p in proposals],
        "op_ok": bool(top is not None and top.id == gt.id),
        "class_ok": bool(top is not None and OP_CLASS[top.id] == OP_CLASS[gt.id]),
        "net_class": int(np.argmax(probs)) if probs is not None else None,
        "distance_error": distance_error(top, gt, before) if top is not None else math.nan,
        "sign_ok": None if sign_of(gt) is None else bool(top is not None and sign_of(top) == sign_of(gt)),
        "iou_top1": ious[0] if ious else 0.0,
        "iou_top3": max(ious) if ious else 0.0,
        "changed_iou_top1": changed if changed is not None else 0.0,
        "sketch_span": sketch_span(sketch),
        "seconds": {k: round(v, 5) for k, v in info.seconds.items()},
        "error": error,
    }


def sketch_span(sketch) -> float:
    """How much of its canvas a sketch covers: the longer side of its strokes' bounding box over
    the longer canvas side (a small operation on a whole-part view draws a few pixels)."""
    pts = [s.uv for s in sketch.strokes if len(s.points)]
    if not pts:
        return 0.0
    uv = np.concatenate(pts)
    return float(np.ptp(uv, axis=0).max() / max(sketch.width, sketch.height))


SPAN_BINS = (0.0, 0.12, 0.25, 1e9)  # sketch span buckets of the summary (share of the canvas)


def _shard_rows(args: tuple[str, str | None, int, int, int, str | None, bool]) -> list[dict]:
    root, weights, shard, first, count, selector, strokes = args
    from .backend import CadBackend
    backend = CadBackend(weights, selector, stroke_stage=strokes)
    from ..synth.reading import read_records
    recs = read_records(Path(root) / manifest(Path(root))["shards"][shard]["jsonl"])[first:first + count]
    from sketchforge.modeling.operations import OperationError
    rows: list[dict] = []
    cache: tuple[str, object] | None = None
    for rec in recs:
        key = json.dumps(rec["history"], sort_keys=True)
        try:
            if cache is None or cache[0] != key:
                cache = None
                cache = (key, _session_for(rec["history"]))
            rows.append(interpret_item(backend, cache[1], rec))
        except OperationError as exc:
            # The recorded history or operation does not replay here (the kernel refuses what it
            # accepted when the item was made): no truth to compare with, so the item is counted apart.
            rows.append({"item": rec["item"], "shard": rec["shard"], "class": int(rec["op_class"]),
                         "op": rec["operation"]["op"], "unreplayable": str(exc)})
    return rows


def evaluate_pipeline(root: Path, weights: Path | None = None, limit: int | None = None, workers: int = 2,
                      progress: bool = True, selector: Path | None = None, strokes: bool = True) -> list[dict]:
    """Rows of `interpret_item` for the first `limit` items (all when None), in item order; the
    network `weights` (default the back end's) read each sketch at the canvas `selector` picks
    (default the full canvas), with its stroke stage unless `strokes` is False."""
    m = manifest(root)
    jobs, left = [], limit if limit is not None else m["counts"]["items"]
    for k, s in enumerate(m["shards"]):
        if left <= 0:
            break
        n = min(int(s["items"]), left)
        # half shards keep both workers busy to the end of a short run
        step = max(8, (n + 1) // 2) if limit is not None and limit < 4 * 128 else n
        for first in range(0, n, step):
            jobs.append((str(root), str(weights) if weights else None, k, first, min(step, n - first),
                         str(selector) if selector else None, strokes))
        left -= n
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=sum(j[4] for j in jobs), unit="item", desc="interpreting", dynamic_ncols=True)
    results: dict[int, list[dict]] = {}
    try:
        if workers <= 1:
            for i, job in enumerate(jobs):
                results[i] = _shard_rows(job)
                if bar is not None:
                    bar.update(job[4])
        else:
            with spawn_pool(min(workers, len(jobs)), _one_thread) as pool:
                for i, rows in pool.imap(_indexed, list(enumerate(jobs))):
                    results[i] = rows
                    if bar is not None:
                        bar.update(len(rows))
    finally:
        if bar is not None:
            bar.close()
    return [r for i in sorted(results) for r in results[i]]


def _one_thread() -> None:
    import torch
    torch.set_num_threads(1)


def _indexed(job: tuple[int, tuple]) -> tuple[int, list[dict]]:
    return job[0], _shard_rows(job[1])


def summarise(rows: list[dict]) -> dict:
    """Figures of pipeline rows: overall, per class, and the confusion of the top proposal's class.
    Items whose recorded operation does not replay are left out and counted (`unreplayable`)."""
    skipped = [r for r in rows if "unreplayable" in r]
    rows = [r for r in rows if "unreplayable" not in r]
    def figures(sel: list[dict]) -> dict:
        if not sel:
            return {}
        err = np.array([r["distance_error"] for r in sel], float)
        signs = [r["sign_ok"] for r in sel if r["sign_ok"] is not None]
        net = [r["net_class"] == r["class"] for r in sel if r["net_class"] is not None]
        total = np.array([r["seconds"].get("total", 0.0) for r in sel]) * 1e3
        return {
            "items": len(sel),
            "top1_op_accuracy": _r(np.mean([r["op_ok"] for r in sel])),
            "top1_class_accuracy": _r(np.mean([r["class_ok"] for r in sel])),
            "network_class_accuracy": _r(np.mean(net)) if net else None,
            "median_rel_distance_error": _r(np.nanmedian(err)) if np.isfinite(err).any() else None,
            "distance_compared": int(np.isfinite(err).sum()),
            "sign_accuracy": _r(np.mean(signs)) if signs else None,
            "iou95_top1": _r(np.mean([r["iou_top1"] >= IOU_OK for r in sel])),
            "iou95_top3": _r(np.mean([r["iou_top3"] >= IOU_OK for r in sel])),
            "mean_iou_top1": _r(np.mean([r["iou_top1"] for r in sel])),
            "changed_iou_median": _r(np.median([r["changed_iou_top1"] for r in sel])),
            "changed_iou80_top1": _r(np.mean([r["changed_iou_top1"] >= 0.8 for r in sel])),
            "no_proposal": int(sum(not r["proposals"] for r in sel)),
            "errors": int(sum(r["error"] is not None for r in sel)),
            "ms_total_p50": round(float(np.median(total)), 1),
            "ms_total_p95": round(float(np.percentile(total, 95)), 1),
        }

    confusion = np.zeros((4, 5), np.int64)  # truth class x (predicted class, or 4: no proposal)
    for r in rows:
        confusion[r["class"], OP_CLASS[r["proposals"][0]] if r["proposals"] else 4] += 1
    stages = {}
    for stage in ("view", "net", "fit", "total"):
        ms = np.array([r["seconds"][stage] for r in rows if stage in r["seconds"]]) * 1e3
        if len(ms):
            stages[stage] = {"p50": round(float(np.median(ms)), 1), "p95": round(float(np.percentile(ms, 95)), 1)}
    by_span = {}
    for lo, hi in zip(SPAN_BINS[:-1], SPAN_BINS[1:]):
        sel = [r for r in rows if lo <= r.get("sketch_span", -1.0) < hi]
        if sel:
            by_span[f"{lo:g}-{hi:g}" if hi < 1e9 else f">={lo:g}"] = figures(sel)
    return {"all": figures(rows), "unreplayable": len(skipped), "per_sketch_span": by_span,
            "per_class": {CLASS_NAMES[c]: figures([r for r in rows if r["class"] == c]) for c in range(4)},
            "confusion_top1": {"rows": "truth " + ", ".join(CLASS_NAMES),
                               "columns": "top proposal " + ", ".join(CLASS_NAMES) + ", no proposal",
                               "counts": confusion.tolist()},
            "stage_ms": stages}


def _r(x) -> float:
    return round(float(x), 4)


def table(network: dict | None, pipeline: dict | None) -> str:
    lines = []
    if network:
        lines.append(f"network ({network['items']} items): operation {network['class_acc']:.4f}, "
                     f"stitching-face IoU {network['stitch_iou']:.4f}, curve roles {network['role_acc']:.4f}")
        if network.get("role_acc_per_class"):
            per = ", ".join(f"{n} {'-' if a is None else f'{a:.3f}'}"
                            for n, a in zip(CLASS_NAMES, network["role_acc_per_class"]))
            lines.append(f"  curve roles per class: {per}; along strokes as the fitting reads them: "
                         f"{_f(network.get('stroke_role_acc'))}")
        if network.get("role_near_other_share") is not None:
            lines.append(f"  curve roles where strokes of two roles touch (within {network['role_near_other_px']} px; "
                         f"{100 * network['role_near_other_share']:.1f}% of stroke pixels): "
                         f"{network['role_acc_near_other']:.3f}; elsewhere: {network['role_acc_clear']:.3f}")
        st = network.get("strokes")
        if st:
            per = ", ".join(f"{n} {'-' if a is None else f'{a:.3f}'}"
                            for n, a in zip(CLASS_NAMES, st["role_acc_per_class"]))
            lines.append(f"  with the stroke stage: curve roles {st['role_acc']:.4f} ({per}); where strokes of two "
                         f"roles touch {_f(st.get('role_acc_near_other'))}, elsewhere {_f(st.get('role_acc_clear'))}; "
                         f"along strokes as the fitting reads them {_f(st.get('stroke_role_acc'))}")
        lines.append("  confusion (rows truth, columns prediction: " + ", ".join(CLASS_NAMES) + ")")
        for name, row in zip(CLASS_NAMES, network["confusion"]):
            lines.append(f"  {name:13s} " + " ".join(f"{v:6d}" for v in row))
    if pipeline:
        head = (f"{'class':13s} {'n':>5s} {'op':>6s} {'class':>6s} {'net':>6s} {'dist':>6s} {'sign':>6s} "
                f"{'IoU1':>6s} {'IoU3':>6s} {'chg':>6s} {'p50ms':>6s} {'p95ms':>6s}")
        lines.append(head)
        spans = [(f"span {k}", v) for k, v in pipeline.get("per_sketch_span", {}).items()]
        for name, f in [*pipeline["per_class"].items(), ("all", pipeline["all"]), *spans]:
            if not f:
                continue
            lines.append(f"{name:13s} {f['items']:5d} {f['top1_op_accuracy']:6.3f} {f['top1_class_accuracy']:6.3f} "
                         f"{_f(f['network_class_accuracy'])} {_f(f['median_rel_distance_error'])} "
                         f"{_f(f['sign_accuracy'])} {f['iou95_top1']:6.3f} {f['iou95_top3']:6.3f} "
                         f"{f['changed_iou_median']:6.3f} {f['ms_total_p50']:6.1f} {f['ms_total_p95']:6.1f}")
        lines.append("  stages (ms): " + ", ".join(f"{k} p50 {v['p50']} p95 {v['p95']}"
                                                   for k, v in pipeline["stage_ms"].items()))
    return "\n".join(lines)


def _f(x) -> str:
    return f"{x:6.3f}" if x is not None else f"{'-':>6s}"


# -- command line ---------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description="Evaluate the cad interpretation on a held-out set (see the module docs).")
    p.add_argument("--data", required=True, type=Path, help="a set made by `sketchforge-data generate` (unseen seed)")
    p.add_argument("--weights", type=Path, default=None,
                   help="network weights (default: the shipped standard network)")
    p.add_argument("--selector", type=Path, default=None,
                   help="whole interpretations read each sketch at the canvas this selector picks")
    p.add_argument("--limit", type=int, default=None, help="network part: at most this many items (default all)")
    p.add_argument("--pipeline", type=int, default=None,
                   help="whole interpretations of the first N items (default all; 0 skips them)")
    p.add_argument("--workers", type=int, default=2, help="processes for the interpretations (one thread each)")
    p.add_argument("--out", type=Path, default=None, help="write the figures and per-item rows here (JSON)")
    p.add_argument("--no-strokes", action="store_true",
                   help="read the curve roles without the network's stroke stage (to compare)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def run(data: Path, weights: Path | None = None, limit: int | None = None, pipeline: int | None = None,
        workers: int = 2, progress: bool = True, selector: Path | None = None, strokes: bool = True) -> dict:
    """Both parts; the dictionary `--out` writes."""
    from .backend import WEIGHTS
    m = manifest(data)
    weights = Path(weights) if weights is not None else WEIGHTS
    if not weights.is_file():
        raise EvalError(f"no weight file at {weights}; train one with sketchforge-train-cad")
    if selector is not None and not Path(selector).is_file():
        raise EvalError(f"no selector weight file at {selector}; train one with sketchforge-train-selector")
    t = time.perf_counter()
    net = evaluate_network(weights, data, limit, strokes=strokes)
    rows = evaluate_pipeline(data, weights, pipeline, workers, progress, selector, strokes) if pipeline != 0 else []
    return {
        "data": {"path": str(data), "seed": m.get("seed"), "items": m["counts"]["items"],
                 "style_factor": m["config"].get("style_factor"), "size": m["size"][0]},
        "weights": str(weights), "selector": str(selector) if selector else None, "strokes": strokes,
        "iou_threshold": IOU_OK,
        "workers": workers,
        "network": net, "pipeline": summarise(rows) if rows else None, "rows": rows,
        "seconds": round(time.perf_counter() - t, 1),
    }


def main(argv: list[str] | None = None) -> int:
    return run_command(PROG, lambda: _main(argv), (EvalError, FileNotFoundError, ValueError))


def _main(argv: list[str] | None) -> int:
    a = _parser().parse_args(argv)
    if a.workers < 1:
        raise EvalError(f"--workers must be at least 1, got {a.workers}")
    res = run(a.data, a.weights, a.limit, a.pipeline, a.workers, not a.quiet, a.selector, not a.no_strokes)
    if a.out is not None:
        from sketchforge.modeling.files import atomic_write_bytes
        atomic_write_bytes(a.out, json.dumps(res, indent=1).encode("utf-8"))
    print(table(res["network"], res["pipeline"]))
    if a.out is not None:
        print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
