"""The stroke stage of the curve roles: the image network's per-pixel roles read again, piece by
piece of stroke, with the whole drawing in view.

The image network labels every ink pixel from what it sees around it. Where strokes of two roles
meet (about a sixth of the ink), the pixels of both look alike and it is right barely two times in
three; a short profile line between two outlines is read as part of them. A person draws each
curve as strokes, though, and each piece of a stroke between two corners draws one curve. So:

1. **Pieces** (`stroke_pieces`): every stroke, in the pixels of the view the network reads, is
   resampled about 1 px apart and cut at its corners (a turn of more than `CORNER_DEG` over
   `CORNER_SPAN` px on each side, pieces at least `MIN_PIECE` px long). A stroke drawn through
   from a base curve into a profile line is cut where it turns.
2. **What is known of each piece** (`piece_features`, `FEATURES` numbers): the network's role
   probabilities along it (over the whole piece, its middle half, and its share of pixels voting
   each role), the stitching-face probability, the sketch's class probabilities, its geometry
   (length, straightness, ends, direction), the model under it (on the model or not, normals,
   depth at the ends), its place in the drawing (which stroke, which piece of it, is the stroke
   closed) and how its ends meet the other pieces.
3. **The stage** (`StrokeRoleNet`): a small transformer over the pieces of one sketch (every piece
   attends to every other: an offset curve is the one that profile lines join to a base) gives
   three role logits per piece.
4. **Back to pixels** (`paint_roles`): the pieces painted onto the ink in drawing order with their
   roles (a later stroke labels a crossing, as the training labels do); ink no piece reaches
   keeps the network's role.

Trained by `sketchforge-train-cad-strokes` on the image network's readings of a set it never
trained on; the weights ship beside the image network's as `<name>.strokes.safetensors` and are
read with that network only (the file records the image network's hash; another network's
readings would be new to it).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch
from torch import nn

from ..cache import FlopCache
from ..weights import load_weights, save_weights

KIND = "strokes"  # the weight files' kind (`neural.weights`)
VERSION = 1

CORNER_DEG = 50.0  # a turn sharper than this is a corner
CORNER_SPAN = 3  # px on each side of a point over which its turn is measured
MIN_PIECE = 4.0  # px: no piece is cut shorter than this
STEP_PX = 1.0  # resampling step along strokes
MEET_PX = 4.0  # an end this close to another piece meets it
MAX_PIECES = 256  # a sketch cut into more pieces than this keeps the image network's roles
REF_SIZE = 128.0  # the view size the pixel lengths above are given for
FEATURES = 38


def stroke_stage_path(weights: str | Path) -> Path:
    """Where the stroke stage of the image network `weights` lives: beside it, `<stem>.strokes.safetensors`."""
    weights = Path(weights)
    return weights.with_name(weights.stem + ".strokes.safetensors")


# -- pieces ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Piece:
    """A piece of one stroke between corners, in view pixels, resampled about `STEP_PX` apart."""

    uv: np.ndarray  # (N, 2), N >= 1
    stroke: int  # index of its stroke in drawing order
    rank: int  # index of the piece within its stroke
    count: int  # pieces of its stroke


def _resample(uv: np.ndarray, step: float) -> np.ndarray:
    seg = np.linalg.norm(np.diff(uv, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if len(uv) < 2 or s[-1] <= 1e-9:
        return uv[:1]
    n = int(max(2, math.ceil(s[-1] / step) + 1))
    t = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(t, s, uv[:, 0]), np.interp(t, s, uv[:, 1])], axis=1)


def _turns(p: np.ndarray, span: int) -> np.ndarray:
    """Turning angle (degrees) at every point, between the chords `span` points before and after
    (0 where either side is too short)."""
    out = np.zeros(len(p))
    if len(p) < 2 * span + 1:
        return out
    a = p[span:-span] - p[:-2 * span]
    b = p[2 * span:] - p[span:-span]
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    ok = (na > 1e-9) & (nb > 1e-9)
    cos = np.ones(len(a))
    cos[ok] = (a[ok] * b[ok]).sum(1) / (na[ok] * nb[ok])
    out[span:-span] = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    return out


def _corners(p: np.ndarray, k: float) -> list[int]:
    """Indices where a stroke resampled `STEP_PX * k` apart turns at a corner, sharpest first kept,
    no two (and no end) closer than `MIN_PIECE * k` px."""
    span = CORNER_SPAN
    turn = _turns(p, span)
    gap = int(math.ceil(MIN_PIECE / STEP_PX))
    chosen: list[int] = []
    for i in np.argsort(-turn, kind="stable"):
        if turn[i] < CORNER_DEG:
            break
        if i < gap or i > len(p) - 1 - gap or any(abs(i - j) < gap for j in chosen):
            continue
        chosen.append(int(i))
    return sorted(chosen)


def stroke_pieces(strokes: Sequence[np.ndarray], size: int) -> list[Piece]:
    """The pieces of `strokes` ((N, 2) pixel polylines in drawing order, in a `size` view).

    Non-finite points are dropped; a stroke of one point (a dot) is one piece of one point."""
    k = size / REF_SIZE
    pieces: list[Piece] = []
    for si, uv in enumerate(strokes):
        uv = np.asarray(uv, float).reshape(-1, 2)
        uv = uv[np.isfinite(uv).all(axis=1)]
        if not len(uv):
            continue
        p = _resample(uv, STEP_PX * k)
        cuts = [0, *_corners(p, k), len(p) - 1] if len(p) > 1 else [0, 0]
        parts = [p[a:b + 1] for a, b in zip(cuts[:-1], cuts[1:])]
        pieces.extend(Piece(part, si, r, len(parts)) for r, part in enumerate(parts))
    return pieces


# -- features -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reading:
    """The image network's reading of a sketch and the model under it, at the view's size (H, W)."""

    role_probs: np.ndarray  # (H, W, 3) float: base, profile, offset (renormalised without "none")
    stitch: np.ndarray  # (H, W) float 0..1
    class_probs: np.ndarray  # (4,)
    normal: np.ndarray  # (H, W, 3) view-space normals, 0 off the model
    depth: np.ndarray  # (H, W) normalised depth, 0 nearest .. 1 farthest and off the model
    on_model: np.ndarray  # (H, W) bool

    @staticmethod
    def from_logits(role_logits: np.ndarray, stitch: np.ndarray, class_probs: np.ndarray,
                    x: np.ndarray) -> "Reading":
        """From role logits (H, W, 4: none first), the stitching probability, the class
        probabilities and the network input `x` (5, H, W): paper, normal x, y, z, depth."""
        z = role_logits[..., 1:]
        e = np.exp(z - z.max(-1, keepdims=True))
        normal = np.moveaxis(x[1:4], 0, -1)
        return Reading((e / e.sum(-1, keepdims=True)).astype(np.float32), stitch, np.asarray(class_probs, np.float32),
                       normal, x[4], np.abs(normal).sum(-1) > 0)


def piece_features(pieces: Sequence[Piece], reading: Reading) -> np.ndarray:
    """(len(pieces), FEATURES) float32: what the stage knows of each piece (see the module notes)."""
    h, w = reading.stitch.shape
    size = float(max(h, w))
    k = size / REF_SIZE
    n = len(pieces)
    out = np.zeros((n, FEATURES), np.float32)
    if not n:
        return out
    strokes = max(p.stroke for p in pieces) + 1
    ends = np.array([[p.uv[0], p.uv[-1]] for p in pieces])  # (n, 2, 2)
    stroke_ends: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}
    for p in pieces:
        first, last, length = stroke_ends.get(p.stroke, (p.uv[0], p.uv[-1], 0.0))
        stroke_ends[p.stroke] = (first, p.uv[-1], length + _length(p.uv))
    allpts = np.concatenate([p.uv for p in pieces])
    owner = np.concatenate([np.full(len(p.uv), i) for i, p in enumerate(pieces)])
    # how each piece's two ends meet the others: ends of other pieces near it, and any point of one
    flat = ends.reshape(-1, 2)
    mine = np.repeat(np.arange(n), 2)
    close = np.linalg.norm(flat[:, None] - flat[None], axis=2) < MEET_PX * k
    near_ends = (close & (mine[:, None] != mine[None])).sum(1)
    to_pts = np.linalg.norm(flat[:, None] - allpts[None], axis=2)
    to_pts[mine[:, None] == owner[None]] = np.inf
    touches = to_pts.min(1) < MEET_PX * k
    meets_all = np.stack([near_ends / 4.0, touches.astype(float)], 1).reshape(n, 4)
    # per point, then summed per piece (pieces are consecutive runs of `allpts`)
    counts = np.array([len(p.uv) for p in pieces])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    local = np.arange(len(allpts)) - np.repeat(starts, counts)
    m = np.repeat(counts, counts)
    iu = np.clip(np.floor(allpts[:, 0]).astype(int), 0, w - 1)
    iv = np.clip(np.floor(allpts[:, 1]).astype(int), 0, h - 1)
    inside = (allpts[:, 0] >= 0) & (allpts[:, 0] < w) & (allpts[:, 1] >= 0) & (allpts[:, 1] < h)
    probs = reading.role_probs[iv, iu].astype(np.float64)
    in_mid = (local >= m // 4) & (local < np.maximum(m // 4 + 1, m - m // 4))

    def per_piece(v: np.ndarray) -> np.ndarray:
        return np.add.reduceat(v, starts, axis=0)

    mean_probs = per_piece(probs) / counts[:, None]
    mid_probs = per_piece(probs * in_mid[:, None]) / per_piece(in_mid.astype(float))[:, None]
    votes = per_piece(np.eye(3)[probs.argmax(1)]) / counts[:, None]
    stitch = per_piece(reading.stitch[iv, iu].astype(np.float64)) / counts
    on = per_piece((reading.on_model[iv, iu] & inside).astype(float)) / counts
    normal = per_piece(reading.normal[iv, iu].astype(np.float64)) / counts[:, None]
    step = np.linalg.norm(np.diff(allpts, axis=0), axis=1)
    same = owner[1:] == owner[:-1]
    length = np.bincount(owner[1:][same], step[same], minlength=n)
    chord = ends[:, 1] - ends[:, 0]
    cl = np.linalg.norm(chord, axis=1)
    angle = np.where(cl > 1e-9, np.arctan2(chord[:, 1], chord[:, 0]), 0.0)
    last_pt = starts + counts - 1
    closed = np.array([np.linalg.norm(stroke_ends[p.stroke][1] - stroke_ends[p.stroke][0])
                       / max(stroke_ends[p.stroke][2], 1e-6) for p in pieces])
    # turning along each piece: points with CORNER_SPAN points of their own piece on both sides
    span = CORNER_SPAN
    turn = _turns(allpts, span)
    turn[(local < span) | (local >= m - span) | (m <= 2 * span)] = 0.0
    turning = np.bincount(owner, turn, minlength=n) / 180.0 / counts * 10.0
    centre = np.array([w, h]) / 2.0
    ranks = np.array([[p.stroke / max(1, strokes - 1), p.rank / max(1, p.count - 1), min(p.count, 10) / 10.0]
                      for p in pieces])
    out[:] = np.column_stack([
        mean_probs, mid_probs, votes, stitch, np.broadcast_to(reading.class_probs, (n, 4)),
        length / size, cl / np.maximum(length, 1e-6), (ends[:, 0] - centre) / size, (ends[:, 1] - centre) / size,
        np.cos(2 * angle), np.sin(2 * angle), on, normal,
        reading.depth[iv[starts], iu[starts]], reading.depth[iv[last_pt], iu[last_pt]],
        ranks, np.minimum(closed, 1.0), meets_all, np.full(n, min(strokes, 20) / 20.0), turning,
    ])
    return out


def _length(uv: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(uv, axis=0), axis=1).sum()) if len(uv) > 1 else 0.0


def piece_labels(pieces: Sequence[Piece], roles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each piece's role by the majority of the labelled pixels under it (0 base, 1 profile,
    2 offset; -1 where none is labelled) and how many labelled pixels it covers (its weight)."""
    h, w = roles.shape
    lab = np.full(len(pieces), -1, np.int64)
    weight = np.zeros(len(pieces), np.float32)
    for i, p in enumerate(pieces):
        iu = np.clip(np.floor(p.uv[:, 0]).astype(int), 0, w - 1)
        iv = np.clip(np.floor(p.uv[:, 1]).astype(int), 0, h - 1)
        t = roles[iv, iu]
        t = t[t > 0]
        if len(t):
            lab[i] = int(np.bincount(t, minlength=4)[1:].argmax())
            weight[i] = len(t)
    return lab, weight


