"""Flow runs (prefect-api.md §1.5): create (directly or idempotently), read, filter, count,
update, delete, and their state: ``set_state`` orchestrates a proposed state.

``set_state`` is load -> decide -> write: it loads the run and, for a claim (SCHEDULED to
PENDING or RUNNING in a queue), the slots the claim would take (``slots.claim_slots``); the pure
``scheduling.claim_refusal`` and ``orchestration.decide`` answer; it writes only what they
accept. "Late" is computed when a run is read. Must not pick runs for a worker (``polls``).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

import reconciler.scheduling as scheduling
from reconciler.server import leases, orchestration
from reconciler.server.clock import as_utc, from_text, to_text
from reconciler.server.domain import Ctx, atomic, flows, pools, queues, slots, workers
from reconciler.server.domain.refusals import Conflict, Invalid, NotFound, NotNow, null_field, object_not_found
from reconciler.server.domain.sql import (
    RUN_COLUMN_NAMES,
    RUN_COLUMNS,
    count,
    dumps,
    in_clause,
    loads,
    lock_pool,
    lock_run,
    new_id,
    page_limit,
)
from reconciler.server.orchestration import ACTIVE_TYPES, LATE_AFTER_SECONDS
from reconciler.server.store import Row, StoreBusy
from reconciler.template_rules import job_variables_problem

STATE_NAMES = {
    "SCHEDULED": "Scheduled",
    "PENDING": "Pending",
    "RUNNING": "Running",
    "COMPLETED": "Completed",
    "FAILED": "Failed",
    "CANCELLED": "Cancelled",
    "CRASHED": "Crashed",
    "PAUSED": "Paused",
    "CANCELLING": "Cancelling",
}
TERMINAL = orchestration.TERMINAL_TYPES
STATE_DETAIL_KEYS = (
    "flow_run_id", "task_run_id", "child_flow_run_id", "scheduled_time", "cache_key", "cache_expiration",
    "deferred", "untrackable_result", "pause_timeout", "pause_reschedule", "pause_key", "run_input_keyset",
    "refresh_cache", "retriable", "transition_id", "task_parameters_id", "traceparent",
    "deployment_concurrency_lease_id",
)
DETAIL_DEFAULTS: dict[str, Any] = {"deferred": False, "untrackable_result": False, "pause_reschedule": False}
EMPIRICAL_POLICY = {
    "max_retries": 0, "retry_delay_seconds": 0.0, "retries": None, "retry_delay": None, "pause_keys": [],
    "resuming": False, "retry_type": None,
}
SORTS = {
    "ID_DESC": "r.id DESC",
    "START_TIME_ASC": "r.start_time ASC, r.id",
    "START_TIME_DESC": "r.start_time DESC, r.id",
    "EXPECTED_START_TIME_ASC": "r.expected_start_time ASC, r.id",
    "EXPECTED_START_TIME_DESC": "r.expected_start_time DESC, r.id",
    "NAME_ASC": "r.name ASC, r.id",
    "NAME_DESC": "r.name DESC, r.id",
    "NEXT_SCHEDULED_START_TIME_ASC": "r.next_scheduled_start_time ASC, r.id",
    "END_TIME_DESC": "r.end_time DESC, r.id",
}
_ADJECTIVES = ("amber", "brisk", "calm", "daring", "eager", "fuzzy", "gentle", "hidden", "icy", "jolly", "keen",
               "lively", "mellow", "nimble", "olive", "proud", "quiet", "rapid", "silver", "tidy", "urban",
               "vivid", "witty", "young", "zesty")
_ANIMALS = ("badger", "bison", "crane", "dingo", "eagle", "ferret", "gecko", "heron", "ibis", "jaguar", "koala",
            "lemur", "marten", "newt", "otter", "panda", "quail", "raven", "stoat", "tapir", "urchin", "vole",
            "walrus", "yak", "zebra")


@dataclass(frozen=True)
class StateOutcome:
    """What ``set_state`` answers: the OrchestrationResult body, and whether a state was written."""

    result: dict[str, Any]
    written: bool


def _slug() -> str:
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_ANIMALS)}"


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return to_text(value)
    return str(value)


@atomic
def create_flow_run(ctx: Ctx, fields: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    flows.flow_row(ctx, fields["flow_id"])
    queue_id = None
    pool: tuple[str | None, ...] | None = (None, None)
    queue_name = fields.get("work_queue_name")
    if fields.get("work_pool_name"):
        pool_row, queue = queues.resolve_queue(ctx, fields["work_pool_name"], queue_name, create=False)
        queue_id = queue["id"]
        pool = (pool_row["id"], pool_row["name"], queue["name"])
    labels = {"prefect.flow.id": fields["flow_id"], **(fields.get("labels") or {})}
    return create_run(
        ctx,
        flow_id=fields["flow_id"], name=fields.get("name"), state=fields.get("state") or {"type": "PENDING"},
        parameters=fields.get("parameters") or {}, context=fields.get("context") or {},
        tags=fields.get("tags") or [], labels=labels, idempotency_key=fields.get("idempotency_key"),
        queue_id=queue_id, queue_name=queue_name, job_variables=fields.get("job_variables") or {},
        deployment_id=fields.get("deployment_id"), pool=pool,
        extra={"empirical_policy": fields.get("empirical_policy"),
               "parent_task_run_id": fields.get("parent_task_run_id"),
               "infrastructure_document_id": fields.get("infrastructure_document_id"),
               "flow_version": fields.get("flow_version")},
    )


@dataclass(frozen=True)
class Insert:
    """A run's ``INSERT`` on a condition, as one statement to send as a transaction of its own
    (``Store.execute``, ``Store.execute_each``), and the run to answer once it wrote its row
    (none written: the condition did not hold, nothing was)."""

    sql: str
    params: tuple[Any, ...]
    run: dict[str, Any]


def _new_run(ctx: Ctx, *, flow_id: str, name: str | None, state: dict[str, Any], parameters: dict[str, Any],
             context: dict[str, Any], tags: list[str], labels: dict[str, Any], idempotency_key: str | None,
             queue_id: str | None, queue_name: str | None, job_variables: dict[str, Any], deployment_id: str | None,
             extra: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any], dict[str, Any], dict[str, Any], datetime]:
    """A new run's column values (``RUN_COLUMN_NAMES`` and its ``wire``), its row, body and state, and now."""
    now = ctx.now()
    now_text = to_text(now)
    run_id = new_id()
    policy = dict(EMPIRICAL_POLICY)
    policy.update(extra.get("empirical_policy") or {})
    body = {
        "deployment_version": None, "flow_version": extra.get("flow_version"), "parameters": parameters,
        "context": context, "empirical_policy": policy, "labels": labels,
        "parent_task_run_id": extra.get("parent_task_run_id"), "total_run_time": 0.0,
        "auto_scheduled": False, "infrastructure_document_id": extra.get("infrastructure_document_id"),
        "infrastructure_pid": None, "job_variables": job_variables,
    }
    new_state = _make_state(run_id, state, now, now_text)
    sched = new_state["state_details"].get("scheduled_time") if new_state["type"] == "SCHEDULED" else None
    expected = sched or new_state["timestamp"]
    values = (
        run_id, now_text, now_text, name or _slug(), flow_id, deployment_id, queue_id, queue_name,
        idempotency_key, new_state["type"], new_state["name"], new_state["timestamp"], sched, expected,
        now_text if new_state["type"] == "RUNNING" else None,
        now_text if new_state["type"] in TERMINAL else None,
        1 if new_state["type"] == "RUNNING" else 0, dumps(tags), dumps(new_state), dumps(body),
    )
    row = dict(zip(RUN_COLUMN_NAMES, values))
    return (*values, run_wire(row, state=new_state)), row, body, new_state, now


