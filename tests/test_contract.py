"""The back-end contract: what back ends declare, what they read and return, and that proposals
change nothing until accepted. A plugin's back end, importer or operation registered at run time is
found everywhere."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from sketchforge.modeling.contract import (
    Context,
    ContractError,
    Interpretation,
    ModeSpec,
    Proposal,
    StrokeKind,
    check_backend,
    describe_options,
    option,
)
from sketchforge.modeling.operations import OperationError, PutMesh, blob_key, mesh_blob
from sketchforge.modeling.session import NoBackendError, Session
from sketchforge.neural.backend import NeuralBackend, Stopwatch, tidy_sketch


@dataclasses.dataclass(frozen=True)
class PyramidOptions:
    height: float = option(10.0, "Height", minimum=1.0, maximum=100.0)
    style: str = option("sharp", "Style", choices={"sharp": "sharp tip", "flat": "flat tip"})


class PyramidBackend(NeuralBackend):
    """A plugin's back end: every sketch becomes a small pyramid mesh, stored only on accepting."""

    name = "pyramids"
    modes = (ModeSpec("pyramid", "Pyramids", (StrokeKind(None, "Base", (10, 20, 30)),
                                              StrokeKind("tip", "Tip", (200, 0, 0))),
                      prompt="optional", guide=("Draw the base.",)),)
    Options = PyramidOptions

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.warmed = 0
        self.contexts: list[Context] = []

    def _warm(self) -> None:
        self.warmed += 1

    def propose(self, sketch, context, top_k=3):
        self.contexts.append(context)
        watch = Stopwatch()
        with watch.stage("fit"):
            sketch = tidy_sketch(sketch, min_extent=2.0)
            if sketch is None:
                return self.answer((), watch, top_k, "draw the base of the pyramid")
            h = self.options.height
            v = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0], [3, 3, h]], float)
            t = np.array([[0, 2, 1], [0, 1, 3], [1, 2, 3], [2, 0, 3]])
            data = mesh_blob(v, t)
            name = f"pyramid{len(context.bodies) + 1}"
            op = PutMesh(body=name, blob=blob_key(data), source="pyramids")
        return self.answer([Proposal(op, 0.8, label=f"Pyramid {h:g} mm high", blobs={blob_key(data): data})],
                           watch, top_k)


def _draw(session: Session, mode: str = "pyramid") -> None:
    session.sketch.mode = mode
    session.sketch.add_stroke([[10, 10], [60, 12], [40, 50]])


def test_the_shipped_back_ends_keep_the_contract():
    s = Session()
    modes = s.modes()
    assert {"cad", "face"} <= set(modes)
    for name in ("cad", "face"):
        backend = s.backend(name)
        check_backend(backend)
        assert all(isinstance(k.color, tuple) and len(k.color) == 3 for k in modes[name].stroke_kinds)
        assert modes[name].guide, "every mode has a how-to-sketch card"
        assert describe_options(backend.options)
    assert modes["face"].keeps_strokes and not modes["cad"].keeps_strokes
    assert [k.name for k in modes["face"].stroke_kinds] == [None, "ridge", "valley"]
    assert modes["face"].view == "front" and modes["face"].part_suggestions
    cad = s.backend("cad")
    labels = {i.name: i for i in describe_options(cad.options)}
    assert set(labels["network"].choices) == {"light", "standard", "reference"}
    with pytest.raises(ValueError, match="choose one of"):
        cad.configure(network="huge")
    with pytest.raises(ValueError, match="no option 'colour'"):
        cad.configure(colour="red")
    with pytest.raises(ValueError, match="on or off"):
        s.backend("face").configure(symmetric="yes")
    assert cad.options.network == "light"  # refused changes change nothing


def test_a_plugin_back_end_registered_at_run_time_is_a_first_class_mode():
    s = Session()
    seen = []
    s.changed.connect(seen.append)
    backend = PyramidBackend()
    s.register_backend(backend)
    assert "Back end pyramids registered" in seen
    assert s.modes()["pyramid"].prompt == "optional" and s.backend("pyramid") is backend
    _draw(s)
    s.sketch.prompt = "a tall one"
    result = s.interpret()
    ctx = backend.contexts[-1]
    assert isinstance(ctx, Context) and ctx.state is s.document.state and not hasattr(ctx, "document")
    assert isinstance(result, Interpretation) and result.proposals[0].title == "Pyramid 10 mm high"
    assert s.sketch.current is result.proposals[0]          # offered where the console sees it
    # proposing wrote nothing: the mesh travels inside the proposal
    assert not s.document.blobs and not s.bodies and not s.history
    s.accept()
    assert s.bodies["pyramid1"].kind == "mesh" and len(s.document.blobs) == 1
    assert not s.sketch.strokes and s.sketch.current is None  # accepted: the strokes go (this mode keeps none)
    assert s.undo() and not s.bodies
    # options are typed and checked
    backend.configure(height=25.0)
    with pytest.raises(ValueError, match="within 1.0..100.0"):
        backend.configure(height=500.0)
    _draw(s)
    assert s.interpret().proposals[0].title == "Pyramid 25 mm high"


