"""The Help menu's dialogs: keyboard shortcuts, the sketch guide and About.

Each builder returns a QDialog that deletes itself when closed; the window shows it with
`.open()` (window-modal) or `.show()`. The shortcuts are read from the window's actions
(grouped by their "group" property where they carry one), the sketch guide from the back ends'
declared modes (the start page's `ModeCard`), so neither needs updating by hand.
"""

from __future__ import annotations

import html
import importlib.metadata
import re
from typing import Sequence

from PySide6 import __version__ as PYSIDE_VERSION
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QScrollArea,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sketchforge.modeling.contract import ModeSpec

from .start import ModeCard

__all__ = ["about_dialog", "action_label", "guide_dialog", "shortcut_rows", "shortcuts_dialog"]

OTHER_GROUP = "Other"

# What ships with Sketchforge besides its own code: (name, distribution for the version, licence).
_COMPONENTS = (
    ("Qt", None, "LGPL-3.0"),
    ("PySide6 (Qt for Python)", "PySide6", "LGPL-3.0"),
    ("OpenCascade (OCP)", "cadquery-ocp", "LGPL-2.1 with the Open CASCADE exception"),
    ("cadquery", "cadquery", "Apache-2.0"),
    ("PyTorch", "torch", "BSD-3-Clause"),
    ("NumPy", "numpy", "BSD-3-Clause"),
    ("SciPy", "scipy", "BSD-3-Clause"),
    ("scikit-image", "scikit-image", "BSD-3-Clause"),
    ("OpenCV", "opencv-python-headless", "Apache-2.0"),
    ("Open3D", "open3d", "MIT"),
    ("trimesh", "trimesh", "MIT"),
    ("pyqtgraph", "pyqtgraph", "MIT"),
    ("qtconsole", "qtconsole", "BSD-3-Clause"),
    ("safetensors", "safetensors", "Apache-2.0"),
)


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _dialog(title: str, parent: QWidget | None, name: str) -> tuple[QDialog, QVBoxLayout]:
    dialog = QDialog(parent)
    dialog.setObjectName(name)
    dialog.setWindowTitle(title)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    layout = QVBoxLayout(dialog)
    layout.setContentsMargins(16, 16, 16, 12)
    layout.setSpacing(10)
    return dialog, layout


def _close_buttons(dialog: QDialog, layout: QVBoxLayout) -> QDialogButtonBox:
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
    buttons.rejected.connect(dialog.reject)
    layout.addWidget(buttons)
    return buttons


# -- shortcuts ----------------------------------------------------------------------------------------
def action_label(action: QAction) -> str:
    """An action's text as a list shows it: no '&' mnemonics, no trailing '…', no tab part."""
    text = action.text().split("\t", 1)[0]
    text = re.sub(r"&(.)", r"\1", text)
    return text.rstrip(".…").strip()


def shortcut_rows(actions: Sequence[QAction]) -> list[tuple[str, str, str]]:
    """(group, action text, shortcuts in native text) for every action with a shortcut, in order;
    group is the action's "group" property, or `OTHER_GROUP` ("" when no action has a group)."""
    seen: set[int] = set()
    rows = []
    for action in actions:
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts() if not k.isEmpty()]
        if not keys or id(action) in seen or action.isSeparator():
            continue
        seen.add(id(action))
        group = action.property("group")
        rows.append((str(group) if group else "", action_label(action), ", ".join(keys)))
    if any(g for g, _, _ in rows):
        rows = [(g or OTHER_GROUP, text, keys) for g, text, keys in rows]
    return rows


def shortcuts_dialog(actions: Sequence[QAction], parent: QWidget | None = None) -> QDialog:
    """Every action that has a shortcut, with the shortcut as this platform writes it, grouped by
    the actions' "group" property when they carry one; a filter box narrows the list."""
    dialog, layout = _dialog("Keyboard Shortcuts", parent, "shortcutsDialog")
    search = QLineEdit(dialog)
    search.setPlaceholderText("Filter by action or key")
    search.setClearButtonEnabled(True)
    layout.addWidget(search)
    tree = QTreeWidget(dialog)
    tree.setObjectName("shortcuts")
    tree.setColumnCount(2)
    tree.setHeaderLabels(["Action", "Shortcut"])
    tree.setRootIsDecorated(False)
    tree.setUniformRowHeights(True)
    tree.setAlternatingRowColors(True)
    tree.setSelectionMode(QTreeWidget.SelectionMode.NoSelection)
    tree.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
    tree.header().setStretchLastSection(False)
    bold = QFont(tree.font())
    bold.setBold(True)
    groups: dict[str, QTreeWidgetItem] = {}
    rows = shortcut_rows(actions)
    for group, text, keys in rows:
        parent_item = tree.invisibleRootItem()
        if group:
            parent_item = groups.get(group)
            if parent_item is None:
                parent_item = QTreeWidgetItem(tree, [group])
                parent_item.setFont(0, bold)
                parent_item.setFirstColumnSpanned(True)
                parent_item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                groups[group] = parent_item
        item = QTreeWidgetItem(parent_item, [text, keys])
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
    tree.expandAll()
    tree.setItemsExpandable(False)
    if not rows:
        QTreeWidgetItem(tree, ["No actions have shortcuts", ""])
    layout.addWidget(tree, 1)

    def narrow(text: str) -> None:
        needle = text.strip().lower()
        for g in range(tree.topLevelItemCount()):
            top = tree.topLevelItem(g)
            children = [top.child(i) for i in range(top.childCount())] or [top]
            shown = 0
            for item in children:
                hit = not needle or needle in item.text(0).lower() or needle in item.text(1).lower()
                item.setHidden(not hit)
                shown += hit
            if top.childCount():
                top.setHidden(shown == 0)

    search.textChanged.connect(narrow)
    _close_buttons(dialog, layout)
    dialog.resize(520, 620)
    return dialog


