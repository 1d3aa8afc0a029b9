"""Files in and out: STEP for solids; OBJ, PLY and glTF binary (.glb) for meshes, point clouds and
scenes.

Importers take the file's bytes and its name (the extension picks the reader) and return one
body; exporters take the document's bodies by name and a path, and write atomically, so a failed
export leaves no file and an existing file untouched. Every failure is an `ExchangeError` whose
message says what to do next.

Units and axes: the document is in millimetres with Z up. STEP carries its unit and is written
in millimetres. glTF is defined in metres with Y up, so .glb export converts (x, y, z) mm to
(x, z, -y) m and glTF import converts back. OBJ and PLY have no units: coordinates are written
and read as they are, in millimetres, Z up.

A scene (`scenes.SceneBody`) is written as its nodes: in glTF one node per part and per object,
named after its category ("terrain", "water_0", "tree_12"), objects sharing their variant's mesh and
placed by translation (their foot), rotation and scale; in OBJ one group per node, with a material
per category.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .bodies import Body, MeshBody, PointCloudBody, SolidBody
from .files import atomic_write
from .scenes import SceneBody

log = logging.getLogger(__name__)

MESH_FORMATS = ("obj", "ply", "gltf", "glb")
NEUTRAL_RGB = (200, 200, 200)  # colour of bodies that have none, where a format needs one
# A glTF node may place the same mesh many times; a small file can so ask for more copies than
# memory holds. The scene is counted before it is flattened and refused beyond these.
MAX_INSTANCES = 10_000
MAX_VERTICES = 20_000_000

# Document (mm, Z up) -> glTF (m, Y up), and back.
_TO_GLTF = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]) * 1e-3
_FROM_GLTF = np.linalg.inv(_TO_GLTF)

_GL_ARRAY_BUFFER = 34962
_GL_ELEMENT_ARRAY_BUFFER = 34963


class ExchangeError(ValueError):
    """A file cannot be read or written; the message tells the user what to do next."""


def _extension(name: str | Path) -> str:
    return Path(str(name)).suffix.lower().lstrip(".")


# --------------------------------------------------------------------------- importers


def import_step(data: bytes, name: str) -> SolidBody:
    """The solid(s) of a STEP file as one `SolidBody`, in millimetres.

    The file is parsed in a child process: a damaged file that crashes OpenCascade's STEP reader
    (or runs past the time limit, `occ.step.step_timeout()`) gives an ExchangeError, and this
    process and its document stay as they were.
    """
    from .occ import step

    try:
        shape = step.read_step(data)
    except ValueError as exc:
        raise ExchangeError(f"{name}: {exc}") from exc
    body = SolidBody(shape)
    if not body.volume > 0:
        raise ExchangeError(f"{name}: the STEP solid encloses no volume; "
                            "repair the part in the CAD program and export it again")
    return body


def import_mesh(data: bytes, name: str) -> MeshBody | PointCloudBody:
    """A triangle mesh, or a point cloud when the file holds points only (OBJ, PLY, glTF, GLB).

    Scenes are flattened with their transforms applied; vertex colours (or a material's base
    colour) are kept.
    """
    import trimesh

    ext = _extension(name)
    if ext not in MESH_FORMATS:
        raise ExchangeError(f"{name}: '.{ext}' is not a mesh format Sketchforge reads; "
                            f"use one of {', '.join('.' + e for e in MESH_FORMATS)}")
    if not data or not data.strip():
        raise ExchangeError(f"{name} is empty; export it again from the program that made it")
    try:
        scene = trimesh.load_scene(io.BytesIO(data), file_type=ext, process=False)
        instances, vertices = _scene_size(scene)
    except Exception as exc:  # each trimesh reader fails in its own way on damaged data
        raise _unreadable(name, ext, exc) from exc
    if instances > MAX_INSTANCES or vertices > MAX_VERTICES:
        raise ExchangeError(f"{name} places {instances} meshes with {vertices} vertices in all, more than "
                            f"Sketchforge imports ({MAX_INSTANCES} meshes, {MAX_VERTICES} vertices); "
                            "simplify or split it in a mesh editor")
    try:
        geometries = scene.dump()
    except Exception as exc:
        raise _unreadable(name, ext, exc) from exc

    meshes, clouds = [], []
    for geom in geometries:
        if isinstance(geom, trimesh.Trimesh) and len(geom.faces):
            meshes.append(geom)
        elif isinstance(geom, (trimesh.Trimesh, trimesh.PointCloud)) and len(geom.vertices):
            clouds.append(geom)
    if meshes and clouds:
        log.warning("%s holds triangles and loose points; importing the triangles only", name)
    if not meshes and not clouds:
        raise ExchangeError(f"{name} holds no triangles and no points; "
                            "check that it is the right file and that it was exported with geometry")
    to_doc = _FROM_GLTF if ext in ("gltf", "glb") else None
    try:
        return _mesh_body(meshes, to_doc) if meshes else _cloud_body(clouds, to_doc,
                                                                       _ply_part_names(data) if ext == "ply" else None)
    except ValueError as exc:
        raise ExchangeError(f"{name}: {exc}; repair it in a mesh editor and export it again") from exc


def _unreadable(name: str, ext: str, exc: Exception) -> ExchangeError:
    hint = (" A .gltf that refers to separate .bin or image files cannot be read on its own;"
            " export a single .glb instead." if ext == "gltf" else "")
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return ExchangeError(f"{name} cannot be read as {ext.upper()}: the file is damaged or is "
                         f"not {ext.upper()} ({reason}).{hint} Check the file and its extension")


def _scene_size(scene) -> tuple[int, int]:
    """How many mesh placements and vertices flattening the scene would make, counted without
    flattening it."""
    instances = vertices = 0
    for node in scene.graph.nodes_geometry:
        geometry = scene.geometry.get(scene.graph[node][1])
        instances += 1
        vertices += len(getattr(geometry, "vertices", ()))
    return instances, vertices


def _checked_vertices(vertices: np.ndarray, to_doc: np.ndarray | None) -> np.ndarray:
    v = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    if not np.isfinite(v).all():
        raise ValueError("the file holds NaN or infinite coordinates")
    return v @ to_doc.T if to_doc is not None else v


def _geometry_colors(geom) -> np.ndarray | None:
    """Per-vertex RGBA of a trimesh mesh or cloud, or None when the file gave it no colour."""
    visual = getattr(geom, "visual", None)
    kind = getattr(visual, "kind", None)
    if kind is None:
        return None
    try:
        if kind == "texture":
            visual = visual.to_color()
        colors = np.asarray(visual.vertex_colors, dtype=np.uint8)
    except Exception as exc:  # e.g. a glTF material with no base colour; the geometry is still good
        log.warning("the colours of a part of the file cannot be read (%s); it is imported without them",
                    (str(exc).splitlines() or [type(exc).__name__])[0][:200])
        return None
    return colors if colors.shape == (len(geom.vertices), 4) else None


def _stack_colors(parts: list[np.ndarray | None], counts: list[int], rgba: bool) -> np.ndarray | None:
    if all(c is None for c in parts):
        return None
    fill = np.array([*NEUTRAL_RGB, 255], np.uint8)
    out = np.concatenate([c[:, :4] if c is not None else np.tile(fill, (n, 1))
                          for c, n in zip(parts, counts)])
    return out if rgba and (out[:, 3] < 255).any() else np.ascontiguousarray(out[:, :3])


def _mesh_body(meshes: list, to_doc: np.ndarray | None) -> MeshBody:
    verts, tris, colors, offset = [], [], [], 0
    for m in meshes:
        verts.append(_checked_vertices(m.vertices, to_doc))
        tris.append(np.asarray(m.faces, dtype=np.int64) + offset)
        colors.append(_geometry_colors(m))
        offset += len(m.vertices)
    counts = [len(v) for v in verts]
    return MeshBody(np.concatenate(verts), np.concatenate(tris), _stack_colors(colors, counts, rgba=True))


def _cloud_colors(geom) -> np.ndarray | None:
    """Per-point RGBA of a trimesh point cloud (or a faceless mesh), or None when it has none."""
    if hasattr(geom, "colors"):  # trimesh.PointCloud: an empty array when the file had no colours
        colors = np.asarray(geom.colors, dtype=np.uint8)
        return colors if colors.shape == (len(geom.vertices), 4) else None
    return _geometry_colors(geom)


def _cloud_body(clouds: list, to_doc: np.ndarray | None, part_names: list[str] | None = None) -> PointCloudBody:
    points = [_checked_vertices(c.vertices, to_doc) for c in clouds]
    colors = [_cloud_colors(c) for c in clouds]
    if len(clouds) == 1 and part_names is not None:  # a PLY with a `part` property (the points mode's)
        raw = _ply_vertex_rows(clouds[0])
        if raw is not None and "part" in (raw.dtype.names or ()) and len(raw) == len(points[0]):
            labels = np.asarray(raw["part"]).astype(np.int64).reshape(-1)
            count = max(len(part_names), int(labels.max()) + 1 if len(labels) else 0)
            if len(labels) and labels.min() >= -1 and count <= 4096:
                names = list(part_names) + [f"part{i}" for i in range(len(part_names), count)]
                return PointCloudBody(points[0], _stack_colors(colors, [len(points[0])], rgba=False),
                                      parts=labels, part_names=tuple(names))
    return PointCloudBody(np.concatenate(points), _stack_colors(colors, [len(p) for p in points], rgba=False))


def _ply_vertex_rows(cloud) -> np.ndarray | None:
    """The PLY reader's raw vertex rows (a structured array), None when it kept none."""
    raw = getattr(cloud, "metadata", {}).get("_ply_raw")
    vertex = raw.get("vertex") if isinstance(raw, dict) else None
    rows = vertex.get("data") if isinstance(vertex, dict) else None
    return rows if isinstance(rows, np.ndarray) and rows.dtype.names else None


