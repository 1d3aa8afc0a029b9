"""Stroke suggestion for the face mode: part regions sit on the face's features and mirror about the
centre line, an eye's strokes go to the eye, the silhouette to no part, part images are centred and
a left part mirrored looks like the right one, a library entry retrieves itself, library and
weights survive a save / load unchanged, damaged files give errors that say what to do, and the
CLI trains, builds a library and evaluates end to end."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from sketchforge.neural.face.heads import EXTENT, _layout, sample_head
from sketchforge.neural.face.parts import (
    PARTS,
    drawing_polylines,
    from_part_frame,
    part_image,
    part_regions,
    part_strokes,
    to_part_frame,
)
from sketchforge.neural.face.sketches import head_curves, head_sketch
from sketchforge.neural.face.suggest import (
    DataError,
    SuggestConfig,
    SuggestNet,
    TrainSettings,
    _instance_data,
    build_library,
    embed_images,
    fingerprint,
    load_library,
    load_model,
    save_model,
    seeded_head,
)
from sketchforge.neural.face.suggest_cli import main
from sketchforge.neural.weights import WeightsError

torch.set_num_threads(1)
SIZE = 128


def _px(x: float, y: float) -> tuple[float, float]:
    """Head-frame x, y to canvas pixels (u right, v down)."""
    return SIZE / 2 * (1 + x / EXTENT), SIZE / 2 * (1 - y / EXTENT)


def _centre(box) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


@pytest.fixture(scope="module")
def human():
    p = sample_head(np.random.default_rng(3), "human")
    return p, head_curves(p, SIZE), head_sketch(p, np.random.default_rng(11), SIZE)


@pytest.fixture(scope="module")
def model() -> SuggestNet:
    torch.manual_seed(0)
    return SuggestNet(SuggestConfig()).eval()


@pytest.fixture(scope="module")
def library(model):
    return build_library(model, heads=2, seed=5, size=SIZE)


# -- regions and strokes ----------------------------------------------------------------------------
def test_regions_sit_on_the_features_and_mirror_about_the_centre_line(human):
    p, _, _ = human
    regions = {r.key: r.box for r in part_regions(p, SIZE)}
    assert set(regions) == {"eye/right", "eye/left", "brow/right", "brow/left", "nose/centre", "mouth/centre",
                            "ear/right", "ear/left"}
    assert _centre(regions["nose/centre"])[0] == pytest.approx(SIZE / 2)
    assert _centre(regions["mouth/centre"])[0] == pytest.approx(SIZE / 2)
    for part in ("eye", "brow", "ear"):
        r, l_ = regions[f"{part}/right"], regions[f"{part}/left"]
        assert r[0] == pytest.approx(SIZE - l_[2]) and r[2] == pytest.approx(SIZE - l_[0])
        assert (r[1], r[3]) == pytest.approx((l_[1], l_[3]))
        assert _centre(r)[0] > SIZE / 2
    # the right eye's box is centred on the eye, the right one at +x (right of the canvas centre)
    assert _centre(regions["eye/right"]) == pytest.approx(_px(p.eye_x, p.eye_y))
    # top to bottom: brow, eye, nose tip, mouth; ears outside the eyes
    assert _centre(regions["brow/right"])[1] < _centre(regions["eye/right"])[1]
    assert regions["eye/right"][3] < regions["mouth/centre"][1]
    assert regions["nose/centre"][3] <= regions["mouth/centre"][3]
    assert regions["ear/right"][0] > _centre(regions["eye/right"])[0]


def test_an_animal_has_a_snout_and_no_separate_mouth():
    p = sample_head(np.random.default_rng(2), "animal")
    keys = [r.key for r in part_regions(p, SIZE)]
    assert "mouth/centre" not in keys and "nose/centre" in keys
    snout = next(r.box for r in part_regions(p, SIZE) if r.part == "nose")
    lay = _layout(p)
    assert _centre(snout)[0] == pytest.approx(SIZE / 2)
    u, v = _px(0.0, lay.snout[0][1])
    assert snout[0] < u < snout[2] and snout[1] < v < snout[3]


def test_eye_strokes_go_to_the_eye_and_the_silhouette_to_no_part(human):
    p, curves, sketch = human
    parts = {ps.key: ps for ps in part_strokes(curves, p, SIZE)}
    eye = parts["eye/right"]
    # the curves drawn around the eye centre (the eyeball's rim) belong to the right eye, with
    # nearly all their ink inside its box
    cu, cv = _px(p.eye_x, p.eye_y)
    r_px = p.eye_radius * SIZE / (2 * EXTENT)
    around = [i for i, c in enumerate(curves) if not c.silhouette
              and np.hypot(*(c.points.mean(axis=0) - (cu, cv))) < r_px]
    assert around, "the eye should have a curve around its centre"
    box = eye.box
    for i in around:
        assert i in eye.strokes
        pts = curves[i].points
        inside = (pts[:, 0] >= box[0]) & (pts[:, 0] <= box[2]) & (pts[:, 1] >= box[1]) & (pts[:, 1] <= box[3])
        assert inside.mean() > 0.9
    assert all(0 not in ps.strokes for ps in parts.values())  # curve 0 is the silhouette
    # the humanised drawing: both eyes get strokes, most of each stroke's ink in the eye's box
    drawn = {ps.key: ps for ps in part_strokes(sketch, p, SIZE)}
    polys = drawing_polylines(sketch)
    for key in ("eye/right", "eye/left"):
        ps = drawn[key]
        assert ps.strokes
        b = ps.box
        ink = np.vstack([polys[i] for i in ps.strokes])
        inside = (ink[:, 0] >= b[0]) & (ink[:, 0] <= b[2]) & (ink[:, 1] >= b[1]) & (ink[:, 1] <= b[3])
        assert inside.mean() > 0.8
    # the hand's strokes that draw the curves around the right eye go to the right eye
    from_eye = [j for j, st in enumerate(sketch.strokes) if st.curve in around]
    assert from_eye and np.mean([j in drawn["eye/right"].strokes for j in from_eye]) >= 0.8
    # the ear borrows the silhouette's run around it (its outline): more polylines than whole strokes
    ear = parts["ear/right"]
    assert len(ear.polylines) > len(ear.strokes)


def test_bad_input_is_refused_with_a_clear_message(human):
    p, curves, _ = human
    with pytest.raises(ValueError, match="HeadParams"):
        part_regions("head", SIZE)
    with pytest.raises(ValueError, match="canvas size"):
        part_regions(p, 8)
    with pytest.raises(ValueError, match="u0 < u1"):
        part_image([np.zeros((2, 2))], (10, 10, 5, 20))
    with pytest.raises(ValueError, match="drawing"):
        part_strokes(42, p, SIZE)


# -- part images -------------------------------------------------------------------------------------
def test_part_image_is_centred_on_the_box_and_spans_its_longer_side():
    box = (40.0, 50.0, 60.0, 60.0)  # 20 wide, 10 tall, centre (50, 55)
    t = np.linspace(0, 2 * np.pi, 200)
    ring = np.stack([50 + 4 * np.cos(t), 55 + 4 * np.sin(t)], axis=1)
    img = part_image([ring], box, 64)
    assert img.dtype == np.float32 and img.shape == (64, 64) and 0.0 <= img.min() and img.max() <= 1.0
    yy, xx = np.mgrid[0:64, 0:64] + 0.5
    centroid = np.array([(img * xx).sum(), (img * yy).sum()]) / img.sum()
    assert centroid == pytest.approx((32.0, 32.0), abs=0.3)
    # the box's width spans the image: a line along its left edge lands in the first columns
    edge = part_image([np.array([[40.5, 50.0], [40.5, 60.0]])], box, 64)
    assert edge[:, :3].sum() > 0.9 * edge.sum()
    # ink 1 on a line, nothing far from it
    assert img.max() > 0.9 and img[:10].max() == 0.0


def _likeness(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised correlation of two ink images softened by a 1.5-px Gaussian (a line one pixel
    off still counts as the same line)."""
    a, b = cv2.GaussianBlur(a, (0, 0), 1.5), cv2.GaussianBlur(b, (0, 0), 1.5)
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def test_left_parts_mirrored_look_like_the_right_ones(human):
    p, _, _ = human
    size = 256  # at 128 px an eye is ten pixels wide and its traced curves differ by a pixel per side
    parts = {ps.key: ps for ps in part_strokes(head_curves(p, size), p, size)}
    for part in ("eye", "ear"):
        right, left = parts[f"{part}/right"], parts[f"{part}/left"]
        r = right.image()
        assert r.sum() > 0 and left.mirrored and not right.mirrored
        same = _likeness(r, left.image())
        assert same > 0.9, part
        assert _likeness(r, part_image(left.polylines, left.box)) < same - 0.2, part  # not mirrored: unlike


