"""Furniture built from parts: chairs, armchairs and sofas, tables, stools, benches, bookshelves.

Sizes follow common furniture (seat heights 400-480 mm, dining tables 720-770 mm high, bar stools
620-800 mm); each builder draws its proportions and its variants (backs, bases, leg profiles,
arms, stretchers) from the generator it is given, so an object is a pure function of that
generator's state. Fronts face -Y.
"""

from __future__ import annotations

import math

import numpy as np
import trimesh

from .shapes import Part, PointsObject, beam, circle, lathe, panel, rod, rounded_rect, slab, spline, sweep

LEG_PROFILES = ("round", "square", "tapered round", "tapered square", "turned")
X, Y, Z = np.eye(3)


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _pick(rng: np.random.Generator, options, weights=None):
    w = None if weights is None else np.asarray(weights, float) / np.sum(weights)
    return options[int(rng.choice(len(options), p=w))]


def leg(profile: str, foot, top, width: float) -> trimesh.Trimesh:
    """One leg from its foot to its top in one of `LEG_PROFILES` (turned legs must be upright)."""
    foot, top = np.asarray(foot, float), np.asarray(top, float)
    if profile == "turned" and np.allclose(foot[:2], top[:2]):
        h = top[2] - foot[2]
        f = np.array([0.0, 0.08, 0.2, 0.35, 0.5, 0.62, 0.72, 0.8, 1.0])
        r = np.array([0.32, 0.3, 0.42, 0.3, 0.36, 0.26, 0.38, 0.5, 0.5]) * width
        prof = spline(np.column_stack([r, f * h]), 20)
        return lathe(prof, 16, center=foot)
    if profile in ("round", "turned"):
        return rod(foot, top, width / 2, width / 2, 16)
    if profile == "tapered round":
        return rod(foot, top, 0.3 * width, width / 2, 16)
    if profile == "tapered square":
        return beam(foot, top, X, 0.6 * width, 0.6 * width, taper=1 / 0.6)
    return beam(foot, top, X, width, width)


def _shear_back(mesh: trimesh.Trimesh, z0: float, lean: float) -> trimesh.Trimesh:
    """Lean whatever lies above z0 backwards (+Y) by `lean` radians."""
    v = mesh.vertices.copy()
    v[:, 1] += np.maximum(v[:, 2] - z0, 0.0) * math.tan(lean)
    return trimesh.Trimesh(v, mesh.faces, process=False)


def _four_legs(parts: list, rng, half_w: float, half_d: float, z_top: float, profile: str, width: float,
               splay: float = 0.0, name: str = "leg") -> list[np.ndarray]:
    """Four legs under the corners (±half_w, ±half_d); returns their foot points."""
    feet = []
    for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        top = np.array([sx * half_w, sy * half_d, z_top])
        foot = np.array([sx * (half_w + splay), sy * (half_d + splay), 0.0])
        parts.append(Part(name, leg(profile if splay == 0 else profile.replace("turned", "round"), foot, top, width)))
        feet.append(foot)
    return feet


def _stretchers(parts: list, rng, corners: list[np.ndarray], tops: list[np.ndarray], height: float, width: float,
                sides: str = "all") -> None:
    """Rails between consecutive legs at `height` (fraction of the way up)."""
    pts = [f + height * (t - f) for f, t in zip(corners, tops)]
    n = len(pts)
    for k in range(n):
        if sides == "sides" and k % 2 == 0:
            continue
        a, b = pts[k], pts[(k + 1) % n]
        parts.append(Part("stretcher", rod(a, b, width / 2, width / 2, 12)))


