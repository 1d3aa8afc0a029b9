"""Kernel operations on solids: primitives, booleans, prisms, chamfers, fillets and pipes.

Each function takes and returns OCP shapes and raises `KernelError` with a plain-words reason
when OpenCascade refuses; the checks on the result live with the operations.
"""

from __future__ import annotations

import math

import numpy as np
from OCP.BRepAlgoAPI import BRepAlgoAPI_Cut, BRepAlgoAPI_Fuse
from OCP.BRepBuilderAPI import (
    BRepBuilderAPI_MakeEdge,
    BRepBuilderAPI_MakeFace,
    BRepBuilderAPI_MakePolygon,
    BRepBuilderAPI_MakeWire,
)
from OCP.BRepFilletAPI import BRepFilletAPI_MakeChamfer, BRepFilletAPI_MakeFillet
from OCP.BRepOffsetAPI import BRepOffsetAPI_MakePipe
from OCP.BRepPrimAPI import BRepPrimAPI_MakeBox, BRepPrimAPI_MakeCylinder, BRepPrimAPI_MakePrism
from OCP.GC import GC_MakeArcOfCircle, GC_MakeCircle
from OCP.gp import gp_Ax2, gp_Dir, gp_Pnt, gp_Vec
from OCP.ShapeUpgrade import ShapeUpgrade_UnifySameDomain
from OCP.TopoDS import TopoDS
from OCP.TopTools import TopTools_ListOfShape

from .errors import KernelError
from .topology import edges, faces, solid_count


def _kernel_exceptions() -> tuple[type[BaseException], ...]:
    """Every exception type OpenCascade raises. In the Python binding they do not share the C++
    base class (Standard_ConstructionError is not a Standard_Failure there), so catching
    Standard_Failure alone lets, say, a chamfer's construction error escape as a crash."""
    import importlib
    found: set[type[BaseException]] = {MemoryError}
    for name in ("Standard", "StdFail", "gp", "Geom", "Geom2d", "TopoDS"):
        module = importlib.import_module(f"OCP.{name}")
        found.update(v for v in vars(module).values() if isinstance(v, type) and issubclass(v, BaseException))
    return tuple(sorted(found, key=lambda t: t.__name__))


OCC_ERRORS = _kernel_exceptions()


def _p(x) -> gp_Pnt:
    return gp_Pnt(float(x[0]), float(x[1]), float(x[2]))


def _v(x) -> gp_Vec:
    return gp_Vec(float(x[0]), float(x[1]), float(x[2]))


def box(size, corner) -> object:
    return BRepPrimAPI_MakeBox(_p(corner), float(size[0]), float(size[1]), float(size[2])).Shape()


def cylinder(radius: float, height: float, base_center) -> object:
    ax = gp_Ax2(_p(base_center), gp_Dir(0, 0, 1))
    return BRepPrimAPI_MakeCylinder(ax, float(radius), float(height)).Shape()


def clean(shape) -> object:
    """Merge coplanar faces and collinear edges a boolean leaves behind."""
    try:
        u = ShapeUpgrade_UnifySameDomain(shape, True, True, False)
        u.Build()
        return u.Shape()
    except OCC_ERRORS:  # e.g. runaway memory on a degenerate result
        raise KernelError("the kernel could not tidy up the result (it is degenerate)") from None


def _boolean(api, a, b, what: str):
    args, tools = TopTools_ListOfShape(), TopTools_ListOfShape()
    args.Append(a)
    tools.Append(b)
    api.SetArguments(args)
    api.SetTools(tools)
    api.SetRunParallel(False)
    try:
        api.Build()
    except OCC_ERRORS:
        raise KernelError(f"the kernel could not {what} the shapes") from None
    if not api.IsDone():
        raise KernelError(f"the kernel could not {what} the shapes")
    return clean(api.Shape())


def fuse(a, b):
    return _boolean(BRepAlgoAPI_Fuse(), a, b, "join")


def cut(a, b):
    return _boolean(BRepAlgoAPI_Cut(), a, b, "cut")


def face_of(shape, index: int):
    return faces(shape)[index]


def polygon_face(points3d: np.ndarray):
    """A planar face bounded by a closed polygon of 3D points."""
    poly = BRepBuilderAPI_MakePolygon()
    for p in points3d:
        poly.Add(_p(p))
    poly.Close()
    if not poly.IsDone():
        raise KernelError("the polygon is degenerate (repeated or collinear points)")
    mk = BRepBuilderAPI_MakeFace(poly.Wire(), True)
    if not mk.IsDone():
        raise KernelError("the polygon does not bound a flat region")
    return mk.Face()


def circle_face(center, normal, radius: float):
    circ = GC_MakeCircle(gp_Ax2(_p(center), gp_Dir(*map(float, normal))), float(radius)).Value()
    edge = BRepBuilderAPI_MakeEdge(circ).Edge()
    wire = BRepBuilderAPI_MakeWire(edge).Wire()
    return BRepBuilderAPI_MakeFace(wire, True).Face()


def prism(face, vector) -> object:
    """The solid a planar face sweeps when translated by `vector` (which may be oblique)."""
    try:
        mk = BRepPrimAPI_MakePrism(face, _v(vector))
        mk.Build()
        if not mk.IsDone():
            raise KernelError("the kernel could not extrude the profile")
        return mk.Shape()
    except OCC_ERRORS as exc:
        raise KernelError(f"the kernel could not extrude the profile ({exc})") from None


