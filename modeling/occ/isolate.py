"""Kernel work on untrusted data in a child process: a crash inside OpenCascade (a segmentation
fault on a damaged file) ends the child, never the app or the command that asked.

The work is a module-level function `bytes -> bytes`; it may raise `ValueError` with a message
for the user, which comes back as a `ValueError` with the same message. A child that dies by a
signal or exits abnormally raises `ChildCrashed`; one that runs past its time is killed and
raises `ChildTimedOut`.

How a child is made (`run`'s `method`; `default_method` picks one):
- "fork": fork this process; the kernel is loaded already, so a child costs a few milliseconds.
  Only safe while no other thread runs Python: a thread inside OpenBLAS (numpy) when the fork
  happens makes the fork wait forever in OpenBLAS's own fork handler, freezing the caller.
  The default on Linux when the calling thread is the only one with Python frames (a command,
  a script); a Qt window always has a second one (its main thread sits in the event loop).
- "server": a helper interpreter, started on first use and kept until exit, forks one child per
  piece of work. The helper has one thread and has loaded nothing but the kernel, so forking
  there is safe. It costs one start (about as long as "spawn"), then a fork per piece of work.
  The default on Linux when other threads run Python (the window, its workers).
- "spawn" (where fork is missing or unsafe, as on macOS): a fresh interpreter per piece of work,
  the data on stdin and the answer on stdout; it loads the kernel each time.

A forked child only runs the work, writes its answer to a pipe and leaves with `os._exit`: it
never returns into the caller's stack, runs no atexit handler or finaliser, flushes none of the
parent's buffers, collects no garbage and takes no lock another thread may have held at the
fork. It also ends itself by SIGALRM shortly after its time is up, should its parent be gone.
"""

from __future__ import annotations

import atexit
import faulthandler
import gc
import importlib
import math
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from typing import Callable

Work = Callable[[bytes], bytes]

# One byte in front of a child's answer says what follows.
_RESULT, _USER_ERROR, _FAILURE = b"R", b"V", b"X"
_CHUNK = 1 << 16
_GRACE_S = 10.0  # beyond a child's time: for the helper to report, or for an orphan to end itself

# Helper protocol: request = header, work reference, data; reply = header, answer.
_REQUEST = struct.Struct("!IdQ")  # reference length, seconds allowed, data length
_REPLY = struct.Struct("!BiQ")    # 1 when timed out, exit code (negative: signal), answer length

# In the helper process: its request and reply pipes, which its children close.
_HELPER_FDS: tuple[int, ...] = ()

# Held from creating a child's pipe until the parent closed its end of it, so that a child forked
# by another thread meanwhile does not keep that pipe open (the reader would wait for its exit).
_FORK_LOCK = threading.Lock()


class ChildError(ValueError):
    """The child process gave no answer."""


class ChildCrashed(ChildError):
    """The child died by a signal or exited abnormally; `how` says which ("SIGSEGV", "exit status 3")."""

    def __init__(self, how: str):
        super().__init__(f"the child process ended with {how}")
        self.how = how


class ChildTimedOut(ChildError):
    """The child ran longer than `seconds` and was killed."""

    def __init__(self, seconds: float):
        super().__init__(f"the child process ran longer than {seconds:g} s and was stopped")
        self.seconds = seconds


class ChildFailed(ChildError):
    """The work raised something other than ValueError in the child (a programming error)."""


class ChildNotStarted(ChildError):
    """No child process could be made (the system is out of processes or memory)."""


def default_method() -> str:
    """'fork' for a caller alone in running Python, 'server' beside other threads (Linux, where
    fork is safe in a process without busy threads), 'spawn' elsewhere."""
    if not (sys.platform.startswith("linux") and hasattr(os, "fork")):
        return "spawn"
    alone = threading.active_count() == 1 and len(sys._current_frames()) == 1
    return "fork" if alone else "server"


def run(work: Work, data: bytes, timeout: float, method: str | None = None) -> bytes:
    """`work(data)` computed in a child process; see the module notes for what can come back."""
    if not timeout > 0:
        raise ValueError("the time limit of a child process must be positive")
    method = method or default_method()
    if method == "server":
        return _server_run(work, data, timeout)
    if method == "fork":
        try:
            timed_out, code, answer = _fork_and_wait(work, data, timeout)
        except OSError as exc:
            raise ChildNotStarted(f"no child process could be started ({exc.strerror or exc})") from None
        if timed_out:
            raise ChildTimedOut(timeout)
        return _unframe(answer, code)
    if method == "spawn":
        return _run_spawned(work, data, timeout)
    raise ValueError(f"unknown way to start a child process: {method!r} (use 'server', 'fork' or 'spawn')")


