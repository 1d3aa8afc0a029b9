"""What every training loop of the house shares: the learning-rate schedule, stopping on a signal
with a checkpoint, and resumable checkpoints (weights + optimizer in one weight file of kind
`<network>-checkpoint` (`neural.weights`), the training state in its metadata and in a readable
`state.json`; nothing is ever unpickled).

Also here: the time-budgeted loop the points and scene back ends train with (`TrainingRun`): a
network and the moving average of its weights (`Trainee`), the learning rate over the time spent,
a checkpoint, a validation and a log line every few minutes, and at the end the averaged weights
in float16 with a JSON card beside them."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import logging
import math
import signal
import time
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch

from sketchforge.modeling.files import atomic_write_bytes

from .weights import WeightsError, checkpoint_kind, load_weights, save_weights

__all__ = ["OPTIMIZER_PREFIX", "learning_rate", "StopRequest", "save_checkpoint", "load_checkpoint",
           "Trainee", "TrainingRun", "file_digest", "load_kept", "save_kept"]

OPTIMIZER_PREFIX = "optimizer."
WARMUP_STEPS = 200
FINAL_LR_SHARE = 0.05
SCHEDULE_POINTS = 10_000  # a time-budgeted schedule's resolution over the budget (warm-up: 2%)

_log = logging.getLogger(__name__)


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


# -- the time-budgeted loop ------------------------------------------------------------------------
class Trainee(torch.nn.Module):
    """The network and the moving average of its weights, checkpointed together."""

    def __init__(self, net: torch.nn.Module, ema_decay: float) -> None:
        super().__init__()
        self.net = net
        self.ema = copy.deepcopy(net)
        self.ema_decay = ema_decay
        for p in self.ema.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update_ema(self, step: int) -> None:
        decay = min(self.ema_decay, (1 + step) / (10 + step))
        for e, p in zip(self.ema.parameters(), self.net.parameters()):
            e.mul_(decay).add_(p.detach(), alpha=1 - decay)
        for eb, b in zip(self.ema.buffers(), self.net.buffers()):
            eb.copy_(b)


class RunSettings(Protocol):
    """What `TrainingRun` reads of a back end's training settings."""

    @property
    def batch(self) -> int: ...

    @property
    def lr(self) -> float: ...

    def to_json(self) -> dict: ...

    def matches(self, saved: dict) -> bool: ...