def chair(rng: np.random.Generator) -> PointsObject:
    w, d, h = _u(rng, 400, 520), _u(rng, 400, 500), _u(rng, 420, 480)
    support = _pick(rng, ("legs", "office", "pedestal", "cantilever"), (0.7, 0.14, 0.08, 0.08))
    back = _pick(rng, ("solid", "slats", "spindles", "ladder"), (0.4, 0.2, 0.2, 0.2))
    arms = rng.random() < (0.6 if support == "office" else 0.2)
    t = _u(rng, 55, 90) if support == "office" else _u(rng, 22, 55)
    profile = _pick(rng, LEG_PROFILES)
    parts: list[Part] = []
    corner = _u(rng, 0, 40)
    round_seat = support == "pedestal" and rng.random() < 0.5
    outline = circle(0.5 * w, 40) if round_seat else rounded_rect(w, d, corner)
    parts.append(Part("seat", slab(outline, h - t, h)))
    hw, hd = 0.5 * w - _u(rng, 20, 45), 0.5 * d - _u(rng, 20, 45)
    if support == "legs":
        lw = _u(rng, 28, 50)
        splay = _u(rng, 0, 35) if rng.random() < 0.4 else 0.0
        tops = [np.array([sx * hw, sy * hd, h - t]) for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
        feet = _four_legs(parts, rng, hw, hd, h - t, profile, lw, splay)
        if rng.random() < 0.4:
            _stretchers(parts, rng, feet, tops, _u(rng, 0.2, 0.35), 0.5 * lw, _pick(rng, ("all", "sides")))
    elif support == "cantilever":
        profile = "tubular"
        r = _u(rng, 10, 13)
        for sx in (-1, 1):
            x = sx * hw
            path = np.array([[x, hd, h - t - r], [x, -hd, h - t - r], [x, -hd - 40, h - t - 60],
                             [x, -hd - 30, 2 * r], [x, -hd + 20, r], [x, hd, r]])
            parts.append(Part("leg", sweep(spline(path, 28), circle(r, 12))))
    else:
        _pedestal(parts, rng, h - t, office=support == "office")
    _chair_back(parts, rng, back, w, d, h)
    if arms:
        ah = h + _u(rng, 180, 250)
        for sx in (-1, 1):
            x = sx * (0.5 * w - 25)
            parts.append(Part("arm", beam((x, -0.5 * d + 20, ah), (x, 0.5 * d - 30, ah), X, _u(rng, 40, 60), 25)))
            parts.append(Part("arm", beam((x, -0.5 * d + 60, h), (x, -0.5 * d + 60, ah - 12), Y, 30, 25)))
    nouns = {"office": ("office chair", "desk chair", "swivel chair"), "cantilever": ("chair", "cantilever chair")}
    style = {"support": support, "back": back, "legs": profile, "arms": "yes" if arms else "no"}
    return PointsObject("chair", tuple(parts), style, nouns.get(support, ("chair", "dining chair", "kitchen chair")))


def _pedestal(parts: list, rng, z_top: float, office: bool) -> None:
    """A swivel column on a five-star base (office) or a flared stem on a round foot."""
    if office:
        arm_len, z = _u(rng, 280, 340), _u(rng, 70, 100)
        parts.append(Part("stem", rod((0, 0, z), (0, 0, z_top), 22, 22, 16)))
        parts.append(Part("base", rod((0, 0, z - 25), (0, 0, z + 30), 40, 40, 16)))
        for k in range(5):
            a = 2 * math.pi * k / 5 + math.pi / 2
            tip = np.array([arm_len * math.cos(a), arm_len * math.sin(a), 45.0])
            parts.append(Part("base", beam((0, 0, z), tip, Z, 45, 35, taper=0.7)))
            parts.append(Part("base", rod(tip - (0, 0, 20), tip - (0, 0, 45), 24, 24, 12)))
    else:
        r = _u(rng, 220, 280)
        prof = np.array([[r, 0], [r, 12], [0.35 * r, 30], [45, 0.4 * z_top], [40, z_top]])
        parts.append(Part("base", lathe(prof[:3], 40, cap_end=False)))
        parts.append(Part("stem", lathe(spline(prof[2:], 10), 24, cap_start=False)))


def _chair_back(parts: list, rng, kind: str, w: float, d: float, h: float) -> None:
    bh, lean = _u(rng, 350, 550), math.radians(_u(rng, 2, 14))
    y, bw = 0.5 * d - _u(rng, 15, 35), w * _u(rng, 0.82, 1.0)
    pieces = []
    if kind == "solid":
        th = _u(rng, 18, 40)
        outline = rounded_rect(bw, bh, _u(rng, 0, 0.3) * bw)
        pieces.append(panel(outline, y - th / 2, y + th / 2, (0, h + bh / 2)))
    else:
        pw = _u(rng, 25, 40)
        for sx in (-1, 1):
            pieces.append(beam((sx * (bw - pw) / 2, y, h), (sx * (bw - pw) / 2, y, h + bh), X, pw, pw))
        rail = _u(rng, 40, 90)
        inner = bw - 2 * pw
        if kind == "ladder":
            n = int(rng.integers(2, 5))
            for z in np.linspace(h + bh * 0.35, h + bh - rail / 2, n):
                pieces.append(beam((-inner / 2, y, z), (inner / 2, y, z), Z, rail * 0.8, 18))
        else:
            pieces.append(beam((-inner / 2, y, h + bh - rail / 2), (inner / 2, y, h + bh - rail / 2), Z, rail, 22))
            n = int(rng.integers(3, 8))
            xs = np.linspace(-inner / 2, inner / 2, n + 2)[1:-1]
            for x in xs:
                if kind == "spindles":
                    pieces.append(rod((x, y, h), (x, y, h + bh - rail), 9, 9, 12))
                else:
                    pieces.append(beam((x, y, h), (x, y, h + bh - rail), X, inner / (2.2 * n), 15))
    parts.extend(Part("back", _shear_back(m, h, lean)) for m in pieces)


def upholstered(rng: np.random.Generator, seats: int) -> PointsObject:
    """An armchair (one seat) or a sofa (two or three seats)."""
    seat_w = _u(rng, 520, 700)
    arm_w = _u(rng, 70, 200)
    w, d = seats * seat_w + 2 * arm_w, _u(rng, 750, 950)
    legs = rng.random() < 0.75
    lh = _u(rng, 80, 200) if legs else 0.0
    h = _u(rng, 400, 460)
    ct, back_t = _u(rng, 100, 160), _u(rng, 140, 240)
    bh, ah = _u(rng, 330, 520), _u(rng, 130, 260)
    parts: list[Part] = []
    inner = w - 2 * arm_w
    parts.append(Part("frame", slab(rounded_rect(w, d, 5), lh, h - ct)))
    for k in range(seats):
        x0 = -inner / 2 + k * inner / seats
        parts.append(Part("seat", slab(rounded_rect(inner / seats - 6, d - back_t - 10, 25), h - ct, h,
                                       (x0 + inner / (2 * seats), -back_t / 2))))
    parts.append(Part("back", slab(rounded_rect(w if rng.random() < 0.5 else inner, back_t, 20),
                                   h - ct, h + bh, (0, d / 2 - back_t / 2))))
    arm_kind = _pick(rng, ("square", "rolled", "slim"))
    for sx in (-1, 1):
        cx = sx * (w / 2 - arm_w / 2)
        if arm_kind == "slim":
            parts.append(Part("arm", slab(rounded_rect(arm_w * 0.5, d, 10), h - ct, h + ah, (cx, 0))))
        else:
            top = h + ah - (arm_w / 2 if arm_kind == "rolled" else 0)
            parts.append(Part("arm", slab(rounded_rect(arm_w, d, 15), h - ct, top, (cx, 0))))
            if arm_kind == "rolled":
                parts.append(Part("arm", rod((cx, -d / 2, top), (cx, d / 2, top), arm_w / 2, arm_w / 2, 20)))
    if rng.random() < 0.6:
        for k in range(seats):
            x = -inner / 2 + (k + 0.5) * inner / seats
            c = slab(rounded_rect(inner / seats - 20, _u(rng, 90, 150), 30), h, h + bh * 0.85,
                     (x, d / 2 - back_t - 60))
            parts.append(Part("cushion", _shear_back(c, h, math.radians(10))))
    if legs:
        profile = _pick(rng, ("tapered round", "square", "tapered square", "round"))
        _four_legs(parts, rng, w / 2 - 60, d / 2 - 60, lh, profile, _u(rng, 35, 60))
    style = {"arms": arm_kind, "legs": profile if legs else "none", "seats": str(seats)}
    if seats == 1:
        return PointsObject("armchair", tuple(parts), style, ("armchair", "easy chair", "club chair"))
    nouns = ("sofa", "couch", "settee") + (("loveseat", "two-seater sofa") if seats == 2 else ("three-seater sofa",))
    return PointsObject("sofa", tuple(parts), style, nouns)


def table(rng: np.random.Generator) -> PointsObject:
    kind = _pick(rng, ("dining", "coffee", "side", "desk"), (0.4, 0.25, 0.2, 0.15))
    heights = {"dining": (720, 770), "coffee": (380, 480), "side": (500, 650), "desk": (720, 760)}
    h = _u(rng, *heights[kind])
    shape = _pick(rng, ("rect", "round", "oval"), (0.6, 0.3, 0.1)) if kind != "desk" else "rect"
    if kind == "dining":
        w, d = _u(rng, 1200, 2000), _u(rng, 750, 1000)
    elif kind == "coffee":
        w, d = _u(rng, 900, 1300), _u(rng, 500, 700)
    elif kind == "side":
        w = d = _u(rng, 400, 600)
    else:
        w, d = _u(rng, 1000, 1600), _u(rng, 550, 750)
    if shape == "round":
        w = d = min(max(w, d) * 0.8, 1400) if kind == "dining" else max(w, d) * 0.9
        outline = circle(w / 2, 48)
    elif shape == "oval":
        outline = circle(1.0, 48) * np.array([w / 2, d / 2])
    else:
        outline = rounded_rect(w, d, _u(rng, 0, 30))
    t = _u(rng, 18, 50)
    parts: list[Part] = [Part("top", slab(outline, h - t, h))]
    support = _pick(rng, ("legs", "pedestal", "trestle"), (0.7, 0.18, 0.12) if kind == "dining" else (0.85, 0.15, 0.0))
    profile = _pick(rng, LEG_PROFILES)
    lw = _u(rng, 35, 70) if kind != "side" else _u(rng, 28, 45)
    f = 0.5 / math.sqrt(2) if shape != "rect" else 0.5
    hw, hd = w * f - _u(rng, 40, 90) * f * 2, d * f - _u(rng, 40, 90) * f * 2
    if support == "legs":
        apron = rng.random() < 0.5 and shape == "rect"
        _four_legs(parts, rng, hw, hd, h - t, profile, lw)
        if apron:
            ah = _u(rng, 60, 110)
            for a, b, ax in (((-hw, -hd), (hw, -hd), Z), ((hw, hd), (-hw, hd), Z),
                             ((hw, -hd), (hw, hd), Z), ((-hw, hd), (-hw, -hd), Z)):
                parts.append(Part("apron", beam((*a, h - t - ah / 2), (*b, h - t - ah / 2), ax, ah, 20)))
        if kind == "coffee" and rng.random() < 0.4:
            parts.append(Part("shelf", slab(rounded_rect(2 * hw, 2 * hd, 0), 120, 120 + 0.6 * t)))
    elif support == "pedestal":
        profile = "pedestal"
        r = min(w, d) * _u(rng, 0.25, 0.35)
        parts.append(Part("stem", rod((0, 0, 30), (0, 0, h - t), _u(rng, 40, 80), _u(rng, 35, 60), 24)))
        if rng.random() < 0.5:
            parts.append(Part("base", lathe([[r, 0], [r, 15], [0.5 * r, 35]], 40, cap_end=True)))
        else:
            for a in np.arange(4) * math.pi / 2 + math.pi / 4 * (shape != "round"):
                foot = (r * 1.3 * math.cos(a), r * 1.3 * math.sin(a), 15)
                parts.append(Part("base", beam((0, 0, 30), foot, Z, 60, 50, taper=0.6)))
    else:
        profile = "trestle"
        for sx in (-1, 1):
            x = sx * hw
            parts.append(Part("leg", beam((x, 0, 30), (x, 0, h - t), Y, 80, 60)))
            parts.append(Part("leg", beam((x, -hd, 30), (x, hd, 30), Z, 60, 80)))
            parts.append(Part("leg", beam((x, -hd * 0.8, h - t - 25), (x, hd * 0.8, h - t - 25), Z, 50, 70)))
        parts.append(Part("stretcher", beam((-hw, 0, 0.3 * h), (hw, 0, 0.3 * h), Z, 80, 40)))
    nouns = {"dining": ("table", "dining table", "kitchen table"), "coffee": ("coffee table", "table"),
             "side": ("side table", "table", "end table"), "desk": ("desk", "writing desk", "table")}[kind]
    adjectives = {"round": ("round", "circular"), "oval": ("oval",), "rect": ("rectangular",)}[shape]
    if kind == "side" and shape == "rect":
        adjectives = ("square", "small")
    style = {"kind": kind, "top": shape, "support": support, "legs": profile}
    return PointsObject("table", tuple(parts), style, nouns, adjectives)


def stool(rng: np.random.Generator) -> PointsObject:
    bar = rng.random() < 0.5
    h = _u(rng, 620, 800) if bar else _u(rng, 430, 480)
    shape = _pick(rng, ("round", "square"), (0.7, 0.3))
    size = _u(rng, 300, 400)
    t = _u(rng, 25, 60)
    outline = circle(size / 2, 40) if shape == "round" else rounded_rect(size, size, _u(rng, 0, 40))
    parts: list[Part] = [Part("seat", slab(outline, h - t, h))]
    support = _pick(rng, ("legs", "pedestal"), (0.8, 0.2))
    profile = _pick(rng, LEG_PROFILES[:4])
    if support == "legs":
        n = 3 if rng.random() < 0.35 else 4
        lw, r = _u(rng, 25, 42), size * _u(rng, 0.3, 0.38)
        splay = _u(rng, 0.05, 0.18) * h
        tops, feet = [], []
        for k in range(n):
            a = 2 * math.pi * k / n + (math.pi / 4 if n == 4 else -math.pi / 2)
            c = np.array([math.cos(a), math.sin(a), 0.0])
            tops.append(r * c + (0, 0, h - t))
            feet.append((r + splay) * c)
            parts.append(Part("leg", leg(profile, feet[-1], tops[-1], lw)))
        if rng.random() < 0.7:
            _stretchers(parts, rng, feet, tops, _u(rng, 0.25, 0.4), 0.55 * lw)
        style = {"support": f"{n} legs", "legs": profile, "seat": shape}
    else:
        r = size * _u(rng, 0.45, 0.62)
        parts.append(Part("base", lathe([[r, 0], [r, 12], [0.4 * r, 25]], 40)))
        parts.append(Part("stem", rod((0, 0, 25), (0, 0, h - t), 25, 25, 20)))
        if bar and rng.random() < 0.7:
            ring = np.column_stack([circle(_u(rng, 150, 190), 32), np.full(32, _u(rng, 0.3, 0.45) * h)])
            parts.append(Part("stretcher", sweep(np.vstack([ring, ring[:1]]), circle(9, 10))))
            parts.append(Part("stretcher", beam((0, 0, ring[0, 2]), ring[8] * (1, 1, 1), Z, 20, 12)))
        style = {"support": "pedestal", "legs": "pedestal", "seat": shape}
    nouns = ("bar stool", "barstool", "stool") if bar else ("stool", "kitchen stool")
    return PointsObject("stool", tuple(parts), style, nouns, ("tall",) if bar else ("low", "small"))


def bench(rng: np.random.Generator) -> PointsObject:
    w, d, h = _u(rng, 1000, 1800), _u(rng, 300, 450), _u(rng, 420, 470)
    t = _u(rng, 30, 55)
    parts: list[Part] = []
    slats = rng.random() < 0.4
    if slats:
        n = int(rng.integers(3, 6))
        gap = _u(rng, 8, 20)
        sw = (d - (n - 1) * gap) / n
        for k in range(n):
            y = -d / 2 + sw / 2 + k * (sw + gap)
            parts.append(Part("seat", slab(rounded_rect(w, sw, 3), h - t, h, (0, y))))
    else:
        parts.append(Part("seat", slab(rounded_rect(w, d, _u(rng, 0, 20)), h - t, h)))
    support = _pick(rng, ("legs", "panels", "trestle"))
    hw, hd = w / 2 - _u(rng, 40, 120), d / 2 - _u(rng, 25, 50)
    if support == "legs":
        lw = _u(rng, 35, 60)
        profile = _pick(rng, LEG_PROFILES)
        feet = _four_legs(parts, rng, hw, hd, h - t, profile, lw)
        tops = [f + (0, 0, h - t) for f in feet]
        if rng.random() < 0.5:
            _stretchers(parts, rng, feet, tops, 0.25, 0.5 * lw, "sides")
    elif support == "panels":
        profile = "panel"
        for sx in (-1, 1):
            parts.append(Part("leg", slab(rounded_rect(_u(rng, 30, 50), 2 * hd + 40, 0), 0, h - t, (sx * hw, 0))))
    else:
        profile = "trestle"
        for sx in (-1, 1):
            parts.append(Part("leg", beam((sx * hw, -hd, 0), (sx * hw, -hd + 30, h - t), X, 50, 40)))
            parts.append(Part("leg", beam((sx * hw, hd, 0), (sx * hw, hd - 30, h - t), X, 50, 40)))
        parts.append(Part("stretcher", beam((-hw, 0, 0.3 * h), (hw, 0, 0.3 * h), Z, 60, 30)))
    has_back = rng.random() < 0.4
    if has_back:
        bh, y = _u(rng, 300, 450), d / 2 - 30
        back = [beam((sx * (hw + 20), y, h), (sx * (hw + 20), y, h + bh), X, 40, 40) for sx in (-1, 1)]
        for z in np.linspace(h + 0.35 * bh, h + bh - 40, int(rng.integers(1, 4))):
            back.append(beam((-hw, y, z), (hw, y, z), Z, 70, 25))
        parts.extend(Part("back", _shear_back(m, h, math.radians(_u(rng, 5, 15)))) for m in back)
        if rng.random() < 0.5:
            for sx in (-1, 1):
                x = sx * (w / 2 - 25)
                parts.append(Part("arm", beam((x, -d / 2 + 20, h + 220), (x, y, h + 220), X, 50, 30)))
                parts.append(Part("arm", beam((x, -d / 2 + 50, h), (x, -d / 2 + 50, h + 205), X, 35, 35)))
    style = {"support": support, "legs": profile, "back": "yes" if has_back else "no",
             "seat": "slats" if slats else "board"}
    nouns = ("bench", "park bench", "garden bench") if has_back else ("bench", "entryway bench")
    return PointsObject("bench", tuple(parts), style, nouns, ("long",))


def bookshelf(rng: np.random.Generator) -> PointsObject:
    w, d, h = _u(rng, 600, 1200), _u(rng, 250, 400), _u(rng, 800, 2000)
    t = _u(rng, 18, 30)
    base = _pick(rng, ("plinth", "legs", "none"))
    z0 = {"plinth": _u(rng, 50, 100), "legs": _u(rng, 80, 160), "none": 0.0}[base]
    parts: list[Part] = []
    for sx in (-1, 1):
        foot = 0 if base != "legs" else z0
        parts.append(Part("frame", slab(rounded_rect(t, d, 0), foot, h, (sx * (w / 2 - t / 2), 0))))
    parts.append(Part("frame", slab(rounded_rect(w - 2 * t, d, 0), h - t, h)))
    parts.append(Part("frame", slab(rounded_rect(w - 2 * t, d, 0), z0, z0 + t)))
    n = max(1, int(round((h - z0) / _u(rng, 300, 420))) - 1)
    for z in np.linspace(z0 + t, h - t, n + 2)[1:-1]:
        parts.append(Part("shelf", slab(rounded_rect(w - 2 * t, d - 12, 0), z - t / 2, z + t / 2, (0, -6))))
    if rng.random() < 0.6:
        parts.append(Part("back", slab(rounded_rect(w - 2 * t, 6, 0), z0 + t, h - t, (0, d / 2 - 3))))
    if base == "plinth":
        parts.append(Part("base", slab(rounded_rect(w - 2 * t, d - 40, 0), 0, z0, (0, 0))))
    elif base == "legs":
        _four_legs(parts, rng, w / 2 - 40, d / 2 - 40, z0, _pick(rng, ("tapered round", "square")), 35)
    style = {"base": base, "shelves": str(n)}
    return PointsObject("bookshelf", tuple(parts), style, ("bookshelf", "bookcase", "shelving unit"),
                        ("tall",) if h > 1500 else ("low",))
