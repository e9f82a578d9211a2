"""The plan document: :class:`Plan`, a value, and its JSON form (``format_version`` "1.3").

``Plan.to_json()`` gives the document described in docs/architecture.md "The plan
document"; ``Plan.from_json()`` reads it back exactly, steps through the step
vocabulary (``steps.py``) and changes through ``Change.from_json``. Side effects,
unmanaged entries and diagnostics stay plain JSON dicts: the views consume them as such.
Whether a document holds together (its steps are its changes' steps, its summary
counts its changes) is ``verify.py``'s question. No I/O here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from reconciler.plan.actions import Change
from reconciler.plan.steps import Step

FORMAT_VERSION = "1.3"
"""1.3: the document names the ``environment`` it was made for (null without ``--env``); 1.1 and 1.2
files have no such field and are still read and applied (their environment is null). 1.2: ``runs``,
the due runs each change holds back (``runs.py``); 1.1 files have none and are still read and applied
(as plans with no such note). 1.1: a pool's fingerprint covers its queue names when the plan deletes or
replaces it or writes its queues (``sequence.queue_set_pools``), and apply checks that the steps are the
changes' steps. 1.0 files, written before, are refused (see ``planfile.check_plan_json``)."""

SUPPORTED_FORMAT_VERSIONS = ("1.1", "1.2", FORMAT_VERSION)
WITHOUT_ENVIRONMENT = ("1.1", "1.2")
"""Format versions whose documents have no ``environment`` field."""


class Mode(enum.StrEnum):
    """How the plan was asked for; recorded for the views, never used to decide an apply."""

    NORMAL = "normal"
    DESTROY = "destroy"


@dataclass
class Plan:
    """The whole plan. Field meanings are those of docs/architecture.md "The plan document".

    ``steps`` are executed in order by the executor; they are exactly what
    ``sequence.sequence`` makes of ``resource_changes`` (checked before any apply of a file).
    ``created_at`` is None unless the caller injected a clock (the planner reads none).
    """

    poolform_version: str
    api_url: str = ""
    environment: str | None = None
    """The config environment (``--env NAME``) the plan was made for, or None."""
    created_at: str | None = None
    mode: Mode = Mode.NORMAL
    targets: list[str] = field(default_factory=list)
    complete: bool = True
    applyable: bool = False
    errored: bool = False
    resource_changes: list[Change] = field(default_factory=list)
    side_effects: list[dict[str, Any]] = field(default_factory=list)
    unmanaged: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[dict[str, Any]] = field(default_factory=list)
    """Config entries that cannot declare pools and were not read (HCL resources of other providers)."""
    steps: list[Step] = field(default_factory=list)
    observed: dict[str, str | None] = field(default_factory=dict)
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, int] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    """Due runs held back by a change (``runs.run_notes``): ``{address, effect, due_runs, start_late_on_resume}``."""
    waterfalls: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each touched pool's queues in waterfall order before and after (``waterfall.py``); for the views."""
    format_version: str = FORMAT_VERSION

    @property
    def has_changes(self) -> bool:
        """True when applying would call the server (``--detailed-exitcode`` 2)."""
        return bool(self.steps)

    def to_json(self) -> dict[str, Any]:
        head: dict[str, Any] = {
            "format_version": self.format_version,
            "poolform_version": self.poolform_version,
            "api_url": self.api_url,
        }
        if self.format_version not in WITHOUT_ENVIRONMENT:
            head["environment"] = self.environment
        return head | {
            "created_at": self.created_at,
            "mode": Mode(self.mode).value,
            "targets": list(self.targets),
            "complete": self.complete,
            "applyable": self.applyable,
            "errored": self.errored,
            "resource_changes": [c.to_json() for c in self.resource_changes],
            "side_effects": list(self.side_effects),
            "unmanaged": list(self.unmanaged),
            "ignored": list(self.ignored),
            "steps": [s.to_json() for s in self.steps],
            "observed": dict(self.observed),
            "diagnostics": list(self.diagnostics),
            "summary": dict(self.summary),
            "runs": list(self.runs),
            "waterfalls": dict(self.waterfalls),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], *, steps: list[Step] | None = None) -> "Plan":
        """Read a document (ValueError, KeyError or TypeError for one that is not shaped as a plan);
        ``steps``: the document's steps, when the caller has read them already."""
        return cls(
            format_version=data["format_version"],
            poolform_version=data["poolform_version"],
            api_url=data.get("api_url", ""),
            environment=data.get("environment"),
            created_at=data.get("created_at"),
            mode=Mode(data.get("mode", Mode.NORMAL.value)),
            targets=list(data.get("targets", [])),
            complete=bool(data.get("complete", True)),
            applyable=bool(data.get("applyable", False)),
            errored=bool(data.get("errored", False)),
            resource_changes=[Change.from_json(c) for c in data.get("resource_changes", [])],
            side_effects=list(data.get("side_effects", [])),
            unmanaged=list(data.get("unmanaged", [])),
            ignored=list(data.get("ignored", [])),
            steps=steps if steps is not None else [Step.from_json(s, f"steps[{i}]")
                                                   for i, s in enumerate(data.get("steps", []))],
            observed=dict(data.get("observed", {})),
            diagnostics=list(data.get("diagnostics", [])),
            summary=dict(data.get("summary", {})),
            runs=list(data.get("runs", [])),
            waterfalls=dict(data.get("waterfalls", {})),
        )


__all__ = ["FORMAT_VERSION", "Mode", "Plan", "SUPPORTED_FORMAT_VERSIONS", "WITHOUT_ENVIRONMENT"]
