"""The bare ground: a fractal heightmap with ridges and valleys, and mountain ridges raised along
splines (the sketch's `mountain` strokes are drawn from those splines, so a ridge line in a sketch
always stands on high ground).

Heights are metres above the lowest point of the bare ground. Relief is drawn per world: flat
country (8-20 m), hills (20-50 m) or mountains (50-110 m); a tilt across the whole world gives
rivers somewhere to run.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .lines import Grid, arclength, catmull_rom, trim
from .noise import fbm, ridged

__all__ = ["RELIEFS", "bare_ground", "raise_ridges"]

RELIEFS = {"flat": (8.0, 20.0), "hills": (20.0, 50.0), "mountains": (50.0, 110.0)}
"""Relief classes and their range of heights (m) before ridges are raised."""


def bare_ground(grid: Grid, rng: np.random.Generator, relief_m: float) -> np.ndarray:
    """fBm blended with ridged noise, plus a tilt, scaled to about `relief_m` (float64, min 0)."""
    size = max(grid.rows, grid.cols)
    smooth = fbm(rng, grid.rows, grid.cols, 0.55 * size, octaves=6)
    sharp = ridged(rng, grid.rows, grid.cols, 0.45 * size, octaves=5)
    mix = float(rng.uniform(0.2, 0.6))
    h = (1.0 - mix) * smooth + mix * sharp
    h = (h - h.min()) / max(float(np.ptp(h)), 1e-9)
    x, y = grid.centres()
    theta = float(rng.uniform(0.0, 2.0 * math.pi))
    tilt = float(rng.uniform(0.15, 0.5))
    plane = (math.cos(theta) * x[None, :] + math.sin(theta) * y[:, None]) / (grid.cell_m * size)
    h = relief_m * (h + tilt * plane)
    return h - h.min()


def raise_ridges(grid: Grid, h: np.ndarray, rng: np.random.Generator, count: int,
                 relief_m: float) -> list[np.ndarray]:
    """Raise `count` mountain ridges on `h` (in place) and return their crest lines (K, 2) m: each
    a gently curving spline over high ground, raised by a bump that is highest in its middle and
    falls off across it (`_line_bump`); the crest kept is where the bump stands at least 40% of
    its height. Where two ridges meet, the higher bump wins."""
    step = 0.5 * grid.cell_m
    size_m = max(grid.width_m, grid.height_m)
    gy, gx = np.gradient(h)
    bumps = np.zeros_like(h)
    crests: list[np.ndarray] = []
    x, y = grid.centres()
    high = h >= np.quantile(h, 0.6)
    margin = int(0.15 * min(grid.rows, grid.cols))
    high[:margin] = high[-margin:] = False
    high[:, :margin] = high[:, -margin:] = False
    rows, cols = np.nonzero(high)
    for _ in range(count):
        if len(rows) == 0:
            break
        j = int(rng.integers(len(rows)))
        centre = np.array([x[cols[j]], y[rows[j]]])
        # along the high ground: across the slope (the gradient is in row/col order, y flipped)
        g = np.array([gx[rows[j], cols[j]], -gy[rows[j], cols[j]]])
        heading = math.atan2(g[1], g[0]) + math.pi / 2 if np.linalg.norm(g) > 1e-9 else rng.uniform(0, math.pi)
        heading += float(rng.normal(0.0, 0.5))
        length = float(rng.uniform(0.4, 0.85)) * size_m
        u = np.array([math.cos(heading), math.sin(heading)])
        v = np.array([-u[1], u[0]])
        t = np.linspace(-0.5, 0.5, 6)
        lateral = rng.normal(0.0, 0.06, len(t)) * length
        ctrl = centre + t[:, None] * length * u + lateral[:, None] * v
        line = catmull_rom(ctrl, step)
        width = float(rng.uniform(0.08, 0.16)) * size_m + 15.0
        amp = float(rng.uniform(0.5, 1.1)) * relief_m + 15.0
        frac = np.linspace(0.0, 1.0, len(line))
        taper = np.sin(math.pi * frac) ** 0.7
        wander = 0.85 + 0.3 * np.interp(frac, np.linspace(0, 1, 7), rng.random(7))
        along_amp = amp * taper * wander
        np.maximum(bumps, _line_bump(grid, line, along_amp, width), out=bumps)
        tall = np.nonzero(along_amp >= 0.4 * amp)[0]
        crest = trim(grid, line[tall[0]:tall[-1] + 1], 0.0) if len(tall) else line[:0]
        if len(crest) >= 2:
            crests.append(crest)
    if crests:
        rough = fbm(rng, grid.rows, grid.cols, 0.12 * max(grid.rows, grid.cols), octaves=3)
        h += bumps * (0.8 + 0.4 * rough)
    return crests


def _line_bump(grid: Grid, line: np.ndarray, amp: np.ndarray, width: float) -> np.ndarray:
    """A ridge along `line` (K, 2) m standing `amp` (K,) m high: the line's samples splatted onto
    the grid, weighted by height and spacing, and blurred by a broad and a narrow Gaussian (a
    rounded crest on broad flanks). A sum of kernels is smooth everywhere; a profile taken from
    each cell's nearest point on the line would crease where two points are nearest at once."""
    pad = int(math.ceil(3.0 * width / grid.cell_m))
    impulses = np.zeros((grid.rows + 2 * pad, grid.cols + 2 * pad), np.float32)
    ds = np.gradient(arclength(line)) / grid.cell_m
    r, c = grid.rc(line)
    r, c = r + pad, c + pad
    ok = (r >= 0) & (r < impulses.shape[0] - 1) & (c >= 0) & (c < impulses.shape[1] - 1)
    r, c, w = r[ok], c[ok], (amp * ds)[ok]
    r0, c0 = np.floor(r).astype(np.int64), np.floor(c).astype(np.int64)
    fr, fc = r - r0, c - c0
    for dr, dc, wt in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc), (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        np.add.at(impulses, (r0 + dr, c0 + dc), (w * wt).astype(np.float32))
    out = np.zeros_like(impulses)
    for sigma, share in ((0.5 * width, 0.65), (0.18 * width, 0.35)):
        s = sigma / grid.cell_m
        blur = cv2.GaussianBlur(impulses, (0, 0), s, borderType=cv2.BORDER_CONSTANT)
        out += share * math.sqrt(2 * math.pi) * s * blur
    return out[pad:pad + grid.rows, pad:pad + grid.cols].astype(float)
