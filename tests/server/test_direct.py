"""``bodies.Direct`` (the poll and ``create_flow_run`` answered without FastAPI's per-request work)
answers every request as the app does through FastAPI: two apps on one store and one clock, one
with it and one without, get the same requests (good, bad, odd: table-driven and generated) and
must give the same status, headers and body (run ids masked), and Direct must have answered the
good ones itself."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import T0
from reconciler.server.app import create_app
from reconciler.server.bodies import Direct

TEMPLATE = {"job_configuration": {"image": "{{ image }}"},
            "variables": {"type": "object", "required": ["image"], "properties": {"image": {"type": "string"}}}}
MASKED = {"id", "state_id", "flow_run_id", "created", "updated", "timestamp"}


def mask(value, top=True):
    if isinstance(value, dict):
        return {k: "*" if k in MASKED or (top and k == "name") else mask(v, False) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v, top) for v in value]
    return value


def _direct(app) -> Direct:
    assert isinstance(app.front, Direct)  # in front of the whole stack
    return app.front


@pytest.fixture
def pair(store, clock):
    fast, slow = create_app(store, clock=clock), create_app(store, clock=clock, direct=False)
    with TestClient(fast, raise_server_exceptions=False) as a, TestClient(slow, raise_server_exceptions=False) as b:
        flow = a.post("/api/flows/", json={"name": "flow"}).json()
        for name, template in (("pool", None), ("tpl", TEMPLATE)):
            assert a.post("/api/work_pools/", json={"name": name, "type": "process", **(
                {"base_job_template": template} if template else {})}).status_code == 201
        for i, queue in enumerate(("q1", "q2"), 1):
            a.post("/api/work_pools/pool/queues/", json={"name": queue, "priority": i})
        deps = {pool: a.post("/api/deployments/", json={"name": f"d-{pool}", "flow_id": flow["id"], "work_pool_name": pool}).json()["id"]
                for pool in ("pool", "tpl")}
        for i in range(5):
            a.post(f"/api/deployments/{deps['pool']}/create_flow_run", json={
                "name": f"seed-{i}", "work_queue_name": ("q1", "q2")[i % 2],
                "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": (T0 + timedelta(minutes=i - 3)).isoformat()}}})
        counts = {"calls": 0}
        direct = _direct(fast)
        direct.lanes = [(p, m, _counted(h, counts), r) for p, m, h, r in direct.lanes]
        yield a, b, deps, counts


def _counted(handler, counts):
    async def counted(*args):
        counts["calls"] += 1
        return await handler(*args)
    return counted


JSON = {"content-type": "application/json"}
DEP = "{dep}"
CASES = [
    # (path, headers, body, answered by Direct)
    ("/api/work_pools/pool/get_scheduled_flow_runs", JSON, b"{}", True),
    ("/api/work_pools/pool/get_scheduled_flow_runs", JSON, b"", True),
    ("/api/work_pools/pool/get_scheduled_flow_runs", JSON, b'{"limit": 2}', True),
    ("/api/work_pools/pool/get_scheduled_flow_runs", JSON, b'{"work_queue_names": ["q2"], "scheduled_before": "2026-11-25T12:00:30Z"}', True),
    ("/api/work_pools/pool/get_scheduled_flow_runs", JSON, b'{"work_queue_names": ["nope"]}', True),
    ("/api/work_pools/nope/get_scheduled_flow_runs", JSON, b"{}", True),
    ("/api/accounts/a/workspaces/w/work_pools/pool/get_scheduled_flow_runs", JSON, b'{"limit": 1}', True),  # Cloud's prefix
    ("/api/work_pools/pool/get_scheduled_flow_runs", JSON, b'{"limit": "many"}', False),
    ("/api/work_pools/pool/get_scheduled_flow_runs", JSON, b'{"limit": NaN}', False),
    ("/api/work_pools/pool/get_scheduled_flow_runs", JSON, b"null", False),
    ("/api/work_pools/pool/get_scheduled_flow_runs", JSON, b"[1]", False),
    ("/api/work_pools/pool/get_scheduled_flow_runs", JSON, b"{", False),
    ("/api/work_pools/pool/get_scheduled_flow_runs", JSON, b'{"scheduled_before": "yesterday"}', False),
    ("/api/work_pools/pool/get_scheduled_flow_runs", {"content-type": "text/plain"}, b"{}", False),
    ("/api/work_pools/pool/get_scheduled_flow_runs", {"content-type": "application/json; charset=utf-8"}, b"{}", False),
    ("/api/work_pools/pool/get_scheduled_flow_runs", {}, b"{}", False),
    ("/api/work_pools/pool/get_scheduled_flow_runs/", JSON, b"{}", False),
    ("/api/work_pools/pool/get_scheduled_flow_runs", JSON, '{"work_queue_names": ["\\ud800"]}'.encode(), False),
    (f"/api/deployments/{DEP}/create_flow_run", JSON, b'{"name": "a", "work_queue_name": "q2"}', True),
    (f"/api/deployments/{DEP}/create_flow_run", JSON, b"", True),
    (f"/api/deployments/{DEP}/create_flow_run", JSON, b'{"name": "b", "work_queue_name": "made-here", "tags": ["x"]}', True),
    (f"/api/deployments/{DEP}/create_flow_run", JSON, b'{"state": {"type": "SCHEDULED", "state_details": {"scheduled_time": "2026-11-25T13:00:00Z"}}}', True),
    (f"/api/deployments/{DEP}/create_flow_run", JSON, b'{"state": {"type": "PENDING"}, "name": "p"}', True),
    (f"/api/deployments/{DEP}/create_flow_run", JSON, b'{"state": {"type": "BOGUS"}}', False),
    (f"/api/deployments/{DEP}/create_flow_run", JSON, b'{"tags": "x"}', False),
    (f"/api/deployments/{DEP}/create_flow_run", JSON, b'{"parameters": {"n": 1e999}}', False),
    (f"/api/deployments/{DEP}/create_flow_run", {"content-type": "text/plain"}, b'{"name": "t"}', False),
    (f"/api/deployments/{DEP.upper()}/create_flow_run", JSON, b'{"name": "u"}', False),
    ("/api/deployments/00000000-0000-4000-8000-000000000000/create_flow_run", JSON, b"{}", True),
    ("/api/deployments/not-a-uuid/create_flow_run", JSON, b"{}", False),
    ("/api/deployments/{tpl}/create_flow_run", JSON, b"{}", True),  # 422: a required job variable is missing
    ("/api/deployments/{tpl}/create_flow_run", JSON, b'{"job_variables": {"image": 3}}', True),
    ("/api/deployments/{tpl}/create_flow_run", JSON, b'{"job_variables": {"image": "x"}}', True),
]


def _path(path: str, deps: dict[str, str]) -> str:
    return path.replace("{dep}", deps["pool"]).replace("{DEP}", deps["pool"].upper()).replace("{tpl}", deps["tpl"])


def _same(a, b, path, headers, body):
    fast, slow = a.post(path, content=body, headers=headers), b.post(path, content=body, headers=headers)
    assert fast.status_code == slow.status_code, (fast.text, slow.text)
    assert fast.headers.get("content-type") == slow.headers.get("content-type")
    try:
        assert mask(fast.json()) == mask(slow.json())
    except json.JSONDecodeError:
        assert fast.content == slow.content
    if fast.status_code < 300 and path.endswith("get_scheduled_flow_runs"):
        assert fast.content == slow.content  # same store, same clock: the same text
    return fast


@pytest.mark.parametrize(("path", "headers", "body", "direct"), CASES, ids=[f"{i}" for i in range(len(CASES))])
def test_direct_answers_as_the_app_does(pair, path, headers, body, direct):
    a, b, deps, counts = pair
    _same(a, b, _path(path, deps), headers, body)
    assert counts["calls"] == (1 if direct else 0)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner, max_size=2),
                           max_leaves=6)
KEYS = ["name", "work_queue_name", "tags", "parameters", "state", "job_variables", "labels", "limit",
        "work_queue_names", "scheduled_before", "idempotency_key", "context"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(KEYS), json_values | st.sampled_from(["q1", "2026-11-25T12:00:00Z", {"type": "SCHEDULED"}]), max_size=4),
       st.sampled_from(["/api/work_pools/pool/get_scheduled_flow_runs", "/api/deployments/{dep}/create_flow_run",
                        "/api/deployments/{tpl}/create_flow_run"]))
def test_any_body_gets_the_apps_answer(pair, body, path):
    a, b, deps, _ = pair
    _same(a, b, _path(path, deps), JSON, json.dumps(body).encode())


# ------------------------------------------------------------------ pool and queue creates
# A create is not idempotent, so these two apps each have their own store (one clock), seeded alike.

CREATED = MASKED | {"default_queue_id", "work_pool_id"}


def mask_created(value):
    if isinstance(value, dict):
        return {k: "*" if k in CREATED else mask_created(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_created(v) for v in value]
    return value


def _twin_apps(options, setup):
    """Two apps on two stores, one with Direct and one without, set up alike by ``setup(client)``;
    yields their clients and the count of the calls Direct's lanes answered."""
    from reconciler.server.store import open_store

    stores = [open_store(":memory:"), open_store(":memory:")]
    fast, slow = create_app(stores[0], **options), create_app(stores[1], **options, direct=False)
    with TestClient(fast, raise_server_exceptions=False) as a, TestClient(slow, raise_server_exceptions=False) as b:
        for c in (a, b):
            setup(c)
        counts = {"calls": 0}
        direct = _direct(fast)
        direct.lanes = [(p, m, _counted(h, counts), r) for p, m, h, r in direct.lanes]
        yield a, b, counts
    for s in stores:
        s.close()


