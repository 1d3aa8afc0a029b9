"""`sketchforge-data`: generate Sketch2CAD-style training data, and look at it.

    sketchforge-data generate --out DIR --count N [--size 128] [--seed S] [--workers W]
                              [--style-factor F] [--step-sample 0.02] [--balance 1,1,1,1] ...
    sketchforge-data show DIR [--out sheet.png] [--n 24]
    sketchforge-data merge --out DIR SET SET [SET ...]

Errors (bad arguments, a folder made with other settings, an unreadable dataset) are one line on
stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from ..commands import SHARDS_KEPT, Parser, dispatch, run_command
from ..sheets import tile_grid, write_png
from .shards import (
    STALL_SECONDS,
    DataError,
    GenerateConfig,
    generate,
    merge_sets,
    read_manifest,
    read_shard,
)

PROG = "sketchforge-data"

# Stroke colours of the contact sheet per role (RGB): base blue, profile red, offset green.
ROLE_RGB = {1: (40, 90, 230), 2: (225, 45, 35), 3: (20, 150, 50)}


def _balance(text: str) -> tuple[float, float, float, float]:
    try:
        w = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--balance takes four numbers like 1,1,1,1, got {text!r}") from None
    if len(w) != 4 or not all(math.isfinite(x) and x >= 0 for x in w) or sum(w) <= 0:
        raise argparse.ArgumentTypeError(f"--balance takes four non-negative weights (extrude, add/subtract, "
                                         f"bevel, sweep) with a positive sum, got {text!r}")
    return w  # type: ignore[return-value]


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description="Sketch2CAD training data: synthetic CAD operations sketched in context.")
    sub = p.add_subparsers(dest="command", parser_class=Parser)
    g = sub.add_parser("generate", help="generate a sharded dataset (resumable)")
    g.add_argument("--out", required=True, type=Path, help="dataset folder (created; rerun to resume)")
    g.add_argument("--count", required=True, type=int, help="number of items")
    g.add_argument("--size", type=int, default=128, help="canvas size in pixels (square)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--workers", type=int, default=1, help="worker processes (the data does not depend on it)")
    g.add_argument("--style-factor", type=float, default=1.0, help=">1 draws messier strokes, <1 neater")
    g.add_argument("--step-sample", type=float, default=0.02,
                   help="share of items saved with before/after STEP and a sketch file")
    g.add_argument("--balance", type=_balance, default=(1.0, 1.0, 1.0, 1.0),
                   help="class weights extrude,add/subtract,bevel,sweep (default 1,1,1,1)")
    g.add_argument("--shard-size", type=int, default=128, help="items per shard")
    g.add_argument("--views-per-op", type=int, default=3, help="views made of each generated operation")
    g.add_argument("--max-ops", type=int, default=4, help="random operations per sequence: 1..max")
    g.add_argument("--stall-minutes", type=float, default=STALL_SECONDS / 60,
                   help="with --workers >= 2, give up a shard that makes no item for this long (default 15)")
    g.add_argument("--retry-failed", action="store_true", help="try shards given up by an earlier run again")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    s = sub.add_parser("show", help="write a contact sheet PNG of a dataset")
    s.add_argument("dir", type=Path)
    s.add_argument("--out", type=Path, default=None, help="PNG path (default DIR/contact-sheet.png)")
    s.add_argument("--n", type=int, default=24, help="number of items")
    s.add_argument("--cols", type=int, default=6)
    s.add_argument("--scale", type=int, default=2, help="pixels per item pixel")
    m = sub.add_parser("merge", help="one training set from several finished sets (a manifest, no copies)")
    m.add_argument("--out", required=True, type=Path, help="folder for the merged manifest")
    m.add_argument("sets", nargs="+", type=Path, help="finished dataset folders of one canvas size")
    return p


def main(argv: list[str] | None = None) -> int:
    return run_command(PROG, lambda: _main(argv), (DataError, OSError), interrupted=SHARDS_KEPT)


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    return dispatch(args.command, {"generate": lambda: _generate(args), "show": lambda: _show(args),
                                   "merge": lambda: _merge(args)})


def _merge(args) -> int:
    m = merge_sets(args.out, args.sets)
    print(f"{m['counts']['items']} items in {len(m['shards'])} shards of {len(args.sets)} sets under "
          f"{args.out}; per class {m['counts']['per_class']}")
    return 0


def _generate(args) -> int:
    cfg = GenerateConfig(count=args.count, size=args.size, seed=args.seed, shard_size=args.shard_size,
                         views_per_op=args.views_per_op, max_ops=args.max_ops, balance=tuple(args.balance),
                         style_factor=args.style_factor, step_sample=args.step_sample)
    if not args.stall_minutes > 0:
        raise DataError(f"--stall-minutes must be positive, got {args.stall_minutes}")
    m = generate(args.out, cfg, workers=args.workers, progress=not args.quiet,
                 stall_seconds=60.0 * args.stall_minutes, retry_failed=args.retry_failed)
    c, ops = m["counts"], m["operations"]
    share = "n/a" if ops["clean_share"] is None else f"{ops['clean_share']:.1%}"
    print(f"{c['items']} items in {len(m['shards'])} shards under {args.out}; per class {c['per_class']}; "
          f"operations applied cleanly: {share}")
    if m["failed_shards"]:
        print(f"{len(m['failed_shards'])} shard(s) given up ({', '.join(m['failed_shards'])}): a kernel operation "
              "did not finish; the set is usable without them (rerun with --retry-failed to try again)")
    return 0


# -- the contact sheet -------------------------------------------------------------------------
def _shade(normal: np.ndarray) -> np.ndarray:
    """A grey Lambert shading (H, W) uint8 of camera-frame normals; white background."""
    light = np.array([-0.35, 0.5, 0.8])
    light /= np.linalg.norm(light)
    n = normal.astype(np.float32)
    on = np.abs(n).sum(-1) > 0
    shade = 0.35 + 0.6 * np.clip(n @ light, 0.0, 1.0)
    return np.where(on, 70 + 150 * shade, 250).astype(np.uint8)


def render_tile(normal: np.ndarray, stroke: np.ndarray, role: np.ndarray, scale: int = 2) -> np.ndarray:
    """One item as an RGB image: the shaded context with its strokes coloured by role."""
    import cv2
    grey = _shade(normal)
    rgb = np.repeat(grey[..., None], 3, axis=2).astype(np.float32)
    ink = (stroke.astype(np.float32) / 255.0)[..., None]
    color = np.zeros_like(rgb)
    for r, c in ROLE_RGB.items():
        color[role == r] = c
    rgb = rgb * (1 - ink) + color * ink
    img = np.clip(rgb, 0, 255).astype(np.uint8)
    if scale != 1:
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    return img


def contact_sheet(root: Path, n: int = 24, cols: int = 6, scale: int = 2) -> np.ndarray:
    """A grid of the first `n` items of a dataset, each labelled with its operation (RGB)."""
    manifest = read_manifest(root)
    op_ids = manifest["op_ids"]
    tiles, labels = [], []
    for shard in manifest["shards"]:
        arrays = read_shard(root / shard["npz"])
        for i in range(len(arrays["item"])):
            if len(tiles) >= n:
                break
            tiles.append(render_tile(arrays["normal"][i], arrays["stroke"][i], arrays["role"][i], scale))
            labels.append(f"{op_ids[int(arrays['op_id'][i])]} #{int(arrays['item'][i])}")
        if len(tiles) >= n:
            break
    if not tiles:
        raise DataError(f"{root} holds no items yet")
    return tile_grid(tiles, labels, [(name, ROLE_RGB[r]) for name, r in (("base", 1), ("profile", 2), ("offset", 3))],
                     cols)


def _show(args) -> int:
    if args.n < 1 or args.cols < 1 or not 1 <= args.scale <= 8:
        raise DataError("--n and --cols must be at least 1 and --scale between 1 and 8")
    if not args.dir.is_dir():
        raise DataError(f"{args.dir} is not a folder; give a dataset folder made by `{PROG} generate`")
    sheet = contact_sheet(args.dir, args.n, args.cols, args.scale)
    out = args.out or args.dir / "contact-sheet.png"
    if out.suffix.lower() != ".png":
        raise DataError(f"--out must end in .png, got {out}")
    print(f"wrote {write_png(out, sheet)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
