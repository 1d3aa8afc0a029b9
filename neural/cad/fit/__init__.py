"""Parameter fitting: from the networks' reading of a sketch to CAD operations with parameters.

The networks say which operation class a sketch shows, which face it attaches to (a heat map) and
the role of every stroke pixel (base, profile, offset). This package turns that into operations
the document can apply (research/sketch2cad.md, "Parameter fitting"; the curves a person draws
per operation are those of `neural.synth.curves`):

1. Strokes: each sketch stroke, scaled to the render size, is resampled and split into runs of
   one role by the role map at its points (a smoothed per-point vote), so a stroke drawn through
   from a base curve into a profile line still reads correctly.
2. Stitching face: the heat map is voted over the face-id render; the faces it covers best are
   the candidates.
3. Base curves are lifted onto the face plane (ray-plane intersection) and fitted there: a polygon
   (corners from the convex hull, sides by total least squares, near-rectangles snapped to right
   angles and to the face frame, near-regular 5/6-gons made regular) or a circle (algebraic fit).
4. Distance, sign, path: profile strokes start on the base curve; where their far end lies fixes
   a first estimate (closest point between the line along the direction of growth and the ray
   through the far end), and a search then minimises the image-space chamfer distance between the
   candidate's projected profile and offset curves and the profile / offset strokes (a grid, then
   a compass search; sweeps try straight and arc paths going out and in). Where the base is half
   hidden, the offset strokes carried back along the first path are fitted with it.
5. Bevel: the two base lines lie on the faces beside an edge; the edge is the one between the
   stitching faces nearest the strokes, and each set-back is the distance of the lifted line
   from the edge (chamfer; equal set-backs and a fillet as alternatives).
6. Every candidate is applied to the current state (failures are dropped) and scored by the class
   probability times a fit quality: its fitting cost, the image chamfer of all strokes against
   the projected edges of the result and the candidate's own curves, and a penalty for the part
   of those curves that would be visible over the result but that no stroke of its role draws.

Numpy in, numpy out; the document is never changed. One module per idea: `inputs` (what the
networks give), `runs` (step 1), `state` (what one fit shares, step 2), `geometry2d` and `view`
(the 2-D kit and the camera), `profiles` and `rails` (steps 3 and 4), the fitters `prism` (extrude,
add / subtract), `bevel` and `sweep`, and `ranking` (step 6, `fit_proposals`); `tuning` holds the
tolerances and priors.
"""

from __future__ import annotations

from ...labels import CLASS_NAMES
from .inputs import BASE, NONE, OFFSET, PROFILE, NetOutputs, rasterise_sketch
from .ranking import fit_proposals
from .runs import Run, polyline_runs, stroke_runs

__all__ = ["BASE", "CLASS_NAMES", "NONE", "NetOutputs", "OFFSET", "PROFILE", "Run", "fit_proposals",
           "polyline_runs", "rasterise_sketch", "stroke_runs"]
