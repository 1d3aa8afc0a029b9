"""The cad interpretation under ways of drawing the synthetic sets do not vary: the same held-out
sketches redrawn as a person might, through the same back end the app and `sketchforge interpret`
use.

    .venv/bin/python benchmarks/bench_cad_drawing.py [--test data/test] [--items 320] [--weights W]

Variants of every sketch (the model, camera and truth stay as they are):

- `as drawn`: the sketch as stored;
- `reversed`: every stroke drawn from its other end;
- `shuffled`: the strokes in a random order;
- `split`: every stroke of six or more points lifted once at a random point (two strokes);
- `merged`: a stroke that starts where the previous one ended (within 3 px) continues it;
- `canvas 512`: the canvas four times larger (the points scaled with it, the camera unchanged);
- `wide canvas`: a 16:9 canvas with the same view in its middle;
- `sparse`: every third point kept (points 6-9 px apart at 128 px, coarser than a mouse).

Per variant: the share of items whose top proposal is the recorded operation, whose top
proposal's class is right, and whose applied top proposal reaches volume IoU >= 0.95. The items
are the first `--items / 8` of each of the first eight shards, so every operation class is in.
Writes benchmarks/results/cad_drawing.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import write  # noqa: E402
from sketchforge.neural.cad.backend import CadBackend  # noqa: E402
from sketchforge.neural.cad.evaluate import IOU_OK, _session_for, interpret_item, records  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("as drawn", "reversed", "shuffled", "split", "merged", "canvas 512", "wide canvas", "sparse")


def redraw(sketch: dict, variant: str, rng: np.random.Generator) -> dict:
    """The sketch JSON redrawn as `variant` (see the module notes)."""
    sk = copy.deepcopy(sketch)
    strokes = sk["strokes"]
    if variant == "reversed":
        for s in strokes:
            s["points"] = s["points"][::-1]
    elif variant == "shuffled":
        sk["strokes"] = [strokes[i] for i in rng.permutation(len(strokes))]
    elif variant == "split":
        out = []
        for s in strokes:
            p = s["points"]
            if len(p) >= 6:
                k = int(rng.integers(2, len(p) - 2))
                out += [{"points": p[:k + 1]}, {"points": p[k:]}]
            else:
                out.append(s)
        sk["strokes"] = out
    elif variant == "merged":
        out = [strokes[0]]
        for s in strokes[1:]:
            gap = np.linalg.norm(np.subtract(out[-1]["points"][-1][:2], s["points"][0][:2]))
            if gap < 3.0:
                out[-1] = {"points": out[-1]["points"] + s["points"][1:]}
            else:
                out.append(s)
        sk["strokes"] = out
    elif variant == "canvas 512":
        f = 512.0 / sk["canvas"]["width"]
        sk["canvas"] = {"width": 512, "height": int(round(sk["canvas"]["height"] * f))}
        for s in strokes:
            s["points"] = [[q[0] * f, q[1] * f] + list(q[2:]) for q in s["points"]]
    elif variant == "wide canvas":
        w, h = sk["canvas"]["width"], sk["canvas"]["height"]
        wide = int(round(h * 16 / 9))
        sk["canvas"] = {"width": wide, "height": h}
        for s in strokes:
            s["points"] = [[q[0] + (wide - w) / 2.0, q[1]] + list(q[2:]) for q in s["points"]]
    elif variant == "sparse":
        for s in strokes:
            p = s["points"]
            s["points"] = p[::3] + ([p[-1]] if (len(p) - 1) % 3 else [])
    elif variant != "as drawn":
        raise ValueError(f"unknown variant {variant!r}")
    return sk


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--test", type=Path, default=ROOT / "data" / "test")
    ap.add_argument("--items", type=int, default=320)
    ap.add_argument("--weights", type=Path, default=None,
                    help="the network measured (default the standard one, which these figures describe)")
    a = ap.parse_args()
    shards = records(a.test)
    per = max(1, a.items // 8)
    recs = [r for shard in shards[:8] for r in shard[:per]][:a.items]
    backend = CadBackend(a.weights) if a.weights is not None else CadBackend(network="standard")
    t0 = time.perf_counter()
    out = {}
    for variant in VARIANTS:
        rng = np.random.default_rng(0)
        rows, cache = [], None
        for rec in recs:
            key = json.dumps(rec["history"], sort_keys=True)
            if cache is None or cache[0] != key:
                cache = (key, _session_for(rec["history"]))
            rows.append(interpret_item(backend, cache[1], {**rec, "sketch": redraw(rec["sketch"], variant, rng)}))
        out[variant] = {
            "items": len(rows),
            "top1_op_accuracy": round(float(np.mean([r["op_ok"] for r in rows])), 4),
            "top1_class_accuracy": round(float(np.mean([r["class_ok"] for r in rows])), 4),
            "iou95_top1": round(float(np.mean([r["iou_top1"] >= IOU_OK for r in rows])), 4),
            "errors": int(sum(r["error"] is not None for r in rows)),
        }
        print(variant, out[variant], flush=True)
    path = write("cad_drawing", {
        "command": "python benchmarks/bench_cad_drawing.py " + " ".join(sys.argv[1:]),
        "what": "the test sketches redrawn as a person might (reversed, shuffled, split, merged strokes; "
                "other canvases; sparse points), interpreted by the cad back end",
        "test": str(a.test), "weights": str(a.weights or backend.weights), "variants": out,
        "seconds": round(time.perf_counter() - t0, 1)})
    print("wrote", path)


if __name__ == "__main__":
    main()
