"""The points back end's scribble refusal: generated objects drawn in full or in part are kept,
scribbles are refused with a message saying what to draw, the option switches it off, a
re-color is never judged, and the calibration command writes a file the back end reads (how
often the shipped refusal is right is measured by benchmarks/bench_refusal.py)."""

from __future__ import annotations

import numpy as np
import pytest

from sketchforge.modeling.sketch import Sketch, Stroke
from sketchforge.neural.points import refusal as points_refusal
from sketchforge.neural.points.backend import ASSETS
from sketchforge.neural.points.data import make_item

ADVICE = "draw the object's outline and the edges between its parts"


@pytest.fixture(scope="module")
def shipped():
    path = ASSETS / "refusal.json"
    assert path.is_file(), "assets/points/refusal.json ships with the points networks"
    return points_refusal.load(path)


@pytest.fixture(scope="module")
def drawn() -> Sketch:
    return make_item(4).sketch


def _scribble(kind: str, like: Sketch, seed: int) -> Sketch:
    from sketchforge.neural.face.scribble import scribble_sketch
    sc = scribble_sketch(kind, np.random.default_rng(seed), like)
    return Sketch(sc.camera, sc.width, sc.height, sc.strokes, "points", like.prompt)


def test_objects_drawn_in_full_or_in_part_are_not_taken_for_scribbles(shipped, drawn):
    assert points_refusal.reason(shipped, drawn) is None
    for seed in (11, 12):
        for name, sketch in points_refusal.object_variants(seed).items():
            assert points_refusal.reason(shipped, points_refusal.as_read(sketch)) is None, (seed, name)


@pytest.mark.parametrize("kind", ["zigzag", "tangle"])
def test_a_scribble_is_refused_with_what_to_draw_instead(shipped, drawn, kind):
    for seed in range(3):
        why = points_refusal.reason(shipped, _scribble(kind, drawn, seed))
        assert why is not None and why.startswith("this looks like a scribble, not an object (") and ADVICE in why


def test_a_huge_scribble_is_refused_by_its_bounds_and_read_quickly(shipped, drawn):
    import time

    from sketchforge.neural.cad.refusal import scribble
    for kind in ("points", "many"):
        sketch = points_refusal.as_read(scribble(kind, drawn, np.random.default_rng(0)))
        t = time.perf_counter()
        why = points_refusal.reason(shipped, sketch)
        assert time.perf_counter() - t < 1.0 and why is not None and ADVICE in why


def test_the_signs_count_neither_the_canvas_nor_the_sampling(drawn):
    base = points_refusal.features(points_refusal.signs(drawn))
    bigger = Sketch(drawn.camera, 2 * drawn.width, 2 * drawn.height,
                    tuple(Stroke(s.points * [2.0, 2.0, 1.0, 1.0]) for s in drawn.strokes), "points", drawn.prompt)
    np.testing.assert_allclose(points_refusal.features(points_refusal.signs(bigger)), base, rtol=0.05, atol=0.05)

    def denser(s: Stroke) -> Stroke:
        p = s.points
        mid = 0.5 * (p[1:] + p[:-1])
        both = np.empty((2 * len(p) - 1, 4))
        both[0::2], both[1::2] = p, mid
        return Stroke(both)
    dense = Sketch(drawn.camera, drawn.width, drawn.height, tuple(denser(s) for s in drawn.strokes), "points")
    np.testing.assert_allclose(points_refusal.features(points_refusal.signs(dense)), base, rtol=0.05, atol=0.1)
    nothing = points_refusal.signs(Sketch(drawn.camera, drawn.width, drawn.height, (), "points"))
    assert set(nothing.values()) == {0.0}


# -- the back end -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    """A session with the points back end on tiny untrained networks made here (judging a sketch
    needs no network; a sketch let through is sampled by them)."""
    pytest.importorskip("diffusers", reason="diffusers is not installed (pip install diffusers==0.42.1)")
    from sketchforge.neural.text import encoder_available
    if not encoder_available():
        pytest.skip("the text encoder's package is not installed")
    import torch

    from sketchforge.modeling.session import Session
    from sketchforge.neural.points.backend import PointsBackend
    from sketchforge.neural.points.net import PointsConfig, PointsNet, save_net
    from sketchforge.neural.points.objects import PART_NAMES
    tiny = dict(width=32, point_width=32, blocks=2, latents=8, heads=2, capsules=4, stem=8, fourier=4)
    root = tmp_path_factory.mktemp("points-refusal-weights")
    torch.manual_seed(0)
    for stage in ("shape", "color"):
        net = PointsNet(PointsConfig(stage, parts=len(PART_NAMES) if stage == "color" else 0, **tiny)).eval()
        for p in net.out.parameters():  # an untrained net predicts no noise at all; give it some output
            torch.nn.init.normal_(p, std=0.05)
        save_net(net, root / f"{stage}.safetensors")
    b = PointsBackend(shape=root / "shape.safetensors", color=root / "color.safetensors", quality=12)
    s = Session()
    s.register_backend(b, replace=True)
    return s, b


def test_the_back_end_answers_a_scribble_with_a_hint_and_no_proposal_unless_switched_off(backend, drawn):
    s, b = backend
    tangle = _scribble("tangle", drawn, 0)
    result = s.interpret(tangle, offer=False)
    assert not result.proposals and "scribble" in result.hint and ADVICE in result.hint
    assert not s.bodies and not s.history
    b.configure(refuse=False)
    try:
        assert b.scribble_hint(tangle) is None
        assert s.interpret(tangle, offer=False).proposals  # the user asked for a cloud whatever is drawn
    finally:
        b.configure(refuse=True)


def test_a_sketch_with_no_strokes_is_a_recolor_and_never_judged(backend, drawn):
    s, _ = backend
    empty = Sketch(drawn.camera, drawn.width, drawn.height, (), "points", "a red chair")
    result = s.interpret(empty, offer=False)
    assert not result.proposals and "scribble" not in result.hint and "re-color" in result.hint


# -- the calibration command ------------------------------------------------------------------------
def test_the_calibration_command_writes_a_file_the_back_end_reads(tmp_path, capsys):
    out = tmp_path / "refusal.json"
    assert points_refusal.main(["--items", "10", "--seed", "3", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    r = points_refusal.load(out)
    assert r.features == points_refusal.FEATURES and 0.0 < r.threshold < 1.0
    assert set(r.bounds) == set(points_refusal.BOUNDED) and r.extra["items"] == 10
    assert points_refusal.main(["--items", "2", "--out", str(out)]) == 2
    assert "--items must be at least 10" in capsys.readouterr().err
    out.write_text("{}")
    with pytest.raises(ValueError, match="sketchforge-calibrate-points-refusal"):
        points_refusal.load(out)