_GUARDED_INSERT = (f"INSERT INTO flow_run ({RUN_COLUMNS}, wire) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                   "?, ?, ?, ?, ?, ?, ?, ? WHERE ")


def guarded_run(ctx: Ctx, *, guard: tuple[str, Sequence[Any]], pool: tuple[str | None, ...], **fields: Any) -> Insert:
    """A run (the keyword arguments of :func:`create_run`, without an idempotency key, in a state
    that takes no slot) as one ``INSERT`` made on the condition ``guard`` (SQL and its
    parameters), which decides alone whether it may be written: nothing is read or locked first."""
    assert fields.get("idempotency_key") is None and fields["state"].get("type") not in ACTIVE_TYPES
    values, row, body, new_state, now = _new_run(ctx, **fields)
    return Insert(_GUARDED_INSERT + guard[0], (*values, *guard[1]),
                  run_json(ctx, row, now, pool=pool, body=body, state=new_state))


def create_run(
    ctx: Ctx, *, flow_id: str, name: str | None, state: dict[str, Any], parameters: dict[str, Any],
    context: dict[str, Any], tags: list[str], labels: dict[str, Any], idempotency_key: str | None,
    queue_id: str | None, queue_name: str | None, job_variables: dict[str, Any], deployment_id: str | None,
    extra: dict[str, Any], pool: tuple[str | None, ...] | None = None,
) -> tuple[dict[str, Any], bool]:
    """The run, and whether it was created (not found by its idempotency key), in the caller's
    transaction."""
    if idempotency_key is not None:
        existing = ctx.store.one(
            f"SELECT {RUN_COLUMNS} FROM flow_run WHERE flow_id = ? AND idempotency_key = ?", (flow_id, idempotency_key)
        )
        if existing is not None:
            return run_json(ctx, existing), False
    values, row, body, new_state, now = _new_run(
        ctx, flow_id=flow_id, name=name, state=state, parameters=parameters, context=context, tags=tags,
        labels=labels, idempotency_key=idempotency_key, queue_id=queue_id, queue_name=queue_name,
        job_variables=job_variables, deployment_id=deployment_id, extra=extra)
    if new_state["type"] in ACTIVE_TYPES and queue_id is not None:
        _lock_pool_of_queue(ctx, queue_id)
        taken = slots.claim_slots(ctx, queue_id)
        refusal = scheduling.claim_refusal(*taken) if taken is not None else None
        if refusal is not None:  # the limit check every way into a slot goes through
            raise Conflict(f"{refusal} A run cannot be created {new_state['type']} there; create it SCHEDULED "
                           "and let a worker claim it, or raise the limit.")
    insert = (f"INSERT INTO flow_run ({RUN_COLUMNS}, wire) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
              "ON CONFLICT (flow_id, idempotency_key) DO NOTHING")
    if idempotency_key is None:  # no key, no conflict: the count is not needed (the insert goes out with the COMMIT)
        ctx.store.write(insert, values)
    elif not ctx.store.execute(insert, values):
        # another request (another replica) created the run with this key meanwhile
        existing = ctx.store.one(
            f"SELECT {RUN_COLUMNS} FROM flow_run WHERE flow_id = ? AND idempotency_key = ?", (flow_id, idempotency_key)
        )
        return run_json(ctx, existing), False  # type: ignore[arg-type]
    return run_json(ctx, row, now, pool=pool, body=body, state=new_state), True


def _locked_run(ctx: Ctx, run_id: str, *, takes_slot: bool) -> Row:
    """The run, read once its row is locked — after its pool's when the change may take one of
    the pool's slots, so claims in one pool are checked and written one at a time. A missing run
    is refused as Prefect's ``set_state`` words it."""
    row = run_row(ctx, run_id, object_not_found("Flow run", run_id))
    locked_queue = None
    if takes_slot and row["work_queue_id"]:
        pool_id = _lock_pool_of_queue(ctx, row["work_queue_id"])
        locked_queue = row["work_queue_id"]
        if pool_id is not None:
            _reclaim_in_pool(ctx, pool_id, ctx.now())
    lock_run(ctx.store, run_id)
    row = run_row(ctx, run_id, object_not_found("Flow run", run_id))
    if takes_slot and row["work_queue_id"] and row["work_queue_id"] != locked_queue:
        raise StoreBusy("the run moved to another queue meanwhile")  # atomic runs it again
    return row


def _lock_pool_of_queue(ctx: Ctx, queue_id: str) -> str | None:
    """Lock the pool of a queue (the first lock of a transaction that may take a slot)."""
    found = ctx.store.one("SELECT work_pool_id FROM work_queue WHERE id = ?", (queue_id,))
    if found is None:
        return None
    lock_pool(ctx.store, found["work_pool_id"])
    return found["work_pool_id"]


_DETAILS = {key: DETAIL_DEFAULTS.get(key) for key in STATE_DETAIL_KEYS}
"""A new state's ``state_details`` before the proposed ones are laid over them."""


def _make_state(run_id: str, state: dict[str, Any], now: datetime, now_text: str | None = None) -> dict[str, Any]:
    kind = state["type"]
    now_text = now_text or to_text(now)
    details = dict(_DETAILS)
    for key, value in (state.get("state_details") or {}).items():
        details[key] = _iso(value) if isinstance(value, datetime) else value
    details["flow_run_id"] = run_id
    if kind == "SCHEDULED":
        when = details.get("scheduled_time")
        details["scheduled_time"] = to_text(parse_time(when)) if when else now_text
    return {
        "id": new_id(), "type": kind, "name": state.get("name") or STATE_NAMES[kind],
        "timestamp": now_text, "message": state.get("message"), "data": state.get("data"),
        "state_details": details,
    }


def run_row(ctx: Ctx, run_id: str, missing: NotFound | None = None) -> Row:
    """The run, or ``missing`` (default: Prefect's route-level "Flow run not found") raised."""
    row = ctx.store.one(f"SELECT {RUN_COLUMNS} FROM flow_run WHERE id = ?", (run_id,))
    if row is None:
        raise missing or NotFound("Flow run not found")
    return row


def is_late(row: Row, now: datetime) -> bool:
    if row["state_type"] != "SCHEDULED" or row["state_name"] != "Scheduled":
        return False
    when = from_text(row["next_scheduled_start_time"])
    return when is not None and now - when > timedelta(seconds=LATE_AFTER_SECONDS)


def _run_common(row: Row, now: datetime, body: dict[str, Any] | None = None,
                state: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any] | None, str | None]:
    body = loads(row["body"]) if body is None else body
    state = loads(row["state"]) if state is None else state
    name = row["state_name"]
    if state is not None and is_late(row, now):
        name = "Late"
        state = {**state, "name": "Late"}
    return body, state, name


