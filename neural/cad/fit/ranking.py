"""Ranking: every plausible class is fitted, the candidates are applied to the current state and
scored by the class probability times how well the result draws the strokes."""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from sketchforge.modeling.bodies import SolidBody
from sketchforge.modeling.operations import ModelState
from sketchforge.modeling.render import ContextRenders, render_context
from sketchforge.modeling.session import Proposal
from sketchforge.modeling.sketch import Sketch

from ...labels import CLASS_NAMES
from ...synth.curves import Curve
from ...synth.visibility import visible_runs
from .bevel import fit_bevel
from .geometry2d import robust, seg_dist, segments
from .inputs import ROLE_IDS, NetOutputs
from .prism import fit_extrude, fit_prism
from .runs import stroke_runs
from .state import Candidate, Fit, project_drawing
from .sweep import fit_sweep
from .tuning import CLASS_POWER, COVER_PX, COVER_WEIGHT, MAX_APPLY, MIN_CLASS_PROB, REF_SIZE, SIGMA_PX

log = logging.getLogger(__name__)

_FITTERS = {0: fit_extrude, 1: fit_prism, 2: fit_bevel, 3: fit_sweep}


def _fit_px(fit: Fit, state, cand: Candidate) -> float:
    """How far the candidate's result is from the sketch, in px: the mean of its fitting cost (the
    role-aware image distance its parameters were searched by) and the mean distance (truncated)
    from all stroke points to the nearer of the result's projected edges and the candidate's own
    drawn curves (silhouettes included), plus a penalty for the share of those curves that would
    be visible over the result but that no stroke draws."""
    pts = fit.all_points
    result = state.solid(fit.body_id)
    seg = result.edge_segments()
    d = seg_dist(pts, fit.view.project(seg[:, 0]), fit.view.project(seg[:, 1])) if len(seg) \
        else np.full(len(pts), np.inf)
    if cand.drawing:
        a, b = segments(project_drawing(fit, cand.drawing), closed=False)
        d = np.minimum(d, seg_dist(pts, a, b))
    px = float(np.mean(robust(d, fit.trunc)))
    return 0.5 * (px + cand.cost_px) + COVER_WEIGHT * fit.view.k * _uncovered(fit, state, cand.drawing)


def _uncovered(fit: Fit, state, drawing: list[Curve]) -> float:
    """The share (0..1) of the drawing's length visible over `state` that no stroke of the same
    role draws (a visible offset curve nobody drew speaks against the candidate)."""
    if not drawing:
        return 0.0
    v = fit.view
    depth = render_context(state.bodies, v.camera, v.w, v.h, lines=False).depth
    runs = visible_runs(drawing, v.camera, v.w, v.h, depth)
    total = off = 0
    for uv, role, _ in runs:
        iu = np.clip(np.floor(uv[:, 0]).astype(int), 0, v.w - 1)
        iv = np.clip(np.floor(uv[:, 1]).astype(int), 0, v.h - 1)
        total += len(uv)
        off += int((fit.role_distance(ROLE_IDS[role])[iv, iu] > COVER_PX * v.k).sum())
    return off / total if total else 0.0


def _plausible_classes(probs: np.ndarray) -> list[int]:
    top = float(probs.max())
    return [int(c) for c in np.argsort(-probs) if probs[c] >= MIN_CLASS_PROB and probs[c] >= 0.1 * top]


def fit_proposals(state: ModelState, body: str, sketch: Sketch, context: ContextRenders, stroke: np.ndarray,
                  outputs: NetOutputs, top_k: int = 3) -> list[Proposal]:
    """The best `top_k` operations the sketch asks for on `body`, each valid on the current state.

    `context` is the render of the current model from the sketch's camera, `stroke` the sketch
    rasterised at the render size (`rasterise_sketch`), `outputs` the networks' reading at that
    size. Returns [] when nothing is recognised (no strokes, strokes off the model, a dot); raises
    ValueError for malformed input (mismatched sizes, NaN). Never changes the document.
    """
    t_start = time.perf_counter()
    h, w = int(context.height), int(context.width)
    stroke = np.asarray(stroke)
    if stroke.shape != (h, w):
        raise ValueError(f"the stroke image is {stroke.shape} but the context renders are {(h, w)}; "
                         "rasterise the sketch at the render size (rasterise_sketch)")
    outputs = outputs.checked(h, w)
    if top_k < 1:
        return []
    bodies = state.bodies
    if body not in bodies or not isinstance(bodies[body], SolidBody):
        raise ValueError(f"there is no solid body {body!r} to fit the sketch to "
                         f"(bodies: {', '.join(bodies) or 'none'})")
    if not (stroke > 0).any() or not sketch.strokes:
        return []
    runs = stroke_runs(sketch, outputs.roles, w, h)
    if not runs:
        return []
    ext = np.concatenate([r.uv for r in runs])
    if float(np.ptp(ext, axis=0).max()) < 2.0 * max(w, h) / REF_SIZE:
        return []  # a dot
    fit = Fit(state, body, context, runs, outputs)
    if not fit.faces:
        return []

    cands: list[Candidate] = []
    for cls in _plausible_classes(outputs.class_probs):
        try:
            cands.extend(_FITTERS[cls](fit))
        except (ValueError, ArithmeticError, LookupError, RuntimeError) as exc:  # no fit, no proposal
            log.debug("no %s fit: %s", CLASS_NAMES[cls], exc)
    sigma = SIGMA_PX * fit.view.k
    belief = outputs.class_probs ** CLASS_POWER
    cands.sort(key=lambda c: belief[c.cls] * c.face_conf * c.prior * math.exp(-c.cost_px / sigma),
               reverse=True)

    proposals: list[Proposal] = []
    seen: set[str] = set()
    tried = 0
    for c in cands:
        if tried >= MAX_APPLY or len(proposals) >= top_k:
            break
        key = repr(c.op)
        if key in seen:
            continue
        seen.add(key)
        tried += 1
        try:
            new_state = c.op.apply(fit.state)
        except Exception as exc:  # noqa: BLE001 - any candidate the kernel refuses is dropped
            log.debug("candidate %s dropped: %s", c.op.describe(), exc)
            continue
        try:
            px = _fit_px(fit, new_state, c)
        except (ValueError, RuntimeError) as exc:  # the result could not be rendered: score by the fit alone
            log.debug("no result check for %s: %s", c.op.describe(), exc)
            px = c.cost_px + COVER_WEIGHT * fit.view.k
        score = float(belief[c.cls] * c.face_conf * c.prior * math.exp(-px / sigma))
        proposals.append(Proposal(c.op, score, {"class": CLASS_NAMES[c.cls], "fit_px": round(px / fit.view.k, 3),
                                                "target": c.target}, base=fit.state, result=new_state))
    proposals.sort(key=lambda p: p.score, reverse=True)
    log.debug("fitted %d proposals from %d candidates in %.1f ms", len(proposals), len(cands),
              1e3 * (time.perf_counter() - t_start))
    return proposals[:top_k]
