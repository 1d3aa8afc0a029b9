"""One labelled training item: an operation of a sequence, seen from one accepted view.

An item holds
- the sketch file: the strokes on the canvas of the random view they were drawn in;
- the arrays the networks read, in the view the interpreter would frame that sketch in
  (`neural.framing`: the whole part, or the strokes up close when they are small in it), so that
  training and interpretation see a sketch the same way:
- the context: depth, normal and face-id renders of the model *before* the operation;
- the sketch: the operation's curves (`curves.operation_curves`), the parts visible against a
  depth render of the model *after* it (`visibility.visible_runs`), drawn as a person would
  (`strokes.humanise`) and rasterised (`raster.rasterise`) together with each stroke pixel's
  curve role;
- the labels: operation class and id, the stitching-face mask, the role map, the ground-truth
  parameters in world units, and the sketch as a `Sketch` (sketch-file spec).

Stitching faces: the face the operation starts on (extrude, add, subtract, sweep); for a bevel,
both faces beside the edge, as the bevel's two set-back lines lie one on each and the
interpreter has to find the edge between them. The mask is exactly the pixels of the face-id
render of the model before the operation that show those faces.

A view is only accepted when the sketch shows the operation clearly: the base curve (where the
operation has one) and at least two curve roles (one for a bevel) leave visible strokes, and at
least `min_visible` (40%) of the curves' projected length survives hidden-line removal and the
canvas edges. A pocket's offset curve is often wholly hidden, as it is for a person looking at
the part: the sketch then has base and profile strokes only, which still fix the depth.

A sweep is told apart from a prism by its path alone (the profile role): the same base and
offset outlines, joined by lines along the path instead of along the face normal. A view is
therefore only accepted for a sweep when its path shows: at least `min_path_share` (50%) of the
path's projected length is visible, and the visible part spans at least `min_path_canvas` (15%)
of the canvas width. A person drawing a sweep draws its path where it can be seen, and turns the
model when it cannot; a slanted pocket seen through its opening, with a path of a few pixels,
is a pocket to anyone reading the sketch. (Measured on a set made without this rule: the
network read 40-58% of the sweeps with less than half their path visible as sweeps, and 32-39%
of those whose path spans under 20 pixels of 128, against 97% above 40 pixels.)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.operations import Sweep
from sketchforge.modeling.render import ContextRenders, render_context
from sketchforge.modeling.sketch import Sketch

from ..framing import carry, frame_sketch
from . import raster, visibility
from . import strokes as strokes_mod
from .curves import Curve, operation_curves
from .sequences import CLASS_NAMES, Step
from .views import View, ViewConfig, find_view


@dataclass(frozen=True)
class ItemConfig:
    """Canvas size, the view prior and the stroke style of the items."""

    size: int = 128
    view: ViewConfig = field(default_factory=ViewConfig)
    style_factor: float = 1.0  # >1 draws messier strokes (`StrokeStyle.stronger`)
    min_visible: float = 0.4  # share of the curves' projected length that must stay visible
    min_path_share: float = 0.5  # a sweep's path: share of its projected length that must stay visible
    min_path_canvas: float = 0.15  # a sweep's path: visible length as a share of the canvas width

    def style(self) -> "strokes_mod.StrokeStyle":
        base = strokes_mod.StrokeStyle()
        return base if self.style_factor == 1.0 else base.stronger(self.style_factor)


@dataclass
class Item:
    """The arrays of one item (no leading batch axis) and its JSON record."""

    arrays: dict[str, np.ndarray]
    record: dict
    sketch: Sketch
    step: Step


def view_normals(normal: np.ndarray, camera: Camera) -> np.ndarray:
    """World normals (H, W, 3) in the camera frame: x right, y up, z towards the viewer."""
    r, t, f = camera.basis()
    m = np.stack([r, t, -f], axis=1).astype(np.float32)  # world -> view, applied as n @ m
    return normal @ m


def _projected_length(curves: list[Curve], camera: Camera, size: int) -> float:
    total = 0.0
    for c in curves:
        pts = c.points if not c.closed else np.vstack([c.points, c.points[:1]])
        uv = camera.project(pts, size, size)
        seg = np.linalg.norm(np.diff(uv, axis=0), axis=1)
        total += float(np.nansum(seg))
    return total


def _run_length(runs) -> float:
    return float(sum(np.linalg.norm(np.diff(p, axis=0), axis=1).sum() for p, _, _ in runs if len(p) > 1))


def path_shows(curves: list[Curve], runs, camera: Camera, size: int, config: ItemConfig) -> bool:
    """Whether a sweep's path (its profile curves) is visible enough in `runs` (see the module notes)."""
    full = _projected_length([c for c in curves if c.role == "profile"], camera, size)
    seen = _run_length([r for r in runs if r[1] == "profile"])
    return full > 0 and seen >= config.min_path_share * full and seen >= config.min_path_canvas * size


