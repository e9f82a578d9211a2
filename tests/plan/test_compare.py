"""Comparing two environments' desired states (``poolform diff``): table-driven, and a property."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plan_test_helpers import TEMPLATE, desired, dp, dq
from reconciler.model.state import UNMANAGED
from reconciler.plan.compare import compare_states


def compare(left, right):
    return compare_states(left, right, left_name="staging", right_name="prod")


CASES = [
    pytest.param(desired(dp("a")), desired(dp("a")), [], {"differ": 0, "only_left": 0, "only_right": 0, "same": 1},
                 id="same"),
    pytest.param(desired(dp("a", concurrency_limit=2)), desired(dp("a", concurrency_limit=20)),
                 [("work_pool.a", None, [{"path": ["concurrency_limit"], "left": 2, "right": 20}])],
                 {"differ": 1, "only_left": 0, "only_right": 0, "same": 0}, id="a-field"),
    pytest.param(desired(dp("a", queues=[dq("a", "q")])), desired(dp("a", queues=[dq("a", "q", priority=3)])),
                 [("work_queue.a.q", None, [{"path": ["priority"], "right": 3}])],
                 {"differ": 1, "only_left": 0, "only_right": 0, "same": 1}, id="unmanaged-on-one-side"),
    pytest.param(desired(dp("a"), dp("old")), desired(dp("a"), dp("new", queues=[dq("new", "q")])),
                 [("work_pool.new", "prod", []), ("work_queue.new.q", "prod", []), ("work_pool.old", "staging", [])],
                 {"differ": 0, "only_left": 1, "only_right": 2, "same": 1}, id="only-on-one-side"),
    pytest.param(desired(dp("k", type="kubernetes", base_job_template=TEMPLATE)),
                 desired(dp("k", type="docker", base_job_template={**TEMPLATE, "variables": {"type": "object"}})),
                 [("work_pool.k", None, None)], {"differ": 1, "only_left": 0, "only_right": 0, "same": 0},
                 id="type-and-template-paths"),
]


@pytest.mark.parametrize(("left", "right", "objects", "summary"), CASES)
def test_compare_states(left, right, objects, summary) -> None:
    document = compare(left, right)
    assert document["summary"] == summary
    got = [(o["address"], o["only_in"], o["differences"]) for o in document["objects"]]
    if objects and objects[0][2] is None:  # templates: the deep paths, each with both values
        paths = [d["path"] for d in document["objects"][0]["differences"]]
        assert ["type"] in paths and any(p[0] == "base_job_template" and len(p) > 1 for p in paths)
        return
    assert got == objects


def test_ownership_differences() -> None:
    document = compare(desired(dp("a")), desired(dp("a"), prune=True, scope=["team-*"]))
    assert document["ownership"] == [{"path": ["manage", "prune"], "left": False, "right": True},
                                     {"path": ["manage", "scope"], "left": [], "right": ["team-*"]}]


_limits = st.none() | st.integers(0, 5)


@st.composite
def _state(draw):
    pools = []
    for name in draw(st.sets(st.sampled_from(["a", "b", "c"]), max_size=3)):
        queues = [dq(name, q, concurrency_limit=draw(_limits), priority=draw(st.just(UNMANAGED) | st.integers(1, 3)))
                  for q in draw(st.sets(st.sampled_from(["x", "y"]), max_size=2))]
        pools.append(dp(name, concurrency_limit=draw(_limits), paused=draw(st.booleans()), queues=queues))
    return desired(*pools)


@settings(max_examples=150, deadline=None)
@given(_state(), _state())
def test_comparison_is_symmetric_and_empty_only_for_equal_states(left, right) -> None:
    forward, backward = compare(left, right), compare(right, left)
    assert forward["summary"]["differ"] == backward["summary"]["differ"]
    assert forward["summary"]["only_left"] == backward["summary"]["only_right"]
    assert [o["address"] for o in forward["objects"]] == [o["address"] for o in backward["objects"]]
    for a, b in zip(forward["objects"], backward["objects"]):
        assert [{"path": d["path"], **({"left": d["right"]} if "right" in d else {}),
                 **({"right": d["left"]} if "left" in d else {})} for d in a["differences"]] == b["differences"]
    assert (not forward["objects"]) == (left == right)
    assert not compare(left, left)["objects"]