def test_part_frame_round_trips_and_mirrors():
    box = (10.0, 20.0, 30.0, 60.0)
    lines = [np.array([[12.0, 25.0], [28.0, 50.0], [20.0, 40.0]])]
    for mirror in (False, True):
        back = from_part_frame(to_part_frame(lines, box, mirror), box, mirror)
        assert np.allclose(back[0], lines[0])
    frame = to_part_frame(lines, box)[0]
    assert np.abs(frame).max() <= 0.5
    flipped = from_part_frame([frame], box, mirror=True)[0]
    assert np.allclose(flipped[:, 0], 40.0 - lines[0][:, 0]) and np.allclose(flipped[:, 1], lines[0][:, 1])


def test_training_pairs_each_drawing_with_its_own_clean_part():
    data = _instance_data(TrainSettings(heads=2, seed=4, drawings=1, size=SIZE, jitter=0.0), 64, range(2), None, None)
    assert len(data["noisy"]) >= 8 and len(data["clean"]) >= 8
    assert np.array_equal(data["key"][data["target"]], data["drawn_key"])
    clean = data["clean"].astype(np.float32) / 255.0
    own, other = [], []
    for img, t in zip(data["noisy"].astype(np.float32) / 255.0, data["target"]):
        scores = [_likeness(img, c) for c in clean]
        own.append(scores[t])
        other.append(np.mean([s for j, s in enumerate(scores) if data["key"][j] != data["key"][t]]))
    assert np.mean(own) > np.mean(other) + 0.3


