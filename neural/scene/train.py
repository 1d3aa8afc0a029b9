"""`sketchforge-train-scene`: train the network that reads a scene sketch into its layout (`net.SceneNet`).

    sketchforge-train-scene --data DIR [--val DIR] --out RUN --minutes M [--resume] [--threads N]
                            [--batch 16] [--lr 2e-3] [--seed 0] [--width 16] [--max-width 128] [--levels 4]
                            [--quiet]

The data is what `sketchforge-scene-data generate` writes (`data.read_scene_shard`): per item the
ink of each stroke kind, the category, height and splat maps on the same grid, the height range,
and a record with the prompt and the ground rectangle's size. Every prompt is encoded once by the
frozen text encoder (`neural.text`, kept under RUN/cache); the empty prompt's embedding goes into
the network (`empty_text`), so it reads a sketch without a prompt with no encoder at hand.

Augmentation: each item is turned by a multiple of 90 degrees and mirrored half of the time, the
ink and every map together (`turn`); a quarter turn swaps the cell sizes along x and y, as a
non-square ground rectangle lies the other way on the grid. The network's input features are
computed from the turned ink.

Losses: cross-entropy on the categories weighted by `data.CATEGORY_WEIGHT`, L1 on the normalised
height, the Kullback-Leibler divergence of the predicted splat weights from the true ones, L1 on
the log of the relief and on the base (in units of 5 m).

The loop is the house's (`neural.training`): the time budget `--minutes` is what training steps may
take, the learning rate warms up and decays over the time spent; a checkpoint every few minutes
(weights, the exponential moving average of the weights and the optimizer in RUN/checkpoint.safetensors,
the state in RUN/state.json) with a validation of the averaged weights, a log RUN/log.jsonl;
Ctrl-C or SIGTERM stop after the current step with a checkpoint and `--resume` goes on from it
(another --minutes stretches or shortens the schedule). The run ends with RUN/scene.safetensors
(the averaged weights in float16) and RUN/scene.json (its config and figures).

Validation figures (`validate`): the IoU of each category over the whole set (`iou_water`, ...),
their mean over water, road, forest and building (`miou`), the height RMSE in metres per map,
averaged (`height_rmse_m`), the same with the true height range (`height_shape_rmse_m`, the error
of the shape alone), the mean absolute relief error in metres, and the splat's total variation
distance from the truth (0..1).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..commands import CHECKPOINT_KEPT, Parser, run_command
from ..text import TextEncoder, TextEncoderUnavailable
from ..training import Trainee, TrainingRun
from .data import CATEGORY_WEIGHT, DataError, read_scene_shard
from .net import KIND, SceneConfig, SceneNet, SceneOutput, parameter_count, save_net, scale_vector, sketch_features
from .world import CATEGORIES

__all__ = ["TrainError", "TrainConfig", "SceneData", "PromptTable", "turn", "make_batch", "losses", "validate",
           "train", "main"]

PROG = "sketchforge-train-scene"
CHECKPOINT_S = 300   # seconds between checkpoints (and validations)
EMA_DECAY = 0.995
FIGURE_CATEGORIES = ("water", "road", "forest", "building")  # the mean IoU's categories
LOSS_WEIGHTS = {"category": 1.0, "height": 1.0, "splat": 1.0, "relief": 0.5, "base": 0.2}

log = logging.getLogger(__name__)


class TrainError(ValueError):
    """A training setting or input that cannot work, with what to do instead."""


@dataclass(frozen=True)
class TrainConfig:
    batch: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    width: int = 16
    max_width: int = 128
    levels: int = 4

    def to_json(self) -> dict:
        return asdict(self)

    def matches(self, saved: dict) -> bool:
        """Whether a checkpoint's settings are these (settings it predates count as their defaults)."""
        defaults = TrainConfig().to_json()
        return all(saved.get(k, defaults[k]) == v for k, v in self.to_json().items())

    def net_config(self) -> SceneConfig:
        return SceneConfig(width=self.width, max_width=self.max_width, levels=self.levels)


