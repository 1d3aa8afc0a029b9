"""Where the app keeps its settings and recovery copies (`SKETCHFORGE_HOME` overrides, for tests)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths


def app_home() -> Path:
    env = os.environ.get("SKETCHFORGE_HOME")
    if env:
        home = Path(env)
    else:
        base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
        home = Path(base or Path.home() / ".local" / "share") / "sketchforge"
    home.mkdir(parents=True, exist_ok=True)
    return home


def recovery_dir() -> Path:
    d = app_home() / "recovery"
    d.mkdir(parents=True, exist_ok=True)
    return d


def settings() -> QSettings:
    """Preferences and window layout, in an ini file under the app home."""
    return QSettings(str(app_home() / "settings.ini"), QSettings.Format.IniFormat)