class TrainingRun:
    """The run in `folder`: `trainee` trained by `opt` with `settings`, checkpointed as network `kind`
    with its `net_config`, logged to `folder/log.jsonl`.

    `state` (step, seconds, budget, items, done) is the checkpoint's when there is one (`resumed`;
    only with `resume` and settings it `matches`, else `error`; an unfinished run takes the budget
    of `minutes`), otherwise a fresh one."""

    def __init__(self, folder: Path, trainee: Trainee, opt: torch.optim.Optimizer, settings: RunSettings, *,
                 kind: str, net_config: dict, minutes: float, resume: bool, error: type[Exception] = ValueError,
                 log: logging.Logger = _log) -> None:
        self.folder, self.trainee, self.opt, self.settings = folder, trainee, opt, settings
        self.kind, self.net_config, self.log = kind, net_config, log
        budget = 60.0 * minutes
        self.resumed = (folder / "checkpoint.safetensors").is_file()
        if self.resumed:
            if not resume:
                raise error(f"{folder} holds a run already; pass --resume to go on with it, or pick another --out")
            state = load_checkpoint(folder, trainee, opt, kind, error)
            if not settings.matches(state["config"]):
                raise error(f"{folder} holds a run with other settings ({state['config']}); rerun with those or "
                            "pick another --out")
            if not state["done"]:
                state["budget"] = budget  # a new --minutes stretches or shortens the schedule
        else:
            state = {"config": settings.to_json(), "net": self.net_config, "step": 0, "seconds": 0.0,
                     "budget": budget, "done": False, "items": 0}
        self.state = state

    def steps(self, losses: Callable[[int], dict[str, torch.Tensor]], validate: Callable[[], dict] | None = None, *,
              desc: str, progress: bool = True, max_steps: int | None = None, checkpoint_s: float = 300.0,
              log_lr: bool = False) -> bool:
        """Train until the budget is spent (or `max_steps` are done): `losses(step)` gives a step's
        losses (`total`, and the parts shown), the learning rate follows `learning_rate` over the time
        spent, the average follows every step. Every `checkpoint_s` seconds, and on a stop request, a
        log line (the losses, with `log_lr` the learning rate, and `validate()`'s figures) and a
        checkpoint. Returns False when a stop request ended the run, True when it ran to its end."""
        state, opt, net = self.state, self.opt, self.trainee.net
        started, seconds0, step0 = time.monotonic(), state["seconds"], state["step"]
        last_save = started
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=None, initial=state["step"], desc=desc, unit="step", dynamic_ncols=True)
        net.train()
        with StopRequest() as stop:
            while True:
                step = state["step"]
                elapsed = seconds0 + time.monotonic() - started
                if elapsed >= state["budget"] or (max_steps is not None and step >= max_steps):
                    break
                for g in opt.param_groups:  # the schedule runs over the time budget
                    g["lr"] = learning_rate(int(SCHEDULE_POINTS * elapsed / state["budget"]), self.settings.lr,
                                            SCHEDULE_POINTS)
                got = losses(step)
                opt.zero_grad(set_to_none=True)
                got["total"].backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                self.trainee.update_ema(step)
                state["step"] = step + 1
                state["items"] += self.settings.batch
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix({k: f"{float(v.detach()):.4f}" for k, v in got.items() if k != "total"})
                if stop.asked or time.monotonic() - last_save > checkpoint_s:
                    state["seconds"] = seconds0 + time.monotonic() - started
                    record = {"step": state["step"], "seconds": round(state["seconds"], 1),
                              "items_per_s": round((state["step"] - step0) * self.settings.batch
                                                   / max(time.monotonic() - started, 1e-6), 2)}
                    if log_lr:
                        record["lr"] = round(opt.param_groups[0]["lr"], 7)
                    record.update({k: round(float(v.detach()), 5) for k, v in got.items()})
                    if validate is not None:
                        record.update(validate())
                    self._write_log(record, bar)
                    self.checkpoint()
                    last_save = time.monotonic()
                    if stop.asked:
                        if bar is not None:
                            bar.close()
                        self.log.warning("stopped at step %d; rerun with --resume to go on", state["step"])
                        return False
        state["seconds"] = seconds0 + time.monotonic() - started
        if bar is not None:
            bar.close()
        return True

    def finish(self, figures: dict, weights: Path, save_net: Callable[..., Any], on: str,
               extra: dict | None = None) -> None:
        """The run's last log line (`figures`), the state done in a checkpoint, the averaged network in
        float16 at `weights` (`save_net(net, path, extra=..., half=True)`) and its card beside it
        (.json); `on` names the data the figures are of, `extra` goes into both after the figures."""
        state = self.state
        self._write_log({"step": state["step"], "seconds": round(state["seconds"], 1), "final": True,
                         "items_per_s": round(state["items"] / max(state["seconds"], 1e-6), 2), **figures}, None)
        state["done"] = True
        state["figures"] = figures
        self.checkpoint()
        extra = {"train": self.settings.to_json(), "steps": state["step"], "seconds": round(state["seconds"], 1),
                 "items": state["items"], "figures": figures, "on": on, **(extra or {})}
        save_net(self.trainee.ema, weights, extra=extra, half=True)
        card = {"kind": self.kind, "config": self.net_config,
                "parameters": sum(p.numel() for p in self.trainee.net.parameters()), **extra}
        atomic_write_bytes(weights.with_suffix(".json"), (json.dumps(card, indent=1) + "\n").encode("utf-8"))

    def checkpoint(self) -> None:
        save_checkpoint(self.folder, self.trainee, self.opt, self.state, kind=self.kind, config=self.net_config)

    def _write_log(self, record: dict, bar) -> None:
        with open(self.folder / "log.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        if bar is not None:
            bar.write(json.dumps(record))
        else:
            self.log.info("%s", json.dumps(record))


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
