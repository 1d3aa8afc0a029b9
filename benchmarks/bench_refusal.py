"""Knowing when it does not know: scribbles refused and real sketches kept, per back end.

    .venv/bin/python benchmarks/bench_refusal.py --data DIR [--items 140] [--heads 40] [--objects 300]

CAD (`neural/cad/refusal.py`, the shipped `assets/cad/refusal.json`), on a generated set the
refusal was not fitted on (`--data`, another seed):
- real sketches: as drawn and redrawn as `bench_cad_drawing.py` redraws them (reversed, shuffled,
  split, merged, a 512 px canvas, a wide canvas, sparse points): the share refused, which must stay
  small (target <= 1%);
- scribbles from two generators: the refusal's own kinds (`refusal.SCRIBBLE_KINDS`) with another
  seed than it was fitted with, and the face scribbles (`neural/face/scribble.py`: zigzag, tangle,
  loops, lines, circles, shading over the whole canvas), a generator it never saw: the share
  refused (target >= 99%).

Faces (`neural/face/refusal.py`, the shipped `assets/face/refusal.json`), on heads of another seed
than it was fitted on: generated heads drawn six ways (`refusal.head_variants`: clean, messier,
with hair squiggles, with hatched shading, the outline only, the first half of the strokes)
against face scribbles (`scribble.SCRIBBLE_KINDS`) and the CAD refusal's scribble kinds drawn over
the head's area, a generator it never saw.

Points (`neural/points/refusal.py`, the shipped `assets/points/refusal.json`), on objects of
another seed than it was fitted on (`--objects`, item seeds `cli.item_seed(seed + 2, k)`):
generated objects drawn five ways (`refusal.object_variants`: as drawn, messier, the first half of
the strokes, stopped part way, the outline only) against the face scribbles it was fitted on the
kinds of (another seed) and the CAD refusal's scribble kinds drawn over the object's area, a
generator it never saw.

A sketch counts as refused when the back end gives no proposal (the window then shows a hint, the
command line exits non-zero with "nothing recognised"). For points, that is decided before any
sampling (`PointsBackend.scribble_hint` on the sketch as `propose` reads it), so the sampling is not
run: it takes seconds a sketch and cannot change the answer. `--modes points` needs no `--data`.
Writes benchmarks/results/refusal.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_cad_drawing import VARIANTS, redraw  # noqa: E402
from benchmarks.common import write  # noqa: E402
from sketchforge.modeling.session import Session  # noqa: E402
from sketchforge.modeling.sketch import Sketch  # noqa: E402
from sketchforge.neural.cad import refusal as cad_refusal  # noqa: E402
from sketchforge.neural.face import scribble as face_scribble  # noqa: E402


def _refused(session: Session, sketch: Sketch) -> bool:
    return not session.interpret(sketch, offer=False).proposals


def _share(flags: list[bool]) -> dict:
    return {"n": len(flags), "refused": int(sum(flags)), "share": round(float(np.mean(flags)), 4) if flags else None}


def cad(data: Path, items: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    real: dict[str, list[bool]] = {v: [] for v in VARIANTS}
    own: dict[str, list[bool]] = {k: [] for k in cad_refusal.SCRIBBLE_KINDS}
    other: dict[str, list[bool]] = {k: [] for k in face_scribble.SCRIBBLE_KINDS}
    pairs = cad_refusal._items(data, items)
    t0 = time.perf_counter()
    for k, (model, path) in enumerate(pairs):
        s = Session()
        s.import_file(model)
        raw = json.loads(path.read_text())
        sketch = Sketch.from_json(raw)
        for variant in VARIANTS:
            real[variant].append(_refused(s, Sketch.from_json(redraw(raw, variant, rng))))
        kind = cad_refusal.SCRIBBLE_KINDS[k % len(cad_refusal.SCRIBBLE_KINDS)]
        own[kind].append(_refused(s, cad_refusal.scribble(kind, sketch, rng)))
        fkind = face_scribble.SCRIBBLE_KINDS[k % len(face_scribble.SCRIBBLE_KINDS)]
        sc = face_scribble.scribble_sketch(fkind, rng, sketch)
        other[fkind].append(_refused(s, Sketch(sc.camera, sc.width, sc.height, sc.strokes, "cad")))
        if (k + 1) % 20 == 0:
            print(f"cad {k + 1}/{len(pairs)} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    all_real = [f for v in real.values() for f in v]
    all_own = [f for v in own.values() for f in v]
    all_other = [f for v in other.values() for f in v]
    return {"data": str(data), "items": len(pairs),
            "real_refused": _share(all_real), "real_by_variant": {v: _share(f) for v, f in real.items()},
            "scribbles_refused_own_generator": _share(all_own), "own_by_kind": {k: _share(f) for k, f in own.items()},
            "scribbles_refused_face_generator": _share(all_other),
            "face_generator_by_kind": {k: _share(f) for k, f in other.items()},
            "seconds": round(time.perf_counter() - t0, 1)}


def face(heads: int, seed: int) -> dict:
    from sketchforge.neural.face.refusal import HEAD_KINDS, head_variants
    rng = np.random.default_rng(seed)
    s = Session()
    real: dict[str, list[bool]] = {}
    own: dict[str, list[bool]] = {k: [] for k in face_scribble.SCRIBBLE_KINDS}
    other: dict[str, list[bool]] = {k: [] for k in cad_refusal.SCRIBBLE_KINDS}
    t0 = time.perf_counter()
    for k in range(heads):
        variants = head_variants(rng, HEAD_KINDS[k % len(HEAD_KINDS)])
        for name, drawn in variants.items():
            real.setdefault(name, []).append(_refused(s, drawn))
        sk = variants["clean"]
        kind = face_scribble.SCRIBBLE_KINDS[k % len(face_scribble.SCRIBBLE_KINDS)]
        own[kind].append(_refused(s, face_scribble.scribble_sketch(kind, rng, sk)))
        ckind = cad_refusal.SCRIBBLE_KINDS[k % len(cad_refusal.SCRIBBLE_KINDS)]
        other[ckind].append(_refused(s, cad_refusal.scribble(ckind, sk, rng)))
        if (k + 1) % 10 == 0:
            print(f"face {k + 1}/{heads} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    return {"heads": heads, "real_refused": _share([f for v in real.values() for f in v]),
            "real_by_variant": {v: _share(f) for v, f in real.items()},
            "scribbles_refused_own_generator": _share([f for v in own.values() for f in v]),
            "own_by_kind": {k: _share(f) for k, f in own.items()},
            "scribbles_refused_cad_generator": _share([f for v in other.values() for f in v]),
            "cad_generator_by_kind": {k: _share(f) for k, f in other.items()},
            "seconds": round(time.perf_counter() - t0, 1)}


def points(objects: int, seed: int) -> dict:
    from sketchforge.neural.points.backend import PointsBackend
    from sketchforge.neural.points.cli import item_seed
    from sketchforge.neural.points.refusal import as_read, object_variants
    backend = PointsBackend()
    if backend.refusal() is None:
        raise SystemExit("assets/points/refusal.json is missing; make it with sketchforge-calibrate-points-refusal")
    rng = np.random.default_rng(seed)

    def refused(sketch: Sketch) -> bool:
        tidy = as_read(sketch)
        return tidy is not None and backend.scribble_hint(tidy) is not None

    real: dict[str, list[bool]] = {}
    own: dict[str, list[bool]] = {k: [] for k in face_scribble.SCRIBBLE_KINDS}
    other: dict[str, list[bool]] = {k: [] for k in cad_refusal.SCRIBBLE_KINDS}
    ms: list[float] = []
    t0 = time.perf_counter()
    for k in range(objects):
        variants = object_variants(item_seed(seed, k))
        for name, drawn in variants.items():
            t = time.perf_counter()
            real.setdefault(name, []).append(refused(drawn))
            ms.append(1000 * (time.perf_counter() - t))
        sk = variants["as drawn"]
        kind = face_scribble.SCRIBBLE_KINDS[k % len(face_scribble.SCRIBBLE_KINDS)]
        sc = face_scribble.scribble_sketch(kind, rng, sk)
        own[kind].append(refused(Sketch(sc.camera, sc.width, sc.height, sc.strokes, "points", sk.prompt)))
        ckind = cad_refusal.SCRIBBLE_KINDS[k % len(cad_refusal.SCRIBBLE_KINDS)]
        other[ckind].append(refused(cad_refusal.scribble(ckind, sk, rng)))
        if (k + 1) % 50 == 0:
            print(f"points {k + 1}/{objects} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    return {"objects": objects, "seed": seed, "real_refused": _share([f for v in real.values() for f in v]),
            "real_by_variant": {v: _share(f) for v, f in real.items()},
            "scribbles_refused_own_generator": _share([f for v in own.values() for f in v]),
            "own_by_kind": {k: _share(f) for k, f in own.items()},
            "scribbles_refused_cad_generator": _share([f for v in other.values() for f in v]),
            "cad_generator_by_kind": {k: _share(f) for k, f in other.items()},
            "check_ms_real": {"median": round(float(np.median(ms)), 2), "max": round(float(np.max(ms)), 2)},
            "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, help="a generated set with sketches/ and steps/ (for cad)")
    ap.add_argument("--items", type=int, default=140)
    ap.add_argument("--heads", type=int, default=120)
    ap.add_argument("--objects", type=int, default=300)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--modes", default="cad,face,points", help="which back ends to measure (the others' figures "
                    "are kept from the last results file)")
    a = ap.parse_args()
    modes = [m for m in a.modes.split(",") if m]
    if "cad" in modes and a.data is None:
        ap.error("--data is needed to measure cad")
    old = Path(__file__).resolve().parent / "results" / "refusal.json"
    out = json.loads(old.read_text()) if old.is_file() and set(modes) != {"cad", "face", "points"} else {}
    command = "python benchmarks/bench_refusal.py " + " ".join(sys.argv[1:])
    for mode in ("cad", "face"):  # each back end's figures say the command that measured them
        if mode in out and "command" not in out[mode] and "command" in out:
            out[mode]["command"] = out["command"]
    out.pop("command", None)
    if "cad" in modes:
        out["cad"] = {"command": command, **cad(a.data, a.items, a.seed)}
    if "face" in modes:
        out["face"] = {"command": command, **face(a.heads, a.seed + 1)}
    if "points" in modes:
        out["points"] = {"command": command, **points(a.objects, a.seed + 2)}
    out["targets"] = {"scribbles_refused": ">= 0.99", "real_refused": "<= 0.01"}
    path = write("refusal", out)
    for mode in ("cad", "face", "points"):
        r = out.get(mode, {})
        if not r:
            continue
        gens = [k for k in r if k.startswith("scribbles_refused")]
        print(mode, "real refused", r["real_refused"], *(f"{g} {r[g]}" for g in gens))
    print("wrote", path)


if __name__ == "__main__":
    main()
