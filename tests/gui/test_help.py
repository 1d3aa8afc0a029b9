"""The Help dialogs as a user reads them: every shortcut in this platform's writing, grouped and
filterable; the sketch guide's card per mode; About with the version and the licences."""

from __future__ import annotations

import importlib.metadata

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialogButtonBox, QLabel, QLineEdit, QTreeWidget, QWidget

from sketchforge.app.help import about_dialog, action_label, guide_dialog, shortcut_rows, shortcuts_dialog
from sketchforge.app.start import ModeCard
from sketchforge.modeling.contract import PLAIN, ModeSpec, StrokeKind

pytestmark = pytest.mark.gui


@pytest.fixture
def host(qtbot):
    w = QWidget()
    qtbot.addWidget(w)
    return w


def _action(parent, text, keys=None, group=None):
    a = QAction(text, parent)
    if keys is not None:
        a.setShortcuts(keys if isinstance(keys, list) else [QKeySequence(keys)])
    if group is not None:
        a.setProperty("group", group)
    return a


def _rows(tree: QTreeWidget) -> list[tuple[str, ...]]:
    out = []
    for i in range(tree.topLevelItemCount()):
        top = tree.topLevelItem(i)
        if top.childCount():
            out += [(top.text(0), top.child(j).text(0), top.child(j).text(1)) for j in range(top.childCount())
                    if not top.child(j).isHidden()]
        elif not top.isHidden():
            out.append((top.text(0), top.text(1)))
    return out


def test_the_shortcuts_dialog_lists_every_shortcut_grouped_in_native_text(host, qtbot):
    native = QKeySequence(QKeySequence.StandardKey.Open).toString(QKeySequence.SequenceFormat.NativeText)
    redo = [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")]
    actions = [_action(host, "&Open…", QKeySequence.StandardKey.Open, "File"),
               _action(host, "Save &As...", "Ctrl+Shift+S", "File"),
               _action(host, "Export (no shortcut)", None, "File"),
               _action(host, "&Redo", redo, "Edit"),
               _action(host, "Fit &all", "F"),
               _action(host, "Salt && pepper", "Ctrl+K", "Edit")]
    dialog = shortcuts_dialog(actions + actions[:1], host)   # an action listed twice shows once
    qtbot.addWidget(dialog)
    tree = dialog.findChild(QTreeWidget, "shortcuts")
    redo_text = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in redo)
    assert _rows(tree) == [("File", "Open", native), ("File", "Save As", "Ctrl+Shift+S"),
                           ("Edit", "Redo", redo_text), ("Edit", "Salt & pepper", "Ctrl+K"),
                           ("Other", "Fit all", "F")]
    assert dialog.windowTitle() == "Keyboard Shortcuts"

    search = dialog.findChild(QLineEdit)
    search.setText("ctrl+shift")
    assert [r[1] for r in _rows(tree)] == ["Save As", "Redo"]
    assert tree.topLevelItem(2).isHidden()                   # "Other" has nothing left
    search.clear()
    assert len(_rows(tree)) == 5


def test_without_groups_the_list_is_flat_and_closing_closes(host, qtbot):
    actions = [_action(host, "&Pen", "P"), _action(host, "&Eraser", "E"), _action(host, "Clear")]
    assert shortcut_rows(actions) == [("", "Pen", "P"), ("", "Eraser", "E")]
    dialog = shortcuts_dialog(actions, host)
    qtbot.addWidget(dialog)
    assert _rows(dialog.findChild(QTreeWidget, "shortcuts")) == [("Pen", "P"), ("Eraser", "E")]
    dialog.show()
    with qtbot.waitSignal(dialog.finished, timeout=1000):
        dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Close).click()


def test_action_labels_lose_mnemonics_and_ellipses(host):
    assert action_label(_action(host, "Save &As…")) == "Save As"
    assert action_label(_action(host, "R&&D notes...")) == "R&D notes"


def test_the_sketch_guide_has_the_card_of_every_mode(host, qtbot):
    modes = [ModeSpec("cad", "CAD operations", (PLAIN,), guide=("Draw over the model.",)),
             ModeSpec("scene", "Game scenes", (StrokeKind("water", "Water", (40, 120, 255), "Rivers and lakes"),),
                      view="top", prompt="optional", guide=("Draw from above.",))]
    dialog = guide_dialog(modes, host)
    qtbot.addWidget(dialog)
    cards = dialog.findChildren(ModeCard)
    assert [c.mode.name for c in cards] == ["cad", "scene"]
    texts = [label.text() for label in cards[1].findChildren(QLabel)]
    assert {"Game scenes", "Draw from above.", "Water", "Rivers and lakes"} <= set(texts)
    assert any("top view" in t and "optional text prompt" in t for t in texts)


def test_about_gives_the_version_and_the_licences(host, qtbot):
    dialog = about_dialog(host)
    qtbot.addWidget(dialog)
    version = dialog.findChild(QLabel, "version").text()
    assert f"Version {importlib.metadata.version('sketchforge')}" in version
    licences = dialog.findChild(QLabel, "licences").text()
    for words in ("MIT licence", "MODEL_CARD.md", "assets/face/", "PySide6", "LGPL-3.0", "OpenCascade",
                  "LGPL-2.1", "cadquery"):
        assert words in licences, words
    buttons = [b.text() for b in dialog.findChild(QDialogButtonBox).buttons()]
    assert "About Qt" in buttons
    assert dialog.testAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
