"""`sketchforge-train-cad`: train the Sketch2CAD network on data made by `sketchforge-data generate`.

    sketchforge-train-cad --data data/train --val data/val --out data/runs/cad-v1 \
        [--epochs 4] [--batch 32] [--lr 2e-3] [--seed 0] [--workers 1] [--threads 2] \
        [--max-minutes 45] [--patience 6] [--val-every 250] [--no-augment] [--stroke-pool] \
        [--channels 16,32,64,128] [--arch plain|mobile] [--expand 4] [--stem-stride 1|2] [--init WEIGHTS]
        [--canvases 32,48,64,96,128] [--teacher W [--distill 1] [--kd 0] [--teacher-once]]

Seeded and resumable: rerunning the same command continues from the last checkpoint
(`RUNDIR/checkpoint.safetensors`: weights and optimizer tensors; `RUNDIR/state.json`: epoch, step,
optimizer settings, best score, as JSON; nothing is pickled). With the same worker count a resumed
run takes exactly the steps an uninterrupted one would: the data order is a function of (seed,
epoch), augmentation draws from a generator seeded with (seed, step), and the learning rate is a
function of the step.

Validation runs every `--val-every` steps and at each epoch's end; each one appends a line to
`RUNDIR/log.jsonl` with class accuracy, stitching-face IoU (sigmoid > 0.5 against the mask, mean
over items), and curve-role accuracy on stroke pixels. Their mean is the score that keeps
`RUNDIR/best.safetensors` and stops the run after `--patience` validations without a gain.

Losses: class-weighted cross-entropy for the operation (weights are inverse class counts from the
training manifest), BCE with a positive weight plus soft Dice for the stitching face (a small share
of the image), cross-entropy for curve roles over stroke pixels only.

Distillation (`--teacher`): the student's embedding (what its class head reads) matches the
teacher's pairwise distances within each batch (relational knowledge distillation, weight
`--distill`), and with `--kd` its operation probabilities match the teacher's softened ones
(temperature 2). With `--teacher-once` the teacher reads every training sketch once, as rendered,
before the first step (`RUNDIR/teacher-targets.npz`, reused by a resumed run) rather than at every
step on the augmented batch: the targets of a thickened or broken sketch are those of the clean
one, and a step costs about half as much.

Augmentation (on by default; `--no-augment` turns it off) imitates how real drawing differs from
the rendered strokes: a quarter of the sketches get strokes 1 px thicker (dilation), a quarter get
thick parts thinned by 1 px (erosion that never removes a stroke that is already thin), and half
get 1 to 4 tiny gaps (3x3 pixels of ink lifted, as where a pen skips). Role labels follow the ink:
added pixels take a neighbouring stroke's role, removed pixels are left out of the role loss.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ..commands import Parser, run_command
from ..synth.dataset import ShardDataset
from ..synth.reading import DataError, read_manifest
from ..training import StopRequest, file_digest, load_kept, save_kept
from ..training import learning_rate as _learning_rate
from ..training import load_checkpoint as _load_checkpoint
from ..training import save_checkpoint as _save_checkpoint
from ..weights import WeightsError
from .net import (
    KIND,
    CadUNet,
    NetConfig,
    Outputs,
    at_canvas,
    batchnorm_stats,
    count_flops,
    count_params,
    load_model,
    read_weights,
    save_weights,
    to_size,
    use_canvas,
    widen,
)

log = logging.getLogger(__name__)

PROG = "sketchforge-train-cad"
STATE_FORMAT = "sketchforge.cadnet-train-state"
WARMUP_STEPS = 200
KD_TEMPERATURE = 2.0
# Batch-norm statistics are recomputed before every validation from this many training batches
# (not augmented): the running averages kept during training lag the weights, and in one run they
# drifted so far that the evaluated network read every sketch as an extrude while the training
# loss kept falling ("precise BN", Wu & Johnson 2021).
PRECISE_BN_BATCHES = 16
FINAL_LR_SHARE = 0.05


class TrainError(ValueError):
    """Settings or folders training cannot work with; the message says what to do."""


@dataclass(frozen=True)
class TrainConfig:
    """The settings a run's result depends on (threads and the time limit are not among them)."""

    data: str
    val: str | None
    epochs: int = 4
    batch: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    workers: int = 1
    val_every: int = 250
    augment: bool = True
    channels: tuple[int, int, int, int] = (16, 32, 64, 128)
    stroke_pool: bool = False  # NetConfig.stroke_pool: the class head also reads role-pooled features
    arch: str = "plain"  # NetConfig.arch: "plain" 3x3 convolutions or "mobile" inverted-residual blocks
    expand: int = 4  # NetConfig.expand: the mobile blocks' expansion
    init: str | None = None  # weight file to start from (tensors of matching name and shape)
    # Canvas sizes (px, multiples of 16) every step trains at, the task losses averaged over them;
    # empty: the data's own size only.
    canvases: tuple[int, ...] = ()
    teacher: str | None = None  # weight file of a trained network whose embedding relations are distilled
    distill: float = 1.0  # weight of the relational distillation loss beside the task losses
    # weight of the soft-label loss on the operation (Hinton et al. 2015): the teacher's class
    # probabilities at temperature KD_TEMPERATURE, which say how alike the classes look for each sketch
    kd: float = 0.0
    # the teacher reads each training sketch once, as rendered (not augmented), before training;
    # its embeddings and logits are kept in RUNDIR/teacher-targets.npz, and each step then costs
    # only the student's passes (the teacher's forward pass was about half of every step)
    teacher_once: bool = False
    stem_stride: int = 1  # NetConfig.stem_stride: 2 halves the canvas in the first layer

    def to_json(self) -> dict:
        d = dict(self.__dict__)
        d["channels"] = list(self.channels)
        d["canvases"] = list(self.canvases)
        return d


