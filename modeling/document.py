"""The document: an ordered history of operations and the bodies it regenerates to.

Bodies are immutable values and every step's state is kept, so an undo step is a pair of tuple
references and editing step k regenerates only steps k and later. Every change is all-or-nothing:
when any step fails, the document keeps its previous history, states and undo stack.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

from .bodies import Body
from .events import Signal
from .operations import ModelState, Operation, OperationError, blob_key


class Cancelled(OperationError):
    """The user cancelled a long change; the document stays as it was."""


Progress = Callable[[int, int], bool]  # (done, total) -> keep going?


@dataclass(frozen=True)
class _Snapshot:
    history: tuple[Operation, ...]
    states: tuple[ModelState, ...]  # states[k] is the model after k steps; states[0] is empty


class Document:
    """Bodies plus the ordered history of operations that made them, with undo and redo."""

    def __init__(self, importers: Any = None) -> None:
        self._blobs: dict[str, bytes] = {}
        self._empty = ModelState(MappingProxyType({}), MappingProxyType(self._blobs), importers)
        self._snap = _Snapshot((), (self._empty,))
        self._undo: list[tuple[str, _Snapshot]] = []
        self._redo: list[tuple[str, _Snapshot]] = []
        self.changed = Signal()  # emitted with a short description of what changed

    @classmethod
    def from_history(cls, history: Sequence[Operation], blobs: Mapping[str, bytes] | None = None,
                     progress: Progress | None = None, importers: Any = None) -> "Document":
        """A new document regenerated from `history`, with an empty undo stack."""
        doc = cls(importers)
        doc.replace_history(history, blobs, progress)
        doc._undo.clear()
        return doc

    # -- reading --------------------------------------------------------------------------------
    @property
    def history(self) -> tuple[Operation, ...]:
        return self._snap.history

    @property
    def state(self) -> ModelState:
        return self._snap.states[-1]

    @property
    def bodies(self) -> Mapping[str, Body]:
        return self.state.bodies

    @property
    def revision(self) -> object:
        """An opaque token that changes with every change, undo and redo (for a dirty marker)."""
        return self._snap

    @property
    def blobs(self) -> Mapping[str, bytes]:
        return MappingProxyType(self._blobs)

    def state_after(self, step: int) -> ModelState:
        """The model right after history step `step` (0-based); -1 gives the empty model."""
        if not -1 <= step < len(self.history):
            raise IndexError(f"step {step} does not exist; the history has {len(self.history)} steps")
        return self._snap.states[step + 1]

    def new_body_id(self, prefix: str = "body") -> str:
        """A body name not used anywhere in the history."""
        used = {getattr(op, "body", None) for op in self.history}
        k = 1
        while f"{prefix}{k}" in used:
            k += 1
        return f"{prefix}{k}"

    # -- changing -------------------------------------------------------------------------------
    def add_blob(self, data: bytes) -> str:
        """Keep a file's bytes in the document (for imports); returns their key."""
        key = blob_key(data)
        self._blobs.setdefault(key, bytes(data))
        return key

    def apply(self, op: Operation, result: ModelState | None = None,
              blobs: Mapping[str, bytes] | None = None) -> ModelState:
        """Append `op` to the history; raises OperationError and changes nothing if it fails.

        `result` is the state `op` gives on the current state when the caller already has it (a
        proposal checked by its back end); the kernel then does not run again. `blobs` is data the
        operation reads (a proposal's mesh): it is kept in the document only when `op` applies."""
        blobs = dict(blobs or {})
        for key, data in blobs.items():
            if blob_key(data) != key:
                raise OperationError("the data handed with the operation is damaged (its key does not match)")
        if result is None:
            result = op.apply(self.state.with_blobs(blobs))
        for data in blobs.values():
            self.add_blob(data)
        # the new state reads blobs from the document's own store, like every other state
        new = result
        if result.blobs is not self._empty.blobs or result.importers is not self._empty.importers:
            new = dataclasses.replace(result, blobs=self._empty.blobs, importers=self._empty.importers)
        self._commit(f"{op.describe()}", _Snapshot(self.history + (op,), self._snap.states + (new,)))
        return new

    def edit(self, step: int, op: Operation, progress: Progress | None = None) -> None:
        """Replace step `step` with `op` (new parameters) and regenerate everything after it.

        `progress(done, total)` is called between steps; returning False cancels (`Cancelled`).
        """
        self._check_step(step)
        history = self.history[:step] + (op,) + self.history[step + 1:]
        self._commit(f"Edit {op.describe()}", self._regenerate(history, step, progress))

    def delete(self, step: int, progress: Progress | None = None) -> None:
        """Remove step `step`; refused when a later step depends on it."""
        self._check_step(step)
        history = self.history[:step] + self.history[step + 1:]
        try:
            snap = self._regenerate(history, step, progress)
        except Cancelled:
            raise
        except OperationError as exc:
            raise OperationError(f"cannot delete step {step + 1} ({self.history[step].describe()}): "
                                 f"a later step depends on it — {exc}") from None
        self._commit(f"Delete {self.history[step].describe()}", snap)

    def roll_back(self, step: int) -> None:
        """Drop every step after `step` (-1 empties the history); undo brings them back."""
        if not -1 <= step < len(self.history):
            raise IndexError(f"step {step} does not exist; the history has {len(self.history)} steps")
        snap = _Snapshot(self.history[:step + 1], self._snap.states[:step + 2])
        self._commit(f"Roll back to step {step + 1}", snap)

    def replace_history(self, history: Sequence[Operation], blobs: Mapping[str, bytes] | None = None,
                        progress: Progress | None = None) -> None:
        """Regenerate a whole history (opening a file, running a script); all or nothing, undoable."""
        old_blobs = dict(self._blobs)
        if blobs:
            self._blobs.update(blobs)
        try:
            snap = self._regenerate(tuple(history), 0, progress)
        except OperationError:
            self._blobs.clear()
            self._blobs.update(old_blobs)
            raise
        self._commit("Load history", snap)

    def regenerate(self) -> tuple[ModelState, ...]:
        """Recompute every state from the history alone (checks that the model is reproducible)."""
        return self._regenerate(self.history, 0).states

    # -- undo -----------------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_text(self) -> str | None:
        return self._undo[-1][0] if self._undo else None

    @property
    def redo_text(self) -> str | None:
        return self._redo[-1][0] if self._redo else None

    def undo(self) -> bool:
        if not self._undo:
            return False
        label, snap = self._undo.pop()
        self._redo.append((label, self._snap))
        self._snap = snap
        self.changed.emit(f"Undo {label}")
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        label, snap = self._redo.pop()
        self._undo.append((label, self._snap))
        self._snap = snap
        self.changed.emit(f"Redo {label}")
        return True

    # -- internals ------------------------------------------------------------------------------
    def _check_step(self, step: int) -> None:
        if not 0 <= step < len(self.history):
            raise IndexError(f"step {step} does not exist; the history has {len(self.history)} steps")

    def _regenerate(self, history: tuple[Operation, ...], start: int,
                    progress: Progress | None = None) -> _Snapshot:
        states = list(self._snap.states[:start + 1])
        for k in range(start, len(history)):
            if progress is not None and progress(k - start, len(history) - start) is False:
                raise Cancelled("cancelled; the model is as it was")
            try:
                states.append(history[k].apply(states[-1]))
            except OperationError as exc:
                raise OperationError(f"step {k + 1} ({history[k].describe()}) fails: {exc}") from None
        return _Snapshot(history, tuple(states))

    def _commit(self, label: str, snap: _Snapshot) -> None:
        self._undo.append((label, self._snap))
        self._redo.clear()
        self._snap = snap
        self.changed.emit(label)

