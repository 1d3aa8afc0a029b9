"""Templates a new document can start from: a few parts built through the Session, or a sketch.

A template is a declaration (`Template`: name, title, one-line description, mode) plus how it is
made: either `build(session)`, which applies ordinary operations (`session.box(...)`,
`session.apply(...)`), so every step lands in the history and undoes like any other; or `sketch`,
a sketch file (in `template_folder()`, the shipped `assets/templates/`, unless the path is
absolute) that the caller interprets, as it would a sketch the user drew (`template.load_sketch()`).

Built-ins register through the `sketchforge.templates` entry-point group exactly like a
plugin's (`pyproject.toml`), each entry naming a `Template` value (`module:NAME`); at run time
`session.templates.register(name, template)` adds one (the registry belongs to the session, like
the other registries); `templates(session.templates)` lists them in the start page's order.
`apply_template(session, "box")` starts a new document from one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Callable

from .demo import build_demo
from .operations import OperationError
from .registry import GROUPS, Registry, RegistryError
from .session import Session
from .sketch import Sketch, SketchError

__all__ = ["BOX", "CYLINDER", "DEMO", "FACE", "PLATE", "Template", "TemplateError", "apply_template",
           "get_template", "registry", "template_folder", "templates"]

ASSETS_PACKAGE = "sketchforge.assets"   # the shipped files (the checkout's assets/ folder)
BUILT_IN_ORDER = ("box", "plate", "cylinder", "demo", "face")  # the start page's order; plugins follow


class TemplateError(RegistryError):
    """A template nobody registered, a broken one, or one whose sketch cannot be read."""


def template_folder() -> Path:
    """The folder of the shipped template sketches: `templates/` of the package `sketchforge.assets`,
    found through importlib.resources so that an installed copy finds it as a checkout does."""
    root = files(ASSETS_PACKAGE)
    if not isinstance(root, Path):
        raise TemplateError(f"{ASSETS_PACKAGE} is installed inside an archive ({root}); install Sketchforge "
                            "unpacked (pip installs a wheel that way) to read its template sketches")
    return root / "templates"


@dataclass(frozen=True)
class Template:
    """A starting point for a new document: `build(session)` applies its steps, or `sketch`
    names the sketch file the caller interprets (exactly one of the two)."""

    name: str
    title: str
    description: str
    mode: str = "cad"
    build: Callable[[Session], None] | None = field(default=None, compare=False, repr=False)
    sketch: str | None = None

    def __post_init__(self) -> None:
        if (self.build is None) == (self.sketch is None):
            raise TemplateError(f"template {self.name!r}: give either a build function or a sketch file, "
                                "not both and not neither")

    @property
    def sketch_path(self) -> Path | None:
        """The sketch file (a relative name lies in `template_folder()`), None for a built template."""
        if self.sketch is None:
            return None
        path = Path(self.sketch)
        return path if path.is_absolute() else template_folder() / path

    def load_sketch(self) -> Sketch:
        """The template's sketch, read from its file (raises TemplateError saying what is wrong)."""
        path = self.sketch_path
        if path is None:
            raise TemplateError(f"template {self.name!r} is built, not drawn: it has no sketch")
        try:
            return Sketch.load(path)
        except SketchError as exc:
            raise TemplateError(f"template {self.name!r}: {exc}; reinstall Sketchforge or the plugin "
                                "that brings this template") from None


# -- built-ins ----------------------------------------------------------------------------------------
def _box(session: Session) -> None:
    session.box((40.0, 30.0, 20.0), name="box")


def _plate(session: Session) -> None:
    session.box((80.0, 60.0, 6.0), name="plate")


def _cylinder(session: Session) -> None:
    session.cylinder(radius=15.0, height=40.0, name="cylinder")


def _demo(session: Session) -> None:
    build_demo(session)


BOX = Template("box", "Box", "A 40 x 30 x 20 mm block", build=_box)
PLATE = Template("plate", "Plate", "A flat 80 x 60 x 6 mm plate", build=_plate)
CYLINDER = Template("cylinder", "Cylinder", "A round bar, 30 mm across, 40 mm tall", build=_cylinder)
DEMO = Template("demo", "Demo bracket", "A bracket made with every sketch operation", build=_demo)
FACE = Template("face", "Face", "A face sketch that becomes a head", mode="face",
                sketch="face.sketch.json")


# -- the registry -------------------------------------------------------------------------------------
def registry() -> Registry[Template]:
    """The installed templates (the built-ins and plugins' entry points); a session has its own
    (`session.templates`), which also holds those registered at run time."""
    return Registry("template", GROUPS["templates"])


def get_template(name: str, reg: Registry | None = None) -> Template:
    """The template called `name` in `reg` (default: the installed ones); raises TemplateError
    listing the known ones."""
    reg = reg if reg is not None else registry()
    if name not in reg:
        raise TemplateError(f"no template called {name!r}; choose one of {', '.join(_ordered(reg.names()))}")
    template = reg.get(name)
    if not isinstance(template, Template):
        raise TemplateError(f"the template entry {name!r} is a {type(template).__name__}, not a "
                            "sketchforge.modeling.templates.Template; fix or remove the plugin that brings it")
    return template


def templates(reg: Registry | None = None) -> dict[str, Template]:
    """Every template of `reg` (default: the installed ones) that loads, by name: built-ins first
    in their order, then the rest by name."""
    reg = reg if reg is not None else registry()
    out = {}
    for name in _ordered(reg.names()):
        try:
            out[name] = get_template(name, reg)
        except RegistryError:
            continue  # a broken plugin loses only its own template
    return out


def _ordered(names: list[str]) -> list[str]:
    return [n for n in BUILT_IN_ORDER if n in names] + sorted(n for n in names if n not in BUILT_IN_ORDER)


def apply_template(session: Session, template: str | Template) -> Template:
    """Start a new document in `session` from a template and return the template.

    A built template applies its steps (normal, undoable history steps). A sketch template leaves
    the document empty: its sketch is read here only to check it, and the caller interprets
    `template.load_sketch()` like a drawn sketch (`session.interpret(sketch)`, then
    `session.accept(...)`) and shows its strokes. The sketch being drawn (`session.sketch`) is
    left to the caller too, so this may run in a worker. The caller asks about unsaved work
    first; a template that cannot be read changes nothing, and one whose steps fail leaves an
    empty document and raises TemplateError."""
    if not isinstance(template, Template):
        template = get_template(template, session.templates)
    if template.build is None:
        template.load_sketch()
        session.new()
        return template
    session.new()
    try:
        template.build(session)
    except (OperationError, ValueError, LookupError) as exc:
        session.new()
        raise TemplateError(f"the template {template.name!r} could not be built: {exc}") from exc
    return template
