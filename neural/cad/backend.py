"""The Sketch2CAD back end: a sketch over the model -> ranked CAD operations (mode `cad`).

    sketch -> square view around model and strokes (framing) -> context renders of the model
      -> strokes rasterised -> the network (operation class, stitching face, curve roles)
      -> its stroke stage, where it has one (the curve roles read again per piece of stroke,
         `strokeroles.py`) -> fitting (face, profile, distance, ...) -> proposals, each a valid operation

Three networks ship (`NETWORKS`): "light" (the default), a small MobileNetV2-style student trained
at five canvas sizes, with a canvas selector that picks the raster size each sketch is read at,
for interpretation at every stroke on an ordinary CPU; "standard", with a stroke stage that reads
the curve roles best; and "reference", the teacher of the distilled students, at 36 times the
light network's FLOPs at 128 px. Each can have a stroke stage beside it. The app's Sketch menu, the console (`session.backend("cad").use("light")`)
and the environment variable SKETCHFORGE_CAD_NETWORK (for the command line) choose between them.

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

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "cad"
# name -> (weights, canvas selector or None, what it is)
NETWORKS: dict[str, tuple[Path, Path | None, str]] = {
    "light": (ASSETS / "student.safetensors", ASSETS / "selector.safetensors",
              "light network with canvas selection (fastest)"),
    "standard": (ASSETS / "cadnet.safetensors", None, "standard network (best curve roles)"),
    "reference": (ASSETS / "teacher.safetensors", None, "reference network (slowest)"),
}
# The light network reads operations within a point of the reference (the model card gives the
# figures), so the live path uses it unless the user picks another.
DEFAULT_NETWORK = "light"
WEIGHTS = NETWORKS["standard"][0]
MAX_POINTS = 4000  # per stroke; longer strokes are resampled (a 10,000-point stroke is fine)


@dataclass
class Interpretation:
    """What the last `propose` call did: time per stage (seconds) and the network's class reading."""

    seconds: dict[str, float] = field(default_factory=dict)  # view, net, fit, total
    class_probs: np.ndarray | None = None  # None when the sketch never reached the network
    proposals: int = 0
    network: str = ""  # which network read it ("light", "reference", or a weight file's name)
    canvas: int | None = None  # the raster size (px) the network read, when it ran
    flops: int | None = None  # FLOPs of the network part (canvas selector + network + stroke stage), when it ran


