"""Runs inside Blender: import a .glb or .obj and print what Blender made of it as one JSON line.

    blender -b --factory-startup -noaudio --python packaging/blender/import_check.py -- FILE

Prints `IMPORTED {...}`: mesh objects, distinct mesh data blocks (instanced nodes share one), faces
in all objects, vertex color layers, and the objects' names; exits 1 when the import fails.
"""

import json
import sys

import bpy  # type: ignore[import-not-found]
import numpy

if not hasattr(numpy, "bool"):
    numpy.bool = bool  # Blender 3.4's glTF add-on still names numpy.bool, gone since numpy 1.24

path = sys.argv[sys.argv.index("--") + 1]
bpy.ops.wm.read_factory_settings(use_empty=True)
try:
    if path.lower().endswith((".glb", ".gltf")):
        bpy.ops.import_scene.gltf(filepath=path)
    else:
        bpy.ops.wm.obj_import(filepath=path)
except Exception as exc:  # noqa: BLE001 - whatever the importer raises is the answer
    print("IMPORT FAILED", exc)
    sys.exit(1)
objects = [o for o in bpy.data.objects if o.type == "MESH"]
print("IMPORTED " + json.dumps({
    "objects": len(objects), "meshes": len({o.data.name for o in objects}),
    "faces": sum(len(o.data.polygons) for o in objects),
    "color_layers": sum(len(m.color_attributes) for m in bpy.data.meshes),
    "names": sorted(o.name for o in objects)}))
