"""``reconciler.template_rules`` answers as Prefect 3.9.1's own functions do, differentially:
400 seeded random templates (typed, untyped, ``anyOf``, list ``items``, nested ``properties``,
``required``, defaults of every JSON type, ``$ref``, ``format``, undeclared and non-ASCII
placeholders) and job variables, each checked by the real Prefect (``template_oracle.py``, run
by the Prefect venv) and by ours: the same verdict and the same message, case by case."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest

from reconciler import template_rules as rules

pytestmark = pytest.mark.compat

TYPES = ["string", "integer", "number", "boolean", "object", "array", "null"]


def _value(rng: random.Random, depth: int = 0):
    choices = [None, rng.randrange(-3, 10), rng.random() * 10, f"s{rng.randrange(3)}", True, False,
               {"k": _value(rng, depth + 1)} if depth < 2 else 1, [_value(rng, depth + 1)] if depth < 2 else [], "x"]
    return choices[rng.randrange(len(choices))]


def _property(rng: random.Random, depth: int = 0) -> dict:
    prop: dict = {}
    if rng.random() < 0.7:
        prop["type"] = rng.choice(TYPES)
    if rng.random() < 0.15:
        prop["anyOf"] = [{"type": rng.choice(TYPES)}, {"type": rng.choice(TYPES)}]
    if prop.get("type") in ("integer", "number") and rng.random() < 0.5:
        prop["minimum"] = rng.randrange(0, 5)
    if prop.get("type") == "array" and rng.random() < 0.5:
        prop["items"] = [{"type": rng.choice(TYPES)}] if rng.random() < 0.4 else {"type": rng.choice(TYPES)}
    if prop.get("type") == "object" and depth < 2 and rng.random() < 0.5:
        prop["properties"] = {f"n{i}": _property(rng, depth + 1) for i in range(rng.randrange(1, 3))}
        if rng.random() < 0.5:
            prop["required"] = ["n0"]
        if rng.random() < 0.3:
            prop["additionalProperties"] = {"type": "string"}
    if rng.random() < 0.4:
        prop["default"] = _value(rng)
    if rng.random() < 0.05:
        prop["$ref"] = "#/definitions/D" if rng.random() < 0.5 else "#/definitions/missing"
    if rng.random() < 0.05:
        prop["format"] = "uuid"
    return prop


def _template(rng: random.Random) -> dict:
    properties = {f"v{i}": _property(rng) for i in range(rng.randrange(0, 4))}
    variables: dict = {"type": "object", "properties": properties}
    if properties and rng.random() < 0.4:
        variables["required"] = [rng.choice(list(properties))]
    if rng.random() < 0.2:
        variables["definitions"] = {"D": {"type": "integer", "minimum": 1}}
    if rng.random() < 0.05:
        variables["minProperties"] = 3
    job_configuration = {name: "{{ %s }}" % name for name in properties}
    if rng.random() < 0.1:
        job_configuration["extra"] = "{{ undeclared }}"
    if rng.random() < 0.05:
        job_configuration["unicode"] = "{{ café }}"
    return {"job_configuration": job_configuration or {"command": "echo"}, "variables": variables}


def _cases(count: int = 400, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        template = _template(rng)
        kind = rng.choice(["structure", "defaults", "jobvars", "jobvars", "patch"])
        case = {"kind": kind, "template": template}
        if kind in ("jobvars", "patch"):
            names = list(template["variables"]["properties"]) + ["other"]
            layer = lambda: {rng.choice(names): _value(rng) for _ in range(rng.randrange(0, 3))}  # noqa: E731
            case["layers"] = [layer()] + ([layer()] if kind == "jobvars" and rng.random() < 0.5 else [])
            case["enforce"] = rng.random() < 0.5
        cases.append(case)
    return cases


def _ours(case: dict) -> dict:
    template = case["template"]
    if case["kind"] == "structure":
        problem = rules.structure_problem(template)
        return {"ok": True} if problem is None else {"error": "ValueError", "msg": problem[1]}
    if case["kind"] == "defaults":
        detail = rules.defaults_problem(template)
        return {"ok": True} if detail is None else {"status": 422, "detail": detail}
    if case["kind"] == "jobvars":
        failure = rules.job_variables_problem(template, *case["layers"], enforce_required=case["enforce"])
        if failure is None:
            return {"ok": True}
        return {"status": 422, "detail": failure.message} if failure.invalid_schema else {"validation": failure.message}
    failure = rules.patch_job_variables_problem(template, case["layers"][0])
    return {"ok": True} if failure is None else {"repr": repr(failure)}


def test_template_rules_answer_as_prefect_does(prefect_venv: Path) -> None:
    cases = _cases()
    oracle = Path(__file__).with_name("template_oracle.py")
    done = subprocess.run([str(prefect_venv / "bin" / "python"), str(oracle)], input="".join(json.dumps(c) + "\n" for c in cases),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(theirs) == len(cases)
    refused = sum(1 for t in theirs if not t.get("ok"))
    assert 50 < refused < len(cases) - 50, "the cases should mix accepted and refused templates"
    differences = [(c, t, _ours(c)) for c, t in zip(cases, theirs) if _ours(c) != t]
    assert differences == []
