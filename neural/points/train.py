"""`sketchforge-train-points`: train the networks of the points back end (`net.PointsNet`).

    sketchforge-train-points --data DIR [--val DIR] --out RUN --minutes M [--stage shape|color|both|joint]
                             [--resume] [--batch 16] [--points 1024] [--lr 1e-3] [--seed 0] [--threads N]
                             [--width 128] [--point-width 64] [--blocks 4] [--latents 32] [--text-cache F] [--quiet]
                             [--text-drop 0.1] [--jitter 0.02] [--point-cond] [--init WEIGHTS]

The data is the points generator's: `shard-NNNNN.safetensors` with `points` (K, 2048, 3) float32
(world mm), `colors` (K, 2048, 3) uint8 and `parts` (K, 2048) int16, beside `shard-NNNNN.jsonl`
with one line per item: `prompt`, `category` and `sketch` (a sketch-file JSON object).
`read_shard` is the one function that reads that layout.

Before the first step every item is carried into the network's frame (`frame.ViewFrame`: the
ink raster, the view, the camera vector, the positions in the sketch's frame; the color stage
reads them turned and in their own frame, as `frame.unit_cloud`) and every prompt is encoded once
(`neural.text`); both are kept under RUN/cache (npz without pickle, safetensors) and reused by
later stages and runs.

Stages: `shape` (positions from sketch + prompt + view), `color` (colors and part labels from
fixed positions + prompt), `both` (shape, then color; 60% / 40% of the minutes), `joint` (the
one-stage baseline). Each stage trains in RUN/<stage>/ with a checkpoint every few minutes
(weights, the exponential moving average of the weights and the optimizer in one weight file,
`neural.training`; the training state also in state.json), a log (RUN/<stage>/log.jsonl:
losses, validation loss, sampled figures) and ends with RUN/<stage>.safetensors (the averaged
weights in float16, a few MB) and RUN/<stage>.json (its config and figures).

The time budget is what training steps may take (reading and encoding come before it); the
learning-rate schedule (warm-up, cosine, `neural.training.learning_rate`) runs over the time
spent, not over a number of steps, so a busy machine still ends its run decayed and on time
(the price: the same seed on another machine takes other steps). Ctrl-C or SIGTERM stop after
the current step with a checkpoint; `--resume` goes on from it (a finished stage is skipped;
another --minutes stretches or shortens the schedule).

`--point-cond` gives the color stage's points their own reading of the prompt (`PointsConfig`);
`--init WEIGHTS` starts a stage from a trained network of the same size (the shipped one, say)
and grows the modules it lacks from identity, so the run goes on from what that network knew
(its steps are recorded beside the run's own in the weight file, `init`).

Augmentation: sketch stages mirror the sketch and the cloud left-right half of the time; the color
stage turns the positions about Z by any angle and mirrors them (it reads no sketch, so it must
color any pose). Every step reads a random `--points` subset of each cloud.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from sketchforge.modeling.sketch import Sketch, SketchError

from ..commands import CHECKPOINT_KEPT, Parser, run_command
from ..text import MAX_TOKENS, TextEncoder
from ..training import Trainee, TrainingRun, load_kept, save_kept
from ..weights import WeightsError
from .diffusion import (
    GUIDANCE,
    SketchInputs,
    colors_to_unit,
    denoise,
    diffusion_loss,
    training_scheduler,
    unit_to_colors,
)
from .frame import CAMERA_VECTOR, MARGIN, SIZE, FrameError, mirror_camera_vector
from .net import KINDS, PointsConfig, PointsNet, grow_from, parameter_count, save_net

__all__ = ["TrainError", "TrainConfig", "PointsData", "TextTable", "read_shard", "make_batch", "chamfer", "validate",
           "train_stage", "train", "main"]

PROG = "sketchforge-train-points"
PREP_VERSION = 1     # the layout of the kept per-shard arrays (bump when the frame changes)
SHAPE_SHARE = 0.6    # --stage both: the shape stage's share of the minutes
CHECKPOINT_S = 300   # seconds between checkpoints (and validation losses)
EMA_DECAY = 0.999
VAL_ITEMS = 64       # items of the validation loss
SAMPLE_ITEMS = 8     # items of the sampled figures (Chamfer, color error)
SAMPLE_STEPS = 25

log = logging.getLogger(__name__)


class TrainError(ValueError):
    """A training setting or input that cannot work, with what to do instead."""


@dataclass(frozen=True)
class TrainConfig:
    stage: str
    batch: int = 16
    points: int = 1024
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    width: int = 128
    point_width: int = 64
    blocks: int = 4
    latents: int = 32
    text_drop: float = 0.1  # color stage: share of items read with the empty prompt (for guidance)
    jitter: float = 0.02    # color stage: positions moved by noise of up to this sigma (unit frame), as a
                            # sampled shape is never quite the true one
    point_cond: bool = False  # color stage: every point reads the prompt's tokens itself (`PointsConfig`)

    def to_json(self) -> dict:
        return asdict(self)

    def applies(self, name: str) -> bool:
        """Whether a setting changes what this stage learns (the color stage's own ones do not touch the others)."""
        return name not in ("text_drop", "jitter", "point_cond") or self.stage == "color"

    def matches(self, saved: dict) -> bool:
        """Whether a checkpoint's settings are these (settings it predates count as their defaults)."""
        defaults = TrainConfig(stage=self.stage).to_json()
        mine = self.to_json()
        return all(saved.get(k, defaults[k]) == v for k, v in mine.items() if self.applies(k))

    def net_config(self, parts: int) -> PointsConfig:
        color = self.stage == "color"
        return PointsConfig(stage=self.stage, width=self.width, point_width=self.point_width, blocks=self.blocks,
                            latents=self.latents, parts=0 if self.stage == "shape" else parts,
                            text_drop=self.text_drop if color else 0.0, point_cond=self.point_cond and color)


# -- data -------------------------------------------------------------------------------------------
def read_shard(path: Path) -> tuple[dict[str, np.ndarray], list[dict]]:
    """One shard of the points generator: its arrays (`points`, `colors`, `parts`) and its records
    (`prompt`, `category`, `sketch`), in item order. The one place that knows the layout."""
    from safetensors.numpy import load_file
    try:
        arrays = load_file(str(path))
        lines = path.with_suffix(".jsonl").read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError) as exc:
        raise TrainError(f"cannot read the shard {path} ({exc}); make the data again") from None
    for name in ("points", "colors", "parts"):
        if name not in arrays:
            raise TrainError(f"{path} holds no '{name}' array; is it a points data shard?")
    if len(records) != len(arrays["points"]):
        raise TrainError(f"{path} holds {len(arrays['points'])} clouds but {path.with_suffix('.jsonl').name} "
                         f"{len(records)} records; make the data again")
    return arrays, records


