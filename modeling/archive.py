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
import reprlib
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .bodies import MeshBody, PointCloudBody, SolidBody
from .document import Cancelled, Document
from .files import atomic_write
from .operations import Operation, OperationError

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
    return any(key in op.blob_keys() for op in doc.history)


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


# Caps checked against each member's declared size before anything is read, so a small file
# cannot make the reader allocate gigabytes; reading is bounded by the declared size as well.
MAX_MANIFEST = 16 * 2**20
MAX_BLOB = 512 * 2**20
MAX_TOTAL = 2 * 2**30
MAX_RATIO = 200      # deflate reaches ~1000:1 only on degenerate data; real members stay far below this
RATIO_FLOOR = 2**20  # members smaller than this are never refused for their ratio
_CHUNK = 2**20
_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})  # what Sketchforge and common zip tools write
# What zipfile and the decompressors raise for a damaged archive or member.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError, ValueError,
               struct.error, NotImplementedError, RuntimeError)
_SHOW = reprlib.Repr()  # names and values from the file, shown in messages at most this long
_SHOW.maxstring = _SHOW.maxother = 100


def load_document(path: str | Path, operation: Callable[[str], type[Operation]],
                  progress: Callable[[int, int], bool] | None = None, importers: Any = None) -> Document:
    """Read a session file into a new Document; `operation(id)` gives the class of an operation id,
    `importers` the registry imported files are read with (the installed ones when None)."""
    p = Path(path)
    try:
        zf = zipfile.ZipFile(p)
    except FileNotFoundError:
        raise SessionFileError(f"{p} does not exist") from None
    except IsADirectoryError:
        raise SessionFileError(f"{p} is a folder, not a session file") from None
    except PermissionError:
        raise SessionFileError(f"{p} cannot be read: permission denied; check the file's permissions") from None
    except _ZIP_ERRORS as exc:
        raise SessionFileError(f"{p} is not a Sketchforge session file or it is damaged "
                               f"({_first_line(exc)})") from None
    with zf:
        budget = _Budget()
        manifest = _manifest(zf, p, budget)
        blobs = {}
        raw_blobs = manifest.get("blobs", {})
        if not isinstance(raw_blobs, dict):
            raise SessionFileError(f"{p} is damaged: the list of imported files in its manifest is malformed")
        for key, meta in raw_blobs.items():
            name = meta.get("path") if isinstance(meta, dict) else None
            if not isinstance(name, str) or not name:
                raise SessionFileError(f"{p} is damaged: the imported file {_SHOW.repr(key)} has no valid "
                                       "place in it")
            data = _member(zf, p, name, MAX_BLOB, budget)
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
            raise SessionFileError(f"{p} uses the operation {_SHOW.repr(item['op'])}, which no installed "
                                   "Sketchforge or plugin provides; install the plugin that made it") from None
        params = item.get("params", {})
        if not isinstance(params, dict):
            raise SessionFileError(f"{p} is damaged: the parameters of history step {k + 1} are not an object")
        try:
            history.append(cls.from_params(params))
        except (ValueError, TypeError, OverflowError) as exc:  # ParamError, or a number no float holds
            raise SessionFileError(f"{p} is damaged: history step {k + 1}: {exc}") from None
    try:
        return Document.from_history(history, blobs, progress, importers)
    except Cancelled:
        raise
    except OperationError as exc:
        raise SessionFileError(f"{p} does not regenerate: {exc}") from None


class _Budget:
    """The bytes read so far from one archive, against MAX_TOTAL."""

    def __init__(self) -> None:
        self.used = 0


def _manifest(zf: zipfile.ZipFile, p: Path, budget: _Budget) -> dict:
    data = _member(zf, p, "manifest.json", MAX_MANIFEST, budget)
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SessionFileError(f"{p} is damaged: its manifest is not valid JSON") from None
    except RecursionError:
        raise SessionFileError(f"{p} is damaged: its manifest nests too deeply") from None
    except ValueError as exc:  # e.g. an integer longer than Python converts
        raise SessionFileError(f"{p} is damaged: its manifest holds a value that cannot be read ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SessionFileError(f"{p} is not a Sketchforge session file")
    version = manifest.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SessionFileError(f"{p} is damaged: it has no valid format version")
    if version > VERSION:
        raise SessionFileError(f"{p} was written by a newer Sketchforge (session format {_SHOW.repr(version)}; "
                               f"this one reads up to {VERSION}); update Sketchforge to open it")
    return manifest


def _member(zf: zipfile.ZipFile, p: Path, name: str, cap: int, budget: _Budget) -> bytes:
    """The bytes of member `name`, refused before reading when its declared size, compression
    ratio or method is out of bounds, and read no further than its declared size."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise SessionFileError(f"{p} is damaged: {_SHOW.repr(name)} is missing from it") from None
    shown = _SHOW.repr(name)
    if info.flag_bits & 0x1:
        raise SessionFileError(f"{p} cannot be opened: its part {shown} is encrypted, and Sketchforge session "
                               "files never are; open the original file, not an encrypted copy")
    if info.compress_type not in _METHODS:
        raise SessionFileError(f"{p} cannot be opened: its part {shown} uses a compression method "
                               f"({info.compress_type}) Sketchforge does not read; re-pack it with standard "
                               "zip (deflate) compression or use the original file")
    size = info.file_size
    if size > cap:
        raise SessionFileError(f"{p} is refused: its part {shown} declares {_size(size)}, more than the "
                               f"{_size(cap)} a session file may hold there; the file is damaged or not a "
                               "Sketchforge session")
    if size > RATIO_FLOOR and size > MAX_RATIO * max(info.compress_size, 1):
        raise SessionFileError(f"{p} is refused: its part {shown} would expand {size // max(info.compress_size, 1)}"
                               f" times ({_size(info.compress_size)} to {_size(size)}), as no real session "
                               "file does; the file is damaged or built to exhaust memory")
    if budget.used + size > MAX_TOTAL:
        raise SessionFileError(f"{p} is refused: with its part {shown} it would hold more than {_size(MAX_TOTAL)}; "
                               "the file is damaged or not a Sketchforge session")
    chunks: list[bytes] = []
    got = 0
    try:
        with zf.open(info) as fh:
            while got < size:
                chunk = fh.read(min(_CHUNK, size - got))
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
    except _ZIP_ERRORS as exc:  # truncated or corrupt member
        raise SessionFileError(f"{p} is damaged: its part {shown} cannot be read ({_first_line(exc)}); "
                               "use a recovery copy or an older save") from None
    if got != size:
        raise SessionFileError(f"{p} is damaged: its part {shown} is shorter than its header says; "
                               "use a recovery copy or an older save")
    budget.used += size
    return b"".join(chunks)


def _size(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
