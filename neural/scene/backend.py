"""The `scene` back end: a game scene from a casual top-down sketch (specs/modes.md, `scene`).

A sketch on a map (the contract's orthographic camera looking straight down, north up) with
strokes of the kinds `water`, `road`, `forest`, `building` and `mountain` is read into a
`layout.Layout` (what each patch of ground is, how high it lies, what it is covered with), by the
shipped network (`reading.read_layout`, option `reader`) or by the rules alone (`rules.rules_layout`,
the baseline, also used when no network ships), then assembled into a playable scene by rules
(`assemble.assemble`: rivers downhill, flat lakes, graded roads and bridges, trees in forests,
buildings on level ground facing the roads). The one proposal is a `SketchScene` operation that
carries the scene and the sketch it was drawn as; the strokes stay (`keeps_strokes`), so while
the model holds a scene a new reading remakes it in place (one step that undo takes back), unless
the once-option `new_scene` asks for another beside it. A remake is regional (option `regional`,
`redraw`): the ground around the strokes drawn or erased since the scene was made is made again
and the rest kept as it was (its trees, rocks and buildings where they stood). The optional prompt is a style
("snowy", "autumn", "desert", "green hills").

Bad input is answered with a hint and no proposal: a camera that is not a map's, a map smaller
than 20 m or larger than 4 km, no stroke of a scene kind. Assembly reports its stages through
`Context.step`, so the window shows progress and can cancel.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sketchforge.modeling.contract import Context, Interpretation, ModeSpec, Proposal, StrokeKind, option
from sketchforge.modeling.operations import blob_key
from sketchforge.modeling.scenes import SceneBody, SketchScene, scene_blob
from sketchforge.modeling.sketch import Sketch

from ..assets import asset_root
from ..backend import NeuralBackend, Stopwatch, new_body_name, sketch_blob

__all__ = ["SCENE_MODE", "SceneOptions", "SceneBackend", "ASSETS"]

ASSETS = asset_root() / "scene"

SCENE_MODE = ModeSpec(
    "scene", "Game scenes",
    (StrokeKind("water", "Water", (40, 120, 255), "A river along the stroke; a lake where the stroke closes"),
     StrokeKind("road", "Road", (90, 90, 90), "A road along the stroke, bridged where it crosses water"),
     StrokeKind("forest", "Forest", (30, 140, 50), "Scribble inside an area or outline it: trees fill it"),
     StrokeKind("building", "Building", (210, 50, 40), "A mark or small outline where a building stands"),
     StrokeKind("mountain", "Mountain", (140, 90, 40), "A ridge line: high ground along the stroke")),
    keeps_strokes=True, prompt="optional", view="top",
    guide=("Draw a map from above: rivers and lakes with the water brush, roads, forests (scribble or "
           "outline), building marks and mountain ridges.",
           "Type a style if you like: \"snowy\", \"autumn\", \"desert\", \"green hills\".",
           "Space makes the scene (seconds), Enter keeps it; the strokes stay, so drawing more and "
           "pressing Space again remakes it."))


@dataclass(frozen=True)
class SceneOptions:
    """How scene sketches are read."""

    reader: str = option("network", "Reader", choices={"network": "Network", "rules": "Rules alone"},
                         tip="The network reads what the strokes mean (filled forests, widened rivers); the rules "
                             "read them literally (the baseline)")
    seed: int = option(0, "Seed", minimum=0, maximum=1_000_000,
                       tip="Another seed places other trees, rocks and house variants on the same layout")
    regional: bool = option(True, "Remake only what was redrawn",
                            tip="A redrawn map remakes the ground around the strokes drawn or erased since and keeps "
                                "the rest of the scene as it was; off: every reading makes the whole scene again")
    new_scene: bool = option(False, "Next scene is a new body", once=True,
                             tip="Make the next scene beside the current one instead of remaking it")


class SceneBackend(NeuralBackend):
    """Interprets `scene` sketches (module doc)."""

    name = "scene"
    modes = (SCENE_MODE,)
    Options = SceneOptions

    def __init__(self, weights: str | Path | None = None, **options: Any) -> None:
        super().__init__(**options)
        self._weights = Path(weights or os.environ.get("SKETCHFORGE_SCENE_LAYOUT") or ASSETS / "layout.safetensors")

    def network(self):
        """(the layout network, the text encoder), or None where no network ships (the rules read)."""
        def load():
            if not self._weights.is_file():
                return None
            from ..text import TextEncoder
            from .net import load_net
            net, _ = load_net(self._weights)
            return net, TextEncoder()
        return self.loaded("network", load)

    def _warm(self) -> None:
        self.network()

    def _read(self, sketch: Sketch, reader: str):
        """(the layout of `sketch`, the reader that read it: "network" or "rules"); ValueError saying
        what to draw or change."""
        from .rules import KINDS, ground_rectangle, rules_layout
        ground_rectangle(sketch)
        net = self.network() if reader == "network" else None
        if net is None:
            return rules_layout(sketch), "rules"
        from .reading import read_layout
        if not any(s.kind in KINDS and len(s.points) for s in sketch.strokes):
            rules_layout(sketch)  # says what to draw
        return read_layout(net[0], sketch, net[1]), "network"

    def _redraw(self, sketch: Sketch, layout, reader: str, context: Context, current: str):
        """The region a redrawn map makes again (`redraw.Redraw`), or None to make the whole scene:
        the current scene keeps no sketch, shows other ground or style, or the change is most of it."""
        from .redraw import Redraw, changed_lines
        body = context.bodies.get(current)
        data = context.state.blobs.get(body.sketch) if isinstance(body, SceneBody) and body.sketch else None
        if data is None:
            return None
        try:
            import json
            old = Sketch.from_json(json.loads(data.decode("utf-8")))
            if (old.prompt or "") != (sketch.prompt or ""):
                return None
            lines = changed_lines(old, sketch)
            if not lines:
                return None  # the same strokes (another seed or reader, say): the whole scene again
            old_layout, _ = self._read(old, reader)
        except (ValueError, UnicodeDecodeError):
            return None  # a sketch that cannot be read again keeps nothing
        return Redraw.of(old_layout, layout, lines)

    def propose(self, sketch: Sketch, context: Context, top_k: int = 3) -> Interpretation:
        from .assemble import assemble
        watch = Stopwatch()
        reader = "rules"
        with watch.stage("read"):
            try:
                layout, reader = self._read(sketch, self.options.reader)
            except ValueError as exc:
                return self.answer((), watch, top_k, str(exc), network=reader)
        current = current_scene(context)
        remake = current is not None and not self.options.new_scene  # the strokes stay: they remake it
        redraw = None
        if remake and self.options.regional:
            assert current is not None
            with watch.stage("redraw"):
                redraw = self._redraw(sketch, layout, reader, context, current)
        stages = 7

        def progress(done: int, total: int) -> bool:
            context.step(done, max(total, stages))
            return True

        drawn = sketch_blob(sketch)
        with watch.stage("assemble"):
            if redraw is not None:
                assert current is not None
                scene = assemble(redraw.layout, seed=self.options.seed, progress=progress,
                                 keep=redraw.keep(context.bodies[current]))
            else:
                scene = assemble(layout, seed=self.options.seed, progress=progress)
            body = scene.body(sketch=blob_key(drawn))
        data = scene_blob(body)
        key = blob_key(data)
        counts = body.counts()
        name = current if remake else new_body_name(context, "scene")
        op = SketchScene(name, key, trees=counts["tree"], buildings=counts["building"],
                         style=layout.style or "", sketch=blob_key(drawn), replace=remake,
                         remade=round(redraw.share, 4) if redraw is not None else 1.0)
        summary = body.summary()
        proposal = Proposal(op, 1.0, {k: summary[k] for k in ("triangles", "draw_calls") if k in summary},
                            blobs={key: data, blob_key(drawn): drawn})
        return self.answer((proposal,), watch, top_k, network=reader,
                           details={"reader": reader, **counts, "remade": op.remade})


def current_scene(context: Context) -> str | None:
    """The scene made last in the model (the one a redrawn map remakes), None when there is none."""
    scenes = [name for name, body in context.bodies.items() if isinstance(body, SceneBody)]
    return scenes[-1] if scenes else None
