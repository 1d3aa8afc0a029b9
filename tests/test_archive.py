"""Session files: atomic, versioned, never executable; damaged files never touch the open document."""

from __future__ import annotations

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
