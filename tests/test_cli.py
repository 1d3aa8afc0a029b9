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
     "no interpretation back end is registered for mode 'scene'"),
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
                   "fov_y_deg": 35}, "mode": "scene", "strokes": [{"points": [[1, 1], [20, 20]]}]}))
    args = [a.format(src=src, garbage=garbage, sketch=sketch) for a in args]
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1 and message in err[0], err
    assert "Traceback" not in err[0]
    assert not (tmp_path / "o.step").exists()


def test_console_script_errors_are_one_line_too(tmp_path):
    r = run("export", tmp_path / "nope.obj", tmp_path / "x.step")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
