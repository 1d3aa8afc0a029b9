"""How each kind of body is shown: a table from the body's `kind` to the GL items that draw it.

A new kind of body (a field, a scene) is one entry in `DISPLAY` (or a `register_display` call); a
kind not in the table is drawn from its `mesh()` when it has one. Every drawer takes a `Look`:
the model's own colors, or one tint for a preview's added or removed material; a look with
`part_colors` draws the clouds whose parts are known in one color per part.

A scene is drawn in its own colors in the model and as a preview alike (a tinted map says little):
the preview's scene is pulled in front of the model's where the two coincide, and the scene it
replaces is not drawn again.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import numpy as np
import pyqtgraph.opengl as gl

from sketchforge.modeling.bodies import Body, Mesh, PointCloudBody

from .parts import RGB, colors_by_part
from .shader import GHOST_GL, HEADLIGHT, LINE_GL, OPAQUE_GHOST_GL, POINT_GL, SOLID_GL, XRAY_GL

log = logging.getLogger(__name__)

RGBA = tuple[float, float, float, float]

SOLID_COLOR: RGBA = (0.80, 0.82, 0.85, 1.0)
MESH_COLOR: RGBA = (0.74, 0.74, 0.74, 1.0)
EDGE_COLOR: RGBA = (0.08, 0.09, 0.11, 1.0)
POINT_COLOR: RGBA = (0.80, 0.80, 0.80, 1.0)
ADDED_COLOR: RGBA = (0.10, 0.80, 0.70, 0.40)        # blue-green: material a proposal adds
ADDED_EDGE_COLOR: RGBA = (0.30, 0.95, 0.85, 0.95)
REMOVED_COLOR: RGBA = (0.95, 0.20, 0.20, 0.40)      # red: material a proposal takes away
REMOVED_EDGE_COLOR: RGBA = (1.00, 0.40, 0.40, 0.95)
CREASE_DEG = 30.0           # a preview mesh shows the edges where its faces turn by more than this


@dataclass(frozen=True)
class Look:
    """How one group of bodies is drawn: `tint` None keeps each kind's own colors (the model);
    `part_colors` (part name -> RGB) draws clouds whose parts are known by part instead."""

    tint: RGBA | None = None
    edge: RGBA = EDGE_COLOR
    face_gl: dict | None = None
    edge_gl: dict | None = None
    point_gl: dict | None = None
    mesh_edges: bool = False    # draw a mesh's outline and creases too (a preview's shape)
    depth: float = 0.0          # drawing order: previews come after the model
    part_colors: Mapping[str, RGB] | None = None
    role: str = "model"         # "model", or what a preview shows: "added" or "removed" material

    def face_color(self, own: RGBA) -> RGBA:
        return own if self.tint is None else self.tint


MODEL = Look(face_gl=SOLID_GL, edge_gl=LINE_GL, point_gl=POINT_GL)
ADDED = Look(ADDED_COLOR, ADDED_EDGE_COLOR, GHOST_GL, LINE_GL, LINE_GL, mesh_edges=True, depth=10.0, role="added")
REMOVED = Look(REMOVED_COLOR, REMOVED_EDGE_COLOR, XRAY_GL, XRAY_GL, XRAY_GL, mesh_edges=True, depth=20.0,
               role="removed")

Drawer = Callable[[Body, Look], list]


def mesh_item(mesh: Mesh | None, color: RGBA, gl_options: dict) -> gl.GLMeshItem | None:
    """Faces of a mesh lit by the head light; the mesh's vertex colors when it is opaque."""
    if mesh is None or not len(mesh.triangles):
        return None
    kwargs = {}
    if mesh.colors is not None and color[3] >= 1.0:
        c = np.asarray(mesh.colors, np.float32) / 255.0
        if c.shape[1] == 3:
            c = np.concatenate([c, np.ones((len(c), 1), np.float32)], axis=1)
        kwargs["vertexColors"] = c
    md = gl.MeshData(vertexes=np.asarray(mesh.vertices, np.float32),
                     faces=np.asarray(mesh.triangles, np.int32), **kwargs)
    # smooth=False: per-face normals, computed with numpy (pyqtgraph's vertex normals loop in Python).
    return gl.GLMeshItem(meshdata=md, smooth=False, shader=HEADLIGHT, color=color, glOptions=gl_options)


def lines_item(segments: np.ndarray, look: Look) -> gl.GLLinePlotItem | None:
    """Line segments (2K, 3) in the look's edge color, drawn after the faces they border."""
    seg = np.asarray(segments, np.float32).reshape(-1, 3)
    if not len(seg):
        return None
    lines = gl.GLLinePlotItem(pos=seg, mode="lines", width=1.5, antialias=True, color=look.edge,
                              glOptions=look.edge_gl)
    lines.setDepthValue(1)
    return lines


