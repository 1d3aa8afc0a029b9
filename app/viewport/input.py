"""Stroke input: mouse and tablet events turned into strokes, erasing and camera gestures.

The stroke in progress (the button still down) lives in `Pen`; a finished stroke goes to the
sketch state through the widget's `_commit_stroke`, and the eraser takes strokes out of the state.
`PointerInput` is mixed into the viewport (before the GL widget) and asks of it: `_tool`,
`_stroke_kind`, `_pen`, `_hold()`, `map_view`, `_commit_stroke(points)`, `_erase_near(u, v)`,
`orbit`, `pan_pixels`, `zoom` and the `message` and `tool_changed` signals.

A map view does not orbit: there a left drag pans too, and panning and zooming move the strokes
with the ground instead of holding the view.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QKeyEvent, QMouseEvent, QPointingDevice, QTabletEvent, QWheelEvent

from .strokes import ERASER_RADIUS

TOOLS = ("navigate", "pen", "eraser")
_CURSORS = {"navigate": Qt.CursorShape.ArrowCursor, "pen": Qt.CursorShape.CrossCursor,
            "eraser": Qt.CursorShape.PointingHandCursor}

Point = tuple[float, float, float, float]   # u, v, pressure, t_ms


class Pen:
    """The stroke being drawn and the eraser's drag: pointer state that is not yet the sketch's."""

    def __init__(self) -> None:
        self.points: list[Point] | None = None
        self.erasing = False
        self._t0 = 0.0
        self._erase_from: tuple[float, float] | None = None

    @property
    def drawing(self) -> bool:
        return self.points is not None

    def begin(self, u: float, v: float, pressure: float) -> None:
        self.points = [(u, v, clip01(pressure), 0.0)]
        self._t0 = time.monotonic()

    def extend(self, u: float, v: float, pressure: float) -> bool:
        """Add a point (a repeat of the last position adds nothing); True when it was added."""
        if self.points is None:
            return False
        last = self.points[-1]
        if u == last[0] and v == last[1]:
            return False
        self.points.append((u, v, clip01(pressure), (time.monotonic() - self._t0) * 1000.0))
        return True

    def take(self) -> np.ndarray | None:
        """End the stroke: its points (N, 4), or None for nothing or a click without a drag."""
        pts, self.points = self.points, None
        if pts is None or len(pts) < 2:
            return None
        return np.array(pts, float)

    def cancel(self) -> bool:
        had, self.points = self.points is not None, None
        return had

    def move(self, move: Callable[[np.ndarray], np.ndarray]) -> None:
        """Move the stroke in progress with the canvas (a resize)."""
        if self.points:
            self.points = [tuple(r) for r in move(np.array(self.points, float))]

    def start_erasing(self) -> None:
        self.erasing = True
        self._erase_from = None

    def erase_path(self, u: float, v: float) -> list[tuple[float, float]]:
        """Points from the eraser's last position to (u, v), an eraser radius apart (fast drags skip
        pixels)."""
        su, sv = self._erase_from if self._erase_from is not None else (u, v)
        self._erase_from = (u, v)
        steps = max(1, math.ceil(math.hypot(u - su, v - sv) / ERASER_RADIUS))
        return [(su + s * (u - su), sv + s * (v - sv)) for s in np.linspace(0.0, 1.0, steps + 1)]


class PointerInput:
    """The tools and the mouse, tablet, wheel and key events of the viewport (see the module's doc
    for what it needs)."""

    @property
    def tool(self) -> str:
        return self._tool

    @tool.setter
    def tool(self, name: str) -> None:
        self.set_tool(name)

    def set_tool(self, name: str) -> None:
        """"navigate" (orbit, pan, zoom), "pen" (draw strokes) or "eraser" (remove whole strokes)."""
        if name not in TOOLS:
            raise ValueError(f"unknown tool {name!r}; use one of {', '.join(TOOLS)}")
        if name == self._tool:
            return
        self._finish_stroke()
        self._pen.erasing = False
        self._tool = name
        self.setCursor(_CURSORS[name])
        self.tool_changed.emit(name)

    @property
    def stroke_kind(self) -> str | None:
        return self._stroke_kind

    @stroke_kind.setter
    def stroke_kind(self, kind: str | None) -> None:
        if kind is not None and (not isinstance(kind, str) or not kind):
            raise ValueError("a stroke kind is a non-empty string, or None for a plain line")
        self._stroke_kind = kind

    def _begin_stroke(self, pos: QPointF, pressure: float) -> None:
        self._pen.begin(pos.x(), pos.y(), pressure)
        self.update()

    def _extend_stroke(self, pos: QPointF, pressure: float) -> None:
        if self._pen.extend(pos.x(), pos.y(), pressure):
            self.update()

    def _finish_stroke(self) -> None:
        drawing = self._pen.drawing
        pts = self._pen.take()
        if drawing:
            self.update()
        if pts is not None:
            self._commit_stroke(pts)

    def _erase_at(self, pos: QPointF) -> None:
        for u, v in self._pen.erase_path(pos.x(), pos.y()):
            self._erase_near(u, v)

    def _start_erasing(self, pos: QPointF) -> None:
        self._pen.start_erasing()
        self._erase_at(pos)

    def mousePressEvent(self, ev: QMouseEvent) -> None:
        pos = ev.position()
        left = ev.button() == Qt.MouseButton.LeftButton
        if left and self._tool == "pen":
            self._begin_stroke(pos, 1.0)
        elif left and self._tool == "eraser":
            self._start_erasing(pos)
        elif ev.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton):
            # The gesture is chosen at the press: middle or shift/ctrl + left pans, left orbits. Whether
            # strokes hold the camera (or are parked) is asked at the first move: a click moves nothing.
            pan_mods = Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier
            self._nav_button = ev.button()
            self._nav_pan = not left or bool(ev.modifiers() & pan_mods) or self.map_view
            self._nav_held = None
            self._last_pos = pos
        ev.accept()

    def mouseMoveEvent(self, ev: QMouseEvent) -> None:
        pos = ev.position()
        if self._pen.drawing:
            self._extend_stroke(pos, 1.0)
        elif self._pen.erasing:
            self._erase_at(pos)
        elif self._nav_button is not None:
            if self._nav_held is None:
                self._nav_held = not self.map_view and self._hold()
            if not self._nav_held:
                d = pos - self._last_pos
                self._last_pos = pos
                if self._nav_pan:
                    self.pan_pixels(d.x(), d.y())
                else:
                    self.orbit(-0.5 * d.x(), 0.5 * d.y())
        ev.accept()

    def mouseReleaseEvent(self, ev: QMouseEvent) -> None:
        if ev.button() == Qt.MouseButton.LeftButton and self._pen.drawing:
            self._extend_stroke(ev.position(), self._pen.points[-1][2])
            self._finish_stroke()
        elif ev.button() == Qt.MouseButton.LeftButton and self._pen.erasing:
            self._pen.erasing = False
        elif ev.button() == self._nav_button:
            self._nav_button = None
            self._nav_held = None
        ev.accept()

    def tabletEvent(self, ev: QTabletEvent) -> None:
        """A pen: its pressure goes into the stroke; its eraser end erases whatever tool is chosen."""
        eraser = (self._tool == "eraser"
                  or ev.pointerType() == QPointingDevice.PointerType.Eraser)
        if self._tool == "navigate" and not eraser:
            ev.ignore()  # Qt turns it into mouse events: orbit and pan as with a mouse
            return
        pos, kind = ev.position(), ev.type()
        if kind == QEvent.Type.TabletPress:
            if eraser:
                self._start_erasing(pos)
            else:
                self._begin_stroke(pos, ev.pressure())
        elif kind == QEvent.Type.TabletMove:
            if self._pen.drawing:
                self._extend_stroke(pos, ev.pressure())
            elif self._pen.erasing:
                self._erase_at(pos)
        elif kind == QEvent.Type.TabletRelease:
            if self._pen.drawing:
                self._finish_stroke()
            self._pen.erasing = False
        ev.accept()

    def wheelEvent(self, ev: QWheelEvent) -> None:
        if not self.map_view and self._hold():
            ev.accept()
            return
        pixels = ev.pixelDelta()
        if not pixels.isNull():  # trackpads report pixels
            delta, base = pixels.y() or pixels.x(), 0.995
        else:
            angle = ev.angleDelta()
            delta, base = angle.y() or angle.x(), 0.999
        self.zoom(base ** delta)
        ev.accept()

    def keyPressEvent(self, ev: QKeyEvent) -> None:
        if ev.key() == Qt.Key.Key_Escape and self._pen.cancel():
            self.update()
            ev.accept()
            return
        if ev.key() in self.noRepeatKeys and (self.map_view or self._hold()):
            ev.accept()
            return
        super().keyPressEvent(ev)


def clip01(x: float) -> float:
    return min(1.0, max(0.0, float(x)))
