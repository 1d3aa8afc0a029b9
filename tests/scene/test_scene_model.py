"""The network that reads a scene sketch into its layout: it learns, it reads a sketch over the ground
its canvas shows, its weights round-trip, and the training command writes weights and resumes. Tiny
networks throughout; no shipped weights needed."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest
import torch

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.sketch import Sketch, Stroke
from sketchforge.neural.scene import train
from sketchforge.neural.scene.cli import GenerateConfig, generate
from sketchforge.neural.scene.data import RES, layout_arrays, make_item
from sketchforge.neural.scene.layout import Layout
from sketchforge.neural.scene.layout import ground_rectangle as ground_extent
from sketchforge.neural.scene.net import (
    FEATURES,
    SceneConfig,
    SceneNet,
    load_net,
    save_net,
    scale_vector,
    sketch_features,
)
from sketchforge.neural.scene.reading import read_layout
from sketchforge.neural.scene.world import CATEGORIES, MATERIALS
from sketchforge.neural.weights import WeightsError, save_weights

TINY = SceneConfig(width=8, max_width=32, levels=3, cond=16)


@pytest.fixture(autouse=True)
def _one_thread():
    """One thread: these networks are small, and a second thread only waits on a busy machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


class FakeEncoder:
    """Stands in for the text encoder: a fixed unit vector per prompt, no model to load."""

    def __init__(self, cache=None) -> None:
        self.calls: list[list[str]] = []

    def encode(self, prompts):
        self.calls.append(list(prompts))
        pooled = []
        for p in prompts:
            v = np.random.default_rng(zlib.crc32((p or "").encode())).standard_normal(384).astype(np.float32)
            pooled.append(v / np.linalg.norm(v))
        pooled = torch.from_numpy(np.stack(pooled))
        return torch.zeros(len(prompts), 1, 384), torch.ones(len(prompts), 1, dtype=torch.bool), pooled

    def save_cache(self) -> None:
        pass


def top_down(width: int = 640, height: int = 480, centre_mm=(50_000.0, -30_000.0), ground_mm: float = 200_000.0,
             prompt: str | None = None) -> Sketch:
    """A scene sketch of the contract: a road across, a lake loop and a forest hatch."""
    cam = Camera(eye=(centre_mm[0], centre_mm[1], 500_000.0), target=(centre_mm[0], centre_mm[1], 0.0),
                 up=(0.0, 1.0, 0.0), projection="orthographic", height=ground_mm)

    def stroke(uv, kind):
        uv = np.asarray(uv, float)
        return Stroke(np.column_stack([uv, np.ones(len(uv)), np.arange(len(uv)) * 10.0]), kind)

    a = np.linspace(0, 2 * np.pi, 40)
    lake = np.column_stack([0.3 * width + 40 * np.cos(a), 0.3 * height + 30 * np.sin(a)])
    road = [(0, 0.7 * height), (width, 0.6 * height)]
    hatch = [(0.6 * width + 10 * i, 0.2 * height + (30 if i % 2 else 0)) for i in range(12)]
    return Sketch(cam, width, height, (stroke(road, "road"), stroke(lake, "water"), stroke(hatch, "forest")),
                  "scene", prompt)


