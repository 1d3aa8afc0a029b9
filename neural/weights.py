"""One reader and one writer for every weight file of the house (safetensors; nothing is unpickled).

A weight file holds named tensors and, in its safetensors metadata (strings only):

    format    "sketchforge.weights"
    kind      which network it holds ("cadnet", "strokes", "selector", "face-maps", ...; `KINDS`);
              a training checkpoint's kind is the network's with "-checkpoint" after it
    version   the layout version of that kind (an integer); a reader reads up to its own
    config    JSON object: what the network's shape depends on (what a library was built with)
    extra     JSON object: whatever the writer keeps beside it (training record, figures, hashes)

`save_weights` writes one atomically (temp file, fsync, rename); `load_weights` reads one and
answers every way it can go wrong with `WeightsError`, a ValueError whose message names the file,
what is wrong with it and what to do next.

Files written before this layout (each network had its own `format` name, `_LEGACY_FORMATS`;
checkpoints kept the training state in a `train_state` entry) are read as version 1 of their kind,
as they are: the shipped files under assets/ are such files, and a stroke stage records the sha256
of the image network file it was trained on, so rewriting that file would cut the stage off from
its network.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from sketchforge.modeling.files import atomic_write

__all__ = ["FORMAT", "KINDS", "CHECKPOINT", "Kind", "Weights", "WeightsError", "save_weights", "load_weights",
           "checkpoint_kind"]

FORMAT = "sketchforge.weights"
CHECKPOINT = "-checkpoint"  # a training checkpoint's kind: the network's kind + this


@dataclass(frozen=True)
class Kind:
    """What a kind of weight file is called in messages, and how to make one."""

    title: str
    make: str


KINDS: Mapping[str, Kind] = {
    "cadnet": Kind("CAD network", "train one with `sketchforge-train-cad --data DIR --val DIR --out RUN` "
                                  "(it writes RUN/best.safetensors)"),
    "strokes": Kind("CAD stroke stage", "train one with `sketchforge-train-cad-strokes --weights W --data DIR "
                                        "--val DIR --out RUN` (it writes RUN/best.safetensors)"),
    "selector": Kind("canvas selector", "train one with `sketchforge-train-selector --student W --data DIR "
                                        "--val DIR --out S.safetensors`"),
    "face-maps": Kind("face maps network", "train one with `sketchforge-train-face --net maps --data DIR --val DIR "
                                           "--out RUN` (it writes RUN/best.safetensors)"),
    "face-implicit": Kind("face implicit network", "train one with `sketchforge-train-face --net implicit "
                                                   "--data DIR --val DIR --out RUN` (it writes RUN/best.safetensors)"),
    "face-suggest": Kind("stroke-suggestion network", "train one with `sketchforge-face-suggest train --out DIR ...` "
                                                      "(it writes DIR/suggest.safetensors)"),
    "face-parts-library": Kind("stroke-suggestion library", "build one with `sketchforge-face-suggest library "
                                                            "--weights W --heads N --seed S --out LIB.safetensors`"),
    "points-shape": Kind("points shape network", "train one with `sketchforge-train-points --data DIR --val DIR "
                                                 "--out RUN --minutes M --stage shape` (RUN/shape.safetensors)"),
    "points-color": Kind("points color network", "train one with `sketchforge-train-points --data DIR --val DIR "
                                                 "--out RUN --minutes M --stage color` (RUN/color.safetensors)"),
    "points-joint": Kind("one-stage points network", "train one with `sketchforge-train-points --data DIR --val DIR "
                                                     "--out RUN --minutes M --stage joint`"),
    "scene-layout": Kind("scene layout network", "train one with `sketchforge-train-scene --data DIR --val DIR "
                                                 "--out RUN --minutes M` (RUN/scene.safetensors)"),
}

# format names of the files written before this layout -> their kind (all version 1)
_LEGACY_FORMATS = {
    "sketchforge.cadnet": "cadnet",
    "sketchforge.cadstrokes": "strokes",
    "sketchforge.canvas-selector": "selector",
    "sketchforge.face-suggest": "face-suggest",
    "sketchforge.face-suggest-library": "face-parts-library",
}


class WeightsError(ValueError):
    """A weight file that cannot be read: missing, damaged, of another kind or of a newer version.
    The message names the file and says what to do next."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


def checkpoint_kind(kind: str) -> str:
    """The kind of a training checkpoint of network `kind` (weights, optimizer and training state)."""
    return kind + CHECKPOINT


def _kind(kind: str) -> Kind:
    if kind.endswith(CHECKPOINT):
        net = _kind(kind[:-len(CHECKPOINT)])
        return Kind(f"{net.title} training checkpoint",
                    "remove the run folder's checkpoint.safetensors to start the run afresh, or pick another --out")
    return KINDS.get(kind, Kind(f"'{kind}' network", "train it again"))


def _fix(kind: str) -> str:
    """What to do about an unreadable file of `kind`: make one, or restore the shipped one."""
    make = _kind(kind).make
    if kind.endswith(CHECKPOINT):
        return make
    return f"{make}; for a file shipped with Sketchforge, reinstall Sketchforge"


