"""The point-cloud training data: objects of real size, clouds whose parts all carry points and the
colors the prompt asks for, prompts that read back, sketches that follow the visible outline,
deterministic shards that resume and refuse damage."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.render import render_context
from sketchforge.modeling.sketch import Sketch
from sketchforge.neural.points.cli import GenerateConfig, generate
from sketchforge.neural.points.cli import main as data_main
from sketchforge.neural.points.data import MIN_PART_POINTS, POINTS, DataError, make_item, read_points_shard
from sketchforge.neural.points.drawing import draw, feature_curves, part_bodies
from sketchforge.neural.points.objects import CATEGORIES, PART_NAMES, make_object
from sketchforge.neural.points.palette import BASIC_COLORS, Paint, matches, parse_prompt, part_color_accuracy
from sketchforge.neural.points.prompts import plan_colors, prompt_text

HEIGHTS = {  # plausible overall heights in mm
    "chair": (700, 1100), "armchair": (550, 1000), "sofa": (550, 1000), "table": (370, 780), "stool": (420, 810),
    "mug": (75, 125), "lamp": (300, 1900), "vase": (170, 460), "bottle": (170, 340), "bench": (400, 950),
    "bookshelf": (790, 2010),
}


@pytest.fixture(scope="module")
def items():
    return [make_item(seed) for seed in range(14)]


@pytest.mark.parametrize("category", list(CATEGORIES))
def test_each_category_makes_real_sized_objects_standing_on_the_floor(category):
    for seed in range(4):
        obj = make_object(np.random.default_rng([seed, 99]), category)
        lo, hi = obj.bounds()
        assert obj.category == category
        assert abs(lo[2]) < 1e-6, "the object stands on z = 0"
        assert np.allclose(0.5 * (lo[:2] + hi[:2]), 0.0, atol=1e-6), "centred in XY"
        assert HEIGHTS[category][0] <= hi[2] <= HEIGHTS[category][1], (category, hi[2])
        assert obj.parts and all(p.name in PART_NAMES for p in obj.parts)
        for part in obj.parts:
            assert part.mesh.is_winding_consistent and np.isfinite(part.mesh.vertices).all()


def test_every_part_has_points_in_its_own_color(items):
    for it in items:
        assert it.points.shape == (POINTS, 3) and it.points.dtype == np.float32
        assert it.colors.shape == (POINTS, 3) and it.colors.dtype == np.uint8
        lo, hi = it.obj.bounds()
        assert (it.points >= lo - 1e-3).all() and (it.points <= hi + 1e-3).all()
        labels, counts = np.unique(it.parts, return_counts=True)
        assert sorted(PART_NAMES[k] for k in labels) == sorted(it.obj.part_names())
        assert counts.min() >= MIN_PART_POINTS
        for name in it.obj.part_names():
            median = np.median(it.colors[it.parts == PART_NAMES.index(name)].astype(float), axis=0)
            assert matches(median, it.plan.paints[name]), (it.prompt, name, median)
        hits, asked = part_color_accuracy(it.colors, it.parts, it.prompt, PART_NAMES)
        assert hits == asked, it.prompt
    red_legs = np.array([[200, 40, 40]] * 5 + [[30, 30, 30]] * 5, np.uint8)
    labels = np.array([PART_NAMES.index("leg")] * 5 + [PART_NAMES.index("seat")] * 5)
    assert part_color_accuracy(red_legs, labels, "a chair with red legs and a white seat", PART_NAMES) == (1, 2)


def test_the_same_seed_gives_the_same_item():
    a, b, c = make_item(5), make_item(5), make_item(6)
    for name in ("points", "colors", "parts"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert a.record(0) == b.record(0)
    assert not np.array_equal(a.points, c.points) or a.prompt != c.prompt


def _ink(sketch: Sketch) -> np.ndarray:
    img = np.zeros((sketch.height, sketch.width), np.uint8)
    for s in sketch.strokes:
        pts = np.round((s.uv - 0.5) * 16).astype(np.int32)
        cv2.polylines(img, [pts], False, 255, 1, cv2.LINE_8, 4)
    return img > 0


def _features(obj, camera: Camera, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Where a line belongs (outline, part boundaries, creases) and the object's mask."""
    r = render_context(part_bodies(obj), camera, width, height, lines=False)
    pid, normal = r.face_id, r.normal
    edges = np.zeros(pid.shape, bool)
    for dy, dx in ((0, 1), (1, 0), (1, 1)):
        a, b = pid[:height - dy, :width - dx], pid[dy:, dx:]
        na, nb = normal[:height - dy, :width - dx], normal[dy:, dx:]
        crease = (a >= 0) & (b >= 0) & ((na * nb).sum(-1) < math.cos(math.radians(30)))
        e = (a != b) | crease
        edges[:height - dy, :width - dx] |= e
        edges[dy:, dx:] |= e
    return edges, r.mask


