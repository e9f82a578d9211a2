"""Flows, deployments, flow runs, polls and claims through the HTTP API."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import T0


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def scheduled(client, flow, queue=None, minutes=0.0, name=None, pool="pool"):
    body = {"flow_id": flow["id"], "work_pool_name": pool,
            "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": at(minutes)}}}
    if queue:
        body["work_queue_name"] = queue
    if name:
        body["name"] = name
    response = client.post("/api/flow_runs/", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def poll(client, pool="pool", **body):
    response = client.post(f"/api/work_pools/{pool}/get_scheduled_flow_runs", json=body)
    assert response.status_code == 200, response.text
    return [item["flow_run"]["name"] for item in response.json()]


def propose(client, run_id, kind, **extra):
    body = {"state": {"type": kind, **extra.pop("state", {})}, **extra}
    response = client.post(f"/api/flow_runs/{run_id}/set_state", json=body)
    assert response.status_code in (200, 201), response.text
    return response


@pytest.fixture
def seeds(client, pool, flow):
    """The seeds' example: critical p1 limit 1, high p5 limit 3, low p10."""
    client.post("/api/work_pools/pool/queues", json={"name": "critical", "priority": 1, "concurrency_limit": 1})
    client.post("/api/work_pools/pool/queues", json={"name": "high", "priority": 5, "concurrency_limit": 3})
    client.post("/api/work_pools/pool/queues", json={"name": "low", "priority": 10})
    for queue, count in (("critical", 2), ("high", 4), ("low", 2)):
        for i in range(count):
            scheduled(client, flow, queue, minutes=-10 + i, name=f"{queue}-{i}")
    return flow


def test_poll_waterfall_respects_queue_limits(client, seeds):
    assert poll(client) == ["critical-0", "high-0", "high-1", "high-2", "low-0", "low-1"]


def test_poll_limit_and_queue_names(client, seeds):
    assert poll(client, limit=2) == ["critical-0", "high-0"]
    assert poll(client, work_queue_names=["low"]) == ["low-0", "low-1"]
    assert poll(client, work_queue_names=["low", "critical"]) == ["critical-0", "low-0", "low-1"]


def test_poll_time_window_accepts_space_datetimes(client, seeds):
    before = str(T0 - timedelta(minutes=9, seconds=30))
    assert " " in before
    assert poll(client, scheduled_before=before) == ["critical-0", "high-0", "low-0"]
    assert poll(client, scheduled_after=at(-9)) == ["critical-1", "high-1", "high-2", "high-3", "low-1"]


def test_pool_limit_caps_the_poll(client, seeds):
    client.patch("/api/work_pools/pool", json={"concurrency_limit": 2})
    assert poll(client) == ["critical-0", "high-0"]
    client.patch("/api/work_pools/pool", json={"concurrency_limit": 0})
    assert poll(client) == []


def test_paused_pool_or_queue_gives_nothing(client, seeds):
    client.patch("/api/work_pools/pool/queues/critical", json={"is_paused": True})
    assert poll(client, work_queue_names=["critical"]) == []
    client.patch("/api/work_pools/pool", json={"is_paused": True})
    assert poll(client) == []


def test_claim_first_wins_second_aborts(client, seeds):
    response = client.post("/api/work_pools/pool/get_scheduled_flow_runs", json={"limit": 1}).json()
    run_id = response[0]["flow_run"]["id"]
    first = propose(client, run_id, "PENDING")
    assert first.status_code == 201
    assert first.json()["status"] == "ACCEPT"
    second = propose(client, run_id, "PENDING")
    assert second.status_code == 200
    assert second.json()["status"] == "ABORT"
    assert second.json()["details"]["type"] == "abort_details"


