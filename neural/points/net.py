"""The networks of the points back end (after STPD, Wu et al. ICCV 2023), small enough for two CPU cores.

One building kit, three networks (`PointsConfig.stage`):

    shape  denoises positions (x, y, z in the sketch's frame, `frame.ViewFrame`) conditioned on the
           sketch, the prompt and the view (elevation, perspective)
    color  denoises colors (r, g, b in [-1, 1]) with the positions fixed (their own frame,
           `frame.unit_cloud`) conditioned on the prompt; its part head labels every point
    joint  the one-stage baseline: positions and colors together, conditioned like `shape`

Sketch encoder with capsule attention: a small conv stem reads the ink raster with the background
zeroed (anything below half ink is background), then `capsules` learned queries attend over the
stem's features at inked cells only (the background is masked out of the attention) for `routing`
rounds with shared weights, like routing by agreement: a sparse sketch embedding of a few tokens
that no background pixel can change. A view token (elevation, perspective strength) joins them.

Fusion: the sketch tokens attend to the prompt's tokens (the frozen encoder's, `neural.text`)
and the prompt's tokens to the sketch's (multi-head attention both ways); the fused tokens
condition the denoiser, their mean (with the pooled prompt and the time) modulates it.

Denoiser: per-point features (Fourier features of the point, the noisy values and, when there is
a sketch, the stem's features where the point lands in the raster: the exact projection,
`frame.camera_vector`) go through `blocks` blocks of a latent set transformer: `latents` learned
tokens read the points (cross-attention), read the condition tokens, attend to each other, and
the points read them back (with `point_cond`, the points also read the condition tokens themselves,
so the color a prompt names for a part reaches that part's points directly), then a per-point MLP
modulated (FiLM) by the time and the condition.
The cost is linear in the number of points, and a network trained on a subset of a cloud's
points denoises the whole cloud.

Weight files are the house's (`neural.weights`: safetensors, kinds "points-shape", "points-color",
"points-joint"; the config in the metadata); loading never unpickles (`load_net`). A shipped
file may hold float16 tensors (`save_net(..., half=True)`); they are read back as float32.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..weights import load_weights, save_weights
from .frame import MARGIN, SIZE

__all__ = ["STAGES", "KINDS", "VERSION", "PointsConfig", "Condition", "PointsNet", "SketchEncoder", "project",
           "save_net", "load_net", "grow_from", "parameter_count"]

VERSION = 1
STAGES = ("shape", "color", "joint")
KINDS = {s: f"points-{s}" for s in STAGES}
VIEW = 3          # frame.ViewFrame.conditioning: sin, cos of the elevation, perspective strength
TEXT_WIDTH = 384  # neural.text.WIDTH


@dataclass(frozen=True)
class PointsConfig:
    stage: str = "shape"
    width: int = 128        # channels of the latents and the condition tokens
    point_width: int = 64   # channels of the per-point features (the cost is per point: kept narrow)
    blocks: int = 4
    latents: int = 32
    heads: int = 4
    capsules: int = 12      # sketch tokens
    routing: int = 2        # rounds of capsule attention
    stem: int = 32          # channels of the sketch stem (the 32 x 32 level; half at 64 x 64)
    fourier: int = 6        # frequencies of the point's Fourier features
    parts: int = 0          # part labels of the part head (0: none; the shape stage has none)
    text_width: int = TEXT_WIDTH
    text_drop: float = 0.0  # share of training items read with the empty prompt (> 0: guidance can be used)
    point_cond: bool = False  # every point also reads the condition tokens itself in each block (not only
                              # through the latents): a part's color named in the prompt reaches its points

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {self.stage!r}")
        if not 0.0 <= self.text_drop < 1.0:
            raise ValueError(f"text_drop must be in [0, 1), got {self.text_drop}")
        if self.width % self.heads or self.point_width % self.heads:
            raise ValueError(f"width {self.width} and point_width {self.point_width} must be multiples of heads "
                             f"{self.heads}")

    @property
    def sketch(self) -> bool:
        return self.stage != "color"

    @property
    def channels(self) -> int:
        """Values denoised per point."""
        return 6 if self.stage == "joint" else 3

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(d: dict) -> "PointsConfig":
        known = PointsConfig.__dataclass_fields__
        return PointsConfig(**{k: v for k, v in d.items() if k in known})


class Condition(NamedTuple):
    """What a network reads besides the noisy values, computed once per object (`PointsNet.encode`)."""

    tokens: torch.Tensor          # (B, K, C) fused condition tokens
    mask: torch.Tensor            # (B, K) bool, True where a token is real
    glob: torch.Tensor            # (B, C) pooled condition
    maps: tuple[torch.Tensor, ...]  # the sketch stem's feature maps (empty without a sketch)
    camera: torch.Tensor | None   # (B, CAMERA_VECTOR) the sketch's projection (None without a sketch)


# -- pieces ----------------------------------------------------------------------------------------
class Attention(nn.Module):
    """Multi-head attention of queries x (width dq) over context y (width dkv) in `inner` channels,
    back to dq; `mask` (B, K) True where y may be read."""

    def __init__(self, dq: int, heads: int, dkv: int | None = None, inner: int | None = None) -> None:
        super().__init__()
        self.heads = heads
        self.inner = inner = inner or dq
        self.q = nn.Linear(dq, inner)
        self.kv = nn.Linear(dkv or dq, 2 * inner)
        self.out = nn.Linear(inner, dq)

    def forward(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, n, _ = x.shape
        h, c = self.heads, self.inner
        q = self.q(x).view(b, n, h, c // h).transpose(1, 2)
        k, v = self.kv(y).view(b, y.shape[1], 2, h, c // h).permute(2, 0, 3, 1, 4)
        m = None if mask is None else mask[:, None, None, :]
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
        return self.out(o.transpose(1, 2).reshape(b, n, c))


def _mlp(width: int, hidden: int, out: int | None = None) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, out or width))


def timestep_embedding(t: torch.Tensor, dim: int, period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding (B, dim) of diffusion timesteps (B,)."""
    half = dim // 2
    freqs = torch.exp(-math.log(period) * torch.arange(half, dtype=torch.float32) / half)
    a = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(a), torch.sin(a)], -1)


