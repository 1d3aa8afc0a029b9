"""Procedural character heads: exact geometry (signed distance, meshes, front views) for face data."""
