"""Part-assembled objects of eleven categories, each a pure function of a numpy generator.

    make_object(rng) -> PointsObject           a category drawn with `CATEGORY_WEIGHTS`
    make_object(rng, "lamp") -> PointsObject   one category

Furniture lives in `furniture.py`; the small objects (mug, lamp, vase, bottle) are here. Every
object stands on z = 0, centred in XY, at real-world size in millimetres with its front towards
-Y (a mug's handle points +X); its parts carry names from `PART_NAMES`, a part's label being the
index into that tuple.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from . import furniture
from .furniture import _pick, _u
from .shapes import (
    PART_LABELS,
    PART_NAMES,
    Part,
    PointsObject,
    arc,
    circle,
    lathe,
    rod,
    rounded_rect,
    slab,
    spline,
    sweep,
)

__all__ = ["CATEGORIES", "CATEGORY_WEIGHTS", "PART_LABELS", "PART_NAMES", "Part", "PointsObject", "make_object"]


def mug(rng: np.random.Generator) -> PointsObject:
    h, r = _u(rng, 80, 120), _u(rng, 36, 50)
    wall, floor = _u(rng, 3, 5), _u(rng, 5, 9)
    shape = _pick(rng, ("straight", "tapered", "barrel", "flared"))
    f = np.linspace(0.0, 1.0, 9)
    radius = {"straight": np.full_like(f, r), "tapered": r * (0.8 + 0.2 * f),
              "barrel": r * (0.9 + 0.1 * np.sin(math.pi * f)), "flared": r * (1.08 - 0.16 * f)}[shape]
    outer = np.column_stack([radius, f * h])
    outer[0, 0] *= 0.96
    inner = np.column_stack([radius[::-1] - wall, np.maximum(f[::-1] * h, floor)])
    inner = inner[np.r_[True, np.diff(inner[:, 1]) < 0]]
    parts = [Part("body", lathe(np.vstack([outer, inner]), 40))]
    z1, z0 = _u(rng, 0.72, 0.85) * h, _u(rng, 0.15, 0.3) * h
    ra = np.interp(z1, f * h, radius) - 2
    rb = np.interp(z0, f * h, radius) - 2
    out = _u(rng, 22, 38)
    handle = _pick(rng, ("round", "square"))
    if handle == "round":
        ctrl = [[ra, 0, z1], [r + 0.7 * out, 0, z1 + 4], [r + out, 0, 0.5 * (z0 + z1)], [r + 0.7 * out, 0, z0 - 2],
                [rb, 0, z0]]
        path, section = spline(ctrl, 28), circle(1.0, 12) * np.array([_u(rng, 5, 8), _u(rng, 3.5, 6)])
    else:
        c = _u(rng, 6, 12)
        x = r + out - c
        path = np.vstack([[ra, 0, z1], arc((x, 0, z1 - c), c, math.pi / 2, 0, 6),
                          arc((x, 0, z0 + c), c, 0, -math.pi / 2, 6), [rb, 0, z0]])
        section = rounded_rect(_u(rng, 10, 16), _u(rng, 6, 9), 1.5, 3)
    parts.append(Part("handle", sweep(path, section)))
    style = {"shape": shape, "handle": handle}
    return PointsObject("mug", tuple(parts), style, ("mug", "coffee mug", "cup"), ("tall",) if h > 105 else ("small",))


def lamp(rng: np.random.Generator) -> PointsObject:
    floor = rng.random() < 0.35
    h = _u(rng, 1400, 1800) if floor else _u(rng, 350, 700)
    big = 1.7 if floor else 1.0
    base_r, base_kind = _u(rng, 70, 120) * big, _pick(rng, ("round", "square", "dome"))
    if base_kind == "dome":
        bh = _u(rng, 40, 80)
        base = lathe(spline([[base_r, 0], [0.9 * base_r, 0.4 * bh], [0.45 * base_r, 0.9 * bh], [12, bh]], 10), 40)
    elif base_kind == "square":
        bh = _u(rng, 15, 40)
        base = slab(rounded_rect(2 * base_r, 2 * base_r, _u(rng, 0, 20)), 0, bh)
    else:
        bh = _u(rng, 15, 40)
        base = lathe([[base_r, 0], [base_r, 0.6 * bh], [0.8 * base_r, bh]], 40)
    parts = [Part("base", base)]
    shade_kind = _pick(rng, ("cone", "cylinder", "dome"))
    sh = _u(rng, 120, 250) * (1.3 if floor else 1.0)
    rb = _u(rng, 150, 240) if floor else _u(rng, 90, 190)
    arched = floor and rng.random() < 0.4
    sr = _u(rng, 5, 12) * (1.4 if floor else 1.0)
    if arched:
        reach = _u(rng, 350, 650)
        rise = h - reach / 2
        up = np.column_stack([np.zeros(6), np.zeros(6), np.linspace(bh - 2, rise, 6)])
        path = np.vstack([up, arc((reach / 2, 0, rise), reach / 2, math.pi, _u(rng, 0.05, 0.2) * math.pi, 18)[1:]])
        axis_top = path[-1]
        parts.append(Part("stem", sweep(path, circle(sr, 12))))
        shade_x, shade_top = float(axis_top[0]), float(axis_top[2]) + 5.0
        shade_kind = "dome"
    else:
        shade_x, shade_top = 0.0, h
        parts.append(Part("stem", rod((0, 0, bh - 2), (0, 0, h - 0.4 * sh), sr, sr, 14)))
    z0 = shade_top - sh
    if shade_kind == "cone":
        prof = np.array([[rb, z0], [rb * _u(rng, 0.45, 0.75), shade_top]])
    elif shade_kind == "cylinder":
        prof = np.array([[rb * 0.85, z0], [rb * 0.85, shade_top]])
    else:
        t = np.linspace(0, math.pi / 2 * 0.92, 10)
        prof = np.column_stack([rb * np.cos(t), z0 + sh * np.sin(t) / np.sin(t[-1])])
    parts.append(Part("shade", lathe(prof, 40, cap_start=False, cap_end=False, center=(shade_x, 0, 0))))
    style = {"kind": "floor" if floor else "table", "base": base_kind, "stem": "arched" if arched else "straight",
             "shade": shade_kind}
    nouns = ("floor lamp", "standing lamp", "lamp") if floor else ("table lamp", "desk lamp", "lamp")
    if arched:
        nouns = ("arc lamp", "floor lamp", "lamp")
    return PointsObject("lamp", tuple(parts), style, nouns, ("tall",) if floor else ("small",))


_VASES = {  # (radius, height) control points as fractions; the index where a neck begins, or 0
    "amphora": ([[0.55, 0], [0.9, 0.25], [1.0, 0.45], [0.55, 0.75], [0.4, 0.87], [0.55, 1.0]], 3),
    "cylinder": ([[0.8, 0], [0.85, 0.5], [0.8, 1.0]], 0),
    "trumpet": ([[0.45, 0], [0.35, 0.12], [0.42, 0.55], [0.85, 1.0]], 0),
    "bulb": ([[0.5, 0], [1.0, 0.35], [0.7, 0.68], [0.28, 0.8], [0.26, 0.95], [0.36, 1.0]], 3),
    "urn": ([[0.6, 0], [1.0, 0.4], [0.92, 0.78], [0.7, 0.9], [0.78, 1.0]], 0),
}


def _revolved_vessel(outer: np.ndarray, split: int, wall: float, depth: float) -> list[tuple[str, np.ndarray, bool]]:
    """Profiles of a vessel with an opening: the outer wall, then the inner wall down to `depth`
    below the lip; split at `split` into body and neck (0: no neck)."""
    top = outer[-1, 1]
    inside = outer[outer[:, 1] >= top - depth][::-1].copy()
    inside[:, 0] = np.maximum(inside[:, 0] - wall, 0.3 * inside[:, 0])
    if split <= 0:
        return [("body", np.vstack([outer, inside]), True)]
    return [("body", outer[:split + 1], False), ("neck", np.vstack([outer[split:], inside]), True)]


def vase(rng: np.random.Generator) -> PointsObject:
    family = _pick(rng, tuple(_VASES))
    ctrl, neck = _VASES[family]
    h, r = _u(rng, 180, 450), _u(rng, 50, 110)
    c = np.asarray(ctrl, float)
    c[1:-1] += rng.uniform(-0.04, 0.04, c[1:-1].shape)
    outer = spline(c * (r, h), 30)
    split = int(np.argmin(np.abs(outer[:, 1] - c[neck, 1] * h))) if neck else 0
    parts = []
    for name, prof, capped in _revolved_vessel(outer, split, _u(rng, 4, 8), min(0.25 * h, 70)):
        parts.append(Part(name, lathe(prof, 40, cap_start=name == "body", cap_end=capped)))
    return PointsObject("vase", tuple(parts), {"shape": family}, ("vase", "flower vase"),
                        ("tall",) if h > 320 else ("small",))


def bottle(rng: np.random.Generator) -> PointsObject:
    h, r, nr = _u(rng, 180, 330), _u(rng, 28, 45), _u(rng, 9, 15)
    zs = _u(rng, 0.45, 0.68) * h
    zn = zs + _u(rng, 0.1, 0.22) * h
    capped = rng.random() < 0.8
    cap_h = _u(rng, 12, 28) if capped else 0.0
    lip = h - 0.6 * cap_h
    parts = [Part("body", lathe([[0.94 * r, 0], [r, 4], [r, zs]], 40, cap_end=False))]
    neck = spline([[r, zs], [0.8 * r, zs + 0.45 * (zn - zs)], [nr, zn], [nr, lip - 3]], 16)
    neck = np.vstack([neck, [[nr + 1.5, lip - 3], [nr + 1.5, lip]]])
    parts.append(Part("neck", lathe(neck, 32, cap_start=False)))
    if capped:
        parts.append(Part("cap", rod((0, 0, lip - 0.6 * cap_h), (0, 0, h), nr + 2.5, nr + 2.5, 24)))
    if rng.random() < 0.6:
        z0 = _u(rng, 0.12, 0.3) * zs
        z1 = z0 + _u(rng, 0.35, 0.6) * (zs - z0)
        parts.append(Part("label", lathe([[r + 0.8, z0], [r + 0.8, z1]], 40, cap_start=False, cap_end=False)))
    style = {"label": "yes" if any(p.name == "label" for p in parts) else "no", "cap": "yes" if capped else "no"}
    return PointsObject("bottle", tuple(parts), style, ("bottle", "wine bottle") if zn > 0.7 * h else ("bottle",),
                        ("tall",) if h > 280 else ("small",))


CATEGORIES: dict[str, Callable[[np.random.Generator], PointsObject]] = {
    "chair": furniture.chair,
    "armchair": lambda rng: furniture.upholstered(rng, 1),
    "sofa": lambda rng: furniture.upholstered(rng, int(rng.integers(2, 4))),
    "table": furniture.table,
    "stool": furniture.stool,
    "mug": mug,
    "lamp": lamp,
    "vase": vase,
    "bottle": bottle,
    "bench": furniture.bench,
    "bookshelf": furniture.bookshelf,
}
"""The builders by category name (their order is the category index)."""

CATEGORY_WEIGHTS: dict[str, float] = {
    "chair": 0.14, "armchair": 0.08, "sofa": 0.09, "table": 0.13, "stool": 0.09, "mug": 0.09, "lamp": 0.1,
    "vase": 0.08, "bottle": 0.07, "bench": 0.07, "bookshelf": 0.06,
}


def make_object(rng: np.random.Generator, category: str | None = None) -> PointsObject:
    """An object of `category` (drawn with `CATEGORY_WEIGHTS` when None), standing on z = 0 and
    centred in XY."""
    if category is None:
        names = list(CATEGORY_WEIGHTS)
        w = np.array([CATEGORY_WEIGHTS[n] for n in names])
        category = names[int(rng.choice(len(names), p=w / w.sum()))]
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; choose one of {', '.join(CATEGORIES)}")
    obj = CATEGORIES[category](rng)
    lo, hi = obj.bounds()
    return obj.moved((-0.5 * (lo[0] + hi[0]), -0.5 * (lo[1] + hi[1]), -lo[2]))
