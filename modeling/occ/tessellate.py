"""Triangulate a shape face by face, keeping which B-rep face each triangle came from."""

from __future__ import annotations

import numpy as np
from OCP.BRep import BRep_Tool
from OCP.BRepMesh import BRepMesh_IncrementalMesh
from OCP.TopAbs import TopAbs_REVERSED
from OCP.TopLoc import TopLoc_Location

from ..bodies import Mesh
from .topology import bounds, faces


def tessellate(shape, linear: float | None = None, angular: float = 0.35) -> Mesh:
    """A watertight-enough display mesh; `linear` deflection defaults to 0.1% of the diagonal."""
    if linear is None:
        b = bounds(shape)
        linear = max(float(np.linalg.norm(b[1] - b[0])) * 1e-3, 1e-3)
    BRepMesh_IncrementalMesh(shape, linear, False, angular, True)
    verts, tris, ids = [], [], []
    offset = 0
    for i, face in enumerate(faces(shape)):
        loc = TopLoc_Location()
        tri = BRep_Tool.Triangulation_s(face, loc)
        if tri is None:
            continue
        trsf = loc.Transformation()
        n = tri.NbNodes()
        v = np.empty((n, 3))
        for k in range(1, n + 1):
            p = tri.Node(k).Transformed(trsf)
            v[k - 1] = (p.X(), p.Y(), p.Z())
        m = tri.NbTriangles()
        t = np.empty((m, 3), np.int64)
        for k in range(1, m + 1):
            t[k - 1] = tri.Triangle(k).Get()
        t -= 1
        if face.Orientation() == TopAbs_REVERSED:
            t = t[:, ::-1]
        verts.append(v)
        tris.append(t + offset)
        ids.append(np.full(m, i, np.int32))
        offset += n
    if not verts:
        return Mesh(np.zeros((0, 3)), np.zeros((0, 3), np.int64), np.zeros(0, np.int32))
    return Mesh(np.concatenate(verts), np.concatenate(tris), np.concatenate(ids))
