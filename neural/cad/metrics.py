"""Figures for evaluating interpretations: volume IoU of parts and of changed regions, parameter errors."""

from __future__ import annotations

import math

import numpy as np
import open3d as o3d

from sketchforge.modeling.bodies import KernelError, SolidBody
from sketchforge.modeling.operations import ArcPath

SAMPLES = 200_000  # points of the sampled estimate that checks the kernel's readings
AGREE = 0.01  # a kernel reading within this of the sampled IoU is taken as exact


def volume_iou(a: SolidBody, b: SolidBody) -> float:
    """V(A ∩ B) / V(A ∪ B): 1 for the same solid, 0 for disjoint ones.

    The intersection is read three ways with kernel booleans: V(A) - V(A - B), V(B) - V(B - A)
    and V(A) + V(B) - V(A ∪ B). Booleans of two nearly coincident solids (a fitted result against
    the recorded one) are where OpenCascade is least reliable, and it fails silently there: a union
    that comes back empty, a cut that gives back its argument unchanged or with a sliver missing.
    So every reading is checked against an estimate from points sampled in the joint bounding box
    (inside or outside each solid's tessellation, seeded): the reading nearest the estimate is
    returned when it agrees to within AGREE, else the estimate itself.
    """
    va, vb = a.volume, b.volume
    readings = []
    for x, y, vx in ((a, b, va), (b, a, vb)):
        try:
            rest = x.cut(y)
            readings.append(vx - (rest.volume if rest is not None else 0.0))
        except KernelError:
            pass
    try:
        union = a.fuse(b)
        readings.append(va + vb - (union.volume if union is not None else 0.0))
    except KernelError:
        pass
    ious = []
    for inter in readings:
        inter = min(max(inter, 0.0), min(va, vb))
        union = va + vb - inter
        ious.append(inter / union if union > 0 else 0.0)
    estimate = sampled_iou(a, b)
    if ious:
        best = min(ious, key=lambda x: abs(x - estimate))
        if abs(best - estimate) <= AGREE:
            return float(best)
    return estimate


def sampled_iou(a: SolidBody, b: SolidBody, samples: int = SAMPLES, seed: int = 0) -> float:
    """The volume IoU estimated from points sampled uniformly in the joint bounding box."""
    lo = np.minimum(a.bounds()[0], b.bounds()[0])
    hi = np.maximum(a.bounds()[1], b.bounds()[1])
    pts = np.random.default_rng(seed).uniform(lo, hi, (samples, 3)).astype(np.float32)
    ia, ib = _inside(a, pts), _inside(b, pts)
    union = int((ia | ib).sum())
    return float((ia & ib).sum() / union) if union else 0.0


def _inside(body: SolidBody, pts: np.ndarray) -> np.ndarray:
    mesh = body.mesh()
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(mesh.vertices.astype(np.float32)),
                        o3d.core.Tensor(mesh.triangles.astype(np.uint32)))
    return scene.compute_occupancy(o3d.core.Tensor(pts)).numpy() > 0.5


def changed_iou(before: SolidBody, truth: SolidBody, result: SolidBody, samples: int = SAMPLES,
                seed: int = 0) -> float:
    """IoU of the regions an operation changed: (result xor before) against (truth xor before).

    The volume IoU of whole parts forgives small operations (a 2 mm chamfer on a 60 mm block is
    over 0.99 whatever its size); this one compares only what was added or removed. Points are
    sampled in the bounding box of the parts where they differ (each part's box where a kernel
    boolean fails), so a small change is sampled as densely as a large one. 1 when both leave
    the part as it was.
    """
    boxes = []
    for x, y in ((truth, before), (before, truth), (result, before), (before, result)):
        try:
            diff = x.cut(y)
        except KernelError:
            boxes.append(x.bounds())
            continue
        if diff is not None and diff.volume > 0:
            boxes.append(diff.bounds())
    if not boxes:
        return 1.0
    lo = np.min([b[0] for b in boxes], axis=0)
    hi = np.max([b[1] for b in boxes], axis=0)
    pad = 1e-3 * float(np.linalg.norm(hi - lo)) + 1e-6
    pts = np.random.default_rng(seed).uniform(lo - pad, hi + pad, (samples, 3)).astype(np.float32)
    ib = _inside(before, pts)
    want = _inside(truth, pts) != ib
    got = _inside(result, pts) != ib
    union = int((want | got).sum())
    return float((want & got).sum() / union) if union else 1.0


# -- parameters against the ground truth ---------------------------------------------------------
def distance_error(op, gt, before: SolidBody) -> float:
    """Relative error of a fitted operation's size against the ground truth's; NaN when not comparable.

    extrude, add / subtract: the distance; bevel: the two set-backs, each matched to the face it
    lies on; sweep: the path length (the arc length for an arc path). Operations of different
    kinds are not comparable (add against subtract is: only the sign differs).
    """
    if op.id != gt.id and not {op.id, gt.id} <= {"add", "subtract"}:
        return math.nan
    if gt.id == "extrude":
        return abs(op.distance - gt.distance) / abs(gt.distance)
    if gt.id in ("add", "subtract"):
        return abs(op.distance - gt.distance) / gt.distance
    if gt.id == "bevel":
        return _bevel_error(op, gt, before)
    return abs(path_length(op.path) - path_length(gt.path)) / path_length(gt.path)


def path_length(path) -> float:
    return path.radius * math.radians(path.angle_deg) if isinstance(path, ArcPath) else path.length


def _bevel_error(op, gt, before: SolidBody) -> float:
    try:
        e_op, f_op = op.resolve(before)
        e_gt, f_gt = gt.resolve(before)
    except Exception:  # noqa: BLE001 - an edge that does not resolve is not comparable
        return math.nan
    if e_op != e_gt:
        return math.nan
    fitted = (op.distance1, op.distance2) if f_op == f_gt else (op.distance2, op.distance1)
    return float(np.mean([abs(a - b) / b for a, b in zip(fitted, (gt.distance1, gt.distance2))]))


def sign_of(op) -> int | None:
    """+1 when the operation adds material, -1 when it removes it; None for a bevel (always removes)."""
    if op.id == "extrude":
        return 1 if op.distance > 0 else -1
    if op.id in ("add", "subtract"):
        return 1 if op.id == "add" else -1
    if op.id == "sweep":
        return 1 if op.mode == "add" else -1
    return None
