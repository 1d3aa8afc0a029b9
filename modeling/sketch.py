"""The sketch: what the user drew in one view, plus that view (`specs/sketch-file.md`, version 1)."""

from __future__ import annotations

import json
import math
import os
import reprlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .camera import Camera, CameraError

FORMAT = "sketchforge.sketch"
VERSION = 1
LIMIT = 1e12  # the largest magnitude a number may have (mm or pixels); beyond it the camera's arithmetic overflows


class SketchError(ValueError):
    """A sketch file or value that does not follow the sketch-file contract."""


_SHOW = reprlib.Repr()
_SHOW.maxstring = _SHOW.maxother = 40
_SHOW.maxlong = 24


def _show(value: object) -> str:
    """A short one-line rendering of a bad value for an error message (huge numbers, long or deeply
    nested values are cut, never expanded in full)."""
    return _SHOW.repr(value)


@dataclass(frozen=True)
class Stroke:
    """One stroke: points (N, 4) as u, v, pressure, t_ms; `kind` is its role or None for a plain line."""

    points: np.ndarray
    kind: str | None = None

    @property
    def uv(self) -> np.ndarray:
        return self.points[:, :2]

    def to_json(self) -> dict:
        pts = [[float(u), float(v), float(p), float(t)] for u, v, p, t in self.points]
        d: dict = {"points": pts}
        if self.kind is not None:
            d["kind"] = self.kind
        return d


@dataclass(frozen=True)
class Sketch:
    """Strokes in drawing order, the canvas size, the camera, the mode and an optional prompt."""

    camera: Camera
    width: int
    height: int
    strokes: tuple[Stroke, ...] = ()
    mode: str = "cad"
    prompt: str | None = None
    extra: dict = field(default_factory=dict, compare=False)

    def to_json(self) -> dict:
        d = {"format": FORMAT, "version": VERSION,
             "canvas": {"width": self.width, "height": self.height},
             "camera": self.camera.to_json(), "mode": self.mode,
             "strokes": [s.to_json() for s in self.strokes]}
        if self.prompt is not None:
            d["prompt"] = self.prompt
        return d

    def save(self, path: str | os.PathLike) -> None:
        from .files import atomic_write_bytes
        atomic_write_bytes(Path(path), json.dumps(self.to_json(), indent=1).encode("utf-8"))

    @staticmethod
    def load(path: str | os.PathLike) -> "Sketch":
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SketchError(f"cannot read sketch file {p}: {exc}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SketchError(f"{p} is not valid JSON ({exc.msg} at line {exc.lineno}); "
                              "a sketch file is a JSON object as in the sketch-file spec") from None
        except RecursionError:
            raise SketchError(f"{p} nests lists or objects too deeply to be a sketch file; "
                              "a sketch file is a JSON object as in the sketch-file spec") from None
        except ValueError as exc:  # e.g. an integer longer than Python converts
            raise SketchError(f"{p} holds a value that cannot be read ({exc}); "
                              "check the file against the sketch-file spec") from None
        return Sketch.from_json(data)

    @staticmethod
    def from_json(data: object) -> "Sketch":
        if not isinstance(data, dict):
            raise SketchError("a sketch must be a JSON object")
        if data.get("format") != FORMAT:
            raise SketchError(f"key 'format' must be {FORMAT!r}, got {_show(data.get('format'))}")
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise SketchError(f"key 'version' must be an integer, got {_show(version)}")
        if version > VERSION:
            raise SketchError(f"sketch version {_show(version)} is newer than this Sketchforge reads "
                              f"(up to {VERSION}); update Sketchforge")
        if version < 1:
            raise SketchError(f"key 'version' must be 1, got {_show(version)}")
        canvas = _obj(data, "canvas")
        width = _positive_int(canvas, "width", "canvas.width")
        height = _positive_int(canvas, "height", "canvas.height")
        cam = _obj(data, "camera")
        projection = cam.get("projection")
        if projection not in ("perspective", "orthographic"):
            raise SketchError("key 'camera.projection' must be 'perspective' or 'orthographic', "
                              f"got {_show(projection)}")
        kwargs = {"eye": _vec3(cam, "eye"), "target": _vec3(cam, "target"), "up": _vec3(cam, "up"),
                  "projection": projection}
        if projection == "perspective":
            kwargs["fov_y_deg"] = _number(cam, "fov_y_deg", "camera.fov_y_deg")
        else:
            kwargs["height"] = _number(cam, "height", "camera.height")
        try:
            camera = Camera(**kwargs)
        except CameraError as exc:
            raise SketchError(str(exc)) from None
        mode = data.get("mode", "cad")
        if not isinstance(mode, str) or not mode:
            raise SketchError(f"key 'mode' must be a non-empty string, got {_show(mode)}")
        prompt = data.get("prompt")
        if prompt is not None and not isinstance(prompt, str):
            raise SketchError(f"key 'prompt' must be a string, got {type(prompt).__name__}")
        raw_strokes = data.get("strokes")
        if not isinstance(raw_strokes, list):
            raise SketchError("key 'strokes' is missing or not a list")
        strokes = tuple(_stroke(s, i) for i, s in enumerate(raw_strokes))
        known = {"format", "version", "canvas", "camera", "mode", "prompt", "strokes"}
        extra = {k: v for k, v in data.items() if k not in known}
        return Sketch(camera, width, height, strokes, mode, prompt, extra)


