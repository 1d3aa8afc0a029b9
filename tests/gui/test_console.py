"""The console dock: code typed there drives the session; its errors stay in the console."""

from __future__ import annotations

import threading

import pytest

from sketchforge.modeling.session import Session

pytestmark = pytest.mark.gui


@pytest.fixture
def console(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))  # IPython's profile folder, not the user's
    from sketchforge.app.console import ConsoleDock
    dock = ConsoleDock(Session())
    qtbot.addWidget(dock)
    dock.show()
    yield dock
    dock.shutdown()


def test_banner_explains_session(console):
    console.execute("pass")
    text = console.output()
    assert "`session`" in text and "session.box((40, 30, 20))" in text and "help(session)" in text


def test_code_builds_an_undoable_body(console):
    session = console.session
    assert console.execute("name = session.box((40, 30, 20))\nprint('made', name)") is True
    assert "made body1" in console.output()
    assert list(session.bodies) == ["body1"]
    assert session.solid("body1").volume == pytest.approx(40 * 30 * 20)
    assert console.execute("session.extrude(name, 'top', 5)") is True
    assert len(session.history) == 2 and session.document.undo_text == "Extrude top face +5 mm"
    session.undo()
    assert console.execute("print(len(session.history))") is True
    assert "print(len(session.history))\n1\n" in console.output()


def test_an_exception_shows_in_the_console_and_the_kernel_goes_on(console):
    session = console.session
    assert console.execute("session.extrude('nothing', 'top', 5)") is False
    text = console.output()
    assert "OperationError" in text and "there is no body 'nothing'" in text
    assert session.history == ()
    assert console.execute("1 / 0") is False
    assert "ZeroDivisionError" in console.output()
    assert console.execute("print(6 * 7)") is True
    assert "print(6 * 7)\n42\n" in console.output()
    assert console.execute("session.box()") is True and "body1" in session.bodies


def test_shutdown_stops_the_kernel(qtbot, console):
    console.shutdown()
    console.shutdown()  # twice is fine (window close after an explicit shutdown)
    assert console.kernel_manager.kernel is None
    assert not [t for t in threading.enumerate() if t.name == "IOPub" and t.is_alive()]