def paint_roles(pieces: Sequence[Piece], piece_roles: Sequence[int], ink: np.ndarray,
                fallback: np.ndarray) -> np.ndarray:
    """(H, W) uint8 roles on the ink (1 base, 2 profile, 3 offset; 0 off it): the pieces painted in
    drawing order, a 2 px pen over a 3 px one (the later piece wins where they cross, as in the
    training labels); ink no piece reaches keeps `fallback`'s role."""
    h, w = ink.shape
    thick, thin = np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8)
    k = max(h, w) / REF_SIZE
    for p, r in zip(pieces, piece_roles):
        pts = np.clip(p.uv if len(p.uv) > 1 else np.vstack([p.uv, p.uv]), -4.0 * max(h, w), 5.0 * max(h, w))
        fixed = [np.round((pts - 0.5) * 16).astype(np.int32)]
        cv2.polylines(thick, fixed, False, int(r) + 1, max(1, int(round(3 * k))), cv2.LINE_8, 4)
        cv2.polylines(thin, fixed, False, int(r) + 1, max(1, int(round(2 * k))), cv2.LINE_8, 4)
    painted = np.where(thin > 0, thin, thick)
    out = np.where(painted > 0, painted, fallback).astype(np.uint8)
    out[~ink] = 0
    return out


