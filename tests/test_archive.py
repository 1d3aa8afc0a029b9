"""Session files: atomic, versioned, never executable; damaged files never touch the open document."""

from __future__ import annotations

import hashlib
import json
import zipfile

import pytest

from sketchforge.modeling.archive import SessionFileError
from sketchforge.modeling.demo import build_demo
from sketchforge.modeling.session import Session


def fingerprint(session):
    return ([op.to_json() for op in session.history],
            {k: (round(b.volume, 6), len(b.faces)) for k, b in session.bodies.items()})


@pytest.fixture
def saved(tmp_path):
    s = Session()
    build_demo(s)
    path = s.save(tmp_path / "bracket.sketchforge")
    return s, path


def test_a_saved_session_reopens_equal_and_clean(saved):
    s, path = saved
    t = Session()
    t.open(path)
    assert fingerprint(t) == fingerprint(s)
    assert not t.dirty and t.path == path
    t.extrude("body1", "-z", 2.0)
    assert t.dirty


def test_the_archive_is_json_plus_breps_and_arrays(saved):
    _, path = saved
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["format"] == "sketchforge.session" and manifest["version"] == 1
    assert "bodies/body1.brep" in names
    assert [step["op"] for step in manifest["history"]][:4] == ["box", "extrude", "add", "subtract"]
    assert not any(n.endswith((".pkl", ".pickle", ".pt")) for n in names)


def test_imported_files_travel_inside_the_session(tmp_path):
    s = Session()
    s.box((10, 10, 10))
    s.export(tmp_path / "cube.step")
    s.new()
    name = s.import_file(tmp_path / "cube.step")
    s.extrude(name, "top", 5.0)
    path = s.save(tmp_path / "imp.sketchforge")
    (tmp_path / "cube.step").unlink()  # the original file is gone; the session still opens
    t = Session()
    t.open(path)
    assert t.bodies[name].volume == pytest.approx(1500.0)


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "damaged"),
    (lambda p: p.write_bytes(b"PK\x03\x04" + b"\x00" * 100), "damaged"),
    (lambda p: p.write_text("hello"), "not a Sketchforge session"),
])
def test_truncated_or_corrupt_files_leave_the_open_document_alone(saved, tmp_path, damage, message):
    s, path = saved
    damage(path)
    before = fingerprint(s)
    with pytest.raises(SessionFileError, match=message):
        s.open(path)
    assert fingerprint(s) == before


def _rewrite_manifest(path, change):
    with zipfile.ZipFile(path) as zf:
        items = {n: zf.read(n) for n in zf.namelist()}
    m = json.loads(items["manifest.json"])
    change(m)
    items["manifest.json"] = json.dumps(m).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, d in items.items():
            zf.writestr(n, d)


def test_a_future_version_asks_for_an_update(saved):
    s, path = saved
    _rewrite_manifest(path, lambda m: m.update(version=7))
    with pytest.raises(SessionFileError, match="newer Sketchforge"):
        Session().open(path)


def test_unknown_operations_and_bad_parameters_are_named(saved):
    _, path = saved
    _rewrite_manifest(path, lambda m: m["history"][1].update(op="teleport"))
    with pytest.raises(SessionFileError, match="teleport"):
        Session().open(path)
    _rewrite_manifest(path, lambda m: m["history"][1].update(op="extrude", params={"body": "body1"}))
    with pytest.raises(SessionFileError, match="step 2"):
        Session().open(path)


def test_saving_is_atomic(saved, tmp_path, monkeypatch):
    s, path = saved
    good = path.read_bytes()
    import sketchforge.modeling.archive as archive

    def broken(shape):
        raise OSError("disk full")

    monkeypatch.setattr("sketchforge.modeling.occ.step.write_brep", broken)
    with pytest.raises(OSError):
        archive.save_document(s.document, path)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_undo_back_to_the_saved_state_is_clean_again(saved):
    s, _ = saved
    assert not s.dirty
    s.extrude("body1", "-z", 2.0)
    assert s.dirty
    s.undo()
    assert not s.dirty


