"""What every training loop of the house shares: the learning-rate schedule, stopping on a signal
with a checkpoint, and resumable checkpoints (weights + optimizer in one weight file of kind
`<network>-checkpoint` (`neural.weights`), the training state in its metadata and in a readable
`state.json`; nothing is ever unpickled)."""

from __future__ import annotations

import hashlib
import io
import json
import math
import signal
from pathlib import Path

import numpy as np
import torch

from sketchforge.modeling.files import atomic_write_bytes

from .weights import WeightsError, checkpoint_kind, load_weights, save_weights

__all__ = ["OPTIMIZER_PREFIX", "learning_rate", "StopRequest", "save_checkpoint", "load_checkpoint",
           "file_digest", "load_kept", "save_kept"]

OPTIMIZER_PREFIX = "optimizer."
WARMUP_STEPS = 200
FINAL_LR_SHARE = 0.05


def learning_rate(step: int, base: float, total: int, warmup: int = WARMUP_STEPS,
                  final_share: float = FINAL_LR_SHARE) -> float:
    """Linear warm-up, then cosine decay to `final_share` of the base rate at `total` steps."""
    warm = min(warmup, max(total // 10, 1))
    if step < warm:
        return base * (step + 1) / warm
    t = min(1.0, (step - warm) / max(total - warm, 1))
    return base * (final_share + (1.0 - final_share) * 0.5 * (1.0 + math.cos(math.pi * t)))


class StopRequest:
    """SIGINT / SIGTERM ask the loop to stop after the current step, with a checkpoint; a second
    signal interrupts at once."""

    def __init__(self) -> None:
        self.asked = False
        self._old: dict = {}

    def __enter__(self) -> "StopRequest":
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._ask)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def _ask(self, signum, frame) -> None:
        if self.asked:
            raise KeyboardInterrupt
        self.asked = True

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def save_checkpoint(run: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, state: dict, *, kind: str,
                    config: dict, extra: dict | None = None) -> None:
    """Weights + optimizer tensors of network `kind` (with its `config`) in `run/checkpoint.safetensors`,
    the training state in its metadata with `extra` (so the two always match), then `run/state.json`,
    a readable copy of the state."""
    osd = opt.state_dict()
    tensors = {k: v.detach() for k, v in model.state_dict().items()}
    for pid, st in osd["state"].items():
        for name, value in st.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{OPTIMIZER_PREFIX}{pid}.{name}"] = t.detach()
    state = {**state, "optimizer": {"param_groups": osd["param_groups"]}}
    save_weights(run / "checkpoint.safetensors", tensors, kind=checkpoint_kind(kind), config=config,
                 extra={**(extra or {}), "train_state": state})
    atomic_write_bytes(run / "state.json", (json.dumps(state, indent=1) + "\n").encode("utf-8"))


def load_checkpoint(run: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, kind: str,
                    error: type[Exception] = ValueError) -> dict:
    """Restore weights and optimizer of network `kind` from `run`; returns the training state.
    A checkpoint that cannot be read raises `error` saying what to do."""
    try:
        w = load_weights(run / "checkpoint.safetensors", checkpoint_kind(kind))
        state = w.extra.get("train_state")
        if not isinstance(state, dict) or "optimizer" not in state:
            raise w.error("holds no training state")
        with w.unpacking():
            model.load_state_dict({k: v for k, v in w.tensors.items() if not k.startswith(OPTIMIZER_PREFIX)},
                                  strict=True)
            per_param: dict[int, dict] = {}
            for key, value in w.tensors.items():
                if key.startswith(OPTIMIZER_PREFIX):
                    pid, name = key[len(OPTIMIZER_PREFIX):].split(".", 1)
                    per_param.setdefault(int(pid), {})[name] = value
            groups = state["optimizer"]["param_groups"]
            for g in groups:
                if "betas" in g:
                    g["betas"] = tuple(g["betas"])
            opt.load_state_dict({"state": per_param, "param_groups": groups})
    except WeightsError as exc:
        raise error(str(exc)) from None
    return state


# -- tables kept between runs ---------------------------------------------------------------------
def file_digest(path: str | Path) -> str:
    """sha256 of a file (hex): ties what was computed from a weight file to that file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_kept(path: Path, key: str) -> dict[str, np.ndarray] | None:
    """The arrays kept in `path` by `save_kept` under the same `key` (a string naming what they were
    computed from), or None when there is no such file or it was kept under another key."""
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        if "key" not in z.files or str(z["key"]) != key:
            return None
        return {k: z[k] for k in z.files if k != "key"}


def save_kept(path: Path, key: str, arrays: dict[str, np.ndarray]) -> None:
    """Keep `arrays` in the npz file `path` under `key`, written atomically (no pickle)."""
    if "key" in arrays:
        raise ValueError("'key' is the name of the kept key; name the array otherwise")
    buf = io.BytesIO()
    np.savez(buf, key=np.array(key), **arrays)
    atomic_write_bytes(path, buf.getvalue())
