"""The status page (``GET /``) in process: markup from the API's documents, every user string escaped,
no script allowed, nothing of the API shadowed, behind basic auth when the API is. The browser test
is tests/e2e/test_status_page_browser.py."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.server.app import create_app
from reconciler.server.statuspage import render_page
from reconciler.server.store import open_store

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "code", "section", "div",
                "span", "table", "thead", "tbody", "tr", "th", "td", "time", "ul", "li"}
HOSTILE = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "' onmouseover='alert(1)", "&amp;<b>",
           "</style><script>x</script>", "<!--", "]]>", "\u2028line", "<svg/onload=alert(1)>"]


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text, as a browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    parser.close()
    return parser


@pytest.fixture
def client():
    app = create_app(open_store(":memory:"), clock=lambda: NOW)
    with TestClient(app) as c:
        yield c


def _seed(client, pool: str, queue: str, worker: str, run: str) -> None:
    assert client.post("/api/work_pools/", json={"name": pool, "type": "process", "concurrency_limit": 2,
                                                 "description": run}).status_code == 201
    assert client.post(f"/api/work_pools/{quote(pool, safe='')}/queues", json={"name": queue, "priority": 3}).status_code == 201
    flow = client.post("/api/flows/", json={"name": "etl"}).json()
    for minutes, name in ((-30, run), (45, run + " later")):
        body = {"flow_id": flow["id"], "name": name, "work_pool_name": pool, "work_queue_name": queue,
                "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": (NOW + timedelta(minutes=minutes)).isoformat()}}}
        assert client.post("/api/flow_runs/", json=body).status_code == 201
    assert client.post(f"/api/work_pools/{quote(pool, safe='')}/workers/heartbeat", json={"name": worker}).status_code == 204


QUOTING = "\" onmouseover=\"alert(1)\" x=' y='"
"""Pool and queue names may not hold ``/ % & < >`` (Prefect's rule): the attack left to them is quoting."""


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_names_are_text_never_markup(client, hostile) -> None:
    pool, queue, worker, run = f"p {QUOTING}", f"q {QUOTING}", f"w {hostile}", f"r {hostile}"
    _seed(client, pool, queue, worker, run)
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = parse(response.text)
    assert {tag for tag, _ in page.tags} <= ALLOWED_TAGS
    assert all(not name.startswith("on") and name not in ("src", "href", "x", "y") for _, attrs in page.tags for name in attrs)
    text = "".join(page.text)
    for shown in (pool, queue, worker, run):
        assert shown in text
    assert [attrs["data-pool"] for tag, attrs in page.tags if "data-pool" in attrs] == [pool]
    assert sorted(attrs["data-queue"] for tag, attrs in page.tags if "data-queue" in attrs) == sorted([queue, "default"])
    assert [attrs["data-worker"] for tag, attrs in page.tags if "data-worker" in attrs] == [worker]


@settings(max_examples=80, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_any_name_renders_as_its_own_text(name) -> None:
    status = {"now": "2026-12-02T12:00:00Z", "pools": [{
        "name": name, "type": name, "status": name, "is_paused": False, "concurrency_limit": 1, "slots_in_use": 0,
        "backlog": 1, "queues": [{"name": name, "priority": 1, "is_paused": True, "concurrency_limit": None,
                                  "slots_in_use": 0, "backlog": 1, "oldest_due": name, "lateness_seconds": 3,
                                  "last_polled": None}],
        "workers": [{"name": name, "status": name, "last_heartbeat_time": name}]}]}
    pending = {name: {"runs": [{"run": {"id": name, "name": name, "state_name": name, "next_scheduled_start_time": name},
                                "queue": name, "position": 0, "reasons": [{"code": name, "message": name}]}]}}
    page = parse(render_page(status, pending))
    assert {tag for tag, _ in page.tags} <= ALLOWED_TAGS
    assert [attrs.get("data-pool") for _, attrs in page.tags if "data-pool" in attrs] == [name]
    assert [attrs.get("data-run") for _, attrs in page.tags if "data-run" in attrs] == [name]


def test_the_page_is_the_api_documents(client) -> None:
    _seed(client, "prod", "high", "worker-1", "nightly")
    page = parse(client.get("/").text)
    status = client.get("/api/poolform/status").json()
    pending = client.get("/api/poolform/work_pools/prod/pending").json()
    pool = status["pools"][0]
    occupancy = next(attrs for tag, attrs in page.tags if tag == "span" and "data-in-use" in attrs)
    assert (occupancy["data-in-use"], occupancy["data-limit"]) == (str(pool["slots_in_use"]), str(pool["concurrency_limit"]))
    assert [a["data-queue"] for _, a in page.tags if "data-queue" in a] == [q["name"] for q in pool["queues"]]
    assert [a["data-run"] for _, a in page.tags if "data-run" in a] == [r["run"]["id"] for r in pending["runs"]]
    rows = [a.get("class") for t, a in page.tags if t == "tr" and "data-run" in a]
    assert rows == ["run" + (" late" if r["run"]["state_name"] == "Late" else "") for r in pending["runs"]] == ["run late", "run"]
    text = " ".join(page.text)
    assert "NOT_DUE" in text and "worker-1" in text


def test_no_script_no_cache_and_it_reloads(client) -> None:
    response = client.get("/")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert response.headers["cache-control"] == "no-store" and response.headers["x-content-type-options"] == "nosniff"
    page = parse(response.text)
    assert ("meta", {"http-equiv": "refresh", "content": "5"}) in page.tags
    assert "No work pools yet." in "".join(page.text)


def test_the_api_is_not_shadowed(client) -> None:
    assert client.get("/api/health").json() is True
    assert client.get("/api/work_pools/none").status_code == 404
    assert client.get("/anything-else").status_code == 404
    assert client.post("/").status_code in (404, 405)


def test_the_page_is_behind_the_api_auth() -> None:
    app = create_app(open_store(":memory:"), auth_string="admin:s3cret")
    with TestClient(app) as c:
        refused = c.get("/")
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")
        token = base64.b64encode(b"admin:s3cret").decode()
        assert c.get("/", headers={"Authorization": f"Basic {token}"}).status_code == 200


@pytest.mark.parametrize(
    ("in_use", "limit", "shown", "width"),
    [(0, None, "0 in use, no limit", None), (1, 4, "1 of 4 in use", "25%"), (4, 4, "4 of 4 in use", "100%"),
     (5, 2, "5 of 2 in use", "100%"), (0, 0, "0 of 0 in use", "100%")],
)
def test_occupancy(in_use, limit, shown, width) -> None:
    status = {"now": "2026-12-02T12:00:00Z", "pools": [{"name": "p", "slots_in_use": in_use, "concurrency_limit": limit,
                                                        "backlog": 0, "queues": [], "workers": []}]}
    page = render_page(status, {})
    assert shown in page
    assert (f'style="width:{width}"' in page) if width else ('style="width:' not in page)
