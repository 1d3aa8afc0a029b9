"""Game scenes from top-down sketches: the network reader against the rules alone, on held-out
procedural worlds drawn as the data draws them and drawn another way.

    .venv/bin/python benchmarks/bench_scene.py [--items 200] [--other 60] [--seed 2]
        [--weights assets/scene/layout.safetensors] [--picture]

Sets:
- "generator": items `make_item(item_seed(seed, i))` of a seed no training set used (the test
  seed 2), each world with the sketch the data generator draws of it;
- "another way": other worlds (seed 3) drawn by a hastier hand that leaves more out (the sketch
  style 2.2 times as messy) on canvases of another size (a third larger): the same kinds of map
  drawn with habits the network was not trained on;
- "other hand": other worlds (seed 4) drawn by a second hand written apart from the generator
  (`scene_other_hand.py`, its own stroke model and conventions: rivers as two banks, roads in
  dashes, forests as outlines or tree loops, buildings as squares or crosses, ridges as zigzags).

Figures per reader (network = the shipped layout network; rules = `rules.rules_layout`, the
baseline), the layout then assembled by `assemble.assemble` (seed 0):
- per-category IoU of the layout against the truth (`Layout.of_world` on the same grid), for
  water, road, forest and building;
- heightmap RMSE (m) of the layout's heights against the truth, both taken relative to their own
  mean (a sketch says where the ground rises, not at what altitude the map lies), beside that of a
  flat map (`height_rmse_flat_m`: the truth's own spread, what a reader that knew nothing scores);
- constraint rates of the assembled scene: trees standing in forest and on no water or road (on
  the scene's own lattice), buildings on ground of slope <= 10 degrees, road samples off bridges
  with grade <= 15%, river courses that never rise, lake cells at one level below their banks;
- reachability: the share of walkable land (dry lattice cells with slope <= 30 degrees; road
  and bridge cells count) in the largest 4-connected walkable region;
- a redrawn map (`--redraw` maps, one stroke erased, remade through the session): the share of the
  map remade, the old objects outside the remade region kept where they stood, the terrain's change
  outside it, and the seconds of the remake;
- triangles and draw calls of the scene body; seconds per scene (reading + assembly, one torch
  thread), p50 and p95, and the same for a 200 m x 200 m map.
Writes benchmarks/results/scene.json (and benchmarks/results/scene.png with --picture).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import write  # noqa: E402
from benchmarks.scene_other_hand import other_hand  # noqa: E402
from sketchforge.neural.scene.assemble import assemble  # noqa: E402
from sketchforge.neural.scene.cli import item_seed  # noqa: E402
from sketchforge.neural.scene.data import make_item  # noqa: E402
from sketchforge.neural.scene.layout import Layout  # noqa: E402
from sketchforge.neural.scene.rules import ground_rectangle, rules_layout  # noqa: E402
from sketchforge.neural.scene.sketching import SketchStyle, draw_world  # noqa: E402
from sketchforge.neural.scene.world import BUILDING, CATEGORIES, FOREST, GROUND, ROAD, WATER  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MEASURED = ("water", "road", "forest", "building")


# -- sets --------------------------------------------------------------------------------------------
def generator_set(count: int, seed: int) -> list[dict]:
    out = []
    for i in range(count):
        it = make_item(item_seed(seed, i))
        out.append({"world": it.world, "sketch": it.sketch})
    return out


def another_way(count: int, seed: int) -> list[dict]:
    """Worlds of another seed drawn by a hastier hand (2.2 x as messy, more left out) on a canvas a
    third larger."""
    out = []
    for i in range(count):
        it = make_item(item_seed(seed, i))
        rng = np.random.default_rng([item_seed(seed, i), 99])
        sketch = draw_world(it.world, rng, SketchStyle().scaled(2.2)).sketch
        k = 4.0 / 3.0
        strokes = tuple(replace(s, points=np.column_stack([s.points[:, :2] * k, s.points[:, 2:]]))
                        for s in sketch.strokes)
        sketch = replace(sketch, width=int(round(sketch.width * k)), height=int(round(sketch.height * k)),
                         strokes=strokes)
        out.append({"world": it.world, "sketch": sketch})
    return out


# -- readers -----------------------------------------------------------------------------------------
class Readers:
    def __init__(self, weights: Path | None) -> None:
        self.net = None
        if weights is not None and weights.is_file():
            from sketchforge.neural.scene.net import load_net
            from sketchforge.neural.text import TextEncoder
            self.net, self.extra = load_net(weights)
            self.encoder = TextEncoder()

    def names(self) -> list[str]:
        return (["network"] if self.net is not None else []) + ["rules"]

    def read(self, name: str, sketch) -> Layout:
        if name == "rules":
            return rules_layout(sketch)
        from sketchforge.neural.scene.reading import read_layout
        return read_layout(self.net, sketch, self.encoder)


# -- figures -----------------------------------------------------------------------------------------
def layout_figures(layout: Layout, truth: Layout) -> dict:
    out = {}
    for name in MEASURED:
        code = CATEGORIES.index(name)
        a, b = layout.category == code, truth.category == code
        union = int((a | b).sum())
        out[name] = float((a & b).sum() / union) if union else None
    h, t = layout.height - layout.height.mean(), truth.height - truth.height.mean()
    out["height_rmse_m"] = float(np.sqrt(np.mean((h - t) ** 2)))
    out["height_rmse_flat_m"] = float(np.sqrt(np.mean(t ** 2)))  # a flat map at the right mean: the reference
    return out


def _slope_deg(heights: np.ndarray, step: tuple[float, float]) -> np.ndarray:
    gy, gx = np.gradient(heights, step[1], step[0])
    return np.degrees(np.arctan(np.hypot(gx, gy)))


def scene_figures(scene) -> dict:
    w, s, e, n = scene.extent
    rows, cols = scene.heights.shape
    step = ((e - w) / (cols - 1), (n - s) / (rows - 1))
    slope = _slope_deg(scene.heights, step)
    cat = scene.category

    def cell(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = np.clip(np.round((xy[:, 0] - w) / step[0]).astype(int), 0, cols - 1)
        r = np.clip(np.round((n - xy[:, 1]) / step[1]).astype(int), 0, rows - 1)
        return r, c

    kinds = scene.kinds()
    out: dict = {}
    trees = scene.objects[kinds == "tree"]
    if len(trees):
        r, c = cell(trees[:, :2])
        ok = (cat[r, c] == FOREST)
        out["trees_in_forest"] = float(ok.mean())
        out["trees_off_water_and_roads"] = float(np.isin(cat[r, c], (WATER, ROAD), invert=True).mean())
    houses = scene.footprints
    if len(houses):
        r, c = cell(houses[:, :2])
        out["buildings_on_level_ground"] = float((slope[r, c] <= 10.0 + 1e-6).mean())
    grades, total = 0, 0
    for road in scene.road_lines:
        if len(road.points) < 2:
            continue
        run = np.linalg.norm(np.diff(road.points, axis=0), axis=1)
        rise = np.abs(np.diff(road.surface))
        off = ~(road.bridge[1:] | road.bridge[:-1]) & (run > 1e-6)
        grades += int((rise[off] / run[off] <= 0.15 + 1e-6).sum())
        total += int(off.sum())
    if total:
        out["road_grade_ok"] = grades / total
    rivers = [bool(np.all(np.diff(r.level) <= 1e-6)) for r in scene.rivers if len(r.level) > 1]
    if rivers:
        out["rivers_downhill"] = float(np.mean(rivers))
    lakes_ok = []
    for k, level in enumerate(scene.lake_levels):
        mask = scene.lake == k
        if not mask.any():
            continue
        flat = np.nanmax(np.abs(scene.water_level[mask] - level)) < 1e-6
        ring = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & ~mask & \
            ~np.isin(cat, (WATER,))
        below = bool(np.all(scene.heights[ring] >= level - 1e-6)) if ring.any() else True
        lakes_ok.append(bool(flat and below))
    if lakes_ok:
        out["lakes_flat_below_banks"] = float(np.mean(lakes_ok))
    walk = ((cat != WATER) | np.isin(cat, (ROAD,))) & (slope <= 30.0)
    walk |= cat == ROAD
    count, labels = cv2.connectedComponents(walk.astype(np.uint8), connectivity=4)
    if count > 1 and walk.any():
        sizes = np.bincount(labels[walk])
        out["reachable"] = float(sizes.max() / walk.sum())
    body = scene.body()
    out["triangles"] = int(body.triangle_count())
    out["draw_calls"] = int(body.draw_calls())
    out["trees"], out["buildings"] = int((kinds == "tree").sum()), int((kinds == "building").sum())
    return out


def _mean(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return float(np.mean(vals)) if vals else None


def evaluate(readers: Readers, items: list[dict]) -> dict:
    out = {}
    for name in readers.names():
        rows, secs, secs200 = [], [], []
        for k, it in enumerate(items):
            t = time.perf_counter()
            layout = readers.read(name, it["sketch"])
            scene = assemble(layout, seed=0)
            dt = time.perf_counter() - t
            secs.append(dt)
            w, s, e, n = ground_rectangle(it["sketch"])
            if max(e - w, n - s) <= 220.0:
                secs200.append(dt)
            truth = Layout.of_world(it["world"], layout.extent, layout.shape)
            rows.append({**layout_figures(layout, truth), **scene_figures(scene)})
            if (k + 1) % 50 == 0:
                print(f"  {name} {k + 1}/{len(items)}", file=sys.stderr, flush=True)
        keys = sorted({k for r in rows for k in r})
        out[name] = {"iou": {c: _mean(rows, c) for c in MEASURED},
                     **{k: _mean(rows, k) for k in keys if k not in MEASURED},
                     "seconds_p50": float(np.median(secs)), "seconds_p95": float(np.percentile(secs, 95)),
                     "seconds_200m_p50": float(np.median(secs200)) if secs200 else None,
                     "maps_200m_or_less": len(secs200)}
    return out


def picture(readers: Readers, items: list[dict], path: Path) -> None:
    """Sketch, layout (each reader), truth and the scene from above, for a dozen items."""
    from sketchforge.neural.scene.data import rasterise_sketch
    colors = np.array([(150, 200, 120), (60, 130, 230), (90, 90, 90), (40, 110, 50), (200, 60, 50)], np.uint8)
    tile = 150

    def fit(img: np.ndarray) -> np.ndarray:
        return cv2.resize(img, (tile, tile), interpolation=cv2.INTER_NEAREST)

    rows = []
    for it in items[:12]:
        ink = rasterise_sketch(it["sketch"], 256)
        sk = np.full((256, 256, 3), 255, np.uint8)
        kinds = [(40, 120, 255), (90, 90, 90), (30, 140, 50), (210, 50, 40), (140, 90, 40)]
        for ch, rgb in enumerate(kinds):
            sk[ink[ch] > 96] = rgb
        tiles = [fit(sk)]
        scene = None
        for name in readers.names():
            layout = readers.read(name, it["sketch"])
            tiles.append(fit(colors[layout.category]))
            if scene is None:
                scene = assemble(layout, seed=0)
        truth = Layout.of_world(it["world"])
        tiles.append(fit(colors[truth.category]))
        shade = scene.colors.astype(np.float32)
        gy, gx = np.gradient(scene.heights)
        light = np.clip(0.75 + 0.25 * (gx - gy) / (np.hypot(gx, gy) + 1.0), 0.4, 1.2)
        top = np.clip(shade * light[..., None], 0, 255).astype(np.uint8)
        top[scene.category == WATER] = (60, 120, 200)   # the water surface, seen from above
        top[scene.category == ROAD] = (110, 105, 100)
        r, c = scene.heights.shape
        w, s, e, n = scene.extent
        for (x, y, *_), kind in zip(scene.objects, scene.kinds()):
            cc, rr = int((x - w) / (e - w) * (c - 1)), int((n - y) / (n - s) * (r - 1))
            rgb = (20, 80, 20) if kind == "tree" else (180, 40, 30) if kind == "building" else (120, 120, 120)
            cv2.circle(top, (cc, rr), 1 if kind == "tree" else 2, rgb, -1)
        tiles.append(fit(top))
        rows.append(np.hstack(tiles))
    sheet = np.vstack(rows)
    header = np.full((24, sheet.shape[1], 3), 255, np.uint8)
    label = "sketch | " + " | ".join(f"{n} layout" for n in readers.names()) + " | truth | scene from above"
    cv2.putText(header, label, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.imwrite(str(path), cv2.cvtColor(np.vstack([header, sheet]), cv2.COLOR_RGB2BGR))


def redraw_figures(weights: Path | None, items: list[dict], reader: str) -> dict:
    """A redrawn map remakes the region around what changed and keeps the rest: for each map, its
    scene, then one stroke of it erased (a random one of a scene kind) and the scene remade through
    the session. Figures: the share of the map remade, the share of the old objects outside the
    region (`redraw.Redraw`, worked out again from the two readings) that stand exactly where they
    stood, the largest change of the terrain outside it, and the seconds of the remake against the
    first scene."""
    from sketchforge.modeling.session import Session
    from sketchforge.neural.scene.backend import SceneBackend
    from sketchforge.neural.scene.redraw import Redraw, changed_lines
    from sketchforge.neural.scene.sketching import KINDS
    rows = []
    for k, it in enumerate(items):
        sketch = it["sketch"]
        kinds = [i for i, st in enumerate(sketch.strokes) if st.kind in KINDS]
        if len(kinds) < 3:
            continue
        backend = SceneBackend(weights, reader=reader)
        session = Session()
        session.register_backend(backend, replace=True)
        t0 = time.perf_counter()
        op = session.scene(sketch)
        first_s = time.perf_counter() - t0
        before = session.bodies[op.body]
        gone = kinds[int(np.random.default_rng([k, 5]).integers(len(kinds)))]
        redrawn = replace(sketch, strokes=tuple(st for i, st in enumerate(sketch.strokes) if i != gone))
        t0 = time.perf_counter()
        again = session.scene(redrawn)
        remake_s = time.perf_counter() - t0
        after = session.bodies[again.body]
        row = {"kind": sketch.strokes[gone].kind, "remade": again.remade, "first_s": first_s, "remake_s": remake_s,
               "outside_kept": None, "outside_terrain_change_m": None}
        region = Redraw.of(backend._read(sketch, reader)[0], backend._read(redrawn, reader)[0],
                           changed_lines(sketch, redrawn))
        if region is not None and again.remade < 1.0:
            keep = region.keep(before)
            out_old = {(n, x, y) for n, x, y, _, _ in keep.kept_objects()}
            names = [after.variants[v].name for v in after.variant]
            now = {(n, float(p[0]), float(p[1])) for n, p in zip(names, after.placements)}
            row["outside_kept"] = len(out_old & now) / len(out_old) if out_old else None
            w, s_, e, n = after.extent
            gx, gy = np.meshgrid(np.linspace(w, e, after.heights.shape[1]),
                                 np.linspace(n, s_, after.heights.shape[0]))
            outside = ~keep.inside(np.stack([gx, gy], -1))
            if outside.any():
                row["outside_terrain_change_m"] = float(np.abs(after.heights - before.heights)[outside].max())
        rows.append(row)

    def col(key: str) -> list[float]:
        return [r[key] for r in rows if r[key] is not None]
    return {"maps": len(rows), "reader": reader, "erased": {kd: sum(r["kind"] == kd for r in rows) for kd in KINDS},
            "remade_share_p50": float(np.median(col("remade"))),
            "remade_share_max": float(np.max(col("remade"))),
            "remade_whole": sum(r["remade"] >= 1.0 for r in rows),
            "outside_objects_kept_mean": float(np.mean(col("outside_kept"))),
            "outside_objects_kept_min": float(np.min(col("outside_kept"))),
            "outside_terrain_change_m_p50": float(np.median(col("outside_terrain_change_m"))),
            "outside_terrain_change_m_p95": float(np.percentile(col("outside_terrain_change_m"), 95)),
            "outside_terrain_change_m_max": float(np.max(col("outside_terrain_change_m"))),
            "first_seconds_p50": float(np.median(col("first_s"))),
            "remake_seconds_p50": float(np.median(col("remake_s")))}




def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--other", type=int, default=60)
    ap.add_argument("--other-hand", type=int, default=60, help="maps drawn by the second hand (seed + 2)")
    ap.add_argument("--seed", type=int, default=2, help="the held-out set's seed (training used 1, validation 7)")
    ap.add_argument("--weights", type=Path, default=ROOT / "assets" / "scene" / "layout.safetensors")
    ap.add_argument("--picture", action="store_true")
    ap.add_argument("--redraw", type=int, default=40, help="maps of the held-out set redrawn with one stroke erased")
    a = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    readers = Readers(a.weights)
    t0 = time.perf_counter()
    held = generator_set(a.items, a.seed)
    other = another_way(a.other, a.seed + 1)
    hand = other_hand(a.other_hand, a.seed + 2)
    out = {"command": "python benchmarks/bench_scene.py " + " ".join(sys.argv[1:]),
           "readers": readers.names(), "categories": list(CATEGORIES), "ground": GROUND, "building": BUILDING,
           "generator": {"items": len(held), **evaluate(readers, held)},
           "another_way": {"items": len(other), **(evaluate(readers, other) if other else {})},
           "other_hand": {"items": len(hand), **(evaluate(readers, hand) if hand else {})},
           "redraw": redraw_figures(a.weights, held[:a.redraw], "network" if readers.net is not None else "rules")
           if a.redraw else None,
           "network_training": {k: readers.extra.get(k) for k in ("steps", "seconds", "items")}
           if readers.net is not None else None,
           "seconds": round(time.perf_counter() - t0, 1)}
    path = write("scene", out)
    if a.picture:
        picture(readers, held, ROOT / "benchmarks" / "results" / "scene.png")
    print(json.dumps({k: out[k] for k in ("generator", "another_way", "other_hand")}, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main()
