"""The window's Cloud menu: re-color a point cloud, sample it again, show its parts by color,
split it into its parts and make a mesh from it.

A mixin of `MainWindow`. The commands act on the current cloud: the only one, or the one the
latest step of the history made or changed; the dialogs offer the others. Every change of the
model goes through the `Session` in the window's worker, one undo step each, and a failure leaves
the model as it was with the reason in the status bar. Show parts changes only the picture.

The session's re-color and sampling take no progress callback yet, so Cancel stops them only
before they begin; one cancelled later is finished, and the status bar says that Undo takes it
back.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from PySide6.QtWidgets import QDialog

from sketchforge.modeling.bodies import PointCloudBody
from sketchforge.modeling.contract import Cancelled

from .cloud_dialogs import MESH_METHODS, MeshDialog, RecolorDialog
from .viewport.parts import parts_present

NO_CLOUD = "Make a point cloud first: pick the points mode, draw an object and type what it is"
CHANGING = ("recolor", "resample", "split_parts", "mesh_cloud")  # the Cloud commands that change the model


class CloudCommands:
    """Cloud commands of the main window (see the module's doc)."""

    cloud_dialog: QDialog | None = None  # the Cloud dialog open now, if any

    # -- which cloud ---------------------------------------------------------------------------------
    def clouds(self) -> dict[str, PointCloudBody]:
        """The model's point clouds by name, in the model's order."""
        return {k: b for k, b in self.session.bodies.items() if isinstance(b, PointCloudBody)}

    def current_cloud(self) -> str | None:
        """The cloud the commands act on: the only one, else the one the latest step made or changed
        (the last in the model when no step names one); None with no cloud."""
        clouds = self.clouds()
        if len(clouds) <= 1:
            return next(iter(clouds), None)
        for op in reversed(self.session.history):
            if op.body in clouds:
                return op.body
        return list(clouds)[-1]

    def _cloud_or_say(self) -> str | None:
        body = self.current_cloud()
        if body is None:
            self.show_message(NO_CLOUD)
        return body

    def _update_cloud_actions(self) -> None:
        """The commands that change the model need a cloud and no running job; Show parts only needs a
        cloud (it changes no model), and stays on hand while it is on so it can be turned off."""
        a = self.actions_by_name
        has = bool(self.clouds())
        for name in CHANGING:
            a[name].setEnabled(has and not self.jobs.busy)
        a["show_parts"].setEnabled(has or a["show_parts"].isChecked())

    # -- re-color ------------------------------------------------------------------------------------
    def recolor_dialog(self) -> RecolorDialog | None:
        """Ask for a prompt and the parts to re-color (none: all); OK re-colors in the worker."""
        body = self._cloud_or_say()
        if body is None:
            return None
        dialog = RecolorDialog(self.clouds(), body, self)
        dialog.accepted.connect(lambda: self.recolor_cloud(*dialog.values()))
        return self._open_dialog(dialog)

    def recolor_cloud(self, body: str, prompt: str, parts: Sequence[str] = ()) -> bool:
        """New colors for the cloud `body` from `prompt` (only for the points of `parts` when given),
        every point kept where it is."""
        prompt = prompt.strip()
        if not prompt:
            self.show_message('Type the new colors first, as in "a bright blue chair with black legs"', error=True)
            return False
        parts = tuple(parts)
        what = body + (f" ({', '.join(parts)})" if parts else "")
        session = self.session
        return self._cloud_job(f"Re-coloring {what}", lambda p: session.recolor(body, prompt, parts, progress=p),
                               lambda op: f'Re-colored {what}: "{prompt}"', f"Could not re-color {body}")

    # -- sample again --------------------------------------------------------------------------------
    def resample_cloud(self) -> bool:
        """Sample the current cloud again from the sketch it was drawn as, with the next seed, in
        place of the old one (one undo step)."""
        body = self._cloud_or_say()
        if body is None:
            return False
        session = self.session
        return self._cloud_job(f"Sampling {body} again", lambda p: session.resample(body, progress=p),
                               lambda op: f"Sampled {body} again (seed {op.seed}): Undo brings the last one back",
                               f"Could not sample {body} again")

    # -- show parts ----------------------------------------------------------------------------------
    def show_parts(self, on: bool = True) -> None:
        """Draw the clouds whose parts are known in one color per part, with a legend, or (off) in
        their own colors; the model does not change."""
        action = self.actions_by_name["show_parts"]
        if on and not self.clouds():
            on = False
            self.show_message(NO_CLOUD)
        if action.isChecked() != on:
            action.blockSignals(True)
            action.setChecked(on)
            action.blockSignals(False)
        rows = self.viewport.show_parts(on)
        self._update_cloud_actions()
        if not on:
            if self.clouds():
                self.show_message("The clouds in their own colors")
        elif rows:
            self.show_message(f"Parts by color: {', '.join(name for name, _ in rows)} (the model is unchanged)")
        else:
            self.show_message("No cloud here knows its parts (a cloud drawn in the points mode does)")

    # -- split ---------------------------------------------------------------------------------------
    def split_cloud(self) -> bool:
        """Put one cloud per part in place of the current cloud (one undo step)."""
        body = self._cloud_or_say()
        if body is None:
            return False
        names = [f"{body}-{name}" for name in parts_present(self.clouds()[body])]
        session = self.session
        return self._cloud_job(f"Splitting {body}", lambda p: session.apply("split_parts", body=body),
                               lambda op: f"Split {body} into {len(names)} clouds: {', '.join(names)}",
                               f"Could not split {body}")

    # -- mesh ----------------------------------------------------------------------------------------
    def mesh_dialog(self) -> MeshDialog | None:
        """Ask for the meshing method and detail; OK makes the mesh in the worker."""
        body = self._cloud_or_say()
        if body is None:
            return None
        dialog = MeshDialog(self.clouds(), body, self)
        dialog.accepted.connect(lambda: self.mesh_cloud(*dialog.values()))
        return self._open_dialog(dialog)

    def mesh_cloud(self, body: str, method: str = "poisson", depth: int = 7) -> bool:
        """A colored mesh through the points of cloud `body`, added beside it as a new body."""
        target = self._free_name(f"{body}-mesh")
        how = dict(MESH_METHODS).get(method, method).split(" (")[0].lower()
        session = self.session
        return self._cloud_job(f"Meshing {body}",
                               lambda p: session.apply("mesh_cloud", body=body, target=target, method=method,
                                                     depth=int(depth)),
                               lambda op: f"Meshed {body} ({how}) as {target}; the cloud stays beside it",
                               f"Could not mesh {body}")

    # -- helpers -------------------------------------------------------------------------------------
    def _free_name(self, stem: str) -> str:
        bodies = self.session.bodies
        if stem not in bodies:
            return stem
        k = 2
        while f"{stem}{k}" in bodies:
            k += 1
        return f"{stem}{k}"

    def _open_dialog(self, dialog: QDialog) -> QDialog:
        """Show a Cloud dialog without blocking the window (kept as `cloud_dialog` while open)."""
        if self.cloud_dialog is not None:
            self.cloud_dialog.reject()
        self.cloud_dialog = dialog
        dialog.finished.connect(lambda _result: self._dialog_closed(dialog))
        dialog.open()
        return dialog

    def _dialog_closed(self, dialog: QDialog) -> None:
        if self.cloud_dialog is dialog:
            self.cloud_dialog = None
        dialog.deleteLater()

    def _cloud_job(self, title: str, work: Callable[[Any], Any], said: Callable[[Any], str], failing: str) -> bool:
        """Run `work(progress)` (a change of the model through the session; the sampling ones report
        their steps to `progress` and stop when it says so) in the worker; `said(operation)` is the
        status bar's report, `failing` the start of the message when it fails."""
        def job(progress) -> tuple[Any, bool]:
            if not progress(0, 0):
                return None, False
            try:
                op = work(progress)
            except Cancelled:
                return None, False
            return op, not progress(1, 1)

        def done(answer: tuple[Any, bool]) -> None:
            op, late = answer
            if op is None:
                self.show_message("Cancelled: nothing changed")
                return
            text = said(op)
            self.show_message(text + (" (it was done before the cancel came; Undo takes it back)" if late else ""))

        return self.run_job(title, job, done,
                            lambda msg: self.show_message(f"{failing} (nothing changed): {msg}", error=True))
