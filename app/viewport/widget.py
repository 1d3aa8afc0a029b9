"""The viewport widget: draws the document's bodies, a proposal's change and the sketch state.

It only reads: bodies come in through `set_bodies`, a proposal's added and removed material
through `set_ghost`, and the strokes live in a `SketchState` that the widget draws and feeds
(`add_stroke`, `remove_stroke`). It tells the state which view the strokes are drawn in
(`set_view`) whenever its camera or canvas changes, so `sketch_state.to_sketch()` is always the
sketch in the view it was drawn in. While strokes are on the canvas the camera holds still, or,
with `park_on_orbit`, the strokes are parked with their view and `return_to` brings them back.

A map view (`show_map`: orthographic, straight down, north up) does not orbit: a drag pans it, the
wheel zooms it, and strokes drawn on it follow the ground as it moves. A walk (`start_walk`) looks
through a walker's eye over a scene and gives the view back when it ends (`walk.py`).
"""

from __future__ import annotations

import dataclasses
import gc
from typing import Any, Iterable, Mapping

import numpy as np
import pyqtgraph.opengl as gl
from OpenGL import GL
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QMatrix4x4, QPainter, QResizeEvent, QVector3D
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
from .strokes import (
    AREA_WIDTH,
    StrokeColors,
    closes,
    frozen,
    paint_area,
    paint_band,
    paint_ghost_strokes,
    paint_stroke,
    scaling,
)
from .walk import TICK_MS, Walk, Walking

HOLD_MESSAGE = "Clear or interpret the strokes to move the view"
PARK_MESSAGE = "The strokes are put aside with their view; return to it to draw on"
BACKGROUND = (46, 52, 64)


def _bodies(bodies: Mapping[str, Body] | Iterable[Body] | None) -> list[Body]:
    return [] if bodies is None else list(bodies.values() if isinstance(bodies, Mapping) else bodies)


