"""Terraform values on the wire: msgpack DynamicValues, unknowns, attribute paths.

Null is ``None``; an unknown value, refined or not (msgpack extension 0 or 12),
is :data:`UNKNOWN`. Objects are plain dicts holding every attribute of their
schema. Must not know about Prefect.
"""

from __future__ import annotations

import json
from typing import Any, Final, Iterable, Sequence

import msgpack


class _Unknown:
    """Sentinel: a value Terraform will only know during apply."""

    _instance: "_Unknown | None" = None

    def __new__(cls) -> "_Unknown":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Final = _Unknown()

_EXT_UNKNOWN = 0
_EXT_REFINED_UNKNOWN = 12


def _ext_hook(code: int, data: bytes) -> Any:
    if code in (_EXT_UNKNOWN, _EXT_REFINED_UNKNOWN):
        return UNKNOWN
    raise ValueError(f"unsupported msgpack extension type {code} in a Terraform value")


def _default(obj: Any) -> Any:
    if obj is UNKNOWN:
        return msgpack.ExtType(_EXT_UNKNOWN, b"\x00")
    raise TypeError(f"cannot encode {type(obj).__name__} as a Terraform value")


def decode(data: bytes | None) -> Any:
    """msgpack bytes to a Python value (empty bytes are null)."""
    if not data:
        return None
    return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)


def encode(value: Any) -> bytes:
    return msgpack.packb(value, default=_default, use_bin_type=True)


def read_dynamic(dv: Any) -> Any:
    """A ``tfplugin6.DynamicValue`` (msgpack, or JSON in raw state) to a Python value."""
    if dv is None:
        return None
    if dv.msgpack:
        return decode(dv.msgpack)
    if dv.json:
        return json.loads(dv.json)
    return None


def is_known(value: Any) -> bool:
    """True when ``value`` holds no unknown anywhere inside."""
    if value is UNKNOWN:
        return False
    if isinstance(value, dict):
        return all(is_known(v) for v in value.values())
    if isinstance(value, list):
        return all(is_known(v) for v in value)
    return True


def conform(value: dict[str, Any] | None, names: Iterable[str]) -> dict[str, Any] | None:
    """An object with exactly the attributes ``names`` (missing ones null)."""
    if value is None:
        return None
    return {name: value.get(name) for name in names}


Path = Sequence[str | int]


def path_steps(path: Path) -> list[dict[str, Any]]:
    """An attribute path as protobuf Step keyword arguments (names, then list indexes)."""
    return [{"element_key_int": step} if isinstance(step, int) else {"attribute_name": str(step)} for step in path]


class ProviderError(Exception):
    """A failure to report as a Terraform error diagnostic (on ``path`` when given)."""

    def __init__(self, summary: str, detail: str = "", path: Path = ()) -> None:
        super().__init__(summary)
        self.summary = summary
        self.detail = detail
        self.path = tuple(path)


class Diags(list):
    """Diagnostics of one call: tuples ``(severity, summary, detail, path)``."""

    def error(self, summary: str, detail: str = "", path: Path = ()) -> None:
        self.append(("error", summary, detail, tuple(path)))

    def warning(self, summary: str, detail: str = "", path: Path = ()) -> None:
        self.append(("warning", summary, detail, tuple(path)))

    @property
    def has_errors(self) -> bool:
        return any(d[0] == "error" for d in self)
