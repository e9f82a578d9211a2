"""Is a plan document the plan it shows, and does it still hold on the server? (pure)

The views render a plan from ``resource_changes``, ``side_effects`` and ``summary``;
the executor acts on ``steps`` and on the fingerprints in ``observed``. A plan file
is text anyone can edit, so before an apply every field the executor uses is
derived from, or checked against, what the views show:

* :func:`document_problems` (the plan-file reader calls it): every change is
  self-consistent (its address spells its pool and name, its action goes with its
  reason, ``before``/``after`` are comparable forms of that object, ``changed_paths``
  are exactly their differences, ``destructive`` says whether it deletes), the
  changes of one pool fit together (nothing but deletes in a pool that is deleted,
  a queue replaced only with its pool), every step touches only addresses among the
  changes, ``summary`` counts the changes, ``errored``/``applyable``/``complete``
  follow from the diagnostics, steps and targets, a destroy plan holds only
  destroy-mode deletes (and a normal one none), every ``runs`` note is one of the
  notes its changes can have (``runs.note_problems``), ``environment`` is null or an
  environment name, and ``observed`` fingerprints every changed address.
* :func:`server_findings` (apply calls it with what it has just read): first
  staleness, any fingerprint that differs (a pool's covers its queue names when the
  plan depends on its queue set, ``sequence.queue_set_pools``, so a queue created in
  a pool the plan deletes is found and named); then, on a fresh plan, every
  ``before`` is the server's object and ``steps`` and ``side_effects`` are exactly
  what :func:`~reconciler.plan.sequence.sequence` makes of the changes.

``waterfalls`` (drawn by the markdown view) is checked in the document alone
(:func:`~reconciler.plan.waterfall.waterfall_problems`): its pools are the touched ones and
every changed queue, pool and side effect shows there as the changes say. Its unchanged
queues are a snapshot of the server for the reader, like ``unmanaged``: an apply neither acts
on them nor re-reads them, as a change to them never makes a plan stale.

Messages name addresses and fields, never values (a value may be a secret).
No I/O here.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from reconciler.errors import InvalidPlanError, StalePlanError
from reconciler.model.rules import ENVIRONMENT_NAME_PATTERN  # not model.document: that loads pydantic
from reconciler.model.state import DEFAULT_QUEUE, ObservedState, pool_address, queue_address
from reconciler.plan.actions import Action, Change, Reason, ResourceType, summarize
from reconciler.plan.differ import diff_objects
from reconciler.plan.waterfall import waterfall_problems
from reconciler.plan.document import Mode, Plan
from reconciler.plan.normalize import (
    POOL_FIELDS,
    QUEUE_FIELDS,
    fingerprints,
    fresh_default_queue_form,
    json_equal,
    observed_pool_form,
    observed_queue_form,
    strict_equal,
)
from reconciler.plan.runs import note_problems
from reconciler.plan.sequence import queue_set_pools, sequence
from reconciler.plan.steps import Step

Problem = tuple[str | None, str]
"""(address or None, what is wrong)."""

_FIELDS = {ResourceType.WORK_POOL: POOL_FIELDS, ResourceType.WORK_QUEUE: QUEUE_FIELDS}
_FINGERPRINT = re.compile(r"^sha256:[0-9a-f]{64}$")
_ENVIRONMENT = re.compile(ENVIRONMENT_NAME_PATTERN)
_SHOWN = 5


def _strict(value: Any) -> str:
    """JSON text that tells ``1`` from ``1.0`` and ``true`` (plain ``==`` does not)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _same_step(a: Step, b: Step) -> bool:
    return (a.op is b.op and a.pool == b.pool and a.queue == b.queue and strict_equal(a.body, b.body)
            and strict_equal(a.priorities, b.priorities))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_TYPES = {
    "pool": lambda v: isinstance(v, str) and bool(v),
    "name": lambda v: isinstance(v, str) and bool(v),
    "type": lambda v: isinstance(v, str) and bool(v),
    "description": lambda v: v is None or isinstance(v, str),
    "paused": lambda v: isinstance(v, bool),
    "concurrency_limit": lambda v: v is None or (_is_int(v) and v >= 0),
    "base_job_template": lambda v: v is None or isinstance(v, dict),
    "priority": lambda v: _is_int(v) and v >= 1,
}


# -- the document alone ------------------------------------------------------------


