"""The PostgreSQL store runs the same SQL as SQLite: the whole capture replay passes on it.

Runs on the session's throwaway cluster (``pgcluster.py``); marked ``postgres``."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from replay import KNOWN_STATUS, Replayer, capture_start, clock_for, create_missing_runs, scenarios
from reconciler.server.app import create_app
from reconciler.server.clock import ManualClock
from reconciler.server.store import open_store

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def postgres_url(postgres_cluster):
    """A database the tests below share, holding one pool from the start: PostgreSQL reads a
    filter's values only when the table has rows to match (on an empty table the NUL filter case
    answered 200 []), so that case no longer depends on which tests ran before it on the worker."""
    url = postgres_cluster.new_database("shared")
    store = open_store(url)
    assert TestClient(create_app(store)).post("/api/work_pools/", json={"name": "present"}).status_code == 201
    store.close()
    return url


@pytest.fixture
def empty_url(postgres_cluster):
    """A database of the test's own: the replay and the sort count every pool, and the NUL tests
    (on ``postgres_url``) make some; run after them, the two failed."""
    return postgres_cluster.new_database("empty")


def test_capture_replay_on_postgres(empty_url: str) -> None:
    clock = ManualClock(capture_start())
    store = open_store(empty_url)
    client = TestClient(create_app(store, clock=clock), raise_server_exceptions=False)
    replayer = Replayer(client, clock)
    problems: list[str] = []
    for scenario in scenarios():
        if clock() < clock_for(scenario):
            clock.set(clock_for(scenario))
        create_missing_runs(replayer, scenario)
        for exchange in scenario["exchanges"]:
            status, body = replayer.run(scenario, exchange)
            key = (scenario["scenario"], exchange["step"])
            if exchange["status_code"] == 500:
                if status >= 500:
                    problems.append(f"{key}: 500")
                continue
            wanted = KNOWN_STATUS.get(key, (exchange["status_code"],))[0]
            if status != wanted:
                problems.append(f"{key}: status {wanted} expected, got {status}: {body}")
            elif wanted == exchange["status_code"]:
                problems.extend(f"{key}: {p}" for p in replayer.compare(scenario["scenario"], exchange["step"], exchange["response_body"], body))
    store.close()
    assert problems == []


def test_postgres_names_sort_bytewise(empty_url: str) -> None:
    store = open_store(empty_url)
    client = TestClient(create_app(store))
    for name in ("pg-b", "pg-A", "pg-a"):
        client.post("/api/work_pools/", json={"name": name, "type": "process"})
    names = [p["name"] for p in client.post("/api/work_pools/filter", json={}).json() if p["name"].startswith("pg-")]
    store.close()
    assert names == ["pg-A", "pg-a", "pg-b"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/work_pools/", {"name": "nul\u0000pool"}),
        ("POST", "/api/work_pools/", {"name": "pg-nul-description", "description": "a\u0000b"}),
        ("GET", "/api/work_pools/nul%00pool", None),
        ("POST", "/api/work_pools/filter", {"work_pools": {"name": {"any_": ["a\u0000"]}}}),
        ("POST", "/api/flows/", {"name": "flow\u0000"}),
    ],
    ids=["pool-name", "description", "read-by-name", "filter", "flow-name"],
)
def test_postgres_refuses_nul_characters_with_a_422(postgres_url: str, method: str, path: str, body) -> None:
    store = open_store(postgres_url)
    client = TestClient(create_app(store), raise_server_exceptions=False)
    response = client.request(method, path, json=body)
    healthy = client.post("/api/work_pools/", json={"name": f"pg-after-nul-{abs(hash(path + str(body)))}"}).status_code
    store.close()
    assert response.status_code == 422, response.text
    assert "NUL character" in response.json()["detail"]
    assert healthy == 201


def test_postgres_database_with_prefect_tables_is_refused(postgres_url: str) -> None:
    import psycopg

    from reconciler.server.store import StoreError

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS prefectlike")
        conn.execute("CREATE TABLE IF NOT EXISTS prefectlike.flow (id UUID PRIMARY KEY, name TEXT NOT NULL, extra TEXT)")
    url = postgres_url + "?options=-csearch_path%3Dprefectlike"
    with pytest.raises(StoreError) as info:
        open_store(url)
    assert "is not a poolform database" in str(info.value) and "flow" in str(info.value)
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'prefectlike'")]
    assert tables == ["flow"]


def test_postgres_disk_full_is_503_with_the_cause_and_nothing_written(postgres_url: str) -> None:
    """PostgreSQL's disk-full error (SQLSTATE 53100, what it raises when it cannot extend a file),
    raised by the real server from a trigger on the default queue's insert: the pool insert before
    it in the same transaction is rolled back, the client gets 503 with the cause, reads go on, and
    writes work again once there is room."""
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS fulldisk")
    url = postgres_url + "?options=-csearch_path%3Dfulldisk"
    store = open_store(url)
    client = TestClient(create_app(store), raise_server_exceptions=False)
    assert client.post("/api/work_pools/", json={"name": "before"}).status_code == 201
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("""CREATE FUNCTION fulldisk.no_space() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
            RAISE EXCEPTION 'could not extend file "base/5/16400": No space left on device' USING ERRCODE = 'disk_full';
            END $$""")
        conn.execute("CREATE TRIGGER no_space BEFORE INSERT ON fulldisk.work_queue FOR EACH ROW EXECUTE FUNCTION fulldisk.no_space()")
    refused = client.post("/api/work_pools/", json={"name": "after"})
    assert refused.status_code == 503, refused.text
    assert "No space left on device" in refused.json()["detail"] and "SQLSTATE 53100" in refused.json()["detail"]
    assert client.get("/api/work_pools/after").status_code == 404
    assert [p["name"] for p in client.post("/api/work_pools/filter", json={}).json()] == ["before"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TRIGGER no_space ON fulldisk.work_queue")
    assert client.post("/api/work_pools/", json={"name": "after"}).status_code == 201
    store.close()


def test_postgres_filters_with_huge_lists(postgres_url: str) -> None:
    """The big-filter table of ``test_big_filters`` on PostgreSQL (JSON array parameters run as
    ``json_array_elements_text``)."""
    import psycopg

    from test_big_filters import MANY, run_cases

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS bigfilters")
    store = open_store(postgres_url + "?options=-csearch_path%3Dbigfilters")
    client = TestClient(create_app(store), raise_server_exceptions=False)
    problems = run_cases(client, MANY)
    store.close()
    assert problems == []


def test_postgres_keeps_a_runs_wire_text_uncompressed(postgres_cluster) -> None:
    """A run's row (~3 KB) is over PostgreSQL's default 2 KB threshold, past which it would compress
    ``wire``, and every poll would decompress it (``STORAGE``); opening twice sets it once."""
    import psycopg

    url = postgres_cluster.new_database("storage")
    open_store(url).close()
    store = open_store(url)
    client = TestClient(create_app(store))
    flow = client.post("/api/flows/", json={"name": "f"}).json()["id"]
    client.post("/api/work_pools/", json={"name": "p", "type": "process"})
    dep = client.post("/api/deployments/", json={"name": "d", "flow_id": flow, "work_pool_name": "p"}).json()["id"]
    assert client.post(f"/api/deployments/{dep}/create_flow_run", json={"parameters": {"x": "y" * 200}}).status_code == 201
    store.close()
    with psycopg.connect(url) as conn:
        row_size, stored, raw = conn.execute(
            "SELECT pg_column_size(flow_run.*), pg_column_size(wire), octet_length(wire) FROM flow_run").fetchone()
        options = conn.execute("SELECT reloptions FROM pg_class WHERE oid = 'flow_run'::regclass").fetchone()[0]
    assert row_size > 2100
    assert stored >= raw
    assert options == ["toast_tuple_target=8160"]


class RoundTrips:
    """A TCP proxy in front of PostgreSQL that counts round trips: each time the client sends after
    the server has answered (statements pipelined between two answers count once)."""

    def __init__(self, port: int) -> None:
        import socket
        import threading

        self.count, self._answered, self._target = 0, True, port
        self.sent = bytearray()  # what the client sent
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self._target))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source, sink, from_client: bool) -> None:
        while data := source.recv(65536):
            if from_client:
                self.sent += data
                self.count += self._answered
            self._answered = not from_client
            sink.sendall(data)
        sink.close()

    def close(self) -> None:
        self._listener.close()


def test_postgres_round_trips_of_a_poll_and_a_run_creation(postgres_cluster) -> None:
    """BEGIN goes out with the first statement and the writes with the COMMIT (the store's
    pipeline), the deployment is read with the queue the request names, and the pool's template is
    not read a second time: a run created from a deployment costs 2 round trips (BEGIN + the
    deployment with its pool and queues; the insert + COMMIT), and 1 once the process knows the
    deployment (the insert on the condition that what it read is unchanged, its own transaction).
    A worker's poll whose first priority has enough runs costs 2, without a transaction (the pool
    and its queues; the last_polled writes with the runs' text joined, one statement), and 1 once
    its pool is steady (that statement, with the pool and its queues as a column). They were 6
    each. Only the poll's commit is lazy."""
    url = postgres_cluster.new_database("trips")
    proxy = RoundTrips(postgres_cluster.port)
    store = open_store(url.replace(f":{postgres_cluster.port}/", f":{proxy.port}/"))
    client = TestClient(create_app(store))
    flow = client.post("/api/flows/", json={"name": "f"}).json()["id"]
    client.post("/api/work_pools/", json={"name": "p", "type": "process"})
    for priority, queue in enumerate(("q1", "q2", "q3"), 1):
        client.post("/api/work_pools/p/queues/", json={"name": queue, "priority": priority})
    dep = client.post("/api/deployments/", json={"name": "d", "flow_id": flow, "work_pool_name": "p",
                                                 "job_variables": {"env": {"A": "1"}}}).json()["id"]
    poll = {"work_queue_names": ["q1", "q2", "q3"], "scheduled_before": "2100-01-01T00:00:00Z", "limit": 3}
    trips, sent = {}, {"poll": b"", "create": b""}
    for i in range(12):  # past psycopg's prepare threshold: the last ones are counted
        before, proxy.sent[:] = proxy.count, b""
        answer = client.post(f"/api/deployments/{dep}/create_flow_run", json={"work_queue_name": ("q1", "q2")[i % 2]})
        assert answer.status_code == 201
        trips["create"], sent["create"] = proxy.count - before, sent["create"] + bytes(proxy.sent)
        before, proxy.sent[:] = proxy.count, b""
        runs = client.post("/api/work_pools/p/get_scheduled_flow_runs", json=poll).json()
        trips["poll"], sent["poll"] = proxy.count - before, sent["poll"] + bytes(proxy.sent)
    store.close()
    proxy.close()
    assert [r["flow_run"]["work_queue_name"] for r in runs] == ["q1"] * 3  # the first priority has enough
    assert trips == {"create": 1, "poll": 1}
    # a poll writes only its last_polled bookkeeping, whose commit need not wait for the disk; a run's creation
    # is acknowledged durable (synchronous_commit as the server is configured): what any of the 12 sent
    assert b"synchronous_commit" in sent["poll"] and b"synchronous_commit" not in sent["create"]


