"""Every training, data and evaluation command answers a mistake or Ctrl+C with one line and its exit code."""

import importlib

import pytest

from sketchforge.neural.commands import run_command

COMMANDS = {
    "sketchforge-data": "sketchforge.neural.synth.cli:main",
    "sketchforge-face-data": "sketchforge.neural.face.cli:main",
    "sketchforge-face-suggest": "sketchforge.neural.face.suggest_cli:main",
    "sketchforge-train-cad": "sketchforge.neural.cad.train:main",
    "sketchforge-train-face": "sketchforge.neural.face.train:main",
    "sketchforge-eval-face": "sketchforge.neural.face.evaluate:main",
    "sketchforge-eval-cad": "sketchforge.neural.cad.evaluate:main",
    "sketchforge-train-selector": "sketchforge.neural.cad.select:main",
    "sketchforge-calibrate-cad": "sketchforge.neural.cad.train:calibrate_main",
    "sketchforge-train-cad-strokes": "sketchforge.neural.cad.strokes_train:main",
    "sketchforge-calibrate-cad-refusal": "sketchforge.neural.cad.refusal:main",
    "sketchforge-calibrate-face-refusal": "sketchforge.neural.face.refusal:main",
    "sketchforge-calibrate-points-refusal": "sketchforge.neural.points.refusal:main",
    "sketchforge-points-data": "sketchforge.neural.points.cli:main",
    "sketchforge-scene-data": "sketchforge.neural.scene.cli:main",
    "sketchforge-train-points": "sketchforge.neural.points.train:main",
    "sketchforge-train-scene": "sketchforge.neural.scene.train:main",
}


def _main(target: str):
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("prog", sorted(COMMANDS))
def test_a_wrong_command_line_is_one_line_and_exit_code_2(prog, capsys):
    assert _main(COMMANDS[prog])(["--no-such-option"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{prog}: error: ") and err.count("\n") == 1   # no usage block, no traceback
    assert "--no-such-option" in err or "required" in err


def test_the_entry_points_are_the_ones_installed():
    from importlib.metadata import entry_points
    installed = {e.name: e.value for e in entry_points(group="console_scripts") if e.name.startswith("sketchforge-")}
    assert installed == COMMANDS


def test_an_interrupt_says_what_was_kept_and_exits_130(capsys):
    def body():
        raise KeyboardInterrupt
    assert run_command("sketchforge-x", body, interrupted="rerun to resume") == 130
    assert capsys.readouterr().err == "sketchforge-x: interrupted; rerun to resume\n"
    assert run_command("sketchforge-x", lambda: (_ for _ in ()).throw(OSError("disk full")), (OSError,)) == 2
    assert capsys.readouterr().err == "sketchforge-x: error: disk full\n"
