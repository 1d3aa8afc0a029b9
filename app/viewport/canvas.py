"""The viewport as a sketch canvas: its link to the `SketchState` that holds the strokes.

The widget keeps no strokes of its own (only the one being drawn, in `Pen`): it reads the state to
paint, feeds it finished strokes (`add_stroke`) and erasures (`remove_stroke`), repaints when
the state's `changed` fires, and tells it the view the strokes are drawn in (`set_view`) whenever
its camera or canvas changes. When code outside moves the state's view (a loaded or restored
sketch), the widget looks through that view, scaled to its canvas, and moves the strokes along.

The stroke methods here are thin delegations kept for the main window; new code talks to
`viewport.sketch_state` directly. `SketchCanvas` is mixed into the viewport and asks of it:
`_state`, `_pen`, `_published`, `_adopting`, `_follow` (a zero-time single-shot timer),
`_stroke_kind`, `_colors`, `_ghost_strokes`, `area_brush`, `area_width`, `_area_kinds`,
`canvas_size()`, `camera()`, `_set_orbit(orbit)`, `_finish_stroke()`, `_drop_walk()` and the
`strokes_changed` / `stroke_finished` signals.
"""

from __future__ import annotations

import dataclasses
import weakref
from typing import Callable, Iterable, Sequence

import numpy as np
import shiboken6
from PySide6.QtGui import QColor

from sketchforge.modeling.sketch import Sketch, Stroke
from sketchforge.modeling.sketchstate import SketchState, View

from . import camera as orbits
from .strokes import ERASER_RADIUS, KindLike, band_outline, frozen, scaling
from .strokes import stroke_at as _stroke_at


def listener(canvas: SketchCanvas, state: SketchState) -> Callable[[str], None]:
    """A slot for the state's events that does not keep the widget alive and lets go once it is gone."""
    ref = weakref.ref(canvas)

    def listen(what: str) -> None:
        c = ref()
        if c is None or not shiboken6.isValid(c):
            state.changed.disconnect(listen)
            return
        c._sketch_changed(what)
    return listen