# -- losses ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LossWeights:
    """Constants of the loss, fixed for a run (recorded in state.json)."""

    class_weights: tuple[float, float, float, float]
    stitch_pos_weight: float


def class_weights_from_manifest(root: str | Path) -> tuple[float, float, float, float]:
    """Inverse class counts of a dataset, scaled so that a balanced set gets weight 1 each."""
    counts = np.asarray(_manifest(Path(root))["counts"]["per_class"], np.float64)
    counts = np.maximum(counts, 1.0)
    w = counts.sum() / (len(counts) * counts)
    return tuple(float(x) for x in w)  # type: ignore[return-value]


def stitch_pos_weight(root: str | Path) -> float:
    """sqrt(negative / positive) pixel ratio of the stitching mask in the first training shard.

    The square root rather than the plain ratio: a full inverse-frequency weight over-grows the
    mask at the 0.5 threshold, and the Dice term already balances the two sides.
    """
    root = Path(root)
    first = root / _manifest(root)["shards"][0]["npz"]
    with np.load(first, allow_pickle=False) as z:
        p = float(np.mean(z["stitch"] > 0))
    p = min(max(p, 1e-3), 0.5)
    return math.sqrt((1.0 - p) / p)


def compute_losses(out: Outputs, batch: dict[str, torch.Tensor], weights: LossWeights) -> dict[str, torch.Tensor]:
    """The three task losses and their sum ('total'); roles count only pixels with a role label."""
    cls = F.cross_entropy(out.class_logits, batch["op_class"],
                          weight=torch.tensor(weights.class_weights, dtype=out.class_logits.dtype))
    mask = batch["stitch"]
    bce = F.binary_cross_entropy_with_logits(out.stitch_logits, mask,
                                             pos_weight=torch.tensor(weights.stitch_pos_weight))
    prob = torch.sigmoid(out.stitch_logits)
    inter = (prob * mask).sum(dim=(1, 2, 3))
    dice = 1.0 - (2.0 * inter + 1.0) / (prob.sum(dim=(1, 2, 3)) + mask.sum(dim=(1, 2, 3)) + 1.0)
    role = batch["role"]
    on_stroke = role > 0
    per_pixel = F.cross_entropy(out.role_logits, role, reduction="none")
    role_loss = (per_pixel * on_stroke).sum() / on_stroke.sum().clamp(min=1)
    stitch = bce + dice.mean()
    return {"total": cls + stitch + role_loss, "class": cls, "stitch": stitch, "role": role_loss}


def relational_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Relational knowledge distillation, distance-wise (Park et al., CVPR 2019): the Huber loss
    between the pairwise distances of a batch's embeddings under the student and under the
    teacher, each divided by its mean, so the two networks' widths and scales need not match."""
    return F.smooth_l1_loss(_pair_distances(student.float()), _pair_distances(teacher.float().detach()))


def soft_label_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                    temperature: float = KD_TEMPERATURE) -> torch.Tensor:
    """KL divergence from the teacher's class probabilities to the student's, both softened by
    `temperature`, times its square so the gradients keep their size (Hinton et al. 2015)."""
    t = float(temperature)
    return F.kl_div(F.log_softmax(student_logits.float() / t, dim=1),
                    F.log_softmax(teacher_logits.float().detach() / t, dim=1),
                    reduction="batchmean", log_target=True) * (t * t)


