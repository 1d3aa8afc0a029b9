"""The canvas selector: stroke features, that REINFORCE learns to spend pixels only where they
pay, that the trade-off moves the choice, and that weight files round-trip without pickle."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sketchforge.neural.selector import (
    CANVASES,
    CanvasSelector,
    SelectorConfig,
    count_selector_flops,
    load_selector,
    policy_figures,
    rewards,
    save_selector,
    stroke_sequence,
    train_selector,
)
from sketchforge.neural.weights import WeightsError


def test_stroke_features_are_simplified_centred_and_mark_pen_lifts():
    line = np.column_stack([np.linspace(10, 110, 200), np.full(200, 64.0)])  # a straight line: 2 points
    box = np.array([[20, 20], [100, 20], [100, 100], [20, 100], [20, 20]], float)
    seq = stroke_sequence([line, box, np.full((3, 2), np.nan)], 128, 128)
    assert seq.shape == (2 + 5, 5) and seq.dtype == np.float32
    np.testing.assert_allclose(seq[0, :2], [(10 - 64) / 128, 0.0], atol=1e-6)
    assert seq[:, 4].tolist() == [0, 1, 0, 0, 0, 0, 1]
    np.testing.assert_allclose(seq[1:, 2:4], np.diff(seq[:, :2], axis=0), atol=1e-6)
    assert stroke_sequence([], 128, 128).shape == (1, 5)
    scribble = [np.random.default_rng(0).uniform(0, 128, (400, 2))]
    assert len(stroke_sequence(scribble, 128, 128)) <= 160


def _sketches(n: int, seed: int):
    """Half simple (a short line), half busy (many wiggly strokes). Simple ones read well at any
    size, busy ones only at 96 px and above."""
    rng = np.random.default_rng(seed)
    seqs, scores = [], []
    for i in range(n):
        busy = i % 2 == 1
        if busy:
            strokes = [np.cumsum(rng.normal(0, 8, (10, 2)), 0) + 64 for _ in range(3)]
            score = [0.2, 0.3, 0.5, 0.95, 1.0]
        else:
            a = rng.uniform(20, 100, 2)
            strokes = [np.array([a, a + rng.uniform(-15, 15, 2)])]
            score = [0.97, 0.98, 0.99, 1.0, 1.0]
        seqs.append(stroke_sequence(strokes, 128, 128))
        scores.append(score)
    return seqs, np.array(scores)


def test_reinforce_spends_pixels_only_where_they_pay():
    flops = [4.8e6 * (c / 32) ** 2 for c in CANVASES]
    seqs, scores = _sketches(200, 1)
    config = SelectorConfig(hidden=16)
    model = train_selector(seqs, scores, flops, tradeoff=0.3, config=config, epochs=40, batch=32, lr=1e-2, seed=0)
    test_seqs, test_scores = _sketches(100, 2)
    fig = policy_figures(model, test_seqs, test_scores, flops)
    # the largest canvas everywhere scores 1.0 at the full cost; the policy keeps nearly all of the
    # score for far fewer FLOPs, choosing small canvases for the simple half
    assert fig["score_mean"] > 0.95, fig
    assert fig["flops_mean"] < 0.6 * flops[-1], fig
    assert fig["histogram"]["32"] + fig["histogram"]["48"] >= 40, fig
    cheap = train_selector(seqs, scores, flops, tradeoff=0.95, config=config, epochs=40, batch=32, lr=1e-2, seed=0)
    assert policy_figures(cheap, test_seqs, test_scores, flops)["flops_mean"] < fig["flops_mean"]


def test_selector_weights_round_trip_and_bad_settings_are_refused(tmp_path):
    torch.manual_seed(0)
    model = CanvasSelector(SelectorConfig(hidden=16, tradeoff=0.2))
    save_selector(model, tmp_path / "s.safetensors", extra={"note": "x"})
    loaded, extra = load_selector(tmp_path / "s.safetensors")
    assert extra == {"note": "x"} and loaded.config == model.config
    strokes = [np.array([[10.0, 10.0], [60.0, 90.0]])]
    assert loaded.choose(strokes, 128, 128) == model.choose(strokes, 128, 128) in CANVASES
    assert 0 < count_selector_flops(model, 40) < 1e6
    # the cost of a choice grows by the same amount per point: two counts give every length exactly
    assert [loaded.flops(n) for n in (1, 7, 40)] == [count_selector_flops(model, n) for n in (1, 7, 40)]
    with pytest.raises(ValueError, match="increasing sizes"):
        SelectorConfig(canvases=(64, 32))
    with pytest.raises(ValueError, match="tradeoff"):
        rewards(np.ones((2, 5)), [1, 2, 3, 4, 5], 1.5)
    from safetensors.torch import save_file
    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(WeightsError, match="not a Sketchforge weight file.*sketchforge-train-selector"):
        load_selector(tmp_path / "other.safetensors")


def test_a_single_choice_is_the_gru_policys_likeliest_canvas():
    """`choose_sequence` runs the recurrence in numpy: it must pick what the torch module picks."""
    torch.manual_seed(5)
    model = CanvasSelector(SelectorConfig(hidden=24)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)  # livelier weights than the initial ones, so the choices differ between sketches
    rng = np.random.default_rng(5)
    seqs = [rng.normal(0, 0.5, (int(rng.integers(1, 60)), 5)).astype(np.float32) for _ in range(200)]
    with torch.inference_mode():
        want = [CANVASES[int(model(torch.from_numpy(s)[None], torch.tensor([len(s)])).argmax(1))] for s in seqs]
    got = [model.choose_sequence(s) for s in seqs]
    assert got == want
    assert len(set(got)) >= 3, "the test needs sketches the policy reads differently"
