"""One rule book, two tools: ``poolform validate`` and a real ``terraform plan`` give the same verdict.

Every case below is one pool (with its queues), written once as data and rendered as a YAML
config and as Terraform resources. ``poolform validate --json`` reads the YAML and, for the same
verdict from its HCL reader, the very ``.tf`` directory that ``terraform plan -json`` (terraform
1.11.4 and our provider) plans. Each side must report exactly the expected diagnostics, with
the same severity and words, on the same object and, for terraform, on the attribute's line.
Rules checked when Terraform validates are in one directory; those that need the provider's
configuration or the sibling resources (planning) in another, since terraform plans nothing
once validation failed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.cli.main import cli
from reconciler.model.rules import INT32_MAX

pytestmark = pytest.mark.terraform

TEMPLATE_OK = {"job_configuration": {"command": "{{ command }}"},
               "variables": {"type": "object", "properties": {"command": {"type": "string"}}}}
TEMPLATE_UNDECLARED = {"job_configuration": {"command": "{{ command }}", "image": "{{ image }}"},
                       "variables": {"type": "object", "properties": {"command": {"type": "string"}}}}


def _deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    for _ in range(levels):
        node = {"x": node}
    return node


@dataclass
class Case:
    id: str
    pool: dict[str, Any]
    queues: dict[str, dict[str, Any]] = field(default_factory=dict)
    expect: list[tuple[str, str, str]] = field(default_factory=list)
    """(severity, summary, object): object "pool" or the queue's name."""


MISSING_TYPE = ("warning", "type not set: the pool will be created as prefect-agent", "pool")

VALIDATION = [
    Case("ok", {"name": "ok pool.v1", "type": "process", "concurrency_limit": 0,
                "base_job_template": TEMPLATE_OK},
         {"q.one": {"priority": INT32_MAX, "concurrency_limit": 0}, "q two": {"priority": 1}}),
    Case("line-break", {"name": "a\nb", "type": "process"}, {},
         [("error", "pool name 'a\\nb' contains a line break", "pool")]),
    Case("chars", {"name": "a/b", "type": "process"}, {},
         [("error", "pool name 'a/b' contains a character the server refuses", "pool")]),
    Case("blank", {"name": "  ", "type": "process"}, {},
         [("error", "pool name cannot be an empty string", "pool")]),
    Case("reserved", {"name": "PrefectThing", "type": "process"}, {},
         [("error", "pool name 'PrefectThing' is reserved", "pool")]),
    Case("queue-names", {"name": "qn", "type": "process"}, {"x\ny": {}, "x%y": {}},
         [("error", "queue name 'x\\ny' contains a line break", "x\ny"),
          ("error", "queue name 'x%y' is not allowed", "x%y")]),
    Case("pool-number", {"name": "pool-num", "type": "process", "concurrency_limit": INT32_MAX + 1}, {},
         [("error", f"concurrency_limit must be at most {INT32_MAX}, not the number {INT32_MAX + 1}", "pool")]),
    # (terraform validates no resource that depends on one with an error: queues' cases have valid pools)
    Case("numbers", {"name": "num", "type": "process", "concurrency_limit": -0},
         {"zero": {"priority": 0, "concurrency_limit": -1}, "big": {"priority": INT32_MAX + 1},
          "half": {"priority": 1.5}},
         [("error", "priority must be at least 1, not the number 0", "zero"),
          ("error", "concurrency_limit must be at least 0, not the number -1", "zero"),
          ("error", f"priority must be at most {INT32_MAX}, not the number {INT32_MAX + 1}", "big"),
          ("error", "priority must be an integer, not the number 1.5", "half")]),
    Case("no-type", {"name": "untyped"}, {}, [MISSING_TYPE]),
    Case("template", {"name": "tpl", "type": "process", "base_job_template": TEMPLATE_UNDECLARED}, {},
         [("error", "job_configuration uses undeclared variable(s): image", "pool")]),
    Case("deep", {"name": "deep", "type": "process",
                  "base_job_template": {"job_configuration": _deep(70), "variables": {"type": "object"}}}, {},
         [("error", "the base job template is nested too deeply (over 64 levels)", "pool")]),
]

PLANNING = [
    Case("typo", {"name": "typo", "type": "kuberentes"}, {},
         [("error", "unknown work pool type 'kuberentes'", "pool")]),
    Case("ties", {"name": "ties", "type": "process"}, {"a": {"priority": 1}, "b": {"priority": 1}, "c": {"priority": 2}},
         [("error", "queues 'a' and 'b' both have priority 1", "a|b")]),
    Case("limits", {"name": "limits", "type": "process", "concurrency_limit": 2},
         {"wide": {"concurrency_limit": 3}, "narrow": {"concurrency_limit": 2}},
         [("warning", "queue concurrency_limit 3 is above the pool's 2", "wide")]),
    Case("fine", {"name": "fine", "type": "docker", "concurrency_limit": 5},
         {"default": {"priority": 1}, "low": {"priority": 7, "concurrency_limit": 5}}),
]

