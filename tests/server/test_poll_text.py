"""A poll sends each run as text kept in the ``wire`` column by every write: whatever happened to
the runs, every run a poll returns is exactly the run ``GET /flow_runs/{id}`` answers (without the
pool keys the poll's item carries), Late and its start delta included, and a run written before the
column existed (``wire`` NULL) is rendered from its columns to the same JSON."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import T0
from reconciler.server.app import create_app
from reconciler.server.clock import ManualClock
from reconciler.server.domain import flow_runs
from reconciler.server.domain.sql import RUN_COLUMNS
from reconciler.server.store import open_store

QUEUES = ("q1", "q2")
STATES = ("PENDING", "RUNNING", "COMPLETED", "CANCELLED", "FAILED", "SCHEDULED", "PAUSED")

run_index = st.integers(min_value=0, max_value=7)
ops = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(QUEUES), st.integers(-30, 30), st.booleans(),
              st.sampled_from(["Scheduled", "AwaitingRetry"])),
    st.tuples(st.just("advance"), st.integers(0, 900)),
    st.tuples(st.just("state"), run_index, st.sampled_from(STATES), st.integers(-20, 20)),
    st.tuples(st.just("patch"), run_index, st.sampled_from([
        {"name": "renamed-ü"}, {"tags": ["a", "b\"quote"]}, {"job_variables": {"env": {"X": "1"}}},
        {"empirical_policy": {"retries": 2}}, {"parameters": {"n": 1.5}}, {"flow_version": None},
    ])),
    st.tuples(st.just("labels"), run_index, st.dictionaries(st.sampled_from(["k", "é", "x"]), st.text(max_size=3), max_size=2)),
    st.tuples(st.just("legacy"), run_index),
)


def _without_pool(run: dict) -> dict:
    return {k: v for k, v in run.items() if k not in ("work_pool_id", "work_pool_name")}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=1, max_size=14))
def test_polled_runs_are_the_runs_read(steps):
    clock = ManualClock(T0)
    store = open_store(":memory:")
    with TestClient(create_app(store, clock=clock), raise_server_exceptions=False) as client:
        assert client.post("/api/work_pools/", json={"name": "pool", "type": "process"}).status_code == 201
        for priority, name in enumerate(QUEUES, start=1):
            client.post("/api/work_pools/pool/queues", json={"name": name, "priority": priority})
        flow = client.post("/api/flows/", json={"name": "flow"}).json()
        deployment = client.post("/api/deployments/", json={
            "name": "dep", "flow_id": flow["id"], "work_pool_name": "pool", "work_queue_name": "q1",
            "job_variables": {"env": {"BENCH": "1"}}, "tags": ["dep-tag"]}).json()
        runs: list[str] = []
        for step in steps:
            kind = step[0]
            if kind == "create":
                _, queue, minutes, via_deployment, name = step
                state = {"type": "SCHEDULED", "name": name,
                         "state_details": {"scheduled_time": (clock() + timedelta(seconds=minutes * 10)).isoformat()}}
                if via_deployment:
                    r = client.post(f"/api/deployments/{deployment['id']}/create_flow_run",
                                    json={"work_queue_name": queue, "state": state, "parameters": {"p": [1, "ü"]}})
                else:
                    r = client.post("/api/flow_runs/", json={"flow_id": flow["id"], "work_pool_name": "pool",
                                                             "work_queue_name": queue, "state": state})
                assert r.status_code == 201, r.text
                runs.append(r.json()["id"])
            elif kind == "advance":
                clock.advance(seconds=step[1])
            elif not runs:
                continue
            elif kind == "state":
                _, i, state_type, minutes = step
                state: dict = {"type": state_type}
                if state_type == "SCHEDULED":
                    state["state_details"] = {"scheduled_time": (clock() + timedelta(minutes=minutes)).isoformat()}
                    state["name"] = "AwaitingRetry" if minutes % 2 else "Scheduled"
                r = client.post(f"/api/flow_runs/{runs[i % len(runs)]}/set_state", json={"state": state, "force": True})
                assert r.status_code in (200, 201), r.text
            elif kind == "patch":
                run_id = runs[step[1] % len(runs)]
                assert client.patch(f"/api/flow_runs/{run_id}", json=step[2]).status_code in (204, 400), step
            elif kind == "labels":
                run_id = runs[step[1] % len(runs)]
                assert client.patch(f"/api/flow_runs/{run_id}/labels", json=step[2]).status_code == 204
            elif kind == "legacy":  # as a run written before the wire column: rendered from its columns
                store.execute("UPDATE flow_run SET wire = NULL WHERE id = ?", (runs[step[1] % len(runs)],))

            polled = client.post("/api/work_pools/pool/get_scheduled_flow_runs",
                                 json={"scheduled_before": (clock() + timedelta(days=30)).isoformat()})
            assert polled.status_code == 200, polled.text
            items = polled.json()
            scheduled = [r for r in runs if client.get(f"/api/flow_runs/{r}").json()["state_type"] == "SCHEDULED"]
            assert sorted(item["flow_run"]["id"] for item in items) == sorted(scheduled)
            for item in items:
                read = client.get(f"/api/flow_runs/{item['flow_run']['id']}").json()
                assert item["flow_run"] == _without_pool(read)
                assert (item["work_pool_id"], item["work_queue_id"]) == (read["work_pool_id"], read["work_queue_id"])
            now = clock()
            for row in store.query(f"SELECT {RUN_COLUMNS} FROM flow_run"):  # every state, RUNNING included
                assert json.loads(flow_runs.core_run_text(row, now)) == flow_runs.run_json_core(row, now)
    store.close()


def test_every_write_of_a_shown_column_goes_through_update_run():
    """Statements that write flow_run outside ``flow_runs._update_run`` (and the insert, which writes
    ``wire`` itself) touch only columns no FlowRun text holds: a new one would leave polls stale."""
    import re
    from pathlib import Path

    import reconciler.server as server

    not_shown = {"claimant", "reclaimed_from", "work_queue_id"}
    found, dynamic = [], []
    for path in Path(server.__file__).parent.rglob("*.py"):
        for match in re.finditer(r"UPDATE flow_run SET (.*)", path.read_text()):
            text = match.group(1)
            if text.startswith("{"):
                dynamic.append(path.name)
                continue
            assignments = re.split(r" WHERE|[\"']", text)[0]
            found.append((path.name, {part.split("=")[0].strip() for part in assignments.split(",")}))
    assert found, "the scan found no flow_run updates: the pattern is stale"
    assert dynamic == ["flow_runs.py"], dynamic  # _update_run's own statement, and no other built one
    for name, columns in found:
        assert columns <= not_shown or name == "schema.py", (name, columns)
