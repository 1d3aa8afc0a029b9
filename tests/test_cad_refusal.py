"""The CAD back end says when it does not know: scribbles get a hint, not an operation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sketchforge.app.cli import main
from sketchforge.modeling.session import Session
from sketchforge.modeling.sketch import Sketch
from sketchforge.neural.cad import refusal as R
from sketchforge.neural.cad.backend import ASSETS, CadBackend

needs_refusal = pytest.mark.skipif(not (ASSETS / "refusal.json").is_file(), reason="no refusal file in assets/cad")


@pytest.fixture(scope="module")
def items(tmp_path_factory):
    """Generated items with their models (a seed the refusal was not fitted on)."""
    from sketchforge.neural.synth.shards import GenerateConfig, generate
    out = tmp_path_factory.mktemp("items")
    generate(out, GenerateConfig(count=8, size=128, seed=424242, shard_size=8, step_sample=1.0), workers=1,
             progress=False)
    return R._items(out, 8)


def test_the_drawing_itself_tells_a_scribble_from_an_outline(items):
    model, path = items[0]
    sketch = Sketch.load(path)
    rng = np.random.default_rng(0)
    own = R.drawing_features(sketch)
    tangle = R.drawing_features(R.scribble("tangle", sketch, rng))
    many = R.drawing_features(R.scribble("many", sketch, rng))
    assert tangle["turning"] > 2 * own["turning"] and many["log_strokes"] > own["log_strokes"] + 3
    for kind in R.SCRIBBLE_KINDS:  # every kind lies over the sketch's area, in its view
        sc = R.scribble(kind, sketch, rng)
        assert sc.camera == sketch.camera and sc.strokes
    with pytest.raises(ValueError, match="pick one of segments"):
        R.scribble("doodle", sketch, rng)


def test_the_regression_keeps_the_chosen_share_of_real_sketches_and_round_trips(tmp_path):
    rng = np.random.default_rng(1)
    real = rng.normal(0.0, 1.0, (400, len(R.FEATURES)))
    fake = rng.normal(2.5, 1.0, (400, len(R.FEATURES)))
    r = R.fit_refusal(real, fake, R.FORMAT, R.FEATURES, max_refused=0.01)
    assert np.mean([r.refuses(f) for f in real]) <= 0.0125
    assert np.mean([r.refuses(f) for f in fake]) > 0.95
    r.save(tmp_path / "r.json")
    again = R.load(tmp_path / "r.json")
    assert again.probability(fake[0]) == pytest.approx(r.probability(fake[0]))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="sketchforge-calibrate-cad-refusal"):
        R.load(tmp_path / "bad.json")


@needs_refusal
def test_scribbles_get_a_hint_and_real_sketches_their_proposals(items):
    backend = CadBackend()
    rng = np.random.default_rng(7)
    kept = refused = 0
    for k, (model, path) in enumerate(items):
        s = Session()
        s.import_file(model)
        sketch = Sketch.load(path)
        kept += bool(backend.propose(sketch, s.context()).proposals)
        result = backend.propose(R.scribble(R.SCRIBBLE_KINDS[k % len(R.SCRIBBLE_KINDS)], sketch, rng), s.context())
        if not result.proposals:
            refused += 1
            assert result.hint.startswith("Not sure what this is") or "Nothing recognised" in result.hint
    assert kept >= 7 and refused >= 7
    # switched off, the same back end proposes for anything (to compare, and for the calibration)
    backend.configure(refuse=False)
    s = Session()
    s.import_file(items[0][0])
    assert backend.propose(R.scribble("segments", Sketch.load(items[0][1]), rng), s.context()).proposals


@needs_refusal
def test_the_command_line_refuses_a_scribble_in_one_line_and_writes_nothing(items, tmp_path, capsys):
    model, path = items[0]
    scribble = tmp_path / "scribble.sketch.json"
    R.scribble("segments", Sketch.load(path), np.random.default_rng(3)).save(scribble)
    out = tmp_path / "out.step"
    assert main(["interpret", "--model", str(model), "--sketch", str(scribble), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert "nothing recognised" in err and len(err.splitlines()) == 1 and not out.exists()
    report = tmp_path / "r.json"
    assert main(["interpret", "--model", str(model), "--sketch", str(path), "--out", str(out),
                 "--report", str(report)]) == 0
    sure = json.loads(report.read_text())
    assert sure["proposals"] and out.exists()
