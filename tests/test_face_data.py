"""The face dataset writer: shards are identical whatever the worker count and across an
interrupted-then-resumed run, the manifest counts items and balanced variants, arrays have the
documented dtypes and shapes, records regenerate, sampled meshes are closed, the CLI writes a
contact sheet and refuses bad arguments in one line, the reader refuses a file that is no shard."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sketchforge.modeling.sketch import Sketch
from sketchforge.neural.face.cli import main
from sketchforge.neural.face.dataset import (
    ARRAYS,
    FORMAT,
    DataError,
    FaceConfig,
    generate,
    item_head,
    read_face_records,
    read_face_shard,
    read_mesh,
)
from sketchforge.neural.face.heads import VARIANTS, HeadParams

ITEMS, SHARD, SIZE, SEED, MESH = 10, 4, 48, 7, 4  # shards of 4, 4 and 2 items
CONFIG = FaceConfig(items=ITEMS, seed=SEED, size=SIZE, shard_size=SHARD, mesh_sample=MESH)


def _make(root: Path, workers: int, progress=None) -> dict:
    return generate(root, ITEMS, SEED, size=SIZE, shard_size=SHARD, workers=workers, mesh_sample=MESH,
                    progress=progress)


class _Stop(Exception):
    pass


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> dict[str, Path]:
    """The same settings made three ways: one worker; two workers, interrupted after a few items
    and resumed; and the manifest of each."""
    one = tmp_path_factory.mktemp("one")
    _make(one, 1)
    two = tmp_path_factory.mktemp("two")
    seen = []

    def stop_after_five(n: int) -> None:
        seen.append(n)
        if sum(seen) >= 5:
            raise _Stop

    with pytest.raises(_Stop):
        _make(two, 2, stop_after_five)
    prog = json.loads((two / "progress.json").read_text())
    assert len(prog["done"]) < CONFIG.shard_count, "the interrupted run finished everything"
    resumed = []
    _make(two, 2, resumed.append)
    assert sum(resumed) == ITEMS  # what was made before is reported first, then the rest
    return {"one": one, "two": two}


def _shards(root: Path) -> list[Path]:
    return sorted(root.glob("shard-*.npz"))


def test_identical_across_workers_and_resume(sets):
    one, two = _shards(sets["one"]), _shards(sets["two"])
    assert [p.name for p in one] == [p.name for p in two] == [f"shard-{k:05d}.npz" for k in range(3)]
    for a_path, b_path in zip(one, two):
        a, b = read_face_shard(a_path), read_face_shard(b_path)
        assert a.keys() == b.keys()
        for name in a:
            assert a[name].dtype == b[name].dtype and np.array_equal(a[name], b[name]), name
        ra = read_face_records(a_path.with_suffix(".jsonl"))
        rb = read_face_records(b_path.with_suffix(".jsonl"))
        assert ra == rb
    for m in sorted((sets["one"] / "meshes").glob("*.npz")):
        va, ta = read_mesh(m)
        vb, tb = read_mesh(sets["two"] / "meshes" / m.name)
        assert np.array_equal(va, vb) and np.array_equal(ta, tb)
    assert not list(sets["two"].rglob("*.tmp")), "temp files left behind"


def test_manifest_counts_and_resume_rules(sets, tmp_path):
    root = sets["one"]
    m = json.loads((root / "manifest.json").read_text())
    assert m["format"] == FORMAT and m["complete"] and m["config"] == CONFIG.to_json()
    assert m["counts"]["items"] == ITEMS
    assert sum(m["counts"]["per_variant"].values()) == ITEMS
    assert set(m["counts"]["per_variant"]) == set(VARIANTS)
    assert {a["name"] for a in m["arrays"]} == set(ARRAYS)
    assert [s["items"] for s in m["shards"]] == [4, 4, 2]
    assert m["counts"]["meshes"] == len(range(0, ITEMS, MESH))
    # a rerun of a finished set makes nothing and rewrites the same manifest
    before = {p.name: p.read_bytes() for p in _shards(root)}
    calls = []
    again = _make(root, 1, calls.append)
    assert calls == [ITEMS] and again["counts"] == m["counts"]
    assert {p.name: p.read_bytes() for p in _shards(root)} == before
    # other settings: a clear error, nothing touched
    manifest = (root / "manifest.json").read_bytes()
    with pytest.raises(DataError, match="other settings.*seed"):
        generate(root, ITEMS, SEED + 1, size=SIZE, shard_size=SHARD, workers=1, mesh_sample=MESH)
    assert (root / "manifest.json").read_bytes() == manifest


def test_arrays_and_records(sets):
    root = sets["one"]
    counts = np.zeros(len(VARIANTS), int)
    for k, path in enumerate(_shards(root)):
        a = read_face_shard(path)
        n = len(a["item"])
        expect_shape = {"(N,)": (n,), "(N, H, W)": (n, SIZE, SIZE), "(N, H, W, 3)": (n, SIZE, SIZE, 3)}
        for name, spec in ARRAYS.items():
            assert a[name].dtype == np.dtype(spec["dtype"]), name
            assert a[name].shape == expect_shape[spec["shape"]], name
        assert np.array_equal(a["item"], np.arange(k * SHARD, k * SHARD + n))
        per = np.bincount(a["variant"], minlength=len(VARIANTS))
        assert per.max() - per.min() <= 1  # balanced within the shard
        counts += per
        assert np.array_equal(a["stroke"] > 0, a["kinds"] > 0)  # ink exactly where a kind is
        assert set(np.unique(a["kinds"])) <= {0, 1, 2, 3} and (a["kinds"] == 1).any()
        assert np.all(a["depth"][~a["mask"]] == 0) and np.all(a["depth"][a["mask"]] > 0)
        assert np.all(a["normal"][~a["mask"]] == 0)
        nz = np.linalg.norm(a["normal"][a["mask"]].astype(np.float32), axis=-1)
        assert np.allclose(nz, 1.0, atol=3e-3)
        records = read_face_records(path.with_suffix(".jsonl"))
        assert [r["item"] for r in records] == a["item"].tolist()
        for r, v in zip(records, a["variant"]):
            assert r["variant"] == VARIANTS[int(v)]
            head = HeadParams.from_json(r["head"])
            assert head == item_head(CONFIG, r["item"]) and head.variant == r["variant"]
            sketch = Sketch.from_json(r["sketch"])
            assert sketch.mode == "face" and sketch.width == SIZE and len(sketch.strokes) == r["strokes"]
            assert ("mesh" in r) == (r["item"] % MESH == 0)
    m = json.loads((root / "manifest.json").read_text())
    assert m["counts"]["per_variant"] == {v: int(c) for v, c in zip(VARIANTS, counts)}


def test_sampled_meshes_are_closed(sets):
    root = sets["one"]
    files = sorted((root / "meshes").glob("item-*.npz"))
    assert [f.name for f in files] == [f"item-{i:06d}.npz" for i in range(0, ITEMS, MESH)]
    for f in files:
        v, t = read_mesh(f)
        assert v.dtype == np.float32 and v.shape[1] == 3 and t.dtype == np.int32 and t.shape[1] == 3
        edges = np.sort(np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]]), axis=1)
        _, uses = np.unique(edges, axis=0, return_counts=True)
        assert np.all(uses == 2), "an edge not shared by exactly two triangles: the mesh is open"
        a, b, c = (v[t[:, i]].astype(np.float64) for i in range(3))
        assert np.einsum("ij,ij->", a, np.cross(b, c)) > 0  # outward winding: positive volume


def test_show_writes_png(sets, tmp_path):
    out = tmp_path / "sheet.png"
    assert main(["show", "--data", str(sets["one"]), "--out", str(out), "--n", "6"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import cv2
    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] > 2 * SIZE


@pytest.mark.parametrize("argv, option", [
    (["generate", "--out", "{d}", "--items", "0", "--seed", "1"], "--items"),
    (["generate", "--out", "{d}", "--items", "x", "--seed", "1"], "--items"),
    (["generate", "--out", "{d}", "--items", "4", "--seed", "-1"], "--seed"),
    (["generate", "--out", "{d}", "--items", "4", "--seed", "1", "--size", "8"], "--size"),
    (["generate", "--out", "{d}", "--items", "4", "--seed", "1", "--workers", "0"], "--workers"),
    (["generate", "--out", "{d}", "--items", "4", "--seed", "1", "--shard-size", "0"], "--shard-size"),
    (["generate", "--items", "4", "--seed", "1"], "--out"),
    (["show", "--data", "{d}", "--out", "{d}/sheet.jpg"], "--out"),
    (["show", "--data", "{d}/missing", "--out", "{d}/sheet.png"], "--data"),
])
def test_bad_arguments_exit_2(argv, option, tmp_path, capsys):
    argv = [a.replace("{d}", str(tmp_path / "set")) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sketchforge-face-data: error:") and "\n" not in err and option in err
    assert not list((tmp_path / "set").glob("shard-*")) if (tmp_path / "set").exists() else True


def test_read_face_shard_refuses_other_files(sets, tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("not an archive")
    with pytest.raises(DataError, match="not a face-data shard"):
        read_face_shard(text)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(DataError, match="not a face-data shard.*missing"):
        read_face_shard(other)
    with pytest.raises(DataError, match="does not exist"):
        read_face_shard(tmp_path / "absent.npz")
    with pytest.raises(DataError, match="not a face-data shard"):
        read_face_shard(sets["one"] / "meshes" / "item-000000.npz")
