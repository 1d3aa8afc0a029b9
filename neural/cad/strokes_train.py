"""`sketchforge-train-cad-strokes`: the stroke stage of the curve roles (`strokeroles.py`) for one
trained image network.

    sketchforge-train-cad-strokes --data data/strokes8 --val data/val --out data/runs/strokes-v1 \
        [--weights assets/cad/cadnet.safetensors] [--epochs 40] [--batch 64] [--lr 2e-3] [--seed 0]
        [--canvases 48,64]

1. The image network reads every item of both sets (`--data` should be a set it never trained on:
   its readings of its own training items are better than those the stage will meet). Each
   item's strokes are carried into the view the network reads (the framed camera stored with the
   item), cut into pieces, and each piece gets its features and its label (the majority of the
   labelled pixels under it). The tables are kept in the run folder (`pieces-<set>.npz`, tied to
   the image network's hash) so a second run trains at once. A light network read live at the
   canvas its selector picks is read here at `--canvases` in turn (batch by batch), so the stage
   learns from the readings it will be given.
2. The stage trains on the pieces with the cross-entropy weighted by each piece's labelled pixels
   (the figure that counts is pixel accuracy), AdamW, warm-up and cosine decay, seeded. Every
   epoch it is validated: the image network's pixel roles against the stage's, painted back onto
   the ink. The best epoch is `best.safetensors`; rerunning the same command continues a run
   from its checkpoint, and early stopping ends it after `--patience` epochs without a better one.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from sketchforge.modeling.sketch import Sketch

from ..commands import Parser, run_command
from ..framing import carry
from ..synth.dataset import sample_arrays
from ..synth.reading import DataError, arrays_camera, read_manifest, read_records, read_shard
from ..training import StopRequest, file_digest, learning_rate, load_checkpoint, load_kept, save_checkpoint, save_kept
from ..weights import WeightsError
from .net import CadUNet, at_canvas, load_model, to_size, use_canvas
from .strokeroles import (
    FEATURES,
    KIND,
    Reading,
    StageConfig,
    StrokeRoleNet,
    piece_features,
    piece_labels,
    save_stage,
    stroke_pieces,
)

log = logging.getLogger(__name__)
PROG = "sketchforge-train-cad-strokes"
DEFAULT_STAGE = StageConfig()  # the stage's default shape; frozen, so one shared instance serves as a default


class StrokesError(ValueError):
    """Settings or files the stage's training cannot work with; the message says what to do."""


# -- reading a set ----------------------------------------------------------------------------------
def view_strokes(rec: dict, camera_row: np.ndarray, size: int) -> list[np.ndarray]:
    """An item's strokes in the pixels of the view the network reads (its arrays' framed camera)."""
    sketch = Sketch.from_json(rec["sketch"])
    view = arrays_camera(camera_row, sketch.camera)
    return [carry(sketch.camera, view, s.uv, sketch.width, sketch.height, size)
            for s in sketch.strokes if len(s.points)]


def readings(model: CadUNet, x: torch.Tensor, canvas: int | None = None) -> list[tuple[Reading, np.ndarray]]:
    """The image network's reading of a batch of inputs (B, 5, H, W): per item the `Reading` and
    its pixel roles on the ink (H, W) uint8. With `canvas`, the inputs are read at that raster size
    (`net.at_canvas`, with that size's batch statistics) and the maps scaled back to (H, W), as the
    app reads a sketch at the canvas its selector chose."""
    use_canvas(model, canvas)
    with torch.inference_mode():
        out = model(at_canvas(x.contiguous(memory_format=torch.channels_last), canvas))
    return batch_readings(to_size(out, tuple(x.shape[-2:])), x)


def batch_readings(out, x: torch.Tensor) -> list[tuple[Reading, np.ndarray]]:
    """`readings` from the network's outputs `out` for the inputs `x` (B, 5, H, W)."""
    cls = torch.softmax(out.class_logits, 1).numpy()
    stitch = torch.sigmoid(out.stitch_logits[:, 0]).numpy()
    logits = out.role_logits.permute(0, 2, 3, 1).numpy()
    xs = x.numpy()
    res = []
    for k in range(len(xs)):
        ink = xs[k, 0] < 1.0
        roles = np.where(ink, 1 + logits[k, ..., 1:].argmax(-1), 0).astype(np.uint8)
        res.append((Reading.from_logits(logits[k], stitch[k], cls[k], xs[k]), roles))
    return res


