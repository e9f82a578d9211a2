"""Execute a plan document: ``apply_plan(client, plan_json, hooks=...)``.

Owns: reading the document through the plan-file checks, re-observing what the plan
depends on and refusing a stale or inconsistent plan (the judgement is
``reconciler.plan.verify``'s, pure), running ``steps`` (one pool's steps in order,
different pools concurrently, dispatched on ``reconciler.plan.steps.Op``), idempotent
retries of creates and deletes, converging priorities, and reporting progress
through hooks.
Must not decide what to change: it runs the steps as written, once they are shown
to be the steps of the plan's changes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from reconciler.api.observe import observe_pools
from reconciler.apply.hooks import ApplyHooks, NullHooks
from reconciler.errors import ApiError, ApplyError, NotFound
from reconciler.model.state import DEFAULT_QUEUE, queue_address_candidates
from reconciler.plan.actions import Action, ResourceType
from reconciler.plan.document import Plan
from reconciler.plan.planfile import read_plan
from reconciler.plan.sequence import queue_set_pools
from reconciler.plan.steps import Op, Step
from reconciler.plan.verify import invalid_plan_error, server_findings, stale_plan_error

CONVERGE_ROUNDS = 5


@dataclass
class ApplyResult:
    """What an apply did. ``added/changed/destroyed`` count resources as the plan summary does."""

    applied: list[Step] = field(default_factory=list)
    added: int = 0
    changed: int = 0
    destroyed: int = 0
    calls: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"applied": len(self.applied), "add": self.added, "change": self.changed,
                "remove": self.destroyed, "calls": self.calls, "seconds": round(self.seconds, 3)}


# -- the checks before anything is sent -------------------------------------------


def _pools_to_read(plan: Plan) -> tuple[list[str], list[str]]:
    """(pools to read, pools whose queues to read): every pool the plan names, with the queues of those
    it has queue changes or queue fingerprints in (a dotted queue address names every pool it can mean)."""
    pools: dict[str, None] = {}
    queue_pools: dict[str, None] = {}
    for change in plan.resource_changes:
        pools[change.pool] = None
        if change.type == ResourceType.WORK_QUEUE:
            queue_pools[change.pool] = None
    for address in plan.observed:
        if address.startswith("work_pool."):
            pools[address[len("work_pool."):]] = None
        for pool, _ in queue_address_candidates(address):
            pools[pool] = queue_pools[pool] = None
    for pool in queue_set_pools(plan.resource_changes):
        queue_pools[pool] = None
    return sorted(pools), sorted(queue_pools)


def check_plan(client: Any, plan: Plan) -> None:
    """Re-read what the plan depends on; raise StalePlanError naming each address that changed, or
    InvalidPlanError when the plan's steps, side effects or ``before`` values are not what its changes
    and the server make them (``reconciler.plan.verify.server_findings``)."""
    if not plan.observed and not plan.resource_changes:
        return
    pools, queue_pools = _pools_to_read(plan)
    findings = server_findings(plan, observe_pools(client, pools, queues_for=queue_pools))
    if findings.stale:
        raise stale_plan_error(findings.stale)
    if findings.problems:
        raise invalid_plan_error(findings.problems)


# -- running steps ---------------------------------------------------------------


class _PoolRun:
    """The steps of one pool, in order, plus what we know of its queue priorities."""

    def __init__(self, pool: str, steps: list[Step]) -> None:
        self.pool = pool
        self.steps = steps
        self.priorities: dict[str, int] | None = None


class _Executor:
    def __init__(self, client: Any, hooks: ApplyHooks) -> None:
        self.client = client
        self.hooks = hooks
        self.lock = threading.Lock()
        self.applied: list[Step] = []
        self.failures: list[tuple[Step, BaseException]] = []
        self.skipped: list[Step] = []
        self.stop = threading.Event()
        self.dispatch: dict[Op, Callable[[_PoolRun, Step], None]] = {
            Op.CREATE_POOL: self.create_pool,
            Op.UPDATE_POOL: self.update_pool,
            Op.DELETE_POOL: self.delete_pool,
            Op.CREATE_QUEUE: self.create_queue,
            Op.UPDATE_QUEUE: self.update_queue,
            Op.DELETE_QUEUE: self.delete_queue,
            Op.CONVERGE_PRIORITIES: self.converge,
        }

    def run_pool(self, run: _PoolRun) -> None:
        for index, step in enumerate(run.steps):
            if self.stop.is_set():
                with self.lock:
                    self.skipped.extend(run.steps[index:])
                return
            self.hooks.on_step_start(step)
            started = time.monotonic()
            try:
                self.dispatch[step.op](run, step)
            except Exception as exc:  # noqa: BLE001 - reported through ApplyError
                self.hooks.on_step_error(step, exc)
                with self.lock:
                    self.failures.append((step, exc))
                    self.skipped.extend(run.steps[index + 1:])
                return
            with self.lock:
                self.applied.append(step)
            self.hooks.on_step_done(step, time.monotonic() - started)

    def create_pool(self, run: _PoolRun, step: Step) -> None:
        self.client.create_pool(step.body)
        run.priorities = {DEFAULT_QUEUE: 1}

    def update_pool(self, run: _PoolRun, step: Step) -> None:
        self.client.update_pool(step.pool, step.body)

    def delete_pool(self, run: _PoolRun, step: Step) -> None:
        try:
            self.client.delete_pool(step.pool)
        except NotFound:
            pass
        run.priorities = None

    def create_queue(self, run: _PoolRun, step: Step) -> None:
        body = step.body or {}
        created = self.client.create_queue(step.pool, body)
        self._note_create(run, body, created)

    def update_queue(self, run: _PoolRun, step: Step) -> None:
        body = step.body or {}
        self.client.update_queue(step.pool, step.queue, body)
        if "priority" in body or "name" in body:
            run.priorities = None

    def delete_queue(self, run: _PoolRun, step: Step) -> None:
        try:
            self.client.delete_queue(step.pool, step.queue)
        except NotFound:
            pass
        if run.priorities is not None:
            run.priorities.pop(step.queue or "", None)

    @staticmethod
    def _note_create(run: _PoolRun, body: dict[str, Any], created: Any) -> None:
        """Keep the known priorities exact only while no server-side bump can have happened."""
        known = run.priorities
        if known is None or not isinstance(created, dict) or not isinstance(created.get("priority"), int):
            run.priorities = None
            return
        got = created["priority"]
        wanted = body.get("priority")
        highest = max(known.values(), default=0)
        if wanted is None:
            if got in known.values():
                run.priorities = None
            else:
                known[body["name"]] = got
        elif got == wanted and wanted > highest:
            known[body["name"]] = got
        else:
            run.priorities = None

    def converge(self, run: _PoolRun, step: Step) -> None:
        pool = step.pool
        wanted: dict[str, int] = dict(step.priorities or {})
        if not wanted:
            return
        known = run.priorities
        if known is not None and all(known.get(q) == p for q, p in wanted.items()):
            return
        for _ in range(CONVERGE_ROUNDS):
            current = {q["name"]: q.get("priority") for q in self.client.read_queues(pool)}
            missing = [q for q in wanted if q not in current]
            if missing:
                raise ApiError(f"queues {', '.join(sorted(missing))} of work pool {pool!r} disappeared during the apply")
            off = sorted((p, q) for q, p in wanted.items() if current[q] != p)
            if not off:
                run.priorities = {q: int(p) for q, p in current.items() if isinstance(p, int)}
                return
            for priority, queue in off:
                self.client.update_queue(pool, queue, {"priority": priority})
        current = {q["name"]: q.get("priority") for q in self.client.read_queues(pool)}
        off = {q: (current.get(q), p) for q, p in wanted.items() if current.get(q) != p}
        if off:
            detail = ", ".join(f"{q} is {now} (wanted {p})" for q, (now, p) in sorted(off.items()))
            raise ApiError(f"priorities of work pool {pool!r} did not converge after {CONVERGE_ROUNDS} rounds: {detail}")
        run.priorities = {q: int(p) for q, p in current.items() if isinstance(p, int)}


def group_steps(steps: Iterable[Step]) -> list[_PoolRun]:
    """Steps grouped by pool, keeping each pool's order and the pools' first-appearance order."""
    runs: dict[str, _PoolRun] = {}
    for step in steps:
        run = runs.get(step.pool)
        if run is None:
            run = runs[step.pool] = _PoolRun(step.pool, [])
        run.steps.append(step)
    return list(runs.values())


def _counts(plan: Plan, applied: list[Step], complete: bool) -> tuple[int, int, int]:
    if complete:
        summary = plan.summary
        return int(summary.get("add", 0)), int(summary.get("change", 0)), int(summary.get("destroy", 0))
    done = {address for step in applied for address in step.touches()}
    gone = {step.pool for step in applied if step.op is Op.DELETE_POOL}
    added = changed = destroyed = 0
    for change in plan.resource_changes:
        cascaded = change.type == ResourceType.WORK_QUEUE and change.pool in gone and change.action is Action.DELETE
        if change.address not in done and not cascaded:
            continue
        added += change.action in (Action.CREATE, Action.REPLACE)
        destroyed += change.action in (Action.DELETE, Action.REPLACE)
        changed += change.action is Action.UPDATE
    return added, changed, destroyed


def apply_plan(client: Any, plan_json: dict[str, Any], *, hooks: ApplyHooks | None = None,
               check_stale: bool = True, plan: Plan | None = None) -> ApplyResult:
    """Run the plan's steps; see the module docstring.

    Raises InvalidPlanError before touching anything when the document does not hold
    together (``reconciler.plan.planfile.read_plan``; ``plan`` is the document read so
    already, when the caller has it). With ``check_stale`` (always, for a
    plan that was saved or waited for a prompt) also StalePlanError when the server
    changed since the plan was made and InvalidPlanError when its steps are not what
    its changes make on that server (``check_plan``). Raises ApplyError (with
    ``applied``, ``failed``, and the extra attributes ``failures`` and ``skipped``)
    when a step failed; steps of other pools still run to the end, so a new plan +
    apply converges.
    """
    hooks = hooks or NullHooks()
    started = time.monotonic()
    calls_before = client.count_calls
    if plan is None:
        plan = read_plan(plan_json)
    if check_stale:
        check_plan(client, plan)
    return run_steps(client, plan, hooks=hooks, started=started, calls_before=calls_before)


def run_steps(client: Any, plan: Plan, *, hooks: ApplyHooks | None = None, started: float | None = None,
              calls_before: int | None = None) -> ApplyResult:
    """Run ``plan.steps`` as they are (one pool's in order, pools concurrently); no checks."""
    hooks = hooks or NullHooks()
    started = time.monotonic() if started is None else started
    calls_before = client.count_calls if calls_before is None else calls_before
    runs = group_steps(plan.steps)
    executor = _Executor(client, hooks)
    if runs:
        try:
            client.map(executor.run_pool, runs)
        except KeyboardInterrupt:
            executor.stop.set()
            raise
    result = ApplyResult(applied=executor.applied)
    result.calls = client.count_calls - calls_before
    result.seconds = time.monotonic() - started
    if executor.failures:
        step, exc = executor.failures[0]
        result.added, result.changed, result.destroyed = _counts(plan, executor.applied, complete=False)
        what = "; ".join(f"{s.address}: {e}" for s, e in executor.failures)
        err = ApplyError(f"apply stopped part-way: {what}", applied=executor.applied, failed=step, cause=exc)
        err.failures = executor.failures  # type: ignore[attr-defined]
        err.skipped = executor.skipped  # type: ignore[attr-defined]
        err.result = result  # type: ignore[attr-defined]
        raise err
    result.added, result.changed, result.destroyed = _counts(plan, executor.applied, complete=True)
    return result