def _timing(row: Row, body: dict[str, Any], now: datetime) -> tuple[float, float]:
    total = float(body.get("total_run_time") or 0.0)
    estimated = total
    if row["state_type"] == "RUNNING" and row["state_timestamp"]:
        estimated += max(0.0, (now - from_text(row["state_timestamp"])).total_seconds())  # type: ignore[operator]
    delta = 0.0
    expected = from_text(row["expected_start_time"])
    if row["start_time"] is None and expected is not None and row["state_type"] not in TERMINAL:
        delta = max(0.0, (now - expected).total_seconds())
    return estimated, delta


def run_json(ctx: Ctx, row: Row, now: datetime | None = None, *, pool: tuple[str | None, ...] | None = None,
             body: dict[str, Any] | None = None, state: dict[str, Any] | None = None) -> dict[str, Any]:
    """FlowRunResponse. ``pool`` = (pool id, pool name[, queue name]) skips the lookup; ``body`` and
    ``state``, the row's JSON columns as the caller just wrote them, skip parsing them."""
    now = now or ctx.now()
    body, state, state_name = _run_common(row, now, body, state)
    estimated, delta = _timing(row, body, now)
    queue_name = row["work_queue_name"]
    if pool is not None and len(pool) > 2:
        queue_name = pool[2]
    if pool is None:
        pool = (None, None)
        if row["work_queue_id"]:
            q = ctx.store.one(
                "SELECT q.name, p.id AS pool_id, p.name AS pool_name FROM work_queue q "
                "JOIN work_pool p ON p.id = q.work_pool_id WHERE q.id = ?",
                (row["work_queue_id"],),
            )
            if q is not None:
                pool = (q["pool_id"], q["pool_name"])
                queue_name = q["name"]
    return {
        "id": row["id"], "created": row["created"], "updated": row["updated"], "name": row["name"],
        "flow_id": row["flow_id"], "state_id": state["id"] if state else None,
        "deployment_id": row["deployment_id"], "deployment_version": body.get("deployment_version"),
        "work_queue_id": row["work_queue_id"], "work_queue_name": queue_name,
        "flow_version": body.get("flow_version"), "parameters": body.get("parameters", {}),
        "idempotency_key": row["idempotency_key"], "context": body.get("context", {}),
        "empirical_policy": body.get("empirical_policy"), "tags": loads(row["tags"]),
        "labels": body.get("labels", {}), "parent_task_run_id": body.get("parent_task_run_id"),
        "state_type": row["state_type"], "state_name": state_name, "run_count": row["run_count"],
        "expected_start_time": row["expected_start_time"],
        "next_scheduled_start_time": row["next_scheduled_start_time"], "start_time": row["start_time"],
        "end_time": row["end_time"], "total_run_time": float(body.get("total_run_time") or 0.0),
        "estimated_run_time": estimated, "estimated_start_time_delta": delta,
        "auto_scheduled": body.get("auto_scheduled", False),
        "infrastructure_document_id": body.get("infrastructure_document_id"),
        "infrastructure_pid": body.get("infrastructure_pid"), "created_by": None,
        "work_pool_id": pool[0], "work_pool_name": pool[1], "state": state,
        "job_variables": body.get("job_variables", {}),
    }


