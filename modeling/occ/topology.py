"""Faces and edges of a shape in a stable order, with the facts references and renders need.

The facts come back as plain dicts of numbers and names; `bodies` turns them into its records."""

from __future__ import annotations

import numpy as np
from OCP.Bnd import Bnd_Box
from OCP.BRep import BRep_Tool
from OCP.BRepAdaptor import BRepAdaptor_Curve, BRepAdaptor_Surface
from OCP.BRepBndLib import BRepBndLib
from OCP.BRepCheck import BRepCheck_Analyzer
from OCP.BRepGProp import BRepGProp
from OCP.GeomAbs import (
    GeomAbs_BSplineSurface,
    GeomAbs_Circle,
    GeomAbs_Cone,
    GeomAbs_Cylinder,
    GeomAbs_Line,
    GeomAbs_Plane,
    GeomAbs_Sphere,
    GeomAbs_Torus,
)
from OCP.gp import gp_Pnt, gp_Vec
from OCP.GProp import GProp_GProps
from OCP.TopAbs import TopAbs_EDGE, TopAbs_FACE, TopAbs_REVERSED, TopAbs_SOLID
from OCP.TopExp import TopExp
from OCP.TopoDS import TopoDS
from OCP.TopTools import TopTools_IndexedDataMapOfShapeListOfShape, TopTools_IndexedMapOfShape

_SURFACES = {GeomAbs_Plane: "plane", GeomAbs_Cylinder: "cylinder", GeomAbs_Cone: "cone",
             GeomAbs_Sphere: "sphere", GeomAbs_Torus: "torus", GeomAbs_BSplineSurface: "bspline"}


def faces(shape) -> list:
    """The shape's faces, each once, in the kernel's deterministic exploration order."""
    m = TopTools_IndexedMapOfShape()
    TopExp.MapShapes_s(shape, TopAbs_FACE, m)
    return [TopoDS.Face_s(m.FindKey(i)) for i in range(1, m.Extent() + 1)]


def edges(shape) -> list:
    m = TopTools_IndexedMapOfShape()
    TopExp.MapShapes_s(shape, TopAbs_EDGE, m)
    return [TopoDS.Edge_s(m.FindKey(i)) for i in range(1, m.Extent() + 1)]


def solid_count(shape) -> int:
    m = TopTools_IndexedMapOfShape()
    TopExp.MapShapes_s(shape, TopAbs_SOLID, m)
    return m.Extent()


def is_valid(shape) -> bool:
    return bool(BRepCheck_Analyzer(shape).IsValid())


def volume_and_area(shape) -> tuple[float, float]:
    p = GProp_GProps()
    BRepGProp.VolumeProperties_s(shape, p)
    q = GProp_GProps()
    BRepGProp.SurfaceProperties_s(shape, q)
    return float(p.Mass()), float(q.Mass())


def volume(shape) -> float:
    p = GProp_GProps()
    BRepGProp.VolumeProperties_s(shape, p)
    return float(p.Mass())


def bounds(shape) -> np.ndarray:
    box = Bnd_Box()
    BRepBndLib.Add_s(shape, box, False)
    if box.IsVoid():
        return np.zeros((2, 3))
    x0, y0, z0, x1, y1, z1 = box.Get()
    return np.array([[x0, y0, z0], [x1, y1, z1]], float)


def face_facts(face) -> dict:
    """One face's planarity, outward normal and a point of its plane (planar faces), area, centroid
    and surface kind, keyed by the field names of `bodies.FaceInfo`."""
    surf = BRepAdaptor_Surface(face, True)
    kind = _SURFACES.get(surf.GetType(), "other")
    p = GProp_GProps()
    BRepGProp.SurfaceProperties_s(face, p)
    c = p.CentreOfMass()
    centroid = (c.X(), c.Y(), c.Z())
    normal = origin = None
    if kind == "plane":
        pln = surf.Plane()
        ax = pln.Axis()
        d = ax.Direction()
        n = np.array([d.X(), d.Y(), d.Z()])
        if face.Orientation() == TopAbs_REVERSED:
            n = -n
        loc = pln.Location()
        normal = tuple(float(x) for x in n)
        origin = (loc.X(), loc.Y(), loc.Z())
    return {"planar": kind == "plane", "normal": normal, "origin": origin, "area": float(p.Mass()),
            "centroid": centroid, "surface": kind}


def faces_facts(shape) -> list[dict]:
    """`face_facts` of every face of the shape, in the order of `faces`."""
    return [face_facts(f) for f in faces(shape)]


def edges_facts(shape) -> list[dict]:
    """Per edge, in the order of `edges`: curve kind, midpoint, unit tangent there, length and the
    indices of the adjacent faces, keyed by the field names of `bodies.EdgeInfo`."""
    fmap = TopTools_IndexedMapOfShape()
    TopExp.MapShapes_s(shape, TopAbs_FACE, fmap)
    e2f = TopTools_IndexedDataMapOfShapeListOfShape()
    TopExp.MapShapesAndAncestors_s(shape, TopAbs_EDGE, TopAbs_FACE, e2f)
    out = []
    for e in edges(shape):
        if BRep_Tool.Degenerated_s(e):
            out.append({"curve": "degenerate", "midpoint": (0.0, 0.0, 0.0), "direction": (0.0, 0.0, 0.0),
                        "length": 0.0, "faces": ()})
            continue
        c = BRepAdaptor_Curve(e)
        kind = {GeomAbs_Line: "line", GeomAbs_Circle: "circle"}.get(c.GetType(), "other")
        t = 0.5 * (c.FirstParameter() + c.LastParameter())
        pnt, vec = gp_Pnt(), gp_Vec()
        c.D1(t, pnt, vec)
        v = np.array([vec.X(), vec.Y(), vec.Z()])
        nv = np.linalg.norm(v)
        v = v / nv if nv > 0 else v
        p = GProp_GProps()
        BRepGProp.LinearProperties_s(e, p)
        adj = []
        if e2f.Contains(e):
            lst = e2f.FindFromKey(e)  # iterating OCP lists from Python is slow; ends suffice on a solid
            if lst.Size() > 0:
                for f in (lst.First(), lst.Last()):
                    idx = fmap.FindIndex(f) - 1
                    if idx >= 0 and idx not in adj:
                        adj.append(idx)
        out.append({"curve": kind, "midpoint": (pnt.X(), pnt.Y(), pnt.Z()), "direction": tuple(float(x) for x in v),
                    "length": float(p.Mass()), "faces": tuple(adj)})
    return out
