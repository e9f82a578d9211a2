"""docs/config.md covers every field of the config schema; every field has a description and an example."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "provider-schema" / "config.schema.json").read_text(encoding="utf-8"))
STALE = "docs/config.md is stale; run `python scripts/generate_docs.py`"


def fields(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(owner, field, subschema) for the top level and every definition."""
    for name, prop in schema.get("properties", {}).items():
        yield "(top level)", name, prop
    for owner, node in schema.get("definitions", {}).items():
        for name, prop in node.get("properties", {}).items():
            yield owner, name, prop


FIELDS = list(fields(SCHEMA))
IDS = [f"{owner}.{name}" for owner, name, _ in FIELDS]


def test_the_schema_has_the_documented_levels() -> None:
    owners = {owner for owner, _, _ in FIELDS}
    assert {"(top level)", "WorkPool", "WorkQueue", "Manage"} <= owners
    assert len(FIELDS) >= 15


@pytest.mark.parametrize(("owner", "name", "prop"), FIELDS, ids=IDS)
def test_every_field_has_a_description_and_an_example(owner: str, name: str, prop: dict[str, Any]) -> None:
    assert (prop.get("description") or "").strip(), f"{owner}.{name} has no description (reconciler/model/document.py)"
    assert prop.get("examples"), f"{owner}.{name} has no examples (reconciler/model/document.py)"


def test_every_definition_has_a_description() -> None:
    missing = [name for name, node in SCHEMA.get("definitions", {}).items() if not (node.get("description") or "").strip()]
    assert not missing, f"definitions without a description: {missing}"


def test_config_md_is_fresh(gen: ModuleType) -> None:
    expected = gen.outputs()[gen.CONFIG_DOC]
    assert (ROOT / "docs" / "config.md").read_text(encoding="utf-8") == expected, STALE


def test_config_md_documents_every_field() -> None:
    text = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    sections = {"(top level)": "## Top level"} | {name: f"## {name}" for name in SCHEMA.get("definitions", {})}
    for owner, name, prop in FIELDS:
        start = text.index(sections[owner] + "\n")
        end = text.find("\n## ", start + 1)
        section = text[start: end if end != -1 else len(text)]
        assert f"| `{name}` |" in section, f"{owner}.{name} is missing from docs/config.md; {STALE}"
        assert prop["description"].split("|")[0][:40] in section


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"type": "string"}, "string"),
        ({"anyOf": [{"type": "integer"}, {"type": "null"}]}, "integer or null"),
        ({"type": "array", "items": {"type": "string"}}, "list of string"),
        ({"type": "object", "additionalProperties": {"$ref": "#/definitions/WorkPool"}}, "map of [WorkPool](#workpool)"),
        ({"type": "object", "additionalProperties": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
         "map of (string or null)"),
        ({"const": 1}, "`1`"),
        ({"type": "object"}, "object"),
    ],
    ids=["string", "nullable", "list", "map-of-ref", "map-of-nullable", "const", "object"],
)
def test_type_names(gen: ModuleType, node: dict[str, Any], expected: str) -> None:
    assert gen.type_of(node) == expected
