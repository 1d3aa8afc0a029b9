"""Random cameras from which an operation is clearly visible.

A view is a perspective camera orbiting the part: azimuth uniform, elevation U(-10, 65) degrees,
vertical field of view U(25, 50) degrees, aimed at the part's centre pulled U(0, 0.35) of the way
towards the operation, at a distance that fits the part's bounding sphere with a margin of
U(1.0, 1.4). A share `close_share` (40%) of the views are close-ups instead, as a person zooms
in to draw a small feature: aimed at the centre of the operation's curves, at a distance that
fits their bounding sphere with a margin of U(1.6, 3.0) (the part may run off the canvas). Views
looking straight up or down are avoided (the up vector is +Z). Directions from which a target
face is plainly turned away (more than `max_angle_deg` - 5 degrees between the face normal and the
direction to the eye at the operation) are redrawn before rendering, which is cheap; so the prior
is this one conditioned on the operation facing the viewer.

A view is rejected when a target face (for a bevel: either face beside the edge)
- is hidden: it covers fewer than `min_face_pixels` pixels of the face-id render of the model
  before the operation (default 0.4% of the canvas, at least 24 pixels), or
- is edge-on: the median angle between the viewing ray and the face normal over its pixels is
  above `max_angle_deg` (75 degrees), where strokes drawn on it would collapse into a line.
The caller may add its own test (the sketch must show enough of the operation); a bounded number
of cameras (`tries`) is drawn before the view is given up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.render import ContextRenders, render_context

from .sequences import BODY, Step


@dataclass(frozen=True)
class ViewConfig:
    """The camera prior and the visibility thresholds (see the module docstring)."""

    size: int = 128
    tries: int = 10
    max_angle_deg: float = 75.0
    min_face_share: float = 0.004
    elevation_deg: tuple[float, float] = (-10.0, 65.0)
    fov_deg: tuple[float, float] = (25.0, 50.0)
    margin: tuple[float, float] = (1.0, 1.4)
    towards_op: float = 0.35
    close_share: float = 0.4
    close_margin: tuple[float, float] = (1.6, 3.0)

    @property
    def min_face_pixels(self) -> int:
        return max(24, int(round(self.min_face_share * self.size * self.size)))


@dataclass(frozen=True)
class View:
    """An accepted camera with the context renders of the model before the operation."""

    camera: Camera
    before: ContextRenders
    target_ids: tuple[int, ...]  # global face ids (in `before.faces`) of the target faces
    tries: int  # cameras drawn until this one was accepted


def random_camera(rng: np.random.Generator, bounds: np.ndarray, anchor, normals, config: ViewConfig,
                  draws: int = 64, focus: tuple[np.ndarray, float] | None = None) -> Camera:
    """A camera from the prior, framing the part with bounds (2, 3), leaning towards `anchor` and
    facing the target `normals` (up to `draws` directions are tried before taking the last).
    With `focus` (centre, radius of the operation's curves) the camera is a close-up of it."""
    lo, hi = np.asarray(bounds, float)
    center = 0.5 * (lo + hi)
    radius = max(0.5 * float(np.linalg.norm(hi - lo)), 1e-3)
    margin, towards = config.margin, config.towards_op
    if focus is not None:
        center, radius = np.asarray(focus[0], float), max(float(focus[1]), 1e-3)
        margin, towards = config.close_margin, 0.0
    anchor = np.asarray(anchor, float)
    ns = np.asarray(normals, float).reshape(-1, 3)
    cos_min = math.cos(math.radians(config.max_angle_deg - 5.0))
    for _ in range(draws):
        target = center + rng.uniform(0.0, towards) * (anchor - center)
        fov = float(rng.uniform(*config.fov_deg))
        dist = radius / math.sin(math.radians(fov) / 2.0) * float(rng.uniform(*margin))
        dist += float(np.linalg.norm(target - center))
        az, el = math.radians(rng.uniform(0.0, 360.0)), math.radians(rng.uniform(*config.elevation_deg))
        eye = target + dist * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
        to_eye = eye - anchor
        to_eye /= max(float(np.linalg.norm(to_eye)), 1e-12)
        if len(ns) == 0 or float((ns @ to_eye).min()) >= cos_min:
            break
    return Camera.looking_at(tuple(target), dist, math.degrees(az), math.degrees(el), fov)


def global_face_id(renders: ContextRenders, face_index: int, body: str = BODY) -> int:
    """The face-id render's number for face `face_index` of `body` (-1 when not in the scene)."""
    try:
        return renders.faces.index((body, face_index))
    except ValueError:
        return -1


def view_problem(renders: ContextRenders, target_ids: tuple[int, ...], config: ViewConfig) -> str | None:
    """Why this view does not show the target faces clearly, or None when it does."""
    cos_max = math.cos(math.radians(config.max_angle_deg))
    for g in target_ids:
        vv, uu = np.nonzero(renders.face_id == g)
        if len(vv) < config.min_face_pixels:
            return "hidden"
        _, dirs = renders.camera.rays(np.stack([uu + 0.5, vv + 0.5], axis=1), renders.width, renders.height)
        cos = np.abs(np.einsum("ij,ij->i", renders.normal[vv, uu].astype(float), dirs))
        if float(np.median(cos)) < cos_max:
            return "edge-on"
    return None


def find_view(step: Step, rng: np.random.Generator, config: ViewConfig,
              accept: Callable[[Camera, ContextRenders], bool] | None = None,
              tally: dict | None = None, focus: tuple[np.ndarray, float] | None = None) -> View | None:
    """A camera from which `step`'s operation is clearly visible, or None after `config.tries` draws.

    `accept(camera, before_renders)` may reject a camera for reasons of its own; `tally` counts
    the reasons views were rejected ("gave_up": operations left without this view). `focus`
    (centre, radius of the operation's curves) allows close-ups (`ViewConfig.close_share`).
    """
    body = step.before_body
    bodies = step.before.bodies
    close = focus is not None and rng.random() < config.close_share
    for k in range(1, config.tries + 1):
        cam = random_camera(rng, body.bounds(), step.anchor, step.normals, config, focus=focus if close else None)
        renders = render_context(bodies, cam, config.size, config.size, lines=False)
        ids = tuple(global_face_id(renders, f) for f in step.targets)
        problem = view_problem(renders, ids, config)
        if problem is None and accept is not None and not accept(cam, renders):
            problem = "sketch"
        if problem is None:
            return View(cam, renders, ids, k)
        if tally is not None:
            tally[problem] = tally.get(problem, 0) + 1
    if tally is not None:
        tally["gave_up"] = tally.get("gave_up", 0) + 1
    return None
