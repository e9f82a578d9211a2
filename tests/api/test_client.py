import email.utils
import json
import time

import httpx
import pytest

from reconciler.api.client import PAGE, enc, parse_retry_after
from reconciler.errors import (
    ApiError,
    Conflict,
    Forbidden,
    NotFound,
    ServerError,
    TransportError,
    Unauthorized,
    Unprocessable,
)

from .conftest import API, no_csrf


def pool(name, **extra):
    return {"id": f"id-{name}", "name": name, "type": "process", "description": None, "is_paused": False,
            "concurrency_limit": None, "base_job_template": {}, "default_queue_id": f"q-{name}", **extra}


@pytest.mark.parametrize(
    "name, segment",
    [("plain", "plain"), ("with space", "with%20space"), ("q?x", "q%3Fx"), ("h#1", "h%231"), ("a/b", "a%2Fb"),
     ("ünï", "%C3%BCn%C3%AF"), ("a+b", "a%2Bb")],
    ids=["plain", "space", "question", "hash", "slash", "unicode", "plus"],
)
def test_names_are_percent_encoded_in_paths(make_client, name, segment):
    assert enc(name) == segment
    client, rec = make_client(lambda r: no_csrf(r) or httpx.Response(204))
    client.update_queue(name, name, {"description": "x"})
    assert rec.paths()[-1] == f"PATCH /api/work_pools/{segment}/queues/{segment}"


@pytest.mark.parametrize(
    "status, body, exc",
    [
        (401, {"exception_message": "Unauthorized"}, Unauthorized),
        (403, {"detail": "Work pools starting with 'Prefect' are reserved for internal use."}, Forbidden),
        (404, {"detail": 'Work pool "x" not found.'}, NotFound),
        (409, {"detail": "A work pool with this name already exists."}, Conflict),
        (422, {"exception_message": "Invalid request received.", "exception_detail": [{"loc": ["body", "name"], "msg": "bad"}]}, Unprocessable),
        (500, {"exception_message": "Internal Server Error"}, ServerError),
        (503, {"exception_message": "Service Unavailable"}, ServerError),
        (400, {"detail": "Invalid X-PREFECT-API-VERSION"}, ApiError),
    ],
    ids=["401", "403", "404", "409", "422", "500", "503-after-retries", "400"],
)
def test_status_mapping(make_client, status, body, exc):
    client, rec = make_client(lambda r: httpx.Response(status, json=body))
    with pytest.raises(exc) as info:
        client.request("GET", "/work_pools/x")
    err = info.value
    assert type(err) is exc
    assert err.status == status and err.method == "GET" and err.url == f"{API}/work_pools/x"
    assert "\n" not in str(err)
    if status == 401:
        assert "PREFECT_API_KEY" in str(err)
    else:
        assert f"{API}/work_pools/x" in str(err)


def test_422_message_names_the_field(make_client):
    body = {"exception_message": "Invalid request received.", "exception_detail": [{"loc": ["body", "name"], "msg": "bad name"}]}
    client, _ = make_client(lambda r: no_csrf(r) or httpx.Response(422, json=body))
    with pytest.raises(Unprocessable, match="name: bad name"):
        client.create_pool({"name": "x"})


@pytest.mark.parametrize(
    "status, headers, content",
    [(200, {"content-type": "text/html"}, b"<html>Prefect UI</html>"),
     (404, {"content-type": "text/html"}, b"<html>nope</html>"),
     (200, {"content-type": "application/json"}, b"{not json")],
    ids=["html-200", "html-404", "broken-json"],
)
def test_non_json_answers_are_transport_errors(make_client, status, headers, content):
    client, _ = make_client(lambda r: no_csrf(r) or httpx.Response(status, headers=headers, content=content))
    with pytest.raises(TransportError) as info:
        client.read_pools()
    assert "not JSON" in str(info.value) and "/work_pools/filter" in str(info.value)


def test_connection_refused_is_one_line(make_client):
    def refuse(request):
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    client, rec = make_client(refuse)
    with pytest.raises(TransportError) as info:
        client.read_pools()
    assert str(info.value) == (f"cannot reach the Prefect API at {API}: connection refused. "
                               "Set PREFECT_API_URL or --api-url.")
    assert len(rec.requests) == 1


