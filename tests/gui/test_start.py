"""The start page as a new user meets it: template cards that start a document, recent files (the
missing ones greyed and inert), Open… and Start sketching, one sketch card per mode, no cut text."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from sketchforge.app.start import MAX_RECENT_SHOWN, ModeCard, StartPage, StrokeSwatch
from sketchforge.modeling.contract import PLAIN, ModeSpec, StrokeKind
from sketchforge.modeling.templates import templates

pytestmark = pytest.mark.gui

CAD = ModeSpec("cad", "CAD operations", (PLAIN,),
               guide=("Draw over the model, on one of its faces, from any view.",
                      "Space reads the sketch; Tab: next proposal, Enter: accept, Esc: dismiss."))
FACE = ModeSpec("face", "Character faces",
                (StrokeKind(None, "Outline and features", (255, 140, 26), "The head's outline, eyes, nose"),
                 StrokeKind("ridge", "Ridge", (255, 64, 64), "Raised detail"),
                 StrokeKind("valley", "Valley", (60, 190, 90), "Sunken detail")),
                keeps_strokes=True, view="front",
                guide=("Draw the head from the front: first its outline, then the eyes, nose, mouth and ears.",))


@pytest.fixture
def page(qtbot, tmp_path):
    here = tmp_path / "bracket.sketchforge"
    here.write_bytes(b"")
    gone = tmp_path / "gone" / "old-head.sketchforge"
    w = StartPage(templates=list(templates().values()), modes=[CAD, FACE], recent=[here, gone])
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    return w


def _texts(widget) -> list[str]:
    return [label.text() for label in widget.findChildren(QLabel)]


def test_clicking_a_template_card_chooses_it(page, qtbot):
    names = [b.template.name for b in page.template_buttons]
    assert names == ["box", "plate", "cylinder", "demo", "face"]
    face = page.template_buttons[-1]
    assert "Face" in _texts(face) and face.template.description in _texts(face)
    with qtbot.waitSignal(page.template_chosen, timeout=1000) as blocker:
        qtbot.mouseClick(face, Qt.MouseButton.LeftButton)
    assert blocker.args == ["face"]
    with qtbot.waitSignal(page.template_chosen, timeout=1000) as blocker:   # the keyboard works too
        page.template_buttons[0].setFocus()
        qtbot.keyClick(page.template_buttons[0], Qt.Key.Key_Space)
    assert blocker.args == ["box"]


def test_recent_files_show_name_and_folder_and_missing_ones_are_greyed(page, qtbot, tmp_path):
    here, gone = page.recent_buttons
    assert "bracket.sketchforge" in _texts(here) and str(tmp_path) in " ".join(_texts(here))
    assert here.isEnabled() and not gone.isEnabled() and gone.missing
    assert "not found" in " ".join(_texts(gone)) and "moved or deleted" in gone.toolTip()
    with qtbot.assertNotEmitted(page.recent_chosen):
        qtbot.mouseClick(gone, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(page.recent_chosen, timeout=1000) as blocker:
        qtbot.mouseClick(here, Qt.MouseButton.LeftButton)
    assert blocker.args == [str(tmp_path / "bracket.sketchforge")]


def test_the_recent_list_is_replaced_capped_and_says_when_it_is_empty(page, tmp_path):
    page.set_recent([tmp_path / f"part{i}.sketchforge" for i in range(MAX_RECENT_SHOWN + 4)])
    assert len(page.recent_buttons) == MAX_RECENT_SHOWN
    assert not page._no_recent.isVisible()
    page.set_recent([])
    assert not page.recent_buttons and page._no_recent.isVisible()
    assert "No recent files" in page._no_recent.text()


def test_open_and_start_sketching_and_escape(page, qtbot):
    with qtbot.waitSignal(page.open_requested, timeout=1000):
        qtbot.mouseClick(page.open_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(page.dismissed, timeout=1000):
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(page.dismissed, timeout=1000):
        qtbot.keyClick(page, Qt.Key.Key_Escape)


def test_one_sketch_card_per_mode_with_its_guide_and_stroke_colors(page):
    assert [c.mode.name for c in page.mode_cards] == ["cad", "face"]
    face = page.mode_cards[1]
    texts = _texts(face)
    assert "Character faces" in texts and FACE.guide[0] in texts
    assert any("front view" in t for t in texts)
    assert [s.kind.color for s in face.findChildren(StrokeSwatch)] == [(255, 140, 26), (255, 64, 64), (60, 190, 90)]
    assert {"Ridge", "Valley", "Raised detail"} <= set(texts)
    page.set_modes([FACE])
    assert [c.mode.name for c in page.mode_cards] == ["face"]
    assert len(page.findChildren(ModeCard)) == 1


def test_no_text_is_cut_at_1280_by_800(page, qtbot):
    qtbot.wait(10)
    for label in page.findChildren(QLabel):
        if not label.isVisible() or not label.text():
            continue
        if label.wordWrap():
            assert label.height() >= label.heightForWidth(label.width()), label.text()
        else:
            assert label.width() >= label.fontMetrics().horizontalAdvance(label.text()) - 1 or \
                type(label).__name__ == "ElidedLabel", label.text()
    for button in page.template_buttons:
        assert button.height() >= button.sizeHint().height()
