"""Plan files: the plan document as text, and back, refused unless it is a plan as poolform writes it.

``dumps_plan`` / ``loads_plan`` work on strings only; reading and writing the file is
the CLI's job. ``read_plan`` (``loads_plan`` after parsing the JSON; ``check_plan_json``
for callers that keep the dict) checks, in order: that the value is a poolform plan
of a supported ``format_version``, the type of every top-level field, every change
and step against the vocabularies (``actions.py``, ``steps.py``), and then that the
document holds together (``verify.document_problems``). Anything else raises
:class:`~reconciler.errors.InvalidPlanError` (a ``ValueError``) saying what is wrong
and what to do.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.errors import InvalidPlanError
from reconciler.plan.actions import Action, Reason, ResourceType
from reconciler.plan.document import SUPPORTED_FORMAT_VERSIONS, WITHOUT_ENVIRONMENT, Mode, Plan
from reconciler.plan.steps import Step
from reconciler.plan.verify import document_problems, invalid_plan_error

_TOP_LEVEL: dict[str, type | tuple[type, ...]] = {
    "format_version": str,
    "poolform_version": str,
    "api_url": str,
    "environment": (str, type(None)),
    "created_at": (str, type(None)),
    "mode": str,
    "targets": list,
    "complete": bool,
    "applyable": bool,
    "errored": bool,
    "resource_changes": list,
    "side_effects": list,
    "unmanaged": list,
    "ignored": list,
    "steps": list,
    "observed": dict,
    "diagnostics": list,
    "summary": dict,
}

_OPTIONAL: dict[str, type] = {"runs": list, "waterfalls": dict}
"""Fields a 1.1 document lacks (written before they existed): read as empty."""

_RETIRED_FORMATS = {
    "1.0": "its fingerprints do not cover the queues of the pools it deletes or replaces, so a queue created "
           "there since would be deleted unseen",
}

_MAKE_ONE = "Create one with `poolform plan --out FILE`."
_TYPES = frozenset(t.value for t in ResourceType)
_REASONS = frozenset(r.value for r in Reason)
_MODES = frozenset(m.value for m in Mode)


def dumps_plan(plan: Plan) -> str:
    """The plan document as indented JSON text (document key order kept), ending in a newline."""
    return indented_json(plan.to_json())


def indented_json(value: Any) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False) + "\\n"``, written by orjson when it can: the
    standard library indents in pure Python (0.5 s for the 14 MB plan of 1,000 pools with 5 queues;
    this 0.15 s). orjson writes NaN and Infinity as null, so a value holding one (the standard
    library's compact encoder, in C, says so) and one orjson refuses (integers beyond 64 bits, keys
    that are not strings, lone surrogates) get the standard library's text. Otherwise the text is
    the same but for the spelling of floats with an exponent (``1e16`` for ``1e+16``), which read
    back the same."""
    import orjson  # here: the commands that only read plans need not load it

    try:
        json.dumps(value, allow_nan=False, check_circular=False)
        return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"
    except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def loads_plan(text: str) -> Plan:
    """Parse and check a plan file's text (see the module docstring)."""
    return loads_plan_document(text)[0]


