"""The sketch-to-head back end (mode `face`): a front-view sketch -> a detailed, symmetric head mesh.

    sketch -> the network frame (`frame.FaceFrame`: strokes on the view's plane, centred and
      scaled) -> coarse mesh (maps of every stroke -> implicit -> marching cubes) -> IDGMM
      refinement (ridge / valley detail included), both with every stroke
      -> the mesh back in the world, facing the camera the sketch was drawn in

The proposal is one `PutMesh` of the body "head" (replacing the head this back end made before,
so each stroke refines it and undo steps back through the refinements). Plain strokes are the
outline and features (eyes, nose, mouth, ears); `ridge` (red) and `valley` (green) strokes add
detail. The option `symmetric` (on by default) mirrors the head left-right; `new_head` makes the
next head a body of its own instead of refining the current one. The app's Sketch menu (drawn from
the declared options) and the console (`session.backend("face").configure(symmetric=False)`) set them.
The current head is the face mesh made last; the strokes stay after a head is accepted, so the
next stroke refines it.

Registered through the `sketchforge.backends` entry-point group like any plugin's back end.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sketchforge.modeling.bodies import MeshBody
from sketchforge.modeling.contract import Context, Interpretation, ModeSpec, Proposal, StrokeKind, option
from sketchforge.modeling.operations import PutMesh, blob_key, mesh_blob
from sketchforge.modeling.sketch import Sketch

from ..backend import NeuralBackend, Stopwatch, tidy_sketch
from .frame import FaceFrame, FrameError
from .scribble import scribble_signs

log = logging.getLogger(__name__)

BODY = "head"
OFF_CANVAS = 0.25   # share of the canvas a point may lie outside it before it is dropped
PART_BOX_GROWTH = 1.75  # a part's box: its strokes' box grown by this (the library's boxes: 1.2-2.2 x)

FACE_MODE = ModeSpec(
    "face", "Character faces",
    (StrokeKind(None, "Outline and features", (255, 140, 26), "The head's outline, eyes, nose, mouth, ears"),
     StrokeKind("ridge", "Ridge", (255, 64, 64), "Raised detail: cheekbones, brow ridges, lips"),
     StrokeKind("valley", "Valley", (60, 190, 90), "Sunken detail: eye sockets, the mouth line, wrinkles")),
    keeps_strokes=True, prompt="none", view="front",
    guide=("Draw the head from the front: first its outline, then the eyes, nose, mouth and ears.",
           "Ridge (red) strokes raise detail, Valley (green) strokes sink it.",
           "Space previews the head, Enter takes it; the strokes stay, so every stroke refines it.",
           "Orbit to look at it: the strokes wait in their view, and the Front view brings them back.",
           "G suggests part strokes like the last ones you drew."),
    part_suggestions=True)


@dataclass(frozen=True)
class FaceOptions:
    """How face sketches are read."""

    symmetric: bool = option(True, "Mirror faces left-right",
                             tip="Make the head symmetric (switch off for asymmetric characters)")
    new_head: bool = option(False, "Next head is a new body", once=True,
                            tip="Make the next head a body of its own instead of refining the current one")
    refuse: bool = option(True, "Refuse scribbles",
                          tip="Say what to draw instead of making a head when the sketch looks like a scribble "
                              "(the calibrated refusal, assets/face/refusal.json)")


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


class FaceBackend(NeuralBackend):
    """Interprets `face` sketches with the shipped networks (`assets/face/`), or the files named by
    SKETCHFORGE_FACE_MAPS / SKETCHFORGE_FACE_IMPLICIT."""

    name = "face"
    modes = (FACE_MODE,)
    Options = FaceOptions

    def __init__(self, maps: str | Path | None = None, implicit: str | Path | None = None, **options) -> None:
        super().__init__(**options)
        self._maps = maps or os.environ.get("SKETCHFORGE_FACE_MAPS") or None
        self._implicit = implicit or os.environ.get("SKETCHFORGE_FACE_IMPLICIT") or None
        self._coarse_key: str | None = None
        self._coarse = None

    @property
    def model(self):
        """The maps and implicit networks (`reconstruct.FaceModel`), loaded on first use."""
        from .reconstruct import FaceModel
        return self.loaded("model", lambda: FaceModel.load(self._maps, self._implicit))

    def refusal(self):
        """The calibrated scribble refusal (`refusal.py`, `assets/face/refusal.json`), None where
        none ships."""
        def load():
            from .reconstruct import ASSETS
            from .refusal import load
            path = ASSETS / "refusal.json"
            return load(path) if path.is_file() else None
        return self.loaded("refusal", load)

    @property
    def suggester(self):
        """(stroke-suggestion network, part library), loaded on first use."""
        def load():
            from .reconstruct import ASSETS
            from .suggest import load_library, load_model
            weights, library = ASSETS / "suggest.safetensors", ASSETS / "parts-library.safetensors"
            for p in (weights, library):
                if not p.is_file():
                    raise FileNotFoundError(f"the stroke-suggestion files are missing ({p}); make them with "
                                            "sketchforge-face-suggest (see assets/face/MODEL_CARD.md)")
            return load_model(weights)[0].eval(), load_library(library)
        return self.loaded("suggester", load)

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

    def _warm(self) -> None:
        """Load the networks and read one small drawn head (an oval and two eyes): the first
        reading in a process pays one-off costs (the libraries' first calls, about 1.5 s on this
        project's machine, against 0.2 s for a stroke after it). The head is thrown away and the
        coarse cache is left as it was."""
        import cv2

        from .frame import PEN_PX, SIZE
        from .reconstruct import ReconstructionError
        model = self.model
        ink = np.zeros((3, SIZE, SIZE), np.float32)
        c = SIZE // 2
        cv2.ellipse(ink[0], (c, c), (SIZE * 9 // 32, SIZE * 23 // 64), 0, 0, 360, 1.0, PEN_PX)
        for dx in (-SIZE // 9, SIZE // 9):
            cv2.circle(ink[0], (c + dx, c - SIZE // 16), SIZE // 24, 1.0, PEN_PX)
        symmetric = self.options.symmetric
        try:
            model.refine(ink, model.coarse(ink, symmetric), symmetric)
        except ReconstructionError:
            pass  # the one-off costs are paid all the same

    def head(self, sketch: Sketch, watch: Stopwatch | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
        """The head mesh (world vertices (V, 3) mm, triangles (F, 3)) the sketch describes, and
        what the reading did (canvas, whether the coarse head was reused); raises FrameError /
        ReconstructionError (both ValueError) with what to draw instead."""
        watch = watch or Stopwatch()
        symmetric = self.options.symmetric
        with watch.stage("frame"):
            sketch = tidy_sketch(sketch, off_canvas=OFF_CANVAS)
            if sketch is None:
                raise FrameError("the sketch is empty or lies outside the canvas; draw the outline of a head "
                                 "(from the front) first")
            frame, strokes = FaceFrame.of_sketch(sketch)
            ink = frame.ink(strokes)
            outline = frame.ink([s for s in strokes if s[1] not in ("ridge", "valley")])
            if not outline.any():
                raise FrameError("draw the outline of the head (plain strokes) before ridges and valleys")
        with watch.stage("load"):
            from .reconstruct import ReconstructionError  # torch's first import is loading too
            model = self.model  # loaded once, on the first sketch worth reading
        details = {"canvas": int(ink.shape[-1])}
        with watch.stage("coarse"):
            # the coarse head reads every stroke (ridges and valleys tell the maps network the
            # relief); it is kept for a sketch read again unchanged (a second look, the symmetry
            # switched back)
            key = hashlib.sha256(ink.tobytes() + repr((frame.centre, frame.scale, frame.camera,
                                                       symmetric)).encode()).hexdigest()
            with self._lock:
                coarse = self._coarse if key == self._coarse_key else None
            details["coarse_reused"] = coarse is not None
            if coarse is None:
                coarse = model.coarse(ink, symmetric)
                with self._lock:
                    self._coarse_key, self._coarse = key, coarse
            refusal = self.refusal() if self.options.refuse else None
            if refusal is not None:
                from .refusal import features, reason
                signs = scribble_signs(frame, strokes, coarse.mask)
                details["sure"] = refusal.probability(features(signs))
                why = reason(refusal, signs)
                if why:
                    raise FrameError(why)
        with watch.stage("refine"):
            refined = model.refine(ink, coarse, symmetric)
            verts = frame.to_world(refined.vertices)
            if not np.isfinite(verts).all():
                raise ReconstructionError("the head came out broken (non-finite vertices); redraw the outline")
        details["vertices"] = int(len(verts))
        return verts, refined.triangles, details

    def propose(self, sketch: Sketch, context: Context, top_k: int = 3) -> Interpretation:
        """One proposal: the head, refining the current head (the face mesh made last) or, with
        `new_head`, as a body of its own. A sketch that holds no head gives no proposal and a hint
        saying what to draw. Never changes the model: the mesh travels inside the proposal and is
        stored when it is accepted."""
        watch = Stopwatch()
        try:
            verts, tris, details = self.head(sketch, watch)
        except ValueError as exc:  # FrameError, ReconstructionError: the message says what to draw
            return self.answer((), watch, top_k, str(exc), network="face")
        data = mesh_blob(verts, tris)
        key = blob_key(data)
        current = current_head(context)
        if current is not None and not self.options.new_head:
            op, label = PutMesh(body=current, blob=key, source="face", replace=True), f"Refine {current}"
        else:
            name = BODY if BODY not in context.bodies else _free_name(context, BODY)
            op, label = PutMesh(body=name, blob=key, source="face", replace=False), f"New head ({name})"
        label += f" \N{EN DASH} {len(verts):,} vertices" + ("" if self.options.symmetric else ", asymmetric")
        extra = {"vertices": int(len(verts)), "triangles": int(len(tris)), "symmetric": self.options.symmetric,
                 "coarse_reused": details["coarse_reused"]}
        proposal = Proposal(op, 1.0, extra, label=label, blobs={key: data})
        return self.answer([proposal], watch, top_k, network="face", canvas=details["canvas"],
                           details={"coarse_reused": details["coarse_reused"], "vertices": details["vertices"]})


def current_head(context: Context) -> str | None:
    """The face mesh made last in the model (the head a new sketch refines), None when there is none."""
    heads = [name for name, body in context.bodies.items() if isinstance(body, MeshBody) and body.source == "face"]
    return heads[-1] if heads else None


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of every run of True in a boolean array."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    d = np.flatnonzero(np.diff(m.astype(np.int8)))
    return list(zip(d[::2], d[1::2]))


def _free_name(context: Context, base: str) -> str:
    i = 2
    while f"{base}{i}" in context.bodies:
        i += 1
    return f"{base}{i}"