def test_strokes_follow_the_outline_and_part_edges(items):
    for it in items:
        sk = it.sketch
        assert sk.mode == "points" and sk.prompt == it.prompt and sk.strokes
        edges, mask = _features(it.obj, sk.camera, sk.width, sk.height)
        ink = _ink(sk)
        near_edge = cv2.distanceTransform((~edges).astype(np.uint8), cv2.DIST_L2, 3)
        near_ink = cv2.distanceTransform((~ink).astype(np.uint8), cv2.DIST_L2, 3)
        tol = 4.0 * max(sk.width, sk.height) / 256  # a few pixels of a 256 px canvas
        on_lines = float((near_edge[ink] <= tol).mean())
        assert on_lines >= 0.85, (it.prompt, on_lines)
        outline = mask & ~cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        drawn = float((near_ink[outline] <= tol).mean())
        assert drawn >= 0.8, (it.prompt, drawn)
        ys, xs = np.nonzero(mask)
        fill = max((xs.max() - xs.min() + 1) / sk.width, (ys.max() - ys.min() + 1) / sk.height)
        assert 0.45 <= fill <= 0.9, fill


def test_hidden_lines_are_left_out():
    """Seen from the front and above, a chair's seat hides the tops of its back legs: no line runs
    across the seat, though the legs' full outlines would."""
    rng = np.random.default_rng(3)
    for _ in range(60):
        obj = make_object(rng, "chair")
        if obj.style["support"] == "legs" and obj.style["arms"] == "no":
            break
    lo, hi = obj.bounds()
    center = 0.5 * (lo + hi)
    cam = Camera.looking_at(center, 2600.0, -90.0, 35.0, 35.0)
    drawing = draw(obj, np.random.default_rng(0), "a chair", canvas=(256, 256), camera=cam)
    seat = drawing.part_index == next(k for k, p in enumerate(obj.parts) if p.name == "seat")
    inner = cv2.erode(seat.astype(np.uint8), np.ones((11, 11), np.uint8)).astype(bool)
    assert inner.sum() > 300
    ink = _ink(drawing.sketch)
    assert (ink & inner).sum() <= 0.01 * inner.sum()
    every = np.zeros_like(ink)
    for curve in feature_curves(obj, cam):
        uv = cam.project(curve.points, 256, 256)
        cv2.polylines(every.view(np.uint8), [np.round((uv - 0.5) * 16).astype(np.int32)], curve.closed, 1, 1,
                      cv2.LINE_8, 4)
    assert (every & inner).sum() > 20, "without hidden-line removal lines would cross the seat"


@pytest.mark.parametrize("word", list(BASIC_COLORS))
def test_every_basic_color_word_parses(word):
    color = "grey" if word == "gray" else word
    assert parse_prompt(f"a {word} chair").whole == Paint(color)
    got = parse_prompt(f"Chair: LEGS {word.upper()}!")
    assert got.category == "chair" and got.parts == {"leg": Paint(color)}
    both = parse_prompt(f"a table with {word} legs and a glass top")
    assert both.parts == {"leg": Paint(color), "top": Paint(None, "glass")}


def test_generated_prompts_read_back_to_the_colors_used():
    seen_forms = set()
    for seed in range(500):
        obj = make_object(np.random.default_rng([seed, 0]))
        rng = np.random.default_rng([seed, 1])
        plan = plan_colors(obj, rng)
        text = prompt_text(obj, plan, rng)
        got = parse_prompt(text)
        assert got.category == obj.category, text
        assert got.named() == plan.named_json(), text
        for part in obj.part_names():
            wanted = got.paint_for(part)
            assert wanted is None or wanted == plan.paints[part], (text, part)
        seen_forms.add(bool(plan.named) + 2 * (plan.whole is not None))
    assert seen_forms == {0, 1, 2, 3}, "prompts naming nothing, parts, the whole and both all occur"


