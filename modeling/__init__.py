"""Geometry and the document: bodies, operations, history, renders, files. No Qt, no torch."""
