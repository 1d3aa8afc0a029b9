"""How an object's parts are colored and how a person asks for it in words.

`plan_colors` paints every part: a category's plausible scheme first (wooden tables, white mugs,
fabric sofas on wooden legs; parts in one group share a paint, and every leg has the same color),
then, unless the prompt is to name no color (`NO_COLOR`, a fifth of them), it names the whole
object, some parts, or both, half the time with colors of its own choosing. Whatever the prompt
names holds in the data: a part it names has that paint, and when it names the whole object
("a wooden chair with a red seat"), every part it does not name has the whole object's paint.

`prompt_text` words a plan in one of many ways: "a wooden chair with a red seat and black legs",
"red-seated chair, legs in black", "chair: seat red, legs black", "a sofa in dark green whose
legs are walnut", "A blue mug." - with synonyms, plurals, and varied case and punctuation.
`palette.parse_prompt` reads every one of them back to the same paints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .palette import BASIC_COLORS, MATERIALS, SHADES, Paint, sample_rgb
from .shapes import PointsObject
from .words import PART_FORMS, PART_SYNONYMS

NO_COLOR = 0.2  # share of prompts naming no color at all

SCHEMES: dict[str, tuple[str, ...]] = {
    "chair": (
        "seat back leg arm stretcher stem base: wood | oak | walnut | pine | cherry | birch | white | black | grey",
        "seat back: black plastic | white plastic | red plastic | grey plastic | blue plastic | yellow plastic; "
        "leg stretcher arm stem base: chrome | black metal | steel | wood | oak",
        "seat: black leather | brown leather | grey fabric | beige fabric | blue fabric | green velvet | red fabric; "
        "back leg arm stretcher stem base: wood | walnut | oak | black | chrome",
        "seat back arm: black fabric | black leather | grey fabric | dark blue fabric; stem base leg: chrome | black "
        "| aluminium",
    ),
    "sofa": (
        "seat back arm frame cushion: grey fabric | beige fabric | blue fabric | green velvet | navy velvet | mustard "
        "velvet | brown leather | black leather | cream linen | pink velvet | dark grey fabric | teal velvet; "
        "leg: wood | walnut | oak | black | brass | chrome",
        "seat cushion: beige fabric | white linen | grey fabric | cream; back arm frame: brown leather | dark grey "
        "fabric | navy fabric | charcoal; leg: wood | black",
    ),
    "table": (
        "top leg apron stretcher base stem shelf: wood | oak | walnut | pine | cherry | mahogany | teak | white "
        "| black",
        "top: glass | white marble | marble | white | black | oak; leg apron stretcher base stem shelf: chrome | "
        "black metal | steel | brass | wood",
        "top shelf: oak | walnut | white | black | birch; leg apron stretcher base stem: white | black | wood | "
        "black metal",
    ),
    "stool": (
        "seat leg stretcher base stem: wood | oak | pine | birch | walnut | black | white | red",
        "seat: black leather | brown leather | red plastic | black plastic | white plastic | wood | oak; "
        "leg stretcher base stem: chrome | black metal | steel | brass | wood",
    ),
    "mug": (
        "body handle: white | white ceramic | black | red | blue | yellow | green | grey | cream | navy | pink | "
        "terracotta",
        "body: white ceramic | black | navy | grey | mint; handle: white | black | red | wood",
    ),
    "lamp": (
        "shade: white fabric | cream linen | beige fabric | white | black | grey fabric | green glass | white glass | "
        "mustard | navy fabric; base stem: brass | chrome | black metal | white ceramic | wood | copper | black | gold",
        "shade base stem: white | black | red | yellow | green | blue | brass | copper | grey",
    ),
    "vase": (
        "body neck: white ceramic | ceramic | terracotta | glass | blue | green | turquoise | black | cream | "
        "grey stone | green glass | blue glass | white | yellow | red",
        "body: white | terracotta | blue | black; neck: gold | black | white | brass",
    ),
    "bottle": (
        "body neck: green glass | brown glass | glass | blue glass | white plastic | blue plastic | dark green glass; "
        "cap: gold | black | silver | white | red | brass; label: white | cream | black | red | beige | yellow",
    ),
    "bench": (
        "seat back leg arm stretcher: wood | oak | teak | pine | walnut | white | black | green",
        "seat back: wood | teak | oak | white; leg arm stretcher: black metal | black | green | grey metal",
    ),
    "bookshelf": (
        "frame shelf back base leg: wood | oak | walnut | pine | white | black | birch | grey",
        "frame base leg: white | black | oak | grey; shelf back: oak | walnut | white | pine",
    ),
}
"""Plausible paints per category: groups of parts that share a paint, each with its options; a
part in no group takes the first group's paint (armchairs use the sofa's schemes)."""

MAIN_PARTS: dict[str, tuple[str, ...]] = {
    "chair": ("seat", "back", "leg", "arm", "base", "stem"), "armchair": ("seat", "back", "arm", "leg", "cushion"),
    "sofa": ("seat", "back", "arm", "leg", "cushion"), "table": ("top", "leg", "base", "stem", "apron", "shelf"),
    "stool": ("seat", "leg", "stretcher", "base", "stem"), "mug": ("body", "handle"), "lamp": ("shade", "base", "stem"),
    "vase": ("body", "neck"), "bottle": ("body", "cap", "label", "neck"), "bench": ("seat", "leg", "back", "arm"),
    "bookshelf": ("frame", "shelf", "back", "base", "leg"),
}
"""The parts a prompt names, most often the first."""

PLURAL = {"leg", "arm", "shelf", "cushion", "stretcher", "apron"}  # named in the plural when there are several
_MATERIAL_FORMS = {"wood": ("wooden", "wood", "wooden"), "metal": ("metal", "metallic"),
                   "ceramic": ("ceramic", "porcelain"), "aluminium": ("aluminium", "aluminum")}
_COLOR_FORMS = {"grey": ("grey", "gray"), "navy": ("navy", "navy blue"), "light grey": ("light grey", "light gray"),
                "dark grey": ("dark grey", "dark gray")}


def _parse_scheme(text: str) -> list[tuple[tuple[str, ...], tuple[Paint, ...]]]:
    groups = []
    for chunk in text.split(";"):
        names, _, options = chunk.partition(":")
        groups.append((tuple(names.split()), tuple(Paint.parse(o) for o in options.split("|"))))
    return groups


_SCHEMES = {k: [_parse_scheme(s) for s in v] for k, v in SCHEMES.items()}
_SCHEMES["armchair"] = _SCHEMES["sofa"]


@dataclass(frozen=True)
class ColorPlan:
    """The paint of every part present, and what the prompt names (`whole`: the object's)."""

    paints: dict[str, Paint]
    whole: Paint | None
    named: dict[str, Paint]

    def named_json(self) -> dict:
        return {"whole": self.whole.word if self.whole else None,
                "parts": {k: v.word for k, v in sorted(self.named.items())}}


def random_paint(rng: np.random.Generator, category: str | None = None, part: str | None = None) -> Paint:
    """Any color (basic colors most often), or a material the category's schemes give that part
    (or the category; any material when neither is given)."""
    r = rng.random()
    if r < 0.6:
        return Paint(str(rng.choice([c for c in BASIC_COLORS if c != "gray"])))
    if r < 0.82:
        return Paint(str(rng.choice(list(SHADES))))
    options = sorted(MATERIALS)
    if category is not None:
        groups = [g for scheme in _SCHEMES[category] for g in scheme]
        found = sorted({o.material for names, opts in groups for o in opts
                        if o.material and (part is None or part in names)})
        options = found or sorted({o.material for _, opts in groups for o in opts if o.material}) or options
    return Paint(None, str(rng.choice(options)))


def plan_colors(obj: PointsObject, rng: np.random.Generator) -> ColorPlan:
    """The paints of `obj`'s parts and what its prompt names (see the module notes)."""
    present = obj.part_names()
    groups = _SCHEMES[obj.category][int(rng.integers(len(_SCHEMES[obj.category])))]
    paints: dict[str, Paint] = {}
    for names, options in groups:
        paint = options[int(rng.integers(len(options)))]
        for n in names:
            paints.setdefault(n, paint)
    first = next(iter(paints.values()))
    paints = {p: paints.get(p, first) for p in present}
    if rng.random() < NO_COLOR:
        return ColorPlan(paints, None, {})
    if rng.random() < 0.3:
        only = paints[_main(obj, present)] if rng.random() < 0.5 else random_paint(rng, obj.category)
        return ColorPlan({p: only for p in present}, only, {})
    main = MAIN_PARTS[obj.category]
    order = [p for p in main if p in present] + [p for p in present if p not in main]
    k = min(len(order), 1 + int(rng.choice(3, p=[0.5, 0.35, 0.15])))
    weights = np.array([0.5 ** i for i in range(len(order))])
    chosen = [order[int(i)] for i in rng.choice(len(order), size=k, replace=False, p=weights / weights.sum())]
    named = {}
    for p in chosen:
        if rng.random() < 0.5:
            paints[p] = random_paint(rng, obj.category, p)
        named[p] = paints[p]
    rest = [p for p in present if p not in named]
    whole = None
    if rest and rng.random() < 0.5:
        rest_paint = paints[rest[0]] if rng.random() < 0.5 else random_paint(rng, obj.category)
        if rest_paint not in named.values():
            whole = rest_paint
            paints.update({p: rest_paint for p in rest})
    return ColorPlan(paints, whole, named)


def _main(obj: PointsObject, present: tuple[str, ...]) -> str:
    return next(p for p in (*MAIN_PARTS[obj.category], *present) if p in present)


def part_rgb(plan: ColorPlan, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One drawn RGB (3,) per part; parts with the same paint share it (a wooden chair has one
    wood tone)."""
    by_paint: dict[Paint, np.ndarray] = {}
    out = {}
    for part, paint in plan.paints.items():
        if paint not in by_paint:
            by_paint[paint] = sample_rgb(paint, rng)
        out[part] = by_paint[paint]
    return out


# -- words --------------------------------------------------------------------------------------------
def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def paint_words(paint: Paint, rng: np.random.Generator) -> str:
    """The paint as a person may write it ("gray", "wooden", "black leather")."""
    words = []
    if paint.color:
        words.append(_pick(rng, _COLOR_FORMS.get(paint.color, (paint.color,))))
    if paint.material:
        words.append(_pick(rng, _MATERIAL_FORMS.get(paint.material, (paint.material,))))
    return " ".join(words)


def _article(word: str, rng: np.random.Generator, p: float = 0.85) -> str:
    if rng.random() > p:
        return word
    return ("an " if word[0] in "aeiou" else "a ") + word


class _Words:
    """The part words of one object: singular or plural by how many pieces the part has."""

    def __init__(self, obj: PointsObject, rng: np.random.Generator) -> None:
        self.counts, self.rng = obj.counts(), rng

    def plural(self, part: str) -> bool:
        return part in PLURAL and self.counts.get(part, 1) > 1

    def noun(self, part: str) -> str:
        many = self.plural(part)
        singular, plural, _ = PART_FORMS[part]
        syn = [w for w in PART_SYNONYMS.get(part, ()) if w.endswith("s") == many and not w.endswith("ed")]
        if syn and self.rng.random() < 0.2:
            return _pick(self.rng, syn)
        return plural if many else singular

    def pre(self, part: str, paint: Paint) -> str:  # "a red seat", "black legs"
        phrase = f"{paint_words(paint, self.rng)} {self.noun(part)}"
        return phrase if self.plural(part) else _article(phrase, self.rng, 0.8)

    def post(self, part: str, paint: Paint, style: int) -> str:  # "legs in black", "the seat is red"
        noun, pw = self.noun(part), paint_words(paint, self.rng)
        if style == 0:
            return f"{noun} in {pw}"
        if style == 1:
            return f"{noun} {pw}"
        if style == 2 and paint.color is None:
            return f"{noun} made of {pw}"
        if style == 2:
            return f"{noun} painted {pw}"
        verb = "are" if noun.endswith("s") and noun not in ("glass",) else "is"
        return f"the {noun} {verb} {pw}"


def _join(items: list[str], rng: np.random.Generator) -> str:
    if len(items) == 1:
        return items[0]
    last = " & " if rng.random() < 0.05 else " and "
    return ", ".join(items[:-1]) + last + items[-1]


def prompt_text(obj: PointsObject, plan: ColorPlan, rng: np.random.Generator) -> str:
    """The plan in words, in one of many wordings (see the module notes)."""
    words = _Words(obj, rng)
    noun = _pick(rng, obj.nouns)
    adj = f"{_pick(rng, obj.adjectives)} " if obj.adjectives and rng.random() < 0.2 else ""
    named = list(plan.named.items())
    rng.shuffle(named)  # type: ignore[arg-type]
    whole = plan.whole
    adjectival = [(p, c) for p, c in named if PART_FORMS[p][2] and c.color and not c.material]
    if adjectival and rng.random() < 0.2 and PART_FORMS[adjectival[0][0]][2] != "labelled":
        part, paint = adjectival[0]
        head = _article(f"{adj}{paint_words(paint, rng)}-{PART_FORMS[part][2]} {noun}", rng)
        named = [(p, c) for p, c in named if p != part]
        if whole is not None:
            head += f" in {paint_words(whole, rng)}"
    elif whole is None:
        head = _article(f"{adj}{noun}", rng)
    else:
        form = rng.random()
        if form < 0.6:
            head = _article(f"{adj}{paint_words(whole, rng)} {noun}", rng)
        elif form < 0.8 or whole.color is not None:
            head = _article(f"{adj}{noun}", rng) + f" in {paint_words(whole, rng)}"
        else:
            head = _article(f"{adj}{noun}", rng) + f" made of {paint_words(whole, rng)}"
    text = head + _clauses(named, words, rng, bare=whole is None)
    if not named and whole is None and rng.random() < 0.3:
        text += _style_phrase(obj, rng)
    return _case(text, rng)


def _clauses(named: list[tuple[str, Paint]], words: _Words, rng: np.random.Generator, bare: bool) -> str:
    if not named:
        return ""
    form = rng.random()
    if form < 0.4:
        return " with " + _join([words.pre(p, c) for p, c in named], rng)
    if form < 0.65:
        shared: dict[Paint, list[str]] = {}
        for p, c in named:
            shared.setdefault(c, []).append(p)
        items = [f"{_join([words.noun(p) for p in ps], rng)} in {paint_words(c, rng)}" if len(ps) > 1
                 else words.post(ps[0], c, int(rng.integers(3))) for c, ps in shared.items()]
        return ", " + ", ".join(items)
    if form < 0.8:
        sep = ": " if bare else ", "
        return sep + ", ".join(words.post(p, c, 1) for p, c in named)
    if form < 0.9:
        return " whose " + _join([words.post(p, c, 3)[4:] for p, c in named], rng)
    return "; " + ", ".join(words.post(p, c, 3) for p, c in named)


def _style_phrase(obj: PointsObject, rng: np.random.Generator) -> str:
    """A shape detail without color ("with arms", "with a dome shade")."""
    s = obj.style
    options = []
    if s.get("arms") == "yes":
        options.append(" with arms")
    if "shade" in s:
        options.append(f" with a {s['shade']} shade")
    if s.get("back") in ("slats", "spindles"):
        options.append(f" with a {'slatted' if s['back'] == 'slats' else 'spindle'} back")
    if s.get("handle"):
        options.append(f" with a {s['handle']} handle")
    return _pick(rng, options) if options else ""


def _case(text: str, rng: np.random.Generator) -> str:
    r = rng.random()
    if r < 0.5:
        text = text[0].upper() + text[1:]
    elif r < 0.55:
        text = text.upper()
    if rng.random() < 0.3:
        text += "."
    return text
