"""The plan speaks about runs: due runs held back by a pause, a lowered limit or a delete, counted on the server
(the reference server in process and over a socket; a real Prefect 3.9.1 with POOLFORM_TEST_API_URL, ``compat``)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

from .conftest import assert_ok, squash

BEFORE = """
version: 1
manage: {prune: true}
work_pools:
  {p}runs:
    type: process
    concurrency_limit: 10
    queues:
      a: {priority: 1}
      b: {priority: 2, concurrency_limit: 5}
      c: {priority: 3}
      calm: {priority: 4}
"""

AFTER = """
version: 1
manage: {prune: true}
work_pools:
  {p}runs:
    type: process
    concurrency_limit: 3
    queues:
      a: {priority: 1, paused: true}
      b: {priority: 2, concurrency_limit: 1}
      calm: {priority: 4, paused: true}
"""


def _seed_runs(env, pool: str) -> None:
    """Due SCHEDULED runs: a 2, b 3, c 1; runs that must not count: one in a an hour ahead, one in b cancelled."""
    c = env.client()
    flow = c.request("POST", "/flows/", json={"name": f"{env.prefix}flow-{uuid.uuid4().hex[:6]}"})
    now = datetime.now(timezone.utc)

    def run(queue: str, minutes: float, state: str = "SCHEDULED") -> None:
        when = (now + timedelta(minutes=minutes)).isoformat()
        c.request("POST", "/flow_runs/", json={
            "flow_id": flow["id"], "work_pool_name": pool, "work_queue_name": queue,
            "state": {"type": state, "state_details": {"scheduled_time": when} if state == "SCHEDULED" else {}}})

    for queue, count in (("a", 2), ("b", 3), ("c", 1)):
        for i in range(count):
            run(queue, -5 - i)
    run("a", 60)
    run("b", -5, state="CANCELLED")


def test_the_plan_counts_the_due_runs_its_changes_hold_back(env):
    pool = env.name("runs")
    assert_ok(env.cli("apply", "--auto-approve", "-f", env.write("before.yaml", BEFORE)))
    _seed_runs(env, pool)
    after = env.write("after.yaml", AFTER)

    document = json.loads(assert_ok(env.cli("plan", "--json", "-f", after)))
    notes = {(n["address"], n["effect"]): (n["due_runs"], n["start_late_on_resume"]) for n in document["runs"]}
    assert notes == {
        (f"work_pool.{pool}", "limit_lowered"): (6, False),
        (f"work_queue.{pool}.a", "pause"): (2, True),
        (f"work_queue.{pool}.b", "limit_lowered"): (3, False),
        (f"work_queue.{pool}.c", "delete"): (1, False),
    }  # calm is paused too, but has no due run: no note
    assert document["format_version"] == "1.3"

    human = squash(assert_ok(env.cli("plan", "-f", after)))
    assert (f"# work_queue.{pool}.a: 2 due runs will wait while the queue is paused; they will start late "
            "when the queue is resumed (Prefect #19313)") in human
    assert f"# work_pool.{pool}: 6 due runs; the concurrency limit goes from 10 to 3" in human
    assert f"# work_queue.{pool}.c: 1 due run; deleting the queue leaves it without a queue" in human
    markdown = assert_ok(env.cli("plan", "--format", "markdown", "-f", after))
    assert f"- `work_queue.{pool}.b`: 3 due runs; the concurrency limit goes from 5 to 1" in markdown

    saved = str(env.tmp / "plan.json")
    assert_ok(env.cli("plan", "--out", saved, "-f", after))
    shown = squash(assert_ok(env.cli("show", saved)))
    assert f"# work_queue.{pool}.a: 2 due runs will wait" in shown
    assert_ok(env.cli("apply", "--auto-approve", saved))
    assert json.loads(assert_ok(env.cli("plan", "--json", "-f", after)))["runs"] == []
