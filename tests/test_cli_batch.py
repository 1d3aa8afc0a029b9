"""`sketchforge interpret` over many sketches in one process, the single form beside it, and the
FLOP counts kept on disk between runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sketchforge.app.cli import main
from sketchforge.modeling.session import Session
from sketchforge.modeling.sketch import Sketch
from sketchforge.neural.cad.backend import CadBackend

EXE = Path(sys.executable).with_name("sketchforge")


@pytest.fixture(scope="module", autouse=True)
def _own_cache(tmp_path_factory):
    """FLOPs are counted into a cache folder of the tests' own, never the user's."""
    with pytest.MonkeyPatch.context() as m:
        m.setenv("SKETCHFORGE_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def item(tmp_path_factory):
    """A generated item (a seed never trained on) whose sketch the command reads: (sketch, model)."""
    from sketchforge.neural.synth.shards import GenerateConfig, generate
    root = tmp_path_factory.mktemp("items")
    generate(root, GenerateConfig(count=4, size=128, seed=424242, shard_size=4, step_sample=1.0), workers=1,
             progress=False)
    for sk in sorted((root / "sketches").glob("*.sketch.json")):
        model = root / "steps" / f"{sk.name.split('.')[0]}-before.step"
        s = Session()
        s.import_file(model)
        if s.interpret(Sketch.load(sk)).proposals:
            return sk, model
    pytest.fail("no generated sketch gave a proposal")


@pytest.fixture
def sketches(item, tmp_path):
    """A folder with two good sketches over the item's model (the second with extra keys, which
    readers ignore) and a malformed one."""
    sk, _ = item
    folder = tmp_path / "sketches"
    folder.mkdir()
    data = json.loads(sk.read_text())
    (folder / "a.sketch.json").write_text(json.dumps(data))
    (folder / "b.sketch.json").write_text(json.dumps({**data, "note": "drawn again"}))
    (folder / "bad.sketch.json").write_text('{"format": "sketchforge.sketch", "version": 1, "canvas": ')
    return folder


def _single(item, tmp_path) -> dict:
    sk, model = item
    out, report = tmp_path / "single.step", tmp_path / "single.json"
    assert main(["interpret", "--model", str(model), "--sketch", str(sk), "--out", str(out),
                 "--report", str(report)]) == 0
    assert out.stat().st_size > 1000
    return json.loads(report.read_text())


def test_a_batch_writes_a_result_and_report_per_sketch_and_reports_a_bad_one_in_one_line(item, sketches, tmp_path,
                                                                                        capsys):
    _, model = item
    out, reports = tmp_path / "out", tmp_path / "reports"
    files = [str(sketches / n) for n in ("a.sketch.json", "bad.sketch.json", "b.sketch.json")]
    code = main(["interpret", "--model", str(model), "--sketch", *files, "--out", str(out),
                 "--report", str(reports), "--quiet"])
    captured = capsys.readouterr()
    assert code == 1, "a sketch failed"
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "bad.sketch.json" in err[0] and "not valid JSON" in err[0], captured.err
    assert "Traceback" not in captured.err and captured.out == ""  # --quiet: no bar, no summary
    assert sorted(p.name for p in out.iterdir()) == ["a.step", "b.step"]
    assert sorted(p.name for p in reports.iterdir()) == ["a.json", "b.json"]
    single = _single(item, tmp_path)
    for name in ("a", "b"):
        rep = json.loads((reports / f"{name}.json").read_text())
        assert rep["mode"] == "cad" and rep["proposals"] == single["proposals"]
        assert rep["seconds"] > 0 and rep["interpretation"]["flops"] == single["interpretation"]["flops"]
        assert (out / f"{name}.step").stat().st_size > 1000
    # each sketch is read against the model as given: the second result is not built on the first
    first, second = Session(), Session()
    first.import_file(out / "a.step")
    second.import_file(out / "b.step")
    assert first.bodies["body1"].volume == pytest.approx(second.bodies["body1"].volume)


def test_a_folder_is_read_whole_with_a_progress_bar(item, sketches, tmp_path):
    _, model = item
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    r = subprocess.run([str(EXE), "interpret", "--model", str(model), "--sketch", str(sketches), "--out", str(out),
                        "--format", "glb"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.glb", "b.glb"]
    assert "3/3" in r.stderr, "the progress bar counts the sketches"
    failures = [line for line in r.stderr.splitlines() if line.startswith("sketchforge:")]
    assert len(failures) == 1 and "bad.sketch.json" in failures[0]
    assert "2 of 3 sketches" in r.stdout
    # a folder without sketches, and a file where the output folder should be: one line each, exit 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["interpret", "--sketch", str(empty), "--out", str(out)]) == 2
    assert main(["interpret", "--model", str(model), "--sketch", str(sketches), "--out", str(model)]) == 2


def test_the_single_form_reads_as_the_back_end_does_and_reports_every_figure(item, tmp_path):
    sk, model = item
    report = _single(item, tmp_path)
    assert set(report) >= {"mode", "proposals", "seconds", "interpretation"}
    how = report["interpretation"]
    assert how["network"] == "light" and how["canvas"] in (32, 48, 64, 96, 128) and how["flops"] > 0
    assert {"load", "view", "net", "flops", "fit", "total"} <= set(how["stage_seconds"])
    s = Session()
    s.import_file(model)
    fresh = CadBackend()  # read layer by layer, as the command does
    prepared = CadBackend()
    prepared.prepare()  # the window's: its graphs traced and frozen
    for backend in (fresh, prepared):
        props = backend.propose(Sketch.load(sk), s.context(), top_k=3).proposals
        assert json.loads(json.dumps([p.to_json() for p in props])) == report["proposals"]


def test_flop_counts_are_kept_on_disk_and_a_damaged_cache_is_ignored(item, tmp_path, monkeypatch):
    import torch.utils.flop_counter

    from sketchforge.neural.cache import cache_dir
    monkeypatch.setenv("SKETCHFORGE_CACHE", str(tmp_path / "cache"))  # empty
    first = _single(item, tmp_path)["interpretation"]["flops"]
    kept = sorted((cache_dir() / "flops").glob("*.json"))
    assert len(kept) == 3, "the network, its canvas selector and its stroke stage"
    for p in kept:
        assert json.loads(p.read_text())["format"] == "sketchforge.flops"

    class NoCounting:
        def __init__(self, *args, **kwargs):
            raise AssertionError("FLOPs were counted again")

    with monkeypatch.context() as m:
        m.setattr(torch.utils.flop_counter, "FlopCounterMode", NoCounting)
        assert _single(item, tmp_path)["interpretation"]["flops"] == first  # from the cache
    kept[0].write_bytes(b"\x00\xffnot json")
    counts = json.loads(kept[1].read_text())
    kept[1].write_text(json.dumps({**counts, "counts": {k: "many" for k in counts["counts"]}}))
    kept[2].write_text(json.dumps([1, 2, 3]))
    assert _single(item, tmp_path)["interpretation"]["flops"] == first  # counted again
    for p in kept:  # and kept again
        data = json.loads(p.read_text())
        assert data["format"] == "sketchforge.flops" and all(type(v) is int for v in data["counts"].values())


def test_the_stroke_stage_flops_follow_from_three_counts_exactly():
    from torch.utils.flop_counter import FlopCounterMode

    from sketchforge.neural.cad.backend import NETWORKS, load_stroke_stage
    stage = load_stroke_stage(NETWORKS["light"][0])
    assert stage is not None
    import torch
    for n in (1, 4, 9, 31):
        with FlopCounterMode(display=False) as counter, torch.inference_mode():
            stage.model(torch.zeros(1, n, stage.model.config.features), torch.zeros(1, n, dtype=torch.bool))
        assert stage.flops(n) == counter.get_total_flops()
    assert stage.flops(0) == 0
