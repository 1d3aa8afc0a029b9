"""Atomic writes: a temp file beside the target, fsync, rename, so a crash never leaves half a file.

The temp file is named `.NAME.PID.RANDOM.tmp` after the writing process; a process killed
mid-write leaves it behind, and the next write to the same target removes it once that process
is gone.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_npz(path: Path, arrays: dict) -> None:
    """Numpy arrays as one compressed .npz archive (read back with allow_pickle=False), atomically."""
    import numpy as np

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    atomic_write(path, write)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp_path)` and move the result onto `path` atomically; on error nothing changes."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {folder} does not exist; create it or pick another place to save")
    remove_stale_temps(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OSError(f"cannot create a file in the folder {folder} ({exc.strerror or exc}); "
                      "pick another place to save") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def remove_stale_temps(path: Path) -> list[Path]:
    """Remove the temp files of earlier writes to `path` whose writing process no longer runs (a
    crash or kill -9 mid-save); returns those removed. Temp files of running writers stay."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d{{1,10}})\.[A-Za-z0-9_]+\.tmp")
    removed: list[Path] = []
    try:
        names = [entry.name for entry in os.scandir(folder)]
    except OSError:
        return removed
    for name in names:
        match = pattern.fullmatch(name)
        if match is None or _running(int(match.group(1))):
            continue
        stale = folder / name
        try:
            stale.unlink()
        except OSError as exc:
            log.debug("could not remove the stale temp file %s: %s", stale, exc)
            continue
        removed.append(stale)
    return removed


def _running(pid: int) -> bool:
    """Whether process `pid` exists (where that cannot be told, assume it does)."""
    if os.name != "posix":
        return True  # no harmless existence test there (os.kill would end the process)
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # another user's process, or a pid no process can have
        return True
    return True


def _mode_for(path: Path) -> int:
    """The permissions the written file gets: the replaced file's own, or for a new file what the
    umask gives any new file (the private temp file's 0600 would otherwise stick)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask
