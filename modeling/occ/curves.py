"""Exact polylines of B-rep boundaries: a face's wires in order around the face, and single edges.

The data synthesis draws what a person would draw over the model (a face outline moved along its
normal, lines set back from an edge), so it needs the face boundaries as ordered, closed
polylines rather than the loose segments a display gets from `tessellate.edge_segments`.
"""

from __future__ import annotations

import numpy as np
from OCP.BRep import BRep_Tool
from OCP.BRepAdaptor import BRepAdaptor_Curve
from OCP.BRepTools import BRepTools, BRepTools_WireExplorer
from OCP.GCPnts import GCPnts_QuasiUniformDeflection
from OCP.GeomAbs import GeomAbs_Line
from OCP.TopAbs import TopAbs_REVERSED, TopAbs_WIRE
from OCP.TopExp import TopExp_Explorer
from OCP.TopoDS import TopoDS

from .topology import bounds, edges, faces


def _default_deflection(shape) -> float:
    b = bounds(shape)
    return max(float(np.linalg.norm(b[1] - b[0])) * 1e-4, 1e-5)


def _sample(edge, deflection: float) -> np.ndarray:
    """Points along an edge in its parameter direction: end points for lines, else by chord error."""
    c = BRepAdaptor_Curve(edge)
    t0, t1 = c.FirstParameter(), c.LastParameter()
    if c.GetType() == GeomAbs_Line:
        ts = [t0, t1]
    else:
        d = GCPnts_QuasiUniformDeflection(c, deflection, t0, t1)
        ts = [d.Parameter(i) for i in range(1, d.NbPoints() + 1)] if d.IsDone() and d.NbPoints() >= 2 \
            else list(np.linspace(t0, t1, 33))
    return np.array([[p.X(), p.Y(), p.Z()] for p in (c.Value(t) for t in ts)], float)


def _wire_polyline(wire, face, deflection: float) -> np.ndarray:
    """One wire as a closed polyline (the first point is not repeated at the end)."""
    parts: list[np.ndarray] = []
    wexp = BRepTools_WireExplorer(wire, face)
    while wexp.More():
        e = wexp.Current()
        if not BRep_Tool.Degenerated_s(e):
            pts = _sample(e, deflection)
            if wexp.Orientation() == TopAbs_REVERSED:
                pts = pts[::-1]
            parts.append(pts)
        wexp.Next()
    if not parts:
        return np.zeros((0, 3))
    out = [parts[0]]
    for p in parts[1:]:
        if np.linalg.norm(p[0] - out[-1][-1]) <= 10 * deflection:
            p = p[1:]
        out.append(p)
    poly = np.concatenate(out)
    if len(poly) > 1 and np.linalg.norm(poly[0] - poly[-1]) <= 10 * deflection:
        poly = poly[:-1]
    return poly


def face_outline(shape, face_index: int, deflection: float | None = None) -> list[np.ndarray]:
    """The wires of face `face_index` as closed (N, 3) polylines: the outer wire first, then holes.

    Each polyline follows its wire in order, end points of straight edges and chord-error samples
    (`deflection`, default 1e-4 of the shape's diagonal) of curved ones, without repeating the
    first point at the end.
    """
    face = faces(shape)[face_index]
    deflection = deflection or _default_deflection(shape)
    outer = BRepTools.OuterWire_s(face)
    polys: list[np.ndarray] = []
    if not outer.IsNull():
        polys.append(_wire_polyline(outer, face, deflection))
    ex = TopExp_Explorer(face, TopAbs_WIRE)
    while ex.More():
        w = TopoDS.Wire_s(ex.Current())
        if outer.IsNull() or not w.IsSame(outer):
            polys.append(_wire_polyline(w, face, deflection))
        ex.Next()
    return [p for p in polys if len(p) >= 2]


def edge_polyline(shape, edge_index: int, deflection: float | None = None) -> np.ndarray:
    """Edge `edge_index` as an (N, 3) polyline in its parameter direction (a closed edge repeats
    its first point at the end)."""
    e = edges(shape)[edge_index]
    if BRep_Tool.Degenerated_s(e):
        return np.zeros((0, 3))
    return _sample(e, deflection or _default_deflection(shape))
