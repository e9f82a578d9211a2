"""Reading policy rules (``reconciler.config.policy``): the ``policy:`` key of each config file and
the rule files it names, every problem at file:line, rules from HCL configurations (a YAML file
beside the ``.tf`` files), and hostile rule files."""

from __future__ import annotations

import socket

import pytest

from reconciler.check_policy import check_policy
from reconciler.config import files as config_files
from reconciler.config.policy import MAX_RULES

LIMIT_RULE = """\
    - id: limit
      message: set a limit
      target: pool
      schema:
        properties:
          concurrency_limit: {type: integer}
"""

POOLS = """\
version: 1
work_pools:
  a:
    type: process
  b:
    type: process
    concurrency_limit: 2
"""


def violations(state, environment=None):
    return [f"{d.range} {d.severity} {d.summary} [{d.address}]" for d in check_policy(state, state.policy, environment)]


def test_inline_rules_and_rule_files_apply_with_the_lines_of_the_objects(tree):
    tree.write("pools.yaml", POOLS + "policy:\n  files: [policies/]\n  rules:\n" + LIMIT_RULE)
    tree.write("policies/queues.yaml", """\
        version: 1
        rules:
          - id: no-prune
            message: do not prune
            target: config
            severity: warning
            schema: {properties: {manage: {properties: {prune: {const: false}}}}}
        """)
    state, diags = tree.load("pools.yaml")
    assert not diags, tree.where(diags)
    assert [r.id for r in state.policy] == ["limit", "no-prune"]
    assert str(state.policy[0].where) == "pools.yaml:11:11"
    assert str(state.policy[1].where) == "policies/queues.yaml:3:9"
    assert violations(state) == ["pools.yaml:3:3 error policy limit: set a limit [work_pool.a]"]


def test_an_overlay_adds_rules_and_cannot_remove_one(tree):
    tree.write("base.yaml", POOLS + "policy:\n  rules:\n" + LIMIT_RULE)
    tree.write("prod.yaml", """\
        version: 1
        policy:
          rules: []
          files: []
        work_pools:
          c: {type: process}
        """)
    state, diags = tree.load("base.yaml", "prod.yaml")
    assert not diags, tree.where(diags)
    assert [r.id for r in state.policy] == ["limit"]
    assert violations(state) == ["base.yaml:3:3 error policy limit: set a limit [work_pool.a]",
                                 "prod.yaml:6:3 error policy limit: set a limit [work_pool.c]"]


def test_a_duplicate_rule_id_is_an_error_naming_the_first(tree):
    tree.write("base.yaml", POOLS + "policy:\n  rules:\n" + LIMIT_RULE)
    tree.write("prod.yaml", "version: 1\npolicy:\n  rules:\n" + LIMIT_RULE.replace("set a limit", "other"))
    state, diags = tree.load("base.yaml", "prod.yaml")
    assert state is None
    assert tree.where(diags) == ["prod.yaml:4:11 error duplicate policy rule id 'limit' [None]"]
    assert "first declared at base.yaml:10:11" in diags.items[0].detail
    assert diags.items[0].code == "invalid_policy"


@pytest.mark.parametrize("rule,expected", [
    ("    - {id: x, message: m, target: pools, schema: {}}\n",
     "pools.yaml:10:35 error target: Input should be 'pool', 'queue' or 'config' [None]"),
    ("    - {id: x, message: m, target: pool, schema: {}, severty: warning}\n",
     "pools.yaml:10:53 error unknown key 'severty' [None]"),
    ("    - {id: x, target: pool, schema: {}}\n", "pools.yaml:10:7 error missing required key 'message' [None]"),
    ("    - {id: x, message: m, target: pool, schema: [1]}\n",
     "pools.yaml:10:49 error schema must be a mapping, not a list [None]"),
    ("    - {id: x, message: m, target: pool, environments: [], schema: {}}\n",
     "pools.yaml:10:55 error environments must not be empty [None]"),
    ("    - id: x\n      message: m\n      target: pool\n      schema:\n        properties:\n"
     "          image: {$ref: 'https://evil.example/s.json'}\n",
     "pools.yaml:15:25 error policy rule 'x': $ref 'https://evil.example/s.json' refers outside the rule's schema [None]"),
    ("    - id: x\n      message: m\n      target: pool\n      schema:\n        properties:\n"
     "          name: {pattern: '^(?!prefect)'}\n",
     "pools.yaml:15:27 error policy rule 'x': the pattern '^(?!prefect)' cannot be used: invalid perl operator: (?! [None]"),
    ("    - id: x\n      message: m\n      target: pool\n      schema:\n        properties:\n"
     "          name: {type: strin}\n",
     "pools.yaml:15:24 error policy rule 'x': the rule's schema is not a valid JSON Schema: 'strin' is not valid "
     "under any of the given schemas [None]"),
])
def test_a_bad_rule_is_an_error_at_its_line(tree, rule, expected):
    tree.write("pools.yaml", POOLS + "policy:\n  rules:\n" + rule)
    state, diags = tree.load("pools.yaml")
    assert state is None
    assert tree.where(diags) == [expected]
    assert {d.code for d in diags} == {"invalid_policy"}


