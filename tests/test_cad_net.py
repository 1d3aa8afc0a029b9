"""The Sketch2CAD interpretation network: its size, that it learns, that a run resumes exactly where
it stopped, that weight files round-trip, and that `CadNet.predict` answers in the documented form."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sketchforge.neural.cad.infer import CadNet
from sketchforge.neural.cad.net import CadUNet, NetConfig, at_canvas, count_flops, load_model, save_weights
from sketchforge.neural.cad.train import LossWeights, TrainConfig, TrainError, augment, compute_losses, train
from sketchforge.neural.cad.train import main as train_main
from sketchforge.neural.synth.dataset import ShardDataset
from sketchforge.neural.synth.shards import GenerateConfig, generate, read_shard
from sketchforge.neural.weights import load_weights

SIZE = 64
SMALL = (8, 16, 32, 64)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small convolutions run fastest on one thread, and the timing no longer depends on the machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cad") / "data"
    generate(out, GenerateConfig(count=64, size=SIZE, seed=11, shard_size=32, step_sample=0.0),
             workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def batch(dataset) -> dict[str, torch.Tensor]:
    items = list(ShardDataset(dataset, shuffle=False))[:12]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def _config(dataset: Path, **kw) -> TrainConfig:
    base = dict(data=str(dataset), val=str(dataset), epochs=2, batch=8, seed=5, workers=0, val_every=0,
                channels=SMALL)
    return TrainConfig(**{**base, **kw})


def test_full_size_network_stays_under_a_gigaflop():
    model = CadUNet(NetConfig())
    flops = count_flops(model)
    assert 0.1e9 < flops < 1.0e9, f"{flops / 1e9:.3f} GFLOPs per 128x128 image"
    out = model.eval()(torch.zeros(2, 5, 128, 128))
    assert out.class_logits.shape == (2, 4)
    assert out.stitch_logits.shape == (2, 1, 128, 128)
    assert out.role_logits.shape == (2, 4, 128, 128)


def test_loss_falls_when_fitting_one_batch(batch):
    torch.manual_seed(0)
    model = CadUNet(NetConfig(channels=SMALL, size=SIZE))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    weights = LossWeights((1.0, 1.0, 1.0, 1.0), 2.0)
    first = None
    for _ in range(30):
        losses = compute_losses(model(batch["input"]), batch, weights)
        opt.zero_grad()
        losses["total"].backward()
        opt.step()
        first = first if first is not None else {k: float(v.detach()) for k, v in losses.items()}
    with torch.inference_mode():
        last = {k: float(v) for k, v in compute_losses(model(batch["input"]), batch, weights).items()}
    assert last["total"] < 0.5 * first["total"], (first, last)
    for task in ("class", "stitch", "role"):
        assert last[task] < first[task], (task, first, last)


def test_augmentation_keeps_roles_on_the_ink_only(batch):
    gen = torch.Generator().manual_seed(3)
    out = augment(batch, gen)
    ink = out["input"][:, 0] < 1.0
    assert torch.equal(out["role"] > 0, ink & (out["role"] > 0))
    assert not torch.equal(out["input"], batch["input"]), "some sketches change"
    assert torch.equal(out["input"][:, 1:], batch["input"][:, 1:]), "the context channels never change"
    assert torch.equal(out["stitch"], batch["stitch"]) and torch.equal(out["op_class"], batch["op_class"])


def _params(run: Path) -> dict[str, torch.Tensor]:
    return load_weights(run / "checkpoint.safetensors", "cadnet-checkpoint").tensors


def test_a_resumed_run_takes_the_same_steps_as_an_uninterrupted_one(dataset, tmp_path):
    cfg = _config(dataset)
    whole = train(cfg, tmp_path / "whole", max_steps=5, progress=False)
    train(cfg, tmp_path / "split", max_steps=3, progress=False)
    state = json.loads((tmp_path / "split" / "state.json").read_text())
    assert state["step"] == 3 and state["finished"] == "steps"
    resumed = train(cfg, tmp_path / "split", max_steps=5, progress=False)
    assert resumed["step"] == whole["step"] == 5
    a, b = _params(tmp_path / "whole"), _params(tmp_path / "split")
    assert a.keys() == b.keys() and any(k.startswith("optimizer.") for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resuming"
    lines = [json.loads(s) for s in (tmp_path / "split" / "log.jsonl").read_text().splitlines()]
    assert {"class_acc", "stitch_iou", "role_acc"} <= lines[-1].keys()
    assert (tmp_path / "split" / "best.safetensors").is_file()


def test_stroke_pooled_class_head_reads_where_the_ink_is(batch):
    torch.manual_seed(1)
    model = CadUNet(NetConfig(channels=SMALL, size=SIZE, stroke_pool=True)).eval()
    x = batch["input"][:2].clone()
    with torch.inference_mode():
        base = model(x)
        moved = x.clone()
        moved[:, 0] = torch.roll(x[:, 0], shifts=(9, 7), dims=(1, 2))  # same strokes, elsewhere on the model
        other = model(moved)
    assert base.class_logits.shape == (2, 4)
    assert not torch.allclose(base.class_logits, other.class_logits)
    # weight files written before the option existed still load: the default is the bottleneck-only head
    old = {k: v for k, v in NetConfig().to_json().items() if k != "stroke_pool"}
    assert NetConfig.from_json(old).stroke_pool is False


def test_a_run_can_start_from_other_weights_and_fresh_heads_start_fresh(dataset, tmp_path):
    torch.manual_seed(2)
    donor = CadUNet(NetConfig(channels=SMALL, size=SIZE))
    save_weights(donor, tmp_path / "donor.safetensors")
    cfg = _config(dataset, stroke_pool=True, init=str(tmp_path / "donor.safetensors"), lr=1e-9)
    train(cfg, tmp_path / "run", max_steps=1, progress=False)
    got = _params(tmp_path / "run")
    for k in ("e0.0.weight", "e3.1.0.weight", "d0.0.weight", "role_head.weight"):  # taken from the donor
        assert torch.allclose(got[k], donor.state_dict()[k], atol=1e-6), k
    assert got["class_head.0.weight"].shape[1] > 2 * SMALL[3], "the wider class head starts fresh"
    with pytest.raises(TrainError, match="not a file"):
        train(_config(dataset, init=str(tmp_path / "missing.safetensors")), tmp_path / "other", max_steps=1,
              progress=False)


def test_batchnorm_statistics_are_recomputed_from_training_batches(batch):
    from sketchforge.neural.cad.train import recalibrate_batchnorm
    torch.manual_seed(4)
    model = CadUNet(NetConfig(channels=SMALL, size=SIZE))
    for m in model.modules():  # statistics that drifted far from what the weights produce
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.fill_(5.0)
            m.running_var.fill_(0.01)
    with torch.no_grad():
        wanted = model.train()(batch["input"]).class_logits  # normalised by the batch's own statistics
        drifted = model.eval()(batch["input"]).class_logits
        recalibrate_batchnorm(model, [batch])
        assert not model.training  # the mode is kept
        fixed = model(batch["input"]).class_logits
    assert not torch.allclose(drifted, wanted, atol=1e-2)
    # one batch: the running variance is unbiased, the batch normalisation biased, hence the tolerance
    assert torch.allclose(fixed, wanted, atol=1e-2, rtol=1e-2)


def test_resuming_with_other_settings_is_refused(dataset, tmp_path):
    train(_config(dataset), tmp_path / "run", max_steps=1, progress=False)
    with pytest.raises(TrainError, match="other settings"):
        train(_config(dataset, lr=1e-3), tmp_path / "run", max_steps=2, progress=False)


def test_command_line_reports_bad_arguments_in_one_line(tmp_path, capsys):
    assert train_main(["--data", str(tmp_path / "none"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sketchforge-train-cad: error:") and "manifest.json" in err and "\n" not in err


def _context(dataset: Path, i: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = read_shard(dataset / "shard-00000.npz")
    depth = a["depth"][i].copy()
    depth[a["face_id"][i] < 0] = np.inf
    return a["stroke"][i], a["normal"][i].astype(np.float32), depth


def test_weight_files_round_trip_and_predict_in_the_documented_form(dataset, batch, tmp_path):
    torch.manual_seed(1)
    model = CadUNet(NetConfig(channels=SMALL, size=SIZE))
    model.train()
    model(batch["input"])  # batch-norm statistics that are not the defaults
    model.eval()
    save_weights(model, tmp_path / "w.safetensors", extra={"note": "test"})
    loaded, extra = load_model(tmp_path / "w.safetensors")
    assert extra == {"note": "test"} and loaded.config == model.config
    with torch.inference_mode():
        for x, y in zip(model(batch["input"]), loaded.eval()(batch["input"])):
            assert torch.equal(x, y)

    net = CadNet.load(tmp_path / "w.safetensors", threads=None)
    stroke, normal, depth = _context(dataset)
    p = net.predict(stroke, normal, depth)
    q = CadNet(model).predict(stroke, normal, depth)
    for name in ("class_probs", "stitch", "roles", "role_probs"):
        np.testing.assert_array_equal(getattr(p, name), getattr(q, name))

    assert p.class_probs.shape == (4,) and p.class_probs.dtype == np.float32
    assert abs(float(p.class_probs.sum()) - 1.0) < 1e-5
    assert p.stitch.shape == (SIZE, SIZE) and 0.0 <= p.stitch.min() and p.stitch.max() <= 1.0
    assert p.roles.shape == (SIZE, SIZE) and p.roles.dtype == np.uint8
    np.testing.assert_array_equal(p.roles > 0, stroke > 0)
    assert p.role_probs.shape == (4, SIZE, SIZE)
    np.testing.assert_allclose(p.role_probs.sum(0), 1.0, atol=1e-5)

    # The predictor's input is the training input, and folding batch norms keeps the function.
    item = next(iter(ShardDataset(dataset, shuffle=False)))
    np.testing.assert_array_equal(net.prepare(stroke, normal, depth), item["input"].numpy())
    with torch.inference_mode():
        ref = torch.sigmoid(model(item["input"][None]).stitch_logits[0, 0]).numpy()
    np.testing.assert_allclose(p.stitch, ref, atol=1e-4)


def test_other_canvas_sizes_are_resized_and_bad_input_is_refused(dataset):
    net = CadNet(CadUNet(NetConfig(channels=SMALL, size=SIZE)))
    stroke, normal, depth = _context(dataset)
    big = (np.kron(stroke, np.ones((2, 3), np.uint8)), np.repeat(np.repeat(normal, 2, 0), 3, 1),
           np.repeat(np.repeat(depth, 2, 0), 3, 1))
    p = net.predict(*big)
    assert p.stitch.shape == (2 * SIZE, 3 * SIZE) and p.role_probs.shape == (4, 2 * SIZE, 3 * SIZE)
    np.testing.assert_array_equal(p.roles > 0, big[0] > 0)
    empty = net.predict(np.zeros((SIZE, SIZE), bool), np.zeros((SIZE, SIZE, 3)), np.zeros((SIZE, SIZE)))
    assert not empty.roles.any() and np.isfinite(empty.class_probs).all()
    with pytest.raises(ValueError, match="normal must be"):
        net.predict(stroke, normal[:, :, :2], depth)
    with pytest.raises(ValueError, match="uint8 ink"):
        net.predict(stroke.astype(np.float32) / 255, normal, depth)


def test_mobile_layout_runs_at_every_canvas_size_for_a_fraction_of_the_flops(batch):
    torch.manual_seed(2)
    plain = CadUNet(NetConfig(stroke_pool=True))
    mobile = CadUNet(NetConfig(channels=SMALL, arch="mobile", expand=2, stroke_pool=True))
    assert count_flops(mobile) < 0.2 * count_flops(plain)
    for s in (32, 48, 64, 96):
        out = mobile.eval()(torch.zeros(1, 5, s, s))
        assert out.stitch_logits.shape == (1, 1, s, s) and out.role_logits.shape == (1, 4, s, s)
    assert count_flops(mobile, 32) < 0.1 * count_flops(mobile, 128)
    mobile.train()
    mobile(batch["input"])  # batch-norm statistics that are not the defaults
    net = CadNet(mobile)  # folds every conv + batch-norm pair, the depthwise ones included
    with torch.inference_mode():
        ref = mobile.eval()(batch["input"])
        got = net.model(batch["input"].contiguous(memory_format=torch.channels_last))
    for x, y in zip(ref, got):
        torch.testing.assert_close(x, y, atol=1e-4, rtol=1e-4)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.model.modules())
    with pytest.raises(ValueError, match="arch must be one of"):
        NetConfig(arch="vgg")


def test_relational_distillation_matches_relations_not_scale():
    from sketchforge.neural.cad.train import relational_loss
    torch.manual_seed(0)
    t = torch.randn(8, 32)
    assert float(relational_loss(3.0 * t @ torch.linalg.qr(torch.randn(32, 32))[0], t)) < 1e-6, \
        "a rotated, scaled copy keeps every relation"
    s = torch.randn(8, 16, requires_grad=True)
    loss = relational_loss(s, t)
    assert float(loss.detach()) > 1e-3
    loss.backward()
    assert torch.isfinite(s.grad).all() and s.grad.abs().sum() > 0


def test_a_smaller_canvas_keeps_the_ink_and_the_outline(batch):
    from sketchforge.neural.cad.net import at_canvas, to_size
    x = batch["input"][:4]
    small = at_canvas(x, 32)
    assert small.shape == (4, 5, 32, 32)
    ink = (1.0 - x[:, 0]).mean(dim=(1, 2))
    torch.testing.assert_close((1.0 - small[:, 0]).mean(dim=(1, 2)), ink, atol=1e-5, rtol=1e-4)
    assert set(torch.unique(small[:, 4]).tolist()) <= set(torch.unique(x[:, 4]).tolist()), "the mask stays crisp"
    assert at_canvas(x, None) is x and at_canvas(x, SIZE) is x
    with pytest.raises(ValueError, match="multiple of 16"):
        at_canvas(x, 40)
    out = CadUNet(NetConfig(channels=SMALL, arch="mobile", expand=2)).eval()(small)
    up = to_size(out, (SIZE, SIZE))
    assert up.stitch_logits.shape == (4, 1, SIZE, SIZE) and up.role_logits.shape == (4, 4, SIZE, SIZE)


def test_a_live_reading_rasterises_each_canvas_as_training_does(dataset):
    """The app rasterises the sketch at the selector's canvas in numpy (`canvas_input`); the
    networks were trained on `at_canvas` of the stored input: the two must agree."""
    from sketchforge.neural.cad.net import canvas_input
    from sketchforge.neural.synth.dataset import network_input
    a = read_shard(dataset / "shard-00000.npz")
    for i in range(4):
        args = (a["stroke"][i], a["normal"][i].astype(np.float32), a["depth"][i].astype(np.float32),
                a["face_id"][i] >= 0)
        full = network_input(*args)
        np.testing.assert_array_equal(np.moveaxis(canvas_input(*args, None), -1, 0), full)
        for c in (16, 32, 48):
            want = at_canvas(torch.from_numpy(full)[None], c)[0].numpy()
            got = np.moveaxis(canvas_input(*args, c), -1, 0)
            np.testing.assert_array_equal(got[1:], want[1:])  # normals, depth, outline: the same pixels
            np.testing.assert_allclose(got[0], want[0], atol=1e-6)  # ink: the same windows' means
    with pytest.raises(ValueError, match="multiple of 16"):
        canvas_input(*args, 40)


def test_a_distilled_student_trains_at_several_canvases_and_resumes_exactly(dataset, tmp_path):
    teacher = train(_config(dataset), tmp_path / "teacher", max_steps=4, progress=False)
    assert teacher["step"] == 4
    cfg = _config(dataset, arch="mobile", expand=2, canvases=(32, 64),
                  teacher=str(tmp_path / "teacher" / "best.safetensors"), val_every=3)
    whole = train(cfg, tmp_path / "whole", max_steps=5, progress=False)
    train(cfg, tmp_path / "split", max_steps=3, progress=False)
    train(cfg, tmp_path / "split", max_steps=5, progress=False)
    a, b = _params(tmp_path / "whole"), _params(tmp_path / "split")
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resuming"
    lines = [json.loads(s) for s in (tmp_path / "whole" / "log.jsonl").read_text().splitlines()]
    val = [r for r in lines if r["kind"] == "val"][0]
    assert set(val["canvases"]) == {"32", "64"}
    assert abs(val["class_acc"] - np.mean([v["class_acc"] for v in val["canvases"].values()])) < 1e-9
    assert whole["model"]["flops_by_canvas"]["32"] < whole["model"]["flops_by_canvas"]["64"]
    assert train_main(["--data", str(dataset), "--out", str(tmp_path / "x"), "--teacher", str(tmp_path / "none")]) == 2


def test_a_strided_stem_reads_every_canvas_at_half_size_for_a_quarter_of_the_flops(dataset, batch):
    torch.manual_seed(6)
    wide = (16, 32, 64, 96)
    full = CadUNet(NetConfig(channels=wide, arch="mobile", expand=2, stroke_pool=True))
    half = CadUNet(NetConfig(channels=wide, arch="mobile", expand=2, stroke_pool=True, stem_stride=2))
    assert count_flops(half) < 0.35 * count_flops(full)
    for s in (32, 48, 64, 96, 128):  # 48 px: halvings meet an odd size (3 -> 2), the skips still line up
        out = half.eval()(torch.zeros(2, 5, s, s))
        assert out.stitch_logits.shape == (2, 1, s // 2, s // 2) and out.role_logits.shape == (2, 4, s // 2, s // 2)
        assert out.class_logits.shape == (2, 4) and torch.isfinite(out.embedding).all()
    # the app's reading: maps at the sketch's size, the frozen graph as the layers
    small = CadUNet(NetConfig(channels=SMALL, size=SIZE, arch="mobile", expand=2, stroke_pool=True, stem_stride=2))
    small.train()(batch["input"])  # batch-norm statistics that are not the defaults
    fast, slow = CadNet(small), CadNet(small, traced=False)
    stroke, normal, depth = _context(dataset)
    for canvas in (None, 48, 32, None):
        a, b = fast.predict(stroke, normal, depth, canvas=canvas), slow.predict(stroke, normal, depth, canvas=canvas)
        assert a.stitch.shape == stroke.shape
        np.testing.assert_array_equal(a.roles > 0, stroke > 0)
        np.testing.assert_allclose(a.class_probs, b.class_probs, atol=1e-5)
        np.testing.assert_allclose(a.role_probs, b.role_probs, atol=1e-5)
    with pytest.raises(ValueError, match="stem_stride"):
        NetConfig(stem_stride=4)


def test_soft_labels_pull_the_student_towards_the_teachers_probabilities():
    from sketchforge.neural.cad.train import soft_label_loss
    teacher = torch.tensor([[4.0, 1.0, 0.0, -2.0], [0.0, 3.0, 2.5, 0.0]])
    assert float(soft_label_loss(teacher.clone(), teacher)) < 1e-6, "the same logits: nothing to learn"
    assert float(soft_label_loss(teacher + 5.0, teacher)) < 1e-6, "a shift of every logit is the same distribution"
    student = torch.zeros(2, 4, requires_grad=True)
    opt = torch.optim.SGD([student], lr=1.0)
    before = float(soft_label_loss(student, teacher).detach())
    for _ in range(200):
        opt.zero_grad()
        soft_label_loss(student, teacher).backward()
        opt.step()
    assert float(soft_label_loss(student, teacher).detach()) < 0.01 * before
    # the second sketch's near tie between classes 1 and 2 is learnt, not only its top class
    p = torch.softmax(student.detach()[1], 0)
    assert 0.3 < float(p[2] / p[1]) < 0.9


def test_the_teacher_reads_the_set_once_and_the_run_reuses_it(dataset, tmp_path, capsys):
    from sketchforge.neural.cad.train import _teacher, teacher_targets
    train(_config(dataset), tmp_path / "teacher", max_steps=2, progress=False)
    weights = tmp_path / "teacher" / "best.safetensors"
    cfg = _config(dataset, arch="mobile", expand=2, canvases=(32, 64), teacher=str(weights), teacher_once=True,
                  kd=1.0, stem_stride=2)
    state = train(cfg, tmp_path / "student", max_steps=3, progress=False)
    assert state["step"] == 3
    kept = tmp_path / "student" / "teacher-targets.npz"
    assert kept.is_file()
    lines = [json.loads(s) for s in (tmp_path / "student" / "log.jsonl").read_text().splitlines()]
    assert any(r["kind"] == "val" for r in lines)
    # the kept targets are the teacher's own outputs for each item, found by its place in the set
    teacher = _teacher(str(weights))
    targets = teacher_targets(teacher, weights, dataset, tmp_path / "student", progress=False)
    items = list(ShardDataset(dataset, shuffle=False))
    x = torch.stack([it["input"] for it in items[:6]])
    with torch.inference_mode():
        out = teacher(x)
    idx = torch.stack([it["index"] for it in items[:6]])
    torch.testing.assert_close(targets["logits"][idx], out.class_logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(targets["embedding"][idx], out.embedding, atol=1e-4, rtol=1e-4)
    stamp = kept.stat().st_mtime_ns
    train(cfg, tmp_path / "student", max_steps=4, progress=False)  # resumed: the set is not read again
    assert kept.stat().st_mtime_ns == stamp
    assert train_main(["--data", str(dataset), "--out", str(tmp_path / "y"), "--kd", "1"]) == 2
    assert "--teacher" in capsys.readouterr().err


def test_a_prediction_at_a_smaller_canvas_answers_at_the_sketch_size_for_fewer_flops(dataset):
    torch.manual_seed(3)
    net = CadNet(CadUNet(NetConfig(channels=SMALL, size=SIZE, arch="mobile", expand=2)))
    stroke, normal, depth = _context(dataset)
    full, small = net.predict(stroke, normal, depth), net.predict(stroke, normal, depth, canvas=32)
    assert small.stitch.shape == full.stitch.shape == stroke.shape
    np.testing.assert_array_equal(small.roles > 0, stroke > 0)
    assert not np.allclose(small.stitch, full.stitch), "a different canvas is a different reading"
    assert net.flops(32) < 0.4 * net.flops() == 0.4 * net.flops(SIZE)


def test_the_frozen_graph_reads_a_sketch_as_the_layers_do_at_every_canvas(dataset):
    torch.manual_seed(4)
    model = CadUNet(NetConfig(channels=SMALL, size=SIZE, arch="mobile", expand=2, stroke_pool=True))
    fast, slow = CadNet(model), CadNet(model, traced=False)
    stroke, normal, depth = _context(dataset)
    for canvas in (None, 48, 32):
        fast.predict(stroke, normal, depth, canvas=canvas)  # the first reading runs layer by layer
        assert isinstance(fast._reader(canvas), torch.jit.ScriptModule), "later readings are one frozen graph"
        a, b = fast.predict(stroke, normal, depth, canvas=canvas), slow.predict(stroke, normal, depth, canvas=canvas)
        np.testing.assert_allclose(a.class_probs, b.class_probs, atol=1e-5)
        np.testing.assert_allclose(a.stitch, b.stitch, atol=1e-5)
        np.testing.assert_allclose(a.role_probs, b.role_probs, atol=1e-5)
        assert (a.roles != b.roles).mean() < 1e-3
    assert not isinstance(CadNet(model)._reader(32), torch.jit.ScriptModule), "a first reading is not traced"
    assert fast._reader(32) is fast._reader(32), "traced once per canvas"
    with pytest.raises(ValueError, match="multiple of 16"):
        fast.predict(stroke, normal, depth, canvas=40)


def test_a_canvas_selector_is_trained_for_a_student_from_the_command_line(dataset, tmp_path, capsys):
    from sketchforge.neural.cad.select import main as select_main
    from sketchforge.neural.selector import load_selector
    train(_config(dataset, arch="mobile", expand=2, canvases=(32, 64)), tmp_path / "student", max_steps=3,
          progress=False)
    student = tmp_path / "student" / "best.safetensors"
    args = ["--student", str(student), "--data", str(dataset), "--val", str(dataset), "--out",
            str(tmp_path / "sel.safetensors"), "--canvases", "32,64", "--epochs", "3", "--tradeoff", "0.5"]
    assert select_main(args) == 0
    assert "chosen sizes" in capsys.readouterr().out
    report = json.loads((tmp_path / "sel.json").read_text())
    v = report["validation"]
    assert v["items"] == 64 and sum(v["histogram"].values()) == 64
    assert report["flops"][0] < report["flops"][1]
    assert min(report["flops"]) <= v["flops_mean"] <= max(report["flops"])
    selector, extra = load_selector(tmp_path / "sel.safetensors")
    assert selector.config.canvases == (32, 64) and extra["tradeoff"] == 0.5
    cache = tmp_path / "sel.scores-train.npz"
    stamp = cache.stat().st_mtime_ns
    assert select_main(args[:-1] + ["0.9"]) == 0
    assert cache.stat().st_mtime_ns == stamp, "another trade-off reuses the student's score table"
    assert select_main(args[:-1] + ["1.5"]) == 2
    assert "--tradeoff must lie in 0..1" in capsys.readouterr().err


def test_a_wide_teacher_starts_from_a_narrow_network_computing_the_same_function(dataset, batch, tmp_path):
    from dataclasses import replace

    from sketchforge.neural.cad.net import widen
    torch.manual_seed(4)
    narrow = CadUNet(NetConfig(channels=(4, 8, 8, 16), size=SIZE, stroke_pool=True))
    with torch.no_grad():  # batch-norm statistics of real inputs, not the initial ones
        narrow.train()(batch["input"])
    x = batch["input"]
    wide = widen(narrow.eval(), replace(narrow.config, channels=(8, 16, 16, 32))).eval()
    with torch.no_grad():
        a, b = narrow(x), wide(x)
    for name in ("class_logits", "stitch_logits", "role_logits"):
        torch.testing.assert_close(getattr(b, name), getattr(a, name), atol=1e-4, rtol=1e-4)
    assert count_flops(wide) > 3 * count_flops(narrow)
    with pytest.raises(ValueError, match="same multiple"):
        widen(narrow, replace(narrow.config, channels=(8, 16, 16, 48)))
    with pytest.raises(ValueError, match="plain"):
        widen(narrow, replace(narrow.config, channels=(8, 16, 16, 32), arch="mobile"))

    # the trainer widens an --init file of narrower widths (copies told apart by a little noise)
    save_weights(narrow, tmp_path / "narrow.safetensors")
    cfg = _config(dataset, channels=(8, 16, 16, 32), stroke_pool=True, init=str(tmp_path / "narrow.safetensors"))
    train(cfg, tmp_path / "run", max_steps=1, progress=False)
    got = _params(tmp_path / "run")["e1.0.0.weight"]
    first, second = got[:8], got[8:]
    assert not torch.equal(first, second), "the copies must differ so training can tell them apart"
    torch.testing.assert_close(first, second, atol=0.2 * float(got.abs().max()), rtol=0.0)


def test_weights_shipped_as_float16_load_as_float32_and_predict_alike(batch, tmp_path):
    from sketchforge.neural.cad.net import ship
    torch.manual_seed(6)
    model = CadUNet(NetConfig(channels=SMALL, size=SIZE)).eval()
    save_weights(model, tmp_path / "run.safetensors")
    ship(tmp_path / "run.safetensors", tmp_path / "shipped.safetensors", half=True)
    assert (tmp_path / "shipped.safetensors").stat().st_size < 0.6 * (tmp_path / "run.safetensors").stat().st_size
    again, extra = load_model(tmp_path / "shipped.safetensors")
    assert extra["float16"] and next(again.parameters()).dtype == torch.float32
    with torch.no_grad():
        a, b = model(batch["input"]), again.eval()(batch["input"])
    torch.testing.assert_close(b.stitch_logits, a.stitch_logits, atol=2e-2, rtol=1e-2)


def test_each_canvas_keeps_its_own_batchnorm_statistics(dataset, batch, tmp_path, capsys):
    from sketchforge.neural.cad.net import use_canvas
    from sketchforge.neural.cad.train import calibrate_main
    cfg = _config(dataset, arch="mobile", expand=2, canvases=(32, 64), val_every=2)
    train(cfg, tmp_path / "run", max_steps=2, progress=False)
    model, _ = load_model(tmp_path / "run" / "best.safetensors")
    assert set(model.canvas_stats) == {32, 64}
    small, full = model.canvas_stats[32], model.canvas_stats[64]
    assert any(not torch.allclose(small[k], full[k]) for k in small), "each size measures its own"
    buffers = dict(model.named_buffers())
    assert all(torch.equal(buffers[k], full[k]) for k in full)  # the network's own size by default
    use_canvas(model, 32)
    assert all(torch.equal(buffers[k], small[k]) for k in small)
    use_canvas(model, None)
    # the inference wrapper folds one copy per canvas, each with its own statistics
    net = CadNet(model)
    assert net.model_for(64) is net.model and net.model_for(32) is not net.model
    x = batch["input"][:2].contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        want = use_canvas(model.eval(), 32)(at_canvas(x, 32)).class_logits
        got = net.model_for(32)(at_canvas(x, 32)).class_logits
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    # weights trained before per-canvas statistics get them afterwards, from the command line
    out = tmp_path / "calibrated.safetensors"
    assert calibrate_main(["--weights", str(tmp_path / "run" / "best.safetensors"), "--data", str(dataset),
                           "--out", str(out), "--canvases", "32,48,64"]) == 0
    again, extra = load_model(out)
    assert set(again.canvas_stats) == {32, 48, 64} and extra["canvas_stats_from"]["canvases"] == [32, 48, 64]
    assert "32, 48, 64" in capsys.readouterr().out
    assert calibrate_main(["--weights", str(out), "--data", str(tmp_path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sketchforge-calibrate-cad: error:") and len(err.splitlines()) == 1
