"""Which strokes of a front-view head drawing belong to which facial part, and the part's image.

Stroke suggestion (`suggest`) retrieves part strokes (eyes, brows, nose, mouth, ears) drawn like
the person's own; this module cuts a drawing into those parts.

Regions
    `part_regions(params, size)` gives every part instance of a head a box (u0, v0, u1, v1) in
    canvas pixels (u right, v down, the sketches' framing: u = size / 2 * (1 + x / EXTENT),
    v = size / 2 * (1 - y / EXTENT)), the projection of the primitives `heads._layout` places,
    grown by `MARGIN` of its half-size plus `MARGIN_UNITS` head units on every side:

    * eye: the eye socket (ellipse of half-axes r, 0.8 r around the eye centre);
    * brow: the brow ridge ellipsoid;
    * nose: the nose cone (bridge to tip, its end spheres) and both nostril wings; for an animal
      the snout ellipsoid with the nose pad and the lips (an animal's lips sit under its snout and
      are drawn as the notch of the snout's outline, so an animal has no mouth instance);
    * mouth: both lip ellipsoids (heads without a snout);
    * ear: the human ear (the tilted, flared ellipsoid's exact outline) or the pointed ear (its
      cone's end spheres).

    Mirrored pairs (eye, brow, ear) have a "right" instance at +x (right of the canvas centre: the
    primitive `_layout` stores) and a "left" one at -x; nose and mouth are "centre".

Assigning strokes
    `part_strokes` gives each stroke (a polyline) to the part whose region holds the largest share
    of its points, when that share is at least `MIN_SHARE`; between regions holding the same share
    the smaller region wins (a mouth inside an animal's snout is the mouth). Strokes mostly outside
    every region (the silhouette, wrinkles, the jaw) belong to none, but lend each part the pieces
    that run through its region for at least `MIN_PIECE_PX` pixels (at 256 px, scaled with the
    canvas): the silhouette's run around an ear is that ear's outline.

Part frame and images
    A part's polylines are kept in a normalised part frame: (p - box centre) / the box's longer
    side, so the box spans -0.5..0.5 along its longer side, with x negated for left instances
    (one library serves both sides: a left eye looks like a right one). `to_part_frame` and
    `from_part_frame` go back and forth; `part_image` rasterises the part frame onto a square
    image (anti-aliased lines of about `LINE_PX` pixels, float32 ink 0..1), so the box's centre
    is the image's centre and its longer side the image's width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from sketchforge.modeling.sketch import Sketch

from .heads import EXTENT, HeadParams, _Cone, _layout
from .sketches import MIN_SIZE, FaceCurve, FaceSketch

__all__ = [
    "PARTS",
    "SIDES",
    "MARGIN",
    "MARGIN_UNITS",
    "MIN_SHARE",
    "IMAGE_SIZE",
    "PartRegion",
    "PartStrokes",
    "part_regions",
    "part_strokes",
    "assign_strokes",
    "drawing_polylines",
    "to_part_frame",
    "from_part_frame",
    "part_image",
]

PARTS: tuple[str, ...] = ("eye", "brow", "nose", "mouth", "ear")
SIDES: tuple[str, ...] = ("right", "left", "centre")
MARGIN = 0.25          # each box grows by this share of its half-size on every side ...
MARGIN_UNITS = 0.03    # ... plus this many head units (a fifth of a small eye's radius)
MIN_SHARE = 0.5        # a stroke belongs to the part holding at least this share of its points
MIN_PIECE_PX = 6.0     # shortest piece a part-less stroke lends a part (pixels at 256 px)
IMAGE_SIZE = 64
LINE_PX = 1.5          # line width of part images at 64 px (scaled with the image)
_SHIFT = 4             # OpenCV fixed-point bits: sub-pixel accurate lines

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class PartRegion:
    """One part instance's region: part name (`PARTS`), side (`SIDES`), box (u0, v0, u1, v1) in
    canvas pixels, margin included."""

    part: str
    side: str
    box: Box

    @property
    def key(self) -> str:
        """'eye/right', 'nose/centre', ...: names the instance within a head."""
        return f"{self.part}/{self.side}"


@dataclass(frozen=True)
class PartStrokes:
    """The strokes of one part instance: its region, the indices of the whole strokes it holds
    (into the drawing's strokes), and its polylines (M, 2) in canvas pixels: those strokes, then
    the pieces that part-less strokes lend it."""

    part: str
    side: str
    box: Box
    strokes: tuple[int, ...]
    polylines: tuple[np.ndarray, ...]

    @property
    def key(self) -> str:
        return f"{self.part}/{self.side}"

    @property
    def mirrored(self) -> bool:
        return self.side == "left"

    def part_frame(self) -> list[np.ndarray]:
        """The polylines in the normalised part frame (left instances mirrored)."""
        return to_part_frame(self.polylines, self.box, self.mirrored)

    def image(self, image_size: int = IMAGE_SIZE) -> np.ndarray:
        """`part_image` of this part (left instances mirrored)."""
        return part_image(self.polylines, self.box, image_size, mirror=self.mirrored)


# -- regions ---------------------------------------------------------------------------------------
def _check_size(size: object) -> int:
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < MIN_SIZE:
        raise ValueError(f"pass an integer canvas size of at least {MIN_SIZE} pixels, got {size!r}")
    return int(size)


def _ellipsoid_extent(radii: tuple[float, float, float], rotation: np.ndarray) -> tuple[float, float]:
    """Half-extents along x and y of an ellipsoid whose points are centre + rotation.T @ diag(radii) s
    (|s| = 1): the norm of each row of rotation.T @ diag(radii)."""
    m = rotation.T @ np.diag(radii)
    return float(np.linalg.norm(m[0])), float(np.linalg.norm(m[1]))


def _cone_extent(cone: _Cone) -> tuple[float, float, float, float]:
    """x0, y0, x1, y1 of a round cone (its end spheres bound it)."""
    xs = [cone.a[0] - cone.r1, cone.a[0] + cone.r1, cone.b[0] - cone.r2, cone.b[0] + cone.r2]
    ys = [cone.a[1] - cone.r1, cone.a[1] + cone.r1, cone.b[1] - cone.r2, cone.b[1] + cone.r2]
    return min(xs), min(ys), max(xs), max(ys)


def _union(*boxes: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _ellipse_box(centre, half_x: float, half_y: float) -> tuple[float, float, float, float]:
    return centre[0] - half_x, centre[1] - half_y, centre[0] + half_x, centre[1] + half_y


def _head_boxes(params: HeadParams) -> dict[str, tuple[float, float, float, float]]:
    """The right / centre instances' extents (x0, y0, x1, y1) in head units, before the margin."""
    lay = _layout(params)
    (sc, sr) = lay.socket
    (bc, br) = lay.brow
    out = {"eye": _ellipse_box(sc, sr[0], sr[1]), "brow": _ellipse_box(bc, br[0], br[1])}
    (uc, ur), (lc, lr) = lay.lips
    lips = _union(_ellipse_box(uc, ur[0], ur[1]), _ellipse_box(lc, lr[0], lr[1]))
    if lay.snout is not None and lay.pad is not None:
        # an animal's lips sit under the snout, drawn as the notch of the snout's outline: the
        # snout holds them and the head has no mouth instance
        (nc, nr), (pc, pr) = lay.snout, lay.pad
        out["nose"] = _union(_ellipse_box(nc, nr[0], nr[1]), _ellipse_box(pc, pr, pr), lips)
    else:
        assert lay.nose is not None and lay.nostril is not None
        (wc, wr) = lay.nostril
        wing = _ellipse_box(wc, wr[0], wr[1])
        mirrored = (-wing[2], wing[1], -wing[0], wing[3])
        out["nose"] = _union(_cone_extent(lay.nose), wing, mirrored)
        out["mouth"] = lips
    if lay.ear is not None:
        centre, radii, tilt, flare = lay.ear
        ct, st, cf, sf = math.cos(tilt), math.sin(tilt), math.cos(flare), math.sin(flare)
        # `heads._ear`: local = F @ T @ (p - centre), T about x by tilt, F about y by flare
        t = np.array([[1.0, 0.0, 0.0], [0.0, ct, -st], [0.0, st, ct]])
        f = np.array([[cf, 0.0, -sf], [0.0, 1.0, 0.0], [sf, 0.0, cf]])
        hx, hy = _ellipsoid_extent(radii, f @ t)
        out["ear"] = _ellipse_box(centre, hx, hy)
    else:
        assert lay.pointed_ear is not None
        out["ear"] = _cone_extent(lay.pointed_ear[0])
    return out


def part_regions(params: HeadParams, size: int = 256) -> list[PartRegion]:
    """Every part instance's region on a size x size canvas, in `PARTS` order, right before left (an
    animal has no mouth instance: its snout holds the lips)."""
    if not isinstance(params, HeadParams):
        raise ValueError(f"pass a HeadParams (from heads.sample_head), not {type(params).__name__}")
    size = _check_size(size)
    k = size / (2.0 * EXTENT)  # pixels per head unit
    out = []
    for part, (x0, y0, x1, y1) in _head_boxes(params).items():
        gx = MARGIN * 0.5 * (x1 - x0) + MARGIN_UNITS
        gy = MARGIN * 0.5 * (y1 - y0) + MARGIN_UNITS
        x0, x1, y0, y1 = x0 - gx, x1 + gx, y0 - gy, y1 + gy
        sides = ("centre",) if part in ("nose", "mouth") else ("right", "left")
        for side in sides:
            a0, a1 = (-x1, -x0) if side == "left" else (x0, x1)
            box = (size / 2.0 + a0 * k, size / 2.0 - y1 * k, size / 2.0 + a1 * k, size / 2.0 - y0 * k)
            out.append(PartRegion(part, side, tuple(float(b) for b in box)))
    order = {p: i for i, p in enumerate(PARTS)}
    out.sort(key=lambda r: (order[r.part], SIDES.index(r.side)))
    return out


# -- strokes ---------------------------------------------------------------------------------------
def drawing_polylines(drawing: FaceSketch | Sketch | Sequence[FaceCurve] | Sequence[np.ndarray]) -> list[np.ndarray]:
    """The polylines (M, 2) (u, v pixels) of a drawing: a `FaceSketch` or `Sketch` (its strokes'
    u, v), a list of `FaceCurve`s (their points) or of point arrays (the first two columns)."""
    if isinstance(drawing, FaceSketch):
        drawing = drawing.sketch
    if isinstance(drawing, Sketch):
        items = [s.uv for s in drawing.strokes]
    elif isinstance(drawing, (list, tuple)):
        items = [c.points if isinstance(c, FaceCurve) else c for c in drawing]
    else:
        raise ValueError("pass a drawing: a FaceSketch, a Sketch, or a list of FaceCurves or (M, 2) point arrays, "
                         f"not {type(drawing).__name__}")
    out = []
    for i, p in enumerate(items):
        a = np.asarray(p, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] < 2:
            raise ValueError(f"stroke {i} has points of shape {a.shape}; pass (M, 2) u, v pixel arrays")
        out.append(a[:, :2])
    return out


def _inside(pts: np.ndarray, box: Box) -> np.ndarray:
    return (pts[:, 0] >= box[0]) & (pts[:, 0] <= box[2]) & (pts[:, 1] >= box[1]) & (pts[:, 1] <= box[3])


def _length(p: np.ndarray) -> float:
    return float(np.sum(np.linalg.norm(np.diff(p, axis=0), axis=1))) if len(p) > 1 else 0.0


def assign_strokes(polylines: Sequence[np.ndarray], regions: Sequence[PartRegion]) -> list[int]:
    """For each polyline, the index of the region it belongs to (-1: none); see the module docstring."""
    areas = [(r.box[2] - r.box[0]) * (r.box[3] - r.box[1]) for r in regions]
    out = []
    for p in polylines:
        p = np.asarray(p, dtype=np.float64)
        if len(p) == 0 or not regions:
            out.append(-1)
            continue
        shares = [float(np.mean(_inside(p, r.box))) for r in regions]
        best = max(range(len(regions)), key=lambda i: (round(shares[i], 9), -areas[i]))
        out.append(best if shares[best] >= MIN_SHARE else -1)
    return out


def _pieces(p: np.ndarray, box: Box, min_len: float) -> list[np.ndarray]:
    """The runs of consecutive points of p inside box, at least min_len long."""
    inside = _inside(p, box)
    if not inside.any():
        return []
    edges = np.diff(np.concatenate([[0], inside.astype(np.int8), [0]]))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    return [p[s:e].copy() for s, e in zip(starts, ends) if e - s >= 2 and _length(p[s:e]) >= min_len]


def part_strokes(drawing: FaceSketch | Sketch | Sequence[FaceCurve] | Sequence[np.ndarray], params: HeadParams,
                 size: int = 256, lend: bool = True) -> list[PartStrokes]:
    """The strokes of every part instance of `params`' head in `drawing` (see `drawing_polylines`
    for what a drawing can be), in `part_regions` order; parts nothing was drawn for have no
    strokes and no polylines. `lend` False leaves out the pieces of part-less strokes."""
    regions = part_regions(params, size)
    polys = drawing_polylines(drawing)
    owner = assign_strokes(polys, regions)
    min_len = MIN_PIECE_PX * size / 256.0
    out = []
    for i, r in enumerate(regions):
        idx = tuple(j for j, o in enumerate(owner) if o == i)
        lines = [polys[j].copy() for j in idx]
        if lend:
            for j, o in enumerate(owner):
                if o == -1:
                    lines += _pieces(polys[j], r.box, min_len)
        out.append(PartStrokes(r.part, r.side, r.box, idx, tuple(lines)))
    return out


# -- part frame and images -------------------------------------------------------------------------
def _check_box(box: object) -> Box:
    try:
        b = tuple(float(v) for v in box)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"pass a box as (u0, v0, u1, v1) pixel numbers, got {box!r}") from None
    if len(b) != 4 or not all(math.isfinite(v) for v in b) or b[2] <= b[0] or b[3] <= b[1]:
        raise ValueError(f"pass a box (u0, v0, u1, v1) with u0 < u1 and v0 < v1, got {box!r}")
    return b  # type: ignore[return-value]


