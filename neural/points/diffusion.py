"""Training noise and sampling for the point networks (`net.PointsNet`), with diffusers' schedulers.

Training adds noise as DDPM does (`DDPMScheduler`, `TRAIN_STEPS` steps, cosine schedule) and the
network predicts the velocity v (`PREDICTION`): the cosine schedule leaves almost no signal at the
last step, where a predicted noise would have to be divided by that signal to give the clean
values, and DPM-Solver blew up from there; v gives them well-conditioned at every step.

Sampling uses a fast solver over the same schedule: DPM-Solver++ (2nd order,
`DPMSolverMultistepScheduler`, the default) or DDIM with eta 0, both deterministic given the
starting noise, which is drawn from a generator seeded by `seed`: the same seed gives the same
cloud.

    sample_shape(net, inputs, text, ...)     positions in the sketch's frame (`frame.ViewFrame`)
    sample_colors(net, positions, text, ...) colors (uint8) and part labels for fixed positions;
                                             the positions are read, never written
    recolor(net, encoder, positions, prompt) the same positions, new colors from a prompt
    generate(shape, color, encoder, sketch)  the two stages and `frame.place`: a world cloud
    sample_joint(net, inputs, text, ...)     the one-stage baseline (positions and colors together)

diffusers is imported on first use (about 1.5 s, most of it torch's compiler stack that
diffusers' utilities import); `DiffusionUnavailable` says how to install it when it is missing.
Arrays in and out are numpy (the house's boundary); torch stays inside.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch
import torch.nn.functional as F

from sketchforge.modeling.sketch import Sketch

from .frame import ViewFrame, mirror_camera_vector, place, unit_cloud
from .net import Condition, PointsNet

if TYPE_CHECKING:
    from ..text import TextEncoder

__all__ = ["TRAIN_STEPS", "PREDICTION", "SCHEDULE", "SAMPLERS", "DiffusionUnavailable", "SketchInputs", "Text",
           "training_scheduler", "sampling_scheduler", "diffusion_loss", "denoise", "sample_shape", "sample_colors",
           "recolor", "generate", "sample_joint", "PointCloud", "colors_to_unit", "unit_to_colors"]

TRAIN_STEPS = 1000
SCHEDULE = "squaredcos_cap_v2"
PREDICTION = "v_prediction"
SAMPLERS = ("dpm", "ddim")
INSTALL = "pip install diffusers==0.42.1"
GUIDANCE = 2.0  # classifier-free guidance of the color stage by the prompt (a network trained with text_drop);
# picked on the validation set (benchmarks/results/points-guidance.json: 1, 1.5, 2, 3 tried)
PART_WEIGHT = 0.2  # the part head's cross-entropy beside the denoising loss
PLACE_TRIM = 0.005  # share of a sampled cloud's points left out of its box on each side when placing it

Text = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # neural.text.TextEncoder.encode: tokens, mask, pooled


class DiffusionUnavailable(RuntimeError):
    """diffusers is missing; the message says how to install it."""


_IMPORT = threading.Lock()
_SCHEDULERS: dict[str, type] = {}


def _diffusers() -> SimpleNamespace:
    """diffusers' three schedulers, imported once under a lock: diffusers loads its names lazily,
    and two threads asking at once (the window preparing the back end while a sketch is read)
    can find a name not loaded yet."""
    with _IMPORT:
        if not _SCHEDULERS:
            try:
                from diffusers.schedulers.scheduling_ddim import DDIMScheduler
                from diffusers.schedulers.scheduling_ddpm import DDPMScheduler
                from diffusers.schedulers.scheduling_dpmsolver_multistep import DPMSolverMultistepScheduler
            except ImportError:
                raise DiffusionUnavailable(f"the points mode samples with the schedulers of diffusers, which is "
                                           f"not installed; install it with `{INSTALL}`") from None
            _SCHEDULERS.update(DDIMScheduler=DDIMScheduler, DDPMScheduler=DDPMScheduler,
                               DPMSolverMultistepScheduler=DPMSolverMultistepScheduler)
        return SimpleNamespace(**_SCHEDULERS)


def training_scheduler():
    """The DDPM noise schedule the networks are trained with."""
    d = _diffusers()
    return d.DDPMScheduler(num_train_timesteps=TRAIN_STEPS, beta_schedule=SCHEDULE, prediction_type=PREDICTION,
                           clip_sample=False)


def sampling_scheduler(kind: str = "dpm", steps: int = 25):
    """A deterministic solver over the training schedule, set to `steps` steps."""
    d = _diffusers()
    if kind not in SAMPLERS:
        raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}, got {kind!r}")
    base = dict(num_train_timesteps=TRAIN_STEPS, beta_schedule=SCHEDULE, prediction_type=PREDICTION)
    if kind == "dpm":
        s = d.DPMSolverMultistepScheduler(**base, algorithm_type="dpmsolver++", solver_order=2, lower_order_final=True)
    else:
        s = d.DDIMScheduler(**base, clip_sample=False, set_alpha_to_one=True)
    s.set_timesteps(steps)
    return s


# -- inputs ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SketchInputs:
    """A sketch as the shape network reads it (`frame.ViewFrame`): the ink raster (SIZE, SIZE) uint8,
    the view (3,) and the camera vector (13,), float32."""

    raster: np.ndarray
    view: np.ndarray
    camera: np.ndarray

    @staticmethod
    def of_sketch(sketch: Sketch) -> tuple[ViewFrame, "SketchInputs"]:
        frame = ViewFrame.of_sketch(sketch)
        return frame, SketchInputs(frame.raster(sketch), frame.conditioning(), frame.camera_vector())

    def mirrored(self) -> "SketchInputs":
        """The same sketch mirrored left-right (the scene mirrored across the frame's x = 0)."""
        return SketchInputs(np.ascontiguousarray(self.raster[:, ::-1]), self.view,
                            mirror_camera_vector(self.camera))

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (torch.from_numpy(np.asarray(self.raster, np.float32))[None, None],
                torch.from_numpy(np.asarray(self.view, np.float32))[None],
                torch.from_numpy(np.asarray(self.camera, np.float32))[None])


def colors_to_unit(colors: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 RGB -> [-1, 1] float32."""
    c = torch.as_tensor(np.asarray(colors)) if not torch.is_tensor(colors) else colors
    return c.float() / 127.5 - 1.0


def unit_to_colors(x: torch.Tensor) -> np.ndarray:
    """[-1, 1] -> uint8 RGB."""
    return ((x.clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8).numpy()


# -- training --------------------------------------------------------------------------------------------
def diffusion_loss(net: PointsNet, scheduler, cond: Condition, x0: torch.Tensor, gen: torch.Generator,
                   positions: torch.Tensor | None = None, parts: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The denoising loss of one batch (x0 (B, N, channels) clean values) at random timesteps, and
    the part head's cross-entropy when `parts` (B, N) labels are given (-1: unlabelled)."""
    b = x0.shape[0]
    t = torch.randint(0, TRAIN_STEPS, (b,), generator=gen)
    noise = torch.randn(x0.shape, generator=gen)
    xt = scheduler.add_noise(x0, noise, t)
    out, logits = net.forward_with_parts(xt, t, cond, positions)
    if PREDICTION == "epsilon":
        target = noise
    elif PREDICTION == "v_prediction":
        target = scheduler.get_velocity(x0, noise, t)
    else:
        target = x0
    losses = {"denoise": F.mse_loss(out, target)}
    if logits is not None and parts is not None:
        losses["parts"] = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), parts.reshape(-1).long(),
                                          ignore_index=-1)
    losses["total"] = losses["denoise"] + PART_WEIGHT * losses.get("parts", torch.zeros(()))
    return losses


