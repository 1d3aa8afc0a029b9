"""Knowing when it does not know: a calibrated refusal for face sketches.

The face networks turn anything into some head, so the back end reads the scribble signs of a
sketch (`scribble.scribble_signs`: how its strokes turn, overlap, fill and run straight, and how
surely the maps network sees a head in it and how much of that head's border is drawn) and a
logistic regression over them (`neural/refusal.py`) gives the probability that it is a head
sketch. The regression is fitted by `sketchforge-calibrate-face-refusal` on generated heads drawn
several ways (clean, messier, with hair squiggles, with hatched shading, the outline alone, the
first half of the strokes, as a person stops to look) against the scribbles of
`scribble.SCRIBBLE_KINDS`, its threshold set so that at most half a percent of those heads are
refused. The CAD refusal's scribbles (`neural/cad/refusal.py`) are another generator it never
sees: `benchmarks/bench_refusal.py` measures both. The weights ship as `assets/face/refusal.json`.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

from sketchforge.modeling.sketch import Sketch

from ..refusal import Refusal, fit_refusal
from .scribble import NO_HEAD, SCRIBBLE_KINDS, ScribbleSigns, scribble_sketch, with_hair, with_shading

__all__ = ["FEATURES", "FORMAT", "features", "reason", "load", "head_variants", "collect", "main"]

FEATURES = ("log_unsure", "log_undrawn", "turn", "overlap", "fill", "straight", "passes", "log_strokes", "loops")
SIGNS = (-1, -1, -1, -1, -1, -1, -1, -1, -1)  # every feature may only count against a head (`fit_refusal`)
FORMAT = "sketchforge.face-refusal"
REMAKE = "make it again with sketchforge-calibrate-face-refusal (see assets/face/MODEL_CARD.md)"
ADVICE = ("draw the head's outline from the front, then the eyes, nose and mouth inside it "
          "(in the window, Backspace takes the last stroke back)")
# what each feature says when it is the one that weighs most against a head
_WHY = {"log_unsure": "no head shape can be read from it", "log_undrawn": "the strokes do not outline a head",
        "turn": "the strokes keep turning back on themselves",
        "overlap": "the strokes go over each other again and again", "fill": "the ink fills the drawing's area",
        "straight": "it is mostly long straight lines", "passes": "the outline is drawn over and over",
        "log_strokes": "there are more strokes than a face has", "loops": "the outline is drawn over and over"}


def features(signs: ScribbleSigns) -> np.ndarray:
    """The regression's features (`FEATURES`) of a sketch's signs: logs where a sign spans decades."""
    return np.array([math.log(min(signs.unsure, NO_HEAD) + 1e-3), math.log(max(1.0 - signs.drawn_border, 0.0) + 1e-3),
                     min(signs.turn, 40.0), min(signs.overlap, 5.0), signs.fill, signs.straight,
                     min(signs.passes, 30.0), math.log1p(signs.strokes), min(signs.loops, 10)])


def reason(refusal: Refusal, signs: ScribbleSigns) -> str | None:
    """The message for the user when the refusal takes the sketch for a scribble (naming the sign
    that weighs most against a head), None when it is read as a head."""
    f = features(signs)
    if not refusal.refuses(f):
        return None
    z = (f - np.asarray(refusal.mean)) / np.asarray(refusal.std)
    worst = refusal.features[int(np.argmin(np.asarray(refusal.weights) * z))]
    return f"this looks like a scribble, not a face ({_WHY.get(worst, 'it reads as no head')}): {ADVICE}"


def load(path: str | Path) -> Refusal:
    """The face refusal file at `path` (ValueError saying how to make it again when it is not one)."""
    return Refusal.load(path, FORMAT, FEATURES, REMAKE)


def head_variants(rng: np.random.Generator, kind: str) -> dict[str, Sketch]:
    """One generated head of `kind` (human, cartoon, animal, horned) drawn the ways the refusal is
    fitted and measured on."""
    from ..synth.strokes import StrokeStyle
    from .heads import sample_head
    from .sketches import head_sketch
    params = sample_head(rng, kind)
    drawn = head_sketch(params, rng, 256)
    sk = drawn.sketch
    outline = tuple(i for i, s in enumerate(drawn.strokes) if drawn.curves[s.curve].silhouette)
    first = max(len(outline), len(sk.strokes) // 2)

    def some(idx) -> Sketch:
        return Sketch(sk.camera, sk.width, sk.height, tuple(sk.strokes[i] for i in idx), sk.mode, sk.prompt)

    return {"clean": sk, "messier": head_sketch(params, rng, 256, StrokeStyle().stronger(2.0)).sketch,
            "with hair": with_hair(sk, rng), "shaded": with_shading(sk, rng),
            "outline only": some(outline), "first half": some(range(first))}


HEAD_KINDS = ("human", "cartoon", "animal", "horned")


def signs_of(model, sketch: Sketch, symmetric: bool = True) -> ScribbleSigns:
    """The signs the back end reads for `sketch`, with the maps network of `model` (a `FaceModel`):
    the coarse stage's reading of every stroke, with no current head."""
    import torch

    from .frame import FaceFrame
    from .scribble import scribble_signs
    frame, strokes = FaceFrame.of_sketch(sketch)
    with torch.no_grad():
        mask = model.maps(frame.ink(strokes), None, symmetric)[0, 4].numpy()
    return scribble_signs(frame, strokes, mask)