def _pair_distances(e: torch.Tensor) -> torch.Tensor:
    """Distances between every two rows of (B, D), normalised by their mean (off-diagonal, (B*(B-1),))."""
    sq = (e * e).sum(1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (e @ e.T)
    off = ~torch.eye(len(e), dtype=torch.bool, device=e.device)
    d = d2[off].clamp(min=1e-12).sqrt()  # the diagonal (zero, no gradient) is left out
    return d / d.mean().clamp(min=1e-8)


# -- augmentation ------------------------------------------------------------------------------
def _maxpool(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, 3, stride=1, padding=1)


def augment(batch: dict[str, torch.Tensor], gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Thicker, thinner and broken strokes, with role labels that follow the ink (see the module doc)."""
    x = batch["input"].clone()
    role = batch["role"].clone()
    b = x.shape[0]
    ink = (1.0 - x[:, :1]).clamp(0.0, 1.0)
    rf = role[:, None].to(x.dtype)
    draw = torch.rand(b, 3, generator=gen)
    dilate = (draw[:, 0] < 0.25)[:, None, None, None]
    erode = ((draw[:, 0] >= 0.25) & (draw[:, 0] < 0.5))[:, None, None, None]
    # Dilation: 1 px thicker; new pixels take a neighbouring stroke pixel's role.
    thick = _maxpool(ink)
    thick_role = torch.where(rf > 0, rf, _maxpool(rf))
    # Erosion: thin where a thick core exists nearby, keep strokes that are already thin.
    core = -_maxpool(-ink)
    near_core = _maxpool((core > 0).to(x.dtype)) > 0
    thin = torch.where(near_core, core, ink)
    ink = torch.where(dilate, thick, torch.where(erode, thin, ink))
    rf = torch.where(dilate, thick_role, rf)
    # Gaps: lift the ink of 3x3 pixels around 1..4 random stroke pixels of half the sketches.
    gaps = draw[:, 1] < 0.5
    if gaps.any():
        h, w = ink.shape[-2:]
        score = torch.rand(b, h * w, generator=gen) * (ink.reshape(b, -1) > 0)
        k = 4
        top = score.topk(k, dim=1)
        wanted = (torch.arange(k)[None] < (1 + (draw[:, 2:3] * k).long().clamp(max=k - 1))) & (top.values > 0)
        seeds = torch.zeros(b, h * w, dtype=x.dtype)
        seeds.scatter_(1, top.indices, (wanted & gaps[:, None]).to(x.dtype))
        lifted = _maxpool(seeds.reshape(b, 1, h, w)) > 0
        ink = torch.where(lifted, torch.zeros_like(ink), ink)
    rf = torch.where(ink > 0, rf, torch.zeros_like(rf))
    x[:, :1] = 1.0 - ink
    return {**batch, "input": x, "role": rf[:, 0].round().long()}


# -- validation --------------------------------------------------------------------------------
@torch.inference_mode()
def evaluate(model: CadUNet, batches: Iterable[dict[str, torch.Tensor]], on_batch=None,
             canvas: int | None = None) -> dict:
    """Class accuracy, mean stitching-face IoU (sigmoid > 0.5 vs mask) and role accuracy on stroke pixels
    (every stroke pixel has a role, so the predicted one is the likeliest of base, profile, offset).
    `on_batch(batch, outputs)` sees each batch with the network's outputs (for further figures).
    With `canvas`, the network reads the sketch at that size and its maps are scaled back up."""
    was_training = model.training
    model.eval()
    use_canvas(model, canvas)
    correct = items = 0
    iou_sum = 0.0
    role_right = role_total = 0
    confusion = np.zeros((4, 4), np.int64)
    try:
        for batch in batches:
            x = batch["input"].contiguous(memory_format=torch.channels_last)
            out = to_size(model(at_canvas(x, canvas)), tuple(x.shape[-2:]))
            if on_batch is not None:
                on_batch(batch, out)
            pred = out.class_logits.argmax(1)
            correct += int((pred == batch["op_class"]).sum())
            for t, p in zip(batch["op_class"].tolist(), pred.tolist()):
                confusion[t, p] += 1
            items += len(pred)
            iou_sum += float(stitch_iou(out, batch).sum())
            on_stroke = batch["role"] > 0
            role_right += int(((1 + out.role_logits[:, 1:].argmax(1) == batch["role"]) & on_stroke).sum())
            role_total += int(on_stroke.sum())
    finally:
        use_canvas(model, None)
        model.train(was_training)
    if items == 0:
        raise TrainError("the validation set yielded no items; check --val")
    result = {"items": items, "class_acc": correct / items, "stitch_iou": iou_sum / items,
              "role_acc": role_right / max(role_total, 1), "confusion": confusion.tolist()}
    result["score"] = (result["class_acc"] + result["stitch_iou"] + result["role_acc"]) / 3.0
    return result


def stitch_iou(out: Outputs, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per item (B,): IoU of the predicted stitching face (logit > 0) with the mask; 1 when both are empty."""
    face, mask = out.stitch_logits > 0.0, batch["stitch"] > 0.5
    inter = (face & mask).sum(dim=(1, 2, 3)).double()
    union = (face | mask).sum(dim=(1, 2, 3)).double()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


@torch.no_grad()
def recalibrate_batchnorm(model: CadUNet, batches: Iterable[dict[str, torch.Tensor]],
                          canvases: Iterable[int | None] = (None,)) -> None:
    """Replace every BatchNorm's running mean and variance by their plain average over `batches`
    (each read at every one of `canvases`)."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    momenta = [m.momentum for m in norms]
    was_training = model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    try:
        for batch in batches:
            for canvas in canvases:
                model(at_canvas(batch["input"].contiguous(memory_format=torch.channels_last), canvas))
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.train(was_training)


@torch.no_grad()
def calibrate_canvases(model: CadUNet, batches: list[dict[str, torch.Tensor]],
                       canvases: Iterable[int | None]) -> None:
    """Measure the batch-norm statistics at each canvas on its own (`model.canvas_stats`, used by
    `net.use_canvas`); the model is left with those of its own size."""
    model.canvas_stats = {}
    for canvas in canvases:
        recalibrate_batchnorm(model, batches, (canvas,))
        model.canvas_stats[int(canvas or model.config.size)] = batchnorm_stats(model)
    use_canvas(model, None)


def calibration_batches(data: str | Path, batch: int, seed: int) -> list[dict[str, torch.Tensor]]:
    """The fixed training batches the statistics are measured on (the same for a resumed run)."""
    cal = make_loader(data, batch, 0, seed + 7919, shuffle=True, drop_last=True)
    return [b for _, b in zip(range(PRECISE_BN_BATCHES), cal)]


# -- schedule, checkpoints ---------------------------------------------------------------------
def learning_rate(step: int, base: float, total: int) -> float:
    """Linear warm-up, then cosine decay to `FINAL_LR_SHARE` of the base rate at `total` steps."""
    return _learning_rate(step, base, total, WARMUP_STEPS, FINAL_LR_SHARE)


def save_checkpoint(run: Path, model: CadUNet, opt: torch.optim.Optimizer, state: dict) -> None:
    """Weights + optimizer in one file, the training state in its metadata (`neural.training`)."""
    _save_checkpoint(run, model, opt, state, kind=KIND, config=model.config.to_json())


def load_checkpoint(run: Path, model: CadUNet, opt: torch.optim.Optimizer) -> dict:
    """Restore weights and optimizer from `run`; returns the training state."""
    return _load_checkpoint(run, model, opt, KIND, TrainError)


def _manifest(root: Path) -> dict:
    try:
        return read_manifest(root)
    except DataError as exc:
        raise TrainError(str(exc)) from None


# -- the loop ----------------------------------------------------------------------------------
def make_loader(root: str | Path, batch: int, workers: int, seed: int, shuffle: bool, drop_last: bool) -> DataLoader:
    ds = ShardDataset(root, shuffle=shuffle, seed=seed)
    return DataLoader(ds, batch_size=batch, num_workers=workers, drop_last=drop_last)


def _epoch_batches(loader: DataLoader, epoch: int, skip: int) -> Iterator[dict[str, torch.Tensor]]:
    loader.dataset.set_epoch(epoch)  # type: ignore[attr-defined]
    for i, batch in enumerate(loader):
        if i >= skip:
            yield batch


def train(config: TrainConfig, out: str | Path, threads: int | None = None, max_minutes: float | None = None,
          patience: int = 6, max_steps: int | None = None, progress: bool = True) -> dict:
    """Train (or continue training) into `out`; returns the final state. See the module docstring."""
    run = Path(out)
    if threads is not None:
        if threads < 1:
            raise TrainError(f"--threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    _check(config)
    train_manifest = _manifest(Path(config.data))
    size = int(train_manifest["size"][0])
    if config.val is not None:
        val_size = int(_manifest(Path(config.val))["size"][0])
        if val_size != size:
            raise TrainError(f"--data is {size} px and --val is {val_size} px; use sets of the same size")
    run.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(config.seed)
    # channels-last convolutions run about 1.5x faster on the CPU (oneDNN's native layout).
    model = CadUNet(NetConfig(channels=config.channels, size=size, stroke_pool=config.stroke_pool,
                              arch=config.arch, expand=config.expand, stem_stride=config.stem_stride))
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = max(int(train_manifest["counts"]["items"]) // config.batch, 1)
    total_steps = steps_per_epoch * config.epochs

    if (run / "checkpoint.safetensors").exists():
        state = load_checkpoint(run, model, opt)
        # settings added since the run began take their defaults
        was = {**TrainConfig(data=config.data, val=config.val).to_json(), **state["config"]}
        if was != config.to_json():
            diff = sorted(k for k in config.to_json() if was.get(k) != config.to_json()[k])
            raise TrainError(f"{run} holds a run with other settings ({', '.join(diff)} differ); "
                             "use the same settings to continue it, or another --out folder")
        log.info("continuing %s at epoch %d, step %d", run, state["epoch"], state["step"])
    else:
        if config.init is not None:
            _warm_start(model, config.init)
        state = {
            "format": STATE_FORMAT, "version": 1, "config": config.to_json(),
            "epoch": 0, "batch_in_epoch": 0, "step": 0, "items_seen": 0,
            "best_score": None, "best_step": None, "bad_validations": 0, "finished": None,
            "train_seconds": 0.0,
            "loss_weights": {"class_weights": list(class_weights_from_manifest(config.data)),
                             "stitch_pos_weight": stitch_pos_weight(config.data)},
            "model": {"params": count_params(model), "flops": count_flops(model),
                      "flops_by_canvas": {str(c): count_flops(model, c) for c in config.canvases}},
            "data": {"train": str(config.data), "train_seed": train_manifest.get("seed"),
                     "train_items": train_manifest["counts"]["items"], "val": config.val},
        }
    weights = LossWeights(tuple(state["loss_weights"]["class_weights"]),  # type: ignore[arg-type]
                          float(state["loss_weights"]["stitch_pos_weight"]))
    if state.get("finished") in ("epochs", "patience"):
        log.info("%s already finished (%s); nothing to do", run, state["finished"])
        return state

    sizes: tuple[int | None, ...] = tuple(config.canvases) or (None,)
    teacher = _teacher(config.teacher) if config.teacher is not None else None
    kept = None
    if teacher is not None and config.teacher_once:
        kept = teacher_targets(teacher, config.teacher, config.data, run, progress)
        teacher = None
    loader = make_loader(config.data, config.batch, config.workers, config.seed, shuffle=True, drop_last=True)
    val_loader = (make_loader(config.val, 64, config.workers, 0, shuffle=False, drop_last=False)
                  if config.val is not None else None)
    logfile = run / "log.jsonl"
    started = time.perf_counter()
    seconds_before = float(state["train_seconds"])
    state["finished"] = None

    def elapsed() -> float:
        return time.perf_counter() - started

    calibration: list[dict[str, torch.Tensor]] = []

    def validate(kind: str) -> bool:
        """Log a validation, keep the best weights; True when patience has run out."""
        if val_loader is None:
            return False
        t = time.perf_counter()
        if not calibration:  # the same batches every time, so a resumed run validates the same way
            calibration.extend(calibration_batches(config.data, config.batch, config.seed))
        if len(sizes) > 1:
            calibrate_canvases(model, calibration, sizes)
        else:
            recalibrate_batchnorm(model, calibration, sizes)
        res = _evaluate_sizes(model, val_loader, sizes)
        rec = {"kind": kind, "epoch": state["epoch"], "step": state["step"], **res,
               "val_seconds": round(time.perf_counter() - t, 2),
               "train_seconds": round(seconds_before + elapsed(), 1)}
        _append(logfile, rec)
        log.info("validation at step %d: class %.4f, stitching IoU %.4f, roles %.4f (score %.4f)",
                 state["step"], res["class_acc"], res["stitch_iou"], res["role_acc"], res["score"])
        if state["best_score"] is None or res["score"] > state["best_score"]:
            state.update(best_score=res["score"], best_step=state["step"], bad_validations=0)
            save_weights(model, run / "best.safetensors",
                         extra={"step": state["step"], "epoch": state["epoch"], "validation": res,
                                "train_config": config.to_json()})
        else:
            state["bad_validations"] += 1
        return state["bad_validations"] >= patience

    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=total_steps, initial=state["step"], unit="step", desc="training", dynamic_ncols=True,
                   mininterval=1.0 if sys.stderr.isatty() else 30.0)
    gen = torch.Generator()
    running: dict[str, float] = {}
    model.train()
    try:
        with StopRequest() as stop:
            while state["finished"] is None and state["epoch"] < config.epochs:
                for batch in _epoch_batches(loader, state["epoch"], state["batch_in_epoch"]):
                    t0 = time.perf_counter()
                    gen.manual_seed(config.seed * 1_000_003 + state["step"])
                    if config.augment:
                        batch = augment(batch, gen)
                    lr = learning_rate(state["step"], config.lr, total_steps)
                    for g in opt.param_groups:
                        g["lr"] = lr
                    x = batch["input"].contiguous(memory_format=torch.channels_last)
                    target = None
                    if kept is not None:
                        target = Outputs(kept["logits"][batch["index"]], None, None, kept["embedding"][batch["index"]])
                    losses = _step_losses(model, teacher, x, batch, weights, sizes, config.distill, config.kd, target)
                    opt.zero_grad(set_to_none=True)
                    losses["total"].backward()
                    opt.step()
                    state["step"] += 1
                    state["batch_in_epoch"] += 1
                    state["items_seen"] += len(batch["op_class"])
                    for k, v in losses.items():
                        value = float(v.detach())
                        running[k] = 0.98 * running.get(k, value) + 0.02 * value
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(loss=f"{running['total']:.3f}", lr=f"{lr:.1e}", refresh=False)
                    if state["step"] % 50 == 0:
                        _append(logfile, {"kind": "train", "epoch": state["epoch"], "step": state["step"], "lr": lr,
                                          **{f"loss_{k}": round(v, 5) for k, v in running.items()},
                                          "step_seconds": round(time.perf_counter() - t0, 3)})
                    if config.val_every and state["step"] % config.val_every == 0:
                        if validate("val"):
                            state["finished"] = "patience"
                        _save(run, model, opt, state, seconds_before + elapsed())
                    if state["finished"] is None:
                        if stop.asked:
                            state["finished"] = "stopped"
                        elif max_minutes is not None and elapsed() >= 60.0 * max_minutes:
                            state["finished"] = "time"
                        elif max_steps is not None and state["step"] >= max_steps:
                            state["finished"] = "steps"
                    if state["finished"] is not None:
                        break
                else:
                    state["epoch"] += 1
                    state["batch_in_epoch"] = 0
                    if validate("epoch"):
                        state["finished"] = "patience"
                    _save(run, model, opt, state, seconds_before + elapsed())
            if state["finished"] is None:
                state["finished"] = "epochs"
            elif state["finished"] in ("time", "steps", "stopped") and not _just_validated(state, config):
                validate("val")
            _save(run, model, opt, state, seconds_before + elapsed())
    finally:
        if bar is not None:
            bar.close()
    log.info("training stopped (%s) at epoch %d, step %d; best score %s at step %s", state["finished"],
             state["epoch"], state["step"], state["best_score"], state["best_step"])
    return state


def _step_losses(model: CadUNet, teacher: CadUNet | None, x: torch.Tensor, batch: dict[str, torch.Tensor],
                 weights: LossWeights, sizes: tuple[int | None, ...], distill: float, kd: float = 0.0,
                 target: Outputs | None = None) -> dict[str, torch.Tensor]:
    """The task losses (and the distillation losses) averaged over the canvas sizes; the maps of a
    smaller canvas are scaled up to the labels' size, so every size is scored alike. The teacher's
    outputs are `target` where they were read before training, else the teacher reads `x` now."""
    if teacher is not None:
        with torch.no_grad():
            target = teacher(x)
    parts: dict[str, torch.Tensor] = {}
    for canvas in sizes:
        out = to_size(model(at_canvas(x, canvas)), tuple(x.shape[-2:]))
        losses = compute_losses(out, batch, weights)
        if target is not None:
            losses["distill"] = relational_loss(out.embedding, target.embedding)
            losses["total"] = losses["total"] + distill * losses["distill"]
            if kd:
                losses["kd"] = soft_label_loss(out.class_logits, target.class_logits)
                losses["total"] = losses["total"] + kd * losses["kd"]
        for k, v in losses.items():
            parts[k] = parts.get(k, 0.0) + v / len(sizes)
    return parts


def _evaluate_sizes(model: CadUNet, loader, sizes: tuple[int | None, ...]) -> dict:
    """Validation figures at one canvas, or their mean over several with each size's own figures."""
    if len(sizes) == 1:
        return evaluate(model, loader, canvas=sizes[0])
    each = {str(s): evaluate(model, loader, canvas=s) for s in sizes}
    res: dict = {k: float(np.mean([r[k] for r in each.values()]))
                 for k in ("class_acc", "stitch_iou", "role_acc", "score")}
    res["items"] = next(iter(each.values()))["items"]
    res["canvases"] = {s: {k: r[k] for k in ("class_acc", "stitch_iou", "role_acc")} for s, r in each.items()}
    return res


def _teacher(path: str) -> CadUNet:
    """The frozen network to distil from, in evaluation mode."""
    model, _ = load_model(path)
    model.eval().to(memory_format=torch.channels_last)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


TARGETS_FORMAT = "sketchforge.cadnet-teacher-targets"


def teacher_targets(teacher: CadUNet, teacher_path: str | Path, data: str | Path, run: Path,
                    progress: bool = True, batch: int = 64) -> dict[str, torch.Tensor]:
    """The teacher's embedding and operation logits for every item of `data` by its place in the
    set (`index`), read once from the sketches as rendered and kept in `run/teacher-targets.npz`
    (reused while the teacher file's hash and the set's manifest stay the same)."""
    path = run / "teacher-targets.npz"
    manifest = _manifest(Path(data))
    key = json.dumps({"format": TARGETS_FORMAT, "teacher_sha256": file_digest(teacher_path),
                      "data": str(Path(data).resolve()), "items": manifest["counts"]["items"],
                      "seed": manifest.get("seed")})
    kept = load_kept(path, key)
    if kept is not None:
        return {k: torch.from_numpy(kept[k]) for k in ("embedding", "logits")}
    if path.is_file():
        log.info("%s was read by another teacher or from another set; reading the set again", path)
    n = int(manifest["counts"]["items"])
    emb = logits = None
    done = np.zeros(n, bool)
    loader = make_loader(data, batch, 0, 0, shuffle=False, drop_last=False)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=n, unit="item", desc="teacher reads the set", dynamic_ncols=True,
                   mininterval=1.0 if sys.stderr.isatty() else 30.0)
    t = time.perf_counter()
    with torch.inference_mode():
        for b in loader:
            out = teacher(b["input"].contiguous(memory_format=torch.channels_last))
            if emb is None:
                emb = np.zeros((n, out.embedding.shape[1]), np.float32)
                logits = np.zeros((n, out.class_logits.shape[1]), np.float32)
            i = b["index"].numpy()
            emb[i], logits[i], done[i] = out.embedding.numpy(), out.class_logits.numpy(), True
            if bar is not None:
                bar.update(len(i))
    if bar is not None:
        bar.close()
    if emb is None or not done.all():
        raise TrainError(f"{data} yielded {int(done.sum())} of the {n} items its manifest counts; "
                         "regenerate or finish the set (`sketchforge-data generate` resumes it)")
    log.info("the teacher read %d items in %.0f s", n, time.perf_counter() - t)
    save_kept(path, key, {"embedding": emb, "logits": logits})
    return {"embedding": torch.from_numpy(emb), "logits": torch.from_numpy(logits)}


def _warm_start(model: CadUNet, path: str) -> None:
    """Copy every tensor of a weight file whose name and shape match the model's (a new head starts fresh).

    Weights of a narrower plain network whose widths all divide the model's by one factor are
    widened first (`net.widen`: the same function, the copies told apart by 1% noise), so a wide
    teacher can start from the trained network rather than from scratch.
    """
    config, tensors, _ = read_weights(path)
    if config.channels != model.config.channels:
        try:
            narrow = CadUNet(config)
            narrow.load_state_dict(tensors, strict=True)
            tensors = widen(narrow, model.config, noise=0.01).state_dict()
            log.info("widened %s from channels %s to %s", path, config.channels, model.config.channels)
        except ValueError as exc:
            log.info("%s is not widened (%s); tensors of matching shape are taken", path, exc)
    own = model.state_dict()
    taken = {k: v for k, v in tensors.items() if k in own and own[k].shape == v.shape}
    if not taken:
        raise TrainError(f"--init {path} shares no tensor with this network; pick weights of the same widths")
    model.load_state_dict(taken, strict=False)
    fresh = sorted(k for k in own if k not in taken)
    log.info("started from %s: %d tensors taken, %d fresh (%s)", path, len(taken), len(fresh), ", ".join(fresh))


def _just_validated(state: dict, config: TrainConfig) -> bool:
    return bool(config.val_every) and state["step"] % config.val_every == 0


def _save(run: Path, model: CadUNet, opt: torch.optim.Optimizer, state: dict, seconds: float) -> None:
    state["train_seconds"] = round(seconds, 2)
    save_checkpoint(run, model, opt, state)


def _append(path: Path, record: dict) -> None:
    record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), **record}
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def _check(config: TrainConfig) -> None:
    if config.init is not None and not Path(config.init).is_file():
        raise TrainError(f"--init {config.init} is not a file; give a weight file such as "
                         "assets/cad/cadnet.safetensors")
    if config.epochs < 1:
        raise TrainError(f"--epochs must be at least 1, got {config.epochs}")
    if config.batch < 2:
        raise TrainError(f"--batch must be at least 2 (batch norm needs it), got {config.batch}")
    if not (config.lr > 0 and math.isfinite(config.lr)):
        raise TrainError(f"--lr must be a positive number, got {config.lr}")
    if config.teacher is not None and not Path(config.teacher).is_file():
        raise TrainError(f"--teacher {config.teacher} is not a file; train the teacher first "
                         "(sketchforge-train-cad with wider --channels) and give its best.safetensors")
    if not (config.distill >= 0 and math.isfinite(config.distill)):
        raise TrainError(f"--distill must be 0 or more, got {config.distill}")
    if not (config.kd >= 0 and math.isfinite(config.kd)):
        raise TrainError(f"--kd must be 0 or more, got {config.kd}")
    if (config.kd or config.teacher_once) and config.teacher is None:
        raise TrainError("--kd and --teacher-once distil a teacher; give its weight file with --teacher")
    if config.stem_stride not in (1, 2):
        raise TrainError(f"--stem-stride must be 1 or 2, got {config.stem_stride}")
    for c in config.canvases:
        if c < 16 or c % 16:
            raise TrainError(f"--canvases takes multiples of 16 such as 32,48,64,96,128, got {c}")
    if config.expand < 1:
        raise TrainError(f"--expand must be at least 1, got {config.expand}")
    if config.workers < 0:
        raise TrainError(f"--workers must be 0 or more, got {config.workers}")
    if config.seed < 0:
        raise TrainError(f"--seed must be a non-negative integer, got {config.seed}")
    if config.val_every < 0:
        raise TrainError(f"--val-every must be 0 (epoch ends only) or more, got {config.val_every}")


