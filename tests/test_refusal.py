"""The calibrated refusal shared by the back ends: the share of real sketches it may refuse, the
direction each sign may count, and files that are not refusal files."""

import json

import numpy as np
import pytest

from sketchforge.neural.refusal import Refusal, fit_refusal

FEATURES = ("ink", "turning", "strokes")


def test_a_sign_that_counts_the_wrong_way_is_a_habit_of_the_scribbles_and_is_dropped():
    rng = np.random.default_rng(0)
    real = np.column_stack([rng.normal(0, 1, 500), rng.normal(0, 1, 500), rng.normal(3, 0.5, 500)])
    # the scribbles ink more and turn more, and (a habit of their generator) are all one stroke
    fake = np.column_stack([rng.normal(3, 1, 500), rng.normal(3, 1, 500), np.zeros(500)])
    free = fit_refusal(real, fake, "test", FEATURES)
    assert free.weights[2] > 0  # left alone, "fewer strokes" would count as scribbling
    held = fit_refusal(real, fake, "test", FEATURES, signs=(-1, -1, -1))
    assert held.weights[2] == 0 and held.extra["dropped"] == ["strokes"]
    assert held.weights[0] < 0 and held.weights[1] < 0
    # a scribble of many strokes is still refused, where the free fit would let it through
    many = np.array([2.5, 2.5, 3.5])
    assert held.refuses(many) and not free.refuses(many)
    assert np.mean([held.refuses(f) for f in real]) <= 0.0075


def test_refusal_files_round_trip_and_others_are_refused_with_how_to_remake_them(tmp_path):
    rng = np.random.default_rng(1)
    r = fit_refusal(rng.normal(0, 1, (200, 3)), rng.normal(2, 1, (200, 3)), "test", FEATURES, max_refused=0.01)
    r.save(tmp_path / "r.json")
    again = Refusal.load(tmp_path / "r.json", "test", FEATURES, "run make-it")
    assert again == r
    with pytest.raises(ValueError, match="run make-it"):
        Refusal.load(tmp_path / "r.json", "other", FEATURES, "run make-it")
    data = json.loads((tmp_path / "r.json").read_text())
    data["weights"][0] = float("nan")
    (tmp_path / "nan.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="not finite"):
        Refusal.load(tmp_path / "nan.json", "test", FEATURES, "run make-it")
    with pytest.raises(ValueError, match="one sign per feature"):
        fit_refusal(np.zeros((4, 3)), np.ones((4, 3)), "test", FEATURES, signs=(1, -1))
