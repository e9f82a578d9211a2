"""Deployments (prefect-api.md §1.6): upserted on (flow, name), read, filtered, updated,
deleted, and runs created from them.

Rules: a deployment in a pool lands in the queue it names (created when missing) or the pool's
default queue; its ``job_variables`` are checked against the pool's template as Prefect 3.9.1
does (``template_rules``: on create when given, on PATCH only when the body names the pool, on
run creation with required variables enforced); its status is READY after a poll of its queue
within 60 s. Must not write run state: runs are created through ``flow_runs``.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reconciler.server.clock import from_text
from reconciler.server.domain import Ctx, atomic, flow_runs, flows, pools, queues
from reconciler.server.domain.refusals import Conflict, Invalid, NotFound, pool_not_found
from reconciler.server.domain.sql import dumps, in_clause, loads, new_id, page_limit
from reconciler.server.orchestration import ACTIVE_TYPES
from reconciler.server.store import Row, StoreBusy
from reconciler.template_rules import Failure, is_prepared, job_variables_problem, patch_job_variables_problem

POLL_TIMEOUT = 60
"""Seconds after the last poll of its queue that a deployment stays READY."""


def _refused(failure: Failure, doing: str) -> Invalid:
    return Invalid(failure.message if failure.invalid_schema else f"Error {doing}: {failure.message}")


def deployment_json(ctx: Ctx, row: Row, now: datetime | None = None) -> dict[str, Any]:
    now = now or ctx.now()
    body = loads(row["body"])
    polled = [from_text(row["last_polled"])]
    # As Prefect: the queue's (and its pool's) name while it has one, else the name last given.
    queue_name, pool_name = row["work_queue_name"], None
    if row["work_queue_id"]:
        q = ctx.store.one(
            "SELECT q.name, q.last_polled, p.name AS pool FROM work_queue q JOIN work_pool p ON p.id = q.work_pool_id "
            "WHERE q.id = ?", (row["work_queue_id"],),
        )
        if q is not None:
            polled.append(from_text(q["last_polled"]))
            queue_name, pool_name = q["name"], q["pool"]
    ready = any(p is not None and now - p <= timedelta(seconds=POLL_TIMEOUT) for p in polled)
    return {
        "id": row["id"], "created": row["created"], "updated": row["updated"], "name": row["name"],
        "version": body.get("version"), "description": body.get("description"), "flow_id": row["flow_id"],
        "paused": body.get("paused", False), "schedules": body.get("schedules", []),
        "concurrency_limit": body.get("concurrency_limit"), "global_concurrency_limit": None,
        "concurrency_options": body.get("concurrency_options"), "job_variables": body.get("job_variables", {}),
        "parameters": body.get("parameters", {}), "tags": body.get("tags", []), "labels": body.get("labels", {}),
        "work_queue_name": queue_name, "work_queue_id": row["work_queue_id"],
        "last_polled": row["last_polled"], "parameter_openapi_schema": body.get("parameter_openapi_schema") or {},
        "path": body.get("path"), "pull_steps": body.get("pull_steps") or [], "entrypoint": body.get("entrypoint"),
        "storage_document_id": body.get("storage_document_id"),
        "infrastructure_document_id": body.get("infrastructure_document_id"), "created_by": None,
        "updated_by": None, "work_pool_name": pool_name, "status": "READY" if ready else "NOT_READY",
        "enforce_parameter_schema": body.get("enforce_parameter_schema", True),
    }


def _deployment_row(ctx: Ctx, deployment_id: str, missing: str = "Deployment not found") -> Row:
    """The deployment, or a refusal worded ``missing`` (Prefect's PATCH route ends it with a period)."""
    row = ctx.store.one("SELECT * FROM deployment WHERE id = ?", (deployment_id,))
    if row is None:
        raise NotFound(missing)
    return row


@atomic
def create_deployment(ctx: Ctx, fields: dict[str, Any], explicit: set[str] | None = None) -> tuple[dict[str, Any], bool]:
    """Upsert on (flow_id, name); an update changes only the fields the request set. Returns the
    deployment and whether it was created."""
    flows.flow_row(ctx, fields["flow_id"])
    pool_name = fields.get("work_pool_name")
    queue_name = fields.get("work_queue_name")
    queue_id = None
    if pool_name and pool_name != pools.AGENT_POOL:
        pool = ctx.store.one("SELECT * FROM work_pool WHERE name = ?", (pool_name,))
        if pool is None:
            raise pool_not_found(pool_name)
        if fields.get("job_variables"):
            failure = job_variables_problem(loads(pool["base_job_template"]), fields["job_variables"], enforce_required=False)
            if failure is not None:
                raise _refused(failure, "creating deployment")
    queue = _queue_for(ctx, pool_name, queue_name)
    queue_id, pool_name = (queue["id"], queue["work_pool_name"]) if queue is not None else (None, None)
    labels = {"prefect.flow.id": fields["flow_id"], **(fields.get("labels") or {})}
    body = {k: v for k, v in fields.items() if k not in ("name", "flow_id", "work_pool_name", "work_queue_name")}
    body["labels"] = labels
    now = ctx.now_text()
    dep_id = new_id()
    created = bool(ctx.store.execute(
        "INSERT INTO deployment (id, created, updated, flow_id, name, work_pool_name, work_queue_name, "
        "work_queue_id, last_polled, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?) ON CONFLICT (flow_id, name) DO NOTHING",
        (dep_id, now, now, fields["flow_id"], fields["name"], pool_name, queue_name, queue_id, dumps(body)),
    ))
    if not created:  # an update: the row locked before its body is read and merged
        dep_id = ctx.store.one("SELECT id FROM deployment WHERE flow_id = ? AND name = ?", (fields["flow_id"], fields["name"]))["id"]  # type: ignore[index]
        ctx.store.lock("deployment", [dep_id])
        if explicit is not None:
            old = loads(ctx.store.one("SELECT body FROM deployment WHERE id = ?", (dep_id,))["body"])  # type: ignore[index]
            body = {**old, **{k: v for k, v in body.items() if k in explicit or k == "labels"}}
        ctx.store.execute(
            "UPDATE deployment SET updated = ?, work_pool_name = ?, work_queue_name = ?, work_queue_id = ?, "
            "body = ? WHERE id = ?",
            (now, pool_name, queue_name, queue_id, dumps(body), dep_id),
        )
    return deployment_json(ctx, _deployment_row(ctx, dep_id)), created


@atomic
def read_deployment(ctx: Ctx, deployment_id: str) -> dict[str, Any]:
    return deployment_json(ctx, _deployment_row(ctx, deployment_id))


def deployment_pool_name(ctx: Ctx, deployment_id: str) -> str | None:
    """The name of the pool a deployment is in (None: no pool, or no such deployment); one read."""
    row = ctx.store.one("SELECT work_pool_name FROM deployment WHERE id = ?", (deployment_id,))
    return None if row is None else row["work_pool_name"]


@atomic
def read_deployment_by_name(ctx: Ctx, flow_name: str, name: str) -> dict[str, Any]:
    row = ctx.store.one(
        "SELECT d.* FROM deployment d JOIN flow f ON f.id = d.flow_id WHERE f.name = ? AND d.name = ?",
        (flow_name, name),
    )
    if row is None:
        raise NotFound("Deployment not found")
    return deployment_json(ctx, row)


@atomic
def filter_deployments(ctx: Ctx, body: Any, count: bool = False) -> Any:
    """The matching deployments, or with ``count`` how many match (paging ignored)."""
    limit = page_limit(body.limit)
    parts: list[str] = []
    params: list[Any] = []
    deps = body.deployments or {}
    for key in ("id", "name"):
        sub = deps.get(key) if isinstance(deps, dict) else None
        if isinstance(sub, dict) and sub.get("any_") is not None:
            parts.append(in_clause(f"d.{key}", sub["any_"], params))
    wanted = body.flows or {}
    for key in ("id", "name"):
        sub = wanted.get(key) if isinstance(wanted, dict) else None
        if isinstance(sub, dict) and sub.get("any_") is not None:
            parts.append(in_clause(f"f.{key}", sub["any_"], params))
    if body.work_pools is not None and body.work_pools.name is not None and body.work_pools.name.any_ is not None:
        parts.append(in_clause("d.work_pool_name", body.work_pools.name.any_, params))
    where = (" WHERE " + " AND ".join(parts)) if parts else ""
    if count:
        return ctx.store.one(f"SELECT COUNT(*) AS n FROM deployment d JOIN flow f ON f.id = d.flow_id{where}", params)["n"]  # type: ignore[index]
    rows = ctx.store.query(
        f"SELECT d.* FROM deployment d JOIN flow f ON f.id = d.flow_id{where} ORDER BY d.name, d.id LIMIT ? OFFSET ?",
        (*params, limit, body.offset or 0),
    )
    now = ctx.now()
    return [deployment_json(ctx, r, now) for r in rows]


def _queue_for(ctx: Ctx, pool_name: str | None, queue_name: str | None) -> Row | None:
    """The queue a deployment create or PATCH names, as Prefect 3.9.1 resolves it: a pool and a
    queue name that queue of the pool (created when missing), a pool alone its default queue, a
    queue name alone :func:`queues.ensure_queue`, neither no queue."""
    if pool_name:
        return queues.resolve_queue(ctx, pool_name, queue_name or None, create=True)[1]
    if queue_name:
        return queues.ensure_queue(ctx, queue_name)
    return None


@atomic
def update_deployment(ctx: Ctx, deployment_id: str, changes: dict[str, Any]) -> None:
    """Set the fields in ``changes``. Where it runs, as Prefect 3.9.1 decides: a pool and a queue
    name that queue of the pool (created when missing), a pool alone its default queue, a null
    pool no queue, and a queue name alone the queue :func:`queues.ensure_queue` finds or makes
    (by name across pools, so the deployment may move pool). Naming a pool checks the new
    ``job_variables`` alone against its template (a 409 in Prefect's words)."""
    row = _deployment_row(ctx, deployment_id, "Deployment not found.")
    seen = (row["work_pool_name"], row["work_queue_id"])
    pool_name, queue_id = seen
    queue_name = changes["work_queue_name"] if "work_queue_name" in changes else row["work_queue_name"]
    new_pool = changes.get("work_pool_name")
    if new_pool:
        pool = ctx.store.one("SELECT * FROM work_pool WHERE name = ?", (new_pool,))
        if pool is None:
            raise pool_not_found(new_pool)
        if changes.get("job_variables") is not None:
            failure = patch_job_variables_problem(loads(pool["base_job_template"]), changes["job_variables"])
            if failure is not None:
                raise Conflict(f"Error creating deployment: {failure!r}")
    clears = "work_pool_name" in changes and new_pool is None
    moves = clears or bool(new_pool) or bool(changes.get("work_queue_name"))
    if clears:
        pool_name, queue_id = None, None
    elif moves:
        queue = _queue_for(ctx, new_pool, changes.get("work_queue_name"))
        assert queue is not None
        pool_name, queue_id = queue["work_pool_name"], queue["id"]
    ctx.store.lock("deployment", [deployment_id])  # after the pool's lock (resolve_queue), as everywhere
    row = _deployment_row(ctx, deployment_id, "Deployment not found.")
    if not moves and (row["work_pool_name"], row["work_queue_id"]) != seen:
        raise StoreBusy("the deployment moved to another queue meanwhile")  # atomic runs it again
    body = loads(row["body"])
    for key, value in changes.items():
        if key not in ("work_pool_name", "work_queue_name"):
            body[key] = value
    ctx.store.execute(
        "UPDATE deployment SET updated = ?, work_pool_name = ?, work_queue_name = ?, work_queue_id = ?, body = ? WHERE id = ?",
        (ctx.now_text(), pool_name, queue_name, queue_id, dumps(body), deployment_id),
    )


@atomic
def delete_deployment(ctx: Ctx, deployment_id: str) -> None:
    if not ctx.store.execute("DELETE FROM deployment WHERE id = ?", (deployment_id,)):
        raise NotFound("Deployment not found")


_RUN_SOURCE = (
    "SELECT d.*, p.id AS pool_id, p.base_job_template AS pool_template, q.name AS queue_current_name, "
    "qp.id AS queue_pool_id, qp.name AS queue_pool_name, nq.id AS named_queue_id, nq.name AS named_queue_name "
    "FROM deployment d LEFT JOIN work_pool p ON p.name = d.work_pool_name LEFT JOIN work_queue q ON q.id = d.work_queue_id "
    "LEFT JOIN work_pool qp ON qp.id = q.work_pool_id LEFT JOIN work_queue nq ON nq.work_pool_id = p.id AND nq.name = ? "
    "WHERE d.id = ?"
)
"""A deployment with what a run of it needs in one read: its pool's id and template, its queue's
current name and pool (what ``flow_runs.run_json`` would otherwise look up), and the queue of its
pool the request names (the first parameter; none matches NULL)."""


_SOURCE_PRINT = ("md5(ROW(d.flow_id, d.work_pool_name, d.work_queue_id, d.work_queue_name, d.body, p.id, "
                 "p.base_job_template, q.name, qp.id, qp.name, nq.id, nq.name)::text)")
"""On PostgreSQL, a digest of what :data:`_RUN_SOURCE` reads that a run of the deployment depends
on (not ``last_polled`` and the like, which polls rewrite)."""

_KNOWN: "weakref.WeakKeyDictionary[Any, dict[tuple[str, str | None], Row]]" = weakref.WeakKeyDictionary()
"""Per store, ``_RUN_SOURCE`` rows by (deployment id, queue name asked), with their
``source_print``: the next run of the deployment is inserted on the condition that the database
still has exactly this (:func:`create_deployment_run`). What a server process keeps for itself:
every replica checks it against the database in the statement that writes."""
KNOWN_MAX = 1024
"""Deployments :data:`_KNOWN` keeps per store (forgotten all at once when full)."""


@dataclass(frozen=True)
class Unprepared:
    """What :func:`create_deployment_run` answers, having written nothing, when its pool's template
    has not been prepared for checks yet (``template_rules.prepare``, seconds for a large template):
    the caller prepares it off the event loop and asks again."""

    template: dict[str, Any]


def create_deployment_run(ctx: Ctx, deployment_id: str, fields: dict[str, Any], *,
                          unprepared_ok: bool = False) -> dict[str, Any] | Unprepared:
    """A run of the deployment (SCHEDULED now unless a state is given), its job variables
    checked with required ones enforced; :class:`Unprepared` instead when the pool's template
    is not prepared and not ``unprepared_ok``. Statements: the deployment with its pool and
    queues (one read), the insert (and a missing named queue created), in one transaction. On
    PostgreSQL, a run of a deployment this process has read before is one statement in no
    transaction (:func:`known_run`)."""
    planned = known_run(ctx, deployment_id, fields, unprepared_ok=unprepared_ok)
    if isinstance(planned, Unprepared):
        return planned
    if planned is not None:
        if ctx.store.execute(planned.sql, planned.params):
            return planned.run
        forget(ctx, deployment_id, fields)
    return _create_deployment_run(ctx, deployment_id, fields, unprepared_ok=unprepared_ok)


def known_run(ctx: Ctx, deployment_id: str, fields: dict[str, Any], *,
              unprepared_ok: bool = False) -> flow_runs.Insert | Unprepared | None:
    """On PostgreSQL, a run of a deployment this process has read before (:data:`_KNOWN`), with no
    idempotency key and in a state that takes no slot, as one statement to send as a transaction
    of its own: the insert, on the condition that the deployment, its pool and queues are still
    what was read (when it writes nothing, :func:`forget` it and call
    :func:`create_deployment_run`). None for any other run; refusals are raised as
    :func:`create_deployment_run` raises them."""
    if ctx.store.dialect != "postgresql" or fields.get("idempotency_key") is not None:
        return None
    known = _KNOWN.get(ctx.store, {}).get((deployment_id, fields.get("work_queue_name")))
    if known is None or (fields.get("state") or {}).get("type") in ACTIVE_TYPES:
        return None
    return _run_from(ctx, known, deployment_id, fields, unprepared_ok=unprepared_ok)  # type: ignore[return-value]


def forget(ctx: Ctx, deployment_id: str, fields: dict[str, Any]) -> None:
    """What :data:`_KNOWN` holds for this run's deployment and queue, once the database has shown it changed."""
    _KNOWN.get(ctx.store, {}).pop((deployment_id, fields.get("work_queue_name")), None)


@atomic
def _create_deployment_run(ctx: Ctx, deployment_id: str, fields: dict[str, Any], *,
                           unprepared_ok: bool = False) -> dict[str, Any] | Unprepared:
    wanted = fields.get("work_queue_name")
    printed = ctx.store.dialect == "postgresql"
    dep = ctx.store.one(_RUN_SOURCE.replace("SELECT d.*,", f"SELECT {_SOURCE_PRINT} AS source_print, d.*,")
                        if printed else _RUN_SOURCE, (wanted, deployment_id))
    if dep is None:
        raise NotFound("Deployment not found")
    if printed and (not wanted or dep["named_queue_id"] is not None):  # nothing to create for a run of it
        known = _KNOWN.setdefault(ctx.store, {})
        if len(known) >= KNOWN_MAX:
            known.clear()
        known[(deployment_id, wanted)] = dep
    return _run_from(ctx, dep, deployment_id, fields, unprepared_ok=unprepared_ok)


def _run_from(ctx: Ctx, dep: Row, deployment_id: str, fields: dict[str, Any], *,
              unprepared_ok: bool) -> dict[str, Any] | flow_runs.Insert | Unprepared:
    """:func:`create_deployment_run` from the deployment's ``_RUN_SOURCE`` row; outside a
    transaction (a row from :data:`_KNOWN`), the insert to send, conditional on the row's
    ``source_print``."""
    wanted = fields.get("work_queue_name")
    guard = None
    if not ctx.store.in_transaction:
        guard = (f"(SELECT {_SOURCE_PRINT} {_RUN_SOURCE[_RUN_SOURCE.index('FROM deployment d'):]}) = ?",
                 (wanted, deployment_id, dep["source_print"]))
    body = loads(dep["body"])
    queue_id, queue_name = dep["work_queue_id"], dep["work_queue_name"]
    pool_of_run: tuple[str | None, ...] = (None, None)
    if dep["queue_pool_id"] is not None:  # the deployment's queue, as run_json reads it
        pool_of_run = (dep["queue_pool_id"], dep["queue_pool_name"], dep["queue_current_name"])
    if dep["work_pool_name"]:
        template = {} if dep["pool_id"] is None else pools.parsed_template(dep["pool_template"])
        if not unprepared_ok and not is_prepared(template):
            return Unprepared(template)
        if wanted:
            if dep["named_queue_id"] is None:  # a missing pool is refused, a missing queue created, as Prefect does
                assert guard is None, "a known deployment's run creates no queue"
                pool, queue = queues.resolve_queue(ctx, dep["work_pool_name"], wanted, create=True)
                pool_of_run = (pool["id"], pool["name"], queue["name"])
            else:
                queue = {"id": dep["named_queue_id"], "name": dep["named_queue_name"]}
                pool_of_run = (dep["pool_id"], dep["work_pool_name"], queue["name"])
            queue_id, queue_name = queue["id"], queue["name"]
        failure = job_variables_problem(template, body.get("job_variables") or {},
                                        fields.get("job_variables") or {}, enforce_required=True)
        if failure is not None:
            raise _refused(failure, "creating flow run")
    elif fields.get("work_queue_name"):
        queue_name = fields["work_queue_name"]
    state = fields.get("state") or {"type": "SCHEDULED"}
    labels = {**(body.get("labels") or {}), "prefect.deployment.id": deployment_id, **(fields.get("labels") or {})}
    labels.setdefault("prefect.flow.id", dep["flow_id"])
    tags = list(dict.fromkeys([*(body.get("tags") or []), *(fields.get("tags") or [])]))
    run_fields: dict[str, Any] = dict(
        flow_id=dep["flow_id"], name=fields.get("name"), state=state,
        parameters={**(body.get("parameters") or {}), **(fields.get("parameters") or {})},
        context=fields.get("context") or {}, tags=tags, labels=labels,
        idempotency_key=fields.get("idempotency_key"), queue_id=queue_id, queue_name=queue_name,
        job_variables=fields.get("job_variables") or {}, deployment_id=deployment_id,
        extra={"empirical_policy": fields.get("empirical_policy"),
               "parent_task_run_id": fields.get("parent_task_run_id"),
               "infrastructure_document_id": fields.get("infrastructure_document_id")},
    )
    if guard is not None:
        return flow_runs.guarded_run(ctx, guard=guard, pool=pool_of_run, **run_fields)
    return flow_runs.create_run(ctx, pool=pool_of_run, **run_fields)[0]