# -- sampling --------------------------------------------------------------------------------------------
@torch.inference_mode()
def denoise(net: PointsNet, cond: Condition, shape: tuple[int, int, int], *, steps: int = 25, seed: int = 0,
            positions: torch.Tensor | None = None, sampler: str = "dpm",
            step: Callable[[int], None] | None = None, unconditional: Condition | None = None,
            guidance: float = 1.0) -> torch.Tensor:
    """Clean values (B, N, channels) from noise seeded by `seed`, in `steps` solver steps;
    `step(k)` hears of each step done (and may raise to stop). With an `unconditional` condition
    (the empty prompt's) and `guidance` w != 1, each step reads u + w (c - u) (classifier-free
    guidance: the prompt's pull made w times stronger), both in one batch."""
    sched = sampling_scheduler(sampler, steps)
    gen = torch.Generator().manual_seed(int(seed))
    x = torch.randn(shape, generator=gen) * float(sched.init_noise_sigma)
    b = shape[0]
    guided = unconditional is not None and guidance != 1.0
    if guided:
        assert unconditional is not None
        both = Condition(*(_pair(c, u) for c, u in zip(cond[:3], unconditional[:3])),
                         tuple(torch.cat([m, m]) for m in cond.maps),
                         None if cond.camera is None else torch.cat([cond.camera, cond.camera]))
        pos2 = None if positions is None else torch.cat([positions, positions])
    for k, t in enumerate(sched.timesteps):
        xin = sched.scale_model_input(x, t)
        if guided:
            c, u = net(torch.cat([xin, xin]), t.expand(2 * b), both, pos2).chunk(2)
            out = u + guidance * (c - u)
        else:
            out = net(xin, t.expand(b), cond, positions)
        x = sched.step(out, t, x).prev_sample
        if step is not None:
            step(k + 1)
    return x


