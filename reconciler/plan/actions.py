"""The plan vocabulary: :class:`Action`, :class:`Reason`, :class:`Change` and :class:`Plan`.

A :class:`Plan` is a value. ``Plan.to_json()`` gives the plan document described in
docs/architecture.md (``format_version`` "1.0"), and ``Plan.from_json()`` reads it back
exactly. Steps, side effects, unmanaged entries and diagnostics are kept as plain JSON
dicts because the executor and the views consume them as such.
No I/O here, and nothing here decides what to change (that is ``planner.py``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

FORMAT_VERSION = "1.0"
SUPPORTED_FORMAT_VERSIONS = ("1.0",)


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


Path = list[str | int]


@dataclass
class Change:
    """One object's planned change. ``before``/``after`` are comparable forms (normalize.py);
    ``before`` is None for a create, ``after`` None for a delete."""

    address: str
    type: str
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
            "type": self.type,
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
            type=data["type"],
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


@dataclass
class Plan:
    """The whole plan. Field meanings are those of docs/architecture.md "The plan document".

    ``steps`` are executed in order by the executor; ``resource_changes`` describe the
    end result per address and must not be used to drive the apply.
    ``created_at`` is None unless the caller injected a clock (the planner reads none).
    """

    poolform_version: str
    api_url: str = ""
    created_at: str | None = None
    mode: str = "normal"
    targets: list[str] = field(default_factory=list)
    complete: bool = True
    applyable: bool = False
    errored: bool = False
    resource_changes: list[Change] = field(default_factory=list)
    side_effects: list[dict[str, Any]] = field(default_factory=list)
    unmanaged: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[dict[str, Any]] = field(default_factory=list)
    """Config entries that cannot declare pools and were not read (HCL resources of other providers)."""
    steps: list[dict[str, Any]] = field(default_factory=list)
    observed: dict[str, str | None] = field(default_factory=dict)
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, int] = field(default_factory=dict)
    format_version: str = FORMAT_VERSION

    @property
    def has_changes(self) -> bool:
        """True when applying would call the server (``--detailed-exitcode`` 2)."""
        return bool(self.steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "poolform_version": self.poolform_version,
            "api_url": self.api_url,
            "created_at": self.created_at,
            "mode": self.mode,
            "targets": list(self.targets),
            "complete": self.complete,
            "applyable": self.applyable,
            "errored": self.errored,
            "resource_changes": [c.to_json() for c in self.resource_changes],
            "side_effects": list(self.side_effects),
            "unmanaged": list(self.unmanaged),
            "ignored": list(self.ignored),
            "steps": list(self.steps),
            "observed": dict(self.observed),
            "diagnostics": list(self.diagnostics),
            "summary": dict(self.summary),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Plan":
        return cls(
            format_version=data["format_version"],
            poolform_version=data["poolform_version"],
            api_url=data.get("api_url", ""),
            created_at=data.get("created_at"),
            mode=data.get("mode", "normal"),
            targets=list(data.get("targets", [])),
            complete=bool(data.get("complete", True)),
            applyable=bool(data.get("applyable", False)),
            errored=bool(data.get("errored", False)),
            resource_changes=[Change.from_json(c) for c in data.get("resource_changes", [])],
            side_effects=list(data.get("side_effects", [])),
            unmanaged=list(data.get("unmanaged", [])),
            ignored=list(data.get("ignored", [])),
            steps=list(data.get("steps", [])),
            observed=dict(data.get("observed", {})),
            diagnostics=list(data.get("diagnostics", [])),
            summary=dict(data.get("summary", {})),
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
