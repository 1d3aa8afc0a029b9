"""Walking and flying over a scene: the eye held at eye height above the ground, WASD and the mouse.

`Walk` is the walker: an eye, a heading and a pitch over a ground (a function from points (N, 2)
mm to heights (N,) mm, such as `SceneBody.height_at`), moved by the keys held over a time step.
Walking, the eye stays `EYE_HEIGHT` above the ground under it and the walker cannot pass through
the scene's objects (`obstacles`: circles x, y, radius mm, such as `SceneBody.obstacles_m` in mm;
it slides along them); flying, it keeps its height (Space and C move it up and down), never sinks
below eye height and passes over everything.

`Walking` is mixed into the viewport before `PointerInput`. While a walk is on it takes the keys
(also those that are shortcuts elsewhere in the window) and the mouse, looks through the walker's
eye at each tick of a timer, and gives the view back as it was when the walk ends. The sketch
state is left alone the whole time: its view stays the one the strokes were drawn in, and the
strokes are not drawn over the walk. It asks of the widget: `_walk`, `_walk_from`, `_walk_keys`,
`_walk_timer`, `_look_from`, `_pen`, `_orbit()`, `_set_orbit(orbit)`, `canvas_size()`,
`_canvas_resized(old, new)` and the `walk_changed` and `message` signals.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QFocusEvent, QKeyEvent, QMouseEvent, QTabletEvent, QWheelEvent

EYE_HEIGHT = 1700.0         # mm of the eye above the ground while walking
WALK_SPEED = 4000.0         # mm per second
FLY_SPEED = 15000.0         # mm per second
RUN_FACTOR = 3.0            # Shift held
TURN_DEG_PER_PX = 0.25      # how far a drag of one pixel turns the view
MAX_PITCH = 85.0            # degrees up or down
LOOK_AHEAD = 100000.0       # mm from the eye to the orbit's centre: pyqtgraph clips at 0.1 m and 100 km
WALK_FOV = 75.0             # horizontal field of view, degrees
TICK_MS = 16
MAX_STEP_S = 0.1            # a late tick moves no further than this much time
BODY_RADIUS = 300.0         # mm: how near the walker's eye comes to an obstacle's edge

Ground = Callable[[np.ndarray], np.ndarray]
K = Qt.Key
MOVES = {K.Key_W: "forward", K.Key_Up: "forward", K.Key_S: "back", K.Key_Down: "back", K.Key_A: "left",
         K.Key_Left: "left", K.Key_D: "right", K.Key_Right: "right", K.Key_Space: "up", K.Key_PageUp: "up",
         K.Key_C: "down", K.Key_PageDown: "down"}
WALK_KEYS = frozenset(MOVES) | {K.Key_F, K.Key_Escape, K.Key_Shift}
_CHORDS = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier
WALKING_MESSAGE = "Walking: W A S D move, drag to look around, Shift runs, F flies, Esc leaves"
FLYING_MESSAGE = "Flying: Space rises, C sinks, W A S D move, Shift speeds up, F walks again, Esc leaves"


@dataclass
class Walk:
    """A walker over `ground`: its eye (mm), heading `yaw` (degrees from east towards north) and
    `pitch` (degrees up), kept inside `limits` (west, south, east, north mm) when given."""

    ground: Ground
    eye: np.ndarray
    yaw: float = 90.0
    pitch: float = 0.0
    flying: bool = False
    limits: tuple[float, float, float, float] | None = None
    obstacles: np.ndarray | None = None  # (K, 3) x, y, radius mm that walking does not pass through
    _floor: float = field(default=0.0, repr=False)

    @classmethod
    def start(cls, ground: Ground, xy: tuple[float, float], limits: tuple[float, float, float, float] | None = None,
              yaw: float = 90.0, obstacles: np.ndarray | None = None) -> Walk:
        """A walker standing at `xy` (mm), its eye at eye height above the ground there, facing `yaw`
        (outside every obstacle: moved to the nearest free ground when `xy` is inside one)."""
        walk = cls(ground, np.array([float(xy[0]), float(xy[1]), 0.0]), float(yaw), 0.0, False, limits,
                   None if obstacles is None else np.asarray(obstacles, float).reshape(-1, 3))
        walk.settle(walking=True)
        return walk

    def _clear(self) -> None:
        """Push the eye out of the obstacles it stands in, to their edge (a few rounds where they overlap)."""
        if self.obstacles is None or not len(self.obstacles):
            return
        for _ in range(4):
            d = self.eye[:2] - self.obstacles[:, :2]
            dist = np.hypot(d[:, 0], d[:, 1])
            reach = self.obstacles[:, 2] + BODY_RADIUS
            inside = np.nonzero(dist < reach)[0]
            if not len(inside):
                return
            k = inside[np.argmax(reach[inside] - dist[inside])]
            away = d[k] / dist[k] if dist[k] > 1e-9 else np.array([1.0, 0.0])
            self.eye[:2] = self.obstacles[k, :2] + away * (reach[k] + 1e-3)

    def floor(self) -> float:
        """The ground's height under the eye (the last good one where the ground gives none)."""
        z = float(np.asarray(self.ground(self.eye[None, :2]), float).reshape(-1)[0])
        if math.isfinite(z):
            self._floor = z
        return self._floor

    def settle(self, walking: bool | None = None) -> None:
        """Keep the eye inside the limits and at eye height above the ground, out of the obstacles
        (walking), or at least that high (flying)."""
        if self.limits is not None:
            w, s, e, n = self.limits
            self.eye[0] = min(max(self.eye[0], w), e)
            self.eye[1] = min(max(self.eye[1], s), n)
        walk = not self.flying if walking is None else walking
        if walk:
            self._clear()
        low = self.floor() + EYE_HEIGHT
        self.eye[2] = low if walk else max(float(self.eye[2]), low)

    def heading(self) -> np.ndarray:
        """The horizontal direction the walker faces (unit)."""
        a = math.radians(self.yaw)
        return np.array([math.cos(a), math.sin(a), 0.0])

    def forward(self) -> np.ndarray:
        """The direction of view (unit)."""
        a, p = math.radians(self.yaw), math.radians(self.pitch)
        return np.array([math.cos(p) * math.cos(a), math.cos(p) * math.sin(a), math.sin(p)])

    def step(self, moves: set[str], seconds: float, running: bool = False) -> None:
        """Move for `seconds` with the `moves` held ("forward", "back", "left", "right", and "up",
        "down" when flying)."""
        ahead = self.forward() if self.flying else self.heading()
        h = self.heading()
        right = np.array([h[1], -h[0], 0.0])
        d = ahead * (("forward" in moves) - ("back" in moves)) + right * (("right" in moves) - ("left" in moves))
        if self.flying:
            d = d + np.array([0.0, 0.0, 1.0]) * (("up" in moves) - ("down" in moves))
        length = float(np.linalg.norm(d))
        if length > 0.0:
            speed = (FLY_SPEED if self.flying else WALK_SPEED) * (RUN_FACTOR if running else 1.0)
            self.eye = self.eye + d / length * speed * float(seconds)
        self.settle()

    def turn(self, dx: float, dy: float) -> None:
        """Turn the view by a drag of (dx, dy) pixels: right turns right, down looks down."""
        self.yaw = (self.yaw - TURN_DEG_PER_PX * dx) % 360.0
        self.pitch = min(MAX_PITCH, max(-MAX_PITCH, self.pitch - TURN_DEG_PER_PX * dy))

    def set_flying(self, on: bool) -> None:
        """Fly (the height is free) or walk (the eye drops back to eye height above the ground)."""
        self.flying = bool(on)
        self.settle()

    def orbit(self) -> dict[str, Any]:
        """The perspective orbit that looks through the walker's eye (see `camera.py`)."""
        centre = self.eye + LOOK_AHEAD * self.forward()
        return {"center": tuple(float(c) for c in centre), "distance": LOOK_AHEAD, "azimuth": self.yaw + 180.0,
                "elevation": -self.pitch, "fov": WALK_FOV, "ortho": None}