def outline_segments(vertices: np.ndarray, triangles: np.ndarray, crease_deg: float = CREASE_DEG) -> np.ndarray:
    """A mesh's boundary and crease edges (faces meeting at more than `crease_deg`) as (2K, 3) points."""
    v = np.asarray(vertices, float)
    tri = np.asarray(triangles, np.int64)
    if not len(tri):
        return np.zeros((0, 3))
    n = np.cross(v[tri[:, 1]] - v[tri[:, 0]], v[tri[:, 2]] - v[tri[:, 0]])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-30)
    edges = np.sort(np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]]), axis=1)
    faces = np.tile(np.arange(len(tri)), 3)
    key = edges[:, 0] * (int(edges.max()) + 1) + edges[:, 1]
    order = np.argsort(key, kind="stable")
    key, edges, faces = key[order], edges[order], faces[order]
    _, start, count = np.unique(key, return_index=True, return_counts=True)
    keep = count != 2                                   # boundaries and non-manifold edges
    pair = np.flatnonzero(count == 2)
    bend = (n[faces[start[pair]]] * n[faces[start[pair] + 1]]).sum(1) < math.cos(math.radians(crease_deg))
    keep[pair[bend]] = True
    return v[edges[start[keep]]].reshape(-1, 3)


def _solid(body: Body, look: Look) -> list:
    """Faces and feature edges of a solid."""
    items = [mesh_item(body.mesh(), look.face_color(SOLID_COLOR), look.face_gl),
             lines_item(body.edge_segments(), look)]
    return [it for it in items if it is not None]


def _mesh(body: Body, look: Look) -> list:
    """Faces of a mesh (its own vertex colors in the model); a preview adds its outline."""
    mesh = body.mesh()
    items = [mesh_item(mesh, look.face_color(MESH_COLOR), look.face_gl)]
    if look.mesh_edges and mesh is not None:
        items.append(lines_item(outline_segments(mesh.vertices, mesh.triangles), look))
    return [it for it in items if it is not None]


def _points(body: Body, look: Look) -> list:
    """Points of a cloud, in their own colors in the model (or by part, when the look says so)."""
    if not len(body.points):
        return []
    rgb = body.colors
    if look.part_colors is not None and isinstance(body, PointCloudBody) and body.parts is not None:
        rgb = colors_by_part(body, look.part_colors)
    if look.tint is not None:
        color = look.tint
    elif rgb is not None:
        color = np.concatenate([np.asarray(rgb, np.float32) / 255.0,
                                np.ones((len(body.points), 1), np.float32)], axis=1)
    else:
        color = POINT_COLOR
    return [gl.GLScatterPlotItem(pos=body.points, color=color, size=3.0, pxMode=True, glOptions=look.point_gl)]


def _scene(body: Body, look: Look) -> list:
    """A scene's merged mesh in its own colors; a preview's new scene in front of the model's, the
    scene it replaces not at all."""
    if look.role == "removed":
        return []
    item = mesh_item(body.mesh(), MESH_COLOR, look.face_gl if look.role == "model" else OPAQUE_GHOST_GL)
    return [] if item is None else [item]


def _any_mesh(body: Body, look: Look) -> list:
    """A kind with no entry of its own: its mesh, when it has one."""
    return _mesh(body, look)


DISPLAY: dict[str, Drawer] = {"solid": _solid, "mesh": _mesh, "points": _points, "scene": _scene}


def register_display(kind: str, drawer: Drawer) -> None:
    """Show bodies whose `kind` is `kind` with `drawer(body, look) -> [GL items]`."""
    if not isinstance(kind, str) or not kind:
        raise ValueError("a body kind is a non-empty name such as 'solid' or 'field'")
    DISPLAY[kind] = drawer


def make_items(body: Body, look: Look) -> list:
    """The GL items that show `body` in `look`, from the table entry of its kind."""
    items = DISPLAY.get(getattr(body, "kind", ""), _any_mesh)(body, look)
    for it in items:
        it.setDepthValue(look.depth + it.depthValue())
    return items


class BodyLayer:
    """The GL items of one group of bodies (the model, or a preview's added or removed material);
    the items of a body are kept while the same body object stays in the group."""

    def __init__(self, look: Look) -> None:
        self.look = look
        self._entries: dict[int, tuple[Body, list]] = {}

    def bodies(self) -> list[Body]:
        return [body for body, _ in self._entries.values()]

    def __bool__(self) -> bool:
        return bool(self._entries)

    def items(self, body: Body) -> list:
        """The GL items that draw `body` (the same object) in this group; [] when it is not shown."""
        entry = self._entries.get(id(body))
        return list(entry[1]) if entry is not None and entry[0] is body else []

    def restyle(self, view: gl.GLViewWidget, look: Look, which: Callable[[Body], bool] = lambda body: True) -> None:
        """Draw the group in `look` from now on; the bodies `which` picks get new items at once."""
        bodies = self.bodies()
        self.sync(view, [b for b in bodies if not which(b)])
        self.look = look
        self.sync(view, bodies)

    def sync(self, view: gl.GLViewWidget, bodies: Iterable[Body]) -> None:
        """Show exactly `bodies` in `view`: new bodies get items, gone bodies lose theirs."""
        old, new = self._entries, {}
        for body in bodies:
            key = id(body)
            if key in new:
                continue
            entry = old.pop(key, None)
            if entry is None:
                try:
                    items = make_items(body, self.look)
                except Exception:  # one body that cannot be drawn must not take the view down
                    log.warning("cannot display body %r", body, exc_info=True)
                    items = []
                entry = (body, items)
                for it in items:
                    view.addItem(it)
            new[key] = entry
        for _, items in old.values():
            for it in items:
                if it in view.items:
                    view.removeItem(it)
        self._entries = new