def run_wire(row: Mapping[str, Any], *, state: dict[str, Any] | None = None, estimated: float | None = None) -> str | None:
    """The part of a run's core FlowRun JSON (what a poll returns) that changes only when the run
    is written, kept in the ``wire`` column by every write (:func:`_update_run`, ``create_run``), so
    a poll of 200 runs concatenates text instead of serializing 200 runs: the object's keys up to
    the state's ``name``, without the opening brace, the keys that depend on the clock or the
    queue (``state_name``, ``estimated_start_time_delta``, ``work_queue_id``; see
    :func:`wire_text`) and the state's name itself. None for a run without a state, and for a
    RUNNING run (its ``estimated_run_time`` grows with the clock): those are rendered whole.
    ``estimated`` (default: the stored ``total_run_time``) is for rendering a RUNNING run."""
    if row["state"] is None or (estimated is None and row["state_type"] == "RUNNING"):
        return None
    state = loads(row["state"]) if state is None else state
    body_text = row["body"]
    if estimated is None:
        match = _TOTAL_RE.search(body_text)
        estimated = float(match.group(1)) if match else 0.0
    head = dumps({
        "id": row["id"], "created": row["created"], "updated": row["updated"], "name": row["name"],
        "flow_id": row["flow_id"], "state_id": state.get("id"), "deployment_id": row["deployment_id"],
        "work_queue_name": row["work_queue_name"], "idempotency_key": row["idempotency_key"],
        "state_type": row["state_type"], "run_count": row["run_count"], "expected_start_time": row["expected_start_time"],
        "next_scheduled_start_time": row["next_scheduled_start_time"], "start_time": row["start_time"],
        "end_time": row["end_time"], "estimated_run_time": estimated, "created_by": None, "tags": None,
    })
    state_inner = dumps({key: value for key, value in state.items() if key != "name"})[1:-1]
    parts = [head[1:-len('null}')] + row["tags"], body_text[1:-1], '"state":{' + state_inner]
    return ",".join(part for part in parts if part) + ('' if not state_inner else ',') + '"name":'


def wire_text(wire: str, queue_id: str | None, state_type: str, state_name: str | None, next_start: str | None,
              expected_start: str | None, start_time: str | None, now: datetime, late_before: str) -> str:
    """A run's core FlowRun JSON from its ``wire`` text and the keys that move (:func:`poll_item`)."""
    head = f'{{"work_queue_id":{dumps(queue_id)},"state_name":'
    return poll_item(head, wire, state_type, state_name, next_start, expected_start, start_time, now, to_text(now),
                     late_before)[:-1]