def shutdown() -> None:
    """Stop the helper process, if one runs (the next `run` starts a new one)."""
    global _SERVER
    with _SERVER_LOCK:
        if _SERVER is not None:
            _SERVER.stop()
            _SERVER = None


# --------------------------------------------------------------------------- answers


def _answer(work: Work, data: bytes) -> bytes:
    """The framed answer of `work(data)`, errors included."""
    try:
        return _RESULT + work(data)
    except ValueError as exc:
        return _USER_ERROR + " ".join(str(exc).split()).encode("utf-8", "replace")
    except BaseException as exc:  # reported to the parent, which raises ChildFailed
        return _FAILURE + f"{type(exc).__name__}: {exc}".encode("utf-8", "replace")


def _unframe(answer: bytes, exit_code: int) -> bytes:
    """The result in `answer`, or the error the child reported or died of."""
    if exit_code < 0:
        try:
            how = signal.Signals(-exit_code).name
        except ValueError:
            how = f"signal {-exit_code}"
        raise ChildCrashed(how)
    if exit_code != 0 or not answer:
        raise ChildCrashed(f"exit status {exit_code}" if exit_code else "no answer")
    tag, body = answer[:1], answer[1:]
    if tag == _RESULT:
        return body
    if tag == _USER_ERROR:
        raise ValueError(body.decode("utf-8", "replace"))
    if tag == _FAILURE:
        raise ChildFailed(body.decode("utf-8", "replace"))
    raise ChildCrashed("an unreadable answer")


def _reference(work: Work) -> str:
    return f"{work.__module__}:{work.__qualname__}"


def _resolve(reference: str) -> Work:
    module, _, name = reference.partition(":")
    found: object = importlib.import_module(module)
    for part in name.split("."):
        found = getattr(found, part)
    if not callable(found):
        raise TypeError(f"{reference} is not a function")
    return found  # type: ignore[return-value]


def _quiet_stdio() -> None:
    """Point stdin, stdout and stderr at the null device: kernel console messages and a crash
    report must not reach the terminal, and a child must not hold the helper's pipes."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _poll_ms(deadline: float) -> int | None:
    """Milliseconds a poll may wait until `deadline` (None: no end); TimeoutError once past it."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return None if math.isinf(left) else max(1, math.ceil(left * 1000))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view[:_CHUNK]):]


def _read(fd: int, deadline: float, size: int | None = None) -> bytes:
    """`size` bytes from `fd` (EOFError if the writer closes first), or with `size` None all it
    writes until it closes; TimeoutError past `deadline`."""
    import select

    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    chunks: list[bytes] = []
    got = 0
    while size is None or got < size:
        if not poller.poll(_poll_ms(deadline)):
            continue
        chunk = os.read(fd, _CHUNK if size is None else min(_CHUNK, size - got))
        if not chunk:
            if size is None:
                break
            raise EOFError
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


# --------------------------------------------------------------------------- fork


def _fork_and_wait(work: Work, data: bytes, timeout: float) -> tuple[bool, int, bytes]:
    """Fork a child that runs `work(data)`: (timed out, exit code, its framed answer)."""
    deadline = time.monotonic() + timeout
    with _FORK_LOCK:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            _forked_child(work, data, read_end, write_end, timeout)  # never returns
        os.close(write_end)
    try:
        answer = _read(read_end, deadline)
    except TimeoutError:
        _kill(pid)
        return True, -signal.SIGKILL, b""
    except BaseException:  # interrupted (Ctrl+C): the child must not outlive the wait
        _kill(pid)
        raise
    finally:
        os.close(read_end)
    return False, _exit_code(pid), answer


def _forked_child(work: Work, data: bytes, read_end: int, write_end: int, timeout: float) -> None:
    """The forked child's whole life: the work, the answer on the pipe, `os._exit`."""
    code = 70  # EX_SOFTWARE: the answer could not be written
    try:
        gc.disable()
        faulthandler.disable()
        _quiet_stdio()
        os.close(read_end)
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the child on Ctrl+C
            signal.signal(signal.SIGALRM, signal.SIG_DFL)  # the alarm ends the child even inside C++
            signal.setitimer(signal.ITIMER_REAL, timeout + _GRACE_S)
        except ValueError:
            pass
        for fd in _HELPER_FDS:
            os.close(fd)
        _write_all(write_end, _answer(work, data))
        code = 0
    finally:
        os._exit(code)


