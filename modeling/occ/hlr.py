"""Hidden-line removal: the visible edges and outlines of shapes, in a camera's pixel coordinates.

The projector is set up so that OpenCascade's projected plane maps onto our `Camera` pixels by a
plain scale and shift, for perspective and orthographic cameras alike (see `_projector`).

This uses the analytic `HLRBRep_Algo`. The faster polygonal `HLRBRep_PolyAlgo` is not usable
here: `HLRBRep_PolyHLRToShape` returns its segments without the perspective division and without
the projector's translation, and its per-segment flags (outline, smooth) are out-parameters the
Python bindings cannot return.
"""

from __future__ import annotations

import numpy as np
from OCP.BRepAdaptor import BRepAdaptor_Curve
from OCP.GCPnts import GCPnts_QuasiUniformDeflection
from OCP.GeomAbs import GeomAbs_Line
from OCP.gp import gp_Ax2, gp_Dir, gp_Pnt
from OCP.HLRAlgo import HLRAlgo_Projector
from OCP.HLRBRep import HLRBRep_Algo, HLRBRep_HLRToShape
from OCP.TopAbs import TopAbs_EDGE
from OCP.TopExp import TopExp_Explorer
from OCP.TopoDS import TopoDS

from ..camera import Camera


def visible_edges(shapes: list, camera: Camera, width: int, height: int, *, smooth: bool = False,
                  deflection_px: float = 0.25) -> list[tuple[np.ndarray, str]]:
    """Visible edges of `shapes` as (float32 (N, 2) pixel polyline, "sharp" | "outline" | "smooth").

    Pixel coordinates follow the sketch-file spec (u right, v down, centres at +0.5). The shapes
    hide each other; they must lie in front of a perspective eye. `smooth` adds the
    tangent-continuous edges (fillet boundaries); `deflection_px` bounds the chord error of
    curved edges.
    """
    shapes = [s for s in shapes if s is not None and not s.IsNull()]
    if not shapes:
        return []
    projector, scale = _projector(camera, width, height)
    to_px = _to_pixels(width, height, scale)
    return [(to_px(p), kind) for comp, kind in _hide(shapes, projector, smooth)
            for p in _discretise(comp, deflection_px / scale)]


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


def _hide(shapes: list, projector: HLRAlgo_Projector, smooth: bool) -> list[tuple[object, str]]:
    """Run the hidden-line removal; the visible compounds with their roles."""
    algo = HLRBRep_Algo()
    for s in shapes:
        algo.Add(s)
    algo.Projector(projector)
    algo.Update()
    algo.Hide()
    return _kinds(HLRBRep_HLRToShape(algo), smooth)


def _edges(compound) -> list:
    ex = TopExp_Explorer(compound, TopAbs_EDGE)
    out = []
    while ex.More():
        out.append(TopoDS.Edge_s(ex.Current()))
        ex.Next()
    return out


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
