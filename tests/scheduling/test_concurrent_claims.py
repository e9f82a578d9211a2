"""End to end over a socket: 20 workers polling different queue sets and claiming at once never
exceed the pool's or a queue's limit and never claim a run twice; finishing runs frees slots."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

import httpx

POOL = "race"
POOL_LIMIT = 5
QUEUE_LIMITS = {"q1": 1, "q2": 2, "q3": 3, "q4": None, "q5": None}
QUEUE_SETS = [  # 20 workers, overlapping sets so several of them see the same runs
    ["q1"], ["q2"], ["q3"], ["q4"], ["q5"], ["default"],
    ["q1", "q2"], ["q2", "q3"], ["q3", "q4"], ["q4", "q5"], ["q5", "default"],
    ["q1", "q3", "q5"], ["q2", "q4", "default"], ["q1", "q4"], ["q3", "default"],
    ["q1", "q2", "q3"], ["q4", "q5", "default"], [], ["q2", "q5"], ["q1", "default"],
]
ROUNDS = 6


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def _setup(api: httpx.Client) -> dict[str, str]:
    flow = api.post("/flows/", json={"name": "race-flow"})
    assert flow.status_code in (200, 201), flow.text
    r = api.post("/work_pools/", json={"name": POOL, "type": "process", "concurrency_limit": POOL_LIMIT})
    assert r.status_code == 201, r.text
    for i, (name, limit) in enumerate(QUEUE_LIMITS.items()):
        body = {"name": name, "priority": i + 2, "concurrency_limit": limit}
        r = api.post(f"/work_pools/{POOL}/queues/", json=body)
        assert r.status_code == 201, r.text
    queue_of: dict[str, str] = {}
    start = datetime.now(timezone.utc) - timedelta(minutes=10)
    names = list(QUEUE_LIMITS) + ["default"]
    for i in range(60):
        queue = names[i % len(names)]
        r = api.post("/flow_runs/", json={
            "flow_id": flow.json()["id"], "name": f"run-{i:02d}", "work_pool_name": POOL,
            "work_queue_name": queue,
            "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": _iso(start + timedelta(seconds=i))}},
        })
        assert r.status_code == 201, r.text
        assert r.json()["work_queue_name"] == queue
        queue_of[r.json()["id"]] = queue
    return queue_of


def _active(api: httpx.Client) -> list[dict]:
    r = api.post("/flow_runs/filter", json={
        "flow_runs": {"state": {"type": {"any_": ["PENDING", "RUNNING"]}}},
        "work_pools": {"name": {"any_": [POOL]}},
    })
    assert r.status_code == 200, r.text
    return r.json()


def _check_limits(runs: list[dict], where: str) -> None:
    assert len(runs) <= POOL_LIMIT, f"{where}: {len(runs)} active runs in a pool limited to {POOL_LIMIT}"
    per_queue = Counter(run["work_queue_name"] for run in runs)
    for queue, n in per_queue.items():
        limit = QUEUE_LIMITS.get(queue)
        assert limit is None or n <= limit, f"{where}: {n} active runs in {queue} limited to {limit}"


def _claim(client: httpx.Client, run_id: str) -> dict:
    r = client.post(f"/flow_runs/{run_id}/set_state", json={"state": {"type": "PENDING", "name": "Pending"}})
    assert r.status_code in (200, 201), r.text
    return r.json()


def test_racing_workers_never_exceed_limits_or_double_claim(live_server, api):
    queue_of = _setup(api)
    barrier = threading.Barrier(len(QUEUE_SETS) + 1)
    polled = threading.Barrier(len(QUEUE_SETS))
    results: list[tuple[str, str, str | None]] = []
    samples: list[list[dict]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    done = threading.Event()

    def worker(queues: list[str]) -> None:
        try:
            with httpx.Client(base_url=live_server.api_url, timeout=30) as client:
                barrier.wait()
                for round_ in range(ROUNDS):
                    r = client.post(f"/work_pools/{POOL}/get_scheduled_flow_runs",
                                    json={"work_queue_names": queues, "limit": 10})
                    assert r.status_code == 200, r.text
                    if round_ == 0:
                        polled.wait(30)  # every worker holds its first poll before anyone claims
                    for item in r.json():
                        answer = _claim(client, item["flow_run"]["id"])
                        with lock:
                            results.append((item["flow_run"]["id"], answer["status"],
                                            (answer.get("details") or {}).get("reason")))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    def monitor() -> None:
        try:
            with httpx.Client(base_url=live_server.api_url, timeout=30) as client:
                barrier.wait()
                for _ in range(200):
                    if done.is_set():
                        break
                    samples.append(_active(client))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(qs,)) for qs in QUEUE_SETS]
    watcher = threading.Thread(target=monitor)
    for t in threads:
        t.start()
    watcher.start()
    for t in threads:
        t.join(60)
    done.set()
    watcher.join(60)
    assert not errors, errors
    assert samples, "the monitor took no samples"
    for i, sample in enumerate(samples):
        _check_limits(sample, f"sample {i}")

    accepted = Counter(run_id for run_id, status, _ in results if status == "ACCEPT")
    assert all(n == 1 for n in accepted.values()), f"claimed twice: {accepted}"
    final = _active(api)
    _check_limits(final, "after the race")
    assert {r["id"] for r in final} == set(accepted)
    assert len(accepted) == POOL_LIMIT, "free slots were left unclaimed"
    assert all(status in {"ACCEPT", "ABORT"} for _, status, _ in results)
    reasons = {reason for _, status, reason in results if status == "ABORT"}
    assert reasons, "no claim was ever refused although 20 workers raced for 5 slots"
    assert all("concurrency limit" in r or "cannot transition to a PENDING state" in r for r in reasons), reasons
    by_queue = Counter(queue_of[run_id] for run_id in accepted)
    assert all(QUEUE_LIMITS.get(q) is None or n <= QUEUE_LIMITS[q] for q, n in by_queue.items())


def test_finishing_runs_frees_slots_for_the_next_poll(live_server, api):
    _setup(api)
    poll = api.post(f"/work_pools/{POOL}/get_scheduled_flow_runs", json={})
    assert poll.status_code == 200
    first = [item["flow_run"] for item in poll.json()]
    assert len(first) == POOL_LIMIT
    for run in first:
        assert _claim(api, run["id"])["status"] == "ACCEPT"
    assert api.post(f"/work_pools/{POOL}/get_scheduled_flow_runs", json={}).json() == []
    pool = api.get(f"/work_pools/{POOL}").json()
    assert pool["active_slots"] == POOL_LIMIT

    finished = first[:2]
    for run in finished:
        for state in ("RUNNING", "COMPLETED"):
            r = api.post(f"/flow_runs/{run['id']}/set_state", json={"state": {"type": state}})
            assert r.json()["status"] == "ACCEPT", r.text
            assert api.get(f"/flow_runs/{run['id']}").json()["state_type"] == state
    assert _claim(api, finished[0]["id"])["status"] == "ABORT"

    nxt = [item["flow_run"] for item in api.post(f"/work_pools/{POOL}/get_scheduled_flow_runs", json={}).json()]
    assert len(nxt) == 2
    assert not {r["id"] for r in nxt} & {r["id"] for r in first}
    for run in nxt:
        assert _claim(api, run["id"])["status"] == "ACCEPT"
    _check_limits(_active(api), "after the second round")
    assert len(_active(api)) == POOL_LIMIT
    assert api.post(f"/work_pools/{POOL}/get_scheduled_flow_runs", json={}).json() == []
