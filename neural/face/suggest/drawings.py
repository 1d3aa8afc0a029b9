"""The heads a stroke-suggestion network learns from and a library lists, and their part images.

Heads: item i of seed S is `sample_head(default_rng([S, i, 1]), VARIANTS[i % 4])` (`seeded_head`).
A part's image (`part_images`) is its strokes drawn into a 64 x 64 image that its box fills
(`parts.part_image`; left parts mirrored).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..heads import VARIANTS, HeadParams, sample_head
from ..parts import IMAGE_SIZE, PartStrokes, part_strokes, render_part_frame
from ..sketches import head_curves, head_sketch

__all__ = ["seeded_head", "head_parts", "part_images"]


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
