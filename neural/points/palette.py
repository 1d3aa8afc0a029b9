"""Colors and materials by name, how an object's parts are painted, and reading a prompt's colors.

A `Paint` is a color word, a material word or both ("red", "oak", "black leather"); its RGB is
the color's when it has one, else one of the material's tones. Paints are drawn around their
reference in CIELAB (within `SPREAD` of it), and `matches` accepts an RGB within `TOLERANCE` of a
paint's nearest reference, so every drawn color matches its paint.

`parse_prompt` finds the category a prompt names and which paint it gives which part, tolerant of
case, punctuation, word order and unknown words:
- a paint right before a part word (unknown words and "colored" / "painted" skipped) is that
  part's: "a red seat", "red-seated", "black metal legs";
- otherwise the nearest part word before it in the same clause is ("legs in black", "seat: red",
  "the legs are black", "chair: seat red, legs black"), and the parts joined to that one by "and"
  or a comma that have no paint of their own share it ("seat and back in red");
- a paint before or after the category word, with no part word between, is the whole object's
  ("a wooden chair", "a sofa in dark green"): every part the prompt does not name has it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .words import CATEGORY_PAIRS, CATEGORY_WORDS, FALLBACK_CATEGORY, PART_WORDS

RGB = tuple[int, int, int]

BASIC_COLORS: dict[str, RGB] = {
    "black": (28, 28, 30), "white": (242, 242, 238), "red": (200, 32, 38), "green": (46, 140, 64),
    "yellow": (242, 204, 46), "blue": (38, 84, 190), "brown": (122, 78, 42), "orange": (236, 122, 34),
    "pink": (238, 142, 172), "purple": (122, 54, 152), "grey": (128, 128, 130), "gray": (128, 128, 130),
}
"""The eleven basic color words (and "gray"), each with a reference RGB."""

SHADES: dict[str, RGB] = {
    "beige": (222, 204, 168), "navy": (28, 38, 92), "dark green": (28, 82, 44), "light blue": (150, 196, 236),
    "dark blue": (24, 44, 120), "light green": (150, 210, 140), "light grey": (200, 200, 200),
    "dark grey": (70, 70, 74), "cream": (244, 234, 206), "teal": (24, 128, 130), "turquoise": (64, 200, 192),
    "maroon": (112, 24, 38), "burgundy": (124, 22, 48), "olive": (112, 112, 44), "tan": (202, 166, 112),
    "gold": (212, 176, 60), "silver": (192, 194, 200), "ivory": (246, 242, 224), "charcoal": (56, 56, 62),
    "mustard": (214, 170, 44), "lavender": (182, 162, 222), "crimson": (184, 22, 48), "sky blue": (120, 186, 236),
    "mint": (172, 226, 196), "coral": (246, 126, 104), "lime": (160, 214, 52),
}
"""More color words a prompt may use, with their reference RGB."""

COLOR_SYNONYMS: dict[str, str] = {
    "gray": "grey", "navy blue": "navy", "light gray": "light grey", "dark gray": "dark grey", "golden": "gold",
    "silvery": "silver", "violet": "purple", "scarlet": "red", "off white": "ivory", "cyan": "turquoise",
}
"""Color words read as another (the canonical word is what `parse_prompt` reports)."""

MODIFIERS = ("light", "dark", "pale", "bright", "deep")
"""Words that shade a color ("dark red"): light and pale mix with white, dark and deep darken."""

MATERIALS: dict[str, tuple[RGB, ...]] = {
    "wood": ((196, 152, 102), (160, 108, 62), (120, 78, 44), (214, 178, 128), (142, 92, 52)),
    "oak": ((196, 156, 104), (178, 138, 88)), "walnut": ((96, 62, 38), (116, 76, 48)),
    "pine": ((218, 180, 124), (206, 166, 110)), "cherry": ((152, 78, 48), (138, 70, 44)),
    "mahogany": ((108, 46, 32), (122, 56, 38)), "birch": ((226, 204, 164), (216, 192, 150)),
    "teak": ((162, 108, 58), (150, 98, 52)),
    "metal": ((150, 152, 158), (110, 112, 118), (60, 60, 64)), "steel": ((152, 156, 162), (170, 172, 176)),
    "chrome": ((204, 206, 212), (188, 190, 198)), "brass": ((182, 150, 68), (196, 164, 84)),
    "copper": ((184, 116, 58), (168, 100, 50)), "aluminium": ((178, 180, 184), (190, 192, 196)),
    "glass": ((214, 230, 228), (200, 222, 216), (222, 228, 236)),
    "plastic": ((240, 240, 236), (30, 30, 32), (200, 40, 40), (40, 90, 190), (242, 200, 50)),
    "ceramic": ((240, 238, 230), (232, 226, 212), (226, 222, 214)), "marble": ((232, 230, 224), (220, 218, 214)),
    "concrete": ((160, 160, 156), (142, 142, 138)), "stone": ((150, 146, 138), (176, 170, 160)),
    "fabric": ((130, 130, 134), (200, 190, 170), (70, 90, 130), (110, 130, 100)),
    "velvet": ((40, 90, 70), (40, 60, 120), (190, 110, 130), (200, 160, 50)),
    "leather": ((112, 62, 32), (32, 28, 26), (164, 108, 62), (140, 74, 40)),
    "linen": ((220, 212, 194), (200, 194, 180)), "wicker": ((192, 152, 94), (176, 136, 80)),
    "terracotta": ((196, 104, 70), (180, 92, 60)),
}
"""Materials with the reference tones a part made of them may have."""

MATERIAL_SYNONYMS: dict[str, str] = {
    "wooden": "wood", "timber": "wood", "metallic": "metal", "iron": "metal", "stainless": "steel",
    "chromed": "chrome", "aluminum": "aluminium", "porcelain": "ceramic", "stoneware": "ceramic",
    "upholstered": "fabric", "cloth": "fabric", "textile": "fabric", "rattan": "wicker", "clay": "terracotta",
}

WOODS = ("wood", "oak", "walnut", "pine", "cherry", "mahogany", "birch", "teak")
SPREAD = 9.0  # CIELAB distance within which a paint's colors are drawn around a reference
TOLERANCE = 22.0  # CIELAB distance within which an RGB matches a paint (drawn colors always do)


@dataclass(frozen=True)
class Paint:
    """A color word, a material word or both, in canonical form ("red", "oak", "black leather")."""

    color: str | None = None
    material: str | None = None

    def __post_init__(self) -> None:
        if self.color is None and self.material is None:
            raise ValueError("a paint needs a color or a material")
        if self.color is not None and color_rgb(self.color) is None:
            raise ValueError(f"unknown color {self.color!r}")
        if self.material is not None and self.material not in MATERIALS:
            raise ValueError(f"unknown material {self.material!r}")

    @property
    def word(self) -> str:
        """The paint as words: "black leather", "red", "oak"."""
        return " ".join(w for w in (self.color, self.material) if w)

    def references(self) -> tuple[RGB, ...]:
        """The RGB colors this paint may have (one for a color, a material's tones otherwise)."""
        if self.color is not None:
            return (color_rgb(self.color),)  # type: ignore[return-value]
        return MATERIALS[self.material]  # type: ignore[index]

    @staticmethod
    def parse(text: str) -> "Paint":
        """A paint from its words ("dark green velvet", "wooden"); ValueError when none is named."""
        paint = read_paint(_TOKEN.findall(text.lower()))
        if paint is None:
            raise ValueError(f"no color or material in {text!r}")
        return paint


def color_rgb(word: str) -> RGB | None:
    """The reference RGB of a canonical color word, a synonym, or a modifier + basic color."""
    word = COLOR_SYNONYMS.get(word, word)
    if word in BASIC_COLORS:
        return BASIC_COLORS[word]
    if word in SHADES:
        return SHADES[word]
    head, _, rest = word.partition(" ")
    base = color_rgb(rest) if head in MODIFIERS and rest else None
    if base is None:
        return None
    c = np.asarray(base, float)
    c = 0.55 * c + 0.45 * 255 if head in ("light", "pale") else 0.55 * c if head in ("dark", "deep") else c
    if head == "bright":
        c = np.clip(c.mean() + 1.25 * (c - c.mean()), 0, 255)
    return (int(round(c[0])), int(round(c[1])), int(round(c[2])))


def canonical_color(word: str) -> str | None:
    """The canonical form of a color word (None when it is none)."""
    word = COLOR_SYNONYMS.get(word, word)
    return word if color_rgb(word) is not None else None


# -- CIELAB ---------------------------------------------------------------------------------------
_M = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
_WHITE = _M.sum(1)


def rgb_to_lab(rgb) -> np.ndarray:
    """sRGB (..., 3) in 0..255 to CIELAB (D65)."""
    c = np.asarray(rgb, float) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = lin @ _M.T / _WHITE
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def lab_to_rgb(lab) -> np.ndarray:
    """CIELAB (..., 3) to sRGB floats 0..255 (clipped)."""
    lab = np.asarray(lab, float)
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], -1)
    xyz = np.where(f ** 3 > 216 / 24389, f ** 3, (116 * f - 16) / (24389 / 27)) * _WHITE
    lin = np.clip(xyz @ np.linalg.inv(_M).T, 0.0, 1.0)
    c = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.clip(255.0 * c, 0.0, 255.0)