def test_timeouts_are_retried_then_reported(make_client):
    def slow(request):
        raise httpx.ReadTimeout("timed out", request=request)

    client, rec = make_client(slow, timeout=2.0, max_retries=2)
    with pytest.raises(TransportError, match="no answer within 2s"):
        client.read_pool("x")
    assert len(rec.requests) == 3


@pytest.mark.parametrize(
    "retry_after, expected_sleep",
    [("2", 2.0), ("0", 0.0), ("1.5", 1.5), ("3600", 60.0)],
    ids=["seconds", "zero", "fraction", "capped"],
)
def test_retry_after_seconds(make_client, retry_after, expected_sleep):
    answers = [httpx.Response(429, headers={"Retry-After": retry_after}, json={"detail": "slow down"}),
               httpx.Response(200, json=pool("x"))]
    client, rec = make_client(lambda r: answers.pop(0))
    assert client.read_pool("x")["name"] == "x"
    assert rec.sleeps == [expected_sleep]
    assert client.count_calls == 2


def test_retry_after_http_date():
    now = time.time()
    header = email.utils.formatdate(now + 7, usegmt=True)
    assert 5.0 <= parse_retry_after(header, now=now) <= 7.0
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize("status", [429, 502, 503], ids=["429", "502", "503"])
def test_retryable_statuses_use_backoff_and_give_up(make_client, status):
    client, rec = make_client(lambda r: httpx.Response(status, json={"exception_message": "busy"}), max_retries=3)
    with pytest.raises(ApiError) as info:
        client.read_pool("x")
    assert info.value.status == status
    assert len(rec.requests) == 4
    assert len(rec.sleeps) == 3 and all(0 < s <= 5 for s in rec.sleeps)


def test_500_is_not_retried(make_client):
    client, rec = make_client(lambda r: httpx.Response(500, json={"exception_message": "Internal Server Error"}))
    with pytest.raises(ServerError):
        client.read_pool("x")
    assert len(rec.requests) == 1


def test_retried_create_that_conflicts_counts_as_created(make_client):
    state = {"posts": 0}

    def handler(request):
        if (r := no_csrf(request)) is not None:
            return r
        if request.method == "POST":
            state["posts"] += 1
            if state["posts"] == 1:
                return httpx.Response(503, json={"exception_message": "Service Unavailable"})
            return httpx.Response(409, json={"detail": "A work pool with this name already exists."})
        return httpx.Response(200, json=pool("new"))

    client, rec = make_client(handler)
    assert client.create_pool({"name": "new"})["name"] == "new"
    assert rec.paths() == ["GET /api/csrf-token", "POST /api/work_pools/", "POST /api/work_pools/", "GET /api/work_pools/new"]
    assert rec.sleeps and len(rec.sleeps) == 1


def test_first_attempt_conflict_is_a_conflict(make_client):
    client, _ = make_client(lambda r: no_csrf(r) or httpx.Response(409, json={"detail": "exists"}))
    with pytest.raises(Conflict):
        client.create_pool({"name": "x"})
    with pytest.raises(Conflict):
        client.create_queue("p", {"name": "q"})


def test_headers(make_client):
    client, rec = make_client(lambda r: no_csrf(r) or httpx.Response(200, json=[]), api_key="pnu_k")
    client.read_pools()
    h = rec.requests[-1].headers
    assert h["X-PREFECT-API-VERSION"] == "0.8.4"
    assert h["User-Agent"].startswith("poolform/")
    assert h["Authorization"] == "Bearer pnu_k"


def test_csrf_probe_once_before_the_first_post(make_client):
    client, rec = make_client(lambda r: no_csrf(r) or httpx.Response(200, json=pool("p") if r.method == "GET" else []))
    client.read_pool("p")
    client.read_pools()
    client.read_queues("p")
    assert rec.paths() == ["GET /api/work_pools/p", "GET /api/csrf-token", "POST /api/work_pools/filter",
                           "POST /api/work_pools/p/queues/filter"]


