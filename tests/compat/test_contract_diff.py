"""The same requests against a real Prefect 3.9.1 server and ours: same status, same fields.

Each scenario is a function that drives one server through `Side.call(label, ...)`; it runs once
against each server (same names), and every labelled exchange is compared: status code, and the
response body with ids and timestamps masked. The intentional differences (our stricter
behaviours) are listed in DIFFERENCES with both servers' expected status, so this file also
documents what Prefect 3.9.1 does there.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest

pytestmark = pytest.mark.compat

FIXTURES = Path(__file__).parent / "fixtures"
PROCESS_TEMPLATE = json.loads((FIXTURES / "process-default-base-job-template.json").read_text())
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TS_RE = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$")
# Computed from the wall clock at the moment of the request: they differ by milliseconds.
CLOCK_FIELDS = {"estimated_start_time_delta", "time_in_current_state", "estimated_run_time", "total_run_time"}


def mask(value: Any) -> Any:
    """The body with every id and timestamp replaced by a placeholder."""
    if isinstance(value, dict):
        return {k: ("<clock>" if k in CLOCK_FIELDS else mask(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    if isinstance(value, str):
        if TS_RE.match(value):
            return "<ts>"
        return UUID_RE.sub("<uuid>", value)
    return value


class Side:
    """One server under test: labelled calls, recorded as (status, masked body)."""

    def __init__(self, name: str, client) -> None:
        self.name = name
        self.client = client
        self.log: dict[str, tuple[int, Any]] = {}

    def call(self, label: str, method: str, path: str, body: Any = None, *, expect: int | None = None) -> Any:
        assert label not in self.log, f"duplicate label {label}"
        for attempt in range(6):
            try:
                r = self.client.request(method, path, json=body) if body is not None else self.client.request(method, path)
            except httpx.TransportError:
                # Prefect closes a keep-alive connection after an unhandled 500; the next request
                # on it is reset before the server reads it.
                if attempt == 5:
                    raise
                time.sleep(0.1)
                continue
            if r.status_code != 503 or attempt == 5:
                break
            time.sleep(0.2 * (attempt + 1))  # SQLite "database is locked" on the real server
        parsed = r.json() if r.content else None
        self.log[label] = (r.status_code, mask(parsed))
        if expect is not None:
            assert r.status_code == expect, f"{self.name} {label}: {method} {path} -> {r.status_code} {r.text[:500]}"
        return parsed


# label -> (Prefect 3.9.1 status, our status, why)
DIFFERENCES: dict[str, tuple[int, int, str]] = {
    "queues/delete default (pool route)": (500, 409, "Prefect raises an unhandled ValueError; we answer 409 with a message"),
    "bad/pool name not a string": (500, 422, "Prefect crashes on a non-string name; we validate it"),
    "bad/variables.properties is a list": (500, 422, "Prefect crashes; we reject the template"),
    "bad/variables is a string": (500, 422, "Prefect crashes; we reject the template"),
    "bad/patch base_job_template null": (500, 422, "the column is NOT NULL; Prefect crashes, we reject the body"),
    "bad/patch is_paused null": (409, 422, "Prefect's integrity handler answers 409; null is simply not a valid value"),
    "bad/patch queue priority null": (409, 422, "Prefect's integrity handler answers 409; null is simply not a valid value"),
    "queues/delete default (legacy route)": (409, 409, "same status; we say why instead of 'Data integrity conflict'"),
    "claims/claim beyond the pool limit": (201, 200, "Prefect accepts a claim past the pool limit; we ABORT it"),
    "claims/pool active slots": (200, 200, "Prefect counts the claim it let past the limit (2 of 1); we hold 1"),
}


def compare(real: Side, ours: Side) -> None:
    assert list(real.log) == list(ours.log), "both sides must run the same steps"
    problems = []
    for label, (r_status, r_body) in real.log.items():
        o_status, o_body = ours.log[label]
        if label in DIFFERENCES:
            want_real, want_ours, why = DIFFERENCES[label]
            if (r_status, o_status) != (want_real, want_ours):
                problems.append(f"{label}: expected Prefect {want_real} / ours {want_ours} ({why}), "
                                f"got Prefect {r_status} / ours {o_status}: ours said {o_body}")
            continue
        if r_status != o_status:
            problems.append(f"{label}: status Prefect {r_status} / ours {o_status}\n  Prefect: {r_body}\n  ours:    {o_body}")
        elif r_body != o_body:
            problems.append(f"{label}: body differs\n{_body_diff(r_body, o_body)}")
    assert not problems, "\n\n".join(problems)


def _body_diff(real: Any, ours: Any, path: str = "$") -> str:
    if isinstance(real, dict) and isinstance(ours, dict):
        lines = []
        for key in sorted(set(real) | set(ours)):
            if key not in ours:
                lines.append(f"  {path}.{key}: missing in ours (Prefect: {json.dumps(real[key])[:200]})")
            elif key not in real:
                lines.append(f"  {path}.{key}: extra in ours ({json.dumps(ours[key])[:200]})")
            elif real[key] != ours[key]:
                lines.append(_body_diff(real[key], ours[key], f"{path}.{key}"))
        return "\n".join(lines)
    if isinstance(real, list) and isinstance(ours, list) and len(real) == len(ours):
        return "\n".join(_body_diff(r, o, f"{path}[{i}]") for i, (r, o) in enumerate(zip(real, ours)) if r != o)
    return f"  {path}: Prefect {json.dumps(real)[:300]}\n  {' ' * len(path)}  ours    {json.dumps(ours)[:300]}"


@pytest.fixture()
def run_both(real_api, our_api) -> Callable[[Callable[[Side, str], None]], None]:
    """Run `scenario(side, suffix)` against Prefect, then ours, with the same names; compare."""

    def run(scenario: Callable[[Side, str], None]) -> None:
        suffix = uuid.uuid4().hex[:8]
        real, ours = Side("Prefect", real_api), Side("ours", our_api)
        scenario(real, suffix)
        scenario(ours, suffix)
        compare(real, ours)

    return run


def pools_scenario(s: Side, sfx: str) -> None:
    name, other = f"cd-pool-{sfx}", f"cd-other-{sfx}"
    s.call("pools/create", "POST", "work_pools/", {
        "name": name, "type": "process", "description": "d", "concurrency_limit": 5,
        "base_job_template": PROCESS_TEMPLATE}, expect=201)
    s.call("pools/create minimal", "POST", "work_pools/", {"name": other}, expect=201)
    s.call("pools/read", "GET", f"work_pools/{name}")
    s.call("pools/read missing", "GET", f"work_pools/cd-missing-{sfx}")
    s.call("pools/create duplicate", "POST", "work_pools/", {"name": name, "type": "process"})
    s.call("pools/create reserved", "POST", "work_pools/", {"name": f"Prefect-{sfx}"})
    s.call("pools/create empty name", "POST", "work_pools/", {"name": "  "})
    s.call("pools/create unknown key", "POST", "work_pools/", {"name": f"cd-x-{sfx}", "bogus": 1})
    s.call("pools/filter by name", "POST", "work_pools/filter", {"work_pools": {"name": {"any_": [other, name]}}})
    s.call("pools/filter by type", "POST", "work_pools/filter",
           {"work_pools": {"name": {"any_": [other, name]}, "type": {"any_": ["process"]}}})
    s.call("pools/filter limit too big", "POST", "work_pools/filter", {"limit": 201})
    s.call("pools/filter negative offset", "POST", "work_pools/filter", {"offset": -1})
    s.call("pools/count", "POST", "work_pools/count", {"work_pools": {"name": {"any_": [other, name]}}})
    s.call("pools/update", "PATCH", f"work_pools/{name}", {"description": "new", "concurrency_limit": None})
    s.call("pools/read after update", "GET", f"work_pools/{name}")
    s.call("pools/update name", "PATCH", f"work_pools/{name}", {"name": "renamed"})
    s.call("pools/update negative limit", "PATCH", f"work_pools/{name}", {"concurrency_limit": -1})
    s.call("pools/update reserved", "PATCH", f"work_pools/prefect-{sfx}", {"description": "x"})
    s.call("pools/update missing", "PATCH", f"work_pools/cd-missing-{sfx}", {"description": "x"})
    s.call("pools/pause", "PATCH", f"work_pools/{name}", {"is_paused": True})
    s.call("pools/read paused", "GET", f"work_pools/{name}")
    s.call("pools/resume", "PATCH", f"work_pools/{name}", {"is_paused": False})
    s.call("pools/read resumed", "GET", f"work_pools/{name}")
    s.call("pools/template update", "PATCH", f"work_pools/{name}", {"base_job_template": {
        "job_configuration": {"command": "{{ command }}", "image": "{{ image }}"},
        "variables": {"type": "object", "properties": {"command": {"type": "string"}}}}})
    s.call("pools/template clear", "PATCH", f"work_pools/{name}", {"base_job_template": {}})
    s.call("pools/read cleared template", "GET", f"work_pools/{name}")
    s.call("pools/delete reserved", "DELETE", f"work_pools/prefect-{sfx}")
    s.call("pools/delete", "DELETE", f"work_pools/{name}")
    s.call("pools/read deleted", "GET", f"work_pools/{name}")
    s.call("pools/delete again", "DELETE", f"work_pools/{name}")
    s.call("pools/delete other", "DELETE", f"work_pools/{other}")


def test_pools(run_both):
    run_both(pools_scenario)


def queues_scenario(s: Side, sfx: str) -> None:
    pool = f"cd-queues-{sfx}"
    s.call("queues/pool", "POST", "work_pools/", {"name": pool, "type": "process"}, expect=201)
    s.call("queues/create a (first gap)", "POST", f"work_pools/{pool}/queues", {"name": "a"})
    s.call("queues/create b p1 (bump walk)", "POST", f"work_pools/{pool}/queues", {"name": "b", "priority": 1})
    s.call("queues/create c p9", "POST", f"work_pools/{pool}/queues",
           {"name": "c", "priority": 9, "concurrency_limit": 2, "description": "bulk"})
    s.call("queues/create d (gap)", "POST", f"work_pools/{pool}/queues", {"name": "d"})
    s.call("queues/create duplicate", "POST", f"work_pools/{pool}/queues", {"name": "a"})
    s.call("queues/create duplicate default", "POST", f"work_pools/{pool}/queues", {"name": "default"})
    s.call("queues/create bad name", "POST", f"work_pools/{pool}/queues", {"name": "x/y"})
    s.call("queues/create in missing pool", "POST", f"work_pools/cd-missing-{sfx}/queues", {"name": "a"})
    s.call("queues/filter", "POST", f"work_pools/{pool}/queues/filter", {})
    s.call("queues/filter by name", "POST", f"work_pools/{pool}/queues/filter",
           {"work_queues": {"name": {"any_": ["a", "zzz", "c"]}}})
    s.call("queues/filter startswith", "POST", f"work_pools/{pool}/queues/filter",
           {"work_queues": {"name": {"startswith_": ["D"]}}})
    s.call("queues/filter paged", "POST", f"work_pools/{pool}/queues/filter", {"limit": 2, "offset": 1})
    s.call("queues/filter missing pool", "POST", f"work_pools/cd-missing-{sfx}/queues/filter", {})
    s.call("queues/update c to p1", "PATCH", f"work_pools/{pool}/queues/c", {"priority": 1})
    s.call("queues/update a pause", "PATCH", f"work_pools/{pool}/queues/a", {"is_paused": True, "concurrency_limit": 0})
    s.call("queues/filter after updates", "POST", f"work_pools/{pool}/queues/filter", {})
    s.call("queues/read", "GET", f"work_pools/{pool}/queues/c")
    s.call("queues/read missing", "GET", f"work_pools/{pool}/queues/zzz")
    s.call("queues/read in missing pool", "GET", f"work_pools/cd-missing-{sfx}/queues/a")
    s.call("queues/update missing", "PATCH", f"work_pools/{pool}/queues/zzz", {"priority": 2})
    default = s.call("queues/read default", "GET", f"work_pools/{pool}/queues/default", expect=200)
    s.call("queues/legacy read", "GET", f"work_queues/{default['id']}")
    s.call("queues/legacy status", "GET", f"work_queues/{default['id']}/status")
    s.call("queues/delete default (pool route)", "DELETE", f"work_pools/{pool}/queues/default")
    s.call("queues/delete default (legacy route)", "DELETE", f"work_queues/{default['id']}")
    s.call("queues/delete b", "DELETE", f"work_pools/{pool}/queues/b")
    s.call("queues/delete b again", "DELETE", f"work_pools/{pool}/queues/b")
    s.call("queues/filter after delete", "POST", f"work_pools/{pool}/queues/filter", {})
    a = s.call("queues/read a", "GET", f"work_pools/{pool}/queues/a", expect=200)
    s.call("queues/legacy update", "PATCH", f"work_queues/{a['id']}", {"concurrency_limit": 3, "is_paused": False})
    s.call("queues/legacy read after update", "GET", f"work_queues/{a['id']}")
    s.call("queues/legacy delete", "DELETE", f"work_queues/{a['id']}")
    s.call("queues/legacy read deleted", "GET", f"work_queues/{a['id']}")
    s.call("queues/delete pool", "DELETE", f"work_pools/{pool}")


def test_queues(run_both):
    run_both(queues_scenario)


def workers_scenario(s: Side, sfx: str) -> None:
    pool = f"cd-workers-{sfx}"
    s.call("workers/pool", "POST", "work_pools/", {"name": pool, "type": "process"}, expect=201)
    s.call("workers/heartbeat", "POST", f"work_pools/{pool}/workers/heartbeat",
           {"name": "w1", "heartbeat_interval_seconds": 30})
    s.call("workers/heartbeat extra keys", "POST", f"work_pools/{pool}/workers/heartbeat",
           {"name": "w2", "return_id": True, "metadata": {"k": "v"}})
    s.call("workers/heartbeat no name", "POST", f"work_pools/{pool}/workers/heartbeat", {})
    s.call("workers/heartbeat missing pool", "POST", f"work_pools/cd-missing-{sfx}/workers/heartbeat", {"name": "w"})
    s.call("workers/pool ready", "GET", f"work_pools/{pool}")
    workers = s.call("workers/filter", "POST", f"work_pools/{pool}/workers/filter", {}, expect=200)
    assert sorted(w["name"] for w in workers) == ["w1", "w2"]
    s.call("workers/filter online", "POST", f"work_pools/{pool}/workers/filter",
           {"workers": {"status": {"any_": ["ONLINE"]}}})
    s.call("workers/pause", "PATCH", f"work_pools/{pool}", {"is_paused": True})
    s.call("workers/heartbeat on paused", "POST", f"work_pools/{pool}/workers/heartbeat", {"name": "w1"})
    s.call("workers/pool stays paused", "GET", f"work_pools/{pool}")
    s.call("workers/resume with online worker", "PATCH", f"work_pools/{pool}", {"is_paused": False})
    s.call("workers/pool ready again", "GET", f"work_pools/{pool}")
    s.call("workers/delete", "DELETE", f"work_pools/{pool}/workers/w2")
    s.call("workers/delete missing", "DELETE", f"work_pools/{pool}/workers/w2")
    s.call("workers/delete pool", "DELETE", f"work_pools/{pool}")


def test_workers(run_both):
    run_both(workers_scenario)


def _when(minutes: int) -> str:
    return (datetime.now(timezone.utc).replace(second=0, microsecond=0) + timedelta(minutes=minutes)).isoformat()


def claims_scenario(s: Side, sfx: str) -> None:
    """Runs in the future (so the late-runs service does not rename them), polled and claimed."""
    pool = f"cd-sched-{sfx}"
    s.call("claims/pool", "POST", "work_pools/", {"name": pool, "type": "process", "concurrency_limit": 1}, expect=201)
    s.call("claims/queue high", "POST", f"work_pools/{pool}/queues", {"name": "high", "priority": 1}, expect=201)
    flow = s.call("claims/flow", "POST", "flows/", {"name": f"cd-flow-{sfx}"})
    runs = {}
    for name, queue, minutes in [("r-low-1", "default", 5), ("r-high-2", "high", 10), ("r-high-1", "high", 7)]:
        runs[name] = s.call(f"claims/create {name}", "POST", "flow_runs/", {
            "flow_id": flow["id"], "name": name, "work_pool_name": pool, "work_queue_name": queue,
            "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": _when(minutes)}}}, expect=201)
    s.call("claims/read run", "GET", f"flow_runs/{runs['r-high-1']['id']}")
    horizon = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat().replace("T", " ")
    s.call("claims/poll", "POST", f"work_pools/{pool}/get_scheduled_flow_runs", {"scheduled_before": horizon})
    s.call("claims/poll one queue", "POST", f"work_pools/{pool}/get_scheduled_flow_runs",
           {"work_queue_names": ["default"], "scheduled_before": horizon})
    s.call("claims/poll missing queue", "POST", f"work_pools/{pool}/get_scheduled_flow_runs",
           {"work_queue_names": ["nope"]})
    s.call("claims/poll limit too big", "POST", f"work_pools/{pool}/get_scheduled_flow_runs", {"limit": 201})
    s.call("claims/queues after poll", "POST", f"work_pools/{pool}/queues/filter", {})
    pending = {"state": {"type": "PENDING"}}
    s.call("claims/claim", "POST", f"flow_runs/{runs['r-high-1']['id']}/set_state", pending)
    s.call("claims/claim again", "POST", f"flow_runs/{runs['r-high-1']['id']}/set_state", pending)
    s.call("claims/read claimed run", "GET", f"flow_runs/{runs['r-high-1']['id']}")
    # What a real process worker and the flow engine send next (prefect worker start, 3.9.1).
    claimed = runs["r-high-1"]["id"]
    s.call("claims/worker labels the run", "PATCH", f"flow_runs/{claimed}/labels",
           {"prefect.worker.name": "w1", "prefect.worker.type": "process"})
    s.call("claims/worker records the pid", "PATCH", f"flow_runs/{claimed}", {"infrastructure_pid": "host:123"})
    s.call("claims/run after worker patches", "GET", f"flow_runs/{claimed}")
    s.call("claims/engine sends logs", "POST", "logs/", [{
        "name": "prefect.flow_runs", "level": 20, "message": "hello", "timestamp": _when(0), "flow_run_id": claimed}])
    s.call("claims/engine looks for a suspension (sort null)", "POST", "flow_runs/filter", {
        "flows": None, "flow_runs": {"id": {"any_": [claimed]}, "state": {"type": {"any_": ["PAUSED"]},
                                                                        "name": {"any_": ["Suspended"]}}},
        "task_runs": None, "deployments": None, "work_pools": None, "work_pool_queues": None,
        "sort": None, "limit": None, "offset": 0})
    s.call("claims/poll with the pool full", "POST", f"work_pools/{pool}/get_scheduled_flow_runs",
           {"scheduled_before": horizon})
    s.call("claims/claim beyond the pool limit", "POST", f"flow_runs/{runs['r-low-1']['id']}/set_state", pending)
    s.call("claims/pool active slots", "GET", f"work_pools/{pool}")
    s.call("claims/delete pool", "DELETE", f"work_pools/{pool}")


def test_scheduling_and_claims(run_both):
    run_both(claims_scenario)


JOB_TEMPLATE = {
    "job_configuration": {"image": "{{ image_tag }}", "retries": "{{ retries_allowed }}", "stream": "{{ stream_output }}"},
    "variables": {"type": "object", "required": ["image_tag"], "properties": {
        "image_tag": {"type": "string"},
        "retries_allowed": {"type": "integer", "minimum": 0, "maximum": 5, "default": 1},
        "stream_output": {"type": "boolean", "default": True}}},
}


def deployments_scenario(s: Side, sfx: str) -> None:
    pool = f"cd-deploy-{sfx}"
    s.call("deploy/pool", "POST", "work_pools/", {"name": pool, "type": "process", "base_job_template": JOB_TEMPLATE},
           expect=201)
    s.call("deploy/pool paused", "POST", "work_pools/", {"name": f"{pool}-p", "type": "process", "is_paused": True})
    s.call("deploy/queue paused", "POST", f"work_pools/{pool}/queues", {"name": "held", "is_paused": True})
    flow = s.call("deploy/flow", "POST", "flows/", {"name": f"cd-dflow-{sfx}"}, expect=201)
    s.call("deploy/flow again", "POST", "flows/", {"name": f"cd-dflow-{sfx}"})
    s.call("deploy/read flow", "GET", f"flows/{flow['id']}")
    base = {"flow_id": flow["id"], "work_pool_name": pool}
    s.call("deploy/wrong type", "POST", "deployments/", {**base, "name": "bad1", "job_variables": {"retries_allowed": "x"}})
    s.call("deploy/out of range", "POST", "deployments/", {**base, "name": "bad2", "job_variables": {"retries_allowed": 9}})
    s.call("deploy/missing pool", "POST", "deployments/", {**base, "name": "bad3", "work_pool_name": f"cd-none-{sfx}"})
    dep = s.call("deploy/create without required var", "POST", "deployments/",
                 {**base, "name": "d", "work_queue_name": "auto", "job_variables": {"retries_allowed": 2}}, expect=201)
    s.call("deploy/upsert", "POST", "deployments/", {**base, "name": "d", "work_queue_name": "auto",
                                                     "job_variables": {"retries_allowed": 3}})
    s.call("deploy/auto-created queue", "GET", f"work_pools/{pool}/queues/auto")
    s.call("deploy/read", "GET", f"deployments/{dep['id']}")
    s.call("deploy/read by name", "GET", f"deployments/name/cd-dflow-{sfx}/d")
    s.call("deploy/run missing required var", "POST", f"deployments/{dep['id']}/create_flow_run", {"name": "r0"})
    s.call("deploy/run with bad var", "POST", f"deployments/{dep['id']}/create_flow_run",
           {"name": "r1", "job_variables": {"image_tag": "v1", "retries_allowed": "bad"}})
    s.call("deploy/run", "POST", f"deployments/{dep['id']}/create_flow_run",
           {"name": "r2", "job_variables": {"image_tag": "v2"}, "parameters": {"who": "x"}})
    s.call("deploy/patch bad vars without pool", "PATCH", f"deployments/{dep['id']}", {"job_variables": {"retries_allowed": -1}})
    s.call("deploy/patch bad vars with pool", "PATCH", f"deployments/{dep['id']}",
           {"work_pool_name": pool, "job_variables": {"retries_allowed": -1}})
    s.call("deploy/read after patches", "GET", f"deployments/{dep['id']}")
    s.call("deploy/delete pool", "DELETE", f"work_pools/{pool}")
    s.call("deploy/read after pool delete", "GET", f"deployments/{dep['id']}")
    s.call("deploy/delete", "DELETE", f"deployments/{dep['id']}")
    s.call("deploy/delete again", "DELETE", f"deployments/{dep['id']}")
    s.call("deploy/delete paused pool", "DELETE", f"work_pools/{pool}-p")


def test_deployments_and_job_variables(run_both):
    run_both(deployments_scenario)


def invalid_scenario(s: Side, sfx: str) -> None:
    pool = f"cd-bad-{sfx}"
    s.call("bad/pool", "POST", "work_pools/", {"name": pool, "type": "process", "base_job_template": PROCESS_TEMPLATE},
           expect=201)
    s.call("bad/queue", "POST", f"work_pools/{pool}/queues", {"name": "q"}, expect=201)
    s.call("bad/pool name not a string", "POST", "work_pools/", {"name": 123})
    s.call("bad/variables.properties is a list", "POST", "work_pools/", {"name": f"cd-bad1-{sfx}", "base_job_template": {
        "job_configuration": {"a": "static"}, "variables": {"type": "object", "properties": []}}})
    s.call("bad/variables is a string", "POST", "work_pools/", {"name": f"cd-bad2-{sfx}", "base_job_template": {
        "job_configuration": {"a": "static"}, "variables": "nope"}})
    s.call("bad/undeclared placeholder", "POST", "work_pools/", {"name": f"cd-bad3-{sfx}", "base_job_template": {
        "job_configuration": {"image": "{{ image }}"}, "variables": {"type": "object", "properties": {"x": {}}}}})
    s.call("bad/patch base_job_template null", "PATCH", f"work_pools/{pool}", {"base_job_template": None})
    s.call("bad/patch is_paused null", "PATCH", f"work_pools/{pool}", {"is_paused": None})
    s.call("bad/patch queue priority null", "PATCH", f"work_pools/{pool}/queues/q", {"priority": None})
    s.call("bad/pool unchanged", "GET", f"work_pools/{pool}")
    s.call("bad/queue unchanged", "GET", f"work_pools/{pool}/queues/q")
    s.call("bad/delete pool", "DELETE", f"work_pools/{pool}")


def test_invalid_input(run_both):
    run_both(invalid_scenario)


def support_scenario(s: Side, sfx: str) -> None:
    s.call("support/health", "GET", "health")
    s.call("support/version", "GET", "version")
    s.call("support/csrf disabled", "GET", f"csrf-token?client={uuid.uuid4()}")
    s.call("support/unknown collection view", "GET", "collections/views/nope")
    s.call("support/admin storage (read by the flow engine)", "GET", "admin/storage")


def test_support_endpoints(run_both, real_api, our_api):
    run_both(support_scenario)


def test_worker_metadata_is_the_same(real_api, our_api):
    """Both serve the registry copy bundled with 3.9.1 (offline), process template included."""
    real = real_api.get("collections/views/aggregate-worker-metadata")
    ours = our_api.get("collections/views/aggregate-worker-metadata")
    assert (ours.status_code, ours.json()) == (real.status_code, real.json())
