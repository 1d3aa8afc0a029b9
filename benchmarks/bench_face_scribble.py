"""How often the face back end refuses a scribble, and how often it wrongly refuses a head.

    .venv/bin/python benchmarks/bench_face_scribble.py [--heads data/faces-val] [--skip 0]
                                                       [--scribbles 100] [--seed 11]

The check is the back end's (`scribble.refusal`): the stroke signs and the shipped maps network's
reading of the plain strokes (symmetric, as the back end reads by default). Heads: the sketches of
`--heads` after the first `--skip` (the validation set by default: no network learned from it,
and the thresholds were set on test-set heads), the same heads drawn again with twice the stroke
perturbation, with 3-9 hair squiggles over the top of the head, and with hatched shading on the
cheeks. Scribbles: `--scribbles` of each kind of `scribble.SCRIBBLE_KINDS` with seed `--seed`
(the thresholds were set on seeds 0 and 3). Writes benchmarks/results/face_scribble.json: the
share refused per set, and which sign refused.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.common import write  # noqa: E402
from sketchforge.modeling.sketch import Sketch  # noqa: E402
from sketchforge.neural.face.dataset import read_face_records  # noqa: E402
from sketchforge.neural.face.heads import HeadParams  # noqa: E402
from sketchforge.neural.face.reconstruct import FaceModel  # noqa: E402
from sketchforge.neural.face.scribble import SCRIBBLE_KINDS, refusal, scribble_sketch, with_hair, with_shading  # noqa: E402
from sketchforge.neural.face.sketches import head_sketch  # noqa: E402
from sketchforge.neural.synth.strokes import StrokeStyle  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--heads", type=Path, default=ROOT / "data" / "faces-val")
    ap.add_argument("--skip", type=int, default=0)
    ap.add_argument("--scribbles", type=int, default=100)
    ap.add_argument("--seed", type=int, default=11)
    a = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    model = FaceModel.load()
    rng = np.random.default_rng(a.seed)
    records = [r for path in sorted(a.heads.glob("shard-*.jsonl")) for r in read_face_records(path)][a.skip:]
    sets: dict[str, list[Sketch]] = {"heads": [], "heads messier": [], "heads with hair": [], "heads shaded": []}
    for rec in records:
        sketch = Sketch.from_json(rec["sketch"])
        sets["heads"].append(sketch)
        sets["heads messier"].append(head_sketch(HeadParams.from_json(rec["head"]), rng, sketch.width,
                                                 StrokeStyle().stronger(2.0)).sketch)
        sets["heads with hair"].append(with_hair(sketch, rng))
        sets["heads shaded"].append(with_shading(sketch, rng))
    like = sets["heads"][0]
    for kind in SCRIBBLE_KINDS:
        sets[f"scribble: {kind}"] = [scribble_sketch(kind, rng, like) for _ in range(a.scribbles)]
    out = {}
    for name, sketches in sets.items():
        reasons = [refusal(model, s) for s in sketches]
        why = Counter(r.split("(")[1].split(")")[0] for r in reasons if r)
        out[name] = {"sketches": len(sketches), "refused": round(float(np.mean([r is not None for r in reasons])), 4),
                     "by_sign": dict(why)}
        print(f"{name:26s} {out[name]['refused']:.3f} of {len(sketches)}  {dict(why)}", flush=True)
    path = write("face_scribble", {
        "command": "python benchmarks/bench_face_scribble.py " + " ".join(sys.argv[1:]),
        "what": "share of sketches the face back end refuses as scribbles: held-out heads (clean, messier, "
                "with hair squiggles, shaded) should be 0, the scribbles (none of them a head) near 1; 'circles' is "
                "a pile of overlapping circles, which reads as an outline drawn many times",
        "heads": str(a.heads), "skip": a.skip, "seed": a.seed, "sets": out,
        "seconds": round(time.perf_counter() - t0, 1)})
    print("wrote", path)


if __name__ == "__main__":
    main()
