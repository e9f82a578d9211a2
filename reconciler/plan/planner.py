"""``make_plan``: desired + observed state -> a :class:`~reconciler.plan.actions.Plan` (pure).

Implements docs/architecture.md "Semantics the plan must get right": server defaults,
templates as JSON values, the ``default`` queue (managed when declared, never created
or deleted), deletion only with ``manage.prune`` (or ``destroy``), replace on a pool
``type`` change, priorities planned under the server's bump walk, ``--target``
restriction, fingerprints of everything read, and the deployment-impact warnings.

The planner decides the changes; their steps and side effects come from
:func:`reconciler.plan.sequence.sequence`, the same function that checks a plan
file's steps at apply time. ``--destroy`` deletes the declared pools (with their
queues) and nothing undeclared, whatever ``manage.prune`` says.
No I/O, no clock (``now`` is injected).
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Sequence

from reconciler import __version__
from reconciler.diagnostics import Diagnostics
from reconciler.model.state import (
    DEFAULT_QUEUE,
    DesiredPool,
    DesiredState,
    ObservedPool,
    ObservedState,
    pool_address,
    queue_address,
    queue_address_candidates,
    resolve_queue_address,
)
from reconciler.plan.actions import Action, Change, Reason, ResourceType, summarize
from reconciler.plan.document import Mode, Plan
from reconciler.plan.differ import diff_objects
from reconciler.plan.normalize import (
    desired_pool_form,
    desired_queue_form,
    fingerprints,
    fresh_default_queue_form,
    is_managed,
    json_equal,
    observed_pool_form,
    observed_queue_form,
)
from reconciler.plan.runs import run_notes
from reconciler.plan.sequence import queue_set_pools, sequence
from reconciler.plan.waterfall import waterfalls

__all__ = ["make_plan", "pools_with_variable_changes"]


def _variables(template: Any) -> Any:
    return template.get("variables") if isinstance(template, dict) else None


def pools_with_variable_changes(desired: DesiredState, observed: ObservedState) -> list[str]:
    """Names of existing pools whose managed template ``variables`` the plan would change.

    The CLI reads these pools' deployments into ``observed.deployments`` before
    calling :func:`make_plan`, which then warns about deployments that would break.
    """
    names = []
    for pool in desired.pools.values():
        have = observed.pools.get(pool.name)
        if have is None or have.type != pool.type or not is_managed(pool.base_job_template):
            continue
        if not json_equal(_variables(pool.base_job_template) or {}, _variables(have.base_job_template) or {}):
            names.append(pool.name)
    return names


@dataclass
class _Targets:
    pools: set[str] = field(default_factory=set)
    queues: set[tuple[str, str]] = field(default_factory=set)
    active: bool = False

    def pool(self, pool: str) -> bool:
        return not self.active or pool in self.pools

    def queue(self, pool: str, queue: str) -> bool:
        return not self.active or pool in self.pools or (pool, queue) in self.queues

    def any_queue_of(self, pool: str) -> bool:
        return not self.active or pool in self.pools or any(p == pool for p, _ in self.queues)


def _parse_targets(targets: Sequence[str], known_pools: set[str], diags: Diagnostics) -> _Targets:
    result = _Targets(active=bool(targets))
    for target in targets:
        if target.startswith("work_pool.") and len(target) > len("work_pool."):
            result.pools.add(target[len("work_pool."):])
            continue
        if queue_address_candidates(target):
            result.queues.add(resolve_queue_address(target, known_pools))
            continue
        diags.error(
            f"invalid target {target!r}",
            "A target is an address: work_pool.<pool> or work_queue.<pool>.<queue>.",
            address=target,
        )
    return result


class _Builder:
    def __init__(self, desired: DesiredState, observed: ObservedState, targets: _Targets, destroy: bool, diags: Diagnostics) -> None:
        self.desired = desired
        self.observed = observed
        self.targets = targets
        self.destroy = destroy
        self.diags = diags
        self.changes: list[Change] = []
        self.unmanaged: list[dict[str, Any]] = []
        self.read: dict[str, None] = {}

    # -- helpers -------------------------------------------------------------------

    def _add(self, change: Change) -> None:
        self.changes.append(change)
        self.read[change.address] = None

    # -- pools -----------------------------------------------------------------------

    def run(self) -> None:
        for pool in self.desired.pools.values():
            have = self.observed.pools.get(pool.name)
            if self.destroy:
                if have is not None and self.targets.pool(pool.name):
                    self._delete_pool(have, Reason.DELETE_BECAUSE_DESTROY_MODE)
                elif have is not None:
                    self._destroy_targeted_queues(pool, have)
            else:
                self._declared_pool(pool, have)
        for have in self.observed.pools.values():
            if have.name in self.desired.pools:
                continue
            owned = any(fnmatch.fnmatchcase(have.name, pattern) for pattern in self.desired.scope)
            if owned and self.desired.prune and not self.destroy:
                if self.targets.pool(have.name):
                    self._delete_pool(have, Reason.DELETE_BECAUSE_PRUNED)
            elif self.targets.pool(have.name):
                if self.destroy:
                    why = "not declared (--destroy deletes only the declared pools)"
                elif owned:
                    why = "in manage.scope but manage.prune is off"
                else:
                    why = "not declared and not in manage.scope"
                self.unmanaged.append({"address": have.address, "reason": why})

    def _delete_pool(self, have: ObservedPool, reason: Reason) -> None:
        lost = [q.name for q in have.queues.values() if not self._is_default(have, q.name)]
        why = ("destroy mode" if reason is Reason.DELETE_BECAUSE_DESTROY_MODE
               else "not declared, in manage.scope, and manage.prune is on")
        detail = (f"{why}; deleting the pool also deletes its "
                  + (f"queues ({', '.join(lost)}) and workers" if lost else "workers")
                  + "; its deployments lose their link to it")
        self._add(Change(have.address, ResourceType.WORK_POOL, have.name, have.name, Action.DELETE, reason,
                         observed_pool_form(have), None, [], detail, True))
        for queue in have.queues.values():
            if self._is_default(have, queue.name):
                continue
            self._add(Change(queue.address, ResourceType.WORK_QUEUE, have.name, queue.name, Action.DELETE, reason,
                             observed_queue_form(queue), None, [], f"deleted with {have.address}", True))

    def _destroy_targeted_queues(self, pool: DesiredPool, have: ObservedPool) -> None:
        """Destroy mode with ``--target work_queue...``: delete just those declared queues (never the default)."""
        for queue in have.queues.values():
            if queue.name not in pool.queues or (pool.name, queue.name) not in self.targets.queues:
                continue
            if self._is_default(have, queue.name):
                self.diags.warning(f"{queue.address} is the pool's default queue and is never deleted",
                                   "Destroy the pool to remove it.", address=queue.address,
                                   range=pool.queues[queue.name].source)
                continue
            self._add(Change(queue.address, ResourceType.WORK_QUEUE, have.name, queue.name, Action.DELETE,
                             Reason.DELETE_BECAUSE_DESTROY_MODE, observed_queue_form(queue), None, [], "destroy mode", True))

    @staticmethod
    def _is_default(have: ObservedPool, queue: str) -> bool:
        if queue == DEFAULT_QUEUE:
            return True
        q = have.queues.get(queue)
        return q is not None and have.default_queue_id is not None and q.id == have.default_queue_id

    def _declared_pool(self, pool: DesiredPool, have: ObservedPool | None) -> None:
        after = desired_pool_form(pool)
        address = pool.address
        replaced = False
        if have is None:
            if not self.targets.any_queue_of(pool.name):
                return
            self._add(Change(address, ResourceType.WORK_POOL, pool.name, pool.name, Action.CREATE, Reason.CREATE_BECAUSE_MISSING,
                             None, after, [[k] for k in after]))
        elif have.type != pool.type and self.targets.pool(pool.name):
            replaced = True
            before = observed_pool_form(have, like=after)
            lost = [q for q in have.queues if not self._is_default(have, q)]
            detail = (
                f"type changes from {have.type} to {pool.type}; Prefect cannot change a pool's type, "
                "so the pool is deleted and created again — its queues"
                + (f" ({', '.join(lost)})" if lost else "")
                + ", workers and the link from deployments are lost"
            )
            self._add(Change(address, ResourceType.WORK_POOL, pool.name, pool.name, Action.REPLACE, Reason.REPLACE_BECAUSE_CANNOT_UPDATE,
                             before, after, diff_objects(before, after), detail, True))
        elif self.targets.pool(pool.name):
            before = observed_pool_form(have, like=after)
            paths = diff_objects(before, after)
            if paths:
                self._add(Change(address, ResourceType.WORK_POOL, pool.name, pool.name, Action.UPDATE, Reason.UPDATE_BECAUSE_CONFIG_DIFFERS,
                                 before, after, paths))
                if any(p[:2] == ["base_job_template", "variables"] or p == ["base_job_template"] for p in paths):
                    self._deployment_impact(pool, have)
            else:
                self._add(Change(address, ResourceType.WORK_POOL, pool.name, pool.name, Action.NOOP, Reason.NO_OP, before, after, []))
        elif self.targets.any_queue_of(pool.name):
            self.read[address] = None
        self._queues(pool, None if (have is None or replaced) else have, replaced_from=have if replaced else None)

    # -- queues ----------------------------------------------------------------------

    def _queues(self, pool: DesiredPool, have: ObservedPool | None, replaced_from: ObservedPool | None) -> None:
        creating = have is None
        for queue in pool.queues.values():
            if not self.targets.queue(pool.name, queue.name):
                continue
            address = queue.address
            after = desired_queue_form(queue)
            old = replaced_from.queues.get(queue.name) if replaced_from is not None else None
            if queue.name == DEFAULT_QUEUE and creating:
                fresh = fresh_default_queue_form(pool.name)
                before = {k: fresh[k] for k in after}
                paths = diff_objects(before, after)
                action = Action.UPDATE if paths else Action.NOOP
                reason = Reason.UPDATE_BECAUSE_CONFIG_DIFFERS if paths else Reason.NO_OP
                detail = "the server creates the default queue with the pool" if paths else ""
                self._add(Change(address, ResourceType.WORK_QUEUE, pool.name, queue.name, action, reason, before, after, paths, detail))
            elif creating or queue.name not in have.queues:  # type: ignore[union-attr]
                if queue.name == DEFAULT_QUEUE:
                    renamed = have.default_queue_name if have is not None else None
                    self.diags.warning(
                        f"work pool {pool.name!r} has no queue named 'default'",
                        (f"Its default queue was renamed to {renamed!r}. " if renamed else "")
                        + "The default queue is never created; declare it under its current name.",
                        address=address,
                        range=queue.source,
                    )
                    continue
                if old is not None:
                    before = observed_queue_form(old, like=after)
                    self._add(Change(address, ResourceType.WORK_QUEUE, pool.name, queue.name, Action.REPLACE,
                                     Reason.REPLACE_BECAUSE_CANNOT_UPDATE, before, after, diff_objects(before, after),
                                     f"recreated with {pool.address}", True))
                else:
                    self._add(Change(address, ResourceType.WORK_QUEUE, pool.name, queue.name, Action.CREATE, Reason.CREATE_BECAUSE_MISSING,
                                     None, after, [[k] for k in after if k not in ("pool",)]))
            else:
                before = observed_queue_form(have.queues[queue.name], like=after)  # type: ignore[union-attr]
                paths = diff_objects(before, after)
                if paths:
                    self._add(Change(address, ResourceType.WORK_QUEUE, pool.name, queue.name, Action.UPDATE,
                                     Reason.UPDATE_BECAUSE_CONFIG_DIFFERS, before, after, paths))
                else:
                    self._add(Change(address, ResourceType.WORK_QUEUE, pool.name, queue.name, Action.NOOP, Reason.NO_OP, before, after, []))

        gone = replaced_from if replaced_from is not None else have
        if gone is None:
            return
        for old_queue in gone.queues.values():
            if old_queue.name in pool.queues or self._is_default(gone, old_queue.name):
                continue
            if not self.targets.queue(pool.name, old_queue.name):
                continue
            if replaced_from is not None:
                self._add(Change(old_queue.address, ResourceType.WORK_QUEUE, pool.name, old_queue.name, Action.DELETE,
                                 Reason.DELETE_BECAUSE_POOL_REPLACED, observed_queue_form(old_queue), None, [],
                                 f"deleted with {pool.address}, which is replaced", True))
            elif self.desired.prune:
                self._add(Change(old_queue.address, ResourceType.WORK_QUEUE, pool.name, old_queue.name, Action.DELETE,
                                 Reason.DELETE_BECAUSE_PRUNED, observed_queue_form(old_queue), None, [],
                                 "not declared and manage.prune is on", True))
            else:
                self.unmanaged.append({"address": old_queue.address, "reason": "not declared and manage.prune is off"})

    # -- deployments -------------------------------------------------------------------

    def _deployment_impact(self, pool: DesiredPool, have: ObservedPool) -> None:
        deployments = self.observed.deployments.get(pool.name) or []
        if not deployments:
            return
        try:
            from reconciler.templates import validate_job_variables
        except ImportError:
            self.diags.warning(f"cannot check the deployments of {pool.address} against its new job variables",
                               "This poolform build lacks the template checks; review the deployments by hand.",
                               address=pool.address, range=pool.template_source or pool.source)
            return

        new_schema = _variables(pool.base_job_template) or {}
        old_schema = _variables(have.base_job_template) or {}
        for deployment in deployments:
            job_variables = deployment.job_variables or {}
            after = validate_job_variables(new_schema, job_variables)
            if not after:
                continue
            before = set(validate_job_variables(old_schema, job_variables)) if old_schema else set()
            fresh = [message for message in after if message not in before]
            if not fresh:
                continue
            name = f"{deployment.flow_name}/{deployment.name}" if deployment.flow_name else deployment.name
            self.diags.warning(
                f"deployment {name!r} would stop validating against the new job variables of {pool.address}",
                "; ".join(fresh) + "\nUpdate the deployment's job_variables, or keep the template's variables compatible.",
                address=pool.address,
                range=pool.template_source or pool.source,
                path=("base_job_template", "variables"),
            )


def _check_targets_match(parsed: _Targets, desired: DesiredState, observed: ObservedState, known: set[str],
                         diags: Diagnostics) -> None:
    """A target that matches nothing is an error (a typo must not plan "No changes" and exit 0),
    with the closest declared or observed address as a hint."""
    addresses = [pool_address(p) for p in sorted(known)]
    for state_pools in (desired.pools, observed.pools):
        for name, pool in sorted(state_pools.items()):
            addresses.extend(queue_address(name, q) for q in sorted(pool.queues))
    for pool in sorted(parsed.pools):
        if pool not in known:
            diags.error(f"target work_pool.{pool} matches nothing",
                        "No such pool is declared or on the server." + _closest(pool_address(pool), addresses),
                        address=pool_address(pool))
    for pool, queue in sorted(parsed.queues):
        declared = desired.pools.get(pool)
        seen = observed.pools.get(pool)
        if not ((declared and queue in declared.queues) or (seen and queue in seen.queues)):
            diags.error(f"target work_queue.{pool}.{queue} matches nothing",
                        "No such queue is declared or on the server." + _closest(queue_address(pool, queue), addresses),
                        address=queue_address(pool, queue))


def _closest(address: str, addresses: Sequence[str]) -> str:
    match = difflib.get_close_matches(address, list(dict.fromkeys(addresses)), n=1, cutoff=0.6)
    return f' Did you mean "{match[0]}"?' if match else ""


def _fingerprints(observed: ObservedState, changes: list[Change], read: dict[str, None]) -> dict[str, str | None]:
    """What the plan read, fingerprinted; pools whose queue set the plan depends on (``queue_set_pools``)
    are fingerprinted with their queue names, and each of their queues on its own."""
    covered = queue_set_pools(changes)
    addresses = dict(read)
    for name in covered:
        addresses.setdefault(pool_address(name), None)
        for queue in observed.pools[name].queues.values():
            addresses.setdefault(queue.address, None)
    return fingerprints(observed, addresses, with_queues=covered)


def _timestamp(now: datetime | None) -> str | None:
    if now is None:
        return None
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_plan(
    desired: DesiredState,
    observed: ObservedState,
    *,
    targets: Sequence[str] = (),
    destroy: bool = False,
    now: datetime | None = None,
    api_url: str = "",
    poolform_version: str = __version__,
) -> Plan:
    """Compare ``desired`` with ``observed`` and return the plan (see the module docstring)."""
    diags = Diagnostics()
    known = set(desired.pools) | set(observed.pools)
    parsed = _parse_targets(list(targets), known, diags)
    builder = _Builder(desired, observed, parsed, destroy, diags)
    builder.run()
    for change in builder.changes:
        if change.address in desired.prevent_destroy and change.action in (Action.DELETE, Action.REPLACE):
            verb = "destroy" if change.action is Action.DELETE else "replace"
            diags.error(f"the plan would {verb} {change.address}, whose resource sets lifecycle.prevent_destroy",
                        "Remove prevent_destroy (or set it to false) to allow this, or change the plan "
                        "(drop --destroy, keep the pool's type) so the object stays.",
                        address=change.address, range=desired.prevent_destroy[change.address])
    if parsed.active:
        diags.warning(
            "resource targeting is in effect",
            "The plan may be incomplete: only the targeted addresses (and the pools they need) are planned. "
            "Use --target for exceptional recovery, not for routine changes.",
        )
        _check_targets_match(parsed, desired, observed, known, diags)
    sequenced = sequence(builder.changes, observed.pools)
    for pool_name, why in sequenced.errors:
        declared = desired.pools.get(pool_name)
        diags.error(f"cannot plan the queue priorities of work pool {pool_name!r}: {why}",
                    "Give every managed queue of the pool a different priority (1 or more).",
                    address=pool_address(pool_name), range=declared.source if declared else None)
    steps = sequenced.steps
    errored = diags.has_errors
    return Plan(
        poolform_version=poolform_version,
        api_url=api_url or observed.api_url,
        created_at=_timestamp(now),
        mode=Mode.DESTROY if destroy else Mode.NORMAL,
        targets=list(targets),
        complete=not parsed.active,
        applyable=bool(steps) and not errored,
        errored=errored,
        resource_changes=builder.changes,
        side_effects=sequenced.side_effects,
        unmanaged=builder.unmanaged,
        steps=steps,
        observed=_fingerprints(observed, builder.changes, builder.read),
        diagnostics=diags.to_json(),
        summary=summarize(builder.changes, builder.unmanaged),
        runs=run_notes(builder.changes, observed.due_runs),
        waterfalls=waterfalls(observed.pools, builder.changes, sequenced.side_effects),
    )
