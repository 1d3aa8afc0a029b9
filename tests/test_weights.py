"""Weight files: what is written reads back bit for bit; a missing, cut-short, random, foreign-kind,
newer or badly configured file is refused with one error type whose message names the file and
says what to do; every shipped file loads through the one reader, and the shipped files are found
as package data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from sketchforge.neural import assets
from sketchforge.neural.assets import asset_path, asset_root
from sketchforge.neural.weights import FORMAT, KINDS, WeightsError, load_weights, save_weights

TENSORS = {"w": torch.arange(12, dtype=torch.float32).reshape(3, 4), "b": torch.tensor([1, 2], dtype=torch.int64)}


@pytest.fixture
def written(tmp_path) -> Path:
    path = tmp_path / "net.safetensors"
    save_weights(path, TENSORS, kind="cadnet", config={"channels": [8, 16]}, extra={"epoch": 3})
    return path


def test_a_round_trip_keeps_tensors_config_and_extra(tmp_path):
    path = tmp_path / "w.safetensors"
    arrays = {**TENSORS, "half": torch.randn(5).half(), "mask": np.array([[1, 0], [0, 1]], np.uint8)}
    save_weights(path, arrays, kind="selector", config={"canvases": [32, 64]}, version=1, extra={"note": "x"})
    w = load_weights(path, "selector")
    assert (w.kind, w.version, w.config, w.extra) == ("selector", 1, {"canvases": [32, 64]}, {"note": "x"})
    assert set(w.tensors) == set(arrays)
    for k, v in arrays.items():
        v = torch.from_numpy(v) if isinstance(v, np.ndarray) else v
        assert w.tensors[k].dtype == v.dtype and torch.equal(w.tensors[k], v), k
    assert np.array_equal(w.arrays()["mask"], arrays["mask"])
    assert not list(tmp_path.glob(".*.tmp")), "the atomic writer leaves no temp file"


def test_a_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(WeightsError, match=r"no CAD network file at .*nothing\.safetensors.*sketchforge-train-cad"):
        load_weights(tmp_path / "nothing.safetensors", "cadnet")


def test_a_truncated_file_is_refused_with_the_file_and_the_fix(written):
    cut = written.with_name("cut.safetensors")
    cut.write_bytes(written.read_bytes()[:-20])
    with pytest.raises(WeightsError, match=r"cut\.safetensors is not a readable safetensors file.*damaged.*"
                                           r"sketchforge-train-cad.*reinstall Sketchforge") as err:
        load_weights(cut, "cadnet")
    assert err.value.path == cut and isinstance(err.value, ValueError)


def test_a_file_of_random_bytes_is_refused(tmp_path):
    noise = tmp_path / "noise.safetensors"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(WeightsError, match=r"noise\.safetensors is not a readable safetensors file.*"
                                           r"sketchforge-face-suggest train"):
        load_weights(noise, "face-suggest")


def test_a_file_of_another_kind_names_both_kinds_and_the_fix(written):
    with pytest.raises(WeightsError, match=r"net\.safetensors holds a CAD network \('cadnet'\), not a canvas selector "
                                           r"\('selector'\).*sketchforge-train-selector"):
        load_weights(written, "selector")
    with pytest.raises(WeightsError, match=r"not a face maps network \('face-maps'\) or a face implicit network"):
        load_weights(written, ("face-maps", "face-implicit"))
    assert load_weights(written, ("selector", "cadnet")).kind == "cadnet"


def test_a_safetensors_file_that_is_no_weight_file_is_refused(tmp_path):
    plain = tmp_path / "plain.safetensors"
    save_file({"x": torch.zeros(2)}, str(plain))
    with pytest.raises(WeightsError, match=r"plain\.safetensors is a safetensors file but not a Sketchforge weight "
                                           r"file.*sketchforge-train-cad-strokes"):
        load_weights(plain, "strokes")


def test_a_newer_version_asks_for_an_update(tmp_path):
    path = tmp_path / "future.safetensors"
    save_weights(path, TENSORS, kind="face-maps", config={}, version=2)
    with pytest.raises(WeightsError, match=r"future\.safetensors holds a face maps network of layout version 2, "
                                           r"newer than this Sketchforge reads \(up to 1\); update Sketchforge"):
        load_weights(path, "face-maps")
    assert load_weights(path, "face-maps", newest=2).version == 2


@pytest.mark.parametrize("meta, problem", [
    ({"config": "{not json"}, "config that does not parse"),
    ({"config": "[1, 2]"}, "config that is not a JSON object"),
    ({"extra": "nan nan"}, "extra that does not parse"),
    ({"version": "one"}, "layout version that does not parse"),
])
def test_metadata_that_does_not_parse_is_refused(tmp_path, meta, problem):
    path = tmp_path / "bad.safetensors"
    save_file(TENSORS, str(path), metadata={"format": FORMAT, "kind": "cadnet", "version": "1", "config": "{}",
                                            "extra": "{}", **meta})
    with pytest.raises(WeightsError, match=rf"bad\.safetensors has a {problem}.*sketchforge-train-cad"):
        load_weights(path, "cadnet")


def test_a_network_that_does_not_fit_its_file_is_refused(written):
    from sketchforge.neural.cad.net import load_model
    with pytest.raises(WeightsError, match=r"net\.safetensors does not hold a readable CAD network.*train-cad"):
        load_model(written)


def test_files_of_the_earlier_layout_read_as_version_1(tmp_path):
    stage = tmp_path / "stage.safetensors"
    save_file(TENSORS, str(stage), metadata={"format": "sketchforge.cadstrokes", "version": "1",
                                             "config": json.dumps({"width": 8}), "extra": json.dumps({"epoch": 2})})
    w = load_weights(stage, "strokes")
    assert (w.kind, w.version, w.config, w.extra) == ("strokes", 1, {"width": 8}, {"epoch": 2})
    run = tmp_path / "checkpoint.safetensors"
    save_file(TENSORS, str(run), metadata={"config": "{}", "weights_sha256": "ab", "train_state": '{"epoch": 4}'})
    w = load_weights(run, "strokes-checkpoint")
    assert w.extra == {"train_state": {"epoch": 4}, "weights_sha256": "ab"}
    with pytest.raises(WeightsError, match="training checkpoint.*pick another --out"):
        load_weights(run, "cadnet-checkpoint")


# -- the shipped files ------------------------------------------------------------------------------
def _loaders() -> dict:
    from sketchforge.neural.cad.net import load_model as load_cad
    from sketchforge.neural.cad.strokeroles import load_stage
    from sketchforge.neural.face.net import load_net
    from sketchforge.neural.face.suggest import load_library
    from sketchforge.neural.face.suggest import load_model as load_suggest
    from sketchforge.neural.points.net import load_net as load_points
    from sketchforge.neural.scene.net import load_net as load_scene
    from sketchforge.neural.selector import load_selector
    return {"cadnet": load_cad, "strokes": load_stage, "selector": load_selector, "face-maps": load_net,
            "face-implicit": load_net, "face-suggest": load_suggest, "face-parts-library": load_library,
            "points-shape": load_points, "points-color": load_points, "points-joint": load_points,
            "scene-layout": load_scene}


SHIPPED = sorted(p.relative_to(asset_root()).as_posix() for p in asset_root().rglob("*.safetensors"))


def test_every_network_has_shipped_weights():
    assert {"cad/cadnet.safetensors", "cad/selector.safetensors", "face/maps.safetensors",
            "face/suggest.safetensors", "face/parts-library.safetensors", "points/shape.safetensors",
            "points/color.safetensors", "scene/layout.safetensors"} <= set(SHIPPED)


@pytest.mark.parametrize("relative", SHIPPED)
def test_every_shipped_file_loads_through_the_one_reader(relative):
    path = asset_path(relative)
    w = load_weights(path, tuple(KINDS))
    assert w.version == 1 and w.tensors and isinstance(w.config, dict) and isinstance(w.extra, dict)
    _loaders()[w.kind](path)


# -- package data -----------------------------------------------------------------------------------
def test_shipped_files_are_found_through_importlib_resources(tmp_path, monkeypatch):
    """`asset_path` asks importlib.resources where the package `sketchforge.assets` is (an installed
    wheel's site-packages, or the checkout), never a path relative to the source files."""
    (tmp_path / "cad").mkdir()
    (tmp_path / "cad" / "x.safetensors").write_bytes(b"")
    asked = []
    monkeypatch.setattr(assets, "files", lambda package: asked.append(package) or tmp_path)
    assert asset_path("cad/x.safetensors") == tmp_path / "cad" / "x.safetensors"
    assert asked == ["sketchforge.assets"]
    with pytest.raises(FileNotFoundError, match=r"cad/y\.safetensors is missing.*reinstall Sketchforge"):
        asset_path("cad/y.safetensors")


def test_the_package_holds_the_weights_and_model_cards():
    from importlib.resources import files
    root = files("sketchforge.assets")
    for relative in ("cad/cadnet.safetensors", "cad/MODEL_CARD.md", "face/maps.safetensors", "face/MODEL_CARD.md"):
        assert root.joinpath(*relative.split("/")).is_file(), relative
    assert os.path.samefile(str(root), asset_root())
