"""The rules a work pool and a work queue must satisfy: one copy for ``poolform`` and the Terraform provider.

Owns every check of one declared object, and of declared siblings, that does not need the
server: pool and queue names (line breaks, the characters Prefect refuses, empty names, the
reserved ``prefect`` prefix), the pool ``type`` (a known worker type; a missing one is a
warning), priorities and concurrency limits (whole numbers, lower bounds, Prefect's 32-bit
columns), the base job template's size and nesting, a queue limit above its pool's, and two
declared queues of one pool at the same priority. Each check returns :class:`Problem` values
(severity, summary, detail, the attribute it concerns); the config loader turns them into
diagnostics at file:line, the provider into diagnostics on the attribute path, so both say
the same words. :data:`RULES` lists them for the docs. The template's content rules are
``reconciler.templates.check_template`` (also shared). No I/O; imports nothing of the package
but :mod:`reconciler.model.worker_types`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final, Literal

from reconciler.model.worker_types import KNOWN_WORKER_TYPES, unknown_worker_type_problem

INT32_MAX: Final = 2**31 - 1
"""Prefect stores priorities and concurrency limits in 32-bit integer columns (PostgreSQL refuses more)."""
PRIORITY_MIN: Final = 1
LIMIT_MIN: Final = 0
MINIMUM: Final = {"priority": PRIORITY_MIN, "concurrency_limit": LIMIT_MIN}

MAX_TEMPLATE_BYTES: Final = 1024 * 1024
"""The largest base job template, as compact JSON."""
MAX_TEMPLATE_DEPTH: Final = 64
"""The deepest nesting of mappings and lists in a base job template."""
ENVIRONMENT_NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
"""An environment's name (``environments:`` keys, ``--env``, a plan's ``environment``)."""

BAD_NAME_CHARS: Final = re.compile(r"[/%&><]")
"""Characters Prefect 3.9.1 refuses in pool and queue names (``prefect.server.schemas`` name validation)."""
RESERVED_PREFIX: Final = "prefect"
DEFAULT_POOL_TYPE: Final = "prefect-agent"

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One broken rule: ``rule`` is its id in :data:`RULES`; ``field`` the attribute it concerns."""

    rule: str
    severity: Severity
    summary: str
    detail: str
    field: str


@dataclass(frozen=True)
class Rule:
    id: str
    applies_to: str
    severity: Severity
    statement: str


RULES: Final[tuple[Rule, ...]] = (
    Rule("name_line_break", "pool, queue", "error",
         "The name holds no line break: Prefect 3 creates such an object but then answers 404 for its name, "
         "so it could never be read, updated or deleted."),
    Rule("name_characters", "pool, queue", "error", "The name is not empty and holds none of `/ % & > <`."),
    Rule("pool_name_empty", "pool", "error", "The name holds more than spaces and quotes."),
    Rule("pool_name_reserved", "pool", "error",
         "The name does not start with `prefect` (any case): Prefect reserves those pools."),
    Rule("type_unknown", "pool", "error",
         "`type` is a known worker type (" + ", ".join(KNOWN_WORKER_TYPES) + "), with a did-you-mean. A custom "
         "worker's type is accepted with `--allow-unknown-type` (CLI) or `allow_unknown_type = true` in the "
         "`provider \"prefect\"` block (both tools read it)."),
    Rule("type_missing", "pool", "warning",
         f"`type` is set; without it the server creates a `{DEFAULT_POOL_TYPE}` pool, and it cannot change later "
         "without replacing the pool."),
    Rule("number_whole", "pool, queue", "error", "`priority` and `concurrency_limit` are whole numbers."),
    Rule("number_minimum", "pool, queue", "error",
         f"`priority` is at least {PRIORITY_MIN} (1 is the highest); `concurrency_limit` is at least {LIMIT_MIN} "
         "(0 blocks every run; null or absent: no limit)."),
    Rule("number_maximum", "pool, queue", "error",
         f"`priority` and `concurrency_limit` are at most {INT32_MAX:,} (2**31-1, Prefect's 32-bit columns)."),
    Rule("template_too_large", "pool", "error",
         f"The base job template is at most {MAX_TEMPLATE_BYTES:,} bytes as compact JSON and at most "
         f"{MAX_TEMPLATE_DEPTH} levels deep (its content rules: placeholders declared, `variables` a valid JSON "
         "Schema, defaults valid)."),
    Rule("queue_limit_above_pool", "queue", "warning",
         "A queue's `concurrency_limit` is not above its pool's: the pool's limit caps it anyway."),
    Rule("priority_duplicate", "queues of one pool", "error",
         "Two declared queues of one pool do not share a priority (see *Equal priorities* below)."),
)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, float) and value.is_integer():
        return f"the number {int(value)}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return type(value).__name__


# --------------------------------------------------------------------------- names

_LINE_BREAK_DETAIL = ("Prefect 3 creates it but cannot find it by name afterwards (its routes answer 404 for a name "
                      "with a line break), so it could never be read, updated or deleted. Remove the line break.")


