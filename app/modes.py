"""Widgets drawn from the back ends' declarations: the mode box, the stroke kinds, the prompt and
each mode's options menu (as Blender draws an operator's panel from its properties).

Nothing here knows a particular back end: a mode's title, stroke kinds and prompt come from its
`ModeSpec`, its options from the options dataclass (`contract.describe_options`); options the user
picks are kept as preferences under `options/<back end>/<name>`.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping, Sequence

from PySide6.QtGui import QAction, QActionGroup, QColor, QIcon, QPixmap
from PySide6.QtWidgets import QComboBox, QLineEdit, QMenu, QWidget

from sketchforge.modeling.contract import ModeSpec, OptionInfo, StrokeKind, describe_options

from . import paths

log = logging.getLogger(__name__)


def swatch(color: tuple[int, int, int], size: int = 12) -> QIcon:
    """A small square of a stroke kind's color."""
    pix = QPixmap(size, size)
    pix.fill(QColor(*color))
    return QIcon(pix)


def fill_mode_box(box: QComboBox, modes: Mapping[str, ModeSpec], current: str) -> None:
    """The registered modes (cad first) by title; a mode with no back end (a sketch file's) is
    listed as such."""
    box.blockSignals(True)
    box.clear()
    names = sorted(modes, key=lambda m: (m != "cad", m))
    if current not in modes:
        names.append(current)
    for name in names:
        spec = modes.get(name)
        box.addItem(f"{spec.title} ({name})" if spec else f"{name} (no back end)", name)
    box.setCurrentIndex(max(box.findData(current), 0))
    box.blockSignals(False)


def fill_kind_box(box: QComboBox, kinds: Sequence[StrokeKind], current: str | None) -> None:
    """The mode's stroke kinds with their colors; keeps `current` when the mode has it."""
    box.blockSignals(True)
    box.clear()
    for k in kinds:
        box.addItem(swatch(k.color), k.label, k.name)
        if k.tip:
            box.setItemData(box.count() - 1, k.tip, 3)  # Qt.ToolTipRole
    box.setCurrentIndex(max(box.findData(current), 0))
    box.setEnabled(len(kinds) > 1)
    box.blockSignals(False)


def prompt_field(parent: QWidget | None = None) -> QLineEdit:
    edit = QLineEdit(parent)
    edit.setClearButtonEnabled(True)
    edit.setMinimumWidth(220)
    return edit


def show_prompt(edit: QLineEdit, spec: ModeSpec | None) -> None:
    """Shown for modes that read a prompt, with a placeholder saying whether it is needed."""
    wanted = spec is not None and spec.prompt != "none"
    edit.setVisible(wanted)
    if wanted:
        edit.setPlaceholderText("Prompt: what it is, its colors" + (" (optional)" if spec.prompt == "optional"
                                                                   else " (needed)"))


def saved_options(backend_name: str, options: Any) -> dict[str, Any]:
    """The preferences kept for a back end's options that still fit them (others are dropped)."""
    s = paths.settings()
    out: dict[str, Any] = {}
    for info in describe_options(options):
        raw = s.value(f"options/{backend_name}/{info.name}")
        if raw is None:
            continue
        value = _parse(raw, info)
        if value is not None and (info.choices is None or value in info.choices):
            out[info.name] = value
    return out


def keep_option(backend_name: str, name: str, value: Any) -> None:
    paths.settings().setValue(f"options/{backend_name}/{name}", value)


def _parse(raw: Any, info: OptionInfo) -> Any:
    try:
        if info.kind is bool:
            return str(raw).lower() == "true"
        if info.kind is int:
            return int(raw)
        if info.kind is float:
            return float(raw)
        return str(raw)
    except (TypeError, ValueError):
        return None


def fill_options_menu(menu: QMenu, title: str, options: Any, change: Callable[[str, Any], None]) -> dict[str, Any]:
    """The options as menu entries: a check box per on/off option, a radio group per choice.
    `change(name, value)` is called when the user picks one. Returns the entries by option name
    (an action, or a dict value -> action for a choice)."""
    menu.clear()
    menu.setTitle(f"{title} &options")
    entries: dict[str, Any] = {}
    infos = describe_options(options)
    for info in infos:
        if info.kind is bool:
            a = QAction(info.label, menu, checkable=True)
            a.setChecked(bool(info.value))
            a.setToolTip(info.tip)
            a.setStatusTip(info.tip)
            a.toggled.connect(lambda on, n=info.name: change(n, bool(on)))
            menu.addAction(a)
            entries[info.name] = a
        elif info.choices:
            sub = menu.addMenu(info.label)
            group = QActionGroup(sub)
            by_value = {}
            for value, text in info.choices.items():
                a = QAction(text[:1].upper() + text[1:], sub, checkable=True)
                a.setChecked(value == info.value)
                a.triggered.connect(lambda checked=False, n=info.name, v=value: change(n, v))
                group.addAction(a)
                sub.addAction(a)
                by_value[value] = a
            entries[info.name] = by_value
        else:
            log.debug("option %s of type %s has no menu widget", info.name, info.kind.__name__)
    menu.setEnabled(bool(entries))
    return entries


def check_entry(entries: Mapping[str, Any], name: str, value: Any) -> None:
    """Show `value` as picked in the options menu (after a change from the console, say)."""
    entry = entries.get(name)
    if isinstance(entry, QAction):
        entry.blockSignals(True)
        entry.setChecked(bool(value))
        entry.blockSignals(False)
    elif isinstance(entry, dict) and value in entry:
        entry[value].setChecked(True)
