"""The 3D view of the document, which is also the sketch canvas.

The viewport only reads the model: `set_bodies` and `set_ghost` show immutable bodies, and
`sketch()` hands what was drawn (strokes in widget pixels plus the current view as our `Camera`)
to whoever interprets it. While strokes are on the canvas the camera holds still, so the strokes
stay attached to the view they were drawn in.

Camera mapping. pyqtgraph's GLViewWidget orbits `opts['center']` at `opts['distance']`
(azimuth from +X towards +Y, elevation from the XY plane; no roll) and its projection uses
`opts['fov']` as the HORIZONTAL field of view over the widget's logical width
(`GLViewWidget.projectionMatrix`: r = near * tan(fov / 2), t = r * h / w). With the spec's
vertical field of view fov_y = 2 * atan(tan(fov / 2) * h / w), the spec projection of
`camera()` onto a canvas of the widget's logical size lands on the same continuous pixel
coordinates as OpenGL (pixel i covers [i, i + 1]; centres at +0.5).

Stroke coordinates. A point's u, v are Qt's logical mouse (or tablet) position taken as is,
`position().x(), position().y()`: the same continuous coordinates the view is rendered in.
A mouse reports whole numbers, the corner of the pixel under the hot spot, so a mouse stroke sits
up to half a pixel up-left of the pixel centres it covered; a tablet reports sub-pixel positions.

GL contexts. pyqtgraph compiles each shader program once per process, so an application with
more than one GL view over its lifetime sets Qt.AA_ShareOpenGLContexts before it creates the
QApplication (`app/screenshot.py` does).
"""

from __future__ import annotations

import gc
import logging
import math
import time
from typing import Iterable, Mapping

import numpy as np
import pyqtgraph.opengl as gl
from OpenGL import GL
from pyqtgraph.opengl import shaders
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPointingDevice, QPolygonF, QVector3D
from PySide6.QtOpenGL import QOpenGLPaintDevice
from PySide6.QtWidgets import QWidget

from sketchforge.modeling.bodies import Body, PointCloudBody, SolidBody
from sketchforge.modeling.camera import Camera
from sketchforge.modeling.sketch import Sketch, Stroke

log = logging.getLogger(__name__)

TOOLS = ("navigate", "pen", "eraser")
VIEWS = ("front", "back", "top", "right", "left", "iso")
HOLD_MESSAGE = "Clear or interpret the strokes to move the view"

BACKGROUND = (46, 52, 64)
SOLID_COLOR = (0.80, 0.82, 0.85, 1.0)
MESH_COLOR = (0.74, 0.74, 0.74, 1.0)
EDGE_COLOR = (0.08, 0.09, 0.11, 1.0)
POINT_COLOR = (0.80, 0.80, 0.80, 1.0)
GHOST_COLOR = (0.25, 0.55, 1.0, 0.35)
GHOST_EDGE_COLOR = (0.45, 0.70, 1.0, 0.9)

# One color per stroke role; a kind not listed here (a plugin's own) is drawn in the plain color.
STROKE_COLORS: dict[str | None, tuple[int, int, int]] = {
    None: (255, 140, 26),
    "ridge": (255, 64, 64),
    "valley": (60, 190, 90),
    "water": (40, 120, 255),
    "road": (235, 235, 200),
    "forest": (40, 170, 70),
    "building": (200, 90, 200),
    "mountain": (165, 110, 60),
    "mask": (255, 230, 0),
}
STROKE_WIDTH = 3.0          # pixels at full pressure
ERASER_RADIUS = 6.0         # pixels from the cursor to a stroke that the eraser takes
FIT_MARGIN = 0.85           # share of the half-frame that fit_all fills
ORTHO_FOV_Y = 30.0          # the perspective that stands in for an orthographic sketch camera

# (azimuth, elevation) in pyqtgraph's convention: the eye sits at
# center + distance * (cos el cos az, cos el sin az, sin el).
_VIEW_ANGLES = {
    "front": (-90.0, 0.0),     # eye on -Y, looking along +Y
    "back": (90.0, 0.0),       # looking along -Y
    "right": (0.0, 0.0),       # eye on +X, looking along -X
    "left": (180.0, 0.0),      # looking along +X
    "top": (-90.0, 90.0),      # looking down -Z with +Y up on screen
    "iso": (-45.0, math.degrees(math.atan(1.0 / math.sqrt(2.0)))),  # eye on (+1, -1, +1)
}