@pytest.fixture
def twins(clock):
    def setup(c):
        assert c.post("/api/work_pools/", json={"name": "pool", "type": "process"}).status_code == 201
        assert c.post("/api/work_pools/pool/queues", json={"name": "taken", "priority": 1}).status_code == 201

    yield from _twin_apps({"clock": clock}, setup)


def _same_created(a, b, path, headers, body):
    fast, slow = a.post(path, content=body, headers=headers), b.post(path, content=body, headers=headers)
    assert fast.status_code == slow.status_code, (fast.text, slow.text)
    assert fast.headers.get("content-type") == slow.headers.get("content-type")
    try:
        assert mask_created(fast.json()) == mask_created(slow.json())
    except json.JSONDecodeError:
        assert fast.content == slow.content
    return fast


BLOCK_TEMPLATE = {"job_configuration": {"image": "{{ image }}"},
                  "variables": {"type": "object", "properties": {"image": {"type": "string", "default": {"$ref": {"block_document_id": "x"}}}}}}
OLD_CLIENT = {**JSON, "user-agent": "prefect/3.3.7 (API 0.8.4)"}
CREATE_CASES = [
    # (path, headers, body, answered by Direct, status)
    ("/api/work_pools/", JSON, {"name": "p1", "type": "process"}, True, 201),
    ("/api/work_pools", JSON, {"name": "p2", "type": "process", "base_job_template": TEMPLATE, "concurrency_limit": 3,
                               "description": "d", "is_paused": True}, True, 201),
    ("/api/work_pools/", OLD_CLIENT, {"name": "p3"}, True, 201),  # no default_result_storage_block_id for it
    ("/api/work_pools/", JSON, {"name": "pool", "type": "process"}, True, 409),
    ("/api/work_pools/", JSON, {"name": "prefect-mine"}, True, 403),
    ("/api/work_pools/", JSON, {"name": "p4", "base_job_template": BLOCK_TEMPLATE}, True, 404),
    ("/api/work_pools/", JSON, {"name": "p5", "base_job_template": {"job_configuration": {"a": "{{ b }}"},
                                                                     "variables": {"properties": {}}}}, False, 422),
    ("/api/work_pools/", JSON, {"type": "process"}, False, 422),
    ("/api/work_pools/", JSON, {"name": "p6", "nope": 1}, False, 422),
    ("/api/work_pools/", JSON, None, False, 422),
    ("/api/work_pools/", {"content-type": "text/plain"}, {"name": "p7"}, False, 422),
    ("/api/work_pools//", JSON, {"name": "p8"}, False, 404),
    ("/api/work_pools/pool/queues", JSON, {"name": "q1", "priority": 1}, True, 201),  # bumps "taken"
    ("/api/work_pools/pool/queues/", JSON, {"name": "q2", "concurrency_limit": 2, "description": "x"}, True, 201),
    ("/api/work_pools/pool/queues", JSON, {"name": "taken"}, True, 409),
    ("/api/work_pools/nope/queues", JSON, {"name": "q3"}, True, 404),
    ("/api/work_pools/pool/queues", JSON, {"name": "q4", "priority": 0}, False, 422),
    ("/api/work_pools/pool/queues", JSON, {}, False, 422),
    ("/api/work_pools/pool/queues", JSON, None, False, 422),
    ("/api/work_pools/pool/queues", JSON, {"name": "a/b"}, False, 422),
]


