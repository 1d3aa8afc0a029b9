"""Fuzzing the file readers: whatever they are given, they succeed or raise the project's own error.

The sketch reader, the session reader and the OBJ / PLY / glTF / GLB importers get arbitrary
input and mutations of valid files (bytes flipped, cut short, inserted or deleted, numbers
swapped for extreme ones, zip headers and members rewritten). Anything but success or
`SketchError` / `SessionFileError` / `ExchangeError` is a finding. STEP is not fuzzed here: its
reader runs the CAD kernel, which can take the whole process down.

The budget fits `make test` (well under a minute on two cores); the nightly
`benchmarks/fuzz_readers.py --minutes N` runs the same properties (`TARGETS`) for longer.
"""

from __future__ import annotations

import atexit
import copy
import functools
import io
import json
import re
import shutil
import struct
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sketchforge.modeling.archive import SessionFileError
from sketchforge.modeling.exchange import ExchangeError
from sketchforge.modeling.session import Session
from sketchforge.modeling.sketch import Sketch, SketchError

# trimesh warns about the NaNs it casts while reading damaged files; our own warnings stay errors
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning:trimesh")

# Examples per property in `make test`: the file takes about 25 s on two shared cores (budget: 60 s).
QUICK = settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SPEC_EXAMPLE = {
    "format": "sketchforge.sketch", "version": 1, "canvas": {"width": 512, "height": 512},
    "camera": {"eye": [120.0, -150.0, 110.0], "target": [0.0, 0.0, 10.0], "up": [0.0, 0.0, 1.0],
               "projection": "perspective", "fov_y_deg": 35.0},
    "mode": "cad", "prompt": "a bracket",
    "strokes": [{"points": [[201.5, 188.0], [240.2, 187.1], [282.0, 186.4]]},
                {"points": [[150.0, 300.0, 0.62, 0], [152.0, 310.0, 0.70, 16]], "kind": "ridge"}],
}
ORTHO_EXAMPLE = {**SPEC_EXAMPLE, "camera": {"eye": [0, -100, 0], "target": [0, 0, 0], "up": [0, 0, 1],
                                             "projection": "orthographic", "height": 80.0}}


class Finding(AssertionError):
    """A reader let an exception other than the project's own error escape."""


@functools.cache
def scratch() -> Path:
    """One folder for the files the readers are given (hypothesis runs examples one at a time)."""
    folder = Path(tempfile.mkdtemp(prefix="sketchforge-fuzz-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def expect(call: Callable[[], Any], allowed: type[Exception]) -> bool:
    """Run `call`; True when it succeeded, False when it raised `allowed` with a one-line message;
    anything else (another exception, a message over several lines) is a Finding."""
    try:
        call()
    except allowed as exc:
        if "\n" in str(exc) or not str(exc).strip():
            raise Finding(f"{type(exc).__name__} without a one-line message: {str(exc)[:300]!r}") from exc
        return False
    except Exception as exc:
        raise Finding(f"{type(exc).__name__}: {str(exc)[:300]}") from exc
    return True


# --------------------------------------------------------------------------- building blocks

EXTREME_NUMBERS = [10**400, -(10**400), 2**63, 2**64 + 1, -(2**31), float("nan"), float("inf"), float("-inf"),
                   1e308, -1e308, 1e-320, -0.0, 0, 1, -1, 16384, 16385, 0.1, 179.0]
LEAVES = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
          | st.sampled_from(EXTREME_NUMBERS))
JSON_VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=5), max_leaves=12)
EXTREME_TOKENS = [b"nan", b"NaN", b"inf", b"-Infinity", b"1e400", b"-1", b"0", b"4294967296", b"2147483648",
                  b"99999999999", b"-99999999999", b"1" * 400, b"0.5", b"3", b"65535", b"1e-320"]
_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, prefix + (i,))
    return out


