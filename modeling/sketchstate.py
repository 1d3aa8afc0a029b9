"""What is being drawn, out of the widgets: strokes, mode, prompt, view and pending proposals.

napari keeps a layer's data in the layer and lets the canvas only draw it; here `SketchState`
(`session.sketch`) holds what the user drew, and the viewport draws it and feeds it strokes. The
console and scripts see and drive the same object: `session.sketch.add_stroke([[u, v], ...])`,
`session.sketch.mode = "face"`, `session.interpret()`.

Strokes belong to a view: `view` is the camera and canvas size they were drawn in. A mode whose
back end keeps strokes (faces) may park them when the user orbits away (`park`) and get them back
by returning to that view (`restore`).

Events (`changed`, emitted after the change with one word): "strokes", "mode", "prompt", "view",
"proposals" (the pending interpretation or the highlighted proposal changed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from .camera import Camera
from .events import Signal
from .sketch import Sketch, SketchError, Stroke

DEFAULT_CANVAS = (800, 600)


def default_camera() -> Camera:
    """The view a window-less session draws in: an iso view of the origin, 35 degrees."""
    return Camera(eye=(250.0, -250.0, 200.0), target=(0.0, 0.0, 0.0), up=(0.0, 0.0, 1.0))


def as_stroke(points: Any, kind: str | None = None) -> Stroke:
    """A stroke from [[u, v], ...] or [[u, v, pressure, t_ms], ...] (canvas pixels) or a Stroke."""
    if isinstance(points, Stroke):
        return points
    p = np.asarray(points, float)
    if p.ndim != 2 or p.shape[1] not in (2, 4) or len(p) < 1:
        raise SketchError("a stroke is a list of [u, v] or [u, v, pressure, t_ms] points")
    if not np.isfinite(p).all():
        raise SketchError("a stroke holds a NaN or infinite coordinate")
    if p.shape[1] == 2:
        p = np.column_stack([p, np.ones(len(p)), np.zeros(len(p))])
    if kind is not None and (not isinstance(kind, str) or not kind):
        raise SketchError("a stroke kind is a non-empty string, or None for a plain line")
    p.setflags(write=False)
    return Stroke(p, kind)


@dataclass(frozen=True)
class View:
    """The camera and canvas size strokes were drawn in."""

    camera: Camera
    width: int
    height: int


class SketchState:
    """The sketch being drawn and the proposals waiting for the user (see the module's doc)."""

    def __init__(self, mode: str = "cad") -> None:
        self.changed = Signal()
        self._strokes: tuple[Stroke, ...] = ()
        self._mode = mode
        self._prompt: str | None = None
        self._view = View(default_camera(), *DEFAULT_CANVAS)
        self._parked: list[tuple[View, tuple[Stroke, ...]]] = []
        self._interpretation: Any = None  # contract.Interpretation
        self._index = 0
        self._revision = 0

    # -- reading ------------------------------------------------------------------------------------
    @property
    def strokes(self) -> tuple[Stroke, ...]:
        return self._strokes

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if not isinstance(mode, str) or not mode:
            raise ValueError("a mode is a non-empty name such as 'cad' or 'face'")
        if mode != self._mode:
            self._mode = mode
            self.dismiss()
            self.changed.emit("mode")

    @property
    def prompt(self) -> str | None:
        return self._prompt

    @prompt.setter
    def prompt(self, text: str | None) -> None:
        text = (text or "").strip() or None
        if text != self._prompt:
            self._prompt = text
            self.changed.emit("prompt")

    @property
    def view(self) -> View:
        return self._view

    @property
    def revision(self) -> int:
        """Grows with every change of the strokes (to tell a stale reading from a current one)."""
        return self._revision

    def __len__(self) -> int:
        return len(self._strokes)

    def __bool__(self) -> bool:
        return True

    def to_sketch(self) -> Sketch:
        """What is drawn, in the view it was drawn in, as a sketch for the interpreter or a file."""
        v = self._view
        return Sketch(v.camera, v.width, v.height, self._strokes, self._mode, self._prompt)

    # -- drawing ------------------------------------------------------------------------------------
    def set_view(self, camera: Camera, width: int, height: int) -> None:
        """The view the next strokes are drawn in (the viewport calls this as its camera moves)."""
        view = View(camera, int(width), int(height))
        if view != self._view:
            self._view = view
            self.changed.emit("view")

    def add_stroke(self, points: Any, kind: str | None = None) -> Stroke:
        """Append a stroke (points in canvas pixels, or a Stroke); returns it."""
        stroke = as_stroke(points, kind)
        self._set((*self._strokes, stroke))
        return stroke

    def undo_stroke(self) -> bool:
        if not self._strokes:
            return False
        self._set(self._strokes[:-1])
        return True

    def remove_stroke(self, index: int) -> Stroke:
        if not -len(self._strokes) <= index < len(self._strokes):
            raise IndexError(f"there is no stroke {index}; the sketch has {len(self._strokes)}")
        s = list(self._strokes)
        gone = s.pop(index)
        self._set(tuple(s))
        return gone

    def replace_strokes(self, indices: Iterable[int], polylines: Iterable[Any], kind: str | None = None) -> None:
        """Put `polylines` (canvas pixels) in place of the strokes at `indices`, where the first of
        them stood (a taken part suggestion)."""
        drop = sorted(set(int(i) for i in indices))
        new = [as_stroke(p, kind) for p in polylines]
        s = list(self._strokes)
        at = drop[0] if drop else len(s)
        for i in reversed(drop):
            if 0 <= i < len(s):
                s.pop(i)
        at = min(at, len(s))
        self._set(tuple(s[:at] + new + s[at:]))

    def set_strokes(self, strokes: Sequence[Any]) -> None:
        self._set(tuple(as_stroke(s) for s in strokes))

    def clear(self) -> None:
        """Remove every stroke (and the proposals read from them)."""
        if self._strokes:
            self._set(())
        self.dismiss()

    def load(self, sketch: Sketch) -> None:
        """Take a sketch's view, strokes, mode and prompt (all of them before any event, so a
        listener never sees the new mode without its strokes)."""
        mode_changed, prompt_changed = sketch.mode != self._mode, sketch.prompt != self._prompt
        self._view = View(sketch.camera, sketch.width, sketch.height)
        self._mode, self._prompt = sketch.mode, sketch.prompt
        self._strokes = tuple(sketch.strokes)
        self._revision += 1
        self._interpretation, self._index = None, 0
        self.changed.emit("view")
        if mode_changed:
            self.changed.emit("mode")
        if prompt_changed:
            self.changed.emit("prompt")
        self.changed.emit("proposals")
        self.changed.emit("strokes")

    def _set(self, strokes: tuple[Stroke, ...]) -> None:
        self._strokes = strokes
        self._revision += 1
        if self._interpretation is not None:
            self._interpretation, self._index = None, 0
            self.changed.emit("proposals")
        self.changed.emit("strokes")

    # -- views the strokes belong to ----------------------------------------------------------------
    def park(self) -> bool:
        """Put the strokes aside with their view (the user orbits away); False when there are none."""
        if not self._strokes:
            return False
        self._parked = [(v, s) for v, s in self._parked if v != self._view] + [(self._view, self._strokes)]
        self._strokes = ()
        self._revision += 1
        self.dismiss()
        self.changed.emit("strokes")
        return True

    @property
    def parked(self) -> list[View]:
        """The views that hold parked strokes, oldest first."""
        return [v for v, _ in self._parked]

    def restore(self, view: View | None = None) -> bool:
        """Bring back the strokes parked with `view` (default the last parked), in that view."""
        if not self._parked:
            return False
        i = len(self._parked) - 1 if view is None else next(
            (k for k, (v, _) in enumerate(self._parked) if v == view), -1)
        if i < 0:
            return False
        v, strokes = self._parked.pop(i)
        self._view = v
        self.changed.emit("view")
        self._set(strokes)
        return True

    def forget_parked(self) -> None:
        self._parked.clear()

    # -- proposals ------------------------------------------------------------------------------------
    @property
    def interpretation(self) -> Any:
        """The pending interpretation (`contract.Interpretation`), None when there is none."""
        return self._interpretation

    @property
    def proposals(self) -> tuple:
        return tuple(self._interpretation.proposals) if self._interpretation is not None else ()

    @property
    def index(self) -> int:
        return self._index

    @property
    def current(self) -> Any:
        """The highlighted proposal, None when there is none."""
        props = self.proposals
        return props[self._index] if props else None

    def offer(self, interpretation: Any) -> None:
        """Show a back end's interpretation of the current strokes (the first proposal highlighted)."""
        self._interpretation, self._index = interpretation, 0
        self.changed.emit("proposals")

    def next(self, step: int = 1) -> Any:
        """Highlight the next proposal (wrapping); returns it."""
        props = self.proposals
        if not props:
            return None
        self._index = (self._index + step) % len(props)
        self.changed.emit("proposals")
        return props[self._index]

    def dismiss(self) -> bool:
        """Drop the pending proposals; False when there were none."""
        if self._interpretation is None:
            return False
        self._interpretation, self._index = None, 0
        self.changed.emit("proposals")
        return True