CUSTOM = [
    Case("custom", {"name": "custom", "type": "my-company-worker"}, {"q": {"priority": 3}}),
]


# --------------------------------------------------------------------------- rendering

def _yaml(case: Case) -> str:
    pool = {k: v for k, v in case.pool.items() if k not in ("name", "base_job_template")}
    if "base_job_template" in case.pool:
        pool["base_job_template"] = case.pool["base_job_template"]
    if case.queues:
        pool["queues"] = case.queues
    return "version: 1\nwork_pools:\n  " + json.dumps(case.pool["name"]) + ": " + json.dumps(pool) + "\n"


def _hcl_string(text: str) -> str:
    return json.dumps(text).replace("${", "$${").replace("%{", "%%{")


def _label(case: Case, queue: str | None = None) -> str:
    base = "c_" + re.sub(r"\W", "_", case.id)
    return base if queue is None else f"{base}__{list(case.queues).index(queue)}"


def _hcl(case: Case) -> str:
    pool = case.pool
    lines = [f'resource "prefect_work_pool" "{_label(case)}" {{', f"  name = {_hcl_string(pool['name'])}"]
    for key in ("type", "concurrency_limit"):
        if key in pool:
            lines.append(f"  {key} = {json.dumps(pool[key])}")
    if "base_job_template" in pool:
        lines.append(f"  base_job_template = {_hcl_string(json.dumps(pool['base_job_template']))}")
    lines.append("}")
    for name, queue in case.queues.items():
        lines += [f'resource "prefect_work_queue" "{_label(case, name)}" {{',
                  f"  work_pool_name = prefect_work_pool.{_label(case)}.name",
                  f"  name = {_hcl_string(name)}"]
        lines += [f"  {key} = {json.dumps(value)}" for key, value in queue.items()]
        lines.append("}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the two tools

def _normalize(summary: str) -> str:
    """Two tied queues are named in the order each tool met them: compare them sorted."""
    tie = re.fullmatch(r"queues '(.+)' and '(.+)' both have priority (\d+)", summary)
    if tie:
        first, second = sorted(tie.group(1, 2))
        return f"queues '{first}' and '{second}' both have priority {tie.group(3)}"
    return summary


def _expected(cases: list[Case]) -> set[tuple[str, str, str, str]]:
    out = set()
    for case in cases:
        for severity, summary, obj in case.expect:
            out.add((case.id, severity, _normalize(summary), obj))
    return out


def _object(case: Case, obj: str, expected_objects: set[str]) -> str:
    """A tie may land on either queue: the expected "a|b" matches both."""
    for candidate in expected_objects:
        if "|" in candidate and obj in candidate.split("|"):
            return candidate
    return obj


def _poolform(args: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["validate", "--json", *args])
    assert result.exit_code in (0, 1) and result.stdout.strip(), (result.exit_code, result.output, result.exception)
    return json.loads(result.stdout)


def _poolform_verdict(cases: list[Case], document: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    by_address: dict[str, tuple[Case, str]] = {}
    for case in cases:
        by_address[f"work_pool.{case.pool['name']}"] = (case, "pool")
        for name in case.queues:
            by_address[f"work_queue.{case.pool['name']}.{name}"] = (case, name)
    expected = _expected(cases)
    out = set()
    for diagnostic in document["diagnostics"]:
        case, obj = by_address[diagnostic["address"]]
        objects = {e[3] for e in expected if e[0] == case.id}
        out.add((case.id, diagnostic["severity"], _normalize(diagnostic["summary"]), _object(case, obj, objects)))
    return out


def _terraform_verdict(cases: list[Case], tf, workdir: Path) -> set[tuple[str, str, str, str]]:
    by_address: dict[str, tuple[Case, str]] = {}
    for case in cases:
        by_address[f"prefect_work_pool.{_label(case)}"] = (case, "pool")
        for name in case.queues:
            by_address[f"prefect_work_queue.{_label(case, name)}"] = (case, name)
    proc = tf.run("plan", "-json", "-input=false", "-no-color", check=False)
    expected = _expected(cases)
    lines = (workdir / "main.tf").read_text().splitlines()
    out = set()
    for raw in proc.stdout.splitlines():
        message = json.loads(raw)
        if message.get("type") != "diagnostic":
            continue
        diagnostic = message["diagnostic"]
        assert "address" in diagnostic, f"a diagnostic on no resource: {diagnostic}"
        case, obj = by_address[diagnostic["address"]]
        objects = {e[3] for e in expected if e[0] == case.id}
        out.add((case.id, diagnostic["severity"], _normalize(diagnostic["summary"]), _object(case, obj, objects)))
        attribute = _attribute_of(diagnostic["summary"])
        if attribute is not None:  # on the attribute's line, as the provider reported the attribute path
            line = lines[diagnostic["range"]["start"]["line"] - 1]
            assert line.strip().startswith(attribute), (diagnostic, line)
    assert proc.returncode == (1 if any(e[1] == "error" for e in expected) else 0), proc.stdout + proc.stderr
    return out


def _attribute_of(summary: str) -> str | None:
    for prefix, attribute in (("pool name", "name"), ("queue name", "name"), ("priority", "priority"),
                              ("concurrency_limit", "concurrency_limit"), ("queue concurrency_limit", "concurrency_limit"),
                              ("unknown work pool type", "type"), ("queues ", "priority"),
                              ("the base job template", "base_job_template"),
                              ("job_configuration", "base_job_template")):
        if summary.startswith(prefix):
            return attribute
    return None


def _check(cases: list[Case], tf, provider_block: str = "") -> None:
    tf.write(provider_block + "".join(_hcl(case) for case in cases))
    tf.init()
    expected = _expected(cases)
    from_yaml: set[tuple[str, str, str, str]] = set()
    for case in cases:
        path = tf.dir.parent / f"{case.id}.yaml"
        path.write_text(_yaml(case))
        args = ["-f", str(path)] + (["--allow-unknown-type"] if provider_block else [])
        document = _poolform(args)
        from_yaml |= _poolform_verdict([case], document)
        assert document["valid"] == (not any(e[0] == "error" for e in case.expect)), (case.id, document)
    assert from_yaml == expected, "poolform validate (YAML) differs from the rule book"
    from_hcl = _poolform_verdict(cases, _poolform(["-f", str(tf.dir)]))
    assert from_hcl == expected, "poolform validate (the .tf directory) differs from the rule book"
    assert _terraform_verdict(cases, tf, tf.dir) == expected, "terraform plan differs from the rule book"


def test_rules_checked_at_validation_give_one_verdict(tf):
    _check(VALIDATION, tf)


def test_rules_checked_at_planning_give_one_verdict(tf):
    _check(PLANNING, tf)


def test_a_custom_worker_type_is_allowed_by_the_provider_block_in_both_tools(tf):
    _check(CUSTOM, tf, 'provider "prefect" {\n  allow_unknown_type = true\n}\n')
    # and without it, both refuse the same object
    tf.write("".join(_hcl(case) for case in CUSTOM))
    document = _poolform(["-f", str(tf.dir)])
    assert [d["summary"] for d in document["diagnostics"]] == ["unknown work pool type 'my-company-worker'"]
    assert "allow_unknown_type = true" in document["diagnostics"][0]["detail"]
    proc = tf.run("plan", "-json", "-input=false", "-no-color", check=False)
    diagnostics = [json.loads(line)["diagnostic"] for line in proc.stdout.splitlines()
                   if json.loads(line).get("type") == "diagnostic"]
    assert [(d["severity"], d["summary"]) for d in diagnostics] == [("error", "unknown work pool type 'my-company-worker'")]
    assert "allow_unknown_type = true" in diagnostics[0]["detail"]


def test_a_tie_with_a_queue_that_does_not_change_is_refused_and_nothing_is_applied(tf, api, names):
    """Terraform plans every resource, unchanged ones too: a queue moved onto an existing queue's
    priority is refused at plan time, as poolform refuses the same file."""
    pool = names()
    body = (f'resource "prefect_work_pool" "p" {{\n  name = "{pool}"\n  type = "process"\n}}\n'
            'resource "prefect_work_queue" "a" {\n  work_pool_name = prefect_work_pool.p.name\n  name = "a"\n'
            '  priority = 2\n}\n'
            'resource "prefect_work_queue" "b" {\n  work_pool_name = prefect_work_pool.p.name\n  name = "b"\n'
            '  priority = PRIORITY\n}\n')
    tf.write(body.replace("PRIORITY", "3"))
    tf.init()
    tf.apply()
    tf.write(body.replace("PRIORITY", "2"))
    proc = tf.run("apply", "-auto-approve", "-input=false", "-no-color", check=False)
    assert proc.returncode == 1
    assert "queues 'a' and 'b' both have priority 2" in proc.stderr or "queues 'b' and 'a' both have priority 2" in proc.stderr
    assert {n: q["priority"] for n, q in api.queues(pool).items()} == {"default": 1, "a": 2, "b": 3}
    document = _poolform(["-f", str(tf.dir)])
    assert [d["summary"] for d in document["diagnostics"]] == ["queues 'a' and 'b' both have priority 2"]