def _set(root: Any, path: tuple, new: Any, delete: bool) -> Any:
    """`root` with the value at `path` replaced (or removed); a path that no longer exists is left."""
    if not path:
        return new
    parent = root
    for key in path[:-1]:
        try:
            parent = parent[key]
        except (KeyError, IndexError, TypeError):
            return root
    key = path[-1]
    try:
        if delete:
            del parent[key]
        else:
            parent[key] = new
    except (KeyError, IndexError, TypeError):
        pass
    return root


@st.composite
def json_mutations(draw: Callable, seeds: list[Any]) -> Any:
    """A valid JSON document with one to three values replaced by arbitrary or extreme ones, or removed."""
    value = copy.deepcopy(draw(st.sampled_from(seeds)))
    paths = _paths(value)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        value = _set(value, path, draw(JSON_VALUES), delete=bool(path) and draw(st.integers(0, 5)) == 0)
    return value


@st.composite
def byte_mutations(draw: Callable, seeds: list[bytes]) -> bytes:
    """A valid file with one to four edits: a byte flipped, the end cut off, bytes inserted or
    deleted, or a number swapped for an extreme one (counts, indices, coordinates)."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete", "number", "number"]))
        i = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[i] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[i:]
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[i:i + draw(st.integers(1, 64))]
        else:
            numbers = list(_NUMBER.finditer(bytes(data)))
            if numbers:
                m = draw(st.sampled_from(numbers))
                data[m.start():m.end()] = draw(st.sampled_from(EXTREME_TOKENS))
    return bytes(data)


# --------------------------------------------------------------------------- sketch files


def check_sketch_value(value: Any) -> None:
    expect(lambda: Sketch.from_json(value), SketchError)


def check_sketch_bytes(data: bytes) -> None:
    path = scratch() / "fuzz.sketch.json"
    path.write_bytes(data)
    expect(lambda: Sketch.load(path), SketchError)


SKETCH_SEEDS = [json.dumps(SPEC_EXAMPLE).encode(), json.dumps(ORTHO_EXAMPLE, indent=1).encode()]
SKETCH_VALUES = JSON_VALUES | json_mutations([SPEC_EXAMPLE, ORTHO_EXAMPLE])
SKETCH_BYTES = (st.binary(max_size=600) | byte_mutations(SKETCH_SEEDS)
                | st.integers(1, 200_000).map(lambda n: b"[" * n + b"]" * n)
                | json_mutations([SPEC_EXAMPLE, ORTHO_EXAMPLE]).map(lambda v: json.dumps(v).encode()))


@QUICK
@given(SKETCH_VALUES)
def test_sketch_from_json_reads_any_value_or_raises_sketch_error(value):
    check_sketch_value(value)


@QUICK
@given(SKETCH_BYTES)
def test_sketch_load_reads_any_bytes_or_raises_sketch_error(data):
    check_sketch_bytes(data)


# --------------------------------------------------------------------------- session files


@functools.cache
def session_seeds() -> tuple[bytes, ...]:
    """Valid session files: solids only, and one carrying an imported mesh as a blob."""
    s = Session()
    s.box((10.0, 8.0, 6.0))
    s.extrude("body1", "top", 2.0)
    plain = s.save(scratch() / "plain.sketchforge").read_bytes()
    s.export(scratch() / "cube.obj")
    s.new()
    s.import_file(scratch() / "cube.obj")
    s.box((5.0, 5.0, 5.0))
    with_blob = s.save(scratch() / "blob.sketchforge").read_bytes()
    return plain, with_blob


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _zip(members: dict[str, bytes], method: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buf.getvalue()


# (offset, struct format) of the fields worth lying about in local (PK\3\4) and central (PK\1\2) headers
_LOCAL_FIELDS = [(6, "<H"), (8, "<H"), (14, "<I"), (18, "<I"), (22, "<I"), (26, "<H"), (28, "<H")]
_CENTRAL_FIELDS = [(8, "<H"), (10, "<H"), (16, "<I"), (20, "<I"), (24, "<I"), (28, "<H"), (30, "<H"), (42, "<I")]
_FIELD_VALUES = [0, 1, 8, 9, 12, 14, 99, 0xFFFF, 0xFFFFFFFF, 2**30, 2**31, 1, 0x41]


@st.composite
def session_mutations(draw: Callable) -> bytes:
    seed = draw(st.sampled_from(session_seeds()))
    kind = draw(st.sampled_from(["bytes", "header", "member", "manifest", "manifest"]))
    if kind == "bytes":
        return draw(byte_mutations([seed]))
    if kind == "header":
        data = bytearray(seed)
        magic, fields = draw(st.sampled_from([(b"PK\x03\x04", _LOCAL_FIELDS), (b"PK\x01\x02", _CENTRAL_FIELDS)]))
        starts = [m.start() for m in re.finditer(re.escape(magic), bytes(data))]
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.sampled_from(starts))
            offset, fmt = draw(st.sampled_from(fields))
            limit = 0xFFFF if fmt == "<H" else 0xFFFFFFFF
            value = draw(st.sampled_from(_FIELD_VALUES) | st.integers(0, limit)) & limit
            struct.pack_into(fmt, data, at + offset, value)
        return bytes(data)
    members = _members(seed)
    method = draw(st.sampled_from([zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED]))
    if kind == "manifest":
        manifest = json.loads(members["manifest.json"])
        members["manifest.json"] = json.dumps(draw(json_mutations([manifest]))).encode()
        return _zip(members, method)
    name = draw(st.sampled_from(sorted(members)))
    action = draw(st.sampled_from(["replace", "mutate", "drop"]))
    if action == "drop":
        del members[name]
    elif action == "replace":
        members[name] = draw(st.binary(max_size=300))
    else:
        members[name] = draw(byte_mutations([members[name] or b"\x00"]))
    return _zip(members, method)


@functools.cache
def _reader_session() -> Session:
    s = Session()
    s.box((20.0, 20.0, 20.0))
    return s


def check_session_bytes(data: bytes) -> None:
    """Opening the bytes succeeds, or fails with SessionFileError leaving the open document as it was."""
    path = scratch() / "fuzz.sketchforge"
    path.write_bytes(data)
    s = _reader_session()
    doc, revision = s.document, s.document.revision
    if not expect(lambda: s.open(path), SessionFileError):
        if s.document is not doc or doc.revision != revision:
            raise Finding("a failed open changed the open document")


SESSION_BYTES = st.binary(max_size=600) | session_mutations()


@QUICK
@given(SESSION_BYTES)
def test_session_open_reads_any_bytes_or_raises_session_file_error(data):
    check_session_bytes(data)


def test_a_parameter_of_hundreds_of_digits_is_refused_in_one_line_not_overflowed():
    members = _members(session_seeds()[0])
    manifest = json.loads(members["manifest.json"])
    found = []

    def numbers(value, path=()):
        if isinstance(value, dict):
            for k, v in value.items():
                numbers(v, path + (k,))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                numbers(v, path + (i,))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and "params" in path:
            found.append(path)

    numbers(manifest)
    assert found, "the seed session holds operation parameters"
    for huge in (10**400, -(10**400), 10**300 * 1.0):
        members["manifest.json"] = json.dumps(_set(manifest, found[-1], huge, False)).encode()
        path = scratch() / "huge.sketchforge"
        path.write_bytes(_zip(members, zipfile.ZIP_DEFLATED))
        with pytest.raises(SessionFileError, match="number") as info:
            Session().open(path)
        assert "\n" not in str(info.value) and len(str(info.value)) < 400


# --------------------------------------------------------------------------- mesh files


@functools.cache
def mesh_seeds() -> dict[str, tuple[bytes, ...]]:
    """Valid OBJ, PLY (binary and ASCII, mesh and cloud), glTF (buffers embedded) and GLB files."""
    import numpy as np
    import trimesh

    s = Session()
    s.box((10.0, 8.0, 6.0))
    folder = scratch()
    for ext in ("obj", "ply", "glb"):
        s.export(folder / f"box.{ext}")
    box = trimesh.creation.box((10.0, 8.0, 6.0))
    box.visual.vertex_colors = np.tile([200, 30, 30, 255], (len(box.vertices), 1))
    cloud = trimesh.PointCloud(np.arange(30.0).reshape(10, 3), colors=np.tile([1, 2, 3, 255], (10, 1)))
    gltf = trimesh.Scene(box).export(file_type="gltf", embed_buffers=True)["model.gltf"]
    return {
        "obj": ((folder / "box.obj").read_bytes(), box.export(file_type="obj").encode(),
                b"v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\n", b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nf 1 -1 2\n"),
        "ply": ((folder / "box.ply").read_bytes(), box.export(file_type="ply", encoding="ascii"),
                cloud.export(file_type="ply", encoding="ascii"), cloud.export(file_type="ply")),
        "gltf": (gltf,),
        "glb": ((folder / "box.glb").read_bytes(), trimesh.Scene(cloud).export(file_type="glb")),
    }


@functools.cache
def _import_session() -> Session:
    return Session()


def check_mesh_file(ext: str, data: bytes) -> None:
    """Importing the bytes as `.ext` succeeds or fails with ExchangeError, leaving the document as it was."""
    path = scratch() / f"fuzz.{ext}"
    path.write_bytes(data)
    s = _import_session()
    history = len(s.history)
    if expect(lambda: s.import_file(path), ExchangeError):
        s.new()  # keep the document small over many examples
    elif len(s.history) != history:
        raise Finding("a failed import changed the document")


def _glb_parts(data: bytes) -> tuple[Any, bytes]:
    """The JSON tree of a GLB and the bytes after its JSON chunk."""
    (length,) = struct.unpack_from("<I", data, 12)
    return json.loads(data[20:20 + length]), data[20 + length:]


def _glb(tree: Any, rest: bytes) -> bytes:
    """A GLB with the chunk lengths right, so that readers get past them to the content."""
    text = json.dumps(tree).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<I", len(text)) + b"JSON" + text + rest
    return b"glTF" + struct.pack("<II", 2, 12 + len(body)) + body


@st.composite
def mesh_files(draw: Callable) -> tuple[str, bytes]:
    ext = draw(st.sampled_from(["obj", "ply", "gltf", "glb"]))
    seeds = list(mesh_seeds()[ext])
    if draw(st.integers(0, 4)) == 0:
        return ext, draw(st.binary(max_size=400) | st.sampled_from(seeds).map(lambda b: b[: len(b) // 2]))
    if ext == "gltf" and draw(st.booleans()):
        return ext, json.dumps(draw(json_mutations([json.loads(s) for s in seeds]))).encode()
    if ext == "glb" and draw(st.booleans()):
        tree, rest = _glb_parts(draw(st.sampled_from(seeds)))
        return ext, _glb(draw(json_mutations([tree])), rest)
    return ext, draw(byte_mutations(seeds))


@QUICK
@given(mesh_files())
def test_mesh_import_reads_any_file_or_raises_exchange_error(file):
    check_mesh_file(*file)


# --------------------------------------------------------------------------- for the nightly run

# name: (strategy, check taking one drawn value)
TARGETS: dict[str, tuple[Any, Callable[[Any], None]]] = {
    "sketch_json": (SKETCH_VALUES, check_sketch_value),
    "sketch_bytes": (SKETCH_BYTES, check_sketch_bytes),
    "session_bytes": (SESSION_BYTES, check_session_bytes),
    "mesh_files": (mesh_files(), lambda file: check_mesh_file(*file)),
}