def loads_plan_document(text: str) -> tuple[Plan, dict[str, Any]]:
    """:func:`loads_plan`, and the document read (its fields as the file has them; a caller that only
    reads them need not write the plan out again with ``Plan.to_json``)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _invalid(f"not a poolform plan file: it is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}). "
                       + _MAKE_ONE) from None
    return read_plan(data), data


def check_plan_json(data: Any) -> None:
    """Check that ``data`` is a plan document this version applies (see the module docstring)."""
    read_plan(data)


def read_plan(data: Any) -> Plan:
    """The :class:`Plan` in an already parsed document, checked (see the module docstring)."""
    if not isinstance(data, dict) or "format_version" not in data or "resource_changes" not in data:
        raise _invalid("not a poolform plan file (no format_version/resource_changes). " + _MAKE_ONE)
    version = data["format_version"]
    if version in _RETIRED_FORMATS:
        raise _invalid(f"this plan file has format_version {version!r}, written by an older poolform, and is not "
                       f"applied: {_RETIRED_FORMATS[version]}. Make a new plan with this poolform "
                       "(`poolform plan --out FILE`).")
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise _invalid(f"unsupported plan format_version {version!r}: this poolform reads "
                       f"{', '.join(SUPPORTED_FORMAT_VERSIONS)}. Re-create the plan with this poolform version.")
    fields = {k: v for k, v in _TOP_LEVEL.items() if not (k == "environment" and version in WITHOUT_ENVIRONMENT)}
    missing = [key for key in fields if key not in data]
    problems: list[str] = [f"missing {', '.join(map(repr, missing))}"] if missing else []
    for key, kind in fields.items():
        if key in data and not isinstance(data[key], kind):
            names = " or ".join(t.__name__ if t is not type(None) else "null" for t in (kind if isinstance(kind, tuple) else (kind,)))
            problems.append(f"{key!r} must be a {names}")
    for key, kind in _OPTIONAL.items():
        if key in data and not isinstance(data[key], kind):
            problems.append(f"{key!r} must be a {kind.__name__}")
    steps: list[Step] = []
    unknown = sorted(set(data) - set(fields) - set(_OPTIONAL))
    if unknown:
        problems.append(f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}")
    if not problems:
        if data["mode"] not in _MODES:
            problems.append(f"'mode' {data['mode']!r} is not one of {', '.join(m.value for m in Mode)}")
        if not all(isinstance(t, str) for t in data["targets"]):
            problems.append("'targets' must be a list of addresses")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in data["summary"].values()):
            problems.append("'summary' counts must be integers >= 0")
        for index, change in enumerate(data["resource_changes"]):
            problems.extend(_check_change(index, change))
        for index, step in enumerate(data["steps"]):
            try:
                steps.append(Step.from_json(step, f"steps[{index}]"))
            except ValueError as exc:
                problems.append(str(exc))
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise _invalid(f"invalid poolform plan file: {shown}", problems)
    plan = Plan.from_json(data, steps=steps)
    found = document_problems(plan)
    if found:
        raise invalid_plan_error(found)
    return plan


def _invalid(message: str, problems: list[str] | None = None) -> InvalidPlanError:
    return InvalidPlanError(message, problems or [message], [])


def _is_paths(paths: Any) -> bool:
    """A list of lists of keys (strings) and indexes (integers, not booleans)."""
    if not isinstance(paths, list):
        return False
    for path in paths:
        if not isinstance(path, list):
            return False
        for key in path:
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                return False
    return True


def _check_change(index: int, change: Any) -> list[str]:
    where = f"resource_changes[{index}]"
    if not isinstance(change, dict):
        return [f"{where} must be an object"]
    needed = ("address", "type", "pool", "name", "change", "action_reason", "reason_detail", "destructive")
    problems = [f"{where} missing {k!r}" for k in needed if k not in change]
    if problems:
        return problems
    for key in ("address", "pool", "name", "reason_detail"):
        if not isinstance(change[key], str):
            problems.append(f"{where}.{key} must be a string")
    if not isinstance(change["destructive"], bool):
        problems.append(f"{where}.destructive must be a boolean")
    if change["type"] not in _TYPES:
        problems.append(f"{where}.type {change['type']!r} is not work_pool or work_queue")
    inner = change["change"]
    if not isinstance(inner, dict) or not isinstance(inner.get("actions"), list):
        return problems + [f"{where}.change.actions must be a list"]
    try:
        Action.from_actions(inner["actions"])
    except ValueError:
        problems.append(f"{where}.change.actions {inner['actions']!r} is not one of create/update/delete/no-op/delete+create")
    for key in ("before", "after"):
        if key not in inner or not (inner[key] is None or isinstance(inner[key], dict)):
            problems.append(f"{where}.change.{key} must be an object or null")
    if not _is_paths(inner.get("changed_paths")):
        problems.append(f"{where}.change.changed_paths must be a list of paths")
    if change["action_reason"] not in _REASONS:
        problems.append(f"{where}.action_reason {change['action_reason']!r} is unknown")
    return problems
