"""The Python console dock: an in-process IPython kernel with the `session` bound, like napari's `viewer`.

Code typed here drives the same `Session` as the menus and the history panel, so everything it does
is undoable and shows in the views. The kernel runs in the app's process: an exception in console
code is caught by IPython and printed as a traceback in the console; it never reaches the app.
"""

from __future__ import annotations

import os
import platform
import threading
import warnings

os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # before ipykernel pulls in debugpy

from PySide6.QtCore import QEventLoop, QTimer, Signal  # noqa: E402
from PySide6.QtWidgets import QDockWidget, QWidget  # noqa: E402
from qtconsole.inprocess import QtInProcessKernelManager  # noqa: E402
from qtconsole.rich_jupyter_widget import RichJupyterWidget  # noqa: E402
from traitlets.config import Config  # noqa: E402

from sketchforge.modeling.session import Session  # noqa: E402

BANNER = """\
Sketchforge console (Python {python}). `session` is the open document; everything it does can be undone.
    session.box((40, 30, 20))              # a new body; returns its name, e.g. 'body1'
    session.extrude("body1", "top", 5)     # push the top face up by 5 mm
    session.history, session.bodies        # the steps and the bodies they make
    session.undo(); session.redo()
    session.sketch.add_stroke([[u, v], ...])   # draw in the window's view (pixels); shows at once
    session.interpret(); session.accept()  # read what is drawn, take the proposal shown
    session.modes(), session.backend("cad").configure(network="standard")
    help(session)                          # everything else
"""


class ConsoleDock(QDockWidget):
    """A dock holding an IPython console whose namespace has `session` in it."""

    executed = Signal(bool)  # a cell finished; True when it raised no exception

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__("Console", parent)
        self.setObjectName("console")
        self.session = session
        # ipykernel 7 warns on every history request qtconsole sends to an in-process kernel; nothing to act on.
        warnings.filterwarnings("ignore", message="For consistency across implementations",
                                category=PendingDeprecationWarning, module="ipykernel.kernelbase")
        config = Config()
        config.HistoryManager.hist_file = ":memory:"  # the app's commands stay out of the user's IPython history
        self.kernel_manager = QtInProcessKernelManager(config=config)
        self.kernel_manager.start_kernel()
        self.kernel = self.kernel_manager.kernel
        shell = self.kernel.shell
        shell.banner1 = ""
        shell.enable_tip = False
        shell.push({"session": session})
        self.kernel_client = self.kernel_manager.client()
        self.kernel_client.start_channels()

        self.widget = RichJupyterWidget(parent=self)
        self.widget.banner = BANNER.format(python=platform.python_version())
        self.widget.kernel_manager = self.kernel_manager
        self.widget.kernel_client = self.kernel_client
        self.widget.executed.connect(self._on_executed)
        self.widget.exit_requested.connect(lambda _w: self.hide())  # `exit` closes the dock, not the app
        self.setWidget(self.widget)

    # -- running code -------------------------------------------------------------------------
    def execute(self, code: str, wait: bool = True, timeout_ms: int = 30000) -> bool | None:
        """Run `code` as if typed at the prompt; with `wait`, return once its output is shown.

        Returns True when the code ran without an exception, False when it raised (the traceback
        is in the console), None when not waiting or when it did not finish within `timeout_ms`.
        """
        if not wait:
            self._when_ready(lambda: self.widget.execute(code))
            return None
        result: list[bool] = []
        loop = QEventLoop()
        timer = QTimer(singleShot=True)
        timer.timeout.connect(loop.quit)
        timer.start(timeout_ms)
        while self._starting() and timer.isActive():
            loop.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 20)

        def finished(ok: bool) -> None:
            result.append(ok)
            loop.quit()

        self.executed.connect(finished)
        try:
            self.widget.execute(code)
            if not result and timer.isActive():
                loop.exec()
        finally:
            self.executed.disconnect(finished)
            timer.stop()
        # The reply comes after the output on the same queue; one more pass draws the new prompt.
        loop.processEvents()
        return result[0] if result else None

    def _starting(self) -> bool:
        """True until the console has talked to its kernel once; code sent before then is dropped."""
        return bool(getattr(self.widget, "_starting", False))

    def _when_ready(self, call) -> None:
        if self._starting():
            QTimer.singleShot(20, lambda: self._when_ready(call))
        else:
            call()

    def output(self) -> str:
        """The console's text as shown (prompts, output and tracebacks)."""
        return self.widget._control.toPlainText()

    def push(self, variables: dict) -> None:
        """Bind more names in the console's namespace."""
        self.kernel.shell.push(variables)

    def _on_executed(self, msg: dict) -> None:
        self.executed.emit(msg.get("content", {}).get("status") == "ok")

    # -- closing ------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the kernel and its IO thread (when the window closes); safe to call twice."""
        if self.kernel_manager.kernel is None:
            return
        shell = self.kernel.shell
        self.kernel_client.stop_channels()
        self._cancel_iopub_gc()
        self.kernel_manager.shutdown_kernel()
        if shell is not None:
            shell.history_manager.end_session()
            # The in-process shell is a process-wide singleton: drop it so a new console starts clean.
            type(shell).clear_instance()

    def _cancel_iopub_gc(self) -> None:
        """Cancel the IO thread's housekeeping task inside its own loop before the loop stops.

        ipykernel cancels it after the loop has stopped, so Python reports "Task was destroyed but it
        is pending!" on stderr when the app exits.
        """
        iopub = self.kernel.iopub_thread
        task = getattr(iopub, "_event_pipe_gc_task", None)
        if task is not None and iopub.thread is not None and iopub.thread.is_alive():
            done = threading.Event()

            def cancel() -> None:
                task.cancel()
                done.set()
            iopub.io_loop.add_callback(cancel)
            done.wait(1.0)