def _obj(d: dict, key: str) -> dict:
    v = d.get(key)
    if not isinstance(v, dict):
        raise SketchError(f"key '{key}' is missing or not an object")
    return v


def _finite(x: object) -> float | None:
    """`x` as a float, or None when it is not a number (bools are not numbers here), is NaN or
    infinite, or lies beyond ±LIMIT (integers too large for a float included)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    try:
        f = float(x)
    except OverflowError:
        return None
    return f if math.isfinite(f) and abs(f) <= LIMIT else None


def _number(d: dict, key: str, name: str) -> float:
    v = d.get(key)
    f = _finite(v)
    if f is None:
        raise SketchError(f"key '{name}' is missing or not a finite number within ±{LIMIT:g} (got {_show(v)})")
    return f


def _positive_int(d: dict, key: str, name: str) -> int:
    v = d.get(key)
    f = _finite(v)
    if f is None or f != int(f) or not (1 <= f <= 16384):
        raise SketchError(f"key '{name}' must be a whole number of pixels between 1 and 16384 (got {_show(v)})")
    return int(f)


def _floats(values: list) -> list[float] | None:
    """Every item as a finite float, or None when any one is not (see `_finite`)."""
    out = []
    for x in values:
        f = _finite(x)
        if f is None:
            return None
        out.append(f)
    return out


def _vec3(cam: dict, key: str) -> tuple[float, float, float]:
    v = cam.get(key)
    xs = _floats(v) if isinstance(v, list) and len(v) == 3 else None
    if xs is None:
        raise SketchError(f"key 'camera.{key}' must be a list of three finite numbers within ±{LIMIT:g} "
                          f"(got {_show(v)})")
    return (xs[0], xs[1], xs[2])


def _stroke(s: object, i: int) -> Stroke:
    where = f"strokes[{i}]"
    if not isinstance(s, dict):
        raise SketchError(f"key '{where}' must be an object with 'points'")
    pts = s.get("points")
    if not isinstance(pts, list):
        raise SketchError(f"key '{where}.points' is missing or not a list")
    out = np.zeros((len(pts), 4), float)
    for j, p in enumerate(pts):
        if (not isinstance(p, list) or len(p) not in (2, 4)
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in p)):
            raise SketchError(f"key '{where}.points[{j}]' must be [u, v] or [u, v, pressure, t_ms]")
        xs = _floats(p)
        if xs is None:
            raise SketchError(f"key '{where}.points[{j}]' holds a NaN or infinite number, "
                              f"or one beyond ±{LIMIT:g}")
        if len(xs) == 2:
            out[j] = (xs[0], xs[1], 1.0, 0.0)
        else:
            if not 0.0 <= xs[2] <= 1.0:
                raise SketchError(f"key '{where}.points[{j}]' pressure must be within 0..1 (got {_show(p[2])})")
            out[j] = xs
    kind = s.get("kind")
    if kind is not None and (not isinstance(kind, str) or not kind):
        raise SketchError(f"key '{where}.kind' must be a non-empty string when present")
    return Stroke(out, kind)
