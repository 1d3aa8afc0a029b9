"""A learned canvas selector: the smallest canvas a sketch can be read at ("Sketch Down the FLOPs").

Sketches are sparse: many read as well at 32 px as at 128 px, and a network's FLOPs fall with the
square of the canvas. The selector reads the *vector* strokes (cheap: a few dozen points after
Douglas-Peucker simplification) with a one-layer GRU and picks a canvas size from `canvases`; the
sketch is then rasterised at that size for the (frozen) sketch network.

It is trained with REINFORCE on a table of what every canvas would have given: for each training
sketch, the network's task score at each size (`rewards` from `score_table`), and the FLOPs of
each size. The reward of choosing size k for sketch i is

    (1 - tradeoff) * score[i, k] - tradeoff * flops[k] / flops[largest]

so `tradeoff` 0 wants the best reading whatever it costs and 1 the cheapest canvas whatever it
reads. A sampled choice's reward minus a baseline scales its log-probability's gradient; an
entropy bonus keeps the policy exploring early on.

The baseline is each sketch's own expected reward under the current policy (a state-value
baseline; the table knows every canvas's reward, so it is exact rather than learnt). With the
batch's mean reward as the baseline instead, most of the advantage is the difference between
sketches (a hard sketch scores low at every size), which says nothing about which size to choose;
the small per-sketch differences between sizes drown in it and the policy learns only the sizes'
average ranking: one size for every sketch, as the first selectors did.

Any back end can use it: the features are the strokes alone (pixel polylines on a canvas), and
the weight file (safetensors, no pickle) carries the canvas sizes and the trade-off it was
trained with.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from .cache import FlopCache
from .weights import load_weights, save_weights

KIND = "selector"  # the weight files' kind (`neural.weights`)
VERSION = 1
CANVASES = (32, 48, 64, 96, 128)
FEATURES = 5  # x, y (centred, in canvas units), dx, dy, pen lifted after this point
MAX_POINTS = 160


def stroke_sequence(strokes: Sequence[np.ndarray], width: int, height: int, epsilon: float = 0.01,
                    max_points: int = MAX_POINTS) -> np.ndarray:
    """The GRU's input (T, 5) for pixel polylines (N_i, 2) on a width x height canvas.

    Each stroke is simplified by Douglas-Peucker with a tolerance of `epsilon` of the canvas; the
    points are centred on the canvas and divided by its longer side; dx, dy are the step from the
    previous point (0 for the first); the fifth column is 1 at each stroke's last point. Strokes
    with no finite point are skipped; at most `max_points` points are kept (evenly). An empty
    sketch gives one row of zeros."""
    scale = float(max(width, height))
    rows = []
    for s in strokes:
        p = np.asarray(s, np.float64).reshape(-1, 2)
        p = p[np.isfinite(p).all(axis=1)]
        if not len(p):
            continue
        p = _simplified(p, epsilon * scale)
        q = np.column_stack([(p[:, 0] - width / 2.0) / scale, (p[:, 1] - height / 2.0) / scale,
                             np.zeros(len(p)), np.zeros(len(p)), np.zeros(len(p))])
        q[-1, 4] = 1.0
        rows.append(q)
    if not rows:
        return np.zeros((1, FEATURES), np.float32)
    seq = np.concatenate(rows)
    if len(seq) > max_points:
        keep = np.unique(np.linspace(0, len(seq) - 1, max_points).round().astype(int))
        lifted = np.maximum.reduceat(seq[:, 4], np.r_[0, keep[:-1] + 1]) if len(keep) > 1 else seq[keep, 4]
        seq = seq[keep]
        seq[:, 4] = lifted  # a lift dropped between two kept points still separates them
    seq[1:, 2:4] = np.diff(seq[:, :2], axis=0)
    return np.clip(seq, -2.0, 2.0).astype(np.float32)


def _simplified(p: np.ndarray, tol: float) -> np.ndarray:
    """Douglas-Peucker; a loop (ends together) is split at its point farthest from the start first,
    since the method measures from the chord between the ends."""
    if len(p) <= 2:
        return p
    if np.linalg.norm(p[-1] - p[0]) <= tol:
        k = int(np.argmax(np.linalg.norm(p - p[0], axis=1)))
        if 0 < k < len(p) - 1:
            return np.vstack([_simplified(p[:k + 1], tol), _simplified(p[k:], tol)[1:]])
    return cv2.approxPolyDP(p.astype(np.float32)[:, None], tol, False)[:, 0].astype(np.float64)


def pad_sequences(seqs: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """A padded batch (B, T, 5) and the lengths (B,)."""
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    out = torch.zeros(len(seqs), int(lengths.max()), FEATURES)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.from_numpy(np.asarray(s, np.float32))
    return out, lengths


@dataclass(frozen=True)
class SelectorConfig:
    canvases: tuple[int, ...] = CANVASES
    hidden: int = 48
    tradeoff: float = 0.5  # what it was trained with (recorded; the policy itself does not read it)

    def __post_init__(self) -> None:
        if (len(self.canvases) < 2 or any(int(c) < 16 for c in self.canvases)
                or list(self.canvases) != sorted(set(self.canvases))):
            raise ValueError(f"canvases must be two or more increasing sizes of at least 16 px, got {self.canvases}")
        if self.hidden < 1:
            raise ValueError(f"hidden must be positive, got {self.hidden}")


class CanvasSelector(nn.Module):
    """GRU over the simplified stroke points -> a softmax over the canvas sizes."""

    def __init__(self, config: SelectorConfig = SelectorConfig()) -> None:
        super().__init__()
        self.config = config
        self.gru = nn.GRU(FEATURES, config.hidden, batch_first=True)
        self.head = nn.Linear(config.hidden, len(config.canvases))
        self._flops: dict[int, int] = {}  # points -> FLOPs of one choice
        self.flop_cache: FlopCache | None = None  # FLOP counts kept on disk (set by `load_selector`)

    def forward(self, seq: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits (B, K) for a padded batch (B, T, 5) of sequences of the given lengths."""
        packed = pack_padded_sequence(seq, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h = self.gru(packed)
        return self.head(h[-1])

    def choose(self, strokes: Sequence[np.ndarray], width: int, height: int) -> int:
        """The canvas size (px) for one sketch (pixel polylines on a width x height canvas)."""
        return self.choose_sequence(stroke_sequence(strokes, width, height))

    def choose_sequence(self, seq: np.ndarray) -> int:
        """The canvas size (px) for one `stroke_sequence`: the likeliest choice.

        The GRU's recurrence runs in numpy on the module's own weights (the same gates as
        `nn.GRU`: r, z, n): for one short sequence torch's GRU costs about 45 microseconds a point
        in per-step overhead on this project's CPU, numpy a fraction of that."""
        x = np.asarray(seq, np.float32).reshape(-1, FEATURES)
        gru, n_h = self.gru, self.config.hidden
        w_hh_t = gru.weight_hh_l0.detach().numpy().T
        b_hh = gru.bias_hh_l0.detach().numpy()
        gates = x @ gru.weight_ih_l0.detach().numpy().T + gru.bias_ih_l0.detach().numpy()  # (T, 3H) for every point
        gates[:, :2 * n_h] += b_hh[:2 * n_h]  # r and z add both biases outright; n's hidden bias is gated by r
        h = np.zeros(n_h, np.float32)
        for g in gates:
            gh = h @ w_hh_t
            rz = gh[:2 * n_h]
            rz += g[:2 * n_h]
            rz = _sigmoid(rz)
            n = gh[2 * n_h:]
            n += b_hh[2 * n_h:]
            n *= rz[:n_h]
            n += g[2 * n_h:]
            n = np.tanh(n, out=n)
            h = n + rz[n_h:] * (h - n)
        logits = self.head.weight.detach().numpy() @ h + self.head.bias.detach().numpy()
        return int(self.config.canvases[int(np.argmax(logits))])

    def flops(self, points: int) -> int:
        """FLOPs of one choice for a sequence of `points` points. Every step of the GRU costs the
        same, so torch counts one and two points once and the rest follows exactly (a count per
        new length took up to 0.1 s, on every sketch); both are kept on disk for a selector read
        from a file (`neural.cache`)."""
        for n in (1, 2):
            if n not in self._flops:
                def count(n: int = n) -> int:
                    return count_selector_flops(self, n)
                self._flops[n] = self.flop_cache.count(f"points={n}", count) if self.flop_cache else count()
        one, step = self._flops[1], self._flops[2] - self._flops[1]
        return one + (max(int(points), 1) - 1) * step


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 + 0.5 * np.tanh(0.5 * x)


# -- training --------------------------------------------------------------------------------------
def rewards(scores: np.ndarray, flops: Sequence[float], tradeoff: float) -> np.ndarray:
    """(N, K) reward of each canvas for each sketch (see the module docstring)."""
    if not 0.0 <= tradeoff <= 1.0:
        raise ValueError(f"tradeoff must lie in 0..1, got {tradeoff}")
    f = np.asarray(flops, np.float64)
    return (1.0 - tradeoff) * np.asarray(scores, np.float64) - tradeoff * (f / f.max())[None]


def train_selector(seqs: Sequence[np.ndarray], scores: np.ndarray, flops: Sequence[float], tradeoff: float,
                   config: SelectorConfig | None = None, epochs: int = 30, batch: int = 128, lr: float = 3e-3,
                   entropy: float = 0.01, seed: int = 0, progress=None, baseline: str = "sketch") -> CanvasSelector:
    """A selector trained by REINFORCE on sketches `seqs` whose per-canvas task scores are `scores`
    (N, K, values 0..1) at per-canvas `flops` (K,). `progress(epoch, mean_reward)` is called after
    each epoch. `baseline` "sketch" subtracts each sketch's expected reward (the module docstring
    says why), "batch" the batch's mean reward (the first selectors' baseline, kept to compare)."""
    if baseline not in ("sketch", "batch"):
        raise ValueError(f"baseline must be 'sketch' or 'batch', got {baseline!r}")
    scores = np.asarray(scores, np.float64)
    config = config or SelectorConfig(tradeoff=tradeoff)
    if scores.shape != (len(seqs), len(config.canvases)) or len(flops) != len(config.canvases):
        raise ValueError(f"scores must be (sketches, canvases) = ({len(seqs)}, {len(config.canvases)}) and "
                         f"flops one per canvas; got {scores.shape} and {len(flops)}")
    r = torch.from_numpy(rewards(scores, flops, tradeoff)).float()
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = CanvasSelector(config)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(seqs)
    for epoch in range(epochs):
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            x, lengths = pad_sequences([seqs[i] for i in idx])
            logp = F.log_softmax(model(x, lengths), dim=1)
            prob = logp.exp().detach()
            a = torch.multinomial(prob, 1, generator=gen)[:, 0]
            got = r[idx, a]
            advantage = got - ((prob * r[idx]).sum(1) if baseline == "sketch" else got.mean())
            pg = -(advantage * logp[torch.arange(len(idx)), a]).mean()
            ent = -(logp.exp() * logp).sum(1).mean()
            loss = pg - entropy * (1.0 - epoch / max(epochs - 1, 1)) * ent
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(got.sum())
        if progress is not None:
            progress(epoch, total / n)
    return model.eval()


def policy_figures(model: CanvasSelector, seqs: Sequence[np.ndarray], scores: np.ndarray,
                   flops: Sequence[float]) -> dict:
    """What the greedy policy chooses on held-out sketches: expected FLOPs, mean task score, and the
    histogram of chosen sizes, beside always-largest and the best single fixed size."""
    with torch.inference_mode():
        choice = np.concatenate([model(*pad_sequences(seqs[i:i + 256])).argmax(1).numpy()
                                 for i in range(0, len(seqs), 256)])
    scores = np.asarray(scores, np.float64)
    f = np.asarray(flops, np.float64)
    canv = model.config.canvases
    return {
        "items": len(seqs),
        "flops_mean": float(f[choice].mean()),
        "score_mean": float(scores[np.arange(len(seqs)), choice].mean()),
        "largest": {"flops": float(f[-1]), "score_mean": float(scores[:, -1].mean())},
        "fixed": {str(c): float(scores[:, k].mean()) for k, c in enumerate(canv)},
        "oracle_score_mean": float(scores.max(1).mean()),
        "histogram": {str(c): int((choice == k).sum()) for k, c in enumerate(canv)},
    }


# -- weight files ----------------------------------------------------------------------------------
def save_selector(model: CanvasSelector, path: str | Path, extra: dict | None = None) -> None:
    """Write a selector as a weight file (`neural.weights`), atomically; its config (and `extra`) in the metadata."""
    cfg = asdict(model.config)
    cfg["canvases"] = list(cfg["canvases"])
    save_weights(path, model.state_dict(), kind=KIND, version=VERSION, config=cfg, extra=extra)


def load_selector(path: str | Path) -> tuple[CanvasSelector, dict]:
    """A selector from its weight file, in eval mode, and its extra metadata; WeightsError saying
    what to do when the file is missing, damaged or holds another network."""
    w = load_weights(path, KIND, newest=VERSION)
    with w.unpacking():
        cfg = dict(w.config)
        cfg["canvases"] = tuple(int(c) for c in cfg["canvases"])
        model = CanvasSelector(SelectorConfig(**cfg))
        model.load_state_dict(w.tensors, strict=True)
    model.flop_cache = FlopCache(path)
    return model.eval(), w.extra


def count_selector_flops(model: CanvasSelector, points: int) -> int:
    """FLOPs of one choice for a sketch of `points` simplified points (torch's FlopCounterMode
    counts the matrix products of the GRU cell and the head)."""
    from torch.utils.flop_counter import FlopCounterMode
    seq = torch.zeros(1, max(int(points), 1), FEATURES)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model.eval()(seq, torch.tensor([seq.shape[1]]))
    return int(counter.get_total_flops())

