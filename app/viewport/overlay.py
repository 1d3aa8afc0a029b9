"""What is painted over the scene besides strokes: the axis triad, the proposal's label and the
legend of part colors.

The label carries the proposal's confidence when the back end gives one: a small bar with the
percentage, and a weak proposal (below `WEAK`) framed dashed in amber and marked "unsure".
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen

from sketchforge.modeling.contract import WEAK_SCORE as WEAK  # below it a proposal is marked unsure

LABEL_BOX = QColor(10, 20, 40, 170)
LABEL_TEXT = QColor(150, 200, 255)
SURE_COLOR = QColor(40, 205, 180)       # the bar of a confident proposal (the added material's hue)
UNSURE_COLOR = QColor(255, 176, 32)     # the bar and dashed frame of a weak one
BAR_WIDTH = 56.0
AXES = (("X", QColor(230, 60, 60)), ("Y", QColor(70, 200, 70)), ("Z", QColor(80, 130, 255)))


def paint_triad(painter: QPainter, rot: np.ndarray, height: float) -> None:
    """The world axes as seen through `rot` (world -> eye), in the bottom-left corner."""
    origin = QPointF(42.0, height - 42.0)
    length = 28.0
    axes = [(rot[:, i], name, color) for i, (name, color) in enumerate(AXES)]
    axes.sort(key=lambda a: a[0][2])  # eye-space z: farthest (most negative) first
    font = QFont(painter.font())
    font.setPointSizeF(8.5)
    font.setBold(True)
    painter.setFont(font)
    for d, name, color in axes:
        tip = QPointF(origin.x() + length * d[0], origin.y() - length * d[1])
        painter.setPen(QPen(color, 2.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawLine(origin, tip)
        label = QPointF(origin.x() + (length + 9.0) * d[0] - 4.0, origin.y() - (length + 9.0) * d[1] + 4.0)
        painter.drawText(label, name)


def paint_legend(painter: QPainter, rows: Sequence[tuple[str, tuple[int, int, int]]], width: float) -> QRectF:
    """The legend of the part colors (a swatch and the name per row) in the top-right corner;
    returns its box."""
    font = QFont(painter.font())
    font.setPointSizeF(9.5)
    font.setBold(False)
    painter.setFont(font)
    metrics = painter.fontMetrics()
    line_h = float(metrics.height())
    title = "Parts"
    text_w = max([metrics.horizontalAdvance(title)] + [metrics.horizontalAdvance(name) + line_h for name, _ in rows])
    box = QRectF(width - text_w - 26.0, 10.0, text_w + 16.0, line_h * (len(rows) + 1) + 10.0)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(LABEL_BOX)
    painter.drawRoundedRect(box, 5.0, 5.0)
    painter.setPen(LABEL_TEXT)
    painter.drawText(QRectF(box.left() + 8.0, box.top() + 5.0, text_w, line_h), Qt.AlignmentFlag.AlignLeft, title)
    for k, (name, rgb) in enumerate(rows):
        top = box.top() + 5.0 + line_h * (k + 1)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(*rgb))
        painter.drawRect(QRectF(box.left() + 8.0, top + 0.25 * line_h, 0.5 * line_h, 0.5 * line_h))
        painter.setPen(LABEL_TEXT)
        painter.drawText(QRectF(box.left() + 8.0 + line_h, top, text_w, line_h), Qt.AlignmentFlag.AlignLeft, name)
    return box


def confidence_text(confidence: float) -> str:
    """"72 %", or "38 % unsure" for a weak proposal."""
    text = f"{round(100.0 * confidence):d} %"
    return text + " unsure" if confidence < WEAK else text


def paint_label(painter: QPainter, text: str, confidence: float | None = None) -> QRectF:
    """The proposal's label in the top-left corner, with its confidence when given; returns the box."""
    font = QFont(painter.font())
    font.setPointSizeF(10.0)
    font.setBold(False)
    painter.setFont(font)
    metrics = painter.fontMetrics()
    lines = text.splitlines() or [text]
    text_w = max(metrics.horizontalAdvance(line) for line in lines)
    line_h = metrics.height()
    extra = ""
    if confidence is not None:
        extra = confidence_text(confidence)
        text_w += 12.0 + BAR_WIDTH + 6.0 + metrics.horizontalAdvance(extra)
    box = QRectF(10.0, 10.0, text_w + 16.0, line_h * len(lines) + 10.0)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(LABEL_BOX)
    painter.drawRoundedRect(box, 5.0, 5.0)
    painter.setPen(LABEL_TEXT)
    painter.drawText(box.adjusted(8, 5, -8, -5), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, text)
    if confidence is None:
        return box
    weak = confidence < WEAK
    hue = UNSURE_COLOR if weak else SURE_COLOR
    x = box.right() - 8.0 - metrics.horizontalAdvance(extra) - 6.0 - BAR_WIDTH
    bar = QRectF(x, box.top() + 5.0 + (line_h - 8.0) / 2.0, BAR_WIDTH, 8.0)
    painter.setPen(QPen(hue, 1.0))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(bar)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(hue)
    painter.drawRect(QRectF(bar.left(), bar.top(), BAR_WIDTH * confidence, bar.height()))
    painter.setPen(hue)
    painter.drawText(QRectF(bar.right() + 6.0, box.top() + 5.0, box.right() - bar.right(), line_h),
                     Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, extra)
    if weak:
        painter.setPen(QPen(UNSURE_COLOR, 2.0, Qt.PenStyle.DashLine))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(box.adjusted(-1.0, -1.0, 1.0, 1.0), 5.0, 5.0)
    return box
