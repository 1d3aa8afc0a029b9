"""The back-end contract: what an interpretation back end declares, reads and returns.

A back end is one room of `neural/` with a declared door (npe2's manifests, Blender's operator
properties): it says which modes it offers (`ModeSpec`: title, stroke kinds, whether strokes stay
after accepting, whether it needs a prompt, a short guide), which options it has (a dataclass of
`option(...)` fields, turned into widgets by the window and set by `configure`), and
`propose(sketch, context) -> Interpretation`. The context is what a back end may read (the model
state, renders of it, the camera), never the session; the interpretation carries the ranked
proposals and one `Report` shared by every back end. Whatever a proposal must store (a mesh, a
cloud) travels inside it (`Proposal.blobs`) and is stored only when the user accepts it.

Nothing here imports Qt or torch: the window, the console, the command line and the tests all
read the same declarations.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence, runtime_checkable

from .camera import Camera
from .operations import ModelState, Operation, blob_key
from .sketch import Sketch


class ContractError(TypeError):
    """A back end that does not keep the contract (a missing declaration, a bad option)."""


@dataclass(frozen=True)
class StrokeKind:
    """One kind of stroke a mode's tools draw: its name in the sketch file (None: a plain line), the
    label the tool bar shows, the color it is drawn in (RGB 0..255) and what it is for."""

    name: str | None
    label: str
    color: tuple[int, int, int] = (255, 140, 26)
    tip: str = ""


PLAIN = StrokeKind(None, "Plain line", (255, 140, 26), "Outlines and feature lines")


@dataclass(frozen=True)
class ModeSpec:
    """A mode a back end offers: what the user picks in the mode box.

    `keeps_strokes`: the strokes stay after a proposal is accepted (they describe the whole result,
    and the next stroke refines it). `prompt`: "none", "optional" or "required". `view`: the view
    the mode is drawn in ("front", "top", or None for any). `guide`: the 30-second "how to sketch"
    card, a few short lines. `part_suggestions`: the back end also suggests part strokes like the
    last ones drawn (it is a `PartSuggester`)."""

    name: str
    title: str
    stroke_kinds: tuple[StrokeKind, ...] = (PLAIN,)
    keeps_strokes: bool = False
    prompt: str = "none"
    view: str | None = None
    guide: tuple[str, ...] = ()
    part_suggestions: bool = False  # the back end offers `suggest(sketch, k, part)` (`PartSuggester`)

    def __post_init__(self) -> None:
        if self.prompt not in ("none", "optional", "required"):
            raise ContractError(f"mode {self.name!r}: prompt must be 'none', 'optional' or 'required'")
        if not self.stroke_kinds:
            raise ContractError(f"mode {self.name!r} declares no stroke kinds")

    def kind(self, name: str | None) -> StrokeKind | None:
        """The declared stroke kind called `name`, None when the mode has no such kind."""
        return next((k for k in self.stroke_kinds if k.name == name), None)


def option(default: Any, label: str, *, choices: Mapping[Any, str] | None = None, tip: str = "",
           minimum: float | None = None, maximum: float | None = None, once: bool = False) -> Any:
    """A field of a back end's options dataclass: its default, the label its widget shows, and the
    allowed values (`choices`: value -> text, or a numeric range). `configure` checks them. A
    `once` option holds for the next accepted proposal only, then returns to its default."""
    meta = {"label": label, "tip": tip, "choices": dict(choices) if choices is not None else None,
            "minimum": minimum, "maximum": maximum, "once": once}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class OptionInfo:
    """One option as a widget sees it."""

    name: str
    label: str
    value: Any
    kind: type
    choices: Mapping[Any, str] | None = None
    tip: str = ""
    minimum: float | None = None
    maximum: float | None = None
    default: Any = None
    once: bool = False


def describe_options(options: Any) -> list[OptionInfo]:
    """The options dataclass's fields, in order, with their labels, types and allowed values."""
    if options is None:
        return []
    if not dataclasses.is_dataclass(options):
        raise ContractError(f"a back end's options must be a dataclass instance, got {type(options).__name__}")
    infos = []
    for f in dataclasses.fields(options):
        meta = f.metadata
        value = getattr(options, f.name)
        infos.append(OptionInfo(f.name, meta.get("label", f.name.replace("_", " ").capitalize()), value,
                                type(f.default) if f.default is not dataclasses.MISSING else type(value),
                                meta.get("choices"), meta.get("tip", ""), meta.get("minimum"), meta.get("maximum"),
                                f.default if f.default is not dataclasses.MISSING else None, meta.get("once", False)))
    return infos


