"""`sketchforge-face-suggest`: train the face mode's stroke-suggestion network, build its part
library, and measure how often it retrieves the right part.

    sketchforge-face-suggest train --out DIR --heads N --seed S --epochs E [--max-minutes M]
                                   [--size 256] [--drawings 4] [--batch 64] [--lr 0.002] [--threads T]
    sketchforge-face-suggest library --weights W --heads N --seed S --out LIB.safetensors [--size PX]
                                     [--no-images]
    sketchforge-face-suggest eval --weights W --library LIB --heads N --seed S [--out R.json]

`train` writes DIR/suggest.safetensors (and DIR/log.jsonl, one line per epoch). `library` embeds the
clean parts of heads 0..N-1 of seed S; give it a seed the training did not use. `eval` draws heads
0..N-1 of the library's own seed again with a humanised hand (drawing seed S), cuts them into parts
and asks the library for each part: a hit is the library's entry of the same head and part (left
parts are mirrored onto the right-hand entries); every other head's part is a distractor. It
reports top-1 / top-5 within the part type and the part-type accuracy of the nearest entry of any
type, per part and overall.

Errors (bad arguments, missing or damaged files) are one line on stderr and exit status 2; success
is 0, an interrupt 130. `--quiet` drops the progress bars.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

from sketchforge.modeling.files import atomic_write_bytes

from ..commands import Parser, UsageError, dispatch, run_command
from ..synth.reading import DataError
from ..weights import WeightsError

PROG = "sketchforge-face-suggest"


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description="Stroke suggestion for the face mode: train, build the part library, evaluate.")
    sub = p.add_subparsers(dest="command", parser_class=Parser)
    t = sub.add_parser("train", help="train the part-stroke network on generated heads")
    t.add_argument("--out", required=True, type=Path, help="run folder (suggest.safetensors, log.jsonl)")
    t.add_argument("--heads", required=True, type=int, help="generated heads (a tenth held out for validation)")
    t.add_argument("--seed", required=True, type=int, help="random seed (non-negative)")
    t.add_argument("--epochs", required=True, type=int, help="passes over the drawings")
    t.add_argument("--max-minutes", type=float, default=0.0,
                   help="stop after this many minutes, head generation included (0: no limit)")
    t.add_argument("--size", type=int, default=256, help="canvas size the heads are drawn at (pixels)")
    t.add_argument("--drawings", type=int, default=4, help="humanised drawings per head")
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    b = sub.add_parser("library", help="embed the clean parts of generated heads into a suggestion library")
    b.add_argument("--weights", required=True, type=Path, help="suggest.safetensors from train")
    b.add_argument("--heads", required=True, type=int, help="heads in the library")
    b.add_argument("--seed", required=True, type=int, help="head seed (use one the training did not)")
    b.add_argument("--out", required=True, type=Path, help="library file (.safetensors)")
    b.add_argument("--size", type=int, default=0, help="canvas size (pixels; 0: the training's)")
    b.add_argument("--no-images", action="store_true",
                   help="leave the part images out (a small library to ship; it cannot be re-embedded)")
    b.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    e = sub.add_parser("eval", help="top-1 / top-5 retrieval of humanised drawings of the library's heads")
    e.add_argument("--weights", required=True, type=Path, help="suggest.safetensors the library was built with")
    e.add_argument("--library", required=True, type=Path, help="library file from `library`")
    e.add_argument("--heads", required=True, type=int, help="query heads: the library's first N heads")
    e.add_argument("--seed", required=True, type=int, help="seed of the humanised query drawings")
    e.add_argument("--out", type=Path, default=None, help="write the report here (JSON)")
    e.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    return run_command(PROG, lambda: _main(argv), (DataError, WeightsError, OSError))


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    return dispatch(args.command, {name: functools.partial(_threaded, run, args)
                                   for name, run in (("train", _train), ("library", _library), ("eval", _eval))})


def _threaded(run, args) -> int:
    """`run(args)` with torch's thread count set from `--threads` (every subcommand has it)."""
    if args.threads < 0:
        raise UsageError(f"--threads must be 0 (torch's default) or a positive count, got {args.threads}")
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    return run(args)


