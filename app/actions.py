"""The window's actions and menus as data: one table of actions, one of menus.

Each action names the window method it calls (`slot`), its shortcut, tip and group (the Help >
Keyboard shortcuts dialog groups by it). The menus list action names in order; `None` is a
separator and a `Submenu` is filled by the window (recent files, templates, a mode's options).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar, QWidget

Shortcut = str | QKeySequence.StandardKey | tuple[str, ...] | None


@dataclass(frozen=True)
class ActionSpec:
    """One action: its name, menu text, the window method it calls, shortcut(s), tip and group."""

    name: str
    text: str
    slot: str
    shortcut: Shortcut = None
    tip: str = ""
    group: str = ""
    checkable: bool = False


@dataclass(frozen=True)
class Submenu:
    """A submenu the window fills (its `name` is the attribute it is kept under)."""

    name: str
    text: str


K = QKeySequence.StandardKey
ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("new", "&New", "new_document", K.New, "Start an empty model", "File"),
    ActionSpec("start_page", "Start &page", "show_start_page", None, "Templates, recent files and how to sketch",
               "File"),
    ActionSpec("open", "&Open…", "open_dialog", K.Open, "Open a .sketchforge file", "File"),
    ActionSpec("save", "&Save", "save", K.Save, "Save the model", "File"),
    ActionSpec("save_as", "Save &As…", "save_as", K.SaveAs, "Save the model under another name", "File"),
    ActionSpec("import", "&Import…", "import_dialog", "Ctrl+I", "Import STEP, OBJ, PLY or glTF as a body", "File"),
    ActionSpec("export", "&Export…", "export_dialog", "Ctrl+E", "Export the model (STEP, OBJ, glTF, PLY)", "File"),
    ActionSpec("open_sketch", "Open S&ketch…", "open_sketch_dialog", None, "Load a *.sketch.json", "File"),
    ActionSpec("save_sketch", "Save Sk&etch…", "save_sketch_dialog", None, "Save the strokes as *.sketch.json",
               "File"),
    ActionSpec("quit", "&Quit", "close", K.Quit, "Close the window", "File"),
    ActionSpec("undo", "&Undo", "undo", K.Undo, "Undo the last change of the model", "Edit"),
    ActionSpec("redo", "&Redo", "redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Redo what was undone", "Edit"),
    ActionSpec("navigate", "&Navigate", "tool_navigate", "N", "Orbit, pan and zoom the view", "Sketch", True),
    ActionSpec("pen", "&Pen", "tool_pen", "P", "Draw strokes over the model", "Sketch", True),
    ActionSpec("eraser", "&Eraser", "tool_eraser", "E", "Remove whole strokes", "Sketch", True),
    ActionSpec("area_brush", "&Area brush", "set_area_brush", None,
               "Forest strokes paint a wide band that becomes one area of trees", "Sketch", True),
    ActionSpec("undo_stroke", "Undo last &stroke", "undo_stroke", "Backspace", "Take the last stroke back", "Sketch"),
    ActionSpec("clear", "&Clear strokes", "clear_strokes", "Ctrl+Delete", "Remove every stroke", "Sketch"),
    ActionSpec("return_to_sketch", "&Return to the sketch", "return_to_sketch", "Home",
               "Back to the view the strokes were drawn in, with its strokes", "Sketch"),
    ActionSpec("interpret", "&Interpret sketch", "interpret_now", "Space", "Ask the mode's back end what the strokes "
               "mean", "Proposals"),
    ActionSpec("live", "&Live interpretation", "set_live", None, "Interpret after each pause in drawing",
               "Proposals", True),
    ActionSpec("next", "&Next proposal\tTab", "next_proposal", None, "Show the next proposal", "Proposals"),
    ActionSpec("accept", "&Accept proposal\tEnter", "accept_proposal", None, "Apply the proposal shown",
               "Proposals"),
    ActionSpec("dismiss", "&Dismiss proposal\tEsc", "dismiss_proposals", None, "Drop the proposals", "Proposals"),
    ActionSpec("suggest", "Suggest &part strokes", "suggest_parts", "G",
               "Part strokes (eyes, brows, nose, mouth, ears) like the ones just drawn", "Proposals"),
    ActionSpec("recolor", "&Re-color…", "recolor_dialog", None,
               "New colors for a point cloud (or some of its parts) from a prompt; no point moves", "Cloud"),
    ActionSpec("resample", "Sample &again", "resample_cloud", None,
               "The cloud sampled again from the sketch it was drawn as, with the next seed", "Cloud"),
    ActionSpec("show_parts", "Show &parts", "show_parts", None,
               "Color each cloud by its parts, with a legend (the model is not changed)", "Cloud", True),
    ActionSpec("split_parts", "&Split into parts", "split_cloud", None, "One cloud per part in place of the whole",
               "Cloud"),
    ActionSpec("mesh_cloud", "&Mesh from points…", "mesh_dialog", None,
               "A colored surface through the cloud's points, beside the cloud", "Cloud"),
    ActionSpec("front", "&Front", "view_front", "1", "Look from the front", "View"),
    ActionSpec("top", "&Top", "view_top", "7", "Look from above", "View"),
    ActionSpec("right", "&Right", "view_right", "3", "Look from the right", "View"),
    ActionSpec("iso", "&Iso", "view_iso", "0", "Look from a corner", "View"),
    ActionSpec("fit", "F&it all", "fit_all", "F", "Show the whole model", "View"),
    ActionSpec("walk", "&Walk", "set_walk", "W", "Walk over the scene: W A S D move, drag to look around, Shift "
               "runs, F flies (Space up, C down), Esc leaves", "View", True),
    ActionSpec("shortcuts", "&Keyboard shortcuts", "show_shortcuts", "F1", "Every shortcut", "Help"),
    ActionSpec("guide", "How to &sketch", "show_guide", None, "The sketch guide of every mode", "Help"),
    ActionSpec("about", "&About Sketchforge", "show_about", None, "Version and licences", "Help"),
)

MENUS: tuple[tuple[str, tuple[str | Submenu | None, ...]], ...] = (
    ("&File", ("new", Submenu("menu_templates", "New from &template"), "start_page", "open",
               Submenu("menu_recent", "Open &Recent"), None, "save", "save_as", None, "import", "export",
               "open_sketch", "save_sketch", None, "quit")),
    ("&Edit", ("undo", "redo")),
    ("&Sketch", ("navigate", "pen", "eraser", "area_brush", None, "undo_stroke", "clear", "return_to_sketch", None,
                 Submenu("menu_options", "Mode &options"))),
    ("&Proposals", ("interpret", "live", "next", "accept", "dismiss", None, "suggest")),
    ("&Cloud", ("recolor", "resample", None, "show_parts", None, "split_parts", "mesh_cloud")),
    ("&View", ("front", "top", "right", "iso", "fit", None, "walk", None)),
    ("&Help", ("shortcuts", "guide", None, "about")),
)


def make_actions(owner: QWidget, specs: Sequence[ActionSpec], slot: Callable[[str], Callable]) -> dict[str, QAction]:
    """One QAction per spec, added to `owner` (so its shortcut works anywhere in the window) and
    connected to `slot(spec.slot)`; the spec's group is kept as the action's 'group' property."""
    actions: dict[str, QAction] = {}
    for spec in specs:
        a = QAction(spec.text, owner)
        keys = spec.shortcut
        if isinstance(keys, tuple):
            a.setShortcuts([QKeySequence(k) for k in keys])
        elif keys is not None:
            a.setShortcut(QKeySequence(keys))
        if spec.tip:
            a.setStatusTip(spec.tip)
            a.setToolTip(spec.tip)
        a.setCheckable(spec.checkable)
        a.setProperty("group", spec.group)
        method = slot(spec.slot)
        if spec.checkable:
            a.toggled.connect(method)
        else:
            a.triggered.connect(lambda checked=False, m=method: m())
        owner.addAction(a)
        actions[spec.name] = a
    return actions


def make_menus(bar: QMenuBar, menus: Sequence[tuple[str, Sequence[str | Submenu | None]]],
               actions: Mapping[str, QAction]) -> dict[str, QMenu]:
    """The menu bar's menus from the table; returns the menus and submenus by name ('&File' -> 'file')."""
    made: dict[str, QMenu] = {}
    for title, items in menus:
        menu = bar.addMenu(title)
        made[title.replace("&", "").lower()] = menu
        for item in items:
            if item is None:
                menu.addSeparator()
            elif isinstance(item, Submenu):
                made[item.name] = menu.addMenu(item.text)
            else:
                menu.addAction(actions[item])
    return made
