"""A parsed config file: plain values plus where each one was written.

Owns :class:`RawDoc` (the data of one file or the merge of several, with a
position for every key and value path) and the overlay merge. No parsing and
no validation here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconciler.diagnostics import Pos, SourceRange

Path_ = tuple[Any, ...]
Loc = tuple[str, int, int]
"""(filename, line, column), 1-based; turned into a SourceRange only when a diagnostic needs it."""


@dataclass
class RawDoc:
    """Plain data (dict/list/str/int/float/bool/None) and positions by path.

    ``values[path]`` is where the value at ``path`` starts; ``keys[path]`` is where
    its mapping key was written. ``origin`` names the file (for whole-file problems).
    """

    data: dict[str, Any]
    origin: str
    values: dict[Path_, Loc] = field(default_factory=dict)
    keys: dict[Path_, Loc] = field(default_factory=dict)
    prevent_destroy: dict[str, Loc] = field(default_factory=dict)
    """Address -> where ``lifecycle { prevent_destroy = true }`` was written (HCL only)."""
    provider: dict[str, tuple[str, str, int, int]] | None = None
    """HCL only: the root's ``provider "prefect"`` attributes, name -> (value, filename, line, column);
    ``__block__`` holds where the block is. Values may be secrets (api_key): never print them."""
    ignored: list[dict[str, Any]] = field(default_factory=list)
    """HCL only: resources and data sources of other providers, not read (``address``, ``type``, ``range``)."""

    def where(self, path: Path_, *, key: bool = False) -> SourceRange:
        """The position of the key (``key=True``) or value at ``path``, else of its nearest ancestor."""
        path = tuple(path)
        while True:
            loc = (self.keys.get(path) if key else None) or self.values.get(path) or self.keys.get(path)
            if loc is not None:
                return SourceRange(loc[0], Pos(loc[1], loc[2]))
            if not path:
                return SourceRange(self.origin, Pos(1, 1))
            path = path[:-1]

    def filename_of(self, path: Path_) -> str:
        return self.where(path).filename


_REPLACE_WHOLE = ("base_job_template",)


def _template_kind(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    if not value:
        return "empty"
    if "file" in value:
        return "file"
    if "template" in value or "defaults" in value:
        return "template"
    return "inline"


def _replaces(path: Path_, old: Any, new: Any) -> bool:
    """A template written in another form (or ``{}``) in a later file replaces the earlier one."""
    is_template = (len(path) == 3 and path[0] == "work_pools" and path[2] == "base_job_template") or (
        len(path) == 2 and path[0] == "base_job_templates")
    if not is_template:
        return False
    return _template_kind(new) in ("empty", None) or _template_kind(old) != _template_kind(new)


def merge(docs: list[RawDoc]) -> RawDoc:
    """Deep-merge mappings in order, the later value winning; lists and scalars are replaced."""
    if not docs:
        return RawDoc({}, "<none>")
    if len(docs) == 1:
        return docs[0]
    result = RawDoc({}, docs[0].origin)
    for doc in docs:
        result.data = _merge_into(result.data, doc.data, ())
        result.values.update(doc.values)
        result.keys.update(doc.keys)
        result.prevent_destroy.update(doc.prevent_destroy)
        result.ignored.extend(doc.ignored)
        if doc.provider is not None:
            result.provider = doc.provider if result.provider is None else result.provider
    return result


def _merge_into(base: Any, over: Any, path: Path_) -> Any:
    if isinstance(base, dict) and isinstance(over, dict) and not _replaces(path, base, over):
        out = dict(base)
        for key, value in over.items():
            out[key] = _merge_into(out[key], value, path + (key,)) if key in out else value
        return out
    return over
