"""End to end: a pool's scheduled runs in the next N hours (preview) and its overdue runs (late),
found through ``POST /api/flow_runs/filter`` with the filters the Prefect client sends."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx

POOL = "preview"


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def _runs_filter(pool: str, *, before: datetime | None = None, states=("SCHEDULED",), names=None) -> dict:
    """The body ``PrefectClient.read_flow_runs`` sends (filters dumped as the client dumps them)."""
    state: dict = {"type": {"any_": list(states)}}
    if names:
        state["name"] = {"any_": list(names)}
    flow_runs: dict = {"state": state}
    if before is not None:
        flow_runs["next_scheduled_start_time"] = {"before_": _iso(before)}
    return {
        "flows": None, "flow_runs": flow_runs, "task_runs": None, "deployments": None,
        "work_pools": {"operator": "and_", "id": None, "name": {"any_": [pool]}, "type": None},
        "work_pool_queues": None, "sort": "NEXT_SCHEDULED_START_TIME_ASC", "limit": None, "offset": 0,
    }


def _setup(api: httpx.Client, now: datetime) -> dict[str, str]:
    flow_id = api.post("/flows/", json={"name": "preview-flow"}).json()["id"]
    for pool in (POOL, "elsewhere"):
        assert api.post("/work_pools/", json={"name": pool, "type": "process"}).status_code == 201
    assert api.post(f"/work_pools/{POOL}/queues/", json={"name": "slow"}).status_code == 201
    plan = [  # name, pool, queue, offset from now
        ("overdue", POOL, "default", timedelta(seconds=-60)),
        ("in-1h", POOL, "slow", timedelta(hours=1)),
        ("in-3h", POOL, "default", timedelta(hours=3)),
        ("in-30h", POOL, "slow", timedelta(hours=30)),
        ("other-pool", "elsewhere", "default", timedelta(hours=1)),
        ("claimed", POOL, "default", timedelta(minutes=-5)),
    ]
    ids = {}
    for name, pool, queue, offset in plan:
        r = api.post("/flow_runs/", json={
            "flow_id": flow_id, "name": name, "work_pool_name": pool, "work_queue_name": queue,
            "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": _iso(now + offset)}},
        })
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
    r = api.post(f"/flow_runs/{ids['claimed']}/set_state", json={"state": {"type": "PENDING", "name": "Pending"}})
    assert r.json()["status"] == "ACCEPT", r.text
    return ids


def _names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [run["name"] for run in response.json()]


def test_preview_finds_the_pools_runs_in_the_next_hours(api):
    now = datetime.now(timezone.utc)
    _setup(api, now)
    window = lambda hours: _runs_filter(POOL, before=now + timedelta(hours=hours))  # noqa: E731
    assert _names(api.post("/flow_runs/filter", json=window(24))) == ["overdue", "in-1h", "in-3h"]
    assert _names(api.post("/flow_runs/filter", json=window(2))) == ["overdue", "in-1h"]
    assert _names(api.post("/flow_runs/filter", json=window(48))) == ["overdue", "in-1h", "in-3h", "in-30h"]
    everything = _runs_filter(POOL, states=("SCHEDULED", "PENDING"))
    assert set(_names(api.post("/flow_runs/filter", json=everything))) == {
        "overdue", "in-1h", "in-3h", "in-30h", "claimed"
    }


def test_preview_through_the_poll_window(api):
    now = datetime.now(timezone.utc)
    _setup(api, now)
    r = api.post(f"/work_pools/{POOL}/get_scheduled_flow_runs",
                 json={"scheduled_before": str(now + timedelta(hours=24))})  # the client's space form
    assert r.status_code == 200, r.text
    # waterfall: the default queue (priority 1) before "slow" (priority 2)
    assert [item["flow_run"]["name"] for item in r.json()] == ["overdue", "in-3h", "in-1h"]


def test_overdue_runs_are_found_as_late(api):
    now = datetime.now(timezone.utc)
    ids = _setup(api, now)
    assert _names(api.post("/flow_runs/filter", json=_runs_filter(POOL, before=now))) == ["overdue"]

    late_named: list[str] = []
    for _ in range(40):  # bounded: about 10 s for the late marking to run
        late_named = _names(api.post("/flow_runs/filter", json=_runs_filter(POOL, names=["Late"])))
        if late_named:
            break
        time.sleep(0.25)
    assert late_named == ["overdue"]
    run = api.get(f"/flow_runs/{ids['overdue']}").json()
    assert (run["state_type"], run["state_name"]) == ("SCHEDULED", "Late")
    future = api.get(f"/flow_runs/{ids['in-1h']}").json()
    assert (future["state_type"], future["state_name"]) == ("SCHEDULED", "Scheduled")
    polled = api.post(f"/work_pools/{POOL}/get_scheduled_flow_runs", json={"scheduled_before": _iso(now)})
    assert [(i["flow_run"]["name"], i["flow_run"]["state_name"]) for i in polled.json()] == [("overdue", "Late")]
