"""observe: which calls it makes and what it builds (a fake Prefect answering from dicts)."""

from __future__ import annotations

import json

import httpx
import pytest

from reconciler.api.observe import LEGACY_QUEUE_READ_MIN_POOLS, observe, observe_deployments
from reconciler.model.state import DesiredPool, DesiredState

from .conftest import no_csrf


def fake_server(pools: dict[str, list[str]], *, duplicate_legacy: bool = False):
    def pool(name):
        return {"id": f"id-{name}", "name": name, "type": "process", "description": None, "is_paused": False,
                "concurrency_limit": None, "base_job_template": {}, "default_queue_id": f"{name}/default"}

    def queue(p, q, i):
        return {"id": f"{p}/{q}", "name": q, "description": "", "is_paused": False, "concurrency_limit": None,
                "priority": i + 1, "work_pool_name": p}

    def handler(request: httpx.Request) -> httpx.Response:
        if (r := no_csrf(request)) is not None:
            return r
        path = request.url.path
        body = json.loads(request.content) if request.content else {}
        off, lim = body.get("offset", 0), body.get("limit", 200)
        if path.endswith("/work_pools/filter"):
            names = sorted(pools)
            wanted = ((body.get("work_pools") or {}).get("name") or {}).get("any_")
            if wanted is not None:
                names = [n for n in names if n in wanted]
            return httpx.Response(200, json=[pool(n) for n in names][off:off + lim])
        if path.endswith("/work_queues/filter"):
            rows = sorted((queue(p, q, i) for p, qs in pools.items() for i, q in enumerate(qs)),
                          key=lambda r: (r["name"], r["work_pool_name"]))
            if duplicate_legacy:
                rows = rows + rows[:1]
            return httpx.Response(200, json=rows[off:off + lim])
        if path.endswith("/queues/filter"):
            p = path.split("/work_pools/")[1].split("/queues")[0]
            if p not in pools:
                return httpx.Response(404, json={"detail": "not found"})
            return httpx.Response(200, json=[queue(p, q, i) for i, q in enumerate(pools[p])][off:off + lim])
        if path.endswith("/deployments/filter"):
            return httpx.Response(200, json=[{"id": "d1", "name": "dep", "flow_id": "f1", "work_pool_name": "a",
                                              "work_queue_name": "default", "job_variables": {"image": "x"}}])
        if path.endswith("/flows/filter"):
            return httpx.Response(200, json=[{"id": "f1", "name": "etl"}])
        return httpx.Response(404, json={"detail": "Not Found"})

    return handler


def desired(*names, scope=()):
    return DesiredState(pools={n: DesiredPool(name=n) for n in names}, scope=list(scope))


def test_declared_pools_only_by_name_and_their_queues(make_client):
    client, rec = make_client(fake_server({"a": ["default", "x"], "b": ["default"], "legacy": ["default"]}))
    state = observe(client, desired("a", "b", "missing"))
    assert sorted(state.pools) == ["a", "b"]
    assert sorted(state.pools["a"].queues) == ["default", "x"]
    assert state.pools["a"].default_queue_name == "default"
    assert rec.bodies()[0]["work_pools"]["name"]["any_"] == ["a", "b", "missing"]
    assert sorted(p for p in rec.paths() if "queues" in p) == ["POST /api/work_pools/a/queues/filter",
                                                             "POST /api/work_pools/b/queues/filter"]


def test_all_pools_lists_unmanaged_without_their_queues(make_client):
    client, rec = make_client(fake_server({"a": ["default"], "legacy": ["default", "old"]}))
    state = observe(client, desired("a"), all_pools=True)
    assert sorted(state.pools) == ["a", "legacy"]
    assert state.pools["legacy"].queues == {}
    assert "POST /api/work_pools/legacy/queues/filter" not in rec.paths()


def test_scope_reads_owned_pools_queues(make_client):
    client, _ = make_client(fake_server({"team-a-1": ["default", "q"], "other": ["default"]}))
    state = observe(client, desired(scope=["team-a-*"]))
    assert sorted(state.pools["team-a-1"].queues) == ["default", "q"]
    assert state.pools["other"].queues == {}


def test_targets_read_only_their_pools(make_client):
    client, rec = make_client(fake_server({"a": ["default"], "b": ["default"]}))
    state = observe(client, desired("a", "b"), targets=["work_queue.b.default"])
    assert sorted(state.pools) == ["b"]


@pytest.mark.parametrize("duplicate, per_pool_calls", [(False, 0), (True, LEGACY_QUEUE_READ_MIN_POOLS + 4)],
                         ids=["legacy-read", "unstable-legacy-falls-back"])
def test_many_pools_use_one_legacy_read(make_client, duplicate, per_pool_calls):
    pools = {f"p{i:02d}": ["default", "q1", "q2"] for i in range(LEGACY_QUEUE_READ_MIN_POOLS + 4)}
    client, rec = make_client(fake_server(pools, duplicate_legacy=duplicate))
    state = observe(client, desired(*pools))
    assert all(sorted(p.queues) == ["default", "q1", "q2"] for p in state.pools.values())
    assert sum(1 for p in rec.paths() if p.endswith("/queues/filter") and "/work_pools/" in p) == per_pool_calls


def test_observe_deployments_groups_by_pool_with_flow_names(make_client):
    client, _ = make_client(fake_server({"a": ["default"]}))
    deployments = observe_deployments(client, ["a", "b"])
    assert [(d.flow_name, d.name, d.job_variables) for d in deployments["a"]] == [("etl", "dep", {"image": "x"})]
    assert deployments["b"] == []


@pytest.mark.parametrize(
    "declared, target, pools_read",
    [
        (("p",), "work_queue.p.v1.2", ["p"]),
        (("a.b",), "work_queue.a.b.c", ["a.b"]),
        ((), "work_queue.x.y.z", ["x", "x.y"]),
    ],
    ids=["dotted-queue-of-declared-pool", "dotted-pool", "undeclared-every-candidate"],
)
def test_targets_with_dots_read_the_right_pool(make_client, declared, target, pools_read):
    client, rec = make_client(fake_server({"p": ["default", "v1.2"], "a.b": ["default", "c"]}))
    observe(client, desired(*declared), targets=[target])
    assert sorted(rec.bodies()[0]["work_pools"]["name"]["any_"]) == pools_read
