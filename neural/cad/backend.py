"""The Sketch2CAD back end: a sketch over the model -> ranked CAD operations (mode `cad`).

    sketch -> square view around model and strokes (framing) -> context renders of the model
      -> strokes rasterised -> the network (operation class, stitching face, curve roles)
      -> its stroke stage, where it has one (the curve roles read again per piece of stroke,
         `strokeroles.py`) -> fitting (face, profile, distance, ...) -> proposals, each a valid operation

Three networks ship (`NETWORKS`): "light" (the default), a small MobileNetV2-style student trained
at five canvas sizes, with a canvas selector that picks the raster size each sketch is read at,
for interpretation at every stroke on an ordinary CPU; "standard", with a stroke stage that reads
the curve roles best; and "reference", the teacher of the distilled students, at 36 times the
light network's FLOPs at 128 px. Each can have a stroke stage beside it. The option `network`
chooses between them: the app's Sketch > Mode options menu (drawn from the declared options), the
console (`session.backend("cad").configure(network="standard")`) and the environment variable
SKETCHFORGE_CAD_NETWORK (for the command line).

Registered through the `sketchforge.backends` entry-point group like any plugin's back end.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sketchforge.modeling.bodies import SolidBody
from sketchforge.modeling.contract import PLAIN, Context, Interpretation, ModeSpec, option
from sketchforge.modeling.sketch import Sketch

from ..assets import asset_root
from ..backend import NeuralBackend, Stopwatch, tidy_sketch
from ..framing import frame_sketch
from ..synth.item import view_normals

log = logging.getLogger(__name__)

ASSETS = asset_root() / "cad"  # package data: found in a wheel as in a checkout
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
NOTHING_HINT = ("Nothing recognised: draw over a face of the model, the outline of what to add, cut or "
                "move, and one line for its height")

CAD_MODE = ModeSpec(
    "cad", "CAD operations", (PLAIN,), keeps_strokes=False, prompt="none", view=None,
    guide=("Draw over the model, on one of its faces, from any view.",
           "Extrude: draw the face's outline moved to where it should go, and a line joining them.",
           "Add or cut: the profile on the face, then one line up (add) or into the part (cut).",
           "Bevel: the new edges beside an edge, a little way along both faces.",
           "Sweep: a profile on a face and the path (line or arc) it travels.",
           "Space reads the sketch; Tab: next proposal, Enter: accept, Esc: dismiss."))


@dataclass(frozen=True)
class CadOptions:
    """How CAD sketches are read."""

    network: str = option(DEFAULT_NETWORK, "CAD network", choices={n: d for n, (_, _, d) in NETWORKS.items()},
                          tip="Which network reads the sketch: light is fastest, standard reads curve roles best")
    stroke_stage: bool = option(True, "Read curve roles along the strokes",
                                tip="Read each piece of stroke again with its neighbours in view (the stroke stage)")
    refuse: bool = option(True, "Refuse unsure readings",
                          tip="Say what to draw instead of proposing when the sketch looks like no operation "
                              "(the calibrated refusal, assets/cad/refusal.json)")


class CadBackend(NeuralBackend):
    """Interprets `cad` sketches with a shipped network and the parameter fitting.

    Explicit `weights` (and optionally a `selector`) use other files instead of the option's
    network, as do the environment variables SKETCHFORGE_CAD_WEIGHTS / SKETCHFORGE_CAD_SELECTOR
    (to compare training runs from the app and the command line).
    """

    name = "cad"
    modes = (CAD_MODE,)
    Options = CadOptions
    reload_on = frozenset({"network"})

    def __init__(self, weights: str | Path | None = None, selector: str | Path | None = None, **options) -> None:
        options.setdefault("network", os.environ.get("SKETCHFORGE_CAD_NETWORK") or DEFAULT_NETWORK)
        super().__init__(**options)
        weights = weights or os.environ.get("SKETCHFORGE_CAD_WEIGHTS") or None
        self._override: tuple[Path, Path | None] | None = None
        if weights is not None:
            selector = selector or os.environ.get("SKETCHFORGE_CAD_SELECTOR") or None
            self._override = (Path(weights), Path(selector) if selector else None)

    @property
    def network(self) -> str:
        """Which network reads sketches: an option's name, or the weight file's name."""
        return self._override[0].name if self._override else self.options.network

    @property
    def files(self) -> tuple[Path, Path | None]:
        """(weights, canvas selector or None) of the network that reads sketches."""
        if self._override:
            return self._override
        weights, selector, _ = NETWORKS[self.options.network]
        return weights, selector

    def networks(self):
        """(network, canvas selector or None, stroke stage or None), loaded on first use."""
        return self.loaded("networks", self._load)

    def _load(self):
        from .infer import CadNet
        weights, selector_weights = self.files
        if not weights.is_file():
            raise FileNotFoundError(f"the CAD network weights are missing ({weights}); "
                                    "train them with sketchforge-train-cad (see assets/cad/MODEL_CARD.md)")
        net = CadNet.load(weights, traced=False)  # traced by `_warm`, where many readings pay it back
        selector = None
        if selector_weights is not None:
            from ..selector import load_selector
            if not selector_weights.is_file():
                raise FileNotFoundError(
                    f"the canvas selector weights are missing ({selector_weights}); train them "
                    "with sketchforge-train-selector (see assets/cad/MODEL_CARD.md)")
            selector = load_selector(selector_weights)[0]
        return net, selector, load_stroke_stage(weights)

    def _warm(self) -> None:
        """Load the network (and selector) and read a blank canvas twice: the network's graph for
        the canvas is traced on its second reading. Only a prepared back end (the window's, which
        reads at every stroke) traces its graphs; a one-off or batch reading runs layer by layer."""
        from ..selector import FEATURES
        net, selector, stage = self.networks()
        net.traced = True
        size = net.size
        canvas = selector.choose_sequence(np.zeros((1, FEATURES), np.float32)) if selector is not None else None
        blank = (np.zeros((size, size), np.uint8), np.zeros((size, size, 3), np.float32),
                 np.zeros((size, size), np.float32))
        for _ in range(2):
            net.predict(*blank, canvas=canvas)
        # FLOPs are counted once per canvas size (the first count pays torch's counter's one-off
        # costs, about a second): count every size the sketch may be read at now, not on its sketch
        for size in (selector.config.canvases if selector is not None else (None,)):
            net.flops(size)
        if selector is not None:
            selector.flops(1)
        if stage is not None:
            stage.flops(1)

    def propose(self, sketch: Sketch, context: Context, top_k: int = 3) -> Interpretation:
        """Ranked proposals, each a valid operation on the context's model; none (with a hint)
        when nothing is recognised. Never changes the document."""
        from ..selector import stroke_sequence
        from .fit import NetOutputs, fit_proposals, rasterise_sketch
        watch = Stopwatch()
        with watch.stage("load"):
            net, selector, stage = self.networks()
        report = {"network": self.network}
        stage = stage if self.options.stroke_stage else None

        def nothing(hint: str = NOTHING_HINT) -> Interpretation:
            return self.answer((), watch, top_k, hint, **report)

        with watch.stage("view"):
            sketch = tidy_sketch(sketch, min_extent=2.0)
            if sketch is None:
                return nothing("Nothing recognised: draw some strokes over the model first")
            refusal = self.refusal() if self.options.refuse else None
            if refusal is not None:
                from .refusal import HINT, obvious
                if obvious(refusal, sketch):  # far beyond any real sketch: no fitting
                    return nothing(HINT)
            solids = {k: b for k, b in context.bodies.items() if isinstance(b, SolidBody)}
            if not solids:
                return nothing("Nothing recognised: there is no solid to draw on; start from a template "
                               "(File > New from template) or import a STEP file")
            size = net.size
            framed = frame_sketch(sketch, solids, size)
            renders = context.render(framed.camera, size, size, lines=False, bodies=solids)
            stroke = rasterise_sketch(framed.sketch, size, size)
            if not (stroke > 0).any() or not renders.mask.any():
                return nothing("Nothing recognised: the strokes miss the model; draw over one of its faces")
            body = _body_under(stroke, renders)
            if body is None:
                return nothing("Nothing recognised: the strokes miss the model; draw over one of its faces")
            depth = np.where(renders.mask, renders.depth, 0.0).astype(np.float32)
            normals = view_normals(renders.normal, framed.camera)
        with watch.stage("net"):
            canvas = seq = None
            if selector is not None:
                seq = stroke_sequence([st.uv for st in framed.sketch.strokes], size, size)
                canvas = selector.choose_sequence(seq)
            pred = net.predict(stroke, normals, depth, canvas=canvas)
            roles, pieces = pred.roles, 0
            if stage is not None:
                from .strokeroles import Reading
                reading = Reading.from_logits(pred.role_logits, pred.stitch, pred.class_probs,
                                              net.prepare(stroke, normals, depth))
                roles, pieces = stage.refine([s.uv for s in framed.sketch.strokes], reading, stroke > 0, roles)
        with watch.stage("flops"):  # counted once per size and cached (`_warm` counts them ahead)
            report.update(canvas=canvas or size, details={"class_probs": pred.class_probs},
                          flops=(net.flops(canvas) + (selector.flops(len(seq)) if seq is not None else 0)
                                 + (stage.flops(pieces) if stage is not None else 0)))
        with watch.stage("fit"):
            outputs = NetOutputs(pred.class_probs, pred.stitch, roles)
            proposals = fit_proposals(context.state, body, framed.sketch, renders, stroke, outputs, top_k=top_k)
        if refusal is not None and proposals:
            from .refusal import HINT, reading_features
            with watch.stage("check"):
                sure = refusal.probability(reading_features(sketch, proposals, pred.class_probs))
            report["details"] = {**report["details"], "sure": sure, "threshold": refusal.threshold}
            if sure < refusal.threshold:
                return self.answer((), watch, top_k, HINT, **report)
        return self.answer(proposals, watch, top_k, NOTHING_HINT, **report)

    def refusal(self):
        """The calibrated refusal (`refusal.py`, `assets/cad/refusal.json`), None where none ships."""
        from .refusal import load
        path = ASSETS / "refusal.json"
        return self.loaded("refusal", lambda: load(path) if path.is_file() else None)


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
