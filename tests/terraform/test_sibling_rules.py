"""The provider's rules across resources (``reconciler.provider.siblings``), without terraform.

Terraform plans queues one by one and in any order; whatever the order, a tie between two
declared queues of a pool is reported (on the one planned second) and a limit above the pool's
is warned about, exactly when ``poolform validate`` would report them.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.config.load import load
from reconciler.provider import resources
from reconciler.provider.codec import UNKNOWN, Diags
from reconciler.provider.config import ProviderState
from reconciler.provider.siblings import Planned


def _plan_queue(state: ProviderState, pool: str, name: str, priority=None, limit=None) -> Diags:
    config = {"work_pool_name": pool, "name": name, "priority": priority, "concurrency_limit": limit,
              "description": None, "is_paused": None}
    diags = Diags()
    resources.WorkQueue(state).plan(None, dict(config), config, diags)
    return diags


def _plan_pool(state: ProviderState, name: str, limit=None) -> Diags:
    config = {"name": name, "type": "process", "concurrency_limit": limit}
    diags = Diags()
    resources.WorkPool(state).plan(None, dict(config), config, diags)
    return diags


def test_a_tie_is_an_error_on_the_queue_planned_second_on_its_priority():
    state = ProviderState()
    assert _plan_queue(state, "p", "a", 1) == []
    diags = _plan_queue(state, "p", "b", 1)
    assert [(d[0], d[1], d[3]) for d in diags] == [("error", "queues 'a' and 'b' both have priority 1", ("priority",))]
    assert "a tie would not last" in diags[0][2]


def test_replanning_a_queue_other_pools_unknown_and_unmanaged_priorities_are_no_tie():
    state = ProviderState()
    assert _plan_queue(state, "p", "a", 1) == []
    assert _plan_queue(state, "p", "a", 1) == [], "a re-plan of the same queue is no tie"
    assert _plan_queue(state, "other", "b", 1) == []
    assert _plan_queue(state, "p", "c", None) == [], "an omitted priority is the server's choice"
    assert _plan_queue(state, "p", "d", UNKNOWN) == [], "unknown until apply: checked then"
    diags = Diags()
    resources.WorkQueue(state).plan({"work_pool_name": "p", "name": "a"}, None, None, diags)  # destroyed
    assert _plan_queue(state, "p", "e", 1) == [], "a queue planned for deletion holds no priority"


def test_a_queue_limit_above_the_pool_is_warned_whichever_is_planned_first():
    state = ProviderState()
    assert [d[1] for d in _plan_pool(state, "p", 2)] == []
    assert [(d[0], d[1], d[3]) for d in _plan_queue(state, "p", "wide", None, 3)] == [
        ("warning", "queue concurrency_limit 3 is above the pool's 2", ("concurrency_limit",))]
    state = ProviderState()
    assert _plan_queue(state, "p", "wide", None, 3) == []
    diags = _plan_pool(state, "p", 2)
    assert [(d[0], d[1], d[3]) for d in diags] == [
        ("warning", "queue concurrency_limit 3 is above the pool's 2", ("concurrency_limit",))]
    assert diags[0][2].startswith("Queue 'wide' of this pool: ")


def test_the_pool_type_is_checked_at_plan_with_the_provider_setting():
    state = ProviderState()
    config = {"name": "p", "type": "kuberentes", "concurrency_limit": None}
    diags = Diags()
    resources.WorkPool(state).plan(None, dict(config), config, diags)
    assert [(d[0], d[1], d[3]) for d in diags] == [("error", "unknown work pool type 'kuberentes'", ("type",))]
    assert 'Did you mean "kubernetes"?' in diags[0][2] and "allow_unknown_type = true" in diags[0][2]
    state.configure({"endpoint": "http://127.0.0.1:9/api", "allow_unknown_type": True}, Diags())
    diags = Diags()
    resources.WorkPool(state).plan(None, dict(config), config, diags)
    assert diags == []


QUEUES = st.lists(st.tuples(st.sampled_from(["p", "q"]), st.sampled_from("abcdef"), st.integers(1, 4)),
                  max_size=12, unique_by=lambda t: (t[0], t[1]))


@settings(max_examples=60, deadline=None)
@given(queues=QUEUES, random=st.randoms(use_true_random=False))
def test_ties_are_reported_in_any_planning_order_exactly_when_poolform_reports_them(queues, random, tmp_path_factory):
    order = list(queues)
    random.shuffle(order)
    planned = Planned()
    reported = sum(len(planned.queue(pool, name, priority, None)) for pool, name, priority in order)
    lines = ["version: 1", "work_pools:"]
    for pool in sorted({q[0] for q in queues}):
        lines += [f"  {pool}:", "    type: process", "    queues:"]
        lines += [f"      {name}: {{priority: {priority}}}" for p, name, priority in queues if p == pool]
    path = tmp_path_factory.mktemp("ties") / "pools.yaml"
    path.write_text("\n".join(lines) + "\n")
    _, diags = load([str(path)])
    ties = [d for d in diags.errors if "both have priority" in d.summary]
    # poolform names each later queue once against the first at its priority; the provider each later
    # queue against every earlier one: both report a tie exactly when there is one
    assert (reported > 0) == bool(ties)
    assert (reported > 0) == any(
        sum(1 for q in queues if (q[0], q[2]) == (pool, prio)) > 1 for pool, _, prio in queues)
