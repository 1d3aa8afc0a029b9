"""The Sketch2CAD back end: a sketch over the model -> ranked CAD operations (mode `cad`).

    sketch -> square view around model and strokes (framing) -> context renders of the model
      -> strokes rasterised -> the network (operation class, stitching face, curve roles)
      -> fitting (face, profile, distance, ...) -> proposals, each a valid operation

Registered through the `sketchforge.backends` entry-point group like any plugin's back end.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sketchforge.modeling.bodies import SolidBody
from sketchforge.modeling.render import render_context
from sketchforge.modeling.sketch import Sketch

from ..synth.item import view_normals
from ..framing import frame_sketch

log = logging.getLogger(__name__)

WEIGHTS = Path(__file__).resolve().parents[2] / "assets" / "cad" / "cadnet.safetensors"
MAX_POINTS = 4000  # per stroke; longer strokes are resampled (a 10,000-point stroke is fine)


@dataclass
class Interpretation:
    """What the last `propose` call did: time per stage (seconds) and the network's class reading."""

    seconds: dict[str, float] = field(default_factory=dict)  # view, net, fit, total
    class_probs: np.ndarray | None = None  # None when the sketch never reached the network
    proposals: int = 0


class CadBackend:
    """Interprets `cad` sketches with the shipped network and the parameter fitting.

    `last` describes the most recent interpretation (stage times, the network's class
    probabilities), for the status bar and the benchmarks.
    """

    mode = "cad"
    title = "CAD operations (Sketch2CAD)"

    def __init__(self, weights: str | Path | None = None) -> None:
        # SKETCHFORGE_CAD_WEIGHTS picks other weights for the app and the command line (to compare runs)
        if weights is None:
            weights = os.environ.get("SKETCHFORGE_CAD_WEIGHTS") or WEIGHTS
        self.weights = Path(weights)
        self._net = None
        self._lock = threading.Lock()
        self.last = Interpretation()

    @property
    def net(self):
        with self._lock:
            if self._net is None:
                from .infer import CadNet
                if not self.weights.is_file():
                    raise FileNotFoundError(f"the CAD network weights are missing ({self.weights}); "
                                            "train them with sketchforge-train-cad (see assets/cad/MODEL_CARD.md)")
                self._net = CadNet.load(self.weights)
            return self._net

    def propose(self, sketch: Sketch, session, top_k: int = 3) -> list:
        """Ranked proposals; [] when nothing is recognised. Never changes the document."""
        from .fit import NetOutputs, fit_proposals, rasterise_sketch
        t0 = time.perf_counter()
        info = Interpretation()
        self.last = info
        net = self.net  # loaded before the clock's first stage
        t = time.perf_counter()
        try:
            sketch = _tidy(sketch)
            if sketch is None:
                return []
            solids = {k: b for k, b in session.bodies.items() if isinstance(b, SolidBody)}
            if not solids:
                return []
            size = net.size
            framed = frame_sketch(sketch, solids, size)
            context = render_context(solids, framed.camera, size, size, lines=False)
            stroke = rasterise_sketch(framed.sketch, size, size)
            if not (stroke > 0).any() or not context.mask.any():
                return []
            body = _body_under(stroke, context)
            if body is None:
                return []
            depth = np.where(context.mask, context.depth, 0.0).astype(np.float32)
            normals = view_normals(context.normal, framed.camera)
            info.seconds["view"] = time.perf_counter() - t
            t = time.perf_counter()
            pred = net.predict(stroke, normals, depth)
            info.class_probs = pred.class_probs
            info.seconds["net"] = time.perf_counter() - t
            t = time.perf_counter()
            outputs = NetOutputs(pred.class_probs, pred.stitch, pred.roles)
            proposals = fit_proposals(session, body, framed.sketch, context, stroke, outputs, top_k=top_k)
            info.seconds["fit"] = time.perf_counter() - t
            info.proposals = len(proposals)
            return proposals
        finally:
            info.seconds["total"] = time.perf_counter() - t0


def _tidy(sketch: Sketch) -> Sketch | None:
    """Drop empty strokes and resample very long ones; None when nothing is left to read."""
    from sketchforge.modeling.sketch import Stroke
    strokes = []
    for s in sketch.strokes:
        pts = s.points
        if len(pts) == 0:
            continue
        if len(pts) > MAX_POINTS:
            idx = np.linspace(0, len(pts) - 1, MAX_POINTS).round().astype(int)
            pts = pts[idx]
        strokes.append(Stroke(pts, s.kind))
    if not strokes:
        return None
    ext = np.concatenate([s.uv for s in strokes])
    if float(np.ptp(ext[:, 0]) + np.ptp(ext[:, 1])) < 2.0:  # a dot: nothing to interpret
        return None
    return Sketch(sketch.camera, sketch.width, sketch.height, tuple(strokes), sketch.mode, sketch.prompt)


def _body_under(stroke: np.ndarray, context) -> str | None:
    """The body most of the strokes lie over (by the face-id render), None when they miss the model."""
    ys, xs = np.nonzero(stroke)
    ids = context.face_id[ys, xs]
    ids = ids[ids >= 0]
    if not len(ids):
        return None
    bodies = [context.faces[i][0] for i in ids]
    names, counts = np.unique(bodies, return_counts=True)
    return str(names[int(np.argmax(counts))])
