"""The batch form of `sketchforge interpret`: many sketches over one model, in one process.

    sketchforge interpret [--model IN] --sketch A.sketch.json B.sketch.json ... --out OUTDIR
    sketchforge interpret [--model IN] --sketch FOLDER --out OUTDIR [--format glb] [--report RDIR]

Python, torch, OpenCascade and Open3D start once, and the back end loads its networks once, so a
sketch costs about what its back end takes to read it. Each sketch is read against the model as
it is in IN (never against an earlier sketch's result), its best proposal applied and written to
OUTDIR/NAME.FORMAT (NAME: the sketch file's name without `.sketch.json`), its report to
RDIR/NAME.json (the single form's report). A sketch that fails is reported on one line and the
batch goes on; the exit status is 1 when any failed. A progress bar goes to stderr unless --quiet.
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
import sys
import time
from pathlib import Path

from sketchforge.app import cli
from sketchforge.app.cli import EXIT_FAILED, EXIT_OK, CliError

log = logging.getLogger(__name__)

SUFFIX = ".sketch.json"
DEFAULT_FORMATS = {"cad": "step"}  # by the sketch's mode; any other mode makes a mesh: glb


def wants_batch(args) -> bool:
    """True for the batch form: several sketches, a folder of them, or an output --format."""
    return len(args.sketch) > 1 or Path(args.sketch[0]).is_dir() or args.format is not None


def skip_final_collection() -> None:
    """At the process's exit, leave the objects made so far out of the interpreter's final garbage
    collections: they walk every object torch, OpenCascade and Open3D made, 0.8 s of a 3.5 s run on
    this project's machine, to free memory the process gives back anyway. Registered once; every
    file is written, closed and synced before (and other exit handlers, logging's flush among
    them, still run)."""
    global _FREEZE_AT_EXIT
    if not _FREEZE_AT_EXIT:
        _FREEZE_AT_EXIT = True
        atexit.register(gc.freeze)


_FREEZE_AT_EXIT = False


def one_torch_thread() -> None:
    """Read on one torch thread unless OMP_NUM_THREADS says otherwise: beside the CAD kernel and on
    a small, shared machine, a second thread fights for the same cores (a face reading on this
    project's 2-core machine under load took 3 to 5 s on two threads, 0.4 to 0.8 s on one)."""
    if "OMP_NUM_THREADS" not in os.environ:
        import torch  # every back end runs on it; imported here only just before the reading
        torch.set_num_threads(1)


def sketch_files(given: list[str]) -> list[Path]:
    """The sketch files named, a folder standing for its *.sketch.json files (sorted by name)."""
    files: list[Path] = []
    for g in given:
        p = Path(g)
        if p.is_dir():
            found = sorted(q for q in p.glob("*" + SUFFIX) if q.is_file())
            if not found:
                raise CliError(f"{p} holds no *{SUFFIX} files; give sketch files or a folder of them")
            files += found
        else:
            files.append(p)
    return files


def output_name(sketch: Path) -> str:
    """A sketch file's name without `.sketch.json` (or its last suffix)."""
    name = sketch.name
    return name[:-len(SUFFIX)] if name.lower().endswith(SUFFIX) else Path(name).stem


def _folder(path: str, what: str) -> Path:
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise CliError(f"{what} {p} is a file; for several sketches give a folder (it is made when missing)")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot make the folder {p}: {exc.strerror or exc}; pick another") from None
    return p


def run(args) -> int:
    """The batch (see the module's doc); 0 when every sketch was written, 1 when any failed."""
    if args.top < 1:
        raise CliError("--top must be at least 1")
    sketches = sketch_files(args.sketch)
    names: dict[str, Path] = {}
    for sk in sketches:
        other = names.setdefault(output_name(sk), sk)
        if other != sk:
            raise CliError(f"{other} and {sk} would both be written as {output_name(sk)}; rename one")
    out_dir = _folder(args.out, "--out")
    report_dir = _folder(args.report, "--report") if args.report else None
    session = cli._session()
    fmt = args.format.lower().lstrip(".") if args.format is not None else None
    if fmt is not None:
        cli._check_writable(session, out_dir / f"{next(iter(names))}.{fmt}")
    if args.model:
        cli._load_model(session, args.model)
    # the model as read: every sketch starts from it in a new document (nothing of an earlier
    # sketch, its data included, stays behind)
    base = [(op, session.document.state_after(k)) for k, op in enumerate(session.history)]
    blobs = dict(session.document.blobs)
    one_torch_thread()
    from tqdm import tqdm
    failed = 0
    bar = tqdm(sketches, desc="interpret", unit="sketch", file=sys.stderr, disable=args.quiet, dynamic_ncols=True)
    for sk in bar:
        session.new()
        for op, state in base:
            session.document.apply(op, state, blobs)
        try:
            interpret_one(session, sk, out_dir, fmt, report_dir, args.top, args.model)
        except CliError as exc:
            failed += 1
            bar.write(_failure(sk, str(exc)), file=sys.stderr)
        except Exception as exc:  # noqa: BLE001 - one sketch's failure does not end the batch
            failed += 1
            log.info("%s failed", sk, exc_info=True)
            bar.write(_failure(sk, f"{type(exc).__name__}: {exc}"), file=sys.stderr)
        if failed:
            bar.set_postfix(failed=failed, refresh=False)
    bar.close()
    if not args.quiet:
        done = len(sketches) - failed
        print(f"{done} of {len(sketches)} sketches -> {out_dir}" + (f" ({failed} failed)" if failed else ""))
    return EXIT_FAILED if failed else EXIT_OK


def interpret_one(session, path: Path, out_dir: Path, fmt: str | None, report_dir: Path | None, top: int = 3,
                  model: str | None = None) -> Path:
    """Read one sketch over the session's model (read from `model`), apply its best proposal, write
    the result as OUT_DIR/NAME.FMT (FMT by the sketch's mode when None) and its report; CliError
    with the reason otherwise. Returns the output file. The report's `seconds` run from reading
    the sketch file to its result written."""
    from sketchforge.modeling.sketch import Sketch, SketchError
    t0 = time.perf_counter()
    try:
        sketch = Sketch.load(path)
    except SketchError as exc:
        raise CliError(f"malformed sketch: {exc}") from None
    name = output_name(path)
    out = out_dir / f"{name}.{fmt or DEFAULT_FORMATS.get(sketch.mode, 'glb')}"
    report_path = report_dir / f"{name}.json" if report_dir is not None else None
    cli._check_writable(session, out, report_path, inputs=(model, str(path)))
    result = cli.apply_best(session, sketch, top)
    cli.write_result(session, out, report_path, lambda: {
        "mode": sketch.mode, "proposals": [p.to_json() for p in result.proposals],
        "seconds": round(time.perf_counter() - t0, 4), "interpretation": result.report.to_json(),
        "sketch": str(path)})
    return out


def _failure(sketch: Path, reason: str) -> str:
    """One line naming the sketch (once) and why it failed."""
    reason = " ".join(reason.split())
    return f"sketchforge: {reason}" if str(sketch) in reason else f"sketchforge: {sketch}: {reason}"