# -- command line ------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description="Train the Sketch2CAD interpretation network (class, stitching face, "
                                       "curve roles). Rerun the same command to continue a run.")
    p.add_argument("--data", required=True, type=Path, help="training set made by `sketchforge-data generate`")
    p.add_argument("--val", type=Path, help="validation set (another seed); without it, no validation")
    p.add_argument("--out", required=True, type=Path, help="run folder (checkpoint, log.jsonl, best.safetensors)")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (warm-up, then cosine decay)")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="data-loading processes (0: in the training process)")
    p.add_argument("--threads", type=int, default=None, help="torch threads for the training process")
    p.add_argument("--max-minutes", type=float, default=None, help="stop (with a checkpoint) after this long")
    p.add_argument("--max-steps", type=int, default=None, help="stop (with a checkpoint) at this step")
    p.add_argument("--patience", type=int, default=6, help="validations without a better score before stopping")
    p.add_argument("--val-every", type=int, default=250, help="validate every N steps as well as at epoch ends")
    p.add_argument("--channels", default="16,32,64,128", help="encoder widths c0,c1,c2,c3")
    p.add_argument("--arch", choices=("plain", "mobile"), default="plain",
                   help="plain 3x3 convolutions, or MobileNetV2 inverted-residual blocks (a light network)")
    p.add_argument("--expand", type=int, default=4, help="expansion of the mobile blocks")
    p.add_argument("--canvases", default="",
                   help="train at each of these canvas sizes, e.g. 32,48,64,96,128 (default: the data's size)")
    p.add_argument("--teacher", type=Path, default=None,
                   help="distil the embedding relations of this trained network (weight file)")
    p.add_argument("--distill", type=float, default=1.0, help="weight of the relational distillation loss")
    p.add_argument("--kd", type=float, default=0.0,
                   help="weight of the loss on the teacher's softened operation probabilities (0: none)")
    p.add_argument("--teacher-once", action="store_true",
                   help="the teacher reads each training sketch once before training (as rendered) instead of "
                        "at every step; about twice as fast")
    p.add_argument("--stem-stride", type=int, default=1, choices=(1, 2),
                   help="2: the first layer halves the canvas (the maps come out at half size, scaled up)")
    p.add_argument("--no-augment", action="store_true", help="train on the rendered strokes as they are")
    p.add_argument("--stroke-pool", action="store_true",
                   help="the class head also reads decoder features pooled over each curve role's ink")
    p.add_argument("--init", type=Path, default=None,
                   help="start from this weight file (tensors of matching name and shape; new heads start fresh)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _canvases(text: str) -> tuple[int, ...]:
    try:
        return tuple(sorted({int(c) for c in text.split(",") if c.strip()}))
    except ValueError:
        raise TrainError(f"--canvases takes sizes like 32,48,64,96,128, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    return run_command(PROG, lambda: _main(argv), (TrainError, WeightsError, FileNotFoundError), log_progress=True,
                       interrupted="rerun the same command to continue from the last checkpoint")


def _main(argv: list[str] | None) -> int:
    a = _parser().parse_args(argv)
    try:
        channels = tuple(int(c) for c in a.channels.split(","))
    except ValueError:
        raise TrainError(f"--channels takes four widths like 16,32,64,128, got {a.channels!r}") from None
    if len(channels) != 4 or min(channels) < 1:
        raise TrainError(f"--channels takes four positive widths like 16,32,64,128, got {a.channels!r}")
    if a.patience < 1:
        raise TrainError(f"--patience must be at least 1, got {a.patience}")
    config = TrainConfig(data=str(a.data), val=str(a.val) if a.val is not None else None, epochs=a.epochs,
                         batch=a.batch, lr=a.lr, weight_decay=a.weight_decay, seed=a.seed, workers=a.workers,
                         val_every=a.val_every, augment=not a.no_augment,
                         channels=channels, stroke_pool=a.stroke_pool,  # type: ignore[arg-type]
                         arch=a.arch, expand=a.expand, canvases=_canvases(a.canvases),
                         teacher=str(a.teacher) if a.teacher is not None else None, distill=a.distill,
                         kd=a.kd, teacher_once=a.teacher_once, stem_stride=a.stem_stride,
                         init=str(a.init) if a.init is not None else None)
    state = train(config, a.out, threads=a.threads, max_minutes=a.max_minutes, patience=a.patience,
                  max_steps=a.max_steps, progress=not a.quiet)
    return 0 if state["finished"] != "stopped" else 130


def calibrate_weights(weights: str | Path, data: str | Path, canvases: tuple[int, ...], out: str | Path,
                      batch: int = 32, seed: int | None = None) -> dict[int, dict]:
    """Measure a weight file's batch-norm statistics at each canvas on training batches (as a run
    trained at several canvases does before each validation) and write the weights with them."""
    model, extra = load_model(weights)
    model = model.to(memory_format=torch.channels_last)
    if seed is None:
        seed = int(extra.get("train_config", {}).get("seed", 0))
    calibrate_canvases(model, calibration_batches(data, batch, seed), canvases)
    save_weights(model, out, extra={**extra, "canvas_stats_from": {"data": str(data), "seed": seed,
                                                                   "canvases": list(canvases)}})
    return model.canvas_stats


def calibrate_main(argv: list[str] | None = None) -> int:
    """`sketchforge-calibrate-cad --weights W --data data/train --out W2 [--canvases 32,48,64,96,128]`"""
    prog = "sketchforge-calibrate-cad"
    p = Parser(prog=prog, description="Give a network trained at several canvases each canvas's own "
                                       "batch-norm statistics.")
    p.add_argument("--weights", required=True, type=Path)
    p.add_argument("--data", required=True, type=Path, help="the training set")
    p.add_argument("--out", required=True, type=Path, help="weight file to write (may be --weights)")
    p.add_argument("--canvases", default="32,48,64,96,128")
    p.add_argument("--seed", type=int, default=None, help="default: the run's own seed")
    try:
        a = p.parse_args(argv)
        canvases = _canvases(a.canvases)
        if not canvases:
            raise TrainError("--canvases needs at least one size")
        _manifest(a.data)
        stats = calibrate_weights(a.weights, a.data, canvases, a.out, seed=a.seed)
    except (TrainError, FileNotFoundError, ValueError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {a.out} with batch-norm statistics for canvases {', '.join(str(c) for c in sorted(stats))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
