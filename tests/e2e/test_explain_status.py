"""``poolform explain`` and ``poolform status`` on a seeded scenario, one run per reason, against
our server in process and over a socket, and against real Prefect 3.9.1 (``make compat``); and
the reference server's ``/api/poolform/`` answers agreeing with the CLI's API reads."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from reconciler.cli import _common
from reconciler.cli import explain as explain_cli
from reconciler.cli import status as status_cli
from reconciler.cli.main import cli
from reconciler.api.client import PrefectClient
from .conftest import Env, assert_ok


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class Seeder:
    """Pools, queues, deployments, runs and heartbeats through the Prefect API (works on any server)."""

    def __init__(self, client: PrefectClient, prefix: str) -> None:
        self.c = client
        self.prefix = prefix
        self.flow_id = client.request("POST", "/flows/", json={"name": f"{prefix}flow"})["id"]
        self.deployments: dict[tuple[str, str], str] = {}

    def pool(self, name: str, *, limit: int | None = None, queues: dict[str, dict[str, Any]] | None = None,
             worker: bool = True) -> str:
        full = self.prefix + name
        self.c.request("POST", "/work_pools/", json={"name": full, "type": "process", "concurrency_limit": limit})
        for queue, body in (queues or {}).items():
            self.c.request("POST", f"/work_pools/{full}/queues/", json={"name": queue, **body})
        if worker:
            self.c.request("POST", f"/work_pools/{full}/workers/heartbeat",
                           json={"name": "w1", "heartbeat_interval_seconds": 60})
        return full

    def run(self, pool: str, queue: str = "default", *, minutes: float = -60, state: str = "SCHEDULED") -> str:
        key = (pool, queue)
        if key not in self.deployments:
            self.deployments[key] = self.c.request("POST", "/deployments/", json={
                "name": f"{queue}-{uuid.uuid4().hex[:6]}", "flow_id": self.flow_id, "work_pool_name": pool,
                "work_queue_name": queue})["id"]
        when = datetime.now(timezone.utc) + timedelta(minutes=minutes)
        run = self.c.request("POST", f"/deployments/{self.deployments[key]}/create_flow_run", json={
            "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": _iso(when)}}, "work_queue_name": queue})
        if state != "SCHEDULED":
            self.c.request("POST", f"/flow_runs/{run['id']}/set_state", json={"state": {"type": state}, "force": True})
        return run["id"]

    def bare_run(self) -> str:
        when = datetime.now(timezone.utc) - timedelta(minutes=5)
        return self.c.request("POST", "/flow_runs/", json={
            "flow_id": self.flow_id, "state": {"type": "SCHEDULED", "state_details": {"scheduled_time": _iso(when)}}})["id"]


def _json(env: Env, *args: str) -> dict[str, Any]:
    result = env.cli(*args, "--json", "--api-url", env.api_url)
    assert_ok(result)
    return json.loads(result.stdout)


def test_each_reason_and_the_status_numbers(env: Env) -> None:
    s = Seeder(env.client(), env.prefix)
    paused = s.pool("paused", queues={"hold": {"is_paused": True, "priority": 2}})
    full = s.pool("full", limit=1)
    narrow = s.pool("narrow", queues={"narrow": {"concurrency_limit": 1, "priority": 2}})
    prio = s.pool("prio", limit=1, queues={"low": {"priority": 2}})
    idle = s.pool("idle", worker=False)
    runs = {
        "queue_paused": s.run(paused, "hold"),
        "running": s.run(full, state="RUNNING"),
        "pool_full": s.run(full),
        "queue_holder": s.run(narrow, "narrow", state="RUNNING"),
        "queue_full": s.run(narrow, "narrow", minutes=-30),
        "low_old": s.run(prio, "low", minutes=-90),
        "high_new": s.run(prio, "default", minutes=-10),
        "future": s.run(prio, "low", minutes=60),
        "no_worker": s.run(idle),
        "no_pool": s.bare_run(),
    }
    expected = {
        "queue_paused": (["QUEUE_PAUSED"], 0, paused, "hold"),
        "running": (["NOT_SCHEDULED"], None, full, "default"),
        "pool_full": (["POOL_LIMIT"], 0, full, "default"),
        "queue_full": (["QUEUE_LIMIT"], 0, narrow, "narrow"),
        "low_old": (["POOL_LIMIT", "PRIORITY"], 1, prio, "low"),
        "high_new": ([], 0, prio, "default"),
        "future": (["NOT_DUE"], None, prio, "low"),
        "no_worker": (["NO_WORKER"], 0, idle, "default"),
        "no_pool": (["NO_POOL"], None, None, None),
    }
    for key, (codes, position, pool, queue) in expected.items():
        doc = _json(env, "explain", runs[key])
        assert [r["code"] for r in doc["reasons"]] == codes, (key, doc)
        assert doc["position"] == position, (key, doc)
        assert (doc["pool"], doc["queue"], doc["run"]["id"]) == (pool, queue, runs[key]), (key, doc)
        assert all(r["message"] for r in doc["reasons"])
    low = _json(env, "explain", runs["low_old"])
    assert [a["id"] for a in low["ahead"]] == [runs["high_new"]]
    assert "1 of 1 slots in use (by " in _json(env, "explain", runs["pool_full"])["reasons"][0]["message"]
    assert "last seen" not in _json(env, "explain", runs["no_worker"])["reasons"][0]["message"]

    status = _json(env, "status", "--pool", full, "--pool", narrow, "--pool", prio, "--pool", paused, "--pool", idle)
    pools = {p["name"]: p for p in status["pools"]}
    assert [p["name"] for p in status["pools"]] == [full, narrow, prio, paused, idle]
    assert (pools[full]["slots_in_use"], pools[full]["concurrency_limit"], pools[full]["backlog"]) == (1, 1, 1)
    assert pools[full]["type"] == "process" and pools[full]["status"] == "READY"
    assert pools[idle]["status"] == "NOT_READY" and pools[idle]["workers"] == []
    queues = {(p, q["name"]): q for p in pools for q in pools[p]["queues"]}
    assert [q["name"] for q in pools[prio]["queues"]] == ["default", "low"]
    assert (queues[narrow, "narrow"]["slots_in_use"], queues[narrow, "narrow"]["concurrency_limit"],
            queues[narrow, "narrow"]["backlog"]) == (1, 1, 1)
    assert (queues[prio, "low"]["backlog"], queues[prio, "default"]["backlog"], pools[prio]["backlog"]) == (1, 1, 2)
    assert queues[paused, "hold"]["is_paused"] is True and queues[paused, "hold"]["backlog"] == 1
    assert 90 * 60 - 120 < queues[prio, "low"]["lateness_seconds"] < 90 * 60 + 600
    assert queues[prio, "low"]["priority"] == 2
    (worker,) = pools[full]["workers"]
    assert (worker["name"], worker["status"], worker["heartbeat_interval_seconds"]) == ("w1", "ONLINE", 60)

    human = assert_ok(env.cli("status", "--pool", prio, "--api-url", env.api_url))
    assert prio in human and "low" in human and "w1" in human and "\x1b[" not in human
    text = assert_ok(env.cli("explain", runs["low_old"], "--api-url", env.api_url))
    assert "POOL_LIMIT" in text and "PRIORITY" in text and "position 1" in text


def test_errors_are_one_line_and_json_still_parses(env: Env) -> None:
    missing = str(uuid.uuid4())
    result = env.cli("explain", missing, "--api-url", env.api_url)
    assert result.exit_code == 1 and f"Error: flow run {missing} not found" in result.output
    doc = json.loads(env.cli("explain", missing, "--json", "--api-url", env.api_url).stdout)
    assert doc["errored"] is True and doc["diagnostics"][0]["code"] == "not_found"
    bad = env.cli("explain", "not-a-uuid", "--api-url", env.api_url)
    assert bad.exit_code == 1 and "is not a flow run id" in bad.output and "Traceback" not in bad.output
    nope = env.cli("status", "--pool", env.name("nope"), "--api-url", env.api_url)
    assert nope.exit_code == 1 and "not found" in nope.output and "Traceback" not in nope.output


# -- the reference server's extension endpoints -----------------------------------------------


@pytest.fixture
def pinned():
    """Our server in process on a manual clock, with the CLI's "now" pinned to it."""
    from fastapi.testclient import TestClient

    from reconciler.server.app import create_app
    from reconciler.server.clock import ManualClock
    from reconciler.server.store import open_store

    clock = ManualClock(datetime.now(timezone.utc))
    http = TestClient(create_app(open_store(":memory:"), clock=clock))
    saved = _common.CLIENT_FACTORY, explain_cli.CLOCK, status_cli.CLOCK
    _common.CLIENT_FACTORY = lambda settings: PrefectClient(settings, http=http)
    explain_cli.CLOCK = status_cli.CLOCK = clock
    try:
        yield http, clock
    finally:
        _common.CLIENT_FACTORY, explain_cli.CLOCK, status_cli.CLOCK = saved
        http.close()