def _exit_code(pid: int) -> int:
    """The child's exit status (negative: the signal that ended it), once it has ended."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:  # someone else reaped it; its answer, if whole, still counts
        return 0
    return os.waitstatus_to_exitcode(status)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


# --------------------------------------------------------------------------- helper process


class _Server:
    """The helper interpreter that forks the children; one request at a time."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", __name__, "--serve"], bufsize=0,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.requests = self.proc.stdin.fileno()
        self.replies = self.proc.stdout.fileno()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def ask(self, reference: str, data: bytes, timeout: float) -> tuple[bool, int, bytes]:
        ref = reference.encode()
        _write_all(self.requests, _REQUEST.pack(len(ref), timeout, len(data)) + ref)
        _write_all(self.requests, data)
        deadline = time.monotonic() + timeout + _GRACE_S
        timed_out, code, size = _REPLY.unpack(_read(self.replies, deadline, _REPLY.size))
        return bool(timed_out), code, _read(self.replies, deadline, size)

    def stop(self) -> None:
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]  # the helper leaves when its input ends
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()  # type: ignore[union-attr]


_SERVER: _Server | None = None
_SERVER_LOCK = threading.Lock()
atexit.register(shutdown)


def _server_run(work: Work, data: bytes, timeout: float) -> bytes:
    global _SERVER
    with _SERVER_LOCK:
        for attempt in range(2):
            if _SERVER is None or not _SERVER.alive():
                if _SERVER is not None:
                    _SERVER.stop()
                try:
                    _SERVER = _Server()
                except OSError as exc:
                    _SERVER = None
                    raise ChildNotStarted(f"the helper process could not be started ({exc.strerror or exc})") from None
            try:
                timed_out, code, answer = _SERVER.ask(_reference(work), data, timeout)
                break
            except BrokenPipeError:  # the helper had gone away since its last answer: once more
                _SERVER.stop()
                _SERVER = None
                if attempt:
                    raise ChildCrashed("the helper process ending at start") from None
            except TimeoutError:
                _SERVER.stop()
                _SERVER = None
                raise ChildTimedOut(timeout) from None
            except EOFError:
                _SERVER.stop()
                _SERVER = None
                raise ChildCrashed("the helper process ending") from None
            except BaseException:  # interrupted: a half-read reply would garble the next one
                _SERVER.stop()
                _SERVER = None
                raise
    if timed_out:
        raise ChildTimedOut(timeout)
    return _unframe(answer, code)


def _serve() -> None:
    """The helper's loop: read a request, fork a child for it, reply with what came back."""
    global _HELPER_FDS
    requests, replies = os.dup(0), os.dup(1)
    _HELPER_FDS = (requests, replies)
    _quiet_stdio()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is for the app; the app stops us
    forever = float("inf")
    while True:
        try:
            ref_size, timeout, data_size = _REQUEST.unpack(_read(requests, forever, _REQUEST.size))
            reference = _read(requests, forever, ref_size).decode()
            data = _read(requests, forever, data_size)
        except EOFError:
            return
        try:
            timed_out, code, answer = _fork_and_wait(_resolve(reference), data, timeout)
        except Exception as exc:  # an unknown work, or no fork possible: the parent says so
            timed_out, code, answer = False, 0, _FAILURE + f"{type(exc).__name__}: {exc}".encode()
        _write_all(replies, _REPLY.pack(timed_out, code, len(answer)) + answer)


# --------------------------------------------------------------------------- spawn


def _run_spawned(work: Work, data: bytes, timeout: float) -> bytes:
    command = [sys.executable, "-m", __name__, _reference(work)]
    try:
        done = subprocess.run(command, input=data, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              timeout=timeout, check=False,
                              creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
    except subprocess.TimeoutExpired:
        raise ChildTimedOut(timeout) from None
    except OSError as exc:
        raise ChildNotStarted(f"no child process could be started ({exc.strerror or exc})") from None
    return _unframe(done.stdout, done.returncode)


def _spawned_child(reference: str) -> None:
    """The spawned child: the work applied to stdin, the framed answer on stdout."""
    answer_out = os.fdopen(os.dup(1), "wb")
    data = sys.stdin.buffer.read()
    _quiet_stdio()
    answer_out.write(_answer(lambda d: _resolve(reference)(d), data))
    answer_out.flush()
    os._exit(0)  # no kernel teardown at exit: the answer is out


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        _serve()
    else:
        _spawned_child(sys.argv[1])
