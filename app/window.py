"""The main window: the viewport you sketch on, the history, the console, files and proposals.

The window is thin: every change goes through the `Session` (directly for cheap steps such as
undo, through the `JobRunner` for anything that may take long) and the widgets repaint when the
session's events arrive through the `SessionBridge`.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (QApplication, QComboBox, QFileDialog, QLabel, QMainWindow, QMessageBox,
                               QProgressBar, QPushButton, QToolBar)

from sketchforge.modeling.archive import SUFFIX
from sketchforge.modeling.session import NoBackendError, Proposal, Session
from sketchforge.modeling.sketch import Sketch, SketchError

from . import paths
from .bridge import SessionBridge
from .workers import JobRunner

log = logging.getLogger(__name__)

STROKE_KINDS = [("Plain line", None), ("Ridge", "ridge"), ("Valley", "valley"), ("Water", "water"),
                ("Road", "road"), ("Forest", "forest"), ("Building", "building"), ("Mountain", "mountain")]
MAX_RECENT = 8
LIVE_DELAY_MS = 400


class MainWindow(QMainWindow):
    """Sketchforge's window over one `Session` (made here when not given)."""

    def __init__(self, session: Session | None = None, *, console: bool = True, recover: bool = True,
                 autosave_ms: int = 60000) -> None:
        super().__init__()
        self.session = session if session is not None else Session()
        self.bridge = SessionBridge(self.session, self)
        self.jobs = JobRunner(self)
        self.proposals: list[Proposal] = []
        self.previews: list[Any] = []  # ghost bodies per proposal (None when it did not apply)
        self.proposal_index = 0
        self._last_interpretation = ""  # " · 84 ms (view 12, network 11, fitting 61)" after an interpretation
        self._interpreting_sketch: Sketch | None = None
        self._taking_suggestion = False

        from .viewport import Viewport
        self.viewport = Viewport(self)
        self.setCentralWidget(self.viewport)
        self.viewport.installEventFilter(self)
        self.viewport.message.connect(self.show_message)
        self.viewport.stroke_finished.connect(self._stroke_finished)
        self.viewport.strokes_changed.connect(self._strokes_changed)

        self._live_timer = QTimer(self, singleShot=True, interval=LIVE_DELAY_MS)
        self._live_timer.timeout.connect(lambda: self.interpret(live=True))

        self._make_status_bar()
        self._make_actions()
        self._make_menus()
        self._make_toolbars()

        from .history import HistoryPanel
        self.history_panel = HistoryPanel(self.session, self.bridge, self.jobs, self)
        from PySide6.QtWidgets import QDockWidget
        self.history_dock = QDockWidget("History", self)
        self.history_dock.setObjectName("history_dock")
        self.history_dock.setWidget(self.history_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.history_dock)
        self.menu_view.addAction(self.history_dock.toggleViewAction())
        from .suggestions import SuggestionPanel
        self.suggestion_panel = SuggestionPanel(self)
        self.suggestion_panel.highlighted.connect(self._suggestion_highlighted)
        self.suggestion_panel.chosen.connect(self.take_suggestion)
        self.suggestion_dock = QDockWidget("Part suggestions", self)
        self.suggestion_dock.setObjectName("suggestion_dock")
        self.suggestion_dock.setWidget(self.suggestion_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.suggestion_dock)
        self.tabifyDockWidget(self.history_dock, self.suggestion_dock)
        self.suggestion_dock.hide()  # shown with the first suggestions
        self.menu_view.addAction(self.suggestion_dock.toggleViewAction())

        self.console = None
        if console:
            from .console import ConsoleDock
            self.console = ConsoleDock(self.session, self)
            self.console.setObjectName("console_dock")
            self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.console)
            self.menu_view.addAction(self.console.toggleViewAction())

        from .recovery import Recovery
        self.recovery = Recovery(self.session, self.bridge, self, interval_ms=autosave_ms)

        self.jobs.started.connect(self._job_started)
        self.jobs.progressed.connect(self._job_progress)
        self.jobs.ended.connect(self._job_ended)
        self.jobs.failed.connect(lambda title, msg: self.show_message(f"{title} failed: {msg}", error=True))
        self.bridge.changed.connect(self._document_changed)

        self._preparations: list[threading.Thread] = []  # started by prepare_backend, not yet joined
        self._restore_settings()
        self._refresh_modes()
        self._document_changed("")
        self.prepare_backend()
        if recover:
            QTimer.singleShot(0, self._offer_recovery)

    # -- building the window ----------------------------------------------------------------------
    def _make_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_label = QLabel("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(200)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.jobs.cancel)
        bar.addWidget(self.status_label, 1)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_button)

    def _action(self, text: str, slot, shortcut=None, tip: str = "", checkable: bool = False) -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        a.setCheckable(checkable)
        a.triggered.connect(slot)
        self.addAction(a)
        return a

    def _make_actions(self) -> None:
        A = self._action
        self.act_new = A("&New", self.new_document, QKeySequence.StandardKey.New)
        self.act_open = A("&Open…", self.open_dialog, QKeySequence.StandardKey.Open)
        self.act_save = A("&Save", self.save, QKeySequence.StandardKey.Save)
        self.act_save_as = A("Save &As…", self.save_as, QKeySequence.StandardKey.SaveAs)
        self.act_import = A("&Import…", self.import_dialog, "Ctrl+I", "Import STEP, OBJ, PLY or glTF as a body")
        self.act_export = A("&Export…", self.export_dialog, "Ctrl+E", "Export the model")
        self.act_open_sketch = A("Open S&ketch…", self.open_sketch_dialog, tip="Load a *.sketch.json")
        self.act_save_sketch = A("Save Sk&etch…", self.save_sketch_dialog, tip="Save the strokes as *.sketch.json")
        self.act_quit = A("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_undo = A("&Undo", self.undo, QKeySequence.StandardKey.Undo)
        self.act_redo = A("&Redo", self.redo, QKeySequence.StandardKey.Redo)
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.act_interpret = A("&Interpret sketch", lambda: self.interpret(), "Space",
                               "Ask the mode's back end what the strokes mean")
        self.act_live = A("&Live interpretation", self._live_toggled, tip="Interpret while drawing",
                          checkable=True)
        self.act_next = A("&Next proposal\tTab", self.next_proposal)
        self.act_accept = A("&Accept proposal\tEnter", self.accept_proposal)
        self.act_dismiss = A("&Dismiss proposal\tEsc", self.dismiss_proposals)
        self.act_suggest = A("Suggest &part strokes", lambda: self.suggest_parts(), "G",
                             "Face mode: part strokes (eyes, brows, nose, mouth, ears) like the ones just drawn")
        self.act_undo_stroke = A("Undo last &stroke", lambda: self.viewport.undo_stroke(), "Backspace")
        self.act_clear = A("&Clear strokes", self.clear_strokes, "Ctrl+Delete")
        self.act_fit = A("&Fit all", lambda: self.viewport.fit_all(), "F")
        self.tool_actions = {}
        for name, key in (("navigate", "N"), ("pen", "P"), ("eraser", "E")):
            act = A(name.capitalize(), lambda checked=False, n=name: self.set_tool(n), key,
                    f"{name.capitalize()} tool", checkable=True)
            self.tool_actions[name] = act
        self.tool_actions["navigate"].setChecked(True)
        self.view_actions = {v: A(v.capitalize(), lambda checked=False, v=v: self.viewport.set_view(v), k)
                             for v, k in (("front", "1"), ("top", "7"), ("right", "3"), ("iso", "0"))}

    def _make_menus(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        for a in (self.act_new, self.act_open):
            f.addAction(a)
        self.menu_recent = f.addMenu("Open &Recent")
        f.addSeparator()
        for a in (self.act_save, self.act_save_as):
            f.addAction(a)
        f.addSeparator()
        for a in (self.act_import, self.act_export, self.act_open_sketch, self.act_save_sketch):
            f.addAction(a)
        f.addSeparator()
        f.addAction(self.act_quit)
        e = mb.addMenu("&Edit")
        e.addAction(self.act_undo)
        e.addAction(self.act_redo)
        s = mb.addMenu("&Sketch")
        for a in (*self.tool_actions.values(), None, self.act_undo_stroke, self.act_clear, None,
                  self.act_interpret, self.act_live, self.act_next, self.act_accept, self.act_dismiss, None,
                  self.act_suggest):
            s.addSeparator() if a is None else s.addAction(a)
        self.menu_network = s.addMenu("CAD &network")
        self.network_group = QActionGroup(self)
        self.network_actions: dict[str, QAction] = {}
        self.act_face_mirror = QAction("Mirror &faces left-right", self, checkable=True)
        self.act_face_mirror.setToolTip("Face mode: make the head symmetric (switch off for asymmetric characters)")
        self.act_face_mirror.setChecked(str(paths.settings().value("face_mirror", "true")).lower() == "true")
        self.act_face_mirror.toggled.connect(self.set_face_mirror)
        s.addAction(self.act_face_mirror)
        self.menu_view = mb.addMenu("&View")
        for a in (*self.view_actions.values(), self.act_fit):
            self.menu_view.addAction(a)
        self.menu_view.addSeparator()

    def _make_toolbars(self) -> None:
        tb = QToolBar("Sketch", self)
        tb.setObjectName("sketch_toolbar")
        self.addToolBar(tb)
        for a in self.tool_actions.values():
            tb.addAction(a)
        self.kind_box = QComboBox()
        for label, kind in STROKE_KINDS:
            self.kind_box.addItem(label, kind)
        self.kind_box.setToolTip("Stroke role")
        self.kind_box.currentIndexChanged.connect(self._kind_changed)
        tb.addWidget(self.kind_box)
        tb.addAction(self.act_undo_stroke)
        tb.addAction(self.act_clear)
        tb.addSeparator()
        tb.addWidget(QLabel(" Mode "))
        self.mode_box = QComboBox()
        self.mode_box.setToolTip("Which back end interprets the sketch")
        self.mode_box.currentIndexChanged.connect(self._mode_changed)
        tb.addWidget(self.mode_box)
        tb.addAction(self.act_interpret)
        tb.addAction(self.act_live)
        vb = QToolBar("View", self)
        vb.setObjectName("view_toolbar")
        self.addToolBar(vb)
        for a in (*self.view_actions.values(), self.act_fit):
            vb.addAction(a)

    # -- the CAD network -----------------------------------------------------------------------
    def _cad_backend(self):
        try:
            backend = self.session.backend("cad")
        except NoBackendError:
            return None
        return backend if hasattr(backend, "use") and hasattr(backend, "networks") else None

    def set_face_mirror(self, on: bool) -> bool:
        """Face mode: mirror heads left-right (kept as a preference)."""
        paths.settings().setValue("face_mirror", bool(on))
        try:
            backend = self.session.backend("face")
        except NoBackendError:
            return False
        if hasattr(backend, "symmetric"):
            backend.symmetric = bool(on)
        if self.act_face_mirror.isChecked() != bool(on):
            self.act_face_mirror.setChecked(bool(on))
        return True

    def _fill_network_menu(self) -> None:
        """One checkable entry per network the `cad` back end offers; disabled when it offers none."""
        for a in self.network_actions.values():
            self.network_group.removeAction(a)
        self.menu_network.clear()
        self.network_actions = {}
        backend = self._cad_backend()
        for name, text in (backend.networks if backend is not None else {}).items():
            a = QAction(text[:1].upper() + text[1:], self, checkable=True)
            a.triggered.connect(lambda checked=False, n=name: self.set_cad_network(n))
            a.setChecked(name == backend.network)
            self.network_group.addAction(a)
            self.menu_network.addAction(a)
            self.network_actions[name] = a
        self.menu_network.setEnabled(bool(self.network_actions))

    def set_cad_network(self, name: str) -> bool:
        """Read CAD sketches with the back end's network `name` from now on (kept as a preference)."""
        backend = self._cad_backend()
        if backend is None:
            return False
        try:
            backend.use(name)
        except ValueError as exc:
            self.show_message(str(exc), error=True)
            return False
        paths.settings().setValue("cad_network", name)
        if name in self.network_actions:
            self.network_actions[name].setChecked(True)
        self.show_message(f"CAD sketches are now read by the {backend.networks[name]}")
        self.prepare_backend("cad")
        return True

    def prepare_backend(self, mode: str | None = None) -> threading.Thread | None:
        """Get the back end of `mode` (default the current one) ready in a background thread: its
        `prepare()` loads the networks and pays a first reading's one-off costs, so the user's first
        sketch is read as quickly as the rest. The window does not wait for it; a sketch read
        meanwhile is read as usual, and a failure (missing weights) is left for that reading to
        report. Returns the thread (None when the back end has nothing to prepare)."""
        mode = mode or self.mode
        try:
            prepare = getattr(self.session.backend(mode), "prepare", None)
        except NoBackendError:
            return None
        if prepare is None:
            return None

        def run() -> None:
            try:
                prepare()
            except Exception:  # noqa: BLE001 - the first real reading reports what is wrong
                log.debug("preparing the %s back end failed", mode, exc_info=True)

        # Not a daemon: a thread stopped half-way through torch work by the interpreter's exit aborts
        # the process, so the window's close (and, failing that, the exit) waits for it instead.
        thread = threading.Thread(target=run, name=f"prepare-{mode}")
        thread.start()
        self._preparations = [t for t in self._preparations if t.is_alive()] + [thread]
        return thread

    @property
    def _preparing(self) -> threading.Thread | None:
        """The latest back-end preparation (None before the first)."""
        return self._preparations[-1] if self._preparations else None

    # -- status and jobs --------------------------------------------------------------------------
    def show_message(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet("color: #b00020;" if error else "")
        if error:
            log.info("%s", text)

    def _job_started(self, title: str) -> None:
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        self.show_message(f"{title}…")
        self._update_actions()

    def _job_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    def _job_ended(self, title: str, ok: bool) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        if ok and self.status_label.text().endswith("…"):
            self.show_message(f"{title}: done")
        self._update_actions()

    def _update_actions(self) -> None:
        busy = self.jobs.busy
        doc = self.session.document
        self.act_undo.setEnabled(doc.can_undo and not busy)
        self.act_redo.setEnabled(doc.can_redo and not busy)
        self.act_undo.setText(f"&Undo {doc.undo_text}" if doc.undo_text else "&Undo")
        self.act_redo.setText(f"&Redo {doc.redo_text}" if doc.redo_text else "&Redo")
        for a in (self.act_new, self.act_open, self.act_save, self.act_save_as, self.act_import, self.act_accept):
            a.setEnabled(not busy)

    # -- the document -----------------------------------------------------------------------------
    def _document_changed(self, what: str) -> None:
        self.viewport.set_bodies(self.session.bodies)
        if self.proposals and what and not what.startswith("Saved"):
            self.dismiss_proposals()
        name = self.session.path.name if self.session.path else "Untitled"
        self.setWindowTitle(f"{name}[*] — Sketchforge")
        self.setWindowModified(self.session.dirty and bool(self.session.history))
        self._update_actions()

    def undo(self) -> None:
        if not self.jobs.busy and not self.session.undo():
            self.show_message("Nothing to undo")

    def redo(self) -> None:
        if not self.jobs.busy and not self.session.redo():
            self.show_message("Nothing to redo")

    # -- files ------------------------------------------------------------------------------------
    def confirm_discard(self) -> bool:
        """True when there is no unsaved work, or the user saved or chose to discard it."""
        if not (self.session.dirty and self.session.history):
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", "The model has unsaved changes. Save them first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new_document(self) -> None:
        if self.jobs.busy or not self.confirm_discard():
            return
        self.viewport.clear_strokes()
        self.session.new()
        self.show_message("New model")

    def open_dialog(self) -> None:
        if self.jobs.busy or not self.confirm_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open", self._last_dir(), f"Sketchforge (*{SUFFIX})")
        if path:
            self.open_path(path, confirmed=True)

    def open_path(self, path: str | Path, confirmed: bool = False) -> bool:
        """Open a session file in a worker; the current model stays if anything goes wrong."""
        if self.jobs.busy or (not confirmed and not self.confirm_discard()):
            return False
        p = Path(path)

        def done(_):
            self._add_recent(p)
            self.viewport.clear_strokes()
            self.viewport.fit_all()
            self.show_message(f"Opened {p.name}")

        return self.jobs.run(f"Opening {p.name}", lambda progress: self.session.open(p, progress), done,
                             lambda msg: self.show_message(f"Could not open {p.name}: {msg}", error=True))

    def save(self) -> bool:
        if self.session.path is None:
            return self.save_as()
        return self._save_to(self.session.path)

    def save_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self, "Save as", self._last_dir(), f"Sketchforge (*{SUFFIX})")
        return self._save_to(Path(path)) if path else False

    def _save_to(self, path: Path) -> bool:
        try:
            saved = self.session.save(path)
        except (OSError, ValueError) as exc:
            QMessageBox.warning(self, "Save failed", f"Could not save {path}: {exc}\nThe model is unchanged; "
                                "pick another place.")
            return False
        self._add_recent(saved)
        self.show_message(f"Saved {saved}")
        return True

    def import_dialog(self) -> None:
        exts = " ".join(f"*.{e}" for e in self.session.importers.names())
        path, _ = QFileDialog.getOpenFileName(self, "Import", self._last_dir(), f"Models ({exts})")
        if path:
            self.import_path(path)

    def import_path(self, path: str | Path) -> bool:
        p = Path(path)

        def done(name):
            self.viewport.fit_all()
            self.show_message(f"Imported {p.name} as {name}")

        return self.jobs.run(f"Importing {p.name}", lambda progress: self.session.import_file(p), done,
                             lambda msg: self.show_message(f"Could not import {p.name}: {msg}", error=True))

    def export_dialog(self) -> None:
        if not self.session.bodies:
            self.show_message("Nothing to export yet: build or import a model first", error=True)
            return
        filters = ";;".join(f"{e.upper()} (*.{e})" for e in self.session.exporters.names())
        path, _ = QFileDialog.getSaveFileName(self, "Export", self._last_dir(), filters)
        if path:
            self.export_path(path)

    def export_path(self, path: str | Path) -> bool:
        p = Path(path)
        return self.jobs.run(f"Exporting {p.name}", lambda progress: self.session.export(p),
                             lambda _: self.show_message(f"Exported {p}"),
                             lambda msg: self.show_message(f"Could not export {p.name}: {msg}", error=True))

    def open_sketch_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open sketch", self._last_dir(), "Sketches (*.sketch.json *.json)")
        if path:
            self.load_sketch(path)

    def load_sketch(self, path: str | Path) -> bool:
        try:
            sketch = Sketch.load(path)
        except SketchError as exc:
            self.show_message(f"Could not open the sketch: {exc}", error=True)
            return False
        self.dismiss_proposals()
        self.viewport.load_sketch(sketch)
        i = self.mode_box.findData(sketch.mode)
        if i < 0:
            self.mode_box.addItem(sketch.mode, sketch.mode)
            i = self.mode_box.count() - 1
        self.mode_box.setCurrentIndex(i)
        return True

    def save_sketch_dialog(self) -> None:
        if not self.viewport.strokes():
            self.show_message("There are no strokes to save", error=True)
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save sketch", self._last_dir(), "Sketches (*.sketch.json)")
        if path:
            if not path.endswith(".json"):
                path += ".sketch.json"
            self.viewport.sketch(self.mode).save(path)
            self.show_message(f"Saved sketch {path}")

    def _last_dir(self) -> str:
        recent = self._recent()
        return str(Path(recent[0]).parent) if recent else str(Path.cwd())

    def _recent(self) -> list[str]:
        value = paths.settings().value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [v for v in (value or []) if isinstance(v, str)]

    def _add_recent(self, path: Path) -> None:
        items = [str(Path(path).resolve())] + [r for r in self._recent() if r != str(Path(path).resolve())]
        paths.settings().setValue("recent_files", items[:MAX_RECENT])
        self._fill_recent_menu()

    def _fill_recent_menu(self) -> None:
        self.menu_recent.clear()
        for r in self._recent():
            self.menu_recent.addAction(Path(r).name, lambda r=r: self.open_path(r)).setToolTip(r)
        self.menu_recent.setEnabled(bool(self._recent()))

    # -- sketching and proposals ------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self.mode_box.currentData() or "cad"

    def set_tool(self, name: str) -> None:
        self.viewport.set_tool(name)
        for n, a in self.tool_actions.items():
            a.setChecked(n == name)

    def _mode_changed(self, _index: int) -> None:
        """A new mode: proposals go; face sketching turns to the front view with the plain pen."""
        self.dismiss_proposals()
        if hasattr(self, "suggestion_panel"):
            self.suggestion_panel.show_result(None)
            self.viewport.set_ghost_strokes(None)
        if self.mode == "face":
            if not self.viewport.strokes():
                self.viewport.set_view("front")
            if self.kind_box.currentData() not in (None, "ridge", "valley"):
                self.kind_box.setCurrentIndex(max(self.kind_box.findData(None), 0))
            self.show_message("Face mode: draw the head from the front — plain lines for the outline and "
                              "features, then Ridge (red) and Valley (green) strokes for detail")
        self.prepare_backend()

    def _kind_changed(self, _index: int) -> None:
        self.viewport.stroke_kind = self.kind_box.currentData()

    def _refresh_modes(self) -> None:
        modes = self.session.backends.names()
        ordered = ["cad"] + [m for m in modes if m != "cad"]
        current = self.mode_box.currentData() or paths.settings().value("mode", "cad")
        self.mode_box.blockSignals(True)
        self.mode_box.clear()
        for m in ordered:
            label = m if m in modes else f"{m} (no back end)"
            self.mode_box.addItem(label, m)
        i = self.mode_box.findData(current)
        self.mode_box.setCurrentIndex(max(i, 0))
        self.mode_box.blockSignals(False)
        self._fill_network_menu()

    def refresh_modes(self) -> None:
        """Re-read the registered back ends (after a plugin registers one at run time)."""
        self._refresh_modes()

    def _live_toggled(self, on: bool) -> None:
        paths.settings().setValue("live", bool(on))
        if on and self.viewport.strokes():
            self._live_timer.start()

    def _stroke_finished(self) -> None:
        if self.act_live.isChecked():
            self._live_timer.start()

    def _strokes_changed(self) -> None:
        if not self.viewport.strokes():
            self.dismiss_proposals()
        if self._taking_suggestion:
            return
        if self.suggestion_panel.result is not None:  # the sketch moved on: the suggestions are stale
            self.suggestion_panel.show_result(None)
            self.viewport.set_ghost_strokes(None)

    # -- part suggestions (face mode) -------------------------------------------------------------
    def suggest_parts(self) -> bool:
        """Ask the face back end for part strokes like the last ones drawn (in a worker)."""
        if self.mode != "face":
            self.show_message("Part suggestions are for face mode: pick 'face' as the mode first")
            return False
        if not self.viewport.strokes():
            self.show_message("Draw an eye, brow, nose, mouth or ear first, then ask for suggestions (G)")
            return False
        if self.jobs.busy:
            return False
        try:
            backend = self.session.backend("face")
        except NoBackendError:
            self.show_message("No face back end is registered", error=True)
            return False
        sketch = self.viewport.sketch("face")
        part = self.suggestion_panel.part
        strokes = tuple(self.viewport.strokes())

        def done(result) -> None:
            if tuple(self.viewport.strokes()) != strokes:
                return  # drawn on meanwhile
            self.suggestion_dock.show()
            self.suggestion_dock.raise_()
            self.suggestion_panel.show_result(result)
            self.show_message(f"{len(result.candidates)} {result.part} suggestions: click one to take it")

        return self.jobs.run("Suggesting part strokes", lambda progress: backend.suggest(sketch, 5, part), done,
                             lambda msg: self.show_message(f"No suggestions: {msg}", error=True))

    def _suggestion_highlighted(self, row: int) -> None:
        result = self.suggestion_panel.result
        if result is not None and 0 <= row < len(result.candidates):
            self.viewport.set_ghost_strokes(result.candidates[row][1])

    def take_suggestion(self, row: int) -> bool:
        """Put suggestion `row` in place of the strokes it was read from."""
        result = self.suggestion_panel.result
        if result is None or not 0 <= row < len(result.candidates):
            return False
        self._taking_suggestion = True
        try:
            self.viewport.replace_strokes(result.replaces, result.candidates[row][1])
        finally:
            self._taking_suggestion = False
        self.suggestion_panel.show_result(None)
        self.viewport.set_ghost_strokes(None)
        self.show_message(f"Took the {result.part} suggestion {row + 1}")
        if self.act_live.isChecked():
            self._live_timer.start()
        return True

    def clear_strokes(self) -> None:
        self.viewport.clear_strokes()
        self.dismiss_proposals()

    def interpret(self, live: bool = False) -> bool:
        """Ask the current mode's back end for proposals (in a worker); preview the best."""
        if not self.viewport.strokes():
            if not live:
                self.show_message("Draw some strokes first (pen tool: P)")
            return False
        try:
            self.session.backend(self.mode)
        except NoBackendError:
            self.show_message(f"No back end is registered for mode '{self.mode}': nothing can interpret "
                              "this sketch yet", error=True)
            return False
        if self.jobs.busy:
            if live:
                self._live_timer.start()
            else:  # asked for while the last request still runs: say so, and read the sketch after it
                self.show_message("Still working on the last request: the sketch is read when it is done")
                self._live_timer.start()
            return False
        sketch = self.viewport.sketch(self.mode)
        state = self.session.document.state
        session = self.session

        def job(progress):
            t = time.perf_counter()
            proposals = session.interpret(sketch)
            previews = []
            for k, p in enumerate(proposals):
                progress(k, len(proposals))
                try:
                    previews.append(p.apply_to(state))
                except Exception as exc:  # a proposal that does not apply is shown as such
                    previews.append(exc)
            return proposals, previews, state, _interpretation_note(session.backend(sketch.mode),
                                                                    time.perf_counter() - t)

        return self.jobs.run("Interpreting", job, self._proposals_ready,
                             lambda msg: self.show_message(f"Interpretation failed: {msg}", error=True))

    def _proposals_ready(self, result) -> None:
        proposals, previews, state, note = result
        self._last_interpretation = note
        if state is not self.session.document.state or not self.viewport.strokes():
            return  # the model or the sketch changed meanwhile: stale
        self.proposals, self.previews, self.proposal_index = list(proposals), list(previews), 0
        if not self.proposals:
            self.show_message("Nothing recognised in the sketch")
            self.viewport.set_ghost(None)
            return
        self._show_proposal()

    def _show_proposal(self) -> None:
        p = self.proposals[self.proposal_index]
        preview = self.previews[self.proposal_index]
        params = ", ".join(f"{k}={_short(v)}" for k, v in p.operation.params().items() if k != "body")
        label = (f"{self.proposal_index + 1}/{len(self.proposals)}  {p.operation.title} "
                 f"({p.score:.2f})  {params}")
        if isinstance(preview, Exception):
            self.viewport.set_ghost(None, label + "  — does not apply")
        else:
            changed = {k: b for k, b in preview.bodies.items() if self.session.bodies.get(k) is not b}
            self.viewport.set_ghost(changed, label)
        self.show_message("Tab: next proposal · Enter: accept · Esc: dismiss" + self._last_interpretation)

    def next_proposal(self) -> None:
        if self.proposals:
            self.proposal_index = (self.proposal_index + 1) % len(self.proposals)
            self._show_proposal()

    def accept_proposal(self) -> bool:
        if not self.proposals or self.jobs.busy:
            return False
        p = self.proposals[self.proposal_index]
        preview = self.previews[self.proposal_index]
        if isinstance(preview, Exception):
            self.show_message(f"This proposal does not apply: {preview}", error=True)
            return False
        sketch = self.viewport.sketch(self.mode)
        keep = bool(getattr(self.session.backend(sketch.mode), "keeps_strokes", False))

        def done(_):
            if keep:  # the strokes describe the whole result (a head): the next stroke refines it
                self.proposals, self.previews, self.proposal_index = [], [], 0
                self.viewport.set_ghost(None)
            else:
                self.viewport.clear_strokes()
            self._keep_sketch(sketch)
            self.show_message(f"Applied {p.operation.describe()}")

        return self.jobs.run(f"Applying {p.operation.title}", lambda progress: self.session.accept(p),
                             done, lambda msg: self.show_message(f"Could not apply: {msg}", error=True))

    def dismiss_proposals(self) -> None:
        had = bool(self.proposals)
        self.proposals, self.previews, self.proposal_index = [], [], 0
        self.viewport.set_ghost(None)
        if had:
            self.show_message("Proposals dismissed")

    def _keep_sketch(self, sketch: Sketch) -> None:
        """Every accepted sketch is written beside the recovery copies, so a session can be replayed."""
        folder = paths.app_home() / "sketches"
        folder.mkdir(exist_ok=True)
        n = len(list(folder.glob("*.sketch.json")))
        try:
            sketch.save(folder / f"{n + 1:05d}.sketch.json")
        except OSError as exc:
            log.warning("could not keep the sketch: %s", exc)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.viewport and event.type() == QEvent.Type.KeyPress and self.proposals:
            key = event.key()
            if key == Qt.Key.Key_Tab:
                self.next_proposal()
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.accept_proposal()
                return True
            if key == Qt.Key.Key_Escape:
                self.dismiss_proposals()
                return True
        return super().eventFilter(obj, event)

    # -- recovery, settings, closing --------------------------------------------------------------
    def _offer_recovery(self) -> None:
        from .recovery import Recovery
        if Recovery.offer_recovery(self, self.session):
            self.viewport.fit_all()
            self.show_message("Recovered the unsaved work; save it to keep it")

    def _restore_settings(self) -> None:
        s = paths.settings()
        geometry = s.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        state = s.value("window/state")
        if state is not None:
            self.restoreState(state)
        else:  # first start: the viewport gets most of the room
            docks = [d for d in (self.console,) if d is not None]
            if docks:
                self.resizeDocks(docks, [180], Qt.Orientation.Vertical)
            self.resizeDocks([self.history_dock], [300], Qt.Orientation.Horizontal)
        self.act_live.setChecked(str(s.value("live", "false")).lower() == "true")
        backend = self._cad_backend()
        wanted = str(s.value("cad_network", "") or "")
        if backend is not None and wanted in backend.networks and wanted != backend.network:
            backend.use(wanted)
        self.set_face_mirror(self.act_face_mirror.isChecked())
        kind = s.value("stroke_kind", "")
        i = self.kind_box.findData(kind or None)
        self.kind_box.setCurrentIndex(max(i, 0))
        self._fill_recent_menu()

    def _save_settings(self) -> None:
        s = paths.settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("mode", self.mode)
        s.setValue("stroke_kind", self.kind_box.currentData() or "")
        s.sync()

    def closeEvent(self, event) -> None:
        if not self.confirm_discard():
            event.ignore()
            return
        self.jobs.cancel()
        self.jobs.wait()
        for thread in self._preparations:
            thread.join()
        self._save_settings()
        self.recovery.close_cleanly()
        if self.console is not None:
            self.console.shutdown()
        self.bridge.detach()
        event.accept()


def _interpretation_note(backend, seconds: float) -> str:
    """' · 84 ms (view 12, network 3, fitting 61) · light network at 48 px, 9.6 MFLOPs': the last
    interpretation's time for the status bar, with the stages, the canvas and the network's FLOPs
    where the back end reports them (`last.seconds`, `last.canvas`, `last.flops`)."""
    last = getattr(backend, "last", None)
    note = f" · {seconds * 1e3:.0f} ms"
    stages = getattr(last, "seconds", None) or {}
    names = {"view": "view", "net": "network", "fit": "fitting", "coarse": "coarse", "refine": "refine"}
    parts = [f"{names[k]} {stages[k] * 1e3:.0f}" for k in names if k in stages]
    note += f" ({', '.join(parts)})" if parts else ""
    flops = getattr(last, "flops", None)
    if flops:
        network = getattr(last, "network", "") or "network"
        canvas = getattr(last, "canvas", None)
        note += f" · {network} network" + (f" at {canvas} px" if canvas else "") + f", {_flops_text(flops)}"
    return note


def _flops_text(flops: float) -> str:
    return f"{flops / 1e9:.2f} GFLOPs" if flops >= 1e9 else f"{flops / 1e6:.1f} MFLOPs"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, dict):
        kind = value.get("kind", "{…}")
        if kind == "face" and "normal" in value:
            return "face facing (" + ", ".join(f"{c:.2g}" for c in value["normal"]) + ")"
        if kind == "edge" and "point" in value:
            return "edge at (" + ", ".join(f"{c:.3g}" for c in value["point"]) + ")"
        return str(kind)
    if isinstance(value, list):
        return f"[{len(value)}]"
    return str(value)


def run_app(argv: list[str] | None = None) -> int:
    """Start the desktop app; an optional argument is a session file to open."""
    argv = list(sys.argv if argv is None else argv)
    if QApplication.instance() is None:
        # pyqtgraph compiles its shaders once per process: GL views must share contexts
        QApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("Sketchforge")
    app.setOrganizationName("Sketchforge")
    window = MainWindow()
    window.show()
    files = [a for a in argv[1:] if a.endswith(SUFFIX)]
    if files:
        window.open_path(files[0], confirmed=True)
    return app.exec()
