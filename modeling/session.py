"""The window-less Session: the document, undo/redo, files and the registries.

The GUI, the plugin console, the command line and the tests all drive this one object (as napari's
`ViewerModel` sits beneath its `Viewer`). It imports no Qt and no torch; interpretation back ends
come in through the `sketchforge.backends` entry-point group and are loaded when first used.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .archive import SUFFIX, load_document, save_document
from .bodies import Body, SolidBody
from .camera import Camera
from .contract import Backend, Context, ContractError, Interpretation, ModeSpec, Proposal, Report, check_backend
from .document import Document
from .events import Signal
from .operations import ArcPath, Circle, LinePath, Operation, OperationError, Polygon
from .refs import EdgeRef, FaceRef, ReferenceError
from .registry import GROUPS, Registry, RegistryError
from .sketch import Sketch
from .sketchstate import SketchState

__all__ = ["Backend", "Context", "Interpretation", "ModeSpec", "NoBackendError", "Proposal", "Report", "Session"]

log = logging.getLogger(__name__)


class NoBackendError(LookupError):
    """No interpretation back end is registered for a sketch's mode."""


FaceSelector = int | str | FaceRef | Sequence[float]
EdgeSelector = int | EdgeRef | Sequence[float]

_AXES = {"+x": (1, 0, 0), "-x": (-1, 0, 0), "+y": (0, 1, 0), "-y": (0, -1, 0), "+z": (0, 0, 1), "-z": (0, 0, -1),
         "top": (0, 0, 1), "bottom": (0, 0, -1), "right": (1, 0, 0), "left": (-1, 0, 0), "back": (0, 1, 0),
         "front": (0, -1, 0)}


class Session:
    """The document with its registries, files and conveniences for scripts. See `help(session)`."""

    def __init__(self) -> None:
        self.operations: Registry[type[Operation]] = Registry("operation", GROUPS["operations"])
        self.importers: Registry = Registry("importer", GROUPS["importers"])
        self.exporters: Registry = Registry("exporter", GROUPS["exporters"])
        self.backends: Registry = Registry("interpretation back end", GROUPS["backends"])
        self.templates: Registry = Registry("template", GROUPS["templates"])
        self.changed = Signal()  # (description) after any change of the document or its file
        self.path: Path | None = None
        self._saved_revision: object = None
        self.document = Document(self.importers)
        self._attach(self.document)
        # what is being drawn (strokes, mode, prompt, pending proposals): the window draws it, the
        # console and scripts drive it
        self.sketch = SketchState()
        self._modes: dict[str, str] | None = None  # mode -> back end name, read from the declarations
        self._modes_revision = -1

    # -- document -------------------------------------------------------------------------------
    def _attach(self, doc: Document) -> None:
        doc.changed.connect(self.changed.emit)
        self._saved_revision = doc.revision

    @property
    def bodies(self) -> Mapping[str, Body]:
        return self.document.bodies

    @property
    def history(self) -> tuple[Operation, ...]:
        return self.document.history

    @property
    def dirty(self) -> bool:
        """True when the document differs from the file it was last saved to or opened from."""
        return self.document.revision is not self._saved_revision

    def mark_modified(self) -> None:
        """Treat the document as unsaved (e.g. recovered work that has no file of its own yet)."""
        self._saved_revision = None
        self.changed.emit("Marked as modified")

    def new(self) -> None:
        """Start an empty document (the caller asks about unsaved work first)."""
        self.document.changed.disconnect(self.changed.emit)
        self.document = Document(self.importers)
        self.path = None
        self._attach(self.document)
        self.changed.emit("New document")

    def apply(self, op: Operation | str, **params: Any) -> Operation:
        """Apply an operation object, or build one from its id and JSON-style parameters."""
        if isinstance(op, str):
            cls = self.operations.get(op)
            op = cls.from_params(params)
        elif params:
            raise TypeError("pass parameters only together with an operation id")
        self.document.apply(op)
        return op

    def accept(self, proposal: Proposal | None = None, tidy_sketch: bool = True) -> Operation:
        """Apply a back end's proposal (default: the one highlighted in `sketch`), reusing the
        result it was checked with when it was made on the current model, and storing the data it
        brings; raises OperationError and changes nothing if it does not apply. A proposal read
        from `session.sketch` then clears its strokes, or keeps them where the mode keeps strokes
        (`tidy_sketch=False` leaves that to the caller: the window does it on its own thread)."""
        if proposal is None:
            proposal = self.sketch.current
            if proposal is None:
                raise OperationError("there is no proposal to accept: draw and interpret a sketch first")
        state = self.document.state
        result = proposal.result if proposal.result is not None and proposal.base is state else None
        self.document.apply(proposal.operation, result, proposal.blobs)
        if tidy_sketch and any(p is proposal for p in self.sketch.proposals):
            self.tidy_sketch()
        return proposal.operation

    def tidy_sketch(self) -> None:
        """After accepting: clear the strokes, or keep them where the mode keeps strokes (the next
        stroke refines the result)."""
        mode = self.modes().get(self.sketch.mode)
        if mode is not None and mode.keeps_strokes:
            self.sketch.dismiss()
        else:
            self.sketch.clear()
        if mode is not None:  # options that held for this proposal only go back to their defaults
            from .contract import describe_options
            backend = self.backend(mode.name)
            reset = {i.name: i.default for i in describe_options(backend.options) if i.once and i.value != i.default}
            if reset:
                backend.configure(**reset)

    def undo(self) -> bool:
        return self.document.undo()

    def redo(self) -> bool:
        return self.document.redo()

    def edit(self, step: int, progress=None, **changes: Any) -> Operation:
        """Change parameters of history step `step` (0-based) and regenerate the rest."""
        old = self.history[step]
        data = old.params()
        data.update(_plain(changes))
        op = type(old).from_params(data)
        self.document.edit(step, op, progress)
        return op

    # -- building from scripts ------------------------------------------------------------------
    def box(self, size: Sequence[float] = (40.0, 30.0, 20.0), origin: Sequence[float] = (0.0, 0.0, 0.0),
            name: str | None = None) -> str:
        """Add a box standing on z = origin[2]; returns the new body's name."""
        name = name or self.document.new_body_id()
        self.apply("box", body=name, size=list(size), origin=list(origin))
        return name

    def cylinder(self, radius: float = 10.0, height: float = 20.0, origin: Sequence[float] = (0.0, 0.0, 0.0),
                 name: str | None = None) -> str:
        name = name or self.document.new_body_id()
        self.apply("cylinder", body=name, radius=radius, height=height, origin=list(origin))
        return name

    def extrude(self, body: str, face: FaceSelector, distance: float) -> Operation:
        """Push (+) or pull (-) a flat face along its normal."""
        return self.apply("extrude", body=body, face=self.face_ref(body, face), distance=distance)

    def add(self, body: str, face: FaceSelector, polygon: Sequence[Sequence[float]], distance: float) -> Operation:
        """Grow a prism outward from a polygon given in the face's coordinates (see `face_frame`)."""
        return self.apply("add", body=body, face=self.face_ref(body, face), polygon=_plain(polygon),
                          distance=distance)

    def subtract(self, body: str, face: FaceSelector, polygon: Sequence[Sequence[float]],
                 distance: float) -> Operation:
        """Cut a prism inward from a polygon given in the face's coordinates."""
        return self.apply("subtract", body=body, face=self.face_ref(body, face), polygon=_plain(polygon),
                          distance=distance)

    def bevel(self, body: str, edge: EdgeSelector, distance1: float, distance2: float | None = None,
              style: str = "chamfer") -> Operation:
        """Chamfer an edge with two set-backs (or one), or fillet it (style='fillet')."""
        d2 = distance1 if distance2 is None else distance2
        return self.apply("bevel", body=body, edge=self.edge_ref(body, edge), distance1=distance1,
                          distance2=d2, style=style)

    def sweep(self, body: str, face: FaceSelector, profile: Polygon | Circle, path: LinePath | ArcPath,
              mode: str = "add") -> Operation:
        """Sweep a profile on a face along a line or arc path; mode 'add' or 'subtract'."""
        from .params import to_json
        return self.apply("sweep", body=body, face=self.face_ref(body, face), profile=to_json(profile),
                          path=to_json(path), mode=mode)

    # -- picking faces and edges ----------------------------------------------------------------
    def solid(self, body: str) -> SolidBody:
        return self.document.state.solid(body)

    # -- colored point clouds (the `points` mode) --------------------------------------------------
    def points(self, sketch: Sketch, prompt: str | None = None, seed: int | None = None,
               progress: Callable[[int, int], bool] | None = None) -> Operation:
        """A colored cloud from a sketch of an object and a prompt saying what it is and how it is
        colored (the sketch's own prompt when `prompt` is None), added as a new body; `seed`
        picks another sampling. Raises OperationError with the back end's hint when nothing is
        recognised, and changes nothing then. `progress(done, total)` hears of the sampling's
        steps and returns False to cancel (`Cancelled`, nothing changed); so do `recolor` and
        `resample`."""
        if not sketch.strokes:
            raise OperationError("draw the object's outline first: the sketch has no strokes")
        return self._points_answer(sketch, prompt, seed, None, progress=progress)

    def recolor(self, body: str, prompt: str, parts: Sequence[str] = (), seed: int | None = None,
                progress: Callable[[int, int], bool] | None = None) -> Operation:
        """New colors for the cloud `body` from `prompt` (only the points of `parts` when given),
        every position and the order kept."""
        from .clouds import cloud_of
        cloud = cloud_of(self.document.state, body)
        if parts:
            try:
                cloud.part_mask(tuple(parts))
            except ValueError as exc:
                raise OperationError(str(exc)) from None
        view = self.sketch.view
        empty = Sketch(view.camera, view.width, view.height, (), "points", prompt)
        return self._points_answer(empty, prompt, seed, (body, tuple(parts)), progress=progress)

    def _best(self, backend: Backend, sketch: Sketch, state, progress: Callable[[int, int], bool] | None,
              options: Mapping[str, Any] | None = None) -> Proposal:
        """The back end's best proposal for `sketch` over `state` (`options`: values for this reading
        only, `Context.options`); OperationError with its hint when it has none."""
        from .render import render_context
        result = backend.propose(sketch, Context(state, sketch.camera, render_context, progress, dict(options or {})),
                                 top_k=1)
        if not result.proposals:
            raise OperationError(result.hint or "nothing recognised in the sketch")
        return result.proposals[0]

    # -- game scenes (the `scene` mode) --------------------------------------------------------------
    def scene(self, sketch: Sketch, prompt: str | None = None,
              progress: Callable[[int, int], bool] | None = None) -> Operation:
        """A game scene from a top-down sketch of a map (water, road, forest, building and mountain
        strokes; the sketch's own prompt, or `prompt`, a style such as "snowy"), added as a new body in
        one step; while the model holds a scene, the sketch remakes it (only the region around the
        strokes drawn or erased since, the rest kept: the back end's option `regional`).
        OperationError with what to draw when the sketch cannot be read (a camera that is not a map's,
        no scene strokes, a map under 20 m or over 4 km), and nothing changes then.
        `progress(done, total)` hears of the assembly's stages and returns False to cancel."""
        import dataclasses
        if not sketch.strokes:
            raise OperationError("draw the map first: rivers, roads, forests, buildings and mountains, each with "
                                 "its brush")
        sketch = dataclasses.replace(sketch, mode="scene", prompt=sketch.prompt if prompt is None else prompt)
        proposal = self._best(self.backend("scene"), sketch, self.document.state, progress)
        self.document.apply(proposal.operation, None, proposal.blobs)
        return proposal.operation

    def resample(self, body: str, seed: int | None = None, prompt: str | None = None,
                 progress: Callable[[int, int], bool] | None = None) -> Operation:
        """Sample the cloud `body` again from the sketch it was drawn as, with another `seed` (default:
        the next one) and its prompt (or `prompt`): one step that replaces the body, so undo brings
        the old cloud back. OperationError when `body` is not a cloud drawn in the points mode."""
        from .clouds import SketchPoints, cloud_of
        cloud_of(self.document.state, body)
        made = [op for op in self.history if isinstance(op, SketchPoints) and op.body == body]
        if not made or not made[-1].sketch:
            raise OperationError(f"{body!r} was not drawn in the points mode (or its sketch was not kept), so "
                                 "there is nothing to sample again; draw it again instead")
        last = made[-1]
        data = self.document.blobs.get(last.sketch)
        if data is None:
            raise OperationError(f"the sketch {body!r} was drawn as is missing from the document")
        import json
        try:
            sketch = Sketch.from_json(json.loads(data.decode("utf-8")))
        except (ValueError, UnicodeDecodeError) as exc:
            raise OperationError(f"the sketch {body!r} was drawn as is damaged: {exc}") from None
        new_seed = last.seed + 1 if seed is None else int(seed)
        return self._points_answer(sketch, last.prompt if prompt is None else prompt, new_seed, None, replace=body,
                                   progress=progress)

    def _points_answer(self, sketch: Sketch, prompt: str | None, seed: int | None,
                       recolor: tuple[str, tuple[str, ...]] | None, replace: str | None = None,
                       progress: Callable[[int, int], bool] | None = None) -> Operation:
        import dataclasses
        backend = self.backend("points")
        if prompt is not None:
            sketch = dataclasses.replace(sketch, mode="points", prompt=prompt)
        elif sketch.mode != "points":
            sketch = dataclasses.replace(sketch, mode="points")
        state = self.document.state
        if recolor is not None:  # only the cloud to re-color in view
            from types import MappingProxyType
            state = dataclasses.replace(state, bodies=MappingProxyType({recolor[0]: state.bodies[recolor[0]]}))
        once = {"seed": int(seed)} if seed is not None else {}  # this call's seed only
        proposal = self._best(backend, sketch, state, progress, once)
        op: Any = proposal.operation
        if recolor is not None and recolor[1]:
            op = dataclasses.replace(op, parts=recolor[1])
        if replace is not None:
            op = dataclasses.replace(op, body=replace, replace=True)
        self.document.apply(op, None, proposal.blobs)
        return op

    def face_ref(self, body: str, face: FaceSelector) -> dict:
        """A face reference (as JSON) from an index, a direction ('+z', 'top', ...) or a FaceRef."""
        from .params import to_json
        if isinstance(face, FaceRef):
            return to_json(face)
        return to_json(FaceRef.of(self.solid(body), self.face_index(body, face)))

    def face_index(self, body: str, face: FaceSelector) -> int:
        """The index of a face: an int, a FaceRef, a point on it, or the outermost flat face facing a direction."""
        b = self.solid(body)
        if isinstance(face, FaceRef):
            return face.resolve(b)
        if isinstance(face, (int, np.integer)):
            if not 0 <= face < len(b.faces):
                raise ReferenceError(f"face {face} does not exist; {body} has faces 0..{len(b.faces) - 1}")
            return int(face)
        if not isinstance(face, str):
            p = np.asarray(face, float).reshape(3)
            flat = [f for f in b.faces if f.planar]
            if not flat:
                raise ReferenceError(f"{body} has no flat face")
            return min(flat, key=lambda f: b.face_distance(f.index, p)).index
        direction = _AXES.get(face.lower())
        if direction is None:
            raise ReferenceError(f"unknown face {face!r}: give an index, or one of {', '.join(_AXES)}")
        d = np.asarray(direction, float)
        cands = [f for f in b.faces if f.planar and f.normal is not None and float(np.dot(f.normal, d)) > 0.999]
        if not cands:
            raise ReferenceError(f"{body} has no flat face facing {face}")
        return max(cands, key=lambda f: (round(float(np.dot(f.centroid, d)), 6), f.area)).index

    def edge_ref(self, body: str, edge: EdgeSelector) -> dict:
        """An edge reference from an index, an EdgeRef, or a point near the edge."""
        from .params import to_json
        b = self.solid(body)
        if isinstance(edge, EdgeRef):
            return to_json(edge)
        if isinstance(edge, (int, np.integer)):
            return to_json(EdgeRef.of(b, int(edge)))
        p = np.asarray(edge, float).reshape(3)
        live = [e for e in b.edges if e.curve != "degenerate"]
        best = min(live, key=lambda e: float(np.linalg.norm(np.asarray(e.midpoint) - p)))
        return to_json(EdgeRef.of(b, best.index))

    def face_frame(self, body: str, face: FaceSelector) -> dict:
        """The 2D frame polygons on a face are given in: origin, x axis, y axis, normal (world)."""
        from .refs import plane_frame
        info = self.solid(body).faces[self.face_index(body, face)]
        o, x, y, n = plane_frame(info.normal, info.origin)
        return {"origin": o.tolist(), "x": x.tolist(), "y": y.tolist(), "normal": n.tolist()}

    # -- files ----------------------------------------------------------------------------------
    def save(self, path: str | Path | None = None) -> Path:
        """Save the session file (atomically); without a path, to the file it came from."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("this document has not been saved before; give a path ending in .sketchforge")
        if target.suffix.lower() != SUFFIX:
            target = target.with_name(target.name + SUFFIX)
        save_document(self.document, target)
        self.path = target
        self._saved_revision = self.document.revision
        self.changed.emit(f"Saved {target.name}")
        return target

    def open(self, path: str | Path, progress=None) -> None:
        """Open a session file; on any error the current document stays as it is."""
        doc = load_document(path, self.operations.get, progress, self.importers)
        self.document.changed.disconnect(self.changed.emit)
        self.document = doc
        self.path = Path(path)
        self._attach(doc)
        self.changed.emit(f"Opened {Path(path).name}")

    def import_file(self, path: str | Path, name: str | None = None) -> str:
        """Import a STEP, OBJ, PLY or glTF file as a new body; returns its name."""
        p = Path(path)
        ext = p.suffix.lower().lstrip(".")
        if ext not in self.importers:
            raise ValueError(f"cannot import .{ext} files; known: {', '.join('.' + n for n in self.importers)}")
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read {p}: {exc.strerror or exc}") from None
        # Read once before touching the document, so a bad file changes nothing.
        self.importers.get(ext)(data, p.name)
        key = self.document.add_blob(data)
        name = name or self.document.new_body_id()
        self.apply("import", body=name, blob=key, filename=p.name)
        return name

    def export(self, path: str | Path, bodies: Sequence[str] | None = None) -> Path:
        """Write the model (or some bodies) with the exporter registered for the file's extension."""
        p = Path(path)
        ext = p.suffix.lower().lstrip(".")
        if ext not in self.exporters:
            raise ValueError(f"cannot export .{ext} files; known: {', '.join('.' + n for n in self.exporters)}")
        chosen = {k: v for k, v in self.bodies.items() if bodies is None or k in bodies}
        if not chosen:
            raise ValueError("there is nothing to export: the document has no bodies yet")
        self.exporters.get(ext)(chosen, p)
        return p

    # -- seeing and interpreting ----------------------------------------------------------------
    def render(self, camera: Camera, width: int = 256, height: int = 256, lines: bool = True):
        """Depth, normal, face-id and line renders of the model from `camera` (ContextRenders)."""
        from .render import render_context
        return render_context(self.bodies, camera, width, height, lines=lines)

    def _mode_map(self) -> dict[str, str]:
        """mode -> the name of the back end that declares it (read once per registry change)."""
        if self._modes is None or self._modes_revision != self.backends.revision:
            self._modes_revision = self.backends.revision
            modes: dict[str, str] = {}
            for name in self.backends.names():
                try:
                    declared = self.backends.get(name).modes
                except (RegistryError, AttributeError) as exc:
                    log.warning("the back end %r declares no modes and is left out: %s", name, exc)
                    continue
                for m in declared:
                    modes.setdefault(m.name, name)
            self._modes = modes
        return self._modes

    def register_backend(self, backend: Any, name: str | None = None, replace: bool = False) -> None:
        """Add a back end (a class or an instance) at run time; its declared modes become available."""
        name = name or getattr(backend, "name", None) or backend.modes[0].name
        self.backends.register(name, backend, replace=replace)
        self._modes = None
        self.changed.emit(f"Back end {name} registered")

    def modes(self) -> dict[str, ModeSpec]:
        """Every mode the registered back ends declare, by name (the window's mode box)."""
        out: dict[str, ModeSpec] = {}
        for mode, name in self._mode_map().items():
            for m in self.backends.get(name).modes:
                if m.name == mode:
                    out[mode] = m
        return out

    def backend(self, mode: str) -> Backend:
        """The back end for `mode` (a registered class is instantiated once, on first use)."""
        name = self._mode_map().get(mode)
        if name is None:
            self._modes = None
            name = self._mode_map().get(mode)
        if name is None:
            raise NoBackendError(f"no interpretation back end is registered for mode {mode!r}"
                                 f" (modes: {', '.join(self._mode_map()) or 'none'})")
        backend = self.backends.get(name)
        if isinstance(backend, type):
            backend = backend()
            check_backend(backend)
            self.backends.register(name, backend, replace=True)
        return backend

    def context(self, camera: Camera | None = None, progress: Callable[[int, int], bool] | None = None) -> Context:
        """What a back end may read: the current model, the camera (default: the sketch's view);
        `progress(done, total)` hears of long work and returns False to cancel it."""
        from .render import render_context
        return Context(self.document.state, camera or self.sketch.view.camera, render_context, progress)

    def interpret(self, sketch: Sketch | None = None, top_k: int = 3, offer: bool | None = None,
                  progress: Callable[[int, int], bool] | None = None) -> Interpretation:
        """Ranked proposals for a sketch (default: what is drawn in `session.sketch`) from the back
        end of its mode; the document is not changed. Reading `session.sketch` also offers the
        proposals there (`session.sketch.current`, `session.accept()`). `progress(done, total)`
        hears how long work goes and returns False to stop it (`Cancelled` is raised then)."""
        own = sketch is None
        revision = self.sketch.revision
        if sketch is None:
            sketch = self.sketch.to_sketch()
        backend = self.backend(sketch.mode)
        result = backend.propose(sketch, self.context(sketch.camera, progress), top_k=top_k)
        if not isinstance(result, Interpretation):
            raise ContractError(f"the {sketch.mode} back end returned {type(result).__name__}, not an Interpretation")
        if len(result.proposals) > top_k:
            result = Interpretation(result.proposals[:top_k], result.report, result.hint)
        if (own if offer is None else offer) and (not own or revision == self.sketch.revision):
            self.sketch.offer(result)
        return result

    def summary(self) -> dict:
        return {"bodies": {k: b.summary() for k, b in self.bodies.items()},
                "history": [op.describe() for op in self.history]}


def _plain(value: Any) -> Any:
    """Tuples and numpy values to plain JSON-style lists and floats."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