def read_set(model: CadUNet, root: Path, limit: int | None = None, batch: int = 64,
             canvases: tuple[int, ...] | None = None) -> Iterator[dict]:
    """Per item of `root` (in order): item id, class, the true roles (H, W), the network's pixel
    roles, its `Reading`, and the strokes in the view. With `canvases`, the batches are read at
    those raster sizes in turn (`readings`); otherwise at the set's own size."""
    model.eval()
    seen = batches = 0
    for shard in read_manifest(root)["shards"]:
        recs = read_records(root / shard["jsonl"])
        arrays = read_shard(root / shard["npz"])
        size = int(arrays["stroke"].shape[-1])
        for first in range(0, len(recs), batch):
            idx = list(range(first, min(first + batch, len(recs))))
            if limit is not None:
                idx = idx[:max(0, limit - seen)]
            if not idx:
                return
            samples = [sample_arrays(arrays, i) for i in idx]
            x = torch.from_numpy(np.stack([s["input"] for s in samples]))
            canvas = canvases[batches % len(canvases)] if canvases else None
            batches += 1
            for i, s, (reading, roles) in zip(idx, samples, readings(model, x, canvas)):
                yield {"item": int(arrays["item"][i]), "op_class": int(s["op_class"]), "truth": arrays["role"][i],
                       "roles": roles, "reading": reading,
                       "strokes": view_strokes(recs[i], arrays["camera"][i], size)}
            seen += len(idx)


def piece_table(model: CadUNet, root: Path, limit: int | None = None,
                canvases: tuple[int, ...] | None = None) -> dict[str, np.ndarray]:
    """Features, labels and pixel weights of every piece of every item of `root`, with the items'
    bounds (`offsets`), ids and classes, and the network's pixel roles right / labelled per item
    (the network reading at `canvases` in turn, as `read_set`)."""
    feats, labels, weights, offsets, items, classes, right, pixels = [], [], [], [0], [], [], [], []
    for it in read_set(model, root, limit, canvases=canvases):
        pieces = stroke_pieces(it["strokes"], it["truth"].shape[0])
        lab, w = piece_labels(pieces, it["truth"])
        feats.append(piece_features(pieces, it["reading"]))
        labels.append(lab)
        weights.append(w)
        offsets.append(offsets[-1] + len(pieces))
        items.append(it["item"])
        classes.append(it["op_class"])
        on = it["truth"] > 0
        right.append(int((it["roles"][on] == it["truth"][on]).sum()))
        pixels.append(int(on.sum()))
    if len(items) == 0:
        raise StrokesError(f"{root} holds no items")
    return {"feats": np.concatenate(feats).astype(np.float32), "labels": np.concatenate(labels),
            "weights": np.concatenate(weights), "offsets": np.asarray(offsets, np.int64),
            "items": np.asarray(items, np.int64), "op_class": np.asarray(classes, np.int64),
            "net_right": np.asarray(right, np.int64), "pixels": np.asarray(pixels, np.int64)}


def cached_table(model: CadUNet, digest: str, root: Path, run: Path, name: str, limit: int | None,
                 canvases: tuple[int, ...] | None = None) -> dict[str, np.ndarray]:
    """`piece_table`, kept in `run/pieces-<name>.npz` for the same image network, set, limit and canvases."""
    path = run / f"pieces-{name}.npz"
    key = {"weights": digest, "root": str(Path(root).resolve()), "limit": limit,
           "items": read_manifest(root).get("count")}
    if canvases:
        key["canvases"] = list(canvases)
    key = json.dumps(key)
    kept = load_kept(path, key)
    if kept is not None:
        return kept
    t = time.perf_counter()
    table = piece_table(model, root, limit, canvases)
    log.info("%s: %d items, %d pieces read in %.0f s", root, len(table["items"]), len(table["labels"]),
             time.perf_counter() - t)
    save_kept(path, key, table)
    return table


# -- training ---------------------------------------------------------------------------------------
def _batch(table: dict[str, np.ndarray], which: np.ndarray, rng: np.random.Generator | None = None,
           reorder_p: float = 0.0) -> tuple[torch.Tensor, ...]:
    """Padded (B, S, F) features, (B, S) padding mask, labels (-1 on padding) and weights; with
    `rng`, the pieces of each sketch `reorder`ed with probability `reorder_p`."""
    off = table["offsets"]
    n = int(max(off[i + 1] - off[i] for i in which))
    b = len(which)
    feats = np.zeros((b, max(n, 1), FEATURES), np.float32)
    pad = np.ones((b, max(n, 1)), bool)
    lab = np.full((b, max(n, 1)), -1, np.int64)
    w = np.zeros((b, max(n, 1)), np.float32)
    for r, i in enumerate(which):
        a, z = off[i], off[i + 1]
        f = table["feats"][a:z]
        feats[r, :z - a] = reorder(f, np.array([0, z - a]), rng, reorder_p) if rng is not None and reorder_p > 0 else f
        pad[r, :z - a] = False
        lab[r, :z - a] = table["labels"][a:z]
        w[r, :z - a] = table["weights"][a:z]
    return torch.from_numpy(feats), torch.from_numpy(pad), torch.from_numpy(lab), torch.from_numpy(w)


