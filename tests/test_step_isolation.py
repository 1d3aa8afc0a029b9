"""STEP files are parsed in a child process: a file that crashes OpenCascade's STEP reader gives a
one-line error, and the process, the command and the open document carry on."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from sketchforge.modeling.archive import SessionFileError
from sketchforge.modeling.bodies import SolidBody
from sketchforge.modeling.exchange import ExchangeError, import_step
from sketchforge.modeling.occ import isolate, step
from sketchforge.modeling.session import Session

DATA = Path(__file__).parent / "data"
GOOD = DATA / "box.step"  # a 10 x 20 x 5 box written by Sketchforge's STEP export
# The direction vector of the box's first edge line (`#27 = LINE('',#28,#29)`): without it,
# OpenCascade 7.9's STEP reader reads through a null handle (StepToGeom::MakeVectorWithMagnitude)
# and the process dies of SIGSEGV. Deleting any VECTOR or DIRECTION of a LINE does the same.
DELETED = b"#29 = VECTOR('',#30,1.);\n"
EXE = Path(sys.executable).with_name("sketchforge")


def damaged_step() -> bytes:
    """The good box with the one entity line deleted."""
    good = GOOD.read_bytes().replace(b"\r\n", b"\n")
    assert good.count(DELETED) == 1
    return good.replace(DELETED, b"")


@pytest.fixture
def damaged(tmp_path) -> Path:
    path = tmp_path / "damaged.step"
    path.write_bytes(damaged_step())
    return path


def _one_line(message: str) -> str:
    assert "\n" not in message.strip() and "Traceback" not in message, message
    return message


def _cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=180)


# --------------------------------------------------------------------------- the reproduction


def test_the_damaged_file_crashes_the_kernel_when_read_in_process(damaged):
    """The fixture is what it claims: read in-process, it kills the process. Should a newer
    OpenCascade survive it, pick another deletion (see DELETED) so the crash path stays tested."""
    code = ("import sys\nfrom sketchforge.modeling.occ import step\n"
            "step.step_to_brep(open(sys.argv[1], 'rb').read())\n")
    run = subprocess.run([sys.executable, "-c", code, str(damaged)], capture_output=True, timeout=120)
    assert run.returncode == -signal.SIGSEGV, run.stderr.decode(errors="replace")[-400:]


# --------------------------------------------------------------------------- the damaged file


def test_import_of_the_damaged_file_is_a_one_line_error_and_changes_nothing(session, block, damaged):
    history, bodies, revision = session.history, dict(session.bodies), session.document.revision
    blobs = dict(session.document.blobs)
    with pytest.raises(ExchangeError) as info:
        session.import_file(damaged)
    message = _one_line(str(info.value))
    assert message.startswith("damaged.step: the STEP file is damaged")
    assert "SIGSEGV" in message and "export it again from the CAD program" in message
    assert session.history == history and dict(session.bodies) == bodies
    assert session.document.revision is revision and dict(session.document.blobs) == blobs
    assert session.bodies[block].volume == pytest.approx(60 * 40 * 20)


@pytest.mark.parametrize("command", ["export", "interpret"])
def test_the_command_ends_with_one_line_and_writes_nothing(tmp_path, damaged, command):
    out = tmp_path / "out.obj"
    if command == "export":
        run = _cli("export", damaged, out, cwd=tmp_path)
    else:
        sketch = tmp_path / "s.sketch.json"
        sketch.write_text(json.dumps({
            "format": "sketchforge.sketch", "version": 1, "canvas": {"width": 64, "height": 64},
            "camera": {"eye": [50, -50, 50], "target": [0, 0, 0], "up": [0, 0, 1],
                       "projection": "perspective", "fov_y_deg": 35},
            "mode": "cad", "strokes": [{"points": [[1, 1], [20, 20]]}]}))
        run = _cli("interpret", "--model", damaged, "--sketch", sketch, "--out", out, cwd=tmp_path)
    assert run.returncode in (1, 2), run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    assert "damaged.step" in lines[0] and "the STEP file is damaged" in lines[0]
    assert not out.exists()


def _session_file_holding(tmp_path: Path, blob: bytes) -> Path:
    """A session file whose import step replays `blob` (made from a real save of the good box)."""
    good = GOOD.read_bytes()
    made = Session()
    made.import_file(GOOD, "part")
    saved = made.save(tmp_path / "good.sketchforge")
    old_key, new_key = hashlib.sha256(good).hexdigest(), hashlib.sha256(blob).hexdigest()
    target = tmp_path / "damaged.sketchforge"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "manifest.json":
                data = data.replace(old_key.encode(), new_key.encode())
            elif item.filename == f"blobs/{old_key}.bin":
                item.filename, data = f"blobs/{new_key}.bin", blob
            dst.writestr(item.filename, data)
    return target


def test_a_session_file_holding_the_damaged_file_opens_with_a_clean_error(tmp_path, session, block):
    target = _session_file_holding(tmp_path, damaged_step())
    document = session.document
    with pytest.raises(SessionFileError) as info:
        session.open(target)
    message = _one_line(str(info.value))
    assert "does not regenerate" in message and "the STEP file is damaged" in message
    assert session.document is document and list(session.bodies) == [block]
    assert session.bodies[block].volume == pytest.approx(60 * 40 * 20)


# --------------------------------------------------------------------------- good files


def _read_here(data: bytes, monkeypatch) -> SolidBody:
    """What the STEP reader makes of `data` in this process (only for files we trust)."""
    made: list = []
    with monkeypatch.context() as m:
        m.setattr(step, "_hand_over_brep", lambda shape: made.append(shape) or b"")
        step.step_to_brep(data)
    return SolidBody(made[0])


def test_a_good_file_imports_exactly_as_a_read_in_this_process(monkeypatch):
    """The solids handed back from the child are bit for bit those the reader made."""
    data = GOOD.read_bytes()
    here = _read_here(data, monkeypatch)
    body = import_step(data, GOOD.name)
    assert body.volume == here.volume == pytest.approx(10 * 20 * 5, rel=1e-12)
    assert len(body.faces) == len(here.faces) == 6
    assert np.array_equal(body.bounds(), here.bounds())
    session = Session()
    name = session.import_file(GOOD)
    assert session.bodies[name].volume == body.volume


def test_curved_solids_come_back_exactly_too(tmp_path, monkeypatch):
    from sketchforge.modeling.demo import build_demo

    made = Session()
    build_demo(made)  # a fillet and a swept circle: curved faces and B-spline edges
    out = made.export(tmp_path / "demo.step")
    here = _read_here(out.read_bytes(), monkeypatch)
    body = import_step(out.read_bytes(), out.name)
    assert body.volume == here.volume and len(body.faces) == len(here.faces) == 25
    assert np.array_equal(body.bounds(), here.bounds())


def test_a_spawned_child_reads_and_fails_the_same_way(monkeypatch):
    """Where fork is missing or unsafe, a fresh interpreter does the reading."""
    monkeypatch.setattr(isolate, "default_method", lambda: "spawn")
    forked = SolidBody(step._read_handed_brep(isolate.run(step.step_to_brep, GOOD.read_bytes(), 60, "fork")))
    body = import_step(GOOD.read_bytes(), GOOD.name)
    assert body.volume == forked.volume and np.array_equal(body.bounds(), forked.bounds())
    with pytest.raises(ExchangeError, match="the STEP file is damaged: the STEP reader crashed"):
        import_step(damaged_step(), "damaged.step")
    with pytest.raises(ExchangeError, match="holds no geometry"):  # the child's own errors come back
        import_step(b"ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n", "nothing.step")


def test_reading_from_a_worker_thread_while_other_threads_work():
    """As in the window: the import runs in a worker while other threads (here numpy) keep busy.
    Forking this process then could hang in OpenBLAS's fork handler; the helper process forks."""
    stop = threading.Event()
    spins = [0]
    methods = set()

    def busy() -> None:
        a = np.random.default_rng(0).random((300, 300))
        while not stop.is_set():
            a = np.tanh(a @ a.T / 300.0)
            spins[0] += 1

    results: dict[str, object] = {}

    def worker(key: str, data: bytes) -> None:
        methods.add(isolate.default_method())
        for k in range(3):
            try:
                results[f"{key}{k}"] = import_step(data, f"{key}.step").volume
            except ExchangeError as exc:
                results[f"{key}{k}"] = str(exc)

    busy_threads = [threading.Thread(target=busy, daemon=True) for _ in range(2)]
    workers = [threading.Thread(target=worker, args=("good", GOOD.read_bytes())),
               threading.Thread(target=worker, args=("damaged", damaged_step()))]
    for t in busy_threads + workers:
        t.start()
    for t in workers:
        t.join(timeout=120)
    stop.set()
    for t in busy_threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in workers), "a child process hung"
    assert spins[0] > 0 and methods == {"server"}
    for k in range(3):
        assert results[f"good{k}"] == pytest.approx(1000.0)
        assert "the STEP file is damaged" in str(results[f"damaged{k}"])


