"""`poolform validate` and `poolform schema`: output streams, JSON shape, exit codes."""

from __future__ import annotations

import json

from click.testing import CliRunner

from reconciler.cli.main import cli
from reconciler.model.document import config_schema_text

GOOD = "version: 1\nwork_pools:\n  a: {type: process, queues: {q: {priority: 1}}}\n"
WARN = "version: 1\nwork_pools:\n  a: {description: x}\n"
BAD = "version: 1\nwork_pools:\n  a: {type: process, concurency_limit: 1}\n  b: {type: process, paused: maybe}\n"


def run(args):
    return CliRunner().invoke(cli, args)


def test_validate_success_defaults_to_the_current_directory(tree):
    tree.write("pools.yaml", GOOD)
    result = run(["validate"])
    assert result.exit_code == 0
    assert result.stdout == "Success! The configuration is valid (1 work pool, 1 queue).\n"
    assert result.stderr == ""


def test_validate_warnings_go_to_stdout(tree):
    tree.write("pools.yaml", WARN)
    result = run(["validate", "-f", "pools.yaml"])
    assert result.exit_code == 0
    assert "pools.yaml:3:3: warning: type not set: the pool will be created as prefect-agent [work_pool.a]" in result.stdout
    assert result.stdout.rstrip().endswith("Success! The configuration is valid (1 work pool, 0 queues, 1 warning).")
    assert result.stderr == ""


def test_validate_errors_go_to_stderr_with_positions_and_exit_1(tree):
    tree.write("pools.yaml", BAD)
    result = run(["validate", "-f", "pools.yaml"])
    assert result.exit_code == 1
    assert "pools.yaml:3:22: error: unknown key 'concurency_limit' [work_pool.a]" in result.stderr
    assert 'Did you mean "concurrency_limit"?' in result.stderr
    assert "pools.yaml:4:30: error: paused must be a boolean (true or false), not the string 'maybe' [work_pool.b]" in result.stderr
    assert result.stderr.rstrip().endswith("Error: the configuration is invalid: 2 errors, 0 warnings.")
    assert "Traceback" not in result.output


def test_validate_json(tree):
    tree.write("pools.yaml", BAD)
    result = run(["validate", "-f", "pools.yaml", "--json"])
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert (document["valid"], document["error_count"], document["warning_count"]) == (False, 2, 0)
    first = document["diagnostics"][0]
    assert first["range"]["filename"] == "pools.yaml"
    assert first["range"]["start"] == {"line": 3, "column": 22}
    assert first["address"] == "work_pool.a"
    assert first["path"] == ["work_pools", "a", "concurency_limit"]


def test_validate_json_success(tree):
    tree.write("pools.yaml", GOOD)
    result = run(["validate", "--json"])
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert (document["valid"], document["pool_count"], document["queue_count"], document["diagnostics"]) == (True, 1, 1, [])


def test_validate_missing_file_is_one_clear_error(tree):
    result = run(["validate", "-f", "nope.yaml"])
    assert result.exit_code == 1
    assert "error: config file not found: nope.yaml" in result.stderr
    assert "Traceback" not in result.output


def test_validate_overlays_and_vars(tree):
    tree.write("base.yaml", GOOD)
    tree.write("prod.yaml", "work_pools:\n  a: {concurrency_limit: 3}\n")
    tree.write("hcl/main.tf", 'variable "n" {}\nresource "prefect_work_pool" "p" {\n  name = "tf-${var.n}"\n  type = "process"\n}\n')
    assert run(["validate", "-f", "base.yaml", "-f", "prod.yaml", "-f", "hcl", "--var", "n=x"]).exit_code == 0
    result = run(["validate", "-f", "hcl"])
    assert result.exit_code == 1
    assert "hcl/main.tf:1:1: error: variable 'n' has no value" in result.stderr


def test_schema_prints_the_generated_schema(tree):
    result = run(["schema"])
    assert result.exit_code == 0
    assert result.stdout == config_schema_text()
    json.loads(result.stdout)


def test_schema_out_writes_a_file(tree):
    result = run(["schema", "--out", "s.json"])
    assert result.exit_code == 0
    assert (tree.root / "s.json").read_text() == config_schema_text()