def poll_item(head: str, wire: str, state_type: str, state_name: str | None, next_start: str | None,
              expected_start: str | None, start_time: str | None, now: datetime, now_text: str, late_before: str) -> str:
    """``head`` (the text before the run's ``state_name`` value), the run's JSON from its ``wire``,
    and one closing brace more (the poll's item around the run): "Late" for a SCHEDULED run named Scheduled whose start is more
    than ``LATE_AFTER_SECONDS`` past (``late_before``: now minus that, as stored text, whose order
    is time order), and ``estimated_start_time_delta`` for a run that has not started."""
    if state_name == "Scheduled":
        name = '"Late"' if state_type == "SCHEDULED" and next_start is not None and next_start < late_before else '"Scheduled"'
    else:
        name = dumps(state_name)
    if start_time is not None or expected_start is None or expected_start >= now_text or state_type in TERMINAL:
        return f'{head}{name},"estimated_start_time_delta":0.0,{wire}{name}}}}}}}'
    delta = max(0.0, (now - from_text(expected_start)).total_seconds())  # type: ignore[operator]
    return f'{head}{name},"estimated_start_time_delta":{delta!r},{wire}{name}}}}}}}'


def late_before(now: datetime) -> str:
    """The stored text of the latest start time that makes a SCHEDULED run Late at ``now``."""
    return to_text(now - timedelta(seconds=LATE_AFTER_SECONDS))  # type: ignore[return-value]


def core_run_text(row: Row, now: datetime) -> str:
    """The core FlowRun a poll returns (no work_pool_* keys, the stored queue name), as JSON text:
    :func:`wire_text` over the row's ``wire`` (computed here when the row has none)."""
    estimated = None
    if row["state_type"] == "RUNNING" and row["state_timestamp"]:
        match = _TOTAL_RE.search(row["body"])
        estimated = (float(match.group(1)) if match else 0.0) + max(
            0.0, (now - from_text(row["state_timestamp"])).total_seconds())  # type: ignore[operator]
    wire = run_wire(row, estimated=estimated)
    if wire is None:  # a run without a state
        return dumps(run_json_core(row, now))
    return wire_text(wire, row["work_queue_id"], row["state_type"], row["state_name"], row["next_scheduled_start_time"],
                     row["expected_start_time"], row["start_time"], now, late_before(now))


def run_json_core(row: Row, now: datetime) -> dict[str, Any]:
    """The core FlowRun of a run as a dict (no work_pool_* keys, the stored queue name)."""
    full = run_json(None, row, now, pool=(None, None, row["work_queue_name"]))  # type: ignore[arg-type]
    full.pop("work_pool_id")
    full.pop("work_pool_name")
    return full


@atomic
def read_flow_run(ctx: Ctx, run_id: str) -> dict[str, Any]:
    return run_json(ctx, run_row(ctx, run_id))


@atomic
def update_flow_run(ctx: Ctx, run_id: str, changes: dict[str, Any]) -> None:
    lock_run(ctx.store, run_id)
    row = run_row(ctx, run_id)
    body = loads(row["body"])
    if "job_variables" in changes:
        if row["state_type"] != "SCHEDULED" or not row["deployment_id"]:
            raise NotNow("Job variables for a flow run can only be updated while the run is SCHEDULED and has a deployment.")
        dep = ctx.store.one("SELECT work_pool_name, body FROM deployment WHERE id = ?", (row["deployment_id"],))
        if dep is not None and dep["work_pool_name"]:
            failure = job_variables_problem(
                pools.pool_template(ctx, dep["work_pool_name"]), loads(dep["body"]).get("job_variables") or {},
                changes["job_variables"] or {}, enforce_required=True,
            )
            if failure is not None:
                raise Invalid(failure.message if failure.invalid_schema else f"Error updating flow run: {failure.message}")
    columns: dict[str, Any] = {"updated": ctx.now_text()}
    for key, value in changes.items():
        if key == "name":
            if value is None:
                raise null_field("name")
            columns["name"] = value
        elif key == "tags":
            columns["tags"] = dumps(value or [])
        elif key == "empirical_policy":
            body[key] = {**EMPIRICAL_POLICY, **(value or {})}
        else:
            body[key] = value if value is not None or key in ("flow_version", "infrastructure_pid") else {}
    columns["body"] = dumps(body)
    _update_run(ctx, row, columns)


@atomic
def update_flow_run_labels(ctx: Ctx, run_id: str, labels: dict[str, Any]) -> None:
    lock_run(ctx.store, run_id)
    row = run_row(ctx, run_id, object_not_found("Flow run", run_id))
    body = loads(row["body"])
    body["labels"] = {**(body.get("labels") or {}), **labels}
    _update_run(ctx, row, {"body": dumps(body), "updated": ctx.now_text()})


@atomic
def delete_flow_run(ctx: Ctx, run_id: str) -> None:
    if not ctx.store.execute("DELETE FROM flow_run WHERE id = ?", (run_id,)):
        raise NotFound("Flow run not found")


