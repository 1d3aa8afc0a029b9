"""`sketchforge-eval-face`: how close the heads made from held-out sketches come to the truth.

    sketchforge-eval-face --data data/faces-test [--items 256] [--maps W] [--implicit W]
                          [--grid 65] [--no-symmetry] [--out R.json] [--quiet]

Every item of a face dataset made with `--mesh-sample 1` is read as a user's sketch would be (its
sketch file through `frame.FaceFrame`), and four heads are made from it:

    coarse          the coarse stage alone (every stroke, as the back end reads them:
                    sketch -> maps -> implicit -> marching cubes)
    implicit_only   the implicit network on the refined maps, marching cubes (no IDGMM)
    depth_only      the coarse mesh with IDGMM's depth-guided step alone (depth back-projection)
    idgmm           the coarse mesh refined by IDGMM (steps 1-3) with the whole sketch

Each is carried back to the head frame (head units: the head is about 2 tall) and compared with
the item's ground-truth mesh (`heads.mesh_head`, stored with the dataset):

    chamfer_l2      mean squared distance to the nearest point, both ways, summed, on
                    `SAMPLES` points sampled by area on each mesh (pytorch3d's definition)
    normal_consistency  mean |cos| between a sample's normal and its nearest neighbour's, the
                    mean of both ways (1 = every normal agrees)
    fscore_1pct     F-score of the two samples at 1% of the true mesh's bounding-box diagonal
    volume_iou      intersection over union of the insides, on `VOLUME_POINTS` uniform points in
                    the two meshes' joint bounding box (truth: the exact field; result: Open3D's
                    ray-parity occupancy)
    seconds         per variant: the time the variant adds to what it needs (coarse: sketch to
                    mesh; the others: their refinement of the coarse mesh)

The JSON holds the settings, per-variant means / medians (and p50 / p95 of seconds), per-variant
figures per head variant, and each item's figures.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from sketchforge.modeling.files import atomic_write_bytes
from sketchforge.modeling.sketch import Sketch

from ..commands import Parser, run_command
from ..sheets import write_png
from ..synth.reading import DataError
from .dataset import FaceConfig, read_face_manifest, read_face_records, read_mesh, shard_name
from .frame import FaceFrame, head_units_frame
from .heads import HeadParams, head_sdf
from .meshops import chamfer, fscore, sample_points
from .reconstruct import GRID, FaceModel, HeadMesh, ReconstructionError, cast_front, raycasting_scene

__all__ = ["SAMPLES", "VOLUME_POINTS", "VARIANTS", "mesh_figures", "evaluate", "picture", "shade_mesh", "main"]

PROG = "sketchforge-eval-face"
SAMPLES = 20000
VOLUME_POINTS = 200000
VARIANTS = ("coarse", "implicit_only", "depth_only", "idgmm")
FIGURES = ("chamfer_l2", "normal_consistency", "fscore_1pct", "volume_iou")


def mesh_figures(vertices: np.ndarray, triangles: np.ndarray, true_vertices: np.ndarray, true_triangles: np.ndarray,
                 params: HeadParams, seed: int = 0) -> dict[str, float]:
    """The four figures (module docstring) of a mesh against the truth, both in head units."""
    gen = torch.Generator().manual_seed(seed)
    pa, na = sample_points(torch.from_numpy(np.asarray(vertices, np.float64)),
                           torch.from_numpy(np.asarray(triangles, np.int64)), SAMPLES, gen)
    pb, nb = sample_points(torch.from_numpy(np.asarray(true_vertices, np.float64)),
                           torch.from_numpy(np.asarray(true_triangles, np.int64)), SAMPLES, gen)
    ch = chamfer(pa, pb, na, nb)
    diag = float(np.linalg.norm(true_vertices.max(0) - true_vertices.min(0)))
    f, _, _ = fscore(pa, pb, 0.01 * diag)
    lo = np.minimum(vertices.min(0), true_vertices.min(0))
    hi = np.maximum(vertices.max(0), true_vertices.max(0))
    pts = lo + np.random.default_rng(seed).random((VOLUME_POINTS, 3)) * (hi - lo)
    inside_true = head_sdf(params, pts) < 0
    inside = _occupancy(vertices, triangles, pts)
    union = np.count_nonzero(inside | inside_true)
    return {"chamfer_l2": float(ch["l2"]), "normal_consistency": float(1.0 - 0.5 * float(ch["normal"])),
            "fscore_1pct": float(f), "volume_iou": float(np.count_nonzero(inside & inside_true) / max(union, 1))}


def _occupancy(vertices: np.ndarray, triangles: np.ndarray, points: np.ndarray) -> np.ndarray:
    import open3d as o3d
    occ = raycasting_scene(vertices, triangles).compute_occupancy(o3d.core.Tensor(points.astype(np.float32)))
    return occ.numpy() > 0.5


def _to_head(mesh: HeadMesh, s: float, c: np.ndarray) -> np.ndarray:
    return mesh.vertices / s + c


def evaluate(data: str | Path, model: FaceModel, items: int | None = None, symmetric: bool = True,
             progress: bool = True, part: tuple[int, int] = (0, 1)) -> dict:
    """The report (module docstring) of the first `items` items; `part` (k, n) takes every n-th
    of them from the k-th on (to split the work between processes; `merge` joins the reports)."""
    root = Path(data)
    try:
        manifest = read_face_manifest(root)
    except DataError:
        raise
    config = FaceConfig.from_json(manifest["config"])
    if config.mesh_sample != 1:
        raise DataError(f"{root} does not hold every item's true mesh; make the evaluation set with "
                        "`sketchforge-face-data generate ... --mesh-sample 1`")
    variant_names = manifest["variants"]
    total = config.items if items is None else min(items, config.items)
    rows = []
    seen = 0
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(range(part[0], total, part[1])), unit="head", desc="evaluating", dynamic_ncols=True)
    for k in range(config.shard_count):
        if seen >= total:
            break
        for rec in read_face_records(root / f"{shard_name(k)}.jsonl"):
            if seen >= total:
                break
            seen += 1
            if (seen - 1) % part[1] != part[0]:
                continue
            params = HeadParams.from_json(rec["head"])
            tv, tt = read_mesh(root / rec["mesh"])
            frame, strokes = FaceFrame.of_sketch(Sketch.from_json(rec["sketch"]))
            s, c = head_units_frame(frame)
            ink = frame.ink(strokes)
            row = {"item": rec["item"], "variant": rec["variant"]}
            try:
                coarse = model.coarse(ink, symmetric)  # as the back end: from every stroke
                meshes = {"coarse": coarse,
                          "implicit_only": model.implicit_only(ink, coarse, symmetric),
                          "depth_only": model.refine(ink, coarse, symmetric, implicit=False),
                          "idgmm": model.refine(ink, coarse, symmetric)}
            except ReconstructionError as exc:
                row["error"] = str(exc)
                rows.append(row)
                continue
            for name, mesh in meshes.items():
                figs = mesh_figures(_to_head(mesh, s, c), mesh.triangles, tv, tt, params, seed=int(rec["item"]))
                row[name] = {**figs, "seconds": mesh.seconds["total"], "vertices": int(len(mesh.vertices))}
            rows.append(row)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return report(str(root), rows, symmetric, model.grid, variant_names)


def report(data: str, rows: list[dict], symmetric: bool, grid: int, variant_names: list[str]) -> dict:
    rows = sorted(rows, key=lambda r: r["item"])
    return {"data": data, "items": len(rows), "symmetric": symmetric, "grid": grid,
            "summary": _summary(rows), "per_variant": {v: _summary([r for r in rows if r["variant"] == v])
                                                       for v in variant_names},
            "rows": rows}


def merge(reports: list[dict]) -> dict:
    """One report from the reports of the parts of one evaluation."""
    first = reports[0]
    return report(first["data"], [r for rep in reports for r in rep["rows"]], first["symmetric"], first["grid"],
                  list(first["per_variant"]))


def _summary(rows: list[dict]) -> dict:
    ok = [r for r in rows if "error" not in r]
    out: dict = {"items": len(rows), "failed": len(rows) - len(ok)}
    for v in VARIANTS:
        if not ok:
            break
        d = {}
        for f in FIGURES:
            vals = np.array([r[v][f] for r in ok])
            d[f] = {"mean": float(vals.mean()), "median": float(np.median(vals))}
        secs = np.array([r[v]["seconds"] for r in ok]) * 1000.0
        d["ms"] = {"p50": float(np.percentile(secs, 50)), "p95": float(np.percentile(secs, 95)),
                   "mean": float(secs.mean())}
        out[v] = d
    return out


# -- the picture -------------------------------------------------------------------------------------
def shade_mesh(vertices: np.ndarray, triangles: np.ndarray, turn_deg: float = 0.0, size: int = 192,
               half: float = 1.6, centre: tuple[float, float] = (0.0, 0.2)) -> np.ndarray:
    """A grey Lambert-shaded orthographic view (RGB uint8) of a head-frame mesh, turned about the
    vertical axis by `turn_deg` (0: from the front), `half` head units either side of `centre`."""
    a = np.radians(turn_deg)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    v = np.asarray(vertices, np.float64) @ rot.T
    axis = np.linspace(-half, half, size)
    gx, gy = np.meshgrid(axis + centre[0], -axis + centre[1])
    t, n = cast_front(v, triangles, gx, gy)
    t, n = t.ravel(), n.reshape(-1, 3)
    light = np.array([-0.35, 0.5, 0.8])
    light /= np.linalg.norm(light)
    shade = 0.3 + 0.65 * np.clip(n @ light, 0, 1)
    img = np.where(np.isfinite(t), 60 + 170 * shade, 250).reshape(size, size)
    return np.repeat(img[..., None], 3, axis=2).astype(np.uint8)


def picture(data: str | Path, model: FaceModel, out: str | Path, items: int = 6, symmetric: bool = True) -> Path:
    """A PNG of the first `items` held-out heads: the sketch as read, the IDGMM head (front and
    turned 40 degrees) and the truth (the same views)."""
    import cv2

    from ..sheets import tile_grid
    root = Path(data)
    tiles, labels = [], []
    records = read_face_records(root / f"{shard_name(0)}.jsonl")[:items]
    colors = np.array([[25, 25, 35], [225, 40, 30], [20, 160, 50]], np.float32)
    for rec in records:
        params = HeadParams.from_json(rec["head"])
        tv, tt = read_mesh(root / rec["mesh"])
        frame, strokes = FaceFrame.of_sketch(Sketch.from_json(rec["sketch"]))
        s, c = head_units_frame(frame)
        ink = frame.ink(strokes)
        mesh = model.refine(ink, model.coarse(ink, symmetric), symmetric)
        sk = np.full((ink.shape[1], ink.shape[2], 3), 255.0, np.float32)
        for ch in range(3):
            sk[ink[ch] > 0] = colors[ch]
        sk = cv2.resize(sk.astype(np.uint8), (192, 192), interpolation=cv2.INTER_NEAREST)
        v = mesh.vertices / s + c
        row = [sk, shade_mesh(v, mesh.triangles), shade_mesh(v, mesh.triangles, 40.0),
               shade_mesh(tv, tt), shade_mesh(tv, tt, 40.0)]
        tiles += row
        n = rec["item"]
        labels += [f"#{n} {rec['variant']} sketch", "IDGMM front", "IDGMM turned", "truth front", "truth turned"]
        del params
    sheet = tile_grid(tiles, labels, [("contour", (25, 25, 35)), ("ridge", (225, 40, 30)), ("valley", (20, 160, 50))],
                      5)
    return write_png(out, sheet)


def main(argv: list[str] | None = None) -> int:
    return run_command(PROG, lambda: _main(argv), (DataError, OSError, ValueError))


def _main(argv: list[str] | None) -> int:
    p = Parser(prog=PROG, description="Evaluate the sketch-to-head back end on a held-out face dataset.")
    p.add_argument("--data", required=True, type=Path, help="face dataset made with --mesh-sample 1")
    p.add_argument("--items", type=int, default=None)
    p.add_argument("--maps", default=None, help="maps network weights (default: the shipped ones)")
    p.add_argument("--implicit", default=None, help="implicit network weights (default: the shipped ones)")
    p.add_argument("--grid", type=int, default=GRID, help="marching-cubes grid points across the canvas")
    p.add_argument("--no-symmetry", action="store_true", help="do not mirror the head left-right")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=None, help="JSON report path")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    if a.items is not None and a.items < 1:
        raise DataError(f"--items must be at least 1, got {a.items}")
    if not 16 <= a.grid <= 256:
        raise DataError(f"--grid must be between 16 and 256, got {a.grid}")
    torch.set_num_threads(a.threads)
    model = FaceModel.load(a.maps, a.implicit, a.grid)
    t = time.perf_counter()
    report = evaluate(a.data, model, a.items, not a.no_symmetry, progress=not a.quiet)
    report["wall_seconds"] = round(time.perf_counter() - t, 1)
    report["threads"] = a.threads
    text = json.dumps(report, indent=1)
    if a.out is not None:
        atomic_write_bytes(a.out, (text + "\n").encode("utf-8"))
    summary = {k: v for k, v in report["summary"].items()}
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