def test_claim_over_queue_limit_is_refused(client, seeds):
    ids = {r["name"]: r["id"] for r in client.post("/api/flow_runs/filter", json={}).json()}
    assert propose(client, ids["critical-0"], "PENDING").json()["status"] == "ACCEPT"
    refused = propose(client, ids["critical-1"], "PENDING").json()
    assert refused["status"] == "ABORT"
    assert "concurrency limit" in refused["details"]["reason"]
    assert client.get(f"/api/flow_runs/{ids['critical-1']}").json()["state_type"] == "SCHEDULED"
    assert propose(client, ids["critical-0"], "RUNNING").json()["status"] == "ACCEPT"
    assert propose(client, ids["critical-0"], "COMPLETED").json()["status"] == "ACCEPT"
    assert propose(client, ids["critical-1"], "PENDING").json()["status"] == "ACCEPT"


def test_claim_over_pool_limit_is_refused(client, seeds):
    client.patch("/api/work_pools/pool", json={"concurrency_limit": 1})
    ids = {r["name"]: r["id"] for r in client.post("/api/flow_runs/filter", json={}).json()}
    assert propose(client, ids["low-0"], "PENDING").json()["status"] == "ACCEPT"
    refused = propose(client, ids["high-0"], "PENDING").json()
    assert refused["status"] == "ABORT"
    assert "pool" in refused["details"]["reason"]
    assert propose(client, ids["high-0"], "PENDING", force=True).json()["status"] == "ACCEPT"


def test_state_bookkeeping(client, clock, pool, flow):
    run = scheduled(client, flow, minutes=0)
    assert run["next_scheduled_start_time"] is not None
    assert run["expected_start_time"] == run["next_scheduled_start_time"]
    assert run["state"]["name"] == "Scheduled"
    pending = propose(client, run["id"], "PENDING").json()["state"]
    assert pending["name"] == "Pending"
    assert pending["state_details"]["scheduled_time"] == run["state"]["state_details"]["scheduled_time"]
    after = client.get(f"/api/flow_runs/{run['id']}").json()
    assert after["next_scheduled_start_time"] is None
    assert after["expected_start_time"] == run["expected_start_time"]
    clock.advance(seconds=5)
    assert propose(client, run["id"], "RUNNING").json()["state"]["name"] == "Running"
    running = client.get(f"/api/flow_runs/{run['id']}").json()
    assert running["run_count"] == 1
    assert running["start_time"] is not None
    clock.advance(seconds=30)
    propose(client, run["id"], "COMPLETED")
    done = client.get(f"/api/flow_runs/{run['id']}").json()
    assert done["end_time"] is not None
    assert done["total_run_time"] == pytest.approx(30.0)
    assert propose(client, run["id"], "RUNNING").json()["status"] == "ABORT"


def test_running_before_scheduled_time_waits(client, pool, flow):
    run = scheduled(client, flow, minutes=10)
    result = propose(client, run["id"], "RUNNING").json()
    assert result["status"] == "WAIT"
    assert result["details"]["delay_seconds"] == 600


def test_late_runs_are_named_late_and_still_polled(client, clock, pool, flow):
    run = scheduled(client, flow, minutes=0, name="r")
    assert client.get(f"/api/flow_runs/{run['id']}").json()["state_name"] == "Scheduled"
    clock.advance(seconds=16)
    late = client.get(f"/api/flow_runs/{run['id']}").json()
    assert (late["state_type"], late["state_name"], late["state"]["name"]) == ("SCHEDULED", "Late", "Late")
    assert poll(client) == ["r"]
    found = client.post("/api/flow_runs/filter", json={"flow_runs": {"state": {"name": {"any_": ["Late"]}}}}).json()
    assert [r["name"] for r in found] == ["r"]
    on_time = client.post("/api/flow_runs/filter", json={"flow_runs": {"state": {"name": {"any_": ["Scheduled"]}}}}).json()
    assert on_time == []


def test_preview_filter_and_sorts(client, seeds):
    body = {
        "sort": "NEXT_SCHEDULED_START_TIME_ASC",
        "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}},
                      "next_scheduled_start_time": {"before_": at(-8), "after_": at(-9)}},
        "work_pools": {"name": {"any_": ["pool"]}},
    }
    names = [r["name"] for r in client.post("/api/flow_runs/filter", json=body).json()]
    assert sorted(names) == ["critical-1", "high-1", "high-2", "low-1"]
    body["work_pool_queues"] = {"name": {"any_": ["high"]}}
    assert [r["name"] for r in client.post("/api/flow_runs/filter", json=body).json()] == ["high-1", "high-2"]
    desc = client.post("/api/flow_runs/filter", json={"sort": "NAME_DESC", "limit": 2}).json()
    assert [r["name"] for r in desc] == ["low-1", "low-0"]
    assert client.post("/api/flow_runs/count", json={"work_pool_queues": {"name": {"any_": ["low"]}}}).json() == 2


