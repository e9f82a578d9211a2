"""The real Prefect 3.9.1 CLI (`prefect work-pool`, `prefect work-queue`) against our server.

Each test drives the CLI from POOLFORM_PREFECT_VENV over a socket, asserts its exit code and key
output, then reads the resulting state back through our API. CLI processes cost 1-2 s each, so
each test walks one object through a whole lifecycle.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

pytestmark = pytest.mark.compat

FIXTURES = Path(__file__).parent / "fixtures"
PROCESS_TEMPLATE = json.loads((FIXTURES / "process-default-base-job-template.json").read_text())


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def ok(proc) -> str:
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{proc.output}"
    return proc.output


def failed(proc) -> str:
    assert proc.returncode == 1, f"expected exit 1, got {proc.returncode}:\n{proc.output}"
    return proc.output


def json_out(proc):
    ok(proc)
    return json.loads(proc.stdout)


def get_pool(api, name: str) -> dict:
    r = api.get(f"work_pools/{name}")
    assert r.status_code == 200, r.text
    return r.json()


def get_queue(api, pool: str, name: str) -> dict:
    r = api.get(f"work_pools/{pool}/queues/{name}")
    assert r.status_code == 200, r.text
    return r.json()


def create_pool(api, name: str, **fields) -> dict:
    r = api.post("work_pools/", json={"name": name, "type": "process", **fields})
    assert r.status_code == 201, r.text
    return r.json()


def custom_template() -> dict:
    template = json.loads(json.dumps(PROCESS_TEMPLATE))
    template["job_configuration"]["env"] = {"MY_VAR": "{{ my_var }}"}
    template["variables"]["properties"]["my_var"] = {"type": "string", "default": "x", "title": "My Var"}
    return template


def test_work_pool_lifecycle(prefect_cli, our_api, tmp_path):
    name = unique("cli-pool")

    out = ok(prefect_cli("work-pool", "create", name, "--type", "process"))
    assert f"Created work pool {name!r}" in out
    pool = get_pool(our_api, name)
    assert (pool["type"], pool["status"], pool["is_paused"], pool["concurrency_limit"]) == (
        "process", "NOT_READY", False, None)
    assert pool["base_job_template"] == PROCESS_TEMPLATE
    assert get_queue(our_api, name, "default")["id"] == pool["default_queue_id"]

    assert "already exists" in failed(prefect_cli("work-pool", "create", name, "--type", "process"))

    listed = {p["name"]: p for p in json_out(prefect_cli("work-pool", "ls", "--output", "json"))}
    assert listed[name]["id"] == pool["id"]
    table = ok(prefect_cli("work-pool", "ls"))
    assert name in table and pool["id"] in table

    inspected = json_out(prefect_cli("work-pool", "inspect", name, "--output", "json"))
    assert (inspected["id"], inspected["status"], inspected["default_queue_id"]) == (
        pool["id"], "NOT_READY", pool["default_queue_id"])

    template_file = tmp_path / "template.json"
    template_file.write_text(json.dumps(custom_template()))
    out = ok(prefect_cli("work-pool", "update", name, "--description", "d", "--concurrency-limit", "4",
                         "--base-job-template", str(template_file)))
    assert f"Updated work pool {name!r}" in out
    pool = get_pool(our_api, name)
    assert (pool["description"], pool["concurrency_limit"], pool["base_job_template"]) == ("d", 4, custom_template())

    assert f"Paused work pool {name!r}" in ok(prefect_cli("work-pool", "pause", name))
    pool = get_pool(our_api, name)
    assert (pool["is_paused"], pool["status"]) == (True, "PAUSED")

    assert f"Resumed work pool {name!r}" in ok(prefect_cli("work-pool", "resume", name))
    pool = get_pool(our_api, name)
    assert (pool["is_paused"], pool["status"]) == (False, "NOT_READY")

    ok(prefect_cli("work-pool", "set-concurrency-limit", name, "3"))
    assert get_pool(our_api, name)["concurrency_limit"] == 3
    ok(prefect_cli("work-pool", "clear-concurrency-limit", name))
    assert get_pool(our_api, name)["concurrency_limit"] is None

    ok(prefect_cli("work-pool", "set-concurrency-limit", name, "7"))
    out = ok(prefect_cli("work-pool", "create", name, "--type", "process", "--overwrite"))
    assert f"Updated work pool {name!r}" in out
    pool = get_pool(our_api, name)
    assert (pool["description"], pool["concurrency_limit"], pool["base_job_template"]) == (None, None, PROCESS_TEMPLATE)

    assert f"Deleted work pool {name!r}" in ok(prefect_cli("work-pool", "delete", name))
    assert our_api.get(f"work_pools/{name}").status_code == 404
    assert "not found" in failed(prefect_cli("work-pool", "inspect", name)).lower()
    assert "does not exist" in failed(prefect_cli("work-pool", "delete", name))


def test_work_pool_of_a_type_not_installed_takes_its_template_from_the_server(prefect_cli, our_api):
    name = unique("cli-k8s")
    out = ok(prefect_cli("work-pool", "create", name, "--type", "kubernetes", "--paused"))
    assert f"Created work pool {name!r}" in out
    registry = our_api.get("collections/views/aggregate-worker-metadata").json()
    pool = get_pool(our_api, name)
    assert pool["base_job_template"] == registry["prefect-kubernetes"]["kubernetes"]["default_base_job_configuration"]
    assert (pool["type"], pool["is_paused"], pool["status"]) == ("kubernetes", True, "PAUSED")
    assert our_api.delete(f"work_pools/{name}").status_code == 204


def test_work_queue_lifecycle(prefect_cli, our_api):
    pool = unique("cli-qpool")
    create_pool(our_api, pool)
    q = "fast"

    out = ok(prefect_cli("work-queue", "create", q, "--pool", pool, "--priority", "1", "--limit", "2"))
    assert "Created work queue" in out and f"'{q}'" in out
    queue = get_queue(our_api, pool, q)
    assert (queue["priority"], queue["concurrency_limit"], queue["is_paused"]) == (1, 2, False)
    assert get_queue(our_api, pool, "default")["priority"] == 2

    assert "already exists" in failed(prefect_cli("work-queue", "create", q, "--pool", pool))
    assert "not found" in failed(prefect_cli("work-queue", "create", "x", "--pool", unique("no-pool")))

    listed = json_out(prefect_cli("work-queue", "ls", "--pool", pool, "--output", "json"))
    assert sorted((w["name"], w["priority"]) for w in listed) == [("default", 2), (q, 1)]

    inspected = json_out(prefect_cli("work-queue", "inspect", q, "--pool", pool, "--output", "json"))
    assert (inspected["id"], inspected["concurrency_limit"], inspected["work_pool_name"]) == (queue["id"], 2, pool)
    assert inspected["status_details"]["healthy"] is False

    assert "paused" in ok(prefect_cli("work-queue", "pause", q, "--pool", pool))
    queue = get_queue(our_api, pool, q)
    assert (queue["is_paused"], queue["status"]) == (True, "PAUSED")
    assert "resumed" in ok(prefect_cli("work-queue", "resume", q, "--pool", pool))
    queue = get_queue(our_api, pool, q)
    assert (queue["is_paused"], queue["status"]) == (False, "NOT_READY")

    ok(prefect_cli("work-queue", "set-concurrency-limit", q, "5", "--pool", pool))
    assert get_queue(our_api, pool, q)["concurrency_limit"] == 5
    ok(prefect_cli("work-queue", "clear-concurrency-limit", q, "--pool", pool))
    assert get_queue(our_api, pool, q)["concurrency_limit"] is None

    out = ok(prefect_cli("work-queue", "delete", q, "--pool", pool))
    assert f"Successfully deleted work queue {q!r}" in out
    assert our_api.get(f"work_pools/{pool}/queues/{q}").status_code == 404
    assert f"No work queue named {q!r} found in work pool {pool!r}" in failed(prefect_cli("work-queue", "inspect", q, "--pool", pool))

    failed(prefect_cli("work-queue", "delete", "default", "--pool", pool))
    assert get_queue(our_api, pool, "default")["id"] == get_pool(our_api, pool)["default_queue_id"]


def test_work_queue_without_a_pool_lives_in_the_default_agent_pool(prefect_cli, our_api):
    q = unique("legacy-q")
    ok(prefect_cli("work-queue", "create", q, "--limit", "3"))
    agent_pool = get_pool(our_api, "default-agent-pool")
    queue = get_queue(our_api, "default-agent-pool", q)
    assert (agent_pool["type"], queue["concurrency_limit"]) == ("prefect-agent", 3)
    inspected = json_out(prefect_cli("work-queue", "inspect", q, "--output", "json"))
    assert (inspected["id"], inspected["work_pool_name"]) == (queue["id"], "default-agent-pool")
    assert f"Successfully deleted work queue {q!r}" in ok(prefect_cli("work-queue", "delete", q))
    assert our_api.get(f"work_pools/default-agent-pool/queues/{q}").status_code == 404


def _schedule_run(api, flow_id: str, pool: str, queue: str, when: datetime, name: str) -> dict:
    r = api.post("flow_runs/", json={
        "flow_id": flow_id, "name": name, "work_pool_name": pool, "work_queue_name": queue,
        "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": when.isoformat()}},
    })
    assert r.status_code == 201, r.text
    return r.json()


def test_preview_lists_the_scheduled_runs_a_worker_would_get(prefect_cli, our_api):
    pool = unique("cli-preview")
    create_pool(our_api, pool)
    r = our_api.post(f"work_pools/{pool}/queues", json={"name": "high", "priority": 1})
    assert r.status_code == 201, r.text
    flow = our_api.post("flows/", json={"name": unique("cli-flow")})
    assert flow.status_code in (200, 201), flow.text
    now = datetime.now(timezone.utc)
    late = _schedule_run(our_api, flow.json()["id"], pool, "high", now - timedelta(minutes=5), "late-run")
    soon = _schedule_run(our_api, flow.json()["id"], pool, "default", now + timedelta(minutes=30), "soon-run")
    _schedule_run(our_api, flow.json()["id"], pool, "default", now + timedelta(hours=5), "far-run")

    runs = json_out(prefect_cli("work-pool", "preview", pool, "--hours", "1", "--output", "json"))
    assert sorted(r["name"] for r in runs) == ["late-run", "soon-run"]
    assert {r["id"] for r in runs} == {late["id"], soon["id"]}

    table = ok(prefect_cli("work-pool", "preview", pool, "--hours", "10"))
    assert late["id"] in table and soon["id"] in table and "far-run" in table
    assert table.count("(**)") == 2, "the caption and the one late run"

    runs = json_out(prefect_cli("work-queue", "preview", "high", "--pool", pool, "--hours", "1", "--output", "json"))
    assert [r["id"] for r in runs] == [late["id"]]


def test_slots_show_the_claimed_run_against_the_limits(either_api, prefect_cli_for):
    """`prefect work-pool slots` / `work-queue slots` read the concurrency_status routes (3.7+)."""
    pool, queue = unique("cli-slots"), unique("slotq")
    cli = prefect_cli_for(str(either_api.base_url).rstrip("/"))
    api = either_api
    create_pool(api, pool, concurrency_limit=3)
    assert api.post(f"work_pools/{pool}/queues", json={"name": queue, "concurrency_limit": 2}).status_code == 201
    flow = api.post("flows/", json={"name": unique("slots-flow")}).json()
    run = _schedule_run(api, flow["id"], pool, queue, datetime.now(timezone.utc) + timedelta(minutes=5), "slot-run")
    claim = api.post(f"flow_runs/{run['id']}/set_state", json={"state": {"type": "PENDING"}})
    assert claim.json()["status"] == "ACCEPT", claim.text

    status = json_out(cli("work-pool", "slots", pool, "--output", "json"))
    assert (status["active_slots"], status["concurrency_limit"]) == (1, 3)
    by_name = {q["queue_name"]: q for q in status["queues"]}
    assert (by_name[queue]["active_slots"], by_name[queue]["concurrency_limit"]) == (1, 2)
    assert [r["name"] for r in by_name[queue]["flow_runs"]] == ["slot-run"]

    status = json_out(cli("work-queue", "slots", queue, "--pool", pool, "--output", "json"))
    assert (status["active_slots"], status["concurrency_limit"]) == (1, 2)
    assert [(r["id"], r["state_type"]) for r in status["flow_runs"]] == [(run["id"], "PENDING")]
    api.delete(f"work_pools/{pool}")