# -- data -------------------------------------------------------------------------------------------
class SceneData:
    """A scene dataset in memory: the arrays of every shard under `root` (in shard order) and, per
    item, its prompt and the size of its ground rectangle."""

    def __init__(self, root: str | Path, limit: int | None = None) -> None:
        root = Path(root)
        shards = sorted(root.glob("shard-*.safetensors"))
        if not shards:
            raise TrainError(f"{root} holds no shard-NNNNN.safetensors files; give the folder "
                             "`sketchforge-scene-data generate` wrote")
        keep = ("sketch", "category", "height", "height_range", "splat")
        parts: dict[str, list[np.ndarray]] = {k: [] for k in keep}
        self.prompts: list[str] = []
        sizes = []
        for path in shards:
            try:
                arrays, records = read_scene_shard(path)
            except DataError as exc:
                raise TrainError(str(exc)) from None
            for k in keep:
                parts[k].append(arrays[k])
            self.prompts += [str(r.get("prompt") or "") for r in records]
            sizes += [r["size_m"] for r in records]
            if limit is not None and len(self.prompts) >= limit:
                break
        n = len(self.prompts) if limit is None else min(limit, len(self.prompts))
        self.arrays = {k: np.concatenate(v)[:n] for k, v in parts.items()}
        self.prompts = self.prompts[:n]
        self.scale = np.stack([scale_vector(s) for s in sizes[:n]]) if n else np.zeros((0, 2), np.float32)
        if n == 0:
            raise TrainError(f"{root} holds no items")
        self.text_ids = np.zeros(n, np.int64)

    def __len__(self) -> int:
        return len(self.prompts)


class PromptTable:
    """The pooled embedding of every prompt of the data, the empty one first."""

    def __init__(self, encoder: TextEncoder, prompts: list[str]) -> None:
        unique = list(dict.fromkeys(["", *prompts]))
        self.index = {p: i for i, p in enumerate(unique)}
        self.pooled = encoder.encode(unique)[2].float()
        encoder.save_cache()

    @property
    def empty(self) -> torch.Tensor:
        return self.pooled[0]

    def ids(self, prompts: list[str]) -> np.ndarray:
        return np.array([self.index[p] for p in prompts], np.int64)


def turn(a: np.ndarray, k: int, mirror: bool) -> np.ndarray:
    """A map (..., R, C) turned by k quarter turns anticlockwise, then mirrored east-west."""
    a = np.rot90(a, k, axes=(-2, -1))
    return a[..., ::-1] if mirror else a


def make_batch(data: SceneData, prompts: PromptTable, idx: np.ndarray, rng: np.random.Generator | None = None
               ) -> dict[str, torch.Tensor]:
    """The tensors of a batch of items `idx`; with `rng`, each item turned and mirrored at random
    (module notes)."""
    a = data.arrays
    feats, cats, heights, splats, scales = [], [], [], [], []
    for i in idx:
        k, mirror = (int(rng.integers(4)), bool(rng.random() < 0.5)) if rng is not None else (0, False)
        ink = turn(a["sketch"][i], k, mirror)
        feats.append(sketch_features(np.ascontiguousarray(ink)))
        cats.append(turn(a["category"][i], k, mirror))
        heights.append(turn(a["height"][i], k, mirror))
        splats.append(turn(a["splat"][i], k, mirror))
        scales.append(data.scale[i][::-1] if k % 2 else data.scale[i])
    lo, hi = a["height_range"][idx, 0], a["height_range"][idx, 1]
    return {
        "features": torch.from_numpy(np.stack(feats)),
        "text": prompts.pooled[torch.from_numpy(data.text_ids[idx])],
        "scale": torch.from_numpy(np.ascontiguousarray(np.stack(scales), np.float32)),
        "category": torch.from_numpy(np.stack(cats).astype(np.int64)),
        "height": torch.from_numpy(np.stack(heights).astype(np.float32) / 65535.0),
        "splat": torch.from_numpy(np.stack(splats).astype(np.float32) / 255.0),
        "relief": torch.from_numpy(np.maximum(hi - lo, 1e-3).astype(np.float32)),
        "base": torch.from_numpy(lo.astype(np.float32)),
    }