# -- the network ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StageConfig:
    features: int = FEATURES
    width: int = 64
    layers: int = 3
    heads: int = 4
    hidden: int = 128
    dropout: float = 0.1


class StrokeRoleNet(nn.Module):
    """Pieces (B, S, FEATURES) with a padding mask (B, S: True = padding) -> role logits (B, S, 3)."""

    def __init__(self, config: StageConfig = StageConfig()) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embed = nn.Sequential(nn.Linear(c.features, c.width), nn.GELU(), nn.Linear(c.width, c.width))
        layer = nn.TransformerEncoderLayer(c.width, c.heads, c.hidden, c.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, c.layers, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.LayerNorm(c.width), nn.Linear(c.width, 3))
        # feature scaling measured on the training set (identity until `set_scaling`)
        self.register_buffer("mean", torch.zeros(c.features))
        self.register_buffer("scale", torch.ones(c.features))

    def set_scaling(self, feats: np.ndarray) -> None:
        self.mean.copy_(torch.from_numpy(feats.mean(0).astype(np.float32)))
        self.scale.copy_(torch.from_numpy(np.maximum(feats.std(0), 1e-3).astype(np.float32)))

    def forward(self, feats: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        x = self.embed((feats - self.mean) / self.scale)
        return self.head(self.encoder(x, src_key_padding_mask=pad))


class StrokeStage:
    """A trained stage, numpy in and out: `refine` turns the image network's reading into roles."""

    def __init__(self, model: StrokeRoleNet, extra: dict | None = None) -> None:
        self.model = model.eval()
        self.extra = extra or {}
        self._flops: dict[int, int] = {}
        self.flop_cache: FlopCache | None = None  # FLOP counts kept on disk (set by `load`)

    def flops(self, pieces: int) -> int:
        """FLOPs of reading a sketch of `pieces` pieces. Each piece costs the same in the linear
        layers and each pair of pieces the same in attention, so the count is a + b n + c n^2 for n
        pieces: torch counts 1, 2 and 3 pieces once (kept on disk for a stage read from a file) and
        the rest follows exactly, instead of a count for every new number of pieces."""
        if pieces < 1:
            return 0
        f1, f2, f3 = (self._counted(n) for n in (1, 2, 3))
        c2 = f3 - 2 * f2 + f1  # twice the quadratic coefficient (an exact integer)
        n = int(pieces)
        return f1 + (n - 1) * (f2 - f1) + (n - 1) * (n - 2) * c2 // 2

    def _counted(self, pieces: int) -> int:
        """FLOPs of `pieces` pieces as torch's FlopCounterMode counts them."""
        if pieces not in self._flops:
            def count() -> int:
                from torch.utils.flop_counter import FlopCounterMode
                with FlopCounterMode(display=False) as counter, torch.inference_mode():
                    self.model(torch.zeros(1, pieces, self.model.config.features),
                               torch.zeros(1, pieces, dtype=torch.bool))
                return int(counter.get_total_flops())
            self._flops[pieces] = self.flop_cache.count(f"pieces={pieces}", count) if self.flop_cache else count()
        return self._flops[pieces]

    @classmethod
    def load(cls, path: str | Path) -> "StrokeStage":
        model, extra = load_stage(path)
        stage = cls(model, extra)
        stage.flop_cache = FlopCache(path)
        return stage

    def piece_roles(self, pieces: Sequence[Piece], reading: Reading) -> np.ndarray:
        """Each piece's role (0 base, 1 profile, 2 offset)."""
        feats = torch.from_numpy(piece_features(pieces, reading))[None]
        with torch.inference_mode():
            logits = self.model(feats, torch.zeros(feats.shape[:2], dtype=torch.bool))[0]
        return logits.argmax(-1).numpy()

    def refine(self, strokes: Sequence[np.ndarray], reading: Reading, ink: np.ndarray,
               roles: np.ndarray) -> tuple[np.ndarray, int]:
        """The roles map (H, W) uint8 of the image network (`roles`) read again piece by piece, and
        the number of pieces read; `strokes` are the sketch's strokes in the view's pixels. A sketch
        with no pieces or more than `MAX_PIECES` keeps `roles` (0 pieces read)."""
        pieces = stroke_pieces(strokes, max(ink.shape))
        if not pieces or len(pieces) > MAX_PIECES:
            return roles, 0
        return paint_roles(pieces, self.piece_roles(pieces, reading), ink, roles), len(pieces)


def save_stage(model: StrokeRoleNet, path: str | Path, extra: dict | None = None) -> None:
    """Write a stage as a weight file (`neural.weights`), atomically; its config (and `extra`) in the metadata."""
    save_weights(path, model.state_dict(), kind=KIND, version=VERSION, config=asdict(model.config), extra=extra)


def load_stage(path: str | Path) -> tuple[StrokeRoleNet, dict]:
    """A stage from its weight file, in eval mode, and its extra metadata; WeightsError saying what
    to do when the file is missing, damaged or holds another network."""
    w = load_weights(path, KIND, newest=VERSION)
    with w.unpacking():
        model = StrokeRoleNet(StageConfig(**w.config))
        model.load_state_dict(w.tensors, strict=True)
    return model.eval(), w.extra