# feature columns (`strokeroles.piece_features`) that depend on the order and direction of drawing
_STROKE_RANK, _PIECE_RANK, _PIECE_COUNT = 28, 29, 30
_ENDS_SWAP = [(16, 18), (17, 19), (26, 27), (32, 34), (33, 35)]  # start <-> end


def reorder(feats: np.ndarray, offsets: np.ndarray, rng: np.random.Generator, p: float) -> np.ndarray:
    """Training augmentation: each sketch's pieces as if its strokes had been drawn in another
    order (with probability `p`) and each stroke the other way round (with probability `p` per
    stroke). People do not draw in the order the generator does; the stage should not lean on it."""
    out = feats.copy()
    for a, z in zip(offsets[:-1], offsets[1:]):
        f = out[a:z]
        ranks = np.unique(f[:, _STROKE_RANK])
        if len(ranks) > 1 and rng.random() < p:
            f[:, _STROKE_RANK] = ranks[rng.permutation(len(ranks))][np.searchsorted(ranks, f[:, _STROKE_RANK])]
        for r in ranks:
            if rng.random() >= p:
                continue
            mine = f[:, _STROKE_RANK] == r
            for i, j in _ENDS_SWAP:
                f[mine, i], f[mine, j] = f[mine, j].copy(), f[mine, i].copy()
            several = mine & (f[:, _PIECE_COUNT] > 0.1 + 1e-6)
            f[several, _PIECE_RANK] = 1.0 - f[several, _PIECE_RANK]
    return out


