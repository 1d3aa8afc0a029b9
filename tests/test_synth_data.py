"""The Sketch2CAD training-data generator: labels that agree with the geometry, replayable items,
determinism across worker counts, resuming, the manifest and the streaming loader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sketchforge.modeling.exchange import import_step
from sketchforge.modeling.operations import BUILTIN_OPERATIONS, ModelState
from sketchforge.modeling.refs import EdgeRef, FaceRef
from sketchforge.modeling.render import render_context
from sketchforge.modeling.sketch import Sketch
from sketchforge.neural.synth.cli import main as data_main
from sketchforge.neural.synth.reading import arrays_camera
from sketchforge.neural.synth.sequences import BODY, OP_CLASS
from sketchforge.neural.synth.shards import ARRAYS, DataError, GenerateConfig, generate, read_records, read_shard

COUNT = 24
CONFIG = GenerateConfig(count=COUNT, size=96, seed=7, shard_size=8, step_sample=1.0)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "two-workers"
    generate(out, CONFIG, workers=2, progress=False)
    return out


def _shards(root: Path) -> list[tuple[dict, list[dict]]]:
    m = json.loads((root / "manifest.json").read_text())
    return [(read_shard(root / s["npz"]), read_records(root / s["jsonl"])) for s in m["shards"]]


def _items(root: Path):
    for arrays, records in _shards(root):
        for i, rec in enumerate(records):
            yield {k: v[i] for k, v in arrays.items()}, rec


def test_counts_and_clean_share_are_reported(dataset):
    m = json.loads((dataset / "manifest.json").read_text())
    assert m["complete"] and m["counts"]["items"] == COUNT
    ops = m["operations"]
    assert 0.0 < ops["clean_share"] <= 1.0
    assert sum(ops["applied"]) <= sum(ops["attempted"])
    assert sum(m["counts"]["per_class"]) == COUNT
    assert min(m["counts"]["per_class"]) >= 3  # balanced within each shard of 8


def test_stroke_pixels_are_exactly_the_pixels_with_a_role(dataset):
    for arrays, _ in _shards(dataset):
        assert arrays["stroke"].any(axis=(1, 2)).all(), "every item has strokes"
        np.testing.assert_array_equal(arrays["stroke"] > 0, arrays["role"] > 0)
        assert set(np.unique(arrays["role"])) <= {0, 1, 2, 3}


def test_every_sweep_item_shows_its_path(dataset):
    """The path is what tells a sweep from a prism: each sweep sketch has path strokes across at
    least 15% of the canvas (ink pixels of the profile role along its length)."""
    sweeps = 0
    for a, rec in _items(dataset):
        if rec["operation"]["op"] != "sweep":
            continue
        sweeps += 1
        path_px = int((a["role"] == 2).sum())
        assert path_px >= 0.15 * CONFIG.size * 0.7, (rec["item"], path_px)
    assert sweeps >= 3


def test_labels_match_the_recorded_operation(dataset):
    for a, rec in _items(dataset):
        assert a["op_class"] == rec["op_class"] == OP_CLASS[rec["operation"]["op"]]
        ids = [g for g in a["target_faces"] if g >= 0]
        np.testing.assert_array_equal(a["stitch"] > 0, np.isin(a["face_id"], ids))
        assert a["stitch"].any()
        sketch = Sketch.from_json(rec["sketch"])
        assert sketch.mode == "cad" and sketch.width == CONFIG.size and sketch.strokes
        np.testing.assert_allclose(a["camera"][:3], sketch.camera.eye, rtol=1e-6)


def _before_after(root: Path, rec: dict):
    files = rec["files"]
    before = import_step((root / files["before"]).read_bytes(), "before.step")
    after = import_step((root / files["after"]).read_bytes(), "after.step")
    return before, after


def test_stitching_face_is_the_face_the_operation_was_applied_to(dataset):
    checked = 0
    for a, rec in _items(dataset):
        before, _ = _before_after(dataset, rec)
        params = rec["operation"]["params"]
        if rec["operation"]["op"] == "bevel":
            edge = EdgeRef(**{k: tuple(v) if isinstance(v, list) else v
                              for k, v in params["edge"].items() if k != "kind"})
            faces = set(before.edges[edge.resolve(before)].faces)
        else:
            face = FaceRef(**{k: tuple(v) if isinstance(v, list) else v
                              for k, v in params["face"].items() if k != "kind"})
            faces = {face.resolve(before)}
        sketch = Sketch.from_json(rec["sketch"])
        cam = arrays_camera(a["camera"], sketch.camera)  # the arrays hold the framed view of the sketch
        r = render_context({BODY: before}, cam, a["stitch"].shape[1], a["stitch"].shape[0], lines=False)
        expected = np.isin(r.face_id, [r.faces.index((BODY, f)) for f in faces])
        got = a["stitch"] > 0
        iou = (expected & got).sum() / max((expected | got).sum(), 1)
        assert iou > 0.97, (rec["item"], rec["operation"]["op"], iou)
        checked += 1
    assert checked == COUNT


def test_recorded_parameters_reproduce_the_recorded_after_model(dataset):
    for _, rec in _items(dataset):
        before, after = _before_after(dataset, rec)
        op_json = rec["operation"]
        op = BUILTIN_OPERATIONS[op_json["op"]].from_params(op_json["params"])
        redone = op.apply(ModelState().with_body(BODY, before)).solid(BODY)
        assert abs(redone.volume - after.volume) <= 1e-6 * after.volume, rec["item"]
        assert len(redone.faces) == len(after.faces), rec["item"]


def test_manifest_documents_every_array(dataset):
    m = json.loads((dataset / "manifest.json").read_text())
    documented = {a["name"]: a for a in m["arrays"]}
    assert set(documented) == set(ARRAYS)
    for arrays, _ in _shards(dataset):
        assert set(arrays) == set(documented)
        for name, arr in arrays.items():
            assert str(arr.dtype) == documented[name]["dtype"], name
            shape = documented[name]["shape"].strip("()").replace(" ", "").split(",")
            dims = [d for d in shape if d]
            assert arr.ndim == len(dims), name
            for d, n in zip(dims, arr.shape):
                want = {"N": arr.shape[0], "H": CONFIG.size, "W": CONFIG.size}.get(d, None)
                assert n == (int(d) if want is None else want), (name, d)
            assert documented[name]["meaning"] and documented[name]["range"]


def test_same_seed_gives_identical_data_with_any_worker_count(dataset, tmp_path):
    one = tmp_path / "one-worker"
    generate(one, CONFIG, workers=1, progress=False)
    for (a2, r2), (a1, r1) in zip(_shards(dataset), _shards(one)):
        assert set(a1) == set(a2)
        for k in a1:
            np.testing.assert_array_equal(a1[k], a2[k], err_msg=k)
        assert r1 == r2


def test_rerun_skips_finished_shards_and_remakes_missing_ones(tmp_path):
    cfg = GenerateConfig(count=12, size=64, seed=3, shard_size=4, step_sample=0.0)
    out = tmp_path / "resume"
    generate(out, cfg, workers=1, progress=False)
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*")}
    generate(out, cfg, workers=1, progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*")} == stamps
    kept = read_shard(out / "shard-00001.npz")
    (out / "shard-00001.npz").unlink()
    generate(out, cfg, workers=1, progress=False)
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*")}
    assert set(after) == set(stamps)
    assert {k for k in stamps if stamps[k] != after[k]} == {"shard-00001.npz", "shard-00001.jsonl"}
    remade = read_shard(out / "shard-00001.npz")
    for k in kept:
        np.testing.assert_array_equal(kept[k], remade[k])
    with pytest.raises(DataError, match="other settings"):
        generate(out, GenerateConfig(count=12, size=64, seed=4, shard_size=4), workers=1, progress=False)


def test_loader_streams_documented_shapes_and_every_item_once(dataset):
    import torch
    from torch.utils.data import DataLoader

    from sketchforge.neural.synth.dataset import ShardDataset
    ds = ShardDataset(dataset, seed=1)
    s = next(iter(ds))
    H = W = CONFIG.size
    assert s["input"].shape == (5, H, W) and s["input"].dtype == torch.float32
    assert s["stitch"].shape == (1, H, W) and s["role"].shape == (H, W)
    assert s["op_class"].shape == () and s["role"].dtype == torch.int64
    x = s["input"]
    assert set(torch.unique(x[0]).tolist()) <= {0.0, 1.0}
    assert float(x[4].min()) >= 0.0 and float(x[4].max()) <= 1.0
    np.testing.assert_array_equal((x[0] == 0).numpy(), (s["role"] > 0).numpy())
    loader = DataLoader(ds, batch_size=None, num_workers=2)
    seen = sorted(int(b["item"]) for b in loader)
    assert seen == list(range(COUNT))


def test_merged_sets_stream_every_item_of_each(dataset, tmp_path, capsys):
    from sketchforge.neural.synth.dataset import ShardDataset
    other = tmp_path / "sets" / "seed-8"
    generate(other, GenerateConfig(count=8, size=96, seed=8, shard_size=8, step_sample=0.0), workers=1,
             progress=False)
    out = tmp_path / "merged"
    assert data_main(["merge", "--out", str(out), str(dataset), str(other)]) == 0
    assert "32 items" in capsys.readouterr().out
    m = json.loads((out / "manifest.json").read_text())
    assert m["seed"] == [7, 8] and m["counts"]["items"] == COUNT + 8 and len(m["sources"]) == 2
    items = [(int(s["item"]), int(s["op_class"])) for s in ShardDataset(out, shuffle=False)]
    assert len(items) == COUNT + 8
    # item numbers repeat across the two sets; each item's place in the merged set does not
    places = sorted(int(s["index"]) for s in ShardDataset(out, seed=3))
    assert places == list(range(COUNT + 8)) and len({i for i, _ in items}) < COUNT + 8
    first = [(int(s["item"]), int(s["op_class"])) for s in ShardDataset(dataset, shuffle=False)]
    assert items[:COUNT] == first
    # the same set twice, or sets of different sizes, are refused in one line
    assert data_main(["merge", "--out", str(tmp_path / "twice"), str(dataset), str(dataset)]) == 2
    assert "share a seed" in capsys.readouterr().err
    small = tmp_path / "sets" / "small"
    generate(small, GenerateConfig(count=4, size=64, seed=9, shard_size=4, step_sample=0.0), workers=1,
             progress=False)
    assert data_main(["merge", "--out", str(tmp_path / "mixed"), str(dataset), str(small)]) == 2
    assert "canvas sizes" in capsys.readouterr().err


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert data_main(["generate", "--out", str(tmp_path / "x"), "--count", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--count" in err and len(err.splitlines()) == 1
    assert data_main(["generate", "--out", str(tmp_path / "x"), "--count", "4", "--balance", "1,2"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert data_main(["show", str(tmp_path / "nowhere")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_contact_sheet(dataset, tmp_path):
    import cv2
    out = tmp_path / "sheet.png"
    assert data_main(["show", str(dataset), "--out", str(out), "--n", "12", "--cols", "4"]) == 0
    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] > 3 * CONFIG.size * 2 and img.shape[1] > 4 * CONFIG.size * 2
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 50  # shading and coloured strokes, not blank


def test_generator_loads_no_torch_and_no_qt():
    """Workers import the generator only: torch stays in the loader module, Qt nowhere."""
    import subprocess
    import sys
    probe = ("import sys; import sketchforge.neural.synth.cli, sketchforge.neural.synth.shards; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6', 'pyqtgraph')))")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def _stalling_worker(args):
    """The shard worker, except that shard 1 hangs as a runaway kernel operation would."""
    import time as time_mod

    from sketchforge.neural import shardpool
    from sketchforge.neural.synth import shards as shards_mod
    if args[2] == 1:
        shardpool.tell("start", 1)
        time_mod.sleep(120)
    return shards_mod._worker(args)


def test_a_stalled_shard_is_given_up_and_the_rest_is_made(tmp_path, capsys):
    config = GenerateConfig(count=24, size=64, seed=11, shard_size=8, step_sample=0.0)
    out = tmp_path / "stall"
    import time as time_mod
    t = time_mod.monotonic()
    m = generate(out, config, workers=2, progress=False, stall_seconds=4.0, work=_stalling_worker)
    assert time_mod.monotonic() - t < 90
    assert list(m["failed_shards"]) == ["1"] and "did not finish" in m["failed_shards"]["1"]
    assert [s["npz"] for s in m["shards"]] == ["shard-00000.npz", "shard-00002.npz"]
    assert m["counts"]["items"] == 16 and not m["complete"]
    # a rerun keeps the failed shard out (it would stall again) unless asked to retry it
    assert generate(out, config, workers=2, progress=False)["failed_shards"] == m["failed_shards"]
    again = generate(out, config, workers=2, progress=False, retry_failed=True)
    assert again["complete"] and not again["failed_shards"] and again["counts"]["items"] == 24
