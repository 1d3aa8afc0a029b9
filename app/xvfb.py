"""A private X server (Xvfb) for the headless screenshot, the viewport tests and the viewport benchmark.

Imports no Qt: the caller runs its Qt program in a subprocess with DISPLAY set to the display given.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from typing import Iterator


class XvfbError(RuntimeError):
    """No X server could be started; the message says what to install."""


@contextmanager
def private_display(screen: str = "1280x1024x24", timeout: float = 15.0) -> Iterator[str]:
    """Start Xvfb on a free display (it picks the number itself) and yield ':N'; stop it afterwards."""
    xvfb, xdpyinfo = shutil.which("Xvfb"), shutil.which("xdpyinfo")
    if xvfb is None or xdpyinfo is None:
        raise XvfbError("Xvfb and xdpyinfo are needed and are not installed: run make setup")
    read_end, write_end = os.pipe()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([xvfb, "-displayfd", str(write_end), "-screen", "0", screen, "-nolisten", "tcp"],
                            pass_fds=(write_end,), stdout=log, stderr=log)
    os.close(write_end)
    try:
        number = b""
        deadline = time.monotonic() + timeout
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([read_end], [], [], 0.2)
            if ready:
                chunk = os.read(read_end, 16)
                if not chunk:
                    break
                number += chunk
        if not number.strip():
            raise XvfbError(f"Xvfb did not start: {_tail(log)}")
        display = f":{int(number)}"
        while subprocess.run([xdpyinfo, "-display", display], capture_output=True).returncode != 0:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise XvfbError(f"Xvfb on {display} does not answer: {_tail(log)}")
            time.sleep(0.1)
        yield display
    finally:
        os.close(read_end)
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _tail(log) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-2000:]
