"""Field-by-field differences between two comparable forms, as paths.

A path is a list of keys and list indices, e.g.
``["base_job_template", "variables", "properties", "image", "default"]``.
Equality follows :func:`reconciler.plan.normalize.json_equal` (1 equals 1.0; true
differs from 1). Lists are compared index by index; extra or missing items are
reported at their index. Pure; no I/O.
"""

from __future__ import annotations

from typing import Any

from reconciler.plan.normalize import json_equal

Path = list[str | int]

_MISSING = object()


def diff_values(before: Any, after: Any, path: Path | None = None) -> list[Path]:
    """Paths where ``before`` and ``after`` differ; ``[]`` when they are equal."""
    base: Path = list(path or [])
    if json_equal(before, after):
        return []
    out: list[Path] = []
    _walk(before, after, base, out)
    return out


def _walk(before: Any, after: Any, path: Path, out: list[Path]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in before:
            if key not in after:
                out.append(path + [key])
            elif not json_equal(before[key], after[key]):
                _walk(before[key], after[key], path + [key], out)
        for key in after:
            if key not in before:
                out.append(path + [key])
        return
    if isinstance(before, list) and isinstance(after, list):
        for index in range(max(len(before), len(after))):
            if index >= len(before) or index >= len(after):
                out.append(path + [index])
            elif not json_equal(before[index], after[index]):
                _walk(before[index], after[index], path + [index], out)
        return
    out.append(path)


def diff_objects(before: dict[str, Any], after: dict[str, Any]) -> list[Path]:
    """Changed paths between two comparable forms, only over the keys ``after`` manages.

    Top-level scalar fields give ``[field]``; a template gives the deep paths that
    changed inside it (``["base_job_template", ...]``).
    """
    paths: list[Path] = []
    for key, want in after.items():
        have = before.get(key, _MISSING)
        if have is _MISSING:
            paths.append([key])
        elif isinstance(want, (dict, list)):
            paths.extend(diff_values(have, want, [key]))
        elif not json_equal(have, want):
            paths.append([key])
    return paths


def get_path(value: Any, path: Path, default: Any = _MISSING) -> Any:
    """The value at ``path`` inside ``value``; ``default`` (or KeyError) when absent."""
    current = value
    for part in path:
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            if default is _MISSING:
                raise KeyError(path) from None
            return default
    return current