@dataclass(frozen=True)
class Weights:
    """A weight file's tensors (torch, on the CPU) and metadata, as `load_weights` read it."""

    path: Path
    kind: str
    version: int
    config: dict
    extra: dict
    tensors: dict[str, torch.Tensor] = field(repr=False)

    def arrays(self) -> dict[str, np.ndarray]:
        """The tensors as numpy arrays (sharing memory with them)."""
        return {k: v.numpy() for k, v in self.tensors.items()}

    def error(self, problem: str) -> WeightsError:
        """A WeightsError saying that this file `problem` (e.g. "holds tensors of another shape"), and the fix."""
        return WeightsError(f"{self.path} {problem}; {_fix(self.kind)}", self.path)

    @contextmanager
    def unpacking(self) -> Iterator[None]:
        """Errors raised while a loader builds its network from these weights (a config key missing,
        a tensor of the wrong shape) become a WeightsError naming the file and the fix."""
        try:
            yield
        except WeightsError:
            raise
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            title = _kind(self.kind).title
            raise self.error(f"does not hold a readable {title} ({type(exc).__name__}: {exc})") from None


def save_weights(path: str | Path, tensors: Mapping[str, torch.Tensor | np.ndarray], *, kind: str, config: dict,
                 version: int = 1, extra: dict | None = None) -> None:
    """Write `tensors` with the metadata of the module docstring to `path`, atomically."""
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"kind must name the network, e.g. 'cadnet'; got {kind!r}")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"version must be an integer of at least 1, got {version!r}")
    if not isinstance(config, dict) or not (extra is None or isinstance(extra, dict)):
        raise ValueError("config and extra must be dicts (they are stored as JSON objects)")
    out = {k: _tensor(v) for k, v in tensors.items()}
    meta = {"format": FORMAT, "kind": kind, "version": str(version), "config": json.dumps(config),
            "extra": json.dumps(extra or {})}
    atomic_write(Path(path), lambda tmp: save_file(out, str(tmp), metadata=meta))


def _tensor(value: torch.Tensor | np.ndarray) -> torch.Tensor:
    """A contiguous CPU tensor of its own (safetensors refuses tensors that share memory)."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, copy=True, order="C"))
    return value.detach().to("cpu").contiguous().clone()


def load_weights(path: str | Path, kind: str | tuple[str, ...], *, newest: int = 1) -> Weights:
    """The weight file at `path`, which must hold one of `kind` of a layout version up to `newest`;
    WeightsError naming the file and the fix otherwise."""
    path = Path(path)
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    want = kinds[0]
    if not path.is_file():
        what = "a folder" if path.is_dir() else "no such file"
        raise WeightsError(f"no {_kind(want).title} file at {path} ({what}); {_fix(want)}", path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            named, version, config_json, extra_json, more = _layout(dict(fh.metadata() or {}))
            found = _check(path, kinds, named, version, newest)
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{path} is not a readable safetensors file: damaged, cut short or not a weight file "
                           f"at all ({exc}); {_fix(want)}", path) from None
    config = _json_object(path, found, "config", config_json)
    extra = {**_json_object(path, found, "extra", extra_json), **more}
    return Weights(path=path, kind=found, version=int(version), config=config, extra=extra, tensors=tensors)


def _check(path: Path, kinds: tuple[str, ...], found: str | None, version: str, newest: int) -> str:
    """The kind `found`, or WeightsError unless it is one of `kinds` of a layout version up to `newest`."""
    want = kinds[0]
    if found is None:
        raise WeightsError(f"{path} is a safetensors file but not a Sketchforge weight file (its metadata names no "
                           f"'{FORMAT}' format); {_fix(want)}", path)
    if found not in kinds:
        wanted = " or ".join(f"a {_kind(k).title} ('{k}')" for k in kinds)
        raise WeightsError(f"{path} holds a {_kind(found).title} ('{found}'), not {wanted}; give the right file, "
                           f"or {_fix(want)}", path)
    if not (version.isascii() and version.isdigit()) or int(version) < 1:
        raise WeightsError(f"{path} has a layout version that does not parse ({version!r}); {_fix(found)}", path)
    if int(version) > newest:
        raise WeightsError(f"{path} holds a {_kind(found).title} of layout version {version}, newer than this "
                           f"Sketchforge reads (up to {newest}); update Sketchforge, or {_fix(found)}", path)
    return found


def _layout(meta: dict[str, str]) -> tuple[str | None, str, str, str, dict]:
    """(kind, version, config JSON, extra JSON, more extra) from a file's metadata, in this layout or
    an older one (`_LEGACY_FORMATS`, read as version 1); kind None when the metadata is no
    Sketchforge weight file's."""
    fmt = meta.get("format")
    if fmt == FORMAT:
        return meta.get("kind") or None, meta.get("version", ""), meta.get("config", "{}"), meta.get("extra", "{}"), {}
    if fmt == "sketchforge.face-net" and meta.get("kind") in ("maps", "implicit"):
        kind = f"face-{meta['kind']}"
    elif fmt in _LEGACY_FORMATS:
        kind = _LEGACY_FORMATS[fmt]
    elif fmt is None and "train_state" in meta and "weights_sha256" in meta:
        kind = "strokes"  # the stroke stage's checkpoints named no format
    else:
        return None, "", "{}", "{}", {}
    config = meta.get("meta" if kind == "face-parts-library" else "config", "{}")
    if "train_state" in meta:
        more = {"weights_sha256": meta["weights_sha256"]} if "weights_sha256" in meta else {}
        return checkpoint_kind(kind), "1", config, '{"train_state": ' + meta["train_state"] + "}", more
    return kind, meta.get("version", "1"), config, meta.get("extra", "{}"), {}


def _json_object(path: Path, kind: str, name: str, text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise WeightsError(f"{path} has a {name} that does not parse as JSON ({exc}); {_fix(kind)}", path) from None
    if not isinstance(value, dict):
        raise WeightsError(f"{path} has a {name} that is not a JSON object; {_fix(kind)}", path)
    return value
