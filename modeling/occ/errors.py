"""The error the kernel layer raises, in a module of its own so that importing it loads no OCP."""

from __future__ import annotations


class KernelError(RuntimeError):
    """OpenCascade could not build the requested shape."""
