"""What every neural back end shares: options, lazy loading under one lock, `prepare`, tidying.

A back end subclasses `NeuralBackend`, declares `name`, `modes` (`ModeSpec`) and `Options` (a
dataclass of `contract.option` fields), and writes `_warm()` (pay a first reading's one-off costs)
and `propose(sketch, context, top_k) -> Interpretation`. Loading networks goes through
`self.loaded(key, loader)`, timing through a `Stopwatch`, cleaning the strokes through
`tidy_sketch`, and the answer through `self.answer(...)`, so no back end carries its own copy.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, ClassVar, Iterable, Iterator, TypeVar

import numpy as np

from sketchforge.modeling.contract import (
    Context,
    Interpretation,
    ModeSpec,
    Proposal,
    Report,
    checked_options,
    describe_options,
)
from sketchforge.modeling.sketch import Sketch, SketchError, Stroke

T = TypeVar("T")
MAX_POINTS = 4000  # per stroke; longer strokes are resampled (a 10,000-point stroke is fine)


class Stopwatch:
    """Seconds per stage of one interpretation; the stages and 'other' add up to 'total'."""

    def __init__(self) -> None:
        self._t0 = time.perf_counter()
        self._stages: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self._stages[name] = self._stages.get(name, 0.0) + time.perf_counter() - t

    def seconds(self) -> dict[str, float]:
        """The stages in the order they ran, 'other' (the time between them) and 'total'."""
        total = time.perf_counter() - self._t0
        out = dict(self._stages)
        other = total - sum(out.values())
        if other > 5e-4:
            out["other"] = other
        out["total"] = total
        return out


class NeuralBackend:
    """Shared plumbing of the project's back ends (see the module's doc)."""

    name: ClassVar[str] = ""
    modes: ClassVar[tuple[ModeSpec, ...]] = ()
    Options: ClassVar[type] = type(None)
    # options whose change drops the loaded networks (and the preparation)
    reload_on: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, **options: Any) -> None:
        self._lock = threading.RLock()
        self._prepare_lock = threading.Lock()  # one preparation at a time
        self._options = checked_options(self.Options(), **options) if options else self.Options()
        self._loaded: dict[str, Any] = {}
        self._generation = 0  # grows whenever the loaded networks are dropped
        self._prepared = False

    # -- options --------------------------------------------------------------------------------
    @property
    def options(self) -> Any:
        """The current options (a frozen dataclass; change them with `configure`)."""
        return self._options

    def configure(self, **changes: Any) -> Any:
        """Change options by name (`configure(network="standard")`); checked against their
        declared choices. Returns the new options."""
        new = checked_options(self._options, **changes)
        with self._lock:
            reload = any(getattr(new, k) != getattr(self._options, k) for k in changes if k in self.reload_on)
            self._options = new
            if reload:
                self._loaded.clear()
                self._generation += 1
                self._prepared = False
        return new

    def options_for(self, context: Context) -> Any:
        """The options for one reading: this back end's own with the context's one-off values
        (`Context.options`) over them, checked; the back end's own stay as they are."""
        return checked_options(self._options, **context.options) if context.options else self._options

    def option_info(self):
        return describe_options(self._options)

    # -- loading and preparing ----------------------------------------------------------------------
    def loaded(self, key: str, loader: Callable[[], T]) -> T:
        """The object under `key`, made by `loader()` on first use (under the back end's lock)."""
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = loader()
            return self._loaded[key]

    def prepare(self) -> None:
        """Load the networks and pay a first reading's one-off costs, so that the user's first
        sketch is read as quickly as the rest. Changes nothing; safe in a worker thread (the window
        runs it when a mode is picked or an option changed). A second call returns at once."""
        with self._prepare_lock:
            if self._prepared:
                return
            generation = self._generation
            self._warm()
            with self._lock:
                self._prepared = self._generation == generation  # not when the options changed meanwhile

    @property
    def prepared(self) -> bool:
        return self._prepared

    def _warm(self) -> None:
        """Load what `propose` needs and run it once on something small (subclasses)."""

    # -- answering ------------------------------------------------------------------------------------
    def propose(self, sketch: Sketch, context: Any, top_k: int = 3) -> Interpretation:
        raise NotImplementedError

    @staticmethod
    def answer(proposals: Iterable[Proposal], watch: Stopwatch, top_k: int, hint: str = "",
               **report: Any) -> Interpretation:
        """The interpretation: proposals best first without repeats (by operation), at most
        `top_k`, the report with the stopwatch's stages, and the hint when none is left."""
        seen: set[str] = set()
        ranked: list[Proposal] = []
        for p in sorted(proposals, key=lambda p: -float(p.score)):
            key = repr(p.operation)
            if key not in seen:
                seen.add(key)
                ranked.append(p)
        ranked = ranked[:max(int(top_k), 0)]
        return Interpretation(tuple(ranked), Report(seconds=watch.seconds(), **report), "" if ranked else hint)


def tidy_sketch(sketch: Sketch, max_points: int = MAX_POINTS, off_canvas: float | None = None,
                min_extent: float = 0.0) -> Sketch | None:
    """The sketch without empty strokes, with very long strokes resampled and (with `off_canvas`)
    points farther outside the canvas than that share of its size dropped; None when nothing is
    left, or when everything drawn spans less than `min_extent` pixels (a dot). Raises SketchError
    for non-finite coordinates."""
    strokes = []
    w, h = sketch.width, sketch.height
    for s in sketch.strokes:
        pts = np.asarray(s.points, float)
        if len(pts) == 0:
            continue
        if not np.isfinite(pts[:, :2]).all():
            raise SketchError("a stroke holds NaN or infinite coordinates; redraw it or remove it from the file")
        if off_canvas is not None:
            keep = ((pts[:, 0] > -off_canvas * w) & (pts[:, 0] < (1 + off_canvas) * w)
                    & (pts[:, 1] > -off_canvas * h) & (pts[:, 1] < (1 + off_canvas) * h))
            pts = pts[keep]
            if len(pts) == 0:
                continue
        if len(pts) > max_points:
            pts = pts[np.linspace(0, len(pts) - 1, max_points).round().astype(int)]
        strokes.append(Stroke(pts, s.kind))
    if not strokes:
        return None
    if min_extent > 0:
        ext = np.concatenate([s.uv for s in strokes])
        if float(np.ptp(ext[:, 0]) + np.ptp(ext[:, 1])) < min_extent:
            return None
    return Sketch(sketch.camera, w, h, tuple(strokes), sketch.mode, sketch.prompt)


def sketch_blob(sketch: Sketch) -> bytes:
    """The sketch file's bytes (specs/sketch-file.md, UTF-8 JSON): what a result keeps of the sketch
    it was drawn as, so it can be made again (another seed, a redrawn part)."""
    import json
    return json.dumps(sketch.to_json(), sort_keys=True, separators=(",", ":")).encode("utf-8")


def new_body_name(context: Any, stem: str) -> str:
    """`stem` numbered from 1, the first name no body of the model (`context.bodies`) has."""
    k = 1
    while f"{stem}{k}" in context.bodies:
        k += 1
    return f"{stem}{k}"