class Walking:
    """The walk's keys, mouse and timer in the viewport (see the module's doc for what it needs)."""

    @property
    def walking(self) -> bool:
        return self._walk is not None

    @property
    def flying(self) -> bool:
        return self._walk is not None and self._walk.flying

    @property
    def walker(self) -> Walk | None:
        """The walk under way, None when there is none."""
        return self._walk

    def start_walk(self, ground: Ground, xy: tuple[float, float],
                   limits: tuple[float, float, float, float] | None = None,
                   obstacles: np.ndarray | None = None) -> None:
        """Stand at `xy` (mm) on `ground`, the eye at eye height, facing north, walking around the
        `obstacles` (x, y, radius mm); the view as it is now comes back when the walk ends."""
        if self._walk is None:
            self._pen.cancel()
            self._walk_from = (self._orbit(), self.canvas_size())
        self._walk = Walk.start(ground, xy, limits, obstacles=obstacles)
        self._walk_keys.clear()
        self._look_from = None
        self._set_orbit(self._walk.orbit())
        self.setFocus()
        self.walk_changed.emit(True)
        self.message.emit(WALKING_MESSAGE)

    def stop_walk(self) -> bool:
        """End the walk and look through the view it began in; False when no walk was on."""
        if self._walk is None:
            return False
        orbit, size = self._walk_from
        self._drop_walk()
        self._set_orbit(orbit)
        if size != self.canvas_size():
            self._canvas_resized(size, self.canvas_size())
        self.walk_changed.emit(False)
        return True

    def set_flying(self, on: bool) -> None:
        if self._walk is None:
            return
        self._walk.set_flying(on)
        self._set_orbit(self._walk.orbit())
        self.message.emit(FLYING_MESSAGE if on else WALKING_MESSAGE)

    def _drop_walk(self) -> None:
        """Forget the walk without turning the view back (a view from outside takes its place)."""
        if self._walk is None:
            return
        self._walk = None
        self._walk_from = None
        self._walk_keys.clear()
        self._walk_timer.stop()
        self._look_from = None

    def _walk_tick(self) -> None:
        moves = {MOVES[k] for k in self._walk_keys if k in MOVES}
        if self._walk is None or not moves:
            self._walk_timer.stop()
            return
        now = time.monotonic()
        seconds, self._walk_clock = min(now - self._walk_clock, MAX_STEP_S), now
        self._walk.step(moves, seconds, K.Key_Shift in self._walk_keys)
        self._set_orbit(self._walk.orbit())

    # -- events ----------------------------------------------------------------------------------
    def event(self, ev: QEvent) -> bool:
        # While walking, the walk's keys are the walk's, not the window's shortcuts (W, A, E, F, Space).
        if self._walk is not None and ev.type() == QEvent.Type.ShortcutOverride and ev.key() in WALK_KEYS \
                and not ev.modifiers() & _CHORDS:
            ev.accept()
            return True
        return super().event(ev)

    def keyPressEvent(self, ev: QKeyEvent) -> None:
        if self._walk is None:
            super().keyPressEvent(ev)
            return
        key = ev.key()
        if key == K.Key_Escape:
            self.stop_walk()
        elif key == K.Key_F and not ev.isAutoRepeat():
            self.set_flying(not self._walk.flying)
        elif key in MOVES or key == K.Key_Shift:
            if not ev.isAutoRepeat():
                self._walk_keys.add(key)
            if key in MOVES and not self._walk_timer.isActive():
                self._walk_clock = time.monotonic()
                self._walk_timer.start()
        else:
            super().keyPressEvent(ev)
            return
        ev.accept()

    def keyReleaseEvent(self, ev: QKeyEvent) -> None:
        if self._walk is None:
            super().keyReleaseEvent(ev)
            return
        if not ev.isAutoRepeat() and ev.key() in self._walk_keys:
            if self._walk_timer.isActive():
                self._walk_tick()   # the time since the last tick still counts
            self._walk_keys.discard(ev.key())
        ev.accept()

    def focusOutEvent(self, ev: QFocusEvent) -> None:
        self._walk_keys.clear()
        super().focusOutEvent(ev)

    def mousePressEvent(self, ev: QMouseEvent) -> None:
        if self._walk is None:
            super().mousePressEvent(ev)
            return
        self._look_from = ev.position()
        ev.accept()

    def mouseMoveEvent(self, ev: QMouseEvent) -> None:
        if self._walk is None:
            super().mouseMoveEvent(ev)
            return
        if self._look_from is not None:
            d: QPointF = ev.position() - self._look_from
            self._look_from = ev.position()
            self._walk.turn(d.x(), d.y())
            self._set_orbit(self._walk.orbit())
        ev.accept()

    def mouseReleaseEvent(self, ev: QMouseEvent) -> None:
        if self._walk is None:
            super().mouseReleaseEvent(ev)
            return
        self._look_from = None
        ev.accept()

    def wheelEvent(self, ev: QWheelEvent) -> None:
        if self._walk is None:
            super().wheelEvent(ev)
            return
        ev.accept()

    def tabletEvent(self, ev: QTabletEvent) -> None:
        if self._walk is None:
            super().tabletEvent(ev)
            return
        ev.ignore()  # Qt turns it into mouse events: a pen drag looks around
