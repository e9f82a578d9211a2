"""A pool's type is checked at validate: a known worker type, a did-you-mean for typos, and
--allow-unknown-type for custom workers; the same rule for YAML and HCL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli.main import cli
from reconciler.model.worker_types import (
    KNOWN_WORKER_TYPES,
    closest_worker_type,
    is_known_worker_type,
    unknown_worker_type_problem,
)

PREFECT_METADATA = Path(__file__).resolve().parents[2] / "reconciler/server/data/aggregate-worker-metadata.json"


@pytest.mark.parametrize(
    "value, closest",
    [
        ("kuberentes", "kubernetes"),
        ("Kubernetes", "kubernetes"),
        ("proces", "process"),
        ("cloud_run_v2", "cloud-run-v2"),
        ("ecs-push", "ecs:push"),
        ("cloudrun", "cloud-run"),
        ("azure-container-instances", "azure-container-instance"),
        ("prefect-managed", "prefect:managed"),
        ("my-company-batch-runner", None),
    ],
)
def test_closest_worker_type(value, closest):
    assert not is_known_worker_type(value)
    assert closest_worker_type(value) == closest
    summary, detail = unknown_worker_type_problem(value)
    assert summary == f"unknown work pool type {value!r}"
    assert (f'Did you mean "{closest}"?' in detail) is (closest is not None)
    assert "Known worker types: process, kubernetes" in detail


def test_every_type_prefect_ships_metadata_for_is_known():
    metadata = json.loads(PREFECT_METADATA.read_text(encoding="utf-8"))
    shipped = {entry["type"] for package in metadata.values() for entry in package.values()}
    assert shipped and shipped <= set(KNOWN_WORKER_TYPES)
    for known in KNOWN_WORKER_TYPES:
        assert unknown_worker_type_problem(known) is None


def test_the_official_providers_worker_metadata_types_are_known():
    from reconciler.provider.schema import WORKER_TYPES

    assert set(WORKER_TYPES.values()) <= set(KNOWN_WORKER_TYPES)


YAML = "version: 1\nwork_pools:\n  a:\n    type: kuberentes\n  b:\n    type: process\n"
HCL = ('resource "prefect_work_pool" "a" {\n  name = "a"\n  type = "kuberentes"\n}\n\n'
       'resource "prefect_work_pool" "b" {\n  name = "b"\n  type = "process"\n}\n')


@pytest.mark.parametrize("filename, text, line, column", [("pools.yaml", YAML, 4, 11), ("main.tf", HCL, 3, 10)],
                         ids=["yaml", "hcl"])
def test_validate_refuses_an_unknown_type_at_its_line(tree, filename, text, line, column):
    tree.write(filename, text)
    result = CliRunner().invoke(cli, ["validate", "-f", filename, "--json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    [error] = [d for d in doc["diagnostics"] if d["severity"] == "error"]
    assert error["summary"] == "unknown work pool type 'kuberentes'"
    assert error["address"] == "work_pool.a"
    assert error["range"]["filename"] == filename
    assert error["range"]["start"]["line"] == line
    assert 'Did you mean "kubernetes"?' in error["detail"] and "--allow-unknown-type" in error["detail"]
    human = CliRunner().invoke(cli, ["validate", "-f", filename])
    assert human.exit_code == 1
    assert f"{filename}:{line}:" in human.stderr and "unknown work pool type 'kuberentes'" in human.stderr


@pytest.mark.parametrize("filename, text", [("pools.yaml", YAML), ("main.tf", HCL)], ids=["yaml", "hcl"])
def test_allow_unknown_type_accepts_a_custom_worker(tree, filename, text):
    tree.write(filename, text)
    result = CliRunner().invoke(cli, ["validate", "-f", filename, "--allow-unknown-type"])
    assert result.exit_code == 0, result.output
    assert "unknown work pool type" not in result.output


def test_every_known_type_validates(tree):
    pools = "".join(f"  p{i}:\n    type: {kind!r}\n" for i, kind in enumerate(KNOWN_WORKER_TYPES))
    tree.write("pools.yaml", "version: 1\nwork_pools:\n" + pools)
    result = CliRunner().invoke(cli, ["validate", "-f", "pools.yaml"])
    assert result.exit_code == 0, result.output
