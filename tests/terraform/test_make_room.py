"""``siblings.make_room``: which queues move when the provider sets a queue's priority exactly.

Properties over random pools (hypothesis): declared priorities never move, nothing but the queues
in the way moves, nobody ends on a priority another queue keeps, and with no declared sibling
the result is Prefect's own walk (``reconciler.plan.priorities.bump_walk``).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.plan.priorities import bump_walk
from reconciler.provider.siblings import make_room

NAMES = ["default", "a", "b", "c", "d", "e"]


@pytest.mark.parametrize("current, target, priority, held, movable, expected", [
    pytest.param({"default": 1}, "high", 1, {"high"}, set(), {"default": 2}, id="default-moves-out-of-the-way"),
    pytest.param({"default": 1, "a": 2, "b": 3}, "c", 1, {"c"}, set(), {"default": 4},
                 id="unplanned-queues-in-the-way-are-skipped-not-pushed"),
    pytest.param({"default": 1, "q2": 2}, "q1", 1, {"q1"}, {"q2"}, {"default": 2, "q2": 3},
                 id="a-queue-declared-without-priority-is-pushed-along"),
    pytest.param({"default": 1, "x": 1, "m": 2}, "t", 1, {"t"}, {"m"}, {"default": 2, "x": 3, "m": 4},
                 id="ties-keep-their-order"),
    pytest.param({"default": 3, "a": 1}, "t", 1, {"t", "a"}, set(), {}, id="a-declared-queue-never-moves"),
    pytest.param({"default": 1, "a": 2}, "t", 5, {"t"}, set(), {}, id="nothing-in-the-way"),
    pytest.param({"default": 1, "t": 4}, "t", 1, {"t"}, set(), {"default": 2}, id="target-moving-down"),
])
def test_make_room(current, target, priority, held, movable, expected):
    assert make_room(current, target, priority, held, movable) == expected


def test_a_priority_a_declared_queue_is_about_to_take_is_skipped():
    assert make_room({"default": 1, "a": 2}, "c", 1, {"c", "a"}, set(), reserved={4}) == {"default": 3}
    assert make_room({"default": 1, "a": 2}, "c", 1, {"c", "a"}, set(), reserved={3}) == {"default": 4}


@st.composite
def pools(draw):
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, min_size=0, max_size=len(NAMES)))
    current = {n: draw(st.integers(1, 8)) for n in names}
    target = draw(st.sampled_from(["t", *names]))
    priority = draw(st.integers(1, 8))
    declared = {n: draw(st.sampled_from(["held", "movable", "unplanned"])) for n in names if n != target}
    held = {n for n, kind in declared.items() if kind == "held"} | {target}
    movable = {n for n, kind in declared.items() if kind == "movable"}
    reserved = draw(st.sets(st.integers(1, 10), max_size=3))
    return current, target, priority, held, movable, reserved


@settings(max_examples=400, deadline=None)
@given(pools())
def test_declared_priorities_never_move_and_nobody_lands_on_a_kept_priority(pool):
    current, target, priority, held, movable, reserved = pool
    moves = make_room(current, target, priority, held, movable, reserved)
    assert not set(moves) & held
    for queue, moved in moves.items():
        assert current[queue] == priority or queue in movable, "only the queues in the way move"
        assert moved > current[queue] and moved not in reserved
    after = {**{q: p for q, p in current.items() if q != target}, **moves}
    for queue, moved in moves.items():
        assert [q for q, p in after.items() if p == moved] == [queue], "no new tie"
    assert all(p != priority or q in held for q, p in after.items()), "the target's priority is its own"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(1, 9), unique=True, max_size=len(NAMES) - 1), st.integers(1, 9))
def test_with_no_declared_sibling_it_is_prefects_walk(priorities, priority):
    current = dict(zip(NAMES[1:], priorities))
    moves = make_room(current, "t", priority, {"t"}, set(current))
    assert {**current, **moves, "t": priority} == bump_walk(current, "t", priority)
