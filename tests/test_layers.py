"""The house's layers: the model runs with no Qt and no torch loaded."""

from __future__ import annotations

import subprocess
import sys

PROBE = r"""
import sys, pkgutil, importlib
import sketchforge.modeling as m
for info in pkgutil.walk_packages(m.__path__, "sketchforge.modeling."):
    importlib.import_module(info.name)
from sketchforge.modeling.session import Session
from sketchforge.modeling.demo import build_demo
from sketchforge.modeling.camera import Camera
s = Session(); build_demo(s)
s.render(Camera.looking_at((0, 0, 10), 200, -60, 30), 64, 64)
bad = sorted(n for n in sys.modules if n.split(".")[0] in ("PySide6", "pyqtgraph", "torch", "qtconsole"))
print("LOADED:" + ",".join(bad))
"""


def test_modeling_imports_no_qt_and_no_torch():
    r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "LOADED:"


def test_import_linter_contracts_hold():
    exe = sys.executable.rsplit("/", 1)[0] + "/lint-imports"
    r = subprocess.run([exe], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "broken" not in r.stdout.lower() or "0 broken" in r.stdout.lower()
