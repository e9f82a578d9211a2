"""The step vocabulary: every operation reads back exactly, and anything off-vocabulary is refused by name."""

from __future__ import annotations

import pytest

from reconciler.plan.actions import Action, ResourceType
from reconciler.plan.schema import PLAN_SCHEMA
from reconciler.plan.steps import SPECS, Field, Op, Phase, Step

EXAMPLES = {
    Op.CREATE_POOL: Step(Op.CREATE_POOL, "p", body={"name": "p", "type": "process"}),
    Op.UPDATE_POOL: Step(Op.UPDATE_POOL, "p", body={"description": None}),
    Op.DELETE_POOL: Step(Op.DELETE_POOL, "a.b"),
    Op.CREATE_QUEUE: Step(Op.CREATE_QUEUE, "p", "q", body={"name": "q", "priority": 2}),
    Op.UPDATE_QUEUE: Step(Op.UPDATE_QUEUE, "p", "v1.2", body={"priority": 1}),
    Op.DELETE_QUEUE: Step(Op.DELETE_QUEUE, "p", "q"),
    Op.CONVERGE_PRIORITIES: Step(Op.CONVERGE_PRIORITIES, "p", priorities={"q": 1, "r": 2}),
}


def test_every_op_has_a_spec_an_example_and_a_schema_branch() -> None:
    assert set(SPECS) == set(Op) == set(EXAMPLES)
    branches = PLAN_SCHEMA["properties"]["steps"]["items"]["oneOf"]
    assert [b["properties"]["op"]["const"] for b in branches] == [op.value for op in Op]
    for branch in branches:
        spec = SPECS[Op(branch["properties"]["op"]["const"])]
        assert branch["required"] == ["op", "address", "pool", *(f.value for f in spec.fields)]
    assert [p.value for p in Phase] == sorted(p.value for p in Phase)


@pytest.mark.parametrize("op", list(Op))
def test_steps_round_trip_and_spell_their_address(op: Op) -> None:
    step = EXAMPLES[op]
    data = step.to_json()
    assert list(data)[:3] == ["op", "address", "pool"]
    assert set(data) == {"op", "address", "pool", *(f.value for f in SPECS[op].fields)}
    assert Step.from_json(data) == step
    kind = SPECS[op].target
    assert data["address"] == (f"work_queue.{step.pool}.{step.queue}" if kind is ResourceType.WORK_QUEUE
                               else f"work_pool.{step.pool}")


@pytest.mark.parametrize("op", list(Op))
def test_progress_verbs_and_actions_come_from_the_vocabulary(op: Op) -> None:
    spec = SPECS[op]
    assert spec.progress.endswith("...") and spec.done
    assert spec.action in (Action.CREATE, Action.UPDATE, Action.DELETE)
    assert spec.action.value in op.value or op is Op.CONVERGE_PRIORITIES


@pytest.mark.parametrize(("data", "message"), [
    pytest.param([], "step must be an object", id="not-an-object"),
    pytest.param({"op": "explode", "pool": "p", "address": "work_pool.p"}, "step.op 'explode' is unknown", id="unknown-op"),
    pytest.param({"op": "delete_pool", "pool": "p"}, "missing 'address'", id="missing-address"),
    pytest.param({"op": "create_queue", "address": "work_queue.p.q", "pool": "p", "queue": "q"}, "missing 'body'",
                 id="missing-body"),
    pytest.param({"op": "delete_pool", "address": "work_pool.p", "pool": "p", "body": {}}, "unknown field 'body'",
                 id="field-the-op-does-not-have"),
    pytest.param({"op": "delete_pool", "address": "work_pool.other", "pool": "p"},
                 "has address 'work_pool.other' but acts on 'work_pool.p'", id="address-names-another-pool"),
    pytest.param({"op": "update_queue", "address": "work_queue.p.q", "pool": "p", "queue": "r", "body": {}},
                 "acts on 'work_queue.p.r'", id="address-names-another-queue"),
    pytest.param({"op": "update_pool", "address": "work_pool.p", "pool": "p", "body": "x"}, "body must be an object",
                 id="body-not-an-object"),
    pytest.param({"op": "delete_queue", "address": "work_queue.p.", "pool": "p", "queue": ""},
                 "queue must be a non-empty string", id="empty-queue"),
    pytest.param({"op": "converge_priorities", "address": "work_pool.p", "pool": "p", "priorities": {"q": 0}},
                 "priorities must map queue names to integers >= 1", id="priority-zero"),
    pytest.param({"op": "converge_priorities", "address": "work_pool.p", "pool": "p", "priorities": {"q": True}},
                 "priorities must map queue names to integers >= 1", id="priority-bool"),
])
def test_off_vocabulary_steps_are_refused_by_name(data, message) -> None:
    with pytest.raises(ValueError, match=__import__("re").escape(message)):
        Step.from_json(data)


def test_fields_are_the_vocabulary() -> None:
    assert {f for spec in SPECS.values() for f in spec.fields} == set(Field)


def test_the_published_plan_schema_is_fresh() -> None:
    from pathlib import Path

    from reconciler.plan.schema import plan_schema_text

    published = Path(__file__).resolve().parents[2] / "provider-schema" / "plan.schema.json"
    assert published.read_text(encoding="utf-8") == plan_schema_text(), (
        "provider-schema/plan.schema.json is stale: run `make schema`")