@pytest.mark.parametrize(("path", "headers", "body", "direct", "status"), CREATE_CASES,
                         ids=[f"{i}" for i in range(len(CREATE_CASES))])
def test_direct_creates_as_the_app_does(twins, path, headers, body, direct, status):
    a, b, counts = twins
    answer = _same_created(a, b, path, headers, b"" if body is None else json.dumps(body).encode())
    assert answer.status_code == status, answer.text
    assert counts["calls"] == (1 if direct else 0)
    if status == 201:  # and what was stored reads back the same from both
        pool = body["name"] if "queues" not in path else "pool"
        reads = [c.post(f"/api/work_pools/{pool}/queues/filter").json() for c in (a, b)]
        assert mask_created(reads[0]) == mask_created(reads[1])
        reads = [c.get(f"/api/work_pools/{pool}").json() for c in (a, b)]
        assert mask_created(reads[0]) == mask_created(reads[1])


CREATE_KEYS = ["name", "type", "description", "base_job_template", "is_paused", "concurrency_limit",
               "storage_configuration", "priority", "filter"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(CREATE_KEYS),
                       json_values | st.sampled_from(["pool", "taken", "new", "prefect-x", 1, 0, TEMPLATE, {"bundle_upload_step": {}}]),
                       max_size=4),
       st.sampled_from(["/api/work_pools/", "/api/work_pools/pool/queues"]))