def test_a_written_file_gets_the_usual_permissions_not_the_temp_files(tmp_path):
    import os

    from sketchforge.modeling.files import atomic_write_bytes
    mask = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "new.json", b"{}")
        assert (tmp_path / "new.json").stat().st_mode & 0o777 == 0o644  # readable by others, as any new file
        (tmp_path / "private.json").write_bytes(b"{}")
        os.chmod(tmp_path / "private.json", 0o600)
        atomic_write_bytes(tmp_path / "private.json", b"[]")
        assert (tmp_path / "private.json").stat().st_mode & 0o777 == 0o600  # a replaced file keeps its own
    finally:
        os.umask(mask)


# --------------------------------------------------------------------------- damaged and hostile archives


def _headers(data):
    """(member name, local header offset, central header offset) of each member of a zip's bytes."""
    import struct
    (at,) = struct.unpack_from("<I", data, len(data) - 22 + 16)  # from the end record (no comment)
    out = []
    while data[at:at + 4] == b"PK\x01\x02":
        length, extra, comment = struct.unpack_from("<HHH", data, at + 28)
        (local,) = struct.unpack_from("<I", data, at + 42)
        out.append((data[at + 46:at + 46 + length].decode(), local, at))
        at += 46 + length + extra + comment
    return out


def _patch_headers(path, field, value, member=None):
    """Set a field in the local and central headers of `member` (of every member when None):
    'flags', 'method' or 'size' (the uncompressed size; the central directory's, which readers use)."""
    import struct
    data = bytearray(path.read_bytes())
    for name, local, central in _headers(bytes(data)):
        if member not in (None, name):
            continue
        if field == "size":
            (old,) = struct.unpack_from("<I", data, central + 24)
            struct.pack_into("<I", data, central + 24, value(old))
            continue
        for at, offset in ((local, {"flags": 6, "method": 8}[field]), (central, {"flags": 8, "method": 10}[field])):
            (old,) = struct.unpack_from("<H", data, at + offset)
            struct.pack_into("<H", data, at + offset, value(old))
    path.write_bytes(bytes(data))


def _flip_in_manifest(path):
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("manifest.json")
    data = bytearray(path.read_bytes())
    data[info.header_offset + 30 + len(info.filename) + 5] ^= 0xFF  # inside the compressed stream
    path.write_bytes(bytes(data))


def _with_manifest_text(text):
    def damage(path):
        with zipfile.ZipFile(path) as zf:
            items = {n: zf.read(n) for n in zf.namelist()}
        items["manifest.json"] = text(json.loads(items["manifest.json"])).encode()
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for n, d in items.items():
                zf.writestr(n, d)
    return damage


def _changed(change):
    def text(m):
        change(m)
        return json.dumps(m)
    return _with_manifest_text(text)


@pytest.mark.parametrize("damage, message", [
    (_flip_in_manifest, "manifest.json' cannot be read"),
    (lambda p: _patch_headers(p, "flags", lambda f: f | 0x1), "encrypted"),
    (lambda p: _patch_headers(p, "method", lambda m: 99), "compression method"),
    (_changed(lambda m: m.update(blobs=[])), "imported files"),
    (_changed(lambda m: m.update(blobs={"ab": ["not", "an", "object"]})), "imported file 'ab'"),
    (_changed(lambda m: m.update(blobs={"ab": {"path": {"a": 1}}})), "imported file 'ab'"),
    (_changed(lambda m: m["history"][0].update(params="size=1")), "parameters of history step 1"),
    (_changed(lambda m: m["history"][0].update(params=[["size", [1, 1, 1]]])), "parameters of history step 1"),
    (_changed(lambda m: m["history"][0]["params"].update(size=[10**400, 1, 1])), "step 1"),
    (_with_manifest_text(lambda m: "[" * 100_000 + "]" * 100_000), "nests too deeply"),
    (_with_manifest_text(lambda m: '{"format": "sketchforge.session", "version": ' + "7" * 5000 + "}"),
     "cannot be read"),
])
def test_hostile_or_damaged_archives_are_session_file_errors(saved, damage, message):
    s, path = saved
    damage(path)
    before, doc = fingerprint(s), s.document
    with pytest.raises(SessionFileError, match=message) as err:
        s.open(path)
    assert "\n" not in str(err.value)
    assert s.document is doc and fingerprint(s) == before and s.path == path


