"""The window's file commands: new, open, save, import, export, sketches and recent files.

A mixin of `MainWindow` (it reads the window's session, jobs, viewport and status bar): every
command runs through the `Session`, long ones in the window's worker, and a failure leaves the
model as it was with a message saying what to do next.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox

from sketchforge.modeling.archive import SUFFIX
from sketchforge.modeling.sketch import Sketch, SketchError

from . import paths

MAX_RECENT = 8


class DocumentCommands:
    """File commands of the main window (see the module's doc)."""

    # -- files ---------------------------------------------------------------------------------------
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
        if self.jobs.busy:
            self.show_message(f"Still working on {self.jobs.title.lower()}: start a new model when it is done")
            return
        if not self.confirm_discard():
            return
        self.sketch.clear()
        self.sketch.forget_parked()
        self.session.new()
        self.show_message("New model: draw on it, or pick a template (File > New from template)")

    def open_dialog(self) -> None:
        if not self.confirm_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open", self._last_dir(), f"Sketchforge (*{SUFFIX})")
        if path:
            self.open_path(path, confirmed=True)

    def open_path(self, path: str | Path, confirmed: bool = False) -> bool:
        """Open a session file in a worker; the current model stays if anything goes wrong."""
        if not confirmed and not self.confirm_discard():
            return False
        p = Path(path)

        def done(_):
            self._add_recent(p)
            self.sketch.clear()
            self.sketch.forget_parked()
            self.hide_start_page()
            self.viewport.fit_all()
            self.show_message(f"Opened {p.name}")

        return self.run_job(f"Opening {p.name}", lambda progress: self.session.open(p, progress), done,
                            lambda msg: self.show_message(f"Could not open {p.name}: {msg}", error=True))

    def save(self) -> bool:
        if self.session.path is None:
            return self.save_as()
        return self._save_to(self.session.path)

    def save_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(self, "Save as", self._last_dir(), f"Sketchforge (*{SUFFIX})")
        return self._save_to(Path(path)) if path else False

    def _save_to(self, path: Path) -> bool:
        if self.jobs.busy:
            self.show_message(f"Still working on {self.jobs.title.lower()}: save when it is done", error=True)
            return False
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
            self.hide_start_page()
            self.viewport.fit_all()
            self.show_message(f"Imported {p.name} as {name}")

        return self.run_job(f"Importing {p.name}", lambda progress: self.session.import_file(p), done,
                            lambda msg: self.show_message(f"Could not import {p.name}: {msg}", error=True))

    def export_dialog(self) -> None:
        if not self.session.bodies:
            self.show_message("Nothing to export yet: build or import a model first", error=True)
            return
        filters = [f"{e.upper()} (*.{e})" for e in self.session.exporters.names()]
        path, chosen = QFileDialog.getSaveFileName(self, "Export", self._last_dir(), ";;".join(filters))
        if path:
            self.export_path(with_filter_suffix(path, chosen))

    def export_path(self, path: str | Path) -> bool:
        p = Path(path)
        return self.run_job(f"Exporting {p.name}", lambda progress: self.session.export(p),
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
        self.hide_start_page()
        self.viewport.load_sketch(sketch)
        self.show_message(f"Opened the sketch {Path(path).name}: Space reads it")
        return True

    def save_sketch_dialog(self) -> None:
        if not self.sketch.strokes:
            self.show_message("There are no strokes to save", error=True)
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save sketch", self._last_dir(), "Sketches (*.sketch.json)")
        if path:
            if not path.endswith(".json"):
                path += ".sketch.json"
            self.sketch.to_sketch().save(path)
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



def with_filter_suffix(path: str, chosen_filter: str) -> str:
    """`path` with the extension of the chosen file filter ('GLB (*.glb)') when it has none."""
    if Path(path).suffix or "*." not in chosen_filter:
        return path
    ext = chosen_filter.split("*.", 1)[1].split(")", 1)[0].split()[0]
    return f"{path}.{ext}"
