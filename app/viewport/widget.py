"""The viewport widget: draws the document's bodies, a proposal's change and the sketch state.

It only reads: bodies come in through `set_bodies`, a proposal's added and removed material
through `set_ghost`, and the strokes live in a `SketchState` that the widget draws and feeds
(`add_stroke`, `remove_stroke`). It tells the state which view the strokes are drawn in
(`set_view`) whenever its camera or canvas changes, so `sketch_state.to_sketch()` is always the
sketch in the view it was drawn in. While strokes are on the canvas the camera holds still, or,
with `park_on_orbit`, the strokes are parked with their view and `return_to` brings them back.
"""

from __future__ import annotations

import dataclasses
import gc
from typing import Any, Iterable, Mapping

import numpy as np
import pyqtgraph.opengl as gl
from OpenGL import GL
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QResizeEvent, QVector3D
from PySide6.QtOpenGL import QOpenGLPaintDevice
from PySide6.QtWidgets import QWidget

from sketchforge.modeling.bodies import Body
from sketchforge.modeling.camera import Camera
from sketchforge.modeling.sketch import Stroke
from sketchforge.modeling.sketchstate import SketchState, View

from . import camera as orbits
from .canvas import SketchCanvas, listener
from .display import ADDED, MODEL, REMOVED, BodyLayer
from .input import Pen, PointerInput
from .overlay import paint_label, paint_legend, paint_triad
from .parts import RGB, labelled_clouds, legend, part_colors, parts_present
from .strokes import StrokeColors, frozen, paint_ghost_strokes, paint_stroke, scaling

HOLD_MESSAGE = "Clear or interpret the strokes to move the view"
PARK_MESSAGE = "The strokes are put aside with their view; return to it to draw on"
BACKGROUND = (46, 52, 64)


def _bodies(bodies: Mapping[str, Body] | Iterable[Body] | None) -> list[Body]:
    return [] if bodies is None else list(bodies.values() if isinstance(bodies, Mapping) else bodies)


