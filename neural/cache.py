"""FLOP counts kept on disk, so that a reading reports them without counting them again.

Torch's `FlopCounterMode` is exact but slow to start: its first use imports torch's compiler stack
(about two seconds on this project's 2-core machine), which is most of a one-off
`sketchforge interpret`. A count depends only on the weight file and what was counted (a canvas
size, a number of points), so it is kept per weight file, keyed by the file's sha256, in

    $SKETCHFORGE_CACHE/flops/<sha256>.json      (SKETCHFORGE_CACHE set)
    $XDG_CACHE_HOME/sketchforge/flops/...       (else, XDG_CACHE_HOME set)
    ~/.cache/sketchforge/flops/...              (else)

as JSON (`{"format": "sketchforge.flops", "version": 1, "torch": "2.x", "counts": {key: n}}`),
never unpickled, written atomically. A file that cannot be read, is damaged, or was counted by
another torch version is ignored (and replaced on the next count); a cache folder that cannot be
written only means counting again next time.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

FORMAT = "sketchforge.flops"
VERSION = 1


def cache_dir() -> Path:
    """The user's cache folder for Sketchforge (SKETCHFORGE_CACHE, else the XDG cache folder)."""
    own = os.environ.get("SKETCHFORGE_CACHE")
    if own:
        return Path(own).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "sketchforge"


def _torch_version() -> str:
    import torch  # the counts come from torch's counter; a new version may count differently
    return str(torch.__version__)


class FlopCache:
    """The FLOP counts of one weight file, by what was counted (e.g. "canvas=64")."""

    def __init__(self, weights: str | Path) -> None:
        self.weights = Path(weights)
        self._digest: str | None = None
        self._counts: dict[str, int] | None = None  # what the file held when first read, plus new counts
        self._lock = threading.Lock()

    def __reduce__(self):  # copies (a deep-copied network) start afresh, without the lock
        return (FlopCache, (self.weights,))

    @property
    def digest(self) -> str:
        """sha256 of the weight file (hex), worked out once."""
        if self._digest is None:
            from .training import file_digest
            self._digest = file_digest(self.weights)
        return self._digest

    @property
    def path(self) -> Path:
        return cache_dir() / "flops" / f"{self.digest}.json"

    def count(self, key: str, counter: Callable[[], int]) -> int:
        """The count kept under `key`, or `counter()` (then kept for the next process)."""
        with self._lock:
            if self._counts is None:
                self._counts = self._read()
            if key in self._counts:
                return self._counts[key]
        n = int(counter())
        with self._lock:
            self._counts[key] = n
            self._write()
        return n

    def _read(self) -> dict[str, int]:
        """The counts in the cache file; empty when there is none or it is damaged or stale."""
        try:
            path = self.path
            if not path.is_file():
                return {}
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # ValueError: bad JSON or bytes that are no UTF-8
            log.info("the FLOP cache could not be read (%s); counting again", exc)
            return {}
        counts = data.get("counts") if isinstance(data, dict) else None
        if (not isinstance(counts, dict) or data.get("format") != FORMAT or data.get("version") != VERSION
                or data.get("torch") != _torch_version()):
            log.info("the FLOP cache %s is damaged or from another version; counting again", path)
            return {}
        return {k: v for k, v in counts.items()
                if isinstance(k, str) and type(v) is int and v >= 0}

    def _write(self) -> None:
        from sketchforge.modeling.files import atomic_write_bytes
        try:
            path = self.path
            path.parent.mkdir(parents=True, exist_ok=True)
            merged = {**self._read(), **(self._counts or {})}  # another process may have added counts
            payload = {"format": FORMAT, "version": VERSION, "torch": _torch_version(),
                       "weights": self.weights.name, "counts": dict(sorted(merged.items()))}
            atomic_write_bytes(path, json.dumps(payload, indent=1).encode())
        except OSError as exc:
            log.info("the FLOP cache could not be written (%s); the counts are made again next time", exc)
