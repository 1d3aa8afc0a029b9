"""The sketch-to-head back end (mode `face`): a front-view sketch -> a detailed, symmetric head mesh.

    sketch -> the network frame (`frame.FaceFrame`: strokes on the view's plane, centred and
      scaled) -> coarse mesh (maps -> implicit -> marching cubes), kept while the outline strokes
      stay the same -> IDGMM refinement with every stroke (ridge / valley detail included)
      -> the mesh back in the world, facing the camera the sketch was drawn in

The proposal is one `PutMesh` of the body "head" (replacing the head this back end made before,
so each stroke refines it and undo steps back through the refinements). Plain strokes are the
outline and features (eyes, nose, mouth, ears); `ridge` (red) and `valley` (green) strokes add
detail. `symmetric` (on by default) mirrors the head left-right; the app's Sketch menu and the
console (`session.backend("face").symmetric = False`) switch it.

Registered through the `sketchforge.backends` entry-point group like any plugin's back end.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sketchforge.modeling.operations import PutMesh, mesh_blob
from sketchforge.modeling.session import Proposal
from sketchforge.modeling.sketch import Sketch, Stroke

from .frame import FaceFrame, FrameError

log = logging.getLogger(__name__)

BODY = "head"
MAX_POINTS = 4000   # per stroke; longer strokes are resampled
OFF_CANVAS = 0.25   # share of the canvas a point may lie outside it before it is dropped


@dataclass
class FaceInterpretation:
    """What the last `propose` call did: time per stage (seconds), whether the coarse mesh was
    reused, the mesh's size."""

    seconds: dict[str, float] = field(default_factory=dict)   # frame, coarse, refine, total
    coarse_reused: bool = False
    vertices: int = 0
    network: str = "face"
    canvas: int | None = None
    flops: int | None = None


class FaceBackend:
    """Interprets `face` sketches with the shipped networks (`assets/face/`), or the files named by
    SKETCHFORGE_FACE_MAPS / SKETCHFORGE_FACE_IMPLICIT."""

    mode = "face"
    title = "3D character faces (SketchMetaFace / IDGMM)"
    keeps_strokes = True  # the sketch stays after a proposal is accepted: the next stroke refines

    def __init__(self, maps: str | Path | None = None, implicit: str | Path | None = None,
                 symmetric: bool = True) -> None:
        self._lock = threading.Lock()
        self._maps = maps or os.environ.get("SKETCHFORGE_FACE_MAPS") or None
        self._implicit = implicit or os.environ.get("SKETCHFORGE_FACE_IMPLICIT") or None
        self._model = None
        self._coarse_key: str | None = None
        self._coarse = None
        self.symmetric = symmetric
        self.last = FaceInterpretation()

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                from .reconstruct import FaceModel
                self._model = FaceModel.load(self._maps, self._implicit)
            return self._model

    def head(self, sketch: Sketch) -> tuple[np.ndarray, np.ndarray, FaceInterpretation]:
        """The head mesh (world vertices (V, 3) mm, triangles (F, 3)) the sketch describes; raises
        FrameError / ReconstructionError (both ValueError) with what to draw instead."""
        from .reconstruct import ReconstructionError
        info = FaceInterpretation()
        t0 = time.perf_counter()
        sketch = _tidy(sketch)
        if sketch is None:
            raise FrameError("the sketch is empty or lies outside the canvas; draw the outline of a head "
                             "(from the front) first")
        frame, strokes = FaceFrame.of_sketch(sketch)
        ink = frame.ink(strokes)
        outline = frame.ink([s for s in strokes if s[1] not in ("ridge", "valley")])
        if not outline.any():
            raise FrameError("draw the outline of the head (plain strokes) before ridges and valleys")
        info.canvas = ink.shape[-1]
        model = self.model  # loaded once, on the first sketch worth reading
        t1 = time.perf_counter()
        info.seconds["frame"] = t1 - t0
        key = hashlib.sha256(outline.tobytes() + repr((frame.centre, frame.scale, frame.camera,
                                                       self.symmetric)).encode()).hexdigest()
        with self._lock:
            coarse = self._coarse if key == self._coarse_key else None
        info.coarse_reused = coarse is not None
        if coarse is None:
            coarse = model.coarse(outline, self.symmetric)
            with self._lock:
                self._coarse_key, self._coarse = key, coarse
        t2 = time.perf_counter()
        info.seconds["coarse"] = t2 - t1
        refined = model.refine(ink, coarse, self.symmetric)
        t3 = time.perf_counter()
        info.seconds["refine"] = t3 - t2
        verts = frame.to_world(refined.vertices)
        if not np.isfinite(verts).all():
            raise ReconstructionError("the head came out broken (non-finite vertices); redraw the outline")
        info.vertices = len(verts)
        info.seconds["total"] = time.perf_counter() - t0
        return verts, refined.triangles, info

    def propose(self, sketch: Sketch, session, top_k: int = 3) -> list[Proposal]:
        """One proposal: the head as body "head" (replacing the head made before). A sketch that
        holds no head raises FrameError / ReconstructionError (ValueError) saying what to draw.
        Never changes the model (the mesh data is kept in the document's blob store, which only
        an accepted operation uses)."""
        t0 = time.perf_counter()
        try:
            verts, tris, info = self.head(sketch)
        except ValueError:
            self.last = FaceInterpretation(seconds={"total": time.perf_counter() - t0})
            raise
        self.last = info
        key = session.document.add_blob(mesh_blob(verts, tris))
        existing = session.bodies.get(BODY)
        replace = existing is not None and existing.kind == "mesh" and _made_here(session, BODY)
        name = BODY if (existing is None or replace) else _free_name(session, BODY)
        op = PutMesh(body=name, blob=key, source="face", replace=replace)
        extra = {"vertices": int(len(verts)), "triangles": int(len(tris)), "symmetric": self.symmetric,
                 "coarse_reused": info.coarse_reused,
                 "stage_seconds": {k: round(v, 4) for k, v in info.seconds.items()}}
        return [Proposal(op, 1.0, extra)]


def _made_here(session, body: str) -> bool:
    """Whether the last operation that made `body` was a face mesh (so the next one replaces it)."""
    for op in reversed(session.history):
        if getattr(op, "body", None) == body:
            return isinstance(op, PutMesh) and op.source == "face"
    return False


def _free_name(session, base: str) -> str:
    i = 2
    while f"{base}{i}" in session.bodies:
        i += 1
    return f"{base}{i}"


def _tidy(sketch: Sketch) -> Sketch | None:
    """Drop empty strokes and points far off the canvas, resample very long strokes; None when
    nothing is left."""
    strokes = []
    w, h = sketch.width, sketch.height
    for s in sketch.strokes:
        pts = np.asarray(s.points, float)
        if len(pts) == 0:
            continue
        if not np.isfinite(pts[:, :2]).all():
            raise FrameError("a stroke holds NaN or infinite coordinates; redraw it or remove it from the file")
        keep = ((pts[:, 0] > -OFF_CANVAS * w) & (pts[:, 0] < (1 + OFF_CANVAS) * w)
                & (pts[:, 1] > -OFF_CANVAS * h) & (pts[:, 1] < (1 + OFF_CANVAS) * h))
        pts = pts[keep]
        if len(pts) == 0:
            continue
        if len(pts) > MAX_POINTS:
            pts = pts[np.linspace(0, len(pts) - 1, MAX_POINTS).round().astype(int)]
        strokes.append(Stroke(pts, s.kind))
    if not strokes:
        return None
    return Sketch(sketch.camera, w, h, tuple(strokes), sketch.mode, sketch.prompt)
