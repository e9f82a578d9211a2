"""Plan documents: exact round trip (hypothesis) and clear errors for files that are not plans.

Whether a well-shaped document holds together is tests/plan/test_verify.py."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plan_test_helpers import TEMPLATE, desired, dp, dq, observed, op, oq, scenarios
from reconciler.errors import InvalidPlanError
from reconciler.plan.actions import Action, Change, Reason
from reconciler.plan.document import Mode, Plan
from reconciler.plan.planfile import dumps_plan, loads_plan
from reconciler.plan.planner import make_plan
from reconciler.plan.steps import Op, Step

_json_scalars = st.none() | st.booleans() | st.integers(-10, 10**6) | st.text(max_size=8)
_json = st.recursive(_json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                     max_leaves=10)
_path = st.lists(st.text(min_size=1, max_size=6) | st.integers(0, 5), min_size=1, max_size=4)


@st.composite
def _change(draw):
    return Change(
        address=draw(st.text(min_size=1, max_size=20)), type=draw(st.sampled_from(["work_pool", "work_queue"])),
        pool=draw(st.text(max_size=8)), name=draw(st.text(max_size=8)), action=draw(st.sampled_from(list(Action))),
        reason=draw(st.sampled_from(list(Reason))),
        before=draw(st.none() | st.dictionaries(st.text(max_size=6), _json, max_size=4)),
        after=draw(st.none() | st.dictionaries(st.text(max_size=6), _json, max_size=4)),
        changed_paths=draw(st.lists(_path, max_size=3)), reason_detail=draw(st.text(max_size=20)),
        destructive=draw(st.booleans()),
    )


_step = st.builds(Step, op=st.sampled_from([Op.UPDATE_POOL, Op.CREATE_POOL]), pool=st.text(min_size=1, max_size=6),
                  body=st.dictionaries(st.text(max_size=5), _json, max_size=3))


@st.composite
def _plan(draw):
    return Plan(
        poolform_version="0.1.0", api_url=draw(st.text(max_size=10)),
        environment=draw(st.none() | st.sampled_from(["staging", "prod", "eu-west.1"])), created_at=draw(st.none() | st.just("2026-11-25T15:00:00Z")),
        mode=draw(st.sampled_from(list(Mode))), targets=draw(st.lists(st.text(max_size=10), max_size=2)),
        complete=draw(st.booleans()), applyable=draw(st.booleans()), errored=draw(st.booleans()),
        resource_changes=draw(st.lists(_change(), max_size=4)),
        side_effects=draw(st.lists(st.fixed_dictionaries({"address": st.text(max_size=8), "path": st.just(["priority"]),
                                                          "before": st.integers(1, 9), "after": st.integers(1, 9)}), max_size=2)),
        unmanaged=draw(st.lists(st.fixed_dictionaries({"address": st.text(max_size=8), "reason": st.text(max_size=8)}), max_size=2)),
        steps=draw(st.lists(_step, max_size=3)),
        observed=draw(st.dictionaries(st.text(max_size=10), st.none() | st.text(max_size=10), max_size=3)),
        diagnostics=draw(st.lists(st.fixed_dictionaries({"severity": st.just("warning"), "summary": st.text(max_size=10)}), max_size=2)),
        summary=draw(st.fixed_dictionaries({k: st.integers(0, 5) for k in ("add", "change", "destroy", "replace", "unmanaged")})),
    )


@settings(max_examples=150, deadline=None)
@given(_plan())
def test_plan_document_round_trips_exactly(plan: Plan) -> None:
    text = dumps_plan(plan)
    again = Plan.from_json(json.loads(text))
    assert again == plan
    assert dumps_plan(again) == text


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.booleans())
def test_every_plan_the_planner_makes_reads_back_exactly(scenario, destroy: bool) -> None:
    plan = make_plan(*scenario, destroy=destroy)
    text = dumps_plan(plan)
    assert loads_plan(text) == plan
    assert dumps_plan(loads_plan(text)) == text


def test_real_plan_round_trips() -> None:
    plan = make_plan(
        desired(dp("k", type="kubernetes", base_job_template=TEMPLATE, queues=[dq("k", "high", priority=1)]), dp("p"), prune=True),
        observed(op("p", type="docker", queues=[oq("default", 1), oq("x", 2)])),
    )
    assert loads_plan(dumps_plan(plan)) == plan
    assert list(plan.to_json())[:3] == ["format_version", "poolform_version", "api_url"]


def _document(**fields):
    base = make_plan(desired(dp("p")), observed()).to_json()
    base.update(fields)
    return json.dumps(base)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("{", "not JSON", id="not-json"),
        pytest.param("[]", "not a poolform plan", id="a-list"),
        pytest.param('{"hello": 1}', "not a poolform plan", id="other-json"),
        pytest.param('{"format_version": "9.0", "resource_changes": []}', "unsupported plan format_version '9.0'", id="future-version"),
        pytest.param(_document(format_version="1.0"), "format_version '1.0', written by an older poolform, and is not applied",
                     id="retired-version"),
        pytest.param('{"format_version": "1.1", "resource_changes": []}', "missing 'poolform_version', 'api_url', 'created_at', 'mode'", id="missing-keys"),
        pytest.param(_document(extra=1), "unknown field 'extra'", id="unknown-top-level-field"),
        pytest.param(_document(environment=3), "'environment' must be a str or null", id="environment-not-a-string"),
        pytest.param(_document(environment="prod; rm"), "'environment' is not an environment name", id="environment-bad-name"),
        pytest.param(_document(format_version="1.1"), "unknown field 'environment'", id="environment-in-a-1.1-file"),
        pytest.param(_document(format_version="1.2"), "unknown field 'environment'", id="environment-in-a-1.2-file"),
        pytest.param(json.dumps({k: v for k, v in json.loads(_document()).items() if k != "environment"}),
                     "missing 'environment'", id="1.2-without-environment"),
        pytest.param(_document(complete="false"), "'complete' must be a bool", id="bool-as-string"),
        pytest.param(_document(mode="wipe"), "'mode' 'wipe' is not one of normal, destroy", id="bad-mode"),
        pytest.param(_document(summary={"add": -1}), "'summary' counts must be integers >= 0", id="negative-count"),
        pytest.param(_document(resource_changes=[{"address": "a"}]), "resource_changes[0] missing 'type'", id="bad-change"),
        pytest.param(_document(steps=[{"op": "explode"}]), "steps[0].op 'explode' is unknown", id="bad-step"),
        pytest.param(_document(steps=[{"op": "delete_pool", "address": "work_pool.x", "pool": "y"}]),
                     "steps[0] (delete_pool) has address 'work_pool.x' but acts on 'work_pool.y'", id="step-address-lies"),
    ],
)
def test_loads_plan_rejects_with_readable_message(text: str, message: str) -> None:
    with pytest.raises(InvalidPlanError, match=__import__("re").escape(message)):
        loads_plan(text)


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_an_older_plan_file_is_still_read_and_has_no_environment(version: str) -> None:
    """1.3 added ``environment``; a 1.1 or 1.2 file (written before) is read, applied as before, and written
    back in its own format."""
    document = json.loads(_document())
    document.pop("environment")
    document["format_version"] = version
    plan = loads_plan(json.dumps(document))
    assert plan.environment is None and plan.format_version == version
    assert plan.to_json() == document


def test_the_environment_is_recorded_and_read_back() -> None:
    plan = make_plan(desired(dp("p")), observed())
    plan.environment = "staging"
    assert plan.to_json()["environment"] == "staging"
    assert loads_plan(dumps_plan(plan)).environment == "staging"


@pytest.mark.parametrize("paths", ["x", None, {"a": 1}, ["a"], [["a", True]], [["a", None]], [[1.5]], [["a"], "b"], [[["a"]]]],
                         ids=lambda p: json.dumps(p))
def test_changed_paths_that_are_not_lists_of_keys_are_refused(paths) -> None:
    document = json.loads(_document())
    document["resource_changes"][0]["change"]["changed_paths"] = paths
    with pytest.raises(InvalidPlanError, match=r"resource_changes\[0\]\.change\.changed_paths must be a list of paths"):
        loads_plan(json.dumps(document))


@pytest.mark.parametrize("paths", [[], [[]], [["a", 0, "b"]], [["name"], ["type"]]], ids=lambda p: json.dumps(p))
def test_changed_paths_of_keys_and_indexes_are_read(paths) -> None:
    document = json.loads(_document())
    document["resource_changes"][0]["change"]["changed_paths"] = paths
    with pytest.raises(InvalidPlanError) as refused:  # these are not the change's differences, but they are paths
        loads_plan(json.dumps(document))
    assert "must be a list of paths" not in str(refused.value)
