"""Running steps (``run_steps``) against a misbehaving server: a fake client stands in for the HTTP one.

The checks that come before (``apply_plan`` reading and verifying the document) are in
tests/plan/test_verify.py and tests/e2e/test_plan_integrity.py."""

from __future__ import annotations

import threading

import pytest

from reconciler.apply.executor import CONVERGE_ROUNDS, apply_plan, group_steps, run_steps
from reconciler.apply.hooks import JsonLinesHooks
from reconciler.errors import ApplyError, InvalidPlanError, NotFound, ServerError
from reconciler.plan.document import Plan
from reconciler.plan.steps import Op, Step


class FakeClient:
    """Records calls; queues of pool "p" keep the priorities in ``stuck`` whatever is PATCHed."""

    api_url = "http://fake/api"

    def __init__(self, queues=None, stuck=None, fail_on=None):
        self.queues = queues or {}
        self.stuck = stuck or {}
        self.fail_on = fail_on or set()
        self.calls = []
        self.count_calls = 0
        self._lock = threading.Lock()

    def _call(self, *what):
        with self._lock:
            self.calls.append(what)
            self.count_calls += 1
        if what[:2] in self.fail_on or what in self.fail_on:
            raise ServerError(f"{what[0]} failed: injected")

    def map(self, fn, items):
        return [fn(x) for x in items]

    def create_pool(self, body):
        self._call("create_pool", body["name"])
        return {"name": body["name"]}

    def update_pool(self, name, body):
        self._call("update_pool", name)

    def delete_pool(self, name):
        self._call("delete_pool", name)
        raise NotFound("gone already")

    def create_queue(self, pool, body):
        self._call("create_queue", pool, body["name"])
        return {"name": body["name"], "priority": body.get("priority", 99)}

    def update_queue(self, pool, name, body):
        self._call("update_queue", pool, name)
        if "priority" in body and name not in self.stuck:
            self.queues[name] = body["priority"]

    def delete_queue(self, pool, name):
        self._call("delete_queue", pool, name)

    def read_queues(self, pool):
        self._call("read_queues", pool)
        return [{"name": n, "priority": self.stuck.get(n, p)} for n, p in self.queues.items()]


def plan(*steps, summary=None):
    return Plan(poolform_version="test", steps=list(steps), summary=summary or {})


def cp(pool):
    return Step(Op.CREATE_POOL, pool, body={"name": pool})


def cq(pool, queue, priority=None):
    return Step(Op.CREATE_QUEUE, pool, queue, body={"name": queue, **({"priority": priority} if priority else {})})


def converge(pool, priorities):
    return Step(Op.CONVERGE_PRIORITIES, pool, priorities=priorities)


def test_priorities_that_never_hold_fail_after_bounded_rounds():
    client = FakeClient(queues={"a": 3, "b": 4}, stuck={"a": 3})
    with pytest.raises(ApplyError) as info:
        run_steps(client, plan(converge("p", {"a": 1, "b": 2})))
    assert "did not converge" in str(info.value) and "a is 3 (wanted 1)" in str(info.value)
    assert "b is" not in str(info.value)
    assert [c[0] for c in client.calls].count("read_queues") == CONVERGE_ROUNDS + 1


def test_converge_reapplies_in_ascending_order_until_they_hold():
    client = FakeClient(queues={"a": 5, "b": 6, "default": 1})
    step = converge("p", {"b": 2, "a": 3})
    result = run_steps(client, plan(step))
    assert [c for c in client.calls if c[0] == "update_queue"] == [("update_queue", "p", "b"), ("update_queue", "p", "a")]
    assert client.queues == {"a": 3, "b": 2, "default": 1}
    assert result.applied == [step]


def test_converge_needs_no_read_for_a_new_pool_created_without_bumps():
    client = FakeClient()
    steps = [cp("p"), cq("p", "a", 2), cq("p", "b", 5), converge("p", {"a": 2, "b": 5})]
    run_steps(client, plan(*steps))
    assert "read_queues" not in [c[0] for c in client.calls]


def test_a_create_that_may_bump_is_verified():
    client = FakeClient(queues={"default": 2, "a": 1})
    steps = [cp("p"), cq("p", "a", 1), converge("p", {"a": 1})]
    run_steps(client, plan(*steps))
    assert ("read_queues", "p") in client.calls


def test_a_failure_stops_that_pool_only_and_reports_what_was_applied():
    client = FakeClient(fail_on={("create_queue", "p1", "b")})
    steps = [cp("p1"), cq("p1", "a"), cq("p1", "b"), cq("p1", "c"), cp("p2"), cq("p2", "a"), Step(Op.DELETE_POOL, "p3")]
    with pytest.raises(ApplyError) as info:
        run_steps(client, plan(*steps))
    err = info.value
    assert err.failed == steps[2]
    assert err.skipped == [steps[3]]
    assert [s.op + ":" + s.pool for s in err.applied] == [
        "create_pool:p1", "create_queue:p1", "create_pool:p2", "create_queue:p2", "delete_pool:p3"]
    assert "work_queue.p1.b" in str(err) and "injected" in str(err)


def test_delete_of_something_already_gone_is_success():
    client = FakeClient()
    result = run_steps(client, plan(Step(Op.DELETE_POOL, "x"), summary={"destroy": 1}))
    assert result.destroyed == 1


def test_an_unknown_op_is_refused_before_any_call():
    client = FakeClient()
    document = plan(cp("p")).to_json()
    document["steps"][0]["op"] = "explode"
    with pytest.raises(InvalidPlanError, match="steps\\[0\\].op 'explode' is unknown"):
        apply_plan(client, document, check_stale=False)
    assert client.calls == []


def test_group_steps_keeps_pool_order():
    steps = [Step(Op.DELETE_QUEUE, p, f"q{i}") for i, p in enumerate("abab")]
    assert [[s.queue for s in r.steps] for r in group_steps(steps)] == [["q0", "q2"], ["q1", "q3"]]


def test_json_hooks_emit_typed_lines(capsys):
    import io
    import json

    out = io.StringIO()
    hooks = JsonLinesHooks(out)
    run_steps(FakeClient(), plan(cq("p", "q")), hooks=hooks)
    hooks.change_summary(1, 0, 0)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [m["type"] for m in lines] == ["apply_start", "apply_complete", "change_summary"]
    assert lines[0]["hook"]["resource"]["addr"] == "work_queue.p.q" and lines[0]["hook"]["action"] == "create"
    assert lines[2]["@message"] == "Apply complete! Resources: 1 added, 0 changed, 0 destroyed."


def test_interrupt_stops_starting_new_steps():
    class Interrupting(FakeClient):
        pending = None

        def map(self, fn, items):
            items = list(items)
            fn(items[0])
            self.pending = (fn, items[1:])
            raise KeyboardInterrupt

    client = Interrupting()
    with pytest.raises(KeyboardInterrupt):
        run_steps(client, plan(cp("a"), cp("b")))
    fn, rest = client.pending
    for run in rest:
        fn(run)
    assert client.calls == [("create_pool", "a")]
