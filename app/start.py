"""The start page: what a new user meets in place of the empty viewport.

Three things to do next, in the order a newcomer looks for them: start from a template (a row of
cards, each with a small drawing of what it makes), open a file (Open… and the recent files;
files that have gone are greyed), and learn to sketch (one "how to sketch" card per mode, built
from the back ends' `ModeSpec` declarations, with the stroke kinds in their colors). "Start
sketching" (or Esc) dismisses it for the empty canvas.

The page holds no model state: the window gives it templates, modes and recent paths, and
listens to its signals (`template_chosen`, `recent_chosen`, `open_requested`, `dismissed`).
`ModeCard` is reused by the sketch guide (`help.guide_dialog`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QKeyEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from sketchforge.modeling.contract import ModeSpec, StrokeKind
from sketchforge.modeling.templates import Template

__all__ = ["MAX_RECENT_SHOWN", "ModeCard", "RecentButton", "StartPage", "TemplateButton", "template_icon"]

MAX_RECENT_SHOWN = 8
TEMPLATES_PER_ROW = 5
ICON_SIZE = 72
CONTENT_WIDTH = 1140   # the page's content is centred and no wider than this

# Model colors of the template drawings (light faces, dark edges: legible on light and dark themes).
_TOP, _SIDE_X, _SIDE_Y, _EDGE = QColor(214, 225, 240), QColor(140, 164, 196), QColor(176, 196, 222), QColor(44, 58, 78)

_CARD_STYLE = "QFrame#card { background: palette(base); border: 1px solid palette(mid); border-radius: 10px; }"
_STYLE = """
#startContent { background: palette(window); }
QPushButton#templateButton, QPushButton#recentButton {
    background: palette(base); border: 1px solid palette(mid); border-radius: 10px; text-align: left; }
QPushButton#recentButton { border-radius: 6px; border-color: transparent; background: transparent; }
QPushButton#templateButton:hover, QPushButton#recentButton:hover {
    border-color: palette(highlight); background: palette(base); }
QPushButton#templateButton:focus, QPushButton#recentButton:focus { border: 2px solid palette(highlight); }
QPushButton#templateButton:pressed, QPushButton#recentButton:pressed { background: palette(alternate-base); }
QPushButton#recentButton:disabled { background: transparent; }
QPushButton#primaryButton, QPushButton#secondaryButton {
    border: 1px solid palette(mid); border-radius: 6px; padding: 7px 18px; background: palette(base); }
QPushButton#primaryButton { background: palette(highlight); color: palette(highlighted-text);
    border-color: palette(highlight); font-weight: bold; }
