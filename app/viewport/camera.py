"""Our `Camera` <-> pyqtgraph's orbit, and the framing and panning done in that orbit.

Camera mapping. pyqtgraph's GLViewWidget orbits `opts['center']` at `opts['distance']`
(azimuth from +X towards +Y, elevation from the XY plane; no roll) and its projection uses
`opts['fov']` as the HORIZONTAL field of view over the widget's logical width
(`GLViewWidget.projectionMatrix`: r = near * tan(fov / 2), t = r * h / w). With the spec's
vertical field of view fov_y = 2 * atan(tan(fov / 2) * h / w), the spec projection of
`camera()` onto a canvas of the widget's logical size lands on the same continuous pixel
coordinates as OpenGL (pixel i covers [i, i + 1]; centres at +0.5).

An orbit here is the plain dict of those five numbers (`center` as an (x, y, z) tuple) and a
sixth, `ortho`: None for the perspective above, or the height in millimetres of the world the
widget shows along its height, projected orthographically (`projection_matrix` then
takes the place of pyqtgraph's frustum). The widget copies it in and out of `opts`.

A map view is an orthographic view looking straight down with north (+Y) up on screen, centred on
a point of the ground (z = 0): the `scene` contract's camera. It shows a rectangle of ground, and
moving it (panning, zooming) moves that rectangle, so strokes drawn on the ground follow it
(`map_motion`).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Callable, Iterable, Mapping

import numpy as np
from PySide6.QtGui import QMatrix4x4

from sketchforge.modeling.bodies import Body
from sketchforge.modeling.camera import Camera

log = logging.getLogger(__name__)

VIEWS = ("front", "back", "top", "right", "left", "iso")
FIT_MARGIN = 0.85           # share of the half-frame that fit_all fills
ORTHO_FOV_Y = 30.0          # the field of view an orthographic view keeps for when it turns to perspective
ORTHO_DEPTH = 10.0          # an orthographic view sees this many times its size (or eye distance) either way
MAP_AZIMUTH, MAP_ELEVATION = -90.0, 90.0    # straight down, north up: the map view's angles

# (azimuth, elevation) in pyqtgraph's convention: the eye sits at
# center + distance * (cos el cos az, cos el sin az, sin el).
VIEW_ANGLES = {
    "front": (-90.0, 0.0),     # eye on -Y, looking along +Y
    "back": (90.0, 0.0),       # looking along -Y
    "right": (0.0, 0.0),       # eye on +X, looking along -X
    "left": (180.0, 0.0),      # looking along +X
    "top": (-90.0, 90.0),      # looking down -Z with +Y up on screen
    "iso": (-45.0, math.degrees(math.atan(1.0 / math.sqrt(2.0)))),  # eye on (+1, -1, +1)
}


def rotation(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """The rotation part of GLViewWidget.viewMatrix (euler mode) in float64: world -> eye axes."""
    a = math.radians(-(azimuth_deg + 90.0))     # rotate(az + 90, 0, 0, -1)
    e = math.radians(elevation_deg - 90.0)      # rotate(el - 90, 1, 0, 0)
    rz = np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(e), -math.sin(e)], [0.0, math.sin(e), math.cos(e)]])
    return rx @ rz


def camera_of(orbit: Mapping[str, Any], width: int, height: int) -> Camera:
    """The orbit as the spec's camera over a canvas `width` x `height` (orthographic when the orbit
    has an `ortho` height)."""
    az, el = float(orbit["azimuth"]), float(orbit["elevation"])
    rot = rotation(az, el)
    center = np.asarray(orbit["center"], float)
    eye = center + rot.T @ np.array([0.0, 0.0, float(orbit["distance"])])
    if abs(math.cos(math.radians(el))) > 1e-3:
        up = (0.0, 0.0, 1.0)
    else:  # looking straight up or down: the screen's up is a horizontal direction
        up = tuple(rot.T @ np.array([0.0, 1.0, 0.0]))
    if orbit.get("ortho"):
        return Camera(tuple(eye), tuple(center), up, "orthographic", height=float(orbit["ortho"]))
    fov_x = math.radians(float(orbit["fov"]))
    fov_y = 2.0 * math.degrees(math.atan(math.tan(fov_x / 2.0) * height / width))
    return Camera(tuple(eye), tuple(center), up, "perspective", fov_y)


def orbit_of(cam: Camera, width: int, height: int, canvas_height: int, k: float = 1.0) -> dict[str, Any]:
    """The orbit that looks through `cam` (drawn over a canvas `canvas_height` high) on a widget
    `width` x `height`, so that an offset d from the canvas centre shows at k * d from the widget's
    centre. Roll about the view axis is dropped; an orthographic camera stays orthographic."""
    _, t, f = cam.basis()
    distance = float(np.linalg.norm(np.subtract(cam.eye, cam.target)))
    ortho = None
    if cam.projection == "perspective":
        s = k * cam.scale(1, canvas_height)            # widget pixels per unit of x / z
    else:
        s = (height / 2.0) / math.tan(math.radians(ORTHO_FOV_Y) / 2.0)
        ortho = cam.height * (height / canvas_height) / k   # the same pixels per mm
    fov_x = 2.0 * math.degrees(math.atan((width / 2.0) / s))
    el = math.degrees(math.asin(max(-1.0, min(1.0, -f[2]))))
    if abs(math.cos(math.radians(el))) > 1e-6:
        az = math.degrees(math.atan2(-f[1], -f[0]))
    elif el > 0:   # looking down: the screen's up is -(cos az, sin az, 0)
        az = math.degrees(math.atan2(-t[1], -t[0]))
    else:          # looking up: the screen's up is (cos az, sin az, 0)
        az = math.degrees(math.atan2(t[1], t[0]))
    return {"center": tuple(float(c) for c in cam.target), "distance": distance, "azimuth": az,
            "elevation": el, "fov": fov_x, "ortho": ortho}


def is_map(orbit: Mapping[str, Any]) -> bool:
    """Whether the orbit is a map view: orthographic, straight down, north up."""
    turn = (float(orbit["azimuth"]) - MAP_AZIMUTH + 180.0) % 360.0 - 180.0
    return bool(orbit.get("ortho")) and abs(float(orbit["elevation"]) - MAP_ELEVATION) < 1e-6 and abs(turn) < 1e-6


def map_orbit(center_xy: tuple[float, float], size: tuple[float, float], width: int, height: int) -> dict[str, Any]:
    """The map view of the ground rectangle `size` (east-west, north-south, mm) centred on
    `center_xy`, all of it on a canvas `width` x `height` (the longer way takes the canvas's aspect)."""
    ortho = max(float(size[1]), float(size[0]) * height / width)
    return {"center": (float(center_xy[0]), float(center_xy[1]), 0.0), "azimuth": MAP_AZIMUTH,
            "elevation": MAP_ELEVATION, "ortho": ortho, "distance": ortho}


def map_motion(old: Camera, new: Camera, width: int, height: int) -> Callable[[np.ndarray], np.ndarray]:
    """Points (rows u, v, ...) of a canvas `width` x `height` moved from map view `old` to map view
    `new`, so that each stays over the same point of the ground."""
    def move(p: np.ndarray) -> np.ndarray:
        p = np.array(p, float)
        ground, _ = old.rays(p[:, :2], width, height)
        p[:, :2] = new.project(ground, width, height)
        return p
    return move


def projection_matrix(orbit: Mapping[str, Any], region: tuple, viewport: tuple) -> QMatrix4x4:
    """The orthographic projection of an `ortho` orbit over `viewport` (x0, y0, w, h), cut to
    `region`, as pyqtgraph's `projectionMatrix` cuts its frustum."""
    x0, y0, w, h = viewport
    t = float(orbit["ortho"]) / 2.0
    r = t * w / h
    left = r * ((region[0] - x0) * (2.0 / w) - 1)
    right = r * ((region[0] + region[2] - x0) * (2.0 / w) - 1)
    bottom = t * ((region[1] - y0) * (2.0 / h) - 1)
    top = t * ((region[1] + region[3] - y0) * (2.0 / h) - 1)
    depth = ORTHO_DEPTH * max(float(orbit["distance"]), float(orbit["ortho"]))
    m = QMatrix4x4()
    m.ortho(left, right, bottom, top, -depth, depth)
    return m


def bounds_of(bodies: Iterable[Body]) -> np.ndarray | None:
    """The (2, 3) box around every body that can say its bounds; None when none can."""
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
    stacked = np.stack(boxes)
    return np.stack([stacked[:, 0].min(0), stacked[:, 1].max(0)])


def framing(box: np.ndarray | None, orbit: Mapping[str, Any], width: int, height: int) -> dict[str, Any]:
    """The centre and distance (and, for an orthographic orbit, the height shown) that frame `box`
    (a default 100 mm cube when None) in the orbit's direction of view and field of view."""
    bb = np.array([[-50.0, -50.0, -50.0], [50.0, 50.0, 50.0]]) if box is None else np.asarray(box, float)
    center = (bb[0] + bb[1]) / 2.0
    tan_x = math.tan(math.radians(float(orbit["fov"])) / 2.0) * FIT_MARGIN
    tan_y = tan_x * height / width
    # The eye backs off along the view axis until every corner of the box is inside the frame.
    rot = rotation(float(orbit["azimuth"]), float(orbit["elevation"]))
    corners = np.array([[bb[i][0], bb[j][1], bb[k][2]] for i in (0, 1) for j in (0, 1) for k in (0, 1)])
    x, y, z = ((corners - center) @ rot.T).T  # eye axes: x right, y up, -z forward
    need = np.maximum(np.abs(x) / tan_x, np.abs(y) / tan_y) + z
    size = max(float(np.linalg.norm(bb[1] - bb[0])), 1e-3)
    frame = {"center": tuple(float(c) for c in center),
             "distance": max(float(need.max()), 0.6 * size)}  # the eye stays outside
    if orbit.get("ortho"):
        half = max(float(np.abs(x).max()) * height / width, float(np.abs(y).max()), 1e-3)
        frame["ortho"] = 2.0 * half / FIT_MARGIN
    return frame


def pan_offset(orbit: Mapping[str, Any], width: int, height: int, dx: float, dy: float) -> np.ndarray:
    """How far the centre moves so the point under the cursor at the centre's depth follows a drag
    of (dx, dy) pixels."""
    rot = rotation(float(orbit["azimuth"]), float(orbit["elevation"]))
    right, up = rot.T @ np.array([1.0, 0.0, 0.0]), rot.T @ np.array([0.0, 1.0, 0.0])
    if orbit.get("ortho"):
        per_px = float(orbit["ortho"]) / height
    else:
        per_px = 2.0 * float(orbit["distance"]) * math.tan(math.radians(float(orbit["fov"])) / 2.0) / width
    return (-dx * right + dy * up) * per_px
