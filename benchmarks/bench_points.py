"""Colored point clouds from a sketch and a prompt: the staged model against a one-stage model and
retrieval, on held-out objects drawn as the data draws them and drawn another way.

    .venv/bin/python benchmarks/bench_points.py --data data/points-test --train data/points-train
        [--items 500] [--other 120] [--weights assets/points] [--joint DIR/joint.safetensors]
        [--steps 25] [--picture]

Sets:
- "generator": the held-out set's own sketches and prompts (`--data`, another seed than training);
- "another way": the same kind of objects (`make_item` of other seeds) drawn by another hand and
  worded by other people: a messier stroke style (twice the perturbation, strokes split into
  dashes), views outside the training prior (elevation 0-60 degrees, the object filling 35-95% of
  the canvas) and prompts from templates the generator's grammar does not have.

Figures per method (staged = shape then color, the shipped model; one-stage = joint xyz+rgb
diffusion of the same size; retrieval = the training object nearest by pooled text embedding and
capsule sketch embedding):
- MMD-CD, COV-CD and 1-NNA against the held-out truths, as PVD and LION report them: Chamfer-L2
  between clouds normalised to their own box (`frame.unit_cloud`: centre 0, longer half side 1),
  on `METRIC_POINTS` random points of each cloud (CPU budget);
- silhouette IoU: the cloud and the true cloud seen through the sketch's camera, each point a disk
  of 1.5% of the canvas, closed;
- per-part color accuracy: every generated point takes the part of its nearest true point; a part
  counts as right when its median color matches the paint the prompt names for it
  (`palette.part_color_accuracy`, within 22 Delta-E of the paint's references);
- part label accuracy (segmentation): the share of points whose part label (the color stage's
  part head; retrieval: the retrieved object's labels) is the part of the nearest true point;
- re-color drift: the largest change of any position after re-coloring the staged cloud with
  another prompt (must be exactly 0), and whether the order was kept;
- the staged model with unguided colors (`--ablation`: guidance 1), to show what the prompt's
  guidance of the color stage brings;
- seconds per object on this CPU (one torch thread per process as the command line runs, and with
  every thread).
Writes benchmarks/results/points.json (and assets/points/gallery.png with --picture).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.common import write  # noqa: E402
from sketchforge.modeling.sketch import Sketch, Stroke  # noqa: E402
from sketchforge.neural.points import palette  # noqa: E402
from sketchforge.neural.points.data import make_item, read_points_shard  # noqa: E402
from sketchforge.neural.points.objects import CATEGORIES, PART_NAMES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
METRIC_POINTS = 256
OTHER_TEMPLATES = ("I need a {cat}{parts}", "make me a {cat}{parts}", "{cat} please{parts}",
                   "could you draw a {cat}{parts}", "{cat}. {parts_sentence}")


# -- data --------------------------------------------------------------------------------------------
def read_set(root: Path, limit: int) -> list[dict]:
    items = []
    for path in sorted(root.glob("shard-*.safetensors")):
        arrays, records = read_points_shard(path)
        for k, rec in enumerate(records):
            items.append({"sketch": Sketch.from_json(rec["sketch"]), "prompt": rec["prompt"],
                          "category": rec["category"], "points": arrays["points"][k].astype(float),
                          "colors": arrays["colors"][k], "parts": arrays["parts"][k].astype(int)})
            if len(items) >= limit:
                return items
    return items


def _reworded(named: dict, category: str, rng: np.random.Generator) -> str:
    """A prompt for `named` ({"whole": word or None, "parts": {part: word}}) in other words."""
    parts = named.get("parts") or {}
    whole = named.get("whole")
    cat = f"{whole} {category}" if whole else category
    bits = [f"{p}s {w}" if rng.random() < 0.5 else f"{w} {p}" for p, w in parts.items()]
    tail = (", with " + " and ".join(bits)) if bits else ""
    sentence = " ".join(f"The {p} should be {w}." for p, w in parts.items())
    t = OTHER_TEMPLATES[int(rng.integers(len(OTHER_TEMPLATES)))]
    return t.format(cat=cat, parts=tail, parts_sentence=sentence).strip()


def another_way(count: int, seed: int) -> list[dict]:
    """Objects of other seeds drawn by another hand, seen from other views, asked for in other words."""
    from dataclasses import replace

    from sketchforge.neural.points.drawing import DrawConfig, draw
    from sketchforge.neural.synth.strokes import StrokeStyle
    rng = np.random.default_rng(seed)
    config = DrawConfig(fill=(0.35, 0.95), elevation_deg=(0.0, 60.0), ortho_share=0.3,
                        style=replace(StrokeStyle().stronger(2.0), bow=0.01))
    out = []
    for k in range(count):
        item = make_item(10_000_000 + seed * 1000 + k)
        named = item.record(k)["named"]
        prompt = _reworded(named, item.category, rng)
        sketch = draw(item.obj, rng, prompt, config).sketch
        dashes = []
        for s in sketch.strokes:  # a third of the strokes drawn as two or three dashes
            n = len(s.points)
            if n > 12 and rng.random() < 0.33:
                cuts = sorted(rng.choice(np.arange(4, n - 4), size=int(rng.integers(1, 3)), replace=False))
                for a, b in zip([0, *cuts], [*cuts, n]):
                    dashes.append(Stroke(s.points[a:b], s.kind))
            else:
                dashes.append(s)
        sketch = Sketch(sketch.camera, sketch.width, sketch.height, tuple(dashes), "points", prompt)
        out.append({"sketch": sketch, "prompt": prompt, "category": item.category,
                    "points": item.points.astype(float), "colors": item.colors, "parts": item.parts.astype(int)})
    return out


# -- metrics -----------------------------------------------------------------------------------------
def _subsample(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from sketchforge.neural.points.frame import unit_cloud
    q = unit_cloud(p)
    return q[rng.choice(len(q), METRIC_POINTS, replace=len(q) < METRIC_POINTS)]


def chamfer_matrix(a: list[np.ndarray], b: list[np.ndarray]) -> np.ndarray:
    """Chamfer-L2 (mean squared nearest distance both ways) between every cloud of `a` and of `b`."""
    A = torch.from_numpy(np.stack(a)).float()
    B = torch.from_numpy(np.stack(b)).float()
    out = np.zeros((len(a), len(b)))
    with torch.inference_mode():
        for i in range(len(a)):
            for j in range(0, len(b), 128):
                d = torch.cdist(A[i:i + 1].expand(min(128, len(b) - j), -1, -1), B[j:j + 128]) ** 2
                out[i, j:j + 128] = (d.min(2).values.mean(1) + d.min(1).values.mean(1)).numpy()
    return out


def generation_metrics(gen: list[np.ndarray], ref: list[np.ndarray], rr: np.ndarray) -> dict:
    """MMD-CD, COV-CD and 1-NNA-CD (PVD / LION) of generated clouds against reference clouds
    (`rr`: the references' own Chamfer matrix)."""
    gr = chamfer_matrix(gen, ref)
    gg = chamfer_matrix(gen, gen)
    rr = rr.copy()
    mmd = float(gr.min(0).mean())
    cov = float(len(set(gr.argmin(1).tolist())) / len(ref))
    n, m = len(gen), len(ref)
    np.fill_diagonal(gg, np.inf)
    np.fill_diagonal(rr, np.inf)
    # 1-NN classifier accuracy over gen + ref (0.5 is ideal)
    right = 0
    for i in range(n):
        right += gg[i].min() < gr[i].min()
    for j in range(m):
        right += rr[j].min() < gr[:, j].min()
    return {"mmd_cd": mmd, "cov_cd": cov, "nna_cd": float(right / (n + m))}


def silhouette_iou(points: np.ndarray, truth: np.ndarray, sketch: Sketch) -> float:
    w, h = sketch.width, sketch.height
    r = max(1, int(round(0.015 * max(w, h))))
    masks = []
    for p in (points, truth):
        uv = sketch.camera.project(np.asarray(p, float), w, h)
        m = np.zeros((h, w), np.uint8)
        for u, v in np.round(uv[np.isfinite(uv).all(1)]).astype(int):
            if -r <= u < w + r and -r <= v < h + r:
                cv2.circle(m, (int(u), int(v)), r, 1, -1)
        masks.append(cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0)
    inter, union = (masks[0] & masks[1]).sum(), (masks[0] | masks[1]).sum()
    return float(inter / union) if union else 0.0


def _nearest_parts(points, item) -> np.ndarray:
    from scipy.spatial import cKDTree
    _, nearest = cKDTree(item["points"]).query(np.asarray(points, float), k=1)
    return item["parts"][nearest]


def color_accuracy(points, colors, item) -> tuple[int, int]:
    return palette.part_color_accuracy(colors, _nearest_parts(points, item), item["prompt"], PART_NAMES)


# -- methods -----------------------------------------------------------------------------------------
class Methods:
    def __init__(self, weights: Path, joint: Path | None, train: Path | None, steps: int, train_items: int) -> None:
        from sketchforge.neural.points.net import load_net
        from sketchforge.neural.text import TextEncoder
        self.shape, shape_extra = load_net(weights / "shape.safetensors", "shape")
        self.color, color_extra = load_net(weights / "color.safetensors", "color")
        self.training = {"shape": _trained(shape_extra), "color": _trained(color_extra)}
        self.joint = None
        if joint and joint.is_file():
            self.joint, joint_extra = load_net(joint, "joint")
            self.training["joint"] = _trained(joint_extra)
        self.encoder = TextEncoder()
        self.steps = steps
        self.library = self._library(train, train_items) if train else None
        self.parts: np.ndarray | None = None  # the part labels the last method gave, where it gives them

    def staged(self, item, seed=0):
        from sketchforge.neural.points.diffusion import generate
        c = generate(self.shape, self.color, self.encoder, item["sketch"], item["prompt"], steps=self.steps, seed=seed)
        self.parts = c.parts
        return c.points, c.colors

    def staged_unguided(self, item, seed=0):
        """The staged model with the color stage not guided by the prompt (guidance 1: an ablation)."""
        from sketchforge.neural.points import diffusion
        old = diffusion.GUIDANCE
        diffusion.GUIDANCE = 1.0
        try:
            return self.staged(item, seed)
        finally:
            diffusion.GUIDANCE = old

    def one_stage(self, item, seed=0):
        from sketchforge.neural.points.diffusion import SketchInputs, sample_joint
        from sketchforge.neural.points.frame import place
        frame, inputs = SketchInputs.of_sketch(item["sketch"])
        pts, cols = sample_joint(self.joint, inputs, self.encoder.encode([item["prompt"]]), steps=self.steps,
                                 seed=seed)
        return place(pts[0], item["sketch"], frame), cols[0]

    def _embed(self, sketch: Sketch, prompt: str) -> np.ndarray:
        from sketchforge.neural.points.diffusion import SketchInputs
        _, inputs = SketchInputs.of_sketch(sketch)
        raster = inputs.tensors()[0]
        with torch.inference_mode():
            caps, _ = self.shape.sketch(raster)
        s = caps.mean(1)[0].numpy()
        t = self.encoder.encode([prompt])[2][0].numpy()
        return np.concatenate([s / max(np.linalg.norm(s), 1e-9), t / max(np.linalg.norm(t), 1e-9)])

    def _library(self, train: Path, limit: int):
        items = read_set(train, limit)
        emb = np.stack([self._embed(it["sketch"], it["prompt"]) for it in items])
        return items, emb

    def retrieval(self, item, seed=0):
        from sketchforge.neural.points.frame import ViewFrame, place
        items, emb = self.library
        best = items[int(np.argmax(emb @ self._embed(item["sketch"], item["prompt"])))]
        frame = ViewFrame.of_sketch(item["sketch"])
        self.parts = best["parts"]
        return place(frame.to_view(best["points"]), item["sketch"], frame), best["colors"]


def _trained(extra: dict) -> dict:
    """How long a network was trained (its weight file's record)."""
    return {k: extra.get(k) for k in ("steps", "seconds", "items")}


def evaluate(methods: Methods, items: list[dict], names: list[str], rng: np.random.Generator) -> dict:
    out: dict = {}
    refs = [_subsample(it["points"], rng) for it in items]
    rr = chamfer_matrix(refs, refs)
    for name in names:
        fn = getattr(methods, name)
        gen, ious, hits, asked, secs, labelled = [], [], 0, 0, [], []
        for k, it in enumerate(items):
            methods.parts = None
            t = time.perf_counter()
            pts, cols = fn(it)
            secs.append(time.perf_counter() - t)
            if methods.parts is not None and (np.asarray(methods.parts) >= 0).all():
                labelled.append(float(np.mean(np.asarray(methods.parts) == _nearest_parts(pts, it))))
            gen.append(_subsample(pts, rng))
            ious.append(silhouette_iou(pts, it["points"], it["sketch"]))
            h, a = color_accuracy(pts, cols, it)
            hits, asked = hits + h, asked + a
            if (k + 1) % 50 == 0:
                print(f"  {name} {k + 1}/{len(items)}", file=sys.stderr, flush=True)
        out[name] = {**generation_metrics(gen, refs, rr), "silhouette_iou": float(np.mean(ious)),
                     "part_color_accuracy": hits / max(asked, 1), "parts_asked": asked,
                     "part_label_accuracy": float(np.mean(labelled)) if labelled else None,
                     "seconds_p50": float(np.median(secs)), "seconds_mean": float(np.mean(secs))}
    return out


def recolor_drift(methods: Methods, items: list[dict]) -> dict:
    from sketchforge.neural.points.diffusion import recolor
    worst, kept = 0.0, True
    for it in items:
        pts, _ = methods.staged(it)
        before = np.array(pts, copy=True)
        after, _, _ = recolor(methods.color, methods.encoder, pts, "a bright green " + it["category"])
        worst = max(worst, float(np.abs(np.asarray(after) - before).max()))
        kept &= bool(np.array_equal(after, before))
    return {"objects": len(items), "max_position_change": worst, "order_and_positions_kept": kept}


def picture(methods: Methods, items: list[dict], path: Path) -> None:
    from sketchforge.neural.points.drawing import sketch_image
    tile = 160

    def splat(points, colors, sketch):
        img = np.full((sketch.height, sketch.width, 3), 255, np.uint8)
        uv = sketch.camera.project(np.asarray(points, float), sketch.width, sketch.height)
        depth = sketch.camera.depth(np.asarray(points, float))
        for i in np.argsort(-depth):
            u, v = uv[i]
            if np.isfinite(u) and np.isfinite(v):
                cv2.circle(img, (int(u), int(v)), 2, tuple(int(c) for c in colors[i][::-1]), -1)
        return cv2.resize(img, (tile, tile * sketch.height // sketch.width))

    def framed(img):
        out = np.full((tile, tile, 3), 255, np.uint8)
        h = min(img.shape[0], tile)
        out[:h] = img[:h]
        return out

    rows = []
    for it in items[:12]:
        sk = it["sketch"]
        ink = cv2.cvtColor(255 - sketch_image(sk), cv2.COLOR_GRAY2BGR)
        ink = cv2.resize(ink, (tile, tile * sk.height // sk.width))
        pts, cols = methods.staged(it)
        row = [framed(ink), framed(splat(pts, cols, sk)), framed(splat(it["points"], it["colors"], sk))]
        label = np.full((22, tile * 3, 3), 255, np.uint8)
        cv2.putText(label, it["prompt"][:48], (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        rows.append(np.vstack([label, np.hstack(row)]))
    it = items[0]
    pts, _ = methods.staged(it)
    from sketchforge.neural.points.diffusion import recolor
    three = []
    for prompt in (f"a red {it['category']}", f"a white {it['category']} with blue parts",
                   f"a wooden {it['category']}"):
        _, cols, _ = recolor(methods.color, methods.encoder, pts, prompt)
        three.append(framed(splat(pts, cols, it["sketch"])))
    label = np.full((22, tile * 3, 3), 255, np.uint8)
    cv2.putText(label, "one shape, three prompts: red / white with blue / wooden", (4, 15),
                cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    rows.append(np.vstack([label, np.hstack(three)]))
    half = (len(rows) + 1) // 2
    left, right = rows[:half], rows[half:]
    while len(right) < len(left):
        right.append(np.full_like(left[0], 255))
    sheet = np.hstack([np.vstack(left), np.full((sum(r.shape[0] for r in left), 12, 3), 255, np.uint8),
                       np.vstack(right)])
    cv2.imwrite(str(path), sheet)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "points-test")
    ap.add_argument("--train", type=Path, default=ROOT / "data" / "points-train")
    ap.add_argument("--train-items", type=int, default=4000, help="training objects retrieval searches")
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--other", type=int, default=120, help="objects of the set drawn another way")
    ap.add_argument("--weights", type=Path, default=ROOT / "assets" / "points")
    ap.add_argument("--joint", type=Path, default=None, help="the one-stage network (skipped when absent)")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--picture", action="store_true")
    ap.add_argument("--ablation", action="store_true", help="also the staged model with unguided colors")
    ap.add_argument("--guidance", type=float, default=None,
                    help="the color stage's guidance (default: the shipped GUIDANCE; pick it on the validation "
                         "set, --data data/points-val, never on the test set)")
    ap.add_argument("--sweep", default=None,
                    help="comma-separated guidance values: measure the staged model on --data at each (run it on "
                         "the validation set to pick GUIDANCE) and write only that")
    ap.add_argument("--out", default="points", help="the result's name under benchmarks/results/")
    a = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    from sketchforge.neural.points import diffusion
    if a.guidance is not None:
        diffusion.GUIDANCE = a.guidance
    methods = Methods(a.weights, a.joint, a.train if a.train.is_dir() else None, a.steps, a.train_items)
    names = ["staged"] + (["staged_unguided"] if a.ablation else []) + \
        (["one_stage"] if methods.joint is not None else []) + (["retrieval"] if methods.library is not None else [])
    rng = np.random.default_rng(a.seed)
    t0 = time.perf_counter()
    held = read_set(a.data, a.items)
    if a.sweep:
        sweep = {}
        for g in (float(v) for v in a.sweep.split(",")):
            diffusion.GUIDANCE = g
            sweep[str(g)] = evaluate(methods, held, ["staged"], np.random.default_rng(a.seed))["staged"]
            print(f"guidance {g}: {json.dumps(sweep[str(g)])}", file=sys.stderr, flush=True)
        path = write(a.out, {"command": "python benchmarks/bench_points.py " + " ".join(sys.argv[1:]),
                             "set": str(a.data), "items": len(held), "steps": a.steps, "sweep": sweep,
                             "training": methods.training})
        print("wrote", path)
        return
    other = another_way(a.other, a.seed)
    out = {"command": "python benchmarks/bench_points.py " + " ".join(sys.argv[1:]),
           "metric_points": METRIC_POINTS, "steps": a.steps, "categories": list(CATEGORIES),
           "guidance": diffusion.GUIDANCE if methods.color.config.text_drop > 0 else 1.0,
           "training": methods.training,
           "generator": {"items": len(held), **evaluate(methods, held, names, rng)},
           "another_way": {"items": len(other), **(evaluate(methods, other, names, rng) if other else {})},
           "recolor": recolor_drift(methods, held[:20]),
           "torch_threads": torch.get_num_threads(), "seconds": round(time.perf_counter() - t0, 1)}
    path = write(a.out, out)
    if a.picture:
        picture(methods, held, a.weights / "gallery.png")
    print(json.dumps({k: v for k, v in out.items() if k in ("generator", "another_way", "recolor")}, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main()