def test_idempotency_key(client, pool, flow):
    body = {"flow_id": flow["id"], "idempotency_key": "k"}
    first = client.post("/api/flow_runs/", json=body)
    second = client.post("/api/flow_runs/", json=body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]


def test_flow_create_is_idempotent(client, flow):
    again = client.post("/api/flows/", json={"name": "flow"})
    assert again.status_code == 200
    assert again.json()["id"] == flow["id"]


TEMPLATE = {
    "job_configuration": {"image": "{{ image }}", "retries": "{{ retries }}"},
    "variables": {"type": "object", "required": ["image"],
                  "properties": {"image": {"type": "string"}, "retries": {"type": "integer", "minimum": 0, "default": 1}}},
}


@pytest.fixture
def templated(client, flow):
    response = client.post("/api/work_pools/", json={"name": "tpl", "type": "docker", "base_job_template": TEMPLATE})
    assert response.status_code == 201, response.text
    return flow


def test_deployment_upsert_and_autocreated_queue(client, templated):
    body = {"name": "d", "flow_id": templated["id"], "work_pool_name": "tpl", "work_queue_name": "made-by-deploy"}
    first = client.post("/api/deployments/", json=body)
    second = client.post("/api/deployments/", json=body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert client.get("/api/work_pools/tpl/queues/made-by-deploy").status_code == 200
    by_name = client.get("/api/deployments/name/flow/d")
    assert by_name.status_code == 200 and by_name.json()["work_queue_name"] == "made-by-deploy"
    found = client.post("/api/deployments/filter", json={"deployments": {"name": {"any_": ["d"]}}}).json()
    assert [d["id"] for d in found] == [first.json()["id"]]


@pytest.mark.parametrize(
    ("variables", "status", "text"),
    [
        ({"retries": "x"}, 422, "Validation failed for field 'retries'. Failure reason: 'x' is not valid under any of the given schemas"),
        ({"retries": -1}, 422, "-1 is less than the minimum of 0"),
        ({}, 201, ""),
        ({"unknown": 1}, 201, ""),
    ],
    ids=["wrong-type", "out-of-range", "required-missing-allowed", "unknown-key-allowed"],
)
def test_deployment_job_variables(client, templated, variables, status, text):
    response = client.post("/api/deployments/", json={"name": "d", "flow_id": templated["id"], "work_pool_name": "tpl",
                                                      "job_variables": variables})
    assert response.status_code == status, response.text
    assert text in response.text


def test_create_flow_run_enforces_required_job_variables(client, templated):
    dep = client.post("/api/deployments/", json={"name": "d", "flow_id": templated["id"], "work_pool_name": "tpl"}).json()
    refused = client.post(f"/api/deployments/{dep['id']}/create_flow_run", json={})
    assert refused.status_code == 422
    assert refused.json() == {"detail": "Error creating flow run: Validation failed. Failure reason: 'image' is a required property"}
    run = client.post(f"/api/deployments/{dep['id']}/create_flow_run", json={"job_variables": {"image": "x"}})
    assert run.status_code == 201
    assert (run.json()["state_type"], run.json()["state_name"]) == ("SCHEDULED", "Scheduled")
    assert run.json()["work_queue_name"] == "default"


def test_deployment_patch_validates_only_with_pool_name(client, templated):
    dep = client.post("/api/deployments/", json={"name": "d", "flow_id": templated["id"], "work_pool_name": "tpl"}).json()
    assert client.patch(f"/api/deployments/{dep['id']}", json={"job_variables": {"retries": -1}}).status_code == 204
    conflict = client.patch(f"/api/deployments/{dep['id']}", json={"work_pool_name": "tpl", "job_variables": {"retries": -1}})
    assert conflict.status_code == 409
    assert conflict.json()["detail"].startswith("Error creating deployment: <ValidationError:")
    assert client.delete(f"/api/deployments/{dep['id']}").status_code == 204
    assert client.get(f"/api/deployments/{dep['id']}").status_code == 404


def test_filter_accepts_the_full_client_dump(client, seeds):
    """The Prefect client sends every filter key, most of them null."""
    flow_runs = {key: None for key in (
        "id", "name", "tags", "deployment_id", "work_queue_name", "flow_version", "start_time", "end_time",
        "expected_start_time", "parent_flow_run_id", "parent_task_run_id", "idempotency_key", "created_by")}
    flow_runs.update({
        "operator": "and_",
        "state": {"operator": "and_", "type": {"any_": ["SCHEDULED"], "not_any_": None}, "name": None},
        "next_scheduled_start_time": {"before_": at(-8), "after_": None},
        "work_queue_name": {"operator": "and_", "any_": ["high"], "is_null_": None},
        "tags": {"operator": "and_", "all_": None, "any_": None, "is_null_": True},
    })
    body = {
        "sort": "EXPECTED_START_TIME_ASC", "limit": 200, "offset": 0,
        "flows": {"operator": "and_", "id": None, "deployment": None, "name": None, "tags": None},
        "flow_runs": flow_runs, "task_runs": None, "deployments": None,
        "work_pools": {"operator": "and_", "id": None, "name": {"any_": ["pool"]}, "type": None},
        "work_pool_queues": {"operator": "and_", "id": None, "name": {"any_": ["high"], "startswith_": None}},
    }
    response = client.post("/api/flow_runs/filter", json=body)
    assert response.status_code == 200, response.text
    assert [r["name"] for r in response.json()] == ["high-0", "high-1", "high-2"]
    body["flow_runs"]["tags"] = {"operator": "and_", "all_": ["nope"], "any_": None, "is_null_": None}
    assert client.post("/api/flow_runs/filter", json=body).json() == []


def test_flow_run_patch(client, templated):
    dep = client.post("/api/deployments/", json={"name": "d", "flow_id": templated["id"], "work_pool_name": "tpl",
                                                 "job_variables": {"image": "a"}}).json()
    run = client.post(f"/api/deployments/{dep['id']}/create_flow_run", json={}).json()
    assert client.patch(f"/api/flow_runs/{run['id']}", json={"infrastructure_pid": "42", "tags": ["t"]}).status_code == 204
    assert client.patch(f"/api/flow_runs/{run['id']}", json={"job_variables": {"retries": "x"}}).status_code == 422
    assert client.patch(f"/api/flow_runs/{run['id']}", json={"job_variables": {"retries": 3}}).status_code == 204
    after = client.get(f"/api/flow_runs/{run['id']}").json()
    assert (after["infrastructure_pid"], after["tags"], after["job_variables"]) == ("42", ["t"], {"retries": 3})
    client.post(f"/api/flow_runs/{run['id']}/set_state", json={"state": {"type": "PENDING"}})
    assert client.patch(f"/api/flow_runs/{run['id']}", json={"job_variables": {}}).status_code == 400
    assert client.patch(f"/api/flow_runs/{run['id']}", json={"bogus": 1}).status_code == 422


def test_concurrency_status_routes(client, clock, seeds):
    ids = {r["name"]: r["id"] for r in client.post("/api/flow_runs/filter", json={}).json()}
    propose(client, ids["high-0"], "PENDING")
    clock.advance(seconds=7)
    client.patch("/api/work_pools/pool", json={"concurrency_limit": 4})
    status = client.post("/api/work_pools/pool/concurrency_status", json={}).json()
    assert (status["active_slots"], status["concurrency_limit"], status["count"], status["page"]) == (1, 4, 4, 1)
    high = next(q for q in status["queues"] if q["queue_name"] == "high")
    assert (high["active_slots"], high["concurrency_limit"], high["flow_run_count"]) == (1, 3, 1)
    assert [(r["name"], r["state_type"], r["time_in_current_state"]) for r in high["flow_runs"]] == [("high-0", "PENDING", 7.0)]
    queue_status = client.post(f"/api/work_queues/{high['queue_id']}/concurrency_status", json={"limit": 1}).json()
    assert (queue_status["active_slots"], queue_status["pages"], len(queue_status["flow_runs"])) == (1, 1, 1)
    assert client.post("/api/work_pools/nope/concurrency_status", json={}).status_code == 404
    assert client.post("/api/work_pools/pool/concurrency_status", json={"flow_run_limit": 500}).status_code == 422


def test_worker_side_routes(client, pool, flow):
    """Routes a real worker and flow-run engine call besides polling and claiming."""
    run = client.post("/api/flow_runs/", json={"flow_id": flow["id"], "labels": {"a": "1"}}).json()
    assert client.patch(f"/api/flow_runs/{run['id']}/labels", json={"b": "2"}).status_code == 204
    labels = client.get(f"/api/flow_runs/{run['id']}").json()["labels"]
    assert (labels["a"], labels["b"]) == ("1", "2")
    assert client.patch("/api/flow_runs/00000000-0000-0000-0000-000000000000/labels", json={}).status_code == 404
    log = {"name": "prefect", "message": "m", "level": 20, "timestamp": "2026-01-01T00:00:00Z", "flow_run_id": run["id"]}
    assert client.post("/api/logs/", json=[log]).status_code == 201
    assert client.post("/api/logs/", json=[{"message": "m", "level": 20}]).status_code == 422
    assert client.post("/api/logs/", json={"not": "a list"}).status_code == 422
    body = {"flow_runs": {"id": {"any_": [run["id"]]}}, "sort": None, "limit": None, "offset": 0}
    assert [r["id"] for r in client.post("/api/flow_runs/filter", json=body).json()] == [run["id"]]


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/api/flows/count", None, 3),
        ("/api/flows/count", {"flows": {"name": {"any_": ["f0", "f2", "nope"]}}}, 2),
        ("/api/deployments/count", {}, 3),
        ("/api/deployments/count", {"flows": {"name": {"any_": ["f1"]}}}, 1),
        ("/api/deployments/count", {"work_pools": {"name": {"any_": ["nope"]}}}, 0),
    ],
    ids=["flows-all", "flows-by-name", "deployments-all", "deployments-by-flow", "deployments-other-pool"],
)
def test_flow_and_deployment_counts(client, pool, path, body, expected):
    for i in range(3):
        flow = client.post("/api/flows/", json={"name": f"f{i}"}).json()
        assert client.post("/api/deployments/", json={"name": "d", "flow_id": flow["id"], "work_pool_name": "pool"}).status_code == 201
    response = client.post(path, json=body)
    assert (response.status_code, response.json()) == (200, expected)


