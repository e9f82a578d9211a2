"""Property: for random configs, plan -> apply -> plan is empty, also when a second config follows the first.

In process, a fresh in-memory reference server per example, a bounded number of examples.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.api.client import PrefectClient
from reconciler.api.observe import observe
from reconciler.apply.executor import apply_plan
from reconciler.config.load import load
from reconciler.plan.planner import make_plan
from reconciler.settings import ConnectionSettings

POOLS = ["alpha", "beta", "gamma"]
QUEUES = ["default", "q1", "q2", "q3"]


@st.composite
def templates(draw):
    names = draw(st.lists(st.sampled_from(["image", "command", "cpu"]), min_size=1, max_size=3, unique=True))
    props = {}
    for n in names:
        if n == "cpu":
            props[n] = {"type": "integer", "default": draw(st.integers(1, 8))}
        else:
            props[n] = {"type": "string", "default": draw(st.sampled_from(["a", "b:1", "python -m x"]))}
    return {"job_configuration": {n: "{{ " + n + " }}" for n in names},
            "variables": {"type": "object", "properties": props}}


@st.composite
def queues(draw):
    names = draw(st.lists(st.sampled_from(QUEUES), max_size=4, unique=True))
    prios = draw(st.lists(st.integers(1, 12), min_size=len(names), max_size=len(names), unique=True))
    out = {}
    for name, prio in zip(names, prios):
        q = {}
        if draw(st.booleans()):
            q["priority"] = prio
        if draw(st.booleans()):
            q["concurrency_limit"] = draw(st.integers(0, 5))
        if draw(st.booleans()):
            q["paused"] = draw(st.booleans())
        if draw(st.booleans()):
            q["description"] = draw(st.sampled_from(["", "bulk", "fast lane"]))
        out[name] = q
    return out


@st.composite
def configs(draw):
    pools = {}
    for name in draw(st.lists(st.sampled_from(POOLS), min_size=1, max_size=3, unique=True)):
        p = {"type": draw(st.sampled_from(["process", "docker"]))}
        if draw(st.booleans()):
            p["description"] = draw(st.sampled_from(["team pool", "Production"]))
        if draw(st.booleans()):
            p["concurrency_limit"] = draw(st.integers(0, 30))
        if draw(st.booleans()):
            p["paused"] = draw(st.booleans())
        if draw(st.booleans()):
            p["base_job_template"] = draw(templates())
        p["queues"] = draw(queues())
        pools[name] = p
    return {"version": 1, "manage": {"prune": draw(st.booleans())}, "work_pools": pools}


def _client():
    from fastapi.testclient import TestClient

    from reconciler.server.app import create_app
    from reconciler.server.store import open_store

    http = TestClient(create_app(open_store(":memory:")))
    return PrefectClient(ConnectionSettings(api_url="http://testserver/api", max_retries=0), http=http)


def _desired(doc, tmp: Path):
    path = tmp / "pools.yaml"
    path.write_text(json.dumps(doc), encoding="utf-8")
    desired, diags = load([str(path)])
    assert desired is not None, [d.format() for d in diags.errors]
    return desired


def _plan(client, desired):
    return make_plan(desired, observe(client, desired, all_pools=True), api_url=client.api_url)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=configs(), second=configs())
def test_plan_apply_plan_is_empty(first, second):
    client = _client()
    with tempfile.TemporaryDirectory() as tmp:
        for doc in (first, second):
            desired = _desired(doc, Path(tmp))
            apply_plan(client, _plan(client, desired).to_json())
            again = _plan(client, desired)
            assert again.steps == [], (doc, again.to_json()["resource_changes"])
    client.close()
