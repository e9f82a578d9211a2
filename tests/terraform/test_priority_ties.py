"""Why two declared queues of one pool may not share a priority, shown on the servers.

The facts behind the rule (``reconciler.model.rules``, docs/config.md "Equal priorities"):
only the legacy id routes can make a tie (``PATCH /work_queues/{id}`` sets the exact value;
``DELETE /work_queues/{id}`` walks nothing); every pool-scoped priority write and every
pool-scoped delete in the pool runs Prefect's walk, which renumbers tied queues, so a tie does
not survive the pool's ordinary use (the UI, the prefect CLI, the official provider, poolform).
While it lasts, tied queues form one tier whose runs are handed out by scheduled time. Checked
on the reference server here and on a real Prefect 3.9.1 under ``make compat``.
"""

from __future__ import annotations

import datetime

import pytest


def _priorities(api, pool: str) -> dict[str, int]:
    return {name: q["priority"] for name, q in api.queues(pool).items()}


def check_tie_facts(api, pool: str) -> None:
    api.post("/work_pools/", {"name": pool, "type": "process"})
    ids = {n: api.post(f"/work_pools/{pool}/queues", {"name": n})["id"] for n in "abc"}
    assert _priorities(api, pool) == {"default": 1, "a": 2, "b": 3, "c": 4}

    def tie() -> None:
        api.patch(f"/work_queues/{ids['b']}", {"priority": 2})
        assert _priorities(api, pool)["b"] == 2 == _priorities(api, pool)["a"], "the legacy route makes a tie"

    tie()
    api.patch(f"/work_pools/{pool}/queues/c", {"description": "no priority in the body"})
    assert _priorities(api, pool)["b"] == 2, "a write without priority walks nothing"
    api.post(f"/work_pools/{pool}/queues", {"name": "d"})
    assert _priorities(api, pool)["b"] == 2, "a queue created without priority walks nothing"
    api.delete(f"/work_queues/{ids['c']}")
    assert _priorities(api, pool)["b"] == 2, "the legacy delete walks nothing"

    api.patch(f"/work_pools/{pool}/queues/d", {"priority": 5})
    assert _priorities(api, pool) == {"default": 1, "a": 2, "b": 3, "d": 5}, "a pool-scoped priority PATCH renumbers"
    tie()
    api.post(f"/work_pools/{pool}/queues", {"name": "e", "priority": 9})
    assert _priorities(api, pool)["b"] == 3, "a queue created with a priority renumbers"
    tie()
    api.delete(f"/work_pools/{pool}/queues/e")
    assert _priorities(api, pool)["b"] == 3, "a pool-scoped delete renumbers"

    # the walk makes no tie from distinct priorities, but it can move one: a queue set above every
    # other keeps its value while the walk bumps a tied queue onto it
    tie()
    api.patch(f"/work_pools/{pool}/queues/d", {"priority": 3})
    assert _priorities(api, pool) == {"default": 1, "a": 2, "b": 3, "d": 3}
    api.patch(f"/work_pools/{pool}/queues/d", {"priority": 5})

    # while a tie lasts, the tied queues are one tier: their runs go out by scheduled time
    tie()
    flow = api.post("/flows/", {"name": f"flow-{pool}"})["id"]
    now = datetime.datetime.now(datetime.timezone.utc)
    for queue, minutes in (("a", 3), ("b", 2), ("a", 1), ("b", 4), ("default", 5), ("d", 9)):
        api.post("/flow_runs/", {"flow_id": flow, "name": f"{queue}-{minutes}", "work_pool_name": pool,
                                 "work_queue_name": queue,
                                 "state": {"type": "SCHEDULED", "state_details": {
                                     "scheduled_time": (now - datetime.timedelta(minutes=minutes)).isoformat()}}})
    handed = [r["flow_run"]["name"] for r in api.post(f"/work_pools/{pool}/get_scheduled_flow_runs", {})]
    assert handed == ["default-5", "b-4", "a-3", "b-2", "a-1", "d-9"]


def test_ties_on_the_reference_server(api, names):
    check_tie_facts(api, names())


@pytest.mark.compat
def test_ties_on_real_prefect(api_for, real_server, names):
    check_tie_facts(api_for(real_server.api_url), names())