def _run_where(ctx: Ctx, body: Any, now: datetime) -> tuple[str, str, list[Any], Any]:
    joins = ""
    parts: list[str] = []
    params: list[Any] = []
    tags_all: Any = None
    fr = body.flow_runs
    if fr is not None:
        sub: list[str] = []
        if fr.id is not None:
            if fr.id.any_ is not None:
                sub.append(in_clause("r.id", fr.id.any_, params))
            if fr.id.not_any_ is not None and fr.id.not_any_:
                sub.append("NOT " + in_clause("r.id", fr.id.not_any_, params))
        if fr.name is not None and fr.name.any_ is not None:
            sub.append(in_clause("r.name", fr.name.any_, params))
        if fr.name is not None and fr.name.like_ is not None:
            sub.append("LOWER(r.name) LIKE ?")
            params.append(f"%{fr.name.like_.lower()}%")
        for column, flt in (("r.deployment_id", fr.deployment_id), ("r.work_queue_name", fr.work_queue_name)):
            if flt is None:
                continue
            if flt.any_ is not None:
                sub.append(in_clause(column, flt.any_, params))
            if flt.is_null_ is not None:
                sub.append(f"{column} IS {'' if flt.is_null_ else 'NOT '}NULL")
        if fr.idempotency_key is not None and fr.idempotency_key.any_ is not None:
            sub.append(in_clause("r.idempotency_key", fr.idempotency_key.any_, params))
        if fr.state is not None:
            if fr.state.type is not None:
                if fr.state.type.any_ is not None:
                    sub.append(in_clause("r.state_type", fr.state.type.any_, params))
                if fr.state.type.not_any_:
                    sub.append("NOT " + in_clause("r.state_type", fr.state.type.not_any_, params))
            if fr.state.name is not None and fr.state.name.any_ is not None:
                names = [n for n in fr.state.name.any_ if n != "Late"]
                options = []
                if names:
                    clause = in_clause("r.state_name", names, params)
                    if "Scheduled" in names:
                        clause = f"({clause} AND NOT (r.state_type = 'SCHEDULED' AND r.state_name = 'Scheduled' AND r.next_scheduled_start_time < ?))"
                        params.append(to_text(now - timedelta(seconds=LATE_AFTER_SECONDS)))
                    options.append(clause)
                if "Late" in fr.state.name.any_:
                    options.append("(r.state_type = 'SCHEDULED' AND (r.state_name = 'Late' OR r.next_scheduled_start_time < ?))")
                    params.append(to_text(now - timedelta(seconds=LATE_AFTER_SECONDS)))
                sub.append(" OR ".join(options) if options else "1 = 0")
        for column, flt in (
            ("next_scheduled_start_time", fr.next_scheduled_start_time),
            ("expected_start_time", fr.expected_start_time),
            ("start_time", fr.start_time),
            ("end_time", fr.end_time),
        ):
            if flt is None:
                continue
            if flt.before_ is not None:
                sub.append(f"r.{column} <= ?")
                params.append(to_text(flt.before_))
            if flt.after_ is not None:
                sub.append(f"r.{column} >= ?")
                params.append(to_text(flt.after_))
            if flt.is_null_ is not None:
                sub.append(f"r.{column} IS {'' if flt.is_null_ else 'NOT '}NULL")
        if fr.tags is not None:
            tags_all = (fr.tags.all_, fr.tags.any_, fr.tags.is_null_)
        if sub:
            joiner = " OR " if fr.operator == "or_" else " AND "
            parts.append("(" + joiner.join(f"({s})" for s in sub) + ")")
    if body.flows is not None:
        if body.flows.id is not None and body.flows.id.any_ is not None:
            parts.append(in_clause("r.flow_id", body.flows.id.any_, params))
        if body.flows.name is not None and body.flows.name.any_ is not None:
            inner: list[Any] = []
            clause = in_clause("name", body.flows.name.any_, inner)
            parts.append(f"r.flow_id IN (SELECT id FROM flow WHERE {clause})")
            params.extend(inner)
    if body.deployments is not None:
        if body.deployments.id is not None and body.deployments.id.any_ is not None:
            parts.append(in_clause("r.deployment_id", body.deployments.id.any_, params))
        if body.deployments.name is not None and body.deployments.name.any_ is not None:
            inner = []
            clause = in_clause("name", body.deployments.name.any_, inner)
            parts.append(f"r.deployment_id IN (SELECT id FROM deployment WHERE {clause})")
            params.extend(inner)
    wq = body.work_pool_queues
    wp = body.work_pools
    if wq is not None or wp is not None:
        joins = " JOIN work_queue q ON q.id = r.work_queue_id JOIN work_pool p ON p.id = q.work_pool_id"
        if wp is not None:
            where, inner = pools.pool_where(wp)
            if where:
                parts.append(f"p.id IN (SELECT id FROM work_pool{where})")
                params.extend(inner)
        if wq is not None:
            where, inner = queues.queue_where(wq)
            if where:
                parts.append("1 = 1" + where)
                params.extend(inner)
    return joins, (" WHERE " + " AND ".join(parts)) if parts else "", params, tags_all


@atomic
def filter_flow_runs(ctx: Ctx, body: Any) -> list[dict[str, Any]]:
    limit = page_limit(body.limit)
    now = ctx.now()
    joins, where, params, tags_all = _run_where(ctx, body, now)
    cols = ", ".join(f"r.{c}" for c in RUN_COLUMN_NAMES)
    sql = f"SELECT {cols} FROM flow_run r{joins}{where} ORDER BY {SORTS[body.sort or 'ID_DESC']}"
    if tags_all is None:
        rows = ctx.store.query(sql + " LIMIT ? OFFSET ?", (*params, limit, body.offset or 0))
    else:
        rows = [r for r in ctx.store.query(sql, params) if _tags_match(loads(r["tags"]), tags_all)]
        rows = rows[(body.offset or 0):(body.offset or 0) + limit]
    return [run_json(ctx, r, now) for r in rows]


