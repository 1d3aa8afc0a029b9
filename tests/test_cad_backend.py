"""The CAD back end end to end: shipped weights, real sketches, bad input, the interpret command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sketchforge.app.cli import main
from sketchforge.modeling.camera import Camera
from sketchforge.modeling.session import Session
from sketchforge.modeling.sketch import Sketch, Stroke
from sketchforge.neural.cad.backend import NETWORKS, CadBackend


@pytest.fixture(scope="module")
def items(tmp_path_factory):
    """A few generated items with their before/after models and sketch files (a seed never trained on)."""
    from sketchforge.neural.synth.shards import GenerateConfig, generate
    out = tmp_path_factory.mktemp("items")
    generate(out, GenerateConfig(count=8, size=128, seed=424242, shard_size=8, step_sample=1.0), workers=1,
             progress=False)
    return out


def sketches(root: Path):
    for sk in sorted((root / "sketches").glob("*.sketch.json")):
        item = sk.name.split(".")[0].split("-")[1]
        yield sk, root / "steps" / f"item-{item}-before.step"


def test_the_back_end_is_registered_and_the_weights_ship():
    for weights, selector, _ in NETWORKS.values():
        assert weights.is_file() and weights.stat().st_size < 8 * 2**20
        assert selector is None or selector.is_file()
    assert "cad" in Session().backends.names()
    assert Session().backend("cad").network == "light"  # student + selector: the live path's default


def test_the_light_network_reads_at_a_chosen_canvas_for_a_fraction_of_the_reference_flops(items):
    light, reference = CadBackend(network="light"), CadBackend(network="reference")
    compared = 0
    for sk, before in sketches(items):
        s = Session()
        s.import_file(before)
        sketch = Sketch.load(sk)
        a = light.propose(sketch, s.context()).report
        b = reference.propose(sketch, s.context()).report
        if a.flops is None or b.flops is None:
            continue  # the sketch did not reach the network
        assert a.network == "light" and b.network == "reference"
        assert a.canvas in (32, 48, 64, 96, 128) and b.canvas == 128
        assert a.flops < 0.05 * b.flops
        compared += 1
    assert compared >= 4
    with pytest.raises(ValueError, match="'light', 'standard', 'reference'"):
        light.configure(network="enormous")
    assert light.network == "light"  # a refused choice changes nothing
    light.configure(network="reference")
    assert light.network == "reference" and light.files[0] == NETWORKS["reference"][0]


def test_proposals_for_generated_sketches_are_valid_operations(items):
    backend = CadBackend()
    seen = 0
    for sk, before in sketches(items):
        s = Session()
        s.import_file(before)
        state = s.document.state
        result = backend.propose(Sketch.load(sk), s.context(), top_k=3)
        props = result.proposals
        assert len(props) <= 3 and s.document.state is state  # the document is not changed
        for p in props:
            assert p.operation.id in ("extrude", "add", "subtract", "bevel", "sweep")
            assert 0.0 <= p.score <= 1.0
            fresh = p.operation.apply(state)  # each proposal applies
            kept = p.apply_to(state)  # and hands over the result the fitting already computed
            assert kept is p.result and kept.solid("body1").volume == pytest.approx(fresh.solid("body1").volume)
            assert p.title and "_" not in p.title and "body1" not in p.title  # read as a person would
        seen += bool(props)
        if props:
            t = result.report.seconds  # stage times for the status bar and the benchmarks: they add up
            assert ({"view", "net", "fit", "total"} <= set(t)
                    <= {"load", "view", "net", "flops", "fit", "check", "other", "total"})
            assert sum(v for k, v in t.items() if k != "total") == pytest.approx(t["total"], abs=1e-3)
            assert result.report.details["class_probs"].shape == (4,) and not result.hint
    assert seen >= 4  # most sketches are read as something


def test_accepting_a_proposal_commits_its_checked_result_once_and_undoes(items):
    backend = CadBackend()
    for sk, before in sketches(items):
        s = Session()
        s.import_file(before)
        props = backend.propose(Sketch.load(sk), s.context(), top_k=3).proposals
        if not props:
            continue
        start = s.document.state
        s.accept(props[0])
        assert s.document.state is props[0].result  # the kernel did not run a second time
        assert s.history[-1] is props[0].operation
        assert s.undo() and s.document.state is start
        # on a changed model the proposal is applied afresh, never its stale result
        s.box((5.0, 5.0, 5.0), origin=(500.0, 0.0, 0.0))
        changed = s.document.state
        try:
            s.accept(props[0])
        except Exception:  # noqa: BLE001 - refused on the new model: nothing may have changed
            assert s.document.state is changed
        else:
            assert s.document.state is not props[0].result and len(s.document.state.bodies) == 2
        return
    pytest.fail("no sketch gave a proposal")


def _box_sketch(strokes):
    cam = Camera.looking_at((0, 0, 10), 200, -60, 30)
    return Sketch(cam, 640, 480, tuple(Stroke(np.column_stack([p, np.ones(len(p)), np.arange(len(p))]))
                                       for p in strokes))


@pytest.mark.parametrize("strokes", [
    [],                                                       # nothing drawn
    [np.array([[320.0, 240.0]])],                             # a single dot
    [np.array([[5.0, 5.0], [60.0, 8.0], [120.0, 10.0]])],    # off the model, in the sky
    [np.column_stack([np.linspace(200, 440, 10000), 240 + 20 * np.sin(np.linspace(0, 30, 10000))])],
])
def test_bad_or_odd_input_never_crashes_and_changes_nothing(strokes):
    s = Session()
    s.box((60, 40, 20))
    before = (s.history, dict(s.bodies))
    result = CadBackend().propose(_box_sketch(strokes), s.context(), top_k=3)
    assert result.proposals or result.hint  # nothing read is said, with what to draw
    for p in result.proposals:
        p.operation.apply(s.document.state)
    assert (s.history, dict(s.bodies)) == before


def test_a_camera_that_sees_nothing_gives_nothing():
    s = Session()
    s.box((60, 40, 20))
    cam = Camera((0, 0, 500), (0, 0, 1000), (0, 1, 0), "perspective", 35.0)  # looking away
    sk = Sketch(cam, 320, 240, (Stroke(np.array([[10.0, 10, 1, 0], [200, 100, 1, 10]])),))
    result = CadBackend().propose(sk, s.context())
    assert not result.proposals and "miss the model" in result.hint


def test_interpret_command_applies_the_best_proposal_and_reports(items, tmp_path, capsys):
    codes = []
    for sk, before in list(sketches(items))[:3]:
        out, report = tmp_path / f"{sk.stem}.step", tmp_path / f"{sk.stem}.json"
        code = main(["interpret", "--model", str(before), "--sketch", str(sk), "--out", str(out),
                     "--report", str(report), "--top", "3"])
        err = capsys.readouterr().err.strip()
        codes.append(code)
        if code == 0:
            data = json.loads(report.read_text())
            assert data["mode"] == "cad" and 1 <= len(data["proposals"]) <= 3
            assert set(data["proposals"][0]) >= {"operation", "params", "score"}
            assert data["seconds"] > 0 and out.stat().st_size > 1000
            how = data["interpretation"]  # which network read it, at what canvas and cost
            assert how["network"] == "light" and how["canvas"] in (32, 48, 64, 96, 128) and how["flops"] > 0
        else:
            assert code == 1 and "nothing recognised" in err.lower() and not out.exists()
    assert 0 in codes


def test_stroke_pixels_beside_another_role_are_told_apart():
    from sketchforge.neural.cad.evaluate import _near_other_role
    labels = np.zeros((12, 12), np.uint8)
    labels[2, 1:10] = 1  # a base line
    labels[3:11, 9] = 2  # a profile line leaving its end
    labels[10, 0:3] = 3  # an offset stroke far from both
    near = _near_other_role(labels)
    assert near[2, 9] and near[3, 9] and near[4, 9] and near[2, 7]  # within 2 px of the other role
    assert not near[2, 1] and not near[8, 9] and not near[10, 0:3].any()
    assert not near[labels == 0].any()


def test_evaluation_command_scores_a_held_out_set(items, tmp_path, capsys):
    from sketchforge.neural.cad.evaluate import main as eval_main
    out = tmp_path / "figures.json"
    assert eval_main(["--data", str(items), "--pipeline", "8", "--workers", "1", "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "network (8 items)" in printed and "stages (ms)" in printed
    res = json.loads(out.read_text())
    net, pipe = res["network"], res["pipeline"]
    assert net["items"] == 8 and sum(map(sum, net["confusion"])) == 8
    assert 0.0 <= net["stitch_iou"] <= 1.0 and 0.0 <= net["role_acc"] <= 1.0
    # the role accuracy splits into pixels where strokes of two roles touch and the rest
    confusion = np.array([net["role_confusion_per_class"][c] for c in ("extrude", "add/subtract", "bevel", "sweep")])
    share = net["role_near_other_share"]
    mixed = share * net["role_acc_near_other"] + (1 - share) * net["role_acc_clear"]
    assert abs(mixed - np.trace(confusion, axis1=1, axis2=2).sum() / confusion.sum()) < 2e-3
    assert "where strokes of two roles touch" in printed
    assert len(res["rows"]) == 8 and pipe["all"]["items"] == 8
    assert sum(map(sum, pipe["confusion_top1"]["counts"])) == 8
    for r in res["rows"]:
        assert r["error"] is None and 0.0 <= r["iou_top1"] <= r["iou_top3"] <= 1.0
        assert r["op"] in ("extrude", "add", "subtract", "bevel", "sweep")
    # an interpretation that matches the recorded operation scores (nearly) 1 on the whole part
    good = [r for r in res["rows"] if r["op_ok"] and r["distance_error"] < 0.02]
    assert all(r["iou_top1"] > 0.97 for r in good)
    # an item whose recorded operation no longer replays is counted apart, not scored
    from sketchforge.neural.cad.evaluate import summarise
    again = summarise(res["rows"] + [{"item": 99, "shard": 0, "class": 0, "op": "extrude", "unreplayable": "refused"}])
    assert again["unreplayable"] == 1 and again["all"] == pipe["all"]
    # a folder that is not a data set: one line, exit 2
    assert eval_main(["--data", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no manifest.json" in err and len(err.splitlines()) == 1


def test_the_command_line_can_use_another_network(items, tmp_path, monkeypatch):
    monkeypatch.setenv("SKETCHFORGE_CAD_NETWORK", "light")
    for sk, before in sketches(items):
        report = tmp_path / "r.json"
        if main(["interpret", "--model", str(before), "--sketch", str(sk), "--out", str(tmp_path / "o.step"),
                 "--report", str(report)]) == 0:
            how = json.loads(report.read_text())["interpretation"]
            assert how["network"] == "light" and how["canvas"] in (32, 48, 64, 96, 128)
            return
    pytest.fail("no sketch was interpreted")


def test_preparing_the_back_end_loads_its_network_and_changes_no_reading(items):
    sk, before = next(iter(sketches(items)))
    fresh, prepared = CadBackend(network="standard"), CadBackend(network="light")
    prepared.prepare()
    assert prepared.prepared
    prepared.configure(network="standard")
    assert not prepared.prepared, "a switched network is prepared again"
    prepared.prepare()
    s = Session()
    s.import_file(before)
    a = fresh.propose(Sketch.load(sk), s.context(), top_k=3).proposals
    b = prepared.propose(Sketch.load(sk), s.context(), top_k=3).proposals
    assert [(p.operation.id, p.operation.params(), p.score) for p in a] == \
           [(p.operation.id, p.operation.params(), p.score) for p in b]


@pytest.mark.parametrize("network", ["standard", "light"])
def test_a_network_reads_roles_with_its_stroke_stage_and_counts_its_flops(items, network):
    from sketchforge.neural.cad.strokeroles import stroke_stage_path
    assert stroke_stage_path(NETWORKS[network][0]).is_file(), f"the {network} network ships its stroke stage"
    with_stage, without = CadBackend(network=network), CadBackend(network=network, stroke_stage=False)
    read = 0
    for sk, before in sketches(items):
        s = Session()
        s.import_file(before)
        a = with_stage.propose(Sketch.load(sk), s.context())
        b = without.propose(Sketch.load(sk), s.context())
        if a.report.flops is None:
            continue
        read += 1
        if network == "standard":
            net = with_stage.networks()[0].flops(None)
            assert b.report.flops == net < a.report.flops < net * 1.05  # the stage is a small part
        else:  # the same canvas, chosen by the selector before the stage reads
            assert a.report.canvas == b.report.canvas
            assert b.report.flops < a.report.flops < 1.5 * b.report.flops
        assert all(p.operation.id in ("extrude", "add", "subtract", "bevel", "sweep")
                   for p in a.proposals + b.proposals)
    assert read >= 4
    assert with_stage.networks()[2] is not None and not without.options.stroke_stage
