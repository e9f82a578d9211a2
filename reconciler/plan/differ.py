"""Field-by-field differences between two comparable forms, as paths.

A path is a list of keys and list indices, e.g.
``["base_job_template", "variables", "properties", "image", "default"]``.
Equality follows :func:`reconciler.plan.normalize.json_equal` (1 equals 1.0; true
differs from 1). Equal values cost one ``json_equal`` (a re-plan with nothing to do never
goes further); values that differ are compared by ``deepdiff`` (tree view), with lists
zipped index by index (an item changed, added or removed is reported at its index),
dictionaries always compared key by key, and equal subtrees left at the first ``json_equal``
(deepdiff would otherwise walk every level of a template to find one changed default: 3.4x
the time, see bench/field_diff.py). Pure; no I/O.
"""

from __future__ import annotations

from typing import Any

from reconciler.plan.normalize import json_equal

Path = list[str | int]

_MISSING = object()


def diff_values(before: Any, after: Any, path: Path | None = None) -> list[Path]:
    """Paths where ``before`` and ``after`` differ; ``[]`` when they are equal.

    Paths come in document order: ``before``'s keys as they stand, then the keys only ``after`` has.
    """
    base: Path = list(path or [])
    if json_equal(before, after):
        return []
    tree = _deepdiff()(_by_value(before), _by_value(after), view="tree", zip_ordered_iterables=True,
                       threshold_to_diff_deeper=0, custom_operators=_OPERATORS)
    found = {tuple(level.path(output_format="list")) for report in tree.values() for level in report}
    return [base + list(p) for p in sorted(found, key=lambda p: _document_order(before, after, p))]


_OPERATORS: list[Any] = []


def _deepdiff() -> Any:
    """``DeepDiff``, imported on first use: its import costs ~0.1 s of CLI start, and a plan with
    nothing to change never needs it."""
    from deepdiff import DeepDiff
    from deepdiff.operator import BaseOperator

    if not _OPERATORS:

        class StopAtEqual(BaseOperator):  # type: ignore[misc]
            """Leave a pair of equal subtrees at once, instead of walking them level by level."""

            def match(self, level: Any) -> bool:
                return True

            def give_up_diffing(self, level: Any, diff_instance: Any) -> bool:
                return json_equal(level.t1, level.t2)

        _OPERATORS.append(StopAtEqual())
    return DeepDiff


def _by_value(value: Any) -> Any:
    """``value`` with integral floats as ints, so numbers compare by value as in ``json_equal``."""
    if isinstance(value, dict):
        return {key: _by_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_by_value(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _document_order(before: Any, after: Any, path: tuple[str | int, ...]) -> list[int]:
    """Position of ``path`` in a walk of ``before`` (its keys first, then those only ``after`` has)."""
    rank: list[int] = []
    for part in path:
        if isinstance(part, int):
            rank.append(part)
        else:
            keys = list(before) if isinstance(before, dict) else []
            keys += [k for k in after if k not in keys] if isinstance(after, dict) else []
            rank.append(keys.index(part) if part in keys else len(keys))
        before = _child(before, part)
        after = _child(after, part)
    return rank


def _child(value: Any, part: str | int) -> Any:
    try:
        return value[part]
    except (KeyError, IndexError, TypeError):
        return None


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
