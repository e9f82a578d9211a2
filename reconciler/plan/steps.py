"""The plan's step vocabulary: each operation, its fields, its place in a plan and its verbs.

A step is one call (or, for ``converge_priorities``, a bounded loop of calls) the
executor makes. This module is the only place that spells the operations:

* :class:`Op` names them; :data:`SPECS` gives each one the object it acts on, the
  fields it carries besides ``op``/``address``/``pool``, its plan action and its
  progress verbs ("Creating...", "Creation complete");
* :class:`Phase` is the order of steps in a plan (every step of a phase runs
  after every step of the phases before it, pool by pool);
* :class:`Step` is one step as a value, read from and written to the plan
  document's JSON with every field checked (``address`` must be the one ``pool``
  and ``queue`` spell, so a step cannot say one pool and act on another).

The planner builds steps (``sequence.py``), the plan-file reader parses them,
the JSON Schema (``schema.py``) is built from :data:`SPECS`, the executor
dispatches on :class:`Op` and the progress hooks print :data:`SPECS`' verbs.
No I/O here, and nothing here decides which steps a plan has.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Mapping

from reconciler.model.state import pool_address, queue_address
from reconciler.plan.actions import Action, ResourceType


class Op(enum.StrEnum):
    CREATE_POOL = "create_pool"
    UPDATE_POOL = "update_pool"
    DELETE_POOL = "delete_pool"
    CREATE_QUEUE = "create_queue"
    UPDATE_QUEUE = "update_queue"
    DELETE_QUEUE = "delete_queue"
    CONVERGE_PRIORITIES = "converge_priorities"


class Field(enum.StrEnum):
    """Step fields besides ``op``, ``address`` and ``pool`` (which every step has)."""

    QUEUE = "queue"
    BODY = "body"
    PRIORITIES = "priorities"


class Phase(enum.IntEnum):
    """The order of steps in a plan; within a phase, pools keep the order of their changes."""

    REPLACE_DELETE = 1
    """``delete_pool`` of a pool that is replaced (its type changes)."""
    POOL_WRITE = 2
    """``create_pool`` (also the create of a replaced pool) and ``update_pool``."""
    QUEUE_CREATE = 3
    """``create_queue``: those with a priority in ascending priority, then the others."""
    QUEUE_UPDATE = 4
    """``update_queue`` of fields other than ``priority``."""
    PRIORITY = 5
    """``update_queue`` with body ``{"priority": p}``, as ``priorities.plan_priorities`` orders them."""
    CONVERGE = 6
    """``converge_priorities``."""
    QUEUE_DELETE = 7
    """``delete_queue``."""
    POOL_DELETE = 8
    """``delete_pool`` of a pool that goes (pruned or destroyed)."""


@dataclass(frozen=True)
class OpSpec:
    """What an operation acts on, what it carries, and how progress output names it."""

    target: ResourceType
    fields: tuple[Field, ...]
    action: Action
    progress: str
    done: str


_CREATE = ("Creating...", "Creation complete")
_UPDATE = ("Modifying...", "Modifications complete")
_DELETE = ("Destroying...", "Destruction complete")

SPECS: dict[Op, OpSpec] = {
    Op.CREATE_POOL: OpSpec(ResourceType.WORK_POOL, (Field.BODY,), Action.CREATE, *_CREATE),
    Op.UPDATE_POOL: OpSpec(ResourceType.WORK_POOL, (Field.BODY,), Action.UPDATE, *_UPDATE),
    Op.DELETE_POOL: OpSpec(ResourceType.WORK_POOL, (), Action.DELETE, *_DELETE),
    Op.CREATE_QUEUE: OpSpec(ResourceType.WORK_QUEUE, (Field.QUEUE, Field.BODY), Action.CREATE, *_CREATE),
    Op.UPDATE_QUEUE: OpSpec(ResourceType.WORK_QUEUE, (Field.QUEUE, Field.BODY), Action.UPDATE, *_UPDATE),
    Op.DELETE_QUEUE: OpSpec(ResourceType.WORK_QUEUE, (Field.QUEUE,), Action.DELETE, *_DELETE),
    Op.CONVERGE_PRIORITIES: OpSpec(ResourceType.WORK_POOL, (Field.PRIORITIES,), Action.UPDATE,
                                   "Converging queue priorities...", "Queue priorities hold"),
}


@dataclass(frozen=True)
class Step:
    """One step. ``queue`` is set exactly for queue operations, ``body`` for creates and
    updates (a Prefect wire body holding only the keys to send), ``priorities`` for
    ``converge_priorities`` (queue name -> priority every managed queue must end at)."""

    op: Op
    pool: str
    queue: str | None = None
    body: dict[str, Any] | None = None
    priorities: dict[str, int] | None = None

    @property
    def spec(self) -> OpSpec:
        return SPECS[self.op]

    @property
    def address(self) -> str:
        """The address the step acts on (the pool's for ``converge_priorities``)."""
        if SPECS[self.op].target is ResourceType.WORK_QUEUE:
            return queue_address(self.pool, self.queue or "")
        return pool_address(self.pool)

    def touches(self) -> list[str]:
        """Every address whose object the step writes (``converge_priorities``: the queues it sets)."""
        if self.op is Op.CONVERGE_PRIORITIES:
            return [queue_address(self.pool, name) for name in self.priorities or {}]
        return [self.address]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"op": self.op.value, "address": self.address, "pool": self.pool}
        for name in self.spec.fields:
            value = getattr(self, name.value)
            data[name.value] = dict(value) if isinstance(value, Mapping) else value
        return data

    @classmethod
    def from_json(cls, data: Any, where: str = "step") -> "Step":
        """Read one step; ValueError naming ``where`` and the field for anything off-vocabulary."""
        if not isinstance(data, dict):
            raise ValueError(f"{where} must be an object")
        try:
            op = Op(data.get("op"))
        except ValueError:
            raise ValueError(f"{where}.op {data.get('op')!r} is unknown "
                             f"(one of {', '.join(o.value for o in Op)})") from None
        required, allowed = _KEYS[op]
        if len(data) != len(required) or not all(k in data for k in required):
            missing = [k for k in required if k not in data]
            if missing:
                raise ValueError(f"{where} ({op}) missing {', '.join(repr(k) for k in missing)}")
            extra = sorted(set(data) - allowed)
            raise ValueError(f"{where} ({op}) has unknown field{'s' if len(extra) > 1 else ''} "
                             f"{', '.join(repr(k) for k in extra)}")
        pool = data["pool"]
        if not isinstance(pool, str) or not pool:
            raise ValueError(f"{where}.pool must be a non-empty string")
        queue = data.get("queue")
        if "queue" in allowed and (not isinstance(queue, str) or not queue):
            raise ValueError(f"{where}.queue must be a non-empty string")
        body = data.get("body")
        if "body" in allowed and not isinstance(body, dict):
            raise ValueError(f"{where}.body must be an object")
        priorities = data.get("priorities")
        if "priorities" in allowed and not (
                isinstance(priorities, dict)
                and all(type(p) is int and p >= 1 for p in priorities.values())):
            raise ValueError(f"{where}.priorities must map queue names to integers >= 1")
        step = cls(op, pool, queue, body, priorities)
        if data["address"] != step.address:
            raise ValueError(f"{where} ({op}) has address {data['address']!r} but acts on {step.address!r}")
        return step


_KEYS: dict[Op, tuple[tuple[str, ...], frozenset[str]]] = {
    op: (("op", "address", "pool", *(f.value for f in spec.fields)),
         frozenset(("op", "address", "pool", *(f.value for f in spec.fields))))
    for op, spec in SPECS.items()
}
"""Per operation: the keys its JSON has, in order, and as a set (spelled once, from SPECS)."""


__all__ = ["Field", "Op", "OpSpec", "Phase", "SPECS", "Step"]
