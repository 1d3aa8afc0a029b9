"""`sketchforge-train-face`: train the sketch-to-head networks (`net.MapNet`, `net.ImplicitNet`).

    sketchforge-train-face --net maps --data data/faces-train --val data/faces-val --out RUN
                           [--epochs 8] [--batch 16] [--lr 2e-3] [--seed 0] [--threads N]
                           [--max-minutes M] [--patience 3] [--quiet]
    sketchforge-train-face --net maps ... [--current own]
    sketchforge-train-face --net implicit ... [--maps RUN/best.safetensors] [--points 2048]
    (either) [--init W]   start from the weights W of the same network (fine-tuning)

Seeded (the batches, the augmentation and the initial weights depend on --seed only), resumable
(rerun the same command: the run folder's checkpoint is picked up; Ctrl-C or SIGTERM stop after
the current step with a checkpoint), with a progress bar, validation after every epoch into
`RUN/log.jsonl`, the best weights by validation loss in `RUN/best.safetensors`, and early stopping
after --patience epochs without improvement.

maps
    Input: the sketch's contour / ridge / valley ink and, half of the time, a "current head"
    (its front height and mask): the ground truth's height blurred by a Gaussian of 1.5 to 5
    pixels with a smooth random offset of up to 0.04 head units, inside the ground-truth mask
    grown or shrunk by up to 2 pixels. This stands in for the coarse mesh's rendered front when
    the network refines (IDGMM step 1); the other half, those channels are zero (the coarse
    stage). With --current own, 35% of the items get the network's own coarse reading of the
    sketch as the current head (what the refinement meets in use, where the blurred truth makes
    it lean on the current head too much), 15% the blurred truth, the rest none (used to
    fine-tune the shipped weights, from --init). Loss: 1 - cos between predicted and true
    normals and |z error| on the head, binary cross-entropy of the mask everywhere.
    Validation: mean normal angle (degrees) and height error (network units, `frame.FaceFrame`) on the true head, and
    mask IoU, for both uses (without and with a current head).
maps, implicit
    Augmentation: mirrored left-right half of the time (the heads are symmetric; the sketches
    are not quite).
implicit
    Input: the true front maps with noise (normals turned by up to ~8 degrees, heights moved by a
    smooth field of up to 0.03, the mask's edge moved by a pixel), or, with --maps, half of the
    time the maps network's prediction from the sketch (the coarse stage): what the network
    reads in use. Target: the signed distance at --points of the precomputed samples
    (`sketchforge-face-data samples`), clamped to +-TRUNCATION. Loss: L1, points within 0.05 of
    the surface weighted 4 x. Validation: L1 (on the network's own maps when --maps is given) and
    the sign accuracy of points within 0.05 of the surface.
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

from sketchforge.modeling.sketch import Sketch

from ..commands import Parser, run_command
from ..synth.reading import DataError
from ..training import StopRequest, learning_rate, load_checkpoint, save_checkpoint
from .dataset import FaceConfig, read_face_manifest, read_face_records, read_face_shard, shard_name
from .frame import SIZE, FaceFrame, head_units_frame
from .heads import CAMERA_Z, EXTENT
from .net import KINDS, TRUNCATION, ImplicitNet, MapNet, blur, load_net, maps_tensor, save_net
from .samples import read_samples

__all__ = ["TrainError", "FaceTrainConfig", "FaceData", "sketch_input", "true_maps", "train", "main"]

PROG = "sketchforge-train-face"
NEAR = 0.05          # head units: "near the surface" for the implicit loss weight and sign accuracy
NEAR_WEIGHT = 4.0
OWN_SHARE = 0.35     # --current own: items whose current head is the network's own coarse reading
BLUR_SHARE = 0.15    # ... and items whose current head is the blurred truth (the rest: none)

log = logging.getLogger(__name__)


class TrainError(ValueError):
    """A training setting or input that cannot work, with what to do instead."""


@dataclass(frozen=True)
class FaceTrainConfig:
    net: str
    data: str
    val: str
    epochs: int = 8
    batch: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    points: int = 2048
    maps: str | None = None
    init: str | None = None
    current: str = "blur"

    def to_json(self) -> dict:
        return asdict(self)


# -- data ------------------------------------------------------------------------------------------
class FaceData:
    """A face dataset held in memory, carried into the network frame (`frame.FaceFrame`) item by
    item: the sketch's ink channels drawn there from the sketch file, the true maps resampled into
    it (`maps`, see `true_maps`) and, for the implicit network, the signed-distance samples moved
    and scaled alike."""

    def __init__(self, root: str | Path, samples: bool) -> None:
        root = Path(root)
        try:
            manifest = read_face_manifest(root)
        except DataError as exc:
            raise TrainError(str(exc)) from None
        self.config = FaceConfig.from_json(manifest["config"])
        ink, maps, pts, sdf = [], [], [], []
        for k in range(self.config.shard_count):
            try:
                a = read_face_shard(root / f"{shard_name(k)}.npz")
                records = read_face_records(root / f"{shard_name(k)}.jsonl")
                p, d = read_samples(root, k) if samples else (None, None)
            except DataError as exc:
                raise TrainError(str(exc)) from None
            for j, rec in enumerate(records):
                sketch = Sketch.from_json(rec["sketch"])
                frame, strokes = FaceFrame.of_sketch(sketch)
                s, c = head_units_frame(frame)
                ink.append(torch.from_numpy(frame.ink(strokes)).to(torch.uint8))
                maps.append(resample_maps(a["normal"][j], a["depth"][j], a["mask"][j], s, c).to(torch.float16))
                if samples:
                    pts.append(torch.from_numpy((p[j] - c.astype(np.float32)) * np.float32(s)))
                    sdf.append(torch.from_numpy(d[j] * np.float32(s)))
        self.ink = torch.stack(ink)
        self.maps = torch.stack(maps)
        self.points = torch.stack(pts) if samples else None
        self.sdf = torch.stack(sdf) if samples else None

    def __len__(self) -> int:
        return len(self.ink)

    def batch(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        b = {"ink": self.ink[idx].float(), "maps": self.maps[idx].float()}
        if self.points is not None:
            b["points"], b["sdf"] = self.points[idx], self.sdf[idx]
        return b


def resample_maps(normal: np.ndarray, depth: np.ndarray, mask: np.ndarray, s: float, c: np.ndarray) -> torch.Tensor:
    """A training item's front maps (`heads.front_maps` frame) carried into the network frame
    network = s * (head - c): (5, SIZE, SIZE) normals, height z, mask (any data size)."""
    h = SIZE
    n = torch.from_numpy(normal.astype(np.float32)).permute(2, 0, 1)
    m = torch.from_numpy(mask.astype(np.float32))[None]
    z = (CAMERA_Z - torch.from_numpy(depth.astype(np.float32)))[None] * m
    axis = torch.linspace(-EXTENT, EXTENT, h)
    gy, gx = torch.meshgrid(-axis, axis, indexing="ij")          # network-frame x, y per pixel
    hx, hy = gx / s + float(c[0]), gy / s + float(c[1])          # head frame
    grid = torch.stack([hx / EXTENT, -hy / EXTENT], -1)[None]
    src = torch.cat([n * m, z, m], 0)[None]
    out = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=True)[0]
    w = out[4:5]
    keep = (w > 0.5).float()
    normal_out = F.normalize(out[:3], dim=0, eps=1e-6) * keep
    z_out = out[3:4] / w.clamp_min(1e-6) * s * keep
    return torch.cat([normal_out, z_out, keep], 0)


def _smooth_noise(b: int, size: int, amplitude: float, gen: torch.Generator) -> torch.Tensor:
    n = (torch.rand(b, 1, 4, 4, generator=gen) * 2 - 1) * amplitude
    return F.interpolate(n, size=(size, size), mode="bicubic", align_corners=True)


def true_maps(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B, 5, H, W) true maps in the network frame: normals (x, y, z), height z, mask."""
    return batch["maps"]