def _loss(model: StrokeRoleNet, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    feats, pad, lab, w = batch
    logits = model(feats, pad)
    ok = lab >= 0
    ce = torch.nn.functional.cross_entropy(logits[ok], lab[ok], reduction="none")
    return (ce * w[ok]).sum() / w[ok].sum().clamp_min(1.0)


def piece_accuracy(model: StrokeRoleNet, table: dict[str, np.ndarray], batch: int = 256) -> dict:
    """Labelled pixels under pieces whose role is right (pixel-weighted), over all pieces and per
    class, with the image network's pixel accuracy on the same items beside."""
    model.eval()
    right = np.zeros(4)
    total = np.zeros(4)
    n = len(table["items"])
    with torch.inference_mode():
        for first in range(0, n, batch):
            which = np.arange(first, min(first + batch, n))
            feats, pad, lab, w = _batch(table, which)
            pred = model(feats, pad).argmax(-1)
            cls = torch.from_numpy(table["op_class"][which])[:, None].expand_as(lab)
            ok = lab >= 0
            for c in range(4):
                sel = ok & (cls == c)
                right[c] += float((w * (pred == lab))[sel].sum())
                total[c] += float(w[sel].sum())
    return {"piece_pixel_acc": round(float(right.sum() / max(total.sum(), 1)), 4),
            "per_class": [round(float(r / t), 4) if t else None for r, t in zip(right, total)],
            "network_pixel_acc": round(float(table["net_right"].sum() / max(table["pixels"].sum(), 1)), 4)}


def pixel_accuracy(stage_model: StrokeRoleNet, model: CadUNet, root: Path, limit: int | None = None,
                   canvases: tuple[int, ...] | None = None) -> dict:
    """Curve-role accuracy on the labelled stroke pixels of `root`: the image network's (reading at
    `canvases` in turn, as `read_set`), and the stage's painted back onto the ink
    (`StrokeStage.refine`, as the app runs it)."""
    from .strokeroles import StrokeStage
    stage = StrokeStage(stage_model)
    right = np.zeros(2, np.int64)
    total = 0
    for it in read_set(model, root, limit, canvases=canvases):
        on = it["truth"] > 0
        ink = it["roles"] > 0
        painted = stage.refine(it["strokes"], it["reading"], ink, it["roles"])[0]
        right += (int((it["roles"][on] == it["truth"][on]).sum()), int((painted[on] == it["truth"][on]).sum()))
        total += int(on.sum())
    return {"network": round(float(right[0] / max(total, 1)), 4), "stage": round(float(right[1] / max(total, 1)), 4)}


def concat_tables(tables: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Several sets' piece tables as one (the item bounds shifted)."""
    if len(tables) == 1:
        return tables[0]
    out = {k: np.concatenate([t[k] for t in tables]) for k in tables[0] if k != "offsets"}
    starts = np.cumsum([0] + [int(t["offsets"][-1]) for t in tables[:-1]])
    out["offsets"] = np.concatenate([[0]] + [t["offsets"][1:] + s for t, s in zip(tables, starts)])
    return out


def train(data: Path | list[Path], val: Path, out: Path, weights: Path, epochs: int = 40, batch: int = 64,
          lr: float = 2e-3, weight_decay: float = 1e-2, seed: int = 0, patience: int = 8, limit: int | None = None,
          config: StageConfig = DEFAULT_STAGE, progress: bool = True, reorder_p: float = 0.0,
          canvases: tuple[int, ...] | None = None) -> dict:
    """Train the stage into `out` on the pieces of `data` (one set or several); see the module notes.
    Returns the final state."""
    data = [Path(d) for d in (data if isinstance(data, (list, tuple)) else [data])]
    out.mkdir(parents=True, exist_ok=True)
    if not Path(weights).is_file():
        raise StrokesError(f"no image network at {weights}; train one with sketchforge-train-cad")
    digest = file_digest(weights)
    cnn, _ = load_model(weights)
    cnn = cnn.to(memory_format=torch.channels_last)
    names = ["train"] if len(data) == 1 else [f"train{k}" for k in range(len(data))]
    try:
        train_t = concat_tables([cached_table(cnn, digest, root, out, name, limit, canvases)
                                 for name, root in zip(names, data)])
        val_t = cached_table(cnn, digest, val, out, "val", limit, canvases)
    except DataError as exc:
        raise StrokesError(str(exc)) from None
    torch.manual_seed(seed)
    model = StrokeRoleNet(config)
    model.set_scaling(train_t["feats"])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    n = len(train_t["items"])
    per_epoch = max(1, n // batch)
    total = per_epoch * epochs
    state = {"epoch": 0, "step": 0, "best": None, "best_epoch": None, "since_best": 0, "finished": None,
             "settings": {"data": ",".join(map(str, data)), "val": str(val), "weights": str(weights), "epochs": epochs,
                          "batch": batch, "lr": lr, "weight_decay": weight_decay, "seed": seed, "limit": limit,
                          "reorder": reorder_p, "canvases": list(canvases) if canvases else None}}

    def checkpoint() -> None:
        save_checkpoint(out, model, opt, state, kind=KIND, config=asdict(config), extra={"weights_sha256": digest})

    if (out / "checkpoint.safetensors").is_file():
        state = load_checkpoint(out, model, opt, KIND, StrokesError)
        if (state["settings"].get("seed") != seed or state["settings"].get("weights") != str(weights)
                or state["settings"].get("canvases") != (list(canvases) if canvases else None)):
            raise StrokesError(f"{out} holds a run with other settings; pick another --out or remove it")
        log.info("continuing %s from epoch %d", out, state["epoch"])
    t0 = time.perf_counter()
    with StopRequest() as stop:
        for epoch in range(state["epoch"], epochs):
            rng = np.random.default_rng([seed, epoch])
            order = rng.permutation(n)
            model.train()
            losses = []
            for b in range(per_epoch):
                for g in opt.param_groups:
                    g["lr"] = learning_rate(state["step"], lr, total)
                loss = _loss(model, _batch(train_t, order[b * batch:(b + 1) * batch], rng, reorder_p))
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                state["step"] += 1
                losses.append(float(loss.detach()))
                if stop.asked:
                    break
            if stop.asked:
                state["finished"] = "stopped"
                checkpoint()
                break
            figures = piece_accuracy(model, val_t)
            state["epoch"] = epoch + 1
            better = state["best"] is None or figures["piece_pixel_acc"] > state["best"]
            if better:
                state.update(best=figures["piece_pixel_acc"], best_epoch=epoch + 1, since_best=0)
                save_stage(model, out / "best.safetensors",
                           {"weights_sha256": digest, "image_network": Path(weights).name, "epoch": epoch + 1,
                            "val": figures, "settings": state["settings"]})
            else:
                state["since_best"] += 1
            record = {"epoch": epoch + 1, "loss": round(float(np.mean(losses)), 4), **figures,
                      "seconds": round(time.perf_counter() - t0, 1)}
            with open(out / "log.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
            if progress:
                log.info("epoch %d: loss %.4f, val pieces %.4f (image network %.4f)%s", epoch + 1, record["loss"],
                         figures["piece_pixel_acc"], figures["network_pixel_acc"], " best" if better else "")
            checkpoint()
            if state["since_best"] >= patience:
                state["finished"] = "early stop"
                break
        else:
            state["finished"] = "done"
    checkpoint()
    return state


def _parser() -> argparse.ArgumentParser:
    from .backend import WEIGHTS
    p = Parser(prog=PROG, description="Train the stroke stage that reads the image network's curve roles "
                                       "again piece by piece. Rerun the same command to continue a run.")
    p.add_argument("--data", required=True, type=Path, nargs="+",
                   help="one or more sets the image network never trained on")
    p.add_argument("--val", required=True, type=Path, help="validation set (another seed)")
    p.add_argument("--out", required=True, type=Path,
                   help="run folder (piece tables, checkpoint, log.jsonl, best.safetensors)")
    p.add_argument("--weights", type=Path, default=WEIGHTS,
                   help="the image network (default: the shipped standard one)")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch", type=int, default=64, help="sketches per step")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=1e-2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--patience", type=int, default=8, help="epochs without a better validation before stopping")
    p.add_argument("--limit", type=int, default=None, help="read at most this many items of each set")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--width", type=int, default=64, help="the stage's width")
    p.add_argument("--layers", type=int, default=3, help="transformer layers")
    p.add_argument("--reorder", type=float, default=0.0,
                   help="train on sketches as if drawn in another stroke order and direction, each with "
                        "this probability (0..1; the generator's own order otherwise)")
    p.add_argument("--canvases", default=None,
                   help="comma-separated raster sizes the image network reads the sketches at, in turn "
                        "(for a light network read at the sizes its canvas selector picks; default: the "
                        "sets' own size)")
    p.add_argument("--pixels", action="store_true",
                   help="after training, measure pixel accuracy on the validation set (image network and stage)")
    return p


def main(argv: list[str] | None = None) -> int:
    return run_command(PROG, lambda: _main(argv), (StrokesError, WeightsError, FileNotFoundError), log_progress=True,
                       interrupted="rerun the same command to continue from the last checkpoint")


def _main(argv: list[str] | None) -> int:
    a = _parser().parse_args(argv)
    for name in ("epochs", "batch", "patience", "threads", "width", "layers"):
        if getattr(a, name) < 1:
            raise StrokesError(f"--{name} must be at least 1, got {getattr(a, name)}")
    if a.width % 4:
        raise StrokesError(f"--width must be a multiple of 4 (the attention heads), got {a.width}")
    if not 0.0 <= a.reorder <= 1.0:
        raise StrokesError(f"--reorder is a probability, 0..1; got {a.reorder}")
    canvases = None
    if a.canvases:
        try:
            canvases = tuple(int(c) for c in a.canvases.split(",") if c.strip())
        except ValueError:
            raise StrokesError("--canvases takes sizes in pixels separated by commas, e.g. 64,96; "
                               f"got {a.canvases!r}") from None
        bad = [c for c in canvases if c < 16 or c % 16]
        if not canvases or bad:
            raise StrokesError(f"--canvases must be multiples of 16 pixels, e.g. 64,96; got {a.canvases!r}")
    torch.set_num_threads(a.threads)
    config = StageConfig(width=a.width, layers=a.layers, hidden=2 * a.width)
    state = train(a.data, a.val, a.out, a.weights, a.epochs, a.batch, a.lr, a.weight_decay, a.seed, a.patience,
                  a.limit, config, reorder_p=a.reorder, canvases=canvases)
    print(f"{PROG}: {state['finished']}; best validation {state['best']} at epoch {state['best_epoch']} "
          f"({a.out / 'best.safetensors'})")
    if a.pixels and state["best_epoch"]:
        from .strokeroles import load_stage
        stage, _ = load_stage(a.out / "best.safetensors")
        cnn, _ = load_model(a.weights)
        figures = pixel_accuracy(stage, cnn.to(memory_format=torch.channels_last), a.val, a.limit, canvases)
        print(f"{PROG}: curve roles on the validation set's stroke pixels: image network {figures['network']}, "
              f"with the stroke stage {figures['stage']}")
    return 0 if state["finished"] != "stopped" else 130