def _ply_part_names(data: bytes) -> list[str]:
    """The names of `comment part <i> <name>` lines in a PLY header (in label order)."""
    end = data.find(b"end_header")
    names: dict[int, str] = {}
    for line in data[: end if end > 0 else 0][:65536].decode("ascii", "replace").splitlines():
        bits = line.split()
        if len(bits) == 4 and bits[:2] == ["comment", "part"] and bits[2].isdigit() and int(bits[2]) < 4096:
            names[int(bits[2])] = bits[3]
    return [names.get(i, f"part{i}") for i in range(max(names) + 1)] if names else []


def _cloud_parts(clouds: list) -> tuple[np.ndarray | None, list[str]]:
    """One label per point over all `clouds` and the names they index, when every cloud's parts are
    known (names shared by name), else (None, [])."""
    if not clouds or any(c.parts is None for c in clouds):
        return None, []
    names: list[str] = []
    labels = []
    for c in clouds:
        for n in c.part_names:
            if n not in names:
                names.append(n)
        lut = np.array([-1] + [names.index(n) for n in c.part_names], np.int64)  # -1: no part
        labels.append(lut[c.parts.astype(np.int64) + 1])
    return np.concatenate(labels), names


# --------------------------------------------------------------------------- exporters


def _write(path: str | Path, data: bytes | Callable[[Path], None]) -> None:
    """Atomic write of bytes (or through a writer function) with errors a user can act on."""
    try:
        atomic_write(Path(path), data if callable(data) else (lambda tmp: tmp.write_bytes(data)))
    except ExchangeError:
        raise
    except (OSError, ValueError) as exc:
        raise ExchangeError(f"cannot write {path}: {exc}") from exc


