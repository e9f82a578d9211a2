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
    "required_enforced_for_flow_runs": ({}, {}, True, ["Validation failed. Failure reason: 'tag' is a required property"]),
    "invalid_pool_default_is_not_merged": ({"tag": "t"}, {}, True, []),
    "explicit_defaults_are_merged": ({}, {"cpu": "two"}, False,
                                     ["Validation failed for field 'cpu'. Failure reason: 'two' is not valid under any of the given schemas"]),
    "unknown_keys_are_accepted": ({"extra": 1}, {}, False, []),
}


@pytest.mark.parametrize("job_variables,defaults,enforce,expected", list(CASES.values()), ids=list(CASES))
def test_validate_job_variables(job_variables, defaults, enforce, expected):
    assert validate_job_variables(SCHEMA, job_variables, defaults=defaults or None, enforce_required=enforce) == expected


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