@pytest.mark.parametrize("path", ["/api/work_pools/filter", "/api/work_pools/pool/queues/filter"], ids=["pools", "queues"])
def test_filter_by_id_takes_uuids_as_prefect_does(client, pool, path):
    key = "work_pools" if path == "/api/work_pools/filter" else "work_queues"
    wanted = pool["id"] if key == "work_pools" else pool["default_queue_id"]
    found = client.post(path, json={key: {"id": {"any_": [wanted.upper()]}}})
    assert found.status_code == 200 and [x["id"] for x in found.json()] == [wanted]
    bad = client.post(path, json={key: {"id": {"any_": ["not-uuid"]}}})
    assert bad.status_code == 422
    assert bad.json()["exception_detail"][0]["type"] == "uuid_parsing"


RUN_A = "5e0a7f4c-7d3b-4d55-9d4f-4a53b9d1f0a1"
RUN_B = "6f1b8a5d-8e4c-4e66-8e5a-5b64cae2a1b2"


def _log(run: str | None, second: int, level: int, message: str) -> dict:
    return {"name": "prefect.flow_runs", "level": level, "message": message,
            "timestamp": f"2026-01-01T00:00:{second:02d}Z", "flow_run_id": run, "task_run_id": None}


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        ({"logs": {"flow_run_id": {"any_": [RUN_A]}}, "sort": "TIMESTAMP_ASC"}, ["a1", "a2", "a3"]),
        ({"logs": {"flow_run_id": {"any_": [RUN_A]}}, "sort": "TIMESTAMP_DESC", "limit": 2}, ["a3", "a2"]),
        ({"logs": {"flow_run_id": {"any_": [RUN_A]}, "level": {"ge_": 30}}}, ["a2"]),
        ({"logs": {"flow_run_id": {"any_": [RUN_A, RUN_B]}}, "offset": 2, "limit": 2}, ["a3", "b1"]),
        ({"logs": {"timestamp": {"after_": "2026-01-01T00:00:03Z"}}}, ["a2", "a3", "b1"]),
        (None, ["no-run", "a1", "a2", "a3", "b1"]),
    ],
    ids=["by-run", "newest-first", "warnings-up", "paging", "since", "everything"],
)
def test_logs_are_kept_and_filtered_as_prefect_flow_run_logs_reads_them(client, body, messages):
    logs = [_log(RUN_A, 2, 20, "a1"), _log(RUN_A, 3, 40, "a2"), _log(RUN_A, 4, 20, "a3"),
            _log(RUN_B, 5, 20, "b1"), _log(None, 1, 10, "no-run")]
    assert client.post("/api/logs/", json=logs).status_code == 201
    response = client.post("/api/logs/filter", json=body)
    assert response.status_code == 200, response.text
    assert [log["message"] for log in response.json()] == messages
    first = response.json()[0]
    assert set(first) == {"id", "created", "updated", "name", "level", "message", "timestamp", "flow_run_id", "task_run_id"}


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        ("/api/logs/", [{**_log(RUN_A, 1, 20, "x"), "timestamp": "bad"}], "timestamp"),
        ("/api/logs/", [{**_log(RUN_A, 1, 20, "x"), "extra": 1}], "extra"),
        ("/api/logs/", {"name": "not a list"}, "list"),
        ("/api/logs/filter", {"limit": 201}, "Invalid limit: must be less than or equal to 200."),
        ("/api/logs/filter", {"sort": "NOPE"}, "sort"),
    ],
    ids=["bad-timestamp", "unknown-key", "not-a-list", "limit", "sort"],
)
def test_bad_logs_requests_are_422(client, path, body, needle):
    response = client.post(path, json=body)
    assert response.status_code == 422 and needle in response.text