def test_postgres_poll_runs_its_generic_plan(postgres_cluster) -> None:
    """The poll's statement (its bookkeeping, each queue's runs, the body joined) costs PostgreSQL
    more to plan than to run: once prepared it runs its generic plan from its first execution.
    PostgreSQL's own choice plans it anew at least 5 times, and for some shapes at every poll
    (``{"limit": 10}`` over 1,000 runs in bench/server_poll.py: 0.7 ms of the database's time)."""
    store = open_store(postgres_cluster.new_database("generic"))
    client = TestClient(create_app(store))
    flow = client.post("/api/flows/", json={"name": "f"}).json()["id"]
    client.post("/api/work_pools/", json={"name": "p", "type": "process"})
    for priority, queue in enumerate(("q1", "q2", "q3"), 1):
        client.post("/api/work_pools/p/queues/", json={"name": queue, "priority": priority})
    for i in range(30):
        assert client.post("/api/flow_runs/", json={"flow_id": flow, "work_pool_name": "p", "work_queue_name": f"q{i % 3 + 1}",
                                                    "state": {"type": "SCHEDULED"}}).status_code == 201
    for body in ({"limit": 10}, {"work_queue_names": ["q1", "q2", "q3"], "scheduled_before": "2100-01-01T00:00:00Z"}):
        for _ in range(12):  # past psycopg's prepare threshold
            assert len(client.post("/api/work_pools/p/get_scheduled_flow_runs", json=body).json()) == body.get("limit", 30)
    plans = store.query("SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE 'WITH polled_queues%'")
    store.close()
    assert len(plans) == 2
    assert all(p["custom_plans"] == 0 and p["generic_plans"] > 0 for p in plans), plans
