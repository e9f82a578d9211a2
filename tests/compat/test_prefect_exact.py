"""Ours against a real Prefect 3.9.1 server where its answer is the contract: random sequences
of queue creates, PATCHes and deletes (the priority walk), priority plans applied once, a
deployment PATCH naming only a queue, and the answers tests/server/test_prefect_exact.py records.

Each side gets the same requests on pools of the same names; the sequences come from a seeded
random generator (the seed is in the failure message), so a failure replays exactly.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from typing import Any

import httpx
import pytest

from reconciler.plan.priorities import plan_priorities

pytestmark = pytest.mark.compat

SEQUENCES = 80
PLANS = 40
NAMES = ["default", "a", "b", "c", "d"]
MISSING = "00000000-0000-4000-8000-000000000001"


def _sfx() -> str:
    return uuid.uuid4().hex[:8]


def _listing(api: httpx.Client, pool: str) -> list[tuple[str, int]]:
    response = api.post(f"work_pools/{pool}/queues/filter", json={})
    assert response.status_code == 200, response.text
    return [(q["name"], q["priority"]) for q in response.json()]


def _step(api: httpx.Client, pool: str, op: str, name: str, priority: int | None) -> int:
    """One step of a sequence; its status code."""
    if op == "create":
        body: dict[str, Any] = {"name": name} if priority is None else {"name": name, "priority": priority}
        return api.post(f"work_pools/{pool}/queues", json=body).status_code
    if op == "patch":
        return api.patch(f"work_pools/{pool}/queues/{name}", json={"priority": priority}).status_code
    if op == "delete":
        return api.delete(f"work_pools/{pool}/queues/{name}").status_code
    found = api.get(f"work_pools/{pool}/queues/{name}")
    if found.status_code != 200:
        return found.status_code
    if op == "legacy":
        return api.patch(f"work_queues/{found.json()['id']}", json={"priority": priority}).status_code
    return api.delete(f"work_queues/{found.json()['id']}").status_code


def _sequence(rng: random.Random, length: int) -> list[tuple[str, str, int | None]]:
    ops = ["create", "create", "create", "patch", "patch", "legacy", "delete", "legacy_delete"]
    out = []
    for _ in range(length):
        op = rng.choice(ops)
        priority = rng.choice([None, 1, 2, 3, 4, 5, 6]) if op == "create" else rng.randint(1, 6)
        # Deleting the default queue by the pool route is a known difference (Prefect 500, ours
        # 409: tests/compat/test_contract_diff.py); the legacy route answers 409 on both.
        names = NAMES[1:] if op == "delete" else NAMES
        out.append((op, rng.choice(names), priority))
    return out


def _new_pool(real_api: httpx.Client, our_api: httpx.Client, prefix: str) -> str:
    pool = f"{prefix}-{_sfx()}"
    for api in (real_api, our_api):
        assert api.post("work_pools/", json={"name": pool, "type": "process"}).status_code == 201
    return pool


def test_priority_walk_random_sequences(real_api, our_api):
    """Same status and the same queues in the same order after every step, for many sequences."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    for number in range(SEQUENCES):
        pool = _new_pool(real_api, our_api, "walk")
        steps = _sequence(rng, rng.randint(3, 10))
        for index, (op, name, priority) in enumerate(steps):
            statuses = [_step(api, pool, op, name, priority) for api in (real_api, our_api)]
            listings = [_listing(api, pool) for api in (real_api, our_api)]
            where = f"seed {seed}, sequence {number}, steps {steps[: index + 1]}"
            assert statuses[0] == statuses[1], f"{where}: Prefect {statuses[0]}, ours {statuses[1]}"
            assert listings[0] == listings[1], f"{where}:\n  Prefect {listings[0]}\n  ours    {listings[1]}"
        for api in (real_api, our_api):
            api.delete(f"work_pools/{pool}")


