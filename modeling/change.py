"""What a proposal changes: the material it adds and the material it removes, for the ghost preview.

For two solids the change is read with the kernel's booleans (`SolidBody.cut` both ways), so a
pocket shows as the pocket's own volume rather than as the whole part again. Meshes and point
clouds have no booleans: a new one is all added and the old one all removed. Bodies are immutable
values, so a body that is the same object in both states has not changed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Mapping

from .bodies import Body, KernelError, SolidBody

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """The material one body gains (`added`) and loses (`removed`) between two states; None where
    there is none."""

    added: Body | None
    removed: Body | None

    @property
    def empty(self) -> bool:
        """True when nothing is added and nothing removed."""
        return self.added is None and self.removed is None


NO_CHANGE = Change(None, None)


def change_between(before: Body | None, after: Body | None) -> Change:
    """The material `after` holds that `before` did not (added) and the reverse (removed).

    None for `before` is a body that did not exist (all of `after` is added), None for `after` a
    body that is gone. Two solids are compared with kernel cuts; where the kernel cannot cut them
    the whole bodies stand for the change, as they do for meshes and point clouds.
    """
    if before is after:
        return NO_CHANGE
    if before is None:
        return Change(after, None)
    if after is None:
        return Change(None, before)
    if isinstance(before, SolidBody) and isinstance(after, SolidBody):
        try:
            return Change(after.cut(before), before.cut(after))
        except KernelError as exc:
            log.debug("the change is shown as whole bodies: %s", exc)
    return Change(after, before)


def changes(before_state_bodies: Mapping[str, Body], after_state_bodies: Mapping[str, Body]) -> dict[str, Change]:
    """The change of every body that is not the same object in both states (new and deleted bodies
    included), keyed by body id in the order the states list them."""
    names = list(before_state_bodies) + [n for n in after_state_bodies if n not in before_state_bodies]
    out: dict[str, Change] = {}
    for name in names:
        before, after = before_state_bodies.get(name), after_state_bodies.get(name)
        if before is not after:
            out[name] = change_between(before, after)
    return out