def _require_bodies(bodies: Mapping[str, Body], fmt: str) -> None:
    if not bodies:
        raise ExchangeError(f"there is nothing to export to {fmt}; add or show a body first")


def export_step(bodies: Mapping[str, Body], path: str | Path) -> None:
    """The solids as STEP AP214 in millimetres, one product per solid named after its body."""
    from .occ import step

    _require_bodies(bodies, "STEP")
    solids = {name: b for name, b in bodies.items() if isinstance(b, SolidBody)}
    if not solids:
        raise ExchangeError("STEP holds B-rep solids; this document has only meshes/points — "
                            "export OBJ, glTF or PLY instead")
    skipped = [name for name in bodies if name not in solids]
    if skipped:
        log.warning("STEP export leaves out the meshes and point clouds %s", ", ".join(skipped))

    def write(tmp: Path) -> None:
        try:
            step.write_step([b.shape for b in solids.values()], tmp, list(solids))
        except ValueError as exc:
            raise ExchangeError(f"STEP export failed: {exc}") from exc

    _write(path, write)


def _mesh_of(name: str, body: Body, fmt: str, points_hint: str):
    mesh = body.mesh()
    if mesh is None:
        raise ExchangeError(f"{fmt} holds triangle meshes and '{name}' is a point cloud; "
                            f"{points_hint}")
    return mesh


