"""Markdown tables from the cad benchmark's JSON (`benchmarks/results/cad.json`), for the model card
and the README: every number is read from the file, none typed by hand.

    .venv/bin/python benchmarks/report_cad.py [benchmarks/results/cad.json] > figures.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CLASSES = ("extrude", "add/subtract", "bevel", "sweep")


def pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def num(x, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def network(name: str, net: dict) -> list[str]:
    per = ", ".join(f"{c} {pct(a)}" for c, a in zip(CLASSES, net["per_class_acc"]))
    lines = [f"**{name}**: network on all {net['items']} items: operation {pct(net['class_acc'])}, "
             f"stitching-face IoU {num(net['stitch_iou'])}, curve roles {pct(net['role_acc'])}; "
             f"operation per class {per}."]
    if net.get("role_acc_per_class"):
        roles = ", ".join(f"{c} {pct(a)}" for c, a in zip(CLASSES, net["role_acc_per_class"]))
        lines.append(f"Curve roles per class: {roles}; along strokes as the fitting reads them "
                     f"(a vote along each stroke): {pct(net.get('stroke_role_acc'))}.")
    st = net.get("strokes")
    if st:
        roles = ", ".join(f"{c} {pct(a)}" for c, a in zip(CLASSES, st["role_acc_per_class"]))
        lines.append(f"With the stroke stage (the roles the fitting reads): curve roles {pct(st['role_acc'])}; per "
                     f"class {roles}; where strokes of two roles touch {pct(st.get('role_acc_near_other'))}, "
                     f"elsewhere {pct(st.get('role_acc_clear'))}; along strokes {pct(st.get('stroke_role_acc'))}.")
    lines += ["", "Network confusion (rows truth, columns predicted: extrude, add/subtract, bevel, sweep): "
              f"`{net['confusion']}`"]
    return lines


ROW_HEAD = ("| {what} | items | top-1 operation | top-1 class | network class (framed view) | median rel. size "
            "error | sign | IoU>=0.95 top-1 | IoU>=0.95 top-3 | changed-region IoU median | changed IoU>=0.8 | "
            "ms p50 (2 processes at once) | ms p95 |")


def row(name: str, f: dict) -> str:
    return (f"| {name} | {f['items']} | {pct(f['top1_op_accuracy'])} | {pct(f['top1_class_accuracy'])} | "
            f"{pct(f['network_class_accuracy'])} | {num(f['median_rel_distance_error'])} | {pct(f['sign_accuracy'])} | "
            f"{pct(f['iou95_top1'])} | {pct(f['iou95_top3'])} | {num(f['changed_iou_median'])} | "
            f"{pct(f['changed_iou80_top1'])} | {f['ms_total_p50']:.1f} | {f['ms_total_p95']:.1f} |")


def pipeline(pipe: dict) -> list[str]:
    n = pipe["all"]["items"]
    lines = [f"Whole interpretations (app path) on {n + pipe['unreplayable']} items ({pipe['unreplayable']} whose "
             "recorded operation no longer replays are left out):", "",
             ROW_HEAD.format(what="class"), "|" + "---|" * 13]
    lines += [row(c, f) for c, f in pipe["per_class"].items() if f]
    lines.append(row("all", pipe["all"]))
    spans = pipe.get("per_sketch_span") or {}
    if spans:
        lines += ["", "By how much of the canvas the sketch spans (the longer side of its strokes' box):", "",
                  ROW_HEAD.format(what="sketch span"), "|" + "---|" * 13]
        lines += [row(k, f) for k, f in spans.items()]
    c = pipe["confusion_top1"]
    lines += ["", f"Top proposal's class (rows truth; columns top proposal extrude, add/subtract, bevel, sweep, "
                  f"no proposal): `{c['counts']}`"]
    return lines


def report(d: dict) -> str:
    out: list[str] = []
    for key, title in (("test", "test set"), ("messy", "messier strokes")):
        part = d.get(key)
        if not part:
            continue
        data = part["data"]
        out += network(f"{title} (seed {data['seed']}, style {data['style_factor']})", part["network"])
        out.append("")
        out += pipeline(part["pipeline"])
        out.append("")
    t = d["timing_one_thread"]
    stages = ", ".join(f"{k} p50 {v['p50']:.1f} ms / p95 {v['p95']:.1f} ms" for k, v in t["stage_ms"].items())
    out.append(f"Time per interpretation, one process on one thread, nothing else running ({t['items']} test "
               f"items): {stages}.")
    out.append("")
    r = d["command_line"]
    out.append(f"`sketchforge interpret` replayed from files ({r['items']} test items with before/after STEP and a "
               f"sketch file, one process each): exit 0 for {r['exit_0']}; "
               f"top-1 operation {pct(r['top1_op_accuracy'])}, class {pct(r['top1_class_accuracy'])}; "
               "written STEP vs recorded after STEP: IoU>=0.95 "
               f"{pct(r['iou95'])}, changed-region IoU median {num(r['changed_iou_median'])}; command wall time p50 "
               f"{r['command_ms_p50'] / 1e3:.2f} s / p95 {r['command_ms_p95'] / 1e3:.2f} s (process start and imports "
               f"included), the report's `seconds` p50 {r['reported_ms_p50'] / 1e3:.2f} s.")
    return "\n".join(out) + "\n"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "results" / "cad.json"
    d = json.loads(path.read_text())
    sys.stdout.write(report(d.get("figures", d)))


if __name__ == "__main__":
    main()
