"""The part-suggestion panel of the face mode: the library's closest part strokes as thumbnails.

The window asks the face back end (`FaceBackend.suggest`) for part strokes like the ones just
drawn, in a worker; the panel shows them, the viewport shows the highlighted one dashed over the
sketch, and one click on a thumbnail puts it in place of the strokes it was read from.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QComboBox, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

THUMB = 88
PART_CHOICES = [("Read the part", None), ("Eye", "eye"), ("Brow", "brow"), ("Nose", "nose"), ("Mouth", "mouth"),
                ("Ear", "ear")]


def thumbnail(polylines, box, size: int = THUMB) -> QPixmap:
    """The polylines (canvas pixels) inside `box` drawn on a white square."""
    pix = QPixmap(size, size)
    pix.fill(QColor(255, 255, 255))
    u0, v0, u1, v1 = box
    side = max(u1 - u0, v1 - v0, 1e-6)
    cu, cv = (u0 + u1) / 2.0, (v0 + v1) / 2.0
    k = (size - 8) / side
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(QPen(QColor(30, 30, 40), 1.6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
    for line in polylines:
        q = np.asarray(line, float)
        p.drawPolyline(QPolygonF([QPointF(size / 2 + (u - cu) * k, size / 2 + (v - cv) * k) for u, v in q[:, :2]]))
    p.end()
    return pix


class SuggestionPanel(QWidget):
    """Thumbnails of suggested part strokes; `highlighted(i)` as the selection moves, `chosen(i)`
    on a click."""

    highlighted = Signal(int)
    chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.part_box = QComboBox()
        for label, part in PART_CHOICES:
            self.part_box.addItem(label, part)
        self.part_box.setToolTip("Which part the last strokes draw (or let the suggestion network read it)")
        layout.addWidget(self.part_box)
        self.label = QLabel("Draw an eye, brow, nose, mouth or ear in face mode, then press G")
        self.label.setWordWrap(True)
        layout.addWidget(self.label)
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setMovement(QListWidget.Movement.Static)
        self.list.currentRowChanged.connect(lambda row: self.highlighted.emit(row) if row >= 0 else None)
        self.list.itemClicked.connect(lambda item: self.chosen.emit(self.list.row(item)))
        layout.addWidget(self.list, 1)
        self.result = None

    @property
    def part(self) -> str | None:
        return self.part_box.currentData()

    def show_result(self, result) -> None:
        """Fill the panel with a `PartSuggestions` (None clears it)."""
        self.result = result
        self.list.blockSignals(True)
        self.list.clear()
        if result is not None:
            for i, (sim, lines) in enumerate(result.candidates):
                item = QListWidgetItem(QIcon(thumbnail(lines, result.box)), f"{i + 1} ({sim:.2f})")
                self.list.addItem(item)
            self.label.setText(f"{result.side.capitalize() if result.side != 'centre' else ''} {result.part} — "
                               "click one to put it in place of your strokes".strip())
        else:
            self.label.setText("Draw an eye, brow, nose, mouth or ear in face mode, then press G")
        self.list.blockSignals(False)
        if result is not None and result.candidates:
            self.list.setCurrentRow(0)