def test_any_create_body_gets_the_apps_answer(twins, body, path):
    a, b, _ = twins
    _same_created(a, b, path, JSON, json.dumps(body).encode())


# -- in front of the whole stack: what the guard, BodyLimit and ServerErrorMiddleware did ------------------

BASIC = "Basic " + __import__("base64").b64encode(b"me:secret").decode()
READ_ONLY = "Bearer reader"
GUARD_CASES = [
    # (path, extra headers, answered by Direct, status)
    ("/api/work_pools/", {"authorization": BASIC}, True, 201),
    ("/api/work_pools/", {"authorization": "Bearer key"}, True, 201),
    ("/api/work_pools/", {}, False, 401),
    ("/api/work_pools/", {"authorization": "Basic bWU6d3Jvbmc="}, False, 401),  # me:wrong
    ("/api/work_pools/", {"authorization": "Bearer nope"}, False, 401),
    ("/api/work_pools/", {"authorization": READ_ONLY}, False, 403),
    ("/api/work_pools/pool/queues", {"authorization": READ_ONLY}, False, 403),
    ("/api/work_pools/pool/queues", {"authorization": BASIC, "x-prefect-api-version": "0.8.4"}, True, 201),
    ("/api/work_pools/pool/queues", {"authorization": BASIC, "x-prefect-api-version": "0.7.0"}, False, 400),
    ("/api/work_pools/pool/queues", {"authorization": BASIC, "x-prefect-api-version": "latest"}, False, 400),
    ("/api/accounts/a/workspaces/w/work_pools/pool/queues", {"authorization": BASIC}, True, 201),  # Cloud's prefix
    ("/api/accounts/a/workspaces/w/work_pools/pool/queues", {}, False, 401),
    ("/api/work_pools/pool/get_scheduled_flow_runs", {"authorization": READ_ONLY}, False, 403),
    ("/api/work_pools/pool/get_scheduled_flow_runs", {"authorization": "Bearer key"}, True, 200),
]


@pytest.fixture
def guarded_twins(clock):
    def setup(c):
        assert c.post("/api/work_pools/", json={"name": "pool", "type": "process"},
                      headers={"authorization": BASIC}).status_code == 201

    options = {"clock": clock, "auth_string": "me:secret", "api_key": "key", "read_only_api_key": "reader", "max_body_size": 4096}
    yield from _twin_apps(options, setup)


@pytest.mark.parametrize(("path", "extra", "direct", "status"), GUARD_CASES, ids=[f"{i}" for i in range(len(GUARD_CASES))])
def test_direct_keeps_the_guard(guarded_twins, path, extra, direct, status):
    a, b, counts = guarded_twins
    name = f"n{len(path)}-{len(extra)}-{status}"
    body = {} if path.endswith("runs") else {"name": name} if "queues" in path else {"name": name, "type": "process"}
    answer = _same_created(a, b, path, {**JSON, **extra}, json.dumps(body).encode())
    assert answer.status_code == status, answer.text
    assert answer.headers.get("www-authenticate") is None
    assert counts["calls"] == (1 if direct else 0)


def test_direct_keeps_the_body_limit(guarded_twins):
    a, b, counts = guarded_twins
    big = json.dumps({"name": "big", "type": "process", "description": "x" * 5000}).encode()
    answer = _same_created(a, b, "/api/work_pools/", {**JSON, "authorization": BASIC}, big)
    assert answer.status_code == 413 and "4096" in answer.json()["detail"]
    assert counts["calls"] == 0


@pytest.mark.parametrize(("raised", "status", "retry_after"), [
    (RuntimeError("boom"), 500, None),
    (__import__("sqlite3").OperationalError("database is locked"), 503, "1"),
])
def test_direct_answers_an_unexpected_error_as_the_app_does(twins, monkeypatch, raised, status, retry_after):
    from reconciler.server.domain import queues

    def fail(*args, **kwargs):
        raise raised

    monkeypatch.setattr(queues, "create_queue", fail)
    a, b, counts = twins
    answer = _same_created(a, b, "/api/work_pools/pool/queues", JSON, b'{"name": "q9", "priority": 9}')
    assert answer.status_code == status
    assert answer.headers.get("retry-after") == retry_after
    assert counts["calls"] == 1
    fast = _direct(a.app)
    with TestClient(a.app) as strict, pytest.raises(type(raised)):  # and the error goes on to the server's log
        strict.post("/api/work_pools/pool/queues", content=b'{"name": "q9", "priority": 9}', headers=JSON)
    assert fast is _direct(a.app)
