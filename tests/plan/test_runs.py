"""The plan's ``runs`` notes: which changes hold back due runs, the notes made of the counts, and the checks
of a document's notes (reconciler.plan.runs, through make_plan and the plan-file reader)."""

from __future__ import annotations

import json

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plan_test_helpers import desired, dp, dq, observed, op, oq, scenarios
from reconciler.errors import InvalidPlanError
from reconciler.plan.planfile import dumps_plan, loads_plan
from reconciler.plan.planner import make_plan
from reconciler.plan.runs import affected, note_problems, run_notes
from reconciler.plan.schema import plan_json_schema

P, Q = "work_pool.p", "work_queue.p.q"


def _pool(**fields):
    return op("p", queues=[oq("default", 1), oq("q", 2, **fields.pop("queue", {}))], **fields)


@pytest.mark.parametrize(
    ("config", "live", "counts", "notes"),
    [
        pytest.param(dp("p", paused=True), _pool(), {P: 3},
                     [(P, "pause", 3, True)], id="pool-paused"),
        pytest.param(dp("p", queues=[dq("p", "q", paused=True)]), _pool(), {Q: 2},
                     [(Q, "pause", 2, True)], id="queue-paused"),
        pytest.param(dp("p", paused=True), _pool(is_paused=True), {P: 3}, [], id="already-paused"),
        pytest.param(dp("p", paused=False), _pool(is_paused=True), {P: 3}, [], id="resumed"),
        pytest.param(dp("p", concurrency_limit=2), _pool(concurrency_limit=5), {P: 4},
                     [(P, "limit_lowered", 4, False)], id="pool-limit-lowered"),
        pytest.param(dp("p", concurrency_limit=2), _pool(), {P: 4},
                     [(P, "limit_lowered", 4, False)], id="pool-limit-set-from-none"),
        pytest.param(dp("p", concurrency_limit=0), _pool(concurrency_limit=1), {P: 1},
                     [(P, "limit_lowered", 1, False)], id="pool-limit-to-zero"),
        pytest.param(dp("p", concurrency_limit=9), _pool(concurrency_limit=5), {P: 4}, [], id="pool-limit-raised"),
        pytest.param(dp("p", concurrency_limit=None), _pool(concurrency_limit=5), {P: 4}, [], id="pool-limit-removed"),
        pytest.param(dp("p", queues=[dq("p", "q", concurrency_limit=1)]), _pool(queue={"concurrency_limit": 2}), {Q: 6},
                     [(Q, "limit_lowered", 6, False)], id="queue-limit-lowered"),
        pytest.param(dp("p", paused=True, concurrency_limit=1), _pool(), {P: 2},
                     [(P, "pause", 2, True), (P, "limit_lowered", 2, False)], id="pause-and-limit"),
        pytest.param(dp("p"), _pool(), {Q: 5}, [], id="queue-kept-without-prune"),
        pytest.param(dp("p", paused=True), _pool(), {}, [], id="not-counted"),
        pytest.param(dp("p", paused=True), _pool(), {P: 0}, [], id="no-due-runs"),
        pytest.param(dp("p", description="x"), _pool(), {P: 5}, [], id="other-field"),
        pytest.param(dp("p", type="docker"), _pool(), {P: 5, Q: 5},
                     [(P, "delete", 5, False)], id="pool-replaced-its-queue-not-noted"),
    ],
)
def test_notes(config, live, counts, notes) -> None:
    state = observed(live)
    state.due_runs = counts
    plan = make_plan(desired(config), state)
    assert [(n["address"], n["effect"], n["due_runs"], n["start_late_on_resume"]) for n in plan.runs] == notes
    jsonschema.validate(plan.to_json(), plan_json_schema())
    assert loads_plan(dumps_plan(plan)).runs == plan.runs