QPushButton#secondaryButton:hover { border-color: palette(highlight); }
QPushButton#primaryButton:focus, QPushButton#secondaryButton:focus { border: 2px solid palette(shadow); }
"""


# -- small pieces -------------------------------------------------------------------------------------
def _font(widget: QWidget, scale: float = 1.0, bold: bool = False) -> QFont:
    font = QFont(widget.font())
    font.setPointSizeF(font.pointSizeF() * scale)
    font.setBold(bold)
    return font


def _label(text: str, parent: QWidget, *, scale: float = 1.0, bold: bool = False, wrap: bool = False,
           name: str = "") -> QLabel:
    label = QLabel(text, parent)
    label.setFont(_font(parent, scale, bold))
    label.setWordWrap(wrap)
    label.setTextFormat(Qt.TextFormat.PlainText)
    if name:
        label.setObjectName(name)
    if name in ("muted", "sectionTitle"):
        _mute(label)
    return label


def _mute(widget: QWidget) -> None:
    """Secondary text: the text color two fifths of the way to the background (legible in any theme)."""
    palette = QApplication.palette()
    text, back = palette.color(QPalette.ColorRole.WindowText), palette.color(QPalette.ColorRole.Window)
    muted = QColor.fromRgbF(*(0.6 * a + 0.4 * b for a, b in zip(text.getRgbF()[:3], back.getRgbF()[:3])))
    widget.setStyleSheet(f"color: {muted.name()};")


def _section(title: str, parent: QWidget) -> QLabel:
    return _label(title.upper(), parent, scale=0.85, bold=True, name="sectionTitle")


class ElidedLabel(QLabel):
    """A one-line label that shortens its text with an ellipsis instead of widening the layout."""

    def __init__(self, text: str, parent: QWidget | None = None,
                 mode: Qt.TextElideMode = Qt.TextElideMode.ElideMiddle) -> None:
        super().__init__(text, parent)
        self._mode = mode
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setToolTip(text)

    def minimumSizeHint(self) -> QSize:
        return QSize(40, super().minimumSizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        text = self.fontMetrics().elidedText(self.text(), self._mode, self.width())
        painter.drawText(self.rect(), int(self.alignment() | Qt.AlignmentFlag.AlignVCenter), text)


def _let_clicks_through(*widgets: QWidget) -> None:
    """Children of a card button pass clicks on to the button."""
    for w in widgets:
        w.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)


def _remove(widgets: list[QWidget]) -> None:
    """Take widgets out of their layout at once (not at the next event loop turn) and delete them."""
    for w in widgets:
        w.hide()
        w.setParent(None)
        w.deleteLater()
    widgets.clear()


class StrokeSwatch(QWidget):
    """A short wavy stroke in a stroke kind's color: what the pen draws with that tool."""

    def __init__(self, kind: StrokeKind, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.setFixedSize(34, 18)
        self.setToolTip(kind.tip or kind.label)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(QColor(*self.kind.color), 3.0, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        path = QPainterPath()
        w, h = self.width(), self.height()
        for i in range(25):
            x = 3 + (w - 6) * i / 24
            y = h / 2 + (h / 2 - 4) * math.sin(i / 24 * 2 * math.pi)
            if i == 0:
                path.moveTo(x, y)
            else:
                path.lineTo(x, y)
        painter.drawPath(path)


# -- template drawings --------------------------------------------------------------------------------
def _iso(x: float, y: float, z: float) -> QPointF:
    """An isometric view from (+x, +y, +z): x runs down-right, y down-left, z up."""
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    return QPointF((x - y) * c, (x + y) * s - z)


def _prism_faces(lo: tuple[float, float, float], hi: tuple[float, float, float]) -> list[tuple[list[QPointF], QColor]]:
    (x0, y0, z0), (x1, y1, z1) = lo, hi
    top = [_iso(x0, y0, z1), _iso(x1, y0, z1), _iso(x1, y1, z1), _iso(x0, y1, z1)]
    side_x = [_iso(x1, y0, z0), _iso(x1, y1, z0), _iso(x1, y1, z1), _iso(x1, y0, z1)]
    side_y = [_iso(x0, y1, z0), _iso(x1, y1, z0), _iso(x1, y1, z1), _iso(x0, y1, z1)]
    return [(top, _TOP), (side_x, _SIDE_X), (side_y, _SIDE_Y)]


def _ellipse_pts(cx: float, cy: float, z: float, r: float, n: int = 48) -> list[QPointF]:
    return [_iso(cx + r * math.cos(t), cy + r * math.sin(t), z) for t in (2 * math.pi * i / n for i in range(n))]


def _cylinder_faces(r: float, h: float) -> list[tuple[list[QPointF], QColor]]:
    # the side: from the leftmost to the rightmost silhouette point, along the near half
    near = [_iso(r * math.cos(t), r * math.sin(t), 0) for t in
            (math.radians(-45 + 180 * i / 32) for i in range(33))]
    far = [_iso(r * math.cos(t), r * math.sin(t), h) for t in
           (math.radians(135 - 180 * i / 32) for i in range(33))]
    return [(near + far, _SIDE_Y), (_ellipse_pts(0, 0, h, r), _TOP)]


def _drawing(name: str) -> list[tuple[list[QPointF], QColor]]:
    if name == "box":
        return _prism_faces((0, 0, 0), (40, 30, 20))
    if name == "plate":
        return _prism_faces((0, 0, 0), (80, 60, 6))
    if name == "cylinder":
        return _cylinder_faces(15, 40)
    if name == "demo":
        faces = _prism_faces((0, 0, 0), (80, 50, 16))
        pocket = [_iso(46, 14, 16), _iso(70, 14, 16), _iso(70, 36, 16), _iso(46, 36, 16)]
        faces.append((pocket, _SIDE_X))
        faces += _prism_faces((0, 0, 16), (24, 50, 38))
        return faces
    return _prism_faces((0, 0, 0), (30, 30, 30))


def _draw_face(painter: QPainter, rect: QRectF) -> None:
    """A front-view face sketch in the face mode's stroke colors (outline orange, ridge red, valley green)."""
    s = min(rect.width(), rect.height()) / 100.0
    painter.save()
    painter.translate(rect.center())
    painter.scale(s, s)

    def pen(rgb: tuple[int, int, int], width: float = 2.6) -> QPen:
        return QPen(QColor(*rgb), width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)

    painter.setPen(pen((230, 120, 20)))
    head = QPainterPath()
    head.moveTo(0, -44)
    head.cubicTo(30, -44, 34, -14, 30, 6)
    head.cubicTo(26, 28, 12, 40, 0, 40)
    head.cubicTo(-12, 40, -26, 28, -30, 6)
    head.cubicTo(-34, -14, -30, -44, 0, -44)
    painter.drawPath(head)
    for side in (-1, 1):
        painter.drawEllipse(QPointF(side * 12, -6), 5.5, 3.5)
        painter.drawArc(QRectF(side * 33 - 4, -8, 8, 18), (90 if side > 0 else -90) * 16, -180 * 16 * side)
    nose = QPainterPath()
    nose.moveTo(0, -2)
    nose.lineTo(-4, 12)
    nose.lineTo(3, 13)
    painter.drawPath(nose)
    mouth = QPainterPath()
    mouth.moveTo(-10, 23)
    mouth.quadTo(0, 28, 10, 23)
    painter.drawPath(mouth)
    painter.setPen(pen((220, 50, 50), 2.2))
    for side in (-1, 1):
        painter.drawLine(QPointF(side * 6, -15), QPointF(side * 18, -16))
    painter.setPen(pen((40, 160, 80), 2.2))
    for side in (-1, 1):
        painter.drawLine(QPointF(side * 8, 10), QPointF(side * 12, 18))
    painter.restore()


def template_icon(template: Template, size: int = ICON_SIZE, device_pixel_ratio: float = 2.0) -> QPixmap:
    """A small drawing of what a template makes: the part in isometric view, or a face sketch."""
    pixmap = QPixmap(int(size * device_pixel_ratio), int(size * device_pixel_ratio))
    pixmap.setDevicePixelRatio(device_pixel_ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    area = QRectF(4, 4, size - 8, size - 8)
    if template.mode == "face":
        _draw_face(painter, area)
    else:
        faces = _drawing(template.name)
        pts = [p for poly, _ in faces for p in poly]
        xs, ys = [p.x() for p in pts], [p.y() for p in pts]
        w, h = max(xs) - min(xs), max(ys) - min(ys)
        scale = min(area.width() / w, area.height() / h)
        painter.translate(area.center().x() - (min(xs) + w / 2) * scale, area.center().y() - (min(ys) + h / 2) * scale)
        painter.scale(scale, scale)
        edge = QPen(_EDGE, 1.4 / scale)
        edge.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(edge)
        for poly, color in faces:
            painter.setBrush(color)
            painter.drawPolygon(QPolygonF(poly))
    painter.end()
    return pixmap


# -- cards --------------------------------------------------------------------------------------------
class _CardButton(QPushButton):
    """A flat button laid out like a card: its size is its layout's, so wrapped text is never cut."""

    def sizeHint(self) -> QSize:
        return self.layout().sizeHint() if self.layout() else super().sizeHint()

    def minimumSizeHint(self) -> QSize:
        return self.layout().minimumSize() if self.layout() else super().minimumSizeHint()


class TemplateButton(_CardButton):
    """One template: its drawing, title and one-line description; clicking it chooses it."""

    def __init__(self, template: Template, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.template = template
        self.setObjectName("templateButton")
        self.setAccessibleName(f"New from template: {template.title}")
        self.setToolTip(template.description)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        icon = QLabel(self)
        icon.setPixmap(template_icon(template))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        icon.setFixedHeight(ICON_SIZE + 4)
        title = _label(template.title, self, scale=1.1, bold=True)
        title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        description = _label(template.description, self, scale=0.92, wrap=True, name="muted")
        description.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        description.setMinimumHeight(2 * description.fontMetrics().lineSpacing())
        _let_clicks_through(icon, title, description)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(6)
        layout.addWidget(icon)
        layout.addWidget(title)
        layout.addWidget(description)
        layout.addStretch(1)  # cards in a row share its height; their content stays at the top

    def sizeHint(self) -> QSize:
        return QSize(190, super().sizeHint().height())


class RecentButton(_CardButton):
    """A recent file: its name, and its folder below; a file that has gone is greyed and inert."""

    def __init__(self, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.missing = not path.is_file()
        self.setObjectName("recentButton")
        self.setCursor(Qt.CursorShape.ArrowCursor if self.missing else Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        name = ElidedLabel(path.name, self, Qt.TextElideMode.ElideRight)
        name.setFont(_font(self, 1.0, bold=True))
        folder = ElidedLabel(_short_folder(path.parent) + ("  (not found)" if self.missing else ""), self)
        folder.setFont(_font(self, 0.88))
        if not self.missing:
            _mute(folder)  # a missing file is greyed whole by the disabled palette
        _let_clicks_through(name, folder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(1)
        layout.addWidget(name)
        layout.addWidget(folder)
        self.setEnabled(not self.missing)
        self.setToolTip(f"{path} was moved or deleted" if self.missing else str(path))
        self.setAccessibleName(f"Open recent: {path.name}" + (" (not found)" if self.missing else ""))


def _short_folder(folder: Path) -> str:
    """The folder as a person reads it: the home folder as ~."""
    home = Path.home()
    try:
        return "~" + os.sep + str(folder.relative_to(home)) if folder != home else "~"
    except ValueError:
        return str(folder)


class ModeCard(QFrame):
    """The 30-second "how to sketch" card of one mode: its title, where it is drawn, the guide
    lines and the stroke kinds with their colors."""

    def __init__(self, mode: ModeSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mode = mode
        self.setObjectName("card")
        self.setStyleSheet(_CARD_STYLE)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 14)
        layout.setSpacing(6)
        layout.addWidget(_label(mode.title, self, scale=1.15, bold=True))
        facts = []
        if mode.view:
            facts.append(f"Drawn in the {mode.view} view")
        if mode.prompt == "required":
            facts.append("needs a text prompt")
        elif mode.prompt == "optional":
            facts.append("takes an optional text prompt")
        if mode.keeps_strokes:
            facts.append("strokes stay and refine the result")
        if facts:
            text = "; ".join(facts)
            layout.addWidget(_label(text[0].upper() + text[1:], self, scale=0.9, wrap=True, name="muted"))
        lines = mode.guide or ("Draw over the model, then press Space to see what the sketch becomes.",)
        for line in lines:
            row = QHBoxLayout()
            row.setSpacing(8)
            bullet = _label("•", self)
            bullet.setAlignment(Qt.AlignmentFlag.AlignTop)
            row.addWidget(bullet)
            row.addWidget(_label(line, self, wrap=True), 1)
            layout.addLayout(row)
        layout.addSpacing(4)
        for kind in mode.stroke_kinds:
            layout.addLayout(self._kind_row(kind))

    def _kind_row(self, kind: StrokeKind) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(8)
        row.addWidget(StrokeSwatch(kind, self), 0, Qt.AlignmentFlag.AlignTop)
        text = _label(kind.label, self, bold=True)
        text.setAlignment(Qt.AlignmentFlag.AlignTop)
        row.addWidget(text, 0, Qt.AlignmentFlag.AlignTop)
        if kind.tip:
            tip = _label(kind.tip, self, wrap=True, name="muted")
            row.addWidget(tip, 1)
        else:
            row.addStretch(1)
        return row


# -- the page -----------------------------------------------------------------------------------------
class StartPage(QWidget):
    """Templates, Open… with the recent files, and a sketch card per mode (see the module doc)."""

    template_chosen = Signal(str)
    recent_chosen = Signal(str)
    open_requested = Signal()
    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None, *, templates: Sequence[Template] = (),
                 modes: Sequence[ModeSpec] = (), recent: Sequence[str | os.PathLike] = ()) -> None:
        super().__init__(parent)
        self.setObjectName("startPage")
        self.setStyleSheet(_STYLE)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        content = QWidget()
        content.setObjectName("startContent")
        scroll.setWidget(content)
        centre = QHBoxLayout(content)
        centre.setContentsMargins(32, 24, 32, 24)
        column = QWidget(content)
        column.setMaximumWidth(CONTENT_WIDTH)
        centre.addWidget(column)
        page = QVBoxLayout(column)
        page.setContentsMargins(0, 0, 0, 0)
        page.setSpacing(10)

        header = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(2)
        titles.addWidget(_label("Sketchforge", self, scale=2.0, bold=True))
        titles.addWidget(_label("Draw over the model and each sketch becomes a real modeling step. "
                                "Start from a template, open a file, or start with an empty canvas.",
                                self, wrap=True, name="muted"))
        header.addLayout(titles, 1)
        self.open_button = QPushButton("Open…", self)
        self.open_button.setToolTip("Open a Sketchforge file")
        self.open_button.clicked.connect(self.open_requested)
        self.start_button = QPushButton("Start sketching", self)
        self.start_button.setToolTip("Close this page and draw on the empty canvas (Esc)")
        self.start_button.clicked.connect(self.dismissed)
        self.open_button.setObjectName("secondaryButton")
        self.start_button.setObjectName("primaryButton")
        for b in (self.open_button, self.start_button):
            b.setMinimumWidth(130)
            b.setCursor(Qt.CursorShape.PointingHandCursor)
            header.addWidget(b, 0, Qt.AlignmentFlag.AlignVCenter)
        page.addLayout(header)
        page.addSpacing(12)

        page.addWidget(_section("New from a template", self))
        self._templates_grid = QGridLayout()
        self._templates_grid.setSpacing(12)
        page.addLayout(self._templates_grid)
        page.addSpacing(16)

        below = QHBoxLayout()
        below.setSpacing(24)
        recent_column = QVBoxLayout()
        recent_column.setSpacing(6)
        recent_column.addWidget(_section("Recent files", self))
        self._recent_box = QVBoxLayout()
        self._recent_box.setSpacing(2)
        recent_column.addLayout(self._recent_box)
        recent_column.addStretch(1)
        below.addLayout(recent_column, 1)
        guide_column = QVBoxLayout()
        guide_column.setSpacing(6)
        guide_column.addWidget(_section("How to sketch", self))
        self._modes_grid = QGridLayout()
        self._modes_grid.setSpacing(12)
        self._modes_grid.setColumnStretch(0, 1)
        self._modes_grid.setColumnStretch(1, 1)
        guide_column.addLayout(self._modes_grid)
        guide_column.addStretch(1)
        below.addLayout(guide_column, 2)
        page.addLayout(below, 1)

        self.template_buttons: list[TemplateButton] = []
        self.recent_buttons: list[RecentButton] = []
        self.mode_cards: list[ModeCard] = []
        self._no_recent = _label("No recent files yet. Files you open or save appear here.", self,
                                 wrap=True, name="muted")
        self.set_templates(templates)
        self.set_modes(modes)
        self.set_recent(recent)

    # -- what the window gives ------------------------------------------------------------------------
    def set_templates(self, templates: Sequence[Template]) -> None:
        """Show one card per template, in the order given."""
        _remove(self.template_buttons)
        for i, t in enumerate(templates):
            button = TemplateButton(t, self)
            button.clicked.connect(lambda _=False, name=t.name: self.template_chosen.emit(name))
            self._templates_grid.addWidget(button, i // TEMPLATES_PER_ROW, i % TEMPLATES_PER_ROW)
            self.template_buttons.append(button)
        for column in range(TEMPLATES_PER_ROW):
            self._templates_grid.setColumnStretch(column, 1 if column < len(self.template_buttons) else 0)

    def set_recent(self, paths: Sequence[str | os.PathLike]) -> None:
        """Show the recent files, newest first (at most `MAX_RECENT_SHOWN`); missing ones greyed."""
        _remove(self.recent_buttons)
        self._recent_box.removeWidget(self._no_recent)
        for p in list(paths)[:MAX_RECENT_SHOWN]:
            button = RecentButton(Path(p), self)
            button.clicked.connect(lambda _=False, path=str(p): self.recent_chosen.emit(path))
            self._recent_box.addWidget(button)
            self.recent_buttons.append(button)
        if not self.recent_buttons:
            self._recent_box.addWidget(self._no_recent)
        self._no_recent.setVisible(not self.recent_buttons)

    def set_modes(self, modes: Sequence[ModeSpec]) -> None:
        """Show one "how to sketch" card per mode, two to a row."""
        _remove(self.mode_cards)
        for i, m in enumerate(modes):
            card = ModeCard(m, self)
            self._modes_grid.addWidget(card, i // 2, i % 2, Qt.AlignmentFlag.AlignTop)
            self.mode_cards.append(card)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.dismissed.emit()
            return
        super().keyPressEvent(event)