@pytest.mark.parametrize(
    ("deployment", "run_body", "rename"),
    [
        ({"work_pool_name": "pool"}, {}, None),
        ({"work_pool_name": "pool", "work_queue_name": "dq"}, {}, None),
        ({"work_pool_name": "pool", "work_queue_name": "dq"}, {}, "dq-renamed"),
        ({"work_pool_name": "pool"}, {"work_queue_name": "dq"}, None),
        ({"work_pool_name": "pool"}, {"work_queue_name": "made-by-run"}, None),
        ({}, {"work_queue_name": "anywhere"}, None),
        ({}, {}, None),
    ],
    ids=["default-queue", "deployment-queue", "deployment-queue-renamed", "named-queue", "queue-created", "no-pool", "bare"],
)
def test_deployment_run_answer_is_the_run_as_read(client, pool, flow, deployment, run_body, rename):
    """create_flow_run answers from what it read in its one statement (the deployment with its pool
    and queue): the pool and queue it names are those a later read of the run finds."""
    client.post("/api/work_pools/pool/queues/", json={"name": "dq"})
    dep = client.post("/api/deployments/", json={"name": "d", "flow_id": flow["id"], **deployment})
    assert dep.status_code == 201, dep.text
    if rename:
        assert client.patch("/api/work_pools/pool/queues/dq", json={"name": rename}).status_code == 204
    created = client.post(f"/api/deployments/{dep.json()['id']}/create_flow_run", json=run_body)
    assert created.status_code == 201, created.text
    read = client.get(f"/api/flow_runs/{created.json()['id']}")
    assert created.json() == read.json()
    if deployment:
        assert created.json()["work_pool_name"] == "pool" and created.json()["work_pool_id"] == pool["id"]
    if rename:
        assert created.json()["work_queue_name"] == rename
