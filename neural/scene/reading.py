"""A scene sketch read by the network into its layout (numpy in, numpy out).

    read_layout(net, sketch, encoder=None, shape=None) -> Layout

The sketch is the `scene` contract's: an orthographic camera looking straight down with up (0, 1, 0);
its target (cx, cy) in millimetres is the centre of the ground rectangle, its `height` in
millimetres the rectangle's north-south extent, and the canvas's aspect gives the east-west one.
The network reads the ink on the `data.RES` grid stretched over that rectangle, as the training
data lies; `shape` resamples the maps to another grid over the same rectangle (square cells for a
non-square canvas, say).
"""

from __future__ import annotations

import logging

import cv2
import numpy as np
import torch

from sketchforge.modeling.sketch import Sketch

from ..text import TextEncoder, TextEncoderUnavailable
from .data import RES, rasterise_sketch
from .layout import Layout, ground_rectangle
from .net import SceneNet, scale_vector, sketch_features

__all__ = ["read_layout"]

log = logging.getLogger(__name__)


def _prompt_embedding(net: SceneNet, prompt: str | None, encoder: TextEncoder | None) -> torch.Tensor:
    """The pooled embedding (1, 384) of the prompt: the network's own empty-prompt embedding without
    one, or where the text encoder cannot be loaded (with a warning)."""
    if not prompt:
        return net.empty_text[None]
    if encoder is None:
        encoder = TextEncoder()
    try:
        return encoder.encode([prompt])[2].float()
    except TextEncoderUnavailable as exc:
        log.warning("the style prompt %r is read as no prompt: %s", prompt, exc)
        return net.empty_text[None]


def read_layout(net: SceneNet, sketch: Sketch, encoder: TextEncoder | None = None,
                shape: tuple[int, int] | None = None) -> Layout:
    """The layout the network reads in a top-down scene sketch, over the ground its canvas shows
    (`layout.ground_rectangle`), on the RES x RES grid or resampled to `shape` (rows, cols): categories
    (the most likely), heights in metres (base + normalised height x relief) and splat weights.
    `encoder` encodes the sketch's prompt (a TextEncoder made here when None and a prompt is given)."""
    extent = ground_rectangle(sketch)
    w, s, e, n = extent
    feats = sketch_features(rasterise_sketch(sketch, RES))
    scale = scale_vector((e - w, n - s), RES)
    text = _prompt_embedding(net, sketch.prompt, encoder)
    was_training = net.training
    net.eval()
    with torch.inference_mode():
        out = net(torch.from_numpy(feats)[None], text, torch.from_numpy(scale)[None])
        logits = out.category[0].permute(1, 2, 0).numpy()
        height = out.height_m()[0].numpy()
        splat = torch.softmax(out.splat[0], 0).permute(1, 2, 0).numpy()
    if was_training:
        net.train()
    if shape is not None and tuple(shape) != height.shape:
        rows, cols = (int(v) for v in shape)
        if rows < 1 or cols < 1:
            raise ValueError(f"a layout needs at least one cell, got shape {shape}")
        interp = cv2.INTER_AREA if rows < height.shape[0] and cols < height.shape[1] else cv2.INTER_LINEAR

        def resized(a: np.ndarray) -> np.ndarray:  # channel by channel (cv2 takes at most 4)
            return np.stack([cv2.resize(np.ascontiguousarray(a[..., k]), (cols, rows), interpolation=interp)
                             for k in range(a.shape[-1])], -1)
        logits, splat = resized(logits), resized(splat)
        height = cv2.resize(height, (cols, rows), interpolation=interp)
        splat = splat / np.maximum(splat.sum(-1, keepdims=True), 1e-9)
    return Layout(np.argmax(logits, -1).astype(np.uint8), np.asarray(height, np.float32),
                  np.asarray(splat, np.float32), extent, style=sketch.prompt)