def current_head(maps: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """(B, 2, H, W) stand-in for the current head's rendered height and mask (module docstring)."""
    b, _, h, w = maps.shape
    z, mask = maps[:, 3:4], maps[:, 4:5]
    out = torch.zeros(b, 2, h, w)
    for i in range(b):
        m = mask[i:i + 1]
        grow = int(torch.randint(-2, 3, (1,), generator=gen))
        if grow > 0:
            m = F.max_pool2d(m, 2 * grow + 1, 1, grow)
        elif grow < 0:
            m = -F.max_pool2d(-m, -2 * grow + 1, 1, -grow)
        sigma = 1.5 + 3.5 * float(torch.rand(1, generator=gen))
        num = blur(z[i:i + 1], sigma)
        den = blur(mask[i:i + 1], sigma).clamp_min(1e-3)
        zz = num / den + _smooth_noise(1, h, 0.04, gen)
        out[i, 0:1] = zz[0] * m[0]
        out[i, 1:2] = m[0]
    return out


def sketch_input(batch: dict[str, torch.Tensor], current: torch.Tensor | None) -> torch.Tensor:
    """(B, 5, H, W) MapNet input: contour, ridge, valley ink and the current head (or zeros)."""
    ink = batch["ink"]
    if current is None:
        current = torch.zeros(ink.shape[0], 2, *ink.shape[-2:])
    return torch.cat([ink, current], 1)


def mirror_batch(batch: dict[str, torch.Tensor], flip: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mirror the items where `flip` (B,) is true: images left-right, normal x and point x negated."""
    out = dict(batch)
    if not bool(flip.any()):
        return out
    f4 = flip.view(-1, 1, 1, 1)
    out["ink"] = torch.where(f4, batch["ink"].flip(-1), batch["ink"])
    maps = batch["maps"].flip(-1) * torch.tensor([-1.0, 1.0, 1.0, 1.0, 1.0]).view(1, 5, 1, 1)
    out["maps"] = torch.where(f4, maps, batch["maps"])
    if "points" in batch:
        p = batch["points"] * torch.tensor([-1.0, 1.0, 1.0])
        out["points"] = torch.where(flip.view(-1, 1, 1), p, batch["points"])
    return out


def noisy_maps(maps: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """True maps with the imperfections of predicted ones (module docstring)."""
    b, _, h, w = maps.shape
    normal, z, mask = maps[:, :3], maps[:, 3:4], maps[:, 4:5]
    turn = torch.cat([_smooth_noise(b, h, 0.14, gen) for _ in range(2)], 1)
    normal = F.normalize(normal + torch.cat([turn, torch.zeros(b, 1, h, w)], 1), dim=1) * mask
    z = (z + _smooth_noise(b, h, 0.03, gen)) * mask
    grow = torch.randint(-1, 2, (b,), generator=gen)
    grown = F.max_pool2d(mask, 3, 1, 1)
    shrunk = -F.max_pool2d(-mask, 3, 1, 1)
    m = torch.where(grow.view(-1, 1, 1, 1) > 0, grown, torch.where(grow.view(-1, 1, 1, 1) < 0, shrunk, mask))
    return torch.cat([normal * m, z * m, m], 1)


# -- losses and figures ----------------------------------------------------------------------------
def map_losses(out: dict[str, torch.Tensor], maps: torch.Tensor) -> dict[str, torch.Tensor]:
    mask = maps[:, 4:5]
    area = mask.sum().clamp_min(1.0)
    cos = (out["normal"] * maps[:, :3]).sum(1, keepdim=True)
    normal = ((1.0 - cos) * mask).sum() / area
    z = ((out["z"] - maps[:, 3:4]).abs() * mask).sum() / area
    m = F.binary_cross_entropy_with_logits(out["mask_logit"], mask)
    return {"normal": normal, "z": z, "mask": m, "total": normal + z + m}


def map_figures(out: dict[str, torch.Tensor], maps: torch.Tensor) -> dict[str, float]:
    mask = maps[:, 4:5] > 0.5
    cos = (out["normal"] * maps[:, :3]).sum(1, keepdim=True).clamp(-1, 1)
    pred = out["mask_logit"] > 0
    inter = (pred & mask).sum().item()
    union = (pred | mask).sum().item()
    return {"normal_deg": float(torch.rad2deg(torch.acos(cos[mask])).mean()),
            "z_err": float((out["z"] - maps[:, 3:4]).abs()[mask].mean()),
            "mask_iou": inter / max(union, 1)}


def implicit_losses(pred: torch.Tensor, sdf: torch.Tensor) -> dict[str, torch.Tensor]:
    target = sdf.clamp(-TRUNCATION, TRUNCATION)
    w = torch.where(sdf.abs() < NEAR, NEAR_WEIGHT, 1.0)
    l1 = ((pred - target).abs() * w).sum() / w.sum()
    return {"l1": l1, "total": l1}


# -- the loop --------------------------------------------------------------------------------------
def _model(config: FaceTrainConfig) -> MapNet | ImplicitNet:
    return MapNet() if config.net == "maps" else ImplicitNet()


def _check(config: FaceTrainConfig) -> None:
    if config.net not in ("maps", "implicit"):
        raise TrainError(f"--net must be maps or implicit, got {config.net!r}")
    for name in ("epochs", "batch", "points"):
        v = getattr(config, name)
        if v < 1:
            raise TrainError(f"--{name} must be at least 1, got {v}")
    if not (config.lr > 0 and math.isfinite(config.lr)):
        raise TrainError(f"--lr must be a positive number, got {config.lr}")
    if config.seed < 0:
        raise TrainError(f"--seed must be a non-negative integer, got {config.seed}")
    if config.current not in ("blur", "own"):
        raise TrainError(f"--current must be blur or own, got {config.current!r}")
    if config.maps is not None and config.net != "implicit":
        raise TrainError("--maps is for --net implicit (the maps network whose predictions it learns to read)")


def _maps_model(path: str | None) -> MapNet | None:
    if path is None:
        return None
    try:
        model, _ = load_net(path, "maps")
    except (FileNotFoundError, ValueError) as exc:
        raise TrainError(str(exc)) from None
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _step(model, maps_model, batch: dict[str, torch.Tensor], config: FaceTrainConfig, gen: torch.Generator,
          train: bool) -> tuple[dict[str, torch.Tensor], dict]:
    """Losses of one batch (and the figures the validation reports)."""
    maps = true_maps(batch)
    if config.net == "maps":
        r = torch.rand(maps.shape[0], generator=gen)
        cur = current_head(maps, gen)
        if config.current == "own":  # as in use: the current head is what the network itself made
            with torch.no_grad():
                own = model(sketch_input(batch, None))
                keep = (own["mask_logit"] > 0).float()
                own_cur = torch.cat([own["z"] * keep, keep], 1)
            cur = torch.where((r < OWN_SHARE).view(-1, 1, 1, 1), own_cur, cur)
            use = r < OWN_SHARE + BLUR_SHARE
        else:
            use = r < 0.5
        cur = cur * use.view(-1, 1, 1, 1)
        out = model(sketch_input(batch, cur))
        return map_losses(out, maps), {}
    inputs = noisy_maps(maps, gen) if train else maps
    if maps_model is not None:
        with torch.no_grad():
            pred = maps_tensor(maps_model(sketch_input(batch, None)))
        use = (torch.rand(maps.shape[0], generator=gen) < 0.5) if train else torch.ones(maps.shape[0], dtype=torch.bool)
        inputs = torch.where(use.view(-1, 1, 1, 1), pred, inputs)
    n = batch["points"].shape[1]
    pick = torch.randperm(n, generator=gen)[: config.points] if train else torch.arange(min(n, config.points))
    pts, sdf = batch["points"][:, pick], batch["sdf"][:, pick]
    pred = model(inputs, pts)
    near = sdf.abs() < NEAR
    sign = ((pred < 0) == (sdf < 0))[near].float().mean().item()
    return implicit_losses(pred, sdf), {"sign_near": sign}


def validate(model, maps_model, data: FaceData, config: FaceTrainConfig) -> dict:
    model.eval()
    gen = torch.Generator().manual_seed(12345)
    sums: dict[str, float] = {}
    count = 0
    with torch.no_grad():
        for start in range(0, len(data), config.batch):
            idx = torch.arange(start, min(start + config.batch, len(data)))
            batch = data.batch(idx)
            b = len(idx)
            if config.net == "maps":
                maps = true_maps(batch)
                figs = {}
                for name, cur in (("coarse", None), ("refine", current_head(maps, gen))):
                    out = model(sketch_input(batch, cur))
                    for k, v in map_figures(out, maps).items():
                        figs[f"{name}_{k}"] = v
                    figs[f"{name}_loss"] = float(map_losses(out, maps)["total"])
                figs["loss"] = 0.5 * (figs["coarse_loss"] + figs["refine_loss"])
            else:
                losses, extra = _step(model, maps_model, batch, config, gen, train=False)
                figs = {"loss": float(losses["total"]), **extra}
            for k, v in figs.items():
                sums[k] = sums.get(k, 0.0) + v * b
            count += b
    model.train()
    return {k: v / count for k, v in sums.items()}


def _checkpoint(run: Path, model, opt: torch.optim.Optimizer, state: dict) -> None:
    save_checkpoint(run, model, opt, state, kind=KINDS[model.kind], config=model.config.to_json())


def train(config: FaceTrainConfig, out: str | Path, threads: int | None = None, max_minutes: float | None = None,
          patience: int = 3, max_steps: int | None = None, progress: bool = True) -> dict:
    """Train (or continue) into `out`; returns the final state (see the module docstring)."""
    _check(config)
    if threads:
        torch.set_num_threads(threads)
    run = Path(out)
    run.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    model = _model(config)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if (run / "checkpoint.safetensors").is_file():
        state = load_checkpoint(run, model, opt, KINDS[model.kind], TrainError)
        if state["config"] != config.to_json():
            raise TrainError(f"{run} holds a run with other settings ({state['config']}); rerun with those or "
                             "pick another --out")
    else:
        if config.init is not None:
            try:
                start, _ = load_net(config.init, config.net)
            except (FileNotFoundError, ValueError) as exc:
                raise TrainError(str(exc)) from None
            if start.config != model.config:
                raise TrainError(f"--init {config.init} holds another layout ({start.config}) than this run's")
            model.load_state_dict(start.state_dict())
        state = {"config": config.to_json(), "epoch": 0, "step": 0, "batch_in_epoch": 0, "best": None,
                 "best_epoch": None, "stale": 0, "seconds": 0.0, "done": False}
    if state["done"]:
        return state
    maps_model = _maps_model(config.maps)
    data = FaceData(config.data, samples=config.net == "implicit")
    val = FaceData(config.val, samples=config.net == "implicit")
    per_epoch = len(data) // config.batch
    if per_epoch < 1:
        raise TrainError(f"{config.data} holds {len(data)} items, fewer than one batch of {config.batch}")
    total = per_epoch * config.epochs
    started = time.monotonic()
    seconds0 = state["seconds"]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=total, initial=state["step"], desc=f"{config.net}", unit="step", dynamic_ncols=True)
    model.train()
    with StopRequest() as stop:
        while state["epoch"] < config.epochs:
            epoch = state["epoch"]
            order = torch.randperm(len(data), generator=torch.Generator().manual_seed(config.seed * 1000 + epoch))
            for i in range(state["batch_in_epoch"], per_epoch):
                gen = torch.Generator().manual_seed(config.seed * 1_000_003 + state["step"])
                idx = order[i * config.batch:(i + 1) * config.batch]
                batch = data.batch(idx)
                batch = mirror_batch(batch, torch.rand(len(idx), generator=gen) < 0.5)
                lr = learning_rate(state["step"], config.lr, total)
                for g in opt.param_groups:
                    g["lr"] = lr
                losses, _ = _step(model, maps_model, batch, config, gen, train=True)
                opt.zero_grad(set_to_none=True)
                losses["total"].backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                opt.step()
                state["step"] += 1
                state["batch_in_epoch"] = i + 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix({k: f"{float(v):.4f}" for k, v in losses.items() if k != "total"})
                elapsed = seconds0 + time.monotonic() - started
                out_of_time = max_minutes is not None and (time.monotonic() - started) > 60 * max_minutes
                if stop.asked or out_of_time or (max_steps is not None and state["step"] >= max_steps):
                    state["seconds"] = elapsed
                    _checkpoint(run, model, opt, state)
                    if bar is not None:
                        bar.close()
                    log.warning("stopped at step %d; rerun the same command to continue", state["step"])
                    return state
            figures = validate(model, maps_model, val, config)
            state["epoch"] += 1
            state["batch_in_epoch"] = 0
            state["seconds"] = seconds0 + time.monotonic() - started
            record = {"epoch": state["epoch"], "step": state["step"], "seconds": round(state["seconds"], 1), **figures}
            with open(run / "log.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
            if bar is not None:
                bar.write(json.dumps(record))
            if state["best"] is None or figures["loss"] < state["best"]:
                state["best"], state["best_epoch"], state["stale"] = figures["loss"], state["epoch"], 0
                save_net(model, run / "best.safetensors",
                         extra={"train": config.to_json(), "epoch": state["epoch"], "validation": figures,
                                "seconds": round(state["seconds"], 1)})
            else:
                state["stale"] += 1
            if state["stale"] >= patience:
                state["done"] = True
            _checkpoint(run, model, opt, state)
            if state["done"]:
                break
    state["done"] = True
    _checkpoint(run, model, opt, state)
    if bar is not None:
        bar.close()
    return state


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description="Train the sketch-to-head networks on a face dataset.")
    p.add_argument("--net", required=True, choices=("maps", "implicit"))
    p.add_argument("--data", required=True, help="training set (sketchforge-face-data generate)")
    p.add_argument("--val", required=True, help="validation set")
    p.add_argument("--out", required=True, type=Path, help="run folder (rerun to resume)")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--points", type=int, default=2048, help="signed-distance samples per head and step (implicit)")
    p.add_argument("--maps", default=None, help="implicit: also learn from this maps network's predictions")
    p.add_argument("--init", default=None, help="start from these weights (a best.safetensors of the same network)")
    p.add_argument("--current", choices=("blur", "own"), default="blur",
                   help="maps: the current head it learns to refine: the blurred truth (half the items), or "
                        "its own coarse reading (35%%) and the blurred truth (15%%)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--max-minutes", type=float, default=None, help="stop (with a checkpoint) after this long")
    p.add_argument("--patience", type=int, default=3, help="epochs without a better validation loss before stopping")
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    return run_command(PROG, lambda: _main(argv), (TrainError, DataError, OSError),
                       interrupted="rerun the same command to continue from the last checkpoint")


def _main(argv: list[str] | None) -> int:
    a = _parser().parse_args(argv)
    config = FaceTrainConfig(net=a.net, data=a.data, val=a.val, epochs=a.epochs, batch=a.batch, lr=a.lr,
                             seed=a.seed, points=a.points, maps=a.maps, init=a.init,
                             current=a.current)
    state = train(config, a.out, threads=a.threads, max_minutes=a.max_minutes, patience=a.patience,
                  progress=not a.quiet)
    print(json.dumps({"epoch": state["epoch"], "step": state["step"], "best": state["best"],
                      "best_epoch": state["best_epoch"], "done": state["done"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