def fourier(x: torch.Tensor, n: int) -> torch.Tensor:
    """x and sin / cos of x at n octaves from pi: (..., D) -> (..., D * (1 + 2n))."""
    f = (2.0 ** torch.arange(n, dtype=torch.float32)) * math.pi
    a = (x[..., None] * f).flatten(-2)
    return torch.cat([x, torch.sin(a), torch.cos(a)], -1)


def project(points: torch.Tensor, camera: torch.Tensor) -> torch.Tensor:
    """Frame points (B, N, 3) through camera vectors (B, CAMERA_VECTOR) -> box units (B, N, 2)
    (as `frame.project_box`)."""
    r, t, f, eye, persp = camera[:, None, 0:3], camera[:, None, 3:6], camera[:, None, 6:9], camera[:, None, 9:12], \
        camera[:, 12:13, None]
    rel = points - eye
    depth = (rel * f).sum(-1, keepdim=True).clamp_min(1e-3)
    dist = -(eye * f).sum(-1, keepdim=True)
    on_plane = eye + rel * (dist / depth)
    q = torch.where(persp > 0.5, on_plane, points)
    return torch.cat([(q * r).sum(-1, keepdim=True), (q * t).sum(-1, keepdim=True)], -1)


def ink_mask(raster: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) raster -> float mask, 1 on ink (at least half ink)."""
    return (raster >= 0.5).float()


# -- the sketch ------------------------------------------------------------------------------------
class SketchEncoder(nn.Module):
    """Ink raster (B, 1, SIZE, SIZE) -> capsule tokens (B, capsules, C) and the stem's feature maps."""

    def __init__(self, cfg: PointsConfig) -> None:
        super().__init__()
        c1, c2, w = cfg.stem // 2, cfg.stem, cfg.width
        self.conv1 = nn.Conv2d(1, c1, 5, 2, 2)
        self.conv2 = nn.Conv2d(c1, c2, 3, 2, 1)
        self.conv3 = nn.Conv2d(c2, c2, 3, 1, 1)
        self.cells = (SIZE // 4) ** 2
        self.pos = nn.Parameter(torch.zeros(self.cells, w))
        self.proj = nn.Linear(c2, w)
        self.norm = nn.LayerNorm(w)
        self.queries = nn.Parameter(torch.randn(cfg.capsules, w) * 0.02)
        self.route = Attention(w, cfg.heads)
        self.route_norm = nn.LayerNorm(w)
        self.mlp = _mlp(w, 2 * w)
        self.mlp_norm = nn.LayerNorm(w)
        self.rounds = cfg.routing
        nn.init.normal_(self.pos, std=0.02)

    def forward(self, raster: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        ink = ink_mask(raster)
        x = raster * ink  # the background is zero whatever it held
        f1 = F.gelu(self.conv1(x))
        f2 = F.gelu(self.conv2(f1))
        f2 = f2 + F.gelu(self.conv3(f2))
        b = raster.shape[0]
        cells = F.max_pool2d(ink, 4).flatten(1) > 0  # (B, cells): inked cells
        cells = cells | ~cells.any(1, keepdim=True)  # an empty raster reads every cell (nothing to route)
        feats = self.norm(self.proj(f2.flatten(2).transpose(1, 2)) + self.pos)
        caps = self.queries.expand(b, -1, -1)
        for _ in range(self.rounds):
            caps = caps + self.route(self.route_norm(caps), feats, cells)
            caps = caps + self.mlp(self.mlp_norm(caps))
        return caps, (f1, f2)


# -- the denoiser ----------------------------------------------------------------------------------
class Block(nn.Module):
    """Latents (width w) read the points (width p) and the condition, attend to each other; the
    points read the latents back and pass a per-point MLP modulated by the time and condition."""

    def __init__(self, w: int, p: int, heads: int, point_cond: bool = False) -> None:
        super().__init__()
        self.n_read_l, self.n_read_x = nn.LayerNorm(w), nn.LayerNorm(p)
        self.read = Attention(w, heads, dkv=p)
        self.n_cond = nn.LayerNorm(w)
        self.cond = Attention(w, heads)
        self.n_self = nn.LayerNorm(w)
        self.self_attn = Attention(w, heads)
        self.n_lmlp = nn.LayerNorm(w)
        self.lmlp = _mlp(w, 2 * w)
        self.n_write_x, self.n_write_l = nn.LayerNorm(p), nn.LayerNorm(w)
        self.write = Attention(p, heads, dkv=w)
        self.n_pmlp = nn.LayerNorm(p, elementwise_affine=False)
        self.film = nn.Linear(w, 2 * p)
        self.pmlp = _mlp(p, 2 * p)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)
        self.n_pcond: nn.Module | None = None
        self.pcond: Attention | None = None
        if point_cond:  # starts as the identity (zero output), so a network without it can be grown into one
            self.n_pcond = nn.LayerNorm(p)
            self.pcond = Attention(p, heads, dkv=w)
            nn.init.zeros_(self.pcond.out.weight)
            nn.init.zeros_(self.pcond.out.bias)

    def forward(self, x: torch.Tensor, lat: torch.Tensor, cond: Condition, g: torch.Tensor) -> tuple:
        lat = lat + self.read(self.n_read_l(lat), self.n_read_x(x))
        lat = lat + self.cond(self.n_cond(lat), cond.tokens, cond.mask)
        s = self.n_self(lat)
        lat = lat + self.self_attn(s, s)
        lat = lat + self.lmlp(self.n_lmlp(lat))
        x = x + self.write(self.n_write_x(x), self.n_write_l(lat))
        if self.pcond is not None and self.n_pcond is not None:
            x = x + self.pcond(self.n_pcond(x), cond.tokens, cond.mask)
        scale, shift = self.film(g).unsqueeze(1).chunk(2, -1)
        x = x + self.pmlp(self.n_pmlp(x) * (1 + scale) + shift)
        return x, lat


class PointsNet(nn.Module):
    """One stage's network (module docstring): `encode` the condition once, then `forward` per step."""

    def __init__(self, config: PointsConfig = PointsConfig()) -> None:
        super().__init__()
        self.config = cfg = config
        w, p = cfg.width, cfg.point_width
        self.text = nn.Sequential(nn.Linear(cfg.text_width, w), nn.LayerNorm(w))
        self.pooled = nn.Linear(cfg.text_width, w)
        self.time = _mlp(w, w)
        if cfg.sketch:
            self.sketch = SketchEncoder(cfg)
            self.view = _mlp(VIEW, w, w)
            self.n_fuse_s, self.n_fuse_t = nn.LayerNorm(w), nn.LayerNorm(w)
            self.fuse_s = Attention(w, cfg.heads)   # sketch tokens read the prompt
            self.fuse_t = Attention(w, cfg.heads)   # prompt tokens read the sketch
            self.pix = nn.Linear(cfg.stem // 2 + cfg.stem, p)
        else:
            self.n_fuse_t = nn.LayerNorm(w)
            self.fuse_t = Attention(w, cfg.heads)   # prompt tokens read each other
        dims = 3 * (1 + 2 * cfg.fourier)  # the point (noisy, or the fixed position for colors)
        if cfg.stage != "shape":
            dims += 3 * (1 + 2 * max(cfg.fourier // 2, 1))  # the colors (noisy)
        self.inp = nn.Linear(dims, p)
        self.lat = nn.Parameter(torch.randn(cfg.latents, w) * 0.02)
        self.blocks = nn.ModuleList(Block(w, p, cfg.heads, cfg.point_cond) for _ in range(cfg.blocks))
        self.out_norm = nn.LayerNorm(p)
        self.out = nn.Linear(p, cfg.channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.part_head = _mlp(p, 2 * p, cfg.parts) if cfg.parts > 0 and cfg.stage != "shape" else None

    # -- condition -----------------------------------------------------------------------------
    def encode(self, tokens: torch.Tensor, mask: torch.Tensor, pooled: torch.Tensor, raster: torch.Tensor | None = None,
               view: torch.Tensor | None = None, camera: torch.Tensor | None = None) -> Condition:
        """Prompt tokens (B, T, 384), their mask (B, T), pooled (B, 384) and, for the sketch stages,
        the ink raster (B, 1, SIZE, SIZE), the view (B, 3) and the camera vector (B, 13)."""
        txt = self.text(tokens)
        glob = self.pooled(pooled)
        if not self.config.sketch:
            t = self.n_fuse_t(txt)
            txt = txt + self.fuse_t(t, t, mask)
            return Condition(txt, mask, glob, (), None)
        if raster is None or view is None or camera is None:
            raise ValueError(f"the {self.config.stage} network needs the sketch's raster, view and camera")
        caps, maps = self.sketch(raster)
        sk = torch.cat([caps, self.view(view).unsqueeze(1)], 1)
        skm = torch.ones(sk.shape[:2], dtype=torch.bool)
        s, t = self.n_fuse_s(sk), self.n_fuse_t(txt)
        sk = sk + self.fuse_s(s, t, mask)
        txt = txt + self.fuse_t(t, s)
        glob = glob + sk.mean(1)
        return Condition(torch.cat([sk, txt], 1), torch.cat([skm, mask], 1), glob, maps, camera)

    def expand(self, cond: Condition, n: int) -> Condition:
        """The condition of each object repeated n times (n samples per object)."""
        def rep(t):
            return None if t is None else t.repeat_interleave(n, 0)
        return Condition(rep(cond.tokens), rep(cond.mask), rep(cond.glob), tuple(rep(m) for m in cond.maps),
                         rep(cond.camera))

    # -- denoising -----------------------------------------------------------------------------
    def _pixels(self, points: torch.Tensor, cond: Condition) -> torch.Tensor:
        """The stem's features where each point lands in the raster: (B, N, C)."""
        box = project(points, cond.camera)
        k = 1.0 - 2.0 * MARGIN / SIZE
        grid = torch.stack([box[..., 0] * k, -box[..., 1] * k], -1).unsqueeze(1).clamp(-2.0, 2.0)
        feats = [F.grid_sample(m, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[:, :, 0]
                 for m in cond.maps]
        return self.pix(torch.cat(feats, 1).transpose(1, 2))

    def features(self, x: torch.Tensor, t: torch.Tensor, cond: Condition,
                 positions: torch.Tensor | None = None) -> torch.Tensor:
        """Per-point features (B, N, C) of noisy values x (B, N, channels) at timesteps t (B,)."""
        cfg = self.config
        if cfg.stage == "color":
            if positions is None:
                raise ValueError("the color network needs the positions")
            inp = torch.cat([fourier(positions, cfg.fourier), fourier(x, max(cfg.fourier // 2, 1))], -1)
            pts = positions
        elif cfg.stage == "joint":
            pts = x[..., :3]
            inp = torch.cat([fourier(pts, cfg.fourier), fourier(x[..., 3:], max(cfg.fourier // 2, 1))], -1)
        else:
            pts = x
            inp = fourier(pts, cfg.fourier)
        h = self.inp(inp)
        if cfg.sketch:
            h = h + self._pixels(pts, cond)
        g = cond.glob + self.time(timestep_embedding(t, cfg.width))
        lat = self.lat.unsqueeze(0) + g.unsqueeze(1)
        g = F.gelu(g)
        for block in self.blocks:
            h, lat = block(h, lat, cond, g)
        return self.out_norm(h)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: Condition,
                positions: torch.Tensor | None = None) -> torch.Tensor:
        """The model output (B, N, channels) (the noise, or what the scheduler predicts)."""
        return self.out(self.features(x, t, cond, positions))

    def forward_with_parts(self, x: torch.Tensor, t: torch.Tensor, cond: Condition,
                           positions: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(model output, part logits (B, N, parts) or None without a part head)."""
        h = self.features(x, t, cond, positions)
        return self.out(h), (None if self.part_head is None else self.part_head(h))


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def save_net(model: PointsNet, path: str | Path, extra: dict | None = None, half: bool = False) -> None:
    """Write a network as a weight file (`neural.weights`), atomically; `half` stores float16 (shipping)."""
    sd = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    save_weights(path, sd, kind=KINDS[model.config.stage], version=VERSION, config=model.config.to_json(),
                 extra=extra)


def load_net(path: str | Path, stage: str | None = None) -> tuple[PointsNet, dict]:
    """The network a file holds (`stage` names the one it must be), in eval mode, and its extra
    metadata; WeightsError saying what to do when the file cannot be read."""
    w = load_weights(path, tuple(KINDS.values()) if stage is None else KINDS[stage], newest=VERSION)
    with w.unpacking():
        cfg = PointsConfig.from_json(w.config)
        model = PointsNet(cfg)
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in w.tensors.items()},
                              strict=True)
    model.eval()
    return model, w.extra


def grow_from(model: PointsNet, path: str | Path) -> dict:
    """Start `model` from the weights of a trained network of the same stage and size that lacks some of
    its optional modules (`point_cond`): every weight the file has is taken, the new modules keep their
    identity start, so the grown network computes exactly what the file's did. Returns the file's extra
    metadata; ValueError saying what differs when the file is not such a network."""
    old, extra = load_net(path, model.config.stage)
    mine, theirs = model.config.to_json(), old.config.to_json()
    differ = [k for k in mine if k != "point_cond" and mine[k] != theirs.get(k)]
    if differ:
        raise ValueError(f"{path} is a {model.config.stage} network with other settings ({', '.join(differ)}); "
                         "grow from one of the same size, or train from the start")
    missing, unexpected = model.load_state_dict(old.state_dict(), strict=False)
    new = [k for k in missing if "pcond" not in k]
    if unexpected or new:
        raise ValueError(f"{path} does not fit this network (missing {new[:3]}, unexpected {unexpected[:3]}); "
                         "train from the start")
    return extra