# -- library -----------------------------------------------------------------------------------------
def test_an_entry_retrieves_itself(model, library):
    assert len(library) >= 6 and set(PARTS[i] for i in library.part) >= {"eye", "nose", "ear"}
    assert np.allclose(np.linalg.norm(library.embeddings, axis=1), 1.0, atol=1e-5)
    emb = embed_images(model, library.images.astype(np.float32) / 255.0)
    for i in range(len(library)):
        part = PARTS[int(library.part[i])]
        assert library.query(emb[i], part, k=1)[0][0] == i
        assert library.query(emb[i], None, k=1)[0][0] == i
        assert all(PARTS[int(library.part[j])] == part for j, _ in library.query(emb[i], part, k=5))


def test_a_placed_entry_lands_in_the_box_mirrored_for_the_left_side(model, library):
    head = seeded_head(5, 0)
    regions = {r.key: r.box for r in part_regions(head, SIZE)}
    entry = library.index_of(0, "eye")
    clean = {ps.key: ps for ps in part_strokes(head_curves(head, SIZE), head, SIZE)}
    right = library.place(entry, regions["eye/right"])
    assert all(np.allclose(a, b) for a, b in zip(right, clean["eye/right"].polylines))
    left = library.place(entry, regions["eye/left"], mirror=True)
    assert all(np.allclose(a[:, 0], SIZE - b[:, 0]) and np.allclose(a[:, 1], b[:, 1]) for a, b in zip(left, right))
    # the one-call form: the person's own eye strokes give the entry first, placed in their box
    got = library.suggest(model, clean["eye/right"].polylines, regions["eye/right"], "eye", k=3)
    assert got[0][0] == entry and len(got[0][2]) == len(right)