def _cli_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, [*args, "--json", "--api-url", "http://testserver/api"], env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_endpoints_agree_with_the_cli(pinned) -> None:
    http, clock = pinned
    s = Seeder(PrefectClient(_settings(), http=http), "x-")
    prio = s.pool("prio", limit=2, queues={"low": {"priority": 2, "concurrency_limit": 1}})
    s.pool("idle", worker=False)
    ids = [s.run(prio, "low", minutes=-m) for m in (50, 40, 30)] + [s.run(prio, "default", minutes=-m) for m in (20, 10)]
    ids += [s.run(prio, "low", minutes=5), s.run(prio, "default", state="RUNNING"), s.run("x-idle"), s.bare_run()]
    clock.advance(seconds=1)
    for run_id in ids:
        served = http.get(f"/api/poolform/flow_runs/{run_id}/explain")
        assert served.status_code == 200, served.text
        assert served.json() == _cli_json("explain", run_id), run_id
    status = http.get("/api/poolform/status")
    assert status.status_code == 200 and status.json() == _cli_json("status")
    assert http.get("/api/poolform/status", params={"pool": ["x-idle"]}).json() == _cli_json("status", "--pool", "x-idle")
    pending = http.get("/api/poolform/work_pools/x-prio/pending").json()
    positions = {r["run"]["id"]: (r["position"], [x["code"] for x in r["reasons"]]) for r in pending["runs"]}
    for run_id, (position, codes) in positions.items():
        one = _cli_json("explain", run_id)
        assert (one["position"], [r["code"] for r in one["reasons"]]) == (position, codes)
    assert [r["position"] for r in pending["runs"]] == [0, 1, 2, 3, 4, None]
    assert positions[ids[0]] == (2, ["POOL_LIMIT", "PRIORITY"])
    assert positions[ids[1]] == (3, ["POOL_LIMIT", "QUEUE_LIMIT", "PRIORITY"])
    assert positions[ids[3]] == (0, [])
    assert http.get("/api/poolform/work_pools/nope/pending").status_code == 404
    assert http.get(f"/api/poolform/flow_runs/{uuid.uuid4()}/explain").status_code == 404
    assert http.get("/api/poolform/status", params={"pool": "nope"}).status_code == 404