_CATEGORY_WEIGHT = torch.from_numpy(CATEGORY_WEIGHT)


def losses(out: SceneOutput, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The training losses (module notes) and their weighted sum `total`."""
    got = {
        "category": F.cross_entropy(out.category, batch["category"], weight=_CATEGORY_WEIGHT),
        "height": (out.height - batch["height"]).abs().mean(),
        "splat": F.kl_div(F.log_softmax(out.splat, 1), batch["splat"], reduction="none").sum(1).mean(),
        "relief": (out.log_relief - torch.log(batch["relief"])).abs().mean(),
        "base": ((out.base - batch["base"]) / 5.0).abs().mean(),
    }
    got["total"] = sum(LOSS_WEIGHTS[k] * v for k, v in got.items())
    return got


@torch.inference_mode()
def validate(net: SceneNet, data: SceneData, prompts: PromptTable, batch: int = 16) -> dict[str, float]:
    """The validation figures of the module notes over every item of `data` (no augmentation)."""
    was_training = net.training
    net.eval()
    nc = len(CATEGORIES)
    inter, union = np.zeros(nc), np.zeros(nc)
    rmse, shape_rmse, relief_err, tv, loss, n = 0.0, 0.0, 0.0, 0.0, 0.0, 0
    for start in range(0, len(data), batch):
        idx = np.arange(start, min(start + batch, len(data)))
        b = make_batch(data, prompts, idx)
        out = net(b["features"], b["text"], b["scale"])
        loss += float(losses(out, b)["total"]) * len(idx)
        pred = out.category.argmax(1)
        for c in range(nc):
            p, t = pred == c, b["category"] == c
            inter[c] += float((p & t).sum())
            union[c] += float((p | t).sum())
        true_m = b["base"][:, None, None] + b["height"] * b["relief"][:, None, None]
        rmse += float(((out.height_m() - true_m) ** 2).mean((1, 2)).sqrt().sum())
        shaped = b["base"][:, None, None] + out.height * b["relief"][:, None, None]
        shape_rmse += float(((shaped - true_m) ** 2).mean((1, 2)).sqrt().sum())
        relief_err += float((out.relief - b["relief"]).abs().sum())
        tv += float(0.5 * (F.softmax(out.splat, 1) - b["splat"]).abs().sum(1).mean((1, 2)).sum())
        n += len(idx)
    if was_training:
        net.train()
    iou = {c: inter[i] / union[i] if union[i] > 0 else float("nan") for i, c in enumerate(CATEGORIES)}
    figs = {"val_loss": loss / n, **{f"iou_{c}": round(v, 4) for c, v in iou.items()}}
    figs["miou"] = round(float(np.nanmean([iou[c] for c in FIGURE_CATEGORIES])), 4)
    figs.update({"height_rmse_m": round(rmse / n, 3), "height_shape_rmse_m": round(shape_rmse / n, 3),
                 "relief_mae_m": round(relief_err / n, 3), "splat_tv": round(tv / n, 4)})
    figs["val_loss"] = round(figs["val_loss"], 5)
    return figs


def train(data_dir: str | Path, out: str | Path, minutes: float, val_dir: str | Path | None = None,
          resume: bool = False, threads: int | None = None, progress: bool = True, limit: int | None = None,
          max_steps: int | None = None, **settings) -> dict:
    """Train into `out` (module notes); returns the final training state."""
    if not (minutes > 0 and math.isfinite(minutes)):
        raise TrainError(f"--minutes must be a positive number, got {minutes}")
    config = TrainConfig(**settings)
    if threads:
        torch.set_num_threads(threads)
    run = Path(out)
    run.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    data = SceneData(data_dir, limit)
    val = SceneData(val_dir) if val_dir is not None else None
    try:
        prompts = PromptTable(TextEncoder(cache=run / "cache" / "text.safetensors"),
                              data.prompts + (val.prompts if val is not None else []))
    except TextEncoderUnavailable as exc:
        raise TrainError(str(exc)) from None
    data.text_ids = prompts.ids(data.prompts)
    if val is not None:
        val.text_ids = prompts.ids(val.prompts)
    log.info("read %d items (%s) in %.1f s", len(data), data_dir, time.monotonic() - started)

    torch.manual_seed(config.seed)
    net = SceneNet(config.net_config())
    net.empty_text.copy_(prompts.empty)
    trainee = Trainee(net, EMA_DECAY)
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    training = TrainingRun(run, trainee, opt, config, kind=KIND, net_config=net.config.to_json(), minutes=minutes,
                           resume=resume, error=TrainError, log=log)
    state = training.state
    if state["done"]:
        log.info("the run in %s is done already", run)
        return state
    log.info("%d parameters, %d items, %.1f minutes", parameter_count(net), len(data), minutes)
    n = len(data)
    per_epoch = max(n // config.batch, 1)

    def step_losses(step: int) -> dict[str, torch.Tensor]:
        epoch, i = divmod(step, per_epoch)
        if n >= config.batch:
            order = np.random.default_rng([config.seed, epoch]).permutation(n)
            idx = np.sort(order[i * config.batch:(i + 1) * config.batch])
        else:
            idx = np.random.default_rng([config.seed, 7, step]).integers(0, n, config.batch)
        batch = make_batch(data, prompts, idx, np.random.default_rng([config.seed, 1, step]))
        return losses(net(batch["features"], batch["text"], batch["scale"]), batch)

    if not training.steps(step_losses, (lambda: validate(trainee.ema, val, prompts)) if val is not None else None,
                          desc="scene", progress=progress, max_steps=max_steps, checkpoint_s=CHECKPOINT_S, log_lr=True):
        return state
    training.finish(validate(trainee.ema, val if val is not None else data, prompts), run / "scene.safetensors",
                    save_net, "validation" if val is not None else "training",
                    {"data": str(data_dir), "val": None if val_dir is None else str(val_dir)})
    return state


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description="Train the network that reads a top-down scene sketch into its layout "
                                      "(categories, heights, splat).")
    p.add_argument("--data", required=True, help="training set (the shards `sketchforge-scene-data generate` wrote)")
    p.add_argument("--val", default=None, help="validation set (same layout)")
    p.add_argument("--out", required=True, type=Path, help="run folder")
    p.add_argument("--minutes", required=True, type=float, help="time for the training steps")
    p.add_argument("--resume", action="store_true", help="go on with the run in --out")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--width", type=int, default=16, help="channels at full resolution")
    p.add_argument("--max-width", type=int, default=128, help="channels at most (the bottleneck's)")
    p.add_argument("--levels", type=int, default=4, help="halvings from the input to the bottleneck")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    return run_command(PROG, lambda: _main(argv), (TrainError, OSError), interrupted=CHECKPOINT_KEPT, log_progress=True)


def _main(argv: list[str] | None) -> int:
    a = _parser().parse_args(argv)
    for name in ("batch", "width", "max_width", "levels"):
        if getattr(a, name) < 1:
            raise TrainError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(a, name)}")
    if a.max_width < a.width:
        raise TrainError(f"--max-width ({a.max_width}) must be at least --width ({a.width})")
    if not (a.lr > 0 and math.isfinite(a.lr)):
        raise TrainError(f"--lr must be a positive number, got {a.lr}")
    if a.threads is not None and a.threads < 1:
        raise TrainError(f"--threads must be at least 1, got {a.threads}")
    state = train(a.data, a.out, a.minutes, a.val, a.resume, a.threads, progress=not a.quiet, batch=a.batch,
                  lr=a.lr, seed=a.seed, width=a.width, max_width=a.max_width, levels=a.levels)
    print(json.dumps({"step": state["step"], "done": state["done"], "figures": state.get("figures")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
