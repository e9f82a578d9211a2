"""Three ``poolform server start`` processes on one database behave as one server: on one
PostgreSQL database (a cluster this test starts) and, separately, on one SQLite file.

The replicas start together on an empty database. Then 30 workers over HTTP, spread across the
replicas and polling different queue sets, race for runs in 50 trials of each kind: a pool
limit of 1 with runs in two queues, a queue limit of 1, and one run that every worker sees.
No pool or queue ever holds more active runs than its limit and no run is ACCEPTed twice — and
the races did happen (several claimants per run). Concurrent creates of one name, priority
walks, upserts and heartbeats across replicas keep names unique and priorities distinct.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import reconciler

TRIALS = 50
WORKERS = 30
REPLICAS = 3
PAST = "2026-01-01T00:00:00Z"


class Replicas:
    def __init__(self, db: str, count: int = REPLICAS, extra: list[str] | None = None) -> None:
        self.db = db
        env = {**os.environ, "PYTHONPATH": str(Path(reconciler.__file__).resolve().parents[1])}
        self.procs = [
            subprocess.Popen([sys.executable, "-m", "reconciler", "server", "start", "--port", "0", "--db", db, *(extra or [])],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for _ in range(count)
        ]
        self.urls = [self._url(p) for p in self.procs]

    @staticmethod
    def _url(proc: subprocess.Popen) -> str:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("PREFECT_API_URL="):
                return line.strip().split("=", 1)[1]
            if not line and proc.poll() is not None:
                break
        proc.kill()
        raise AssertionError(f"a replica did not start: {proc.stderr.read() if proc.stderr else ''}")

    def stop(self) -> None:
        for proc in self.procs:
            proc.kill()
        for proc in self.procs:
            proc.wait(10)


@pytest.fixture(scope="module", params=[pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"])
def replicas(request, tmp_path_factory):
    if request.param == "postgresql":
        db = request.getfixturevalue("postgres_cluster").new_database("replicas")
    else:
        db = str(tmp_path_factory.mktemp("replicas") / "server.db")
    started = Replicas(db)
    yield started
    started.stop()


def _client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=60, transport=httpx.HTTPTransport(retries=2))


def _ok(response: httpx.Response, *codes: int) -> dict:
    assert response.status_code in (codes or (200, 201)), f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
    return response.json() if response.content else {}


def _each(fn, items, threads: int = 6) -> list:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(fn, items))


def test_replicas_started_together_share_one_schema(replicas: Replicas) -> None:
    for url in replicas.urls:
        with _client(url) as api:
            assert api.get("/health").json() is True
            _ok(api.post("/flows/", json={"name": "started-together"}))
    with _client(replicas.urls[0]) as api:
        flows = _ok(api.post("/flows/filter", json={"flows": {"name": {"any_": ["started-together"]}}}))
    assert len(flows) == 1


def _open_at_the_barrier(db: str, barrier, results) -> None:
    from reconciler.server.store import open_store

    barrier.wait()
    try:
        store = open_store(db)
        results.put(("ok", store.one("SELECT COUNT(*) AS n FROM work_pool")["n"]))
        store.close()
    except Exception as exc:  # reported to the test, which fails on it
        results.put(("error", f"{type(exc).__name__}: {exc}"))


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"])
def test_stores_opened_at_the_same_instant_create_one_schema(backend, request, tmp_path) -> None:
    """Six processes open one empty database at the same instant (a barrier right before
    ``open_store``): every one of them gets the schema, created once."""
    import multiprocessing

    from reconciler.server.store import open_store
    from reconciler.server.store.schema import SCHEMA_VERSION

    db = request.getfixturevalue("postgres_cluster").new_database("opened") if backend == "postgresql" else str(tmp_path / "s.db")
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(6), context.Queue()
    procs = [context.Process(target=_open_at_the_barrier, args=(db, barrier, results)) for _ in range(6)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(30)
    assert outcomes == [("ok", 0)] * 6
    store = open_store(db)
    assert [r["version"] for r in store.query("SELECT version FROM schema_version")] == [SCHEMA_VERSION]
    store.close()


def _setup(replicas: Replicas) -> dict[str, list[str]]:
    """Pools for the three kinds of trials, made in this process through the domain functions on
    the same database (quicker than HTTP); returns each pool's queue names."""
    from reconciler.server.clock import system_clock
    from reconciler.server.domain import Ctx, flow_runs, flows, pools, queues
    from reconciler.server.store import open_store

    store = open_store(replicas.db)
    ctx = Ctx(store, system_clock)
    flow_id = flows.create_flow(ctx, "races", [], None)[0]["id"]
    layout: dict[str, list[str]] = {}
    scheduled = {"type": "SCHEDULED", "state_details": {"scheduled_time": PAST}}

    def pool(name: str, limit: int | None, extra: dict[str, int | None], runs: tuple[str, ...]) -> None:
        pools.create_pool(ctx, name=name, type="process", description=None, base_job_template={}, is_paused=False,
                          concurrency_limit=limit, storage_configuration={})
        for queue, queue_limit in extra.items():
            queues.create_queue(ctx, name, name=queue, description=None, is_paused=False, concurrency_limit=queue_limit,
                                priority=None)
        for queue in runs:
            flow_runs.create_flow_run(ctx, {"flow_id": flow_id, "work_pool_name": name, "work_queue_name": queue,
                                            "state": scheduled})
        layout[name] = ["default", *extra][::-1] if extra else ["default"]

    for t in range(TRIALS):
        pool(f"pool-limit-{t}", 1, {"b": None}, ("default", "b"))  # a pool limit of 1, runs in two queues
        pool(f"queue-limit-{t}", None, {"q": 1}, ("q", "q", "default"))  # a queue limit of 1 next to a free queue
        pool(f"same-run-{t}", None, {}, ("default",))  # one run every worker sees
    store.close()
    return layout


