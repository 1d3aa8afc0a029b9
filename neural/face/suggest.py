"""Stroke suggestion for the face mode: retrieve the library part strokes nearest a person's own.

In the spirit of SketchMetaFace's stroke suggestion: a small convolutional autoencoder reads a
part's strokes as a 64 x 64 image (`parts.part_image`: the part's box fills the image, left parts
mirrored) and its L2-normalised latent is the retrieval embedding. `SuggestionLibrary` holds, for
every part type (`parts.PARTS`), the clean part strokes of procedural heads (`head_curves`), their
embeddings and their polylines in the normalised part frame; `SuggestionLibrary.query` ranks
entries by cosine similarity (within a part type or across all), and `SuggestionLibrary.place`
puts an entry's polylines into the person's box as ghost strokes (mirrored for a left part).

Network (`SuggestNet`, 0.8 M weights, about 10 M multiply-adds an image: trains on one CPU core)
    encoder   4 x [3x3 conv stride 2, GroupNorm, ReLU]: 1 -> c0 @32 -> c1 @16 -> c2 @8 -> c3 @4
              (channels 16, 32, 64, 128),
              flatten, linear -> latent (128)
    decoder   linear -> c3 @4, 4 x [4x4 transposed conv stride 2 (+ GroupNorm, ReLU)] -> 1 @64:
              ink logits
    classes   linear latent -> part-type logits (`PARTS`)

Training (`train`): denoising. Inputs are a head's humanised drawings (`head_sketch`) cut into
parts (box jittered a little, as a person's box will not sit exactly where the generator's does),
targets the same instance's clean strokes (for half the drawings of an eye, brow or ear, the
other side's clean strokes, mirrored: the traced curves of the two sides differ by a pixel here and
there, and a library lists right parts only). The loss adds (1) the reconstruction of the clean image
(binary cross-entropy against the clean image softened by a 1-px Gaussian, so near misses cost
less), (2) an InfoNCE term that pulls the embedding of a drawing to that of its own clean part and
away from the other clean parts in the batch (the retrieval task itself), and (3) part-type
cross-entropy on the latent. Heads: item i of seed S is `sample_head(default_rng([S, i, 1]),
VARIANTS[i % 4])` (`seeded_head`); its k-th training drawing uses `default_rng([S, i, 2, k])`.

Files (safetensors: tensors only, never pickle; JSON in the metadata)
    weights   `save_model` / `load_model`: the network's tensors; metadata `format`
              (`WEIGHTS_FORMAT`), `version`, `config` (`SuggestConfig`), `fingerprint` (a hash
              of the tensors, which a library records), `extra` (training settings and log).
    library   `SuggestionLibrary.save` / `load_library`: arrays `embeddings` (N, D) float32,
              `part` (N,) uint8 (index into PARTS), `head` (N,) int64, `variant` (N,) uint8,
              `images` (N, S, S) uint8 (the entries' part images, for re-embedding and previews),
              `mirror_images` (N, S, S) uint8 and `has_mirror` (N,) uint8 (the left instance,
              mirrored, where the entry has one),
              `points` (P, 2) float32 (every polyline's points, part frame), `line_start` (L + 1,)
              int64 (polyline l is points[line_start[l]:line_start[l + 1]]), `entry_start` (N + 1,)
              int64 (entry i owns polylines entry_start[i]..entry_start[i + 1]); metadata
              `format` (`LIBRARY_FORMAT`), `version`, `meta` (seed, heads, size, the weights'
              fingerprint, parts).

Library entries: one per head and part type, the right-hand (or centre) instance: the heads are
exactly symmetric, so a left instance mirrored is the same shape, and a left query is mirrored
before it is embedded. The generator's traced curves of the two sides differ by a pixel here and
there, so an entry's embedding is the unit mean of its right instance's and its mirrored left
instance's. Parts the generator draws nothing for (a brow on a smooth forehead) get no entry.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sketchforge.modeling.files import atomic_write

from ..synth.reading import DataError
from .heads import VARIANTS, HeadParams, sample_head
from .parts import IMAGE_SIZE, PARTS, PartStrokes, from_part_frame, part_strokes, render_part_frame, to_part_frame
from .sketches import head_curves, head_sketch

__all__ = [
    "WEIGHTS_FORMAT",
    "LIBRARY_FORMAT",
    "VERSION",
    "DataError",
    "SuggestConfig",
    "TrainSettings",
    "SuggestNet",
    "SuggestionLibrary",
    "seeded_head",
    "head_parts",
    "part_images",
    "embed_images",
    "fingerprint",
    "save_model",
    "load_model",
    "build_library",
    "load_library",
    "evaluate",
    "train",
]

WEIGHTS_FORMAT = "sketchforge.face-suggest"
LIBRARY_FORMAT = "sketchforge.face-suggest-library"
VERSION = 1


# -- heads -----------------------------------------------------------------------------------------
def seeded_head(seed: int, item: int) -> HeadParams:
    """Head `item` of seed `seed`: variants cycle through `VARIANTS` (balanced)."""
    return sample_head(np.random.default_rng([int(seed), int(item), 1]), VARIANTS[int(item) % len(VARIANTS)])


def head_parts(params: HeadParams, size: int, rng: np.random.Generator | None = None) -> list[PartStrokes]:
    """The part strokes of a head's clean curves (`rng` None) or of a humanised drawing made with `rng`."""
    drawing = head_curves(params, size) if rng is None else head_sketch(params, rng, size)
    return part_strokes(drawing, params, size)