class SketchCanvas:
    """The sketch-state side of the viewport (see the module's doc for what it needs of the widget)."""

    @property
    def sketch_state(self) -> SketchState:
        """The strokes this viewport draws and feeds (shared with the console when the session's)."""
        return self._state

    def _sketch_changed(self, what: str) -> None:
        if what == "view" and not self._adopting and self._state.view != self._published:
            self._follow.start()  # moved from outside (a loaded sketch): look through it once it settles
        self.update()
        if what == "strokes":
            self.strokes_changed.emit()

    def _publish_view(self) -> None:
        """Tell the state the view the strokes are drawn in: this camera over this canvas."""
        self._follow_state_view()
        w, h = self.canvas_size()
        self._published = View(self.camera(), w, h)
        self._state.set_view(self._published.camera, w, h)

    def _follow_state_view(self) -> bool:
        """Look through the state's view if code outside moved it; True when it did."""
        if self._published is None or self._state.view == self._published or self._adopting:
            return False
        self._adopt_state_view()
        return True

    def _adopt_state_view(self) -> None:
        """Look through the state's view, scaled to fit this canvas; its strokes move with it (a walk
        under way ends: this view takes its place)."""
        self._drop_walk()
        view = self._state.view
        w, h = self.canvas_size()
        k = min(w / view.width, h / view.height)
        self._adopting = True
        try:
            self._set_orbit(orbits.orbit_of(view.camera, w, h, view.height, k))
            self._published = View(self.camera(), w, h)
            self._state.set_view(self._published.camera, w, h)
            if (w, h) != (view.width, view.height) and self._state.strokes:
                move = scaling((view.width, view.height), (w, h), k)
                self._state.set_strokes([Stroke(frozen(move(s.points)), s.kind) for s in self._state.strokes])
        finally:
            self._adopting = False

    def return_to(self, view: View | None = None) -> bool:
        """Bring back the strokes parked with `view` (default the last parked) and look through that
        view again; strokes on the canvas now are parked with theirs. False when nothing is parked."""
        parked = self._state.parked
        target = view if view is not None else (parked[-1] if parked else None)
        if target is None or target not in parked:
            return False
        self._finish_stroke()
        here = self._state.strokes
        if here and self._state.view != target:
            self._state.park()
            here = ()
        self._adopting = True
        try:
            self._state.restore(target)
            if here:
                self._state.set_strokes((*self._state.strokes, *here))
        finally:
            self._adopting = False
        self._adopt_state_view()
        self.update()
        return True

    # -- strokes (delegations to the state) ------------------------------------------------------
    def strokes(self) -> list[Stroke]:
        return list(self._state.strokes)

    def has_strokes(self) -> bool:
        return bool(self._state.strokes) or self._pen.drawing

    def undo_stroke(self) -> bool:
        return self._state.undo_stroke()

    def clear_strokes(self) -> None:
        self._pen.cancel()
        self._state.clear()
        self.update()

    def sketch(self, mode: str = "cad", prompt: str | None = None) -> Sketch:
        """What is drawn, in the view it was drawn in, as a sketch for the interpreter."""
        return dataclasses.replace(self._state.to_sketch(), mode=mode, prompt=prompt)

    def load_sketch(self, sketch: Sketch) -> None:
        """Show a sketch: its view and its strokes (scaled to fit when the canvas size differs)."""
        self._pen.cancel()
        self._adopting = True
        try:
            self._state.load(sketch)
        finally:
            self._adopting = False
        self._adopt_state_view()

    def replace_strokes(self, indices: Iterable[int], polylines: Iterable[np.ndarray], kind: str | None = None) -> None:
        """Put `polylines` (canvas pixels) of `kind` in place of the strokes at `indices`, drawn at mid
        pressure, 8 ms a point (a suggestion taken)."""
        new = []
        for p in polylines:
            p = np.asarray(p, float)[:, :2]
            if len(p):
                new.append(np.column_stack([p, np.full(len(p), 0.5), 8.0 * np.arange(len(p))]))
        self._ghost_strokes = []
        self._state.replace_strokes(indices, new, kind)

    def stroke_at(self, u: float, v: float, radius: float = ERASER_RADIUS) -> int | None:
        """Index of the topmost stroke passing within `radius` pixels of (u, v), or None."""
        return _stroke_at(self._state.strokes, u, v, radius)

    def _commit_stroke(self, points: np.ndarray) -> None:
        self._follow_state_view()
        if self.area_brush_on():
            points = band_outline(points, self.area_width)
        self._state.add_stroke(Stroke(frozen(points), self._stroke_kind))
        self.stroke_finished.emit()

    def _erase_near(self, u: float, v: float) -> None:
        while (i := self.stroke_at(u, v)) is not None:
            self._state.remove_stroke(i)

    def set_ghost_strokes(self, polylines: Iterable[np.ndarray] | None) -> None:
        """Show suggested strokes (polylines (M, 2) in canvas pixels) dashed over the sketch; None clears."""
        self._ghost_strokes = [] if polylines is None else [np.asarray(p, float)[:, :2] for p in polylines]
        self.update()

    def ghost_strokes(self) -> list[np.ndarray]:
        return list(self._ghost_strokes)

    def set_stroke_kinds(self, kinds: Sequence[KindLike]) -> None:
        """Draw strokes in the colors the mode declares (`.name`, `.color` RGB 0..255 each)."""
        self._colors.set_kinds(kinds)
        self.update()

    def stroke_color(self, kind: str | None) -> QColor:
        return self._colors.color(kind)

    # -- the area brush ----------------------------------------------------------------------------
    def set_area_kinds(self, kinds: Iterable[str]) -> None:
        """The stroke kinds the area brush paints as areas (a band saved as its closed outline; their
        closed strokes are painted filled)."""
        self._area_kinds = frozenset(kinds)
        self.update()

    def area_kinds(self) -> frozenset[str]:
        return self._area_kinds

    def area_brush_on(self) -> bool:
        """Whether the next stroke is painted as an area: the brush is on (`area_brush`) and the stroke
        kind is an area kind."""
        return self.area_brush and self.area_width > 0 and self._stroke_kind in self._area_kinds
