"""The part library of stroke suggestion: for every part type (`parts.PARTS`), the clean part
strokes of procedural heads, their embeddings and their polylines in the normalised part frame.

`SuggestionLibrary.query` ranks entries by cosine similarity (within a part type or across all),
and `SuggestionLibrary.place` puts an entry's polylines into the person's box as ghost strokes
(mirrored for a left part).

Library entries: one per head and part type, the right-hand (or centre) instance: the heads are
exactly symmetric, so a left instance mirrored is the same shape, and a left query is mirrored
before it is embedded. The generator's traced curves of the two sides differ by a pixel here and
there, so an entry's embedding is the unit mean of its right instance's and its mirrored left
instance's. Parts the generator draws nothing for (a brow on a smooth forehead) get no entry.

File (`SuggestionLibrary.save` / `load_library`; a weight file of the house, `neural.weights`, of
kind `LIBRARY_KIND`): arrays `embeddings`
(N, D) float32, `part` (N,) uint8 (index into PARTS), `head` (N,) int64, `variant` (N,) uint8,
`images` (N, S, S) uint8 (the entries' part images, for re-embedding and previews),
`mirror_images` (N, S, S) uint8 and `has_mirror` (N,) uint8 (the left instance, mirrored, where
the entry has one), `points` (P, 2) float32 (every polyline's points, part frame), `line_start`
(L + 1,) int64 (polyline l is points[line_start[l]:line_start[l + 1]]), `entry_start` (N + 1,)
int64 (entry i owns polylines entry_start[i]..entry_start[i + 1]); as the config, the library's
`meta` (seed, heads, size, the weights' fingerprint, parts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ...synth.reading import DataError
from ...weights import load_weights, save_weights
from ..heads import VARIANTS
from ..parts import PARTS, from_part_frame, render_part_frame, to_part_frame
from .drawings import head_parts, part_images, seeded_head
from .network import VERSION, SuggestNet, embed_images, fingerprint

__all__ = ["LIBRARY_KIND", "SuggestionLibrary", "build_library", "load_library"]

LIBRARY_KIND = "face-parts-library"  # the library files' kind (`neural.weights`)


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
        """Write the library as a weight file (arrays, `meta` as the config), atomically. Without
        `images` the part images are left out (a library to ship: a tenth of the size; it cannot
        be re-embedded for other weights)."""
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
        save_weights(path, arrays, kind=LIBRARY_KIND, version=VERSION, config=self.meta)


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
    """A library written by `SuggestionLibrary.save`; WeightsError saying what to do when the file
    is missing, damaged or not a library."""
    w = load_weights(path, LIBRARY_KIND, newest=VERSION)
    a = w.arrays()
    with w.unpacking():
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
    pts = a["points"].astype(np.float64)
    lines = [[pts[ls[j]:ls[j + 1]] for j in range(es[i], es[i + 1])] for i in range(n)]
    return SuggestionLibrary(embeddings=a["embeddings"].astype(np.float32), part=a["part"].astype(np.uint8),
                             head=a["head"].astype(np.int64), variant=a["variant"].astype(np.uint8),
                             images=a["images"].astype(np.uint8), lines=lines,
                             mirror_images=a["mirror_images"].astype(np.uint8), has_mirror=a["has_mirror"].astype(bool),
                             meta=w.config)


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
