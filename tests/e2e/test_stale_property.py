"""Property: stale means stale. Random live state, a random config, ``plan``, then one random
change on the server, then apply of the saved plan. Either the apply is refused as stale,
naming only addresses that did change (and it must be, when the change hit an object the
plan read or the queue set of a pool whose queues the plan depends on), or the change was
irrelevant and the server ends exactly as the plan showed: every changed address at its
``after``, every side effect at its ``after``, every other object as the change left it.

In process, a fresh in-memory reference server per example, a bounded number of examples.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.api.client import PrefectClient
from reconciler.api.observe import observe, observe_pools
from reconciler.apply.executor import apply_plan
from reconciler.config.load import load
from reconciler.errors import StalePlanError
from reconciler.model.state import pool_address, queue_address
from reconciler.plan.normalize import observed_pool_form, observed_queue_form
from reconciler.plan.planfile import dumps_plan
from reconciler.plan.planner import make_plan
from reconciler.plan.sequence import queue_set_pools
from reconciler.settings import ConnectionSettings

POOLS = ["p1", "p2", "t-x"]
QUEUES = ["default", "a", "b", "c"]


def _client() -> PrefectClient:
    from fastapi.testclient import TestClient

    from reconciler.server.app import create_app
    from reconciler.server.store import open_store

    return PrefectClient(ConnectionSettings(api_url="http://testserver/api", max_retries=0),
                         http=TestClient(create_app(open_store(":memory:"))))


_fields = {
    "description": st.sampled_from([None, "one", "two"]),
    "paused": st.booleans(),
    "concurrency_limit": st.sampled_from([None, 0, 3]),
}


@st.composite
def live_states(draw) -> dict[str, Any]:
    state = {}
    for name in draw(st.lists(st.sampled_from(POOLS), max_size=3, unique=True)):
        queues = {q: {"priority": draw(st.integers(1, 6)), "description": draw(st.sampled_from(["", "x"]))}
                  for q in draw(st.lists(st.sampled_from(QUEUES[1:]), max_size=3, unique=True))}
        state[name] = {"type": draw(st.sampled_from(["process", "docker"])),
                       "description": draw(_fields["description"]), "queues": queues}
    return state


@st.composite
def configs(draw) -> dict[str, Any]:
    pools = {}
    for name in draw(st.lists(st.sampled_from(POOLS[:2]), min_size=1, max_size=2, unique=True)):
        queues = {}
        for queue in draw(st.lists(st.sampled_from(QUEUES), max_size=3, unique=True)):
            spec: dict[str, Any] = {}
            if draw(st.booleans()):
                spec["priority"] = draw(st.integers(1, 5))
            if draw(st.booleans()):
                spec["description"] = draw(st.sampled_from(["", "x", "y"]))
            queues[queue] = spec
        if len({q.get("priority") for q in queues.values() if "priority" in q}) < sum("priority" in q for q in queues.values()):
            for index, spec in enumerate(queues.values()):
                spec.pop("priority", None)
        pools[name] = {"type": draw(st.sampled_from(["process", "docker"])),
                       "description": draw(st.sampled_from(["one", "two"])), "queues": queues}
    return {"version": 1, "manage": {"prune": draw(st.booleans()), "scope": ["t-*"]}, "work_pools": pools}


def _seed(client: PrefectClient, state: dict[str, Any]) -> None:
    for name, pool in state.items():
        client.create_pool({"name": name, "type": pool["type"], "description": pool["description"]})
        for queue, spec in pool["queues"].items():
            client.create_queue(name, {"name": queue, **spec})


def _snapshot(client: PrefectClient) -> dict[str, dict[str, Any]]:
    """address -> comparable form of everything on the server (pools also list their queue names)."""
    seen = observe_pools(client, None)
    out: dict[str, dict[str, Any]] = {}
    for pool in seen.pools.values():
        out[pool.address] = {**observed_pool_form(pool), "queues": sorted(pool.queues)}
        for queue in pool.queues.values():
            out[queue.address] = observed_queue_form(queue)
    return out


def _change(client: PrefectClient, data: st.DataObject, snapshot: dict[str, dict[str, Any]]) -> str:
    """One random change on the server (possibly one that changes nothing); says what it did."""
    pools = sorted(a[len("work_pool."):] for a in snapshot if a.startswith("work_pool."))
    kinds = ["nothing", "create pool"] + (["pool field", "create queue", "delete pool"] if pools else [])
    queues = [(f["pool"], f["name"]) for a, f in snapshot.items() if a.startswith("work_queue.")]
    if queues:
        kinds += ["queue field", "queue priority", "same value"]
    if any(name != "default" for _, name in queues):
        kinds.append("delete queue")
    kind = data.draw(st.sampled_from(kinds), label="change")
    if kind == "create pool":
        name = data.draw(st.sampled_from([p for p in POOLS + ["t-new"] if p not in pools]), label="pool")
        client.create_pool({"name": name, "type": "process"})
        return f"created {name}"
    if kind == "delete pool":
        name = data.draw(st.sampled_from(pools), label="pool")
        client.delete_pool(name)
        return f"deleted {name}"
    if kind == "pool field":
        name = data.draw(st.sampled_from(pools), label="pool")
        field = data.draw(st.sampled_from(sorted(_fields)), label="field")
        value = data.draw(_fields[field], label="value")
        client.update_pool(name, {"is_paused" if field == "paused" else field: value})
        return f"{name}.{field} = {value!r}"
    if kind == "create queue":
        name = data.draw(st.sampled_from(pools), label="pool")
        queue = data.draw(st.sampled_from([q for q in QUEUES[1:] + ["late"]
                                           if queue_address(name, q) not in snapshot]), label="queue")
        body: dict[str, Any] = {"name": queue}
        if data.draw(st.booleans(), label="with priority"):
            body["priority"] = data.draw(st.integers(1, 6), label="priority")
        client.create_queue(name, body)
        return f"created {name}.{queue}"
    if kind == "delete queue":
        pool, queue = data.draw(st.sampled_from([q for q in queues if q[1] != "default"]), label="queue")
        client.delete_queue(pool, queue)
        return f"deleted {pool}.{queue}"
    if kind == "nothing":
        return "nothing"
    pool, queue = data.draw(st.sampled_from(queues), label="queue")
    if kind == "same value":
        client.update_queue(pool, queue, {"description": snapshot[queue_address(pool, queue)]["description"]})
        return f"{pool}.{queue} set to what it was"
    if kind == "queue priority":
        priority = data.draw(st.integers(1, 6), label="priority")
        client.update_queue(pool, queue, {"priority": priority})
        return f"{pool}.{queue}.priority = {priority}"
    field = data.draw(st.sampled_from(sorted(_fields)), label="field")
    value = data.draw(_fields[field], label="value")
    client.update_queue(pool, queue, {"is_paused" if field == "paused" else field: "" if value is None and field == "description" else value})
    return f"{pool}.{queue}.{field} = {value!r}"


def _expected(plan: dict[str, Any], before: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """What the plan shows the server will hold, per address it decides (None = absent); the
    other addresses stay as ``before``, except queues of pools that are deleted or replaced."""
    shown: dict[str, dict[str, Any] | None] = {}
    gone_pools = {c["pool"] for c in plan["resource_changes"]
                  if c["type"] == "work_pool" and "delete" in c["change"]["actions"]}
    for address, form in before.items():
        if form.get("pool", form.get("name")) in gone_pools and address.startswith("work_queue."):
            shown[address] = None
    for change in plan["resource_changes"]:
        after = change["change"]["after"]
        shown[change["address"]] = None if after is None else dict(after)
    for effect in plan["side_effects"]:
        shown.setdefault(effect["address"], dict(before.get(effect["address"]) or {}))
        shown[effect["address"]] = {**(shown[effect["address"]] or {}), "priority": effect["after"]}
    addresses = {c["address"] for c in plan["resource_changes"]}
    for change in plan["resource_changes"]:
        default = queue_address(change["pool"], "default")
        if change["type"] == "work_pool" and change["change"]["actions"] in (["create"], ["delete", "create"]) \
                and default not in addresses:
            shown[default] = {key: value for key, value in (shown.get(default) or {}).items() if key == "priority"}
    return shown


def _differences(result: dict[str, dict[str, Any]], before: dict[str, dict[str, Any]],
                 shown: dict[str, dict[str, Any] | None]) -> list[str]:
    problems = []
    for address in sorted(set(result) | set(before) | set(shown)):
        have = result.get(address)
        if address in shown:
            want = shown[address]
            if want is None:
                if have is not None:
                    problems.append(f"{address} should be gone")
            elif have is None:
                problems.append(f"{address} should exist")
            else:
                off = [k for k, v in want.items() if k != "queues" and have.get(k) != v]
                if off:
                    problems.append(f"{address}: {off} are {[have.get(k) for k in off]}, the plan showed {[want[k] for k in off]}")
        else:
            was = before.get(address)
            if have is None or was is None:
                if have != was:
                    problems.append(f"{address} {'appeared' if was is None else 'vanished'} though the plan did not show it")
                continue
            off = [k for k in was if k != "queues" and have.get(k) != was[k]]
            if off:
                problems.append(f"{address}: {off} changed though the plan did not show it")
    return problems


def _actually_changed(first: dict[str, dict[str, Any]], second: dict[str, dict[str, Any]],
                      covered: set[str]) -> set[str]:
    """Addresses whose object changed, plus the pools in ``covered`` whose queue set changed."""
    def fields(form):
        return None if form is None else {k: v for k, v in form.items() if k != "queues"}

    changed = {a for a in set(first) | set(second) if fields(first.get(a)) != fields(second.get(a))}
    for name in covered:
        was, now = first.get(pool_address(name)), second.get(pool_address(name))
        if was is not None and now is not None and was["queues"] != now["queues"]:
            changed.add(pool_address(name))
    return changed


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(live=live_states(), config=configs(), data=st.data())
def test_a_saved_plan_is_refused_naming_what_changed_or_ends_as_it_showed(tmp_path_factory, live, config, data):
    client = _client()
    try:
        _seed(client, live)
        path = tmp_path_factory.mktemp("cfg") / "pools.yaml"
        path.write_text(json.dumps(config), encoding="utf-8")
        desired, diags = load([str(path)])
        assert desired is not None, [d.format() for d in diags.errors]
        made = make_plan(desired, observe(client, desired, all_pools=True), api_url=client.api_url)
        if made.errored:
            return
        plan = json.loads(dumps_plan(made))
        planned = _snapshot(client)
        what = _change(client, data, planned)
        before_apply = _snapshot(client)
        covered = set(queue_set_pools(made.resource_changes))
        changed = _actually_changed(planned, before_apply, covered)
        must_refuse = bool(changed & set(plan["observed"]))
        try:
            apply_plan(client, plan)
        except StalePlanError as exc:
            assert exc.changed and set(exc.changed) <= changed, (what, exc.changed, sorted(changed))
            assert must_refuse, (what, str(exc))
            assert _snapshot(client) == before_apply, "a refused apply sends nothing"
            return
        assert not must_refuse, f"{what} changed {sorted(changed & set(plan['observed']))}, which the plan read"
        problems = _differences(_snapshot(client), before_apply, _expected(plan, before_apply))
        assert not problems, (what, problems)
    finally:
        client.close()
