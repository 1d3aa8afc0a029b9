"""The `sketchforge` command as a user runs it: exit codes, one-line errors, real output files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sketchforge.app.cli import main
from sketchforge.modeling.session import Session

EXE = Path(sys.executable).with_name("sketchforge")


def run(*args, cwd=None, env=None):
    e = dict(os.environ)
    e.pop("DISPLAY", None)
    e.pop("QT_QPA_PLATFORM", None)
    e.update(env or {})
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=e, timeout=120)


def test_demo_writes_a_step_file_with_all_four_operations(tmp_path):
    out = tmp_path / "demo.step"
    r = run("demo", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "8 operations" in r.stdout
    s = Session()
    s.import_file(out)
    assert s.bodies["body1"].volume > 90000


def test_no_command_without_a_display_runs_the_demo_and_says_so(tmp_path):
    r = run(cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "No display found" in r.stdout
    assert (tmp_path / "sketchforge-demo.step").is_file()


def test_run_binds_session_and_reports_script_errors_in_one_line(tmp_path, capsys):
    script = tmp_path / "make.py"
    out = tmp_path / "made.sketchforge"
    script.write_text(f"b = session.box((10, 10, 10))\nsession.extrude(b, 'top', 5)\nsession.save(r'{out}')\n")
    assert main(["run", str(script)]) == 0
    t = Session()
    t.open(out)
    assert t.bodies["body1"].volume == pytest.approx(1500)
    script.write_text("b = session.box((10, 10, 10))\n\nsession.extrude(b, 'top', 0)\n")
    assert main(["run", str(script)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "make.py line 3" in err[0] and "zero" in err[0]


@pytest.mark.parametrize("ext", ["step", "obj", "glb", "ply", "sketchforge"])
def test_export_converts_by_extension(tmp_path, ext):
    src = tmp_path / "in.sketchforge"
    s = Session()
    s.box((20, 10, 5))
    s.save(src)
    out = tmp_path / f"out.{ext}"
    assert main(["export", str(src), str(out)]) == 0
    assert out.stat().st_size > 100


@pytest.mark.parametrize("args, message", [
    (["export", "missing.step", "x.obj"], "no such file"),
    (["export", "{src}", "x.docx"], "cannot write .docx"),
    (["frobnicate"], "invalid choice"),
    (["demo", "--out", "/nonexistent/dir/x.step"], "does not exist"),
    (["export", "{garbage}", "x.obj"], "cannot read"),
    (["run", "nothere.py"], "no such file"),
    (["interpret", "--sketch", "{sketch}", "--out", "o.step"],
     "no interpretation back end is registered for mode 'sculpt'"),
    (["interpret", "--sketch", "{scene}", "--out", "o.step"], "the camera must be orthographic"),
    (["interpret", "--sketch", "{garbage}", "--out", "o.step"], "malformed sketch"),
])
def test_bad_input_gives_one_line_and_a_non_zero_exit(tmp_path, capsys, args, message):
    src = tmp_path / "in.sketchforge"
    s = Session()
    s.box((20, 10, 5))
    s.save(src)
    garbage = tmp_path / "g.step"
    garbage.write_bytes(b"\x00\x01 definitely not a model")
    sketch = tmp_path / "s.sketch.json"
    sketch.write_text(json.dumps({
        "format": "sketchforge.sketch", "version": 1, "canvas": {"width": 64, "height": 64},
        "camera": {"eye": [50, -50, 50], "target": [0, 0, 0], "up": [0, 0, 1], "projection": "perspective",
                   "fov_y_deg": 35}, "mode": "sculpt", "strokes": [{"points": [[1, 1], [20, 20]]}]}))
    scene = tmp_path / "map.sketch.json"  # a map seen through a perspective camera
    scene.write_text(sketch.read_text().replace('"sculpt"', '"scene"').replace(
        '"strokes": [{"points"', '"strokes": [{"kind": "road", "points"'))
    args = [a.format(src=src, garbage=garbage, sketch=sketch, scene=scene) for a in args]
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1 and message in err[0], err
    assert "Traceback" not in err[0]
    assert not (tmp_path / "o.step").exists()


def test_console_script_errors_are_one_line_too(tmp_path):
    r = run("export", tmp_path / "nope.obj", tmp_path / "x.step")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


# --------------------------------------------------------------------------- outputs checked before any work

SKETCH = {"format": "sketchforge.sketch", "version": 1, "canvas": {"width": 64, "height": 64},
          "camera": {"eye": [50, -50, 50], "target": [0, 0, 0], "up": [0, 0, 1], "projection": "perspective",
                     "fov_y_deg": 35}, "mode": "cad", "strokes": [{"points": [[1, 1], [20, 20]]}]}


@pytest.fixture
def files(tmp_path, monkeypatch):
    """A saved model, a sketch, and a working folder; interpreting must never start (it would be slow)."""
    monkeypatch.chdir(tmp_path)
    s = Session()
    s.box((20, 10, 5))
    s.save(tmp_path / "in.sketchforge")
    s.export(tmp_path / "in.obj")
    (tmp_path / "s.sketch.json").write_text(json.dumps(SKETCH))

    def never(*args, **kwargs):
        raise AssertionError("the work started before the outputs were checked")

    monkeypatch.setattr(Session, "interpret", never)
    monkeypatch.setattr(Session, "import_file", never)
    monkeypatch.setattr(Session, "open", never)
    return tmp_path


def _one_line_failure(capsys, argv, message, code=2):
    assert main(argv) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0], err
    return err[0]


@pytest.mark.parametrize("argv, message", [
    (["--out", "o.obj", "--report", "no such folder/r.json"], "the folder no such folder does not exist"),
    (["--out", "no such folder/o.obj", "--report", "r.json"], "the folder no such folder does not exist"),
    (["--out", "o.obj", "--report", "s.sketch.json"], "it is the input file s.sketch.json"),
    (["--out", "o.obj", "--report", "./sub/../s.sketch.json"], "it is the input file s.sketch.json"),
    (["--out", "in.obj", "--model", "in.obj"], "it is the input file in.obj"),
    (["--out", "in.mtl.obj", "--report", "in.mtl.mtl"], "twice"),
    (["--out", "o.obj", "--report", "o.obj"], "twice"),
    (["--out", "o.obj", "--report", "."], "is a folder"),
    (["--out", "sub", "--report", "r.json"], "is a folder"),
    (["--out", "o.docx", "--model", "in.sketchforge"], "cannot write .docx files"),
    (["--out", "o", "--model", "in.sketchforge"], "no extension"),
])
def test_interpret_refuses_outputs_it_cannot_write_before_any_work(files, capsys, argv, message):
    (files / "sub").mkdir()
    before = {p.name: p.read_bytes() for p in files.iterdir() if p.is_file()}
    _one_line_failure(capsys, ["interpret", "--sketch", "s.sketch.json", *argv], message)
    assert {p.name: p.read_bytes() for p in files.iterdir() if p.is_file()} == before  # nothing written


def test_export_refuses_to_overwrite_its_input(files, capsys):
    _one_line_failure(capsys, ["export", "in.sketchforge", str(files / "in.sketchforge")], "it is the input file")
    os.link(files / "in.obj", files / "hard.obj")  # another name of the same file
    _one_line_failure(capsys, ["export", "in.obj", "hard.obj"], "it is the input file")


def test_output_suffixes_are_case_insensitive(tmp_path, capsys):
    src = tmp_path / "in.sketchforge"
    s = Session()
    s.box((20, 10, 5))
    s.save(src)
    for name in ("OUT.SKETCHFORGE", "Out.SketchForge", "out.OBJ"):
        assert main(["export", str(src), str(tmp_path / name)]) == 0, capsys.readouterr().err
        assert (tmp_path / name).is_file()
    assert not list(tmp_path.glob("*.sketchforge.sketchforge")) and not list(tmp_path.glob("*.SKETCHFORGE.*"))
    t = Session()
    t.open(tmp_path / "OUT.SKETCHFORGE")
    assert t.bodies["body1"].volume == pytest.approx(1000)


def test_a_failed_write_says_cannot_write_once(tmp_path, capsys, monkeypatch):
    src = tmp_path / "in.sketchforge"
    s = Session()
    s.box((20, 10, 5))
    s.save(src)

    def full(path, write):
        raise OSError("No space left on device")

    monkeypatch.setattr("sketchforge.modeling.exchange.atomic_write", full)
    line = _one_line_failure(capsys, ["export", str(src), str(tmp_path / "x.ply")], "No space left", code=1)
    assert line.count("cannot write") == 1


def test_app_with_a_file_but_no_display_fails_and_says_why(tmp_path):
    r = run("app", tmp_path / "model.sketchforge", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "needs a display" in r.stderr and "model.sketchforge" in r.stderr
    assert not (tmp_path / "sketchforge-demo.step").exists()


@pytest.mark.parametrize("code, status, stderr", [
    ("sys.exit('bye')", 1, "bye\n"), ("sys.exit(3)", 3, ""), ("sys.exit()", 0, ""), ("sys.exit(0)", 0, ""),
])
def test_run_exits_as_python_does(tmp_path, capsys, code, status, stderr):
    script = tmp_path / "s.py"
    script.write_text(f"import sys\n{code}\n")
    assert main(["run", str(script)]) == status
    assert capsys.readouterr().err == stderr