def paint_distance(rgb, paint: Paint) -> float:
    """CIELAB distance from an RGB color (3,) to the nearest reference of `paint`."""
    lab = rgb_to_lab(np.asarray(rgb, float).reshape(3))
    return float(np.linalg.norm(rgb_to_lab(np.asarray(paint.references(), float)) - lab, axis=1).min())


def matches(rgb, paint: Paint, tolerance: float = TOLERANCE) -> bool:
    """Whether an RGB color (3,) (e.g. the median color of a part's points) is `paint`."""
    return paint_distance(rgb, paint) <= tolerance


def sample_rgb(paint: Paint, rng: np.random.Generator) -> np.ndarray:
    """A color (3,) float 0..255 of `paint`: one of its references moved within `SPREAD` in CIELAB."""
    refs = paint.references()
    lab = rgb_to_lab(np.asarray(refs[int(rng.integers(len(refs)))], float))
    for _ in range(8):
        step = rng.normal(0.0, 1.0, 3) * (1.0, 0.8, 0.8)
        step *= float(rng.uniform(0.0, SPREAD)) / max(float(np.linalg.norm(step)), 1e-9)
        rgb = lab_to_rgb(lab + step)
        if np.linalg.norm(rgb_to_lab(rgb) - lab) <= SPREAD + 0.5:  # not clipped away
            return rgb
    return lab_to_rgb(lab)


