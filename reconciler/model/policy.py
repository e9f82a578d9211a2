"""Policy rules as values: what a rule is, what it can apply to, how bad breaking it is.

Owns :class:`Rule` (one rule the repository declares, with where it was written), the target
vocabulary (:data:`TARGETS`: which planned objects a rule checks) and the severities. The file
format of rules is :class:`reconciler.model.document.PolicyRule`; reading them is
``reconciler.config.policy``; checking them is :mod:`reconciler.check_policy`.
No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from reconciler.diagnostics import SourceRange

TARGETS: dict[str, str] = {
    "pool": "each declared work pool (with its queues), once per pool",
    "queue": "each declared work queue, once per queue",
    "config": "the whole planned configuration (manage, environment, every pool), once",
}
"""What a rule's ``target`` may name, and what it then checks."""

SEVERITIES = ("error", "warning")
"""``error`` fails validate, plan and apply; ``warning`` is reported and the plan goes on."""


@dataclass(frozen=True)
class Rule:
    """One policy rule: a JSON Schema (Draft 2020-12) every object of its ``target`` must satisfy."""

    id: str
    message: str
    target: str
    schema: dict[str, Any]
    severity: str = "error"
    description: str = ""
    environments: tuple[str, ...] | None = None
    """None: the rule applies whatever the environment; else only when planning one of these."""
    where: SourceRange | None = None
    """Where the rule was written (its ``id``), for problems of the rule itself."""
    schema_where: Callable[[tuple[Any, ...]], SourceRange] | None = field(default=None, compare=False, repr=False)
    """A path inside ``schema`` -> where it was written (for a bad schema's diagnostics)."""

    def applies_in(self, environment: str | None) -> bool:
        return self.environments is None or (environment is not None and environment in self.environments)