@pytest.mark.parametrize("text, category, whole, parts", [
    ("a wooden chair with a red seat and black legs", "chair", "wood", {"seat": "red", "leg": "black"}),
    ("red-seated chair, legs in black", "chair", None, {"seat": "red", "leg": "black"}),
    ("chair: seat red, legs black", "chair", None, {"seat": "red", "leg": "black"}),
    ("a blue mug", "mug", "blue", {}),
    ("an office chair", "chair", None, {}),
    ("A grey couch with walnut legs.", "sofa", "grey", {"leg": "walnut"}),
    ("desk lamp, shade in light blue, brass stem", "lamp", None, {"shade": "light blue", "stem": "brass"}),
    ("an oak desk with black metal legs", "table", "oak", {"leg": "black metal"}),
    ("the vase is dark green with a white neck", "vase", "dark green", {"neck": "white"}),
    ("green glass bottle & a gold cap", "bottle", "green glass", {"cap": "gold"}),
    ("a seat and back in navy blue, chrome legs", "chair", None, {"seat": "navy", "back": "navy", "leg": "chrome"}),
    ("stool with a black leather seat", "stool", None, {"seat": "black leather"}),
    ("  A BENCH; THE LEGS ARE Gray ", "bench", None, {"leg": "grey"}),
    ("a bookcase made of pine with white shelves", "bookshelf", "pine", {"shelf": "white"}),
    ("armchair upholstered in mustard velvet, wooden legs", "armchair", "mustard velvet", {"leg": "wood"}),
    ("a zorblax thing in purple", None, "purple", {}),
])
def test_hand_written_prompts_parse(text, category, whole, parts):
    got = parse_prompt(text)
    assert got.category == category
    assert (got.whole.word if got.whole else None) == whole
    assert {k: v.word for k, v in got.parts.items()} == parts


def test_generate_writes_readable_shards_that_resume(tmp_path):
    config = GenerateConfig(count=5, seed=11, shard_size=2)
    one = tmp_path / "one"
    m = generate(one, config, workers=1)
    assert m["complete"] and m["counts"]["items"] == 5 and len(m["shards"]) == 3
    arrays, records = read_points_shard(one / m["shards"][0]["arrays"])
    assert arrays["points"].shape == (2, POINTS, 3) and arrays["colors"].dtype == np.uint8
    assert arrays["parts"].shape == (2, POINTS) and arrays["parts"].dtype == np.int16
    for i, rec in enumerate(records):
        sketch = Sketch.from_json(rec["sketch"])
        assert sketch.mode == "points" and sketch.prompt == rec["prompt"]
        assert sorted({PART_NAMES[k] for k in arrays["parts"][i]}) == sorted(rec["parts"])
        again = make_item(rec["seed"])
        assert np.array_equal(again.points, arrays["points"][i]) and again.prompt == rec["prompt"]
    before = {p.name: p.read_bytes() for p in one.glob("shard-*")}
    stamp = (one / "shard-00000.safetensors").stat().st_mtime_ns
    (one / "shard-00001.safetensors").unlink()  # as if interrupted while writing shard 1
    generate(one, config, workers=1)
    assert (one / "shard-00000.safetensors").stat().st_mtime_ns == stamp, "finished shards are kept"
    assert {p.name: p.read_bytes() for p in one.glob("shard-*")} == before
    two = tmp_path / "two"
    generate(two, config, workers=2)
    assert {p.name: p.read_bytes() for p in two.glob("shard-*")} == before, "the worker count changes nothing"
    assert (two / "manifest.json").read_bytes() == (one / "manifest.json").read_bytes()
    with pytest.raises(DataError, match="other settings"):
        generate(one, GenerateConfig(count=5, seed=12, shard_size=2))


def test_damaged_shards_are_refused(tmp_path, capsys):
    assert data_main(["generate", "--out", str(tmp_path / "d"), "--count", "2", "--seed", "1", "--quiet"]) == 0
    shard = tmp_path / "d" / "shard-00000.safetensors"
    records = shard.with_suffix(".jsonl")
    good = records.read_text()
    records.write_text(good.splitlines()[0] + "\n")
    with pytest.raises(DataError, match="1 records but the arrays hold 2"):
        read_points_shard(shard)
    records.write_text(good)
    blob = shard.read_bytes()
    shard.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="not a readable safetensors shard"):
        read_points_shard(shard)
    from safetensors.numpy import save
    wrong = {"points": np.zeros((2, 5, 3), np.float32)}
    shard.write_bytes(save(wrong, metadata={"format": "sketchforge.points-data/1"}))
    with pytest.raises(DataError, match="'points' is float32"):
        read_points_shard(shard)
    assert data_main(["sheet", str(tmp_path / "nothing"), "--out", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sketchforge-points-data: error:")


def test_contact_sheet(tmp_path):
    generate(tmp_path / "d", GenerateConfig(count=3, seed=2, shard_size=3))
    assert data_main(["sheet", str(tmp_path / "d"), "--out", str(tmp_path / "sheet.png"), "--n", "3"]) == 0
    img = cv2.imread(str(tmp_path / "sheet.png"))
    assert img is not None and img.shape[0] > 200 and (img < 200).any()
    assert json.loads((tmp_path / "d" / "manifest.json").read_text())["part_names"] == list(PART_NAMES)
