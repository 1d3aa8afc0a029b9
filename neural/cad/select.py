"""`sketchforge-train-selector`: a canvas selector for a CAD student network.

    sketchforge-train-selector --student W --data data/train --val data/val --out S.safetensors \
        [--tradeoff 0.3] [--canvases 32,48,64,96,128] [--epochs 30] [--seed 0] [--limit N] [--baseline sketch|batch]

1. The frozen student reads every item of both sets at every canvas size; each item's task score
   at each size is the mean of: operation class right (0 / 1), stitching-face IoU, and curve-role
   accuracy on its stroke pixels. The tables are kept beside the output (`S.scores-<set>.npz`,
   tied to the student file's size and time) so another trade-off trains in seconds.
2. Each item's strokes are carried into the view the network reads (the framed camera stored with
   the item, `framing.carry`) and turned into the selector's point sequence.
3. REINFORCE on the training table (`neural/selector.py`), then the greedy policy's figures on the
   validation table: expected FLOPs, mean score, the histogram of chosen sizes, beside every fixed
   size. They go to `S.json` and into the weight file's metadata.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

from sketchforge.modeling.files import atomic_write_bytes
from sketchforge.modeling.sketch import Sketch

from ..commands import Parser, run_command
from ..framing import carry
from ..selector import CANVASES, SelectorConfig, policy_figures, save_selector, stroke_sequence, train_selector
from ..synth.dataset import ShardDataset
from ..synth.reading import DataError, arrays_camera, read_manifest, read_records, read_shard
from ..training import load_kept, save_kept
from .net import CadUNet, at_canvas, count_flops, load_model, to_size, use_canvas
from .train import stitch_iou

log = logging.getLogger(__name__)
PROG = "sketchforge-train-selector"


class SelectError(ValueError):
    """Settings or files the selector training cannot work with; the message says what to do."""


@torch.inference_mode()
def item_figures(model: CadUNet, root: Path, canvases: tuple[int, ...], limit: int | None = None,
                 batch: int = 64) -> dict[str, np.ndarray]:
    """`model` reading the items of `root` at each canvas: item ids (N,), and per item and canvas
    (N, K) whether the operation class is right, the stitching-face IoU, and the curve-role pixels
    right out of `role_pixels` (N,) labelled stroke pixels."""
    model.eval()
    loader = torch.utils.data.DataLoader(ShardDataset(root, shuffle=False), batch_size=batch)
    parts: dict[str, list[np.ndarray]] = {"items": [], "class_ok": [], "stitch_iou": [], "roles_right": [],
                                          "role_pixels": []}
    for b in loader:
        x = b["input"].contiguous(memory_format=torch.channels_last)
        on = b["role"] > 0
        cls, iou, right = [], [], []
        for c in canvases:
            out = to_size(use_canvas(model, c)(at_canvas(x, c)), tuple(x.shape[-2:]))
            cls.append((out.class_logits.argmax(1) == b["op_class"]).numpy())
            iou.append(stitch_iou(out, b).numpy())
            right.append(((1 + out.role_logits[:, 1:].argmax(1) == b["role"]) & on).sum(dim=(1, 2)).numpy())
        parts["items"].append(b["item"].numpy())
        parts["class_ok"].append(np.stack(cls, axis=1))
        parts["stitch_iou"].append(np.stack(iou, axis=1))
        parts["roles_right"].append(np.stack(right, axis=1))
        parts["role_pixels"].append(on.sum(dim=(1, 2)).numpy())
        if limit is not None and sum(len(i) for i in parts["items"]) >= limit:
            break
    use_canvas(model, None)
    return {k: np.concatenate(v)[:limit] for k, v in parts.items()}


def item_scores(model: CadUNet, root: Path, canvases: tuple[int, ...], limit: int | None = None,
                batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Item ids (N,) and task scores (N, K) of `model` reading the items of `root` at each canvas:
    the mean of the operation class right (0 / 1), the stitching-face IoU and the share of the
    item's curve-role pixels right (1 for an item with none)."""
    f = item_figures(model, root, canvases, limit, batch)
    pixels = f["role_pixels"][:, None]
    roles = np.where(pixels > 0, f["roles_right"] / np.maximum(pixels, 1), 1.0)
    return f["items"], (f["class_ok"] + f["stitch_iou"] + roles) / 3.0


def item_sequences(root: Path, items: np.ndarray) -> list[np.ndarray]:
    """The selector's input for each item: its strokes as seen in the view the network reads."""
    manifest = _one_set(root)
    wanted = {int(i) for i in items}
    seqs: dict[int, np.ndarray] = {}
    for shard in manifest["shards"]:
        recs = read_records(root / shard["jsonl"])
        if not any(int(r["item"]) in wanted for r in recs):
            continue
        arrays = read_shard(root / shard["npz"])
        size = int(arrays["stroke"].shape[-1])
        for i, rec in enumerate(recs):
            if int(rec["item"]) not in wanted:
                continue
            sketch = Sketch.from_json(rec["sketch"])
            view = arrays_camera(arrays["camera"][i], sketch.camera)
            strokes = [carry(sketch.camera, view, s.uv, sketch.width, sketch.height, size)
                       for s in sketch.strokes if len(s.points)]
            seqs[int(rec["item"])] = stroke_sequence(strokes, size, size)
    missing = wanted - set(seqs)
    if missing:
        raise SelectError(f"{len(missing)} items of {root} have no record; make the set again")
    return [seqs[int(i)] for i in items]