def _settings():
    from reconciler.settings import ConnectionSettings

    return ConnectionSettings(api_url="http://testserver/api", max_retries=0)


def test_names_cannot_inject_markup_or_terminal_codes(pinned) -> None:
    http, _ = pinned
    s = Seeder(PrefectClient(_settings(), http=http), "")
    evil = "[bold red]x\x1b[2J"
    pool = s.pool("p[b]", queues={evil: {"priority": 2}})
    s.run(pool, evil)
    result = CliRunner().invoke(cli, ["status", "--api-url", "http://testserver/api"], env={"NO_COLOR": "1", "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "[bold red]x\\u001b[2J" in result.output and "p[b]" in result.output


def test_cloud_shaped_urls(pinned) -> None:
    """A Prefect Cloud API URL (``/api/accounts/{id}/workspaces/{id}``): every read goes under it."""
    http, _ = pinned
    s = Seeder(PrefectClient(_settings(), http=http), "c-")
    pool = s.pool("cloud", limit=1)
    run_id = s.run(pool)
    base = f"/api/accounts/{uuid.uuid4()}/workspaces/{uuid.uuid4()}"
    seen: list[str] = []

    def to_workspace(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if not request.url.path.startswith(base + "/"):
            return httpx.Response(404, json={"detail": "Not Found"})
        path = "/api" + request.url.path[len(base):]
        answer = http.request(request.method, path, content=request.content, headers=dict(request.headers),
                              params=request.url.params)
        return httpx.Response(answer.status_code, content=answer.content, headers=answer.headers)

    commands = (["explain", run_id], ["status", "--pool", pool])
    expected = [_cli_json(*args) for args in commands]
    cloud = httpx.Client(transport=httpx.MockTransport(to_workspace))
    saved = _common.CLIENT_FACTORY
    _common.CLIENT_FACTORY = lambda settings: PrefectClient(settings, http=cloud)
    try:
        url = "https://api.prefect.cloud" + base
        for args, wanted in zip(commands, expected):
            result = CliRunner().invoke(cli, [*args, "--json", "--api-url", url], env={"NO_COLOR": "1"})
            assert result.exit_code == 0, result.output
            assert json.loads(result.stdout) == wanted
    finally:
        _common.CLIENT_FACTORY = saved
        cloud.close()
    assert seen and all(p.startswith(base + "/") for p in seen), seen