def to_part_frame(polylines: Sequence[np.ndarray], box: Box, mirror: bool = False) -> list[np.ndarray]:
    """Canvas polylines (M, 2) to the normalised part frame of `box`: (p - centre) / longer side,
    x negated when `mirror` (a left instance)."""
    u0, v0, u1, v1 = _check_box(box)
    c = np.array([(u0 + u1) / 2.0, (v0 + v1) / 2.0])
    s = max(u1 - u0, v1 - v0)
    out = []
    for p in polylines:
        q = (np.asarray(p, dtype=np.float64)[:, :2] - c) / s
        if mirror:
            q[:, 0] = -q[:, 0]
        out.append(q)
    return out


def from_part_frame(polylines: Sequence[np.ndarray], box: Box, mirror: bool = False) -> list[np.ndarray]:
    """Part-frame polylines placed into `box` on the canvas (the inverse of `to_part_frame`):
    how a library entry becomes ghost strokes in the person's box (`mirror` for a left part)."""
    u0, v0, u1, v1 = _check_box(box)
    c = np.array([(u0 + u1) / 2.0, (v0 + v1) / 2.0])
    s = max(u1 - u0, v1 - v0)
    out = []
    for p in polylines:
        q = np.asarray(p, dtype=np.float64)[:, :2].copy()
        if mirror:
            q[:, 0] = -q[:, 0]
        out.append(q * s + c)
    return out


