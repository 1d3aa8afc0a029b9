"""One multi-task network for Sketch2CAD interpretation: operation class, stitching face, curve roles.

Why one network rather than the reference's classifier plus one U-Net per operation: the three
tasks read the same evidence (where the strokes lie on which faces, and how they run against the
surface normals), so one shared encoder learns it once. On a laptop CPU that is what matters: a
single forward pass of well under a GFLOP gives every output of an interpretation, where the
reference spends about 49 GFLOPs (classifier + the chosen U-Net at 256x256) and a second pass
whenever a caller wants another operation's segmentation. The segmentation heads do not depend on
the class, so proposals for the top few classes reuse the same maps.

Layout (channels c0..c3, default 16-32-64-128, input 128x128, plain 3x3 conv + BatchNorm + ReLU):

    encoder   e0 c0 @1   e1 c1 @1/2   e2 c2 @1/4   e3 c3 @1/8   bottleneck c3 @1/16
    class     [global mean, global max] of the bottleneck -> 64 -> 4 logits; with `stroke_pool`,
              also the full-resolution decoder features averaged over the ink of each curve role
              (weights: the role head's own probabilities, not back-propagated) and each role's
              share of the ink
    decoder   feature-pyramid style: upsample, add the skip, one 3x3 conv per scale down to c0 @1
    heads     1x1 conv at full resolution: stitching-face logit (1), curve-role logits (4)

Additive skips (rather than concatenation) keep the decoder's convolutions narrow: the full
network is about 0.6 GFLOPs per 128x128 image (counted with `torch.utils.flop_counter`).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..labels import CLASS_NAMES, ROLE_NAMES  # noqa: F401 - re-exported for the inference module
from ..synth.dataset import depth_span, network_input, normalised_depth
from ..weights import load_weights
from ..weights import save_weights as _save_weights

KIND = "cadnet"  # the weight files' kind (`neural.weights`)
VERSION = 1


@dataclass(frozen=True)
class NetConfig:
    """Everything the network's shape depends on; stored in every weight file's metadata."""

    channels: tuple[int, int, int, int] = (16, 32, 64, 128)
    size: int = 128
    in_channels: int = 5
    classes: int = 4
    roles: int = 4
    class_hidden: int = 64
    # The class head also reads the decoder's full-resolution features pooled over the ink of each
    # curve role. Whether a line leaves a face along its normal (add) or slanted (sweep) is a
    # full-resolution, per-stroke fact that global pooling of the 1/16 bottleneck blurs away.
    stroke_pool: bool = False
    # "plain": 3x3 convolutions (the layout above). "mobile": the same U-shape built from MobileNetV2
    # inverted-residual blocks (1x1 expand by `expand`, 3x3 depthwise, 1x1 project) with
    # depthwise-separable decoder convolutions: the light student for live interpretation.
    arch: str = "plain"
    expand: int = 4
    # 2: the first layer halves the canvas (a strided 3x3 convolution, as MobileNet's stem does), so
    # every later layer works at half the size for a quarter of the cost, and the maps come out at
    # half the size, scaled up to the canvas by bilinear interpolation (`to_size`). The FLOPs saved
    # at full resolution buy a wider network: strokes are 2-3 px wide, and a learned downsampling
    # keeps what area averaging to the smaller canvas blurs.
    stem_stride: int = 1

    def __post_init__(self) -> None:
        if len(self.channels) != 4 or any(int(c) < 1 for c in self.channels):
            raise ValueError(f"channels needs four positive widths, got {self.channels}")
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if int(self.expand) < 1:
            raise ValueError(f"expand must be a positive integer, got {self.expand}")
        if self.stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {self.stem_stride}")
        if self.size % 16:
            raise ValueError(f"the input size must be a multiple of 16 (four halvings), got {self.size}")

    def to_json(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @staticmethod
    def from_json(d: dict) -> "NetConfig":
        d = dict(d)
        d["channels"] = tuple(int(c) for c in d["channels"])
        return NetConfig(**d)


class Outputs(NamedTuple):
    """Raw network outputs (logits)."""

    class_logits: torch.Tensor  # (B, classes)
    stitch_logits: torch.Tensor  # (B, 1, H, W)
    role_logits: torch.Tensor  # (B, roles, H, W)
    # (B, D) what the class head reads (pooled bottleneck, and role-pooled features with
    # stroke_pool): the sketch's embedding, whose pairwise distances distillation matches
    embedding: torch.Tensor | None = None


ARCHS = ("plain", "mobile")


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _pointwise(cin: int, cout: int, act: bool = True) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout)] + ([nn.ReLU(inplace=True)] if act else [])


def _depthwise(c: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c, c, 3, stride, 1, groups=c, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]


def _separable(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """3x3 depthwise then 1x1 pointwise, each with batch norm and ReLU."""
    return nn.Sequential(*_depthwise(cin, stride), *_pointwise(cin, cout))


class _InvertedResidual(nn.Module):
    """MobileNetV2's block: 1x1 expand, 3x3 depthwise (with the stride), linear 1x1 project; the
    input is added back when the shape stays."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.body = nn.Sequential(*(_pointwise(cin, hidden) if expand > 1 else []), *_depthwise(hidden, stride),
                                  *_pointwise(hidden, cout, act=False))
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


