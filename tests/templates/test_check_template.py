"""check_template: Prefect's structure, placeholder, schema and default rules, plus lint warnings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reconciler.templates import (
    PLACEHOLDER_RE,
    TemplateProblem,
    check_template,
    default_template,
    find_placeholders,
)

CAPTURE = json.loads((Path(__file__).parent / "data" / "pool-create-invalid-base-job-template.json").read_text())
EXCHANGES = [e for e in CAPTURE["exchanges"]
             if e["method"] == "POST" and "base_job_template" in (e.get("request_body") or {})]


def errors(template):
    return [p for p in check_template(template) if p.severity == "error"]


@pytest.mark.parametrize("exchange", EXCHANGES, ids=[e["step"] for e in EXCHANGES])
def test_refuses_what_prefect_refused_and_accepts_what_it_accepted(exchange):
    template = exchange["request_body"]["base_job_template"]
    found = errors(template)
    if exchange["status_code"] in (200, 201):
        assert found == []
    else:
        assert found, f"Prefect answered {exchange['status_code']} but check_template found nothing"


def _prefect_undeclared(exchange):
    detail = exchange["response_body"].get("exception_detail") or []
    for item in detail:
        match = re.search(r"undeclared variable\(s\): (.*)\.$", item.get("msg", ""))
        if match:
            return {name.strip() for name in match.group(1).split(",")}
    return None


UNDECLARED = [e for e in EXCHANGES if _prefect_undeclared(e)]


@pytest.mark.parametrize("exchange", UNDECLARED, ids=[e["step"] for e in UNDECLARED])
def test_undeclared_names_match_prefects(exchange):
    found = {p.summary.rsplit(": ", 1)[1] for p in errors(exchange["request_body"]["base_job_template"])
             if "undeclared variable(s)" in p.summary}
    assert found == _prefect_undeclared(exchange)


CASES = {
    "empty_is_valid": ({}, []),
    "not_a_mapping": ("nope", [((), "base_job_template must be a mapping")]),
    "missing_variables": ({"job_configuration": {"a": 1}}, [((), "base_job_template needs a non-empty variables")]),
    "empty_both": ({"job_configuration": {}, "variables": {}},
                   [((), "base_job_template needs a non-empty job_configuration and variables")]),
    "variables_is_a_string": ({"job_configuration": {"a": 1}, "variables": "x"},
                              [(("variables",), "variables must be a JSON Schema object")]),
    "properties_is_a_list": ({"job_configuration": {"a": 1}, "variables": {"properties": ["a"]}},
                             [(("variables", "properties"), "variables.properties must be a mapping")]),
    "job_configuration_is_a_list": ({"job_configuration": ["a"], "variables": {"type": "object"}},
                                    [(("job_configuration",), "job_configuration must be a mapping")]),
    "undeclared_nested_in_list": (
        {"job_configuration": {"a": {"b": ["x", "{{ deep }}"]}}, "variables": {"properties": {}}},
        [(("job_configuration", "a", "b", 1), "job_configuration uses undeclared variable(s): deep")]),
    "env_placeholder_needs_a_property": (
        {"job_configuration": {"h": "{{ $HOME }}"}, "variables": {"properties": {"x": {}}}},
        [(("job_configuration", "h"), "job_configuration uses undeclared variable(s): $HOME")]),
    "block_placeholder_needs_a_property": (
        {"job_configuration": {"h": "{{ prefect.blocks.secret.x }}"}, "variables": {"properties": {"x": {}}}},
        [(("job_configuration", "h"), "job_configuration uses undeclared variable(s): prefect.blocks.secret.x")]),
    "bad_schema_keyword_path": (
        {"job_configuration": {"x": "{{ x }}"}, "variables": {"properties": {"x": {"type": "nope"}}}},
        [(("variables", "properties", "x", "type"),
          "variables is not a valid JSON Schema: 'nope' is not valid under any of the given schemas")]),
    "default_violates_schema": (
        {"job_configuration": {"n": "{{ n }}"}, "variables": {"properties": {"n": {"type": "integer", "default": "abc"}}}},
        [(("variables", "properties", "n", "default"),
          "the default of variable 'n' does not match its schema: 'abc' is not valid under any of the given schemas")]),
    "default_checked_through_ref": (
        {"job_configuration": {"n": "{{ n }}"},
         "variables": {"properties": {"n": {"$ref": "#/definitions/N", "default": -1}},
                       "definitions": {"N": {"type": "integer", "minimum": 0}}}},
        [(("variables", "properties", "n", "default"),
          "the default of variable 'n' does not match its schema: -1 is less than the minimum of 0")]),
    "required_is_ignored_for_defaults": (
        {"job_configuration": {"a": "{{ a }}", "b": "{{ b }}"},
         "variables": {"required": ["a"], "properties": {"a": {"type": "string"}, "b": {"type": "string", "default": "x"}}}},
        []),
    "placeholder_without_spaces": (
        {"job_configuration": {"c": "{{command}}"}, "variables": {"properties": {"command": {"type": "string"}}}}, []),
    "static_template_accepted": ({"job_configuration": {"command": "echo"}, "variables": {"type": "object"}}, []),
    "nan_and_infinity_are_not_json": (
        {"job_configuration": {"n": "{{ n }}", "limits": [1.5, float("-inf")]},
         "variables": {"properties": {"n": {"type": "number", "default": float("nan")}}}},
        [(("job_configuration", "limits", 1), "job_configuration.limits.1 is -Infinity, which JSON cannot carry"),
         (("variables", "properties", "n", "default"), "variables.properties.n.default is NaN, which JSON cannot carry")]),
}


@pytest.mark.parametrize("template,expected", list(CASES.values()), ids=list(CASES))
def test_check_template_errors(template, expected):
    assert [(p.path, p.summary) for p in errors(template)] == expected


def test_unreferenced_variable_is_a_warning():
    problems = check_template({"job_configuration": {"a": "{{ a }}"},
                               "variables": {"properties": {"a": {}, "unused": {"type": "string"}}}})
    assert problems == [TemplateProblem(
        ("variables", "properties", "unused"), "variable 'unused' is declared but job_configuration never uses it",
        "Add `{{ unused }}` where it belongs in job_configuration, or remove the property.", "warning")]


def test_dotted_placeholder_advice_names_the_root():
    (problem,) = errors({"job_configuration": {"e": "{{ env.FOO }}"}, "variables": {"properties": {"env": {"type": "object"}}}})
    assert "'env' is declared" in problem.detail and "{{ env }}" in problem.detail


def test_problems_are_frozen_values():
    (problem,) = errors("nope")
    with pytest.raises(AttributeError):
        problem.summary = "x"  # type: ignore[misc]


@pytest.mark.parametrize("text,names", [
    ("{{ a }}", ["a"]), ("{{a}}", ["a"]), ("x {{ a.b }} {{ c[0] }}", ["a.b", "c[0]"]), ("{{ $HOME }}", ["$HOME"]),
    ("{{ a-b }}", ["a-b"]), ("{{ a b }}", []), ("{ a }", []), ("{{ }}", []),
], ids=lambda v: repr(v))
def test_placeholder_regex(text, names):
    assert PLACEHOLDER_RE.findall(text) == names


def test_find_placeholders_scans_values_and_nested_keys():
    assert find_placeholders({"{{ top }}": "x", "a": {"{{ k }}": ["{{ v }}", 3, None]}}) == {"k", "v"}


def test_default_process_template_is_bundled_and_valid():
    template = default_template("process")
    assert set(template["job_configuration"]) == {"command", "env", "labels", "name", "stream_output", "working_dir"}
    assert check_template(template) == []
    template["job_configuration"]["x"] = 1
    assert "x" not in default_template("process")["job_configuration"]
    assert default_template("no-such-worker") is None
