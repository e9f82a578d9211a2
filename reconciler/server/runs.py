"""Flows, deployments and flow runs: creation, filters, state orchestration and the
scheduled-run poll (prefect-api.md §1.5, §1.6, §4).

``ServerCore`` extends ``core.Core``; every public method runs in one store
transaction.  Decisions come from the pure ``scheduling`` and ``orchestration``
modules; this module only loads what they need and writes what they decide.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta
from typing import Any, Sequence

from reconciler.server import orchestration, scheduling
from reconciler.server.clock import as_utc, from_text, to_text
from reconciler.server.core import (
    AGENT_POOL,
    DEPLOYMENT_POLL_TIMEOUT,
    LATE_AFTER_SECONDS,
    QUEUE_COLUMNS,
    ApiError,
    Core,
    _in_clause,
    check_limit,
    dumps,
    loads,
    new_id,
    pool_not_found,
    queue_not_found,
)
from reconciler.server.jobtemplates import check_job_variables, failure_text
from reconciler.server.store import Row

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
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED", "CRASHED"}
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
RUN_COLUMNS = (
    "id, created, updated, name, flow_id, deployment_id, work_queue_id, work_queue_name, idempotency_key, "
    "state_type, state_name, state_timestamp, next_scheduled_start_time, expected_start_time, start_time, "
    "end_time, run_count, tags, state, body"
)
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


def _slug() -> str:
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_ANIMALS)}"


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return to_text(value)
    return str(value)


class ServerCore(Core):
    # ------------------------------------------------------------------- flows

    def flow_json(self, row: Row) -> dict[str, Any]:
        return {
            "id": row["id"], "created": row["created"], "updated": row["updated"], "name": row["name"],
            "tags": loads(row["tags"]), "labels": loads(row["labels"]),
        }

    def create_flow(self, name: str, tags: list[str], labels: dict[str, Any] | None) -> tuple[dict[str, Any], bool]:
        with self.store.transaction():
            row = self.store.one("SELECT * FROM flow WHERE name = ?", (name,))
            if row is not None:
                return self.flow_json(row), False
            now = self.now_text()
            flow_id = new_id()
            self.store.execute(
                "INSERT INTO flow (id, created, updated, name, tags, labels) VALUES (?, ?, ?, ?, ?, ?)",
                (flow_id, now, now, name, dumps(tags), dumps(labels or {})),
            )
            return self.flow_json(self.store.one("SELECT * FROM flow WHERE id = ?", (flow_id,))), True  # type: ignore[arg-type]

    def read_flow(self, flow_id: str) -> dict[str, Any]:
        with self.store.transaction():
            row = self.store.one("SELECT * FROM flow WHERE id = ?", (flow_id,))
        if row is None:
            raise ApiError(404, "Flow not found")
        return self.flow_json(row)

    def read_flow_by_name(self, name: str) -> dict[str, Any]:
        with self.store.transaction():
            row = self.store.one("SELECT * FROM flow WHERE name = ?", (name,))
        if row is None:
            raise ApiError(404, "Flow not found")
        return self.flow_json(row)

    def filter_flows(self, names: list[str] | None, ids: list[str] | None, limit: int | None, offset: int | None,
                     count: bool = False) -> Any:
        """The matching flows, or with ``count`` how many match (paging ignored)."""
        limit = check_limit(limit)
        parts, params = [], []  # type: ignore[var-annotated]
        if names is not None:
            parts.append(_in_clause("name", names, params))
        if ids is not None:
            parts.append(_in_clause("id", ids, params))
        where = (" WHERE " + " AND ".join(parts)) if parts else ""
        with self.store.transaction():
            if count:
                return self.store.one(f"SELECT COUNT(*) AS n FROM flow{where}", params)["n"]  # type: ignore[index]
            rows = self.store.query(f"SELECT * FROM flow{where} ORDER BY name LIMIT ? OFFSET ?", (*params, limit, offset or 0))
        return [self.flow_json(r) for r in rows]

    def _flow_row(self, flow_id: str) -> Row:
        row = self.store.one("SELECT * FROM flow WHERE id = ?", (flow_id,))
        if row is None:
            raise ApiError(404, f"Flow {flow_id} not found; create it with POST /api/flows/ first.")
        return row

    # ---------------------------------------------------------- queue lookups

    def _resolve_queue(self, pool_name: str, queue_name: str | None, *, create: bool) -> tuple[Row, Row]:
        pool = self.store.one("SELECT * FROM work_pool WHERE name = ?", (pool_name,))
        if pool is None:
            raise pool_not_found(pool_name)
        if queue_name is None:
            queue = self.store.one(
                f"SELECT {QUEUE_COLUMNS} FROM work_queue q JOIN work_pool p ON p.id = q.work_pool_id WHERE q.id = ?",
                (pool["default_queue_id"],),
            )
        else:
            queue = self.store.one(
                f"SELECT {QUEUE_COLUMNS} FROM work_queue q JOIN work_pool p ON p.id = q.work_pool_id "
                "WHERE q.work_pool_id = ? AND q.name = ?",
                (pool["id"], queue_name),
            )
            if queue is None:
                if not create:
                    raise queue_not_found(pool_name, queue_name)
                created = self._create_queue_in(pool, queue_name, "", False, None, None)
                queue = self._queue_by_id(created["id"])
        if queue is None:
            raise queue_not_found(pool_name, queue_name or "default")
        return pool, queue

    # ------------------------------------------------------------- deployments

    def deployment_json(self, row: Row, now: datetime | None = None) -> dict[str, Any]:
        now = now or self.now()
        body = loads(row["body"])
        polled = [from_text(row["last_polled"])]
        if row["work_queue_id"]:
            q = self.store.one("SELECT last_polled FROM work_queue WHERE id = ?", (row["work_queue_id"],))
            if q is not None:
                polled.append(from_text(q["last_polled"]))
        ready = any(p is not None and now - p <= timedelta(seconds=DEPLOYMENT_POLL_TIMEOUT) for p in polled)
        return {
            "id": row["id"], "created": row["created"], "updated": row["updated"], "name": row["name"],
            "version": body.get("version"), "description": body.get("description"), "flow_id": row["flow_id"],
            "paused": body.get("paused", False), "schedules": body.get("schedules", []),
            "concurrency_limit": body.get("concurrency_limit"), "global_concurrency_limit": None,
            "concurrency_options": body.get("concurrency_options"), "job_variables": body.get("job_variables", {}),
            "parameters": body.get("parameters", {}), "tags": body.get("tags", []), "labels": body.get("labels", {}),
            "work_queue_name": row["work_queue_name"], "work_queue_id": row["work_queue_id"],
            "last_polled": row["last_polled"], "parameter_openapi_schema": body.get("parameter_openapi_schema") or {},
            "path": body.get("path"), "pull_steps": body.get("pull_steps") or [], "entrypoint": body.get("entrypoint"),
            "storage_document_id": body.get("storage_document_id"),
            "infrastructure_document_id": body.get("infrastructure_document_id"), "created_by": None,
            "updated_by": None, "work_pool_name": row["work_pool_name"], "status": "READY" if ready else "NOT_READY",
            "enforce_parameter_schema": body.get("enforce_parameter_schema", True),
        }

    def _deployment_row(self, deployment_id: str) -> Row:
        row = self.store.one("SELECT * FROM deployment WHERE id = ?", (deployment_id,))
        if row is None:
            raise ApiError(404, "Deployment not found")
        return row

    def _pool_template(self, pool_name: str | None) -> dict[str, Any]:
        if not pool_name:
            return {}
        row = self.store.one("SELECT base_job_template FROM work_pool WHERE name = ?", (pool_name,))
        return loads(row["base_job_template"]) if row else {}

    def create_deployment(self, fields: dict[str, Any], explicit: set[str] | None = None) -> tuple[dict[str, Any], bool]:
        """Upsert on (flow_id, name); an update changes only the fields the request set."""
        with self.store.transaction():
            self._flow_row(fields["flow_id"])
            pool_name = fields.get("work_pool_name")
            queue_name = fields.get("work_queue_name")
            queue_id = None
            if pool_name and pool_name != AGENT_POOL:
                pool = self.store.one("SELECT * FROM work_pool WHERE name = ?", (pool_name,))
                if pool is None:
                    raise pool_not_found(pool_name)
                error = check_job_variables(
                    loads(pool["base_job_template"]), fields.get("job_variables") or {}, enforce_required=False
                )
                if error is not None:
                    raise ApiError(422, f"Error creating deployment: {failure_text(error)}")
                _, queue = self._resolve_queue(pool_name, queue_name, create=True)
                queue_id, queue_name = queue["id"], queue["name"]
            labels = {"prefect.flow.id": fields["flow_id"], **(fields.get("labels") or {})}
            body = {k: v for k, v in fields.items() if k not in ("name", "flow_id", "work_pool_name", "work_queue_name")}
            body["labels"] = labels
            now = self.now_text()
            existing = self.store.one(
                "SELECT id FROM deployment WHERE flow_id = ? AND name = ?", (fields["flow_id"], fields["name"])
            )
            if existing is None:
                dep_id = new_id()
                self.store.execute(
                    "INSERT INTO deployment (id, created, updated, flow_id, name, work_pool_name, work_queue_name, "
                    "work_queue_id, last_polled, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                    (dep_id, now, now, fields["flow_id"], fields["name"], pool_name, queue_name, queue_id, dumps(body)),
                )
            else:
                dep_id = existing["id"]
                if explicit is not None:
                    old = loads(self.store.one("SELECT body FROM deployment WHERE id = ?", (dep_id,))["body"])  # type: ignore[index]
                    body = {**old, **{k: v for k, v in body.items() if k in explicit or k == "labels"}}
                self.store.execute(
                    "UPDATE deployment SET updated = ?, work_pool_name = ?, work_queue_name = ?, work_queue_id = ?, "
                    "body = ? WHERE id = ?",
                    (now, pool_name, queue_name, queue_id, dumps(body), dep_id),
                )
            return self.deployment_json(self._deployment_row(dep_id)), existing is None

    def read_deployment(self, deployment_id: str) -> dict[str, Any]:
        with self.store.transaction():
            return self.deployment_json(self._deployment_row(deployment_id))

    def read_deployment_by_name(self, flow_name: str, name: str) -> dict[str, Any]:
        with self.store.transaction():
            row = self.store.one(
                "SELECT d.* FROM deployment d JOIN flow f ON f.id = d.flow_id WHERE f.name = ? AND d.name = ?",
                (flow_name, name),
            )
            if row is None:
                raise ApiError(404, "Deployment not found")
            return self.deployment_json(row)

    def filter_deployments(self, body: Any, count: bool = False) -> Any:
        """The matching deployments, or with ``count`` how many match (paging ignored)."""
        limit = check_limit(body.limit)
        parts: list[str] = []
        params: list[Any] = []
        deps = body.deployments or {}
        for key in ("id", "name"):
            sub = deps.get(key) if isinstance(deps, dict) else None
            if isinstance(sub, dict) and sub.get("any_") is not None:
                parts.append(_in_clause(f"d.{key}", sub["any_"], params))
        flows = body.flows or {}
        for key in ("id", "name"):
            sub = flows.get(key) if isinstance(flows, dict) else None
            if isinstance(sub, dict) and sub.get("any_") is not None:
                parts.append(_in_clause(f"f.{key}", sub["any_"], params))
        if body.work_pools is not None and body.work_pools.name is not None and body.work_pools.name.any_ is not None:
            parts.append(_in_clause("d.work_pool_name", body.work_pools.name.any_, params))
        where = (" WHERE " + " AND ".join(parts)) if parts else ""
        with self.store.transaction():
            if count:
                return self.store.one(f"SELECT COUNT(*) AS n FROM deployment d JOIN flow f ON f.id = d.flow_id{where}", params)["n"]  # type: ignore[index]
            rows = self.store.query(
                f"SELECT d.* FROM deployment d JOIN flow f ON f.id = d.flow_id{where} ORDER BY d.name, d.id LIMIT ? OFFSET ?",
                (*params, limit, body.offset or 0),
            )
            now = self.now()
            return [self.deployment_json(r, now) for r in rows]

    def update_deployment(self, deployment_id: str, changes: dict[str, Any]) -> None:
        with self.store.transaction():
            row = self._deployment_row(deployment_id)
            body = loads(row["body"])
            pool_name = row["work_pool_name"]
            queue_name = row["work_queue_name"]
            queue_id = row["work_queue_id"]
            if "work_pool_name" in changes:
                pool_name = changes["work_pool_name"]
                if pool_name:
                    pool = self.store.one("SELECT * FROM work_pool WHERE name = ?", (pool_name,))
                    if pool is None:
                        raise pool_not_found(pool_name)
                    variables = changes.get("job_variables", body.get("job_variables") or {})
                    error = check_job_variables(loads(pool["base_job_template"]), variables or {}, enforce_required=False)
                    if error is not None:
                        raise ApiError(409, f"Error creating deployment: {error!r}")
            if ("work_pool_name" in changes or "work_queue_name" in changes) and pool_name:
                if "work_queue_name" in changes:
                    queue_name = changes["work_queue_name"]
                else:
                    queue_name = None
                _, queue = self._resolve_queue(pool_name, queue_name, create=True)
                queue_id, queue_name = queue["id"], queue["name"]
            elif "work_queue_name" in changes:
                queue_name = changes["work_queue_name"]
            for key, value in changes.items():
                if key not in ("work_pool_name", "work_queue_name"):
                    body[key] = value
            self.store.execute(
                "UPDATE deployment SET updated = ?, work_pool_name = ?, work_queue_name = ?, work_queue_id = ?, body = ? "
                "WHERE id = ?",
                (self.now_text(), pool_name, queue_name, queue_id, dumps(body), deployment_id),
            )

    def delete_deployment(self, deployment_id: str) -> None:
        with self.store.transaction():
            if not self.store.execute("DELETE FROM deployment WHERE id = ?", (deployment_id,)):
                raise ApiError(404, "Deployment not found")

    def create_deployment_run(self, deployment_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        with self.store.transaction():
            dep = self._deployment_row(deployment_id)
            body = loads(dep["body"])
            queue_id, queue_name = dep["work_queue_id"], dep["work_queue_name"]
            if dep["work_pool_name"]:
                if fields.get("work_queue_name"):
                    _, queue = self._resolve_queue(dep["work_pool_name"], fields["work_queue_name"], create=True)
                    queue_id, queue_name = queue["id"], queue["name"]
                template = self._pool_template(dep["work_pool_name"])
                error = check_job_variables(
                    template, body.get("job_variables") or {}, fields.get("job_variables") or {}, enforce_required=True
                )
                if error is not None:
                    raise ApiError(422, f"Error creating flow run: {failure_text(error)}")
            elif fields.get("work_queue_name"):
                queue_name = fields["work_queue_name"]
            state = fields.get("state") or {"type": "SCHEDULED"}
            labels = {**(body.get("labels") or {}), "prefect.deployment.id": deployment_id, **(fields.get("labels") or {})}
            labels.setdefault("prefect.flow.id", dep["flow_id"])
            tags = list(dict.fromkeys([*(body.get("tags") or []), *(fields.get("tags") or [])]))
            run, _ = self._create_run(
                flow_id=dep["flow_id"], name=fields.get("name"), state=state,
                parameters={**(body.get("parameters") or {}), **(fields.get("parameters") or {})},
                context=fields.get("context") or {}, tags=tags, labels=labels,
                idempotency_key=fields.get("idempotency_key"), queue_id=queue_id, queue_name=queue_name,
                job_variables=fields.get("job_variables") or {}, deployment_id=deployment_id,
                extra={"empirical_policy": fields.get("empirical_policy"),
                       "parent_task_run_id": fields.get("parent_task_run_id"),
                       "infrastructure_document_id": fields.get("infrastructure_document_id")},
            )
            return run

    # --------------------------------------------------------------- flow runs

    def create_flow_run(self, fields: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        with self.store.transaction():
            self._flow_row(fields["flow_id"])
            queue_id = None
            pool: tuple[str | None, ...] | None = (None, None)
            queue_name = fields.get("work_queue_name")
            if fields.get("work_pool_name"):
                pool_row, queue = self._resolve_queue(fields["work_pool_name"], queue_name, create=False)
                queue_id = queue["id"]
                pool = (pool_row["id"], pool_row["name"], queue["name"])
            labels = {"prefect.flow.id": fields["flow_id"], **(fields.get("labels") or {})}
            return self._create_run(
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

    def _create_run(
        self, *, flow_id: str, name: str | None, state: dict[str, Any], parameters: dict[str, Any],
        context: dict[str, Any], tags: list[str], labels: dict[str, Any], idempotency_key: str | None,
        queue_id: str | None, queue_name: str | None, job_variables: dict[str, Any], deployment_id: str | None,
        extra: dict[str, Any], pool: tuple[str | None, ...] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        if idempotency_key is not None:
            existing = self.store.one(
                f"SELECT {RUN_COLUMNS} FROM flow_run WHERE flow_id = ? AND idempotency_key = ?", (flow_id, idempotency_key)
            )
            if existing is not None:
                return self.run_json(existing), False
        now = self.now()
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
        new_state = self._make_state(run_id, state, now)
        sched = new_state["state_details"].get("scheduled_time") if new_state["type"] == "SCHEDULED" else None
        expected = sched or new_state["timestamp"]
        values = (
            run_id, now_text, now_text, name or _slug(), flow_id, deployment_id, queue_id, queue_name,
            idempotency_key, new_state["type"], new_state["name"], new_state["timestamp"], sched, expected,
            now_text if new_state["type"] == "RUNNING" else None,
            now_text if new_state["type"] in TERMINAL else None,
            1 if new_state["type"] == "RUNNING" else 0, dumps(tags), dumps(new_state), dumps(body),
        )
        self.store.execute(
            f"INSERT INTO flow_run ({RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )
        row = dict(zip((c.strip() for c in RUN_COLUMNS.split(",")), values))
        return self.run_json(row, now, pool=pool), True

    def _make_state(self, run_id: str, state: dict[str, Any], now: datetime) -> dict[str, Any]:
        kind = state["type"]
        details = {key: DETAIL_DEFAULTS.get(key) for key in STATE_DETAIL_KEYS}
        for key, value in (state.get("state_details") or {}).items():
            details[key] = _iso(value) if isinstance(value, datetime) else value
        details["flow_run_id"] = run_id
        if kind == "SCHEDULED":
            when = details.get("scheduled_time")
            details["scheduled_time"] = to_text(as_utc(_parse(when))) if when else to_text(now)
        return {
            "id": new_id(), "type": kind, "name": state.get("name") or STATE_NAMES[kind],
            "timestamp": to_text(now), "message": state.get("message"), "data": state.get("data"),
            "state_details": details,
        }

    def _run_row(self, run_id: str) -> Row:
        row = self.store.one(f"SELECT {RUN_COLUMNS} FROM flow_run WHERE id = ?", (run_id,))
        if row is None:
            raise ApiError(404, "Flow run not found")
        return row

    def _is_late(self, row: Row, now: datetime) -> bool:
        if row["state_type"] != "SCHEDULED" or row["state_name"] != "Scheduled":
            return False
        when = from_text(row["next_scheduled_start_time"])
        return when is not None and now - when > timedelta(seconds=LATE_AFTER_SECONDS)

    def _run_common(self, row: Row, now: datetime) -> tuple[dict[str, Any], dict[str, Any] | None, str | None]:
        body = loads(row["body"])
        state = loads(row["state"])
        name = row["state_name"]
        if state is not None and self._is_late(row, now):
            name = "Late"
            state = {**state, "name": "Late"}
        return body, state, name

    def _timing(self, row: Row, body: dict[str, Any], now: datetime) -> tuple[float, float]:
        total = float(body.get("total_run_time") or 0.0)
        estimated = total
        if row["state_type"] == "RUNNING" and row["state_timestamp"]:
            estimated += max(0.0, (now - from_text(row["state_timestamp"])).total_seconds())  # type: ignore[operator]
        delta = 0.0
        expected = from_text(row["expected_start_time"])
        if row["start_time"] is None and expected is not None and row["state_type"] not in TERMINAL:
            delta = max(0.0, (now - expected).total_seconds())
        return estimated, delta

    def run_json(self, row: Row, now: datetime | None = None, *, pool: tuple[str | None, ...] | None = None) -> dict[str, Any]:
        """FlowRunResponse. ``pool`` = (pool id, pool name[, queue name]) skips the lookup."""
        now = now or self.now()
        body, state, state_name = self._run_common(row, now)
        estimated, delta = self._timing(row, body, now)
        queue_name = row["work_queue_name"]
        if pool is not None and len(pool) > 2:
            queue_name = pool[2]
        if pool is None:
            pool = (None, None)
            if row["work_queue_id"]:
                q = self.store.one(
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

    def core_run_text(self, row: Row, now: datetime) -> str:
        """The core FlowRun a poll returns (no work_pool_* keys, the stored queue name), as JSON
        text spliced from the stored JSON columns so a 200-run poll parses nothing."""
        state_text = row["state"] or "null"
        state_name = row["state_name"]
        if self._is_late(row, now):
            state_name = "Late"
            state_text = state_text.replace('"name":"Scheduled"', '"name":"Late"', 1)
        body_text = row["body"]
        match = _TOTAL_RE.search(body_text)
        total = float(match.group(1)) if match else 0.0
        estimated = total
        if row["state_type"] == "RUNNING" and row["state_timestamp"]:
            estimated += max(0.0, (now - from_text(row["state_timestamp"])).total_seconds())  # type: ignore[operator]
        delta = 0.0
        expected = from_text(row["expected_start_time"])
        if row["start_time"] is None and expected is not None and row["state_type"] not in TERMINAL:
            delta = max(0.0, (now - expected).total_seconds())
        state_id = _STATE_ID_RE.match(state_text)
        head = dumps({
            "id": row["id"], "created": row["created"], "updated": row["updated"], "name": row["name"],
            "flow_id": row["flow_id"], "state_id": state_id.group(1) if state_id else None,
            "deployment_id": row["deployment_id"], "work_queue_name": row["work_queue_name"],
            "idempotency_key": row["idempotency_key"], "state_type": row["state_type"], "state_name": state_name,
            "run_count": row["run_count"], "expected_start_time": row["expected_start_time"],
            "next_scheduled_start_time": row["next_scheduled_start_time"], "start_time": row["start_time"],
            "end_time": row["end_time"], "estimated_run_time": estimated, "estimated_start_time_delta": delta,
            "created_by": None, "work_queue_id": row["work_queue_id"],
        })
        return f'{head[:-1]},"tags":{row["tags"]},{body_text[1:-1]},"state":{state_text}}}'

    def read_flow_run(self, run_id: str) -> dict[str, Any]:
        with self.store.transaction():
            return self.run_json(self._run_row(run_id))

    def update_flow_run(self, run_id: str, changes: dict[str, Any]) -> None:
        with self.store.transaction():
            row = self._run_row(run_id)
            body = loads(row["body"])
            if "job_variables" in changes:
                if row["state_type"] != "SCHEDULED" or not row["deployment_id"]:
                    raise ApiError(400, "Job variables for a flow run can only be updated while the run is SCHEDULED and has a deployment.")
                dep = self.store.one("SELECT work_pool_name, body FROM deployment WHERE id = ?", (row["deployment_id"],))
                if dep is not None and dep["work_pool_name"]:
                    error = check_job_variables(
                        self._pool_template(dep["work_pool_name"]), loads(dep["body"]).get("job_variables") or {},
                        changes["job_variables"] or {}, enforce_required=True,
                    )
                    if error is not None:
                        raise ApiError(422, f"Error updating flow run: {failure_text(error)}")
            sets, params = ["updated = ?"], [self.now_text()]
            for key, value in changes.items():
                if key == "name":
                    if value is None:
                        raise ApiError(422, "name cannot be null; send a value or leave the key out.")
                    sets.append("name = ?")
                    params.append(value)
                elif key == "tags":
                    sets.append("tags = ?")
                    params.append(dumps(value or []))
                elif key == "empirical_policy":
                    body[key] = {**EMPIRICAL_POLICY, **(value or {})}
                else:
                    body[key] = value if value is not None or key in ("flow_version", "infrastructure_pid") else {}
            sets.append("body = ?")
            params.append(dumps(body))
            self.store.execute(f"UPDATE flow_run SET {', '.join(sets)} WHERE id = ?", (*params, run_id))

    def update_flow_run_labels(self, run_id: str, labels: dict[str, Any]) -> None:
        with self.store.transaction():
            row = self._run_row(run_id)
            body = loads(row["body"])
            body["labels"] = {**(body.get("labels") or {}), **labels}
            self.store.execute("UPDATE flow_run SET body = ?, updated = ? WHERE id = ?", (dumps(body), self.now_text(), run_id))

    # ------------------------------------------------------------------ logs

    def create_logs(self, logs: Sequence[Any]) -> None:
        """Store log records (``LogCreate`` models) as Prefect's ``Log`` objects."""
        now = to_text(self.now())
        rows = []
        for log in logs:
            log_id = new_id()
            flow_run_id = None if log.flow_run_id is None else str(log.flow_run_id)
            task_run_id = None if log.task_run_id is None else str(log.task_run_id)
            stamp = to_text(log.timestamp)
            body = {"id": log_id, "created": now, "updated": now, "name": log.name, "level": log.level,
                    "message": log.message, "timestamp": stamp, "flow_run_id": flow_run_id, "task_run_id": task_run_id}
            rows.append((log_id, flow_run_id, task_run_id, log.level, stamp, dumps(body)))
        if rows:
            with self.store.transaction():
                self.store.executemany("INSERT INTO log (id, flow_run_id, task_run_id, level, ts, body) VALUES (?, ?, ?, ?, ?, ?)", rows)

    def filter_logs(self, body: Any) -> list[dict[str, Any]]:
        limit = check_limit(body.limit)
        parts: list[str] = []
        params: list[Any] = []
        flt = body.logs
        if flt is not None:
            for column, sub in (("flow_run_id", flt.flow_run_id), ("task_run_id", flt.task_run_id)):
                if sub is not None and sub.any_ is not None:
                    parts.append(_in_clause(column, sub.any_, params))
            if flt.level is not None:
                for op, value in ((">=", flt.level.ge_), ("<=", flt.level.le_)):
                    if value is not None:
                        parts.append(f"level {op} ?")
                        params.append(value)
            if flt.timestamp is not None:
                for op, value in (("<=", flt.timestamp.before_), (">=", flt.timestamp.after_)):
                    if value is not None:
                        parts.append(f"ts {op} ?")
                        params.append(to_text(value))
        where = (" WHERE " + " AND ".join(parts)) if parts else ""
        order = {"TIMESTAMP_ASC": "ts, id", "TIMESTAMP_DESC": "ts DESC, id DESC",
                 "LEVEL_ASC": "level, ts, id", "LEVEL_DESC": "level DESC, ts DESC, id DESC"}[body.sort or "TIMESTAMP_ASC"]
        with self.store.transaction():
            rows = self.store.query(f"SELECT body FROM log{where} ORDER BY {order} LIMIT ? OFFSET ?", (*params, limit, body.offset or 0))
        return [loads(row["body"]) for row in rows]

    def delete_flow_run(self, run_id: str) -> None:
        with self.store.transaction():
            if not self.store.execute("DELETE FROM flow_run WHERE id = ?", (run_id,)):
                raise ApiError(404, "Flow run not found")

    def _run_where(self, body: Any, now: datetime) -> tuple[str, str, list[Any], Any]:
        joins = ""
        parts: list[str] = []
        params: list[Any] = []
        tags_all: Any = None
        fr = body.flow_runs
        if fr is not None:
            sub: list[str] = []
            if fr.id is not None:
                if fr.id.any_ is not None:
                    sub.append(_in_clause("r.id", fr.id.any_, params))
                if fr.id.not_any_ is not None and fr.id.not_any_:
                    sub.append("NOT " + _in_clause("r.id", fr.id.not_any_, params))
            if fr.name is not None and fr.name.any_ is not None:
                sub.append(_in_clause("r.name", fr.name.any_, params))
            if fr.name is not None and fr.name.like_ is not None:
                sub.append("LOWER(r.name) LIKE ?")
                params.append(f"%{fr.name.like_.lower()}%")
            for column, flt in (("r.deployment_id", fr.deployment_id), ("r.work_queue_name", fr.work_queue_name)):
                if flt is None:
                    continue
                if flt.any_ is not None:
                    sub.append(_in_clause(column, flt.any_, params))
                if flt.is_null_ is not None:
                    sub.append(f"{column} IS {'' if flt.is_null_ else 'NOT '}NULL")
            if fr.idempotency_key is not None and fr.idempotency_key.any_ is not None:
                sub.append(_in_clause("r.idempotency_key", fr.idempotency_key.any_, params))
            if fr.state is not None:
                if fr.state.type is not None:
                    if fr.state.type.any_ is not None:
                        sub.append(_in_clause("r.state_type", fr.state.type.any_, params))
                    if fr.state.type.not_any_:
                        sub.append("NOT " + _in_clause("r.state_type", fr.state.type.not_any_, params))
                if fr.state.name is not None and fr.state.name.any_ is not None:
                    names = [n for n in fr.state.name.any_ if n != "Late"]
                    options = []
                    if names:
                        clause = _in_clause("r.state_name", names, params)
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
                parts.append(_in_clause("r.flow_id", body.flows.id.any_, params))
            if body.flows.name is not None and body.flows.name.any_ is not None:
                inner: list[Any] = []
                clause = _in_clause("name", body.flows.name.any_, inner)
                parts.append(f"r.flow_id IN (SELECT id FROM flow WHERE {clause})")
                params.extend(inner)
        if body.deployments is not None:
            if body.deployments.id is not None and body.deployments.id.any_ is not None:
                parts.append(_in_clause("r.deployment_id", body.deployments.id.any_, params))
            if body.deployments.name is not None and body.deployments.name.any_ is not None:
                inner = []
                clause = _in_clause("name", body.deployments.name.any_, inner)
                parts.append(f"r.deployment_id IN (SELECT id FROM deployment WHERE {clause})")
                params.extend(inner)
        wq = body.work_pool_queues
        wp = body.work_pools
        if wq is not None or wp is not None:
            joins = " JOIN work_queue q ON q.id = r.work_queue_id JOIN work_pool p ON p.id = q.work_pool_id"
            if wp is not None:
                where, inner = self._pool_where(wp)
                if where:
                    parts.append(f"p.id IN (SELECT id FROM work_pool{where})")
                    params.extend(inner)
            if wq is not None:
                where, inner = self._queue_where(wq)
                if where:
                    parts.append("1 = 1" + where)
                    params.extend(inner)
        return joins, (" WHERE " + " AND ".join(parts)) if parts else "", params, tags_all

    def filter_flow_runs(self, body: Any) -> list[dict[str, Any]]:
        limit = check_limit(body.limit)
        with self.store.transaction():
            now = self.now()
            joins, where, params, tags_all = self._run_where(body, now)
            cols = ", ".join(f"r.{c.strip()}" for c in RUN_COLUMNS.split(","))
            sql = f"SELECT {cols} FROM flow_run r{joins}{where} ORDER BY {SORTS[body.sort or 'ID_DESC']}"
            if tags_all is None:
                rows = self.store.query(sql + " LIMIT ? OFFSET ?", (*params, limit, body.offset or 0))
            else:
                rows = [r for r in self.store.query(sql, params) if _tags_match(loads(r["tags"]), tags_all)]
                rows = rows[(body.offset or 0):(body.offset or 0) + limit]
            return [self.run_json(r, now) for r in rows]

    def count_flow_runs(self, body: Any) -> int:
        with self.store.transaction():
            now = self.now()
            joins, where, params, tags_all = self._run_where(body, now)
            if tags_all is None:
                row = self.store.one(f"SELECT COUNT(*) AS n FROM flow_run r{joins}{where}", params)
                return int(row["n"]) if row else 0
            rows = self.store.query(f"SELECT r.tags FROM flow_run r{joins}{where}", params)
            return sum(1 for r in rows if _tags_match(loads(r["tags"]), tags_all))

    # ------------------------------------------------------------ orchestration

    def _slots(self, queue_id: str) -> tuple[scheduling.PoolSlots, scheduling.QueueSlots] | None:
        q = self.store.one(
            "SELECT q.id, q.name, q.priority, q.is_paused, q.concurrency_limit, q.work_pool_id, p.name AS pool_name, "
            "p.is_paused AS pool_paused, p.concurrency_limit AS pool_limit FROM work_queue q "
            "JOIN work_pool p ON p.id = q.work_pool_id WHERE q.id = ?",
            (queue_id,),
        )
        if q is None:
            return None
        pool = scheduling.PoolSlots(
            is_paused=bool(q["pool_paused"]), concurrency_limit=q["pool_limit"],
            active=self._active_in_pool(q["work_pool_id"]), name=q["pool_name"],
        )
        queue = scheduling.QueueSlots(
            id=q["id"], name=q["name"], priority=q["priority"], is_paused=bool(q["is_paused"]),
            concurrency_limit=q["concurrency_limit"], active=self._active_in_queue(q["id"]),
        )
        return pool, queue

    def set_state(self, run_id: str, state: dict[str, Any], force: bool) -> tuple[dict[str, Any], int]:
        with self.store.transaction():
            row = self._run_row(run_id)
            now = self.now()
            current = loads(row["state"])
            current_name = row["state_name"]
            if self._is_late(row, now):
                current_name = "Late"
            proposed = state["type"]
            refusal = None
            if row["state_type"] == "SCHEDULED" and proposed in ("PENDING", "RUNNING") and row["work_queue_id"]:
                slots = self._slots(row["work_queue_id"])
                if slots is not None:
                    refusal = scheduling.claim_refusal(*slots)
            scheduled_time = None
            if current is not None:
                scheduled_time = _parse((current.get("state_details") or {}).get("scheduled_time"))
            decision = orchestration.decide(
                row["state_type"], current_name, proposed, state.get("name") or STATE_NAMES[proposed], force=force,
                scheduled_time=as_utc(scheduled_time) if scheduled_time else None, now=now, refusal=refusal,
            )
            details: dict[str, Any]
            if decision.status == "ACCEPT":
                written = self._write_state(row, state, now)
                return {"state": written, "status": "ACCEPT", "details": {"type": "accept_details"}}, 201
            if decision.status == "REJECT":
                details = {"type": "reject_details", "reason": decision.reason}
                if decision.replacement_type:
                    written = self._write_state(row, {"type": decision.replacement_type}, now)
                    return {"state": written, "status": "REJECT", "details": details}, 201
                return {"state": current, "status": "REJECT", "details": details}, 200
            if decision.status == "WAIT":
                details = {"type": "wait_details", "delay_seconds": decision.delay_seconds, "reason": decision.reason}
                return {"state": current, "status": "WAIT", "details": details}, 200
            return {"state": current, "status": "ABORT", "details": {"type": "abort_details", "reason": decision.reason}}, 200

    def _write_state(self, row: Row, proposed: dict[str, Any], now: datetime) -> dict[str, Any]:
        current = loads(row["state"])
        new_state = self._make_state(row["id"], proposed, now)
        kind = new_state["type"]
        if kind == "PENDING" and current is not None and not (proposed.get("state_details") or {}).get("scheduled_time"):
            carried = (current.get("state_details") or {}).get("scheduled_time")
            if carried:
                new_state["state_details"]["scheduled_time"] = carried
        body = loads(row["body"])
        now_text = to_text(now)
        sets = ["updated = ?", "state_type = ?", "state_name = ?", "state_timestamp = ?", "state = ?"]
        params: list[Any] = [now_text, kind, new_state["name"], new_state["timestamp"], dumps(new_state)]
        sets.append("next_scheduled_start_time = ?")
        params.append(new_state["state_details"]["scheduled_time"] if kind == "SCHEDULED" else None)
        if row["expected_start_time"] is None:
            sets.append("expected_start_time = ?")
            params.append(new_state["state_details"].get("scheduled_time") or now_text)
        if kind == "RUNNING":
            sets.append("run_count = run_count + 1")
            if row["start_time"] is None:
                sets.append("start_time = ?")
                params.append(now_text)
        if row["state_type"] == "RUNNING" and row["state_timestamp"]:
            elapsed = (now - from_text(row["state_timestamp"])).total_seconds()  # type: ignore[operator]
            body["total_run_time"] = float(body.get("total_run_time") or 0.0) + max(0.0, elapsed)
            sets.append("body = ?")
            params.append(dumps(body))
        if kind in TERMINAL:
            sets.append("end_time = ?")
            params.append(now_text)
        self.store.execute(f"UPDATE flow_run SET {', '.join(sets)} WHERE id = ?", (*params, row["id"]))
        return new_state

    # ------------------------------------------------------- concurrency status

    def _slot_runs(self, queue_id: str, limit: int, offset: int, now: datetime) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT id, name, state_type, state_name, start_time, state_timestamp FROM flow_run "
            "WHERE work_queue_id = ? AND state_type IN ('PENDING', 'RUNNING') "
            "ORDER BY state_timestamp, id LIMIT ? OFFSET ?",
            (queue_id, limit, offset),
        )
        out = []
        for r in rows:
            since = from_text(r["state_timestamp"])
            out.append({
                "id": r["id"], "name": r["name"], "state_type": r["state_type"], "state_name": r["state_name"],
                "start_time": r["start_time"], "state_timestamp": r["state_timestamp"],
                "time_in_current_state": None if since is None else max(0.0, (now - since).total_seconds()),
            })
        return out

    def pool_concurrency_status(self, pool_name: str, page: int, limit: int | None, flow_run_limit: int) -> dict[str, Any]:
        limit = check_limit(limit)
        with self.store.transaction():
            pool = self.store.one("SELECT id, concurrency_limit FROM work_pool WHERE name = ?", (pool_name,))
            if pool is None:
                raise pool_not_found(pool_name)
            now = self.now()
            count_row = self.store.one("SELECT COUNT(*) AS n FROM work_queue WHERE work_pool_id = ?", (pool["id"],))
            count = int(count_row["n"]) if count_row else 0
            rows = self.store.query(
                "SELECT id, name, concurrency_limit FROM work_queue WHERE work_pool_id = ? "
                "ORDER BY priority, name LIMIT ? OFFSET ?",
                (pool["id"], limit, (page - 1) * limit),
            )
            queues = []
            for q in rows:
                active = self._active_in_queue(q["id"])
                queues.append({
                    "queue_id": q["id"], "queue_name": q["name"], "active_slots": active,
                    "concurrency_limit": q["concurrency_limit"],
                    "flow_runs": self._slot_runs(q["id"], flow_run_limit, 0, now), "flow_run_count": active,
                })
            return {
                "active_slots": self._active_in_pool(pool["id"]), "concurrency_limit": pool["concurrency_limit"],
                "queues": queues, "count": count, "limit": limit,
                "pages": max(1, -(-count // limit)) if limit else 1, "page": page,
            }

    def queue_concurrency_status(self, queue_id: str, page: int, limit: int | None) -> dict[str, Any]:
        limit = check_limit(limit)
        with self.store.transaction():
            queue = self._queue_by_id(queue_id)
            active = self._active_in_queue(queue_id)
            return {
                "active_slots": active, "concurrency_limit": queue["concurrency_limit"],
                "flow_runs": self._slot_runs(queue_id, limit, (page - 1) * limit, self.now()),
                "count": active, "limit": limit, "pages": max(1, -(-active // limit)) if limit else 1, "page": page,
            }

    # -------------------------------------------------------------------- polls

    def _record_poll(self, queue_ids: Sequence[str], now_text: str) -> None:
        if not queue_ids:
            return
        params: list[Any] = [now_text]
        clause = _in_clause("id", queue_ids, params)
        self.store.execute(
            "UPDATE work_queue SET last_polled = ?, status = CASE WHEN status = 'NOT_READY' THEN 'READY' ELSE status END "
            f"WHERE {clause}",
            params,
        )
        dparams: list[Any] = [now_text]
        dclause = _in_clause("work_queue_id", queue_ids, dparams)
        self.store.execute(f"UPDATE deployment SET last_polled = ? WHERE {dclause}", dparams)

    def scheduled_runs(
        self, pool_name: str, *, queue_names: list[str] | None, before: datetime | None, after: datetime | None,
        limit: int | None,
    ) -> str:
        """The poll's answer as JSON text: ``[{work_pool_id, work_queue_id, flow_run}]``."""
        limit = check_limit(limit)
        before = as_utc(before) if before else None
        after = as_utc(after) if after else None
        with self.store.transaction():
            pool = self.store.one(
                "SELECT id, is_paused, concurrency_limit FROM work_pool WHERE name = ?", (pool_name,)
            )
            if pool is None:
                raise pool_not_found(pool_name)
            queue_rows = self.store.query(
                "SELECT q.id, q.name, q.priority, q.is_paused, q.concurrency_limit, "
                "(SELECT COUNT(*) FROM flow_run r WHERE r.work_queue_id = q.id AND r.state_type IN ('PENDING', 'RUNNING')) AS active "
                "FROM work_queue q WHERE q.work_pool_id = ? ORDER BY q.priority, q.name",
                (pool["id"],),
            )
            by_name = {q["name"]: q for q in queue_rows}
            queue_ids: set[str] | None = None
            if queue_names:
                queue_ids = set()
                for name in queue_names:
                    if name not in by_name:
                        raise queue_not_found(pool_name, name)
                    queue_ids.add(by_name[name]["id"])
            queues = [
                scheduling.QueueSlots(
                    id=q["id"], name=q["name"], priority=q["priority"], is_paused=bool(q["is_paused"]),
                    concurrency_limit=q["concurrency_limit"], active=int(q["active"]),
                )
                for q in queue_rows
            ]
            pool_slots = scheduling.PoolSlots(
                is_paused=bool(pool["is_paused"]), concurrency_limit=pool["concurrency_limit"],
                active=sum(q.active for q in queues), name=pool_name,
            )
            now = self.now()
            polled = [q.id for q in queues if queue_ids is None or q.id in queue_ids]
            self._record_poll(polled, to_text(now))  # type: ignore[arg-type]
            pool_free = scheduling.free_slots(pool_slots.concurrency_limit, pool_slots.active)
            candidates: list[scheduling.Candidate] = []
            if not pool_slots.is_paused and limit > 0 and pool_free != 0:
                for q in queues:
                    if q.is_paused or (queue_ids is not None and q.id not in queue_ids):
                        continue
                    cap = min(x for x in (limit, pool_free, scheduling.free_slots(q.concurrency_limit, q.active)) if x is not None)
                    if cap <= 0:
                        continue
                    sql = ("SELECT id, work_queue_id, next_scheduled_start_time FROM flow_run "
                           "WHERE work_queue_id = ? AND state_type = 'SCHEDULED'")
                    params: list[Any] = [q.id]
                    if before is not None:
                        sql += " AND next_scheduled_start_time <= ?"
                        params.append(to_text(before))
                    if after is not None:
                        sql += " AND next_scheduled_start_time >= ?"
                        params.append(to_text(after))
                    sql += " ORDER BY next_scheduled_start_time, id LIMIT ?"
                    params.append(cap)
                    candidates.extend(
                        scheduling.Candidate(id=r["id"], queue_id=r["work_queue_id"],
                                             next_scheduled_start_time=from_text(r["next_scheduled_start_time"]))  # type: ignore[arg-type]
                        for r in self.store.query(sql, params)
                    )
            chosen = scheduling.select_runs(
                pool_slots, queues, candidates, queue_ids=queue_ids, scheduled_before=before,
                scheduled_after=after, limit=limit,
            )
            if not chosen:
                return "[]"
            params = []
            clause = _in_clause("id", [c.id for c in chosen], params)
            rows = {r["id"]: r for r in self.store.query(f"SELECT {RUN_COLUMNS} FROM flow_run WHERE {clause}", params)}
            prefix = f'{{"work_pool_id":{dumps(pool["id"])},"work_queue_id":'
            return "[" + ",".join(
                f'{prefix}{dumps(c.queue_id)},"flow_run":{self.core_run_text(rows[c.id], now)}}}'
                for c in chosen
                if c.id in rows
            ) + "]"

    def legacy_get_runs(self, queue_id: str, before: datetime | None, limit: int | None, *, record_poll: bool) -> list[dict[str, Any]]:
        limit = check_limit(limit)
        with self.store.transaction():
            queue = self._queue_by_id(queue_id)
            now = self.now()
            if record_poll:
                self._record_poll([queue_id], to_text(now))  # type: ignore[arg-type]
            pool = self.store.one("SELECT is_paused FROM work_pool WHERE id = ?", (queue["work_pool_id"],))
            if queue["is_paused"] or (pool is not None and pool["is_paused"]):
                return []
            if queue["concurrency_limit"] is not None:
                busy = self.store.one(
                    "SELECT COUNT(*) AS n FROM flow_run WHERE work_queue_id = ? "
                    "AND state_type IN ('PENDING', 'RUNNING', 'CANCELLING')",
                    (queue_id,),
                )
                limit = min(limit, max(0, queue["concurrency_limit"] - int(busy["n"] if busy else 0)))
            sql = f"SELECT {RUN_COLUMNS} FROM flow_run WHERE work_queue_id = ? AND state_type = 'SCHEDULED'"
            params: list[Any] = [queue_id]
            if before is not None:
                sql += " AND next_scheduled_start_time <= ?"
                params.append(to_text(as_utc(before)))
            rows = self.store.query(sql + " ORDER BY next_scheduled_start_time, id LIMIT ?", (*params, limit))
            return [self.run_json(r, now, pool=(None, None)) for r in rows]


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


def _parse(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    text = str(value).replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        raise ApiError(422, f"Invalid datetime {value!r}; use ISO-8601, e.g. 2026-01-01T10:00:00Z.") from None
