"""Session files (`*.sketchforge`): a versioned zip archive of JSON and binary arrays. No pickle.

    manifest.json        format, version, the history (operation ids + JSON parameters), the
                         list of blobs and bodies with their summaries
    blobs/<sha256>.bin   bytes of imported files, checked against their hash when read
    bodies/<id>.brep     each final solid as OpenCascade BREP (for other tools; opening a session
                         regenerates from the history, the source of truth)
    bodies/<id>/*.npy    mesh and point-cloud bodies as arrays (read with allow_pickle=False)

Reading never touches an open document: it builds a new one, or raises `SessionFileError`.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .bodies import MeshBody, PointCloudBody, SolidBody
from .document import Cancelled, Document
from .files import atomic_write
from .operations import Operation, OperationError
from .params import ParamError

FORMAT = "sketchforge.session"
VERSION = 1
SUFFIX = ".sketchforge"


class SessionFileError(ValueError):
    """A session file that cannot be read; the message says why and what to do."""


def save_document(doc: Document, path: str | Path) -> None:
    """Write the document atomically (temp file, fsync, rename)."""
    from .occ.step import write_brep
    manifest = {
        "format": FORMAT, "version": VERSION,
        "history": [op.to_json() for op in doc.history],
        "blobs": {k: {"path": f"blobs/{k}.bin", "size": len(v)} for k, v in doc.blobs.items()
                  if _used(doc, k)},
        "bodies": {},
    }
    files: dict[str, bytes] = {}
    for key, meta in manifest["blobs"].items():
        files[meta["path"]] = doc.blobs[key]
    for body_id, body in doc.bodies.items():
        entry = dict(body.summary())
        if isinstance(body, SolidBody):
            entry["brep"] = f"bodies/{body_id}.brep"
            files[entry["brep"]] = write_brep(body.shape)
        elif isinstance(body, MeshBody):
            entry["arrays"] = _arrays(files, body_id, vertices=body.vertices, triangles=body.triangles,
                                      colors=body.colors)
        elif isinstance(body, PointCloudBody):
            entry["arrays"] = _arrays(files, body_id, points=body.points, colors=body.colors)
        manifest["bodies"][body_id] = entry

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("manifest.json", json.dumps(manifest, indent=1))
            for name, data in files.items():
                zf.writestr(name, data)

    atomic_write(Path(path), write)


def _used(doc: Document, key: str) -> bool:
    return any(getattr(op, "blob", None) == key for op in doc.history)


def _arrays(files: dict, body_id: str, **arrays) -> dict:
    out = {}
    for name, arr in arrays.items():
        if arr is None:
            continue
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
        out[name] = f"bodies/{body_id}/{name}.npy"
        files[out[name]] = buf.getvalue()
    return out


def load_document(path: str | Path, operation: Callable[[str], type[Operation]],
                  progress: Callable[[int, int], bool] | None = None, importers: Any = None) -> Document:
    """Read a session file into a new Document; `operation(id)` gives the class of an operation id,
    `importers` the registry imported files are read with (the installed ones when None)."""
    p = Path(path)
    try:
        zf = zipfile.ZipFile(p)
    except FileNotFoundError:
        raise SessionFileError(f"{p} does not exist") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise SessionFileError(f"{p} is not a Sketchforge session file or it is damaged ({exc})") from None
    with zf:
        manifest = _manifest(zf, p)
        blobs = {}
        for key, meta in manifest.get("blobs", {}).items():
            data = _member(zf, p, meta.get("path", "") if isinstance(meta, dict) else "")
            if hashlib.sha256(data).hexdigest() != key:
                raise SessionFileError(f"{p} is damaged: an imported file inside it does not match its checksum")
            blobs[key] = data
    history = []
    raw = manifest.get("history")
    if not isinstance(raw, list):
        raise SessionFileError(f"{p} is damaged: its history is missing")
    for k, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("op"), str):
            raise SessionFileError(f"{p} is damaged: history step {k + 1} is malformed")
        try:
            cls = operation(item["op"])
        except LookupError:
            raise SessionFileError(f"{p} uses the operation {item['op']!r}, which no installed Sketchforge "
                                   "or plugin provides; install the plugin that made it") from None
        try:
            history.append(cls.from_params(item.get("params", {})))
        except ParamError as exc:
            raise SessionFileError(f"{p} is damaged: history step {k + 1}: {exc}") from None
    try:
        return Document.from_history(history, blobs, progress, importers)
    except Cancelled:
        raise
    except OperationError as exc:
        raise SessionFileError(f"{p} does not regenerate: {exc}") from None


def _manifest(zf: zipfile.ZipFile, p: Path) -> dict:
    data = _member(zf, p, "manifest.json")
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SessionFileError(f"{p} is damaged: its manifest is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SessionFileError(f"{p} is not a Sketchforge session file")
    version = manifest.get("version")
    if not isinstance(version, int) or version < 1:
        raise SessionFileError(f"{p} is damaged: it has no valid format version")
    if version > VERSION:
        raise SessionFileError(f"{p} was written by a newer Sketchforge (session format {version}; this one "
                               f"reads up to {VERSION}); update Sketchforge to open it")
    return manifest


def _member(zf: zipfile.ZipFile, p: Path, name: str) -> bytes:
    try:
        return zf.read(name)
    except KeyError:
        raise SessionFileError(f"{p} is damaged: {name or 'a part'} is missing from it") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:  # truncated or corrupt member
        raise SessionFileError(f"{p} is damaged ({exc}); use a recovery copy or an older save") from None