def pool_name_problems(name: str) -> list[Problem]:
    """The rules a pool name breaks (several at once: ``"prefect\\n/x"`` breaks three)."""
    out: list[Problem] = []
    if "\n" in name:
        out.append(Problem("name_line_break", "error", f"pool name {name!r} contains a line break",
                           _LINE_BREAK_DETAIL, "name"))
    if BAD_NAME_CHARS.search(name):
        out.append(Problem("name_characters", "error", f"pool name {name!r} contains a character the server refuses",
                           "Pool names must not contain / % & > <.", "name"))
    elif not name.replace(" ", "").replace("'", "").replace('"', ""):
        out.append(Problem("pool_name_empty", "error", "pool name cannot be an empty string",
                           "Give the pool a name with letters or digits.", "name"))
    if name.lower().startswith(RESERVED_PREFIX):
        out.append(Problem("pool_name_reserved", "error", f"pool name {name!r} is reserved",
                           "Prefect's server refuses pool names starting with \"prefect\" (any case): "
                           "\"Work pools starting with 'Prefect' are reserved for internal use.\" Rename the pool.",
                           "name"))
    return out


def queue_name_problems(name: str) -> list[Problem]:
    if "\n" in name:
        return [Problem("name_line_break", "error", f"queue name {name!r} contains a line break",
                        _LINE_BREAK_DETAIL, "name")]
    if not name or BAD_NAME_CHARS.search(name):
        return [Problem("name_characters", "error", f"queue name {name!r} is not allowed",
                        "Queue names must be non-empty and must not contain / % & > <.", "name")]
    return []


# --------------------------------------------------------------------------- type

def missing_type_problem() -> Problem:
    return Problem("type_missing", "warning", f"type not set: the pool will be created as {DEFAULT_POOL_TYPE}",
                   "Set type: process|kubernetes|docker|ecs|cloud-run|... (the worker type; it cannot change later "
                   "without replacing the pool).", "type")


def pool_type_problems(value: str, *, allow_unknown: bool, how_to_allow: str) -> list[Problem]:
    """An unknown worker type, unless allowed; ``how_to_allow`` says how on the caller's surface."""
    if allow_unknown:
        return []
    problem = unknown_worker_type_problem(value)
    if problem is None:
        return []
    summary, detail = problem
    return [Problem("type_unknown", "error", summary, f"{detail} {how_to_allow}".strip(), "type")]


# --------------------------------------------------------------------------- numbers

def number_problems(field: str, value: Any) -> list[Problem]:
    """``priority`` or ``concurrency_limit``: whole, at least :data:`MINIMUM`, at most :data:`INT32_MAX`.

    Values of another type (strings, booleans) are the reader's to refuse; None is no value.
    """
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return []
    if isinstance(value, float) and not value.is_integer():
        return [Problem("number_whole", "error", f"{field} must be an integer, not {_describe(value)}",
                        "Priorities and concurrency limits are whole numbers.", field)]
    low = MINIMUM[field]
    if value < low:
        detail = ("Priority 1 is the highest; numbers grow towards lower priority." if field == "priority"
                  else "Use 0 to block all runs, or null for no limit.")
        return [Problem("number_minimum", "error", f"{field} must be at least {low}, not {_describe(value)}",
                        detail, field)]
    if value > INT32_MAX:
        return [Problem("number_maximum", "error", f"{field} must be at most {INT32_MAX}, not {_describe(value)}",
                        "Prefect stores it as a 32-bit integer; a PostgreSQL-backed server refuses larger values.",
                        field)]
    return []


# --------------------------------------------------------------------------- templates

def measure_template(value: Any) -> tuple[int, int]:
    """(nesting depth, size as compact JSON) of a template; the size is 0 when the depth is already
    over :data:`MAX_TEMPLATE_DEPTH` (it is not serialized then). No recursion."""
    depth = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        depth = max(depth, level)
        if level > MAX_TEMPLATE_DEPTH:
            return level, 0
        stack.extend((child, level + 1) for child in children)
    return depth, len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str))


def template_bounds_problem(depth: int, size: int) -> tuple[str, str] | None:
    """``(summary, detail)`` when a template measured by :func:`measure_template` is over a bound."""
    if depth > MAX_TEMPLATE_DEPTH:
        return (f"the base job template is nested too deeply (over {MAX_TEMPLATE_DEPTH} levels)",
                "Flatten it: job configurations and variable schemas need far fewer levels.")
    if size > MAX_TEMPLATE_BYTES:
        return (f"the base job template is too large: {size:,} bytes as JSON, over {MAX_TEMPLATE_BYTES:,}",
                "Move large content (scripts, manifests) out of the template, e.g. into the image.")
    return None


def template_size_problems(value: Any) -> list[Problem]:
    problem = template_bounds_problem(*measure_template(value))
    if problem is None:
        return []
    return [Problem("template_too_large", "error", problem[0], problem[1], "base_job_template")]


# --------------------------------------------------------------------------- siblings

def queue_limit_problem(queue_limit: Any, pool_limit: Any) -> Problem | None:
    """A warning when a queue's limit is above its pool's (both known whole numbers)."""
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (queue_limit, pool_limit)):
        return None
    if queue_limit <= pool_limit:
        return None
    return Problem("queue_limit_above_pool", "warning",
                   f"queue concurrency_limit {_number(queue_limit)} is above the pool's {_number(pool_limit)}",
                   "The pool's limit caps the queue anyway; lower the queue's limit or raise the pool's.",
                   "concurrency_limit")


def duplicate_priority_problem(first: str, second: str, priority: Any) -> Problem:
    """Two declared queues of one pool, ``first`` seen before ``second``, at the same priority."""
    return Problem("priority_duplicate", "error",
                   f"queues {first!r} and {second!r} both have priority {_number(priority)}",
                   "Prefect keeps a pool's priorities unique: a priority change, a queue created with a priority or "
                   "a queue deleted in the pool renumbers queues that share one, so a tie would not last. Give each "
                   "queue its own.",
                   "priority")


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
