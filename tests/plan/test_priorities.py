"""The bump-walk simulation against captured Prefect 3.9.1 behaviour, and the priority planner."""

from __future__ import annotations

import json
import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.plan.priorities import assign_priority_on_create, bump_walk, plan_priorities, simulate

FIXTURES = pathlib.Path(__file__).with_name("fixtures")


def _replay(name: str) -> int:
    """Replay a capture: simulate every create/PATCH and compare with every listing. Returns the listings checked."""
    capture = json.loads((FIXTURES / name).read_text())
    state: dict[str, int] | None = None
    checked = 0
    for exchange in capture["exchanges"]:
        path, method, status = exchange["path"], exchange["method"], exchange["status_code"]
        body = exchange["request_body"] or {}
        if path.endswith("/queues/filter"):
            listed = {q["name"]: q["priority"] for q in exchange["response_body"]}
            if state is not None:
                assert state == listed, exchange["step"]
                checked += 1
            state = listed
        elif state is None or status >= 400:
            continue
        elif method == "POST" and path.endswith("/queues"):
            if body.get("priority"):
                state = bump_walk(state, body["name"], body["priority"])
            else:
                state[body["name"]] = assign_priority_on_create(state.values())
            assert state[body["name"]] == exchange["response_body"]["priority"], exchange["step"]
        elif method == "PATCH" and "priority" in body:
            state = bump_walk(state, path.rsplit("/", 1)[1], body["priority"])
    return checked


@pytest.mark.parametrize("capture", ["queue-create-priority-collision.json", "queue-update-priority.json"])
def test_bump_walk_matches_prefect_captures(capture: str) -> None:
    assert _replay(capture) >= 4


@pytest.mark.parametrize(
    ("current", "queue", "priority", "expected"),
    [
        pytest.param({"default": 1, "a": 2, "b": 3}, "b", 1, {"b": 1, "default": 2, "a": 3}, id="doc-example-move-to-front"),
        pytest.param({"a": 1, "b": 5}, "c", 3, {"a": 1, "c": 3, "b": 5}, id="create-into-gap"),
        pytest.param({"a": 1, "b": 2}, "a", 1, {"a": 1, "b": 2}, id="same-priority-no-change"),
        pytest.param({"a": 1, "b": 2, "c": 10}, "c", 2, {"a": 1, "c": 2, "b": 3}, id="cascade-stops-at-gap"),
        pytest.param({"a": 1, "b": 2}, "a", 50, {"b": 2, "a": 50}, id="beyond-all-not-inserted"),
        pytest.param({"a": 3, "b": 3, "c": 3}, None, None, {"a": 3, "b": 4, "c": 5}, id="no-target-fixes-duplicates"),
        pytest.param({"a": 1, "b": 4}, None, None, {"a": 1, "b": 4}, id="no-target-keeps-gaps"),
        pytest.param({"a": 1, "b": 1, "c": 2}, "t", 2, {"a": 1, "b": 2, "t": 3, "c": 4}, id="duplicates-ahead-bump-target"),
        pytest.param({"a": 1, "b": 1}, "t", 2, {"a": 1, "b": 2, "t": 2}, id="not-inserted-can-collide"),
    ],
)
def test_bump_walk_table(current, queue, priority, expected) -> None:
    assert bump_walk(current, queue, priority) == expected


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        pytest.param([], 1, id="empty"),
        pytest.param([1], 2, id="after-default"),
        pytest.param([1, 2, 3, 4, 10], 5, id="first-gap"),
        pytest.param([2, 3], 1, id="gap-at-start"),
        pytest.param([1, 2, 3], 4, id="max-plus-one"),
        pytest.param([1, 1, 2], 2, id="duplicates"),
    ],
)
def test_assign_priority_on_create(existing, expected) -> None:
    assert assign_priority_on_create(existing) == expected


@pytest.mark.parametrize(
    ("current", "desired", "expected_steps"),
    [
        pytest.param({"default": 1, "a": 2, "b": 3}, {"a": 2, "b": 3}, [], id="already-right"),
        pytest.param({"a": 1, "b": 2}, {"a": 2, "b": 1}, [("b", 1)], id="swap-is-one-patch"),
        pytest.param({"default": 1, "x": 2, "y": 3}, {"x": 2, "y": 1}, [("y", 1), ("x", 2)], id="unmanaged-default-between"),
        pytest.param({"default": 1, "c": 2, "h": 3, "l": 4}, {"c": 1, "h": 5, "l": 10}, [("c", 1), ("h", 5), ("l", 10)],
                     id="critical-high-low"),
        pytest.param({"a": 1, "b": 1, "c": 2}, {"c": 2}, [], id="duplicates-elsewhere-left-alone"),
    ],
)
def test_plan_priorities_table(current, desired, expected_steps) -> None:
    steps = plan_priorities(current, desired)
    assert steps == expected_steps
    final = simulate(current, steps)
    assert {q: final[q] for q in desired} == desired


def test_plan_priorities_duplicates_start_with_the_fixing_step() -> None:
    current = {"a": 1, "b": 1, "c": 5}
    steps = plan_priorities(current, {"b": 1, "c": 2})
    assert steps[0] == ("b", 1)
    final = simulate(current, steps)
    assert final["b"] == 1 and final["c"] == 2
    assert len(set(final.values())) == len(final)


def test_fix_duplicates_forces_a_step_when_deletes_follow() -> None:
    current = {"u1": 1, "u2": 1, "m": 2, "gone": 3}
    assert plan_priorities(current, {"m": 2}) == []
    steps = plan_priorities(current, {"m": 2}, fix_duplicates=True)
    after = simulate(current, steps)
    del after["gone"]
    after = bump_walk(after, None, None)
    assert after["m"] == 2


@pytest.mark.parametrize(
    ("current", "desired", "message"),
    [
        pytest.param({"a": 1}, {"b": 1}, "not in the pool", id="unknown-queue"),
        pytest.param({"a": 1, "b": 2}, {"a": 1, "b": 1}, "same desired priority", id="duplicate-desired"),
        pytest.param({"a": 1}, {"a": 0}, ">= 1", id="zero"),
    ],
)
def test_plan_priorities_rejects_bad_input(current, desired, message) -> None:
    with pytest.raises(ValueError, match=message):
        plan_priorities(current, desired)


@st.composite
def _priority_case(draw):
    names = draw(st.lists(st.sampled_from(["default", "a", "b", "c", "d", "e", "f", "g"]), min_size=1, max_size=8, unique=True))
    current = {n: draw(st.integers(min_value=1, max_value=12)) for n in names}
    managed = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
    targets = draw(st.lists(st.integers(min_value=1, max_value=15), min_size=len(managed), max_size=len(managed), unique=True))
    return current, dict(zip(managed, targets))


@settings(max_examples=400, deadline=None)
@given(_priority_case())
def test_plan_priorities_converges_for_any_state(case) -> None:
    current, desired = case
    steps = plan_priorities(current, desired)
    final = simulate(current, steps)
    assert {q: final[q] for q in desired} == desired
    assert all(q in desired for q, _ in steps), "only managed queues are PATCHed"
    if all(current[q] == p for q, p in desired.items()):
        assert steps == []
    assert len(steps) <= len(desired) + 1
