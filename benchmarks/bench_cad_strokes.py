"""The CAD network's stroke stage on held-out sets: pieces read as drawn and as if drawn in another
order and direction.

    .venv/bin/python benchmarks/bench_cad_strokes.py [--sets data/test,data/test-messy]
        [--weights assets/cad/cadnet.safetensors] [--stages S1,S2] [--seeds 3]

For each set the image network reads every item once (`strokes_train.piece_table`); each stage
then reads the pieces:

- as drawn: labelled pixels under pieces whose role is right (pixel-weighted, as the training
  validates), beside the image network's own pixel accuracy on the same items;
- reordered: every sketch's strokes in a random order and each stroke drawn the other way round
  (`strokes_train.reorder` with probability 1; the image network's reading does not depend on the
  order, so only the stage's features change), mean over `--seeds` random draws.

Writes benchmarks/results/cad_strokes.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sketchforge.neural.cad.backend import WEIGHTS  # noqa: E402
from sketchforge.neural.cad.net import load_model  # noqa: E402
from sketchforge.neural.cad.strokeroles import load_stage, stroke_stage_path  # noqa: E402
from sketchforge.neural.cad.strokes_train import piece_accuracy, piece_table, reorder  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", default=f"{ROOT / 'data' / 'test'},{ROOT / 'data' / 'test-messy'}")
    ap.add_argument("--weights", type=Path, default=WEIGHTS)
    ap.add_argument("--stages", default="", help="stage files (default: the one beside --weights)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "cad_strokes.json")
    a = ap.parse_args()
    torch.set_num_threads(2)
    stages = [Path(s) for s in a.stages.split(",") if s] or [stroke_stage_path(a.weights)]
    cnn, _ = load_model(a.weights)
    cnn = cnn.to(memory_format=torch.channels_last)
    t0 = time.perf_counter()
    res = {"benchmark": "cad_strokes", "when": time.strftime("%Y-%m-%d %H:%M"),
           "machine": {"cpu_count": torch.get_num_threads(), "python": platform.python_version()},
           "weights": str(a.weights), "sets": {}}
    for root in [Path(s) for s in a.sets.split(",") if s]:
        table = piece_table(cnn, root)
        entry = {"items": int(len(table["items"])), "pieces": int(len(table["labels"])), "stages": {}}
        for path in stages:
            model, extra = load_stage(path)
            drawn = piece_accuracy(model, table)
            shuffled = []
            for seed in range(a.seeds):
                t = dict(table)
                t["feats"] = reorder(table["feats"], table["offsets"], np.random.default_rng(seed), 1.0)
                shuffled.append(piece_accuracy(model, t)["piece_pixel_acc"])
            entry["network_pixel_acc"] = drawn["network_pixel_acc"]
            entry["stages"][str(path)] = {
                "reorder_in_training": extra.get("settings", {}).get("reorder", 0.0),
                "as_drawn": drawn["piece_pixel_acc"], "as_drawn_per_class": drawn["per_class"],
                "reordered": round(float(np.mean(shuffled)), 4), "reordered_each_seed": shuffled}
            print(f"{root.name}: {path.name}: as drawn {drawn['piece_pixel_acc']:.4f}, reordered "
                  f"{np.mean(shuffled):.4f} (image network {drawn['network_pixel_acc']:.4f})", flush=True)
        res["sets"][root.name] = entry
    res["seconds"] = round(time.perf_counter() - t0, 1)
    a.out.write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
