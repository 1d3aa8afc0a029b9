"""The shared state of one fit: the body, the view, the stroke runs by role, the stitching faces,
and the candidates the fitters return."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from sketchforge.modeling.bodies import SolidBody
from sketchforge.modeling.operations import ModelState, Operation
from sketchforge.modeling.render import ContextRenders

from ...synth.curves import Curve
from .geometry2d import robust, seg_dist, segments, thin
from .inputs import BASE, OFFSET, PROFILE, NetOutputs
from .runs import Run
from .tuning import MAX_COST_POINTS, MAX_FACES, MIN_FACE_HEAT, TRUNC_PX
from .view import View


@dataclass
class Candidate:
    """An operation to try, the image cost of its curves against the strokes, and the curves a
    person would draw for it (as `neural.synth.curves` draws them) for scoring."""

    op: Operation
    cls: int
    cost_px: float
    face_conf: float
    drawing: list[Curve] = field(default_factory=list)
    target: str = ""  # the face or edge it works on, for the proposal list
    prior: float = 1.0


class Fit:
    """Everything the fitting of one sketch shares."""

    def __init__(self, state: ModelState, body: str, context: ContextRenders, runs: list[Run],
                 outputs: NetOutputs) -> None:
        self.state = state
        self.body_id = body
        self.body: SolidBody = self.state.solid(body)
        self.context = context
        self.view = View(context.camera, context.width, context.height)
        self.runs = runs
        self.outputs = outputs
        self.diag = max(self.body.diagonal(), 1e-6)
        self.trunc = TRUNC_PX * self.view.k
        self.by_role = {r: [x for x in runs if x.role == r] for r in (BASE, PROFILE, OFFSET)}
        self.points = {r: thin(np.concatenate([x.uv for x in v]) if v else np.zeros((0, 2)), MAX_COST_POINTS)
                       for r, v in self.by_role.items()}
        self.all_points = thin(np.concatenate([x.uv for x in runs]), 2 * MAX_COST_POINTS) if runs \
            else np.zeros((0, 2))
        self.faces = self._stitch_faces()
        self._role_dt: dict[int, np.ndarray] = {}

    def role_distance(self, role: int) -> np.ndarray:
        """Per pixel, the distance (px) to the nearest stroke pixel of `role` (inf when none)."""
        if role not in self._role_dt:
            mask = self.outputs.roles == role
            if mask.any():
                self._role_dt[role] = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
            else:
                self._role_dt[role] = np.full(mask.shape, np.inf, np.float32)
        return self._role_dt[role]

    # -- stitching faces ------------------------------------------------------------------------
    def _stitch_faces(self) -> list[tuple[int, float]]:
        """(face index, mean heat) of the body's faces the heat map covers best."""
        ids = self.context.face_id
        heat = self.outputs.stitch
        on = ids >= 0
        if not on.any():
            return []
        n = len(self.context.faces)
        count = np.bincount(ids[on], minlength=n).astype(float)
        total = np.bincount(ids[on], weights=heat[on], minlength=n)
        mean = np.divide(total, count, out=np.zeros(n), where=count > 0)
        order = np.argsort(-(total * mean))
        out = []
        for g in order:
            body, idx = self.context.faces[g]
            if body != self.body_id or idx < 0 or mean[g] < MIN_FACE_HEAT or total[g] <= 0:
                continue
            out.append((int(idx), float(mean[g])))
        if not out and len(self.points[BASE]):  # fall back on the faces under the base strokes
            out = self._faces_under(self.points[BASE], 0.3)
        return out

    def _faces_under(self, uv: np.ndarray, conf: float) -> list[tuple[int, float]]:
        g = self.face_ids_at(uv)
        g = g[g >= 0]
        if not len(g):
            return []
        vals, counts = np.unique(g, return_counts=True)
        out = []
        for v, c in sorted(zip(vals, counts), key=lambda x: -x[1]):
            body, idx = self.context.faces[v]
            if body == self.body_id and idx >= 0:
                out.append((int(idx), conf * float(c) / len(g)))
        return out

    def face_ids_at(self, uv: np.ndarray) -> np.ndarray:
        """The face-id render at pixels (N, 2) (-1 off the model)."""
        iu = np.clip(np.floor(uv[:, 0]).astype(int), 0, self.view.w - 1)
        iv = np.clip(np.floor(uv[:, 1]).astype(int), 0, self.view.h - 1)
        return self.context.face_id[iv, iu]

    def planar_faces(self) -> list[tuple[int, float]]:
        """The flat stitching faces (index, confidence) to try, best first."""
        return [(i, c) for i, c in self.faces if self.body.faces[i].planar][:MAX_FACES]

    # -- image costs ----------------------------------------------------------------------------
    def chamfer(self, pts: np.ndarray, polys: list[np.ndarray], closed: bool) -> np.ndarray:
        """Truncated distance (px) from each point to the nearest of the pixel polylines."""
        a, b = segments(polys, closed)
        return robust(seg_dist(pts, a, b), self.trunc)


def project_drawing(fit: Fit, drawing: list[Curve]) -> list[np.ndarray]:
    """A drawing's curves projected as open pixel polylines (closed ones repeat their start)."""
    return [fit.view.project(np.vstack([c.points, c.points[:1]]) if c.closed else c.points) for c in drawing]
