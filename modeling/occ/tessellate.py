"""Triangulate a shape face by face, keeping which B-rep face each triangle came from."""

from __future__ import annotations

import numpy as np
from OCP.BRep import BRep_Tool
from OCP.BRepMesh import BRepMesh_IncrementalMesh
from OCP.TopAbs import TopAbs_REVERSED
from OCP.TopLoc import TopLoc_Location

from .topology import bounds, faces


def tessellate(shape, linear: float | None = None,
               angular: float = 0.35) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A watertight-enough display mesh as vertices (N, 3), triangles (M, 3) and the B-rep face
    index of each triangle (M,); `linear` deflection defaults to 0.1% of the diagonal."""
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
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64), np.zeros(0, np.int32)
    return np.concatenate(verts), np.concatenate(tris), np.concatenate(ids)


def edge_segments(shape, deflection: float | None = None) -> np.ndarray:
    """Every B-rep edge as line segments (K, 2, 3), for drawing a solid's edges over its shading."""
    from OCP.BRepAdaptor import BRepAdaptor_Curve
    from OCP.GCPnts import GCPnts_QuasiUniformDeflection
    from OCP.GeomAbs import GeomAbs_Line

    from .topology import edges
    if deflection is None:
        b = bounds(shape)
        deflection = max(float(np.linalg.norm(b[1] - b[0])) * 1e-3, 1e-3)
    segs = []
    for e in edges(shape):
        if BRep_Tool.Degenerated_s(e):
            continue
        c = BRepAdaptor_Curve(e)
        if c.GetType() == GeomAbs_Line:
            ts = [c.FirstParameter(), c.LastParameter()]
        else:
            d = GCPnts_QuasiUniformDeflection(c, deflection)
            ts = [d.Parameter(i) for i in range(1, d.NbPoints() + 1)] if d.IsDone() else \
                list(np.linspace(c.FirstParameter(), c.LastParameter(), 24))
        pts = np.array([[p.X(), p.Y(), p.Z()] for p in (c.Value(t) for t in ts)])
        if len(pts) >= 2:
            segs.append(np.stack([pts[:-1], pts[1:]], axis=1))
    return np.concatenate(segs) if segs else np.zeros((0, 2, 3))
