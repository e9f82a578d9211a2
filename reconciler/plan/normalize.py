"""Comparable forms, template equality, fingerprints and Prefect wire bodies.

* Comparable form: the dict a plan shows as ``before``/``after``. Pool ``{name, type,
  description, paused, concurrency_limit, base_job_template}``, queue ``{pool, name,
  description, paused, concurrency_limit, priority}``. A desired field that is
  ``UNMANAGED`` is left out, and so is the matching observed field, so it never diffs.
* Templates are compared as JSON values: key order and whitespace never matter.
  Numbers compare by value (``1`` equals ``1.0``, as in JSON Schema and on
  PostgreSQL JSONB), booleans never equal numbers (``true`` differs from ``1``).
  :func:`canonical_json` writes integral floats as integers so equal values give
  equal text.
* Fingerprints: ``sha256:`` + hex digest of the compact JSON with sorted keys of an
  observed object's managed fields as the server returned them (never ids, status,
  ``last_polled`` or ``updated``); a pool's fingerprint can also cover the sorted
  names of its queues (``with_queues``), so that a queue created in it changes it.

No I/O here.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Collection, Iterable

from reconciler.model.state import (
    DEFAULT_QUEUE,
    UNMANAGED,
    DesiredPool,
    DesiredQueue,
    ObservedPool,
    ObservedQueue,
    ObservedState,
    parse_address,
    queue_address_candidates,
    resolve_queue_address,
)

POOL_FIELDS = ("name", "type", "description", "paused", "concurrency_limit", "base_job_template")
QUEUE_FIELDS = ("pool", "name", "description", "paused", "concurrency_limit", "priority")

DEFAULT_QUEUE_DESCRIPTION = "The work pool's default queue."
"""What the server writes as the description of the queue it creates with a pool."""


def is_managed(value: Any) -> bool:
    return value is not UNMANAGED


def _normal(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys and integral floats written as integers."""
    return json.dumps(_normal(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sorted_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def strict_equal(a: Any, b: Any) -> bool:
    """JSON equality that tells ``1`` from ``1.0`` and ``true`` (plain ``==`` does not): for what a
    plan file states, which anyone can edit, against what the plan derives."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return False
        pairs: Any = ((x, b[k]) for k, x in a.items())
    elif isinstance(a, list):
        if len(a) != len(b):
            return False
        pairs = zip(a, b)
    else:
        return bool(a == b)
    for x, y in pairs:  # the leaves compared here, without a call each (a plan of 1,000 pools has ~200,000)
        if type(x) is not type(y):
            return False
        if isinstance(x, (dict, list)):
            if not strict_equal(x, y):
                return False
        elif not x == y:
            return False
    return True


def json_equal(a: Any, b: Any) -> bool:
    """Equality of two JSON values under the rules in the module docstring."""
    if a is b:
        return True
    if a != b:
        return False
    if not isinstance(a, (dict, list)):
        return isinstance(a, bool) == isinstance(b, bool)
    return _sorted_json(a) == _sorted_json(b) or canonical_json(a) == canonical_json(b)


def templates_equal(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """True when two base job templates are the same JSON value (``None`` counts as ``{}``)."""
    return json_equal(a or {}, b or {})


# -- comparable forms ---------------------------------------------------------------


IDENTITY = 2
"""The first fields of POOL_FIELDS and QUEUE_FIELDS identify the object and are always in a form."""


def _desired_form(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    form = {key: getattr(obj, key) for key in fields[:IDENTITY]}
    for key in fields[IDENTITY:]:
        value = getattr(obj, key)
        if is_managed(value):
            form[key] = value
    return form


def _observed_form(obj: Any, fields: tuple[str, ...], like: dict[str, Any] | None) -> dict[str, Any]:
    return {key: getattr(obj, key) for key in fields if like is None or key in like}


def desired_pool_form(pool: DesiredPool) -> dict[str, Any]:
    return _desired_form(pool, POOL_FIELDS)


def observed_pool_form(pool: ObservedPool, like: dict[str, Any] | None = None) -> dict[str, Any]:
    """The observed pool's comparable form; with ``like``, only the keys ``like`` has."""
    return _observed_form(pool, POOL_FIELDS, like)


def desired_queue_form(queue: DesiredQueue) -> dict[str, Any]:
    return _desired_form(queue, QUEUE_FIELDS)


def observed_queue_form(queue: ObservedQueue, like: dict[str, Any] | None = None) -> dict[str, Any]:
    return _observed_form(queue, QUEUE_FIELDS, like)


def fresh_default_queue_form(pool: str) -> dict[str, Any]:
    """The ``default`` queue as the server creates it with a new pool."""
    return {
        "pool": pool,
        "name": DEFAULT_QUEUE,
        "description": DEFAULT_QUEUE_DESCRIPTION,
        "paused": False,
        "concurrency_limit": None,
        "priority": 1,
    }


# -- fingerprints ------------------------------------------------------------------


def _digest(value: Any) -> str:
    return "sha256:" + hashlib.sha256(_sorted_json(value).encode()).hexdigest()


def fingerprint_pool(pool: ObservedPool, *, with_queues: bool = False) -> str:
    form = observed_pool_form(pool)
    if with_queues:
        form["queues"] = sorted(pool.queues)
    return _digest(form)


def fingerprint_queue(queue: ObservedQueue) -> str:
    form = observed_queue_form(queue)
    del form["pool"]
    return _digest(form)


def fingerprints(observed: ObservedState, addresses: Iterable[str], *,
                 with_queues: Collection[str] = ()) -> dict[str, str | None]:
    """Fingerprint per address (None when the object does not exist), in the given order;
    the pools named in ``with_queues`` are fingerprinted with their queue names."""
    with_queues = frozenset(with_queues)
    result: dict[str, str | None] = {}
    for address in addresses:
        kind, pool_name, queue_name = parse_address(address)
        if kind == "work_queue":
            pool_name, queue_name = next(
                ((p, q) for p, q in queue_address_candidates(address)
                 if p in observed.pools and q in observed.pools[p].queues),
                resolve_queue_address(address, observed.pools))
        pool = observed.pools.get(pool_name)
        if kind == "work_pool":
            result[address] = (fingerprint_pool(pool, with_queues=pool_name in with_queues)
                               if pool is not None else None)
        else:
            queue = pool.queues.get(queue_name) if pool is not None and queue_name is not None else None
            result[address] = fingerprint_queue(queue) if queue is not None else None
    return result
