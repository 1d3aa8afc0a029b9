"""The sketch: what the user drew in one view, plus that view (`specs/sketch-file.md`, version 1)."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .camera import Camera, CameraError

FORMAT = "sketchforge.sketch"
VERSION = 1


class SketchError(ValueError):
    """A sketch file or value that does not follow the sketch-file contract."""


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
        return Sketch.from_json(data)

    @staticmethod
    def from_json(data: object) -> "Sketch":
        if not isinstance(data, dict):
            raise SketchError("a sketch must be a JSON object")
        if data.get("format") != FORMAT:
            raise SketchError(f"key 'format' must be {FORMAT!r}, got {data.get('format')!r}")
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise SketchError(f"key 'version' must be an integer, got {version!r}")
        if version > VERSION:
            raise SketchError(f"sketch version {version} is newer than this Sketchforge reads "
                              f"(up to {VERSION}); update Sketchforge")
        if version < 1:
            raise SketchError(f"key 'version' must be 1, got {version}")
        canvas = _obj(data, "canvas")
        width = _positive_int(canvas, "width", "canvas.width")
        height = _positive_int(canvas, "height", "canvas.height")
        cam = _obj(data, "camera")
        projection = cam.get("projection")
        if projection not in ("perspective", "orthographic"):
            raise SketchError(f"key 'camera.projection' must be 'perspective' or 'orthographic', got {projection!r}")
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
            raise SketchError(f"key 'mode' must be a non-empty string, got {mode!r}")
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


def _number(d: dict, key: str, name: str) -> float:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise SketchError(f"key '{name}' is missing or not a finite number (got {v!r})")
    return float(v)


def _positive_int(d: dict, key: str, name: str) -> int:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v) or not (1 <= v <= 16384):
        raise SketchError(f"key '{name}' must be a whole number of pixels between 1 and 16384 (got {v!r})")
    return int(v)


def _vec3(cam: dict, key: str) -> tuple[float, float, float]:
    v = cam.get(key)
    if (not isinstance(v, list) or len(v) != 3
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)):
        raise SketchError(f"key 'camera.{key}' must be a list of three finite numbers (got {v!r})")
    return (float(v[0]), float(v[1]), float(v[2]))


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
        if not all(math.isfinite(x) for x in p):
            raise SketchError(f"key '{where}.points[{j}]' holds a NaN or infinite coordinate")
        if len(p) == 2:
            out[j] = (p[0], p[1], 1.0, 0.0)
        else:
            if not 0.0 <= p[2] <= 1.0:
                raise SketchError(f"key '{where}.points[{j}]' pressure must be within 0..1 (got {p[2]})")
            out[j] = p
    kind = s.get("kind")
    if kind is not None and (not isinstance(kind, str) or not kind):
        raise SketchError(f"key '{where}.kind' must be a non-empty string when present")
    return Stroke(out, kind)