def _obj_token(name: str, taken: set[str]) -> str:
    """A material name without spaces, unique within the file."""
    base = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "body"
    token, k = base, 1
    while token in taken:
        k += 1
        token = f"{base}_{k}"
    taken.add(token)
    return token


def _rows(fmt: str, array: np.ndarray) -> str:
    if not len(array):
        return ""
    buf = io.StringIO()
    np.savetxt(buf, array, fmt=fmt)
    return buf.getvalue()


def export_obj(bodies: Mapping[str, Body], path: str | Path) -> None:
    """Every mesh (solids tessellated) as one OBJ object with its own material in a .mtl beside it;
    a scene as one object with a group per node and a material per category.

    Vertex colours are written as `v x y z r g b` when any body has colours. No normals or
    texture coordinates, so a reader keeps exactly our vertices and triangles.
    """
    _require_bodies(bodies, "OBJ")
    path = Path(path)
    mtl_path = path.with_suffix(".mtl")
    hint = "export PLY or glTF (.glb) for point clouds, or hide it before exporting OBJ"
    meshes = {name: _mesh_of(name, b, "OBJ", hint) for name, b in bodies.items()}
    with_colors = any(m.colors is not None for m in meshes.values())

    obj = io.StringIO()
    mtl = io.StringIO()
    obj.write(f"# Sketchforge OBJ export, millimetres, Z up\nmtllib {mtl_path.name}\n")
    mtl.write("# Sketchforge materials, one per body (a scene's: one per category)\n")
    taken: set[str] = set()
    offset = 0
    for name, mesh in meshes.items():
        body = bodies[name]
        if isinstance(body, SceneBody):
            offset = _obj_scene(name, body, obj, mtl, taken, offset, with_colors)
            continue
        material = _obj_token(name, taken)
        _obj_material(mtl, material, mesh.colors)
        obj.write(f"o {' '.join(name.split()) or material}\nusemtl {material}\n")
        offset = _obj_mesh(obj, mesh.vertices, mesh.triangles, mesh.colors, offset, with_colors)

    mtl_existed = mtl_path.exists()
    _write(mtl_path, mtl.getvalue().encode())
    try:
        _write(path, obj.getvalue().encode())
    except BaseException:
        if not mtl_existed:
            mtl_path.unlink(missing_ok=True)
        raise


def _obj_material(mtl: io.StringIO, material: str, colors: np.ndarray | None) -> None:
    rgb = (np.asarray(colors[:, :3], float).mean(0) if colors is not None and len(colors)
           else np.array(NEUTRAL_RGB, float)) / 255.0
    mtl.write(f"\nnewmtl {material}\nKd {rgb[0]:.6f} {rgb[1]:.6f} {rgb[2]:.6f}\n"
              "Ka 0 0 0\nKs 0 0 0\nd 1\nillum 1\n")