class Viewport(Walking, PointerInput, SketchCanvas, gl.GLViewWidget):
    """Shows the document's bodies and a proposal's change; draws the sketch state and feeds it strokes."""

    strokes_changed = Signal()
    stroke_finished = Signal()
    message = Signal(str)
    tool_changed = Signal(str)
    walk_changed = Signal(bool)
    _linked = False  # pyqtgraph's set-up may move the camera before there is a state to tell
    _walk: Walk | None = None

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
        self.area_brush = False     # area kinds painted as bands (`set_area_kinds`)
        self.area_width = AREA_WIDTH
        self._area_kinds: frozenset[str] = frozenset()
        self._map_fit: tuple[tuple[float, float], tuple[float, float], dict] | None = None
        self._walk: Walk | None = None
        self._walk_from: tuple[dict, tuple[int, int]] | None = None
        self._walk_keys: set = set()
        self._walk_clock = 0.0
        self._look_from: QPointF | None = None
        self._walk_timer = QTimer(self)
        self._walk_timer.setInterval(TICK_MS)
        self._walk_timer.timeout.connect(self._walk_tick)
        self.setBackgroundColor(BACKGROUND)
        iso = orbits.VIEW_ANGLES["iso"]
        self._set_orbit({"center": (0.0, 0.0, 0.0), "distance": 200.0, "azimuth": iso[0], "elevation": iso[1],
                         "fov": 50.0, "ortho": None})
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
        """The current view as the spec's camera over `canvas_size()`: perspective, or orthographic
        in a map view (or after `set_camera` with an orthographic camera)."""
        return orbits.camera_of(self._orbit(), *self.canvas_size())

    def set_camera(self, cam: Camera) -> bool:
        """Look through `cam` over this canvas (roll about the view axis is dropped; an orthographic
        camera is shown orthographically)."""
        self.stop_walk()
        if self._hold():
            return False
        w, h = self.canvas_size()
        self._set_orbit(orbits.orbit_of(cam, w, h, h))
        self._publish_view()
        return True

    def set_view(self, name: str) -> bool:
        """Turn to a standard view ("front", "back", "top", "right", "left", "iso"), in perspective, and
        frame the model."""
        if name not in orbits.VIEW_ANGLES:
            raise ValueError(f"unknown view {name!r}; use one of {', '.join(orbits.VIEWS)}")
        self.stop_walk()
        if self._hold():
            return False
        az, el = orbits.VIEW_ANGLES[name]
        self.opts["azimuth"], self.opts["elevation"], self.opts["ortho"] = az, el, None
        self._frame()
        return True

    def fit_all(self) -> bool:
        """Frame the bounds of all bodies (keeping the direction of view); a map view shows the ground
        under them."""
        self.stop_walk()
        if self.map_view:
            box = orbits.bounds_of(self.bodies())
            if box is not None:
                self.show_map((box[0] + box[1])[:2] / 2.0, (box[1] - box[0])[:2])
            return True
        if self._hold():
            return False
        self._frame()
        return True

    def _frame(self) -> None:
        self._set_orbit(orbits.framing(orbits.bounds_of(self.bodies()), self._orbit(), *self.canvas_size()))
        self._publish_view()

    # -- the map view ----------------------------------------------------------------------------
    @property
    def map_view(self) -> bool:
        """Whether the view is a map: orthographic, straight down, north up (see `camera.py`)."""
        return self._walk is None and orbits.is_map(self._orbit())

    def show_map(self, center_xy: Any = (0.0, 0.0), size: Any = (200000.0, 200000.0)) -> bool:
        """Look straight down, north up, through an orthographic view that shows the ground rectangle
        `size` (east-west, north-south, mm) centred on `center_xy` (mm), all of it (the canvas's aspect
        widens one way). From a map view the strokes follow the ground; from any other, strokes on
        the canvas hold the view (or are parked, with `park_on_orbit`) as for any change of view."""
        self.stop_walk()
        w, h = self.canvas_size()
        center = (float(center_xy[0]), float(center_xy[1]))
        extent = (float(size[0]), float(size[1]))
        orbit = orbits.map_orbit(center, extent, w, h)
        if self.map_view:
            self._move_map(orbit)
        elif self._hold():
            return False
        else:
            self._set_orbit(orbit)
            self._publish_view()
        self._map_fit = (center, extent, self._orbit())
        return True

    def _move_map(self, orbit: Mapping[str, Any]) -> None:
        """Move a map view to `orbit` (a map view too); strokes stay over the same ground."""
        self._follow_state_view()
        w, h = self.canvas_size()
        old = self.camera()
        self._set_orbit(orbit)
        self._publish_view()
        move = orbits.map_motion(old, self.camera(), w, h)
        self._pen.move(move)
        if self._state.strokes:
            self._state.set_strokes([Stroke(frozen(move(s.points)), s.kind) for s in self._state.strokes])

    # -- moving the view -------------------------------------------------------------------------
    def pan_pixels(self, dx: float, dy: float) -> None:
        """Move the view so the point under the cursor at the centre's depth follows the cursor."""
        move = orbits.pan_offset(self._orbit(), *self.canvas_size(), dx, dy)
        orbit = {"center": tuple(np.asarray(self._orbit()["center"]) + move)}
        if self.map_view:
            self._move_map(orbit)
            return
        self._set_orbit(orbit)
        self._publish_view()

    def zoom(self, factor: float) -> None:
        """Move the eye `factor` times as far from the centre (show `factor` times as much of an
        orthographic view)."""
        if self.opts["ortho"]:
            orbit = {"ortho": self.opts["ortho"] * factor}
            if self.map_view:
                self._move_map(orbit)
                return
            self._set_orbit(orbit)
        else:
            self.opts["distance"] *= factor
        self.update()
        self._publish_view()

    def orbit(self, azim: float, elev: float) -> None:
        """Turn about the centre; a map view does not turn."""
        if self.map_view:
            return
        self.stop_walk()
        super().orbit(azim, elev)
        self._publish_view()

    def pan(self, dx: float, dy: float, dz: float, relative: str = "global") -> None:
        self.stop_walk()
        super().pan(dx, dy, dz, relative)
        self._publish_view()

    def setCameraPosition(self, *args: Any, **kwargs: Any) -> None:
        if self._linked:
            self.stop_walk()
        super().setCameraPosition(*args, **kwargs)
        if self._linked:
            self._publish_view()

    def setCameraParams(self, **kwargs: Any) -> None:
        if self._linked:
            self.stop_walk()
        super().setCameraParams(**kwargs)
        if self._linked:
            self._publish_view()

    def projectionMatrix(self, region: Any, viewport: Any) -> QMatrix4x4:
        """pyqtgraph's perspective frustum, or the orthographic projection of an orthographic view."""
        if self.opts.get("ortho"):
            return orbits.projection_matrix(self._orbit(), region, viewport)
        return super().projectionMatrix(region, viewport)

    def _orbit(self) -> dict[str, Any]:
        c = self.opts["center"]
        params = {k: float(self.opts[k]) for k in ("distance", "azimuth", "elevation", "fov")}
        ortho = self.opts.get("ortho")
        return {"center": (c.x(), c.y(), c.z()), **params, "ortho": None if not ortho else float(ortho)}

    def _set_orbit(self, orbit: Mapping[str, Any]) -> None:
        for key, value in orbit.items():
            if key == "center":
                self.opts[key] = QVector3D(*(float(c) for c in value))
            elif key == "ortho":
                self.opts[key] = None if not value else float(value)
            else:
                self.opts[key] = float(value)
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
        """Keep strokes on the model: the horizontal field of view (the width of ground an
        orthographic view shows) is fixed, so the picture scales with the width about the centre. A
        map nobody has moved since `show_map` keeps showing all of its rectangle; a walk keeps its
        eye, and the view it gives back is fitted to the new canvas when it ends."""
        super().resizeEvent(ev)
        if self._walk is None:
            old, new = ev.oldSize(), ev.size()
            self._canvas_resized((old.width(), old.height()), (new.width(), new.height()))

    def _canvas_resized(self, old: tuple[int, int], new: tuple[int, int]) -> None:
        if self._follow_state_view():
            return  # a view from outside, fitted to the new canvas with its strokes
        strokes = self._state.strokes
        fit = self._map_fit
        if fit is not None and fit[2] == self._orbit() and not self.has_strokes():
            self._set_orbit(orbits.map_orbit(fit[0], fit[1], *self.canvas_size()))
            self._map_fit = (fit[0], fit[1], self._orbit())
            self._publish_view()
            return
        if old[0] > 0 and old[1] > 0 and self.opts["ortho"]:
            self.opts["ortho"] *= (new[1] / old[1]) * (old[0] / new[0])
        if old[0] > 0 and old[1] > 0 and (strokes or self._pen.drawing):
            move = scaling(old, new, new[0] / old[0])
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
        if self._walk is None:  # the strokes lie on the view they were drawn in, not on the walker's
            self._paint_strokes(painter)
        paint_triad(painter, orbits.rotation(float(self.opts["azimuth"]), float(self.opts["elevation"])),
                    self.height())
        if self._ghost_label or self._ghost_confidence is not None:
            paint_label(painter, self._ghost_label, self._ghost_confidence)
        rows = self.part_legend()
        if rows:
            paint_legend(painter, rows, self.width())

    def _paint_strokes(self, painter: QPainter) -> None:
        for s in self._state.strokes:
            color = self._colors.color(s.kind)
            if s.kind in self._area_kinds and closes(s.points):
                paint_area(painter, s.points, color)
            else:
                paint_stroke(painter, s.points, color)
        if self._pen.points:
            pts, color = np.array(self._pen.points, float), self._colors.color(self._stroke_kind)
            if self.area_brush_on():
                paint_band(painter, pts, color, self.area_width)
            else:
                paint_stroke(painter, pts, color)
        if self._ghost_strokes:
            paint_ghost_strokes(painter, self._ghost_strokes)
