"""The 3D view of the document, which is also the sketch canvas.

One module per idea:
    widget.py   the `Viewport` widget: bodies, the proposal's change, the sketch state, the tools
    display.py  how each kind of body is shown (a table keyed by the body's kind)
    camera.py   our `Camera` <-> pyqtgraph's orbit (the mapping is explained there), framing, panning,
                the orthographic projection and the map view
    input.py    stroke input: mouse and tablet events, the pen, the eraser, camera gestures
    walk.py     walking and flying over a scene: the eye above the ground, WASD and the mouse
    strokes.py  painting strokes: colors by kind, width by pressure, areas, hit tests
    overlay.py  the axis triad, the proposal's label with its confidence, the legend of part colors
    parts.py    colors by part: the palette, one color per part name, the legend's rows
    shader.py   the head-light shader and the GL state of each item
"""

from __future__ import annotations

from .camera import FIT_MARGIN, ORTHO_FOV_Y, VIEW_ANGLES, VIEWS
from .display import (
                      ADDED,
                      ADDED_COLOR,
                      ADDED_EDGE_COLOR,
                      DISPLAY,
                      MODEL,
                      REMOVED,
                      REMOVED_COLOR,
                      REMOVED_EDGE_COLOR,
                      Look,
                      register_display,
)
from .input import TOOLS
from .overlay import WEAK
from .strokes import AREA_WIDTH, DEFAULT_STROKE_COLORS, ERASER_RADIUS, FALLBACK_COLOR, STROKE_WIDTH
from .walk import EYE_HEIGHT
from .widget import BACKGROUND, HOLD_MESSAGE, PARK_MESSAGE, Viewport

__all__ = [
    "ADDED", "ADDED_COLOR", "ADDED_EDGE_COLOR", "AREA_WIDTH", "BACKGROUND", "DEFAULT_STROKE_COLORS", "DISPLAY",
    "ERASER_RADIUS", "EYE_HEIGHT", "FALLBACK_COLOR", "FIT_MARGIN", "HOLD_MESSAGE", "Look", "MODEL", "ORTHO_FOV_Y",
    "PARK_MESSAGE", "REMOVED", "REMOVED_COLOR", "REMOVED_EDGE_COLOR", "STROKE_WIDTH", "TOOLS", "VIEWS", "VIEW_ANGLES",
    "Viewport", "WEAK", "register_display",
]