def _stage(kind: str, cin: int, cout: int, expand: int) -> nn.Sequential:
    """One encoder scale: halve the size, then one more layer at it."""
    if kind == "plain":
        return nn.Sequential(_conv(cin, cout, 2), _conv(cout, cout))
    return nn.Sequential(_InvertedResidual(cin, cout, 2, expand), _InvertedResidual(cout, cout, 1, expand))


class CadUNet(nn.Module):
    """The multi-task encoder-decoder; input (B, 5, H, W) as `ShardDataset` yields it."""

    def __init__(self, config: NetConfig = NetConfig()) -> None:
        super().__init__()
        self.config = config
        # canvas (px) -> batch-norm running statistics measured at that canvas (`use_canvas`); empty
        # for a network trained at one size
        self.canvas_stats: dict[int, dict[str, torch.Tensor]] = {}
        c0, c1, c2, c3 = config.channels
        kind, ex = config.arch, int(config.expand)
        stem = int(config.stem_stride)
        if kind == "plain":
            self.e0 = _conv(config.in_channels, c0, stem)
            dec = _conv
        elif stem > 1:  # a strided 3x3 stem, then one separable layer at half the size
            self.e0 = nn.Sequential(_conv(config.in_channels, c0, stem), *_depthwise(c0), *_pointwise(c0, c0))
            dec = _separable
        else:  # full resolution is the costliest scale: a 1x1 stem, then one separable layer
            self.e0 = nn.Sequential(*_pointwise(config.in_channels, c0), *_depthwise(c0), *_pointwise(c0, c0))
            dec = _separable
        self.e1 = _stage(kind, c0, c1, ex)
        self.e2 = _stage(kind, c1, c2, ex)
        self.e3 = _stage(kind, c2, c3, ex)
        self.bottleneck = _stage(kind, c3, c3, ex)
        pooled = 2 * c3 + ((config.roles - 1) * (c0 + 1) if config.stroke_pool else 0)
        self.class_head = nn.Sequential(nn.Linear(pooled, config.class_hidden), nn.ReLU(inplace=True),
                                        nn.Linear(config.class_hidden, config.classes))
        self.lateral = nn.Conv2d(c3, c3, 1)
        self.d3 = dec(c3, c2)
        self.d2 = dec(c2, c1)
        self.d1 = dec(c1, c0)
        self.d0 = dec(c0, c0)
        self.stitch_head = nn.Conv2d(c0, 1, 1)
        self.role_head = nn.Conv2d(c0, config.roles, 1)

    def forward(self, x: torch.Tensor) -> Outputs:
        s0 = self.e0(x)
        s1 = self.e1(s0)
        s2 = self.e2(s1)
        s3 = self.e3(s2)
        b = self.bottleneck(s3)
        y = self.d3(s3 + _up(self.lateral(b), s3))
        y = self.d2(s2 + _up(y, s2))
        y = self.d1(s1 + _up(y, s1))
        y = self.d0(s0 + _up(y, s0))
        roles = self.role_head(y)
        pooled = [b.mean(dim=(2, 3)), b.amax(dim=(2, 3))]
        if self.config.stroke_pool:
            stroke = x[:, :1]
            if self.config.stem_stride > 1:  # the ink averaged to the maps' size
                stroke = F.adaptive_avg_pool2d(stroke, y.shape[-2:])
            pooled += _role_pool(y, roles, stroke)
        embedding = torch.cat(pooled, dim=1)
        return Outputs(self.class_head(embedding), self.stitch_head(y), roles, embedding)


