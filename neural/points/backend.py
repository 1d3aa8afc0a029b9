"""The `points` back end: a colored point cloud from a sketch and a prompt, and new colors for a
cloud from a new prompt (specs/modes.md, `points`).

A sketch with strokes gives one proposal, a `SketchPoints` operation carrying the cloud (2,048
points or more, colors, part labels): the shape network samples positions from the sketch and
the prompt, the color network colors them from the prompt, and `frame.place` stands the cloud
upright where it was drawn. A sketch with no strokes re-colors the cloud of the model (the one
the last points proposal made, else the only cloud): a `Recolor` operation whose colors cover
every point, the positions and their order untouched.

The prompt must name the object or a color the vocabulary knows (`palette.parse_prompt`); a
prompt of words it does not know, or longer than `MAX_PROMPT` characters, is answered with a
hint and no proposal, as is an empty sketch with no cloud to re-color. Sampling reports its steps
through `Context.step`, so the window shows progress and can cancel.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sketchforge.modeling.bodies import PointCloudBody
from sketchforge.modeling.clouds import Recolor, SketchPoints
from sketchforge.modeling.contract import Context, Interpretation, ModeSpec, Proposal, StrokeKind, option
from sketchforge.modeling.operations import blob_key, colors_blob, points_blob
from sketchforge.modeling.sketch import Sketch

from ..assets import asset_root
from ..backend import NeuralBackend, Stopwatch, new_body_name, sketch_blob, tidy_sketch

__all__ = ["POINTS_MODE", "PointsOptions", "PointsBackend", "MAX_PROMPT", "ASSETS"]

ASSETS = asset_root() / "points"
MAX_PROMPT = 300  # characters: a sentence or two; a prompt is what the object is and how it is colored
OFF_CANVAS = 0.25

POINTS_MODE = ModeSpec(
    "points", "Colored point clouds",
    (StrokeKind(None, "Outline and part edges", (40, 40, 40), "The object's outline and the edges between its parts"),),
    keeps_strokes=False, prompt="required", view=None,
    guide=("Draw an object (a chair, a table, a lamp, a mug...) from any view: its outline and the "
           "edges between its parts.",
           "Type what it is and how it is colored: \"a wooden chair with a red seat and black legs\".",
           "Space makes the cloud (a few seconds), Enter keeps it.",
           "With no strokes, a new prompt re-colors the cloud without moving a point."))


@dataclass(frozen=True)
class PointsOptions:
    """How points sketches are read."""

    points: int = option(2048, "Points", choices={2048: "2,048", 4096: "4,096", 8192: "8,192"},
                         tip="How many points the cloud has (more take longer; meshing likes more)")
    quality: int = option(25, "Sampling steps", choices={12: "Fast (12)", 25: "Standard (25)", 50: "Fine (50)"},
                          tip="Denoising steps of each stage: fewer are faster, more are a little cleaner")
    seed: int = option(0, "Seed", minimum=0, maximum=1_000_000,
                       tip="Another seed gives another cloud for the same sketch and prompt")
    refuse: bool = option(True, "Refuse scribbles",
                          tip="Say what to draw instead of making a cloud when the strokes look like a scribble "
                              "(the calibrated refusal, assets/points/refusal.json)")


class PointsBackend(NeuralBackend):
    """Interprets `points` sketches with the shipped shape and color networks (module doc)."""

    name = "points"
    modes = (POINTS_MODE,)
    Options = PointsOptions

    def __init__(self, shape: str | Path | None = None, color: str | Path | None = None, **options: Any) -> None:
        super().__init__(**options)
        self._shape = shape or os.environ.get("SKETCHFORGE_POINTS_SHAPE") or ASSETS / "shape.safetensors"
        self._color = color or os.environ.get("SKETCHFORGE_POINTS_COLOR") or ASSETS / "color.safetensors"

    # -- networks -------------------------------------------------------------------------------
    @property
    def nets(self):
        """(shape network, color network, text encoder), loaded on first use."""
        def load():
            from ..text import TextEncoder
            from ..weights import WeightsError
            from .net import load_net
            for p in (self._shape, self._color):
                if not Path(p).is_file():
                    raise WeightsError(f"the points networks are missing ({p}); train them with "
                                       "sketchforge-train-points (see assets/points/MODEL_CARD.md)", Path(p))
            shape, _ = load_net(self._shape, "shape")
            color, _ = load_net(self._color, "color")
            cache = ASSETS / "prompts.safetensors"
            return shape, color, TextEncoder(cache if cache.is_file() else None)
        return self.loaded("nets", load)

    def refusal(self):
        """The calibrated scribble refusal (`refusal.py`, `assets/points/refusal.json`), None where
        none ships."""
        def load():
            from .refusal import load
            path = ASSETS / "refusal.json"
            return load(path) if path.is_file() else None
        return self.loaded("refusal", load)

    def scribble_hint(self, sketch: Sketch) -> str | None:
        """What to draw instead when the refusal (option `refuse`) takes the strokes of `sketch`
        (as `propose` reads them) for a scribble; None when it does not, is off or none ships."""
        refusal = self.refusal() if self.options.refuse else None
        if refusal is None:
            return None
        from .refusal import reason
        return reason(refusal, sketch)

    def _warm(self) -> None:
        import torch

        from .diffusion import sample_colors
        shape, color, encoder = self.nets
        text = encoder.encode(["a wooden chair"])
        with torch.inference_mode():
            sample_colors(color, np.random.default_rng(0).normal(size=(64, 3)), text, steps=2)

    # -- reading --------------------------------------------------------------------------------
    @staticmethod
    def check_prompt(prompt: str | None) -> str | None:
        """A hint when the prompt cannot be read (missing, too long, no word the vocabulary
        knows), None when it can."""
        from .palette import parse_prompt
        text = (prompt or "").strip()
        if not text:
            return ("type what the object is in the prompt (\"a chair\", \"a red mug\", \"a wooden table with "
                    "black legs\")")
        if len(text) > MAX_PROMPT:
            return (f"the prompt is {len(text):,} characters; say what the object is and its colors in at most "
                    f"{MAX_PROMPT} (\"a wooden chair with a red seat\")")
        parsed = parse_prompt(text)
        if parsed.category is None and parsed.whole is None and not parsed.parts:
            return (f"no object or color in \"{_short(text)}\" is one I know; name the object (chair, armchair, "
                    "sofa, table, stool, mug, lamp, vase, bottle, bench, bookshelf) and its colors")
        return None

    def propose(self, sketch: Sketch, context: Context, top_k: int = 3) -> Interpretation:
        watch = Stopwatch()
        with watch.stage("read"):
            hint = self.check_prompt(sketch.prompt)
            if hint:
                return self.answer((), watch, top_k, hint, network="points")
            tidy = tidy_sketch(sketch, off_canvas=OFF_CANVAS)
            why = self.scribble_hint(tidy) if tidy is not None else None  # a re-color is never refused
            if why:
                return self.answer((), watch, top_k, why, network="points")
        if tidy is None:
            return self._recolor(sketch, context, watch, top_k)
        return self._generate(tidy, context, watch, top_k)

    def _generate(self, sketch: Sketch, context: Context, watch: Stopwatch, top_k: int) -> Interpretation:
        from .diffusion import generate
        from .frame import FrameError
        from .objects import PART_NAMES
        from .palette import parse_prompt
        o = self.options_for(context)
        with watch.stage("load"):
            shape, color, encoder = self.nets
        total = 2 * o.quality
        with watch.stage("sample"):
            try:
                cloud = generate(shape, color, encoder, sketch, points=o.points, steps=o.quality, seed=o.seed,
                                 step=lambda k: context.step(k, total))
            except FrameError as exc:
                return self.answer((), watch, top_k, str(exc), network="points")
        parsed = parse_prompt(sketch.prompt or "")
        labels = np.asarray(cloud.parts, np.int64)
        parts = labels.astype(np.int16) if (labels >= 0).all() else None
        data = points_blob(cloud.points, cloud.colors, parts, tuple(PART_NAMES) if parts is not None else ())
        key = blob_key(data)
        drawn = sketch_blob(sketch)  # kept with the cloud: it can be sampled again with another seed
        body = new_body_name(context, "cloud")
        category = parsed.category or ""
        op = SketchPoints(body, key, category=category, prompt=(sketch.prompt or "").strip(),
                          points=len(cloud.points), seed=o.seed, sketch=blob_key(drawn))
        present = sorted({PART_NAMES[i] for i in np.unique(labels) if 0 <= i < len(PART_NAMES)})
        score = 1.0 if parsed.category else 0.5  # the prompt named the object, or only its colors
        proposal = Proposal(op, score, {"parts": present}, blobs={key: data, blob_key(drawn): drawn})
        return self.answer((proposal,), watch, top_k, network="points", details={"category": category,
                                                                                 "parts": present})

    def _recolor(self, sketch: Sketch, context: Context, watch: Stopwatch, top_k: int) -> Interpretation:
        from .diffusion import recolor
        clouds = {k: b for k, b in context.bodies.items() if isinstance(b, PointCloudBody)}
        if not clouds:
            return self.answer((), watch, top_k, "draw the object's outline and part edges first (there is no "
                               "point cloud to re-color)", network="points")
        made = [k for k, b in clouds.items() if b.source == "points"]
        body = (made or list(clouds))[-1]
        cloud = clouds[body]
        with watch.stage("load"):
            _, color, encoder = self.nets
        o = self.options_for(context)
        steps = o.quality
        with watch.stage("sample"):
            _, colors, _ = recolor(color, encoder, cloud.points, sketch.prompt or "", steps=steps,
                                   seed=o.seed, step=lambda k: context.step(k, steps))
        data = colors_blob(colors)
        key = blob_key(data)
        op = Recolor(body, key, prompt=(sketch.prompt or "").strip())
        proposal = Proposal(op, 1.0, {"points": len(cloud.points)}, blobs={key: data})
        return self.answer((proposal,), watch, top_k, network="points")


def _short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