def point_colors(base: np.ndarray, paint: Paint, points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 (N, 3) colors of a part's points around its color `base`: a little noise per point,
    and for wood a faint grain (bands along a random direction)."""
    n = len(points)
    lab = np.repeat(rgb_to_lab(base)[None], n, 0)
    lab[:, 0] += rng.normal(0.0, 1.2, n)
    lab[:, 1:] += rng.normal(0.0, 0.8, (n, 2))
    if paint.color is None and paint.material in WOODS:
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        phase = points @ d / float(rng.uniform(6.0, 14.0)) + rng.uniform(0, 2 * np.pi)
        lab[:, 0] += 2.5 * np.sin(phase + 0.6 * np.sin(0.37 * phase))
    return np.round(lab_to_rgb(lab)).astype(np.uint8)


def part_color_accuracy(colors: np.ndarray, parts: np.ndarray, prompt: "PromptColors | str",
                        part_names: tuple[str, ...]) -> tuple[int, int]:
    """(parts whose median color `matches` the paint the prompt asks of them, parts it asks a
    paint of) over the labels present in `parts` (indices into `part_names`)."""
    asked = prompt if isinstance(prompt, PromptColors) else parse_prompt(prompt)
    hits = total = 0
    for label in np.unique(parts):
        paint = asked.paint_for(part_names[int(label)])
        if paint is not None:
            total += 1
            hits += matches(np.median(np.asarray(colors, float)[parts == label], axis=0), paint)
    return hits, total


def nearest_basic(rgb) -> str:
    """The basic color word (of the eleven) nearest an RGB color in CIELAB."""
    names = [n for n in BASIC_COLORS if n != "gray"]
    refs = rgb_to_lab(np.asarray([BASIC_COLORS[n] for n in names], float))
    d = np.linalg.norm(refs - rgb_to_lab(np.asarray(rgb, float).reshape(3)), axis=1)
    return names[int(np.argmin(d))]


# -- reading prompts -------------------------------------------------------------------------------
@dataclass(frozen=True)
class PromptColors:
    """What a prompt names: the category, a paint for the whole object, paints of parts."""

    text: str
    category: str | None
    whole: Paint | None = None
    parts: dict[str, Paint] = field(default_factory=dict)

    def paint_for(self, part: str) -> Paint | None:
        """The paint the prompt asks of `part`: its own, else the whole object's, else None."""
        return self.parts.get(part, self.whole)

    def named(self) -> dict:
        """As JSON: {"whole": word or None, "parts": {part: word}} (canonical words)."""
        return {"whole": self.whole.word if self.whole else None,
                "parts": {k: v.word for k, v in sorted(self.parts.items())}}


_TOKEN = re.compile(r"[a-z]+|[,;:.!?()/&]")
_MULTI = {tuple(w.split()) for w in (*SHADES, *COLOR_SYNONYMS) if " " in w}
_COLOR_WORDS = {w for w in (*BASIC_COLORS, *SHADES, *COLOR_SYNONYMS) if " " not in w}
_MATERIAL_WORDS = {**{m: m for m in MATERIALS}, **MATERIAL_SYNONYMS}
_SKIP_AFTER = {"colored", "coloured", "painted", "toned", "tinted", "finished", "covered", "upholstered"}
_SKIP_BEFORE = {"in", "is", "are", "was", "were", "be", "being", "painted", "colored", "coloured", "made", "of",
                "done", "finished", "all", "entirely", "fully", "the", "a", "an", "its", "their", "both", ":",
                "color", "colour", "mostly", "completely", "tinted", "covered", "upholstered"}
_ARTICLES = {"the", "a", "an", "its", "their"}


def _paint_length(tokens: list[str], i: int) -> int:
    """How many tokens from i make one color or material word (0: none)."""
    pair = tuple(tokens[i:i + 2])
    if len(pair) == 2 and (pair in _MULTI or (pair[0] in MODIFIERS and pair[1] in _COLOR_WORDS)):
        return 2
    t = tokens[i]
    if t in ("upholstered",) and i + 1 < len(tokens) and tokens[i + 1] in _SKIP_BEFORE | {"with"}:
        return 0  # "upholstered in red": a verb, not the material
    return 1 if t in _COLOR_WORDS or t in _MATERIAL_WORDS else 0


def read_paint(words: list[str]) -> Paint | None:
    """The paint named by consecutive words ("dark", "green", "velvet"); None when none is."""
    color = material = None
    i = 0
    while i < len(words):
        n = _paint_length(words, i) or 1
        phrase = " ".join(words[i:i + n])
        if color is None and canonical_color(phrase) is not None and (n == 2 or phrase in _COLOR_WORDS):
            color = canonical_color(phrase)
        elif material is None and phrase in _MATERIAL_WORDS:
            material = _MATERIAL_WORDS[phrase]
        i += n
    return Paint(color, material) if color or material else None


def _categories(tokens: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, category) of every category name; a category word followed by another is a
    modifier of it ("desk lamp", "table lamp")."""
    out, i = [], 0
    while i < len(tokens):
        pair = tuple(tokens[i:i + 2])
        if pair in CATEGORY_PAIRS:
            out.append((i, i + 2, CATEGORY_PAIRS[pair]))  # type: ignore[index]
            i += 2
            continue
        if tokens[i] in CATEGORY_WORDS and not (i + 1 < len(tokens) and tokens[i + 1] in CATEGORY_WORDS):
            out.append((i, i + 1, CATEGORY_WORDS[tokens[i]]))
        i += 1
    return out


def parse_prompt(text: str) -> PromptColors:
    """The category and the paints a prompt names (see the module notes for the rules)."""
    tokens = ["and" if t == "&" else t for t in _TOKEN.findall(str(text).lower())]
    cats = _categories(tokens)
    kind: list[str | None] = [None] * len(tokens)  # "cat", "part", "paint"
    for s, e, _ in cats:
        for k in range(s, e):
            kind[k] = "cat"
    runs, i = [], 0
    while i < len(tokens):
        n = _paint_length(tokens, i) if kind[i] is None else 0
        if n:
            start = i
            while i < len(tokens) and kind[i] is None and (n := _paint_length(tokens, i)):
                i += n
            runs.append((start, i))
            for k in range(start, i):
                kind[k] = "paint"
            continue
        if kind[i] is None and tokens[i] in PART_WORDS:
            kind[i] = "part"
        i += 1
    category = cats[0][2] if cats else next((FALLBACK_CATEGORY[t] for t in tokens if t in FALLBACK_CATEGORY), None)
    whole: Paint | None = None
    parts: dict[str, Paint] = {}
    for s, e in runs:
        paint = read_paint(tokens[s:e])
        if paint is None:
            continue
        target, j = _after(tokens, kind, e), None
        if target is None:
            target, j = _before(tokens, kind, s)
        if not isinstance(target, int):
            whole = whole or paint
            continue
        parts.setdefault(PART_WORDS[tokens[target]], paint)
        if j is not None:
            for k in _joined(tokens, kind, j):
                parts.setdefault(PART_WORDS[tokens[k]], paint)
    return PromptColors(str(text), category, whole, parts)


def _after(tokens: list[str], kind: list, e: int) -> int | str | None:
    """The part index (or "cat") a paint ending at e stands before, or None."""
    unknown = 0
    for j in range(e, len(tokens)):
        if kind[j] == "part":
            return j
        if kind[j] == "cat":
            return "cat"
        t = tokens[j]
        if t in _SKIP_AFTER:
            continue
        if kind[j] is None and t.isalpha() and t not in _SKIP_BEFORE and t not in _BARRIERS and unknown < 2:
            unknown += 1
            continue
        return None
    return None


_BARRIERS = {"and", "or", "with", "on", "but", "whose", "while", "has", "have", "having", "plus", "except"}


def _before(tokens: list[str], kind: list, s: int) -> tuple[int | str | None, int | None]:
    """The nearest part (index) or category ("cat") before a paint starting at s in its clause."""
    for j in range(s - 1, -1, -1):
        if kind[j] == "part":
            return j, j
        if kind[j] == "cat":
            return "cat", None
        if tokens[j] not in _SKIP_BEFORE:
            return None, None
    return None, None


def _joined(tokens: list[str], kind: list, j: int) -> list[int]:
    """Part words joined to the part at j by "and" or commas before it ("seat, back and arms")."""
    out, k = [], j - 1
    while k >= 0:
        while k >= 0 and tokens[k] in _ARTICLES:
            k -= 1
        if k < 1 or tokens[k] not in ("and", ","):
            break
        k -= 1
        while k >= 0 and tokens[k] in _ARTICLES:
            k -= 1
        if k < 0 or kind[k] != "part":
            break
        out.append(k)
        k -= 1
    return out