@pytest.mark.parametrize("files,text,expected", [
    ("[policies/missing.yaml]", None, "pools.yaml:9:11 error file not found: policies/missing.yaml"),
    ("['policies/*.yml']", None, "pools.yaml:9:11 error the policy files pattern 'policies/*.yml' matches no file"),
    ("[policies/]", None, "pools.yaml:9:11 error no rule files in policies"),
    ("[policies/r.yaml]", "rules: []\n", "policies/r.yaml:1:1 error missing required key 'version'"),
    ("[policies/r.yaml]", "version: 1\nrules:\n  - {id: a, message: m, target: pool, schema: {}, x: 1}\n",
     "policies/r.yaml:3:51 error unknown key 'x'"),
    ("[policies/r.yaml]", "version: 1\nwork_pools: {}\nrules: []\n", "policies/r.yaml:2:1 error unknown key 'work_pools'"),
    ("[policies/r.yaml]", "version: 1\nrules: [\n", "policies/r.yaml:"),
    ("[/etc/hostname]", None, "pools.yaml:9:11 error /etc/hostname is outside the configuration"),
])
def test_rule_files_that_cannot_be_used_are_errors_at_a_line(tree, files, text, expected):
    tree.write("pools/pools.yaml", POOLS + f"policy:\n  files: {files}\n")
    (tree.root / "policies").mkdir()
    (tree.root / "pools" / "policies").mkdir()
    (tree.root / "outside.yaml").write_text("version: 1\nrules: []\n")
    if text is not None:
        (tree.root / "pools" / "policies" / "r.yaml").write_text(text)
    state, diags = tree.load("pools/pools.yaml")
    assert state is None
    found = [w.replace("pools/", "") for w in tree.where(diags)]
    assert any(w.startswith(expected) for w in found), found
    assert all(d.severity == "error" for d in diags)


def test_rules_beside_an_hcl_configuration(tree):
    """HCL configurations carry policy the same way: a YAML file with `policy:` beside the .tf files."""
    tree.write("infra/main.tf", """\
        resource "prefect_work_pool" "a" {
          name = "tf-a"
          type = "process"
        }
        """)
    tree.write("infra/policy.yaml", "version: 1\npolicy:\n  files: [../policies/limits.yaml]\n")
    tree.write("policies/limits.yaml", "version: 1\nrules:\n" + LIMIT_RULE.replace("    ", "  ", 1).replace(
        "\n      ", "\n    "))
    state, diags = tree.load("infra")
    assert not [d for d in diags if d.severity == "error"], tree.where(diags)
    assert [r.id for r in state.policy] == ["limit"]
    assert violations(state) == ["infra/main.tf:1:1 error policy limit: set a limit [work_pool.tf-a]"]


# ------------------------------------------------------------------------- hostile rule files

def test_a_huge_rule_file_is_refused_before_it_is_parsed(tree):
    tree.write("pools.yaml", POOLS + "policy:\n  files: [big.yaml]\n")
    with open(tree.root / "big.yaml", "w") as fh:
        fh.write("version: 1\nrules:\n")
        fh.write(("  # " + "x" * 1000 + "\n") * (config_files.MAX_FILE_BYTES // 1000))
    state, diags = tree.load("pools.yaml")
    assert state is None
    assert [d.code for d in diags] == ["input_too_large"]


def test_a_deeply_nested_rule_schema_is_an_error_not_a_crash(tree):
    deep = "{not: " * 150 + "{}" + "}" * 150
    tree.write("pools.yaml", POOLS + f"policy:\n  rules:\n    - {{id: d, message: m, target: pool, schema: {deep}}}\n")
    state, diags = tree.load("pools.yaml")
    assert state is None
    assert tree.where(diags) == ["pools.yaml:10:49 error policy rule 'd': the rule's schema is nested too deeply "
                                 "(over 32 levels) [None]"]


def test_too_many_rules_is_an_error(tree):
    rules = "".join(f"    - {{id: r{i}, message: m, target: pool, schema: {{}}}}\n" for i in range(MAX_RULES + 1))
    tree.write("pools.yaml", POOLS + "policy:\n  rules:\n" + rules)
    state, diags = tree.load("pools.yaml")
    assert state is None
    assert [d.summary for d in diags] == [f"more than {MAX_RULES:,} policy rules"]


def test_no_rule_makes_a_network_connection(tree, monkeypatch):
    """A remote $ref is refused when the rule is read; and a rule that got past that (built directly)
    resolves against an empty registry when checked: no socket is ever opened."""
    def no_network(*args, **kwargs):
        raise AssertionError("a policy rule opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    tree.write("pools.yaml", POOLS + "policy:\n  rules:\n    - {id: r, message: m, target: pool, schema: "
               "{$ref: 'http://127.0.0.1:9/schema.json'}}\n")
    state, diags = tree.load("pools.yaml")
    assert state is None and [d.code for d in diags] == ["invalid_policy"]

    from reconciler.model.policy import Rule

    tree.write("ok.yaml", POOLS)
    state, _ = tree.load("ok.yaml")
    rule = Rule(id="r", message="m", target="pool", schema={"$ref": "http://127.0.0.1:9/schema.json"})
    found = check_policy(state, [rule])
    assert [(d.severity, d.code) for d in found] == [("error", "invalid_policy")]


def test_the_rule_file_schema_is_current_and_the_example_rules_follow_it():
    import json
    from pathlib import Path

    from jsonschema import Draft7Validator
    from ruamel.yaml import YAML

    from reconciler.model.document import policy_schema_text

    repo = Path(__file__).resolve().parents[2]
    published = repo / "provider-schema" / "policy.schema.json"
    assert published.read_text(encoding="utf-8") == policy_schema_text(), "run `make schema`"
    schema = json.loads(published.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    examples = sorted((repo / "examples" / "policy" / "rules").glob("*.yaml"))
    assert len(examples) == 3
    for path in examples:
        assert path.read_text().startswith("# yaml-language-server: $schema=../../../provider-schema/policy.schema.json")
        assert list(Draft7Validator(schema).iter_errors(YAML(typ="safe").load(path.read_text()))) == []