def checked_options(options: Any, **changes: Any) -> Any:
    """A copy of `options` with `changes`, each checked against its field (name, type, choices,
    range); raises ValueError saying what is allowed."""
    infos = {i.name: i for i in describe_options(options)}
    for name, value in changes.items():
        info = infos.get(name)
        if info is None:
            raise ValueError(f"no option {name!r}; the options are {', '.join(infos) or 'none'}")
        if info.kind is bool and not isinstance(value, bool):
            raise ValueError(f"option {name!r} is on or off: give True or False, not {value!r}")
        if info.kind in (int, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"option {name!r} is a number, not {value!r}")
        if info.choices is not None and value not in info.choices:
            raise ValueError(f"option {name!r} cannot be {value!r}; choose one of "
                             f"{', '.join(repr(c) for c in info.choices)}")
        if info.minimum is not None and value < info.minimum or info.maximum is not None and value > info.maximum:
            raise ValueError(f"option {name!r} must lie within {info.minimum}..{info.maximum}, got {value!r}")
    return dataclasses.replace(options, **changes)


# Below this score a proposal is shown as an unsure reading. On 40 generated CAD sketches the
# correct top proposals scored 0.36 / 0.60 / 0.84 (10th / 50th / 90th percentile): scores are
# rankings, not yet calibrated probabilities, so only clearly weak ones are marked.
WEAK_SCORE = 0.25


@dataclass(frozen=True)
class Proposal:
    """One reading of a sketch: the operation it would apply, a confidence in 0..1, the label a
    person reads ("Extrude top face +10 mm"), extras for reports, and the data it needs stored
    (`blobs`: key -> bytes, written into the document only when it is accepted).

    A back end that already applied the operation (to check it) hands over the state it got, with
    the state it applied it to; `apply_to` then reuses it instead of running the kernel again."""

    operation: Operation
    score: float
    extra: Mapping[str, Any] = field(default_factory=dict)
    base: ModelState | None = field(default=None, compare=False, repr=False)
    result: ModelState | None = field(default=None, compare=False, repr=False)
    label: str = ""
    blobs: Mapping[str, bytes] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for key, data in self.blobs.items():
            if blob_key(data) != key:
                raise ContractError(f"a proposal's blob {key[:12]}… is not keyed by its contents (use blob_key)")

    @property
    def title(self) -> str:
        """What the proposal does, as a person reads it."""
        return self.label or self.operation.describe()

    @property
    def weak(self) -> bool:
        """An unsure reading, shown as such (`WEAK_SCORE`)."""
        return float(self.score) < WEAK_SCORE

    def with_blobs(self, state: ModelState) -> ModelState:
        """`state` with this proposal's blobs added (what its operation reads them from)."""
        if not self.blobs:
            return state
        return state.with_blobs(self.blobs)

    def apply_to(self, state: ModelState) -> ModelState:
        """The state after this proposal's operation (raises OperationError like `Operation.apply`)."""
        if self.result is not None and self.base is state:
            return self.result
        return self.operation.apply(self.with_blobs(state))

    def to_json(self) -> dict:
        return {"operation": self.operation.id, "params": self.operation.params(), "score": float(self.score),
                "label": self.title, **dict(self.extra)}


# Stage names the status bar and the reports know, in the order they run.
STAGE_NAMES = {"load": "loading", "frame": "frame", "view": "view", "net": "network", "coarse": "coarse",
               "refine": "refine",
               "fit": "fitting", "flops": "FLOP count", "check": "check", "other": "other"}


@dataclass(frozen=True)
class Report:
    """What one interpretation did, the same for every back end: seconds per stage (they add up to
    `total`), which network read the sketch at what canvas and cost, and warnings for the user."""

    seconds: Mapping[str, float] = field(default_factory=dict)
    network: str = ""
    canvas: int | None = None
    flops: int | None = None
    warnings: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return float(self.seconds.get("total", sum(v for k, v in self.seconds.items() if k != "total")))

    def to_json(self) -> dict:
        d: dict[str, Any] = {"stage_seconds": {k: round(float(v), 5) for k, v in self.seconds.items()}}
        if self.network:
            d["network"] = self.network
        if self.canvas is not None:
            d["canvas"] = int(self.canvas)
        if self.flops is not None:
            d["flops"] = int(self.flops)
        if self.warnings:
            d["warnings"] = list(self.warnings)
        return d

    def summary(self) -> str:
        """' · 84 ms (view 12, network 3, fitting 61) · light network at 48 px, 9.6 MFLOPs'."""
        text = f" · {self.total * 1e3:.0f} ms"
        parts = [f"{STAGE_NAMES.get(k, k)} {v * 1e3:.0f}" for k, v in self.seconds.items() if k != "total"]
        text += f" ({', '.join(parts)})" if parts else ""
        if self.flops:
            flops = f"{self.flops / 1e9:.2f} GFLOPs" if self.flops >= 1e9 else f"{self.flops / 1e6:.1f} MFLOPs"
            text += f" · {self.network or 'the'} network" + (f" at {self.canvas} px" if self.canvas else "")
            text += f", {flops}"
        return text


