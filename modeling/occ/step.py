"""STEP and BREP files: read kernel shapes from bytes, write solids to STEP, shapes to BREP bytes.

STEP is written as AP214 (international standard, `AP214IS`): every CAD system that reads STEP
reads AP214, and our files hold only geometry and product names, nothing AP242 adds (PMI,
tessellated shapes) would carry. Lengths are written in millimetres, the document's unit.
Each solid becomes one STEP product named after its body.

STEP files come from users and OpenCascade's reader can crash on a damaged one (a LINE whose
VECTOR line was deleted: the reader reads through a null handle), so `read_step` parses them in a
child process and rebuilds the solids from the BREP the child hands back.

Errors are plain `ValueError`s with a message a user can act on; `modeling.exchange` turns them
into `ExchangeError`s.
"""

from __future__ import annotations

import io
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from OCP.BinTools import BinTools, BinTools_FormatVersion
from OCP.BRep import BRep_Builder, BRep_Tool
from OCP.BRepBuilderAPI import BRepBuilderAPI_MakeSolid, BRepBuilderAPI_Transform
from OCP.BRepGProp import BRepGProp
from OCP.BRepTools import BRepTools
from OCP.GProp import GProp_GProps
from OCP.IFSelect import IFSelect_ReturnStatus
from OCP.Interface import Interface_Static
from OCP.Message import Message
from OCP.STEPCAFControl import STEPCAFControl_Writer
from OCP.STEPControl import STEPControl_AsIs, STEPControl_Controller, STEPControl_Reader
from OCP.TCollection import TCollection_ExtendedString
from OCP.TDataStd import TDataStd_Name
from OCP.TDocStd import TDocStd_Document
from OCP.TopAbs import TopAbs_SHELL, TopAbs_SOLID
from OCP.TopExp import TopExp
from OCP.TopLoc import TopLoc_Location
from OCP.TopoDS import TopoDS, TopoDS_Compound, TopoDS_Shape
from OCP.TopTools import TopTools_FormatVersion, TopTools_IndexedMapOfShape
from OCP.XCAFDoc import XCAFDoc_DocumentTool

from . import isolate

STEP_SCHEMA = "AP214IS"
STEP_UNIT = "MM"
STEP_TIMEOUT_S = 120.0  # a file that takes longer to read is taken as pathological
TIMEOUT_VARIABLE = "SKETCHFORGE_STEP_TIMEOUT"

# The STEP settings (Interface_Static) and the kernel's messenger are process-wide. Reading
# happens in a child process of its own and needs no lock.
_LOCK = threading.Lock()


@contextmanager
def _kernel_quiet() -> Iterator[None]:
    """Keep the STEP parser's console messages off stdout; our ValueError says what went wrong."""
    messenger = Message.DefaultMessenger_s()
    printers = list(messenger.Printers())
    for p in printers:
        messenger.RemovePrinter(p)
    try:
        yield
    finally:
        for p in printers:
            messenger.AddPrinter(p)


def _unlocated(solid):
    """The solid with its placement baked into the geometry, so STEP gets a part, not an instance."""
    loc = solid.Location()
    if loc.IsIdentity():
        return solid
    moved = BRepBuilderAPI_Transform(solid.Located(TopLoc_Location()), loc.Transformation(), True)
    return TopoDS.Solid_s(moved.Shape())


def _sub_shapes(shape, kind) -> list:
    m = TopTools_IndexedMapOfShape()
    TopExp.MapShapes_s(shape, kind, m)
    return [m.FindKey(i) for i in range(1, m.Extent() + 1)]


def solids(shape) -> list:
    """The solids inside a shape (a solid itself, or the solids of a compound), in kernel order."""
    return [TopoDS.Solid_s(s) for s in _sub_shapes(shape, TopAbs_SOLID)]


def _volume(shape) -> float:
    p = GProp_GProps()
    BRepGProp.VolumeProperties_s(shape, p)
    return float(p.Mass())


