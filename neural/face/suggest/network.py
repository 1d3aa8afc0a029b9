"""The stroke-suggestion network: a small convolutional autoencoder whose L2-normalised latent is
the retrieval embedding of a part's strokes, and its weight files.

Network (`SuggestNet`, 0.8 M weights, about 10 M multiply-adds an image: trains on one CPU core)
    encoder   4 x [3x3 conv stride 2, GroupNorm, ReLU]: 1 -> c0 @32 -> c1 @16 -> c2 @8 -> c3 @4
              (channels 16, 32, 64, 128),
              flatten, linear -> latent (128)
    decoder   linear -> c3 @4, 4 x [4x4 transposed conv stride 2 (+ GroupNorm, ReLU)] -> 1 @64:
              ink logits
    classes   linear latent -> part-type logits (`PARTS`)

Weight files (`save_model` / `load_model`): the house's (`neural.weights`, kind `WEIGHTS_KIND`):
the network's tensors, its `SuggestConfig` as the config and the training settings and log as the
extra. A library records the weights' `fingerprint` (a hash of the tensors) and checks it.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...weights import load_weights, save_weights
from ..parts import IMAGE_SIZE, PARTS

__all__ = ["WEIGHTS_KIND", "VERSION", "SuggestConfig", "SuggestNet", "embed_images", "fingerprint", "save_model",
           "load_model"]

WEIGHTS_KIND = "face-suggest"  # the weight files' kind (`neural.weights`)
VERSION = 1  # their layout version, and the library files'


@dataclass(frozen=True)
class SuggestConfig:
    """Everything the network's shape depends on; stored in every weight file's metadata."""

    image_size: int = IMAGE_SIZE
    channels: tuple[int, int, int, int] = (16, 32, 64, 128)
    latent: int = 128
    parts: tuple[str, ...] = PARTS

    def __post_init__(self) -> None:
        if not isinstance(self.image_size, int) or self.image_size < 16 or self.image_size % 16:
            raise ValueError(f"image_size must be a multiple of 16 of at least 16, got {self.image_size!r}")
        if len(self.channels) != 4 or not all(isinstance(c, int) and c >= 8 and c % 8 == 0 for c in self.channels):
            raise ValueError(f"channels must be four multiples of 8, got {self.channels!r}")
        if not isinstance(self.latent, int) or self.latent < 8:
            raise ValueError(f"latent must be an integer of at least 8, got {self.latent!r}")

    def to_json(self) -> dict:
        d = asdict(self)
        d["channels"], d["parts"] = list(self.channels), list(self.parts)
        return d

    @staticmethod
    def from_json(d: dict) -> "SuggestConfig":
        if not isinstance(d, dict):
            raise ValueError("the config must be a JSON object")
        return SuggestConfig(image_size=int(d["image_size"]), channels=tuple(int(c) for c in d["channels"]),
                             latent=int(d["latent"]), parts=tuple(str(p) for p in d["parts"]))


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.GroupNorm(8, cout), nn.ReLU(inplace=True))


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1), nn.GroupNorm(8, cout),
                         nn.ReLU(inplace=True))


class SuggestNet(nn.Module):
    """The part-stroke autoencoder (see the module docstring); input (B, 1, S, S) ink 0..1."""

    def __init__(self, config: SuggestConfig = SuggestConfig()) -> None:
        super().__init__()
        self.config = config
        c0, c1, c2, c3 = config.channels
        self.cells = config.image_size // 16
        flat = c3 * self.cells * self.cells
        self.encoder = nn.Sequential(_block(1, c0), _block(c0, c1), _block(c1, c2), _block(c2, c3), nn.Flatten(),
                                     nn.Linear(flat, config.latent))
        self.expand = nn.Sequential(nn.Linear(config.latent, flat), nn.ReLU(inplace=True))
        self.decoder = nn.Sequential(_up(c3, c2), _up(c2, c1), _up(c1, c0),
                                     nn.ConvTranspose2d(c0, 1, 4, stride=2, padding=1))
        self.classes = nn.Linear(config.latent, len(config.parts))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent codes (B, latent), not normalised."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Ink logits (B, 1, S, S)."""
        c3 = self.config.channels[3]
        return self.decoder(self.expand(z).view(-1, c3, self.cells, self.cells))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The retrieval embeddings: L2-normalised latents (B, latent)."""
        return F.normalize(self.encode(x), dim=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(latent, reconstruction logits, part-type logits)."""
        z = self.encode(x)
        return z, self.decode(z), self.classes(z)


def _as_batch(images: np.ndarray, image_size: int) -> torch.Tensor:
    a = np.asarray(images, dtype=np.float32)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[1:] != (image_size, image_size):
        raise ValueError(f"pass part images of shape (N, {image_size}, {image_size}) (parts.part_image), "
                         f"got {a.shape}")
    return torch.from_numpy(np.ascontiguousarray(a))[:, None]


@torch.no_grad()
def embed_images(model: SuggestNet, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """Embeddings (N, latent) float32 of part images (N, S, S) (or one (S, S) image: (1, latent))."""
    x = _as_batch(images, model.config.image_size)
    was = model.training
    model.eval()
    try:
        out = [model.embed(x[i:i + batch]) for i in range(0, len(x), batch)]
    finally:
        model.train(was)
    if not out:
        return np.zeros((0, model.config.latent), np.float32)
    return torch.cat(out).numpy().astype(np.float32)


# -- weight files ----------------------------------------------------------------------------------
def fingerprint(model: SuggestNet) -> str:
    """A hash (16 hex digits) of the model's tensors: names a set of weights (libraries record it)."""
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode("utf-8"))
        h.update(v.detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def save_model(model: SuggestNet, path: str | Path, extra: dict | None = None) -> None:
    """Write the model as a weight file (`neural.weights`), atomically; its config (and `extra`) in the metadata."""
    save_weights(path, model.state_dict(), kind=WEIGHTS_KIND, version=VERSION, config=model.config.to_json(),
                 extra=extra)


def load_model(path: str | Path) -> tuple[SuggestNet, dict]:
    """The model a weight file describes, in eval mode, and its `extra` metadata; WeightsError
    saying what to do when the file is missing, damaged or not a suggestion network."""
    w = load_weights(path, WEIGHTS_KIND, newest=VERSION)
    with w.unpacking():
        model = SuggestNet(SuggestConfig.from_json(w.config))
        model.load_state_dict(w.tensors, strict=True)
    model.eval()
    return model, w.extra
