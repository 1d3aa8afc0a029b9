"""Typed operation parameters to and from JSON, driven by dataclass type hints.

Union fields of dataclasses are told apart by the `kind` tag each variant declares.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, get_args, get_origin, get_type_hints


class ParamError(ValueError):
    """Parameters that do not fit an operation's declared types."""


def to_json(value: Any) -> Any:
    """Plain JSON data for a parameter value (dataclasses become objects tagged with `kind`)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        kind = getattr(type(value), "kind", None)
        if isinstance(kind, str):
            out["kind"] = kind
        for f in dataclasses.fields(value):
            out[f.name] = to_json(getattr(value, f.name))
        return out
    if isinstance(value, (tuple, list)):
        return [to_json(v) for v in value]
    if isinstance(value, float):
        return float(value)
    return value


_LARGEST = 10**15  # no parameter is larger; a 400-digit number is refused, not overflowed


def _short(data: Any) -> str:
    text = repr(data)
    return text if len(text) <= 40 else text[:37] + "..."


def from_json(tp: Any, data: Any, where: str = "params") -> Any:
    """Build a value of type `tp` from JSON data, with an error naming the bad field."""
    origin = get_origin(tp)
    if tp is Any:
        return data
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(tp)]
        if data is None and type(None) in options:
            return None
        options = [a for a in options if a is not type(None)]
        if len(options) == 1:
            return from_json(options[0], data, where)
        if isinstance(data, dict) and "kind" in data:
            for opt in options:
                if getattr(opt, "kind", None) == data["kind"]:
                    return from_json(opt, data, where)
            kinds = [getattr(o, "kind", "?") for o in options]
            raise ParamError(f"{where}.kind must be one of {kinds}, got {data['kind']!r}")
        raise ParamError(f"{where} must be an object with a 'kind'")
    if origin is typing.Literal:
        if data not in get_args(tp):
            raise ParamError(f"{where} must be one of {list(get_args(tp))}, got {data!r}")
        return data
    if origin is tuple:
        args = get_args(tp)
        if not isinstance(data, (list, tuple)):
            raise ParamError(f"{where} must be a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_json(args[0], v, f"{where}[{i}]") for i, v in enumerate(data))
        if len(args) != len(data):
            raise ParamError(f"{where} must have {len(args)} items, got {len(data)}")
        return tuple(from_json(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, data)))
    if dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise ParamError(f"{where} must be an object")
        hints = get_type_hints(tp)
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in data:
                kwargs[f.name] = from_json(hints[f.name], data[f.name], f"{where}.{f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ParamError(f"{where}.{f.name} is missing")
        try:
            return tp(**kwargs)
        except (TypeError, ValueError) as exc:
            raise ParamError(f"{where}: {exc}") from None
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, (int, float)) or abs(data) > _LARGEST \
                or not math.isfinite(data):
            raise ParamError(f"{where} must be a finite number no larger than 1e15, got {_short(data)}")
        return float(data)
    if tp is int:
        if isinstance(data, bool) or not isinstance(data, int) or abs(data) > _LARGEST:
            raise ParamError(f"{where} must be a whole number of at most 15 digits, got {_short(data)}")
        return data
    if tp is bool:
        if not isinstance(data, bool):
            raise ParamError(f"{where} must be true or false, got {data!r}")
        return data
    if tp is str:
        if not isinstance(data, str):
            raise ParamError(f"{where} must be a string, got {data!r}")
        return data
    raise ParamError(f"{where}: unsupported parameter type {tp!r}")
