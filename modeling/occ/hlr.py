"""Hidden-line removal: the visible edges and outlines of shapes, in a camera's pixel coordinates.

The projector is set up so that OpenCascade's projected plane maps onto our `Camera` pixels by a
plain scale and shift, for perspective and orthographic cameras alike (see `_projector`).

Two kernels are available. The default, `HLRBRep_PolyAlgo`, hides the shapes' triangulation (the
same one the depth / face-id renders ray-cast, so lines and regions agree); it is about four times
faster than the exact `HLRBRep_Algo` on a 60-face part, and its curves are polygons within the
tessellation's deflection. Pass `exact=True` for the analytic algorithm.
"""

from __future__ import annotations

import math

import numpy as np
from OCP.BRep import BRep_Tool
from OCP.BRepAdaptor import BRepAdaptor_Curve
from OCP.BRepMesh import BRepMesh_IncrementalMesh
from OCP.GCPnts import GCPnts_QuasiUniformDeflection
from OCP.GeomAbs import GeomAbs_Line
from OCP.gp import gp_Ax2, gp_Dir, gp_Pnt
from OCP.HLRAlgo import HLRAlgo_Projector
from OCP.HLRBRep import HLRBRep_Algo, HLRBRep_HLRToShape, HLRBRep_PolyAlgo, HLRBRep_PolyHLRToShape
from OCP.TopAbs import TopAbs_EDGE
from OCP.TopExp import TopExp, TopExp_Explorer
from OCP.TopoDS import TopoDS

from ..camera import Camera
from .topology import bounds

# Polylines of the polygonal kernel are chained through points where exactly two pieces meet
# and the direction turns by less than this (so a polygonised arc is one stroke, a corner two).
_CHAIN_TURN_COS = math.cos(math.radians(35.0))


def visible_edges(shapes: list, camera: Camera, width: int, height: int, *, smooth: bool = False,
                  exact: bool = False, deflection_px: float = 0.25) -> list[tuple[np.ndarray, str]]:
    """Visible edges of `shapes` as (float32 (N, 2) pixel polyline, "sharp" | "outline" | "smooth").

    Pixel coordinates follow the sketch-file spec (u right, v down, centres at +0.5). Shapes
    must lie in front of a perspective eye. `smooth` adds tangent-continuous edges (fillet
    boundaries); `deflection_px` bounds the chord error of curved edges for `exact=True`.
    """
    shapes = [s for s in shapes if s is not None and not s.IsNull()]
    if not shapes:
        return []
    projector, scale = _projector(camera, width, height)
    to_px = _to_pixels(width, height, scale)
    if exact:
        comps = _exact_compounds(shapes, projector, smooth)
        return [(to_px(p), kind) for comp, kind in comps
                for p in _discretise(comp, deflection_px / scale)]
    comps = _poly_compounds(shapes, projector, smooth)
    out = []
    for comp, kind in comps:
        out += [(to_px(p), kind) for p in _chain(_segments(comp))]
    return out


def _projector(camera: Camera, width: int, height: int) -> tuple[HLRAlgo_Projector, float]:
    """An HLR projector for `camera` and the pixels per projected unit.

    OpenCascade's perspective maps a point of the projector frame to X / (1 - Z / focus). With the
    frame at eye + focus * forward, axes (right, true-up, -forward), that is focus * x / z of the
    camera's view coordinates; choosing focus = the camera's pixel scale makes the projected
    units pixels. The orthographic frame sits at the eye and projects millimetres.
    """
    r, t, f = camera.basis()
    s = camera.scale(width, height)
    eye = np.asarray(camera.eye, float)
    if camera.projection == "perspective":
        origin = eye + s * f
        return HLRAlgo_Projector(gp_Ax2(gp_Pnt(*origin), gp_Dir(*(-f)), gp_Dir(*r)), s), 1.0
    return HLRAlgo_Projector(gp_Ax2(gp_Pnt(*eye), gp_Dir(*(-f)), gp_Dir(*r))), s


def _to_pixels(width: int, height: int, scale: float):
    """A function from projected (N, 2) points to float32 pixel coordinates."""
    def convert(p: np.ndarray) -> np.ndarray:
        return np.stack([width / 2.0 + scale * p[:, 0], height / 2.0 - scale * p[:, 1]],
                        axis=1).astype(np.float32)
    return convert


def _kinds(h, smooth: bool) -> list[tuple[object, str]]:
    """The visible compounds of an HLR-to-shape result, each with its role."""
    comps = [(h.VCompound(), "sharp"), (h.OutLineVCompound(), "outline")]
    if smooth:
        comps.append((h.Rg1LineVCompound(), "smooth"))
    return [(c, k) for c, k in comps if c is not None and not c.IsNull()]


