"""The stroke stage of the curve roles: strokes cut at their corners, pieces painted back onto the
ink as the labels are, a stage trained from the command line that reads the roles better than the
image network it sits on, and a back end that uses a stage only beside the network it was trained on."""

from __future__ import annotations

import json
import logging
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from sketchforge.neural.assets import asset_path
from sketchforge.neural.cad.net import NetConfig
from sketchforge.neural.cad.strokeroles import (
    FEATURES,
    Reading,
    StrokeStage,
    load_stage,
    paint_roles,
    piece_features,
    stroke_pieces,
    stroke_stage_path,
)
from sketchforge.neural.cad.strokes_train import main as strokes_main
from sketchforge.neural.cad.train import TrainConfig, train
from sketchforge.neural.synth.shards import GenerateConfig, generate
from sketchforge.neural.weights import WeightsError

SIZE = 64


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("strokes") / "data"
    generate(out, GenerateConfig(count=64, size=SIZE, seed=13, shard_size=32, step_sample=0.0),
             workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def image_net(dataset, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("cnn")
    train(TrainConfig(data=str(dataset), val=str(dataset), epochs=1, batch=8, seed=3, workers=0, val_every=0,
                      channels=(8, 16, 32, 64)), run, max_steps=4, progress=False)
    return run / "best.safetensors"


@pytest.fixture(scope="module")
def stage_run(dataset, image_net, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stage")
    args = ["--data", str(dataset), "--val", str(dataset), "--out", str(out), "--weights", str(image_net),
            "--epochs", "25", "--batch", "16", "--width", "32", "--layers", "2", "--threads", "1", "--patience", "25"]
    assert strokes_main(args) == 0
    return out


def _reading(size: int = 64) -> Reading:
    return Reading(np.full((size, size, 3), 1 / 3, np.float32), np.zeros((size, size), np.float32),
                   np.full(4, 0.25, np.float32), np.zeros((size, size, 3), np.float32),
                   np.ones((size, size), np.float32), np.zeros((size, size), bool))


def test_a_stroke_is_cut_at_its_corners_and_not_at_its_wobble():
    # an L drawn in one go, with a hand's small wobble along it
    t = np.linspace(0, 1, 60)
    down = np.stack([20 + 0.4 * np.sin(40 * t), 20 + 30 * t], 1)
    across = np.stack([20 + 30 * t, 50 + 0.4 * np.sin(40 * t)], 1)
    pieces = stroke_pieces([np.vstack([down, across[1:]])], 128)
    assert len(pieces) == 2
    corner = pieces[0].uv[-1]
    assert np.linalg.norm(corner - [20, 50]) < 3.0
    assert [p.rank for p in pieces] == [0, 1] and {p.count for p in pieces} == {2}
    # a circle turns everywhere but nowhere sharply: one piece; a dot is a piece of one point
    a = np.linspace(0, 2 * math.pi, 90)
    circle = np.stack([60 + 20 * np.cos(a), 60 + 20 * np.sin(a)], 1)
    pieces = stroke_pieces([circle, np.array([[5.0, 5.0]]), np.array([[np.nan, 1.0]])], 128)
    assert len(pieces) == 2 and pieces[1].stroke == 1 and len(pieces[1].uv) == 1
    # a rectangle drawn in one stroke: four sides
    rect = np.array([[10, 10], [60, 10], [60, 40], [10, 40], [10, 10]], float)
    assert len(stroke_pieces([rect], 128)) == 4


def test_features_say_how_pieces_meet_and_keep_their_shape():
    rect = np.array([[10, 10], [60, 10], [60, 40], [10, 40], [10, 11]], float)
    line = np.array([[60, 10], [60, 2]], float)
    far = np.array([[100, 100], [120, 100]], float)
    pieces = stroke_pieces([rect, line, far], 128)
    feats = piece_features(pieces, _reading(128))
    assert feats.shape == (len(pieces), FEATURES) and np.isfinite(feats).all()
    meets = feats[:, 32:36]  # ends met by other pieces' ends / bodies, start then end
    assert meets[-1].sum() == 0, "a piece on its own meets nothing"
    assert meets[-2].sum() > 0, "the line starting at the rectangle's corner meets it"


def test_painting_follows_drawing_order_and_keeps_the_network_where_no_piece_reaches():
    h = w = 32
    ink = np.zeros((h, w), bool)
    ink[16, 2:30] = True  # across
    ink[2:30, 16] = True  # down, drawn later
    ink[2, 2] = True  # a speck no stroke drew
    fallback = np.where(ink, 3, 0).astype(np.uint8)
    pieces = stroke_pieces([np.array([[2.5, 16.5], [29.5, 16.5]]), np.array([[16.5, 2.5], [16.5, 29.5]])], w)
    roles = paint_roles(pieces, [0, 1], ink, fallback)
    assert roles[16, 16] == 2, "the later stroke labels the crossing"
    assert roles[16, 5] == 1 and roles[5, 16] == 2
    assert roles[2, 2] == 3 and roles[0, 0] == 0 and (roles[~ink] == 0).all()


def test_the_stage_trains_from_the_command_line_and_reads_roles_better_than_its_image_network(
        stage_run, dataset, image_net):
    best = stage_run / "best.safetensors"
    model, extra = load_stage(best)
    log = [json.loads(line) for line in (stage_run / "log.jsonl").read_text().splitlines()]
    assert len(log) == 25
    # the stage sees the image network's reading of a 64-item set it trained on: it should at
    # least read the roles better than that barely trained network does
    assert extra["val"]["piece_pixel_acc"] > extra["val"]["network_pixel_acc"] + 0.05
    assert extra["image_network"] == image_net.name and len(extra["weights_sha256"]) == 64
    # a second run with more epochs continues from the checkpoint and reuses the piece tables
    table = stage_run / "pieces-train.npz"
    stamp = table.stat().st_mtime_ns
    args = ["--data", str(dataset), "--val", str(dataset), "--out", str(stage_run), "--weights", str(image_net),
            "--epochs", "26", "--batch", "16", "--width", "32", "--layers", "2", "--threads", "1", "--patience", "25"]
    assert strokes_main(args) == 0
    assert table.stat().st_mtime_ns == stamp
    assert len((stage_run / "log.jsonl").read_text().splitlines()) == 26


def test_bad_settings_are_refused_in_one_line(dataset, tmp_path, capsys):
    assert strokes_main(["--data", str(dataset), "--val", str(dataset), "--out", str(tmp_path / "r"),
                         "--width", "30"]) == 2
    assert "--width must be a multiple of 4" in capsys.readouterr().err
    assert strokes_main(["--data", str(tmp_path / "none"), "--val", str(dataset), "--out", str(tmp_path / "r"),
                         "--weights", str(tmp_path / "no.safetensors")]) == 2
    assert "no image network" in capsys.readouterr().err
    with pytest.raises(WeightsError, match=r"holds a CAD network \('cadnet'\), not a CAD stroke stage"):
        load_stage(asset_path("cad/cadnet.safetensors"))


def test_the_back_end_reads_with_a_stage_only_beside_its_own_network(stage_run, image_net, tmp_path, caplog):
    from sketchforge.neural.cad.backend import CadBackend
    weights = tmp_path / "net.safetensors"
    shutil.copy(image_net, weights)
    shutil.copy(stage_run / "best.safetensors", stroke_stage_path(weights))
    backend = CadBackend(weights)
    assert isinstance(backend.networks()[2], StrokeStage)
    # another network under the same name: the stage is left out, with a warning saying what to do
    other = NetConfig(channels=(8, 16, 32, 64), size=SIZE)
    from sketchforge.neural.cad.net import CadUNet, save_weights
    save_weights(CadUNet(other), weights)
    with caplog.at_level(logging.WARNING):
        stage = CadBackend(weights).networks()[2]
    assert stage is None and "sketchforge-train-cad-strokes" in caplog.text


def test_the_evaluation_reads_roles_along_the_strokes_in_the_view_the_network_reads(dataset, stage_run, image_net):
    from sketchforge.neural.cad.evaluate import _RoleFigures
    from sketchforge.neural.cad.strokes_train import view_strokes
    from sketchforge.neural.synth.reading import read_manifest, read_shard
    figures = _RoleFigures(dataset)
    shard = read_manifest(dataset)["shards"][0]
    arrays = read_shard(dataset / shard["npz"])
    for i in range(16):
        item = int(arrays["item"][i])
        truth = arrays["role"][i]
        strokes = view_strokes(figures.recs[item], figures.cameras[item], SIZE)
        figures._count("network", int(arrays["op_class"][i]), truth, truth, strokes)
    f = figures.figures("network")
    assert f["role_acc"] == 1.0
    assert f["stroke_role_acc"] > 0.9, "the strokes, carried into the framed view, lie on their labels"


def test_pieces_of_several_sets_train_as_one_table():
    from sketchforge.neural.cad.strokes_train import _batch, concat_tables
    a = {"feats": np.arange(3 * FEATURES, dtype=np.float32).reshape(3, FEATURES), "labels": np.array([0, 1, 2]),
         "weights": np.ones(3, np.float32), "offsets": np.array([0, 2, 3]), "items": np.array([5, 6]),
         "op_class": np.array([0, 1]), "net_right": np.array([1, 1]), "pixels": np.array([2, 2])}
    b = {**a, "feats": -a["feats"][:1], "labels": np.array([1]), "weights": np.ones(1, np.float32),
         "offsets": np.array([0, 1]), "items": np.array([9]), "op_class": np.array([3]),
         "net_right": np.array([0]), "pixels": np.array([1])}
    t = concat_tables([a, b])
    assert t["offsets"].tolist() == [0, 2, 3, 4] and t["items"].tolist() == [5, 6, 9]
    feats, pad, lab, _ = _batch(t, np.array([2, 0]))
    assert lab.tolist() == [[1, -1], [0, 1]] and pad.tolist() == [[False, True], [False, False]]
    assert torch.equal(feats[0, 0], torch.from_numpy(b["feats"][0]))


def test_a_stage_reads_every_piece_and_counts_its_flops(stage_run):
    stage = StrokeStage.load(stage_run / "best.safetensors")
    rect = np.array([[10, 10], [50, 10], [50, 40], [10, 40], [10, 10]], float)
    line = np.array([[50, 10], [50, 2]], float)
    ink = np.zeros((SIZE, SIZE), bool)
    ink[10, 10:51] = ink[40, 10:51] = ink[10:41, 10] = ink[2:41, 50] = True
    before = np.where(ink, 3, 0).astype(np.uint8)
    roles, pieces = stage.refine([rect, line], _reading(SIZE), ink, before)
    assert pieces == 5 and roles.shape == ink.shape
    assert (roles[ink] > 0).all() and (roles[~ink] == 0).all()
    assert 0 < stage.flops(5) < stage.flops(20) and stage.flops(0) == 0
    # a scribble cut into more pieces than the stage reads keeps the image network's roles
    zigzag = np.array([[2 + 2 * i, 2 + 20 * (i % 2)] for i in range(300)], float)
    kept, none = stage.refine([zigzag], _reading(SIZE), ink, before)
    assert none == 0 and kept is before


def test_reordering_for_training_reads_as_a_stroke_drawn_the_other_way():
    from sketchforge.neural.cad.strokes_train import reorder
    rng = np.random.default_rng(0)
    reading = Reading(rng.random((128, 128, 3)).astype(np.float32), rng.random((128, 128)).astype(np.float32),
                      np.full(4, 0.25, np.float32), rng.random((128, 128, 3)).astype(np.float32),
                      rng.random((128, 128)).astype(np.float32), rng.random((128, 128)) > 0.5)
    stroke = np.array([[20, 20], [20, 60], [70, 60], [90, 30]], float)
    forward = piece_features(stroke_pieces([stroke], 128), reading)
    backward = piece_features(stroke_pieces([stroke[::-1]], 128), reading)
    flipped = reorder(forward, np.array([0, len(forward)]), np.random.default_rng(1), 1.0)
    # the pieces come in the other order; as a set they are the same
    assert np.allclose(np.sort(flipped, axis=0), np.sort(backward, axis=0), atol=1e-4)
    # several strokes: their ranks are permuted among themselves
    two = piece_features(stroke_pieces([stroke, stroke + 5, stroke + 9], 128), reading)
    mixed = reorder(two, np.array([0, len(two)]), np.random.default_rng(3), 1.0)
    assert sorted(set(mixed[:, 28])) == sorted(set(two[:, 28])) and not np.array_equal(mixed[:, 28], two[:, 28])


def test_a_stage_for_a_light_network_trains_on_readings_at_the_canvases_the_app_reads_at(
        dataset, image_net, tmp_path, capsys):
    from sketchforge.neural.cad.infer import CadNet
    from sketchforge.neural.cad.net import load_model
    from sketchforge.neural.cad.strokes_train import read_set
    from sketchforge.neural.synth.reading import read_shard
    cnn, _ = load_model(image_net)
    app = CadNet(cnn, traced=False)
    a = read_shard(dataset / "shard-00000.npz")
    native = list(read_set(cnn, dataset, limit=8))
    small = list(read_set(cnn, dataset, limit=8, canvases=(32,)))
    agree, ink_total, changed = 0, 0, 0
    for i, (n, s) in enumerate(zip(native, small)):
        depth = a["depth"][i].copy()
        depth[a["face_id"][i] < 0] = np.inf
        pred = app.predict(a["stroke"][i], a["normal"][i].astype(np.float32), depth, canvas=32)
        ink = pred.roles > 0
        agree += int((pred.roles[ink] == s["roles"][ink]).sum())
        ink_total += int(ink.sum())
        changed += int((n["roles"][ink] != s["roles"][ink]).sum())
    assert agree >= 0.95 * ink_total, "the stage must learn from the readings the app will give it"
    assert changed > 0, "a 32 px reading is not the 64 px one"
    # from the command line: the canvases are recorded with the stage; bad sizes are refused in one line
    out = tmp_path / "light-stage"
    args = ["--data", str(dataset), "--val", str(dataset), "--out", str(out), "--weights", str(image_net),
            "--epochs", "2", "--batch", "16", "--width", "32", "--layers", "2", "--threads", "1", "--limit", "16"]
    assert strokes_main(args + ["--canvases", "32,48"]) == 0
    assert load_stage(out / "best.safetensors")[1]["settings"]["canvases"] == [32, 48]
    assert strokes_main(args + ["--canvases", "32,50"]) == 2
    assert "multiples of 16" in capsys.readouterr().err
    assert strokes_main(args + ["--canvases", "48"]) == 2, "a run read at other canvases is not continued"
    assert "other settings" in capsys.readouterr().err