class _SketchCheck:
    """The `accept` test of `find_view`: the visible runs must show the operation; keeps them."""

    def __init__(self, step: Step, curves: list[Curve], config: ItemConfig) -> None:
        self.step, self.curves, self.config = step, curves, config
        self.roles = {c.role for c in curves}
        self.runs: list | None = None
        self.after: ContextRenders | None = None

    def __call__(self, camera: Camera, before: ContextRenders) -> bool:
        size = self.config.size
        after = render_context(self.step.after.bodies, camera, size, size, lines=False)
        runs = visibility.visible_runs(self.curves, camera, size, size, after.depth)
        seen = {role for p, role, _ in runs if len(p) > 1}
        if ("base" in self.roles and "base" not in seen) or len(seen) < min(2, len(self.roles)):
            return False
        full = _projected_length(self.curves, camera, size)
        if full <= 0 or _run_length(runs) < self.config.min_visible * full:
            return False
        if isinstance(self.step.op, Sweep) and not path_shows(self.curves, runs, camera, size, self.config):
            return False
        self.runs, self.after = runs, after
        return True


def make_item(step: Step, rng: np.random.Generator, config: ItemConfig, curves: list[Curve] | None = None,
              tally: dict | None = None) -> Item | None:
    """An item for `step` from a new random view, or None when no view shows it clearly.

    `curves` (the operation's curves) may be passed in when several views of one step are made.
    """
    if curves is None:
        curves = operation_curves(step.op, step.before_body, step.after_body)
    check = _SketchCheck(step, curves, config)
    pts = np.concatenate([c.points for c in curves]) if curves else np.zeros((0, 3))
    focus = None
    if len(pts):
        centre = 0.5 * (pts.min(axis=0) + pts.max(axis=0))
        focus = (centre, float(np.linalg.norm(pts - centre, axis=1).max()))
    view = find_view(step, rng, config.view, accept=check, tally=tally, focus=focus)
    if view is None:
        return None
    size = config.size
    drawn = strokes_mod.humanise(check.runs, rng, config.style())
    sketch = Sketch(view.camera, size, size, tuple(raster.to_sketch_strokes(drawn, rng)), "cad")
    framed = _framed_view(step, view, sketch, size)
    if framed is None:
        _count(tally, "framed_out")
        return None
    seen = [replace(d, points=carry(view.camera, framed.camera, d.points, size, size, size)) for d in drawn]
    stroke_img, role_img = raster.rasterise(seen, size, size)
    if not (stroke_img > 0).any():
        _count(tally, "empty")
        return None
    return Item(_arrays(step, framed, stroke_img, role_img), _record(step, view, sketch, drawn), sketch, step)


def _count(tally: dict | None, what: str) -> None:
    if tally is not None:
        tally[what] = tally.get(what, 0) + 1


def _framed_view(step: Step, view: View, sketch: Sketch, size: int) -> View | None:
    """The view the networks read: the sketch framed as the interpreter frames it, with the
    context rendered again for it; None when the target faces fall out of it."""
    framed = frame_sketch(sketch, step.before.bodies, size)
    before = render_context(step.before.bodies, framed.camera, size, size, lines=False)
    if not np.isin(before.face_id, [g for g in view.target_ids if g >= 0]).any():
        return None
    return View(framed.camera, before, view.target_ids, view.tries)


def _arrays(step: Step, view: View, stroke_img: np.ndarray, role_img: np.ndarray) -> dict[str, np.ndarray]:
    before = view.before
    mask = before.face_id >= 0
    depth = np.where(mask, before.depth, 0.0).astype(np.float32)
    normal = view_normals(before.normal, view.camera)
    normal[~mask] = 0.0
    stitch = np.isin(before.face_id, [g for g in view.target_ids if g >= 0])
    cam = view.camera
    targets = np.full(2, -1, np.int16)
    targets[:len(view.target_ids)] = view.target_ids
    return {
        "depth": depth,
        "normal": normal.astype(np.float16),
        "face_id": before.face_id.astype(np.int16),
        "stroke": stroke_img.astype(np.uint8),
        "role": role_img.astype(np.uint8),
        "stitch": stitch.astype(np.uint8),
        "op_class": np.uint8(step.op_class),
        "op_id": np.uint8(step.op_id),
        "target_faces": targets,
        "camera": np.array([*cam.eye, *cam.target, *cam.up, cam.fov_y_deg], np.float32),
    }


def _record(step: Step, view: View, sketch: Sketch, drawn) -> dict:
    return {
        "op_class": step.op_class,
        "class_name": CLASS_NAMES[step.op_class],
        "operation": step.op.to_json(),
        "step": step.index,
        "history": [op.to_json() for op in step.history],
        "target_faces": list(step.targets),
        "target_face_ids": list(view.target_ids),
        "view_tries": view.tries,
        "strokes": len(drawn),
        "sketch": sketch.to_json(),
    }
