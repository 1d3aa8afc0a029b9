"""`sketchforge-face-data`: generate the sketch-to-head training set, and look at it.

    sketchforge-face-data generate --out DIR --items N --seed S [--size 128] [--workers 2]
                                   [--shard-size 64] [--mesh-sample 16] [--quiet]
    sketchforge-face-data samples --data DIR [--points 3072] [--quiet]
    sketchforge-face-data show --data DIR --out sheet.png [--n 24] [--cols 6] [--scale 2]

`samples` adds the signed-distance samples the implicit network trains on (`samples.py`), one
file per shard, resumable.

Errors (bad arguments, a folder made with other settings, an unreadable dataset) are one line on
stderr and exit status 2; success is 0, an interrupt 130 (rerun the same command to resume).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ..commands import SHARDS_KEPT, Parser, dispatch, run_command
from ..sheets import tile_grid, write_png
from .dataset import DataError, generate, read_face_manifest, read_face_shard
from .samples import POINTS, write_samples
from .sketches import KINDS

PROG = "sketchforge-face-data"

# Stroke colours of the contact sheet per kind id (RGB): contours dark, ridges red, valleys green.
KIND_RGB = {KINDS["contour"]: (25, 25, 35), KINDS["ridge"]: (225, 40, 30), KINDS["valley"]: (20, 160, 50)}


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description="Sketch-to-head training data: procedural heads and their front-view sketches.")
    sub = p.add_subparsers(dest="command", parser_class=Parser)
    g = sub.add_parser("generate", help="generate a sharded dataset (resumable)")
    g.add_argument("--out", required=True, type=Path, help="dataset folder (created; rerun to resume)")
    g.add_argument("--items", required=True, type=int, help="number of items")
    g.add_argument("--seed", required=True, type=int, help="random seed (non-negative)")
    g.add_argument("--size", type=int, default=128, help="canvas size in pixels (square)")
    g.add_argument("--workers", type=int, default=2, help="worker processes (the data does not depend on it)")
    g.add_argument("--shard-size", type=int, default=64, help="items per shard")
    g.add_argument("--mesh-sample", type=int, default=16,
                   help="save the ground-truth mesh of every Nth item (0: none)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    m = sub.add_parser("samples", help="add signed-distance samples to a dataset (resumable)")
    m.add_argument("--data", required=True, type=Path, help="dataset folder")
    m.add_argument("--points", type=int, default=POINTS, help="samples per head")
    m.add_argument("--quiet", action="store_true", help="no progress bar")
    s = sub.add_parser("show", help="write a contact sheet PNG of a dataset")
    s.add_argument("--data", required=True, type=Path, help="dataset folder")
    s.add_argument("--out", required=True, type=Path, help="PNG path")
    s.add_argument("--n", type=int, default=24, help="number of items")
    s.add_argument("--cols", type=int, default=6)
    s.add_argument("--scale", type=int, default=2, help="pixels per item pixel")
    return p


def main(argv: list[str] | None = None) -> int:
    return run_command(PROG, lambda: _main(argv), (DataError, OSError), interrupted=SHARDS_KEPT)


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    return dispatch(args.command, {"generate": lambda: _generate(args), "samples": lambda: _samples(args),
                                   "show": lambda: _show(args)})


def _generate(args) -> int:
    bar = None

    def progress(n: int) -> None:  # the bar appears with the first item (after the checks)
        nonlocal bar
        if bar is None:
            from tqdm import tqdm
            bar = tqdm(total=args.items, unit="item", desc="generating", dynamic_ncols=True)
        bar.update(n)

    try:
        m = generate(args.out, args.items, args.seed, size=args.size, shard_size=args.shard_size,
                     workers=args.workers, mesh_sample=args.mesh_sample,
                     progress=None if args.quiet else progress)
    finally:
        if bar is not None:
            bar.close()
    c = m["counts"]
    per = ", ".join(f"{v} {n}" for v, n in c["per_variant"].items())
    print(f"{c['items']} items in {len(m['shards'])} shards under {args.out}; {per}; {c['meshes']} meshes")
    return 0


def _samples(args) -> int:
    if args.points < 8:
        raise DataError(f"--points must be at least 8, got {args.points}")
    bar = None
    if not args.quiet:
        from tqdm import tqdm
        bar = tqdm(unit="shard", desc="samples", dynamic_ncols=True)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        written = write_samples(args.data, args.points, progress)
    finally:
        if bar is not None:
            bar.close()
    print(f"signed-distance samples written for {written} shards under {args.data}")
    return 0


# -- the contact sheet -------------------------------------------------------------------------
def _shade(normal: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A grey Lambert shading (H, W) uint8 of front-view normals; white background."""
    light = np.array([-0.35, 0.5, 0.8])
    light /= np.linalg.norm(light)
    shade = 0.35 + 0.6 * np.clip(normal.astype(np.float32) @ light.astype(np.float32), 0.0, 1.0)
    return np.where(mask, 70 + 150 * shade, 250).astype(np.uint8)


def render_tile(normal: np.ndarray, mask: np.ndarray, stroke: np.ndarray, kinds: np.ndarray,
                scale: int = 2) -> np.ndarray:
    """One item as an RGB image: the shaded head with its strokes coloured by kind."""
    import cv2
    grey = _shade(normal, mask)
    rgb = np.repeat(grey[..., None], 3, axis=2).astype(np.float32)
    ink = (stroke.astype(np.float32) / 255.0)[..., None]
    color = np.zeros_like(rgb)
    for k, c in KIND_RGB.items():
        color[kinds == k] = c
    img = np.clip(rgb * (1 - ink) + color * ink, 0, 255).astype(np.uint8)
    if scale != 1:
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    return img


def contact_sheet(root: Path, n: int = 24, cols: int = 6, scale: int = 2) -> np.ndarray:
    """A grid of the first `n` items of a face dataset, each labelled with its variant (RGB)."""
    root = Path(root)
    manifest = read_face_manifest(root)
    variants = manifest["variants"]
    tiles, labels = [], []
    for shard in manifest["shards"]:
        a = read_face_shard(root / shard["npz"])
        for i in range(len(a["item"])):
            if len(tiles) >= n:
                break
            tiles.append(render_tile(a["normal"][i], a["mask"][i], a["stroke"][i], a["kinds"][i], scale))
            labels.append(f"{variants[int(a['variant'][i])]} #{int(a['item'][i])}")
        if len(tiles) >= n:
            break
    if not tiles:
        raise DataError(f"{root} holds no items yet")
    return tile_grid(tiles, labels, [(name, KIND_RGB[KINDS[name]]) for name in ("contour", "ridge", "valley")],
                     cols, min_width=300)


def _show(args) -> int:

    if args.n < 1 or args.cols < 1:
        raise DataError(f"--n and --cols must be at least 1, got --n {args.n} --cols {args.cols}")
    if not 1 <= args.scale <= 8:
        raise DataError(f"--scale must be between 1 and 8, got {args.scale}")
    if args.out.suffix.lower() != ".png":
        raise DataError(f"--out must end in .png, got {args.out}")
    if not args.data.is_dir():
        raise DataError(f"--data {args.data} is not a folder; give a dataset folder made by `{PROG} generate`")
    sheet = contact_sheet(args.data, args.n, args.cols, args.scale)
    print(f"wrote {write_png(args.out, sheet)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
