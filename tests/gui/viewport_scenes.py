"""Pictures of the real viewport for the framebuffer tests: run under an X server (Xvfb + Mesa).

    python tests/gui/viewport_scenes.py OUT_DIR

Draws a few scenes in a `Viewport` over a `SketchState`, driven as the console and the user would
(strokes added to the state from code, a mouse orbit, `return_to`, a proposal's change), saves
each framebuffer as OUT_DIR/<scene>.png and writes OUT_DIR/scenes.json with where things should
show. The test (tests/gui/test_viewport.py) reads the pictures and judges them.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

SIZE = (400, 300)
RIDGE = (255, 0, 255)
PLAIN = (255, 140, 26)


@dataclass(frozen=True)
class Kind:
    """A declared stroke kind, as a mode's tool bar has it."""

    name: str | None
    color: tuple[int, int, int]


def box(lo, hi):
    """A closed box mesh between corners `lo` and `hi`."""
    from sketchforge.modeling.bodies import MeshBody
    x0, y0, z0 = lo
    x1, y1, z1 = hi
    v = np.array([[x0, y0, z0], [x1, y0, z0], [x1, y1, z0], [x0, y1, z0],
                  [x0, y0, z1], [x1, y0, z1], [x1, y1, z1], [x0, y1, z1]], float)
    t = np.array([[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4],
                  [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]])
    return MeshBody(v, t)


def settle(app, seconds=0.3):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def main(out: Path) -> int:
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication.instance() or QApplication(["viewport-scenes"])
    from sketchforge.app.viewport import Viewport
    from sketchforge.modeling.sketchstate import SketchState

    state = SketchState()
    view = Viewport(sketch=state)
    view.resize(*SIZE)
    view.show()
    if not QTest.qWaitForWindowExposed(view, 10000):
        print("the viewport never appeared on the display", file=sys.stderr)
        return 1
    settle(app)
    facts: dict = {"size": list(SIZE), "ridge": list(RIDGE), "plain": list(PLAIN)}

    def shoot(name: str) -> None:
        view.update()
        settle(app)
        view.grabFramebuffer().save(str(out / f"{name}.png"), "PNG")

    # Strokes put in the state from code (as the console does), in declared and undeclared kinds.
    view.set_stroke_kinds([Kind(None, PLAIN), Kind("ridge", RIDGE)])
    state.add_stroke([[60, 100], [340, 100]], "ridge")
    state.add_stroke([[60, 200], [340, 200]], "lava")
    facts["code_strokes"] = {"ridge_row": 100, "lava_row": 200, "cols": [60, 340]}
    shoot("code_strokes")

    # Orbiting with park_on_orbit parks the strokes; return_to brings them back with the view.
    view.park_on_orbit = True
    QTest.mousePress(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(200, 150))
    for x in range(205, 300, 5):
        QTest.mouseMove(view, QPoint(x, 160))
    QTest.mouseRelease(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(295, 160))
    facts["parked"] = {"strokes": len(state.strokes), "parked_views": len(state.parked)}
    shoot("parked")
    facts["returned"] = {"ok": view.return_to(), "strokes": len(state.strokes)}
    shoot("returned")
    view.clear_strokes()

    # A proposal's change: a boss added on top of a block, a pocket taken out of it.
    view.set_bodies({"block": box((-60, -40, 0), (60, 40, 30))})
    view.set_view("top")
    added, removed = box((-50, -20, 30), (-10, 20, 45)), box((10, -20, 10), (50, 20, 30))
    view.set_ghost({"block": added}, "boss and pocket", removed=[removed], confidence=0.15)
    w, h = view.canvas_size()
    cam = view.camera()
    facts["ghost"] = {"added_px": cam.project(np.array([-30.0, 0.0, 45.0]), w, h)[0].tolist(),
                      "removed_px": cam.project(np.array([30.0, 0.0, 30.0]), w, h)[0].tolist(),
                      "model_px": cam.project(np.array([0.0, 30.0, 30.0]), w, h)[0].tolist()}
    shoot("ghost_unsure")
    view.set_ghost({"block": added}, "boss and pocket", removed=[removed], confidence=0.9)
    shoot("ghost_sure")
    (out / "scenes.json").write_text(json.dumps(facts, indent=1), encoding="utf-8")
    view.close()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