def _solids_from_closed_shells(shape) -> list:
    """Surface models: turn each closed shell into a solid, outward-facing."""
    out = []
    for s in _sub_shapes(shape, TopAbs_SHELL):
        shell = TopoDS.Shell_s(s)
        if not BRep_Tool.IsClosed_s(shell):
            continue
        maker = BRepBuilderAPI_MakeSolid(shell)
        if not maker.IsDone():
            continue
        solid = maker.Solid()
        if _volume(solid) < 0:
            solid = TopoDS.Solid_s(solid.Reversed())
        out.append(solid)
    return out


def _compound(shapes: Sequence) -> TopoDS_Shape:
    if len(shapes) == 1:
        return shapes[0]
    comp = TopoDS_Compound()
    builder = BRep_Builder()
    builder.MakeCompound(comp)
    for s in shapes:
        builder.Add(comp, s)
    return comp


def read_step(data: bytes, timeout: float | None = None) -> TopoDS_Shape:
    """The solids of a STEP file, in millimetres: one solid, or a compound when there are several.

    The file is parsed in a child process (see `isolate`) that hands the solids back as binary
    BREP: OpenCascade's STEP reader can crash on a damaged file, and that must end the child, not
    the app. `timeout` (seconds) defaults to `step_timeout()`.
    """
    if not data or not data.strip():
        raise ValueError("the STEP file is empty; export it again from the CAD program")
    if b"ISO-10303-21" not in data[:1024]:
        raise ValueError("this is not a STEP file (no ISO-10303-21 header); check the file type")
    limit = step_timeout() if timeout is None else timeout
    try:
        brep = isolate.run(step_to_brep, data, limit)
    except isolate.ChildCrashed as exc:
        raise ValueError(f"the STEP file is damaged: the STEP reader crashed on it ({exc.how}) and nothing "
                         "was imported; export it again from the CAD program") from None
    except isolate.ChildTimedOut:
        raise ValueError(f"reading the STEP file took longer than {limit:g} s and was stopped; the file may "
                         "be damaged or very large: export it again from the CAD program, or allow more "
                         f"time with {TIMEOUT_VARIABLE}=<seconds>") from None
    except isolate.ChildNotStarted as exc:
        raise ValueError(f"the STEP file was not read: {exc}; close other programs and try again") from None
    except isolate.ChildFailed as exc:
        raise ValueError(f"the STEP reader failed ({exc}); report this with the file") from None
    return _read_handed_brep(brep)


def step_timeout() -> float:
    """Seconds a STEP file may take to read: `STEP_TIMEOUT_S`, or the environment's
    SKETCHFORGE_STEP_TIMEOUT when set."""
    raw = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return STEP_TIMEOUT_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{TIMEOUT_VARIABLE}={raw!r} is not a number of seconds; set it to e.g. 600 or unset it")
    return seconds


def step_to_brep(data: bytes) -> bytes:
    """The solids of a STEP file as binary BREP bytes. Runs in the child process of `read_step`: it
    takes no lock (another thread of the parent may have held one at the fork) and works alone there."""
    with _kernel_quiet():  # read from memory: a crash leaves no temporary file behind
        STEPControl_Controller.Init_s()
        Interface_Static.SetCVal_s("xstep.cascade.unit", STEP_UNIT)
        reader = STEPControl_Reader()
        status = reader.ReadStream("part.step", io.BytesIO(data))
        if status == IFSelect_ReturnStatus.IFSelect_RetDone:
            reader.SetSystemLengthUnit(1.0)  # millimetres, whatever unit the file was written in
            roots = reader.TransferRoots()
    if status != IFSelect_ReturnStatus.IFSelect_RetDone:
        raise ValueError("the STEP file cannot be parsed (it may be truncated or damaged); "
                         "export it again from the CAD program")
    if roots == 0:
        raise ValueError("the STEP file holds no geometry that can be read; "
                         "export the part as a solid (B-rep) from the CAD program")
    shape = reader.OneShape()
    found = solids(shape) or _solids_from_closed_shells(shape)
    if not found:
        raise ValueError("the STEP file holds no closed solid, only open surfaces, curves or points; "
                         "export the part as a solid, or import it as a mesh (OBJ, PLY, glTF)")
    return _hand_over_brep(_compound(found))