@atomic
def count_flow_runs(ctx: Ctx, body: Any) -> int:
    now = ctx.now()
    joins, where, params, tags_all = _run_where(ctx, body, now)
    if tags_all is None:
        return count(ctx.store.one(f"SELECT COUNT(*) AS n FROM flow_run r{joins}{where}", params))
    rows = ctx.store.query(f"SELECT r.tags FROM flow_run r{joins}{where}", params)
    return sum(1 for r in rows if _tags_match(loads(r["tags"]), tags_all))


@atomic
def set_state(ctx: Ctx, run_id: str, state: dict[str, Any], force: bool, worker: str | None = None) -> StateOutcome:
    """Orchestrate a proposed state from ``worker`` (the proposer's worker name, if it sent one):
    lock and load the run (and, for a move into a slot, its pool's stale claims and the slots it
    would take), ask ``leases`` and ``orchestration.decide``, write the state they accept (or the
    replacement imposed) and the claim it makes or ends."""
    proposed = state["type"]
    row = _locked_run(ctx, run_id, takes_slot=proposed in ACTIVE_TYPES)
    now = ctx.now()
    current = loads(row["state"])
    current_name = row["state_name"]
    if is_late(row, now):
        current_name = "Late"
    claim = ctx.store.one("SELECT claimant, reclaimed_from FROM flow_run WHERE id = ?", (run_id,))
    void_claim = leases.proposal_refusal(row["state_type"], proposed, claim["claimant"], claim["reclaimed_from"], worker)  # type: ignore[index]
    refusal = None
    if row["state_type"] not in ACTIVE_TYPES and proposed in ACTIVE_TYPES and row["work_queue_id"]:
        taken = slots.claim_slots(ctx, row["work_queue_id"])
        if taken is not None:
            refusal = scheduling.claim_refusal(*taken)
    scheduled_time = None
    if current is not None:
        scheduled_time = parse_time((current.get("state_details") or {}).get("scheduled_time"))
    decision = orchestration.decide(
        row["state_type"], current_name, proposed, state.get("name") or STATE_NAMES[proposed], force=force,
        scheduled_time=as_utc(scheduled_time) if scheduled_time else None, now=now, refusal=refusal,
        void_claim=void_claim,
    )
    if decision.status == "ACCEPT":
        written = _write_state(ctx, row, state, now)
        if proposed == "PENDING" and row["state_type"] not in ACTIVE_TYPES:
            ctx.store.execute("UPDATE flow_run SET claimant = ?, reclaimed_from = NULL WHERE id = ?", (worker, run_id))
        elif proposed not in ACTIVE_TYPES:
            ctx.store.execute("UPDATE flow_run SET claimant = NULL WHERE id = ?", (run_id,))
        return StateOutcome({"state": written, "status": "ACCEPT", "details": {"type": "accept_details"}}, True)
    if decision.status == "REJECT":
        details = {"type": "reject_details", "reason": decision.reason}
        if decision.replacement_type:
            written = _write_state(ctx, row, {"type": decision.replacement_type}, now)
            return StateOutcome({"state": written, "status": "REJECT", "details": details}, True)
        return StateOutcome({"state": current, "status": "REJECT", "details": details}, False)
    if decision.status == "WAIT":
        details = {"type": "wait_details", "delay_seconds": decision.delay_seconds, "reason": decision.reason}
        return StateOutcome({"state": current, "status": "WAIT", "details": details}, False)
    return StateOutcome({"state": current, "status": "ABORT", "details": {"type": "abort_details", "reason": decision.reason}}, False)


def stale_pool(ctx: Ctx, pool_name: str) -> str | None:
    """The id of the pool named when it has a run PENDING for longer than the lease (one
    indexed read, outside any transaction: the reclaim itself re-checks under the lock)."""
    cutoff = to_text(ctx.now() - timedelta(seconds=ctx.pending_timeout))
    found = ctx.store.one(
        "SELECT p.id FROM work_pool p JOIN work_queue q ON q.work_pool_id = p.id JOIN flow_run r ON r.work_queue_id = q.id "
        "WHERE p.name = ? AND r.state_type = 'PENDING' AND r.state_timestamp < ? LIMIT 1",
        (pool_name, cutoff),
    )
    return None if found is None else found["id"]


@atomic
def reclaim_stale(ctx: Ctx, pool_id: str) -> int:
    """Return the pool's stale claims to SCHEDULED (``leases`` rule 2); how many. Looks first
    without a lock, so a pool with nothing stale costs one indexed read."""
    now = ctx.now()
    if not _stale_candidates(ctx, pool_id, now):
        return 0
    lock_pool(ctx.store, pool_id)
    return _reclaim_in_pool(ctx, pool_id, now)