@pytest.mark.parametrize(
    "probe",
    [httpx.Response(422, json={"detail": "CSRF protection is disabled."}), httpx.Response(404, json={"detail": "Not Found"})],
    ids=["disabled-422", "old-server-404"],
)
def test_csrf_off(make_client, probe):
    def handler(request):
        if request.url.path.endswith("/csrf-token"):
            return probe
        return httpx.Response(204)

    client, rec = make_client(handler)
    client.update_pool("a", {"description": "x"})
    client.update_pool("b", {"description": "y"})
    assert rec.paths() == ["GET /api/csrf-token", "PATCH /api/work_pools/a", "PATCH /api/work_pools/b"]
    assert "Prefect-Csrf-Token" not in rec.requests[1].headers


def test_csrf_token_sent_and_refreshed_on_invalid(make_client):
    tokens = iter(["t1" * 32, "t2" * 32])
    seen = []

    def handler(request):
        if request.url.path.endswith("/csrf-token"):
            assert request.url.params["client"]
            return httpx.Response(200, json={"token": next(tokens), "client": request.url.params["client"],
                                             "expiration": "2999-01-01T00:00:00Z"})
        seen.append((request.headers.get("Prefect-Csrf-Token"), request.headers.get("Prefect-Csrf-Client")))
        if len(seen) == 2:
            return httpx.Response(403, json={"detail": "Invalid CSRF token or client identifier."})
        return httpx.Response(204)

    client, rec = make_client(handler)
    client.update_pool("a", {"description": "x"})
    client.delete_pool("a")
    assert [t for t, _ in seen] == ["t1" * 32, "t1" * 32, "t2" * 32]
    assert len({c for _, c in seen}) == 1
    assert rec.paths().count("GET /api/csrf-token") == 2


def test_csrf_refusal_not_about_token_is_forbidden(make_client):
    def handler(request):
        if request.url.path.endswith("/csrf-token"):
            return httpx.Response(200, json={"token": "t", "expiration": "2999-01-01T00:00:00Z"})
        return httpx.Response(403, json={"detail": "Work pools starting with 'Prefect' are reserved for internal use."})

    client, _ = make_client(handler)
    with pytest.raises(Forbidden, match="reserved"):
        client.create_pool({"name": "prefect-x"})


def test_paging_reads_until_a_short_page(make_client):
    names = [f"p{i:04d}" for i in range(PAGE * 2 + 7)]

    def handler(request):
        if (r := no_csrf(request)) is not None:
            return r
        body = json.loads(request.content)
        return httpx.Response(200, json=[pool(n) for n in names[body["offset"]:body["offset"] + body["limit"]]])

    client, rec = make_client(handler)
    got = client.read_pools()
    assert [p["name"] for p in got] == names
    assert [b["offset"] for b in rec.bodies()] == [0, 200, 400]
    assert all(b["limit"] == 200 for b in rec.bodies())


def test_named_reads_chunk_names(make_client):
    names = [f"p{i:04d}" for i in range(450)]

    def handler(request):
        if (r := no_csrf(request)) is not None:
            return r
        body = json.loads(request.content)
        return httpx.Response(200, json=[pool(n) for n in body["work_pools"]["name"]["any_"][:3]])

    client, rec = make_client(handler)
    got = client.read_pools(names)
    chunks = sorted(len(b["work_pools"]["name"]["any_"]) for b in rec.bodies())
    assert chunks == [50, 200, 200]
    assert len(got) == 9


def test_read_pool_missing_is_none(make_client):
    client, _ = make_client(lambda r: httpx.Response(404, json={"detail": 'Work pool "x" not found.'}))
    assert client.read_pool("x") is None


def test_read_all_queues_groups_and_detects_unstable_paging(make_client):
    rows = [{"id": f"{p}-{q}", "name": q, "work_pool_name": p, "priority": 1} for p in ("a", "b") for q in ("default", "x")]
    client, _ = make_client(lambda r: no_csrf(r) or httpx.Response(200, json=rows))
    assert {k: [r["name"] for r in v] for k, v in client.read_all_queues().items()} == {"a": ["default", "x"], "b": ["default", "x"]}
    dup = rows + rows[:1]
    client2, _ = make_client(lambda r: no_csrf(r) or httpx.Response(200, json=dup))
    assert client2.read_all_queues() is None


def test_map_runs_in_order_and_reraises(make_client):
    client, _ = make_client(lambda r: httpx.Response(200, json=[]))
    assert client.map(lambda x: x * 2, range(20)) == [x * 2 for x in range(20)]

    def boom(x):
        if x == 3:
            raise NotFound("gone")
        return x

    with pytest.raises(NotFound):
        client.map(boom, range(6))