def test_pruned_queue_and_pool_deletes_are_noted() -> None:
    state = observed(_pool(), op("team-x", queues=[oq("default", 1), oq("w", 2)]))
    state.due_runs = {Q: 2, "work_pool.team-x": 7, "work_queue.team-x.w": 7}
    plan = make_plan(desired(dp("p"), prune=True, scope=["team-*"]), state)
    assert [(n["address"], n["effect"], n["due_runs"]) for n in plan.runs] == [
        (Q, "delete", 2), ("work_pool.team-x", "delete", 7)]


def test_destroy_notes_the_pool_only() -> None:
    state = observed(_pool())
    state.due_runs = {P: 3, Q: 3}
    plan = make_plan(desired(dp("p", queues=[dq("p", "q")])), state, destroy=True)
    assert [(n["address"], n["effect"]) for n in plan.runs] == [(P, "delete")]


def test_what_to_count_names_pool_and_queue() -> None:
    plan = make_plan(desired(dp("p", paused=True, queues=[dq("p", "q", concurrency_limit=1)])), observed(_pool()))
    assert [(a.address, a.pool, a.queue, a.effect.value) for a in affected(plan.resource_changes)] == [
        (P, "p", None, "pause"), (Q, "p", "q", "limit_lowered")]


def _plan_json() -> dict:
    state = observed(_pool())
    state.due_runs = {P: 3}
    return make_plan(desired(dp("p", paused=True)), state).to_json()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(lambda d: d["runs"][0].update(due_runs=0), "'due_runs' must be an integer >= 1", id="zero"),
        pytest.param(lambda d: d["runs"][0].update(due_runs="3"), "'due_runs' must be an integer >= 1", id="string"),
        pytest.param(lambda d: d["runs"][0].update(due_runs=True), "'due_runs' must be an integer >= 1", id="bool"),
        pytest.param(lambda d: d["runs"][0].update(effect="delete"), "holds back due runs as its 'effect' says", id="wrong-effect"),
        pytest.param(lambda d: d["runs"][0].update(address="work_pool.other"), "holds back due runs", id="other-address"),
        pytest.param(lambda d: d["runs"][0].update(address=["x"]), "'address' and 'effect' must be strings", id="list-address"),
        pytest.param(lambda d: d["runs"][0].update(start_late_on_resume=False), "true exactly for a pause", id="late-flag"),
        pytest.param(lambda d: d["runs"].append(dict(d["runs"][0])), "noted twice", id="twice"),
        pytest.param(lambda d: d["runs"][0].update(extra=1), "must be an object with exactly", id="extra-key"),
        pytest.param(lambda d: d["runs"].append("x"), "must be an object with exactly", id="not-object"),
        pytest.param(lambda d: d.update(runs={}), "'runs' must be a list", id="not-list"),
    ],
)
def test_an_edited_note_is_refused(edit, message) -> None:
    data = _plan_json()
    edit(data)
    with pytest.raises(InvalidPlanError, match=message.replace("(", r"\(").replace(")", r"\)")):
        loads_plan(json.dumps(data))


def test_a_note_may_be_dropped_and_a_1_1_document_is_read() -> None:
    data = _plan_json()
    assert data["format_version"] == "1.3" and data["runs"]
    data["runs"] = []
    assert loads_plan(json.dumps(data)).runs == []
    del data["runs"], data["environment"]  # 1.1 has neither (1.2 added runs, 1.3 environment)
    data["format_version"] = "1.1"
    assert loads_plan(json.dumps(data)).runs == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.booleans(), st.data())
def test_any_plan_with_any_counts_makes_notes_its_reader_accepts(scenario, destroy, data) -> None:
    config, state = scenario
    plan = make_plan(config, state, destroy=destroy)
    held = affected(plan.resource_changes)
    state.due_runs = {a.address: data.draw(st.integers(0, 5)) for a in held}
    plan = make_plan(config, state, destroy=destroy)
    assert plan.runs == run_notes(plan.resource_changes, state.due_runs)
    assert note_problems(plan.resource_changes, plan.runs) == []
    assert {n["address"] for n in plan.runs} == {a for a, n in state.due_runs.items() if n > 0}
    if not plan.errored:
        assert loads_plan(dumps_plan(plan)).runs == plan.runs
