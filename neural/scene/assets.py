"""Procedural low-poly assets of the scene mode, made here and reused by instancing: trees
(conifers, broadleaves, autumn and snowy tints, a dry desert tree), houses (walls and a pitched
roof in several sizes and colors, a flat-roofed adobe), rocks and bushes.

    asset(name) -> ScenePart        one variant's mesh, e.g. asset("tree/conifer")
    VARIANTS[kind]                  the variant names of each kind
    choose(kind, style, rng, n)     variant names for n objects of a kind in a style word

Every mesh is in metres, z up, its foot at the origin (what stands on the ground there), its front
along +x (a house's door), flat-shaded: each triangle has its own three vertices, colored per
vertex, with a slight shade per face so the facets read. Parts that must not float on a slope
reach below the foot (trunks and walls by half a metre, rocks by a third of their height). A
variant is the same to the last bit every time it is made (its shading is drawn from a generator
seeded with its name), so scenes that share a variant share its mesh exactly.
"""

from __future__ import annotations

import math
import zlib
from functools import lru_cache

import numpy as np

from sketchforge.modeling.scenes import ScenePart

__all__ = ["VARIANTS", "asset", "building_size", "choose"]

RGB = tuple[int, int, int]

VARIANTS: dict[str, tuple[str, ...]] = {
    "tree": ("conifer", "conifer_tall", "broadleaf", "broadleaf_round", "autumn_orange", "autumn_red",
             "autumn_yellow", "snowy_conifer", "snowy_conifer_tall", "dry"),
    "building": ("cottage", "house", "longhouse", "barn", "townhouse", "adobe", "cottage_snowy",
                 "house_snowy"),
    "rock": ("boulder", "slab", "crag"),
    "bush": ("green", "round", "autumn", "snowy"),
}
"""The variants of each kind of object."""

_HOUSES: dict[str, tuple[float, float, float, float, RGB, RGB]] = {
    # depth (x, front to back), width (y), wall height, roof rise, walls, roof
    "cottage": (6.0, 6.5, 2.8, 2.2, (232, 226, 210), (168, 58, 42)),
    "house": (8.0, 10.0, 3.0, 2.8, (214, 196, 160), (110, 70, 52)),
    "longhouse": (7.0, 13.0, 2.8, 2.6, (150, 146, 138), (70, 66, 70)),
    "barn": (9.0, 14.0, 4.2, 3.4, (150, 52, 40), (96, 98, 104)),
    "townhouse": (7.0, 8.0, 5.8, 2.6, (226, 200, 120), (132, 48, 40)),
    "adobe": (7.0, 8.0, 3.2, 0.0, (206, 170, 122), (190, 156, 110)),
    "cottage_snowy": (6.0, 6.5, 2.8, 2.4, (120, 90, 64), (242, 244, 248)),
    "house_snowy": (8.0, 10.0, 3.0, 3.0, (200, 190, 172), (240, 242, 246)),
}

_STYLE_MIX: dict[str, dict[str, dict[str, float]]] = {
    "tree": {
        "": {"conifer": 2, "conifer_tall": 1.5, "broadleaf": 2, "broadleaf_round": 1.5},
        "snowy": {"snowy_conifer": 3, "snowy_conifer_tall": 2, "conifer": 1},
        "autumn": {"autumn_orange": 2, "autumn_red": 1.5, "autumn_yellow": 1.5, "conifer": 1},
        "desert": {"dry": 3, "broadleaf_round": 0.5},
        "green hills": {"broadleaf": 3, "broadleaf_round": 2, "conifer": 1},
    },
    "building": {
        "": {"cottage": 2, "house": 3, "longhouse": 1, "barn": 0.7, "townhouse": 1},
        "snowy": {"cottage_snowy": 2, "house_snowy": 2, "longhouse": 0.5},
        "autumn": {"cottage": 2, "house": 3, "longhouse": 1, "barn": 1, "townhouse": 1},
        "desert": {"adobe": 4, "cottage": 0.5},
        "green hills": {"cottage": 3, "house": 2, "barn": 1},
    },
    "rock": {"": {"boulder": 2, "slab": 1, "crag": 1}},
    "bush": {
        "": {"green": 2, "round": 1}, "snowy": {"snowy": 2, "green": 1}, "autumn": {"autumn": 2, "round": 1},
        "desert": {"round": 1}, "green hills": {"green": 2, "round": 2},
    },
}


def choose(kind: str, style: str | None, rng: np.random.Generator, n: int) -> list[str]:
    """Full variant names ("tree/conifer") for `n` objects of `kind` in the style word `style`
    (one of `world.STYLES`, or None for the plain mix)."""
    mixes = _STYLE_MIX[kind]
    mix = mixes.get(style or "", mixes[""])
    names = list(mix)
    p = np.array([mix[k] for k in names], float)
    picks = rng.choice(len(names), size=n, p=p / p.sum()) if n else np.zeros(0, int)
    return [f"{kind}/{names[int(i)]}" for i in picks]


def building_size(name: str) -> tuple[float, float]:
    """(depth along x, width along y) of a building variant's walls in metres."""
    depth, width = _HOUSES[name.split("/", 1)[1]][:2]
    return depth, width


