"""Training the stroke-suggestion network (`train`): denoising, on generated heads.

Inputs are a head's humanised drawings (`head_sketch`) cut into parts (box jittered a little, as a
person's box will not sit exactly where the generator's does), targets the same instance's clean
strokes (for half the drawings of an eye, brow or ear, the other side's clean strokes, mirrored:
the traced curves of the two sides differ by a pixel here and there, and a library lists right
parts only). The loss adds (1) the reconstruction of the clean image (binary cross-entropy against
the clean image softened by a 1-px Gaussian, so near misses cost less), (2) an InfoNCE term that
pulls the embedding of a drawing to that of its own clean part and away from the other clean parts
in the batch (the retrieval task itself), and (3) part-type cross-entropy on the latent. Heads:
item i of seed S is `seeded_head(S, i)`; its k-th training drawing uses `default_rng([S, i, 2, k])`.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ...synth.reading import DataError
from ..parts import PARTS
from .drawings import head_parts, part_images, seeded_head
from .network import SuggestConfig, SuggestNet, embed_images, save_model

__all__ = ["TrainSettings", "train"]

DEFAULT_CONFIG = SuggestConfig()  # the network's default shape; frozen, so one shared instance serves as a default


@dataclass(frozen=True)
class TrainSettings:
    """Everything a training run depends on (with the network's `SuggestConfig`)."""

    heads: int
    seed: int = 0
    epochs: int = 10
    size: int = 256
    drawings: int = 4            # humanised drawings per head
    batch: int = 64
    lr: float = 2e-3
    jitter: float = 0.03         # box jitter of the inputs (share of the box's longer side)
    other_side: float = 0.5      # share of paired-part drawings aimed at the other side's clean part
    temperature: float = 0.1     # InfoNCE temperature
    w_recon: float = 1.0
    w_nce: float = 1.0
    w_class: float = 0.2
    val_heads: int = -1          # held-out heads of the training seed for validation (-1: heads // 10)
    max_minutes: float = 0.0     # stop after this long, data generation included (0: no limit)

    def __post_init__(self) -> None:
        for name in ("heads", "seed", "epochs", "size", "drawings", "batch", "val_heads"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool):
                raise DataError(f"--{name.replace('_', '-')} must be an integer, got {v!r}")
        if self.heads < 1 or self.epochs < 1 or self.drawings < 1 or self.batch < 2:
            raise DataError("--heads, --epochs and --drawings must be at least 1 and --batch at least 2, got "
                            f"{self.heads}, {self.epochs}, {self.drawings}, {self.batch}")
        if self.seed < 0:
            raise DataError(f"--seed must be a non-negative integer, got {self.seed}")
        if not 32 <= self.size <= 1024:
            raise DataError(f"--size must be between 32 and 1024 pixels, got {self.size}")
        if not (math.isfinite(self.max_minutes) and self.max_minutes >= 0):
            raise DataError(f"--max-minutes must be 0 (no limit) or a positive number, got {self.max_minutes}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise DataError(f"--lr must be a positive number, got {self.lr}")
        if not 0.0 <= self.other_side <= 1.0:
            raise DataError(f"other_side must be between 0 and 1, got {self.other_side}")
        if not 0.0 <= self.jitter < 0.25:
            raise DataError(f"--jitter must be between 0 and 0.25, got {self.jitter}")

    @property
    def validation(self) -> int:
        v = self.heads // 10 if self.val_heads < 0 else self.val_heads
        return min(v, self.heads - 1)

    def to_json(self) -> dict:
        return asdict(self)


def _instance_data(settings: TrainSettings, image_size: int, items: range, deadline: float | None,
                   progress: Callable[[int], None] | None) -> dict[str, np.ndarray]:
    """Clean target images per part instance (`clean`, with `part`, `key` = head * len(PARTS) +
    part, and `listed`: a right or centre instance, the ones a library lists) and humanised input
    images (`noisy`) with the index of their clean target (`target`: their own instance, or with
    probability `other_side` the other side's of a mirrored pair) and their own key (`drawn_key`,
    equal to key[target])."""
    clean, clean_part, clean_key, listed = [], [], [], []
    noisy, noisy_target, noisy_key = [], [], []
    for i in items:
        if deadline is not None and time.perf_counter() > deadline:
            raise DataError("--max-minutes ran out while the training heads were generated; allow more minutes "
                            "or fewer --heads")
        params = seeded_head(settings.seed, i)
        ref = {p.key: p for p in head_parts(params, settings.size) if p.polylines}
        base = len(clean_part)
        keys = sorted(ref)
        if keys:
            clean.append(part_images([ref[k] for k in keys], image_size))
            clean_part += [PARTS.index(ref[k].part) for k in keys]
            # the key names the (head, part type): both sides of a pair are the same shape
            clean_key += [i * len(PARTS) + PARTS.index(ref[k].part) for k in keys]
            listed += [ref[k].side != "left" for k in keys]
        for d in range(settings.drawings):
            rng = np.random.default_rng([settings.seed, i, 2, d])
            drawn = [p for p in head_parts(params, settings.size, rng) if p.key in ref and p.polylines]
            if drawn:
                noisy.append(part_images(drawn, image_size, settings.jitter, rng))
                for p in drawn:
                    # the traced curves of a left part, mirrored, differ from the right one's by
                    # a pixel here and there: aiming some drawings at the other side's clean part
                    # teaches the embedding to ignore that (a library lists right parts only)
                    other = f"{p.part}/{'left' if p.side == 'right' else 'right'}"
                    swap = p.side != "centre" and other in ref and rng.random() < settings.other_side
                    noisy_target.append(base + keys.index(other if swap else p.key))
                noisy_key += [i * len(PARTS) + PARTS.index(p.part) for p in drawn]
        if progress is not None:
            progress(1)
    s = image_size
    return {"clean": np.round(np.concatenate(clean) * 255).astype(np.uint8) if clean else np.zeros((0, s, s), np.uint8),
            "part": np.array(clean_part, np.int64), "key": np.array(clean_key, np.int64),
            "listed": np.array(listed, bool),
            "noisy": np.round(np.concatenate(noisy) * 255).astype(np.uint8) if noisy else np.zeros((0, s, s), np.uint8),
            "target": np.array(noisy_target, np.int64), "drawn_key": np.array(noisy_key, np.int64)}


def _soften(x: torch.Tensor) -> torch.Tensor:
    """A 1-px Gaussian (sigma 0.8) over ink images, peak kept at the line: near misses cost less."""
    g = torch.tensor([0.25, 0.5, 0.25])
    k = (g[:, None] * g[None, :])[None, None]
    y = F.conv2d(x, k, padding=1)
    return torch.maximum(x, y * 2.0).clamp(0.0, 1.0)


def _u8(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a.astype(np.float32) / 255.0)[:, None]


def _losses(model: SuggestNet, x: torch.Tensor, y: torch.Tensor, key: torch.Tensor, part: torch.Tensor,
            s: TrainSettings) -> tuple[torch.Tensor, dict[str, float]]:
    zx, logits, cls_x = model(x)
    zy = model.encode(y)
    recon = F.binary_cross_entropy_with_logits(logits, _soften(y))
    ex, ey = F.normalize(zx, dim=1), F.normalize(zy, dim=1)
    sim = ex @ ey.T / s.temperature
    # other drawings of the same (head, part) in the batch are not negatives
    same = (key[:, None] == key[None, :]) & ~torch.eye(len(key), dtype=torch.bool)
    sim = sim.masked_fill(same, -1e4)
    target = torch.arange(len(key))
    nce = 0.5 * (F.cross_entropy(sim, target) + F.cross_entropy(sim.T, target))
    cls = 0.5 * (F.cross_entropy(cls_x, part) + F.cross_entropy(model.classes(zy), part))
    loss = s.w_recon * recon + s.w_nce * nce + s.w_class * cls
    return loss, {k: float(v.detach()) for k, v in (("loss", loss), ("recon", recon), ("nce", nce), ("class", cls))}


@torch.no_grad()
def _validate(model: SuggestNet, data: dict[str, np.ndarray]) -> dict[str, float]:
    """Top-1 retrieval of each validation drawing's own head's clean part among the validation
    heads' right / centre clean parts of its type (as `evaluate` does with a library)."""
    if len(data["target"]) == 0 or not data["listed"].any():
        return {}
    listed = np.nonzero(data["listed"])[0]
    lib = embed_images(model, data["clean"][listed].astype(np.float32) / 255.0)
    q = embed_images(model, data["noisy"].astype(np.float32) / 255.0)
    sims = q @ lib.T
    part, key = data["part"][listed], data["key"][listed]
    qpart = data["part"][data["target"]]
    sims[qpart[:, None] != part[None, :]] = -np.inf
    best = np.argmax(sims, axis=1)
    hit = key[best] == data["drawn_key"]
    return {"val_top1": float(np.mean(hit)), "val_queries": int(len(hit))}


def train(settings: TrainSettings, out: str | Path, config: SuggestConfig = DEFAULT_CONFIG,
          progress: Callable[[str, int, int], None] | None = None,
          log: Callable[[dict], None] | None = None) -> tuple[SuggestNet, dict]:
    """Train a network from generated heads and write `out`/suggest.safetensors; returns the model
    and its training record. `progress(stage, done, total)` reports heads generated ("heads") and
    steps ("steps"); `log(record)` gets one record per epoch."""
    t0 = time.perf_counter()
    deadline = t0 + 60.0 * settings.max_minutes if settings.max_minutes > 0 else None
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} is a file; give a folder for the run")
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng([settings.seed, 7])
    n_val = settings.validation
    n_train = settings.heads - n_val
    done = [0]

    def head_done(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress("heads", done[0], settings.heads)

    data = _instance_data(settings, config.image_size, range(n_train), deadline, head_done)
    val = _instance_data(settings, config.image_size, range(n_train, settings.heads), deadline, head_done)
    n = len(data["target"])
    if n < 2:
        raise DataError(f"{settings.heads} heads gave {n} part drawings; pass more --heads")
    model = SuggestNet(config)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=1e-4)
    batch = min(settings.batch, n)
    per_epoch = max(1, n // batch)
    total = per_epoch * settings.epochs
    t_train = time.perf_counter()

    def set_lr() -> None:
        # warm up over the first 5%, then a cosine to zero; the run's progress is its share of the
        # planned steps or of the time left, whichever is further, so a time limit still anneals
        frac = step / total
        if deadline is not None:
            frac = max(frac, (time.perf_counter() - t_train) / max(deadline - t_train, 1e-6))
        frac = min(frac, 1.0)
        scale = frac / 0.05 if frac < 0.05 else 0.5 * (1.0 + math.cos(math.pi * (frac - 0.05) / 0.95))
        for g in opt.param_groups:
            g["lr"] = settings.lr * max(scale, 0.01)

    clean, noisy = data["clean"], data["noisy"]
    history: list[dict] = []
    step, stopped = 0, False
    for epoch in range(settings.epochs):
        model.train()
        order = rng.permutation(n)
        sums: dict[str, float] = {}
        for b in range(per_epoch):
            if deadline is not None and time.perf_counter() > deadline:
                stopped = True
                break
            idx = order[b * batch:(b + 1) * batch]
            tgt = data["target"][idx]
            loss, parts = _losses(model, _u8(noisy[idx]), _u8(clean[tgt]), torch.from_numpy(data["key"][tgt]),
                                  torch.from_numpy(data["part"][tgt]), settings)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            set_lr()
            opt.step()
            step += 1
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v
            if progress is not None:
                progress("steps", step, total)
        if sums:
            count = max(1, b + (0 if stopped else 1))
            rec = {"epoch": epoch + 1, "steps": step, **{k: round(v / count, 5) for k, v in sums.items()},
                   **_validate(model, val), "seconds": round(time.perf_counter() - t0, 1)}
            history.append(rec)
            if log is not None:
                log(rec)
        if stopped:
            break
    model.eval()
    record = {"settings": settings.to_json(), "train_heads": n_train, "val_heads": n_val,
              "train_drawings": int(n), "train_parts": int(len(clean)), "steps": step, "planned_steps": total,
              "stopped_by_time": stopped, "seconds": round(time.perf_counter() - t0, 1), "history": history,
              "heads_from": "sketchforge.neural.face.suggest.seeded_head(seed, item)"}
    save_model(model, out / "suggest.safetensors", extra=record)
    return model, record