class _Bars:
    """tqdm bars by stage name, made when a stage first reports (after the argument checks)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.bars = quiet, {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.quiet:
            return
        bar = self.bars.get(stage)
        if bar is None:
            from tqdm import tqdm
            bar = self.bars[stage] = tqdm(total=total, unit=stage.rstrip("s"), desc=stage, dynamic_ncols=True)
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _train(args) -> int:
    from .suggest import TrainSettings, train

    settings = TrainSettings(heads=args.heads, seed=args.seed, epochs=args.epochs, size=args.size,
                             drawings=args.drawings, batch=args.batch, lr=args.lr, max_minutes=args.max_minutes)
    if args.out.exists() and not args.out.is_dir():
        raise DataError(f"--out {args.out} is a file; give a folder for the run")
    args.out.mkdir(parents=True, exist_ok=True)
    logfile = args.out / "log.jsonl"
    lines: list[str] = []

    def log(rec: dict) -> None:
        lines.append(json.dumps(rec))
        atomic_write_bytes(logfile, ("\n".join(lines) + "\n").encode("utf-8"))
        if not args.quiet:
            extra = f", validation top-1 {rec['val_top1']:.3f}" if "val_top1" in rec else ""
            print(f"epoch {rec['epoch']}: loss {rec['loss']:.4f} (recon {rec['recon']:.4f}, nce {rec['nce']:.4f}, "
                  f"class {rec['class']:.4f}){extra}", file=sys.stderr)

    bars = _Bars(args.quiet)
    try:
        _, record = train(settings, args.out, progress=bars, log=log)
    finally:
        bars.close()
    last = record["history"][-1] if record["history"] else {}
    val = f"; validation top-1 {last['val_top1']:.3f}" if "val_top1" in last else ""
    cut = " (stopped by --max-minutes)" if record["stopped_by_time"] else ""
    print(f"trained {record['steps']} steps on {record['train_drawings']} part drawings of {record['train_heads']} "
          f"heads in {record['seconds']:.0f} s{cut}{val}; wrote {args.out / 'suggest.safetensors'}")
    return 0


def _library(args) -> int:
    from .suggest import build_library, load_model

    model, extra = load_model(args.weights)
    size = args.size or int(extra.get("settings", {}).get("size", 256))
    if args.out.suffix != ".safetensors":
        raise DataError(f"--out must end in .safetensors, got {args.out}")
    if not args.out.parent.is_dir():
        raise DataError(f"folder {args.out.parent} does not exist; create it or pick another --out")
    train_seed = extra.get("settings", {}).get("seed")
    if train_seed == args.seed:
        print(f"{PROG}: warning: --seed {args.seed} is the training seed: the library's heads are training heads",
              file=sys.stderr)
    bars = _Bars(args.quiet)
    done = [0]

    def step(n: int) -> None:
        done[0] += n
        bars("heads", done[0], args.heads)

    try:
        lib = build_library(model, args.heads, args.seed, size, progress=step)
    finally:
        bars.close()
    lib.meta = {**lib.meta, "weights": str(args.weights), "train_seed": train_seed}
    lib.save(args.out, images=not args.no_images)
    counts = ", ".join(f"{p} {len(lib.entries(p))}" for p in lib.meta["parts"])
    print(f"{len(lib)} entries from {args.heads} heads ({counts}); wrote {args.out}")
    return 0


def _eval(args) -> int:
    from .suggest import evaluate, load_library, load_model

    model, extra = load_model(args.weights)
    lib = load_library(args.library)
    if args.out is not None and not args.out.parent.is_dir():
        raise DataError(f"folder {args.out.parent} does not exist; create it or pick another --out")
    t0 = time.perf_counter()
    bars = _Bars(args.quiet)
    try:
        report = evaluate(model, lib, args.heads, args.seed, progress=bars)
        if not report["held_out"] and lib.meta.get("train_seed") is None:
            report["held_out"] = extra.get("settings", {}).get("seed") not in (None, lib.meta.get("seed"))
    finally:
        bars.close()
    report["weights"], report["library_file"] = str(args.weights), str(args.library)
    report["train_seed"] = extra.get("settings", {}).get("seed")
    report["seconds"] = round(time.perf_counter() - t0, 1)
    if args.out is not None:
        atomic_write_bytes(args.out, (json.dumps(report, indent=1) + "\n").encode("utf-8"))
    print(f"{'part':8s} {'queries':>7s} {'top-1':>6s} {'top-5':>6s} {'type':>6s} {'pixel-1':>7s} {'entries':>7s}")
    for p, r in {**report["per_part"], "overall": {**report["overall"], "library_entries": len(lib)}}.items():
        if r["queries"]:
            print(f"{p:8s} {r['queries']:7d} {r['top1']:6.3f} {r['top5']:6.3f} {r['type']:6.3f} {r['pixel_top1']:7.3f} "
                  f"{r['library_entries']:7d}")
    if not report["held_out"]:
        print(f"{PROG}: warning: the library's heads are not held out from the training (same seed or unknown)",
              file=sys.stderr)
    if args.out is not None:
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