# -- building blocks -------------------------------------------------------------------------------
class _Kit:
    """Triangles with a color each, made into a flat-shaded mesh."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tris: list[np.ndarray] = []
        self.rgb: list[np.ndarray] = []
        self.rng = np.random.default_rng(zlib.crc32(name.encode()))

    def add(self, tris: np.ndarray, color: RGB, shade: float = 0.08) -> None:
        """Triangles (K, 3, 3) in one color, each face shaded by up to `shade` either way."""
        tris = np.asarray(tris, np.float64).reshape(-1, 3, 3)
        jitter = 1.0 + self.rng.uniform(-shade, shade, len(tris))
        self.tris.append(tris)
        self.rgb.append(np.clip(np.asarray(color, float)[None, :] * jitter[:, None], 0, 255))

    def part(self) -> ScenePart:
        tris = np.concatenate(self.tris)
        rgb = np.repeat(np.concatenate(self.rgb), 3, axis=0)
        colors = np.concatenate([np.round(rgb), np.full((len(rgb), 1), 255.0)], 1).astype(np.uint8)
        n = len(tris)
        return ScenePart(self.name, tris.reshape(-1, 3), np.arange(3 * n).reshape(n, 3), colors)


def _ring(sides: int, radius: float, z: float, phase: float = 0.0) -> np.ndarray:
    a = phase + np.arange(sides) * 2 * math.pi / sides
    return np.stack([radius * np.cos(a), radius * np.sin(a), np.full(sides, z)], 1)


def _frustum(sides: int, r0: float, z0: float, r1: float, z1: float, cap: bool = True,
             phase: float = 0.0) -> list[np.ndarray]:
    """Side triangles of a frustum (a cone when r1 is 0) and its bottom cap, outward and anticlockwise."""
    lo, hi = _ring(sides, r0, z0, phase), _ring(sides, r1, z1, phase)
    nxt = np.roll(np.arange(sides), -1)
    out = [np.stack([lo, lo[nxt], hi], 1)]
    if r1 > 0:
        out.append(np.stack([lo[nxt], hi[nxt], hi], 1))
    if cap:
        centre = np.broadcast_to(np.array([0.0, 0.0, z0]), lo.shape)
        out.append(np.stack([centre, lo[nxt], lo], 1))
    return out


def _box(x0: float, x1: float, y0: float, y1: float, z0: float, z1: float, bottom: bool = False) -> np.ndarray:
    """The faces of an axis-aligned box as triangles (outward, anticlockwise)."""
    p = np.array([[x, y, z] for z in (z0, z1) for y in (y0, y1) for x in (x0, x1)])  # index = 4z + 2y + x
    quads = [(1, 3, 7, 5), (0, 4, 6, 2), (2, 6, 7, 3), (0, 1, 5, 4), (4, 5, 7, 6)]
    if bottom:
        quads.append((0, 2, 3, 1))
    tris = []
    for a, b, c, d in quads:
        tris += [[p[a], p[b], p[c]], [p[a], p[c], p[d]]]
    return np.array(tris)


def _blob(kit: _Kit, radius: tuple[float, float, float], centre: tuple[float, float, float], rough: float,
          subdivisions: int = 1) -> np.ndarray:
    """A low-poly lump: an icosphere scaled to `radius` (x, y, z), its vertices pushed in and out
    by up to `rough` of the radius; triangles (K, 3, 3)."""
    import trimesh
    ball = trimesh.creation.icosphere(subdivisions=subdivisions)
    v = np.asarray(ball.vertices, float) * (1.0 + kit.rng.uniform(-rough, rough, (len(ball.vertices), 1)))
    v = v * np.asarray(radius) + np.asarray(centre)
    return v[np.asarray(ball.faces)]


# -- the kinds -------------------------------------------------------------------------------------
def _tree(name: str) -> ScenePart:
    kit = _Kit(f"tree/{name}")
    bark = (96, 70, 48)
    if "conifer" in name:
        tall = name.endswith("tall")
        height = 11.0 if tall else 8.0
        green = (40, 92, 52) if not tall else (34, 82, 58)
        kit.add(np.concatenate(_frustum(6, 0.28, -0.5, 0.2, 1.6, cap=False)), bark)
        tiers = 4 if tall else 3
        for k in range(tiers):
            z0 = 1.2 + k * (height - 2.2) / (tiers + 0.6)
            r = (2.6 if tall else 2.8) * (1.0 - 0.22 * k)
            top = z0 + (height - 1.2) / tiers * 1.5
            kit.add(np.concatenate(_frustum(8, r, z0, 0.0, min(top, height), phase=0.4 * k)), green)
            if name.startswith("snowy"):
                kit.add(np.concatenate(_frustum(8, 0.55 * r, z0 + 0.45 * (min(top, height) - z0), 0.0,
                                                min(top, height) + 0.05, cap=False, phase=0.4 * k)),
                        (236, 240, 246), 0.03)
    elif name == "dry":
        kit.add(np.concatenate(_frustum(5, 0.3, -0.5, 0.16, 2.8, cap=False)), (120, 96, 70))
        kit.add(_blob(kit, (2.4, 2.4, 0.9), (0.0, 0.0, 3.3), 0.15), (120, 128, 70))
    else:
        crowns = {"broadleaf": (62, 120, 48), "broadleaf_round": (84, 138, 56), "autumn_orange": (214, 118, 36),
                  "autumn_red": (176, 52, 38), "autumn_yellow": (222, 178, 54)}
        round_ = name == "broadleaf_round"
        kit.add(np.concatenate(_frustum(6, 0.3, -0.5, 0.2, 3.2, cap=False)), bark)
        radius = (2.9, 2.9, 2.6) if round_ else (2.5, 2.5, 3.0)
        kit.add(_blob(kit, radius, (0.0, 0.0, 5.0 if round_ else 5.4), 0.12), crowns[name])
        if not round_:
            kit.add(_blob(kit, (1.7, 1.7, 1.6), (0.9, -0.6, 4.0), 0.12), crowns[name])
    return kit.part()


def _house(name: str) -> ScenePart:
    depth, width, wall, rise, walls, roof = _HOUSES[name]
    kit = _Kit(f"building/{name}")
    dx, dy = 0.5 * depth, 0.5 * width
    kit.add(_box(-dx, dx, -dy, dy, -0.6, wall), walls, 0.04)
    # a door and windows on the front (+x), a little proud of the wall
    kit.add(_box(dx, dx + 0.08, -0.55, 0.55, 0.0, 2.1), (82, 56, 40), 0.0)
    for y in (-0.3 * width, 0.3 * width):
        kit.add(_box(dx, dx + 0.06, y - 0.5, y + 0.5, 1.1, 2.0), (70, 92, 118), 0.0)
    over = 0.4
    if rise <= 0:  # a flat roof with a low parapet
        kit.add(_box(-dx - 0.1, dx + 0.1, -dy - 0.1, dy + 0.1, wall, wall + 0.35), roof, 0.03)
        return kit.part()
    # gables at the ends (y = +-dy): the ridge runs along y, the roof falls to the front and back
    top = wall + rise
    for y, flip in ((dy, True), (-dy, False)):
        tri = np.array([[dx, y, wall], [0.0, y, top], [-dx, y, wall]])
        kit.add(tri[::-1] if flip else tri, walls, 0.04)
    x0, x1, y0, y1 = -dx - over, dx + over, -dy - over, dy + over
    z_eave = wall - over * rise / dx
    front = np.array([[x1, y0, z_eave], [0.0, y0, top], [0.0, y1, top], [x1, y1, z_eave]])
    back = np.array([[x0, y1, z_eave], [0.0, y1, top], [0.0, y0, top], [x0, y0, z_eave]])
    for q in (front, back):
        kit.add(np.array([[q[0], q[2], q[1]], [q[0], q[3], q[2]]]), roof, 0.03)
        under = np.array([[q[0], q[1], q[2]], [q[0], q[2], q[3]]]) - np.array([0.0, 0.0, 0.12])
        kit.add(under, tuple(int(0.6 * c) for c in roof), 0.0)  # type: ignore[arg-type]
    # the chimney
    kit.add(_box(-0.25 * depth - 0.35, -0.25 * depth + 0.35, 0.2 * width - 0.35, 0.2 * width + 0.35,
                 wall + 0.5 * rise, top + 0.7), (120, 104, 96), 0.04)
    return kit.part()


def _rock(name: str) -> ScenePart:
    kit = _Kit(f"rock/{name}")
    size = {"boulder": (1.3, 1.1, 1.0), "slab": (1.9, 1.4, 0.55), "crag": (0.9, 0.8, 1.8)}[name]
    kit.add(_blob(kit, size, (0.0, 0.0, 0.65 * size[2]), 0.22, 0), (128, 124, 118), 0.12)
    return kit.part()


def _bush(name: str) -> ScenePart:
    kit = _Kit(f"bush/{name}")
    color = {"green": (58, 112, 46), "round": (76, 124, 52), "autumn": (188, 104, 44), "snowy": (70, 98, 64)}[name]
    kit.add(_blob(kit, (1.0, 1.0, 0.8), (0.0, 0.0, 0.55), 0.15), color)
    kit.add(_blob(kit, (0.7, 0.7, 0.6), (0.6, 0.4, 0.4), 0.15), color)
    if name == "snowy":
        kit.add(_blob(kit, (0.8, 0.8, 0.3), (0.0, 0.0, 1.15), 0.1, 0), (238, 242, 246), 0.03)
    return kit.part()


_MAKERS = {"tree": _tree, "building": _house, "rock": _rock, "bush": _bush}


@lru_cache(maxsize=None)
def asset(name: str) -> ScenePart:
    """The mesh of variant `name` ("kind/variant", see `VARIANTS`)."""
    kind, _, variant = name.partition("/")
    if kind not in VARIANTS or variant not in VARIANTS[kind]:
        known = ", ".join(f"{k}/{v}" for k in VARIANTS for v in VARIANTS[k])
        raise ValueError(f"there is no asset {name!r}; the assets are {known}")
    return _MAKERS[kind](variant)
