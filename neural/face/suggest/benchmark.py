"""The retrieval benchmark of stroke suggestion: humanised drawings of a library's own heads, cut
into parts, query the library; a hit is the library's entry of the same head and part type."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ...synth.reading import DataError
from ..parts import PARTS
from .drawings import head_parts, part_images, seeded_head
from .library import SuggestionLibrary
from .network import SuggestNet, embed_images

__all__ = ["EVAL_FORMAT", "evaluate"]

EVAL_FORMAT = "sketchforge.face-suggest-eval"


def _pixel_codes(images: np.ndarray) -> np.ndarray:
    """Unit vectors of part images softened by a Gaussian of sigma 1 px (the pixel baseline)."""
    import cv2

    a = np.stack([cv2.GaussianBlur(np.asarray(x, np.float32), (0, 0), 1.0) for x in images])
    a = a.reshape(len(a), -1)
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9)


def evaluate(model: SuggestNet, lib: SuggestionLibrary, heads: int, seed: int,
             progress: Callable[[str, int, int], None] | None = None) -> dict:
    """The retrieval benchmark: heads 0..heads-1 of the library's own seed are drawn again by a
    humanised hand (`head_sketch`, rng [seed, head, 3]) and cut into parts; each part instance
    (left ones mirrored) queries the library, and a hit is the library's entry of the same head
    and part type, every other head's entry of that type being a distractor. Returns the report
    (top-1 / top-5 within the part type, part-type accuracy of the nearest entry of any type, the
    classifier's accuracy, a pixel baseline; overall, per part and per side) as a JSON-ready dict.
    `progress("heads", done, total)` is called after each head."""
    try:
        lib_heads, lib_seed, size = int(lib.meta["heads"]), int(lib.meta["seed"]), int(lib.meta["size"])
    except (KeyError, TypeError, ValueError):
        raise DataError("the library does not record the seed, head count and size of its heads; build it with "
                        "`sketchforge-face-suggest library` (build_library)") from None
    if not isinstance(heads, int) or isinstance(heads, bool) or not 1 <= heads <= lib_heads:
        raise DataError(f"--heads must be between 1 and the library's {lib_heads} heads, got {heads}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise DataError(f"--seed must be a non-negative integer, got {seed!r}")
    lib._check_model(model)
    items, target = [], []
    skipped = {"nothing_drawn": 0, "no_library_entry": 0}
    for i in range(heads):
        params = seeded_head(lib_seed, i)
        for ps in head_parts(params, size, np.random.default_rng([seed, i, 3])):
            entry = lib.index_of(i, ps.part)
            if entry is None:
                skipped["no_library_entry"] += 1
                continue
            if not ps.polylines:
                skipped["nothing_drawn"] += 1
                continue
            items.append(ps)
            target.append(entry)
        if progress is not None:
            progress("heads", i + 1, heads)
    if not items:
        raise DataError("no part of the query heads was drawn; pass more --heads")
    images = part_images(items, model.config.image_size)
    emb = embed_images(model, images)
    with torch.no_grad():
        logits = model.classes(model.encode(torch.from_numpy(images)[:, None])).numpy()
    # the baseline a network has to beat: cosine similarity of the images themselves (softened;
    # an entry's code is the mean of its two sides', as its embedding is)
    pix_lib = _pixel_codes(lib.images.astype(np.float32) / 255.0)
    pair = np.nonzero(lib.has_mirror)[0]
    if len(pair):
        pix_lib[pair] += _pixel_codes(lib.mirror_images[pair].astype(np.float32) / 255.0)
        pix_lib /= np.maximum(np.linalg.norm(pix_lib, axis=1, keepdims=True), 1e-12)
    pix_q = _pixel_codes(images)
    rows = []
    for j, (ps, e, t, lg) in enumerate(zip(items, emb, target, logits)):
        within = [i for i, _ in lib.query(e, ps.part, 5)]
        nearest = lib.query(e, None, 1)[0][0]
        same = lib.entries(ps.part)
        pix_best = int(same[np.argmax(pix_lib[same] @ pix_q[j])])
        rows.append({"part": ps.part, "side": ps.side, "top1": within[0] == t, "top5": t in within,
                     "type": PARTS[int(lib.part[nearest])] == ps.part,
                     "classifier": PARTS[int(np.argmax(lg))] == ps.part,
                     "same_variant": int(lib.variant[within[0]]) == int(lib.variant[t]),
                     "pixel_top1": pix_best == t})

    def summary(sel: list[dict]) -> dict:
        n = len(sel)
        return {"queries": n, **{k: round(sum(r[k] for r in sel) / n, 4) if n else None
                                 for k in ("top1", "top5", "type", "classifier", "same_variant", "pixel_top1")}}

    per_part = {}
    for p in PARTS:
        sel = [r for r in rows if r["part"] == p]
        entries = len(lib.entries(p))
        per_part[p] = {**summary(sel), "library_entries": entries,
                       "chance_top1": round(1.0 / entries, 4) if entries else None}
    train_seed = lib.meta.get("train_seed")
    return {
        "format": EVAL_FORMAT,
        "overall": summary(rows),
        "per_part": per_part,
        "per_side": {s: summary([r for r in rows if r["side"] == s]) for s in ("right", "left", "centre")},
        "skipped_instances": skipped,
        "library": {"entries": len(lib), "heads": lib_heads, "seed": lib_seed, "size": size},
        "query_heads": heads,
        "query_seed": seed,
        "held_out": train_seed is not None and train_seed != lib_seed,
        "definitions": {
            "query": "a part instance of a humanised drawing (head_sketch, rng [seed, head, 3]) of one of the "
                     "library's first N heads, left instances mirrored",
            "top1/top5": "the library's entry of the same head and part is among the 1 / 5 most cosine-similar "
                         "entries of that part type (every other head's part is a distractor)",
            "type": "the most similar entry of any part type has the query's part type",
            "classifier": "the network's part-type head names the query's part type",
            "same_variant": "the top-1 entry (within the part type) comes from a head of the query's variant",
            "pixel_top1": "baseline without the network: top-1 by cosine similarity of the part images "
                          "themselves, softened by a 1-px Gaussian",
        },
    }