def render_part_frame(polylines: Sequence[np.ndarray], image_size: int = IMAGE_SIZE) -> np.ndarray:
    """Part-frame polylines as an (image_size, image_size) float32 ink image 0..1: the frame's
    -0.5..0.5 spans the image, anti-aliased lines about `LINE_PX` * image_size / 64 pixels wide."""
    if not isinstance(image_size, (int, np.integer)) or isinstance(image_size, bool) or image_size < 8:
        raise ValueError(f"pass an integer image size of at least 8 pixels, got {image_size!r}")
    n = int(image_size)
    # draw at twice the size and halve: smooth lines of any width, not OpenCV's 1-px AA only
    big = 2 * n
    img = np.zeros((big, big), np.uint8)
    width = max(1, int(round(2 * LINE_PX * n / 64.0)))
    lines = []
    for p in polylines:
        q = np.asarray(p, dtype=np.float64)
        q = q[np.isfinite(q).all(axis=1)]
        if len(q) == 0:
            continue
        if len(q) == 1:
            q = np.vstack([q, q])
        px = (q + 0.5) * big - 0.5
        lines.append(np.round(px * (1 << _SHIFT)).astype(np.int32))
    if lines:
        cv2.polylines(img, lines, False, 255, width, cv2.LINE_AA, _SHIFT)
    small = cv2.resize(img, (n, n), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0


def part_image(polylines: Sequence[np.ndarray], box: Box, image_size: int = IMAGE_SIZE,
               mirror: bool = False) -> np.ndarray:
    """The part's strokes (canvas polylines) as a square float32 ink image 0..1 centred on `box`,
    scaled so the box's longer side spans the image; `mirror` flips it left to right (pass True
    for a left instance, so it looks like a right one)."""
    return render_part_frame(to_part_frame(polylines, box, mirror), image_size)