def arc_path(start, tangent, end):
    """A wire holding one circular arc from `start`, leaving along `tangent`, to `end`."""
    try:
        arc = GC_MakeArcOfCircle(_p(start), _v(tangent), _p(end))
        if not arc.IsDone():
            raise KernelError("the arc path is degenerate")
        edge = BRepBuilderAPI_MakeEdge(arc.Value()).Edge()
        return BRepBuilderAPI_MakeWire(edge).Wire()
    except OCC_ERRORS as exc:
        raise KernelError(f"the arc path is degenerate ({exc})") from None


def pipe(profile_face, path_wire) -> object:
    try:
        mk = BRepOffsetAPI_MakePipe(path_wire, profile_face)
        mk.Build()
        if not mk.IsDone():
            raise KernelError("the kernel could not sweep the profile along the path")
        return mk.Shape()
    except OCC_ERRORS as exc:
        raise KernelError(f"the kernel could not sweep the profile along the path ({exc})") from None


def chamfer(shape, edge_index: int, face_index: int, d1: float, d2: float):
    try:
        mk = BRepFilletAPI_MakeChamfer(shape)
        mk.Add(float(d1), float(d2), edges(shape)[edge_index], faces(shape)[face_index])
        mk.Build()
        if not mk.IsDone():
            raise KernelError("the chamfer does not fit: the set-backs are too large for the faces beside the edge")
        return clean(mk.Shape())
    except OCC_ERRORS:
        raise KernelError("the chamfer does not fit: the set-backs are too large for the faces beside "
                          "the edge") from None


def fillet(shape, edge_index: int, radius: float):
    try:
        mk = BRepFilletAPI_MakeFillet(shape)
        mk.Add(float(radius), edges(shape)[edge_index])
        mk.Build()
        if not mk.IsDone():
            raise KernelError("the fillet does not fit: the radius is too large for the faces beside the edge")
        return clean(mk.Shape())
    except OCC_ERRORS:
        raise KernelError("the fillet does not fit: the radius is too large for the faces beside the edge") from None


def single_solid(shape):
    """The one solid in a boolean result, or None when there is none or several."""
    from OCP.TopAbs import TopAbs_SOLID
    from OCP.TopExp import TopExp_Explorer
    if solid_count(shape) != 1:
        return None
    exp = TopExp_Explorer(shape, TopAbs_SOLID)
    return TopoDS.Solid_s(exp.Current())


def point_face_distance(shape, face_index: int, point) -> float:
    from OCP.BRepBuilderAPI import BRepBuilderAPI_MakeVertex
    from OCP.BRepExtrema import BRepExtrema_DistShapeShape
    v = BRepBuilderAPI_MakeVertex(_p(point)).Vertex()
    d = BRepExtrema_DistShapeShape(v, faces(shape)[face_index])
    return float(d.Value()) if d.IsDone() else math.inf


def point_in_face(shape, face_index: int, point, tol: float) -> bool:
    """True when `point` (on the face's plane) lies inside the face or on its boundary."""
    from OCP.BRepClass import BRepClass_FaceClassifier
    from OCP.TopAbs import TopAbs_IN, TopAbs_ON
    cls = BRepClass_FaceClassifier(faces(shape)[face_index], _p(point), tol)
    return cls.State() in (TopAbs_IN, TopAbs_ON)


def face_interior_point(shape, face_index: int) -> tuple[float, float, float]:
    """A point inside the face: its centroid when that lies on it, else the middle of a triangle."""
    from OCP.BRepClass import BRepClass_FaceClassifier
    from OCP.BRepGProp import BRepGProp
    from OCP.GProp import GProp_GProps
    from OCP.TopAbs import TopAbs_IN, TopAbs_ON
    f = faces(shape)[face_index]
    props = GProp_GProps()
    BRepGProp.SurfaceProperties_s(f, props)
    c = props.CentreOfMass()
    if point_face_distance(shape, face_index, (c.X(), c.Y(), c.Z())) < 1e-7:
        cls = BRepClass_FaceClassifier(f, c, 1e-7)
        if cls.State() in (TopAbs_IN, TopAbs_ON):
            return (c.X(), c.Y(), c.Z())
    from .tessellate import tessellate
    vertices, triangles, face_ids = tessellate(shape)
    sel = np.nonzero(face_ids == face_index)[0]
    if len(sel) == 0:
        return (c.X(), c.Y(), c.Z())
    tri = vertices[triangles[sel]]
    areas = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    p = tri[int(np.argmax(areas))].mean(axis=0)
    return (float(p[0]), float(p[1]), float(p[2]))


def face_normal_at(shape, face_index: int, point) -> tuple[float, float, float]:
    """Outward unit normal of a face at the surface point nearest to `point`."""
    from OCP.BRep import BRep_Tool
    from OCP.GeomAPI import GeomAPI_ProjectPointOnSurf
    from OCP.GeomLProp import GeomLProp_SLProps
    from OCP.TopAbs import TopAbs_REVERSED
    f = faces(shape)[face_index]
    surf = BRep_Tool.Surface_s(f)
    proj = GeomAPI_ProjectPointOnSurf(_p(point), surf)
    if proj.NbPoints() == 0:
        return (0.0, 0.0, 0.0)
    u, v = proj.LowerDistanceParameters()
    props = GeomLProp_SLProps(surf, u, v, 1, 1e-9)
    if not props.IsNormalDefined():
        return (0.0, 0.0, 0.0)
    n = props.Normal()
    s = -1.0 if f.Orientation() == TopAbs_REVERSED else 1.0
    return (s * n.X(), s * n.Y(), s * n.Z())