@dataclass(frozen=True)
class Interpretation:
    """A back end's answer: proposals best first (empty when nothing was recognised), the report,
    and a hint saying what to draw when nothing (or nothing sure enough) was found."""

    proposals: tuple[Proposal, ...] = ()
    report: Report = field(default_factory=Report)
    hint: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "proposals", tuple(self.proposals))

    def __len__(self) -> int:
        return len(self.proposals)

    def __iter__(self):
        return iter(self.proposals)

    def __getitem__(self, i: int) -> Proposal:
        return self.proposals[i]

    def __bool__(self) -> bool:
        return bool(self.proposals)


Renderer = Callable[..., Any]


class Cancelled(Exception):
    """The user stopped a back end's work (`Context.step`); nothing is proposed."""


@dataclass(frozen=True)
class Context:
    """What a back end may read while it proposes: the current model state (immutable), the camera
    the user works in, and a render function (`render(camera, width, height, lines=True)` gives
    the depth, normal, face-id and line renders of the model), and `step(done, total)`, which a
    back end with long work (sampling, say) calls between its steps: it shows progress to the
    user and returns False once they asked to cancel, when the back end stops and proposes
    nothing (`Cancelled`). `options` are option values for this reading only (a script's one-off
    seed): a back end reads them over its own (`NeuralBackend.options_for`), which stay as they are."""

    state: ModelState
    camera: Camera | None = None
    renderer: Renderer | None = field(default=None, compare=False, repr=False)
    progress: Callable[[int, int], bool] | None = field(default=None, compare=False, repr=False)
    options: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def step(self, done: int, total: int) -> None:
        """Report `done` of `total` steps; raises `Cancelled` when the user asked to stop."""
        if self.progress is not None and self.progress(done, total) is False:
            raise Cancelled("cancelled")

    @property
    def bodies(self) -> Mapping[str, Any]:
        return self.state.bodies

    def render(self, camera: Camera, width: int = 256, height: int = 256, lines: bool = True,
               bodies: Mapping[str, Any] | None = None):
        """Renders of the model (or of `bodies`, a subset) from `camera` (`modeling.render.ContextRenders`)."""
        if self.renderer is not None:
            return self.renderer(self.state.bodies if bodies is None else bodies, camera, width, height, lines=lines)
        from .render import render_context
        return render_context(self.state.bodies if bodies is None else bodies, camera, width, height, lines=lines)


@runtime_checkable
class Backend(Protocol):
    """An interpretation back end: declared modes and options, `prepare`, `propose`."""

    name: str
    modes: tuple[ModeSpec, ...]

    @property
    def options(self) -> Any: ...

    def configure(self, **changes: Any) -> Any: ...

    def prepare(self) -> None: ...

    def propose(self, sketch: Sketch, context: Context, top_k: int = 3) -> Interpretation: ...


@runtime_checkable
class PartSuggester(Protocol):
    """A back end whose mode declares `part_suggestions`: strokes like the last ones drawn."""

    def suggest(self, sketch: Sketch, k: int = 5, part: str | None = None) -> Any: ...


def check_backend(backend: Any) -> None:
    """Raise ContractError when `backend` does not declare what the contract asks for."""
    missing = [n for n in ("name", "modes", "options", "configure", "prepare", "propose") if not hasattr(backend, n)]
    if missing:
        raise ContractError(f"the back end {type(backend).__name__} lacks {', '.join(missing)} "
                            "(see sketchforge.modeling.contract.Backend)")
    modes = backend.modes
    if not modes or not all(isinstance(m, ModeSpec) for m in modes):
        raise ContractError(f"the back end {backend.name!r} must declare its modes as ModeSpec values")
    describe_options(backend.options)
    if any(m.part_suggestions for m in modes) and not isinstance(backend, PartSuggester):
        raise ContractError(f"the back end {backend.name!r} declares part suggestions but has no suggest()")


def mode_names(backends: Sequence[Any]) -> list[str]:
    return [m.name for b in backends for m in b.modes]
