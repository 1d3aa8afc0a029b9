"""The words for categories and parts that prompts use and `palette.parse_prompt` reads.

Each part has a singular, a plural and, where English has one, an adjective form ("legged" in
"black-legged"), plus synonyms. A category word is a single word ("couch"); two-word names whose
head is another category's word ("arm chair", "easy chair") are listed as pairs.
"""

from __future__ import annotations

PART_FORMS: dict[str, tuple[str, str, str | None]] = {
    "seat": ("seat", "seats", "seated"), "back": ("back", "backs", "backed"), "leg": ("leg", "legs", "legged"),
    "arm": ("arm", "arms", "armed"), "top": ("top", "tops", "topped"), "base": ("base", "bases", None),
    "stem": ("stem", "stems", "stemmed"), "shade": ("shade", "shades", "shaded"), "body": ("body", "bodies", "bodied"),
    "handle": ("handle", "handles", "handled"), "neck": ("neck", "necks", "necked"), "cap": ("cap", "caps", "capped"),
    "label": ("label", "labels", "labelled"), "cushion": ("cushion", "cushions", "cushioned"),
    "stretcher": ("stretcher", "stretchers", None), "shelf": ("shelf", "shelves", "shelved"),
    "frame": ("frame", "frames", "framed"), "apron": ("apron", "aprons", None),
}
"""Part name -> (singular, plural, adjective or None)."""

PART_SYNONYMS: dict[str, tuple[str, ...]] = {
    "back": ("backrest", "backrests"), "arm": ("armrest", "armrests"), "top": ("tabletop", "tabletops"),
    "base": ("foot",), "stem": ("pole", "column", "rod"), "shade": ("lampshade", "lampshades"),
    "cap": ("lid", "lids", "cork"), "cushion": ("pillow", "pillows"), "label": ("labeled",),
    "stretcher": ("rung", "rungs", "crossbar", "crossbars", "footrest"),
}
"""More words for a part, used by prompts now and then."""

PART_WORDS: dict[str, str] = {}
for _part, _forms in PART_FORMS.items():
    for _w in (*_forms, *PART_SYNONYMS.get(_part, ())):
        if _w:
            PART_WORDS[_w] = _part

CATEGORY_WORDS: dict[str, str] = {
    "chair": "chair", "chairs": "chair", "armchair": "armchair", "armchairs": "armchair", "recliner": "armchair",
    "sofa": "sofa", "sofas": "sofa", "couch": "sofa", "couches": "sofa", "settee": "sofa", "loveseat": "sofa",
    "table": "table", "tables": "table", "desk": "table", "desks": "table", "stool": "stool", "stools": "stool",
    "barstool": "stool", "mug": "mug", "mugs": "mug", "cup": "mug", "cups": "mug", "teacup": "mug",
    "lamp": "lamp", "lamps": "lamp", "vase": "vase", "vases": "vase", "urn": "vase", "bottle": "bottle",
    "bottles": "bottle", "flask": "bottle", "bench": "bench", "benches": "bench", "pew": "bench",
    "bookshelf": "bookshelf", "bookshelves": "bookshelf", "bookcase": "bookshelf", "bookcases": "bookshelf",
}
"""A word that names a category on its own."""

CATEGORY_PAIRS: dict[tuple[str, str], str] = {
    ("arm", "chair"): "armchair", ("easy", "chair"): "armchair", ("club", "chair"): "armchair",
    ("lounge", "chair"): "armchair", ("wingback", "chair"): "armchair", ("love", "seat"): "sofa",
    ("book", "shelf"): "bookshelf", ("book", "shelves"): "bookshelf", ("shelving", "unit"): "bookshelf",
    ("shelf", "unit"): "bookshelf", ("shelving", "units"): "bookshelf",
}
"""Two words that name a category together (the second alone would name something else)."""

FALLBACK_CATEGORY: dict[str, str] = {"seat": "chair", "seats": "chair", "shelf": "bookshelf", "shelves": "bookshelf"}
"""Part words that name the category when no category word is in the prompt ("a red seat")."""


def part_word(part: str, plural: bool) -> str:
    singular, many, _ = PART_FORMS[part]
    return many if plural else singular
