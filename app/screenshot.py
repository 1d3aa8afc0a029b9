"""Pictures of the real window: the demo model with an extrusion sketch read by the CAD back end
(its ghost and label), a head from the face template with its strokes, and the start page.

    python -m sketchforge.app.screenshot --out FILE.png [--scene cad|face|start] [--size 1280x800]
                                         [--check FILE.json]

It needs an X display (Xvfb is enough; `packaging/screenshot.sh` starts one) and
QT_QPA_PLATFORM=xcb: the OpenGL view draws nothing on the offscreen platform. With --check it
also writes what a test needs to check the picture: the camera, the canvas size, where the
viewport sits in the image, and the pixels of a few model points, background points and strokes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x800, got {text!r}") from None
    if not (200 <= w <= 8192 and 200 <= h <= 8192):
        raise argparse.ArgumentTypeError(f"size must be between 200x200 and 8192x8192, got {text!r}")
    return w, h


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m sketchforge.app.screenshot", description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, type=Path, help="the PNG to write")
    p.add_argument("--size", default=(1280, 800), type=_parse_size, help="window size, WIDTHxHEIGHT")
    p.add_argument("--check", type=Path, help="also write the picture's facts as JSON here")
    p.add_argument("--scene", choices=("cad", "face", "start"), default="cad",
                   help="cad: the demo part, a sketch and the proposal it is read as; face: a head from the "
                        "face template with its strokes; start: the start page")
    return p.parse_args(argv)


def _wait(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def _wait_jobs(app, window, seconds: float) -> None:
    """Until the window's worker has nothing left to do (or `seconds` pass)."""
    end = time.monotonic() + seconds
    _wait(app, 0.1)
    while time.monotonic() < end and (window.jobs.busy or window._queued):
        _wait(app, 0.05)
    _wait(app, 0.2)


def _make_window(session):
    """The main window when it is there; a bare viewport in a QMainWindow otherwise."""
    from PySide6.QtWidgets import QMainWindow

    from .viewport import Viewport
    try:
        from .window import MainWindow
    except ModuleNotFoundError as exc:
        if exc.name != "sketchforge.app.window":
            raise
        window = QMainWindow()
        window.setWindowTitle("Sketchforge")
        window.viewport = Viewport()
        window.session = session
        window.setCentralWidget(window.viewport)
        return window
    return MainWindow(session)


def _top_face(body) -> tuple[np.ndarray, np.ndarray]:
    """The largest upward planar face of a solid: its centroid and its four extreme corners."""
    faces = [f for f in body.faces if f.planar and f.normal is not None and f.normal[2] > 0.99]
    face = max(faces, key=lambda f: f.area)
    mesh = body.mesh()
    v = mesh.vertices[np.unique(mesh.triangles[mesh.face_ids == face.index])]
    corners = np.stack([v[np.argmax(s * v[:, 0] + t * v[:, 1])] for s, t in ((-1, -1), (1, -1), (1, 1), (-1, 1))])
    return np.asarray(face.centroid, float), corners


def _draw_strokes(app, viewport, corners: np.ndarray, rise: float) -> list:
    """Lines up from the top face's corners, drawn with the pen through real mouse events."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    from sketchforge.modeling.sketch import Stroke

    cam = viewport.camera()
    w, h = viewport.canvas_size()
    viewport.set_tool("pen")
    drawn = []
    for c in corners:
        a, b = cam.project(np.stack([c, c + (0.0, 0.0, rise)]), w, h)
        path = [a + (b - a) * s for s in np.linspace(0.0, 1.0, 12)]
        pts = [QPoint(int(round(u)), int(round(v))) for u, v in path]
        drawn.append(Stroke(np.array([[p.x(), p.y(), 1.0, 0.0] for p in pts], float)))
        QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[0])
        for p in pts[1:]:
            QTest.mouseMove(viewport, p)
        QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pts[-1])
        app.processEvents()
    viewport.set_tool("navigate")
    return drawn


def _grab(window, viewport):
    """The window's picture; the GL framebuffer is pasted in if the grab left the view blank."""
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QImage, QPainter

    image = window.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    dpr = image.devicePixelRatio()
    offset = viewport.mapTo(window, QPoint(0, 0))
    fb = viewport.grabFramebuffer().convertToFormat(QImage.Format.Format_RGB32)
    x0, y0 = int(round(offset.x() * dpr)), int(round(offset.y() * dpr))
    region = image.copy(x0, y0, fb.width(), fb.height())
    colors = {region.pixel(x, y) for x in range(0, region.width(), 16) for y in range(0, region.height(), 16)}
    if len(colors) < 8 and not fb.isNull():
        log.info("the window grab has no GL content; pasting the framebuffer in")
        painter = QPainter(image)
        painter.drawImage(QPoint(x0, y0), fb)
        painter.end()
    return image, (offset.x(), offset.y()), dpr