def _pair(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a and b stacked on the batch axis, padding the token axis (axis 1) of the shorter with zeros."""
    if a.dim() >= 2 and a.shape[1] != b.shape[1]:
        n = max(a.shape[1], b.shape[1])

        def pad(x: torch.Tensor) -> torch.Tensor:
            z = torch.zeros((x.shape[0], n - x.shape[1], *x.shape[2:]), dtype=x.dtype)
            return torch.cat([x, z], 1)
        a, b = pad(a), pad(b)
    return torch.cat([a, b])


def _empty(net: PointsNet, encoder: "TextEncoder") -> Text | None:
    """The empty prompt's encoding when `net` can be guided by the prompt (trained with text_drop)."""
    return encoder.encode([""]) if net.config.text_drop > 0 else None


def _text_batch(text: Text, n: int) -> Text:
    tokens, mask, pooled = text
    if tokens.shape[0] == n:
        return tokens, mask, pooled
    if tokens.shape[0] != 1:
        raise ValueError(f"give one prompt or {n}, got {tokens.shape[0]}")
    return tokens.expand(n, -1, -1), mask.expand(n, -1), pooled.expand(n, -1)


@torch.inference_mode()
def sample_shape(net: PointsNet, inputs: SketchInputs, text: Text, *, points: int = 2048, samples: int = 1,
                 steps: int = 25, seed: int = 0, sampler: str = "dpm",
                 step: Callable[[int], None] | None = None) -> np.ndarray:
    """(samples, points, 3) float32 positions in the sketch's frame, from the shape network."""
    _check_stage(net, "shape")
    raster, view, camera = inputs.tensors()
    cond = net.expand(net.encode(*text, raster, view, camera), samples)
    x = denoise(net, cond, (samples, points, 3), steps=steps, seed=seed, sampler=sampler, step=step)
    return x.numpy().astype(np.float32)


@torch.inference_mode()
def sample_colors(net: PointsNet, positions: np.ndarray, text: Text, *, samples: int = 1, steps: int = 25,
                  seed: int = 0, sampler: str = "dpm", step: Callable[[int], None] | None = None,
                  empty: Text | None = None, guidance: float | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Colors (samples, N, 3) uint8 and part labels (samples, N) int64 (None without a part head) for
    positions (N, 3) (any frame or units: they are read in their own, `frame.unit_cloud`). The
    positions are only read. `empty` (the empty prompt's encoding) turns on classifier-free
    guidance for a network trained for it (`guidance`, default GUIDANCE)."""
    _check_stage(net, "color")
    pos = torch.from_numpy(unit_cloud(positions))[None].expand(samples, -1, -1)
    cond = net.expand(net.encode(*_text_batch(text, 1)), samples)
    w = 1.0
    uncond = None
    if empty is not None and net.config.text_drop > 0:
        w = GUIDANCE if guidance is None else float(guidance)
        uncond = net.expand(net.encode(*_text_batch(empty, 1)), samples)
    rgb = denoise(net, cond, (samples, pos.shape[1], 3), steps=steps, seed=seed, positions=pos, sampler=sampler,
                  step=step, unconditional=uncond, guidance=w)
    parts = None
    if net.part_head is not None:
        _, logits = net.forward_with_parts(rgb, torch.zeros(samples, dtype=torch.long), cond, pos)
        parts = logits.argmax(-1).numpy()
    return unit_to_colors(rgb), parts


def recolor(net: PointsNet, encoder: "TextEncoder", positions: np.ndarray, prompt: str, *, steps: int = 25,
            seed: int = 0, sampler: str = "dpm",
            step: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(positions, colors (N, 3) uint8, parts (N,) or None): new colors from `prompt`; the positions
    come back as they were given, the same array, every point in its place and order."""
    colors, parts = sample_colors(net, positions, encoder.encode([prompt]), steps=steps, seed=seed, sampler=sampler,
                                  step=step, empty=_empty(net, encoder))
    return positions, colors[0], None if parts is None else parts[0]


@dataclass(frozen=True)
class PointCloud:
    """A generated cloud in the world (mm, Z up) with uint8 colors and part labels (-1 without a part head)."""

    points: np.ndarray
    colors: np.ndarray
    parts: np.ndarray


def generate(shape_net: PointsNet, color_net: PointsNet, encoder: "TextEncoder", sketch: Sketch,
             prompt: str | None = None, *, points: int = 2048, steps: int = 25, color_steps: int | None = None,
             seed: int = 0, sampler: str = "dpm", step: Callable[[int], None] | None = None) -> PointCloud:
    """A colored cloud from a sketch and a prompt (the sketch's own when `prompt` is None): the shape
    in the sketch's frame, colors on it, then `frame.place` into the world."""
    text = encoder.encode([sketch.prompt if prompt is None else prompt])
    frame, inputs = SketchInputs.of_sketch(sketch)
    view_points = sample_shape(shape_net, inputs, text, points=points, steps=steps, seed=seed, sampler=sampler,
                               step=step)[0]
    colors, parts = sample_colors(color_net, view_points, text, steps=color_steps or steps, seed=seed + 1,
                                  sampler=sampler, step=None if step is None else (lambda k: step(steps + k)),
                                  empty=_empty(color_net, encoder))
    world = place(view_points, sketch, frame, trim=PLACE_TRIM)
    labels = parts[0] if parts is not None else np.full(len(world), -1, np.int64)
    return PointCloud(world, colors[0], labels)


@torch.inference_mode()
def sample_joint(net: PointsNet, inputs: SketchInputs, text: Text, *, points: int = 2048, samples: int = 1,
                 steps: int = 25, seed: int = 0, sampler: str = "dpm") -> tuple[np.ndarray, np.ndarray]:
    """The one-stage baseline: (positions (samples, points, 3) in the sketch's frame, colors uint8)."""
    _check_stage(net, "joint")
    raster, view, camera = inputs.tensors()
    cond = net.expand(net.encode(*text, raster, view, camera), samples)
    x = denoise(net, cond, (samples, points, 6), steps=steps, seed=seed, sampler=sampler)
    return x[..., :3].numpy().astype(np.float32), unit_to_colors(x[..., 3:])


def _check_stage(net: PointsNet, stage: str) -> None:
    if net.config.stage != stage:
        raise ValueError(f"this needs the {stage} network, got the {net.config.stage} network")
