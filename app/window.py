"""The main window: the viewport you sketch on, the history, the console, files, proposals and clouds.

The window is thin. What is drawn lives in `session.sketch` (strokes, mode, prompt, pending
proposals), the model in `session.document`; the viewport draws both, and the window's tools,
stroke kinds, prompt field and mode options are built from the back ends' declarations
(`modeling/contract.py`); a mode drawn from the top is drawn on a map (`scenes.py`). Every change
goes through the `Session` (directly for cheap steps such as undo, through the `JobRunner` for
anything that may take long), and the widgets repaint when the session's events arrive through
the `SessionBridge`.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any, Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QToolBar,
)

from sketchforge.modeling.archive import SUFFIX
from sketchforge.modeling.contract import ModeSpec
from sketchforge.modeling.session import NoBackendError, Session

from . import modes as mode_widgets
from . import paths
from .actions import ACTIONS, MENUS, make_actions, make_menus
from .bridge import SessionBridge
from .clouds import CloudCommands
from .documents import DocumentCommands, with_filter_suffix
from .proposing import ProposalCommands
from .scenes import SceneCommands
from .workers import JobRunner

__all__ = ["MainWindow", "run_app", "with_filter_suffix"]

log = logging.getLogger(__name__)

LIVE_DELAY_MS = 400


class MainWindow(DocumentCommands, ProposalCommands, CloudCommands, SceneCommands, QMainWindow):
    """Sketchforge's window over one `Session` (made here when not given)."""

    def __init__(self, session: Session | None = None, *, console: bool = True, recover: bool = True,
                 autosave_ms: int = 60000, start_page: bool = True) -> None:
        super().__init__()
        self.session = session if session is not None else Session()
        self.sketch = self.session.sketch
        self.bridge = SessionBridge(self.session, self)
        self.jobs = JobRunner(self)
        self._queued: list[tuple[str, Callable[[], Any]]] = []  # asked for while a job ran
        self._previews: list[Any] = []  # per proposal: {body: Change} or the exception it raised
        self._previews_of: Any = None   # the interpretation they belong to
        self._previewing: Any = None    # the interpretation whose previews are being worked out
        self._report = None             # the last interpretation's report
        self._taking_suggestion = False
        self._option_entries: dict[str, Any] = {}
        self._preparations: list[threading.Thread] = []  # started by prepare_backend, not yet joined
        self._built = False  # back ends are prepared once the window is up, never while it is built

        from .viewport import Viewport
        self.viewport = Viewport(self, sketch=self.sketch)
        self.viewport.installEventFilter(self)
        self.viewport.message.connect(self.show_message)
        self.viewport.stroke_finished.connect(self._stroke_finished)
        self.viewport.walk_changed.connect(self._walk_changed)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.viewport)
        self.start_page = None
        if start_page:
            from .start import StartPage
            self.start_page = StartPage(self)
            self.start_page.template_chosen.connect(self.new_from_template)
            self.start_page.recent_chosen.connect(lambda p: self.open_path(p))
            self.start_page.open_requested.connect(self.open_dialog)
            self.start_page.dismissed.connect(self.hide_start_page)
            self.stack.addWidget(self.start_page)
        self.setCentralWidget(self.stack)

        self._live_timer = QTimer(self, singleShot=True, interval=LIVE_DELAY_MS)
        self._live_timer.timeout.connect(lambda: self.interpret(live=True))

        self._make_status_bar()
        self.actions_by_name = make_actions(self, ACTIONS, lambda name: getattr(self, name))
        self.menus = make_menus(self.menuBar(), MENUS, self.actions_by_name)
        self.menu_view = self.menus["view"]
        self.menu_recent = self.menus["menu_recent"]
        self.menu_options = self.menus["menu_options"]
        for name, a in self.actions_by_name.items():
            setattr(self, f"act_{name}", a)
        self.tool_actions = {n: self.actions_by_name[n] for n in ("navigate", "pen", "eraser")}
        self.tool_actions["navigate"].setChecked(True)
        self._make_toolbars()
        self._fill_templates_menu()

        from .history import HistoryPanel
        self.history_panel = HistoryPanel(self.session, self.bridge, self.jobs, self)
        self.history_dock = self._dock("History", "history_dock", self.history_panel,
                                       Qt.DockWidgetArea.RightDockWidgetArea)
        from .suggestions import SuggestionPanel
        self.suggestion_panel = SuggestionPanel(self)
        self.suggestion_panel.highlighted.connect(self._suggestion_highlighted)
        self.suggestion_panel.chosen.connect(self.take_suggestion)
        self.suggestion_dock = self._dock("Part suggestions", "suggestion_dock", self.suggestion_panel,
                                          Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.history_dock, self.suggestion_dock)
        self.suggestion_dock.hide()  # shown with the first suggestions

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
        self.sketch.changed.connect(self._sketch_changed)

        self._restore_settings()
        self.refresh_modes()
        self._document_changed("")
        self._show_start_if_new()
        self._built = True
        # the mode's back end gets ready as soon as the window shows (preparing it while the
        # window is built delayed the window by more than a second: torch and Qt share the GIL)
        QTimer.singleShot(0, self.prepare_backend)
        if recover:
            QTimer.singleShot(0, self._offer_recovery)

    # -- building the window ----------------------------------------------------------------------
    def _dock(self, title: str, name: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.menu_view.addAction(dock.toggleViewAction())
        return dock

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

    def _make_toolbars(self) -> None:
        a = self.actions_by_name
        tb = QToolBar("Sketch", self)
        tb.setObjectName("sketch_toolbar")
        self.addToolBar(tb)
        for name in ("navigate", "pen", "eraser"):
            tb.addAction(a[name])
        self.kind_box = QComboBox()
        self.kind_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.kind_box.setToolTip("Stroke kind: what the next stroke draws (the mode declares them)")
        self.kind_box.currentIndexChanged.connect(self._kind_changed)
        tb.addWidget(self.kind_box)
        tb.addAction(a["area_brush"])
        tb.addAction(a["undo_stroke"])
        tb.addAction(a["clear"])
        tb.addSeparator()
        tb.addWidget(QLabel(" Mode "))
        self.mode_box = QComboBox()
        self.mode_box.setToolTip("Which back end interprets the sketch")
        self.mode_box.currentIndexChanged.connect(self._mode_picked)
        tb.addWidget(self.mode_box)
        self.prompt_edit = mode_widgets.prompt_field(self)
        self.prompt_edit.textEdited.connect(lambda text: setattr(self.sketch, "prompt", text))
        self.prompt_action = tb.addWidget(self.prompt_edit)
        tb.addAction(a["interpret"])
        tb.addAction(a["live"])
        vb = QToolBar("View", self)
        vb.setObjectName("view_toolbar")
        self.addToolBar(vb)
        for name in ("front", "top", "right", "iso", "fit", "walk"):
            vb.addAction(a[name])

    # -- modes and their declared tools -------------------------------------------------------------
    @property
    def mode(self) -> str:
        return self.sketch.mode

    def mode_spec(self, mode: str | None = None) -> ModeSpec | None:
        return self.session.modes().get(mode or self.mode)

    def refresh_modes(self) -> None:
        """Re-read the registered back ends (after a plugin registers one at run time)."""
        mode_widgets.fill_mode_box(self.mode_box, self.session.modes(), self.mode)
        self._mode_tools()

    def set_mode(self, mode: str) -> None:
        self.sketch.mode = mode

    def _mode_picked(self, _index: int) -> None:
        mode = self.mode_box.currentData()
        if mode and mode != self.sketch.mode:
            self.sketch.mode = mode

    def _mode_tools(self) -> None:
        """The stroke kinds, prompt field, options menu and view behaviour of the current mode."""
        spec = self.mode_spec()
        i = self.mode_box.findData(self.mode)
        if i >= 0 and i != self.mode_box.currentIndex():
            self.mode_box.blockSignals(True)
            self.mode_box.setCurrentIndex(i)
            self.mode_box.blockSignals(False)
        kinds = spec.stroke_kinds if spec else ()
        wanted = str(paths.settings().value(f"stroke_kind/{self.mode}", "") or "") or None
        mode_widgets.fill_kind_box(self.kind_box, kinds, wanted)
        self.viewport.stroke_kind = self.kind_box.currentData()
        if kinds:
            self.viewport.set_stroke_kinds(kinds)
        mode_widgets.show_prompt(self.prompt_edit, spec)
        self.prompt_action.setVisible(spec is not None and spec.prompt != "none")
        if self.prompt_edit.text() != (self.sketch.prompt or ""):
            self.prompt_edit.setText(self.sketch.prompt or "")
        self.viewport.park_on_orbit = bool(spec and spec.keeps_strokes)
        self._scene_tools()
        self._fill_options_menu()

    def _on_mode_changed(self) -> None:
        """A new mode: its tools; a mode drawn in one view turns to it (a mode drawn from the top, to
        the map), and leaving a map turns the view to perspective; its back end gets ready."""
        self.suggestion_panel.show_result(None)
        self.viewport.set_ghost_strokes(None)
        self._mode_tools()
        spec = self.mode_spec()
        if spec is None:
            self.show_message(f"No back end is registered for mode '{self.mode}': nothing can interpret "
                              "this sketch yet", error=True)
            return
        if not self.sketch.strokes:
            if self.draws_on_map(spec):
                self.show_map()
            elif spec.view:
                self.viewport.set_view(spec.view)
            elif self.viewport.map_view:
                self.viewport.set_view("iso")
        self.show_message(f"{spec.title}: {spec.guide[0]}" if spec.guide else spec.title)
        self.prepare_backend()

    def _backend_or_none(self, mode: str | None = None):
        try:
            return self.session.backend(mode or self.mode)
        except NoBackendError:
            return None

    def _fill_options_menu(self) -> None:
        backend, spec = self._backend_or_none(), self.mode_spec()
        if backend is None or spec is None:
            self.menu_options.clear()
            self.menu_options.setEnabled(False)
            self._option_entries = {}
            return
        self._option_entries = mode_widgets.fill_options_menu(self.menu_options, spec.title, backend.options,
                                                              self.set_option)

    def set_option(self, name: str, value: Any) -> bool:
        """Set an option of the current mode's back end (kept as a preference)."""
        backend = self._backend_or_none()
        if backend is None:
            return False
        try:
            backend.configure(**{name: value})
        except ValueError as exc:
            self.show_message(str(exc), error=True)
            return False
        mode_widgets.keep_option(backend.name, name, value)
        mode_widgets.check_entry(self._option_entries, name, value)
        info = next(i for i in mode_widgets.describe_options(backend.options) if i.name == name)
        text = info.choices.get(value, value) if info.choices else ("on" if value else "off")
        self.show_message(f"{info.label}: {text}")
        self.dismiss_proposals()
        self.prepare_backend()
        return True

    def _restore_options(self) -> None:
        for mode in self.session.modes():
            backend = self._backend_or_none(mode)
            if backend is None:
                continue
            saved = mode_widgets.saved_options(backend.name, backend.options)
            if saved:
                try:
                    backend.configure(**saved)
                except ValueError as exc:
                    log.info("a kept option no longer fits: %s", exc)

    def _kind_changed(self, _index: int) -> None:
        self.viewport.stroke_kind = self.kind_box.currentData()
        paths.settings().setValue(f"stroke_kind/{self.mode}", self.kind_box.currentData() or "")
        self._scene_tools()

    def prepare_backend(self, mode: str | None = None) -> threading.Thread | None:
        """Get the back end of `mode` (default the current one) ready in a background thread: its
        `prepare()` loads the networks and pays a first reading's one-off costs, so the user's first
        sketch is read as quickly as the rest. The window does not wait for it; a sketch read
        meanwhile is read as usual, and a failure (missing weights) is left for that reading to
        report."""
        mode = mode or self.mode
        backend = self._backend_or_none(mode)
        if backend is None or not self._built:
            return None

        def run() -> None:
            try:
                backend.prepare()
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

    # -- status and jobs ----------------------------------------------------------------------------
    def show_message(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet("color: #b00020;" if error else "")
        if error:
            log.info("%s", text)

    def run_job(self, title: str, job, done=None, failed=None, queue: bool = True) -> bool:
        """Run `job` in the worker; while another job runs it waits its turn (and the user is told)."""
        if self.jobs.busy:
            if queue:
                self._queued.append((title, lambda: self.jobs.run(title, job, done, failed)))
                self.show_message(f"Still working on {self.jobs.title.lower()}: {title.lower()} starts when "
                                  "it is done")
            return False
        return self.jobs.run(title, job, done, failed)

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
        if self._queued and not self.jobs.busy:
            _, start = self._queued.pop(0)
            QTimer.singleShot(0, start)

    def _update_actions(self) -> None:
        busy = self.jobs.busy
        doc = self.session.document
        a = self.actions_by_name
        a["undo"].setEnabled(doc.can_undo and not busy)
        a["redo"].setEnabled(doc.can_redo and not busy)
        a["undo"].setText(f"&Undo {doc.undo_text}" if doc.undo_text else "&Undo")
        a["redo"].setText(f"&Redo {doc.redo_text}" if doc.redo_text else "&Redo")
        for name in ("new", "open", "import", "accept"):
            a[name].setEnabled(not busy)
        has_model = bool(self.session.bodies)
        a["export"].setEnabled(has_model)
        a["save"].setEnabled(bool(self.session.history) or self.session.path is not None)
        a["save_sketch"].setEnabled(bool(self.sketch.strokes))
        a["return_to_sketch"].setEnabled(bool(self.sketch.parked))
        proposals = bool(self.sketch.proposals)
        for name in ("next", "dismiss"):
            a[name].setEnabled(proposals)
        a["accept"].setEnabled(proposals and not busy)
        self._update_cloud_actions()
        self._update_scene_actions()

    # -- the document -------------------------------------------------------------------------------
    def _document_changed(self, what: str) -> None:
        self.viewport.set_bodies(self.session.bodies)
        if self.viewport.walking and not self.scenes():
            self.viewport.stop_walk()  # the scene walked on is gone (undone)
        if self.sketch.proposals and what and not what.startswith("Saved"):
            self.sketch.dismiss()
        name = self.session.path.name if self.session.path else "Untitled"
        self.setWindowTitle(f"{name}[*] — Sketchforge")
        self.setWindowModified(self.session.dirty and bool(self.session.history))
        if what and not self.jobs.busy:
            self.show_message(what)  # undo, redo and the console's changes are said, never stale
        if what.startswith("Back end"):
            self.refresh_modes()
        if self.session.bodies and self.start_page is not None and self.stack.currentWidget() is self.start_page:
            self.hide_start_page()
        self._update_actions()

    def undo(self) -> None:
        if self.jobs.busy:
            self.show_message(f"Still working on {self.jobs.title.lower()}: undo when it is done")
        elif not self.session.undo():
            self.show_message("Nothing to undo")

    def redo(self) -> None:
        if self.jobs.busy:
            self.show_message(f"Still working on {self.jobs.title.lower()}: redo when it is done")
        elif not self.session.redo():
            self.show_message("Nothing to redo")

    # -- the start page and templates ----------------------------------------------------------------
    def _show_start_if_new(self) -> None:
        if (self.start_page is not None and not self.session.bodies and not self.sketch.strokes
                and str(paths.settings().value("start_page", "true")).lower() == "true"):
            self.show_start_page()

    def show_start_page(self) -> None:
        if self.start_page is None:
            return
        self.start_page.set_recent(self._recent())
        self.start_page.set_modes(list(self.session.modes().values()))
        self.start_page.set_templates(self._templates())
        self.stack.setCurrentWidget(self.start_page)

    def hide_start_page(self) -> None:
        self.stack.setCurrentWidget(self.viewport)
        self.viewport.setFocus()

    def _templates(self) -> list:
        from sketchforge.modeling.templates import templates
        return list(templates(self.session.templates).values())

    def _fill_templates_menu(self) -> None:
        menu = self.menus["menu_templates"]
        menu.clear()
        for t in self._templates():
            a = menu.addAction(t.title, lambda name=t.name: self.new_from_template(name))
            a.setStatusTip(t.description)

    def new_from_template(self, name: str) -> bool:
        """A new model from a template (a sketch template is read by its mode's back end and accepted)."""
        if not self.confirm_discard():
            return False
        from sketchforge.modeling.templates import apply_template, get_template
        template = get_template(name, self.session.templates)
        session = self.session

        def job(progress):
            apply_template(session, template)
            if template.sketch:
                sketch = template.load_sketch()
                result = session.interpret(sketch, offer=False)
                if not result.proposals:
                    raise ValueError(result.hint or "the template's sketch was not recognised")
                session.accept(result.proposals[0], tidy_sketch=False)
                return sketch
            return None

        def done(sketch) -> None:
            self.hide_start_page()
            if sketch is None:
                self.viewport.fit_all()
                self.show_message(f"New {template.title.lower()}: draw over it to change it")
            else:
                self.viewport.load_sketch(sketch)  # the strokes that made it stay, to refine it
                self.show_message(f"New {template.title.lower()}: draw to refine it")

        self.hide_start_page()
        self.sketch.clear()
        self.sketch.forget_parked()
        return self.run_job(f"New {template.title.lower()}", job, done,
                            lambda msg: self.show_message(f"Could not make the template: {msg}", error=True))

    # -- help ----------------------------------------------------------------------------------------
    def show_shortcuts(self) -> None:
        from .help import shortcuts_dialog
        shortcuts_dialog(list(self.actions_by_name.values()), self).exec()

    def show_guide(self) -> None:
        from .help import guide_dialog
        guide_dialog(list(self.session.modes().values()), self).exec()

    def show_about(self) -> None:
        from .help import about_dialog
        about_dialog(self).exec()

    # -- tools and views -------------------------------------------------------------------------------
    def set_tool(self, name: str) -> None:
        self.viewport.set_tool(name)
        for n, a in self.tool_actions.items():
            a.blockSignals(True)
            a.setChecked(n == name)
            a.blockSignals(False)
        if name != "navigate":
            self.hide_start_page()

    def tool_navigate(self, on: bool = True) -> None:
        self.set_tool("navigate")

    def tool_pen(self, on: bool = True) -> None:
        self.set_tool("pen")

    def tool_eraser(self, on: bool = True) -> None:
        self.set_tool("eraser")

    def view_front(self) -> None:
        self._view("front")

    def view_top(self) -> None:
        self._view("top")

    def view_right(self) -> None:
        self._view("right")

    def view_iso(self) -> None:
        self._view("iso")

    def _view(self, name: str) -> None:
        if name == "top" and self.draws_on_map():
            self.show_map()
        else:
            self.viewport.set_view(name)
        self._update_actions()

    def fit_all(self) -> None:
        self.viewport.fit_all()

    def return_to_sketch(self) -> bool:
        """Back to the view the strokes were drawn in, with them (after orbiting away)."""
        if not self.viewport.return_to():
            self.show_message("No strokes wait in another view")
            return False
        self.show_message("Back in the sketch's view: draw on to refine")
        return True

    # -- sketching ---------------------------------------------------------------------------------------
    def set_live(self, on: bool) -> None:
        paths.settings().setValue("live", bool(on))
        if on and self.sketch.strokes:
            self._live_timer.start()

    def _stroke_finished(self) -> None:
        if self.act_live.isChecked():
            self._live_timer.start()

    def _sketch_changed(self, what: str) -> None:
        if what == "mode":
            self._on_mode_changed()
        elif what == "strokes":
            self._strokes_changed()
        elif what == "proposals":
            self._show_proposal()
        elif what == "prompt" and self.prompt_edit.text() != (self.sketch.prompt or ""):
            self.prompt_edit.setText(self.sketch.prompt or "")
        if what == "strokes" and self.sketch.strokes:
            self.hide_start_page()
        self._update_actions()

    def _strokes_changed(self) -> None:
        if self._taking_suggestion:
            return
        if self.suggestion_panel.result is not None:  # the sketch moved on: the suggestions are stale
            self.suggestion_panel.show_result(None)
            self.viewport.set_ghost_strokes(None)
        n = len(self.sketch.strokes)
        if n and not self.jobs.busy:
            self.show_message(f"{n} stroke{'s' if n != 1 else ''} · Space reads the sketch")
        elif not n and self.sketch.parked:
            self.show_message("The strokes wait in their view: Home (Sketch > Return to the sketch) brings them back")

    def undo_stroke(self) -> None:
        if not self.sketch.undo_stroke():
            self.show_message("There is no stroke to take back")

    def clear_strokes(self) -> None:
        had = bool(self.sketch.strokes)
        self.sketch.clear()
        self.show_message("Strokes cleared" if had else "There are no strokes to clear")

    # -- recovery, settings, closing ---------------------------------------------------------------------
    def _offer_recovery(self) -> None:
        from .recovery import Recovery
        if Recovery.offer_recovery(self, self.session):
            self.hide_start_page()
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
        self.act_live.blockSignals(True)
        self.act_live.setChecked(str(s.value("live", "false")).lower() == "true")
        self.act_live.blockSignals(False)
        self._restore_options()
        mode = str(s.value("mode", "") or "")
        if mode in self.session.modes():
            self.sketch.mode = mode
        self._fill_recent_menu()

    def _save_settings(self) -> None:
        s = paths.settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("mode", self.mode)
        s.sync()

    def closeEvent(self, event) -> None:
        if not self.confirm_discard():
            event.ignore()
            return
        self.hide()  # the window goes at once; what is running finishes behind it
        self._built = False  # and no back end starts getting ready any more
        self._queued.clear()
        self.jobs.cancel()
        self.jobs.wait()
        for thread in self._preparations:
            thread.join()
        self._save_settings()
        self.recovery.close_cleanly()
        if self.console is not None:
            self.console.shutdown()
        self.sketch.changed.disconnect(self._sketch_changed)
        self.bridge.detach()
        event.accept()


def run_app(argv: list[str] | None = None) -> int:
    """Start the desktop app; an optional argument is a session file to open."""
    argv = list(sys.argv if argv is None else argv)
    t0 = time.perf_counter()
    if QApplication.instance() is None:
        # pyqtgraph compiles its shaders once per process: GL views must share contexts
        QApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("Sketchforge")
    app.setOrganizationName("Sketchforge")
    window = MainWindow()
    window.show()
    log.info("window shown %.0f ms after start", (time.perf_counter() - t0) * 1e3)
    files = [a for a in argv[1:] if a.endswith(SUFFIX)]
    if files:
        window.open_path(files[0], confirmed=True)
    return app.exec()
