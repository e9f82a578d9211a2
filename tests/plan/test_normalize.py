"""Comparable forms, template equality, canonical JSON, fingerprints, differ paths."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plan_test_helpers import TEMPLATE, dp, dq, observed, op, oq
from reconciler.model.state import queue_address_candidates, resolve_queue_address
from reconciler.plan.differ import diff_objects, diff_values, get_path
from reconciler.plan.normalize import (
    json_equal,
    canonical_json,
    strict_equal,
    fingerprint_pool,
    fingerprint_queue,
    fingerprints,
    templates_equal,
)


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        pytest.param({"a": 1, "b": 2}, {"b": 2, "a": 1}, True, id="key-order"),
        pytest.param({"n": 1}, {"n": 1.0}, True, id="int-equals-integral-float"),
        pytest.param({"n": 1}, {"n": 1.5}, False, id="different-number"),
        pytest.param({"n": True}, {"n": 1}, False, id="bool-is-not-number"),
        pytest.param({"n": [False]}, {"n": [0]}, False, id="bool-in-list"),
        pytest.param({"l": [1, 2]}, {"l": [2, 1]}, False, id="list-order-matters"),
        pytest.param(None, {}, True, id="none-is-empty"),
        pytest.param({}, TEMPLATE, False, id="empty-vs-template"),
    ],
)
def test_templates_equal(a, b, equal) -> None:
    assert templates_equal(a, b) is equal


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param({"b": 1, "a": [1.0, 2.5]}, '{"a":[1,2.5],"b":1}', id="sorted-compact-integral-floats"),
        pytest.param({"s": "é"}, '{"s":"é"}', id="unicode-kept"),
        pytest.param(True, "true", id="bool"),
    ],
)
def test_canonical_json(value, text) -> None:
    assert canonical_json(value) == text


@pytest.mark.parametrize(
    ("before", "after", "paths"),
    [
        pytest.param({"a": {"b": 1}}, {"a": {"b": 2}}, [["a", "b"]], id="nested-scalar"),
        pytest.param({"a": {}}, {"a": {"new": 1}}, [["a", "new"]], id="added-key"),
        pytest.param({"a": {"old": 1}}, {"a": {}}, [["a", "old"]], id="removed-key"),
        pytest.param({"l": [1, 2]}, {"l": [1, 3, 4]}, [["l", 1], ["l", 2]], id="list-items"),
        pytest.param({"x": {"y": 1}}, {"x": {"y": 1.0}}, [], id="no-diff-for-equal-numbers"),
        pytest.param({"x": "s"}, {"x": {"k": 1}}, [["x"]], id="type-change"),
        pytest.param({"b": True}, {"b": 1}, [["b"]], id="bool-is-not-one"),
        pytest.param({"l": [0, 2.0]}, {"l": [False, 2]}, [["l", 0]], id="bool-in-list-not-zero"),
        pytest.param({"l": [1, 2, 3]}, {"l": [1, 3]}, [["l", 1], ["l", 2]], id="lists-zipped-not-aligned"),
        pytest.param({"d": {"x": 1}}, {"d": {"y": 1}}, [["d", "x"], ["d", "y"]], id="disjoint-keys-key-by-key"),
        pytest.param({"z": 1, "a": 1, "m": {"k": 1}}, {"a": 2, "m": {"k": 2}, "z": 2, "n": 0},
                     [["z"], ["a"], ["m", "k"], ["n"]], id="document-order"),
        pytest.param(True, 1, [[]], id="root-type-change"),
    ],
)
def test_diff_values_paths(before, after, paths) -> None:
    assert diff_values(before, after) == paths


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([0.0, 1.0, 1.5, -2.0]) | st.sampled_from(["", "a", "b"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["a", "b", "c", "1"]), inner, max_size=4),
    max_leaves=20,
)


def _leaves(value, path=()):
    """Every (path, scalar-or-empty-container) pair of a JSON value."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaves(item, path + (key,))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _leaves(item, path + (index,))
    else:
        yield path, value


@settings(max_examples=300, deadline=None)
@given(_json, _json)
def test_diff_values_reports_exactly_where_values_differ(before, after) -> None:
    """No paths iff json_equal; each path differs there; each differing leaf is on a path's line."""
    paths = diff_values(before, after)
    assert (paths == []) is json_equal(before, after)
    missing = object()
    for path in paths:
        assert not json_equal(get_path(before, path, missing), get_path(after, path, missing)), path
    for side in (before, after):
        for leaf, value in _leaves(side):
            other = after if side is before else before
            if not json_equal(get_path(other, list(leaf), missing), value):
                assert any(list(leaf[:len(p)]) == p or p[:len(leaf)] == list(leaf) for p in paths), (leaf, paths)
    assert len({tuple(p) for p in paths}) == len(paths)


def test_diff_objects_only_over_managed_keys() -> None:
    before = {"name": "p", "description": "a", "paused": False}
    after = {"name": "p", "description": "b"}
    assert diff_objects(before, after) == [["description"]]
    assert get_path({"a": [{"b": 2}]}, ["a", 0, "b"]) == 2
    assert get_path({"a": 1}, ["x"], None) is None


