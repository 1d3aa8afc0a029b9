"""Smooth random fields for terrain and area masks: value noise, fractal sums of it (fBm) and its
ridged variant, on a grid of cells.

Value noise, not gradient noise: random values on a coarse lattice, interpolated by a cubic
B-spline one axis at a time (C2 continuous, so slopes have no creases at lattice lines, and
smoother than a faded linear blend, which leaves square blobs on the lattice). Only
element-wise numpy is used (no matrix products), so a field is the same to the last bit whatever
the number of threads the numeric libraries run with.
"""

from __future__ import annotations

import numpy as np

__all__ = ["value_noise", "fbm", "ridged"]


def _along(lattice: np.ndarray, n: int, period: float, phase: float) -> np.ndarray:
    """B-spline interpolation of `lattice` (L, M) along its first axis onto n cells, `period`
    cells per lattice step."""
    t = np.arange(n) / period + phase
    i = np.floor(t).astype(np.int64)
    f = t - i
    f2, f3 = f * f, f * f * f
    w = ((1 - f) ** 3 / 6.0, (3 * f3 - 6 * f2 + 4) / 6.0, (-3 * f3 + 3 * f2 + 3 * f + 1) / 6.0, f3 / 6.0)
    return sum(lattice[i + j] * w[j][:, None] for j in range(4))


def value_noise(rng: np.random.Generator, rows: int, cols: int, period: float) -> np.ndarray:
    """Smooth noise on a (rows, cols) grid, stretched to [0, 1]; features about `period` cells apart."""
    period = max(float(period), 1.0)
    lattice = rng.random((int(rows / period) + 5, int(cols / period) + 5))
    py, px = rng.random(2)
    a = _along(lattice, rows, period, py)
    out = _along(a.T, cols, period, px).T
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-12)


def fbm(rng: np.random.Generator, rows: int, cols: int, period: float, octaves: int = 5,
        gain: float = 0.5) -> np.ndarray:
    """Fractal sum of value noise in [0, 1]: octave k has period / 2**k and amplitude gain**k."""
    total = np.zeros((rows, cols))
    norm = 0.0
    amp = 1.0
    for _ in range(octaves):
        if period < 1.5:
            break
        total += amp * value_noise(rng, rows, cols, period)
        norm += amp
        amp *= gain
        period /= 2.0
    return total / max(norm, 1e-12)


def ridged(rng: np.random.Generator, rows: int, cols: int, period: float, octaves: int = 5,
           sharpness: float = 0.12) -> np.ndarray:
    """Ridged fractal noise in [0, 1]: crests where the noise crosses its middle, each octave
    weighted by the one before it, so detail gathers on the crests (Musgrave's ridged multifractal).
    The fold is a soft absolute value (`sharpness` wide), so a crest is rounded, not a crease."""
    total = np.zeros((rows, cols))
    weight = np.ones((rows, cols))
    norm = 0.0
    amp = 1.0
    for _ in range(octaves):
        if period < 1.5:
            break
        n = 2.0 * value_noise(rng, rows, cols, period) - 1.0
        r = 1.0 + sharpness - np.sqrt(n * n + sharpness * sharpness)
        r = r * r * weight
        total += amp * r
        norm += amp
        weight = np.clip(2.0 * r, 0.0, 1.0)
        amp *= 0.5
        period /= 2.0
    return total / max(norm, 1e-12)