def _one_set(root: Path) -> dict:
    """The manifest of a set made in one go: the records are found by item number, and the item
    numbers of a merged set's sets repeat."""
    manifest = read_manifest(root)
    if len(manifest.get("sources", ())) > 1:
        raise SelectError(f"{root} merges {len(manifest['sources'])} sets whose item numbers repeat; "
                          "give one of them (its folder is listed under 'sources' in the manifest)")
    return manifest


def _table(model: CadUNet, student: Path, root: Path, canvases: tuple[int, ...], limit: int | None,
           cache: Path) -> tuple[np.ndarray, np.ndarray]:
    st = student.stat()
    key = {"student": str(student.resolve()), "bytes": st.st_size, "mtime": st.st_mtime_ns,
           "data": str(root.resolve()), "canvases": list(canvases), "limit": limit}
    kept = load_kept(cache, json.dumps(key))
    if kept is not None:
        return kept["items"], kept["scores"]
    t = time.perf_counter()
    items, scores = item_scores(model, root, canvases, limit)
    log.info("scored %d items of %s at %d canvases in %.0f s", len(items), root, len(canvases), time.perf_counter() - t)
    save_kept(cache, json.dumps(key), {"items": items, "scores": scores})
    return items, scores


def run(student: Path, data: Path, val: Path, out: Path, tradeoff: float, canvases: tuple[int, ...] = CANVASES,
        epochs: int = 30, seed: int = 0, limit: int | None = None, baseline: str = "sketch") -> dict:
    for root in (data, val):
        try:
            _one_set(root)
        except DataError as exc:
            raise SelectError(str(exc)) from None
    model, _ = load_model(student)
    model = model.to(memory_format=torch.channels_last)
    flops = [count_flops(model, c) for c in canvases]
    train_items, train_scores = _table(model, student, data, canvases, limit, out.with_suffix(".scores-train.npz"))
    val_items, val_scores = _table(model, student, val, canvases, limit, out.with_suffix(".scores-val.npz"))
    train_seqs, val_seqs = item_sequences(data, train_items), item_sequences(val, val_items)
    config = SelectorConfig(canvases=tuple(canvases), tradeoff=tradeoff)
    t = time.perf_counter()
    selector = train_selector(train_seqs, train_scores, flops, tradeoff, config=config, epochs=epochs, seed=seed,
                              progress=lambda e, r: log.info("epoch %d: mean reward %.4f", e, r), baseline=baseline)
    report = {"student": str(student), "data": str(data), "val": str(val), "tradeoff": tradeoff,
              "canvases": list(canvases), "flops": flops, "epochs": epochs, "seed": seed, "baseline": baseline,
              "train_seconds": round(time.perf_counter() - t, 1),
              "validation": policy_figures(selector, val_seqs, val_scores, flops)}
    save_selector(selector, out, extra=report)
    atomic_write_bytes(out.with_suffix(".json"), (json.dumps(report, indent=1) + "\n").encode("utf-8"))
    return report


def main(argv: list[str] | None = None) -> int:
    return run_command(PROG, lambda: _main(argv), (SelectError, FileNotFoundError, ValueError), log_progress=True)


def _main(argv: list[str] | None) -> int:
    p = Parser(prog=PROG, description="Train a canvas selector for a CAD student network (REINFORCE).")
    p.add_argument("--student", required=True, type=Path,
                   help="the student's weight file (trained at several canvases)")
    p.add_argument("--data", required=True, type=Path, help="training set (sketchforge-data generate)")
    p.add_argument("--val", required=True, type=Path, help="validation set (another seed)")
    p.add_argument("--out", required=True, type=Path, help="selector weight file to write (.safetensors)")
    p.add_argument("--tradeoff", type=float, default=0.3, help="0: best reading at any cost .. 1: cheapest canvas")
    p.add_argument("--canvases", default=",".join(str(c) for c in CANVASES), help="sizes to choose from")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="use only the first N items of each set")
    p.add_argument("--baseline", choices=("sketch", "batch"), default="sketch",
                   help="REINFORCE's baseline: each sketch's expected reward, or the batch's mean reward")
    a = p.parse_args(argv)
    try:
        canvases = tuple(sorted({int(c) for c in a.canvases.split(",") if c.strip()}))
    except ValueError:
        raise SelectError(f"--canvases takes sizes like 32,48,64,96,128, got {a.canvases!r}") from None
    if any(c < 16 or c % 16 for c in canvases) or len(canvases) < 2:
        raise SelectError(f"--canvases takes two or more multiples of 16, got {a.canvases!r}")
    if not 0.0 <= a.tradeoff <= 1.0:
        raise SelectError(f"--tradeoff must lie in 0..1, got {a.tradeoff}")
    report = run(a.student, a.data, a.val, a.out, a.tradeoff, canvases, a.epochs, a.seed, a.limit, a.baseline)
    v = report["validation"]
    print(f"validation ({v['items']} items): mean score {v['score_mean']:.4f} at {v['flops_mean'] / 1e6:.1f} MFLOPs "
          f"(largest canvas: {v['largest']['score_mean']:.4f} at {v['largest']['flops'] / 1e6:.1f} MFLOPs); "
          f"chosen sizes {v['histogram']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
