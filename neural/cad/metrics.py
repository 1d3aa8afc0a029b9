"""Shape figures for evaluating interpretations: the volume IoU of two solids."""

from __future__ import annotations

from sketchforge.modeling.bodies import SolidBody
from sketchforge.modeling.occ import solids as kernel
from sketchforge.modeling.occ.solids import KernelError

_SAME = 1e-9  # relative volume difference below which a boolean left its argument unchanged


def volume_iou(a: SolidBody, b: SolidBody) -> float:
    """V(A ∩ B) / V(A ∪ B): 1 for the same solid, 0 for disjoint ones.

    The intersection is measured three ways with kernel booleans: V(A) - V(A - B),
    V(B) - V(B - A) and V(A) + V(B) - V(A ∪ B). Booleans of two nearly coincident solids (a fitted
    result against the recorded one) are where OpenCascade is least reliable, and it fails
    silently in two ways seen here: a union that comes back empty, and a cut that gives back its
    first argument unchanged. Readings showing either sign are set aside and the rest averaged;
    when every reading is set aside the solids do not overlap. Raises KernelError when no boolean
    can be made at all.
    """
    va, vb = a.volume, b.volume
    readings, made = [], 0
    for x, y, vx in ((a, b, va), (b, a, vb)):
        try:
            rest = SolidBody(kernel.cut(x.shape, y.shape)).volume
        except KernelError:
            continue
        made += 1
        if rest < vx * (1.0 - _SAME):  # the cut removed something
            readings.append(vx - rest)
    try:
        union = SolidBody(kernel.fuse(a.shape, b.shape)).volume
        made += 1
        if union >= max(va, vb) * (1.0 - _SAME):  # a union is never smaller than either solid
            readings.append(va + vb - union)
    except KernelError:
        pass
    if not made:
        raise KernelError("the kernel could not combine the two solids")
    if not readings:
        return 0.0
    inter = min(max(sum(readings) / len(readings), 0.0), min(va, vb))
    union = va + vb - inter
    return float(inter / union) if union > 0 else 0.0
