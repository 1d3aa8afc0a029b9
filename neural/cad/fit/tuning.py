"""The fitting's tolerances, limits and priors: kept in one place because they were tuned together
(pixel figures are given for REF_SIZE renders and scale with the render)."""

from __future__ import annotations

REF_SIZE = 128.0  # render size the pixel tolerances below are given for; they scale with the render
TRUNC_PX = 6.0  # a stroke point further than this from a predicted curve counts as this far
SIGMA_PX = 2.0  # fit quality exp(-fit_px / SIGMA_PX)
MIN_CLASS_PROB = 0.05  # classes below this (and below a tenth of the best) are not fitted
# A proposal's score weighs the network's class probability raised to this power against how well
# the fitted operation draws the strokes: below 1 the geometry gets more say where the network is
# confidently wrong (a slanted sweep read as an add). Chosen on the validation set (seed 2).
CLASS_POWER = 0.5
MIN_FACE_HEAT = 0.3  # mean heat over a face's pixels for it to be a stitching candidate
MAX_FACES = 2  # stitching faces tried per class
MAX_APPLY = 10  # candidates applied per sketch (each is a kernel boolean)
MAX_STROKE_POINTS = 4096  # resampled points per stroke (a 10,000-point scribble stays cheap)
MAX_COST_POINTS = 240  # stroke points per role that image costs are computed on
ENDPOINT_WEIGHT = 8.0  # a profile stroke's far end counts as this many stroke points
EXTRA_CORNER_PX = 0.12  # residual (px) a polygon with one more corner must save to be preferred
FULL_BASE = 0.9  # share of a profile's outline drawn by base strokes above which it is not refitted
STRAIGHT_BONUS = 0.1  # px of cost a path straight along the normal is preferred by
TYPICAL_WEIGHT = 0.01  # px per unit of |log(distance / typical)|: settles only what strokes leave open
FILLET_PRIOR = 0.8  # a fillet and a chamfer draw the same set-back lines; chamfers are more common
EQUAL_PRIOR = 0.9  # equal set-backs when the measured ones differ
BEVEL_EDGES = 3  # edges tried for a bevel, best ranked first
COVER_PX = 3.0  # a visible predicted curve further than this from strokes of its role is not drawn
COVER_WEIGHT = 2.0  # px added to the fit distance when none of the visible predicted curves is drawn