def test_library_and_weights_round_trip_exactly(model, library, tmp_path):
    save_model(model, tmp_path / "w.safetensors", extra={"note": "test"})
    loaded, extra = load_model(tmp_path / "w.safetensors")
    assert extra == {"note": "test"} and fingerprint(loaded) == fingerprint(model)
    images = library.images.astype(np.float32) / 255.0
    assert np.array_equal(embed_images(loaded, images), embed_images(model, images))
    library.save(tmp_path / "lib.safetensors")
    back = load_library(tmp_path / "lib.safetensors")
    assert np.array_equal(back.embeddings, library.embeddings)
    assert np.array_equal(back.part, library.part) and np.array_equal(back.head, library.head)
    assert np.array_equal(back.images, library.images) and back.meta == library.meta
    assert np.array_equal(back.mirror_images, library.mirror_images)
    assert np.array_equal(back.has_mirror, library.has_mirror) and back.has_mirror.any()
    back.reembed(loaded)
    assert np.allclose(back.embeddings, library.embeddings, atol=1e-6)
    for a, b in zip(back.lines, library.lines):
        assert len(a) == len(b) and all(np.allclose(x, y, atol=1e-6) for x, y in zip(a, b))


def test_damaged_or_wrong_files_give_errors_that_say_what_to_do(model, library, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all" + bytes(40))
    with pytest.raises(WeightsError, match="damaged.*sketchforge-face-suggest train"):
        load_model(bad)
    with pytest.raises(WeightsError, match="damaged.*sketchforge-face-suggest library"):
        load_library(bad)
    with pytest.raises(WeightsError, match="no stroke-suggestion network file"):
        load_model(tmp_path / "missing.safetensors")
    save_model(model, tmp_path / "w.safetensors")
    with pytest.raises(WeightsError, match="not a stroke-suggestion library"):
        load_library(tmp_path / "w.safetensors")
    library.save(tmp_path / "lib.safetensors")
    truncated = tmp_path / "cut.safetensors"
    truncated.write_bytes((tmp_path / "lib.safetensors").read_bytes()[:-100])
    with pytest.raises(WeightsError, match="damaged"):
        load_library(truncated)
    torch.manual_seed(1)
    other = SuggestNet(SuggestConfig()).eval()
    with pytest.raises(DataError, match="other weights"):
        library.suggest(other, [np.zeros((2, 2))], (0, 0, 10, 10), "eye")


# -- CLI ---------------------------------------------------------------------------------------------
def test_cli_trains_builds_a_library_and_evaluates(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--heads", "3", "--seed", "1", "--epochs", "1", "--size", str(SIZE),
                 "--drawings", "1", "--batch", "8", "--threads", "1", "--quiet"]) == 0
    weights = run / "suggest.safetensors"
    assert weights.is_file() and (run / "log.jsonl").is_file()
    _, extra = load_model(weights)
    assert extra["settings"]["seed"] == 1 and extra["steps"] >= 1
    lib = tmp_path / "lib.safetensors"
    assert main(["library", "--weights", str(weights), "--heads", "2", "--seed", "5", "--out", str(lib),
                 "--quiet"]) == 0
    assert load_library(lib).meta["size"] == SIZE
    report = tmp_path / "r.json"
    assert main(["eval", "--weights", str(weights), "--library", str(lib), "--heads", "2", "--seed", "9",
                 "--out", str(report), "--quiet"]) == 0
    r = json.loads(report.read_text())
    assert r["held_out"] and r["overall"]["queries"] > 0
    for key in ("top1", "top5", "type"):
        assert 0.0 <= r["overall"][key] <= 1.0
    assert r["overall"]["top5"] >= r["overall"]["top1"]
    assert set(r["per_part"]) == set(PARTS)
    out = capsys.readouterr().out
    assert "overall" in out and "top-1" in out
    # errors: one line, exit status 2
    assert main(["eval", "--weights", str(weights), "--library", str(lib), "--heads", "5", "--seed", "9"]) == 2
    assert main(["library", "--weights", str(tmp_path / "nope.safetensors"), "--heads", "2", "--seed", "5",
                 "--out", str(lib)]) == 2
    assert main(["train", "--out", str(run), "--heads", "0", "--seed", "1", "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("sketchforge-face-suggest: error:") for line in err)
    assert "between 1 and the library's 2 heads" in err[0] and "sketchforge-face-suggest train" in err[1]