def _by_pool(changes: Iterable[Change]) -> dict[str, tuple[Change | None, list[Change]]]:
    pools: dict[str, tuple[Change | None, list[Change]]] = {}
    for change in changes:
        pool_change, queues = pools.get(change.pool, (None, []))
        if change.type == ResourceType.WORK_POOL:
            pool_change = change
        else:
            queues.append(change)
        pools[change.pool] = (pool_change, queues)
    return pools


def _form_problems(change: Change, label: str, form: Any) -> list[str]:
    if not isinstance(form, dict):
        return [f"its {label} must be an object"]
    kind = ResourceType(change.type)
    problems = []
    unknown = [k for k in form if k not in _FIELDS[kind]]
    if unknown:
        problems.append(f"its {label} has field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                        f"that a {kind} does not have")
    identity = {"name": change.name, "type": None} if kind is ResourceType.WORK_POOL else {"pool": change.pool, "name": change.name}
    for key, value in identity.items():
        if key not in form:
            problems.append(f"its {label} lacks {key!r}")
        elif value is not None and form[key] != value:
            problems.append(f"its {label}.{key} is not the object's {key}")
    bad = [k for k, v in form.items() if k in _TYPES and not _TYPES[k](v)]
    if bad:
        problems.append(f"its {label} has a value of the wrong type for {', '.join(map(repr, bad))}")
    return problems


def _expected_paths(change: Change) -> list[list[Any]] | None:
    before, after = change.before, change.after
    if change.action is Action.CREATE and isinstance(after, dict):
        return [[k] for k in after if not (change.type == ResourceType.WORK_QUEUE and k == "pool")]
    if change.action in (Action.DELETE,):
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        return diff_objects(before, after)
    return None


def _change_problems(change: Change) -> list[str]:
    problems: list[str] = []
    kind = change.type
    if kind not in (ResourceType.WORK_POOL, ResourceType.WORK_QUEUE):
        return [f"its type {kind!r} is not work_pool or work_queue"]
    if kind == ResourceType.WORK_POOL:
        spelled = pool_address(change.pool)
        if change.name != change.pool:
            problems.append("a pool's name and pool differ")
    else:
        spelled = queue_address(change.pool, change.name)
    if change.address != spelled:
        problems.append(f"its address is not {spelled!r}, which its pool and name spell")
    if change.reason.action is not change.action:
        problems.append(f"action_reason {change.reason.value!r} does not go with actions {change.action.to_actions()!r}")
    if change.destructive != (change.action in (Action.DELETE, Action.REPLACE)):
        problems.append("'destructive' must be true exactly for deletes and replacements")
    if (change.before is None) != (change.action is Action.CREATE):
        problems.append("'before' must be null exactly for a create")
    if (change.after is None) != (change.action is Action.DELETE):
        problems.append("'after' must be null exactly for a delete")
    for label in ("before", "after"):
        form = getattr(change, label)
        if form is not None:
            problems.extend(_form_problems(change, label, form))
    if problems:
        return problems
    before, after = change.before or {}, change.after or {}
    if change.action in (Action.UPDATE, Action.NOOP, Action.REPLACE) and set(before) != set(after):
        problems.append("'before' and 'after' must have the same fields")
    if change.action is Action.DELETE and set(before) != set(_FIELDS[ResourceType(kind)]):
        problems.append("the 'before' of a delete must hold every field of the object")
    expected = _expected_paths(change)
    if expected is not None and not strict_equal(change.changed_paths, expected):
        problems.append("its changed_paths are not the differences between 'before' and 'after'")
    if change.action is Action.UPDATE and not expected:
        problems.append("it is an update that changes nothing")
    if change.action is Action.NOOP and expected:
        problems.append("it is a no-op whose 'before' and 'after' differ")
    if (change.action is Action.REPLACE and kind == ResourceType.WORK_POOL
            and json_equal(before.get("type"), after.get("type"))):
        problems.append("it replaces a pool whose type does not change (only a type change replaces a pool)")
    return problems


def _pool_problems(pool: str, pool_change: Change | None, queues: list[Change]) -> list[Problem]:
    action = pool_change.action if pool_change is not None else None
    fresh = action in (Action.CREATE, Action.REPLACE)
    out: list[Problem] = []
    for queue in queues:
        why = None
        if action is Action.DELETE and queue.action is not Action.DELETE:
            why = f"it is planned for {queue.action.value} in {pool_address(pool)}, which the plan deletes"
        elif (queue.action is Action.REPLACE or queue.reason is Reason.DELETE_BECAUSE_POOL_REPLACED) and action is not Action.REPLACE:
            why = "a queue is replaced, or deleted because its pool is replaced, only when its pool is replaced"
        elif action is Action.CREATE and queue.action is Action.DELETE:
            why = f"it is deleted in {pool_address(pool)}, which the plan creates"
        elif action is Action.REPLACE and queue.action is Action.DELETE and queue.reason is not Reason.DELETE_BECAUSE_POOL_REPLACED:
            why = f"a queue of {pool_address(pool)}, which is replaced, goes with the old pool"
        elif fresh and queue.action in (Action.UPDATE, Action.NOOP) and queue.name != DEFAULT_QUEUE:
            why = "only the default queue of a pool being created is updated; the others are created"
        elif not fresh and queue.action is Action.CREATE and queue.name == DEFAULT_QUEUE:
            why = "the default queue is never created"
        if why:
            out.append((queue.address, f"{queue.address}: {why}"))
    return out


def document_problems(plan: Plan) -> list[Problem]:
    """What does not hold together in the document alone (see the module docstring); [] when all does."""
    out: list[Problem] = []
    seen: set[str] = set()
    for index, change in enumerate(plan.resource_changes):
        if change.address in seen:
            out.append((change.address, f"resource_changes[{index}]: {change.address} is listed twice"))
        seen.add(change.address)
        for problem in _change_problems(change):
            out.append((change.address, f"resource_changes[{index}] ({change.address}): {problem}"))
    if out:
        return out
    for pool, (pool_change, queues) in _by_pool(plan.resource_changes).items():
        out.extend(_pool_problems(pool, pool_change, queues))
    out.extend(waterfall_problems(plan.waterfalls, plan.resource_changes, plan.side_effects))
    for index, step in enumerate(plan.steps):
        for address in step.touches():
            if address not in seen:
                out.append((address, f"steps[{index}] ({step.op.value} {step.address}) touches {address}, "
                                     "which is not among the plan's resource_changes"))
    counted = summarize(plan.resource_changes, plan.unmanaged)
    if {k: plan.summary.get(k) for k in counted} != counted or set(plan.summary) != set(counted):
        shown = ", ".join(f"{k} {plan.summary.get(k)}" for k in counted)
        right = ", ".join(f"{k} {v}" for k, v in counted.items())
        out.append((None, f"its summary ({shown}) does not count its resource_changes ({right})"))
    errors = any(isinstance(d, dict) and d.get("severity") == "error" for d in plan.diagnostics)
    if plan.errored != errors:
        out.append((None, f"'errored' is {str(plan.errored).lower()} but the plan has "
                          f"{'error diagnostics' if errors else 'no error diagnostic'}"))
    if plan.applyable != (bool(plan.steps) and not errors):
        out.append((None, "'applyable' must be true exactly when there are steps and no errors"))
    if plan.complete != (not plan.targets):
        out.append((None, "'complete' must be false exactly when the plan has targets"))
    destroying = [c.address for c in plan.resource_changes if c.reason is Reason.DELETE_BECAUSE_DESTROY_MODE]
    if plan.mode is Mode.NORMAL and destroying:
        out.append((destroying[0], f"{destroying[0]} is deleted because of destroy mode in a plan whose mode is normal"))
    if plan.mode is Mode.DESTROY:
        others = [c.address for c in plan.resource_changes if c.reason is not Reason.DELETE_BECAUSE_DESTROY_MODE]
        if others:
            out.append((others[0], f"a destroy plan only deletes, because of destroy mode; {others[0]} is not such a delete"))
    out.extend(note_problems(plan.resource_changes, plan.runs))
    if plan.environment is not None and not _ENVIRONMENT.match(plan.environment):
        out.append((None, "'environment' is not an environment name (letters, digits, '_', '.', '-')"))
    for address in sorted(seen - set(plan.observed)):
        out.append((address, f"observed has no fingerprint of {address}, which the plan changes"))
    for address, value in plan.observed.items():
        if value is not None and not (isinstance(value, str) and _FINGERPRINT.match(value)):
            out.append((address, f"observed[{address!r}] is not null or a sha256 fingerprint"))
    for index, effect in enumerate(plan.side_effects):
        if not (isinstance(effect, dict) and isinstance(effect.get("address"), str) and effect.get("path") == ["priority"]
                and _is_int(effect.get("before")) and _is_int(effect.get("after")) and len(effect) == 4):
            out.append((None, f"side_effects[{index}] must be {{address, path: [\"priority\"], before, after}} "
                              "with integer priorities"))
    return out


# -- the document against the server -------------------------------------------------


@dataclass
class Findings:
    """``stale``: (address, what changed on the server); ``problems``: what the document claims
    that the server and its own changes contradict (only looked for when nothing is stale)."""

    stale: list[tuple[str, str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _current_form(observed: ObservedState, change: Change) -> dict[str, Any] | None:
    pool = observed.pools.get(change.pool)
    if pool is None:
        return None
    if change.type == ResourceType.WORK_POOL:
        return observed_pool_form(pool)
    queue = pool.queues.get(change.name)
    return None if queue is None else observed_queue_form(queue)


def _what_changed(before: dict[str, Any] | None, now: dict[str, Any] | None) -> str:
    if before is None and now is not None:
        return "it was created"
    if before is not None and now is None:
        return "it was deleted"
    if before is None or now is None:
        return "its fields"
    fields = sorted(k for k in before if k in now and not json_equal(before[k], now[k]))
    return ", ".join(fields) if fields else "fields the plan does not show"


def _stale(plan: Plan, observed: ObservedState, covered: list[str]) -> list[tuple[str, str]]:
    current = fingerprints(observed, plan.observed, with_queues=covered)
    changes = {c.address: c for c in plan.resource_changes}
    new_queues = {name: [q.address for q in observed.pools[name].queues.values() if q.address not in plan.observed]
                  for name in covered if name in observed.pools}
    stale: list[tuple[str, str]] = []
    for address, recorded in plan.observed.items():
        if current.get(address) == recorded:
            continue
        change = changes.get(address)
        if recorded is None:
            what = "it was created"
        elif current.get(address) is None:
            what = "it was deleted"
        elif change is not None and change.before is not None:
            now = _current_form(observed, change) or {}
            what = _what_changed({k: v for k, v in change.before.items() if k in now}, now)
        else:
            what = "its fields"
        if change is not None and change.type == ResourceType.WORK_POOL and new_queues.get(change.pool) \
                and what in ("its fields", "fields the plan does not show"):
            what = "its queues"
        stale.append((address, what))
    stale_pools = {a for a, _ in stale}
    for name, addresses in new_queues.items():
        if pool_address(name) in stale_pools:
            stale.extend((address, "it was created") for address in addresses)
    return stale


def _expected_before(change: Change, pool_action: Action | None, observed: ObservedState) -> Any:
    pool = observed.pools.get(change.pool)
    if change.type == ResourceType.WORK_POOL:
        if change.action is Action.CREATE or pool is None:
            return None
        return observed_pool_form(pool, like=change.after if change.action is not Action.DELETE else None)
    fresh = pool_action in (Action.CREATE, Action.REPLACE)
    if fresh and change.name == DEFAULT_QUEUE and change.action in (Action.UPDATE, Action.NOOP):
        form = fresh_default_queue_form(change.pool)
        return {k: form[k] for k in change.after or {} if k in form}
    if change.action is Action.CREATE or pool is None or change.name not in pool.queues:
        return None
    queue = pool.queues[change.name]
    return observed_queue_form(queue, like=change.after if change.action is not Action.DELETE else None)


def _step_problems(plan: Plan, observed: ObservedState) -> list[Problem]:
    made = sequence(plan.resource_changes, observed.pools)
    out: list[Problem] = [(pool_address(pool), f"the priorities of {pool_address(pool)} cannot be planned: {why}")
                          for pool, why in made.errors]
    if len(plan.steps) != len(made.steps) or not all(_same_step(a, b) for a, b in zip(plan.steps, made.steps)):
        have = [_strict(s.to_json()) for s in plan.steps]
        want = [_strict(s.to_json()) for s in made.steps]
        out.extend(_step_differences(plan.steps, made.steps, have, want))
    if not strict_equal(plan.side_effects, made.side_effects):
        addresses = sorted({e.get("address") for e in plan.side_effects + made.side_effects
                            if isinstance(e, dict) and isinstance(e.get("address"), str)}
                           - {e["address"] for e in plan.side_effects if e in made.side_effects})
        out.append((addresses[0] if addresses else None,
                    "its side_effects are not the priority moves its steps cause"
                    + (f" ({', '.join(addresses[:_SHOWN])})" if addresses else "")))
    return out


def _label(step: Step) -> str:
    return f"{step.op.value} {step.address}"


def _step_differences(steps: list[Step], made: list[Step], have: list[str], want: list[str]) -> list[Problem]:
    """Where the file's steps part from the made ones, as few problems as say it (at most ``_SHOWN``)."""
    if sorted(have) == sorted(want):
        first = next(i for i, (h, w) in enumerate(zip(have, want)) if h != w)
        return [(steps[first].address, f"its steps are its changes' steps in another order: steps[{first}] is "
                                        f"{_label(steps[first])} where its changes put {_label(made[first])}")]
    out: list[Problem] = []
    matcher = difflib.SequenceMatcher(a=have, b=want, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        for offset in range(max(i2 - i1, j2 - j1)):
            i, j = i1 + offset, j1 + offset
            if i < i2 and j < j2:
                if _label(steps[i]) == _label(made[j]):
                    out.append((steps[i].address, f"steps[{i}] ({_label(steps[i])}) does not carry what its change shows"))
                else:
                    out.append((steps[i].address, f"steps[{i}] ({_label(steps[i])}) is not the step its changes make "
                                                  f"there ({_label(made[j])})"))
            elif i < i2:
                out.append((steps[i].address, f"steps[{i}] ({_label(steps[i])}) is a step its changes do not make"))
            else:
                out.append((made[j].address, f"a step its changes make is missing: {_label(made[j])}"))
    return out[:_SHOWN]


def server_findings(plan: Plan, observed: ObservedState) -> Findings:
    """Check a plan (whose :func:`document_problems` are none) against ``observed``, the server as read
    just now: every pool the plan names, with the queues of those it has queue addresses or changes in."""
    covered = queue_set_pools(plan.resource_changes)
    findings = Findings(stale=_stale(plan, observed, covered))
    if findings.stale:
        return findings
    for name in covered:
        if pool_address(name) not in plan.observed:
            findings.problems.append((pool_address(name), f"observed has no fingerprint of {pool_address(name)}, "
                                                           "whose queues the plan changes"))
            continue
        pool = observed.pools.get(name)
        for queue in pool.queues.values() if pool is not None else ():
            if queue.address not in plan.observed:
                findings.problems.append((queue.address, f"observed has no fingerprint of {queue.address}, a queue of "
                                                         f"{pool_address(name)}, whose queues the plan changes"))
    actions = {pool: (pc.action if pc is not None else None) for pool, (pc, _) in _by_pool(plan.resource_changes).items()}
    for index, change in enumerate(plan.resource_changes):
        expected = _expected_before(change, actions.get(change.pool), observed)
        if not strict_equal(change.before, expected):
            findings.problems.append((change.address, f"resource_changes[{index}] ({change.address}): its 'before' "
                                                      "is not the object on the server"))
    if not findings.problems:
        findings.problems.extend(_step_problems(plan, observed))
    return findings


# -- errors ------------------------------------------------------------------------------


def invalid_plan_error(problems: list[Problem]) -> InvalidPlanError:
    """The exception for ``problems`` (at least one), with the first few in the message."""
    texts = [text for _, text in problems]
    shown = "; ".join(texts[:_SHOWN]) + (f"; and {len(texts) - _SHOWN} more" if len(texts) > _SHOWN else "")
    addresses = list(dict.fromkeys(a for a, _ in problems if a))
    return InvalidPlanError(
        f"the plan file is not the plan it shows: {shown}. A plan file is applied as `poolform plan --out` wrote it; "
        "make a new plan.", texts, addresses)


def stale_plan_error(stale: list[tuple[str, str]]) -> StalePlanError:
    lines = [f"{address} changed since the plan was made ({what})" for address, what in stale]
    return StalePlanError("Saved plan is stale: " + "; ".join(lines) + ". Run `poolform plan` again and apply the new plan.",
                          [address for address, _ in stale])


__all__ = ["Findings", "Problem", "document_problems", "invalid_plan_error", "server_findings", "stale_plan_error"]