# -- learning ------------------------------------------------------------------------------------------
def test_a_tiny_network_learns_a_few_maps():
    torch.manual_seed(0)
    res = 32
    items = [make_item(seed) for seed in range(4)]
    arrays = [layout_arrays(it.world, it.sketch, res) for it in items]
    encoder = FakeEncoder()
    batch = {
        "features": torch.from_numpy(np.stack([sketch_features(a["sketch"]) for a in arrays])),
        "text": encoder.encode([it.world.style for it in items])[2],
        "scale": torch.from_numpy(np.stack([scale_vector(it.world.size_m, res) for it in items])),
        "category": torch.from_numpy(np.stack([a["category"] for a in arrays]).astype(np.int64)),
        "height": torch.from_numpy(np.stack([a["height"] for a in arrays]).astype(np.float32) / 65535),
        "splat": torch.from_numpy(np.stack([a["splat"] for a in arrays]).astype(np.float32) / 255),
        "relief": torch.tensor([float(np.ptp(a["height_range"])) for a in arrays]),
        "base": torch.tensor([float(a["height_range"][0]) for a in arrays]),
    }
    net = SceneNet(TINY)
    opt = torch.optim.Adam(net.parameters(), 1e-2)

    def iou() -> float:
        with torch.no_grad():
            pred = net(batch["features"], batch["text"], batch["scale"]).category.argmax(1)
        truth = batch["category"]
        present = [c for c in range(len(CATEGORIES)) if (truth == c).any()]
        return float(np.mean([((pred == c) & (truth == c)).sum() / ((pred == c) | (truth == c)).sum()
                              for c in present]))

    first = None
    for _ in range(100):
        got = train.losses(net(batch["features"], batch["text"], batch["scale"]), batch)
        if first is None:
            first = {k: float(v.detach()) for k, v in got.items()}
        opt.zero_grad()
        got["total"].backward()
        opt.step()
    final = {k: float(v.detach()) for k, v in got.items()}
    assert final["category"] < first["category"] / 5, (first, final)
    assert final["height"] < first["height"] / 2, (first, final)
    assert iou() > 0.7  # chance over the categories present is about 1 / 4


def test_features_and_batches_turn_the_ink_and_the_maps_together():
    item = make_item(3)
    a = item.arrays
    feats = sketch_features(a["sketch"])
    assert feats.shape == (FEATURES, RES, RES) and feats.dtype == np.float32
    for k in range(4):
        for mirror in (False, True):
            turned = np.ascontiguousarray(train.turn(a["sketch"], k, mirror))
            assert np.array_equal(sketch_features(turned), train.turn(feats, k, mirror))

    class One:  # a dataset of one non-square item, read eight times
        arrays = {name: np.repeat(a[name][None], 8, 0) for name in ("sketch", "category", "height", "height_range",
                                                                    "splat")}
        scale = np.repeat(scale_vector((300.0, 225.0))[None], 8, 0)
        text_ids = np.zeros(8, np.int64)

    prompts = train.PromptTable(FakeEncoder(), [])
    batch = train.make_batch(One(), prompts, np.arange(8), np.random.default_rng(5))
    seen = set()
    for i in range(8):
        cat = batch["category"][i].numpy()
        k, mirror = next((k, m) for k in range(4) for m in (False, True)
                         if np.array_equal(train.turn(a["category"], k, m), cat))
        seen.add((k, mirror))
        assert np.array_equal(batch["features"][i].numpy(), train.turn(feats, k, mirror))
        assert np.array_equal(batch["height"][i].numpy(), train.turn(a["height"], k, mirror) / np.float32(65535))
        assert np.array_equal(batch["splat"][i].numpy(), train.turn(a["splat"], k, mirror) / np.float32(255))
        scale = One.scale[0][::-1] if k % 2 else One.scale[0]
        assert np.array_equal(batch["scale"][i].numpy(), scale)
    assert len(seen) > 2


# -- reading a sketch ------------------------------------------------------------------------------------
def test_a_layout_covers_the_ground_the_canvas_shows():
    net = SceneNet(TINY)
    sketch = top_down()  # 640 x 480 px over 200 m north to south, centred on (50 m, -30 m)
    layout = read_layout(net, sketch, encoder=FakeEncoder())
    assert isinstance(layout, Layout)
    w, s, e, n = layout.extent
    assert (w, s, e, n) == pytest.approx((50 - 400 / 3, -130.0, 50 + 400 / 3, 70.0))
    assert layout.shape == (RES, RES)
    assert layout.category.dtype == np.uint8 and int(layout.category.max()) < len(CATEGORIES)
    assert layout.height.dtype == np.float32 and np.isfinite(layout.height).all()
    assert layout.splat.dtype == np.float32 and layout.splat.shape == (RES, RES, len(MATERIALS))
    assert np.allclose(layout.splat.sum(-1), 1.0, atol=1e-5) and (layout.splat >= 0).all()
    square = read_layout(net, sketch, encoder=FakeEncoder(), shape=(96, 128))  # square cells: 2.08 m
    assert square.shape == (96, 128) and square.extent == layout.extent
    assert square.cell_m == pytest.approx((200 / 96, 200 / 96))
    centred = read_layout(net, top_down(480, 480, (0.0, 0.0), 120_000.0), encoder=FakeEncoder())
    assert centred.extent == pytest.approx((-60.0, -60.0, 60.0, 60.0))