def _obj_mesh(obj: io.StringIO, v: np.ndarray, triangles: np.ndarray, colors: np.ndarray | None, offset: int,
              with_colors: bool) -> int:
    """Write vertices (with colors when the file has them) and faces; returns the new vertex offset."""
    if with_colors:
        c = (colors[:, :3] if colors is not None
             else np.tile(np.array(NEUTRAL_RGB, np.uint8), (len(v), 1))).astype(float) / 255.0
        obj.write(_rows("v %.10g %.10g %.10g %.6f %.6f %.6f", np.c_[v, c]))
    else:
        obj.write(_rows("v %.10g %.10g %.10g", v))
    obj.write(_rows("f %d %d %d", triangles + offset + 1))
    return offset + len(v)


def _obj_scene(name: str, body: SceneBody, obj: io.StringIO, mtl: io.StringIO, taken: set[str], offset: int,
               with_colors: bool) -> int:
    """A scene as one object with a group per node (objects placed) and a material per category."""
    meshes = body.meshes()
    nodes = body.nodes()
    materials: dict[str, str] = {}
    for category in dict.fromkeys(n.category for n in nodes):
        materials[category] = _obj_token(category, taken)
        colors = [meshes[n.mesh].colors for n in nodes if n.category == category]
        _obj_material(mtl, materials[category], np.concatenate([c for c in colors if c is not None]))
    obj.write(f"o {' '.join(name.split()) or 'scene'}\n")
    for node in nodes:
        mesh = meshes[node.mesh]
        m = node.matrix
        v = mesh.vertices @ m[:3, :3].T + m[:3, 3]
        obj.write(f"g {node.name}\nusemtl {materials[node.category]}\n")
        offset = _obj_mesh(obj, v, mesh.triangles, mesh.colors, offset, with_colors)
    return offset


def _rgba(colors: np.ndarray | None, n: int) -> np.ndarray | None:
    if colors is None:
        return None
    c = np.asarray(colors, np.uint8)
    return c if c.shape[1] == 4 else np.c_[c, np.full(n, 255, np.uint8)]


def _glb_tree_postprocess(tree: dict[str, Any], placed: frozenset[str] = frozenset()) -> None:
    """Mark vertex and index buffer views with their GL target (validator hint otherwise), and give
    the nodes named in `placed` (a scene's objects) their translation, rotation and scale in place
    of a matrix."""
    for node in tree.get("nodes", []):
        if node.get("name") in placed and "matrix" in node:
            node.update(_trs(node.pop("matrix")))
    views = tree.get("bufferViews", [])
    accessors = tree.get("accessors", [])

    def mark(accessor: int, target: int) -> None:
        view = accessors[accessor].get("bufferView")
        if view is not None:
            views[view]["target"] = target

    for mesh in tree.get("meshes", []):
        for prim in mesh.get("primitives", []):
            for accessor in prim.get("attributes", {}).values():
                mark(accessor, _GL_ARRAY_BUFFER)
            if "indices" in prim:
                mark(prim["indices"], _GL_ELEMENT_ARRAY_BUFFER)


def _trs(matrix: list[float]) -> dict[str, list[float]]:
    """glTF translation, rotation (unit quaternion x, y, z, w) and scale of a column-major matrix made
    of a rotation, a positive scale per axis and a move."""
    from trimesh.transformations import quaternion_from_matrix
    m = np.asarray(matrix, np.float64).reshape(4, 4).T
    scale = np.linalg.norm(m[:3, :3], axis=0)
    rot = np.eye(4)
    rot[:3, :3] = m[:3, :3] / scale
    w, x, y, z = quaternion_from_matrix(rot)
    q = np.array([x, y, z, w]) * (1.0 if w >= 0 else -1.0)
    q /= np.linalg.norm(q)
    return {"translation": [float(v) for v in m[:3, 3]], "rotation": [float(v) for v in q],
            "scale": [float(v) for v in scale]}


