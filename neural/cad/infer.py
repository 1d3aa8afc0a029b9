"""`CadNet`: the trained interpretation network behind a numpy-in, numpy-out call.

Inputs are prepared by the training data's own code (`synth.dataset.network_input`), so a sketch
seen here is normalised exactly as the training items were. A canvas of another size than the
network's is resized to it (ink coverage by area averaging, normals and depth by nearest
neighbour so the model's outline stays crisp; a non-square canvas is stretched) and the maps are
resized back. Stroke widths then scale with the canvas: the network was trained on strokes of
1 to 3 px at 128 px, so a much larger canvas should be drawn with a proportionally wider pen.

At load time each convolution absorbs its batch norm (same function, one pass less per layer), and
the network runs in the channels-last layout oneDNN prefers on the CPU. A prediction is:

- the input made channels-last in numpy and rasterised at the chosen canvas there
  (`net.canvas_input`, the same sampling as the training's `net.at_canvas`);
- the network and its class softmax as one graph per canvas size, traced and frozen on the second
  reading at that canvas where `traced` (a fraction of a second, once per canvas; the first
  reading runs layer by layer), which takes the per-layer Python overhead out of every later call.
  That overhead is most of the time for a light network at a small canvas: on this project's 2-core
  CPU the frozen graph of the 61 k parameter student ran 1.5 to 2 times faster than its layers one
  by one at 32-64 px, a millisecond or two a reading. Tracing pays back only over many readings
  (the window, which reads at every stroke, has its back end traced while it prepares it); a
  command line reading or a batch of sketches runs layer by layer. TorchScript is deprecated upstream in
  favour of `torch.compile`, which needs a C++ tool chain and seconds of compiling at start-up;
  where tracing is missing or fails, the layers run one by one, with the same results;
- the stitching and role logits resized (bilinear) from the canvas straight to the sketch's size
  by OpenCV, the stitching sigmoid there, and each ink pixel's likeliest role; the role
  probabilities are only worked out when asked for (`Prediction.role_probs`).

Done inside the graph, the two resizes and the softmax at 128 px took about a third of the
student's reading at 64 px.
"""

from __future__ import annotations

import copy
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from ..cache import FlopCache
from ..synth.dataset import network_input
from .net import CLASS_NAMES, ROLE_NAMES, CadUNet, NetConfig, canvas_input, count_flops, load_model, use_canvas

# TorchScript's deprecation notices (see the module notes), silenced by message for every thread:
# `warnings.catch_warnings` around the tracing is not thread-safe, and the window prepares the
# network in a background thread.
for _what in ("freeze", "trace", "trace_method"):
    warnings.filterwarnings("ignore", message=rf"`torch\.jit\.{_what}` is deprecated", category=DeprecationWarning)

log = logging.getLogger(__name__)

__all__ = ["CadNet", "Prediction", "CLASS_NAMES", "ROLE_NAMES"]


@dataclass(frozen=True)
class Prediction:
    """What the network says about one sketch, at the sketch's own canvas size (H, W)."""

    class_probs: np.ndarray  # (4,) float32, sums to 1: extrude, add/subtract, bevel, sweep
    stitch: np.ndarray  # (H, W) float32 0..1: probability that the pixel lies on the stitching face
    roles: np.ndarray  # (H, W) uint8: 0 off the strokes; on them the likeliest of 1 base, 2 profile, 3 offset
    role_logits: np.ndarray  # (H, W, 4) float32: none, base, profile, offset

    @property
    def role_probs(self) -> np.ndarray:
        """(4, H, W) float32: none, base, profile, offset; sums to 1 per pixel (the logits' softmax)."""
        z = self.role_logits - self.role_logits.max(-1, keepdims=True)
        e = np.exp(z)
        return np.moveaxis(e / e.sum(-1, keepdims=True), -1, 0).astype(np.float32)