def test_the_prompt_is_encoded_only_when_there_is_one():
    net = SceneNet(TINY)
    enc = FakeEncoder()
    plain = read_layout(net, top_down(), encoder=enc)
    assert enc.calls == [] and plain.style is None
    snowy = read_layout(net, top_down(prompt="snowy"), encoder=enc)
    assert enc.calls == [["snowy"]] and snowy.style == "snowy"


def test_a_sketch_not_seen_from_straight_above_is_refused():
    sketch = top_down()
    tilted = Camera(eye=(0.0, -300_000.0, 400_000.0), target=(0.0, 0.0, 0.0), up=(0.0, 0.0, 1.0),
                    projection="orthographic", height=200_000.0)
    with pytest.raises(ValueError, match="straight down"):
        ground_extent(Sketch(tilted, 640, 480, sketch.strokes, "scene"))
    perspective = Camera(eye=(0.0, 0.0, 400_000.0), target=(0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0))
    with pytest.raises(ValueError, match="orthographic"):
        read_layout(SceneNet(TINY), Sketch(perspective, 640, 480, sketch.strokes, "scene"))


# -- weights ---------------------------------------------------------------------------------------------
def test_weights_round_trip(tmp_path):
    torch.manual_seed(1)
    net = SceneNet(TINY)
    net.empty_text.copy_(torch.randn(384))
    save_net(net, tmp_path / "scene.safetensors", extra={"figures": {"miou": 0.5}})
    save_net(net, tmp_path / "half.safetensors", half=True)
    back, extra = load_net(tmp_path / "scene.safetensors")
    half, _ = load_net(tmp_path / "half.safetensors")
    assert back.config == TINY and extra["figures"]["miou"] == 0.5
    sketch = top_down()
    a, b, c = (read_layout(m, sketch) for m in (net, back, half))  # no prompt: no encoder needed
    assert np.array_equal(a.height, b.height) and np.array_equal(a.category, b.category)
    assert np.allclose(a.height, c.height, atol=0.05) and np.allclose(a.splat, c.splat, atol=0.01)
    save_weights(tmp_path / "other.safetensors", {"w": torch.zeros(2)}, kind="points-shape", config={})
    with pytest.raises(WeightsError, match="scene-layout"):
        load_net(tmp_path / "other.safetensors")


# -- the training command ----------------------------------------------------------------------------------
def test_training_command_writes_weights_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "CHECKPOINT_S", 0.0)  # a checkpoint (and a validation) after every step
    monkeypatch.setattr(train, "TextEncoder", FakeEncoder)
    data = tmp_path / "data"
    generate(data, GenerateConfig(count=4, seed=3, shard_size=2))
    out = tmp_path / "run"
    args = ["--data", str(data), "--val", str(data), "--out", str(out), "--minutes", "0.02", "--batch", "2",
            "--width", "4", "--max-width", "8", "--levels", "2", "--threads", "1", "--quiet"]
    assert train.main(args) == 0
    net, extra = load_net(out / "scene.safetensors")
    assert extra["steps"] > 0 and extra["on"] == "validation"
    card = json.loads((out / "scene.json").read_text())
    assert card["kind"] == "scene-layout" and card["parameters"] > 0
    for name in ("miou", "height_rmse_m", *(f"iou_{c}" for c in CATEGORIES)):
        assert name in card["figures"]
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert len(records) >= 2 and "miou" in records[0] and records[-1]["final"]
    layout = read_layout(net, make_item(0).sketch)
    assert layout.shape == (RES, RES)
    assert train.main(args) == 2  # the run is there: resume it or pick another folder
    assert train.main(args + ["--resume"]) == 0
    assert train.main(args[:-1] + ["--width", "6", "--resume", "--quiet"]) == 2  # other settings
