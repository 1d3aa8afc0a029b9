"""The only part of the house that touches OpenCascade (through cadquery's OCP bindings).

Everything here takes and returns kernel shapes plus plain numbers and numpy arrays; the rest of
`modeling` wraps the shapes in `SolidBody` values and never looks inside.
"""