# pyqtgraph's own "shaded" program lights from behind the viewer (faces turned to the camera come
# out at 20 %); this one is a head light plus a weak fill, two-sided. Normals are per face, so
# lighting each vertex gives the same picture as lighting each fragment, for less work.
_SHADER = "sketchforge-headlight"
shaders.ShaderProgram(_SHADER, [
    shaders.VertexShader("""
        uniform mat4 u_mvp;
        uniform mat3 u_normal;
        attribute vec4 a_position;
        attribute vec3 a_normal;
        attribute vec4 a_color;
        varying vec4 v_color;
        void main() {
            vec3 n = normalize(u_normal * a_normal);
            float key = abs(dot(n, vec3(0.3041, 0.3909, 0.8687)));
            float fill = abs(dot(n, vec3(-0.7682, -0.3841, 0.5121)));
            v_color = vec4(min(a_color.rgb * (0.40 + 0.45 * key + 0.15 * fill), vec3(1.0)), a_color.a);
            gl_Position = u_mvp * a_position;
        }
    """),
    shaders.FragmentShader("""
        #ifdef GL_ES
        precision mediump float;
        #endif
        varying vec4 v_color;
        void main() {
            gl_FragColor = v_color;
        }
    """),
])

# Every item states each switch it depends on: GL state carries over from one item to the next.
_SOLID_GL = {GL.GL_DEPTH_TEST: True, GL.GL_BLEND: False, GL.GL_CULL_FACE: False, "glDepthMask": (GL.GL_TRUE,),
             GL.GL_POLYGON_OFFSET_FILL: True, "glPolygonOffset": (1.0, 1.0)}
_LINE_GL = {GL.GL_DEPTH_TEST: True, GL.GL_BLEND: True, GL.GL_CULL_FACE: False, "glDepthMask": (GL.GL_TRUE,),
            GL.GL_POLYGON_OFFSET_FILL: False,
            "glBlendFuncSeparate": (GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA, GL.GL_ONE,
                                    GL.GL_ONE_MINUS_SRC_ALPHA)}
_POINT_GL = {GL.GL_DEPTH_TEST: True, GL.GL_BLEND: False, GL.GL_CULL_FACE: False, "glDepthMask": (GL.GL_TRUE,),
             GL.GL_POLYGON_OFFSET_FILL: False}
# The preview's faces are pulled in front of the model's where they coincide (no stripes where the
# two triangulations fight over depth) and write no depth, so the preview's own edges stay visible.
_GHOST_GL = {**_LINE_GL, "glDepthMask": (GL.GL_FALSE,), GL.GL_POLYGON_OFFSET_FILL: True,
             "glPolygonOffset": (-1.0, -1.0)}


def _rotation(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """The rotation part of GLViewWidget.viewMatrix (euler mode) in float64: world -> eye axes."""
    a = math.radians(-(azimuth_deg + 90.0))     # rotate(az + 90, 0, 0, -1)
    e = math.radians(elevation_deg - 90.0)      # rotate(el - 90, 1, 0, 0)
    rz = np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(e), -math.sin(e)], [0.0, math.sin(e), math.cos(e)]])
    return rx @ rz


def _bounds(bodies: Iterable[Body]) -> np.ndarray | None:
    boxes = []
    for b in bodies:
        try:
            bb = np.asarray(b.bounds(), float)
        except Exception:  # a body that cannot say its bounds is left out of the framing
            log.debug("no bounds for %r", b, exc_info=True)
            continue
        if bb.shape == (2, 3) and np.isfinite(bb).all():
            boxes.append(bb)
    if not boxes:
        return None
    boxes = np.stack(boxes)
    return np.stack([boxes[:, 0].min(0), boxes[:, 1].max(0)])


class _BodyItems:
    """The GL items that show one body; kept while the same body object stays in the document."""

    def __init__(self, body: Body, items: list) -> None:
        self.body = body
        self.items = items


def _mesh_item(mesh, color, gl_options) -> gl.GLMeshItem | None:
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
    return gl.GLMeshItem(meshdata=md, smooth=False, shader=_SHADER, color=color, glOptions=gl_options)


