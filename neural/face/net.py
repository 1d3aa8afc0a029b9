"""The two networks of the sketch-to-head back end, small enough to train on two CPU cores.

`MapNet` (sketch -> front maps): a U-Net from the sketch's three line kinds (contour, ridge,
valley ink) and, when there is one, the current head's rendered front height and mask, to the
front view's unit normals, height z (head frame, towards the viewer) and a head mask. With the
two current-head channels zero it is the coarse stage (the reference's sketch -> normal map); with
them filled it is IDGMM step 1 (sketch + coarse depth -> refined depth and normals). One network
serves both: it is trained with the current-head channels present half of the time.

`ImplicitNet` (front maps + 3D points -> signed distance): pixel-aligned, as PIFu. A U-Net
encodes the maps (normals, height, mask) into a feature image over the canvas; a point (x, y, z)
of the head frame reads the features where it projects (orthographic front view: column x, row
y), the map's height and mask there, and an MLP turns them with x, y, z and z minus the front
height into the signed distance, truncated at `TRUNCATION` head units. Marching cubes over it is
the coarse mesh; IDGMM step 2 moves vertices along it.

Channels, all (B, C, H, W) float32 at the sketch canvas size (rows top to bottom = y from
+EXTENT to -EXTENT, columns x from -EXTENT to +EXTENT, as `heads.front_maps`):
    sketch input  SKETCH_CHANNELS: contour, ridge, valley ink (0 / 1), current height z (0 off
                  the current head), current head mask (0 / 1)
    maps          MAP_CHANNELS: normal x, y, z (unit on the head, 0 off it), height z, mask
                  (probability)

Weight files are the house's (`neural.weights`: safetensors, kinds "face-maps" and "face-implicit",
the config in the metadata); loading never unpickles (`load_net`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..weights import load_weights, save_weights
from .heads import EXTENT

__all__ = [
    "KINDS",
    "VERSION",
    "TRUNCATION",
    "SKETCH_CHANNELS",
    "MAP_CHANNELS",
    "MapConfig",
    "ImplicitConfig",
    "MapNet",
    "ImplicitNet",
    "save_net",
    "load_net",
]

VERSION = 1  # the weight files' layout version (`neural.weights`)
TRUNCATION = 0.15  # head units: the implicit network's signed distance is clamped to +-this
SKETCH_CHANNELS = ("contour", "ridge", "valley", "current_z", "current_mask")
MAP_CHANNELS = ("normal_x", "normal_y", "normal_z", "z", "mask")


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class _UNet(nn.Module):
    """Encoder with `len(widths)` levels (each halving the size after the first), decoder back up
    to `out_level` (0: full size) with skip connections."""

    def __init__(self, cin: int, widths: tuple[int, ...], out_level: int = 0) -> None:
        super().__init__()
        self.down = nn.ModuleList()
        c = cin
        for i, w in enumerate(widths):
            self.down.append(_block(c, w, 1 if i == 0 else 2))
            c = w
        self.up = nn.ModuleList()
        for i in range(len(widths) - 2, out_level - 1, -1):
            self.up.append(_block(c + widths[i], widths[i]))
            c = widths[i]
        self.out_channels = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        skips.pop()
        for layer in self.up:
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = layer(torch.cat([x, skip], 1))
        return x


@dataclass(frozen=True)
class MapConfig:
    widths: tuple[int, ...] = (16, 32, 64, 96, 128)

    def to_json(self) -> dict:
        return {"widths": list(self.widths)}

    @staticmethod
    def from_json(d: dict) -> "MapConfig":
        return MapConfig(widths=tuple(int(w) for w in d["widths"]))


class MapNet(nn.Module):
    kind = "maps"

    def __init__(self, config: MapConfig = MapConfig()) -> None:
        super().__init__()
        self.config = config
        self.body = _UNet(len(SKETCH_CHANNELS), config.widths)
        self.head = nn.Conv2d(self.body.out_channels, 5, 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, 5, H, W) sketch input -> `normal` (B, 3, H, W) unit, `z` (B, 1, H, W),
        `mask_logit` (B, 1, H, W)."""
        y = self.head(self.body(x))
        return {"normal": F.normalize(y[:, :3], dim=1, eps=1e-6), "z": y[:, 3:4], "mask_logit": y[:, 4:5]}


