"""The Cloud menu's dialogs: re-color a cloud from a prompt (all of it or some parts) and make a
mesh from its points.

Each dialog only gathers what the command needs (the cloud, its fields) and hands it on through
`values()` when the user presses OK; the window runs the command. With several clouds in the
model a combo box picks which one, starting at the current cloud.
"""

from __future__ import annotations

from typing import Mapping

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sketchforge.modeling.bodies import PointCloudBody

from .viewport.parts import parts_present

MESH_METHODS = (("poisson", "Poisson (closed and smooth)"), ("ball_pivoting", "Ball pivoting (through the points)"))
DEPTHS = (5, 9)
DEFAULT_DEPTH = 7


def cloud_box(clouds: Mapping[str, PointCloudBody], current: str, parent: QWidget) -> QComboBox:
    """A combo box of the clouds' names (with their point counts), `current` chosen."""
    box = QComboBox(parent)
    for name, cloud in clouds.items():
        box.addItem(f"{name} ({len(cloud.points):,} points)", name)
    box.setCurrentIndex(max(0, box.findData(current)))
    box.setEnabled(len(clouds) > 1)
    return box


class _CloudDialog(QDialog):
    """A dialog about one of the model's clouds, with OK and Cancel."""

    def __init__(self, title: str, clouds: Mapping[str, PointCloudBody], current: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.clouds = dict(clouds)
        self.column = QVBoxLayout(self)
        self.form = QFormLayout()
        self.column.addLayout(self.form)
        self.cloud_box = cloud_box(self.clouds, current, self)
        self.form.addRow("Cloud", self.cloud_box)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel,
                                        self)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

    @property
    def body(self) -> str:
        return str(self.cloud_box.currentData())

    def _finish(self) -> None:
        self.column.addWidget(self.buttons)


class RecolorDialog(_CloudDialog):
    """A prompt for new colors and the cloud's parts as checkboxes (none checked: the whole cloud)."""

    def __init__(self, clouds: Mapping[str, PointCloudBody], current: str, parent: QWidget,
                 prompt: str = "") -> None:
        super().__init__("Re-color", clouds, current, parent)
        self.prompt_edit = QLineEdit(prompt, self)
        self.prompt_edit.setPlaceholderText("a bright blue chair with black legs")
        self.prompt_edit.setMinimumWidth(320)
        self.prompt_edit.textChanged.connect(self._prompt_changed)
        self.form.addRow("Prompt", self.prompt_edit)
        self.parts_note = QLabel(self)
        self.parts_note.setWordWrap(True)
        self.column.addWidget(self.parts_note)
        self.parts_box = QWidget(self)
        self.parts_layout = QVBoxLayout(self.parts_box)
        self.parts_layout.setContentsMargins(12, 0, 0, 0)
        self.column.addWidget(self.parts_box)
        self.part_checks: dict[str, QCheckBox] = {}
        self.cloud_box.currentIndexChanged.connect(lambda _: self._fill_parts())
        self._fill_parts()
        self._finish()
        self._prompt_changed(prompt)

    def _fill_parts(self) -> None:
        for check in self.part_checks.values():
            self.parts_layout.removeWidget(check)
            check.hide()
            check.deleteLater()
        self.part_checks = {}
        names = parts_present(self.clouds[self.body])
        for name in names:
            check = QCheckBox(name, self.parts_box)
            self.parts_layout.addWidget(check)
            self.part_checks[name] = check
        self.parts_note.setText("Parts to re-color (none checked: the whole cloud)" if names else
                                "This cloud's parts are not known: the whole cloud is re-colored")

    def _prompt_changed(self, text: str) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(text.strip()))

    def values(self) -> tuple[str, str, tuple[str, ...]]:
        """(cloud, prompt, checked parts) as the user left them."""
        parts = tuple(name for name, check in self.part_checks.items() if check.isChecked())
        return self.body, self.prompt_edit.text().strip(), parts


class MeshDialog(_CloudDialog):
    """The meshing method and, for Poisson, its detail (the octree depth, 5 to 9)."""

    def __init__(self, clouds: Mapping[str, PointCloudBody], current: str, parent: QWidget) -> None:
        super().__init__("Mesh from points", clouds, current, parent)
        self.method_box = QComboBox(self)
        for method, text in MESH_METHODS:
            self.method_box.addItem(text, method)
        self.method_box.setToolTip("Poisson fills a closed, smooth surface; ball pivoting runs through the points "
                                   "themselves and may leave holes")
        self.form.addRow("Method", self.method_box)
        self.depth_box = QSpinBox(self)
        self.depth_box.setRange(*DEPTHS)
        self.depth_box.setValue(DEFAULT_DEPTH)
        self.depth_box.setToolTip("Finer with a higher detail, which wants more points and takes longer")
        self.form.addRow("Detail", self.depth_box)
        self.method_box.currentIndexChanged.connect(
            lambda _: self.depth_box.setEnabled(self.method_box.currentData() == "poisson"))
        self._finish()

    def values(self) -> tuple[str, str, int]:
        """(cloud, method, depth) as the user left them."""
        return self.body, str(self.method_box.currentData()), int(self.depth_box.value())