def _stale_candidates(ctx: Ctx, pool_id: str, now: datetime) -> list[Row]:
    cutoff = to_text(now - timedelta(seconds=ctx.pending_timeout))
    cols = ", ".join(f"r.{c}" for c in RUN_COLUMN_NAMES)
    return ctx.store.query(
        f"SELECT {cols}, r.claimant FROM flow_run r JOIN work_queue q ON q.id = r.work_queue_id "
        "WHERE q.work_pool_id = ? AND r.state_type = 'PENDING' AND r.state_timestamp < ? ORDER BY r.id",
        (pool_id, cutoff),
    )


def _reclaim_in_pool(ctx: Ctx, pool_id: str, now: datetime) -> int:
    """Reclaim the pool's stale claims; the caller holds the pool's lock."""
    stale = _stale_candidates(ctx, pool_id, now)
    if not stale:
        return 0
    heartbeats = {w["name"]: workers.is_online(w, now) for w in ctx.store.query(
        "SELECT name, last_heartbeat_time, heartbeat_interval_seconds FROM worker WHERE work_pool_id = ?", (pool_id,))}
    any_online = any(heartbeats.values())
    reclaimed = 0
    for row in stale:
        claimant = row["claimant"]
        reason = leases.reclaim_reason(
            leases.Claim(claimant=claimant, pending_since=from_text(row["state_timestamp"]),  # type: ignore[arg-type]
                         claimant_online=bool(claimant and heartbeats.get(claimant)), any_online=any_online),
            now, ctx.pending_timeout)
        if reason is None:
            continue
        lock_run(ctx.store, row["id"])
        locked = run_row(ctx, row["id"])
        if locked["state_type"] != "PENDING" or locked["state_timestamp"] != row["state_timestamp"]:
            continue  # it moved on before its lock was ours
        row = locked
        details = (loads(row["state"]) or {}).get("state_details") or {}
        _write_state(ctx, row, {"type": "SCHEDULED", "message": reason,
                                "state_details": {"scheduled_time": details.get("scheduled_time")}}, now)
        ctx.store.execute("UPDATE flow_run SET claimant = NULL, reclaimed_from = ? WHERE id = ?", (claimant, row["id"]))
        reclaimed += 1
    return reclaimed


def _write_state(ctx: Ctx, row: Row, proposed: dict[str, Any], now: datetime) -> dict[str, Any]:
    current = loads(row["state"])
    new_state = _make_state(row["id"], proposed, now)
    kind = new_state["type"]
    if kind == "PENDING" and current is not None and not (proposed.get("state_details") or {}).get("scheduled_time"):
        carried = (current.get("state_details") or {}).get("scheduled_time")
        if carried:
            new_state["state_details"]["scheduled_time"] = carried
    now_text = to_text(now)
    columns: dict[str, Any] = {
        "updated": now_text, "state_type": kind, "state_name": new_state["name"],
        "state_timestamp": new_state["timestamp"], "state": dumps(new_state),
        "next_scheduled_start_time": new_state["state_details"]["scheduled_time"] if kind == "SCHEDULED" else None,
    }
    if row["expected_start_time"] is None:
        columns["expected_start_time"] = new_state["state_details"].get("scheduled_time") or now_text
    if kind == "RUNNING":
        columns["run_count"] = int(row["run_count"] or 0) + 1
        if row["start_time"] is None:
            columns["start_time"] = now_text
    if row["state_type"] == "RUNNING" and row["state_timestamp"]:
        body = loads(row["body"])
        elapsed = (now - from_text(row["state_timestamp"])).total_seconds()  # type: ignore[operator]
        body["total_run_time"] = float(body.get("total_run_time") or 0.0) + max(0.0, elapsed)
        columns["body"] = dumps(body)
    if kind in TERMINAL:
        columns["end_time"] = now_text
    _update_run(ctx, row, columns, state=new_state)
    return new_state


def _update_run(ctx: Ctx, row: Row, columns: dict[str, Any], *, state: dict[str, Any] | None = None) -> None:
    """Write ``columns`` of the run ``row`` (read in this transaction, under its lock) and its
    ``wire`` made from the row as it becomes: every write of a column a FlowRun shows goes
    through here, so the text a poll sends is always the run's."""
    new = {**{key: row[key] for key in RUN_COLUMN_NAMES}, **columns}
    columns = {**columns, "wire": run_wire(new, state=state)}
    ctx.store.execute(f"UPDATE flow_run SET {', '.join(f'{key} = ?' for key in columns)} WHERE id = ?",
                      (*columns.values(), row["id"]))



_TOTAL_RE = re.compile(r'"total_run_time":(-?[0-9.eE+]+)')
_STATE_ID_RE = re.compile(r'\{"id":"([^"]+)"')


def _tags_match(tags: list[str], flt: tuple[Any, Any, Any]) -> bool:
    all_, any_, is_null = flt
    if all_ is not None and not set(all_) <= set(tags):
        return False
    if any_ is not None and not set(any_) & set(tags):
        return False
    if is_null is not None and (not tags) != is_null:
        return False
    return True


def parse_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    text = str(value).replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        raise Invalid(f"Invalid datetime {value!r}; use ISO-8601, e.g. 2026-01-01T10:00:00Z.") from None