def test_call_counter_by_route(make_client):
    client, _ = make_client(lambda r: no_csrf(r) or httpx.Response(204))
    client.update_queue("p", "a", {})
    client.update_queue("p", "b", {})
    assert client.calls_by_route["PATCH /work_pools/{name}/queues/{name}"] == 2
    assert client.count_calls == 3
    client.reset_calls()
    assert client.count_calls == 0


@pytest.mark.parametrize("parallel, offsets", [(1, [0, 200, 400]), (2, [0, 200, 400, 600]), (4, [0, 200, 400, 600])],
                         ids=["serial", "waves-of-2", "one-wave"])
def test_parallel_paging_keeps_order(make_client, parallel, offsets):
    names = [f"p{i:04d}" for i in range(PAGE * 2 + 7)]

    def handler(request):
        if (r := no_csrf(request)) is not None:
            return r
        body = json.loads(request.content)
        return httpx.Response(200, json=[pool(n) for n in names[body["offset"]:body["offset"] + body["limit"]]])

    client, rec = make_client(handler)
    assert [p["name"] for p in client.read_pools(parallel=parallel)] == names
    assert sorted(b["offset"] for b in rec.bodies()) == offsets


@pytest.mark.parametrize(
    "body, hint",
    [({"detail": "Not Found"}, True), ({"detail": 'Work pool "x" not found.'}, False)],
    ids=["unknown-route", "missing-object"],
)
def test_404_for_an_unknown_route_says_to_check_the_api_url(make_client, body, hint):
    client, _ = make_client(lambda r: no_csrf(r) or httpx.Response(404, json=body))
    with pytest.raises(NotFound) as info:
        client.read_pools()
    assert ("is this the Prefect API URL" in str(info.value)) is hint


class _Events:
    def __init__(self):
        self.retries = []
        self.rows = []

    def on_retry(self, notice):
        self.retries.append(notice)

    def on_rows(self, route, count):
        self.rows.append((route, count))


def test_each_retry_is_announced_before_its_wait(make_client):
    replies = iter([httpx.Response(503, headers={"Retry-After": "2"}), httpx.Response(429),
                    httpx.Response(502, headers={"Retry-After": "0"}), httpx.Response(200, json={"ok": 1})])
    client, rec = make_client(lambda r: next(replies), max_retries=5)
    client.events = events = _Events()
    assert client.request("GET", "/work_pools/x", route="/work_pools/{name}") == {"ok": 1}
    assert [(n.status, n.reason, n.retry, n.max_retries, n.route, n.method) for n in events.retries] == [
        (503, "503", 1, 5, "/work_pools/{name}", "GET"), (429, "429", 2, 5, "/work_pools/{name}", "GET"),
        (502, "502", 3, 5, "/work_pools/{name}", "GET")]
    assert [n.wait for n in events.retries] == rec.sleeps
    assert rec.sleeps[0] == 2.0 and rec.sleeps[2] == 0.0 and 0 < rec.sleeps[1] <= 0.3


def test_transport_retries_are_announced_and_the_last_failure_is_not(make_client):
    def timeout(request):
        raise httpx.ReadTimeout("slow", request=request)

    client, rec = make_client(timeout, max_retries=2)
    client.events = events = _Events()
    with pytest.raises(TransportError):
        client.request("GET", "/work_pools/x")
    assert [(n.status, n.retry, n.max_retries) for n in events.retries] == [(None, 1, 2), (None, 2, 2)]
    assert all(n.reason.startswith("no answer within") for n in events.retries)
    assert len(rec.requests) == 3


def test_pages_are_reported_as_rows(make_client):
    rows = [pool(f"p{i}") for i in range(PAGE + 5)]

    def handler(request):
        if (r := no_csrf(request)) is not None:
            return r
        body = json.loads(request.content)
        return httpx.Response(200, json=rows[body["offset"]:body["offset"] + body["limit"]])

    client, _ = make_client(handler)
    client.events = events = _Events()
    assert len(client.read_pools()) == PAGE + 5
    assert events.rows == [("/work_pools/filter", PAGE), ("/work_pools/filter", 5)]
