"""The window's map canvas, walk and area brush, for modes drawn on a map (game scenes).

A mixin of `MainWindow`. A mode drawn from the top (`ModeSpec.view == "top"`) is drawn on a map:
the sketch view becomes the `scene` contract's camera, orthographic and straight down with north
up, over the ground of the document's scene when there is one and else over `MAP_SIZE_MM` of
ground centred on the origin. On the map a drag pans and the wheel zooms; the strokes follow the
ground. Walk (W) stands on a scene at the map's centre, 1.7 m above the ground, and walks or flies
over it (`viewport/walk.py`); Esc gives the map back. The area brush paints the stroke kinds in
`AREA_KINDS` as wide bands, each saved as its closed outline (a stroke of the same kind), which
the back end fills.
"""

from __future__ import annotations

from sketchforge.modeling.contract import ModeSpec
from sketchforge.modeling.scenes import MM_PER_M, SceneBody

from . import paths

MAP_SIZE_MM = (200_000.0, 200_000.0)
"""The ground a map shows when the document holds no scene (east-west, north-south): 200 m x 200 m."""
AREA_KINDS = frozenset({"forest"})
"""Stroke kinds the area brush paints as areas (the contract has no word for it yet)."""
NO_SCENE = "Make a scene first: pick the game scene mode, draw a map, press Space and then Enter"


class SceneCommands:
    """Map, walk and area brush commands of the main window (see the module's doc)."""

    # -- the map -------------------------------------------------------------------------------------
    def draws_on_map(self, spec: ModeSpec | None = None) -> bool:
        """Whether the mode (default the current one) is drawn on a map: it is drawn from the top."""
        spec = spec if spec is not None else self.mode_spec()
        return spec is not None and spec.view == "top"

    def scenes(self) -> dict[str, SceneBody]:
        """The model's scenes by name, in the model's order."""
        return {k: b for k, b in self.session.bodies.items() if isinstance(b, SceneBody)}

    def current_scene(self) -> str | None:
        """The scene the map shows first: the one the latest step made or changed (the last in the
        model when no step names one); None with no scene."""
        scenes = self.scenes()
        for op in reversed(self.session.history):
            if op.body in scenes:
                return op.body
        return next(reversed(scenes), None)

    def show_map(self) -> bool:
        """Turn the view into the map: all the ground of the current scene, or `MAP_SIZE_MM` centred on
        the origin when there is none."""
        name = self.current_scene()
        if name is None:
            return self.viewport.show_map((0.0, 0.0), MAP_SIZE_MM)
        w, s, e, n = (v * MM_PER_M for v in self.scenes()[name].extent)
        return self.viewport.show_map(((w + e) / 2.0, (s + n) / 2.0), (e - w, n - s))

    # -- walking -------------------------------------------------------------------------------------
    def set_walk(self, on: bool) -> None:
        """Walk over the scene under the view's centre (or the current one), from the centre of the
        map (or of that scene); off: back to the view the walk began in."""
        if not on:
            self.viewport.stop_walk()
            return
        scenes = self.scenes()
        if not scenes:
            self.show_message(NO_SCENE, error=True)
            self._check_walk(False)
            return
        x, y = self.viewport.camera().target[:2]
        name = next((k for k, b in scenes.items() if _inside(b, x, y)), None) or self.current_scene()
        scene = scenes[name]
        w, s, e, n = (v * MM_PER_M for v in scene.extent)
        if not _inside(scene, x, y):
            x, y = (w + e) / 2.0, (s + n) / 2.0
        self.hide_start_page()
        self.viewport.start_walk(scene.height_at, (x, y), (w, s, e, n), obstacles=scene.obstacles_m() * MM_PER_M)

    def _walk_changed(self, on: bool) -> None:
        self._check_walk(on)
        if not on:
            self.show_message("Back from the walk")
        self._update_actions()

    def _check_walk(self, on: bool) -> None:
        a = self.actions_by_name["walk"]
        a.blockSignals(True)
        a.setChecked(on)
        a.blockSignals(False)

    # -- the area brush ------------------------------------------------------------------------------
    def set_area_brush(self, on: bool) -> None:
        """Paint area strokes (forests) as wide bands, or as plain lines."""
        paths.settings().setValue("area_brush", bool(on))
        self._scene_tools()

    def _scene_tools(self) -> None:
        """The area brush for the current mode's area kinds (kept on or off as a preference)."""
        spec = self.mode_spec()
        kinds = AREA_KINDS & {k.name for k in spec.stroke_kinds} if spec is not None else frozenset()
        self.viewport.set_area_kinds(kinds)
        a = self.actions_by_name["area_brush"]
        a.blockSignals(True)
        a.setChecked(str(paths.settings().value("area_brush", "true")).lower() == "true")
        a.blockSignals(False)
        a.setVisible(bool(kinds))
        a.setEnabled(self.viewport.stroke_kind in kinds)
        self.viewport.area_brush = a.isChecked()

    def _update_scene_actions(self) -> None:
        self.actions_by_name["walk"].setEnabled(bool(self.scenes()) or self.viewport.walking)


def _inside(scene: SceneBody, x: float, y: float) -> bool:
    w, s, e, n = (v * MM_PER_M for v in scene.extent)
    return w <= x <= e and s <= y <= n