def _role_pool(y: torch.Tensor, role_logits: torch.Tensor, stroke: torch.Tensor) -> list[torch.Tensor]:
    """Features averaged over the ink of each curve role (base, profile, offset), and each role's ink share.

    `stroke` is the input's stroke channel (0 ink .. 1 paper). The role weights are detached: the
    class loss should not bend the segmentation towards what helps classification.
    """
    ink = (1.0 - stroke).clamp(0.0, 1.0)
    w = torch.softmax(role_logits.detach(), dim=1)[:, 1:] * ink  # (B, R-1, H, W)
    mass = w.sum(dim=(2, 3))  # (B, R-1)
    feats = torch.einsum("brhw,bchw->brc", w, y) / (mass[..., None] + 1e-3)
    share = mass / (ink.sum(dim=(2, 3)) + 1e-3)
    return [feats.flatten(1), share]


def _up(x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """`x` scaled up (bilinear) to the size of the skip it is added to: twice its size, or one less
    where a halving rounded an odd size up."""
    return F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)


# -- canvas sizes --------------------------------------------------------------------------------
def at_canvas(x: torch.Tensor, canvas: int | None) -> torch.Tensor:
    """The (B, 5, S, S) network input rasterised at a smaller square canvas: the stroke channel
    by area averaging (ink coverage), the context channels (normals, depth, mask) by nearest
    neighbour so the model's outline stays crisp. None or the input's own size returns it as is."""
    if canvas is None or canvas == x.shape[-1]:
        return x
    if canvas < 16 or canvas % 16:
        raise ValueError(f"a canvas must be a multiple of 16 pixels (four halvings), got {canvas}")
    size = (int(canvas), int(canvas))
    ink = F.interpolate(x[:, :1].contiguous(), size=size, mode="area")  # a strided slice takes a slow path
    context = F.interpolate(x[:, 1:], size=size, mode="nearest")
    return torch.cat([ink, context], dim=1).contiguous(memory_format=torch.channels_last)


def canvas_input(stroke: np.ndarray, normal: np.ndarray, depth: np.ndarray, mask: np.ndarray,
                 canvas: int | None) -> np.ndarray:
    """The network input (`synth.dataset.network_input`) rasterised at `canvas` as `at_canvas` does,
    channels-last (canvas, canvas, 5) float32, made from the square (S, S) arrays directly: the
    ink averaged over the windows of adaptive average pooling (what `F.interpolate(mode="area")`
    does), the normals and depth taken at the pixels `mode="nearest"` picks, the depth normalised
    over the whole image's range. A live reading rasterises here in numpy, outside the network's
    graph. None or the arrays' own size gives `network_input` itself."""
    size = stroke.shape[0]
    if canvas is None or canvas == size:
        return network_input(stroke, normal, depth, mask, channels_last=True)
    if canvas < 16 or canvas % 16:
        raise ValueError(f"a canvas must be a multiple of 16 pixels (four halvings), got {canvas}")
    (start, stop), pick = _canvas_sampling(size, int(canvas))
    # window means from running sums (in float64: exact enough to match torch to 1e-7), rows then
    # columns; no matrix product, which numpy may hand to a multi-threaded BLAS
    ink = np.zeros((size + 1, size + 1))
    np.cumsum(np.cumsum(stroke, axis=0, dtype=np.float64), axis=1, out=ink[1:, 1:])
    sums = ink[stop][:, stop] - ink[start][:, stop] - ink[stop][:, start] + ink[start][:, start]
    count = np.outer(stop - start, stop - start)
    out = np.empty((canvas, canvas, 5), np.float32)
    out[..., 0] = 1.0 - sums / (255.0 * count)
    out[..., 1:4] = normal[pick][:, pick]
    at = np.ix_(pick, pick)
    out[..., 4] = normalised_depth(depth[at], mask[at], depth_span(depth, mask))
    return out


