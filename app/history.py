"""The history panel: the document's steps in order, and a form to change one step's parameters.

The panel only reads the document; every change goes through the Session (edits and deletes in a
worker, since they regenerate the later steps). A failed change is shown in the panel and leaves
the model as it was. The form is built from the operation's dataclass fields and type hints, so a
plugin operation gets one without any code here.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Literal, get_args, get_origin, get_type_hints

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sketchforge.modeling.operations import Operation
from sketchforge.modeling.refs import EdgeRef, FaceRef
from sketchforge.modeling.session import Session

from .bridge import SessionBridge
from .workers import JobRunner

FLOAT_RANGE = 1.0e5
FLOAT_DECIMALS = 4
INT_RANGE = 1_000_000_000

_ERROR_STYLE = "color: #c62828;"


class FieldError(ValueError):
    """A form field whose text cannot be read; the message names the field."""


# -- formatting and parsing the compact text of number lists -----------------------------------
def _num(v: float) -> str:
    s = f"{float(v):.10g}"
    return "0" if s == "-0" else s


def format_numbers(values) -> str:
    """`[40, 30, 20]` -> "40, 30, 20"."""
    return ", ".join(_num(v) for v in values)


def format_points(points) -> str:
    """`[[0, 0], [10, 0]]` -> "(0, 0) (10, 0)"."""
    return " ".join("(" + ", ".join(_num(c) for c in p) + ")" for p in points)


def _float(text: str, label: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise FieldError(f"{label}: {text!r} is not a number") from None


def parse_numbers(text: str, label: str, count: int | None = None) -> list[float]:
    """ "40, 30, 20" (commas or spaces) -> [40.0, 30.0, 20.0]."""
    parts = [p for p in re.split(r"[,\s;]+", text.strip().strip("()[]")) if p]
    values = [_float(p, label) for p in parts]
    if count is not None and len(values) != count:
        raise FieldError(f"{label} needs {count} numbers separated by commas, got {len(values)}")
    return values


def parse_points(text: str, label: str, dims: int = 2) -> list[list[float]]:
    """ "(0,0) (10,0) (10,10)" -> [[0, 0], [10, 0], [10, 10]]."""
    groups = re.findall(r"\(([^()]*)\)", text)
    if re.sub(r"\([^()]*\)", "", text).strip(" ,;"):
        raise FieldError(f"{label}: write the points as (x, y) (x, y) ..., one pair of brackets per point")
    points = [parse_numbers(g, label) for g in groups]
    for k, p in enumerate(points):
        if len(p) != dims:
            raise FieldError(f"{label}: point {k + 1} has {len(p)} numbers; each point needs {dims}")
    return points


def describe_reference(ref: FaceRef | EdgeRef) -> str:
    """How a face or edge reference reads in the form (it is picked in the viewport, not typed)."""
    def vec(v) -> str:
        return "(" + ",".join(_num(round(float(c), 4) + 0.0) for c in v) + ")"
    if isinstance(ref, FaceRef):
        return f"face facing {vec(ref.normal)} through {vec(ref.point)}"
    return f"edge along {vec(ref.direction)} at {vec(ref.point)}"


# -- the parameter form ------------------------------------------------------------------------
@dataclass
class _Field:
    path: tuple[str, ...]          # where the value sits in op.params(), e.g. ("profile", "radius")
    widget: QWidget
    state: Callable[[], Any]       # the widget's raw state, to tell whether the user changed it
    read: Callable[[], Any]        # the JSON value the widget holds now (raises FieldError)
    original: Any
    initial: Any = None


def _strip_optional(tp) -> tuple[Any, bool]:
    if get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], len(args) != len(get_args(tp))
    return tp, False


def _tuple_shape(tp) -> tuple[int | None, int | None] | None:
    """For tuple types: (count, point dims) — dims None for a flat list of numbers; else None."""
    if get_origin(tp) is not tuple:
        return None
    args = get_args(tp)
    variable = len(args) == 2 and args[1] is Ellipsis
    item = args[0] if args else float
    count = None if variable else len(args)
    if get_origin(item) is tuple:
        inner = get_args(item)
        dims = None if (len(inner) == 2 and inner[1] is Ellipsis) else len(inner)
        return count, dims or 2
    return count, None


class ParameterForm(QWidget):
    """Editors for one operation's parameters; `changes()` gives the edited top-level fields."""

    def __init__(self, op: Operation, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.op = op
        self.params = op.params()
        self.fields: list[_Field] = []
        self.layout_ = QFormLayout(self)
        self.layout_.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._add_dataclass(op, (), self.params)
        for f in self.fields:
            f.initial = f.state()

    def _add_dataclass(self, obj, path: tuple[str, ...], data: dict) -> None:
        hints = get_type_hints(type(obj))
        for f in dataclasses.fields(obj):
            if f.name not in data:
                continue
            self._add(path + (f.name,), hints.get(f.name, Any), getattr(obj, f.name), data[f.name])

    def _add(self, path: tuple[str, ...], tp, value, data) -> None:
        label = ".".join(path)
        if isinstance(value, (FaceRef, EdgeRef)):
            ref = QLabel(describe_reference(value))
            ref.setObjectName(f"ref:{label}")
            ref.setToolTip("Pick another face or edge by sketching again; references are not typed in.")
            ref.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.layout_.addRow(label, ref)
            return
        if dataclasses.is_dataclass(value) and isinstance(data, dict):
            if "kind" in data:
                kind = QLabel(str(data["kind"]))
                kind.setObjectName(f"ref:{label}.kind")
                self.layout_.addRow(f"{label}.kind", kind)
            self._add_dataclass(value, path, data)
            return
        tp, optional = _strip_optional(tp)
        if get_origin(tp) is Literal:
            w = QComboBox()
            w.addItems([str(c) for c in get_args(tp)])
            w.setCurrentText(str(data))
            choices = {str(c): c for c in get_args(tp)}
            self._field(path, w, w.currentText, lambda w=w: choices[w.currentText()], data)
        elif tp is bool:
            w = QCheckBox()
            w.setChecked(bool(data))
            self._field(path, w, w.isChecked, w.isChecked, data)
        elif tp is int and not isinstance(data, bool):
            w = QSpinBox()
            w.setRange(-INT_RANGE, INT_RANGE)
            w.setValue(int(data))
            self._field(path, w, w.value, w.value, data)
        elif tp is float:
            w = QDoubleSpinBox()
            w.setDecimals(FLOAT_DECIMALS)
            w.setRange(-FLOAT_RANGE, FLOAT_RANGE)
            w.setValue(float(data))
            self._field(path, w, w.value, w.value, data)
        elif tp is str:
            w = QLineEdit(str(data))
            self._field(path, w, w.text, w.text, data)
        elif (shape := _tuple_shape(tp)) is not None:
            count, dims = shape
            w = QLineEdit()
            if data is not None:
                w.setText(format_points(data) if dims else format_numbers(data))
            w.setPlaceholderText("none" if optional else ("(x, y) (x, y) ..." if dims else "x, y, z"))

            def read(w=w, label=label, count=count, dims=dims, optional=optional):
                text = w.text().strip()
                if not text and optional:
                    return None
                if dims:
                    pts = parse_points(text, label, dims)
                    if count is not None and len(pts) != count:
                        raise FieldError(f"{label} needs {count} points, got {len(pts)}")
                    return pts
                return parse_numbers(text, label, count)
            self._field(path, w, w.text, read, data)
        else:  # a type the form does not know: show it, keep it
            w = QLabel(str(data))
            w.setObjectName(f"ref:{label}")
            self.layout_.addRow(label, w)
            return
        w.setObjectName(label)

    def _field(self, path, widget, state, read, original) -> None:
        self.fields.append(_Field(path, widget, state, read, original))
        self.layout_.addRow(".".join(path), widget)

    def widget(self, label: str) -> QWidget | None:
        """The editor for a dotted parameter name (e.g. "distance", "profile.radius")."""
        for f in self.fields:
            if ".".join(f.path) == label:
                return f.widget
        return None

    def changes(self) -> dict[str, Any]:
        """The top-level parameters the user changed, as JSON values (nested objects whole)."""
        data = _deep_copy(self.params)
        changed: set[str] = set()
        for f in self.fields:
            if f.state() == f.initial:
                continue  # untouched: keep the exact value, not the rounded display
            value = f.read()
            if value == f.original:
                continue
            target = data
            for key in f.path[:-1]:
                target = target[key]
            target[f.path[-1]] = value
            changed.add(f.path[0])
        return {k: data[k] for k in changed}


def _deep_copy(data):
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data


# -- the panel ---------------------------------------------------------------------------------
class HistoryPanel(QWidget):
    """The history list with a parameter editor, roll back, delete, undo and redo."""

    def __init__(self, session: Session, bridge: SessionBridge, jobs: JobRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.jobs = jobs
        self.form: ParameterForm | None = None

        self.list = QListWidget()
        self.list.setObjectName("history")
        self.list.currentRowChanged.connect(self._selection_changed)

        self.undo_button = QPushButton("Undo")
        self.redo_button = QPushButton("Redo")
        self.undo_button.clicked.connect(self._undo)
        self.redo_button.clicked.connect(self._redo)
        undo_row = QHBoxLayout()
        undo_row.addWidget(self.undo_button)
        undo_row.addWidget(self.redo_button)

        self.editor = QGroupBox("Parameters")
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.apply_button = QPushButton("Apply")
        self.rollback_button = QPushButton("Roll back here")
        self.delete_button = QPushButton("Delete")
        self.apply_button.setToolTip("Regenerate the model with these parameters")
        self.rollback_button.setToolTip("Drop every later step (undo brings them back)")
        self.delete_button.setToolTip("Remove this step; refused when a later step builds on it")
        self.apply_button.clicked.connect(self.apply)
        self.rollback_button.clicked.connect(self.roll_back)
        self.delete_button.clicked.connect(self.delete)
        actions = QHBoxLayout()
        for b in (self.apply_button, self.rollback_button, self.delete_button):
            actions.addWidget(b)
        box = QVBoxLayout(self.editor)
        box.addWidget(self.scroll)
        box.addLayout(actions)

        self.message = QLabel()
        self.message.setObjectName("history-message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()

        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 2)
        layout.addLayout(undo_row)
        layout.addWidget(self.editor, 3)
        layout.addWidget(self.message)

        bridge.changed.connect(self.refresh)
        jobs.started.connect(lambda _title: self._update_buttons())
        jobs.ended.connect(lambda _title, _ok: self._update_buttons())
        self.refresh()

    # -- reading the document -----------------------------------------------------------------
    def refresh(self, _what: str = "") -> None:
        """Show the current history; keep the selected step (or the nearest one still there)."""
        history = self.session.history
        row = self.list.currentRow()
        keep = row if row >= 0 else None
        self.list.blockSignals(True)
        try:
            while self.list.count() > len(history):
                self.list.takeItem(self.list.count() - 1)
            for k, op in enumerate(history):
                text = f"{k + 1}. {op.describe()}"
                if k < self.list.count():
                    if self.list.item(k).text() != text:
                        self.list.item(k).setText(text)
                else:
                    self.list.addItem(text)
            if keep is not None and history:
                self.list.setCurrentRow(min(keep, len(history) - 1))
            else:
                self.list.setCurrentRow(-1)
        finally:
            self.list.blockSignals(False)
        self._show_step(self.selected_step())
        self._update_buttons()

    def selected_step(self) -> int | None:
        row = self.list.currentRow()
        return row if 0 <= row < len(self.session.history) else None

    def select_step(self, step: int | None) -> None:
        self.list.setCurrentRow(-1 if step is None else step)

    def _selection_changed(self, _row: int) -> None:
        self._clear_message()
        self._show_step(self.selected_step())
        self._update_buttons()

    def _show_step(self, step: int | None) -> None:
        op = None if step is None else self.session.history[step]
        if self.form is not None and op is self.form.op:
            return  # same step object: keep what the user is typing
        old = self.scroll.takeWidget()
        if old is not None:
            old.deleteLater()
        self.form = None
        if op is None:
            self.editor.setTitle("Parameters")
            return
        self.editor.setTitle(f"Step {step + 1}: {op.title}")
        self.form = ParameterForm(op)
        self.scroll.setWidget(self.form)

    def _update_buttons(self) -> None:
        doc = self.session.document
        idle = not self.jobs.busy
        has_step = self.selected_step() is not None
        for b in (self.apply_button, self.rollback_button, self.delete_button):
            b.setEnabled(idle and has_step)
        self.undo_button.setEnabled(idle and doc.can_undo)
        self.redo_button.setEnabled(idle and doc.can_redo)
        self.undo_button.setToolTip(f"Undo {doc.undo_text}" if doc.undo_text else "Nothing to undo")
        self.redo_button.setToolTip(f"Redo {doc.redo_text}" if doc.redo_text else "Nothing to redo")

    # -- changing it through the session ------------------------------------------------------
    def apply(self) -> None:
        """Regenerate the model with the form's parameters for the selected step (in a worker)."""
        step, form = self.selected_step(), self.form
        if step is None or form is None:
            return
        try:
            changes = form.changes()
        except FieldError as exc:
            self.show_error(str(exc))
            return
        if not changes:
            self.show_note("Nothing to apply: no parameter was changed.")
            return
        session = self.session

        def job(progress):
            return session.edit(step, progress=progress, **changes)
        self._run(f"Edit step {step + 1}", job)

    def roll_back(self) -> None:
        """Drop the steps after the selected one (undoable)."""
        step = self.selected_step()
        if step is None:
            return
        self._clear_message()
        try:
            self.session.document.roll_back(step)
        except Exception as exc:  # shown to the user; the model stays as it was
            self.show_error(str(exc))

    def delete(self) -> None:
        """Remove the selected step (in a worker); refused when a later step depends on it."""
        step = self.selected_step()
        if step is None:
            return
        document = self.session.document

        def job(progress):
            document.delete(step, progress)
        self._run(f"Delete step {step + 1}", job)

    def _run(self, title: str, job) -> None:
        self._clear_message()
        started = self.jobs.run(title, job, on_done=lambda _result: self._clear_message(),
                                on_failed=self.show_error)
        if not started:
            self.show_error("Another change is still running; wait for it to finish, then try again.")
        self._update_buttons()

    def _undo(self) -> None:
        self._clear_message()
        self.session.undo()

    def _redo(self) -> None:
        self._clear_message()
        self.session.redo()

    # -- messages -----------------------------------------------------------------------------
    def show_error(self, text: str) -> None:
        self.message.setStyleSheet(_ERROR_STYLE)
        self.message.setText(text)
        self.message.show()

    def show_note(self, text: str) -> None:
        self.message.setStyleSheet("")
        self.message.setText(text)
        self.message.show()

    def _clear_message(self) -> None:
        self.message.clear()
        self.message.hide()

    def message_text(self) -> str:
        """The error or note shown under the editor ("" when none)."""
        return self.message.text() if not self.message.isHidden() else ""
