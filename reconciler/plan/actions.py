"""The change vocabulary: :class:`Action`, :class:`Reason` and :class:`Change` (one object's
planned change, as ``resource_changes`` holds it), and :func:`summarize`.

The plan document is ``document.py``; its steps are ``steps.py``.
No I/O here, and nothing here decides what to change (that is ``planner.py``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Action(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    NOOP = "no-op"

    def to_actions(self) -> list[str]:
        """The JSON ``actions`` list; a replace is ``["delete", "create"]`` as in terraform's jsonplan."""
        if self is Action.REPLACE:
            return ["delete", "create"]
        return [self.value]

    @classmethod
    def from_actions(cls, actions: list[str]) -> "Action":
        if list(actions) == ["delete", "create"]:
            return cls.REPLACE
        if len(actions) == 1 and actions[0] in {"create", "update", "delete", "no-op"}:
            return cls(actions[0])
        raise ValueError(f"unknown actions {actions!r}")

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "no-op": " "}[self.value]


class Reason(enum.StrEnum):
    CREATE_BECAUSE_MISSING = "create_because_missing"
    UPDATE_BECAUSE_CONFIG_DIFFERS = "update_because_config_differs"
    REPLACE_BECAUSE_CANNOT_UPDATE = "replace_because_cannot_update"
    DELETE_BECAUSE_PRUNED = "delete_because_pruned"
    DELETE_BECAUSE_DESTROY_MODE = "delete_because_destroy_mode"
    DELETE_BECAUSE_POOL_REPLACED = "delete_because_pool_replaced"
    NO_OP = "no_op"

    @property
    def action(self) -> Action:
        """The one action this reason goes with."""
        return _REASON_ACTIONS[self]


_REASON_ACTIONS = {
    Reason.CREATE_BECAUSE_MISSING: Action.CREATE,
    Reason.UPDATE_BECAUSE_CONFIG_DIFFERS: Action.UPDATE,
    Reason.REPLACE_BECAUSE_CANNOT_UPDATE: Action.REPLACE,
    Reason.DELETE_BECAUSE_PRUNED: Action.DELETE,
    Reason.DELETE_BECAUSE_DESTROY_MODE: Action.DELETE,
    Reason.DELETE_BECAUSE_POOL_REPLACED: Action.DELETE,
    Reason.NO_OP: Action.NOOP,
}


class ResourceType(enum.StrEnum):
    """What an address names: ``work_pool.<pool>`` or ``work_queue.<pool>.<queue>``."""

    WORK_POOL = "work_pool"
    WORK_QUEUE = "work_queue"


Path = list[str | int]


@dataclass
class Change:
    """One object's planned change. ``before``/``after`` are comparable forms (normalize.py);
    ``before`` is None for a create, ``after`` None for a delete."""

    address: str
    type: ResourceType
    pool: str
    name: str
    action: Action
    reason: Reason
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    changed_paths: list[Path] = field(default_factory=list)
    reason_detail: str = ""
    destructive: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "type": ResourceType(self.type).value,
            "pool": self.pool,
            "name": self.name,
            "change": {
                "actions": self.action.to_actions(),
                "before": self.before,
                "after": self.after,
                "changed_paths": [list(p) for p in self.changed_paths],
            },
            "action_reason": self.reason.value,
            "reason_detail": self.reason_detail,
            "destructive": self.destructive,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Change":
        change = data["change"]
        return cls(
            address=data["address"],
            type=ResourceType(data["type"]),
            pool=data["pool"],
            name=data["name"],
            action=Action.from_actions(change["actions"]),
            reason=Reason(data["action_reason"]),
            before=change["before"],
            after=change["after"],
            changed_paths=[list(p) for p in change.get("changed_paths", [])],
            reason_detail=data.get("reason_detail", ""),
            destructive=bool(data.get("destructive", False)),
        )


def summarize(changes: list[Change], unmanaged: list[dict[str, Any]]) -> dict[str, int]:
    """Counts for "Plan: N to add, N to change, N to destroy." (a replace is one add and one destroy)."""
    counts = {"add": 0, "change": 0, "destroy": 0, "replace": 0, "unmanaged": len(unmanaged)}
    for change in changes:
        if change.action is Action.CREATE:
            counts["add"] += 1
        elif change.action is Action.UPDATE:
            counts["change"] += 1
        elif change.action is Action.DELETE:
            counts["destroy"] += 1
        elif change.action is Action.REPLACE:
            counts["add"] += 1
            counts["destroy"] += 1
            counts["replace"] += 1
    return counts