def _facts(viewport, offset, dpr, image, centroid) -> dict:
    """Camera, canvas, offsets and the pixels where the picture must show model, background, strokes."""
    from .viewport import BACKGROUND

    cam = viewport.camera()
    w, h = viewport.canvas_size()
    bodies = viewport.bodies()
    bb = np.stack([b.bounds() for b in bodies])
    lo, hi = bb[:, 0].min(0), bb[:, 1].max(0)
    model = {"bounds_centre": (lo + hi) / 2.0, "top_face_centroid": centroid}
    # Everything drawn: model vertices, the ghost's and the strokes; background is found outside it.
    def pixels(b) -> np.ndarray:
        return cam.project(b.mesh().vertices if b.mesh() is not None else b.points, w, h)

    ghost = [pixels(b) for b in viewport.ghost_bodies()]
    shown = np.concatenate([pixels(b) for b in bodies] + ghost + [s.uv for s in viewport.strokes()])
    ghost_box = None
    if ghost:
        g = np.concatenate(ghost)
        ghost_box = [float(np.nanmin(g[:, 0])), float(np.nanmin(g[:, 1])),
                     float(np.nanmax(g[:, 0])), float(np.nanmax(g[:, 1]))]
    umin, umax = np.nanmin(shown[:, 0]), np.nanmax(shown[:, 0])
    background = []
    if umin > 40:
        background.append(("left_of_model", [umin / 2.0, h / 2.0]))
    if w - umax > 40:
        background.append(("right_of_model", [(umax + w) / 2.0, h / 2.0]))
    return {
        "camera": cam.to_json(),
        "canvas": {"width": w, "height": h},
        "viewport_offset": [offset[0], offset[1]],
        "device_pixel_ratio": dpr,
        "image_size": [image.width(), image.height()],
        "background_color": list(BACKGROUND),
        "model_points": [{"name": k, "world": [float(x) for x in p],
                          "pixel": [float(x) for x in cam.project(np.asarray(p), w, h)[0]]}
                         for k, p in model.items()],
        "background_points": [{"name": k, "pixel": [float(u), float(v)]} for k, (u, v) in background],
        "strokes": [{"kind": s.kind, "color": list(viewport.stroke_color(s.kind).getRgb()[:3]),
                     "points": [[float(u), float(v)] for u, v in s.uv]} for s in viewport.strokes()],
        "ghost_box": ghost_box,
        "ghost_label": viewport.ghost_label,
        "window": type(viewport.window()).__name__,
    }


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    if os.environ.get("QT_QPA_PLATFORM", "xcb") != "xcb" or not os.environ.get("DISPLAY"):
        print("screenshot: needs an X display and QT_QPA_PLATFORM=xcb (the offscreen platform draws no "
              "OpenGL); run packaging/screenshot.sh, which starts Xvfb", file=sys.stderr)
        return 2

    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from sketchforge.modeling.demo import build_demo
    from sketchforge.modeling.session import Session
    from sketchforge.modeling.sketch import Sketch

    # A fresh settings folder: the picture must not depend on a saved layout or offer a recovery.
    home = tempfile.TemporaryDirectory(prefix="sketchforge-screenshot-", ignore_cleanup_errors=True)
    os.environ["SKETCHFORGE_HOME"] = home.name
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication.instance() or QApplication(["sketchforge-screenshot"])
    session = Session()
    name = build_demo(session)
    window = _make_window(session)
    viewport = window.viewport
    window.resize(*args.size)
    window.show()
    if not QTest.qWaitForWindowExposed(window, 10000):
        print("screenshot: the window never appeared on the display", file=sys.stderr)
        return 1
    _wait(app, 0.3)
    if hasattr(window, "confirm_discard"):  # the pictures replace the demo without asking
        window.confirm_discard = lambda: True
    if getattr(window, "_preparing", None) is not None:  # as a user who looks first: the back end ready
        window._preparing.join(120)
    if args.scene == "start":
        session.new()
        window.show_start_page()
        _wait(app, 0.5)
    elif args.scene == "face":
        window.hide_start_page()
        window.new_from_template("face")
        _wait_jobs(app, window, 120.0)
        _wait(app, 0.8)
    else:
        window.hide_start_page()
        viewport.set_bodies(session.bodies)
        viewport.clear_strokes()
        viewport.set_view("iso")
        _wait(app, 0.2)
        body = session.bodies[name]
        centroid, corners = _top_face(body)
        rise = 0.6 * float(body.bounds()[1][2] - body.bounds()[0][2])
        drawn = _draw_strokes(app, viewport, corners, rise)
        if len(viewport.strokes()) < len(drawn):
            log.warning("the window took the strokes away; putting them back for the picture")
            w, h = viewport.canvas_size()
            viewport.load_sketch(Sketch(viewport.camera(), w, h, tuple(drawn)))
        if hasattr(window, "interpret"):  # the proposal the CAD back end reads, as its ghost and label
            window.interpret()
            _wait_jobs(app, window, 60.0)
        viewport.update()
        _wait(app, 0.8)

    image, offset, dpr = _grab(window, viewport)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(args.out), "PNG"):
        print(f"screenshot: could not write {args.out}", file=sys.stderr)
        return 1
    if args.check and args.scene == "cad":
        facts = _facts(viewport, offset, dpr, image, centroid)
        args.check.parent.mkdir(parents=True, exist_ok=True)
        args.check.write_text(json.dumps(facts, indent=1), encoding="utf-8")
    log.info("wrote %s (%dx%d)", args.out, image.width(), image.height())
    window.close()
    app.processEvents()
    home.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
