"""The sketch-to-head back end (mode `face`): a front-view sketch -> a detailed, symmetric head mesh.

    sketch -> the network frame (`frame.FaceFrame`: strokes on the view's plane, centred and
      scaled) -> coarse mesh (maps of every stroke -> implicit -> marching cubes) -> IDGMM
      refinement (ridge / valley detail included), both with every stroke
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
from .scribble import scribble_reason, scribble_signs

log = logging.getLogger(__name__)

BODY = "head"
MAX_POINTS = 4000   # per stroke; longer strokes are resampled
OFF_CANVAS = 0.25   # share of the canvas a point may lie outside it before it is dropped
PART_BOX_GROWTH = 1.75  # a part's box: its strokes' box grown by this (the library's boxes: 1.2-2.2 x)


@dataclass(frozen=True)
class PartSuggestions:
    """Part strokes offered for what was just drawn: the part (and side) they were read as, the
    box (canvas pixels u0, v0, u1, v1) they fill, the indices of the drawn strokes they would
    replace, and the candidates, best first: (similarity, polylines (M, 2) in canvas pixels)."""

    part: str
    side: str
    box: tuple[float, float, float, float]
    replaces: tuple[int, ...]
    candidates: tuple[tuple[float, tuple[np.ndarray, ...]], ...]


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
        self._suggester = None
        self._prepared = False
        self.symmetric = symmetric
        self.last = FaceInterpretation()

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                from .reconstruct import FaceModel
                self._model = FaceModel.load(self._maps, self._implicit)
            return self._model

    @property
    def suggester(self):
        """(stroke-suggestion network, part library), loaded on first use."""
        with self._lock:
            if self._suggester is None:
                from .reconstruct import ASSETS
                from .suggest import load_library, load_model
                weights, library = ASSETS / "suggest.safetensors", ASSETS / "parts-library.safetensors"
                for p in (weights, library):
                    if not p.is_file():
                        raise FileNotFoundError(f"the stroke-suggestion files are missing ({p}); make them with "
                                                "sketchforge-face-suggest (see assets/face/MODEL_CARD.md)")
                self._suggester = (load_model(weights)[0].eval(), load_library(library))
            return self._suggester

    def suggest(self, sketch: Sketch, k: int = 5, part: str | None = None) -> PartSuggestions:
        """Part strokes like the last one drawn (with the earlier strokes of the same part): read
        as an eye, brow, nose, mouth or ear (by the suggestion network's part head and where the
        strokes sit in the drawing; `part` names it instead), and the `k` closest library parts
        placed into its box, mirrored for the left side. Raises FrameError when there is nothing
        to go by."""
        from .parts import PARTS as _PARTS
        if part is not None and part not in _PARTS:
            raise ValueError(f"unknown part {part!r}; pick one of {', '.join(_PARTS)} or None to let it be read")
        from .parts import PARTS, render_part_frame, to_part_frame
        strokes = [np.asarray(st.uv, float) for st in sketch.strokes]
        if not strokes or len(strokes[-1]) == 0 or not all(np.isfinite(p).all() for p in strokes if len(p)):
            raise FrameError("draw a part first (an eye, brow, nose, mouth or ear), then ask for suggestions")
        every = np.concatenate([p for p in strokes if len(p)])
        head_lo, head_hi = every.min(0), every.max(0)
        pad = 0.01 * float((head_hi - head_lo).max())

        def grown(lo, hi):  # the drawn part fills about 55-70% of the boxes the library was made with
            half = np.maximum((hi - lo) / 2.0, 1.0)
            c = (lo + hi) / 2.0
            g = half * PART_BOX_GROWTH + pad
            return c - g, c + g

        last = strokes[-1]
        lo, hi = grown(last.min(0), last.max(0))
        picked = [len(strokes) - 1]
        for i, p in enumerate(strokes[:-1]):   # earlier strokes of the same part (an eye of two strokes)
            if len(p) and np.mean(np.all((p >= lo) & (p <= hi), axis=1)) >= 0.5:
                picked.append(i)
        pts = np.concatenate([strokes[i] for i in picked])
        if len(picked) > 1:
            lo, hi = grown(pts.min(0), pts.max(0))
        if float((hi - lo).max()) > 0.6 * float((head_hi - head_lo).max()) and len(strokes) > 1:
            raise FrameError("the last stroke is as large as the head: draw a part (an eye, brow, nose, mouth "
                             "or ear) and ask again")
        box = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
        model, lib = self.suggester
        # what the box shows: the picked strokes, and the pieces of other strokes running through it
        # (an ear's outline is part of the head's), as the library's part images were made
        polylines = [strokes[i] for i in sorted(picked)]
        for i, p in enumerate(strokes):
            if i not in picked and len(p) > 1:
                inside = np.all((p >= lo) & (p <= hi), axis=1)
                polylines += [p[a:b] for a, b in _runs(inside) if b - a >= 2]
        left = (lo[0] + hi[0]) / 2.0 < (head_lo[0] + head_hi[0]) / 2.0 - pad
        import torch
        with torch.no_grad():
            image = render_part_frame(to_part_frame(polylines, box), model.config.image_size)
            logits = model(torch.from_numpy(np.asarray(image, np.float32))[None, None])[2]
            logp = torch.log_softmax(logits[0], 0).numpy().astype(np.float64)
            # where the part sits in the drawing (the library's layout statistics) weighs in
            layout = lib.meta.get("layout", {})
            height = max(float(head_hi[1] - head_lo[1]), 1e-6)
            centre = (pts.min(0) + pts.max(0)) / 2.0
            f = np.array([abs(centre[0] - (head_lo[0] + head_hi[0]) / 2.0) / height, (centre[1] - head_lo[1]) / height])
            for i, name in enumerate(PARTS):
                if name in layout:
                    m, sd = np.array(layout[name]["mean"]), np.array(layout[name]["std"])
                    logp[i] += float(-0.5 * (((f - m) / sd) ** 2).sum() - np.log(sd).sum())
            if part is None:
                part = PARTS[int(np.argmax(logp))]
            mirror = bool(left and part in ("eye", "brow", "ear"))
            found = lib.suggest(model, polylines, box, part, mirror, k)
        side = "centre" if part in ("nose", "mouth") else ("left" if left else "right")
        cands = tuple((float(sim), tuple(np.asarray(q, float) for q in lines)) for _, sim, lines in found)
        return PartSuggestions(part, side, box, tuple(sorted(picked)), cands)

    def prepare(self) -> None:
        """Load the networks and read one small drawn head (an oval and two eyes), so that the
        user's first sketch is read as quickly as the rest: the first reading in a process pays
        one-off costs (the libraries' first calls, about 1.5 s on this project's machine, against
        0.2 s for a stroke after it). Changes nothing: the head is thrown away and the coarse
        cache is left as it was. Safe to run in a worker thread (the window does, when the mode
        is picked); a sketch read meanwhile is read as usual. Once done, a second call returns at once."""
        if self._prepared:
            return
        import cv2

        from .frame import PEN_PX, SIZE
        from .reconstruct import ReconstructionError
        model = self.model
        ink = np.zeros((3, SIZE, SIZE), np.float32)
        c = SIZE // 2
        cv2.ellipse(ink[0], (c, c), (SIZE * 9 // 32, SIZE * 23 // 64), 0, 0, 360, 1.0, PEN_PX)
        for dx in (-SIZE // 9, SIZE // 9):
            cv2.circle(ink[0], (c + dx, c - SIZE // 16), SIZE // 24, 1.0, PEN_PX)
        try:
            model.refine(ink, model.coarse(ink, self.symmetric), self.symmetric)
        except ReconstructionError:
            pass  # the one-off costs are paid all the same
        self._prepared = True

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
        # the coarse head reads every stroke (ridges and valleys tell the maps network the relief);
        # it is kept for a sketch read again unchanged (a second look, the symmetry switched back)
        key = hashlib.sha256(ink.tobytes() + repr((frame.centre, frame.scale, frame.camera,
                                                   self.symmetric)).encode()).hexdigest()
        with self._lock:
            coarse = self._coarse if key == self._coarse_key else None
        info.coarse_reused = coarse is not None
        if coarse is None:
            coarse = model.coarse(ink, self.symmetric)
            with self._lock:
                self._coarse_key, self._coarse = key, coarse
        reason = scribble_reason(scribble_signs(frame, strokes, coarse.mask))
        if reason:
            raise FrameError(reason)
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


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of every run of True in a boolean array."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    d = np.flatnonzero(np.diff(m.astype(np.int8)))
    return list(zip(d[::2], d[1::2]))


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