class CadBackend:
    """Interprets `cad` sketches with a shipped network and the parameter fitting.

    `network` names one of `NETWORKS`; explicit `weights` (and optionally a `selector`) use other
    files instead, as do the environment variables SKETCHFORGE_CAD_WEIGHTS / SKETCHFORGE_CAD_SELECTOR
    (to compare training runs from the app and the command line). `use(name)` switches network.
    `last` describes the most recent interpretation (stage times, the network's class
    probabilities, canvas and FLOPs), for the status bar and the benchmarks.
    """

    mode = "cad"
    title = "CAD operations (Sketch2CAD)"

    def __init__(self, weights: str | Path | None = None, selector: str | Path | None = None,
                 network: str | None = None, strokes: bool = True) -> None:
        self._lock = threading.Lock()
        self.last = Interpretation()
        # read the image network's curve roles again piece by piece of stroke, where the network
        # has a stroke stage beside it (`strokeroles.py`); False keeps its pixel roles (to compare)
        self.strokes = strokes
        weights = weights or os.environ.get("SKETCHFORGE_CAD_WEIGHTS") or None
        if weights is not None:
            selector = selector or os.environ.get("SKETCHFORGE_CAD_SELECTOR") or None
            self._set(Path(weights).name, Path(weights), Path(selector) if selector else None)
        else:
            self.use(network or os.environ.get("SKETCHFORGE_CAD_NETWORK") or DEFAULT_NETWORK)

    @property
    def networks(self) -> dict[str, str]:
        """The shipped networks to choose from: name -> what it is."""
        return {name: desc for name, (_, _, desc) in NETWORKS.items()}

    def use(self, network: str) -> None:
        """Read sketches with the shipped network `network` (a name in `NETWORKS`) from now on."""
        if network not in NETWORKS:
            raise ValueError(f"unknown CAD network {network!r}; choose one of {', '.join(NETWORKS)}")
        weights, selector, _ = NETWORKS[network]
        self._set(network, weights, selector)

    def _set(self, name: str, weights: Path, selector: Path | None) -> None:
        with self._lock:
            self.network, self.weights, self.selector_weights = name, weights, selector
            self._net = self._selector = self._stage = None
            self._prepared = False

    @property
    def net(self):
        return self._load()[0]

    def _load(self):
        """(network, canvas selector or None), loaded on first use."""
        with self._lock:
            if self._net is None:
                from .infer import CadNet
                if not self.weights.is_file():
                    raise FileNotFoundError(f"the CAD network weights are missing ({self.weights}); "
                                            "train them with sketchforge-train-cad (see assets/cad/MODEL_CARD.md)")
                net = CadNet.load(self.weights)
                selector = None
                if self.selector_weights is not None:
                    from ..selector import load_selector
                    if not self.selector_weights.is_file():
                        raise FileNotFoundError(
                            f"the canvas selector weights are missing ({self.selector_weights}); train them "
                            "with sketchforge-train-selector (see assets/cad/MODEL_CARD.md)")
                    selector = load_selector(self.selector_weights)[0]
                self._net, self._selector = net, selector
                self._stage = load_stroke_stage(self.weights)
            return self._net, self._selector

    def prepare(self) -> None:
        """Load the network (and selector) and read a blank canvas twice, so that the user's first
        sketch is read as quickly as the rest (the network's graph for the canvas is traced on its
        second reading). Changes nothing; safe to run in a worker thread (the window does, when
        the mode is picked or the network switched). Once done, a second call returns at once
        (until the network is switched)."""
        from ..selector import FEATURES
        if self._prepared:
            return
        net, selector = self._load()
        size = net.size
        canvas = selector.choose_sequence(np.zeros((1, FEATURES), np.float32)) if selector is not None else None
        blank = (np.zeros((size, size), np.uint8), np.zeros((size, size, 3), np.float32),
                 np.zeros((size, size), np.float32))
        for _ in range(2):
            net.predict(*blank, canvas=canvas)
        with self._lock:
            self._prepared = self._net is net  # not when the network was switched meanwhile

    def propose(self, sketch: Sketch, session, top_k: int = 3) -> list:
        """Ranked proposals; [] when nothing is recognised. Never changes the document."""
        from ..selector import stroke_sequence
        from .fit import NetOutputs, fit_proposals, rasterise_sketch
        t0 = time.perf_counter()
        info = Interpretation(network=self.network)
        self.last = info
        net, selector = self._load()  # loaded before the clock's first stage
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
            canvas = seq = None
            if selector is not None:
                seq = stroke_sequence([st.uv for st in framed.sketch.strokes], size, size)
                canvas = selector.choose_sequence(seq)
            pred = net.predict(stroke, normals, depth, canvas=canvas)
            info.class_probs = pred.class_probs
            roles, pieces = pred.roles, 0
            stage = self._stage if self.strokes else None
            if stage is not None:
                from .strokeroles import Reading
                reading = Reading.from_logits(pred.role_logits, pred.stitch, pred.class_probs,
                                              net.prepare(stroke, normals, depth))
                roles, pieces = stage.refine([s.uv for s in framed.sketch.strokes], reading, stroke > 0, roles)
            info.seconds["net"] = time.perf_counter() - t
            # counted (once per size, then cached) outside the network's time
            info.canvas = canvas or size
            info.flops = (net.flops(canvas) + (selector.flops(len(seq)) if seq is not None else 0)
                          + (stage.flops(pieces) if stage is not None else 0))
            t = time.perf_counter()
            outputs = NetOutputs(pred.class_probs, pred.stitch, roles)
            proposals = fit_proposals(session, body, framed.sketch, context, stroke, outputs, top_k=top_k)
            info.seconds["fit"] = time.perf_counter() - t
            info.proposals = len(proposals)
            return proposals
        finally:
            info.seconds["total"] = time.perf_counter() - t0


def load_stroke_stage(weights: Path):
    """The stroke stage beside the image network `weights` (`strokeroles.stroke_stage_path`), or
    None when there is none. One trained on another image network's readings is not used (with a
    warning): its file records the hash of the network it was trained on."""
    from ..training import file_digest
    from .strokeroles import StrokeStage, stroke_stage_path
    path = stroke_stage_path(weights)
    if not path.is_file():
        return None
    stage = StrokeStage.load(path)
    if stage.extra.get("weights_sha256") != file_digest(weights):
        log.warning("%s was trained on another image network than %s; the curve roles are read without it "
                    "(train it again with sketchforge-train-cad-strokes)", path.name, Path(weights).name)
        return None
    return stage


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