@functools.lru_cache(maxsize=16)
def _canvas_sampling(size: int, canvas: int) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """The windows of adaptive average pooling from `size` to `canvas` pixels (start, stop: (canvas,)
    each), and the source pixel of each of nearest's (canvas,)."""
    i = np.arange(canvas)
    start, stop = (i * size) // canvas, -((-(i + 1) * size) // canvas)
    scale = np.float32(size / canvas)  # torch computes the nearest source in single precision
    pick = np.minimum(np.floor(i.astype(np.float32) * scale).astype(np.int64), size - 1)
    return (start, stop), pick


BN_STATS = ("running_mean", "running_var")
CANVAS_PREFIX = "canvas_stats."


def batchnorm_stats(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of every batch norm's running mean and variance, by state-dict name."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if k.rsplit(".", 1)[-1] in BN_STATS}


def use_canvas(model: CadUNet, canvas: int | None) -> CadUNet:
    """Load the batch-norm statistics measured at `canvas` into `model` (in place; returns it).

    A network trained at several canvases normalises each size with that size's own batch
    statistics while it learns; one shared running average then suits the middle sizes and
    misreads the smallest and the largest (operation 0.69 instead of 0.87 at 128 px for one
    student), so each size keeps its own (as the universally slimmable networks do per width).
    None, or a size without statistics, takes those of the network's own size where there are any.
    """
    stats = model.canvas_stats.get(int(canvas) if canvas else model.config.size)
    if stats is None:
        stats = model.canvas_stats.get(model.config.size)
    if stats is not None:
        own = dict(model.named_buffers())
        with torch.no_grad():
            for k, v in stats.items():
                own[k].copy_(v)
    return model


def to_size(out: Outputs, size: tuple[int, int]) -> Outputs:
    """Outputs with the stitching and role logits resized (bilinear) to `size` (H, W)."""
    if tuple(out.stitch_logits.shape[-2:]) == tuple(size):
        return out
    def up(t):
        return F.interpolate(t, size=size, mode="bilinear", align_corners=False)
    return Outputs(out.class_logits, up(out.stitch_logits), up(out.role_logits), out.embedding)


def count_flops(model: nn.Module, size: int | None = None) -> int:
    """FLOPs of one forward pass on one image (multiply-add = 2), counted by torch's FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    cfg = model.config
    size = size or cfg.size
    x = torch.zeros(1, cfg.in_channels, size, size)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# -- widening (Net2WiderNet) ----------------------------------------------------------------------
def widen(model: CadUNet, config: NetConfig, noise: float = 0.0, seed: int = 0) -> CadUNet:
    """A wider network of the same plain layout computing the same function as `model` (Net2WiderNet,
    Chen et al. 2016): each channel is copied `k` times, where every width of `config` is `k` times
    the narrow one, and a layer reading copied channels divides its weights by `k`. `noise` (a
    fraction of each weight tensor's spread) breaks the copies' symmetry so training can tell them
    apart. A reference-scale teacher starts from the shipped network this way instead of from scratch.
    """
    old = model.config
    if old.arch != "plain" or config.arch != "plain":
        raise ValueError("widening copies plain 3x3 layers; both networks must use arch='plain'")
    ratios = {c // o for c, o in zip(config.channels, old.channels)}
    if len(ratios) != 1 or any(c % o for c, o in zip(config.channels, old.channels)) or 1 in ratios:
        raise ValueError(f"every width of {config.channels} must be the same multiple (2 or more) of "
                         f"{old.channels}")
    same = ("size", "in_channels", "classes", "roles", "class_hidden", "stroke_pool")
    if any(getattr(old, f) != getattr(config, f) for f in same):
        raise ValueError(f"only the widths may differ when widening ({', '.join(same)} must match)")
    k = ratios.pop()
    wide = CadUNet(config)
    gen = torch.Generator().manual_seed(seed)
    src = model.state_dict()
    out = {}
    for name, new in wide.state_dict().items():
        t = src[name].detach().clone()
        if name == "class_head.0.weight":
            t = t[:, _embedding_index(old, k)] / _embedding_scale(old, k)
        elif t.ndim and new.shape != t.shape:
            for dim in range(min(t.ndim, 2)):
                if new.shape[dim] == k * t.shape[dim]:
                    t = torch.cat([t] * k, dim=dim) / (k if dim == 1 else 1)
        if new.shape != t.shape:
            raise ValueError(f"cannot widen {name}: {tuple(src[name].shape)} -> {tuple(new.shape)}")
        if noise and name.endswith("weight") and t.ndim >= 2:
            t = t + noise * t.std() * torch.randn(t.shape, generator=gen)
        out[name] = t
    wide.load_state_dict(out, strict=True)
    return wide


def _embedding_index(config: NetConfig, k: int) -> torch.Tensor:
    """For each entry of the widened class-head input, the narrow entry it copies."""
    c0, c3 = config.channels[0], config.channels[3]
    parts = [torch.arange(c3).repeat(k), c3 + torch.arange(c3).repeat(k)]  # global mean, global max
    if config.stroke_pool:
        base = 2 * c3
        parts += [base + r * c0 + torch.arange(c0).repeat(k) for r in range(config.roles - 1)]  # per-role features
        parts.append(base + (config.roles - 1) * c0 + torch.arange(config.roles - 1))  # ink shares: not copied
    return torch.cat(parts)


def _embedding_scale(config: NetConfig, k: int) -> torch.Tensor:
    c0, c3 = config.channels[0], config.channels[3]
    n_copied = 2 * k * c3 + ((config.roles - 1) * k * c0 if config.stroke_pool else 0)
    n_shares = config.roles - 1 if config.stroke_pool else 0
    return torch.cat([torch.full((n_copied,), float(k)), torch.ones(n_shares)])


# -- weight files ------------------------------------------------------------------------------
def save_weights(model: CadUNet, path: str | Path, extra: dict | None = None, half: bool = False) -> None:
    """Write the model's state as a weight file (`neural.weights`), atomically; the config (and
    `extra`) go in the metadata. `half` stores the floating-point tensors as float16 (half the file;
    they load back as float32)."""
    tensors = {k: v.detach() for k, v in model.state_dict().items()}
    for canvas, stats in model.canvas_stats.items():
        tensors.update({f"{CANVAS_PREFIX}{int(canvas)}.{k}": v.detach() for k, v in stats.items()})
    if half:
        tensors = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    _save_weights(path, tensors, kind=KIND, version=VERSION, config=model.config.to_json(), extra=extra)


def read_weights(path: str | Path) -> tuple[NetConfig, dict[str, torch.Tensor], dict]:
    """The config, tensors and extra metadata of a CAD network weight file; WeightsError saying
    what to do when it is missing, damaged or holds another network."""
    w = load_weights(path, KIND, newest=VERSION)
    with w.unpacking():
        config = NetConfig.from_json(w.config)
    return config, dict(w.tensors), w.extra


def ship(source: str | Path, target: str | Path, half: bool = False) -> None:
    """Copy a run's weights to where the app loads them (`assets/cad/`), optionally as float16."""
    model, extra = load_model(source)
    save_weights(model, target, extra={**extra, "shipped_from": str(source), "float16": half}, half=half)


def load_model(path: str | Path) -> tuple[CadUNet, dict]:
    """A model built from a weight file's own config, with its weights; returns (model, extra).
    WeightsError saying what to do when the file is missing, damaged or holds another network."""
    w = load_weights(path, KIND, newest=VERSION)
    tensors = dict(w.tensors)
    stats: dict[int, dict[str, torch.Tensor]] = {}
    with w.unpacking():
        for k in [k for k in tensors if k.startswith(CANVAS_PREFIX)]:
            canvas, name = k[len(CANVAS_PREFIX):].split(".", 1)
            stats.setdefault(int(canvas), {})[name] = tensors.pop(k).float()
        model = CadUNet(NetConfig.from_json(w.config))
        model.load_state_dict(tensors, strict=True)
    model.canvas_stats = stats
    return model, w.extra
