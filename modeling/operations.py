"""The operations a document's history is made of: start bodies and the four sketch operations.

Like Blender's operators, each is an object with an id, a title, typed parameters (the dataclass
fields, serialised by `params`), `poll` (can it apply to this state, and if not why) and `apply`
(returns the new state, or raises `OperationError` and changes nothing: states are immutable).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, Literal, Mapping, TypeVar

import numpy as np

from . import params as P
from .bodies import Body, SolidBody
from .occ import solids as kernel
from .occ.solids import KernelError
from .occ.topology import is_valid
from .occ.topology import volume as solid_volume
from .refs import EdgeRef, FaceRef, ReferenceError, from_face_coords, plane_frame

B = TypeVar("B", bound=Body)
MAX_SIZE = 1.0e5  # mm: a 100 m part is beyond what a sketch tool is for


class OperationError(ValueError):
    """An operation that cannot apply; the document stays as it was. The message says why."""


@dataclass(frozen=True)
class ModelState:
    """The bodies after some step of the history (immutable; shared between undo steps)."""

    bodies: Mapping[str, Body] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    blobs: Mapping[str, bytes] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    # the importers a file read by `ImportBody` is parsed with (the session's registry, so an
    # importer registered at run time is found); None reads with the installed ones
    importers: Any = dataclasses.field(default=None, compare=False, repr=False)

    def with_body(self, body_id: str, body: Body) -> "ModelState":
        d = dict(self.bodies)
        d[body_id] = body
        return dataclasses.replace(self, bodies=MappingProxyType(d))

    def with_blobs(self, blobs: Mapping[str, bytes]) -> "ModelState":
        """This state with more blobs beside its own (the data a proposal brings)."""
        return dataclasses.replace(self, blobs=MappingProxyType({**self.blobs, **blobs})) if blobs else self

    def body_of(self, body_id: str, kind: type[B], what: str) -> B:
        """Body `body_id` when it is a `kind`; OperationError naming the bodies there are, or saying
        that this works on `what` ("B-rep solids", "point clouds") only."""
        body = self.bodies.get(body_id)
        if body is None:
            names = ", ".join(self.bodies) or "none yet"
            raise OperationError(f"there is no body {body_id!r} (bodies: {names})")
        if not isinstance(body, kind):
            raise OperationError(f"body {body_id!r} is a {body.kind}, and this operation works on {what}")
        return body

    def solid(self, body_id: str) -> SolidBody:
        return self.body_of(body_id, SolidBody, "B-rep solids")


class Operation:
    """Base of every operation. Subclasses are frozen dataclasses whose fields are the parameters."""

    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    creates: ClassVar[bool] = False  # makes a new body rather than changing one
    body: str  # the body it makes or changes (every subclass has this field)

    def poll(self, state: ModelState) -> str | None:
        """None when the operation can apply to `state`, else the reason it cannot."""
        try:
            self._check(state)
        except (OperationError, ReferenceError) as exc:
            return str(exc)
        return None

    def apply(self, state: ModelState) -> ModelState:
        """The state after this operation; raises OperationError and leaves `state` untouched."""
        try:
            return self._apply(state)
        except ReferenceError as exc:
            raise OperationError(f"{self.title}: {exc}") from None
        except KernelError as exc:
            raise OperationError(f"{self.title}: {exc}; try smaller distances or another face") from None

    def _check(self, state: ModelState) -> None:
        if not self.creates:
            state.solid(self.body)

    def _apply(self, state: ModelState) -> ModelState:
        raise NotImplementedError

    # -- parameters ---------------------------------------------------------------------------
    def params(self) -> dict:
        """The parameters as JSON data."""
        data = P.to_json(self)
        data.pop("kind", None)
        return data

    @classmethod
    def from_params(cls, data: Mapping) -> "Operation":
        """Build the operation from JSON parameters; ParamError names a bad field."""
        return P.from_json(cls, dict(data), cls.id)

    def to_json(self) -> dict:
        return {"op": self.id, "params": self.params()}

    def blob_keys(self) -> tuple[str, ...]:
        """The keys of the document's blobs this operation reads or keeps (a session file keeps
        those blobs and no other)."""
        key = getattr(self, "blob", "")
        return (key,) if key else ()

    def describe(self) -> str:
        return self.title


# -- how operations read to a person ----------------------------------------------------------
_FACE_NAMES = (((0, 0, 1), "top face"), ((0, 0, -1), "bottom face"), ((1, 0, 0), "right face"),
               ((-1, 0, 0), "left face"), ((0, -1, 0), "front face"), ((0, 1, 0), "back face"))


def face_name(normal) -> str:
    """'top face', 'left face', ... for a face whose outward normal is within 10 degrees of an
    axis, else 'slanted face'."""
    n = np.asarray(normal, float)
    n = n / max(float(np.linalg.norm(n)), 1e-12)
    for axis, name in _FACE_NAMES:
        if float(np.dot(n, axis)) > 0.985:
            return name
    return "slanted face"


def _mm(value: float, sign: bool = False, unit: bool = True) -> str:
    """A length rounded to 0.1 mm: '10 mm', '+2.5 mm'."""
    v = round(float(value), 1) + 0.0
    text = f"{v:+g}" if sign else f"{v:g}"
    return f"{text} mm" if unit else text


def _polygon_name(n: int, solid: bool = True) -> str:
    """'a block', 'a triangular prism', 'a 6-sided prism' (or the profile's name: 'a triangle')."""
    if solid:
        return {3: "a triangular prism", 4: "a block"}.get(n, f"a {n}-sided prism")
    return {3: "a triangle", 4: "a four-sided profile"}.get(n, f"a {n}-sided profile")


# -- checks shared by the operations ----------------------------------------------------------
def _check_distance(value: float, body: SolidBody, what: str = "distance") -> None:
    if not math.isfinite(value):
        raise OperationError(f"the {what} must be a finite number")
    if abs(value) < 1e-3:
        raise OperationError(f"the {what} is zero (|{value:g}| mm < 0.001 mm); give it a length")
    limit = min(MAX_SIZE, 100.0 * max(body.diagonal(), 1.0))
    if abs(value) > limit:
        raise OperationError(f"the {what} of {value:g} mm is absurd for a part {body.diagonal():.3g} mm across "
                             f"(at most {limit:.3g} mm)")


def _positive(value: float, what: str, limit: float = MAX_SIZE) -> None:
    if not (math.isfinite(value) and 1e-3 <= value <= limit):
        raise OperationError(f"the {what} must be between 0.001 mm and {limit:g} mm, got {value:g}")


def _finish(state: ModelState, body_id: str, before: SolidBody, shape, grows: bool | None) -> ModelState:
    """Check a kernel result and put it in the state: one valid solid whose volume changed as meant."""
    solid = kernel.single_solid(shape)
    if solid is None:
        n = _solid_count(shape)
        if n == 0:
            raise OperationError("the result is empty: the cut removes the whole body")
        raise OperationError(f"the result falls apart into {n} pieces; keep the profile on the face "
                             "and the distance within the body")
    if not is_valid(solid):
        raise OperationError("the result is not a valid solid (it intersects itself); "
                             "try a smaller distance or a simpler profile")
    vol = solid_volume(solid)
    if not math.isfinite(vol) or vol <= 0:
        raise OperationError("the result has no volume")
    change = vol - before.volume
    eps = 1e-7 * max(before.volume, 1.0)
    if grows is True and change <= eps:
        raise OperationError("adding this changes nothing: the new material lies inside the body already")
    if grows is False and change >= -eps:
        raise OperationError("this cut removes nothing: the tool does not reach into the body")
    return state.with_body(body_id, SolidBody(solid))


def _solid_count(shape) -> int:
    from .occ.topology import solid_count
    return solid_count(shape)


def _polygon_checks(points: tuple, body: SolidBody) -> np.ndarray:
    pts = np.asarray(points, float).reshape(-1, 2)
    if len(pts) >= 2 and np.allclose(pts[0], pts[-1]):
        pts = pts[:-1]
    if len(pts) < 3:
        raise OperationError("a polygon needs at least 3 corners")
    if not np.isfinite(pts).all():
        raise OperationError("the polygon has NaN or infinite coordinates")
    if _self_intersects(pts):
        raise OperationError("the polygon crosses itself; draw its corners in order around the outline")
    x, y = pts[:, 0], pts[:, 1]
    area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    if area < 1e-6 * max(body.diagonal(), 1.0) ** 2:
        raise OperationError("the polygon encloses no area (its corners are in a line or on top of each other)")
    return pts


def _self_intersects(pts: np.ndarray) -> bool:
    n = len(pts)
    segs = [(pts[i], pts[(i + 1) % n]) for i in range(n)]

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue
            a, b = segs[i]
            c, d = segs[j]
            d1, d2 = cross(c, d, a), cross(c, d, b)
            d3, d4 = cross(a, b, c), cross(a, b, d)
            if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and d1 * d2 < 0 and d3 * d4 < 0:
                return True
    return False


def _planar_face(body: SolidBody, ref: FaceRef):
    idx = ref.resolve(body)
    info = body.faces[idx]
    if not info.planar:
        raise OperationError(f"face {idx} is not flat; sketch operations start on flat faces")
    return idx, info


# -- start bodies -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Box(Operation):
    """A box standing on its bottom face, `origin` at the centre of that face."""

    id: ClassVar[str] = "box"
    title: ClassVar[str] = "Box"
    creates: ClassVar[bool] = True
    body: str
    size: tuple[float, float, float]
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def _check(self, state: ModelState) -> None:
        _new_body_id(state, self.body)
        for name, v in zip("xyz", self.size):
            _positive(v, f"box size along {name}")
        if not all(math.isfinite(v) and abs(v) <= MAX_SIZE for v in self.origin):
            raise OperationError("the box origin must be finite and within 100 m")

    def _apply(self, state: ModelState) -> ModelState:
        self._check(state)
        sx, sy, sz = self.size
        ox, oy, oz = self.origin
        return state.with_body(self.body, SolidBody(kernel.box(self.size, (ox - sx / 2, oy - sy / 2, oz))))

    def describe(self) -> str:
        return f"Box {self.size[0]:g} x {self.size[1]:g} x {self.size[2]:g}"


@dataclass(frozen=True)
class Cylinder(Operation):
    """An upright cylinder, `origin` at the centre of its bottom face."""

    id: ClassVar[str] = "cylinder"
    title: ClassVar[str] = "Cylinder"
    creates: ClassVar[bool] = True
    body: str
    radius: float
    height: float
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def _check(self, state: ModelState) -> None:
        _new_body_id(state, self.body)
        _positive(self.radius, "cylinder radius")
        _positive(self.height, "cylinder height")
        if not all(math.isfinite(v) and abs(v) <= MAX_SIZE for v in self.origin):
            raise OperationError("the cylinder origin must be finite and within 100 m")

    def _apply(self, state: ModelState) -> ModelState:
        self._check(state)
        return state.with_body(self.body, SolidBody(kernel.cylinder(self.radius, self.height, self.origin)))

    def describe(self) -> str:
        return f"Cylinder r {self.radius:g} h {self.height:g}"


@dataclass(frozen=True)
class ImportBody(Operation):
    """A body read from a file; the file's bytes travel in the document (`blob` is their SHA-256)."""

    id: ClassVar[str] = "import"
    title: ClassVar[str] = "Import"
    creates: ClassVar[bool] = True
    body: str
    blob: str
    filename: str

    def _check(self, state: ModelState) -> None:
        _new_body_id(state, self.body)
        if self.blob not in state.blobs:
            raise OperationError(f"the data of the imported file {self.filename!r} is missing from the document")

    def _apply(self, state: ModelState) -> ModelState:
        self._check(state)
        from .registry import GROUPS, Registry, RegistryError
        ext = self.filename.rsplit(".", 1)[-1].lower() if "." in self.filename else ""
        importers = state.importers if state.importers is not None else Registry("importer", GROUPS["importers"])
        try:
            reader = importers.get(ext)
            body = reader(state.blobs[self.blob], self.filename)
        except (RegistryError, ValueError) as exc:
            raise OperationError(f"cannot import {self.filename}: {exc}") from None
        return state.with_body(self.body, body)

    def describe(self) -> str:
        return f"Import {self.filename}"


@dataclass(frozen=True)
class _PutData(Operation):
    """A body a back end made from data that travels in the document as a blob (`blob` is its
    SHA-256), as body `body`; with `replace`, it takes the place of that body, which must be of
    the same kind (the next refinement of the same head, a re-colored cloud)."""

    body_kind: ClassVar[str] = ""   # the kind of body it makes ("mesh", "points")
    data_name: ClassVar[str] = ""   # what its data is called in messages
    creates: ClassVar[bool] = True
    body: str
    blob: str
    source: str = "sketch"
    replace: bool = False

    def _check(self, state: ModelState) -> None:
        if self.replace:
            old = state.bodies.get(self.body)
            if old is None:
                raise OperationError(f"there is no body {self.body!r} to replace")
            if old.kind != self.body_kind:
                raise OperationError(f"body {self.body!r} is a {old.kind}; only a {self.title.lower()} can be "
                                     f"replaced by a {self.title.lower()}")
        else:
            _new_body_id(state, self.body)
        if self.blob not in state.blobs:
            raise OperationError(f"the {self.data_name} data of {self.body!r} is missing from the document")

    def _apply(self, state: ModelState) -> ModelState:
        self._check(state)
        try:
            body = self._read(state.blobs[self.blob])
        except ValueError as exc:
            raise OperationError(f"the {self.data_name} data of {self.body!r} is damaged: {exc}") from None
        return state.with_body(self.body, body)

    def _read(self, data: bytes) -> Body:
        raise NotImplementedError


class KeepsSketch:
    """For a `_PutData` whose `sketch` field holds the key of the blob of the sketch file it was drawn
    as (empty when not kept): the document keeps that blob too, and it must be there."""

    body: str
    blob: str
    sketch: str

    def blob_keys(self) -> tuple[str, ...]:
        return (self.blob, self.sketch) if self.sketch else (self.blob,)

    def _check(self, state: ModelState) -> None:
        super()._check(state)  # type: ignore[misc]
        if self.sketch and self.sketch not in state.blobs:
            raise OperationError(f"the sketch {self.body!r} was drawn as is missing from the document")


@dataclass(frozen=True)
class PutMesh(_PutData):
    """A triangle mesh made by a back end (a sketched head, say): an .npz of `vertices` (V, 3)
    float64 mm and `triangles` (F, 3), read without pickle (`mesh_blob` writes one)."""

    id: ClassVar[str] = "put_mesh"
    title: ClassVar[str] = "Mesh"
    body_kind: ClassVar[str] = "mesh"
    data_name: ClassVar[str] = "mesh"

    def _read(self, data: bytes) -> Body:
        from .bodies import MeshBody
        vertices, triangles = read_mesh_blob(data)
        return MeshBody(vertices, triangles, source=self.source)

    def describe(self) -> str:
        what = f"Sketched {self.body}" if self.source == "face" else f"{self.source.capitalize()} mesh {self.body}"
        return what + (" (refined)" if self.replace else "")


@dataclass(frozen=True)
class PutPoints(_PutData):
    """A colored point cloud made by a back end (a cloud from a sketch and a prompt): an .npz of
    `points` (N, 3) float64 mm and `colors` (N, 3) uint8, read without pickle (`points_blob`
    writes one)."""

    id: ClassVar[str] = "put_points"
    title: ClassVar[str] = "Point cloud"
    body_kind: ClassVar[str] = "points"
    data_name: ClassVar[str] = "point"

    def _read(self, data: bytes) -> Body:
        from .bodies import PointCloudBody
        points, colors, parts, names = read_points_blob(data)
        return PointCloudBody(points, colors, source=self.source, parts=parts, part_names=names)

    def describe(self) -> str:
        return f"{self.source.capitalize()} point cloud {self.body}" + (" (redone)" if self.replace else "")


def points_blob(points: np.ndarray, colors: np.ndarray, parts: np.ndarray | None = None,
                part_names: tuple[str, ...] = ()) -> bytes:
    """The bytes `PutPoints` reads: an uncompressed .npz of float64 points and uint8 RGB colors,
    with int16 part labels and the part names (a unicode array) when the parts are known."""
    import io
    buf = io.BytesIO()
    arrays: dict[str, np.ndarray] = {"points": np.asarray(points, np.float64), "colors": np.asarray(colors, np.uint8)}
    if parts is not None:
        arrays["parts"] = np.asarray(parts, np.int16)
        arrays["part_names"] = np.array(list(part_names), dtype=np.str_).reshape(-1)
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def read_points_blob(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, tuple[str, ...]]:
    """(points, colors, parts or None, part names) of a `points_blob`; ValueError when it is not one."""
    import io
    import zipfile
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            p, c = z["points"], z["colors"]
            parts = z["parts"] if "parts" in z.files else None
            names = tuple(str(n) for n in z["part_names"]) if "part_names" in z.files else ()
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"not a point archive ({exc})") from None
    if p.ndim != 2 or p.shape[1] != 3 or not len(p) or c.shape != p.shape:
        raise ValueError(f"points {p.shape} and colors {c.shape} are not a colored point cloud")
    if parts is not None and (parts.shape != (len(p),) or parts.dtype.kind not in "iu"):
        raise ValueError(f"parts {parts.shape} are not one label per point")
    return p.astype(np.float64), c.astype(np.uint8), parts, names