def _make_items(body: Body, ghost: bool) -> list:
    """GL items for one body: faces and edges of a solid, faces of a mesh, points of a cloud."""
    items: list = []
    if isinstance(body, PointCloudBody):
        if not len(body.points):
            return items
        if ghost:
            color = GHOST_COLOR
        elif body.colors is not None:
            color = np.concatenate([np.asarray(body.colors, np.float32) / 255.0,
                                    np.ones((len(body.points), 1), np.float32)], axis=1)
        else:
            color = POINT_COLOR
        items.append(gl.GLScatterPlotItem(pos=body.points, color=color, size=3.0, pxMode=True,
                                          glOptions=_LINE_GL if ghost else _POINT_GL))
        return items
    base = GHOST_COLOR if ghost else (SOLID_COLOR if isinstance(body, SolidBody) else MESH_COLOR)
    face = _mesh_item(body.mesh(), base, _GHOST_GL if ghost else _SOLID_GL)
    if face is not None:
        items.append(face)
    if isinstance(body, SolidBody):
        seg = np.asarray(body.edge_segments(), np.float32).reshape(-1, 3)
        if len(seg):
            lines = gl.GLLinePlotItem(pos=seg, mode="lines", width=1.5, antialias=True,
                                      color=GHOST_EDGE_COLOR if ghost else EDGE_COLOR, glOptions=_LINE_GL)
            lines.setDepthValue(1)
            items.append(lines)
    if ghost:
        for it in items:
            it.setDepthValue(10 + it.depthValue())
    return items


