"""validate_job_variables: which job variables a pool's `variables` schema refuses (prefect-api.md §5.3)."""

from __future__ import annotations

import pytest

from reconciler.templates import validate_job_variables

SCHEMA = {
    "type": "object",
    "properties": {
        "image": {"type": "string", "default": "repo/app:1"},
        "cpu": {"type": "integer", "minimum": 1},
        "tag": {"type": "string"},
        "n": {"type": "integer", "default": "abc"},
    },
    "required": ["tag"],
}

CASES = {
    "valid": ({"image": "x", "cpu": 2}, {}, False, []),
    "wrong_type": ({"image": 5}, {}, False,
                   ["Validation failed for field 'image'. Failure reason: 5 is not valid under any of the given schemas"]),
    "below_minimum": ({"cpu": 0}, {}, False,
                      ["Validation failed for field 'cpu'. Failure reason: 0 is less than the minimum of 1"]),
    "null_allowed_for_optional_typed": ({"cpu": None, "image": None}, {}, False, []),
    "required_ignored_by_default": ({}, {}, False, []),
    "invalid_default_turns_required_off": ({}, {}, True, []),
    "invalid_pool_default_is_not_merged": ({"tag": "t"}, {}, True, []),
    "explicit_defaults_are_merged": ({}, {"cpu": "two"}, False,
                                     ["Validation failed for field 'cpu'. Failure reason: 'two' is not valid under any of the given schemas"]),
    "unknown_keys_are_accepted": ({"extra": 1}, {}, False, []),
}


@pytest.mark.parametrize("job_variables,defaults,enforce,expected", list(CASES.values()), ids=list(CASES))
def test_validate_job_variables(job_variables, defaults, enforce, expected):
    assert validate_job_variables(SCHEMA, job_variables, defaults=defaults or None, enforce_required=enforce) == expected


def test_required_is_enforced_for_flow_runs_when_every_default_is_valid():
    schema = {**SCHEMA, "properties": {k: v for k, v in SCHEMA["properties"].items() if k != "n"}}
    assert validate_job_variables(schema, {}, enforce_required=True) == [
        "Validation failed. Failure reason: 'tag' is a required property"]


@pytest.mark.parametrize("schema,job_variables,expected", [
    ({"properties": {"env": {"type": "object", "additionalProperties": {"type": "string"}}}}, {"env": {"A": 1}},
     "Validation failed for field 'env.A'. Failure reason: 1 is not of type 'string'"),
    ({"properties": {"pair": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]}}}, {"pair": ["a", "b"]},
     "The pool's variables are not a valid JSON Schema: [{'type': 'string'}, {'type': 'integer'}] is not of type 'object', 'boolean'"),
    ({"properties": {"mode": {"type": "string", "anyOf": [{"const": "a"}]}}}, {"mode": None}, None),
    ({"properties": {"mode": {"type": "null"}}}, {"mode": 1},
     "Validation failed for field 'mode'. Failure reason: 1 is not of type 'null'"),
], ids=["nested-path", "list-items-are-not-draft-2020-12", "anyof-replaced-by-nullable-type", "null-type-kept"])
def test_prefect_preprocessing_and_paths(schema, job_variables, expected):
    assert validate_job_variables(schema, job_variables)[:1] == ([expected] if expected else [])


def test_empty_schema_validates_everything():
    assert validate_job_variables({}, {"anything": 1}) == []


def test_additional_properties_false_refuses_unknown_keys():
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}
    (message,) = validate_job_variables(schema, {"b": 1})
    assert message.startswith("Validation failed. Failure reason: Additional properties are not allowed")


def test_schema_is_not_mutated():
    before = repr(SCHEMA)
    validate_job_variables(SCHEMA, {"cpu": None})
    assert repr(SCHEMA) == before
