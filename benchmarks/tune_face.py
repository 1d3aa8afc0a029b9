"""How IDGMM's implicit step (step 2) was chosen: variants side by side on the tuning heads.

    .venv/bin/python benchmarks/tune_face.py [--data data/faces-tune2] [--items 256] [--workers 2]

The tuning heads are a face dataset of their own seed, never the test set's:

    sketchforge-face-data generate --out data/faces-tune2 --items 256 --seed 5 --size 256 --mesh-sample 1

For every head: the coarse mesh (every stroke), the refined maps from it, then step 2 in each
variant below followed by the shipped step 3, scored against the true mesh by Chamfer-L2 and
normal consistency (`evaluate.mesh_figures`' definitions, same samples per head). A variant is a
list of operations on the coarse mesh's vertices:

    ("i", s)   one implicit step: every vertex moves by -s * SDF along its smoothed normal
    ("s", l)   one uniform Laplacian smoothing step of weight l
    ("t", l)   a Taubin pair: a smoothing step of l, then one of -(l + 0.01)

The row `shipped` runs `FaceModel.implicit_update` itself. For each variant the JSON gives the
means and medians, and against depth back-projection alone (the coarse mesh with step 3 only,
the baseline IDGMM has to beat) the paired t statistic of the per-head differences of both
figures: how sure the lead is. Writes benchmarks/results/face_tune.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.common import write  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "a08_l0": [("i", 0.8)],
    "a10_l0": [("i", 1.0)],
    "a08_l15": [("i", 0.8), ("s", 0.15)],
    "a10_l15": [("i", 1.0), ("s", 0.15)],
    "a10_l3": [("i", 1.0), ("s", 0.3)],
    "a111_l3": [("i", 1.0)] * 3 + [("s", 0.3)],
    "s3_a10": [("s", 0.3), ("i", 1.0)],
    "a10_s3_a10": [("i", 1.0), ("s", 0.3), ("i", 1.0)],
    "a10_t3": [("i", 1.0), ("t", 0.3)],
    "s5_a10": [("s", 0.5), ("i", 1.0)],
    "a10_s5_a10": [("i", 1.0), ("s", 0.5), ("i", 1.0)],
}


def _records(data: Path) -> list[dict]:
    from sketchforge.neural.face.dataset import read_face_records
    out = []
    for shard in sorted(data.glob("shard-*.jsonl")):
        out += read_face_records(shard)
    return out


def _figures(vertices, triangles, true_v, true_t, seed: int) -> tuple[float, float]:
    from sketchforge.neural.face.evaluate import SAMPLES
    from sketchforge.neural.face.meshops import chamfer, sample_points
    gen = torch.Generator().manual_seed(seed)
    pa, na = sample_points(torch.from_numpy(np.asarray(vertices, np.float64)), torch.from_numpy(triangles), SAMPLES,
                           gen)
    pb, nb = sample_points(torch.from_numpy(np.asarray(true_v, np.float64)), torch.from_numpy(true_t), SAMPLES, gen)
    ch = chamfer(pa, pb, na, nb)
    return float(ch["l2"]), 1.0 - 0.5 * float(ch["normal"])


def _part(data: str, items: int, k: int, n: int) -> dict:
    from sketchforge.modeling.sketch import Sketch
    from sketchforge.neural.face.dataset import read_mesh
    from sketchforge.neural.face.frame import FaceFrame, head_units_frame
    from sketchforge.neural.face.meshops import laplacian_smooth, smoothed_normals
    from sketchforge.neural.face.reconstruct import FaceModel
    torch.set_num_threads(1)
    model = FaceModel.load()
    rows: dict[str, list] = {name: [] for name in ["coarse", "depth_only", "shipped", *VARIANTS]}
    for i, rec in enumerate(_records(Path(data))[:items]):
        if i % n != k:
            continue
        true_v, true_t = read_mesh(Path(data) / rec["mesh"])
        frame, strokes = FaceFrame.of_sketch(Sketch.from_json(rec["sketch"]))
        scale, centre = head_units_frame(frame)
        ink = frame.ink(strokes)
        coarse = model.coarse(ink, True)
        maps = model.refined_maps(ink, coarse, True)
        sdf = model._sdf_fn(maps, True)
        f = torch.from_numpy(coarse.triangles)
        meshes = {"coarse": coarse.vertices,
                  "depth_only": model.depth_update(coarse.vertices, coarse.triangles, maps),
                  "shipped": model.depth_update(model.implicit_update(coarse, maps, True), coarse.triangles, maps)}
        for name, ops in VARIANTS.items():
            v = coarse.vertices.copy()
            for op, a in ops:
                if op == "i":
                    normals = smoothed_normals(torch.from_numpy(v), f, iterations=2).numpy()
                    v = v - a * sdf(v).astype(np.float64)[:, None] * normals
                else:
                    v = laplacian_smooth(torch.from_numpy(v), f, lam=a, iterations=1).numpy()
                    if op == "t":
                        v = laplacian_smooth(torch.from_numpy(v), f, lam=-(a + 0.01), iterations=1).numpy()
            meshes[name] = model.depth_update(v, coarse.triangles, maps)
        for name, v in meshes.items():
            cd, nc = _figures(v / scale + centre, coarse.triangles, true_v, true_t, int(rec["item"]))
            rows[name].append((int(rec["item"]), rec["variant"], cd, nc))
        if k == 0:
            print(f"head {i + 1} of {items}", flush=True)
    return rows


def _t(d: np.ndarray) -> float:
    return float(d.mean() / max(d.std(ddof=1) / np.sqrt(len(d)), 1e-30))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "faces-tune2")
    ap.add_argument("--items", type=int, default=256)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    t0 = time.perf_counter()
    import multiprocessing as mp
    with mp.get_context("spawn").Pool(a.workers) as pool:
        parts = pool.starmap(_part, [(str(a.data), a.items, k, a.workers) for k in range(a.workers)])
    rows = {name: sorted(sum((p[name] for p in parts), [])) for name in parts[0]}
    base = np.array([r[2:] for r in rows["depth_only"]])
    summary = {}
    for name, r in rows.items():
        x = np.array([q[2:] for q in r])
        summary[name] = {"ops": VARIANTS.get(name), "chamfer_l2_mean": float(x[:, 0].mean()),
                         "chamfer_l2_median": float(np.median(x[:, 0])),
                         "normal_consistency_mean": float(x[:, 1].mean()),
                         "t_chamfer_vs_depth_only": _t(base[:, 0] - x[:, 0]) if name != "depth_only" else None,
                         "t_normal_vs_depth_only": _t(x[:, 1] - base[:, 1]) if name != "depth_only" else None}
    path = write("face_tune", {"data": str(a.data), "items": len(base), "summary": summary,
                               "wall_seconds": round(time.perf_counter() - t0, 1),
                               "rows": {k: v for k, v in rows.items()}})
    print(f"wrote {path}")
    for name, s in sorted(summary.items(), key=lambda kv: kv[1]["chamfer_l2_mean"]):
        t = "" if s["t_chamfer_vs_depth_only"] is None else \
            f"  t(CD) {s['t_chamfer_vs_depth_only']:5.2f}  t(NC) {s['t_normal_vs_depth_only']:5.2f}"
        print(f"{name:12s} CD-L2 {s['chamfer_l2_mean']:.6f}  median {s['chamfer_l2_median']:.6f}  "
              f"NC {s['normal_consistency_mean']:.4f}{t}")


if __name__ == "__main__":
    main()
