"""A calibrated refusal: the probability that a sketch is a real one, from a few features, and
the threshold below which a back end says "nothing recognised".

Every back end turns anything into *some* answer, so each one that can refuse keeps a logistic
regression fitted on its real (generated) sketches against scribbles, its threshold set so that
at most a given share of the real sketches it was fitted on are refused. The weights are a small
JSON file in the back end's assets (never unpickled), written by the back end's calibration
command; the file names its format and features, so a file made for other features is refused
with a message saying how to make it again.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["Refusal", "fit_refusal"]


@dataclass(frozen=True)
class Refusal:
    """A logistic regression over standardised features: P(a real sketch) = sigmoid(w . z + b),
    refused below `threshold`. `bounds` are drawing features beyond which a sketch is refused at
    once (before any network reads it)."""

    format: str
    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    std: tuple[float, ...]
    threshold: float
    extra: dict
    bounds: dict = field(default_factory=dict)

    def beyond(self, drawing: dict[str, float]) -> bool:
        """True when a drawing feature is past its bound (far outside what real sketches draw)."""
        return any(drawing.get(k, 0.0) > v for k, v in self.bounds.items())

    def probability(self, features: Sequence[float]) -> float:
        z = (np.asarray(features, float) - np.asarray(self.mean)) / np.asarray(self.std)
        return float(1.0 / (1.0 + math.exp(-float(np.clip(np.dot(self.weights, z) + self.bias, -60, 60)))))

    def refuses(self, features: Sequence[float]) -> bool:
        return self.probability(features) < self.threshold

    def save(self, path: str | Path) -> None:
        from sketchforge.modeling.files import atomic_write_bytes
        data = {"format": self.format, "version": 1, "features": list(self.features),
                "weights": list(self.weights), "bias": self.bias, "mean": list(self.mean), "std": list(self.std),
                "threshold": self.threshold, "bounds": self.bounds, "extra": self.extra}
        atomic_write_bytes(Path(path), json.dumps(data, indent=1).encode())

    @staticmethod
    def load(path: str | Path, format: str, features: Sequence[str], remake: str) -> "Refusal":
        """Read a refusal file of `format` over `features`; ValueError naming the file and how to
        make it again (`remake`) when it is not one."""
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != format or data.get("features") != list(features):
                raise ValueError("another format or other features")
            n = len(features)
            r = Refusal(format, tuple(features), tuple(float(x) for x in data["weights"]), float(data["bias"]),
                        tuple(float(x) for x in data["mean"]), tuple(float(x) for x in data["std"]),
                        float(data["threshold"]), dict(data.get("extra", {})),
                        {str(k): float(v) for k, v in dict(data.get("bounds", {})).items()})
            if not (len(r.weights) == len(r.mean) == len(r.std) == n) or min(r.std) <= 0:
                raise ValueError("the vectors do not fit the features")
            if not all(math.isfinite(x) for x in (*r.weights, *r.mean, *r.std, r.bias, r.threshold)):
                raise ValueError("a number is not finite")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{p} is not a refusal file of {format} ({exc}); {remake}") from None
        return r


def _newton(z: np.ndarray, y: np.ndarray, balance: np.ndarray, l2: float) -> np.ndarray:
    w = np.zeros(z.shape[1])
    reg = l2 * np.r_[np.ones(z.shape[1] - 1), 0.0]
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -30, 30)))
        grad = z.T @ (balance * (p - y)) + reg * w
        hess = (z * (balance * p * (1 - p))[:, None]).T @ z + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def fit_refusal(real: np.ndarray, scribbles: np.ndarray, format: str, features: Sequence[str],
                max_refused: float = 0.005, l2: float = 1e-2, extra: dict | None = None,
                bounds: dict | None = None, signs: Sequence[int] | None = None) -> Refusal:
    """Fit the regression (Newton's method, L2, both classes weighted equally) on real sketches
    (label 1) against scribbles (0), and set the threshold at the `max_refused` quantile of the
    real sketches' probabilities.

    `signs` (+1, -1 or 0 per feature) says which way a feature may count: -1 for a sign of a
    scribble (more of it may only lower the probability of a real sketch), 0 for either way. A
    feature whose fitted weight goes the wrong way is a habit of the scribbles fitted on (say, all
    of them one stroke), not a sign of scribbling; it is dropped (weight 0) and the rest refitted."""
    x = np.concatenate([real, scribbles]).astype(float)
    if x.ndim != 2 or x.shape[1] != len(features):
        raise ValueError(f"the features are {x.shape[1:]} wide, not {len(features)}")
    want = np.zeros(len(features)) if signs is None else np.asarray(signs, float)
    if want.shape != (len(features),):
        raise ValueError(f"give one sign per feature ({len(features)}), not {len(want)}")
    y = np.r_[np.ones(len(real)), np.zeros(len(scribbles))]
    mean, std = x.mean(0), x.std(0)
    std[std < 1e-6] = 1.0
    z = np.column_stack([(x - mean) / std, np.ones(len(x))])
    balance = np.where(y == 1, 0.5 / max(len(real), 1), 0.5 / max(len(scribbles), 1))
    free = np.ones(len(features), bool)
    while True:
        keep = np.r_[np.nonzero(free)[0], len(features)]
        w = np.zeros(len(features) + 1)
        w[keep] = _newton(z[:, keep], y, balance, l2)
        wrong = (want * w[:-1] < 0) & free
        if not wrong.any():
            break
        free[np.argmax(np.where(wrong, -want * w[:-1], -np.inf))] = False
    r = Refusal(format, tuple(features), tuple(w[:-1]), float(w[-1]), tuple(mean), tuple(std), 0.5,
                {**dict(extra or {}), "dropped": [f for f, k in zip(features, free) if not k]}, dict(bounds or {}))
    probs = np.array([r.probability(f) for f in real])
    threshold = float(np.quantile(probs, max_refused)) if len(probs) else 0.5
    return Refusal(format, r.features, r.weights, r.bias, r.mean, r.std, threshold, r.extra, r.bounds)
