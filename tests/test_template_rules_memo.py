"""``template_rules``' memo and linear paths answer exactly as the plain algorithm does (Prefect's:
each default validated alone, the merged job variables validated whole), on random schemas that
judge properties one by one and on schemas that do not (``minProperties``, ``dependentRequired``,
``if``/``then``, a top-level ``$ref``), with defaults and job variables that pass and fail.
The plain algorithm is written out here; the real Prefect comparison is ``tests/compat``."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler import template_rules as rules

TYPES = ["string", "integer", "number", "boolean", "object", "array", "null"]
values = st.one_of(st.none(), st.booleans(), st.integers(-3, 9), st.sampled_from(["s", "", "x" * 5]),
                   st.lists(st.integers(0, 3), max_size=2), st.fixed_dictionaries({}, optional={"k": st.integers(0, 2)}))


@st.composite
def properties(draw) -> dict:
    prop: dict = {}
    if draw(st.booleans()):
        prop["type"] = draw(st.sampled_from(TYPES))
    if prop.get("type") in ("integer", "number") and draw(st.booleans()):
        prop["minimum"] = draw(st.integers(0, 4))
    if prop.get("type") == "object" and draw(st.booleans()):
        prop["properties"] = {"n": {"type": draw(st.sampled_from(TYPES))}}
        if draw(st.booleans()):
            prop["required"] = ["n"]
    if draw(st.booleans()):
        prop["default"] = draw(values)
    return prop


@st.composite
def templates(draw) -> dict:
    props = draw(st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), properties(), max_size=4))
    variables: dict = {"type": "object", "properties": props}
    if props and draw(st.booleans()):
        variables["required"] = draw(st.lists(st.sampled_from(sorted(props)), max_size=2, unique=True))
    extra = draw(st.sampled_from([None, "additionalProperties", "minProperties", "dependentRequired", "if", "$ref"]))
    if extra == "additionalProperties":
        variables["additionalProperties"] = False
    elif extra == "minProperties":
        variables["minProperties"] = 2
    elif extra == "dependentRequired" and props:
        variables["dependentRequired"] = {sorted(props)[0]: ["zz"]}
    elif extra == "if" and props:
        name = sorted(props)[0]
        variables["if"] = {"properties": {name: {"const": 1}}, "required": [name]}
        variables["then"] = {"properties": {"b": {"type": "string"}}}
    elif extra == "$ref":
        variables["$defs"] = {"any": {"type": "object"}}
        variables["$ref"] = "#/$defs/any"
    return {"job_configuration": {"x": "y"}, "variables": variables}


def _plain_valid_defaults(variables: dict) -> tuple[dict, bool]:
    schema = rules.without_required(variables)
    kept = {}
    defaults = {k: v for k, v in rules.template_defaults(variables).items() if not (isinstance(v, dict) and "$ref" in v)}
    for name, value in defaults.items():
        if not list(rules._validator(schema, formats=True).iter_errors({name: value})):
            kept[name] = value
    return kept, len(kept) != len(defaults)


def _plain_job_variables(template: dict, layers: list[dict], enforce_required: bool) -> str | None:
    variables = template["variables"]
    problem = rules.schema_problem(variables)
    if problem is not None:
        return problem
    try:
        merged, dropped = _plain_valid_defaults(variables)
        for layer in layers:
            merged.update(layer)
        schema = rules.preprocess_schema(variables, allow_none_with_default=True)
        if not enforce_required or dropped:
            schema = rules.without_required(schema)
        errors = list(rules._validator(schema).iter_errors(merged))
    except Exception as exc:  # noqa: BLE001
        return f"unusable: {exc}"
    best = rules._best(errors)
    return None if best is None else rules.field_message(best)


@settings(max_examples=400, deadline=None)
@given(templates(), st.lists(st.dictionaries(st.sampled_from(["a", "b", "c", "zz"]), values, max_size=2), max_size=2),
       st.booleans(), st.booleans())
def test_memo_and_linear_paths_agree_with_the_plain_algorithm(template, layers, enforce_required, warm_first) -> None:
    template = copy.deepcopy(template)
    before = copy.deepcopy(template)
    if warm_first:
        rules.prepare(template)
    assert rules._valid_defaults(template["variables"]) == _plain_valid_defaults(template["variables"])
    plain = _plain_job_variables(template, layers, enforce_required)
    for _ in range(2):  # cold, then from the memo
        failure = rules.job_variables_problem(template, *layers, enforce_required=enforce_required)
        if plain is None:
            assert failure is None
        elif plain.startswith(("unusable", "Invalid schema")):
            assert failure is not None
        else:
            assert failure is not None and failure.message == plain
    assert template == before, "the checks must not change the template"


def test_memo_is_shared_by_equal_schemas_and_bounded() -> None:
    first = {"type": "object", "properties": {"a": {"type": "string", "default": "x"}, "b": {"type": "integer"}}}
    reordered = {"properties": {"b": {"type": "integer"}, "a": {"default": "x", "type": "string"}}, "type": "object"}
    assert rules.prepared(first) is rules.prepared(reordered)
    big = {"type": "object", "properties": {"p": {"type": "string", "description": "d" * 1_000_000}}}
    for i in range(40):
        rules.prepared({**big, "title": str(i)})
    assert sum(size for _, size in rules._PREPARED.values()) <= rules._PREPARED_BUDGET


def test_a_known_template_is_known_by_identity_after_asking(monkeypatch) -> None:
    """The server asks ``defaults_problem_known`` on the loop, then the domain asks ``defaults_problem``
    of the same object: the second answer costs no digest of the schema, and is the same verdict."""
    variables = {"type": "object", "properties": {"n": {"type": "integer", "default": "not a number"}}}
    expected = rules.defaults_problem({"variables": copy.deepcopy(variables)})
    assert expected is not None
    template = {"job_configuration": {"n": "{{ n }}"}, "variables": copy.deepcopy(variables)}
    assert rules.defaults_problem_known(template)

    def no_digest(value):
        raise AssertionError("digested again")

    monkeypatch.setattr(rules, "_canonical", no_digest)
    assert rules.defaults_problem(template) == expected
    with pytest.raises(AssertionError, match="digested again"):  # an equal but other object is digested
        rules.defaults_problem({"variables": copy.deepcopy(variables)})
