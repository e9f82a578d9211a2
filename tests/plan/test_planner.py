"""make_plan: (desired, observed) -> actions, changed paths, steps; table-driven, plus plan→apply→plan."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plan_test_helpers import TEMPLATE, apply_steps, desired, dp, dq, observed, op, oq, reordered, scenarios
from reconciler.model.state import UNMANAGED, ObservedDeployment, ObservedState
from reconciler.plan.normalize import DEFAULT_QUEUE_DESCRIPTION, fingerprint_pool
from reconciler.plan.planner import make_plan, pools_with_variable_changes
from reconciler.plan.planfile import dumps_plan, read_plan
from reconciler.plan.steps import Op
from reconciler.plan.verify import Findings, server_findings


def _template(**changes: Any) -> dict[str, Any]:
    template = copy.deepcopy(TEMPLATE)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = template
        for part in parents:
            node = node[part]
        node[leaf] = value
    return template


@dataclass
class Case:
    desired: Any
    observed: Any
    actions: dict[str, list[str]]
    steps: list[tuple[Any, ...]] | None = None
    paths: dict[str, list[list[Any]]] = field(default_factory=dict)
    unmanaged: list[str] = field(default_factory=list)
    side_effects: list[tuple[str, int, int]] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)


CASES = {
    "create-from-empty": Case(
        desired(dp("p", queues=[dq("p", "q", priority=2, concurrency_limit=3)], description="d")),
        observed(),
        {"work_pool.p": ["create"], "work_queue.p.q": ["create"]},
        steps=[("create_pool", "work_pool.p", {"name": "p", "type": "process", "description": "d"}),
               ("create_queue", "work_queue.p.q", {"name": "q", "concurrency_limit": 3, "priority": 2}),
               ("converge_priorities", "work_pool.p", None)],
    ),
    "no-op": Case(
        desired(dp("p", queues=[dq("p", "q", priority=2)], description="d")),
        observed(op("p", description="d", queues=[oq("default", 1), oq("q", 2)])),
        {"work_pool.p": ["no-op"], "work_queue.p.q": ["no-op"]},
        steps=[],
    ),
    "update-description": Case(
        desired(dp("p", description="new")), observed(op("p", description="old")),
        {"work_pool.p": ["update"]}, paths={"work_pool.p": [["description"]]},
        steps=[("update_pool", "work_pool.p", {"description": "new"})],
    ),
    "update-paused": Case(
        desired(dp("p", paused=True)), observed(op("p")),
        {"work_pool.p": ["update"]}, steps=[("update_pool", "work_pool.p", {"is_paused": True})],
    ),
    "update-limit": Case(
        desired(dp("p", concurrency_limit=5)), observed(op("p", concurrency_limit=2)),
        {"work_pool.p": ["update"]}, steps=[("update_pool", "work_pool.p", {"concurrency_limit": 5})],
    ),
    "clear-description-sends-null": Case(
        desired(dp("p")), observed(op("p", description="old")),
        {"work_pool.p": ["update"]}, steps=[("update_pool", "work_pool.p", {"description": None})],
    ),
    "clear-limit-sends-null": Case(
        desired(dp("p")), observed(op("p", concurrency_limit=4)),
        {"work_pool.p": ["update"]}, steps=[("update_pool", "work_pool.p", {"concurrency_limit": None})],
    ),
    "unmanaged-field-never-written": Case(
        desired(dp("p", description=UNMANAGED, concurrency_limit=UNMANAGED)),
        observed(op("p", description="theirs", concurrency_limit=9)),
        {"work_pool.p": ["no-op"]}, steps=[],
    ),
    "queue-field-updates": Case(
        desired(dp("p", queues=[dq("p", "q", description="x", paused=True, concurrency_limit=1)])),
        observed(op("p", queues=[oq("default", 1), oq("q", 2, concurrency_limit=5)])),
        {"work_pool.p": ["no-op"], "work_queue.p.q": ["update"]},
        paths={"work_queue.p.q": [["description"], ["paused"], ["concurrency_limit"]]},
        steps=[("update_queue", "work_queue.p.q", {"description": "x", "is_paused": True, "concurrency_limit": 1})],
    ),
    "template-key-order-is-no-diff": Case(
        desired(dp("p", base_job_template=reordered(TEMPLATE))), observed(op("p", base_job_template=TEMPLATE)),
        {"work_pool.p": ["no-op"]}, steps=[],
    ),
    "template-1-equals-1.0": Case(
        desired(dp("p", base_job_template=_template(job_configuration__n=1))),
        observed(op("p", base_job_template=_template(job_configuration__n=1.0))),
        {"work_pool.p": ["no-op"]}, steps=[],
    ),
    "template-true-differs-from-1": Case(
        desired(dp("p", base_job_template=_template(job_configuration__n=True))),
        observed(op("p", base_job_template=_template(job_configuration__n=1))),
        {"work_pool.p": ["update"]}, paths={"work_pool.p": [["base_job_template", "job_configuration", "n"]]},
    ),
    "template-change-paths": Case(
        desired(dp("p", base_job_template=_template(variables__properties__image__default="prefect:4"))),
        observed(op("p", base_job_template=TEMPLATE)),
        {"work_pool.p": ["update"]},
        paths={"work_pool.p": [["base_job_template", "variables", "properties", "image", "default"]]},
    ),
    "template-unmanaged-when-absent": Case(
        desired(dp("p")), observed(op("p", base_job_template=TEMPLATE)), {"work_pool.p": ["no-op"]}, steps=[],
    ),
    "type-change-replaces": Case(
        desired(dp("p", type="kubernetes", queues=[dq("p", "q")])),
        observed(op("p", type="process", queues=[oq("default", 1), oq("q", 2), oq("extra", 3)])),
        {"work_pool.p": ["delete", "create"], "work_queue.p.q": ["delete", "create"], "work_queue.p.extra": ["delete"]},
        steps=[("delete_pool", "work_pool.p", None), ("create_pool", "work_pool.p", {"name": "p", "type": "kubernetes"}),
               ("create_queue", "work_queue.p.q", {"name": "q"})],
    ),
    "default-queue-declared-existing-pool": Case(
        desired(dp("p", queues=[dq("p", "default", description="mine", priority=1)])),
        observed(op("p")),
        {"work_pool.p": ["no-op"], "work_queue.p.default": ["update"]},
        steps=[("update_queue", "work_queue.p.default", {"description": "mine"})],
    ),
    "default-queue-declared-pool-being-created": Case(
        desired(dp("p", queues=[dq("p", "default", description=DEFAULT_QUEUE_DESCRIPTION, concurrency_limit=2)])),
        observed(),
        {"work_pool.p": ["create"], "work_queue.p.default": ["update"]},
        steps=[("create_pool", "work_pool.p", {"name": "p", "type": "process"}),
               ("update_queue", "work_queue.p.default", {"concurrency_limit": 2})],
    ),
    "default-never-deleted-even-with-prune": Case(
        desired(dp("p"), prune=True),
        observed(op("p", queues=[oq("default", 1), oq("extra", 2)])),
        {"work_pool.p": ["no-op"], "work_queue.p.extra": ["delete"]},
        steps=[("delete_queue", "work_queue.p.extra", None)],
    ),
    "prune-off-lists-unmanaged": Case(
        desired(dp("p")),
        observed(op("p", queues=[oq("default", 1), oq("extra", 2)]), op("other")),
        {"work_pool.p": ["no-op"]}, steps=[], unmanaged=["work_queue.p.extra", "work_pool.other"],
    ),
    "scope-globs-with-prune": Case(
        desired(dp("team-a-x"), prune=True, scope=["team-a-*"]),
        observed(op("team-a-x"), op("team-a-old", queues=[oq("default", 1), oq("q", 2)]), op("team-b-y")),
        {"work_pool.team-a-x": ["no-op"], "work_pool.team-a-old": ["delete"], "work_queue.team-a-old.q": ["delete"]},
        steps=[("delete_pool", "work_pool.team-a-old", None)], unmanaged=["work_pool.team-b-y"],
    ),
    "scope-without-prune-is-unmanaged": Case(
        desired(dp("team-a-x"), scope=["team-a-*"]),
        observed(op("team-a-old")),
        {"work_pool.team-a-x": ["create"]}, unmanaged=["work_pool.team-a-old"],
    ),
    "priorities-with-unmanaged-default-between": Case(
        desired(dp("p", queues=[dq("p", "x", priority=2), dq("p", "y", priority=1)])),
        observed(op("p", queues=[oq("default", 1), oq("x", 2), oq("y", 3)])),
        {"work_pool.p": ["no-op"], "work_queue.p.x": ["no-op"], "work_queue.p.y": ["update"]},
        steps=[("update_queue", "work_queue.p.y", {"priority": 1}), ("update_queue", "work_queue.p.x", {"priority": 2}),
               ("converge_priorities", "work_pool.p", None)],
        side_effects=[("work_queue.p.default", 1, 3)],
    ),
    "swap-two-priorities": Case(
        desired(dp("p", queues=[dq("p", "a", priority=3), dq("p", "b", priority=2)])),
        observed(op("p", queues=[oq("default", 1), oq("a", 2), oq("b", 3)])),
        {"work_pool.p": ["no-op"], "work_queue.p.a": ["update"], "work_queue.p.b": ["update"]},
        steps=[("update_queue", "work_queue.p.b", {"priority": 2}), ("converge_priorities", "work_pool.p", None)],
    ),
    "create-with-priority-bumps-default": Case(
        desired(dp("p", queues=[dq("p", "critical", priority=1)])),
        observed(),
        {"work_pool.p": ["create"], "work_queue.p.critical": ["create"]},
        side_effects=[("work_queue.p.default", 1, 2)],
    ),
    "targets-restrict-to-one-pool": Case(
        desired(dp("a", description="x"), dp("b", description="y")),
        observed(op("a"), op("b")),
        {"work_pool.a": ["update"]}, steps=[("update_pool", "work_pool.a", {"description": "x"})],
        kwargs={"targets": ["work_pool.a"]},
    ),
    "target-queue-includes-pool-create": Case(
        desired(dp("a", queues=[dq("a", "q"), dq("a", "r")]), dp("b")),
        observed(),
        {"work_pool.a": ["create"], "work_queue.a.q": ["create"]},
        steps=[("create_pool", "work_pool.a", None), ("create_queue", "work_queue.a.q", None)],
        kwargs={"targets": ["work_queue.a.q"]},
    ),
    "destroy-mode-deletes-only-declared-pools": Case(
        desired(dp("a", queues=[dq("a", "q")]), dp("missing"), scope=["team-*"]),
        observed(op("a", queues=[oq("default", 1), oq("q", 2), oq("stray", 3)]), op("team-x"), op("other")),
        {"work_pool.a": ["delete"], "work_queue.a.q": ["delete"], "work_queue.a.stray": ["delete"]},
        steps=[("delete_pool", "work_pool.a", None)],
        unmanaged=["work_pool.team-x", "work_pool.other"], kwargs={"destroy": True},
    ),
    "destroy-mode-with-prune-deletes-only-declared-pools": Case(
        desired(dp("a"), prune=True, scope=["team-*"]),
        observed(op("a"), op("team-x"), op("other")),
        {"work_pool.a": ["delete"]},
        steps=[("delete_pool", "work_pool.a", None)],
        unmanaged=["work_pool.team-x", "work_pool.other"], kwargs={"destroy": True},
    ),
    "destroy-mode-queue-target": Case(
        desired(dp("a", queues=[dq("a", "q"), dq("a", "r"), dq("a", "default")])),
        observed(op("a", queues=[oq("default", 1), oq("q", 2), oq("r", 3)])),
        {"work_queue.a.q": ["delete"]},
        steps=[("delete_queue", "work_queue.a.q", None)],
        kwargs={"destroy": True, "targets": ["work_queue.a.q", "work_queue.a.default"]},
    ),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_make_plan(case: Case) -> None:
    plan = make_plan(case.desired, case.observed, **case.kwargs).to_json()
    got = {c["address"]: c["change"]["actions"] for c in plan["resource_changes"]}
    assert got == case.actions
    for address, paths in case.paths.items():
        change = next(c for c in plan["resource_changes"] if c["address"] == address)
        assert change["change"]["changed_paths"] == paths
    if case.steps is not None:
        assert [(s["op"], s["address"]) for s in plan["steps"]] == [(op_, addr) for op_, addr, _ in case.steps]
        for step, (_, _, body) in zip(plan["steps"], case.steps):
            if body is not None:
                assert step["body"] == body
    assert [u["address"] for u in plan["unmanaged"]] == case.unmanaged
    assert [(s["address"], s["before"], s["after"]) for s in plan["side_effects"]] == case.side_effects
    assert plan["complete"] is not bool(case.kwargs.get("targets"))
    assert plan["mode"] == ("destroy" if case.kwargs.get("destroy") else "normal")
    assert plan["applyable"] is bool(plan["steps"])
    if not plan["errored"]:
        read = read_plan(json.loads(json.dumps(plan)))
        assert server_findings(read, case.observed) == Findings(), "a plan as made is accepted as it is"
        after = apply_steps(case.observed, plan["steps"])
        second = make_plan(case.desired, after, **case.kwargs).to_json()
        assert second["steps"] == [], second["steps"]


def test_replace_is_destructive_and_says_what_is_lost() -> None:
    plan = make_plan(desired(dp("p", type="kubernetes")),
                     observed(op("p", type="process", queues=[oq("default", 1), oq("etl", 2)]))).to_json()
    change = plan["resource_changes"][0]
    assert change["destructive"] is True
    assert change["action_reason"] == "replace_because_cannot_update"
    assert "type changes from process to kubernetes" in change["reason_detail"]
    assert "etl" in change["reason_detail"] and "deployments" in change["reason_detail"]
    assert ["type"] in change["change"]["changed_paths"]
    assert plan["summary"] == {"add": 1, "change": 0, "destroy": 2, "replace": 1, "unmanaged": 0}


def test_observed_fingerprints_cover_read_addresses() -> None:
    state = observed(op("p", queues=[oq("default", 1), oq("q", 2), oq("junk", 3)]))
    plan = make_plan(desired(dp("p", queues=[dq("p", "q"), dq("p", "new")]), dp("fresh"), prune=True), state).to_json()
    fp = plan["observed"]
    assert set(fp) == {"work_pool.p", "work_queue.p.q", "work_queue.p.new", "work_queue.p.junk", "work_pool.fresh",
                       "work_queue.p.default"}, "p's queue set matters (a queue is created and one deleted there)"
    assert fp["work_pool.fresh"] is None and fp["work_queue.p.new"] is None
    assert fp["work_pool.p"] == fingerprint_pool(state.pools["p"], with_queues=True)
    assert fp["work_queue.p.q"].startswith("sha256:")


@pytest.mark.parametrize(("config", "covered"), [
    pytest.param(dp("p", description="new", queues=[dq("p", "q", description="x")]), False, id="field-updates-only"),
    pytest.param(dp("p", queues=[dq("p", "q", priority=1)]), True, id="priority-moves"),
    pytest.param(dp("p", queues=[dq("p", "q"), dq("p", "r")]), True, id="queue-created"),
    pytest.param(dp("p", type="docker", queues=[dq("p", "q")]), True, id="pool-replaced"),
])
def test_pools_whose_queue_set_the_plan_depends_on_are_fingerprinted_with_their_queues(config, covered) -> None:
    state = observed(op("p", queues=[oq("default", 1), oq("q", 2), oq("other", 3)]))
    plan = make_plan(desired(config), state)
    assert (plan.observed["work_pool.p"] == fingerprint_pool(state.pools["p"], with_queues=True)) is covered
    assert ("work_queue.p.other" in plan.observed) is covered
    deleting = make_plan(desired(prune=True, scope=["p"]), state)
    assert deleting.observed["work_pool.p"] == fingerprint_pool(state.pools["p"], with_queues=True)
    assert {"work_queue.p.default", "work_queue.p.q", "work_queue.p.other"} <= set(deleting.observed)


def test_fingerprint_ignores_status_and_polling() -> None:
    first = op("p", queues=[oq("default", 1, last_polled="2026-01-01T00:00:00Z", status="READY")], status="READY")
    second = copy.deepcopy(first)
    second.raw["status"] = "NOT_READY"
    second.queues["default"].raw["last_polled"] = "2026-02-02T00:00:00Z"
    cfg = desired(dp("p", queues=[dq("p", "default", description=DEFAULT_QUEUE_DESCRIPTION)]))
    assert make_plan(cfg, observed(first)).observed == make_plan(cfg, observed(second)).observed


def test_created_at_only_from_injected_now() -> None:
    assert make_plan(desired(), observed()).created_at is None
    stamp = make_plan(desired(), observed(), now=datetime(2026, 11, 25, 15, 0, tzinfo=timezone.utc)).created_at
    assert stamp == "2026-11-25T15:00:00Z"


def test_invalid_target_is_an_error_diagnostic() -> None:
    plan = make_plan(desired(dp("p")), observed(), targets=["pool.p"]).to_json()
    assert plan["errored"] is True and plan["applyable"] is False
    assert any(d["severity"] == "error" and "invalid target" in d["summary"] for d in plan["diagnostics"])


def test_duplicate_desired_priorities_are_an_error() -> None:
    plan = make_plan(desired(dp("p", queues=[dq("p", "a", priority=2), dq("p", "b", priority=2)])), observed()).to_json()
    assert plan["errored"] is True
    assert any(d["address"] == "work_pool.p" for d in plan["diagnostics"])


def test_declared_default_missing_on_existing_pool_is_never_created() -> None:
    state = observed(op("p", queues=[oq("main", 1)]))
    state.pools["p"].default_queue_id = state.pools["p"].queues["main"].id
    plan = make_plan(desired(dp("p", queues=[dq("p", "default")])), state).to_json()
    assert all(s["op"] != "create_queue" for s in plan["steps"])
    assert any("renamed to 'main'" in d["detail"] for d in plan["diagnostics"])


def _deployment(name: str, job_variables: dict[str, Any]) -> ObservedDeployment:
    return ObservedDeployment(id=name, name=name, flow_name="etl", work_pool_name="p", work_queue_name=None,
                              job_variables=job_variables)


def test_deployment_impact_warns_per_broken_deployment() -> None:
    new = _template(variables__properties__image={"type": "integer", "default": 1})
    cfg = desired(dp("p", base_job_template=new))
    state = observed(op("p", base_job_template=TEMPLATE))
    assert pools_with_variable_changes(cfg, state) == ["p"]
    state.deployments = {"p": [_deployment("ok", {"command": "x"}), _deployment("broken", {"image": "custom:1"})]}
    plan = make_plan(cfg, state).to_json()
    warnings = [d for d in plan["diagnostics"] if d["severity"] == "warning"]
    assert len(warnings) == 1
    assert "etl/broken" in warnings[0]["summary"] and warnings[0]["address"] == "work_pool.p"
    assert "image" in warnings[0]["detail"]
    assert plan["errored"] is False


def test_pools_with_variable_changes_ignores_job_configuration_only() -> None:
    cfg = desired(dp("p", base_job_template=_template(job_configuration__env={"A": "2"})), dp("new", base_job_template=TEMPLATE))
    assert pools_with_variable_changes(cfg, observed(op("p", base_job_template=TEMPLATE))) == []


# -- property: plan -> apply -> plan is empty ------------------------------------------------

@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_plan_apply_plan_is_empty(scenario) -> None:
    cfg, state = scenario
    plan = make_plan(cfg, state)
    assert not plan.errored
    assert server_findings(read_plan(json.loads(dumps_plan(plan))), state) == Findings()
    after = apply_steps(state, plan.steps)
    again = make_plan(cfg, after)
    assert again.steps == [], again.steps
    assert all(c.action.value == "no-op" for c in again.resource_changes)


def test_observed_state_type_is_untouched_by_planning() -> None:
    state = observed(op("p", queues=[oq("default", 1), oq("q", 2)]))
    before = copy.deepcopy(state)
    make_plan(desired(dp("p", queues=[dq("p", "q", priority=1)])), state)
    assert isinstance(state, ObservedState)
    assert state == before


def test_every_table_plan_validates_against_the_published_schema() -> None:
    from jsonschema import Draft202012Validator

    from reconciler.plan.schema import PLAN_SCHEMA

    Draft202012Validator.check_schema(PLAN_SCHEMA)
    validator = Draft202012Validator(PLAN_SCHEMA)
    for name, case in CASES.items():
        document = make_plan(case.desired, case.observed, now=datetime(2026, 1, 1, tzinfo=timezone.utc), **case.kwargs).to_json()
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
        assert errors == [], (name, errors)
    broken = make_plan(*[CASES["create-from-empty"].desired, CASES["create-from-empty"].observed]).to_json()
    broken["steps"][0]["op"] = "explode"
    assert list(validator.iter_errors(broken))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.data())
def test_targets_only_touch_targeted_addresses(scenario, data) -> None:
    cfg, state = scenario
    addresses = sorted({p.address for p in cfg.pools.values()} | {q.address for p in cfg.pools.values() for q in p.queues.values()})
    targets = data.draw(st.lists(st.sampled_from(addresses), min_size=1, max_size=2, unique=True))
    plan = make_plan(cfg, state, targets=targets)
    target_pools = {t[len("work_pool."):] for t in targets if t.startswith("work_pool.")}
    target_queues = {t for t in targets if t.startswith("work_queue.")}
    queue_pools = {t.split(".")[1] for t in target_queues}
    assert plan.complete is False
    for step in plan.steps:
        if step.pool in target_pools:
            continue
        if step.op is Op.CREATE_POOL:
            assert step.pool in queue_pools and step.pool not in state.pools
        elif step.op is Op.CONVERGE_PRIORITIES:
            assert set(step.priorities) <= {t.split(".")[2] for t in target_queues if t.split(".")[1] == step.pool}
        else:
            assert step.address in target_queues, (step, targets)


@pytest.mark.parametrize(
    "protected, desired_type, destroy, errors",
    [
        ({"work_pool.p"}, "process", True,
         ["the plan would destroy work_pool.p, whose resource sets lifecycle.prevent_destroy"]),
        ({"work_pool.p"}, "docker", False,
         ["the plan would replace work_pool.p, whose resource sets lifecycle.prevent_destroy"]),
        ({"work_queue.p.q"}, "docker", False,
         ["the plan would replace work_queue.p.q, whose resource sets lifecycle.prevent_destroy"]),
        ({"work_queue.p.q"}, "process", True,
         ["the plan would destroy work_queue.p.q, whose resource sets lifecycle.prevent_destroy"]),
        ({"work_pool.p"}, "process", False, []),
        (set(), "process", True, []),
    ],
    ids=["destroy-pool", "replace-pool", "queue-replaced-with-its-pool", "queue-destroyed-with-its-pool",
         "update-is-fine", "unprotected-destroy"],
)
def test_prevent_destroy_makes_deleting_plans_errors(protected, desired_type, destroy, errors) -> None:
    want = desired(dp("p", type=desired_type, description="new", queues=[dq("p", "q", priority=2)]))
    want.prevent_destroy = {address: None for address in protected}
    have = observed(op("p", queues=[oq("default", 1), oq("q", 2)]))
    plan = make_plan(want, have, destroy=destroy).to_json()
    assert [d["summary"] for d in plan["diagnostics"] if d["severity"] == "error"] == errors
    assert plan["errored"] is bool(errors)
    assert plan["applyable"] is not bool(errors)