def part_images(parts: Sequence[PartStrokes], image_size: int = IMAGE_SIZE, jitter: float = 0.0,
                rng: np.random.Generator | None = None) -> np.ndarray:
    """(n, S, S) float32 images of the parts (left ones mirrored); `jitter` > 0 moves each box's
    centre by up to that share of its longer side and scales it by up to 2 x jitter (needs `rng`)."""
    out = np.zeros((len(parts), image_size, image_size), np.float32)
    for i, p in enumerate(parts):
        frame = p.part_frame()
        if jitter > 0.0:
            if rng is None:
                raise ValueError("pass a numpy.random.Generator as rng to jitter the boxes")
            shift = rng.uniform(-jitter, jitter, 2)
            scale = 1.0 + rng.uniform(-2.0 * jitter, 2.0 * jitter)
            frame = [(q - shift) / scale for q in frame]
        out[i] = render_part_frame(frame, image_size)
    return out


# -- network ---------------------------------------------------------------------------------------
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


def _read_safetensors(path: Path, fmt: str, what: str, make: str) -> tuple[dict, dict[str, np.ndarray]]:
    """Metadata and numpy arrays of a safetensors file of format `fmt` (nothing is unpickled)."""
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise DataError(f"no {what} at {path}; {make}")
    try:
        with safe_open(str(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
            if meta.get("format") != fmt:
                raise DataError(f"{path} is not a {what} (no '{fmt}' metadata); {make}")
            if int(meta.get("version", "0")) > VERSION:
                raise DataError(f"{path} was written by a newer Sketchforge (format version {meta['version']}); "
                                "update Sketchforge to read it")
            arrays = {k: fh.get_tensor(k) for k in fh.keys()}
    except DataError:
        raise
    except (SafetensorError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is damaged or not a safetensors {what} ({exc}); {make}") from None
    return meta, arrays


def save_model(model: SuggestNet, path: str | Path, extra: dict | None = None) -> None:
    """Write the model as safetensors, atomically; config, fingerprint (and `extra`) in the metadata."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    meta = {"format": WEIGHTS_FORMAT, "version": str(VERSION), "config": json.dumps(model.config.to_json()),
            "fingerprint": fingerprint(model), "extra": json.dumps(extra or {})}
    atomic_write(Path(path), lambda tmp: save_file(tensors, str(tmp), metadata=meta))


def load_model(path: str | Path) -> tuple[SuggestNet, dict]:
    """The model a weight file describes, in eval mode, and its `extra` metadata; DataError saying
    what to do when the file is missing, damaged or not a suggestion network."""
    path = Path(path)
    make = "train one with `sketchforge-face-suggest train --out DIR ...` (it writes DIR/suggest.safetensors)"
    meta, arrays = _read_safetensors(path, WEIGHTS_FORMAT, "stroke-suggestion weight file", make)
    try:
        config = SuggestConfig.from_json(json.loads(meta["config"]))
        extra = json.loads(meta.get("extra", "{}"))
        model = SuggestNet(config)
        model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}, strict=True)
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise DataError(f"{path} does not hold a readable stroke-suggestion network ({exc}); {make}") from None
    model.eval()
    return model, extra


# -- library ---------------------------------------------------------------------------------------
@dataclass
class SuggestionLibrary:
    """Retrievable part strokes: one entry per (head, part type); see the module docstring."""

    embeddings: np.ndarray          # (N, D) float32, unit rows
    part: np.ndarray                # (N,) uint8, index into PARTS
    head: np.ndarray                # (N,) int64, the head's item number under meta["seed"]
    variant: np.ndarray             # (N,) uint8, index into VARIANTS
    images: np.ndarray              # (N, S, S) uint8 part images (the right / centre instance)
    lines: list[list[np.ndarray]]   # per entry: polylines (M, 2) in the part frame
    mirror_images: np.ndarray       # (N, S, S) uint8: the left instance, mirrored (zeros where none)
    has_mirror: np.ndarray          # (N,) bool: the entry has a left instance
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.part)

    def entries(self, part: str) -> np.ndarray:
        """Indices of the entries of one part type."""
        return np.nonzero(self.part == _part_index(part))[0]

    def index_of(self, head: int, part: str) -> int | None:
        """The entry of a head's part, or None when the library has none."""
        hit = np.nonzero((self.head == int(head)) & (self.part == _part_index(part)))[0]
        return int(hit[0]) if len(hit) else None

    def query(self, embedding: np.ndarray, part: str | None = None, k: int = 5) -> list[tuple[int, float]]:
        """The k entries most similar to `embedding` (cosine; of type `part`, or any type when None),
        best first, as (entry index, similarity)."""
        e = np.asarray(embedding, dtype=np.float32).reshape(-1)
        if e.shape[0] != self.embeddings.shape[1]:
            raise ValueError(f"pass an embedding of {self.embeddings.shape[1]} numbers (the library's), "
                             f"got {e.shape[0]}; was the library built with other weights?")
        e = e / max(float(np.linalg.norm(e)), 1e-12)
        idx = np.arange(len(self)) if part is None else self.entries(part)
        if len(idx) == 0:
            return []
        sims = self.embeddings[idx] @ e
        order = np.argsort(-sims, kind="stable")[:max(0, int(k))]
        return [(int(idx[i]), float(sims[i])) for i in order]

    def place(self, entry: int, box: Sequence[float], mirror: bool = False) -> list[np.ndarray]:
        """Entry `entry`'s polylines placed into `box` (u0, v0, u1, v1) on the canvas, as ghost
        strokes; `mirror` True for a left part (`PartStrokes.mirrored`)."""
        if not 0 <= int(entry) < len(self):
            raise ValueError(f"entry {entry} does not exist; the library has entries 0..{len(self) - 1}")
        return from_part_frame(self.lines[int(entry)], tuple(box), mirror)  # type: ignore[arg-type]

    def suggest(self, model: SuggestNet, polylines: Sequence[np.ndarray], box: Sequence[float], part: str,
                mirror: bool = False, k: int = 5) -> list[tuple[int, float, list[np.ndarray]]]:
        """The k best entries for a person's strokes of `part` in `box` (canvas pixels), each with
        its polylines placed into that box: (entry, similarity, ghost polylines)."""
        self._check_model(model)
        frame = to_part_frame(polylines, tuple(box), mirror)  # type: ignore[arg-type]
        e = embed_images(model, render_part_frame(frame, model.config.image_size))[0]
        return [(i, s, self.place(i, box, mirror)) for i, s in self.query(e, part, k)]

    def _check_model(self, model: SuggestNet) -> None:
        want = self.meta.get("fingerprint")
        if want is not None and want != fingerprint(model):
            raise DataError("the library was embedded with other weights (fingerprint "
                            f"{want}, these are {fingerprint(model)}); rebuild it with "
                            "`sketchforge-face-suggest library --weights W ...` or call reembed(model)")

    def reembed(self, model: SuggestNet) -> None:
        """Recompute the embeddings from the stored images with `model` (new weights)."""
        if self.images.size == 0:
            raise DataError("this library was saved without its part images and cannot be re-embedded; "
                            "rebuild it with `sketchforge-face-suggest library --weights W ...`")
        self.embeddings = _entry_embeddings(model, self.images, self.mirror_images, self.has_mirror)
        self.meta = {**self.meta, "fingerprint": fingerprint(model)}

    def save(self, path: str | Path, images: bool = True) -> None:
        """Write the library as safetensors (arrays) with JSON metadata, atomically. Without
        `images` the part images are left out (a library to ship: a tenth of the size; it cannot
        be re-embedded for other weights)."""
        from safetensors.numpy import save_file

        line_lens = [len(p) for lines in self.lines for p in lines]
        points = (np.concatenate([p for lines in self.lines for p in lines]).astype(np.float32)
                  if line_lens else np.zeros((0, 2), np.float32))
        arrays = {
            "embeddings": np.ascontiguousarray(self.embeddings, dtype=np.float32),
            "part": np.ascontiguousarray(self.part, dtype=np.uint8),
            "head": np.ascontiguousarray(self.head, dtype=np.int64),
            "variant": np.ascontiguousarray(self.variant, dtype=np.uint8),
            "images": np.ascontiguousarray(self.images if images else self.images[:, :0, :0], dtype=np.uint8),
            "mirror_images": np.ascontiguousarray(self.mirror_images if images else self.mirror_images[:, :0, :0],
                                                  dtype=np.uint8),
            "has_mirror": np.ascontiguousarray(self.has_mirror, dtype=np.uint8),
            "points": points.reshape(-1, 2),
            "line_start": np.concatenate([[0], np.cumsum(line_lens)]).astype(np.int64),
            "entry_start": np.concatenate([[0], np.cumsum([len(lines) for lines in self.lines])]).astype(np.int64),
        }
        meta = {"format": LIBRARY_FORMAT, "version": str(VERSION), "meta": json.dumps(self.meta)}
        atomic_write(Path(path), lambda tmp: save_file(arrays, str(tmp), metadata=meta))


def _part_index(part: str) -> int:
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}: pass one of {', '.join(PARTS)}")
    return PARTS.index(part)


_LIBRARY_ARRAYS = {"embeddings": 2, "part": 1, "head": 1, "variant": 1, "images": 3, "mirror_images": 3,
                   "has_mirror": 1, "points": 2, "line_start": 1, "entry_start": 1}


def _entry_embeddings(model: SuggestNet, images: np.ndarray, mirror_images: np.ndarray,
                      has_mirror: np.ndarray) -> np.ndarray:
    """Entry embeddings: the unit mean of the embeddings of an entry's right instance and its left
    instance mirrored (where it has one). The generator traces the two sides a pixel apart here
    and there; the mean stands for the shape rather than for one side's tracing."""
    e = embed_images(model, np.asarray(images, np.float32) / 255.0)
    pair = np.nonzero(np.asarray(has_mirror, bool))[0]
    if len(pair):
        e[pair] += embed_images(model, np.asarray(mirror_images, np.float32)[pair] / 255.0)
    return (e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def load_library(path: str | Path) -> SuggestionLibrary:
    """A library written by `SuggestionLibrary.save`; DataError saying what to do when the file is
    missing, damaged or not a library."""
    path = Path(path)
    make = "build one with `sketchforge-face-suggest library --weights W --heads N --seed S --out LIB.safetensors`"
    meta, a = _read_safetensors(path, LIBRARY_FORMAT, "stroke-suggestion library", make)
    try:
        info = json.loads(meta.get("meta", "{}"))
        missing = sorted(set(_LIBRARY_ARRAYS) - set(a))
        if missing:
            raise ValueError(f"arrays {', '.join(missing)} are missing")
        for k, nd in _LIBRARY_ARRAYS.items():
            if a[k].ndim != nd:
                raise ValueError(f"array {k!r} has shape {a[k].shape}")
        n = len(a["part"])
        ls, es = a["line_start"], a["entry_start"]
        if not (len(a["embeddings"]) == len(a["head"]) == len(a["variant"]) == len(a["images"]) == n
                and len(a["mirror_images"]) == len(a["has_mirror"]) == n
                and len(es) == n + 1 and es[0] == 0 and es[-1] == len(ls) - 1 and ls[0] == 0
                and ls[-1] == len(a["points"]) and np.all(np.diff(es) >= 0) and np.all(np.diff(ls) >= 0)):
            raise ValueError("its arrays do not agree in length")
        if n and int(a["part"].max()) >= len(PARTS):
            raise ValueError("a part index is out of range")
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path} is not a readable stroke-suggestion library ({exc}); {make}") from None
    pts = a["points"].astype(np.float64)
    lines = [[pts[ls[j]:ls[j + 1]] for j in range(es[i], es[i + 1])] for i in range(n)]
    return SuggestionLibrary(embeddings=a["embeddings"].astype(np.float32), part=a["part"].astype(np.uint8),
                             head=a["head"].astype(np.int64), variant=a["variant"].astype(np.uint8),
                             images=a["images"].astype(np.uint8), lines=lines,
                             mirror_images=a["mirror_images"].astype(np.uint8), has_mirror=a["has_mirror"].astype(bool),
                             meta=info)


def build_library(model: SuggestNet, heads: int, seed: int, size: int = 256,
                  progress: Callable[[int], None] | None = None) -> SuggestionLibrary:
    """The library of heads 0..heads-1 of `seed` (`seeded_head`): their clean right / centre part
    instances, embedded with `model` (an entry's embedding is the unit mean of its right and its
    mirrored left instance's). `progress(1)` is called after each head."""
    if not isinstance(heads, int) or isinstance(heads, bool) or heads < 1:
        raise DataError(f"--heads must be at least 1, got {heads!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise DataError(f"--seed must be a non-negative integer, got {seed!r}")
    if not isinstance(size, int) or isinstance(size, bool) or not 32 <= size <= 1024:
        raise DataError(f"--size must be between 32 and 1024 pixels, got {size!r}")
    parts, heads_, variants, lines, items, mirrors = [], [], [], [], [], []
    for i in range(heads):
        params = seeded_head(seed, i)
        found = {ps.key: ps for ps in head_parts(params, size)}
        for ps in found.values():
            if ps.side == "left" or not ps.polylines:
                continue
            parts.append(PARTS.index(ps.part))
            heads_.append(i)
            variants.append(VARIANTS.index(params.variant))
            lines.append(ps.part_frame())
            items.append(ps)
            left = found.get(f"{ps.part}/left")
            mirrors.append(left if left is not None and left.polylines else None)
        if progress is not None:
            progress(1)
    s = model.config.image_size
    images = np.round(part_images(items, s) * 255.0).astype(np.uint8)
    has_mirror = np.array([m is not None for m in mirrors], bool)
    mirror_images = np.zeros_like(images)
    if has_mirror.any():
        mirror_images[has_mirror] = np.round(part_images([m for m in mirrors if m is not None], s) * 255.0)
    meta = {"seed": seed, "heads": heads, "size": size, "image_size": model.config.image_size,
            "fingerprint": fingerprint(model), "parts": list(PARTS), "variants": list(VARIANTS),
            "sides": "right and centre instances (left queries are mirrored); embeddings: unit mean of the right "
                     "and the mirrored left instance's",
            "frame": "polylines: (p - box centre) / the box's longer side, canvas pixels (u right, v down)",
            "heads_from": "sketchforge.neural.face.suggest.seeded_head(seed, item)"}
    return SuggestionLibrary(embeddings=_entry_embeddings(model, images, mirror_images, has_mirror),
                             part=np.array(parts, np.uint8), head=np.array(heads_, np.int64),
                             variant=np.array(variants, np.uint8), images=images, lines=lines,
                             mirror_images=mirror_images, has_mirror=has_mirror, meta=meta)


# -- benchmark -------------------------------------------------------------------------------------
EVAL_FORMAT = "sketchforge.face-suggest-eval"


def _pixel_codes(images: np.ndarray) -> np.ndarray:
    """Unit vectors of part images softened by a Gaussian of sigma 1 px (the pixel baseline)."""
    import cv2

    a = np.stack([cv2.GaussianBlur(np.asarray(x, np.float32), (0, 0), 1.0) for x in images])
    a = a.reshape(len(a), -1)
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9)


def evaluate(model: SuggestNet, lib: SuggestionLibrary, heads: int, seed: int,
             progress: Callable[[str, int, int], None] | None = None) -> dict:
    """The retrieval benchmark: heads 0..heads-1 of the library's own seed are drawn again by a
    humanised hand (`head_sketch`, rng [seed, head, 3]) and cut into parts; each part instance
    (left ones mirrored) queries the library, and a hit is the library's entry of the same head
    and part type, every other head's entry of that type being a distractor. Returns the report
    (top-1 / top-5 within the part type, part-type accuracy of the nearest entry of any type, the
    classifier's accuracy, a pixel baseline; overall, per part and per side) as a JSON-ready dict.
    `progress("heads", done, total)` is called after each head."""
    try:
        lib_heads, lib_seed, size = int(lib.meta["heads"]), int(lib.meta["seed"]), int(lib.meta["size"])
    except (KeyError, TypeError, ValueError):
        raise DataError("the library does not record the seed, head count and size of its heads; build it with "
                        "`sketchforge-face-suggest library` (build_library)") from None
    if not isinstance(heads, int) or isinstance(heads, bool) or not 1 <= heads <= lib_heads:
        raise DataError(f"--heads must be between 1 and the library's {lib_heads} heads, got {heads}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise DataError(f"--seed must be a non-negative integer, got {seed!r}")
    lib._check_model(model)
    items, target = [], []
    skipped = {"nothing_drawn": 0, "no_library_entry": 0}
    for i in range(heads):
        params = seeded_head(lib_seed, i)
        for ps in head_parts(params, size, np.random.default_rng([seed, i, 3])):
            entry = lib.index_of(i, ps.part)
            if entry is None:
                skipped["no_library_entry"] += 1
                continue
            if not ps.polylines:
                skipped["nothing_drawn"] += 1
                continue
            items.append(ps)
            target.append(entry)
        if progress is not None:
            progress("heads", i + 1, heads)
    if not items:
        raise DataError("no part of the query heads was drawn; pass more --heads")
    images = part_images(items, model.config.image_size)
    emb = embed_images(model, images)
    with torch.no_grad():
        logits = model.classes(model.encode(torch.from_numpy(images)[:, None])).numpy()
    # the baseline a network has to beat: cosine similarity of the images themselves (softened;
    # an entry's code is the mean of its two sides', as its embedding is)
    pix_lib = _pixel_codes(lib.images.astype(np.float32) / 255.0)
    pair = np.nonzero(lib.has_mirror)[0]
    if len(pair):
        pix_lib[pair] += _pixel_codes(lib.mirror_images[pair].astype(np.float32) / 255.0)
        pix_lib /= np.maximum(np.linalg.norm(pix_lib, axis=1, keepdims=True), 1e-12)
    pix_q = _pixel_codes(images)
    rows = []
    for j, (ps, e, t, lg) in enumerate(zip(items, emb, target, logits)):
        within = [i for i, _ in lib.query(e, ps.part, 5)]
        nearest = lib.query(e, None, 1)[0][0]
        same = lib.entries(ps.part)
        pix_best = int(same[np.argmax(pix_lib[same] @ pix_q[j])])
        rows.append({"part": ps.part, "side": ps.side, "top1": within[0] == t, "top5": t in within,
                     "type": PARTS[int(lib.part[nearest])] == ps.part,
                     "classifier": PARTS[int(np.argmax(lg))] == ps.part,
                     "same_variant": int(lib.variant[within[0]]) == int(lib.variant[t]),
                     "pixel_top1": pix_best == t})

    def summary(sel: list[dict]) -> dict:
        n = len(sel)
        return {"queries": n, **{k: round(sum(r[k] for r in sel) / n, 4) if n else None
                                 for k in ("top1", "top5", "type", "classifier", "same_variant", "pixel_top1")}}

    per_part = {}
    for p in PARTS:
        sel = [r for r in rows if r["part"] == p]
        entries = len(lib.entries(p))
        per_part[p] = {**summary(sel), "library_entries": entries,
                       "chance_top1": round(1.0 / entries, 4) if entries else None}
    train_seed = lib.meta.get("train_seed")
    return {
        "format": EVAL_FORMAT,
        "overall": summary(rows),
        "per_part": per_part,
        "per_side": {s: summary([r for r in rows if r["side"] == s]) for s in ("right", "left", "centre")},
        "skipped_instances": skipped,
        "library": {"entries": len(lib), "heads": lib_heads, "seed": lib_seed, "size": size},
        "query_heads": heads,
        "query_seed": seed,
        "held_out": train_seed is not None and train_seed != lib_seed,
        "definitions": {
            "query": "a part instance of a humanised drawing (head_sketch, rng [seed, head, 3]) of one of the "
                     "library's first N heads, left instances mirrored",
            "top1/top5": "the library's entry of the same head and part is among the 1 / 5 most cosine-similar "
                         "entries of that part type (every other head's part is a distractor)",
            "type": "the most similar entry of any part type has the query's part type",
            "classifier": "the network's part-type head names the query's part type",
            "same_variant": "the top-1 entry (within the part type) comes from a head of the query's variant",
            "pixel_top1": "baseline without the network: top-1 by cosine similarity of the part images "
                          "themselves, softened by a 1-px Gaussian",
        },
    }


# -- training --------------------------------------------------------------------------------------
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


def train(settings: TrainSettings, out: str | Path, config: SuggestConfig = SuggestConfig(),
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