# -- the sketch guide ---------------------------------------------------------------------------------
def guide_dialog(modes: Sequence[ModeSpec], parent: QWidget | None = None) -> QDialog:
    """The sketch guide: the "how to sketch" card of every mode, as on the start page."""
    dialog, layout = _dialog("Sketch Guide", parent, "guideDialog")
    intro = QLabel("Each mode reads a different kind of sketch. Pick the mode in the toolbar, "
                   "draw, then press Space to see what the sketch becomes.", dialog)
    intro.setWordWrap(True)
    layout.addWidget(intro)
    scroll = QScrollArea(dialog)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    body = QWidget()
    column = QVBoxLayout(body)
    column.setContentsMargins(0, 0, 4, 0)
    column.setSpacing(12)
    for mode in modes:
        column.addWidget(ModeCard(mode, body))
    if not modes:
        column.addWidget(QLabel("No sketch modes are installed.", body))
    column.addStretch(1)
    scroll.setWidget(body)
    layout.addWidget(scroll, 1)
    _close_buttons(dialog, layout)
    dialog.resize(560, 680)
    return dialog


# -- about --------------------------------------------------------------------------------------------
def _licence_rows() -> list[tuple[str, str, str]]:
    """(component, version, licence) for what ships with the app; components not installed are left out."""
    rows = []
    for name, distribution, licence in _COMPONENTS:
        version = qVersion() if distribution is None else _version(distribution)
        if distribution == "PySide6":
            version = version or PYSIDE_VERSION
        if version is not None:
            rows.append((name, version, licence))
    return rows


def about_dialog(parent: QWidget | None = None) -> QDialog:
    """The version, what Sketchforge is, and the licences of everything that ships with it."""
    dialog, layout = _dialog("About Sketchforge", parent, "aboutDialog")
    version = _version("sketchforge") or "a development copy"
    title = QLabel("Sketchforge", dialog)
    font = QFont(title.font())
    font.setPointSizeF(font.pointSizeF() * 1.8)
    font.setBold(True)
    title.setFont(font)
    layout.addWidget(title)
    summary = ("Sketch-to-3D modeling: draw over the model and get real CAD operations, faces, "
               "point clouds, fields and scenes.")
    try:
        summary = importlib.metadata.metadata("sketchforge")["Summary"] or summary
    except importlib.metadata.PackageNotFoundError:
        pass
    head = QLabel(f"Version {html.escape(version)}<br>{html.escape(summary)}", dialog)
    head.setObjectName("version")
    head.setWordWrap(True)
    layout.addWidget(head)
    rows = "".join(f"<tr><td>{html.escape(n)}</td><td>&nbsp;{html.escape(v)}&nbsp;</td><td>{html.escape(lic)}</td></tr>"
                   for n, v, lic in _licence_rows())
    text = (
        "<p><b>Sketchforge</b> is free software under the MIT licence.</p>"
        "<p>The networks it ships (<tt>assets/cad/</tt>, <tt>assets/face/</tt>) were trained by the "
        "Sketchforge project on data it generates itself, and come under the same MIT licence; "
        "each folder's <tt>MODEL_CARD.md</tt> says how they were made and how well they read sketches.</p>"
        "<p>It is built on these libraries, each under its own licence. Qt and PySide6 are used under "
        "the LGPL version 3, and OpenCascade (the CAD kernel, through cadquery) under the LGPL version 2.1: "
        "you may replace them with your own builds of the same versions.</p>"
        f"<table cellspacing='2'><tr><th align='left'>Component</th><th align='left'>&nbsp;Version&nbsp;</th>"
        f"<th align='left'>Licence</th></tr>{rows}</table>")
    licences = QLabel(text, dialog)
    licences.setObjectName("licences")
    licences.setTextFormat(Qt.TextFormat.RichText)
    licences.setWordWrap(True)
    licences.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    licences.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    scroll = QScrollArea(dialog)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setWidget(licences)
    layout.addWidget(scroll, 1)
    buttons = _close_buttons(dialog, layout)
    about_qt = buttons.addButton("About Qt", QDialogButtonBox.ButtonRole.HelpRole)
    about_qt.clicked.connect(lambda: QMessageBox.aboutQt(dialog, "About Qt"))
    dialog.resize(560, 600)
    return dialog