def _exact_compounds(shapes: list, projector: HLRAlgo_Projector, smooth: bool):
    """Run the analytic hidden-line removal."""
    algo = HLRBRep_Algo()
    for s in shapes:
        algo.Add(s)
    algo.Projector(projector)
    algo.Update()
    algo.Hide()
    return _kinds(HLRBRep_HLRToShape(algo), smooth)


def _poly_compounds(shapes: list, projector: HLRAlgo_Projector, smooth: bool):
    """Run the hidden-line removal on the shapes' triangulations (meshing them where needed)."""
    algo = HLRBRep_PolyAlgo()
    for s in shapes:
        _ensure_triangulated(s)
        algo.Load(s)
    algo.Projector(projector)
    algo.Update()
    h = HLRBRep_PolyHLRToShape()
    h.Update(algo)
    return _kinds(h, smooth)


def _ensure_triangulated(shape) -> None:
    """Mesh `shape` with the display tessellation's settings; a no-op when it already is."""
    b = bounds(shape)
    linear = max(float(np.linalg.norm(b[1] - b[0])) * 1e-3, 1e-3)
    BRepMesh_IncrementalMesh(shape, linear, False, 0.35, True)


def _edges(compound) -> list:
    ex = TopExp_Explorer(compound, TopAbs_EDGE)
    out = []
    while ex.More():
        out.append(TopoDS.Edge_s(ex.Current()))
        ex.Next()
    return out


def _segments(compound) -> np.ndarray:
    """The straight edges of a compound as an (N, 2, 2) array of projected end points."""
    rows = []
    for e in _edges(compound):
        p = BRep_Tool.Pnt_s(TopExp.FirstVertex_s(e))
        q = BRep_Tool.Pnt_s(TopExp.LastVertex_s(e))
        rows.append((p.X(), p.Y(), q.X(), q.Y()))
    return np.asarray(rows, float).reshape(-1, 2, 2)


def _discretise(compound, deflection: float) -> list[np.ndarray]:
    """Each edge of a compound as a projected polyline: end points for lines, else by deflection."""
    out = []
    for e in _edges(compound):
        c = BRepAdaptor_Curve(e)
        if c.GetType() == GeomAbs_Line:
            pts = [c.Value(c.FirstParameter()), c.Value(c.LastParameter())]
        else:
            d = GCPnts_QuasiUniformDeflection(c, deflection)
            pts = [d.Value(i) for i in range(1, d.NbPoints() + 1)]
        out.append(np.array([(p.X(), p.Y()) for p in pts], float))
    return out


def _chain(segments: np.ndarray) -> list[np.ndarray]:
    """Join segments into polylines through points shared by exactly two of them at gentle turns."""
    keys = np.round(segments * 1e4).astype(np.int64)
    segments = segments[(keys[:, 0] != keys[:, 1]).any(axis=1)]
    n = len(segments)
    if n == 0:
        return []
    keys = np.round(segments.reshape(-1, 2) * 1e4).astype(np.int64)
    _, inv, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    inv = inv.reshape(n, 2)
    ends: dict[int, list[int]] = {}
    for i, (a, b) in enumerate(inv.tolist()):
        ends.setdefault(a, []).append(i)
        ends.setdefault(b, []).append(i)
    used = np.zeros(n, bool)

    def step(seg: int, node: int):
        """The segment continuing `seg` through `node`, with its far node, or None."""
        if counts[node] != 2:
            return None
        nxt = [j for j in ends[node] if j != seg]
        if len(nxt) != 1 or used[nxt[0]]:
            return None
        j = nxt[0]
        far = int(inv[j, 1] if inv[j, 0] == node else inv[j, 0])
        d0 = segments[seg, 1] - segments[seg, 0] if inv[seg, 1] == node else segments[seg, 0] - segments[seg, 1]
        d1 = segments[j, 1] - segments[j, 0] if inv[j, 0] == node else segments[j, 0] - segments[j, 1]
        den = np.linalg.norm(d0) * np.linalg.norm(d1)
        if den > 0 and float(d0 @ d1) / den < _CHAIN_TURN_COS:
            return None
        return j, far

    node_xy = np.zeros((len(counts), 2))
    node_xy[inv.ravel()] = segments.reshape(-1, 2)
    lines = []
    for i in range(n):
        if used[i]:
            continue
        used[i] = True
        chain = [int(inv[i, 0]), int(inv[i, 1])]
        for forward in (True, False):
            seg, node = i, chain[-1] if forward else chain[0]
            while (nxt := step(seg, node)) is not None:
                seg, node = nxt
                used[seg] = True
                if forward:
                    chain.append(node)
                else:
                    chain.insert(0, node)
        lines.append(node_xy[chain])
    return lines
