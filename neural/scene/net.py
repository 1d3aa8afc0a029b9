"""The network that reads a top-down scene sketch into its layout: a small U-Net, trainable on a CPU.

    sketch_features(ink) -> (FEATURES, R, R) float32     what the network reads of the ink
    SceneNet(config)(features, text, scale) -> SceneOutput

Input (`sketch_features`), per stroke kind in `data.KINDS` order, on the `data.RES` grid over the
sketch's ground rectangle: the ink (0..1); how near the nearest ink is (1 on it, falling to 0 at
`REACH` cells), which carries a stroke's presence across the gaps of a hatch and a road's width;
and the area the ink encloses (a lake's loop, a forest's outline, after closing gaps of a cell),
which a convolution cannot find by itself. All three turn with the map, so the training can turn
and mirror the maps and compute them afterwards.

Condition: the pooled embedding (384) of the style prompt by the frozen text encoder
(`neural.text`; a missing prompt is the empty prompt, whose embedding the network keeps as the
buffer `empty_text`) and the size of a cell in metres along x and y (`scale_vector`: a non-square
ground rectangle is stretched onto the square grid, and a road 6 m wide is two cells of a 400 m map
but six of a 128 m one). Both modulate the bottleneck (FiLM) and feed the relief head.

Outputs (`SceneOutput`), per cell: category logits (`world.CATEGORIES`), the height normalised
over the map's own range (0..1), splat logits (`world.MATERIALS`, a softmax gives the weights);
per map: the relief (the height range in metres) and the base (the lowest ground in metres, below
0 where a river or lake bed was dug), regressed from the pooled bottleneck. A height in metres is
base + normalised height x relief.

Weight files are the house's (`neural.weights`: safetensors, kind "scene-layout", the config in
the metadata); loading never unpickles (`load_net`). A shipped file may hold float16 tensors
(`save_net(..., half=True)`), read back as float32.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import nn

from ..weights import load_weights, save_weights
from .data import RES
from .sketching import KINDS as STROKE_KINDS
from .world import CATEGORIES, MATERIALS

__all__ = ["KIND", "VERSION", "FEATURES", "REACH", "SceneConfig", "SceneOutput", "SceneNet", "sketch_features",
           "scale_vector", "parameter_count", "save_net", "load_net"]

KIND = "scene-layout"
VERSION = 1
REACH = 24.0
"""Cells over which the nearness of ink falls from 1 to 0."""
FEATURES = 3 * len(STROKE_KINDS)
"""Input channels: ink, nearness and enclosed area of each stroke kind."""
TEXT_WIDTH = 384  # neural.text.WIDTH
SCALE_WIDTH = 2   # log cell size along x and y (`scale_vector`)
LOG_RELIEF0 = math.log(50.0)  # the relief head's zero (m)
BASE_UNIT = 5.0   # the base head's unit (m)


def sketch_features(ink: np.ndarray) -> np.ndarray:
    """Ink (K, R, C) uint8 (one channel per stroke kind, as `data.rasterise_sketch` draws it) ->
    (3K, R, C) float32: the ink, its nearness and the area it encloses (module notes), kind by kind."""
    ink = np.asarray(ink)
    if ink.ndim != 3 or ink.shape[0] != len(STROKE_KINDS):
        raise ValueError(f"ink must be ({len(STROKE_KINDS)}, rows, cols), one channel per stroke kind; got {ink.shape}")
    k, rows, cols = ink.shape
    out = np.empty((3 * k, rows, cols), np.float32)
    closing = np.ones((3, 3), bool)
    for c in range(k):
        on = ink[c] > 0
        out[c] = ink[c].astype(np.float32) / 255.0
        if on.any():
            dist = cv2.distanceTransform((~on).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
            out[k + c] = np.clip(1.0 - dist / REACH, 0.0, 1.0)
            out[2 * k + c] = ndimage.binary_fill_holes(ndimage.binary_dilation(on, closing))
        else:
            out[k + c] = 0.0
            out[2 * k + c] = 0.0
    return out


def scale_vector(size_m: tuple[float, float], res: int = RES) -> np.ndarray:
    """The scale a map is read at: log of the cell size in metres along x and y (2,) float32, for a
    ground rectangle of `size_m` (east-west, north-south) on a res x res grid."""
    w, h = (float(v) for v in size_m)
    if not (w > 0 and h > 0 and math.isfinite(w) and math.isfinite(h)):
        raise ValueError(f"a ground rectangle has a positive size, got {size_m}")
    return np.log(np.array([w / res, h / res], np.float32))


@dataclass(frozen=True)
class SceneConfig:
    width: int = 16       # channels at full resolution, doubled at each level up to max_width
    levels: int = 4       # halvings from the input to the bottleneck (128 -> 8)
    max_width: int = 128
    cond: int = 64        # width of the condition (prompt and scale)
    groups: int = 8       # GroupNorm groups (at most; fewer where a level is narrower)
    inputs: int = FEATURES
    text_width: int = TEXT_WIDTH

    def __post_init__(self) -> None:
        if self.width < 1 or self.levels < 1 or self.max_width < self.width or self.cond < 1:
            raise ValueError(f"a scene network needs positive widths and at least one level, got {self}")

    def widths(self) -> list[int]:
        """Channels of each level, the input resolution first and the bottleneck last."""
        return [min(self.width * 2 ** i, self.max_width) for i in range(self.levels + 1)]

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(d: dict) -> "SceneConfig":
        known = SceneConfig.__dataclass_fields__
        return SceneConfig(**{k: v for k, v in d.items() if k in known})


class SceneOutput(NamedTuple):
    """What the network gives for a batch of maps (module notes)."""

    category: torch.Tensor  # (B, len(CATEGORIES), R, C) logits
    height: torch.Tensor    # (B, R, C) normalised height, 0..1
    splat: torch.Tensor     # (B, len(MATERIALS), R, C) logits
    log_relief: torch.Tensor  # (B,) log of the height range in metres
    base: torch.Tensor      # (B,) the lowest ground in metres

    @property
    def relief(self) -> torch.Tensor:
        return torch.exp(self.log_relief)

    def height_m(self) -> torch.Tensor:
        """(B, R, C) heights in metres."""
        return self.base[:, None, None] + self.height * self.relief[:, None, None]


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    g = math.gcd(channels, groups)
    return nn.GroupNorm(g, channels)


class Block(nn.Module):
    """Two 3 x 3 convolutions with GroupNorm and SiLU, and a residual path."""

    def __init__(self, cin: int, cout: int, groups: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm1 = _norm(cout, groups)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.norm2 = _norm(cout, groups)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.norm1(self.conv1(x)))
        h = self.norm2(self.conv2(h))
        return F.silu(h + self.skip(x))


class SceneNet(nn.Module):
    """A U-Net from the sketch's features to the layout (module notes)."""

    def __init__(self, config: SceneConfig = SceneConfig()) -> None:
        super().__init__()
        self.config = cfg = config
        w = cfg.widths()
        self.register_buffer("empty_text", torch.zeros(cfg.text_width))
        self.stem = Block(cfg.inputs, w[0], cfg.groups)
        self.down = nn.ModuleList(nn.Conv2d(w[i], w[i + 1], 3, stride=2, padding=1) for i in range(cfg.levels))
        self.enc = nn.ModuleList(Block(w[i + 1], w[i + 1], cfg.groups) for i in range(cfg.levels))
        self.cond = nn.Sequential(nn.Linear(cfg.text_width + SCALE_WIDTH, cfg.cond), nn.SiLU(),
                                  nn.Linear(cfg.cond, cfg.cond), nn.SiLU())
        self.film = nn.Linear(cfg.cond, 2 * w[-1])
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)
        self.mid = Block(w[-1], w[-1], cfg.groups)
        self.up = nn.ModuleList(nn.Conv2d(w[i + 1], w[i], 1) for i in reversed(range(cfg.levels)))
        self.dec = nn.ModuleList(Block(2 * w[i], w[i], cfg.groups) for i in reversed(range(cfg.levels)))
        self.head = nn.Conv2d(w[0], len(CATEGORIES) + 1 + len(MATERIALS), 1)
        self.global_head = nn.Sequential(nn.Linear(w[-1] + cfg.cond, cfg.cond), nn.SiLU(), nn.Linear(cfg.cond, 2))
        nn.init.zeros_(self.global_head[-1].weight)
        nn.init.zeros_(self.global_head[-1].bias)

    def forward(self, features: torch.Tensor, text: torch.Tensor | None, scale: torch.Tensor) -> SceneOutput:
        """Features (B, FEATURES, R, C) of `sketch_features`, pooled prompt embeddings (B, 384) (None:
        the empty prompt for all) and scales (B, 2) of `scale_vector`."""
        b = features.shape[0]
        if text is None:
            text = self.empty_text.expand(b, -1)
        g = self.cond(torch.cat([text, scale], -1))
        x = self.stem(features)
        skips = [x]
        for down, enc in zip(self.down, self.enc):
            x = enc(down(x))
            skips.append(x)
        gamma, beta = self.film(g)[:, :, None, None].chunk(2, 1)
        x = self.mid(x * (1 + gamma) + beta)
        pooled = x.mean((2, 3))
        for up, dec, skip in zip(self.up, self.dec, reversed(skips[:-1])):
            x = F.interpolate(up(x), size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = dec(torch.cat([x, skip], 1))
        out = self.head(x)
        nc = len(CATEGORIES)
        glob = self.global_head(torch.cat([pooled, g], -1))
        return SceneOutput(out[:, :nc], torch.sigmoid(out[:, nc]), out[:, nc + 1:], LOG_RELIEF0 + glob[:, 0],
                           BASE_UNIT * glob[:, 1])


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def save_net(model: SceneNet, path: str | Path, extra: dict | None = None, half: bool = False) -> None:
    """Write a network as a weight file (`neural.weights`), atomically; `half` stores float16 (shipping)."""
    sd = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    save_weights(path, sd, kind=KIND, version=VERSION, config=model.config.to_json(), extra=extra)


def load_net(path: str | Path) -> tuple[SceneNet, dict]:
    """The network a weight file holds, in eval mode, and its extra metadata; WeightsError saying
    what to do when the file cannot be read."""
    w = load_weights(path, KIND, newest=VERSION)
    with w.unpacking():
        model = SceneNet(SceneConfig.from_json(w.config))
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in w.tensors.items()},
                              strict=True)
    model.eval()
    return model, w.extra