def _glb_mesh(mesh, name: str):
    """A trimesh mesh in glTF's frame with colors (or a grey material) and unit normals."""
    import trimesh
    from trimesh.visual.material import PBRMaterial
    from trimesh.visual.texture import TextureVisuals

    geom = trimesh.Trimesh(mesh.vertices @ _TO_GLTF.T, mesh.triangles, process=False)
    if mesh.colors is not None:
        geom.visual.vertex_colors = _rgba(mesh.colors, len(mesh.vertices))
    else:
        grey = [c / 255.0 for c in NEUTRAL_RGB] + [1.0]
        geom.visual = TextureVisuals(material=PBRMaterial(
            name=f"{name} material", baseColorFactor=grey, metallicFactor=0.0, roughnessFactor=0.6))
    geom.vertex_normals = _unit_normals(geom)
    return geom


def _glb_scene(scene, name: str, body: SceneBody, placed: set[str]) -> None:
    """Add a scene body's nodes to a trimesh scene: each mesh once, every node sharing it."""
    to_gltf = np.eye(4)
    to_gltf[:3, :3] = _TO_GLTF
    back = np.linalg.inv(to_gltf)
    meshes = body.meshes()
    added: dict[str, str] = {}
    for node in body.nodes():
        mesh = meshes[node.mesh]
        if not len(mesh.triangles):
            continue
        node_name = node.name
        k = 1
        while node_name in scene.graph.nodes:
            k += 1
            node_name = f"{node.name}_{name}" if k == 2 else f"{node.name}_{name}_{k}"
        matrix = to_gltf @ node.matrix @ back
        if node.mesh not in added:
            geom_name = node.mesh if node.mesh not in scene.geometry else f"{name}/{node.mesh}"
            added[node.mesh] = geom_name
            scene.add_geometry(_glb_mesh(mesh, geom_name), node_name=node_name, geom_name=geom_name,
                               transform=matrix)
        else:
            scene.graph.update(frame_to=node_name, frame_from=scene.graph.base_frame, geometry=added[node.mesh],
                               matrix=matrix)
        if node.category not in ("terrain", "water", "road"):
            placed.add(node_name)


def _unit_normals(mesh) -> np.ndarray:
    """Smooth vertex normals; vertices touched only by degenerate triangles get a unit stand-in."""
    n = np.array(mesh.vertex_normals, dtype=np.float64)
    length = np.linalg.norm(n, axis=1)
    bad = ~np.isfinite(length) | (np.abs(length - 1.0) > 1e-3)
    n[bad] = (0.0, 1.0, 0.0)
    return n


def export_glb(bodies: Mapping[str, Body], path: str | Path) -> None:
    """Binary glTF, one node per body (a scene: a node per part and per object, module notes):
    solids and meshes as triangles, point clouds as POINTS.

    Coordinates are converted to glTF's metres, Y up. Vertex colours become COLOR_0; bodies
    without colours get a neutral grey material.
    """
    import functools

    import trimesh
    from trimesh.exchange.gltf import export_glb as trimesh_glb

    _require_bodies(bodies, "glTF")
    scene = trimesh.Scene()
    placed: set[str] = set()
    for name, body in bodies.items():
        if isinstance(body, SceneBody):
            _glb_scene(scene, name, body, placed)
            continue
        if isinstance(body, PointCloudBody):
            if not len(body.points):
                log.warning("glTF export leaves out the empty point cloud '%s'", name)
                continue
            geom = trimesh.PointCloud(body.points @ _TO_GLTF.T, colors=_rgba(body.colors, len(body.points)))
        else:
            mesh = body.mesh()
            if mesh is None or not len(mesh.triangles):
                log.warning("glTF export leaves out '%s', which has no triangles", name)
                continue
            geom = _glb_mesh(mesh, name)
        scene.add_geometry(geom, node_name=name, geom_name=name)
    if not scene.geometry:
        raise ExchangeError("there is nothing to export to glTF: every body is empty")
    post = functools.partial(_glb_tree_postprocess, placed=frozenset(placed))
    try:
        data = trimesh_glb(scene, include_normals=True, tree_postprocessor=post)
    except Exception as exc:
        raise ExchangeError(f"glTF export failed ({exc}); export OBJ or PLY instead and report this") from exc
    _write(path, data)


