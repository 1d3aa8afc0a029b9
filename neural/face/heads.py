"""Procedural character heads with exact geometry: the training data of the sketch-to-head back end.

No face model can be downloaded, so heads are generated: `sample_head` draws a `HeadParams`
(every shape parameter of one head), `head_sdf` evaluates its signed distance field,
`mesh_head` turns that into a closed triangle mesh and `front_maps` renders the front view a
person sketches over (depth, normals, mask) straight from the field.

Frame
    The head frame: x to the head's left/right, y up, z towards the viewer (the face looks along
    +z). Units: the head (crown to chin) is about 2 tall and centred near the origin; a neck stump
    hangs below it, cut flat at y = `NECK_BOTTOM` so that the surface is closed. Every head the
    sampler makes lies inside the box `BOX_MIN` .. `BOX_MAX`, over which `mesh_head` samples.

Field
    Negative inside, positive outside, close to a Euclidean distance near the surface (a bound
    within a small factor away from it). It is built from simple primitives combined by the
    polynomial smooth minimum / maximum (Inigo Quilez, "smooth minimum"):

    * cranium, jaw, chin, cheeks, brow ridge, lips and human ears: ellipsoids, by the "bound"
      approximation k0 * (k0 - 1) / k1 (k0 = |p / r|, k1 = |p / r^2|);
    * the nose: a round cone from the bridge to the tip with two nostril wings; animals have a
      snout (an ellipsoid pushed forwards) with a nose pad instead;
    * eye sockets: ellipsoids subtracted from the face, each with an eyeball (a sphere) in it;
    * pointed (animal) ears: a round cone flattened by a slab;
    * horns: three round cones along a bent axis, tapering to a point;
    * the neck stump: a vertical capped cylinder;
    * wrinkles: thin tubes that follow the cranium's surface (a few lines across the forehead,
      two crow's feet beside each eye), subtracted; their depth is `HeadParams.wrinkles`, zero
      for about a third of the heads.

    Every feature is evaluated at (|x|, y, z): the field is exactly (bit for bit) symmetric about
    x = 0 and each mirrored pair costs one evaluation.

Mesh and front view
    `mesh_head`: marching cubes (scikit-image) over the box, the field evaluated coarse to fine
    (only cells the surface may cross are refined; the result equals the full grid's), outward
    winding, the largest connected part kept. `front_maps`: orthographic along -z, sphere tracing
    the field; pixel columns span x = -EXTENT .. +EXTENT left to right and rows y = +EXTENT ..
    -EXTENT top to bottom (pixel centres, EXTENT = 2); depth is measured from the plane
    z = CAMERA_Z.

Variants (`VARIANTS`)
    "human"; "cartoon" (big eye sockets, big cranium, small jaw, thin neck); "animal" (a snout
    instead of a flat nose, pointed ears); "horned" (a human or cartoon head, drawn at random,
    with two horns). `sample_head` draws the shared shape first, in the same order for every
    variant, and the variant-specific parts after it, from the same number of draws: one
    generator state gives the same base head whatever the variant asked for.

Determinism
    `sample_head` depends only on the generator's state; everything else is a pure function of
    the parameters (and the resolution / size asked for): the same parameters give bit-identical
    fields, meshes and maps. `HeadParams.to_json` / `from_json` round-trip exactly.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = [
    "VARIANTS",
    "BOX_MIN",
    "BOX_MAX",
    "NECK_BOTTOM",
    "EXTENT",
    "CAMERA_Z",
    "HeadParams",
    "sample_head",
    "head_sdf",
    "mesh_head",
    "front_maps",
]

VARIANTS: tuple[str, ...] = ("human", "cartoon", "animal", "horned")
STYLES: tuple[str, ...] = ("human", "cartoon", "animal")

# The meshing box: holds every head `sample_head` makes, with a margin of several voxels.
BOX_MIN: tuple[float, float, float] = (-1.35, -1.45, -1.4)
BOX_MAX: tuple[float, float, float] = (1.35, 2.2, 1.85)
NECK_BOTTOM = -1.3  # the neck stump is cut flat here

# Front view: orthographic along -z; pixel columns span x = -EXTENT .. +EXTENT (left to right,
# pixel centres), rows y = +EXTENT .. -EXTENT (top to bottom). Depth is CAMERA_Z - z of the hit.
EXTENT = 2.0
CAMERA_Z = 2.0
_TRACE_STEPS = 96      # sphere-tracing iterations, fixed
_TRACE_HIT = 2e-4      # a ray has hit when the field is below this
_TRACE_ACCEPT = 3e-3   # rays still marching after the last step count as hits below this
_TRACE_RELAX = 0.9     # step = field * this: the field is only close to a distance
_NORMAL_STEP = 1e-3    # central differences for the normals

# Meshing: coarse-to-fine evaluation. A cell is refined when one of its corners is nearer the
# surface than _LIPSCHITZ times half its diagonal (the field changes at most that fast).
_MIN_RESOLUTION = 16
_LEVELS = 3
_LIPSCHITZ = 3.0

Vec = tuple[float, float, float]


# -- parameters ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class HeadParams:
    """Every shape parameter of one head (head-frame units; angles in radians).

    Only the flags `snout`, `pointed_ears` and `horns` and the numbers decide the geometry;
    `variant` and `style` are labels (a horned head's style is "human" or "cartoon"). Parameters
    of parts a head does not have (a human's snout, say) are drawn anyway and left unused.
    """

    variant: str
    style: str
    snout: bool
    pointed_ears: bool
    horns: bool
    # cranium: ellipsoid half-axes and centre
    cranium_width: float
    cranium_height: float
    cranium_depth: float
    cranium_y: float
    cranium_z: float
    # jaw: ellipsoid half-axes and centre; chin: its radius
    jaw_width: float
    jaw_height: float
    jaw_depth: float
    jaw_y: float
    jaw_z: float
    chin_radius: float
    neck_radius: float
    cheek_radius: float
    cheek_x: float
    brow_size: float
    # eyes: socket centre (mirrored) and radius
    eye_x: float
    eye_y: float
    eye_radius: float
    # nose (below the eyes by nose_drop) or snout
    nose_drop: float
    nose_length: float
    nose_width: float
    snout_length: float
    snout_width: float
    snout_height: float
    # mouth (below the nose by mouth_drop)
    mouth_drop: float
    lip_width: float
    lip_thickness: float
    # ears: size factor, tilt (about x), flare (about y); pointed ears lean out by ear_angle
    ear_size: float
    ear_tilt: float
    ear_flare: float
    ear_angle: float
    # horns: length, base radius, base angle from vertical, total bend, share of the bend backwards
    horn_length: float
    horn_radius: float
    horn_angle: float
    horn_curl: float
    horn_back: float
    # wrinkle groove depth (0: none) and forehead line spacing
    wrinkles: float
    wrinkle_spacing: float
    # smoothness of the big blends (cranium-jaw-neck)
    blend: float

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}: pass one of {', '.join(VARIANTS)}")
        if self.style not in STYLES:
            raise ValueError(f"unknown style {self.style!r}: pass one of {', '.join(STYLES)}")

    def to_json(self) -> dict[str, Any]:
        """A plain dict (str, bool and float values) that `json.dumps` writes and `from_json` reads."""
        return {k: (v if isinstance(v, (str, bool)) else float(v)) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HeadParams:
        """The parameters from `to_json`'s dict (or `json.loads` of it)."""
        if not isinstance(data, dict):
            raise ValueError(f"pass the dict HeadParams.to_json() made, not {type(data).__name__}")
        names = {f.name: f for f in fields(cls)}
        missing, extra = sorted(set(names) - set(data)), sorted(set(data) - set(names))
        if missing or extra:
            raise ValueError(f"pass a dict with exactly HeadParams' fields; missing {missing}, unknown {extra}")
        values: dict[str, Any] = {}
        for name, f in names.items():
            v = data[name]
            kind = f.type if isinstance(f.type, str) else f.type.__name__
            if kind == "str":
                ok = isinstance(v, str)
            elif kind == "bool":
                ok = isinstance(v, bool)
            else:
                ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                v = float(v) if ok else v
            if not ok:
                raise ValueError(f"field {name!r} must be a {kind}, got {v!r}")
            values[name] = v
        return cls(**values)


def _lerp(lo: float, hi: float, u: float) -> float:
    return float(lo + (hi - lo) * u)


_N_BASE = 32   # uniform draws for the shared shape
_N_EXTRA = 16  # uniform draws for the variant-specific parts


def sample_head(rng: np.random.Generator, variant: str | None = None) -> HeadParams:
    """A random head of `variant` (one of `VARIANTS`; None draws one), from `rng` only."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"pass a numpy.random.Generator (numpy.random.default_rng(seed)), not {type(rng).__name__}")
    if variant is None:
        variant = VARIANTS[int(rng.integers(len(VARIANTS)))]
    elif variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: pass one of {', '.join(VARIANTS)} or None for a random one")
    u = [float(v) for v in rng.random(_N_BASE)]
    e = [float(v) for v in rng.random(_N_EXTRA)]
    if variant == "horned":
        style = "cartoon" if e[0] < 0.5 else "human"
    else:
        style = variant
    cartoon = style == "cartoon"

    def scaled(lo: float, hi: float, i: int, cartoon_factor: float = 1.0) -> float:
        return _lerp(lo, hi, u[i]) * (cartoon_factor if cartoon else 1.0)

    eye_radius = scaled(0.10, 0.13, 15, 1.55)
    eye_x = max(_lerp(0.24, 0.30, u[13]), 1.15 * eye_radius + 0.06)
    wrinkles = 0.0 if u[28] < 0.35 else _lerp(0.3, 1.0, u[29])
    return HeadParams(
        variant=variant,
        style=style,
        snout=style == "animal",
        pointed_ears=style == "animal",
        horns=variant == "horned",
        cranium_width=scaled(0.66, 0.76, 0, 1.15),
        cranium_height=scaled(0.80, 0.90, 1, 1.12),
        cranium_depth=scaled(0.82, 0.92, 2, 1.08),
        cranium_y=_lerp(0.18, 0.28, u[3]),
        cranium_z=_lerp(-0.12, -0.04, u[4]),
        jaw_width=scaled(0.48, 0.60, 5, 0.72),
        jaw_height=scaled(0.42, 0.52, 6, 0.78),
        jaw_depth=scaled(0.55, 0.66, 7, 0.85),
        jaw_y=_lerp(-0.42, -0.32, u[8]),
        jaw_z=_lerp(0.02, 0.12, u[9]),
        chin_radius=scaled(0.10, 0.16, 10, 0.8),
        neck_radius=scaled(0.28, 0.36, 11, 0.8),
        cheek_radius=scaled(0.12, 0.18, 12, 1.2),
        cheek_x=_lerp(0.28, 0.36, u[14]),
        brow_size=scaled(0.06, 0.14, 16, 0.7),
        eye_x=eye_x,
        eye_y=_lerp(0.0, 0.12, u[17]),
        eye_radius=eye_radius,
        nose_drop=scaled(0.24, 0.32, 18, 0.85),
        nose_length=scaled(0.10, 0.22, 19, 0.7),
        nose_width=_lerp(0.06, 0.10, u[20]),
        snout_length=_lerp(0.45, 0.70, e[1]),
        snout_width=_lerp(0.22, 0.32, e[2]),
        snout_height=_lerp(0.20, 0.28, e[3]),
        mouth_drop=_lerp(0.16, 0.22, u[21]),
        lip_width=_lerp(0.15, 0.22, u[22]),
        lip_thickness=_lerp(0.03, 0.05, u[23]),
        ear_size=scaled(0.8, 1.15, 24, 1.2),
        ear_tilt=_lerp(-0.1, 0.3, u[25]),
        ear_flare=_lerp(0.1, 0.45, u[26]),
        ear_angle=_lerp(0.35, 0.75, e[4]),
        horn_length=_lerp(0.5, 0.8, e[5]),
        horn_radius=_lerp(0.08, 0.12, e[6]),
        horn_angle=_lerp(0.2, 0.5, e[7]),
        horn_curl=_lerp(0.0, 0.75, e[8]),
        horn_back=_lerp(0.0, 1.0, e[9]),
        wrinkles=wrinkles,
        wrinkle_spacing=_lerp(0.07, 0.10, u[30]),
        blend=_lerp(0.12, 0.2, u[27]),
    )


# -- layout: where every primitive sits (scalars, once per head) ----------------------------------
@dataclass(frozen=True)
class _Cone:
    a: Vec
    b: Vec
    r1: float
    r2: float


@dataclass(frozen=True)
class _Layout:
    cranium: tuple[Vec, Vec]
    jaw: tuple[Vec, Vec]
    chin: tuple[Vec, Vec]
    neck: tuple[float, float, float, float, float]  # centre x, centre z, radius, y bottom, y top
    cheek: tuple[Vec, Vec]
    brow: tuple[Vec, Vec]
    socket: tuple[Vec, Vec]
    eyeball: tuple[Vec, float]
    nose: _Cone | None
    nostril: tuple[Vec, Vec] | None
    snout: tuple[Vec, Vec] | None
    pad: tuple[Vec, float] | None
    lips: tuple[tuple[Vec, Vec], tuple[Vec, Vec]]
    ear: tuple[Vec, Vec, float, float] | None          # centre, radii, tilt, flare
    pointed_ear: tuple[_Cone, Vec, float] | None      # cone, slab normal, slab half-thickness
    horn: tuple[_Cone, ...]
    forehead: tuple[float, float, float, int] | None  # first line y, spacing, half-length, count
    crows: tuple[Vec, Vec, Vec] | None                # origin (x, y, length), two unit directions
    groove_radius: float


def _ellipsoid_front(centre: Vec, radii: Vec, x: float, y: float) -> float:
    """z of the ellipsoid's front surface above (x, y); -inf outside its outline."""
    t = 1.0 - ((x - centre[0]) / radii[0]) ** 2 - ((y - centre[1]) / radii[1]) ** 2
    return centre[2] + radii[2] * math.sqrt(t) if t > 0.0 else -math.inf


def _ray_to_ellipsoid(centre: Vec, radii: Vec, direction: Vec) -> Vec:
    """The point where the ray from the ellipsoid's centre along `direction` leaves it."""
    s = 1.0 / math.sqrt(sum((d / r) ** 2 for d, r in zip(direction, radii)))
    return (centre[0] + s * direction[0], centre[1] + s * direction[1], centre[2] + s * direction[2])


def _unit(v: Vec) -> Vec:
    n = math.sqrt(v[0] ** 2 + v[1] ** 2 + v[2] ** 2)
    return (v[0] / n, v[1] / n, v[2] / n)


def _dot(a: Vec, b: Vec) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _lerp_point(a: Vec, b: Vec, t: float) -> Vec:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t)


_Ellipsoid = tuple[Vec, Vec]  # centre, half-axes


class _Front:
    """z of the face's front (the cranium and jaw ellipsoids, blends left out) above (x, y)."""

    def __init__(self, p: HeadParams, cranium: _Ellipsoid, jaw: _Ellipsoid) -> None:
        self.fallback, self.cranium, self.jaw = p.cranium_z, cranium, jaw

    def __call__(self, x: float, y: float) -> float:
        z = max(_ellipsoid_front(*self.cranium, x, y), _ellipsoid_front(*self.jaw, x, y))
        return z if math.isfinite(z) else self.fallback


def _eye_parts(p: HeadParams, front: _Front) -> tuple[_Ellipsoid, tuple[Vec, float], _Ellipsoid]:
    """Socket, eyeball (its back buried in the head) and brow ridge, on the right side."""
    r = p.eye_radius
    fz = front(p.eye_x, p.eye_y)
    socket = ((p.eye_x, p.eye_y, fz - 0.15 * r), (r, 0.8 * r, 0.8 * r))
    eyeball = ((p.eye_x, p.eye_y, fz - 0.5 * r), 0.78 * r)
    by = p.eye_y + 0.85 * r + 0.3 * p.brow_size
    brow = ((p.eye_x, by, front(p.eye_x, by) - 0.5 * p.brow_size), (1.2 * r + 0.03, 0.6 * p.brow_size, p.brow_size))
    return socket, eyeball, brow


def _snout_parts(p: HeadParams, front: _Front) -> tuple[_Ellipsoid, tuple[Vec, float], tuple[_Ellipsoid, _Ellipsoid]]:
    """Snout, nose pad and the lips under the snout."""
    lt = p.lip_thickness
    sy = p.eye_y - 0.3
    tip = front(0.0, sy) + p.snout_length
    rz = 0.5 * (p.snout_length + 0.45)
    snout = ((0.0, sy, tip - rz), (p.snout_width, p.snout_height, rz))
    pr = 0.45 * p.snout_height
    pad = ((0.0, sy + 0.35 * p.snout_height, tip - 0.5 * pr), pr)
    my = sy - 0.7 * p.snout_height
    mz = tip - 0.65 * rz
    lips = (((0.0, my, mz), (0.7 * p.snout_width, lt, 0.45 * rz)),
            ((0.0, my - 0.8 * lt, mz - 0.1 * rz), (0.6 * p.snout_width, 1.1 * lt, 0.4 * rz)))
    return snout, pad, lips


def _nose_parts(p: HeadParams, front: _Front) -> tuple[_Cone, _Ellipsoid, tuple[_Ellipsoid, _Ellipsoid]]:
    """Nose (bridge to tip), the right nostril wing and the lips."""
    nw, lt, lw = p.nose_width, p.lip_thickness, p.lip_width
    ny = p.eye_y - p.nose_drop
    nose = _Cone((0.0, p.eye_y + 0.2 * p.eye_radius, front(0.0, p.eye_y) - 0.03),
                 (0.0, ny, front(0.0, ny) + p.nose_length), 0.045, 0.55 * nw)
    nostril = ((nw, ny - 0.35 * nw, front(nw, ny) + 0.3 * p.nose_length), (0.75 * nw, 0.6 * nw, 0.75 * nw))
    my = ny - p.mouth_drop
    fm = front(0.0, my)
    lips = (((0.0, my + 0.55 * lt, fm - 0.3 * lt), (lw, lt, 1.3 * lt)),
            ((0.0, my - 0.6 * lt, fm - 0.35 * lt), (0.85 * lw, 1.15 * lt, 1.4 * lt)))
    return nose, nostril, lips


def _ear_parts(p: HeadParams, cranium: _Ellipsoid) -> tuple[Vec, Vec, float, float]:
    """A flat ellipsoid against the right side of the cranium, level with the nose's root."""
    s = p.ear_size
    y = p.eye_y - 0.5 * p.nose_drop
    z = p.cranium_z - 0.05
    (cx, cy, cz), (a, b, c) = cranium
    side = cx + a * math.sqrt(max(1.0 - ((y - cy) / b) ** 2 - ((z - cz) / c) ** 2, 0.0))
    thickness = 0.055 * s
    return (side + 0.3 * thickness, y, z), (thickness, 0.2 * s, 0.12 * s), p.ear_tilt, p.ear_flare


def _pointed_ear_parts(p: HeadParams, cranium: _Ellipsoid) -> tuple[_Cone, Vec, float]:
    """A cone from the upper side of the cranium, leaning out by ear_angle, and its flattening slab."""
    s, th = p.ear_size, p.ear_angle
    base = _lerp_point(cranium[0], _ray_to_ellipsoid(*cranium, _unit((math.sin(th), math.cos(th), -0.15))), 0.92)
    axis = _unit((math.sin(th + 0.15), math.cos(th + 0.15), -0.1))
    tip = (base[0] + 0.45 * s * axis[0], base[1] + 0.45 * s * axis[1], base[2] + 0.45 * s * axis[2])
    normal = _unit((-axis[2] * axis[0], -axis[2] * axis[1], 1.0 - axis[2] * axis[2]))  # z, square to the axis
    return _Cone(base, tip, 0.16 * s, 0.025), normal, 0.05 * s


def _horn_parts(p: HeadParams, cranium: _Ellipsoid) -> tuple[_Cone, ...]:
    """The right horn: three round cones along an axis bent by horn_curl, tapering to a point."""
    th = p.horn_angle
    base = _lerp_point(cranium[0], _ray_to_ellipsoid(*cranium, _unit((math.sin(th), math.cos(th), 0.25))), 0.9)
    d0 = _unit((math.sin(th), math.cos(th), 0.15))
    # bend towards g (outwards when horn_back = 0, backwards when 1), in the plane of d0 and g
    g = _unit((1.0 - p.horn_back, 0.0, -p.horn_back - 1e-3))
    gd = _dot(g, d0)
    w = _unit((g[0] - gd * d0[0], g[1] - gd * d0[1], g[2] - gd * d0[2]))
    radii = [p.horn_radius * f for f in (1.0, 0.72, 0.45, 0.15)]
    step = p.horn_length / 3.0
    pts = [base]
    for i in range(3):
        phi = p.horn_curl * (i + 0.5) / 3.0
        c, s = math.cos(phi), math.sin(phi)
        q = pts[-1]
        pts.append((q[0] + step * (c * d0[0] + s * w[0]), q[1] + step * (c * d0[1] + s * w[1]),
                    q[2] + step * (c * d0[2] + s * w[2])))
    return tuple(_Cone(pts[i], pts[i + 1], radii[i], radii[i + 1]) for i in range(3))


def _wrinkle_lines(p: HeadParams, brow: _Ellipsoid) -> tuple[tuple[float, float, float, int], tuple[Vec, Vec, Vec]]:
    """Forehead lines (first y, spacing, half-length, count) and crow's feet (origin, directions)."""
    top = brow[0][1] + brow[1][1]
    forehead = (top + 0.5 * p.wrinkle_spacing, p.wrinkle_spacing, 0.38 * p.cranium_width, 3)
    length = 0.08 + 0.06 * p.wrinkles
    a = 0.35
    crows = ((p.eye_x + 1.1 * p.eye_radius, p.eye_y, length), (math.cos(a), math.sin(a), 0.0),
             (math.cos(a), -math.sin(a), 0.0))
    return forehead, crows


@lru_cache(maxsize=256)
def _layout(p: HeadParams) -> _Layout:
    """Where every primitive of the head sits (the right-hand one of each mirrored pair)."""
    cranium = ((0.0, p.cranium_y, p.cranium_z), (p.cranium_width, p.cranium_height, p.cranium_depth))
    jaw = ((0.0, p.jaw_y, p.jaw_z), (p.jaw_width, p.jaw_height, p.jaw_depth))
    front = _Front(p, cranium, jaw)
    cy = p.jaw_y - 0.72 * p.jaw_height  # the chin, at the jaw's lower front
    chin = ((0.0, cy, _ellipsoid_front(*jaw, 0.0, cy) - 0.6 * p.chin_radius),
            (1.2 * p.chin_radius, p.chin_radius, p.chin_radius))
    neck = (0.0, p.cranium_z - 0.15 * p.cranium_depth, p.neck_radius, NECK_BOTTOM, p.jaw_y + 0.2)
    socket, eyeball, brow = _eye_parts(p, front)
    cheek_y = p.eye_y - p.nose_drop + 0.04
    cheek = ((p.cheek_x, cheek_y, front(p.cheek_x, cheek_y) - 0.75 * p.cheek_radius),
             (p.cheek_radius, 0.85 * p.cheek_radius, 0.8 * p.cheek_radius))
    nose = nostril = snout = pad = None
    if p.snout:
        snout, pad, lips = _snout_parts(p, front)
    else:
        nose, nostril, lips = _nose_parts(p, front)
        # the smooth unions of cranium, jaw, chin and cheeks bulge past the bare ellipsoids that
        # `front` measures: the lips move forward by that bulge, or a thick blend buries them
        y = lips[0][0][1]
        bulge = max(0.0, _blended_front(cranium, jaw, chin, cheek, p.blend, y) - front(0.0, y))
        lips = tuple(((c[0], c[1], c[2] + bulge), r) for c, r in lips)
    forehead = crows = None
    if p.wrinkles > 0.0:
        forehead, crows = _wrinkle_lines(p, brow)
    return _Layout(cranium=cranium, jaw=jaw, chin=chin, neck=neck, cheek=cheek, brow=brow, socket=socket,
                   eyeball=eyeball, nose=nose, nostril=nostril, snout=snout, pad=pad, lips=lips,
                   ear=None if p.pointed_ears else _ear_parts(p, cranium),
                   pointed_ear=_pointed_ear_parts(p, cranium) if p.pointed_ears else None,
                   horn=_horn_parts(p, cranium) if p.horns else (), forehead=forehead, crows=crows,
                   groove_radius=0.008 + 0.02 * p.wrinkles)


def _blended_front(cranium: _Ellipsoid, jaw: _Ellipsoid, chin: _Ellipsoid, cheek: _Ellipsoid, blend: float,
                   y: float) -> float:
    """z of the front of the smooth union of cranium, jaw, chin and cheeks at x = 0, height y (found
    on a 0.002 grid along z; -inf where the line misses them)."""
    z = np.linspace(-2.0, 2.5, 2251)
    x, yy = np.zeros_like(z), np.full_like(z, y)
    d = _smin(_ellipsoid(x, yy, z, *cranium), _ellipsoid(x, yy, z, *jaw), blend)
    d = _smin(d, _ellipsoid(x, yy, z, *chin), 0.1)
    d = _smin(d, _ellipsoid(np.full_like(z, 0.0), yy, z, *cheek), 0.12)
    inside = np.nonzero(d < 0.0)[0]
    return float(z[inside[-1]]) if len(inside) else -math.inf


# -- primitives (vectorised over points given as x, y, z arrays) ----------------------------------
def _ellipsoid(x: np.ndarray, y: np.ndarray, z: np.ndarray, centre: Vec, radii: Vec) -> np.ndarray:
    """Ellipsoid distance, the bound approximation k0 (k0 - 1) / k1, inside no deeper than the
    thinnest half-axis (the formula overshoots near the centre of a thin ellipsoid)."""
    qx, qy, qz = (x - centre[0]) / radii[0], (y - centre[1]) / radii[1], (z - centre[2]) / radii[2]
    k0 = np.sqrt(qx * qx + qy * qy + qz * qz)
    qx /= radii[0]
    qy /= radii[1]
    qz /= radii[2]
    k1 = np.sqrt(qx * qx + qy * qy + qz * qz)
    tiny = 1e-12
    depth = min(radii)
    d = np.maximum(k0 * (k0 - 1.0) / np.maximum(k1, tiny), -depth)
    return np.where(k1 < tiny, -depth, d)


def _sphere(x: np.ndarray, y: np.ndarray, z: np.ndarray, centre: Vec, radius: float) -> np.ndarray:
    return np.sqrt((x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2) - radius


def _round_cone(x: np.ndarray, y: np.ndarray, z: np.ndarray, cone: _Cone) -> np.ndarray:
    """Exact distance to the round cone between spheres (a, r1) and (b, r2) (Quilez)."""
    a, b, r1, r2 = cone.a, cone.b, cone.r1, cone.r2
    ba = (b[0] - a[0], b[1] - a[1], b[2] - a[2])
    l2 = ba[0] ** 2 + ba[1] ** 2 + ba[2] ** 2
    rr = r1 - r2
    a2 = l2 - rr * rr
    il2 = 1.0 / l2
    pax, pay, paz = x - a[0], y - a[1], z - a[2]
    yy = pax * ba[0] + pay * ba[1] + paz * ba[2]
    zz = yy - l2
    x2 = (pax * l2 - ba[0] * yy) ** 2 + (pay * l2 - ba[1] * yy) ** 2 + (paz * l2 - ba[2] * yy) ** 2
    y2 = yy * yy * l2
    z2 = zz * zz * l2
    k = math.copysign(1.0, rr) * rr * rr * x2
    d_tip = np.sqrt(x2 + z2) * il2 - r2
    d_base = np.sqrt(x2 + y2) * il2 - r1
    d_side = (np.sqrt(x2 * (a2 * il2)) + yy * rr) * il2 - r1
    return np.where(np.sign(zz) * a2 * z2 > k, d_tip, np.where(np.sign(yy) * a2 * y2 < k, d_base, d_side))


def _neck(x: np.ndarray, y: np.ndarray, z: np.ndarray, neck: tuple[float, float, float, float, float]) -> np.ndarray:
    """Vertical capped cylinder: flat bottom and top."""
    cx, cz, r, y0, y1 = neck
    dr = np.sqrt((x - cx) ** 2 + (z - cz) ** 2) - r
    dy = np.abs(y - 0.5 * (y0 + y1)) - 0.5 * (y1 - y0)
    return np.minimum(np.maximum(dr, dy), 0.0) + np.sqrt(np.maximum(dr, 0.0) ** 2 + np.maximum(dy, 0.0) ** 2)


def _smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial (quadratic) smooth minimum: a smooth union of blend width k."""
    h = np.maximum(k - np.abs(a - b), 0.0) * (1.0 / k)
    return np.minimum(a, b) - h * h * (0.25 * k)


def _ssub(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Smooth subtraction of b from a: the smooth maximum of a and -b."""
    h = np.maximum(k - np.abs(a + b), 0.0) * (1.0 / k)
    return np.maximum(a, -b) + h * h * (0.25 * k)


def _ear(x: np.ndarray, y: np.ndarray, z: np.ndarray, ear: tuple[Vec, Vec, float, float]) -> np.ndarray:
    """A flat ellipsoid against the side of the head, tilted about x and flared about y."""
    centre, radii, tilt, flare = ear
    px, py, pz = x - centre[0], y - centre[1], z - centre[2]
    ct, st = math.cos(tilt), math.sin(tilt)
    py, pz = ct * py - st * pz, st * py + ct * pz
    cf, sf = math.cos(flare), math.sin(flare)
    px, pz = cf * px - sf * pz, sf * px + cf * pz
    return _ellipsoid(px, py, pz, (0.0, 0.0, 0.0), radii)


def _pointed_ear(x: np.ndarray, y: np.ndarray, z: np.ndarray, ear: tuple[_Cone, Vec, float]) -> np.ndarray:
    cone, n, half = ear
    slab = np.abs((x - cone.a[0]) * n[0] + (y - cone.a[1]) * n[1] + (z - cone.a[2]) * n[2]) - half
    return np.maximum(_round_cone(x, y, z, cone), slab)


def _grooves(x: np.ndarray, y: np.ndarray, surface: np.ndarray, lay: _Layout) -> np.ndarray:
    """Distance to the wrinkle tubes: lines on the cranium's surface (surface = its field)."""
    assert lay.forehead is not None and lay.crows is not None
    y0, spacing, half, count = lay.forehead
    line = np.clip(np.rint((y - y0) / spacing), 0, count - 1)
    dy = y - (y0 + line * spacing)
    dx = np.maximum(x - half, 0.0)
    plane2 = dx * dx + dy * dy
    (ox, oy, length), d1, d2 = lay.crows
    px, py = x - ox, y - oy
    for d in (d1, d2):
        t = np.clip(px * d[0] + py * d[1], 0.0, length)
        plane2 = np.minimum(plane2, (px - t * d[0]) ** 2 + (py - t * d[1]) ** 2)
    return np.sqrt(plane2 + surface * surface) - lay.groove_radius


def _field(lay: _Layout, blend: float, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The head's signed distance at (x, y, z), x already folded to |x|."""
    cranium = _ellipsoid(x, y, z, *lay.cranium)
    d = _smin(cranium, _ellipsoid(x, y, z, *lay.jaw), blend)
    d = _smin(d, _ellipsoid(x, y, z, *lay.chin), 0.1)
    d = _smin(d, _neck(x, y, z, lay.neck), 0.15)
    d = _smin(d, _ellipsoid(x, y, z, *lay.cheek), 0.12)
    d = _smin(d, _ellipsoid(x, y, z, *lay.brow), 0.06)
    if lay.snout is not None and lay.pad is not None:
        d = _smin(d, _ellipsoid(x, y, z, *lay.snout), 0.2)
        d = _smin(d, _sphere(x, y, z, *lay.pad), 0.04)
    if lay.nose is not None and lay.nostril is not None:
        nose = _smin(_round_cone(x, y, z, lay.nose), _ellipsoid(x, y, z, *lay.nostril), 0.03)
        d = _smin(d, nose, 0.06)
    lips = np.minimum(_ellipsoid(x, y, z, *lay.lips[0]), _ellipsoid(x, y, z, *lay.lips[1]))
    d = _smin(d, lips, 0.03)
    if lay.ear is not None:
        d = _smin(d, _ear(x, y, z, lay.ear), 0.05)
    if lay.pointed_ear is not None:
        d = _smin(d, _pointed_ear(x, y, z, lay.pointed_ear), 0.06)
    d = _ssub(d, _ellipsoid(x, y, z, *lay.socket), 0.05)
    d = _smin(d, _sphere(x, y, z, *lay.eyeball), 0.015)
    if lay.horn:
        horn = _round_cone(x, y, z, lay.horn[0])
        for cone in lay.horn[1:]:
            horn = np.minimum(horn, _round_cone(x, y, z, cone))
        d = _smin(d, horn, 0.06)
    if lay.forehead is not None:
        d = _ssub(d, _grooves(x, y, cranium, lay), lay.groove_radius)
    return d


def _field_xyz(params: HeadParams, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return _field(_layout(params), params.blend, np.abs(x), y, z)


def head_sdf(params: HeadParams, points: np.ndarray) -> np.ndarray:
    """Signed distance (negative inside) of the head at `points` (N, 3) in the head frame: (N,)."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"pass points as an (N, 3) array of x, y, z in the head frame, got shape {pts.shape}")
    if not isinstance(params, HeadParams):
        raise ValueError(f"pass a HeadParams (from sample_head), not {type(params).__name__}")
    return _field_xyz(params, pts[:, 0].copy(), pts[:, 1].copy(), pts[:, 2].copy())


# -- meshing ---------------------------------------------------------------------------------------
def _spacing(resolution: int) -> np.ndarray:
    return (np.array(BOX_MAX) - np.array(BOX_MIN)) / (resolution - 1)


def _grid_full(params: HeadParams, resolution: int) -> np.ndarray:
    """The field at every grid point (the reference for `_grid`)."""
    axes = [np.linspace(lo, hi, resolution) for lo, hi in zip(BOX_MIN, BOX_MAX)]
    gx, gy, gz = np.meshgrid(*axes, indexing="ij")
    return _field_xyz(params, gx.ravel(), gy.ravel(), gz.ravel()).reshape((resolution,) * 3)


def _cell_points(active: np.ndarray) -> np.ndarray:
    """Mask of the points of a grid twice as fine that are corners of the fine cells of active cells."""
    m = active
    for axis in range(3):
        m = np.repeat(m, 2, axis=axis)
    shape = tuple(s + 1 for s in m.shape)
    pts = np.zeros(shape, dtype=bool)
    pts[: m.shape[0], : m.shape[1], : m.shape[2]] = m
    # point j belongs to cells j // 2 and (j - 1) // 2: add the shift by one along every axis
    pts[1:] = pts[1:] | pts[:-1]
    pts[:, 1:] = pts[:, 1:] | pts[:, :-1]
    pts[:, :, 1:] = pts[:, :, 1:] | pts[:, :, :-1]
    return pts


def _grid(params: HeadParams, resolution: int) -> np.ndarray:
    """The field on the `resolution`^3 grid over the box, exact near the surface.

    Coarse to fine: the field is evaluated on a grid `2**_LEVELS` times coarser, then each level
    refines only the cells the surface may cross (a corner nearer than `_LIPSCHITZ` x half the
    cell diagonal); the other points take the value of their coarse cell's corner, which has the
    right sign (no surface crosses that cell). Marching cubes reads only signs there.
    """
    h = _spacing(resolution)
    step = 2**_LEVELS
    cells = -(-(resolution - 1) // step)
    lo = np.array(BOX_MIN)
    idx = np.arange(cells + 1) * step
    gx, gy, gz = np.meshgrid(*(lo[i] + idx * h[i] for i in range(3)), indexing="ij")
    vals = _field_xyz(params, gx.ravel(), gy.ravel(), gz.ravel()).reshape((cells + 1,) * 3)
    for _ in range(_LEVELS):
        a = np.abs(vals)
        corner = a[:-1, :-1, :-1]
        for dx in (0, 1):
            for dy in (0, 1):
                for dz in (0, 1):
                    if dx or dy or dz:
                        corner = np.minimum(corner, a[dx: a.shape[0] - 1 + dx, dy: a.shape[1] - 1 + dy,
                                                      dz: a.shape[2] - 1 + dz])
        threshold = _LIPSCHITZ * 0.5 * float(np.linalg.norm(h * step))
        refine = _cell_points(corner < threshold)
        step //= 2
        fine = vals
        for axis in range(3):
            fine = np.repeat(fine, 2, axis=axis)
        fine = np.ascontiguousarray(fine[: refine.shape[0], : refine.shape[1], : refine.shape[2]])
        ix, iy, iz = np.nonzero(refine)
        fine[ix, iy, iz] = _field_xyz(params, lo[0] + ix * (step * h[0]), lo[1] + iy * (step * h[1]),
                                      lo[2] + iz * (step * h[2]))
        vals = fine
    return vals[:resolution, :resolution, :resolution]


def _largest_component(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The connected part of the mesh with the most triangles, its vertices renumbered."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(verts)
    rows = np.concatenate([faces[:, 0], faces[:, 1]])
    cols = np.concatenate([faces[:, 1], faces[:, 2]])
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    count, labels = connected_components(graph, directed=False)
    if count > 1:
        face_label = labels[faces[:, 0]]
        keep = np.argmax(np.bincount(face_label, minlength=count))
        faces = faces[face_label == keep]
    used = np.unique(faces)
    remap = np.full(n, -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return verts[used], remap[faces]


def mesh_head(params: HeadParams, resolution: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """A closed, outward-wound triangle mesh of the head: vertices (V, 3) float64, triangles (F, 3) int64.

    Marching cubes on a `resolution`^3 grid over the box `BOX_MIN` .. `BOX_MAX`; only the largest
    connected part is kept (a thin horn tip can leave a crumb at low resolutions).
    """
    from skimage.measure import marching_cubes

    if not isinstance(resolution, (int, np.integer)) or isinstance(resolution, bool) or resolution < _MIN_RESOLUTION:
        raise ValueError(f"pass an integer resolution of at least {_MIN_RESOLUTION} (grid points per axis), "
                         f"got {resolution!r}")
    if not isinstance(params, HeadParams):
        raise ValueError(f"pass a HeadParams (from sample_head), not {type(params).__name__}")
    vol = _grid(params, int(resolution))
    faces_ = [vol[0], vol[-1], vol[:, 0], vol[:, -1], vol[:, :, 0], vol[:, :, -1]]
    if min(float(f.min()) for f in faces_) <= 0.0:
        raise ValueError("the head reaches the meshing box's boundary (BOX_MIN .. BOX_MAX): pass parameters "
                         "within sample_head's ranges")
    if float(vol.min()) >= 0.0:
        raise ValueError("the head's field is nowhere negative: pass parameters within sample_head's ranges")
    h = _spacing(int(resolution))
    verts, faces, _, _ = marching_cubes(vol, level=0.0, spacing=tuple(float(s) for s in h))
    verts = verts.astype(np.float64) + np.array(BOX_MIN)
    faces = faces.astype(np.int64)
    verts, faces = _largest_component(verts, faces)
    if _signed_volume(verts, faces) < 0.0:
        faces = faces[:, ::-1].copy()
    return verts, faces


def _signed_volume(verts: np.ndarray, faces: np.ndarray) -> float:
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    return float(np.einsum("ij,ij->", a, np.cross(b, c))) / 6.0


# -- front view --------------------------------------------------------------------------------------
def _pixel_axis(size: int) -> np.ndarray:
    """Pixel-centre coordinates -EXTENT .. +EXTENT, exactly antisymmetric (mirror pixels negate)."""
    k = 2.0 * np.arange(size) - (size - 1)
    return k / (size - 1) * EXTENT


def front_maps(params: HeadParams, size: int = 128) -> dict[str, np.ndarray]:
    """Orthographic front view of the head (camera on +z looking along -z), by sphere tracing.

    Returns `depth` (size, size) float32: CAMERA_Z - z of the first hit, inf off the head;
    `normal` (size, size, 3) float32: unit normals in the camera frame (x right, y up, z towards
    the viewer), zeros off the head; `mask` (size, size) bool. Column 0 is x = -EXTENT, row 0 is
    y = +EXTENT. The arrays are read-only: the last few views are kept (a sketch and its data
    item need the same one).
    """
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 2:
        raise ValueError(f"pass an integer image size of at least 2 pixels, got {size!r}")
    if not isinstance(params, HeadParams):
        raise ValueError(f"pass a HeadParams (from sample_head), not {type(params).__name__}")
    return dict(_front_maps(params, int(size)))


@lru_cache(maxsize=4)
def _front_maps(params: HeadParams, size: int) -> tuple[tuple[str, np.ndarray], ...]:
    axis = _pixel_axis(size)
    px = np.tile(axis, size)              # row-major: column index fastest
    py = np.repeat(-axis, size)           # row 0 at the top: y = +EXTENT
    t = np.full(size * size, CAMERA_Z - BOX_MAX[2], dtype=np.float64)  # start at the box's front
    t_far = CAMERA_Z - BOX_MIN[2]
    hit = np.zeros(size * size, dtype=bool)
    live = np.arange(size * size)
    last = np.full(size * size, np.inf)
    for _ in range(_TRACE_STEPS):
        if live.size == 0:
            break
        d = _field_xyz(params, px[live], py[live], CAMERA_Z - t[live])
        last[live] = d
        done = d < _TRACE_HIT
        hit[live[done]] = True
        t[live] += np.where(done, 0.0, d * _TRACE_RELAX)
        live = live[~done & (t[live] < t_far)]
    hit[live[last[live] < _TRACE_ACCEPT]] = True
    idx = np.nonzero(hit)[0]
    # one last step onto the surface
    t[idx] += last[idx]

    depth = np.full(size * size, np.inf, dtype=np.float32)
    depth[idx] = t[idx]
    normal = np.zeros((size * size, 3), dtype=np.float32)
    if idx.size:
        x, y, z = px[idx], py[idx], CAMERA_Z - t[idx]
        e = _NORMAL_STEP
        g = np.stack([
            _field_xyz(params, x + e, y, z) - _field_xyz(params, x - e, y, z),
            _field_xyz(params, x, y + e, z) - _field_xyz(params, x, y - e, z),
            _field_xyz(params, x, y, z + e) - _field_xyz(params, x, y, z - e),
        ], axis=1)
        g /= np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
        normal[idx] = g
    out = (("depth", depth.reshape(size, size)), ("normal", normal.reshape(size, size, 3)),
           ("mask", hit.reshape(size, size)))
    for _, a in out:
        a.setflags(write=False)
    return out
