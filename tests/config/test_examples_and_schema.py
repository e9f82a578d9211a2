"""examples/ load cleanly and match the published JSON Schema; the checked-in schema is current and draft-07."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from reconciler.config.load import load
from reconciler.config.yaml_source import parse_yaml_text
from reconciler.diagnostics import Diagnostics
from reconciler.model.document import config_json_schema, config_schema_text

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
SCHEMA_FILE = REPO / "provider-schema" / "config.schema.json"
CONFIG_DIRS = ["process", "kubernetes", "hcl", "overlays", "environments", "policy"]
YAML_FILES = sorted(p for d in CONFIG_DIRS for p in (EXAMPLES / d).glob("*.yaml"))


@pytest.mark.parametrize("directory", CONFIG_DIRS)
def test_every_example_loads_without_errors_or_warnings(directory, monkeypatch):
    monkeypatch.chdir(REPO)
    state, diags = load([f"examples/{directory}"], env={})
    assert not diags, [d.format() for d in diags]
    assert state is not None and state.pools


def test_example_pool_names_are_unique_across_examples(monkeypatch):
    monkeypatch.chdir(REPO)
    seen: dict[str, str] = {}
    for directory in CONFIG_DIRS:
        state, _ = load([f"examples/{directory}"], env={})
        for name in state.pools:
            assert name not in seen, f"{name} is declared in examples/{seen.get(name)} and examples/{directory}"
            seen[name] = directory


def test_kubernetes_example_shares_one_template_with_overridden_defaults(monkeypatch):
    monkeypatch.chdir(REPO)
    state, _ = load(["examples/kubernetes"], env={})
    prod, batch = state.pools["k8s-prod"], state.pools["k8s-batch"]
    assert prod.base_job_template["job_configuration"] == batch.base_job_template["job_configuration"]
    assert batch.base_job_template["variables"]["properties"]["namespace"]["default"] == "batch"
    assert prod.base_job_template["variables"]["properties"]["namespace"]["default"] == "prefect"
    assert {n: (q.priority, q.concurrency_limit) for n, q in prod.queues.items()} == {
        "critical": (1, 1), "high": (5, 3), "low": (10, None)}


def test_hcl_example_matches_the_yaml_kubernetes_example(monkeypatch):
    monkeypatch.chdir(REPO)
    yaml_state, _ = load(["examples/kubernetes"], env={})
    hcl_state, _ = load(["examples/hcl"], env={})
    assert hcl_state.pools["tf-k8s-prod"].base_job_template == yaml_state.pools["k8s-prod"].base_job_template
    assert (hcl_state.pools["tf-k8s-batch-prod"].base_job_template
            == yaml_state.pools["k8s-batch"].base_job_template | {
                "variables": hcl_state.pools["tf-k8s-batch-prod"].base_job_template["variables"]})
    batch_props = hcl_state.pools["tf-k8s-batch-prod"].base_job_template["variables"]["properties"]
    assert batch_props["namespace"]["default"] == "batch"
    staging, _ = load(["examples/hcl"], variables={"environment": "staging"}, env={})
    assert set(staging.pools) == {"tf-k8s-staging", "tf-k8s-batch-staging"}


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_yaml_examples_validate_against_the_schema_and_carry_the_modeline(path):
    text = path.read_text()
    first = text.splitlines()[0]
    assert first == "# yaml-language-server: $schema=../../provider-schema/config.schema.json"
    assert (path.parent / first.split("=", 1)[1]).resolve() == SCHEMA_FILE
    data = parse_yaml_text(text, str(path), Diagnostics()).data
    errors = list(Draft7Validator(json.loads(SCHEMA_FILE.read_text())).iter_errors(data))
    assert errors == []


def test_checked_in_schema_is_current():
    assert SCHEMA_FILE.read_text() == config_schema_text(), (
        "provider-schema/config.schema.json is stale: run `poolform schema --out provider-schema/config.schema.json`")


def _keywords(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            found.add(key)
            if key in ("properties", "definitions"):
                for sub in value.values():
                    _keywords(sub, found)
            elif key not in ("examples", "default", "enum", "const"):
                _keywords(value, found)
    elif isinstance(node, list):
        for item in node:
            _keywords(item, found)
    return found


def test_schema_uses_only_draft_07_keywords():
    schema = config_json_schema()
    Draft7Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    used = _keywords(schema, set())
    assert not used & {"$defs", "prefixItems", "unevaluatedProperties", "dependentRequired", "$dynamicRef", "discriminator"}
    assert "definitions" in used


@pytest.mark.parametrize("document,valid", [
    ({"version": 1}, True),
    ({"version": 2}, False),
    ({"version": 1, "work_pools": {"prefect-x": {}}}, False),
    ({"version": 1, "work_pools": {"a/b": {}}}, False),
    ({"version": 1, "work_pools": {"a": {"descripton": "x"}}}, False),
    ({"version": 1, "work_pools": {"a": {"base_job_template": {"file": "t.json"}}}}, True),
    ({"version": 1, "work_pools": {"a": {"base_job_template": {"template": "t", "defaults": {"x": 1}}}}}, True),
    ({"version": 1, "work_pools": {"a": {"base_job_template": {"file": "t.json", "template": "t"}}}}, False),
    ({"version": 1, "work_pools": {"a": {"queues": {"q": {"priority": 0}}}}}, False),
], ids=["minimal", "bad_version", "reserved_name", "bad_name", "unknown_key", "file_form", "template_form",
        "mixed_forms", "priority_zero"])
def test_schema_agrees_with_the_loader_on_shape(document, valid):
    errors = list(Draft7Validator(config_json_schema()).iter_errors(document))
    assert (not errors) is valid


@pytest.mark.parametrize("directory", ["process", "kubernetes", "overlays"])
def test_pure_python_yaml_backend_gives_the_same_state(directory, monkeypatch):
    from reconciler.config import yaml_source

    monkeypatch.chdir(REPO)
    fast, fast_diags = load([f"examples/{directory}"], env={})
    monkeypatch.setattr(yaml_source, "BACKEND", "ruamel")
    slow, slow_diags = load([f"examples/{directory}"], env={})
    assert slow == fast
    assert slow_diags.to_json() == fast_diags.to_json()


def test_the_environments_example_loads_in_each_environment(monkeypatch):
    """examples/environments: each environment adds its overlay; the example's README commands work offline."""
    from click.testing import CliRunner

    from reconciler.cli.main import cli
    from reconciler.config.environments import find_environments

    monkeypatch.chdir(REPO)
    diags = Diagnostics()
    found = find_environments(["examples/environments"], diags)
    assert not diags and list(found) == ["staging", "prod"]
    limits = {}
    for name, environment in found.items():
        state, diags = load(["examples/environments"], overlays=environment.files, env={})
        assert not diags, [d.format() for d in diags]
        limits[name] = state.pools["promo-etl"].concurrency_limit
    assert limits == {"staging": 2, "prod": 20}
    for path in sorted((EXAMPLES / "environments" / "env").glob("*.yaml")):
        text = path.read_text()
        assert (path.parent / text.splitlines()[0].split("=", 1)[1]).resolve() == SCHEMA_FILE
        assert list(Draft7Validator(json.loads(SCHEMA_FILE.read_text())).iter_errors(
            parse_yaml_text(text, str(path), Diagnostics()).data)) == []
    runner = CliRunner()
    for args in (["validate", "-f", "examples/environments", "--env", "prod"],
                 ["diff", "-f", "examples/environments", "--env", "staging", "--env", "prod"]):
        result = runner.invoke(cli, args, env={"NO_COLOR": "1"})
        assert result.exit_code == 0, result.output
