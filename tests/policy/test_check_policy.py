"""The pure policy check (``reconciler.check_policy``): the documents rules see, table-driven rule
outcomes, environments and severities, properties (hypothesis), and rules that are themselves bad."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.check_policy import (
    MAX_SCHEMA_DEPTH,
    check_policy,
    config_document,
    documents,
    rule_problems,
)
from reconciler.diagnostics import Pos, SourceRange
from reconciler.model.policy import Rule
from reconciler.model.state import UNMANAGED, DesiredPool, DesiredQueue, DesiredState

HERE = SourceRange("rules.yaml", Pos(3, 5))


def pool(name: str, *, limit: int | None = None, image: str | None = None, queues: tuple[str, ...] = (),
         line: int = 1) -> DesiredPool:
    p = DesiredPool(name=name, type="kubernetes", source=SourceRange("pools.yaml", Pos(line, 3)))
    p.description, p.paused, p.concurrency_limit = None, False, limit
    p.base_job_template = UNMANAGED
    if image is not None:
        p.base_job_template = {"job_configuration": {"image": "{{ image }}"},
                               "variables": {"properties": {"image": {"type": "string", "default": image}}}}
        p.template_source = SourceRange("pools.yaml", Pos(line + 2, 7))
    p.queues = {}
    for i, q in enumerate(queues):
        queue = DesiredQueue(pool=name, name=q, source=SourceRange("pools.yaml", Pos(line + 5 + i, 7)))
        queue.description, queue.paused, queue.concurrency_limit, queue.priority = "", False, None, i + 1
        p.queues[q] = queue
    return p


def state(*pools: DesiredPool, prune: bool = False, scope: tuple[str, ...] = ()) -> DesiredState:
    s = DesiredState(pools={p.name: p for p in pools}, prune=prune, scope=list(scope))
    s.source = SourceRange("pools.yaml", Pos(1, 1))
    s.manage_source = SourceRange("pools.yaml", Pos(2, 1))
    return s


LIMIT = Rule(id="limit", message="set a limit", target="pool", where=HERE,
             schema={"properties": {"concurrency_limit": {"type": "integer"}}})
PROD_LIMIT = Rule(id="prod-limit", message="set a limit in prod", target="pool", environments=("prod",),
                  where=HERE, schema=LIMIT.schema)
PRUNE = Rule(id="prune-scope", message="prune needs a scope", target="config", where=HERE,
             schema={"properties": {"manage": {"if": {"properties": {"prune": {"const": True}}},
                                               "then": {"properties": {"scope": {"minItems": 1}}}}}})
PINNED = Rule(id="pinned", message="pin the image", target="pool", where=HERE, schema={"properties": {
    "base_job_template": {"properties": {"variables": {"properties": {"properties": {"properties": {"image": {
        "properties": {"default": {"anyOf": [{"pattern": "@sha256:[0-9a-f]{64}$"},
                                             {"allOf": [{"pattern": ":[^/:@]+$"},
                                                        {"not": {"pattern": ":latest$"}}]}]}}}}}}}}}}})
QUEUE_LIMIT = Rule(id="queue-limit", message="limit every queue", target="queue", severity="warning", where=HERE,
                   schema={"required": ["concurrency_limit"], "properties": {"concurrency_limit": {"type": "integer"}}})

DIGEST = "prefecthq/prefect@sha256:" + "a" * 64


def outcome(rules: list[Rule], s: DesiredState, environment: str | None = None) -> list[str]:
    return [f"{d.range} {d.severity} {d.summary} [{d.address}] {d.code}"
            for d in check_policy(s, rules, environment)]


CASES = [
    # (id, rules, state, environment, expected)
    ("limit missing", [LIMIT], state(pool("a", line=4)), None,
     ["pools.yaml:4:3 error policy limit: set a limit [work_pool.a] policy_violation"]),
    ("limit set", [LIMIT], state(pool("a", limit=3)), None, []),
    ("prod rule outside prod", [PROD_LIMIT], state(pool("a")), "staging", []),
    ("prod rule without --env", [PROD_LIMIT], state(pool("a")), None, []),
    ("prod rule in prod", [PROD_LIMIT], state(pool("a", line=7)), "prod",
     ["pools.yaml:7:3 error policy prod-limit: set a limit in prod [work_pool.a] policy_violation"]),
    ("prune without scope", [PRUNE], state(pool("a"), prune=True), None,
     ["pools.yaml:2:1 error policy prune-scope: prune needs a scope [None] policy_violation"]),
    ("prune with scope", [PRUNE], state(pool("a"), prune=True, scope=("team-*",)), None, []),
    ("no prune, no scope", [PRUNE], state(pool("a")), None, []),
    ("latest image", [PINNED], state(pool("a", image="prefecthq/prefect:latest", line=10)), None,
     ["pools.yaml:12:7 error policy pinned: pin the image [work_pool.a] policy_violation"]),
    ("untagged image", [PINNED], state(pool("a", image="prefecthq/prefect")), None,
     ["pools.yaml:3:7 error policy pinned: pin the image [work_pool.a] policy_violation"]),
    ("registry port, no tag", [PINNED], state(pool("a", image="registry:5000/prefect")), None,
     ["pools.yaml:3:7 error policy pinned: pin the image [work_pool.a] policy_violation"]),
    ("tagged image", [PINNED], state(pool("a", image="registry:5000/prefect:3.1.0")), None, []),
    ("digest", [PINNED], state(pool("a", image=DIGEST)), None, []),
    ("unmanaged template", [PINNED], state(pool("a")), None, []),
    ("queue warning once per queue", [QUEUE_LIMIT], state(pool("a", queues=("x", "y"), line=1)), None,
     ["pools.yaml:6:7 warning policy queue-limit: limit every queue [work_queue.a.x] policy_violation",
      "pools.yaml:7:7 warning policy queue-limit: limit every queue [work_queue.a.y] policy_violation"]),
]


@pytest.mark.parametrize("rules,s,environment,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rules_pass_and_fail(rules, s, environment, expected):
    assert outcome(rules, s, environment) == expected


def test_a_violation_says_which_value_fails_as_json_and_where_the_rule_is():
    [d] = check_policy(state(pool("a")), [LIMIT])
    assert d.path == ("concurrency_limit",)
    assert d.detail == ("concurrency_limit: null is not of type 'integer'. Rule 'limit' at rules.yaml:3:5.")


def test_a_config_violation_under_a_pool_points_at_that_pool():
    rule = Rule(id="names", message="pool names are lower case", target="config", where=HERE,
                schema={"properties": {"work_pools": {"propertyNames": {"pattern": "^[a-z-]+$"}}}})
    [d] = check_policy(state(pool("ok"), pool("Bad", line=9)), [rule])
    assert (str(d.range), d.address) == ("pools.yaml:9:3", "work_pool.Bad")


def test_the_documents_rules_see():
    s = state(pool("a", limit=2, image="img:1", queues=("q",)), prune=True, scope=("a*",))
    [(address, doc, _)] = list(documents(s, "pool", "prod"))
    assert address == "work_pool.a"
    assert doc == {"name": "a", "type": "kubernetes", "description": None, "paused": False, "concurrency_limit": 2,
                   "base_job_template": s.pools["a"].base_job_template,
                   "queues": {"q": {"pool": "a", "name": "q", "description": "", "paused": False,
                                    "concurrency_limit": None, "priority": 1}}}
    assert [a for a, _, _ in documents(s, "queue", None)] == ["work_queue.a.q"]
    assert config_document(s, "prod") == {"environment": "prod", "manage": {"prune": True, "scope": ["a*"]},
                                          "work_pools": {"a": doc}}
    unmanaged = state(pool("b"))
    [(_, doc, _)] = list(documents(unmanaged, "pool", None))
    assert "base_job_template" not in doc  # an unmanaged template is not in the planned state


# ------------------------------------------------------------------------- properties

names = st.text("abcdefgh-", min_size=1, max_size=8)
limits = st.one_of(st.none(), st.integers(0, 50))
states = st.lists(st.tuples(names, limits, st.lists(names, max_size=3, unique=True)), max_size=6,
                  unique_by=lambda t: t[0]).map(
    lambda rows: state(*[pool(n, limit=lim, queues=tuple(qs)) for n, lim, qs in rows]))
targets = st.sampled_from(["pool", "queue", "config"])


@settings(max_examples=60, deadline=None)
@given(states, targets, st.sampled_from([{}, {"type": "object"}, {"not": {"required": ["no-such-key"]}}]))
def test_a_rule_that_accepts_everything_never_reports(s, target, schema):
    assert list(check_policy(s, [Rule(id="all", message="m", target=target, schema=schema)], "prod")) == []


@settings(max_examples=60, deadline=None)
@given(states, targets)
def test_a_rule_nothing_satisfies_reports_each_object_once(s, target):
    rule = Rule(id="none", message="m", target=target, schema={"not": {}, "required": ["x"], "type": "string"})
    found = [d.address for d in check_policy(s, [rule])]
    expected = [address for address, _, _ in documents(s, target, None)]
    assert sorted(found) == sorted(expected) and len(set(found)) == len(found)  # in source order, each once


@settings(max_examples=60, deadline=None)
@given(states)
def test_the_limit_rule_reports_exactly_the_pools_without_a_limit(s):
    found = [d.address for d in check_policy(s, [LIMIT])]
    assert sorted(found) == sorted(p.address for p in s.pools.values() if p.concurrency_limit is None)


# ------------------------------------------------------------------------- bad rules

BAD_SCHEMAS = [
    ("remote $ref", {"$ref": "https://example.com/schema.json"}, ("$ref",), "refers outside the rule's schema"),
    ("nested remote $ref", {"properties": {"a": {"$ref": "http://169.254.169.254/latest"}}},
     ("properties", "a", "$ref"), "refers outside"),
    ("relative $ref", {"$ref": "other.json#/x"}, ("$ref",), "refers outside"),
    ("$id", {"$id": "https://example.com/x", "$ref": "#/$defs/a", "$defs": {"a": {}}}, ("$id",), "$id is not allowed"),
    ("dangling local $ref", {"$ref": "#/$defs/missing"}, ("$ref",), "names nothing"),
    ("lookahead", {"properties": {"x": {"pattern": "^(?!latest).*$"}}}, ("properties", "x", "pattern"),
     "cannot be used: invalid perl operator"),
    ("backreference", {"pattern": "(a)\\1"}, ("pattern",), "cannot be used"),
    ("pattern property", {"patternProperties": {"(?<=x)y": {}}}, ("patternProperties", "(?<=x)y"), "cannot be used"),
    ("not a schema", {"type": "integr"}, ("type",), "not a valid JSON Schema"),
    ("other dialect", {"$schema": "http://json-schema.org/draft-04/schema#"}, ("$schema",), "unsupported $schema"),
    ("too deep", None, (), "nested too deeply"),
]


def _deep(levels: int) -> dict:
    schema: dict = {}
    for _ in range(levels):
        schema = {"not": schema}
    return schema


@pytest.mark.parametrize("schema,path,words", [
    (_deep(MAX_SCHEMA_DEPTH + 1) if c[1] is None else c[1], c[2], c[3]) for c in BAD_SCHEMAS],
    ids=[c[0] for c in BAD_SCHEMAS])
def test_a_bad_rule_is_a_problem_at_its_path(schema, path, words):
    problems = rule_problems(schema)
    assert problems, schema
    assert problems[0][0] == path and words in problems[0][1], problems


def test_good_schemas_have_no_problems():
    for rule in (LIMIT, PRUNE, PINNED, QUEUE_LIMIT):
        assert rule_problems(rule.schema) == []
    assert rule_problems({"$defs": {"n": {"type": "integer"}}, "properties": {"x": {"$ref": "#/$defs/n"}}}) == []
    assert rule_problems({"properties": {"pattern": {"const": "(?!x)"}}}) == []  # a property named pattern is data


def test_a_catastrophic_pattern_runs_in_linear_time():
    """``(a+)+$`` against ``aaaa…b`` backtracks exponentially in Python's re (this test would not end);
    RE2's time is linear in the input."""
    rule = Rule(id="redos", message="m", target="pool", where=HERE,
                schema={"properties": {"name": {"pattern": "^(a+)+$"}}})
    assert rule_problems(rule.schema) == []
    s = state(pool("a" * 5000 + "b"))
    [d] = check_policy(s, [rule])
    assert d.summary == "policy redos: m"


def test_a_rule_that_recurses_without_descending_is_an_error_at_the_rule():
    rule = Rule(id="loop", message="m", target="pool", where=HERE, schema={"$ref": "#"})
    assert rule_problems(rule.schema) == []
    [d] = check_policy(state(pool("a")), [rule])
    assert (d.severity, str(d.range), d.code) == ("error", "rules.yaml:3:5", "invalid_policy")
    assert "cannot be evaluated" in d.summary
