"""The `sketchforge` command: the app, the demo, scripts, conversions and the headless interpreter.

Every failure the user can cause (bad arguments, unreadable files, operations the kernel refuses)
ends in one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import runpy
import sys
import time
import traceback
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A user-facing failure: its message is printed as one line."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + error
        raise CliError(f"{message} (see '{self.prog} --help')")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="sketchforge", description="Sketch-to-3D modeling. With no command, starts the app.",
                epilog="sketchforge data {generate,show} ...: Sketch2CAD training data "
                       "(see 'sketchforge data --help'; the same as sketchforge-data)")
    p.add_argument("--verbose", action="store_true", help="log what happens")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    d = sub.add_parser("demo", help="build the sample model with all four sketch operations and export it")
    d.add_argument("--out", default="sketchforge-demo.step",
                   help="output file; its extension picks the format (.step .obj .glb .ply .sketchforge)")
    r = sub.add_parser("run", help="run a Python script with `session` bound, headless")
    r.add_argument("script")
    r.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the script as sys.argv[1:]")
    e = sub.add_parser("export", help="convert a model file; formats by extension")
    e.add_argument("input", help=".sketchforge, .step/.stp, .obj, .ply, .gltf or .glb")
    e.add_argument("output", help=".step, .obj, .glb, .ply or .sketchforge")
    i = sub.add_parser("interpret", help="interpret a sketch over a model and apply the best proposal")
    i.add_argument("--model", help="the current model (.step, mesh, point cloud or .sketchforge)")
    i.add_argument("--sketch", required=True, nargs="+", action="extend",
                   help="a *.sketch.json file; several, or a folder of them, read in one go (a batch)")
    i.add_argument("--out", required=True, help="where to write the result; format by extension (a batch: a folder)")
    i.add_argument("--report", help="write the proposals as JSON here (a batch: a folder, one file per sketch)")
    i.add_argument("--top", type=int, default=3, help="how many proposals to report (default 3)")
    i.add_argument("--format", help="a batch's output format: step, glb, obj, ply or sketchforge "
                                    "(default: step for CAD sketches, glb for the others)")
    i.add_argument("--quiet", action="store_true", help="a batch: no progress bar and no summary")
    o = sub.add_parser("apply", help="apply one operation to a model (e.g. mesh_cloud, split_parts, paint_parts)",
                       description="Apply one operation to the model in INPUT and write the result. Parameters are "
                                   "NAME=VALUE (a VALUE that reads as JSON is taken as such: 7, true, [1, 2]); "
                                   "'body' defaults to the model's only body.")
    o.add_argument("input", nargs="?", help="the model (.sketchforge, .step, mesh or point cloud)")
    o.add_argument("operation", help="the operation's id (sketchforge apply --list names them)", nargs="?")
    o.add_argument("params", nargs="*", metavar="NAME=VALUE")
    o.add_argument("--out", help="where to write the result; format by extension")
    o.add_argument("--only-new", action="store_true",
                   help="write only the bodies the operation made (a mesh from a cloud as OBJ, say)")
    o.add_argument("--list", action="store_true", help="list the operations and their parameters")
    rc = sub.add_parser("recolor", help="new colors for a point cloud from a prompt, every point kept in place")
    rc.add_argument("input", help="the model holding the cloud (.ply, .glb, .sketchforge)")
    rc.add_argument("--prompt", required=True, help="how it is colored: \"a wooden chair with a red seat\"")
    rc.add_argument("--parts", nargs="+", default=(), help="re-color only these parts (seat, legs, ...)")
    rc.add_argument("--body", help="the cloud (default: the model's only cloud)")
    rc.add_argument("--seed", type=int, default=None)
    rc.add_argument("--out", required=True)
    rs = sub.add_parser("resample", help="sample a cloud drawn in the points mode again with another seed")
    rs.add_argument("input", help="a .sketchforge file holding the cloud and the sketch it was drawn as")
    rs.add_argument("--body", help="the cloud (default: the model's only cloud)")
    rs.add_argument("--seed", type=int, default=None, help="default: the next seed")
    rs.add_argument("--prompt", default=None, help="another prompt (default: the one it was drawn with)")
    rs.add_argument("--out", required=True)
    a = sub.add_parser("app", help="start the desktop app")
    a.add_argument("file", nargs="?", help="a .sketchforge file to open")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["data"]:  # its own command line, options included
        from sketchforge.neural.synth.cli import main as data_main
        return data_main(argv[1:] or ["--help"])
    try:
        args = _parser().parse_args(argv)
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                            format="%(levelname)s %(name)s: %(message)s")
        command = args.command or "app"
        return {"demo": _demo, "run": _run, "export": _export, "interpret": _interpret, "apply": _apply,
                "recolor": _recolor, "resample": _resample, "app": _app}[command](args)
    except CliError as exc:
        print(f"sketchforge: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("sketchforge: interrupted", file=sys.stderr)
        return 130


def _session():
    from sketchforge.modeling.session import Session
    return Session()


def _user_errors() -> tuple[type[BaseException], ...]:
    from sketchforge.modeling.archive import SessionFileError
    from sketchforge.modeling.exchange import ExchangeError
    from sketchforge.modeling.operations import OperationError
    from sketchforge.modeling.params import ParamError
    from sketchforge.modeling.refs import ReferenceError
    from sketchforge.modeling.registry import RegistryError
    from sketchforge.modeling.sketch import SketchError
    return (SessionFileError, ExchangeError, OperationError, ParamError, ReferenceError, RegistryError,
            SketchError, ValueError, OSError)


def _load_model(session, path: str) -> None:
    p = Path(path)
    if p.is_dir():
        raise CliError(f"cannot read {p}: it is a folder, not a model file")
    if not p.is_file():
        raise CliError(f"cannot read {p}: no such file")
    try:
        if p.suffix.lower() == ".sketchforge":
            session.open(p)
        else:
            session.import_file(p)
    except _user_errors() as exc:
        reason = str(exc)
        for named in (str(p), p.name):  # a reason that names the file already says it once
            if reason.startswith(named + ": "):
                reason = reason[len(named) + 2:]
                break
            if reason.startswith(named + " "):
                raise CliError(str(p) + reason[len(named):]) from None
        raise CliError(f"cannot read {p}: {reason}") from None


def _write(session, path: str) -> Path:
    from sketchforge.modeling.archive import SUFFIX, save_document
    p = Path(path)
    try:
        if p.suffix == SUFFIX:
            return session.save(p)
        if p.suffix.lower() == SUFFIX:  # Session.save would add a second, lower-case suffix
            save_document(session.document, p)
            return p
        return session.export(p)
    except _user_errors() as exc:
        reason = str(exc)
        raise CliError(reason if reason.startswith("cannot write ") else f"cannot write {p}: {reason}",
                       EXIT_FAILED) from None


def _check_writable(session, out: Path, report: Path | None = None, inputs: tuple[str | None, ...] = ()) -> None:
    """Refuse, before any work, outputs that cannot be written: a format nobody writes, a missing
    or read-only folder, a folder where the file should go, two outputs on one path, or an
    output that would overwrite one of the input files."""
    if out.is_dir():
        raise CliError(f"cannot write {out}: it is a folder; give a file name")
    ext = out.suffix.lower().lstrip(".")
    known = f"{', '.join('.' + n for n in session.exporters.names())} or .sketchforge"
    if not ext:
        raise CliError(f"cannot write {out}: its name has no extension to pick the format; end it in one of {known}")
    if ext != "sketchforge" and ext not in session.exporters:
        raise CliError(f"cannot write .{ext} files; use one of {known}")
    outputs = [out] + ([out.with_suffix(".mtl")] if ext == "obj" else []) + ([report] if report else [])

    def same(a: Path, b: Path) -> bool:
        try:
            return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
        except (OSError, RuntimeError):
            return False

    for k, target in enumerate(outputs):
        folder = target.parent
        if target.is_dir():
            raise CliError(f"cannot write {target}: it is a folder; give a file name")
        if not folder.is_dir():
            raise CliError(f"cannot write {target}: the folder {folder} does not exist; create it or pick another")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise CliError(f"cannot write {target}: the folder {folder} is not writable; pick another")
        for source in inputs:
            if source and same(target, Path(source)):
                raise CliError(f"cannot write {target}: it is the input file {source}, which would be "
                               "overwritten; pick another output name")
        if any(same(target, other) for other in outputs[:k]):
            raise CliError(f"cannot write {target} twice: give the outputs different names")


def _demo(args) -> int:
    from sketchforge.modeling.demo import build_demo
    session = _session()
    try:
        build_demo(session)
    except _user_errors() as exc:  # the demo uses only fixed values; this would be a kernel change
        raise CliError(f"the demo model could not be built: {exc}", EXIT_FAILED) from None
    out = _write(session, args.out)
    body = next(iter(session.bodies.values()))
    print(f"demo: {len(session.history)} operations, {body.summary()['faces']} faces, "
          f"volume {body.summary()['volume']:.1f} mm^3 -> {out}")
    return EXIT_OK


def _run(args) -> int:
    script = Path(args.script)
    if not script.is_file():
        raise CliError(f"cannot read {script}: no such file")
    session = _session()
    old_argv = sys.argv
    sys.argv = [str(script)] + list(args.args)
    try:
        runpy.run_path(str(script), init_globals={"session": session}, run_name="__main__")
    except SystemExit as exc:  # as Python itself: a number is the status, anything else a message
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or EXIT_OK
        print(exc.code, file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:
        tb = traceback.extract_tb(exc.__traceback__)
        frames = [f for f in tb if Path(f.filename).resolve() == script.resolve()]
        where = f"{script.name} line {frames[-1].lineno}" if frames else script.name
        raise CliError(f"{where}: {type(exc).__name__}: {exc}", EXIT_FAILED) from None
    finally:
        sys.argv = old_argv
    return EXIT_OK


def _export(args) -> int:
    session = _session()
    out = Path(args.output)
    _check_writable(session, out, inputs=(args.input,))
    _load_model(session, args.input)
    _write(session, args.output)
    print(f"{args.input} -> {out}")
    return EXIT_OK


def _param_value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _only_body(session, kind: str | None = None) -> str:
    names = [k for k, b in session.bodies.items() if kind is None or b.kind == kind]
    what = "body" if kind is None else f"{kind} body"
    if len(names) != 1:
        listed = ", ".join(session.bodies) or "none"
        raise CliError(f"the model has {len(names)} {what.replace('body', 'bodies') if len(names) != 1 else what}; "
                       f"name one with body=NAME / --body NAME (bodies: {listed})")
    return names[0]


def _apply(args) -> int:
    session = _session()
    if args.list:
        import dataclasses
        for op_id in session.operations.names():
            cls = session.operations.get(op_id)
            fields = ", ".join(f.name for f in dataclasses.fields(cls))
            print(f"{op_id:14s} {cls.title}: {fields}")
        return EXIT_OK
    if not args.input or not args.operation or not args.out:
        raise CliError("give the model, the operation and --out: sketchforge apply IN.ply mesh_cloud --out OUT.obj "
                       "(sketchforge apply --list names the operations)")
    if args.operation not in session.operations:
        raise CliError(f"there is no operation {args.operation!r}; sketchforge apply --list names them")
    params = {}
    for item in args.params:
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise CliError(f"write parameters as NAME=VALUE, got {item!r}")
        params[name.strip()] = _param_value(value)
    out = Path(args.out)
    _check_writable(session, out, inputs=(args.input,))
    _load_model(session, args.input)
    params.setdefault("body", _only_body(session))
    before = set(session.bodies)
    try:
        op = session.apply(args.operation, **params)
    except _user_errors() as exc:
        raise CliError(f"{args.operation}: {exc}", EXIT_FAILED) from None
    made = sorted(set(session.bodies) - before)
    if args.only_new:
        if not made:
            raise CliError(f"{args.operation} made no new body; leave out --only-new", EXIT_FAILED)
        try:
            session.export(out, bodies=made)
        except _user_errors() as exc:
            raise CliError(f"cannot write {out}: {exc}", EXIT_FAILED) from None
    else:
        _write(session, args.out)
    print(f"{op.describe()}" + (f" (new: {', '.join(made)})" if made else "") + f" -> {out}")
    return EXIT_OK


def _recolor(args) -> int:
    return _cloud_command(args, lambda s, body: s.recolor(body, args.prompt, tuple(args.parts), args.seed))


def _resample(args) -> int:
    return _cloud_command(args, lambda s, body: s.resample(body, args.seed, args.prompt))


def _cloud_command(args, run) -> int:
    from sketchforge.app import batch
    batch.skip_final_collection()
    session = _session()
    out = Path(args.out)
    _check_writable(session, out, inputs=(args.input,))
    _load_model(session, args.input)
    body = args.body or _only_body(session, "points")
    batch.one_torch_thread()
    from sketchforge.modeling.session import NoBackendError
    try:
        op = run(session, body)
    except NoBackendError as exc:
        raise CliError(f"{exc}; install or enable a back end for it", EXIT_FAILED) from None
    except _user_errors() as exc:
        raise CliError(str(exc), EXIT_FAILED) from None
    _write(session, args.out)
    print(f"{op.describe()} -> {out}")
    return EXIT_OK


def _interpret(args) -> int:
    from sketchforge.app import batch
    batch.skip_final_collection()
    if batch.wants_batch(args):
        return batch.run(args)
    args.sketch = args.sketch[0]  # the single form, as the contract has it
    from sketchforge.modeling.sketch import Sketch, SketchError
    t0 = time.perf_counter()
    if args.top < 1:
        raise CliError("--top must be at least 1")
    session = _session()
    out = Path(args.out)
    report_path = Path(args.report) if args.report else None
    _check_writable(session, out, report_path, inputs=(args.model, args.sketch))
    try:
        sketch = Sketch.load(args.sketch)
    except SketchError as exc:
        raise CliError(f"malformed sketch: {exc}") from None
    if args.model:
        _load_model(session, args.model)
    batch.one_torch_thread()
    result = apply_best(session, sketch, args.top)
    report = None
    if report_path is not None:
        report = {"mode": sketch.mode, "proposals": [p.to_json() for p in result.proposals],
                  "seconds": round(time.perf_counter() - t0, 4), "interpretation": result.report.to_json()}
    write_result(session, out, report_path, lambda: report)
    return EXIT_OK


def write_result(session, out: Path, report_path: Path | None, report) -> None:
    """Write the session's model to `out` and then, with `report_path`, the report `report()`
    gives; when the report cannot be written, the files this wrote are removed again (no result
    without its report) and CliError says why. The single and the batch form share this."""
    from sketchforge.modeling.files import atomic_write_bytes
    new_files = [q for q in (out, out.with_suffix(".mtl")) if not q.exists()]
    _write(session, str(out))
    if report_path is not None:
        try:
            atomic_write_bytes(report_path, json.dumps(report(), indent=1).encode())
        except (OSError, ValueError) as exc:
            for q in new_files:
                q.unlink(missing_ok=True)
            raise CliError(f"cannot write {report_path}: {exc}", EXIT_FAILED) from None


def apply_best(session, sketch, top: int):
    """Interpret `sketch` and apply its best proposal (the single and the batch form share this);
    CliError saying what went wrong, "nothing recognised: ..." when nothing was."""
    from sketchforge.modeling.session import NoBackendError
    try:
        result = session.interpret(sketch, top_k=top)
    except NoBackendError as exc:
        raise CliError(f"{exc}; install or enable a back end for it", EXIT_FAILED) from None
    except _user_errors() as exc:
        raise CliError(f"the sketch could not be interpreted: {exc}", EXIT_FAILED) from None
    if not result.proposals:
        hint = result.hint or "draw the operation's lines over the model"
        hint = hint[:1].lower() + hint[1:]
        raise CliError(hint if hint.startswith("nothing recognised") else f"nothing recognised: {hint}", EXIT_FAILED)
    try:
        session.accept(result.proposals[0])
    except _user_errors() as exc:
        raise CliError(f"the best proposal could not be applied: {exc}", EXIT_FAILED) from None
    return result


def _app(args) -> int:
    file = getattr(args, "file", None)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
            or os.environ.get("QT_QPA_PLATFORM") in ("offscreen", "minimal")):
        if file:  # the user asked for this file, not for a demo
            raise CliError(f"cannot open {file}: the window needs a display and none was found; set DISPLAY, "
                           f"or use 'sketchforge export {file} OUT' to convert it without the window")
        print("No display found: running the headless demo instead (set DISPLAY to start the window).")
        return _demo(argparse.Namespace(out="sketchforge-demo.step"))
    try:
        from sketchforge.app.window import run_app
    except ImportError as exc:  # Qt's system libraries missing: say which, still do something useful
        if file:
            raise CliError(f"cannot open {file}: the window cannot start ({exc}); run 'make setup'") from None
        print(f"The window cannot start ({exc}); run 'make setup'. Running the headless demo instead.")
        return _demo(argparse.Namespace(out="sketchforge-demo.step"))
    return run_app(["sketchforge"] + ([file] if file else []))


if __name__ == "__main__":
    sys.exit(main())