class Viewport(PointerInput, SketchCanvas, gl.GLViewWidget):
    """Shows the document's bodies and a proposal's change; draws the sketch state and feeds it strokes."""

    strokes_changed = Signal()
    stroke_finished = Signal()
    message = Signal(str)
    tool_changed = Signal(str)
    _linked = False  # pyqtgraph's set-up may move the camera before there is a state to tell

    def __init__(self, parent: QWidget | None = None, sketch: SketchState | None = None) -> None:
        super().__init__(parent, rotationMethod="euler")
        self._state = sketch if sketch is not None else SketchState()
        self._published: View | None = None
        self._adopting = False
        self.park_on_orbit = False
        self._model, self._added, self._removed = BodyLayer(MODEL), BodyLayer(ADDED), BodyLayer(REMOVED)
        self._ghost_label = ""
        self._ghost_confidence: float | None = None
        self._ghost_strokes: list[np.ndarray] = []
        self._parts_shown = False
        self._legend: list[tuple[str, RGB]] = []
        self._colors = StrokeColors()
        self._tool = "navigate"
        self._stroke_kind: str | None = None
        self._pen = Pen()
        self._nav_button: Qt.MouseButton | None = None
        self._nav_held: bool | None = None
        self._nav_pan = False
        self._last_pos = QPointF()
        self._follow = QTimer(self)
        self._follow.setSingleShot(True)
        self._follow.setInterval(0)
        self._follow.timeout.connect(self._follow_state_view)
        self.setBackgroundColor(BACKGROUND)
        iso = orbits.VIEW_ANGLES["iso"]
        self._set_orbit({"center": (0.0, 0.0, 0.0), "distance": 200.0, "azimuth": iso[0], "elevation": iso[1],
                         "fov": 50.0})
        self._state.changed.connect(listener(self, self._state))
        self._linked = True
        if self._state.strokes:
            self._adopt_state_view()
        else:
            self._publish_view()

    # -- bodies and the proposal's change --------------------------------------------------------
    def set_bodies(self, bodies: Mapping[str, Body]) -> None:
        """Show these bodies; GL items of bodies that are the same objects as before are kept."""
        was_empty = not self._model
        self._model.sync(self, bodies.values())
        self._color_parts()
        if was_empty and self._model and not self.has_strokes():
            self.fit_all()
        self.update()

    def set_ghost(self, added: Mapping[str, Body] | Iterable[Body] | None, label: str = "",
                  removed: Mapping[str, Body] | Iterable[Body] | None = None,
                  confidence: float | None = None) -> None:
        """Preview a proposal's change over the model: `added` material translucent blue-green, `removed`
        material red (seen through the model), `label` in a corner with the `confidence` (0..1) when
        given (a label alone says why there is nothing to show). `set_ghost(None)` clears."""
        add, rem = _bodies(added), _bodies(removed)
        if confidence is not None:
            confidence = float(confidence)
            if not np.isfinite(confidence):
                raise ValueError("a confidence is a number from 0 to 1, or None")
            confidence = min(1.0, max(0.0, confidence))
        self._added.sync(self, add)
        self._removed.sync(self, rem)
        self._ghost_label = label or ""
        self._ghost_confidence = confidence if (label or add or rem) else None
        self.update()

    @property
    def ghost_label(self) -> str:
        return self._ghost_label

    @property
    def ghost_confidence(self) -> float | None:
        return self._ghost_confidence

    def ghost_bodies(self) -> list[Body]:
        """The material the previewed proposal adds."""
        return self._added.bodies()

    def ghost_removed(self) -> list[Body]:
        """The material the previewed proposal takes away."""
        return self._removed.bodies()

    def bodies(self) -> list[Body]:
        return self._model.bodies()

    def items_of(self, body: Body) -> list:
        """The GL items that draw `body` (a body object of the model shown)."""
        return self._model.items(body)

    # -- parts -----------------------------------------------------------------------------------
    def show_parts(self, on: bool) -> list[tuple[str, RGB]]:
        """Draw every cloud whose parts are known in one color per part, with a legend (on), or in its
        own colors (off); only the picture changes. Returns the legend's rows."""
        self._parts_shown = bool(on)
        self._color_parts()
        self.update()
        return self.part_legend()

    @property
    def parts_shown(self) -> bool:
        return self._parts_shown

    def part_legend(self) -> list[tuple[str, RGB]]:
        """(part name, color) of the parts shown by color; [] while the true colors are shown."""
        return list(self._legend)

    def _color_parts(self) -> None:
        """Keep the clouds' part colors in step with the bodies shown (a new part name may take a color)."""
        colors = None
        if self._parts_shown:
            colors = part_colors(name for c in labelled_clouds(self.bodies()) for name in parts_present(c))
        if colors != self._model.look.part_colors:
            self._model.restyle(self, dataclasses.replace(self._model.look, part_colors=colors),
                                lambda body: body.kind == "points")
        self._legend = legend(self.bodies(), colors) if colors is not None else []

    # -- camera ----------------------------------------------------------------------------------
    def canvas_size(self) -> tuple[int, int]:
        """The sketch canvas: the widget's size in logical pixels."""
        return max(1, self.width()), max(1, self.height())

    def camera(self) -> Camera:
        """The current view as the spec's perspective camera over `canvas_size()`."""
        return orbits.camera_of(self._orbit(), *self.canvas_size())

    def set_camera(self, cam: Camera) -> bool:
        """Look through `cam` over this canvas (roll about the view axis is dropped; an orthographic
        camera is shown in perspective with the same scale at its target)."""
        if self._hold():
            return False
        w, h = self.canvas_size()
        self._set_orbit(orbits.orbit_of(cam, w, h, h))
        self._publish_view()
        return True

    def set_view(self, name: str) -> bool:
        """Turn to a standard view ("front", "back", "top", "right", "left", "iso") and frame the model."""
        if name not in orbits.VIEW_ANGLES:
            raise ValueError(f"unknown view {name!r}; use one of {', '.join(orbits.VIEWS)}")
        if self._hold():
            return False
        az, el = orbits.VIEW_ANGLES[name]
        self.opts["azimuth"], self.opts["elevation"] = az, el
        self._frame()
        return True

    def fit_all(self) -> bool:
        """Frame the bounds of all bodies (keeping the direction of view)."""
        if self._hold():
            return False
        self._frame()
        return True

    def _frame(self) -> None:
        center, distance = orbits.framing(orbits.bounds_of(self.bodies()), self._orbit(), *self.canvas_size())
        self._set_orbit({"center": center, "distance": distance})
        self._publish_view()

    def pan_pixels(self, dx: float, dy: float) -> None:
        """Move the view so the point under the cursor at the centre's depth follows the cursor."""
        move = orbits.pan_offset(self._orbit(), self.canvas_size()[0], dx, dy)
        self._set_orbit({"center": tuple(np.asarray(self._orbit()["center"]) + move)})
        self._publish_view()

    def zoom(self, factor: float) -> None:
        """Move the eye `factor` times as far from the centre."""
        self.opts["distance"] *= factor
        self.update()
        self._publish_view()

    def orbit(self, azim: float, elev: float) -> None:
        super().orbit(azim, elev)
        self._publish_view()

    def pan(self, dx: float, dy: float, dz: float, relative: str = "global") -> None:
        super().pan(dx, dy, dz, relative)
        self._publish_view()

    def setCameraPosition(self, *args: Any, **kwargs: Any) -> None:
        super().setCameraPosition(*args, **kwargs)
        if self._linked:
            self._publish_view()

    def setCameraParams(self, **kwargs: Any) -> None:
        super().setCameraParams(**kwargs)
        if self._linked:
            self._publish_view()

    def _orbit(self) -> dict[str, Any]:
        c = self.opts["center"]
        params = {k: float(self.opts[k]) for k in ("distance", "azimuth", "elevation", "fov")}
        return {"center": (c.x(), c.y(), c.z()), **params}

    def _set_orbit(self, orbit: Mapping[str, Any]) -> None:
        for key, value in orbit.items():
            self.opts[key] = QVector3D(*(float(c) for c in value)) if key == "center" else float(value)
        self.update()

    def _hold(self) -> bool:
        """True (and tell the user why) when strokes pin the camera; with `park_on_orbit` the strokes
        are parked with their view instead and the camera is free."""
        if not self.has_strokes():
            return False
        if self.park_on_orbit and not self._pen.drawing:
            self._follow_state_view()
            self._state.park()
            self.message.emit(PARK_MESSAGE)
            return False
        self.message.emit(HOLD_MESSAGE)
        return True

    def resizeEvent(self, ev: QResizeEvent) -> None:
        """Keep strokes on the model: the horizontal field of view is fixed, so the picture scales
        with the width about the centre."""
        super().resizeEvent(ev)
        old, new = ev.oldSize(), ev.size()
        if self._follow_state_view():
            return  # a view from outside, fitted to the new canvas with its strokes
        strokes = self._state.strokes
        if old.width() > 0 and old.height() > 0 and (strokes or self._pen.drawing):
            move = scaling((old.width(), old.height()), (new.width(), new.height()), new.width() / old.width())
            self._pen.move(move)
            self._publish_view()
            if strokes:
                self._state.set_strokes([Stroke(frozen(move(s.points)), s.kind) for s in strokes])
        else:
            self._publish_view()

    # -- painting --------------------------------------------------------------------------------
    def paintGL(self) -> None:
        # No garbage collection while drawing: GL views sit in reference cycles (items <-> view), and
        # collecting a dropped one runs its GL clean-up, which leaves no context current mid-frame.
        collecting = gc.isenabled()
        gc.disable()
        try:
            GL.glDepthMask(GL.GL_TRUE)  # the preview may have left it off; the clear needs it on
            super().paintGL()
            # Paint into the bound framebuffer, not `self`: while QWidget.grab()/render() runs, a
            # QPainter on the widget is redirected to the grab's pixmap and the GL picture covers it.
            device = QOpenGLPaintDevice(self.deviceWidth(), self.deviceHeight())
            device.setDevicePixelRatio(self.devicePixelRatioF())
            painter = QPainter(device)
            if painter.isActive():
                try:
                    self.paint_overlay(painter)
                finally:
                    painter.end()
        finally:
            if collecting:
                gc.enable()

    def paint_overlay(self, painter: QPainter) -> None:
        """Strokes, the axis triad and the proposal label, in logical pixels over the scene."""
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for s in self._state.strokes:
            paint_stroke(painter, s.points, self._colors.color(s.kind))
        if self._pen.points:
            paint_stroke(painter, np.array(self._pen.points, float), self._colors.color(self._stroke_kind))
        if self._ghost_strokes:
            paint_ghost_strokes(painter, self._ghost_strokes)
        paint_triad(painter, orbits.rotation(float(self.opts["azimuth"]), float(self.opts["elevation"])),
                    self.height())
        if self._ghost_label or self._ghost_confidence is not None:
            paint_label(painter, self._ghost_label, self._ghost_confidence)
        rows = self.part_legend()
        if rows:
            paint_legend(painter, rows, self.width())