def test_nothing_drawn_is_an_answer_with_a_hint_not_an_error():
    s = Session()
    s.register_backend(PyramidBackend())
    s.sketch.mode = "pyramid"
    result = s.interpret()
    assert not result.proposals and result.hint == "draw the base of the pyramid"
    assert "total" in result.report.seconds


def test_preparing_runs_once_until_an_option_that_reloads_changes():
    backend = PyramidBackend()
    backend.prepare()
    backend.prepare()
    assert backend.warmed == 1 and backend.prepared
    type(backend).reload_on = frozenset({"style"})
    try:
        backend.configure(height=12.0)
        assert backend.prepared
        backend.configure(style="flat")
        assert not backend.prepared
        backend.prepare()
        assert backend.warmed == 2
    finally:
        type(backend).reload_on = frozenset()


def test_a_back_end_without_declarations_is_refused_with_what_it_lacks():
    class Undeclared:
        mode = "odd"

        def propose(self, sketch, session, top_k=3):
            return []

    with pytest.raises(ContractError, match="lacks name, modes"):
        check_backend(Undeclared())
    s = Session()
    with pytest.raises(NoBackendError, match="no interpretation back end is registered for mode 'odd'"):
        s.backend("odd")


def test_a_proposal_that_fails_on_accepting_stores_nothing():
    s = Session()
    junk = b"not a mesh at all"
    bad = Proposal(PutMesh(body="x", blob=blob_key(junk)), 0.9, blobs={blob_key(junk): junk})
    with pytest.raises(OperationError, match="damaged"):
        s.accept(bad)
    assert not s.document.blobs and not s.history
    with pytest.raises(ContractError, match="keyed by its contents"):
        Proposal(PutMesh(body="x", blob="abc"), 0.5, blobs={"abc": junk})


def test_the_report_stages_add_up_to_the_total_and_read_plainly():
    watch = Stopwatch()
    with watch.stage("view"):
        time.sleep(0.01)
    time.sleep(0.01)  # between stages: counted as 'other'
    with watch.stage("net"):
        time.sleep(0.005)
    seconds = watch.seconds()
    assert list(seconds) == ["view", "net", "other", "total"]
    assert sum(v for k, v in seconds.items() if k != "total") == pytest.approx(seconds["total"], abs=1e-9)
    from sketchforge.modeling.contract import Report
    rep = Report({"view": 0.012, "net": 0.0031, "fit": 0.05, "total": 0.0651}, network="light", canvas=48,
                 flops=9_600_000)
    assert rep.summary() == " · 65 ms (view 12, network 3, fitting 50) · light network at 48 px, 9.6 MFLOPs"


def test_an_importer_registered_at_run_time_is_found_by_the_operation_and_after_reopening(tmp_path):
    import trimesh
    s = Session()

    def read_tri(data: bytes, name: str):
        from sketchforge.modeling.bodies import MeshBody
        v = np.array([[float(x) for x in line.split()] for line in data.decode().splitlines() if line.strip()])
        return MeshBody(v, np.array([[0, 1, 2]]))

    s.importers.register("tri", read_tri)
    path = tmp_path / "one.tri"
    path.write_text("0 0 0\n10 0 0\n0 10 0\n")
    name = s.import_file(path)
    assert s.bodies[name].kind == "mesh" and len(s.bodies[name].vertices) == 3
    saved = s.save(tmp_path / "doc.sketchforge")
    again = Session()
    again.importers.register("tri", read_tri)
    again.open(saved)
    assert again.bodies[name].kind == "mesh"
    assert trimesh  # the mesh exporters still work on it
    again.export(tmp_path / "one.obj")
    assert (tmp_path / "one.obj").stat().st_size > 0


def test_a_point_cloud_travels_in_its_proposal_and_lands_through_its_operation(tmp_path):
    from sketchforge.modeling.operations import PutPoints, points_blob
    s = Session()
    rng = np.random.default_rng(0)
    pts, cols = rng.normal(size=(2048, 3)) * 20, rng.integers(0, 256, (2048, 3))
    data = points_blob(pts, cols)
    p = Proposal(PutPoints(body="chair", blob=blob_key(data), source="points"), 0.7, blobs={blob_key(data): data})
    preview = p.apply_to(s.document.state)  # the ghost's state: the cloud, with nothing stored yet
    assert preview.bodies["chair"].kind == "points" and not s.document.blobs
    s.accept(p)
    cloud = s.bodies["chair"]
    assert np.allclose(cloud.points, pts) and np.array_equal(cloud.colors, cols) and cloud.source == "points"
    again = Session()
    again.open(s.save(tmp_path / "cloud.sketchforge"))
    assert np.array_equal(again.bodies["chair"].colors, cols)
    with pytest.raises(OperationError, match="only a point cloud can be replaced"):
        s.box((5, 5, 5), name="chair2")
        s.apply(PutPoints(body="chair2", blob=blob_key(data), replace=True))