def test_racing_workers_across_replicas_keep_every_limit_and_claim_once(replicas: Replicas) -> None:
    layout = _setup(replicas)
    pools = sorted(layout)
    accepted: dict[str, Counter] = defaultdict(Counter)  # pool -> run -> ACCEPTs
    claimants: Counter = Counter()  # run -> workers that proposed PENDING
    lock = threading.Lock()
    errors: list[str] = []
    start = threading.Barrier(WORKERS)

    def worker(w: int) -> None:
        api = _client(replicas.urls[w % len(replicas.urls)])
        mine = [p for i, p in enumerate(pools) if i % 5 == w % 5]  # 6 workers per pool, two on each replica
        start.wait()
        try:
            for pool in mine:
                queues = layout[pool]
                sets = [None, queues, queues[:1], queues[-1:]]
                body = {"work_queue_names": sets[(w // 5) % len(sets)]} if sets[(w // 5) % len(sets)] else {}
                offered = api.post(f"/work_pools/{pool}/get_scheduled_flow_runs", json=body)
                if offered.status_code != 200:
                    errors.append(f"poll {pool}: {offered.status_code} {offered.text}")
                    continue
                for item in offered.json():
                    run_id = item["flow_run"]["id"]
                    answer = api.post(f"/flow_runs/{run_id}/set_state", json={"state": {"type": "PENDING", "name": "Pending"}})
                    if answer.status_code not in (200, 201):
                        errors.append(f"claim {pool}: {answer.status_code} {answer.text}")
                        continue
                    with lock:
                        claimants[run_id] += 1
                        if answer.json()["status"] == "ACCEPT":
                            accepted[pool][run_id] += 1
        finally:
            api.close()

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

    double = {run: n for per_pool in accepted.values() for run, n in per_pool.items() if n > 1}
    assert double == {}, f"runs ACCEPTed more than once: {double}"
    with _client(replicas.urls[0]) as api:
        active = _ok(api.post("/flow_runs/filter", json={"flow_runs": {"state": {"type": {"any_": ["PENDING", "RUNNING"]}}},
                                                        "limit": 200}))
        active += _ok(api.post("/flow_runs/filter", json={"flow_runs": {"state": {"type": {"any_": ["PENDING", "RUNNING"]}}},
                                                         "limit": 200, "offset": 200}))
    by_pool = Counter(r["work_pool_name"] for r in active)
    by_queue = Counter((r["work_pool_name"], r["work_queue_name"]) for r in active)
    over_pool = {p: n for p, n in by_pool.items() if p.startswith("pool-limit-") and n > 1}
    over_queue = {p: n for (p, q), n in by_queue.items() if p.startswith("queue-limit-") and q == "q" and n > 1}
    assert over_pool == {} and over_queue == {}, f"limits exceeded: pools {over_pool}, queues {over_queue}"
    assert {r["id"] for r in active} == {run for per_pool in accepted.values() for run in per_pool}
    for pool in pools:  # every trial ended with its limit reached (the races were about something)
        wanted = 1 if pool.startswith(("pool-limit-", "same-run-")) else 2
        assert sum(accepted[pool].values()) == wanted, (pool, dict(accepted[pool]))
    contested = sum(1 for n in claimants.values() if n > 1)
    assert contested >= TRIALS, f"only {contested} runs had more than one claimant: the races did not happen"


def test_names_priorities_and_upserts_hold_across_replicas(replicas: Replicas) -> None:
    clients = [_client(url) for url in replicas.urls]

    def on(i: int) -> httpx.Client:
        return clients[i % len(clients)]

    created = _each(lambda i: on(i).post("/work_pools/", json={"name": "one-name", "type": "process"}).status_code, range(12), 12)
    assert sorted(created) == [201] + [409] * 11
    codes = _each(lambda i: on(i).post("/work_pools/one-name/queues", json={"name": "same"}).status_code, range(12), 12)
    assert sorted(codes) == [201] + [409] * 11
    _each(lambda i: _ok(on(i).post("/work_pools/one-name/queues", json={"name": f"q{i}", "priority": 1 + i % 3})), range(24), 12)
    queues = _ok(clients[0].post("/work_pools/one-name/queues/filter", json={}))
    priorities = [q["priority"] for q in queues]
    assert len(queues) == 26 and len(set(priorities)) == len(priorities), priorities
    pool = _ok(clients[0].get("/work_pools/one-name"))
    assert [q["name"] for q in queues if q["id"] == pool["default_queue_id"]] == ["default"]

    flows = _each(lambda i: on(i).post("/flows/", json={"name": "upserted"}), range(12), 12)
    assert sorted(r.status_code for r in flows) == [200] * 11 + [201] and len({r.json()["id"] for r in flows}) == 1
    flow_id = flows[0].json()["id"]
    deployments = _each(lambda i: on(i).post("/deployments/", json={"name": "d", "flow_id": flow_id, "work_pool_name": "one-name",
                                                                    "work_queue_name": "made-by-deployments"}), range(12), 12)
    assert sorted(r.status_code for r in deployments) == [200] * 11 + [201] and len({r.json()["id"] for r in deployments}) == 1
    runs = _each(lambda i: on(i).post("/flow_runs/", json={"flow_id": flow_id, "idempotency_key": "once",
                                                           "state": {"type": "SCHEDULED"}}), range(12), 12)
    assert sorted(r.status_code for r in runs) == [200] * 11 + [201] and len({r.json()["id"] for r in runs}) == 1
    dep_id = deployments[0].json()["id"]  # runs of a deployment: one idempotency key, then many at once
    keyed = _each(lambda i: on(i).post(f"/deployments/{dep_id}/create_flow_run", json={"idempotency_key": "dep-once"}),
                  range(12), 12)
    assert [r.status_code for r in keyed] == [201] * 12 and len({r.json()["id"] for r in keyed}) == 1
    made = _each(lambda i: on(i).post(f"/deployments/{dep_id}/create_flow_run", json={"name": f"many-{i}"}), range(60), 12)
    assert [r.status_code for r in made] == [201] * 60 and len({r.json()["id"] for r in made}) == 60
    stored = _ok(clients[0].post("/flow_runs/filter", json={"deployments": {"id": {"any_": [dep_id]}}}))
    assert sorted(r["name"] for r in stored) == sorted(["many-%d" % i for i in range(60)] + [keyed[0].json()["name"]])
    assert {r["id"]: r["name"] for r in stored if r["name"].startswith("many-")} == {r.json()["id"]: r.json()["name"] for r in made}
    _each(lambda i: _ok(on(i).post("/work_pools/one-name/workers/heartbeat", json={"name": "w"}), 204), range(12), 12)
    assert len(_ok(clients[0].post("/work_pools/one-name/workers/filter", json={}))) == 1
    for api in clients:
        api.close()
