"""Where the shipped files are: the package `sketchforge.assets` (the checkout's assets/ folder),
found through importlib.resources so that an installed wheel finds them as a checkout does."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["PACKAGE", "asset_root", "asset_path"]

PACKAGE = "sketchforge.assets"


def asset_root() -> Path:
    """The folder of the shipped files (it may lack some of them: see `asset_path`)."""
    root = files(PACKAGE)
    if not isinstance(root, Path):
        raise FileNotFoundError(f"{PACKAGE} is installed inside an archive ({root}); the weight files are read "
                                "from disk, so install Sketchforge unpacked (pip installs a wheel that way)")
    return root


def asset_path(relative: str) -> Path:
    """The shipped file `relative` (e.g. "cad/cadnet.safetensors"); FileNotFoundError naming the
    file and how to make it when it is missing."""
    root = asset_root()
    path = root.joinpath(*relative.split("/"))
    if not path.is_file():
        card = root / relative.split("/")[0] / "MODEL_CARD.md"
        how = f"make it as {card} describes, or " if card.is_file() and "/" in relative else ""
        raise FileNotFoundError(f"the shipped file {relative} is missing from {root}; {how}reinstall Sketchforge "
                                "to restore it")
    return path