@pytest.fixture
def with_blob(tmp_path):
    """A session holding an imported OBJ as a blob member."""
    s = Session()
    s.box((10, 10, 10))
    s.export(tmp_path / "cube.obj")
    s.new()
    s.import_file(tmp_path / "cube.obj")
    path = s.save(tmp_path / "blob.sketchforge")
    with zipfile.ZipFile(path) as zf:
        blob = next(n for n in zf.namelist() if n.startswith("blobs/"))
    return path, blob


def _set_size(path, member, size):
    _patch_headers(path, "size", lambda old: size, member)


def test_a_member_declaring_a_huge_size_is_refused_before_it_is_read(with_blob):
    import tracemalloc
    path, blob = with_blob
    _set_size(path, blob, 2**32 - 1)  # "4 GiB" in a file of a few kilobytes
    tracemalloc.start()
    try:
        with pytest.raises(SessionFileError, match=f"{blob}' declares 4.0 GiB"):
            Session().open(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20


def test_a_member_that_would_expand_too_far_is_refused(tmp_path):
    path = tmp_path / "bomb.sketchforge"
    blob = bytes(40 * 2**20)  # 40 MiB of zeros deflate to ~40 KB, a ratio no real file has
    manifest = {"format": "sketchforge.session", "version": 1, "history": [],
                "blobs": {hashlib.sha256(blob).hexdigest(): {"path": "blobs/x.bin"}}}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        zf.writestr("blobs/x.bin", blob)
    with pytest.raises(SessionFileError, match="'blobs/x.bin' would expand"):
        Session().open(path)


def test_a_member_that_holds_more_than_its_header_says_is_read_no_further(with_blob):
    path, blob = with_blob
    with zipfile.ZipFile(path) as zf:
        real = zf.getinfo(blob).file_size
    _set_size(path, blob, real // 2)
    with pytest.raises(SessionFileError, match="cannot be read"):  # its checksum no longer matches
        Session().open(path)
    _set_size(path, blob, real + 1000)
    with pytest.raises(SessionFileError, match=blob):
        Session().open(path)


def test_a_manifest_over_its_cap_is_refused(tmp_path, monkeypatch):
    import sketchforge.modeling.archive as archive
    s = Session()
    s.box((10, 10, 10))
    path = s.save(tmp_path / "x.sketchforge")
    monkeypatch.setattr(archive, "MAX_MANIFEST", 100)
    with pytest.raises(SessionFileError, match="'manifest.json' declares"):
        Session().open(path)


# --------------------------------------------------------------------------- temp files of crashed saves


def test_a_save_killed_mid_write_leaves_a_temp_file_the_next_save_removes(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from sketchforge.modeling.files import atomic_write_bytes
    target = tmp_path / "model.sketchforge"
    child = subprocess.Popen([sys.executable, "-c", (
        "import time, pathlib\n"
        "from sketchforge.modeling.files import atomic_write\n"
        "def slow(tmp):\n"
        "    tmp.write_bytes(b'half a file')\n"
        "    time.sleep(60)\n"
        f"atomic_write(pathlib.Path({str(target)!r}), slow)\n")])
    try:
        deadline = time.monotonic() + 30
        while not list(tmp_path.glob(".model.sketchforge.*.tmp")) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    (stale,) = tmp_path.glob(".model.sketchforge.*.tmp")
    assert f".{child.pid}." in stale.name
    running = tmp_path / f".model.sketchforge.{os.getpid()}.abc123.tmp"  # a writer still at work
    running.write_bytes(b"in progress")
    other = tmp_path / ".other.sketchforge.999999999.abc.tmp"  # another target's temp file
    other.write_bytes(b"not ours")
    atomic_write_bytes(target, b"whole")
    assert target.read_bytes() == b"whole"
    assert not stale.exists() and running.exists() and other.exists()