def colors_blob(colors: np.ndarray) -> bytes:
    """The bytes `Recolor` reads: an uncompressed .npz of uint8 RGB colors, one row per point."""
    import io
    buf = io.BytesIO()
    np.savez(buf, colors=np.asarray(colors, np.uint8))
    return buf.getvalue()


def read_colors_blob(data: bytes) -> np.ndarray:
    import io
    import zipfile
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            c = z["colors"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"not a color archive ({exc})") from None
    if c.ndim != 2 or c.shape[1] != 3 or c.dtype != np.uint8:
        raise ValueError(f"colors {c.shape} {c.dtype} are not uint8 RGB rows")
    return c


def mesh_blob(vertices: np.ndarray, triangles: np.ndarray) -> bytes:
    """The bytes `PutMesh` reads: an uncompressed .npz of float64 vertices and int32 triangles."""
    import io
    buf = io.BytesIO()
    np.savez(buf, vertices=np.asarray(vertices, np.float64), triangles=np.asarray(triangles, np.int32))
    return buf.getvalue()


def read_mesh_blob(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    import io
    import zipfile
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            v, t = z["vertices"], z["triangles"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"not a mesh archive ({exc})") from None
    if v.ndim != 2 or v.shape[1] != 3 or t.ndim != 2 or t.shape[1] != 3 or not len(t):
        raise ValueError(f"vertices {v.shape} and triangles {t.shape} are not a triangle mesh")
    return v.astype(np.float64), t.astype(np.int64)


def blob_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _new_body_id(state: ModelState, body_id: str) -> None:
    if not body_id or not body_id.replace("_", "").replace("-", "").isalnum():
        raise OperationError(f"a body name must be letters, digits, '-' or '_', got {body_id!r}")
    if body_id in state.bodies:
        raise OperationError(f"there is a body called {body_id!r} already; pick another name")


# -- the four sketch operations -----------------------------------------------------------------
@dataclass(frozen=True)
class Extrude(Operation):
    """Face extrusion: push (positive) or pull (negative) a flat face along its normal."""

    id: ClassVar[str] = "extrude"
    title: ClassVar[str] = "Extrude face"
    body: str
    face: FaceRef
    distance: float

    def _check(self, state: ModelState) -> None:
        b = state.solid(self.body)
        _planar_face(b, self.face)
        _check_distance(self.distance, b)

    def _apply(self, state: ModelState) -> ModelState:
        self._check(state)
        b = state.solid(self.body)
        idx, info = _planar_face(b, self.face)
        n = np.asarray(info.normal)
        tool = kernel.prism(kernel.face_of(b.shape, idx), n * self.distance)
        shape = kernel.fuse(b.shape, tool) if self.distance > 0 else kernel.cut(b.shape, tool)
        return _finish(state, self.body, b, shape, self.distance > 0)

    def describe(self) -> str:
        return f"Extrude {face_name(self.face.normal)} {_mm(self.distance, sign=True)}"


@dataclass(frozen=True)
class _Prism(Operation):
    body: str
    face: FaceRef
    polygon: tuple[tuple[float, float], ...]
    distance: float
    outward: ClassVar[bool] = True

    def _check(self, state: ModelState) -> None:
        b = state.solid(self.body)
        _planar_face(b, self.face)
        _polygon_checks(self.polygon, b)
        _check_distance(self.distance, b)
        if self.distance <= 0:
            raise OperationError(f"the {self.id} distance must be positive (it goes "
                                 f"{'outward' if self.outward else 'inward'}); got {self.distance:g}")

    def _apply(self, state: ModelState) -> ModelState:
        self._check(state)
        b = state.solid(self.body)
        idx, info = _planar_face(b, self.face)
        pts = from_face_coords(info.normal, info.origin, _polygon_checks(self.polygon, b))
        n = np.asarray(info.normal)
        tool = kernel.prism(kernel.polygon_face(pts), n * self.distance * (1 if self.outward else -1))
        shape = kernel.fuse(b.shape, tool) if self.outward else kernel.cut(b.shape, tool)
        return _finish(state, self.body, b, shape, self.outward)

    def describe(self) -> str:
        shape = _polygon_name(len(self.polygon))
        if self.outward:
            return f"Add {shape} on the {face_name(self.face.normal)}, {_mm(self.distance)} high"
        return f"Cut {shape} into the {face_name(self.face.normal)}, {_mm(self.distance)} deep"


@dataclass(frozen=True)
class AddPrism(_Prism):
    """Add a right prism: a polygon on a flat face grown outward by a distance."""

    id: ClassVar[str] = "add"
    title: ClassVar[str] = "Add prism"
    outward: ClassVar[bool] = True


@dataclass(frozen=True)
class SubtractPrism(_Prism):
    """Subtract a right prism: a polygon on a flat face cut inward by a distance."""

    id: ClassVar[str] = "subtract"
    title: ClassVar[str] = "Subtract prism"
    outward: ClassVar[bool] = False


@dataclass(frozen=True)
class Bevel(Operation):
    """Bevel an edge: a chamfer with two set-backs (`distance1` on the face facing `side`), or a fillet."""

    id: ClassVar[str] = "bevel"
    title: ClassVar[str] = "Bevel edge"
    body: str
    edge: EdgeRef
    distance1: float
    distance2: float
    style: Literal["chamfer", "fillet"] = "chamfer"
    side: tuple[float, float, float] | None = None

    def _check(self, state: ModelState) -> None:
        b = state.solid(self.body)
        self.resolve(b)
        for name, d in (("first set-back", self.distance1), ("second set-back", self.distance2)):
            _positive(d, name, limit=b.diagonal())
        if self.style == "fillet" and abs(self.distance1 - self.distance2) > 1e-9:
            raise OperationError("a fillet has one radius: give both set-backs the same value, or use a chamfer")

    def resolve(self, b: SolidBody) -> tuple[int, int]:
        """The edge index in `b` and the adjacent face that takes `distance1`."""
        idx = self.edge.resolve(b)
        adj = b.edges[idx].faces
        if len(adj) != 2:
            raise OperationError(f"edge {idx} does not join two faces; a bevel needs an edge between two faces")
        if self.side is None:
            return idx, adj[0]
        mid = b.edges[idx].midpoint
        normals = [np.asarray(kernel.face_normal_at(b.shape, f, mid)) for f in adj]
        scores = [float(np.dot(n, self.side)) for n in normals]
        return idx, adj[int(np.argmax(scores))]

    def _apply(self, state: ModelState) -> ModelState:
        self._check(state)
        b = state.solid(self.body)
        idx, face = self.resolve(b)
        if self.style == "fillet":
            shape = kernel.fillet(b.shape, idx, self.distance1)
        else:
            shape = kernel.chamfer(b.shape, idx, face, self.distance1, self.distance2)
        return _finish(state, self.body, b, shape, False)

    def describe(self) -> str:
        if self.style == "fillet":
            return f"Fillet {_mm(self.distance1)}"
        if abs(self.distance1 - self.distance2) < 0.05:
            return f"Chamfer {_mm(self.distance1)}"
        return f"Chamfer {_mm(self.distance1, unit=False)} x {_mm(self.distance2)}"


@dataclass(frozen=True)
class Polygon:
    """A closed polygon in face coordinates."""

    kind: ClassVar[str] = "polygon"
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Circle:
    """A circle in face coordinates."""

    kind: ClassVar[str] = "circle"
    center: tuple[float, float]
    radius: float


@dataclass(frozen=True)
class LinePath:
    """A straight path of `length`, tilted `tilt_deg` from the face normal towards `bend_deg` (in the face)."""

    kind: ClassVar[str] = "line"
    length: float
    tilt_deg: float = 0.0
    bend_deg: float = 0.0


@dataclass(frozen=True)
class ArcPath:
    """A circular arc leaving the face along its normal and bending towards `bend_deg` (in the face)."""

    kind: ClassVar[str] = "arc"
    radius: float
    angle_deg: float
    bend_deg: float = 0.0


@dataclass(frozen=True)
class Sweep(Operation):
    """Sweep a closed profile on a flat face along a line or arc leaving it; add or subtract."""

    id: ClassVar[str] = "sweep"
    title: ClassVar[str] = "Sweep"
    body: str
    face: FaceRef
    profile: Polygon | Circle
    path: LinePath | ArcPath
    mode: Literal["add", "subtract"] = "add"

    def _check(self, state: ModelState) -> None:
        b = state.solid(self.body)
        _planar_face(b, self.face)
        if isinstance(self.profile, Polygon):
            _polygon_checks(self.profile.points, b)
        else:
            _positive(self.profile.radius, "profile radius", limit=b.diagonal())
            if not all(math.isfinite(c) for c in self.profile.center):
                raise OperationError("the profile centre must be finite")
        if isinstance(self.path, LinePath):
            _check_distance(self.path.length, b, "path length")
            if self.path.length < 0:
                raise OperationError("the path length must be positive")
            if not 0.0 <= self.path.tilt_deg <= 75.0:
                raise OperationError("the path tilt must be between 0 and 75 degrees from the face normal")
        else:
            _positive(self.path.radius, "path radius", limit=100 * b.diagonal())
            if not 1.0 <= self.path.angle_deg <= 180.0:
                raise OperationError("the arc angle must be between 1 and 180 degrees")

    def _apply(self, state: ModelState) -> ModelState:
        self._check(state)
        b = state.solid(self.body)
        idx, info = _planar_face(b, self.face)
        o, x, y, n = plane_frame(info.normal, info.origin)
        if isinstance(self.profile, Polygon):
            pts = from_face_coords(info.normal, info.origin, _polygon_checks(self.profile.points, b))
            face = kernel.polygon_face(pts)
            start = pts.mean(axis=0)
        else:
            start = from_face_coords(info.normal, info.origin, np.asarray(self.profile.center))[0]
            face = kernel.circle_face(start, n, self.profile.radius)
        s = 1.0 if self.mode == "add" else -1.0
        bend = math.radians(self.path.bend_deg)
        side = math.cos(bend) * x + math.sin(bend) * y
        if isinstance(self.path, LinePath):
            tilt = math.radians(self.path.tilt_deg)
            vec = self.path.length * (math.cos(tilt) * s * n + math.sin(tilt) * side)
            tool = kernel.prism(face, vec)
        else:
            r, a = self.path.radius, math.radians(self.path.angle_deg)
            t0 = s * n
            center = start + r * side
            end = center + r * (-side * math.cos(a) + t0 * math.sin(a))
            tool = kernel.pipe(face, kernel.arc_path(start, t0, end))
        shape = kernel.fuse(b.shape, tool) if s > 0 else kernel.cut(b.shape, tool)
        return _finish(state, self.body, b, shape, s > 0)

    def describe(self) -> str:
        what = "a circle" if isinstance(self.profile, Circle) else _polygon_name(len(self.profile.points), False)
        if isinstance(self.path, LinePath):
            along = f"{_mm(self.path.length)} along a line"
        else:
            along = f"along a {self.path.angle_deg:.0f}\N{DEGREE SIGN} arc"
        verb = "Sweep" if self.mode == "add" else "Sweep-cut"
        return f"{verb} {what} from the {face_name(self.face.normal)} {along}"


BUILTIN_OPERATIONS: dict[str, type[Operation]] = {
    cls.id: cls for cls in (Box, Cylinder, ImportBody, Extrude, AddPrism, SubtractPrism, Bevel, Sweep)
}