# --------------------------------------------------------------------------- time limit


def _sleep_in_child(data: bytes) -> bytes:
    time.sleep(60)
    return data


def test_a_file_that_takes_too_long_is_stopped_with_a_clear_message(monkeypatch):
    monkeypatch.setattr(isolate, "default_method", lambda: "fork")  # the child runs the patched reader
    monkeypatch.setattr(step, "step_to_brep", _sleep_in_child)
    monkeypatch.setenv(step.TIMEOUT_VARIABLE, "0.5")
    children, fork = [], os.fork

    def recording_fork() -> int:
        pid = fork()
        if pid:
            children.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", recording_fork)
    t0 = time.monotonic()
    with pytest.raises(ExchangeError) as info:
        import_step(GOOD.read_bytes(), "slow.step")
    assert time.monotonic() - t0 < 10
    message = _one_line(str(info.value))
    assert message.startswith("slow.step: reading the STEP file took longer than 0.5 s and was stopped")
    assert "SKETCHFORGE_STEP_TIMEOUT" in message
    assert len(children) == 1
    with pytest.raises(ChildProcessError):  # the child was killed and reaped
        os.waitpid(children[0], os.WNOHANG)


@pytest.fixture
def slow_work(tmp_path, monkeypatch):
    """A work function the helper and spawned interpreters can import, that sleeps a minute."""
    (tmp_path / "slow_work.py").write_text("import time\n\ndef work(data):\n    time.sleep(60)\n    return data\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    isolate.shutdown()  # the next helper starts with that path
    yield importlib.import_module("slow_work").work
    isolate.shutdown()


@pytest.mark.parametrize("method", ["server", "spawn"])
def test_a_child_past_its_time_is_stopped(slow_work, method):
    t0 = time.monotonic()
    with pytest.raises(isolate.ChildTimedOut):
        isolate.run(slow_work, b"x", 3.0, method)
    assert time.monotonic() - t0 < 15
    if method == "server":  # the helper carries on
        assert isolate.run(step.step_to_brep, GOOD.read_bytes(), 60, "server")


def test_a_bad_time_limit_setting_says_what_to_set(monkeypatch):
    monkeypatch.setenv(step.TIMEOUT_VARIABLE, "soon")
    with pytest.raises(ExchangeError, match="SKETCHFORGE_STEP_TIMEOUT='soon' is not a number of seconds"):
        import_step(GOOD.read_bytes(), "box.step")


# --------------------------------------------------------------------------- the child process


def _raise_type_error(data: bytes) -> bytes:
    raise TypeError("not this")


def _exit_abnormally(data: bytes) -> bytes:
    os._exit(3)


def test_what_a_forked_child_can_end_with():
    assert isolate.run(bytes.upper, b"abc", 10, "fork") == b"ABC"
    big = bytes(range(256)) * 40_000  # larger than a pipe's buffer
    assert isolate.run(bytes, big, 10, "fork") == big
    with pytest.raises(isolate.ChildFailed, match="TypeError: not this"):
        isolate.run(_raise_type_error, b"", 10, "fork")
    with pytest.raises(isolate.ChildCrashed, match="exit status 3"):
        isolate.run(_exit_abnormally, b"", 10, "fork")


def test_the_helper_survives_a_crash_and_is_replaced_when_gone():
    data, damaged = GOOD.read_bytes(), damaged_step()
    with pytest.raises(isolate.ChildCrashed, match="SIGSEGV"):
        isolate.run(step.step_to_brep, damaged, 60, "server")
    helper = isolate._SERVER
    assert helper is not None and helper.alive()
    big = bytes(range(256)) * 40_000  # larger than a pipe's buffer, both ways
    assert isolate.run(zlib.decompress, zlib.compress(big), 10, "server") == big
    assert isolate._SERVER is helper
    helper.proc.kill()
    helper.proc.wait()
    assert SolidBody(step._read_handed_brep(isolate.run(step.step_to_brep, data, 60, "server"))).volume \
        == pytest.approx(1000.0)
    assert isolate._SERVER is not helper and isolate._SERVER.alive()


def test_the_way_to_a_child_follows_the_threads_running_python():
    alone = subprocess.run([sys.executable, "-c", "from sketchforge.modeling.occ import isolate\n"
                            "print(isolate.default_method())"], capture_output=True, text=True, timeout=60)
    assert alone.stdout.strip() == "fork"  # a command or a script: nothing else runs
    beside = threading.Event()
    thread = threading.Thread(target=beside.wait)
    thread.start()
    try:
        assert isolate.default_method() == "server"
    finally:
        beside.set()
        thread.join()
