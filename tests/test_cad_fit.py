"""Parameter fitting on its own: with the ground truth in place of the networks (class one-hot, the
stored stitching mask and role map), the best proposal is the recorded operation and rebuilds the
recorded model; every proposal applies; bad input is read as nothing or refused with a clear
error, and the document never changes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.exchange import import_step
from sketchforge.modeling.session import Session
from sketchforge.modeling.sketch import Sketch, SketchError, Stroke
from sketchforge.neural.cad.fit import CLASS_NAMES, NetOutputs, fit_proposals, rasterise_sketch
from sketchforge.neural.cad.metrics import volume_iou
from sketchforge.neural.framing import frame_sketch
from sketchforge.neural.synth.shards import GenerateConfig, generate, read_records, read_shard

BODY = "body1"
SIZE = 128
CONFIG = GenerateConfig(count=16, size=SIZE, seed=29, shard_size=16, step_sample=1.0)  # 3-6 items per class


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fit") / "data"
    generate(out, CONFIG, workers=1, progress=False)
    return out


def _items(root: Path):
    m = json.loads((root / "manifest.json").read_text())
    for s in m["shards"]:
        arrays = read_shard(root / s["npz"])
        for i, rec in enumerate(read_records(root / s["jsonl"])):
            yield {k: v[i] for k, v in arrays.items()}, rec


class Case:
    """One item read back from its files: the before model in a session, the sketch, the renders."""

    def __init__(self, root: Path, arrays: dict, rec: dict) -> None:
        files = rec["files"]
        self.rec, self.arrays = rec, arrays
        self.cls = int(rec["op_class"])
        self.session = Session()
        self.session.import_file(root / files["before"], name=BODY)
        self.after = import_step((root / files["after"]).read_bytes(), "after.step")
        # the arrays hold the view the interpreter reads: frame the drawn sketch the same way
        framed = frame_sketch(Sketch.load(root / files["sketch"]), self.session.bodies, SIZE)
        np.testing.assert_allclose(framed.camera.target, arrays["camera"][3:6], rtol=1e-5, atol=1e-4)
        self.sketch = framed.sketch
        self.context = self.session.render(framed.camera, SIZE, SIZE, lines=False)
        self.outputs = NetOutputs(np.eye(4)[self.cls], arrays["stitch"].astype(np.float32), arrays["role"])

    def fit(self, sketch: Sketch | None = None, stroke: np.ndarray | None = None,
            outputs: NetOutputs | None = None):
        return fit_proposals(self.session.document.state, BODY, sketch or self.sketch, self.context,
                             self.arrays["stroke"] if stroke is None else stroke, outputs or self.outputs)


@pytest.fixture(scope="module")
def cases(dataset) -> list[Case]:
    return [Case(dataset, a, rec) for a, rec in _items(dataset)]


@pytest.fixture(scope="module")
def fitted(cases) -> list[tuple[Case, list, object, float]]:
    """Each case with its proposals, the document revision before fitting and the fit time."""
    out = []
    for c in cases:
        revision = c.session.document.revision
        t = time.perf_counter()
        proposals = c.fit()
        out.append((c, proposals, revision, time.perf_counter() - t))
    return out


def test_each_class_is_fitted_to_the_recorded_operation_and_rebuilds_the_model(fitted):
    good = {c: 0 for c in range(4)}
    total = {c: 0 for c in range(4)}
    for case, proposals, _, _ in fitted:
        total[case.cls] += 1
        assert proposals, f"item {case.rec['item']} ({CLASS_NAMES[case.cls]}) got no proposal"
        top = proposals[0].operation
        result = top.apply(case.session.document.state).solid(BODY)
        iou = volume_iou(result, case.after)
        if top.id == case.rec["operation"]["op"] and iou >= 0.95:
            good[case.cls] += 1
    for c in range(4):
        assert total[c] >= 3, f"the test set lacks {CLASS_NAMES[c]} items"
        # a drawing a few pixels across can leave add / subtract or a path's length open
        assert good[c] >= total[c] - 1, f"{CLASS_NAMES[c]}: {good[c]} of {total[c]} rebuilt"


def test_every_proposal_applies_and_the_document_is_unchanged(fitted):
    for case, proposals, revision, _ in fitted:
        assert case.session.document.revision is revision
        assert len(proposals) <= 3
        scores = [p.score for p in proposals]
        assert scores == sorted(scores, reverse=True)
        for p in proposals:
            assert 0.0 < p.score <= 1.0
            assert p.extra["class"] in CLASS_NAMES and p.extra["fit_px"] >= 0.0
            p.operation.apply(case.session.document.state)  # raises if it is not a valid operation
            json.dumps(p.to_json())


def test_a_fit_takes_well_under_a_second(fitted):
    times = sorted(t for *_, t in fitted)
    assert times[len(times) // 2] < 1.0, times


def test_rasterised_sketch_matches_the_training_raster_at_any_canvas_size(cases):
    case = cases[0]
    ink = rasterise_sketch(case.sketch, SIZE, SIZE) > 0
    stored = case.arrays["stroke"] > 0
    assert (ink & stored).sum() / (ink | stored).sum() > 0.5
    # the same strokes on a canvas twice as large land on the same render pixels
    big = Sketch(case.sketch.camera, 2 * SIZE, 2 * SIZE,
                 tuple(Stroke(np.column_stack([s.uv * 2.0, s.points[:, 2:]]), s.kind) for s in case.sketch.strokes))
    np.testing.assert_array_equal(rasterise_sketch(big, SIZE, SIZE), rasterise_sketch(case.sketch, SIZE, SIZE))


def _with_strokes(case: Case, strokes: list[np.ndarray]) -> tuple[Sketch, np.ndarray, NetOutputs]:
    """A sketch of the given pixel polylines, its raster, and outputs reading every stroke as base."""
    sketch = Sketch(case.sketch.camera, SIZE, SIZE, tuple(Stroke(np.column_stack(
        [p, np.ones(len(p)), np.arange(len(p), dtype=float)])) for p in strokes))
    stroke = rasterise_sketch(sketch, SIZE, SIZE)
    roles = np.where(stroke > 0, 1, 0).astype(np.uint8)
    return sketch, stroke, NetOutputs(case.outputs.class_probs, case.outputs.stitch, roles)


def _checked(case: Case, proposals) -> None:
    for p in proposals:
        p.operation.apply(case.session.document.state)


def test_nothing_to_read_gives_no_proposal(cases):
    case = cases[0]
    revision = case.session.document.revision
    empty = Sketch(case.sketch.camera, SIZE, SIZE, ())
    assert case.fit(empty, np.zeros((SIZE, SIZE), np.uint8)) == []
    dot = _with_strokes(case, [np.array([[64.2, 64.7]])])
    assert case.fit(*dot) == []
    same_place = _with_strokes(case, [np.full((50, 2), 40.5)])
    assert case.fit(*same_place) == []
    assert case.session.document.revision is revision


@pytest.mark.parametrize("cls", range(4))
def test_strokes_off_the_model_never_give_an_invalid_operation(cases, cls):
    case = next(c for c in cases if c.cls == cls)
    revision = case.session.document.revision
    background = np.argwhere(case.context.face_id < 0)
    corner = background[np.argmin(background.sum(axis=1))][::-1].astype(float)  # (u, v) of a free pixel
    square = corner + np.array([[0.5, 0.5], [6.5, 0.5], [6.5, 6.5], [0.5, 6.5], [0.5, 0.5]])
    line = corner + np.array([[8.5, 0.5], [8.5, 12.5]])
    sketch, stroke, outputs = _with_strokes(case, [square, line])
    outputs = NetOutputs(outputs.class_probs, outputs.stitch, np.where(stroke > 0, 1 + cls % 3, 0).astype(np.uint8))
    proposals = case.fit(sketch, stroke, outputs)
    _checked(case, proposals)
    assert case.session.document.revision is revision


def test_a_ten_thousand_point_scribble_is_read_quickly_and_safely(cases):
    case = next(c for c in cases if c.cls == 1)
    revision = case.session.document.revision
    rng = np.random.default_rng(0)
    t = np.linspace(0.0, 40.0 * np.pi, 10_000)
    scribble = np.stack([64 + 30 * np.sin(t) + rng.normal(0, 1, t.shape),
                         64 + 30 * np.cos(1.3 * t) + rng.normal(0, 1, t.shape)], axis=1)
    sketch, stroke, outputs = _with_strokes(case, [scribble])
    start = time.perf_counter()
    proposals = case.fit(sketch, stroke, outputs)
    assert time.perf_counter() - start < 10.0
    _checked(case, proposals)
    assert case.session.document.revision is revision


def test_malformed_input_is_refused_with_a_clear_error(cases):
    case = cases[0]
    revision = case.session.document.revision
    data = case.sketch.to_json()
    data["strokes"][0]["points"][0][0] = float("nan")
    with pytest.raises(SketchError, match="NaN"):
        Sketch.from_json(data)
    nan_sketch = Sketch(case.sketch.camera, SIZE, SIZE, (Stroke(np.array([[1.0, np.nan, 1.0, 0.0],
                                                                          [5.0, 5.0, 1.0, 1.0]])),))
    with pytest.raises(ValueError, match="NaN"):
        case.fit(nan_sketch)
    with pytest.raises(ValueError, match="NaN"):
        rasterise_sketch(nan_sketch, SIZE, SIZE)
    with pytest.raises(ValueError, match="render size"):
        case.fit(stroke=np.zeros((SIZE // 2, SIZE // 2), np.uint8))
    with pytest.raises(ValueError, match="render size"):
        case.fit(outputs=NetOutputs(case.outputs.class_probs, case.outputs.stitch[:-1], case.outputs.roles))
    with pytest.raises(ValueError, match="class_probs"):
        case.fit(outputs=NetOutputs(np.array([np.nan, 1.0, 0.0, 0.0]), case.outputs.stitch, case.outputs.roles))
    with pytest.raises(ValueError, match="class_probs"):
        case.fit(outputs=NetOutputs(np.zeros(4), case.outputs.stitch, case.outputs.roles))
    with pytest.raises(ValueError, match="no solid body"):
        fit_proposals(case.session.document.state, "nobody", case.sketch, case.context, case.arrays["stroke"],
                      case.outputs)
    assert case.session.document.revision is revision


def test_a_view_that_misses_the_model_gives_no_proposal(cases):
    case = cases[0]
    away = Camera((0.0, 0.0, 5000.0), (0.0, 0.0, 6000.0), (0.0, 1.0, 0.0))  # looking away from the part
    context = case.session.render(away, SIZE, SIZE, lines=False)
    assert not context.mask.any()
    assert fit_proposals(case.session.document.state, BODY, case.sketch, context, case.arrays["stroke"],
                         case.outputs) == []
