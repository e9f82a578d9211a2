"""Editors' contract of the examples: a schema modeline in every YAML file, configs valid against
``provider-schema/config.schema.json`` under Draft 7, and a schema that uses draft-07 keywords only."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
from jsonschema import Draft7Validator
from ruamel.yaml import YAML

from reconciler.config.fmt import is_config_yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SCHEMA_PATH = ROOT / "provider-schema" / "config.schema.json"
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")
YAML_FILES = sorted(p for p in EXAMPLES.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
CONFIG_FILES = [p for p in YAML_FILES if is_config_yaml(p.read_text(encoding="utf-8"))]

DRAFT7_KEYWORDS = {
    "$schema", "$id", "$ref", "$comment", "title", "description", "default", "readOnly", "writeOnly", "examples",
    "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern",
    "additionalItems", "items", "maxItems", "minItems", "uniqueItems", "contains", "maxProperties", "minProperties",
    "required", "additionalProperties", "definitions", "properties", "patternProperties", "dependencies",
    "propertyNames", "const", "enum", "type", "format", "contentMediaType", "contentEncoding", "if", "then", "else",
    "allOf", "anyOf", "oneOf", "not",
}
_SCHEMA_MAPS = {"properties", "definitions", "patternProperties", "dependencies"}
_SCHEMA_LISTS = {"allOf", "anyOf", "oneOf", "items"}
_SCHEMA_VALUES = {"additionalProperties", "additionalItems", "items", "contains", "propertyNames", "not", "if", "then", "else"}


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(EXAMPLES)) for p in paths]


def _walk(schema: Any, where: str = "#") -> Iterator[tuple[str, str]]:
    """(location, keyword) for every keyword in every subschema; data (examples, default, enum) is not walked."""
    if not isinstance(schema, dict):
        return
    for key, value in schema.items():
        yield where, key
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            for name, sub in value.items():
                if isinstance(sub, dict):
                    yield from _walk(sub, f"{where}/{key}/{name}")
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            for i, sub in enumerate(value):
                yield from _walk(sub, f"{where}/{key}/{i}")
        elif key in _SCHEMA_VALUES and isinstance(value, dict):
            yield from _walk(value, f"{where}/{key}")


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def test_there_are_examples_of_both_kinds() -> None:
    assert len(CONFIG_FILES) >= 3
    assert any(p.name == ".gitlab-ci.yml" for p in YAML_FILES)


@pytest.mark.parametrize("path", YAML_FILES, ids=_ids(YAML_FILES))
def test_every_yaml_example_starts_with_a_schema_modeline(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert MODELINE.match(first), f"{path}:1: start the file with `# yaml-language-server: $schema=<url or path>`"


@pytest.mark.parametrize("path", CONFIG_FILES, ids=_ids(CONFIG_FILES))
def test_config_examples_name_the_config_schema_and_validate(path: Path, schema: dict[str, Any]) -> None:
    target = MODELINE.match(path.read_text(encoding="utf-8").splitlines()[0]).group(1)  # type: ignore[union-attr]
    assert target.endswith("config.schema.json"), f"{path}:1: the modeline must name config.schema.json"
    if "://" not in target:
        assert (path.parent / target).resolve() == SCHEMA_PATH.resolve(), f"{path}:1: {target} is not {SCHEMA_PATH}"
    document = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    errors = sorted(Draft7Validator(schema).iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{path}: {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors)


def test_schema_is_a_valid_draft7_schema(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    Draft7Validator.check_schema(schema)


def test_schema_uses_draft7_keywords_only(schema: dict[str, Any]) -> None:
    foreign = sorted({f"{where}: {key}" for where, key in _walk(schema) if key not in DRAFT7_KEYWORDS})
    assert not foreign, "keywords editors (draft-07) do not know:\n" + "\n".join(foreign)


def test_keyword_walk_sees_nested_subschemas() -> None:
    found = set(_walk({"properties": {"a": {"anyOf": [{"prefixItems": []}]}}, "examples": [{"$defs": 1}]}))
    assert ("#/properties/a/anyOf/0", "prefixItems") in found
    assert all(key != "$defs" for _, key in found)