def _prepare(arrays: dict[str, np.ndarray], records: list[dict]) -> dict[str, np.ndarray]:
    """A shard carried into the networks' frames (module docstring); items whose sketch gives no
    frame are left out (`kept` holds the indices of the others)."""
    out: dict[str, list] = {k: [] for k in ("view_points", "raster", "view", "camera", "kept")}
    prompts, categories = [], []
    for i, rec in enumerate(records):
        try:
            sketch = Sketch.from_json(rec["sketch"])
            frame, inputs = SketchInputs.of_sketch(sketch)
        except (KeyError, SketchError, FrameError) as exc:
            log.warning("item %d: no usable sketch (%s); left out", i, exc)
            continue
        pts = arrays["points"][i]
        out["view_points"].append(frame.to_view(pts))
        out["raster"].append(np.packbits(inputs.raster.astype(bool), axis=-1))
        out["view"].append(inputs.view)
        out["camera"].append(inputs.camera)
        out["kept"].append(i)
        prompt = rec.get("prompt") or sketch.prompt or ""
        prompts.append(str(prompt))
        categories.append(str(rec.get("category", "")))
    kept = np.asarray(out["kept"], np.int64)
    n = arrays["points"].shape[1]
    res = {k: (np.stack(v) if v else np.zeros((0,), np.float32)) for k, v in out.items() if k != "kept"}
    if not len(kept):
        res = {"view_points": np.zeros((0, n, 3), np.float32), "raster": np.zeros((0, SIZE, SIZE // 8), np.uint8),
               "view": np.zeros((0, 3), np.float32), "camera": np.zeros((0, CAMERA_VECTOR), np.float32)}
    res["colors"] = np.asarray(arrays["colors"])[kept].astype(np.uint8)
    res["parts"] = np.asarray(arrays["parts"])[kept].astype(np.int16)
    res["prompts"] = np.array(prompts, dtype=str)
    res["categories"] = np.array(categories, dtype=str)
    return res


class PointsData:
    """A points dataset in memory, in the networks' frames, prepared once per shard and kept under
    `cache` (keyed by the shard's size and time and the frame's layout)."""

    def __init__(self, root: str | Path, cache: Path | None, limit: int | None = None) -> None:
        root = Path(root)
        shards = sorted(root.glob("shard-*.safetensors"))
        if not shards:
            raise TrainError(f"{root} holds no shard-NNNNN.safetensors files; give the folder the points data "
                             "generator wrote")
        parts = []
        for path in shards:
            st = path.stat()
            jsonl = path.with_suffix(".jsonl")
            js = jsonl.stat() if jsonl.is_file() else None
            key = (f"points-prep {PREP_VERSION} size={SIZE} margin={MARGIN} {st.st_size} {st.st_mtime_ns} "
                   f"{js.st_size if js else 0} {js.st_mtime_ns if js else 0}")
            tag = hashlib.sha1(str(root.resolve()).encode("utf-8")).hexdigest()[:8]
            kept_path = None if cache is None else cache / f"{root.name}-{tag}-{path.stem}.npz"
            got = load_kept(kept_path, key) if kept_path is not None else None
            if got is None:
                got = _prepare(*read_shard(path))
                if kept_path is not None:
                    kept_path.parent.mkdir(parents=True, exist_ok=True)
                    save_kept(kept_path, key, got)
            parts.append(got)
            if limit is not None and sum(len(p["colors"]) for p in parts) >= limit:
                break
        self.arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        if limit is not None:
            self.arrays = {k: v[:limit] for k, v in self.arrays.items()}
        self.prompts = [str(p) for p in self.arrays["prompts"]]
        if len(self) == 0:
            raise TrainError(f"{root} holds no item with a usable sketch")
        self.text_ids: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.arrays["colors"])

    def max_part(self) -> int:
        return int(self.arrays["parts"].max()) if len(self) else 0


class TextTable:
    """Every prompt's encoding as one padded float16 table, for batches by prompt index; the empty
    prompt is always in it (`empty`), for the items trained without their prompt."""

    def __init__(self, encoder: TextEncoder, prompts: list[str]) -> None:
        self.index = {p: i for i, p in enumerate(dict.fromkeys(["", *prompts]))}
        self.empty = self.index[""]
        unique = list(self.index)
        tokens, mask, pooled = [], [], []
        for start in range(0, len(unique), 256):
            t, m, p = encoder.encode(unique[start:start + 256])
            pad = torch.zeros(t.shape[0], MAX_TOKENS, t.shape[2])
            pad[:, :t.shape[1]] = t
            mk = torch.zeros(t.shape[0], MAX_TOKENS, dtype=torch.bool)
            mk[:, :t.shape[1]] = m
            tokens.append(pad.half())
            mask.append(mk)
            pooled.append(p)
        encoder.save_cache()
        self.tokens, self.mask, self.pooled = torch.cat(tokens), torch.cat(mask), torch.cat(pooled)

    def ids(self, prompts: list[str]) -> np.ndarray:
        return np.array([self.index[p] for p in prompts], np.int64)

    def batch(self, ids: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        i = torch.from_numpy(np.asarray(ids))
        mask = self.mask[i]
        t = max(int(mask.sum(1).max()), 1)
        return self.tokens[i, :t].float(), mask[:, :t], self.pooled[i]


def _rotation_z(angle: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(angle), torch.sin(angle)
    z, o = torch.zeros_like(c), torch.ones_like(c)
    return torch.stack([torch.stack([c, -s, z], -1), torch.stack([s, c, z], -1), torch.stack([z, z, o], -1)], -2)


def make_batch(data: PointsData, text: TextTable, idx: np.ndarray, stage: str, points: int, gen: torch.Generator,
               augment: bool, text_drop: float = 0.0, jitter: float = 0.0) -> dict[str, torch.Tensor]:
    """The tensors of one batch for `stage` (a random `points` subset of each cloud); with `augment`,
    the color stage reads a `text_drop` share of items with the empty prompt and its positions
    moved by noise of sigma up to `jitter`."""
    a = data.arrays
    b = len(idx)
    n = a["colors"].shape[1]
    pick_t = torch.rand(b, n, generator=gen).argsort(1)[:, :points] if points < n else torch.arange(n).repeat(b, 1)
    pick = pick_t.numpy()
    rows = np.asarray(idx)[:, None]
    out: dict[str, torch.Tensor] = {}
    ids = np.array(data.text_ids[idx])
    if augment and stage == "color" and text_drop > 0:
        ids[(torch.rand(b, generator=gen) < text_drop).numpy()] = text.empty
    out["tokens"], out["mask"], out["pooled"] = text.batch(ids)
    colors = colors_to_unit(a["colors"][rows, pick])
    out["parts"] = torch.from_numpy(a["parts"][rows, pick].astype(np.int64))
    flip = (torch.rand(b, generator=gen) < 0.5) if augment else torch.zeros(b, dtype=torch.bool)
    if stage == "color":  # the whole cloud turned (and mirrored), then in its own frame as `unit_cloud`
        pos = torch.from_numpy(a["view_points"][idx])
        if augment:
            rot = _rotation_z(torch.rand(b, generator=gen) * 2 * math.pi)
            pos = pos @ rot.transpose(1, 2)
            pos = torch.where(flip.view(-1, 1, 1), pos * torch.tensor([-1.0, 1.0, 1.0]), pos)
        lo, hi = pos.min(1, keepdim=True).values, pos.max(1, keepdim=True).values
        pos = (pos - 0.5 * (lo + hi)) / (0.5 * (hi - lo).amax(-1, keepdim=True)).clamp_min(1e-9)
        pos = pos[torch.arange(b)[:, None], pick_t]
        if augment and jitter > 0:
            sigma = torch.rand(b, 1, 1, generator=gen) * jitter
            pos = pos + sigma * torch.randn(pos.shape, generator=gen)
        out["positions"], out["x0"] = pos, colors
        return out
    pts = torch.from_numpy(a["view_points"][rows, pick])
    raster = np.unpackbits(a["raster"][idx], axis=-1)[..., :SIZE].astype(np.float32)
    camera = a["camera"][idx].copy()
    f = flip.numpy()
    if f.any():
        raster[f] = raster[f][..., ::-1]
        camera[f] = np.stack([mirror_camera_vector(c) for c in camera[f]])
        pts = torch.where(flip.view(-1, 1, 1), pts * torch.tensor([-1.0, 1.0, 1.0]), pts)
    out["raster"] = torch.from_numpy(np.ascontiguousarray(raster))[:, None]
    out["view"] = torch.from_numpy(a["view"][idx])
    out["camera"] = torch.from_numpy(camera)
    out["x0"] = pts if stage == "shape" else torch.cat([pts, colors], -1)
    return out


def _encode(net: PointsNet, batch: dict[str, torch.Tensor]):
    if net.config.sketch:
        return net.encode(batch["tokens"], batch["mask"], batch["pooled"], batch["raster"], batch["view"],
                          batch["camera"])
    return net.encode(batch["tokens"], batch["mask"], batch["pooled"])


# -- figures ----------------------------------------------------------------------------------------
def chamfer(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Symmetric Chamfer distance (B,): mean squared distance to the nearest point, both ways."""
    d = torch.cdist(a, b).pow(2)
    return d.min(2).values.mean(1) + d.min(1).values.mean(1)


def _nearest_colors(pts: torch.Tensor, ref: torch.Tensor, ref_colors: np.ndarray) -> np.ndarray:
    near = torch.cdist(pts, ref).argmin(2).numpy()
    return np.take_along_axis(ref_colors, near[..., None], 1)


@torch.no_grad()
def validate(net: PointsNet, scheduler, data: PointsData, text: TextTable, stage: str, points: int,
             sample: bool) -> dict[str, float]:
    """The denoising loss on up to VAL_ITEMS items (fixed noise), and with `sample` the figures of
    clouds sampled for up to SAMPLE_ITEMS items: Chamfer distance in the sketch's frame (shape,
    joint), mean absolute color error (0-255) and part accuracy (color, joint: against the nearest
    true point)."""
    net.eval()
    gen = torch.Generator().manual_seed(1234)
    n = min(len(data), VAL_ITEMS)
    total, count = 0.0, 0
    for start in range(0, n, 16):
        idx = np.arange(start, min(start + 16, n))
        batch = make_batch(data, text, idx, stage, points, gen, augment=False)
        losses = diffusion_loss(net, scheduler, _encode(net, batch), batch["x0"], gen, batch.get("positions"),
                                batch["parts"])
        total += float(losses["denoise"]) * len(idx)
        count += len(idx)
    figs = {"val_loss": total / max(count, 1)}
    if sample:
        figs.update(_sampled(net, data, text, stage))
    net.train()
    return figs


def _sampled(net: PointsNet, data: PointsData, text: TextTable, stage: str) -> dict[str, float]:
    idx = np.arange(min(len(data), SAMPLE_ITEMS))
    full = data.arrays["colors"].shape[1]
    gen = torch.Generator().manual_seed(99)
    batch = make_batch(data, text, idx, stage, full, gen, augment=False)
    cond = _encode(net, batch)
    b = len(idx)
    true_colors = data.arrays["colors"][idx]
    if stage == "color":
        uncond = None
        if net.config.text_drop > 0:
            uncond = _encode(net, dict(zip(("tokens", "mask", "pooled"), text.batch(np.full(b, text.empty)))))
        rgb = denoise(net, cond, (b, full, 3), steps=SAMPLE_STEPS, seed=7, positions=batch["positions"],
                      unconditional=uncond, guidance=GUIDANCE)
        _, logits = net.forward_with_parts(rgb, torch.zeros(b, dtype=torch.long), cond, batch["positions"])
        err = np.abs(unit_to_colors(rgb).astype(np.float32) - true_colors).mean()
        figs = {"color_err": float(err)}
        if logits is not None:
            figs["part_acc"] = float((logits.argmax(-1) == batch["parts"]).float().mean())
        return figs
    x = denoise(net, cond, (b, full, net.config.channels), steps=SAMPLE_STEPS, seed=7)
    truth = batch["x0"][..., :3]
    figs = {"chamfer": float(chamfer(x[..., :3], truth).mean())}
    if stage == "joint":
        near = _nearest_colors(x[..., :3], truth, true_colors)
        figs["color_err"] = float(np.abs(unit_to_colors(x[..., 3:]).astype(np.float32) - near).mean())
    return figs


# -- the loop ---------------------------------------------------------------------------------------
def _part_count(data: PointsData) -> int:
    try:
        from .objects import PART_NAMES
        names = len(PART_NAMES)
    except ImportError:
        names = 0
    return max(names, data.max_part() + 1)


def train_stage(config: TrainConfig, data: PointsData, val: PointsData | None, text: TextTable, out: Path,
                minutes: float, resume: bool = False, progress: bool = True, max_steps: int | None = None,
                init: Path | None = None) -> dict:
    """Train one stage into out/<stage>/ and write out/<stage>.safetensors and .json; returns the
    final training state (module docstring)."""
    run = out / config.stage
    run.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    net = PointsNet(config.net_config(_part_count(data)))
    trainee = Trainee(net, EMA_DECAY)
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    training = TrainingRun(run, trainee, opt, config, kind=KINDS[config.stage], net_config=net.config.to_json(),
                           minutes=minutes, resume=resume, error=TrainError, log=log)
    state = training.state
    if init is not None and not training.resumed:  # grown from a trained network: the new modules at identity
        try:
            grown = grow_from(net, init)
        except (ValueError, WeightsError) as exc:  # WeightsError: an unreadable file
            raise TrainError(str(exc)) from None
        trainee.ema.load_state_dict(net.state_dict())
        state["init"] = {"from": Path(init).name, **{k: grown.get(k) for k in ("steps", "seconds", "items")}}
        log.info("%s: grown from %s (%s steps)", config.stage, init, grown.get("steps"))
    if state["done"]:
        log.info("%s: done already", config.stage)
        return state
    scheduler = training_scheduler()
    log.info("%s: %d parameters, %d items, %.1f minutes", config.stage, parameter_count(net), len(data), minutes)
    n = len(data)
    per_epoch = max(n // config.batch, 1)

    def losses(step: int) -> dict[str, torch.Tensor]:
        epoch, i = divmod(step, per_epoch)
        order = np.random.default_rng(config.seed * 1000 + epoch).permutation(n)
        idx = np.sort(order[i * config.batch:(i + 1) * config.batch]) if n >= config.batch else \
            np.random.default_rng(config.seed * 7 + step).integers(0, n, config.batch)
        gen = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        batch = make_batch(data, text, idx, config.stage, config.points, gen, augment=True,
                           text_drop=config.text_drop, jitter=config.jitter)
        return diffusion_loss(net, scheduler, _encode(net, batch), batch["x0"], gen, batch.get("positions"),
                              batch["parts"])

    def figures(on: PointsData, sample: bool) -> dict[str, float]:
        return validate(trainee.ema, scheduler, on, text, config.stage, config.points, sample)

    if not training.steps(losses, (lambda: figures(val, False)) if val is not None else None, desc=config.stage,
                          progress=progress, max_steps=max_steps, checkpoint_s=CHECKPOINT_S):
        return state
    went_on_from = {"init": state["init"]} if state.get("init") else None  # its steps and seconds come on top
    training.finish(figures(val if val is not None else data, True), out / f"{config.stage}.safetensors", save_net,
                    "validation" if val is not None else "training", went_on_from)
    return state


def train(data_dir: str | Path, out: str | Path, minutes: float, stage: str = "both", val_dir: str | Path | None = None,
          resume: bool = False, threads: int | None = None, text_cache: str | Path | None = None,
          progress: bool = True, limit: int | None = None, init: str | Path | None = None,
          **settings) -> dict[str, dict]:
    """Train `stage` ("shape", "color", "both" or "joint") into `out`; the final states by stage."""
    if stage not in ("shape", "color", "both", "joint"):
        raise TrainError(f"--stage must be shape, color, both or joint, got {stage!r}")
    if not (minutes > 0 and math.isfinite(minutes)):
        raise TrainError(f"--minutes must be a positive number, got {minutes}")
    if init is not None and stage == "both":
        raise TrainError("--init grows one stage: name it with --stage shape, color or joint")
    if init is not None and not Path(init).is_file():
        raise TrainError(f"--init {init}: no such weight file; give a trained network of this stage")
    init = Path(init) if init is not None else None
    if threads:
        torch.set_num_threads(threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "cache"
    started = time.monotonic()
    data = PointsData(data_dir, cache, limit)
    val = PointsData(val_dir, cache) if val_dir is not None else None
    encoder = TextEncoder(cache=Path(text_cache) if text_cache else cache / "text.safetensors")
    text = TextTable(encoder, data.prompts + (val.prompts if val is not None else []))
    data.text_ids = text.ids(data.prompts)
    if val is not None:
        val.text_ids = text.ids(val.prompts)
    log.info("read %d items (%s) in %.1f s", len(data), data_dir, time.monotonic() - started)
    stages = {"both": [("shape", SHAPE_SHARE), ("color", 1.0 - SHAPE_SHARE)]}.get(stage, [(stage, 1.0)])
    states = {}
    for name, share in stages:
        config = TrainConfig(stage=name, **settings)
        states[name] = train_stage(config, data, val, text, out, minutes * share, resume, progress,
                                   init=init if stage != "both" else None)
    return states


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description="Train the networks of the points back end (colored point clouds from a "
                                      "sketch and a prompt).")
    p.add_argument("--data", required=True, help="training set (the points data generator's shards)")
    p.add_argument("--val", default=None, help="validation set (same layout)")
    p.add_argument("--out", required=True, type=Path, help="run folder")
    p.add_argument("--minutes", required=True, type=float, help="time for the training steps (all stages)")
    p.add_argument("--stage", default="both", choices=("shape", "color", "both", "joint"))
    p.add_argument("--resume", action="store_true", help="go on with the run in --out")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--points", type=int, default=1024, help="points of each cloud read per step")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--point-width", type=int, default=64)
    p.add_argument("--blocks", type=int, default=4)
    p.add_argument("--latents", type=int, default=32)
    p.add_argument("--text-drop", type=float, default=0.1,
                   help="color stage: share of items trained with the empty prompt, so sampling can be guided by "
                        "the prompt (0: no guidance)")
    p.add_argument("--jitter", type=float, default=0.02,
                   help="color stage: positions moved by noise of up to this sigma (the cloud's own frame, "
                        "half-size 1)")
    p.add_argument("--point-cond", action="store_true",
                   help="color stage: every point reads the prompt's tokens itself, not only through the latents")
    p.add_argument("--init", default=None, help="start the stage from this trained network (same size); modules it "
                                                "lacks start as identity")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--text-cache", default=None, help="the prompts' encodings (default RUN/cache/text.safetensors)")
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    return run_command(PROG, lambda: _main(argv), (TrainError, OSError), interrupted=CHECKPOINT_KEPT, log_progress=True)


def _main(argv: list[str] | None) -> int:
    a = _parser().parse_args(argv)
    for name in ("batch", "points", "width", "point_width", "blocks", "latents"):
        if getattr(a, name) < 1:
            raise TrainError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(a, name)}")
    if not (a.lr > 0 and math.isfinite(a.lr)):
        raise TrainError(f"--lr must be a positive number, got {a.lr}")
    if not 0.0 <= a.text_drop < 1.0:
        raise TrainError(f"--text-drop must be at least 0 and below 1, got {a.text_drop}")
    if not (0.0 <= a.jitter <= 0.5):
        raise TrainError(f"--jitter must be between 0 and 0.5, got {a.jitter}")
    from ..text import TextEncoderUnavailable
    from .diffusion import DiffusionUnavailable
    try:
        states = train(a.data, a.out, a.minutes, a.stage, a.val, a.resume, a.threads, a.text_cache,
                       progress=not a.quiet, batch=a.batch, points=a.points, lr=a.lr, seed=a.seed, width=a.width,
                       point_width=a.point_width, blocks=a.blocks, latents=a.latents,
                       text_drop=a.text_drop, jitter=a.jitter, point_cond=a.point_cond, init=a.init)
    except (TextEncoderUnavailable, DiffusionUnavailable) as exc:
        raise TrainError(str(exc)) from None
    summary = {k: {"step": s["step"], "done": s["done"], "figures": s.get("figures")} for k, s in states.items()}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