def test_fingerprints() -> None:
    state = observed(op("p", queues=[oq("default", 1), oq("q", 2)]))
    pool = state.pools["p"]
    result = fingerprints(state, ["work_pool.p", "work_queue.p.q", "work_queue.p.none", "work_pool.none"])
    assert result == {"work_pool.p": fingerprint_pool(pool), "work_queue.p.q": fingerprint_queue(pool.queues["q"]),
                      "work_queue.p.none": None, "work_pool.none": None}
    before = fingerprint_queue(pool.queues["q"])
    pool.queues["q"].priority = 3
    assert fingerprint_queue(pool.queues["q"]) != before
    pool.id = "another-id"
    assert fingerprint_pool(pool) == result["work_pool.p"]


def test_a_pool_fingerprint_with_queues_covers_the_queue_names_only() -> None:
    state = observed(op("p", queues=[oq("default", 1), oq("q", 2)]))
    pool = state.pools["p"]
    plain = fingerprints(state, ["work_pool.p"])["work_pool.p"]
    covered = fingerprints(state, ["work_pool.p"], with_queues={"p"})["work_pool.p"]
    assert covered != plain and covered == fingerprint_pool(pool, with_queues=True)
    pool.queues["q"].priority = 5
    assert fingerprint_pool(pool, with_queues=True) == covered, "queue fields are the queue's own fingerprint"
    pool.queues["late"] = pool.queues["q"]
    assert fingerprint_pool(pool, with_queues=True) != covered
    assert fingerprint_pool(pool) == plain


@pytest.mark.parametrize(
    "address, known, expected",
    [
        ("work_queue.p.q", {"p"}, ("p", "q")),
        ("work_queue.p.v1.2", {"p"}, ("p", "v1.2")),
        ("work_queue.a.b.c", {"a.b"}, ("a.b", "c")),
        ("work_queue.a.b.c", {"a", "a.b"}, ("a.b", "c")),
        ("work_queue.a.b.c", set(), ("a.b", "c")),
    ],
    ids=["plain", "dotted-queue", "dotted-pool", "both-known-longest-wins", "unknown-last-dot"],
)
def test_resolve_queue_address(address, known, expected) -> None:
    assert resolve_queue_address(address, known) == expected


@pytest.mark.parametrize("address", ["work_pool.p", "work_queue.p", "work_queue..q", "work_queue.p."],
                         ids=["pool", "no-queue", "empty-pool", "empty-queue"])
def test_resolve_queue_address_refuses_non_queue_addresses(address) -> None:
    with pytest.raises(ValueError):
        resolve_queue_address(address, {"p"})


def test_fingerprints_resolve_dots_in_pool_and_queue_names() -> None:
    state = observed(op("p", queues=[oq("default", 1), oq("v1.2", 2)]), op("a.b", queues=[oq("c", 1)]))
    result = fingerprints(state, ["work_queue.p.v1.2", "work_queue.a.b.c", "work_queue.p.v1.3"])
    assert result == {"work_queue.p.v1.2": fingerprint_queue(state.pools["p"].queues["v1.2"]),
                      "work_queue.a.b.c": fingerprint_queue(state.pools["a.b"].queues["c"]),
                      "work_queue.p.v1.3": None}


def _typed(value):
    """``value`` with every leaf tagged by its exact type: equal typed forms mean strictly equal JSON."""
    if isinstance(value, dict):
        return ("dict", type(value), {k: _typed(v) for k, v in value.items()})
    if isinstance(value, list):
        return ("list", type(value), [_typed(v) for v in value])
    return (type(value), value)


_strict_leaves = (st.none() | st.booleans() | st.integers(-2, 2) | st.floats(allow_nan=False)
           | st.sampled_from([0, 1, 1.0, 0.0, -0.0, True, False, "1"]) | st.text(max_size=2))
_strict_values = st.recursive(_strict_leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3),
                     max_leaves=10)


@settings(max_examples=400, deadline=None)
@given(_strict_values, _strict_values)
def test_strict_equal_is_equality_of_the_typed_forms(a, b) -> None:
    # 1 is not 1.0 nor True, at any depth; key order does not matter, list order does
    assert strict_equal(a, b) == (_typed(a) == _typed(b))
    assert strict_equal(a, a)
    mixed = {"x": [a, {"y": b}]}
    assert strict_equal(mixed, {"x": [a, {"y": b}]})
    assert strict_equal(mixed, {"x": [a, {"y": a}]}) == strict_equal(a, b)


def test_strict_equal_tells_number_types_and_nan_apart() -> None:
    assert not strict_equal({"a": [1]}, {"a": [1.0]}) and not strict_equal([True], [1]) and not strict_equal([0], [False])
    assert strict_equal([0.0], [-0.0]) and not strict_equal([float("nan")], [float("nan")])
    assert not strict_equal({"a": 1}, {"a": 1, "b": 2}) and not strict_equal([1], [1, 2]) and not strict_equal([[1]], [(1,)])


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab.", max_size=8))
def test_queue_address_candidates_are_every_split_at_a_dot(rest) -> None:
    expected = [(rest[:i], rest[i + 1:]) for i in range(len(rest)) if rest[i] == "." and 0 < i < len(rest) - 1]
    assert queue_address_candidates("work_queue." + rest) == expected[::-1]  # the longest pool name first
    assert queue_address_candidates("work_pool." + rest) == []