def export_ply(bodies: Mapping[str, Body], path: str | Path) -> None:
    """Binary little-endian PLY: either all point clouds (merged) or all meshes (merged), with colours.

    PLY holds one vertex list, so meshes and point clouds cannot share a file.
    """
    _require_bodies(bodies, "PLY")
    clouds = {n: b for n, b in bodies.items() if isinstance(b, PointCloudBody)}
    if clouds and len(clouds) != len(bodies):
        raise ExchangeError("a PLY file holds either meshes or a point cloud, and this export has both; "
                            "export them separately, or use glTF (.glb), which keeps both")
    if clouds:
        verts = [b.points for b in clouds.values()]
        colors = [b.colors for b in clouds.values()]
        tris: list[np.ndarray] = []
    else:
        meshes = [b.mesh() for b in bodies.values()]
        verts = [m.vertices for m in meshes]
        colors = [m.colors for m in meshes]
        offsets = np.cumsum([0] + [len(v) for v in verts])
        tris = [m.triangles + o for m, o in zip(meshes, offsets)]
    counts = [len(v) for v in verts]
    rgba = _stack_colors([_rgba(c, n) for c, n in zip(colors, counts)], counts, rgba=not clouds)
    vertices = np.concatenate(verts) if verts else np.zeros((0, 3))
    if not len(vertices):
        raise ExchangeError("there is nothing to export to PLY: every body is empty")

    # clouds: float coordinates and a `part` label with the part names in comments (the points
    # mode's contract); meshes keep double precision
    coord, word = ("<f4", "float") if clouds else ("<f8", "double")
    fields = [("x", coord), ("y", coord), ("z", coord)]
    header = ["ply", "format binary_little_endian 1.0", "comment Sketchforge export, millimetres, Z up"]
    header += [f"comment body {' '.join(n.split())}" for n in bodies]
    parts, names = _cloud_parts(list(clouds.values())) if clouds else (None, [])
    header += [f"comment part {i} {'_'.join(n.split())}" for i, n in enumerate(names)]
    header += [f"element vertex {len(vertices)}"] + [f"property {word} {a}" for a in "xyz"]
    if rgba is not None:
        channels = ("red", "green", "blue", "alpha")[: rgba.shape[1]]
        fields += [(c, "u1") for c in channels]
        header += [f"property uchar {c}" for c in channels]
    if parts is not None:
        fields.append(("part", "<i4"))
        header.append("property int part")
    vertex_rows = np.empty(len(vertices), dtype=fields)
    vertex_rows["x"], vertex_rows["y"], vertex_rows["z"] = vertices.T
    if rgba is not None:
        for k, c in enumerate(channels):
            vertex_rows[c] = rgba[:, k]
    if parts is not None:
        vertex_rows["part"] = parts
    faces = np.concatenate(tris) if tris else np.zeros((0, 3), np.int64)
    if not clouds:
        header += [f"element face {len(faces)}", "property list uchar int vertex_indices"]
    header.append("end_header")
    face_rows = np.empty(len(faces), dtype=[("n", "u1"), ("v", "<i4", (3,))])
    face_rows["n"] = 3
    face_rows["v"] = faces
    data = ("\n".join(header) + "\n").encode("ascii", "replace") + vertex_rows.tobytes() + face_rows.tobytes()
    _write(path, data)


__all__ = ["ExchangeError", "MESH_FORMATS", "import_step", "import_mesh",
           "export_step", "export_obj", "export_glb", "export_ply"]