def maps_tensor(out: dict[str, torch.Tensor]) -> torch.Tensor:
    """A `MapNet` output as the implicit network's (B, 5, H, W) maps, normals zeroed off the head."""
    mask = torch.sigmoid(out["mask_logit"])
    return torch.cat([out["normal"] * (mask > 0.5), out["z"] * (mask > 0.5), mask], 1)


@dataclass(frozen=True)
class ImplicitConfig:
    widths: tuple[int, ...] = (16, 32, 64, 96, 128)
    feature_level: int = 1   # features at canvas / 2**level
    hidden: int = 128

    def to_json(self) -> dict:
        return {"widths": list(self.widths), "feature_level": self.feature_level, "hidden": self.hidden}

    @staticmethod
    def from_json(d: dict) -> "ImplicitConfig":
        return ImplicitConfig(widths=tuple(int(w) for w in d["widths"]), feature_level=int(d["feature_level"]),
                              hidden=int(d["hidden"]))


class ImplicitNet(nn.Module):
    kind = "implicit"

    def __init__(self, config: ImplicitConfig = ImplicitConfig()) -> None:
        super().__init__()
        self.config = config
        self.body = _UNet(len(MAP_CHANNELS), config.widths, config.feature_level)
        c = self.body.out_channels
        h = config.hidden
        self.mlp = nn.Sequential(nn.Linear(c + 7, h), nn.ReLU(inplace=True), nn.Linear(h, h), nn.ReLU(inplace=True),
                                 nn.Linear(h, h // 2), nn.ReLU(inplace=True), nn.Linear(h // 2, 1))

    def features(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 5, H, W) maps -> (feature image, the maps) for `query`."""
        return self.body(maps), maps

    def query(self, feats: tuple[torch.Tensor, torch.Tensor], points: torch.Tensor) -> torch.Tensor:
        """Signed distance (B, P) at head-frame points (B, P, 3) (clamped to +-TRUNCATION)."""
        image, maps = feats
        grid = torch.stack([points[..., 0] / EXTENT, -points[..., 1] / EXTENT], -1).unsqueeze(1)  # (B, 1, P, 2)
        f = F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)[:, :, 0]
        m = F.grid_sample(maps[:, 3:5], grid, mode="bilinear", padding_mode="zeros", align_corners=True)[:, :, 0]
        front_z, mask = m[:, 0], m[:, 1]
        z = points[..., 2]
        x = torch.cat([f.transpose(1, 2), points, (z - front_z).unsqueeze(-1), front_z.unsqueeze(-1),
                       mask.unsqueeze(-1), (points[..., 0].abs()).unsqueeze(-1)], -1)
        return self.mlp(x).squeeze(-1).clamp(-TRUNCATION, TRUNCATION)

    def forward(self, maps: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        return self.query(self.features(maps), points)


# -- image helpers the inputs of both networks use ---------------------------------------------
def _gauss_kernel(sigma: float) -> torch.Tensor:
    r = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W), zero padded."""
    k = _gauss_kernel(sigma)
    c = x.shape[1]
    r = (len(k) - 1) // 2
    x = F.conv2d(x, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), padding=(0, r), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), padding=(r, 0), groups=c)


KINDS = {"maps": "face-maps", "implicit": "face-implicit"}  # a network's kind -> its weight files' kind
_NETS = {"face-maps": (MapNet, MapConfig), "face-implicit": (ImplicitNet, ImplicitConfig)}


def save_net(model: MapNet | ImplicitNet, path: str | Path, extra: dict | None = None) -> None:
    """Write a network as a weight file (`neural.weights`), atomically; its config (and `extra`) in the metadata."""
    save_weights(path, model.state_dict(), kind=KINDS[model.kind], version=VERSION, config=model.config.to_json(),
                 extra=extra)


def load_net(path: str | Path, kind: str | None = None) -> tuple[MapNet | ImplicitNet, dict]:
    """The network a file holds ("maps" or "implicit"; `kind` names the one it must be), in eval
    mode, and its extra metadata; WeightsError saying what to do when the file cannot be read."""
    w = load_weights(path, tuple(KINDS.values()) if kind is None else KINDS[kind], newest=VERSION)
    cls, cfg = _NETS[w.kind]
    with w.unpacking():
        model = cls(cfg.from_json(w.config))
        model.load_state_dict(w.tensors, strict=True)
    model.eval()
    return model, w.extra


def net_dict(model: nn.Module) -> dict:
    return {"kind": model.kind, "config": asdict(model.config),
            "parameters": sum(p.numel() for p in model.parameters())}