class CadNet:
    """The network in evaluation mode with folded batch norms (a copy: the given model is left as it is);
    `predict` takes and returns numpy arrays. With `traced`, the second and later readings at a canvas
    run as one frozen graph (see the module notes); the flag may be switched on later."""

    def __init__(self, model: CadUNet, extra: dict | None = None, traced: bool = True, *, own: bool = False) -> None:
        self.config: NetConfig = model.config
        self.extra = extra or {}
        self._source = model if own else copy.deepcopy(model)  # `own`: the caller hands the model over
        self._model: CadUNet | None = None  # folded when first needed (a reading at another canvas may not)
        # a network trained at several canvases has batch-norm statistics per canvas: one folded copy each
        self._by_canvas: dict[int, CadUNet] = {}
        self._flops: dict[int, int] = {}
        self.traced = traced  # predict through one frozen graph per canvas (False: layer by layer)
        self.flop_cache: FlopCache | None = None  # FLOP counts kept on disk (set for a weight file)
        self._readers: dict[int, nn.Module] = {}
        self._eager: dict[int, _Reader] = {}

    @property
    def model(self) -> CadUNet:
        """The folded network at its own canvas size."""
        if self._model is None:
            self._model = self._folded(None)
        return self._model

    def _folded(self, canvas: int | None) -> CadUNet:
        # the per-canvas statistics are only read (`use_canvas`): the copy shares them
        stats = getattr(self._source, "canvas_stats", None)
        model = use_canvas(copy.deepcopy(self._source, {id(stats): stats}), canvas)
        return fold_batchnorm(model).eval().to(memory_format=torch.channels_last)

    def model_for(self, canvas: int | None) -> CadUNet:
        """The folded network that reads `canvas` (its own batch-norm statistics where it has them)."""
        if not canvas or int(canvas) == self.size or int(canvas) not in self._source.canvas_stats:
            return self.model
        canvas = int(canvas)
        if canvas not in self._by_canvas:
            self._by_canvas[canvas] = self._folded(canvas)
        return self._by_canvas[canvas]

    @property
    def size(self) -> int:
        """The canvas size (square, pixels) the network was trained at."""
        return self.config.size

    @classmethod
    def load(cls, path: str | Path, threads: int | None = 1, traced: bool = True) -> "CadNet":
        """Read a weight file (safetensors; the config comes from its metadata, nothing is unpickled).

        `threads` fixes torch's intra-op thread count for the process (None leaves it as it is); one
        thread is the default because the sketch interpretation runs beside the GUI and the CAD kernel.
        `traced`: see the class. FLOP counts are kept on disk for the file (`neural.cache`).
        """
        if threads is not None:
            if threads < 1:
                raise ValueError(f"threads must be at least 1, got {threads}")
            torch.set_num_threads(threads)
        model, extra = load_model(path)
        net = cls(model, extra, traced=traced, own=True)
        net.flop_cache = FlopCache(path)
        return net

    def flops(self, canvas: int | None = None) -> int:
        """FLOPs of one prediction at `canvas` px (default the network's size), counted once by torch
        (and kept on disk for a network read from a file)."""
        canvas = int(canvas or self.size)
        if canvas not in self._flops:
            def count() -> int:
                return count_flops(self.model, canvas)
            self._flops[canvas] = self.flop_cache.count(f"canvas={canvas}", count) if self.flop_cache else count()
        return self._flops[canvas]

    def predict(self, stroke: np.ndarray, normal: np.ndarray, depth: np.ndarray,
                canvas: int | None = None) -> Prediction:
        """Interpret one sketch.

        stroke  (H, W) uint8 ink coverage, 0 no ink .. 255 (bool is taken as 0 / 255)
        normal  (H, W, 3) float unit normals of the model in the camera frame, 0 off the model
        depth   (H, W) float distance along the view axis; 0 or inf on the background
        canvas  read the sketch at this smaller square size (a multiple of 16; `net.canvas_input`
                says how), as a canvas selector chooses; the maps come back at (H, W) all the same
        """
        stroke, normal, depth = _check_inputs(stroke, normal, depth)
        h, w = stroke.shape
        c = self._canvas(canvas)
        x = canvas_input(*self._square(stroke, normal, depth), None if c == self.size else c)
        reader = self._reader(c)
        with torch.inference_mode():
            class_probs, stitch, role_logits = (t.numpy() for t in reader(torch.from_numpy(x).permute(2, 0, 1)[None]))
        stitch = _resized(stitch[0, 0], h, w)
        role_logits = _resized(np.ascontiguousarray(np.moveaxis(role_logits[0], 0, -1)), h, w)
        stitch = 0.5 + 0.5 * np.tanh(0.5 * stitch)  # the sigmoid, without overflow for large logits
        roles = np.zeros((h, w), np.uint8)
        ink = stroke > 0
        roles[ink] = 1 + role_logits[ink][:, 1:].argmax(1)
        return Prediction(class_probs.astype(np.float32), stitch.astype(np.float32), roles, role_logits)

    def _canvas(self, canvas: int | None) -> int:
        """The canvas a reading runs at (the network's size for None); a size that is no multiple
        of 16 is refused."""
        c = int(canvas) if canvas and int(canvas) != self.size else self.size
        if c != self.size and (c < 16 or c % 16):
            raise ValueError(f"a canvas must be a multiple of 16 pixels (four halvings), got {canvas}")
        return c

    def _reader(self, canvas: int) -> nn.Module:
        """The network at `canvas` (its input already rasterised there) as one module: layer by
        layer the first time, then (when `traced`) traced and frozen once, on the second reading.
        Untraced, it stays layer by layer, and is traced on a later reading once `traced` is set."""
        c = self._canvas(canvas)
        if c in self._readers:
            return self._readers[c]
        reader = self._eager.get(c)
        if reader is None:
            # the first reading runs layer by layer: a one-off reading never pays for tracing
            reader = self._eager[c] = _Reader(self.model_for(c))
            return reader
        if not self.traced:
            return reader
        example = torch.zeros(1, 5, c, c).contiguous(memory_format=torch.channels_last)
        try:
            with torch.inference_mode():
                reader = torch.jit.freeze(torch.jit.trace(reader.eval(), example, check_trace=False).eval())
        except Exception as exc:  # noqa: BLE001 - any tracing failure leaves the layer-by-layer reader
            log.info("the network runs layer by layer at %d px (tracing failed: %s)", c, exc)
        self._readers[c] = reader
        return reader

    def prepare(self, stroke: np.ndarray, normal: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """The (5, S, S) float32 network input, made by the training data's `network_input`; its
        memory is channels-last (a view of an (S, S, 5) array), the layout the network runs in."""
        return np.moveaxis(network_input(*self._square(stroke, normal, depth), channels_last=True), -1, 0)

    def _square(self, stroke: np.ndarray, normal: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, ...]:
        """(stroke, normal, depth, on-model mask) at the network's size S x S."""
        s = self.config.size
        on_model = np.isfinite(depth) & (depth > 0)
        depth = np.where(on_model, depth, 0.0).astype(np.float32)
        if stroke.shape != (s, s):
            stroke = cv2.resize(stroke, (s, s), interpolation=cv2.INTER_AREA)
            normal = cv2.resize(normal, (s, s), interpolation=cv2.INTER_NEAREST)
            depth = cv2.resize(depth, (s, s), interpolation=cv2.INTER_NEAREST)
            on_model = cv2.resize(on_model.astype(np.uint8), (s, s), interpolation=cv2.INTER_NEAREST) > 0
        return stroke, normal, depth, on_model


class _Reader(nn.Module):
    """A folded network and its class softmax: one image (1, 5, C, C) in; (class probabilities (4,),
    stitching logits (1, 1, C, C), role logits (1, 4, C, C)) out."""

    def __init__(self, model: CadUNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.model(x)
        return torch.softmax(out.class_logits[0], 0), out.stitch_logits, out.role_logits


def _resized(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """An (S, S) or (S, S, K) float32 map resized to (h, w) bilinearly (pixel centres aligned, as
    torch's `align_corners=False`)."""
    if a.shape[:2] == (h, w):
        return a
    return cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR)


def _check_inputs(stroke: np.ndarray, normal: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, ...]:
    stroke, normal, depth = np.asarray(stroke), np.asarray(normal), np.asarray(depth)
    if stroke.ndim != 2 or min(stroke.shape) < 1:
        raise ValueError(f"stroke must be an (H, W) image, got shape {stroke.shape}")
    h, w = stroke.shape
    if normal.shape != (h, w, 3):
        raise ValueError(f"normal must be (H, W, 3) = ({h}, {w}, 3) like the stroke image, got {normal.shape}")
    if depth.shape != (h, w):
        raise ValueError(f"depth must be (H, W) = ({h}, {w}) like the stroke image, got {depth.shape}")
    if stroke.dtype == np.bool_:
        stroke = stroke.astype(np.uint8) * 255
    elif stroke.dtype != np.uint8:
        if not np.issubdtype(stroke.dtype, np.integer):
            raise ValueError(f"stroke must hold uint8 ink coverage 0..255, got {stroke.dtype}; "
                             "scale a 0..1 float image by 255 and convert it")
        stroke = np.clip(stroke, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(stroke), _finite(normal), _finite(depth)


def _finite(a: np.ndarray) -> np.ndarray:
    """A float32 copy with every NaN and infinity set to 0 (the caller's array is left as it is)."""
    a = np.array(a, dtype=np.float32, order="C")  # always a copy
    a[~np.isfinite(a)] = 0.0
    return a


def fold_batchnorm(model: CadUNet) -> CadUNet:
    """Fold every Conv2d -> BatchNorm2d pair (in eval mode) into the convolution; returns the model."""
    model.eval()
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        mods = list(seq)
        for i in range(len(mods) - 1):
            conv, bn = mods[i], mods[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
                fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                                  conv.padding, conv.dilation, conv.groups, bias=True)
                with torch.no_grad():
                    fused.weight.copy_(conv.weight.detach() * scale[:, None, None, None])
                    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(scale)
                    fused.bias.copy_(bn.bias.detach() + (bias - bn.running_mean) * scale)
                seq[i] = fused
                seq[i + 1] = nn.Identity()
    return model
