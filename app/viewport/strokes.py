"""Painting strokes over the view: their colors by kind, their width by pressure, areas, and hit tests.

An area brush paints a wide band and saves it as the band's outline, one closed stroke of the same
kind (`band_outline`); a closed stroke of a kind drawn as areas is painted filled (`paint_area`).

Stroke coordinates. A point's u, v are Qt's logical mouse (or tablet) position taken as is,
`position().x(), position().y()`: the same continuous coordinates the view is rendered in.
A mouse reports whole numbers, the corner of the pixel under the hot spot, so a mouse stroke sits
up to half a pixel up-left of the pixel centres it covered; a tablet reports sub-pixel positions.
"""

from __future__ import annotations

from typing import Callable, Iterable, Protocol, Sequence

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPolygonF

from sketchforge.modeling.sketch import Stroke

STROKE_WIDTH = 3.0          # pixels at full pressure
AREA_WIDTH = 36.0           # pixels across the band an area brush paints
AREA_FILL_ALPHA = 80        # how opaque an area is painted (0..255)
ERASER_RADIUS = 6.0         # pixels from the cursor to a stroke that the eraser takes
FALLBACK_COLOR = (255, 140, 26)   # a kind nobody declared (and a plain line, unless declared)
GHOST_STROKE_COLOR = (120, 200, 255, 200)

# The roles the built-in tools draw, shown until the window hands over its mode's declared kinds.
DEFAULT_STROKE_COLORS: dict[str | None, tuple[int, int, int]] = {
    None: FALLBACK_COLOR,
    "ridge": (255, 64, 64),
    "valley": (60, 190, 90),
    "water": (40, 120, 255),
    "road": (235, 235, 200),
    "forest": (40, 170, 70),
    "building": (200, 90, 200),
    "mountain": (165, 110, 60),
    "mask": (255, 230, 0),
}


class KindLike(Protocol):
    """What a stroke kind declares for drawing (`contract.StrokeKind` has it)."""

    name: str | None
    color: tuple[int, int, int]


class StrokeColors:
    """The color each stroke kind is drawn in; an unknown kind takes the plain line's color."""

    def __init__(self) -> None:
        self._colors = dict(DEFAULT_STROKE_COLORS)

    def set_kinds(self, kinds: Iterable[KindLike]) -> None:
        """Take the colors from declared kinds (objects with `.name` and `.color`, RGB 0..255)."""
        colors: dict[str | None, tuple[int, int, int]] = {}
        for kind in kinds:
            rgb = tuple(int(c) for c in kind.color)
            if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
                raise ValueError(f"stroke kind {kind.name!r}: a color is (r, g, b) with each 0..255, "
                                 f"not {kind.color!r}")
            colors[kind.name] = rgb
        self._colors = colors

    def rgb(self, kind: str | None) -> tuple[int, int, int]:
        return self._colors.get(kind, self._colors.get(None, FALLBACK_COLOR))

    def color(self, kind: str | None) -> QColor:
        return QColor(*self.rgb(kind))


