"""Plan files: the plan document as text, and back, with shape checks.

``dumps_plan`` / ``loads_plan`` work on strings only; reading and writing the file is
the CLI's job. ``loads_plan`` (and ``check_plan_json`` for an already parsed dict)
raise ``ValueError`` with a readable message for anything that is not a poolform
plan of a supported ``format_version``.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.plan.actions import SUPPORTED_FORMAT_VERSIONS, Action, Plan, Reason

_STEP_OPS = {
    "create_pool": ("pool", "body"),
    "update_pool": ("pool", "body"),
    "delete_pool": ("pool",),
    "create_queue": ("pool", "queue", "body"),
    "update_queue": ("pool", "queue", "body"),
    "delete_queue": ("pool", "queue"),
    "converge_priorities": ("pool", "priorities"),
}

_TOP_LEVEL: dict[str, type | tuple[type, ...]] = {
    "format_version": str,
    "poolform_version": str,
    "resource_changes": list,
    "steps": list,
    "observed": dict,
    "summary": dict,
}


def dumps_plan(plan: Plan) -> str:
    """The plan document as indented JSON text (document key order kept), ending in a newline."""
    return json.dumps(plan.to_json(), indent=2, ensure_ascii=False) + "\n"


def loads_plan(text: str) -> Plan:
    """Parse a plan file's text. Raises ValueError saying what is wrong and what to do."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"not a poolform plan file: it is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}). "
            "Create one with `poolform plan --out FILE`."
        ) from None
    check_plan_json(data)
    try:
        return Plan.from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"invalid poolform plan file: {exc}") from None


def check_plan_json(data: Any) -> None:
    """Check that ``data`` is a plan document this version can read; ValueError otherwise."""
    if not isinstance(data, dict) or "format_version" not in data or "resource_changes" not in data:
        raise ValueError(
            "not a poolform plan file (no format_version/resource_changes). "
            "Create one with `poolform plan --out FILE`."
        )
    version = data["format_version"]
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise ValueError(
            f"unsupported plan format_version {version!r}: this poolform reads "
            f"{', '.join(SUPPORTED_FORMAT_VERSIONS)}. Re-create the plan with this poolform version."
        )
    problems: list[str] = []
    for key, kind in _TOP_LEVEL.items():
        if key not in data:
            problems.append(f"missing {key!r}")
        elif not isinstance(data[key], kind):
            problems.append(f"{key!r} must be a {getattr(kind, '__name__', kind)}")
    if not problems:
        for index, change in enumerate(data["resource_changes"]):
            problems.extend(_check_change(index, change))
        for index, step in enumerate(data["steps"]):
            problems.extend(_check_step(index, step))
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ValueError(f"invalid poolform plan file: {shown}")


def _check_change(index: int, change: Any) -> list[str]:
    where = f"resource_changes[{index}]"
    if not isinstance(change, dict):
        return [f"{where} must be an object"]
    problems = [f"{where} missing {k!r}" for k in ("address", "type", "pool", "name", "change", "action_reason") if k not in change]
    if problems:
        return problems
    inner = change["change"]
    if not isinstance(inner, dict) or not isinstance(inner.get("actions"), list):
        return [f"{where}.change.actions must be a list"]
    try:
        Action.from_actions(inner["actions"])
    except ValueError:
        problems.append(f"{where}.change.actions {inner['actions']!r} is not one of create/update/delete/no-op/delete+create")
    if change["action_reason"] not in {r.value for r in Reason}:
        problems.append(f"{where}.action_reason {change['action_reason']!r} is unknown")
    return problems


def _check_step(index: int, step: Any) -> list[str]:
    where = f"steps[{index}]"
    if not isinstance(step, dict) or "op" not in step:
        return [f"{where} must be an object with an 'op'"]
    needed = _STEP_OPS.get(step["op"])
    if needed is None:
        return [f"{where}.op {step['op']!r} is unknown"]
    return [f"{where} ({step['op']}) missing {k!r}" for k in needed if k not in step]
