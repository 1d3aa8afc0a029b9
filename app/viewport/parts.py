"""Colors by part, for the view that shows which points of a cloud belong to which part.

A fixed palette of clearly distinct colors, bright enough on the dark background, the most distinct
first; each part name prefers one of the first `CORE` of them (from a checksum of the name, so a
name keeps its color from one cloud and one session to the next) and takes the next free one when
another name shown already has it; the rest of the palette serves when more names are shown.
Points with no part are grey. The legend lists the parts shown with their colors.
"""

from __future__ import annotations

import zlib
from typing import Iterable, Mapping

import numpy as np

from sketchforge.modeling.bodies import Body, PointCloudBody

RGB = tuple[int, int, int]

PALETTE: tuple[RGB, ...] = (
    (230, 25, 75),    # red
    (60, 180, 75),    # green
    (255, 225, 25),   # yellow
    (40, 140, 230),   # blue
    (245, 130, 48),   # orange
    (170, 80, 230),   # purple
    (70, 240, 240),   # cyan
    (240, 50, 230),   # magenta
    (170, 110, 40),   # brown
    (0, 160, 150),    # teal
    (190, 240, 60),   # lime
    (250, 190, 212),  # pink
    (220, 190, 255),  # lavender
    (255, 250, 200),  # cream
    (150, 30, 30),    # maroon
    (170, 255, 195),  # mint
    (128, 128, 0),    # olive
    (255, 215, 180),  # apricot
)
CORE = 10
NO_PART: RGB = (120, 120, 120)
NO_PART_NAME = "(no part)"


def labelled_clouds(bodies: Iterable[Body]) -> list[PointCloudBody]:
    """The point clouds among `bodies` whose parts are known."""
    return [b for b in bodies if isinstance(b, PointCloudBody) and b.parts is not None]


def parts_present(cloud: PointCloudBody) -> list[str]:
    """The names of the parts that have points in `cloud`, sorted."""
    if cloud.parts is None:
        return []
    return sorted({cloud.part_names[i] for i in np.unique(cloud.parts) if i >= 0})


def part_colors(names: Iterable[str]) -> dict[str, RGB]:
    """One palette color for each name: distinct while there are no more names than colors."""
    ordered = sorted(set(names))
    colors: dict[str, RGB] = {}
    used: set[int] = set()
    n = CORE if len(ordered) <= CORE else len(PALETTE)
    for name in ordered:
        k = zlib.crc32(name.encode("utf-8")) % n
        while k in used and len(used) < n:
            k = (k + 1) % n
        used.add(k)
        colors[name] = PALETTE[k]
    return colors


def colors_by_part(cloud: PointCloudBody, colors: Mapping[str, RGB]) -> np.ndarray:
    """(N, 3) uint8: each point of `cloud` in its part's color (grey where it has none)."""
    table = np.array([colors.get(name, NO_PART) for name in cloud.part_names] + [NO_PART], np.uint8)
    return table[np.asarray(cloud.parts, np.int64)]  # label -1 picks the last row


def legend(bodies: Iterable[Body], colors: Mapping[str, RGB]) -> list[tuple[str, RGB]]:
    """(part name, color) of every part with points in the labelled clouds of `bodies`, sorted by
    name, with a last '(no part)' row when some of their points have none."""
    clouds = labelled_clouds(bodies)
    names = sorted({name for c in clouds for name in parts_present(c)})
    rows = [(name, colors.get(name, NO_PART)) for name in names]
    if any((c.parts < 0).any() for c in clouds):
        rows.append((NO_PART_NAME, NO_PART))
    return rows