def paint_stroke(painter: QPainter, pts: np.ndarray, color: QColor) -> None:
    """One stroke (rows u, v, pressure, ...): a dot, a line of even width, or pressure-wide pieces."""
    if len(pts) == 1:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        r = STROKE_WIDTH * pressure_scale(pts[0, 2]) / 2.0
        painter.drawEllipse(QPointF(pts[0, 0], pts[0, 1]), r, r)
        return
    pressures = pts[:, 2]
    if np.all(pressures == pressures[0]):
        painter.setPen(QPen(color, STROKE_WIDTH * pressure_scale(pressures[0]), Qt.PenStyle.SolidLine,
                            Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
        painter.drawPolyline(QPolygonF([QPointF(u, v) for u, v in pts[:, :2]]))
        return
    for a, b in zip(pts[:-1], pts[1:]):
        width = STROKE_WIDTH * pressure_scale((a[2] + b[2]) / 2.0)
        painter.setPen(QPen(color, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawLine(QPointF(a[0], a[1]), QPointF(b[0], b[1]))


def paint_band(painter: QPainter, pts: np.ndarray, color: QColor, width: float = AREA_WIDTH) -> None:
    """The stroke an area brush is drawing: a translucent band `width` pixels across."""
    fill = QColor(color)
    fill.setAlpha(AREA_FILL_ALPHA)
    painter.setPen(QPen(fill, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
    painter.drawPolyline(QPolygonF([QPointF(u, v) for u, v in pts[:, :2]]))


def paint_area(painter: QPainter, pts: np.ndarray, color: QColor) -> None:
    """A closed stroke of an area kind: filled (overlaps too), with its outline."""
    fill = QColor(color)
    fill.setAlpha(AREA_FILL_ALPHA)
    path = QPainterPath()
    path.addPolygon(QPolygonF([QPointF(u, v) for u, v in pts[:, :2]]))
    path.closeSubpath()
    path.setFillRule(Qt.FillRule.WindingFill)
    painter.setPen(QPen(color, 1.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
    painter.setBrush(fill)
    painter.drawPath(path)
    painter.setBrush(Qt.BrushStyle.NoBrush)


def closes(uv: np.ndarray) -> bool:
    """Whether a stroke closes on itself: its ends nearer than a tenth of its length."""
    uv = np.asarray(uv, float)[:, :2]
    if len(uv) < 3:
        return False
    length = float(np.linalg.norm(np.diff(uv, axis=0), axis=1).sum())
    return float(np.linalg.norm(uv[-1] - uv[0])) < 0.1 * length


def band_outline(points: np.ndarray, width: float = AREA_WIDTH, cap_points: int = 6) -> np.ndarray:
    """The outline (M, 4) of the band `width` pixels across along a stroke's points (rows u, v,
    pressure, t): one side, a round cap, the other side back, a round cap, and the first point
    again, at mid pressure and 8 ms a point."""
    uv = np.asarray(points, float)[:, :2]
    keep = np.r_[True, np.linalg.norm(np.diff(uv, axis=0), axis=1) > 1e-9]
    uv = uv[keep]
    half = width / 2.0
    if len(uv) == 1:
        a = np.linspace(0.0, 2.0 * np.pi, 4 * cap_points + 1)
        ring = uv[0] + half * np.stack([np.cos(a), np.sin(a)], 1)
    else:
        length = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(uv, axis=0), axis=1))]
        n = max(2, int(np.ceil(length[-1] / max(width / 6.0, 2.0))) + 1)
        at = np.linspace(0.0, length[-1], n)
        c = np.stack([np.interp(at, length, uv[:, 0]), np.interp(at, length, uv[:, 1])], 1)
        tangent = np.gradient(c, axis=0)
        tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-12)
        normal = np.stack([-tangent[:, 1], tangent[:, 0]], 1)
        left, right = c + half * normal, c - half * normal

        def cap(centre: np.ndarray, start: np.ndarray) -> np.ndarray:
            a0 = np.arctan2(start[1] - centre[1], start[0] - centre[0])
            a = a0 - np.linspace(0.0, np.pi, cap_points + 2)[1:-1]
            return centre + half * np.stack([np.cos(a), np.sin(a)], 1)

        ring = np.concatenate([left, cap(c[-1], left[-1]), right[::-1], cap(c[0], right[0]), left[:1]])
    m = len(ring)
    return np.column_stack([ring, np.full(m, 0.5), 8.0 * np.arange(m)])


def paint_ghost_strokes(painter: QPainter, polylines: Sequence[np.ndarray]) -> None:
    """Suggested strokes, dashed, so they read as not drawn yet."""
    painter.setPen(QPen(QColor(*GHOST_STROKE_COLOR), 2.0, Qt.PenStyle.DashLine, Qt.PenCapStyle.RoundCap,
                        Qt.PenJoinStyle.RoundJoin))
    for p in polylines:
        painter.drawPolyline(QPolygonF([QPointF(u, v) for u, v in p]))


def stroke_at(strokes: Sequence[Stroke], u: float, v: float, radius: float = ERASER_RADIUS) -> int | None:
    """Index of the topmost stroke passing within `radius` pixels of (u, v), or None."""
    q = np.array([u, v], float)
    reach = radius + STROKE_WIDTH / 2.0
    for i in range(len(strokes) - 1, -1, -1):
        uv = strokes[i].uv
        if len(uv) == 1:
            d = float(np.linalg.norm(uv[0] - q))
        else:
            a, b = uv[:-1], uv[1:]
            ab = b - a
            L2 = np.maximum((ab * ab).sum(1), 1e-12)
            tpar = np.clip(((q - a) * ab).sum(1) / L2, 0.0, 1.0)
            d = float(np.min(np.linalg.norm(a + tpar[:, None] * ab - q, axis=1)))
        if d <= reach:
            return i
    return None


def scaling(old: tuple[float, float], new: tuple[float, float], k: float) -> Callable[[np.ndarray], np.ndarray]:
    """Points (rows u, v, ...) on a canvas `old` (w, h) moved to `new`, scaled by k about the centres."""
    def move(p: np.ndarray) -> np.ndarray:
        p = np.array(p, float)
        p[:, 0] = new[0] / 2.0 + (p[:, 0] - old[0] / 2.0) * k
        p[:, 1] = new[1] / 2.0 + (p[:, 1] - old[1] / 2.0) * k
        return p
    return move


def frozen(a: np.ndarray) -> np.ndarray:
    """A read-only float copy: stroke points are values."""
    a = np.array(a, float)
    a.setflags(write=False)
    return a


def pressure_scale(p: float) -> float:
    return 0.35 + 0.65 * float(p)