def collect(model, heads: int, seed: int, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Features of `heads` generated heads (each drawn the six ways of `head_variants`) and of as
    many scribbles of each kind of `SCRIBBLE_KINDS` over them."""
    rng = np.random.default_rng(seed)
    real, fake = [], []
    t0 = time.perf_counter()
    for k in range(heads):
        variants = head_variants(rng, HEAD_KINDS[k % len(HEAD_KINDS)])
        real += [features(signs_of(model, v)) for v in variants.values()]
        fake += [features(signs_of(model, scribble_sketch(kind, rng, variants["clean"]))) for kind in SCRIBBLE_KINDS]
        if progress and (k + 1) % 25 == 0:
            print(f"{k + 1}/{heads} heads ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    return np.array(real), np.array(fake)


PROG = "sketchforge-calibrate-face-refusal"


def main(argv: list[str] | None = None) -> int:
    """sketchforge-calibrate-face-refusal: fit the face refusal on generated heads and scribbles."""
    from ..commands import run_command
    return run_command(PROG, lambda: _main(argv), (ValueError, OSError), interrupted="nothing was written")


def _main(argv: list[str] | None) -> int:
    import torch

    from ..commands import Parser, UsageError
    from .reconstruct import FaceModel
    ap = Parser(prog=PROG, description="Fit the face back end's refusal on generated heads and scribbles.")
    ap.add_argument("--heads", type=int, default=400, help="heads to generate (each drawn six ways; default 400)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the heads and scribbles")
    ap.add_argument("--max-refused", type=float, default=0.005, help="share of the heads the threshold may refuse "
                    "(default 0.005)")
    ap.add_argument("--out", type=Path, required=True, help="the refusal file to write (JSON)")
    a = ap.parse_args(argv)
    if a.heads < 10:
        raise UsageError("--heads must be at least 10")
    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    real, fake = collect(FaceModel.load(), a.heads, a.seed)
    r = fit_refusal(real, fake, FORMAT, FEATURES, a.max_refused, signs=SIGNS,
                    extra={"heads": a.heads, "seed": a.seed, "real": len(real), "scribbles": len(fake),
                           "variants": ["clean", "messier", "with hair", "shaded", "outline only", "first half"],
                           "scribble_kinds": list(SCRIBBLE_KINDS)})
    r.save(a.out)
    refused = np.mean([r.refuses(f) for f in real])
    caught = np.mean([r.refuses(f) for f in fake])
    print(f"wrote {a.out}: threshold {r.threshold:.3f}; on its own data {refused:.1%} of heads refused, "
          f"{caught:.1%} of scribbles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