def test_priority_plans_land_in_one_pass_on_both(real_api, our_api):
    """The planner's steps (single-queue PATCHes, in order) reach the desired priorities in one
    pass on Prefect and on ours, whatever state random sequences left (ties included)."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    for number in range(PLANS):
        pool = _new_pool(real_api, our_api, "plan")
        for op, name, priority in _sequence(rng, rng.randint(2, 8)):
            for api in (real_api, our_api):
                _step(api, pool, op, name, priority)
        current = dict(_listing(real_api, pool))
        assert _listing(our_api, pool) == _listing(real_api, pool)
        managed = rng.sample(sorted(current), rng.randint(1, len(current)))
        desired = dict(zip(managed, rng.sample(range(1, 9), len(managed))))
        steps = plan_priorities(current, desired, fix_duplicates=rng.random() < 0.3)
        for api in (real_api, our_api):
            for queue, priority in steps:
                assert api.patch(f"work_pools/{pool}/queues/{queue}", json={"priority": priority}).status_code == 204
        after = [_listing(api, pool) for api in (real_api, our_api)]
        where = f"seed {seed}, plan {number}: {current} -> {desired} by {steps}"
        assert after[0] == after[1], f"{where}:\n  Prefect {after[0]}\n  ours    {after[1]}"
        assert {q: p for q, p in after[1] if q in desired} == desired, where
        for api in (real_api, our_api):
            api.delete(f"work_pools/{pool}")


def test_deployment_patch_naming_only_a_queue(real_api, our_api):
    """With default-agent-pool present (another test may have made it on the shared real server,
    so both sides make sure it exists): a queue found there, one only in other pools (not found:
    a new agent-pool queue), and the pool and queue named together."""
    sfx = _sfx()
    answers = []
    for api in (real_api, our_api):
        assert api.post("work_queues/", json={"name": f"agent-{sfx}"}).status_code == 201
        for pool in (f"zz-{sfx}", f"aa-{sfx}"):
            assert api.post("work_pools/", json={"name": pool, "type": "process"}).status_code == 201
            assert api.post(f"work_pools/{pool}/queues", json={"name": f"dup-{sfx}"}).status_code == 201
        flow = api.post("flows/", json={"name": f"flow-{sfx}"}).json()["id"]
        deployment = api.post("deployments/", json={"name": "d", "flow_id": flow, "work_pool_name": f"zz-{sfx}"}).json()["id"]
        seen = []
        for body in ({"work_queue_name": f"agent-{sfx}"}, {"work_queue_name": f"dup-{sfx}"},
                     {"work_pool_name": f"aa-{sfx}", "work_queue_name": f"dup-{sfx}"}, {"work_queue_name": "default"},
                     {"work_queue_name": None}, {"work_pool_name": None}, {"work_queue_name": f"new-{sfx}"}):
            status = api.patch(f"deployments/{deployment}", json=body).status_code
            d = api.get(f"deployments/{deployment}").json()
            seen.append((body, status, d["work_pool_name"], d["work_queue_name"]))
        new = api.get(f"work_pools/default-agent-pool/queues/new-{sfx}").json()
        seen.append(("new queue priority", new["priority"]))
        seen.append(("legacy by name", api.get(f"work_queues/name/dup-{sfx}").status_code))
        answers.append(seen)
    assert answers[0] == answers[1]


REQUESTS = [
    ("GET", "work_pools/{pool}/queues/nope", None),
    ("GET", "work_queues/name/nope-{sfx}", None),
    ("GET", f"work_queues/{MISSING}", None),
    ("PATCH", f"work_queues/{MISSING}", {"description": "x"}),
    ("DELETE", f"work_queues/{MISSING}", None),
    ("GET", f"work_queues/{MISSING}/status", None),
    ("POST", f"work_queues/{MISSING}/get_runs", {}),
    ("POST", f"work_queues/{MISSING}/concurrency_status", {}),
    ("GET", "work_queues/not-a-uuid", None),
    ("GET", f"flow_runs/{MISSING}", None),
    ("PATCH", f"flow_runs/{MISSING}", {"name": "x"}),
    ("DELETE", f"flow_runs/{MISSING}", None),
    ("PATCH", f"flow_runs/{MISSING}/labels", {"a": "b"}),
    ("POST", f"flow_runs/{MISSING}/set_state", {"state": {"type": "RUNNING"}}),
    ("GET", "flow_runs/not-a-uuid", None),
    ("GET", f"deployments/{MISSING}", None),
    ("PATCH", f"deployments/{MISSING}", {"description": "x"}),
    ("POST", "work_pools/nopool-{sfx}/concurrency_status", {}),
    ("POST", "logs/", []),
    ("POST", "work_pools/{pool}/concurrency_status", {}),
    ("POST", "work_pools/{pool}/concurrency_status", {"limit": 0}),
]


def _block_template(default: Any, schema_type: str = "string") -> dict[str, Any]:
    return {"job_configuration": {"block": "{{ block_string }}"},
            "variables": {"properties": {"block_string": {"type": schema_type, "default": default}}, "required": []}}


def test_answers_as_prefect(real_api, our_api):
    """404 bodies, empty concurrency pages, block references in defaults, pools for old clients."""
    sfx = _sfx()
    answers = []
    for api in (real_api, our_api):
        pool = f"exact-{sfx}"
        assert api.post("work_pools/", json={"name": pool, "type": "process"}).status_code == 201
        seen: list[Any] = []
        for method, path, body in REQUESTS:
            response = api.request(method, path.format(pool=pool, sfx=sfx), json=body)
            seen.append((method, path, response.status_code, response.json()))
        # A queue name no run ever had: Prefect also counts runs whose queue is gone by the queue's
        # name (work_queue_id NULL), which other tests leave behind on the shared real server.
        queue_id = api.post(f"work_pools/{pool}/queues", json={"name": f"empty-{sfx}"}).json()["id"]
        status = api.post(f"work_queues/{queue_id}/concurrency_status", json={}).json()
        seen.append(("queue pages", status["count"], status["pages"]))
        for number, (default, schema_type) in enumerate([
            ({"$ref": {"block_document_id": "non-existing"}}, "string"),
            ({"$ref": {"block_document_id": MISSING}}, "object"),
            ({"$ref": {"block_document_id": None}}, "string"),
        ]):
            response = api.post("work_pools/", json={"name": f"block-{number}-{sfx}",
                                                     "base_job_template": _block_template(default, schema_type)})
            seen.append(("block", number, response.status_code, response.json().get("detail")))
        for number, agent in enumerate(("prefect/3.3.7 (API 0.8.4)", "prefect/3.3.8 (API 0.8.4)",
                                        "prefect/3.3.7rc1 (API 0.8.4)", "prefect/2.20.0 (API 0.8.4)")):
            headers = {"User-Agent": agent}
            name = f"ua-{number}-{sfx}"
            created = api.post("work_pools/", json={"name": name, "type": "process"}, headers=headers).json()
            read = api.get(f"work_pools/{name}", headers=headers).json()
            listed = api.post("work_pools/filter", json={"work_pools": {"name": {"any_": [name]}}}, headers=headers).json()
            seen.append((agent, sorted(created["storage_configuration"]), sorted(read["storage_configuration"]),
                         sorted(listed[0]["storage_configuration"])))
        answers.append(seen)
    for real, ours in zip(*answers):
        assert _masked(real) == _masked(ours)


def _masked(value: Any) -> str:
    """The JSON of ``value`` with ids replaced (each server makes its own)."""
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", json.dumps(value))
