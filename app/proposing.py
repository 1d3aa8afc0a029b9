"""The window's proposal commands: interpreting the sketch, showing, cycling, accepting and
dismissing proposals, and part suggestions.

A mixin of `MainWindow`: the pending proposals live in `session.sketch` (Qt-free, seen by the
console too); the window reads the sketch in a worker, works out what each proposal changes (added
and removed material, for the ghost) there, and offers the result on the GUI thread.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QObject, Qt

from sketchforge.modeling.contract import Cancelled, PartSuggester
from sketchforge.modeling.sketch import Sketch

from . import paths

log = logging.getLogger(__name__)


class ProposalCommands:
    """Proposal commands of the main window (see the module's doc)."""

    # -- part suggestions (declared by a mode: `ModeSpec.part_suggestions`) ----------------------------
    def suggest_parts(self) -> bool:
        """Ask the mode's back end for part strokes like the last ones drawn (in a worker)."""
        spec = self.mode_spec()
        if spec is None or not spec.part_suggestions:
            self.show_message("Part suggestions are for face mode: pick 'face' as the mode first")
            return False
        if not self.sketch.strokes:
            self.show_message("Draw an eye, brow, nose, mouth or ear first, then ask for suggestions (G)")
            return False
        backend = self.session.backend(self.mode)
        assert isinstance(backend, PartSuggester)
        sketch = self.sketch.to_sketch()
        part = self.suggestion_panel.part
        revision = self.sketch.revision

        def done(result) -> None:
            if self.sketch.revision != revision:
                return  # drawn on meanwhile
            self.suggestion_dock.show()
            self.suggestion_dock.raise_()
            self.suggestion_panel.show_result(result)
            self.show_message(f"{len(result.candidates)} {result.part} suggestions: click one to take it")

        return self.run_job("Suggesting part strokes", lambda progress: backend.suggest(sketch, 5, part), done,
                            lambda msg: self.show_message(f"No suggestions: {msg}", error=True), queue=False)

    def _suggestion_highlighted(self, row: int) -> None:
        result = self.suggestion_panel.result
        if result is not None and 0 <= row < len(result.candidates):
            self.viewport.set_ghost_strokes(result.candidates[row][1])

    def take_suggestion(self, row: int) -> bool:
        """Put suggestion `row` in place of the strokes it was read from."""
        result = self.suggestion_panel.result
        if result is None or not 0 <= row < len(result.candidates):
            return False
        self._taking_suggestion = True
        try:
            self.sketch.replace_strokes(result.replaces, result.candidates[row][1])
        finally:
            self._taking_suggestion = False
        self.suggestion_panel.show_result(None)
        self.viewport.set_ghost_strokes(None)
        self.show_message(f"Took the {result.part} suggestion {row + 1}")
        if self.act_live.isChecked():
            self._live_timer.start()
        return True

    # -- proposals -----------------------------------------------------------------------------------
    @property
    def proposals(self) -> list:
        return list(self.sketch.proposals)

    @property
    def proposal_index(self) -> int:
        return self.sketch.index

    def interpret_now(self) -> bool:
        return self.interpret()

    def interpret(self, live: bool = False) -> bool:
        """Ask the current mode's back end for proposals (in a worker); preview the best."""
        spec = self.session.modes().get(self.mode)
        prompted = spec is not None and spec.prompt != "none" and bool((self.sketch.prompt or "").strip())
        if not self.sketch.strokes and (live or not prompted):  # a prompt alone may re-color (points)
            if not live:
                self.show_message("Draw some strokes first (pen tool: P)")
            return False
        if self._backend_or_none() is None:
            self.show_message(f"No back end is registered for mode '{self.mode}': nothing can interpret "
                              "this sketch yet", error=True)
            return False
        if self.jobs.busy:
            if not live:  # asked for while the last request still runs: say so, and read the sketch after it
                self.show_message("Still working on the last request: the sketch is read when it is done")
            self._live_timer.start()
            return False
        sketch = self.sketch.to_sketch()
        revision = self.sketch.revision
        state = self.session.document.state
        session = self.session

        def job(progress):
            try:
                result = session.interpret(sketch, offer=False, progress=progress)
            except Cancelled:
                return None
            return result, _previews(result, state, progress), state, revision

        return self.jobs.run("Interpreting", job, self._proposals_ready,
                             lambda msg: self.show_message(f"Interpretation failed: {msg}", error=True))

    def _proposals_ready(self, answer) -> None:
        if answer is None:
            self.show_message("Cancelled: nothing changed")
            return
        result, previews, state, revision = answer
        self._report = result.report
        if state is not self.session.document.state or revision != self.sketch.revision:
            return  # the model or the sketch changed meanwhile: stale
        self._previews, self._previews_of = previews, result
        if not result.proposals:
            self.sketch.dismiss()
            self.viewport.set_ghost(None)
            hint = result.hint or "Nothing recognised in the sketch"
            self.show_message(hint[:1].upper() + hint[1:] + result.report.summary(), error=True)
            return
        self.sketch.offer(result)

    def _show_proposal(self) -> None:
        p = self.sketch.current
        if p is None:
            self.viewport.set_ghost(None)
            return
        offered = self.sketch.interpretation
        if offered is not self._previews_of and offered is not self._previewing:
            self._preview_offered(offered)  # offered from the console: work out the changes first
        i, n = self.sketch.index, len(self.sketch.proposals)
        preview = self._previews[i] if offered is self._previews_of and i < len(self._previews) else None
        label = f"{i + 1}/{n}  {p.title}"
        if preview is None:
            self.viewport.set_ghost(None, label, confidence=float(p.score))
        elif isinstance(preview, Exception):
            self.viewport.set_ghost(None, label + "  — does not apply", confidence=float(p.score))
        else:
            added = {k: c.added for k, c in preview.items() if c.added is not None}
            removed = {k: c.removed for k, c in preview.items() if c.removed is not None}
            self.viewport.set_ghost(added, label, removed=removed, confidence=float(p.score))
        sure = " · unsure reading: check it, or draw more" if p.weak else ""
        note = self._report.summary() if self._report is not None else ""
        self.show_message("Tab: next proposal · Enter: accept · Esc: dismiss" + sure + note)

    def _preview_offered(self, offered) -> None:
        """Work out what the proposals of an interpretation offered elsewhere (the console) change."""
        state = self.session.document.state
        self._previewing = offered

        def done(previews) -> None:
            self._previewing = None
            if self.sketch.interpretation is offered and state is self.session.document.state:
                self._previews, self._previews_of = previews, offered
                self._report = offered.report
                self._show_proposal()

        def failed(message: str) -> None:
            self._previewing = None
            self.show_message(f"The proposals could not be previewed: {message}", error=True)

        self.run_job("Previewing", lambda progress: _previews(offered, state, progress), done, failed)

    def next_proposal(self) -> None:
        if self.sketch.proposals:
            self.sketch.next()

    def accept_proposal(self) -> bool:
        p = self.sketch.current
        if p is None:
            return False
        if self.jobs.busy:
            self.show_message(f"Still working on {self.jobs.title.lower()}: accept when it is done")
            return False
        preview = (self._previews[self.sketch.index]
                   if self.sketch.interpretation is self._previews_of and self.sketch.index < len(self._previews)
                   else None)
        if isinstance(preview, Exception):
            self.show_message(f"This proposal does not apply: {preview}", error=True)
            return False
        sketch = self.sketch.to_sketch()

        def done(_):
            self.session.tidy_sketch()
            self.viewport.set_ghost(None)
            self._keep_sketch(sketch)
            self.show_message(f"Applied {p.title}")

        return self.jobs.run(f"Applying {p.title}", lambda progress: self.session.accept(p, tidy_sketch=False),
                             done, lambda msg: self.show_message(f"Could not apply: {msg}", error=True))

    def dismiss_proposals(self) -> None:
        if self.sketch.dismiss():
            self.show_message("Proposals dismissed")
        self.viewport.set_ghost(None)

    def _keep_sketch(self, sketch: Sketch) -> None:
        """Every accepted sketch is written beside the recovery copies, so a session can be replayed."""
        folder = paths.app_home() / "sketches"
        folder.mkdir(exist_ok=True)
        n = len(list(folder.glob("*.sketch.json")))
        try:
            sketch.save(folder / f"{n + 1:05d}.sketch.json")
        except OSError as exc:
            log.warning("could not keep the sketch: %s", exc)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.viewport and event.type() == QEvent.Type.KeyPress and self.sketch.proposals \
                and not self.viewport.walking:
            key = event.key()
            if key == Qt.Key.Key_Tab:
                self.next_proposal()
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.accept_proposal()
                return True
            if key == Qt.Key.Key_Escape:
                self.dismiss_proposals()
                return True
        return super().eventFilter(obj, event)


def _previews(result, state, progress) -> list:
    """What each proposal changes on `state` ({body: Change}), or the exception it raises there."""
    from sketchforge.modeling.change import changes
    previews: list = []
    for k, p in enumerate(result.proposals):
        progress(k, len(result.proposals))
        try:
            previews.append(changes(state.bodies, p.apply_to(state).bodies))
        except Exception as exc:  # noqa: BLE001 - a proposal that does not apply is shown as such
            previews.append(exc)
    return previews