class Viewport(gl.GLViewWidget):
    """Shows the document's bodies and a proposal preview; draws and erases sketch strokes."""

    strokes_changed = Signal()
    stroke_finished = Signal()
    message = Signal(str)
    tool_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, rotationMethod="euler")
        self.setBackgroundColor(BACKGROUND)
        self.setCameraParams(center=_vec(0.0, 0.0, 0.0), distance=200.0,
                             azimuth=_VIEW_ANGLES["iso"][0], elevation=_VIEW_ANGLES["iso"][1], fov=50.0)
        self._bodies: dict[int, _BodyItems] = {}
        self._ghost: dict[int, _BodyItems] = {}
        self._ghost_label = ""
        self._tool = "navigate"
        self._stroke_kind: str | None = None
        self._strokes: list[Stroke] = []
        self._ghost_strokes: list[np.ndarray] = []
        self._current: list[tuple[float, float, float, float]] | None = None
        self._t0 = 0.0
        self._erasing = False
        self._erase_from: QPointF | None = None
        self._nav_button: Qt.MouseButton | None = None
        self._nav_held = False
        self._nav_pan = False
        self._last_pos = QPointF()

    # -- display -------------------------------------------------------------------------------
    def set_bodies(self, bodies: Mapping[str, Body]) -> None:
        """Show these bodies; GL items of bodies that are the same objects as before are kept."""
        was_empty = not self._bodies
        self._bodies = self._sync(self._bodies, bodies.values(), ghost=False)
        if was_empty and self._bodies and not self.has_strokes():
            self.fit_all()
        self.update()

    def set_ghost(self, bodies: Mapping[str, Body] | Iterable[Body] | None, label: str = "") -> None:
        """Show a proposal's result translucent over the model, with `label` in a corner; None clears."""
        values = [] if bodies is None else list(bodies.values() if isinstance(bodies, Mapping) else bodies)
        self._ghost = self._sync(self._ghost, values, ghost=True)
        self._ghost_label = label if values else ""
        self.update()

    def set_ghost_strokes(self, polylines: Iterable[np.ndarray] | None) -> None:
        """Show suggested strokes (polylines (M, 2) in canvas pixels) dashed over the sketch; None clears."""
        self._ghost_strokes = [] if polylines is None else [np.asarray(p, float)[:, :2] for p in polylines]
        self.update()

    def ghost_strokes(self) -> list[np.ndarray]:
        return list(self._ghost_strokes)

    def replace_strokes(self, indices: Iterable[int], polylines: Iterable[np.ndarray], kind: str | None = None) -> None:
        """Take the strokes at `indices` out and add `polylines` (canvas pixels) as new strokes of
        `kind`, drawn at mid pressure, 8 ms a point (a suggestion taken)."""
        drop = set(int(i) for i in indices)
        kept = [s for i, s in enumerate(self._strokes) if i not in drop]
        for p in polylines:
            p = np.asarray(p, float)[:, :2]
            if len(p) == 0:
                continue
            pts = np.column_stack([p, np.full(len(p), 0.5), 8.0 * np.arange(len(p))])
            kept.append(Stroke(_frozen(pts), kind))
        self._strokes = kept
        self._ghost_strokes = []
        self._strokes_changed()

    @property
    def ghost_label(self) -> str:
        return self._ghost_label

    def ghost_bodies(self) -> list[Body]:
        return [e.body for e in self._ghost.values()]

    def bodies(self) -> list[Body]:
        return [e.body for e in self._bodies.values()]

    def _sync(self, old: dict[int, _BodyItems], bodies: Iterable[Body], ghost: bool) -> dict[int, _BodyItems]:
        new: dict[int, _BodyItems] = {}
        for body in bodies:
            key = id(body)
            if key in new:
                continue
            entry = old.pop(key, None)
            if entry is None:
                try:
                    items = _make_items(body, ghost)
                except Exception:  # one body that cannot be drawn must not take the view down
                    log.warning("cannot display body %r", body, exc_info=True)
                    items = []
                entry = _BodyItems(body, items)
                for it in entry.items:
                    self.addItem(it)
            new[key] = entry
        for entry in old.values():
            for it in entry.items:
                if it in self.items:
                    self.removeItem(it)
        return new

    # -- camera --------------------------------------------------------------------------------
    def canvas_size(self) -> tuple[int, int]:
        """The sketch canvas: the widget's size in logical pixels."""
        return max(1, self.width()), max(1, self.height())

    def camera(self) -> Camera:
        """The current view as the spec's perspective camera over `canvas_size()`."""
        w, h = self.canvas_size()
        az, el = float(self.opts["azimuth"]), float(self.opts["elevation"])
        rot = _rotation(az, el)
        center = np.array([self.opts["center"].x(), self.opts["center"].y(), self.opts["center"].z()], float)
        eye = center + rot.T @ np.array([0.0, 0.0, float(self.opts["distance"])])
        if abs(math.cos(math.radians(el))) > 1e-3:
            up = (0.0, 0.0, 1.0)
        else:  # looking straight up or down: the screen's up is a horizontal direction
            up = tuple(rot.T @ np.array([0.0, 1.0, 0.0]))
        fov_x = math.radians(float(self.opts["fov"]))
        fov_y = 2.0 * math.degrees(math.atan(math.tan(fov_x / 2.0) * h / w))
        return Camera(tuple(eye), tuple(center), up, "perspective", fov_y)

    def set_camera(self, cam: Camera) -> bool:
        """Look through `cam` over this canvas (roll about the view axis is dropped; an orthographic
        camera is shown in perspective with the same scale at its target)."""
        if self._hold():
            return False
        self._apply_camera(cam, self.canvas_size()[1], 1.0)
        return True

    def _apply_camera(self, cam: Camera, canvas_height: int, k: float) -> None:
        """Set the view from `cam` over a canvas `canvas_height` high, so that an offset d from the
        canvas centre shows at k * d from this widget's centre."""
        w, h = self.canvas_size()
        _, t, f = cam.basis()
        if cam.projection == "perspective":
            s = k * cam.scale(1, canvas_height)            # widget pixels per unit of x / z
            distance = float(np.linalg.norm(np.subtract(cam.eye, cam.target)))
        else:
            s = (h / 2.0) / math.tan(math.radians(ORTHO_FOV_Y) / 2.0)
            distance = s / (k * cam.scale(1, canvas_height))  # same pixels per mm at the target
        fov_x = 2.0 * math.degrees(math.atan((w / 2.0) / s))
        el = math.degrees(math.asin(max(-1.0, min(1.0, -f[2]))))
        if abs(math.cos(math.radians(el))) > 1e-6:
            az = math.degrees(math.atan2(-f[1], -f[0]))
        elif el > 0:   # looking down: the screen's up is -(cos az, sin az, 0)
            az = math.degrees(math.atan2(-t[1], -t[0]))
        else:          # looking up: the screen's up is (cos az, sin az, 0)
            az = math.degrees(math.atan2(t[1], t[0]))
        self.opts["center"] = _vec(*cam.target)
        self.opts["distance"] = distance
        self.opts["azimuth"] = az
        self.opts["elevation"] = el
        self.opts["fov"] = fov_x
        self.update()

    def set_view(self, name: str) -> bool:
        """Turn to a standard view ("front", "back", "top", "right", "left", "iso") and frame the model."""
        if name not in _VIEW_ANGLES:
            raise ValueError(f"unknown view {name!r}; use one of {', '.join(VIEWS)}")
        if self._hold():
            return False
        az, el = _VIEW_ANGLES[name]
        self.opts["azimuth"], self.opts["elevation"] = az, el
        self.fit_all()
        self.update()
        return True

    def fit_all(self) -> bool:
        """Frame the bounds of all bodies (keeping the direction of view)."""
        if self._hold():
            return False
        bb = _bounds(self.bodies())
        if bb is None:
            bb = np.array([[-50.0, -50.0, -50.0], [50.0, 50.0, 50.0]])
        center = (bb[0] + bb[1]) / 2.0
        w, h = self.canvas_size()
        tan_x = math.tan(math.radians(float(self.opts["fov"])) / 2.0) * FIT_MARGIN
        tan_y = tan_x * h / w
        # The eye backs off along the view axis until every corner of the box is inside the frame.
        rot = _rotation(float(self.opts["azimuth"]), float(self.opts["elevation"]))
        corners = np.array([[bb[i][0], bb[j][1], bb[k][2]] for i in (0, 1) for j in (0, 1) for k in (0, 1)])
        x, y, z = ((corners - center) @ rot.T).T  # eye axes: x right, y up, -z forward
        need = np.maximum(np.abs(x) / tan_x, np.abs(y) / tan_y) + z
        size = max(float(np.linalg.norm(bb[1] - bb[0])), 1e-3)
        self.opts["center"] = _vec(*center)
        self.opts["distance"] = max(float(need.max()), 0.6 * size)  # the eye stays outside the box
        self.update()
        return True

    def _hold(self) -> bool:
        """True (and tell the user why) when strokes pin the camera."""
        if self.has_strokes():
            self.message.emit(HOLD_MESSAGE)
            return True
        return False

    def _pan_pixels(self, dx: float, dy: float) -> None:
        """Move the view so the point under the cursor at the centre's depth follows the cursor."""
        rot = _rotation(float(self.opts["azimuth"]), float(self.opts["elevation"]))
        right, up = rot.T @ np.array([1.0, 0.0, 0.0]), rot.T @ np.array([0.0, 1.0, 0.0])
        per_px = (2.0 * float(self.opts["distance"]) * math.tan(math.radians(float(self.opts["fov"])) / 2.0)
                  / self.canvas_size()[0])
        c = self.opts["center"]
        move = (-dx * right + dy * up) * per_px
        self.opts["center"] = _vec(c.x() + move[0], c.y() + move[1], c.z() + move[2])
        self.update()

    # -- tools ---------------------------------------------------------------------------------
    @property
    def tool(self) -> str:
        return self._tool

    @tool.setter
    def tool(self, name: str) -> None:
        self.set_tool(name)

    def set_tool(self, name: str) -> None:
        """"navigate" (orbit, pan, zoom), "pen" (draw strokes) or "eraser" (remove whole strokes)."""
        if name not in TOOLS:
            raise ValueError(f"unknown tool {name!r}; use one of {', '.join(TOOLS)}")
        if name == self._tool:
            return
        self._finish_stroke()
        self._erasing = False
        self._tool = name
        self.setCursor({"navigate": Qt.CursorShape.ArrowCursor, "pen": Qt.CursorShape.CrossCursor,
                        "eraser": Qt.CursorShape.PointingHandCursor}[name])
        self.tool_changed.emit(name)

    @property
    def stroke_kind(self) -> str | None:
        return self._stroke_kind

    @stroke_kind.setter
    def stroke_kind(self, kind: str | None) -> None:
        if kind is not None and (not isinstance(kind, str) or not kind):
            raise ValueError("a stroke kind is a non-empty string, or None for a plain line")
        self._stroke_kind = kind

    @staticmethod
    def stroke_color(kind: str | None) -> QColor:
        return QColor(*STROKE_COLORS.get(kind, STROKE_COLORS[None]))

    # -- strokes -------------------------------------------------------------------------------
    def strokes(self) -> list[Stroke]:
        return list(self._strokes)

    def has_strokes(self) -> bool:
        return bool(self._strokes) or self._current is not None

    def undo_stroke(self) -> bool:
        if not self._strokes:
            return False
        self._strokes.pop()
        self._strokes_changed()
        return True

    def clear_strokes(self) -> None:
        self._current = None
        if self._strokes:
            self._strokes.clear()
            self._strokes_changed()
        self.update()

    def sketch(self, mode: str = "cad", prompt: str | None = None) -> Sketch:
        """What is drawn, in the current view, as a sketch for the interpreter."""
        w, h = self.canvas_size()
        return Sketch(self.camera(), w, h, tuple(self._strokes), mode, prompt)

    def load_sketch(self, sketch: Sketch) -> None:
        """Show a sketch: its view and its strokes (scaled to fit when the canvas size differs)."""
        w, h = self.canvas_size()
        k = min(w / sketch.width, h / sketch.height)
        self._current = None
        self._apply_camera(sketch.camera, sketch.height, k)
        strokes = []
        for s in sketch.strokes:
            p = np.array(s.points, float)
            p[:, 0] = w / 2.0 + (p[:, 0] - sketch.width / 2.0) * k
            p[:, 1] = h / 2.0 + (p[:, 1] - sketch.height / 2.0) * k
            strokes.append(Stroke(_frozen(p), s.kind))
        self._strokes = strokes
        self._strokes_changed()

    def _strokes_changed(self) -> None:
        self.update()
        self.strokes_changed.emit()

    def _begin_stroke(self, pos: QPointF, pressure: float) -> None:
        self._current = [(pos.x(), pos.y(), _clip01(pressure), 0.0)]
        self._t0 = time.monotonic()
        self.update()

    def _extend_stroke(self, pos: QPointF, pressure: float) -> None:
        if self._current is None:
            return
        u, v = pos.x(), pos.y()
        last = self._current[-1]
        if u == last[0] and v == last[1]:
            return
        self._current.append((u, v, _clip01(pressure), (time.monotonic() - self._t0) * 1000.0))
        self.update()

    def _finish_stroke(self) -> None:
        pts, self._current = self._current, None
        if pts is None:
            return
        self.update()
        if len(pts) < 2:  # a click without a drag draws nothing
            return
        self._strokes.append(Stroke(_frozen(np.array(pts, float)), self._stroke_kind))
        self._strokes_changed()
        self.stroke_finished.emit()

    def stroke_at(self, u: float, v: float, radius: float = ERASER_RADIUS) -> int | None:
        """Index of the topmost stroke passing within `radius` pixels of (u, v), or None."""
        q = np.array([u, v], float)
        for i in range(len(self._strokes) - 1, -1, -1):
            uv = self._strokes[i].uv
            reach = radius + STROKE_WIDTH / 2.0
            if len(uv) == 1:
                d = float(np.linalg.norm(uv[0] - q))
            else:
                a, b = uv[:-1], uv[1:]
                ab = b - a
                L2 = np.maximum((ab * ab).sum(1), 1e-12)
                tpar = np.clip(((q - a) * ab).sum(1) / L2, 0.0, 1.0)
                d = float(np.min(np.linalg.norm(a + tpar[:, None] * ab - q, axis=1)))
            if d <= reach:
                return i
        return None

    def _erase_at(self, pos: QPointF) -> None:
        """Erase under the cursor and along the way from its last position (fast drags skip pixels)."""
        start = self._erase_from if self._erase_from is not None else pos
        self._erase_from = pos
        steps = max(1, int(math.ceil(math.hypot(pos.x() - start.x(), pos.y() - start.y()) / ERASER_RADIUS)))
        removed = False
        for s in np.linspace(0.0, 1.0, steps + 1):
            u, v = start.x() + s * (pos.x() - start.x()), start.y() + s * (pos.y() - start.y())
            while (i := self.stroke_at(u, v)) is not None:
                del self._strokes[i]
                removed = True
        if removed:
            self._strokes_changed()

    # -- events --------------------------------------------------------------------------------
    def mousePressEvent(self, ev) -> None:
        pos = ev.position()
        left = ev.button() == Qt.MouseButton.LeftButton
        if left and self._tool == "pen":
            self._begin_stroke(pos, 1.0)
        elif left and self._tool == "eraser":
            self._erasing = True
            self._erase_from = None
            self._erase_at(pos)
        elif ev.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton):
            # The gesture is chosen at the press: middle or shift/ctrl + left pans, left orbits.
            pan_mods = Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier
            self._nav_button = ev.button()
            self._nav_pan = not left or bool(ev.modifiers() & pan_mods)
            self._nav_held = self._hold()
            self._last_pos = pos
        ev.accept()

    def mouseMoveEvent(self, ev) -> None:
        pos = ev.position()
        if self._current is not None:
            self._extend_stroke(pos, 1.0)
        elif self._erasing:
            self._erase_at(pos)
        elif self._nav_button is not None and not self._nav_held:
            d = pos - self._last_pos
            self._last_pos = pos
            if self._nav_pan:
                self._pan_pixels(d.x(), d.y())
            else:
                self.orbit(-0.5 * d.x(), 0.5 * d.y())
        ev.accept()

    def mouseReleaseEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton and self._current is not None:
            self._extend_stroke(ev.position(), self._current[-1][2])
            self._finish_stroke()
        elif ev.button() == Qt.MouseButton.LeftButton and self._erasing:
            self._erasing = False
        elif ev.button() == self._nav_button:
            self._nav_button = None
            self._nav_held = False
        ev.accept()

    def tabletEvent(self, ev) -> None:
        """A pen: its pressure goes into the stroke; its eraser end erases whatever tool is chosen."""
        eraser = (self._tool == "eraser"
                  or ev.pointerType() == QPointingDevice.PointerType.Eraser)
        if self._tool == "navigate" and not eraser:
            ev.ignore()  # Qt turns it into mouse events: orbit and pan as with a mouse
            return
        pos, kind = ev.position(), ev.type()
        if kind == QEvent.Type.TabletPress:
            if eraser:
                self._erasing = True
                self._erase_from = None
                self._erase_at(pos)
            else:
                self._begin_stroke(pos, ev.pressure())
        elif kind == QEvent.Type.TabletMove:
            if self._current is not None:
                self._extend_stroke(pos, ev.pressure())
            elif self._erasing:
                self._erase_at(pos)
        elif kind == QEvent.Type.TabletRelease:
            if self._current is not None:
                self._finish_stroke()
            self._erasing = False
        ev.accept()

    def wheelEvent(self, ev) -> None:
        if self._hold():
            ev.accept()
            return
        pixels = ev.pixelDelta()
        if not pixels.isNull():  # trackpads report pixels
            delta, base = pixels.y() or pixels.x(), 0.995
        else:
            angle = ev.angleDelta()
            delta, base = angle.y() or angle.x(), 0.999
        self.opts["distance"] *= base ** delta
        self.update()
        ev.accept()

    def keyPressEvent(self, ev) -> None:
        if ev.key() == Qt.Key.Key_Escape and self._current is not None:
            self._current = None
            self.update()
            ev.accept()
            return
        if ev.key() in self.noRepeatKeys and self.has_strokes():
            self.message.emit(HOLD_MESSAGE)
            ev.accept()
            return
        super().keyPressEvent(ev)

    def resizeEvent(self, ev) -> None:
        """Keep strokes on the model: the horizontal field of view is fixed, so the picture scales
        with the width about the centre."""
        old, new = ev.oldSize(), ev.size()
        if old.width() > 0 and old.height() > 0 and (self._strokes or self._current):
            k = new.width() / old.width()

            def move(p: np.ndarray) -> np.ndarray:
                p = np.array(p, float)
                p[:, 0] = new.width() / 2.0 + (p[:, 0] - old.width() / 2.0) * k
                p[:, 1] = new.height() / 2.0 + (p[:, 1] - old.height() / 2.0) * k
                return p
            self._strokes = [Stroke(_frozen(move(s.points)), s.kind) for s in self._strokes]
            if self._current:
                self._current = [tuple(r) for r in move(np.array(self._current))]
        super().resizeEvent(ev)

    # -- painting ------------------------------------------------------------------------------
    def paintGL(self) -> None:
        # No garbage collection while drawing: GL views sit in reference cycles (items <-> view), and
        # collecting a dropped one runs its GL clean-up, which leaves no context current mid-frame.
        collecting = gc.isenabled()
        gc.disable()
        try:
            GL.glDepthMask(GL.GL_TRUE)  # the preview may have left it off; the clear needs it on
            super().paintGL()
            # Paint into the bound framebuffer, not `self`: while QWidget.grab()/render() runs, a
            # QPainter on the widget is redirected to the grab's pixmap and the GL picture covers it.
            device = QOpenGLPaintDevice(self.deviceWidth(), self.deviceHeight())
            device.setDevicePixelRatio(self.devicePixelRatioF())
            painter = QPainter(device)
            if painter.isActive():
                try:
                    self.paint_overlay(painter)
                finally:
                    painter.end()
        finally:
            if collecting:
                gc.enable()

    def paint_overlay(self, painter: QPainter) -> None:
        """Strokes, the axis triad and the proposal label, in logical pixels over the scene."""
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for s in self._strokes:
            _paint_stroke(painter, s.points, s.kind)
        if self._current:
            _paint_stroke(painter, np.array(self._current, float), self._stroke_kind)
        if self._ghost_strokes:
            painter.setPen(QPen(QColor(120, 200, 255, 200), 2.0, Qt.PenStyle.DashLine, Qt.PenCapStyle.RoundCap,
                                Qt.PenJoinStyle.RoundJoin))
            for p in self._ghost_strokes:
                painter.drawPolyline(QPolygonF([QPointF(u, v) for u, v in p]))
        self._paint_triad(painter)
        if self._ghost_label:
            self._paint_label(painter, self._ghost_label)

    def _paint_triad(self, painter: QPainter) -> None:
        rot = _rotation(float(self.opts["azimuth"]), float(self.opts["elevation"]))
        origin = QPointF(42.0, self.height() - 42.0)
        length = 28.0
        axes = [(rot[:, i], name, color) for i, (name, color) in
                enumerate((("X", QColor(230, 60, 60)), ("Y", QColor(70, 200, 70)), ("Z", QColor(80, 130, 255))))]
        axes.sort(key=lambda a: a[0][2])  # eye-space z: farthest (most negative) first
        font = QFont(painter.font())
        font.setPointSizeF(8.5)
        font.setBold(True)
        painter.setFont(font)
        for d, name, color in axes:
            tip = QPointF(origin.x() + length * d[0], origin.y() - length * d[1])
            painter.setPen(QPen(color, 2.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            painter.drawLine(origin, tip)
            label = QPointF(origin.x() + (length + 9.0) * d[0] - 4.0, origin.y() - (length + 9.0) * d[1] + 4.0)
            painter.drawText(label, name)

    def _paint_label(self, painter: QPainter, text: str) -> None:
        font = QFont(painter.font())
        font.setPointSizeF(10.0)
        font.setBold(False)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        lines = text.splitlines() or [text]
        width = max(metrics.horizontalAdvance(line) for line in lines) + 16
        height = metrics.height() * len(lines) + 10
        box = QRectF(10.0, 10.0, width, height)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(10, 20, 40, 170))
        painter.drawRoundedRect(box, 5.0, 5.0)
        painter.setPen(QColor(150, 200, 255))
        painter.drawText(box.adjusted(8, 5, -8, -5), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, text)


def _paint_stroke(painter: QPainter, pts: np.ndarray, kind: str | None) -> None:
    color = Viewport.stroke_color(kind)
    if len(pts) == 1:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        r = STROKE_WIDTH * _pressure_scale(pts[0, 2]) / 2.0
        painter.drawEllipse(QPointF(pts[0, 0], pts[0, 1]), r, r)
        return
    pressures = pts[:, 2]
    if np.all(pressures == pressures[0]):
        painter.setPen(QPen(color, STROKE_WIDTH * _pressure_scale(pressures[0]), Qt.PenStyle.SolidLine,
                            Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
        painter.drawPolyline(QPolygonF([QPointF(u, v) for u, v in pts[:, :2]]))
        return
    for a, b in zip(pts[:-1], pts[1:]):
        width = STROKE_WIDTH * _pressure_scale((a[2] + b[2]) / 2.0)
        painter.setPen(QPen(color, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawLine(QPointF(a[0], a[1]), QPointF(b[0], b[1]))


def _pressure_scale(p: float) -> float:
    return 0.35 + 0.65 * float(p)


def _clip01(x: float) -> float:
    return min(1.0, max(0.0, float(x)))


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, float)
    a.setflags(write=False)
    return a


def _vec(x: float, y: float, z: float) -> QVector3D:
    return QVector3D(float(x), float(y), float(z))
