"""Painting strokes over the view: their colors by kind, their width by pressure, and hit tests.

Stroke coordinates. A point's u, v are Qt's logical mouse (or tablet) position taken as is,
`position().x(), position().y()`: the same continuous coordinates the view is rendered in.
A mouse reports whole numbers, the corner of the pixel under the hot spot, so a mouse stroke sits
up to half a pixel up-left of the pixel centres it covered; a tablet reports sub-pixel positions.
"""

from __future__ import annotations

from typing import Callable, Iterable, Protocol, Sequence

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF

from sketchforge.modeling.sketch import Stroke

STROKE_WIDTH = 3.0          # pixels at full pressure
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
