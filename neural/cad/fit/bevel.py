"""The bevel fitter: set-back lines on the two faces beside an edge, read as a chamfer or a fillet."""

from __future__ import annotations

import math

import numpy as np

from sketchforge.modeling.bodies import SolidBody
from sketchforge.modeling.operations import Bevel
from sketchforge.modeling.refs import EdgeRef

from ...synth.curves import Curve
from .geometry2d import closest_on_segments
from .inputs import BASE
from .runs import Run
from .state import Candidate, Fit, project_drawing
from .tuning import BEVEL_EDGES, EQUAL_PRIOR, FILLET_PRIOR


def _edge_geometry(body: SolidBody, index: int) -> tuple[np.ndarray, bool]:
    poly = body.edge_polyline(index)
    closed = len(poly) > 2 and np.linalg.norm(poly[0] - poly[-1]) <= 1e-6 * max(body.diagonal(), 1.0)
    return poly, closed


def _distance_to_polyline3(p: np.ndarray, poly: np.ndarray, closed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Distance of 3D points to a polyline, and whether the nearest point is inside it (not an end)."""
    a, b = poly[:-1], poly[1:]
    q, k = closest_on_segments(p, a, b)
    d = np.linalg.norm(p - q, axis=1)
    if closed:
        return d, np.ones(len(p), bool)
    span = np.linalg.norm(poly[-1] - poly[0]) + 1e-12
    margin = 0.02 * span
    inner = (np.linalg.norm(q - poly[0], axis=1) > margin) & (np.linalg.norm(q - poly[-1], axis=1) > margin)
    return d, inner


def fit_bevel(fit: Fit) -> list[Candidate]:
    """Bevel candidates: the edges nearest the base strokes, each with the set-backs they draw."""
    runs = fit.by_role[BASE]
    if not runs:
        return []
    body = fit.body
    pts = fit.points[BASE]
    stitch = {i for i, _ in fit.faces}
    conf_of = dict(fit.faces)
    edges = [e for e in body.edges if e.curve != "degenerate" and len(e.faces) == 2]
    both = [e for e in edges if set(e.faces) <= stitch]
    one = [e for e in edges if set(e.faces) & stitch]
    pool = both or one or edges
    # The body face under each base point: a bevel's set-back lines lie on the two faces beside
    # its edge, one on each side. The image distance alone cannot tell the true edge from one
    # running along either line (half the points at 0, half at twice the set-back: the same mean).
    under = np.array([fit.context.faces[x][1] if x >= 0 and fit.context.faces[x][0] == fit.body_id else -1
                      for x in fit.face_ids_at(pts)])
    scored = []
    for e in pool:
        poly, closed = _edge_geometry(body, e.index)
        if len(poly) < 2:
            continue
        img = fit.view.project(poly)
        d = fit.chamfer(pts, [img], closed=False)
        on = [(under == f).mean() for f in e.faces]
        apart = (1.0 + 2.0 * (1.0 - sum(on))) * (1.0 if min(on) >= 0.1 else 1.5)
        scored.append((float(np.mean(d)) * apart, e, poly, closed))
    scored.sort(key=lambda x: x[0])
    out = []
    for _, e, poly, closed in scored[:BEVEL_EDGES]:
        conf = float(np.mean([conf_of.get(f, 0.3) for f in e.faces]))
        for op, drawing, prior in _bevel_on_edge(fit, e, poly, closed, runs):
            cost = float(np.mean(fit.chamfer(pts, project_drawing(fit, drawing), closed=False)))
            out.append(Candidate(op, 2, cost, conf, drawing, f"edge {e.index}", prior))
    return out


def _bevel_on_edge(fit: Fit, e, poly: np.ndarray, closed: bool, runs: list[Run]):
    """Chamfer (and fillet) candidates on edge `e` from the base strokes' set-backs."""
    body = fit.body
    f1, f2 = e.faces
    mid = np.asarray(e.midpoint, float)
    setbacks: dict[int, list[float]] = {f1: [], f2: []}
    weights: dict[int, list[float]] = {f1: [], f2: []}
    lifted: dict[int, list[np.ndarray]] = {f1: [], f2: []}
    for run in runs:
        g = fit.face_ids_at(run.uv)
        faces = np.array([fit.context.faces[x][1] if x >= 0 and fit.context.faces[x][0] == fit.body_id else -1
                          for x in g])
        votes = [(faces == f).sum() for f in (f1, f2)]
        if max(votes) < 0.3 * len(faces):
            continue
        f = (f1, f2)[int(np.argmax(votes))]
        sel = faces == f
        info = body.faces[f]
        if info.planar:
            p = fit.view.lift_plane(run.uv[sel], info.origin, info.normal)
        else:
            p = fit.view.lift_depth(run.uv[sel], fit.context.depth)
        p = p[np.isfinite(p).all(axis=1)]
        if len(p) < 3:
            continue
        d, inner = _distance_to_polyline3(p, poly, closed)
        d = d[inner] if inner.sum() >= 3 else d
        setbacks[f].append(float(np.median(d)))
        weights[f].append(float(len(d)))
        lifted[f].append(p)
    got = {f: float(np.average(v, weights=weights[f])) for f, v in setbacks.items() if v}
    if not got:
        return []
    d1 = got.get(f1, got.get(f2))
    d2 = got.get(f2, got.get(f1))
    if abs(d1 - d2) <= 0.08 * max(d1, d2):
        d1 = d2 = 0.5 * (d1 + d2)
    n1 = body.face_normals(f1, mid)
    n2 = body.face_normals(f2, mid)
    ref = EdgeRef.of(body, e.index)
    side = tuple(round(float(x), 9) for x in n1)
    refs = {f: np.concatenate(v) for f, v in lifted.items() if v}
    out = [(Bevel(fit.body_id, ref, round(d1, 4), round(d2, 4), "chamfer", side),
            _setback_drawing(fit, poly, closed, {f1: d1, f2: d2}, refs), 1.0)]
    mean = 0.5 * (d1 + d2)
    if d1 != d2:  # equal set-backs: the commonest chamfer, and a fallback when one side is off
        out.append((Bevel(fit.body_id, ref, round(mean, 4), round(mean, 4), "chamfer", side),
                    _setback_drawing(fit, poly, closed, {f1: mean, f2: mean}, refs), EQUAL_PRIOR))
    if abs(d1 - d2) <= 0.15 * max(d1, d2):
        angle = math.acos(float(np.clip(n1 @ n2, -1.0, 1.0)))
        if angle > 1e-3:
            r = mean / math.tan(angle / 2.0)
            out.append((Bevel(fit.body_id, ref, round(r, 4), round(r, 4), "fillet"),
                        _setback_drawing(fit, poly, closed, {f1: mean, f2: mean}, refs), FILLET_PRIOR))
    return out


def _setback_drawing(fit: Fit, poly: np.ndarray, closed: bool, dist: dict[int, float],
                     lifted: dict[int, np.ndarray]) -> list[Curve]:
    """The lines a set-back draws on each face beside the edge. The side of the edge a face lies
    on comes from the strokes lifted onto it (else from the face's centroid)."""
    body = fit.body
    step = max(1, len(poly) // 24)
    sample = poly[::step]
    if closed:
        sample = sample[:-1] if np.allclose(sample[0], sample[-1]) else sample
    tang = np.gradient(np.vstack([sample[-1:], sample, sample[:1]]) if closed else sample, axis=0)
    tang = tang[1:-1] if closed else tang
    tang /= np.maximum(np.linalg.norm(tang, axis=1, keepdims=True), 1e-12)
    out = []
    for f, d in dist.items():
        info = body.faces[f]
        if info.planar:
            normals = np.broadcast_to(np.asarray(info.normal, float), sample.shape)
        else:
            normals = body.face_normals(f, sample)
        w = np.cross(normals, tang)
        w /= np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-12)
        ref = lifted.get(f)
        if ref is None or not len(ref):
            ref = np.asarray(info.centroid, float)[None]
        near = np.argmin(((ref[:, None, :] - sample[None]) ** 2).sum(-1), axis=1)
        side = float(np.einsum("ij,ij->i", ref - sample[near], w[near]).sum())
        out.append(Curve(sample + (1.0 if side >= 0 else -1.0) * d * w, "base", closed))
    return out