def _hand_over_brep(shape) -> bytes:
    """Binary BREP: bit-exact (text BREP rounds the last digits), and faster to read back."""
    buf = io.BytesIO()
    BinTools.Write_s(shape, buf, False, False, BinTools_FormatVersion.BinTools_FormatVersion_CURRENT)
    return buf.getvalue()


def _read_handed_brep(data: bytes) -> TopoDS_Shape:
    """The shape `_hand_over_brep` wrote in the child: our own data, read in the parent."""
    shape = TopoDS_Shape()
    try:
        BinTools.Read_s(shape, io.BytesIO(data))
    except Exception as exc:  # the kernel raises its own Standard_Failure types
        raise ValueError(f"the solids read from the STEP file did not come back whole ({exc}); "
                         "try again, and report this if it persists") from exc
    if shape.IsNull():
        raise ValueError("the solids read from the STEP file did not come back whole; "
                         "try again, and report this if it persists")
    return shape


def write_step(shapes: Sequence, path: str | Path, names: Sequence[str] | None = None) -> None:
    """Write the solids of `shapes` to `path` as AP214 in millimetres, one product per solid.

    `names[i]` names the products of `shapes[i]`; a shape with several solids gives `name.1`,
    `name.2`, ... Raises ValueError when there is no solid to write or the writer fails.
    """
    names = list(names) if names is not None else [f"solid {i + 1}" for i in range(len(shapes))]
    if len(names) != len(shapes):
        raise ValueError("write_step needs one name per shape")
    parts = []
    for shape, name in zip(shapes, names):
        found = solids(shape)
        found = [_unlocated(s) for s in found]
        if len(found) == 1:
            parts.append((name, found[0]))
        else:
            parts.extend((f"{name}.{k + 1}", s) for k, s in enumerate(found))
    if not parts:
        raise ValueError("there is no solid to write to STEP")

    doc = TDocStd_Document(TCollection_ExtendedString("XmlOcaf"))
    XCAFDoc_DocumentTool.SetLengthUnit_s(doc, 0.001)  # the shapes are in millimetres
    tool = XCAFDoc_DocumentTool.ShapeTool_s(doc.Main())
    for name, solid in parts:
        label = tool.AddShape(solid, False)
        TDataStd_Name.Set_s(label, TCollection_ExtendedString(name))

    with _LOCK, _kernel_quiet():
        STEPControl_Controller.Init_s()  # creates the write.step.* settings before they are set
        if not (Interface_Static.SetCVal_s("write.step.schema", STEP_SCHEMA)
                and Interface_Static.SetCVal_s("write.step.unit", STEP_UNIT)):
            raise ValueError("the STEP writer refused its settings; reinstall cadquery-ocp")
        writer = STEPCAFControl_Writer()
        writer.SetNameMode(True)
        if not writer.Transfer(doc, STEPControl_AsIs):
            raise ValueError("the STEP writer could not translate the solids")
        status = writer.Write(str(path))
    if status != IFSelect_ReturnStatus.IFSelect_RetDone:
        raise ValueError(f"the STEP writer could not write {path}; check the folder is writable")


def write_brep(shape) -> bytes:
    """The shape as OpenCascade BREP text (exact geometry, no triangulation) for session archives."""
    buf = io.BytesIO()
    BRepTools.Write_s(shape, buf, False, False, TopTools_FormatVersion.TopTools_FormatVersion_VERSION_1)
    return buf.getvalue()


def read_brep(data: bytes) -> TopoDS_Shape:
    """A shape from BREP bytes written by `write_brep` (or any OpenCascade BREP file)."""
    if b"CASCADE Topology" not in data[:200]:
        raise ValueError("this is not an OpenCascade BREP file; the archive may be damaged")
    shape = TopoDS_Shape()
    try:
        BRepTools.Read_s(shape, io.BytesIO(data), BRep_Builder())
    except Exception as exc:  # the kernel raises its own Standard_Failure types
        raise ValueError(f"the BREP data cannot be read ({exc}); the archive may be damaged") from exc
    if shape.IsNull():
        raise ValueError("the BREP data holds no shape; the archive may be damaged")
    return shape
