"""Var files: reading .tfvars and .tfvars.json with positions, and terraform's precedence order,
checked against the real terraform binary (``terraform console``) when it is on PATH."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.config.load import load
from reconciler.config.var_files import VarValue, command_line_variables, read_var_file
from reconciler.diagnostics import Diagnostics


def test_json_var_file_values_keep_the_line_of_their_key(tmp_path):
    path = tmp_path / "v.tfvars.json"
    path.write_text('{\n  "a": {"x": [1, 2]},\n\n  "b": "two"\n}\n', encoding="utf-8")
    diags = Diagnostics()
    values = read_var_file(str(path), diags)
    assert not diags
    assert values["a"] == VarValue({"x": [1, 2]}, values["a"].origin) and values["a"].origin.start.line == 2
    assert (values["b"].value, values["b"].origin.start.line, values["b"].origin.start.column) == ("two", 4, 3)


def test_hcl_var_file_values(tmp_path):
    path = tmp_path / "v.tfvars"
    path.write_text('# c\nlist = ["a", "b"]\nmap  = { k = 1 }\ntext = <<EOT\nhello\nEOT\n', encoding="utf-8")
    diags = Diagnostics()
    values = read_var_file(str(path), diags)
    assert not diags, diags.to_json()
    assert {k: v.value for k, v in values.items()} == {"list": ["a", "b"], "map": {"k": 1}, "text": "hello\n"}
    assert values["map"].origin.start.line == 3


@pytest.mark.parametrize("text", ['{"a": 1, "a": 2}', 'a = 1\na = 2\n'], ids=["json", "hcl"])
def test_a_variable_set_twice_in_one_file_is_an_error(tmp_path, text):
    path = tmp_path / ("v.tfvars.json" if text.startswith("{") else "v.tfvars")
    path.write_text(text, encoding="utf-8")
    diags = Diagnostics()
    read_var_file(str(path), diags)
    assert [d.summary for d in diags.errors] == [f"{path} sets 'a' twice"]


def test_malformed_var_flag_is_an_error():
    diags = Diagnostics()
    assert command_line_variables([("var", "novalue"), ("var", "=x"), ("var", "ok=1")], diags) == {"ok": "1"}
    assert len(diags.errors) == 2 and "NAME=VALUE" in diags.errors[0].summary


TERRAFORM = shutil.which("terraform")
VARIABLES = 'variable "tag" {\n  type    = string\n  default = "default"\n}\n'
POOL = 'resource "prefect_work_pool" "p" {\n  name        = "p"\n  type        = "process"\n  description = var.tag\n}\n'
FILES = {"a.tfvars": 'tag = "a"\n', "b.tfvars": '# nothing for tag\n', "c.tfvars.json": '{"tag": "c"}\n',
         "d.tfvars.json": "{}\n"}

_input = st.one_of(st.sampled_from([("var", "tag=v1"), ("var", "tag=v2")]),
                   st.sampled_from(sorted(FILES)).map(lambda name: ("var-file", name)))


@pytest.mark.skipif(TERRAFORM is None, reason="terraform is not on PATH")
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(inputs=st.lists(_input, max_size=5), auto=st.booleans(), env_var=st.booleans())
def test_precedence_matches_terraform(tmp_path_factory, inputs, auto, env_var):
    root = tmp_path_factory.mktemp("vars")
    for name, text in FILES.items():
        (root / name).write_text(text, encoding="utf-8")
    tf_dir, pf_dir = root / "tf", root / "pf"
    tf_dir.mkdir()
    pf_dir.mkdir()
    (tf_dir / "main.tf").write_text(VARIABLES, encoding="utf-8")
    (pf_dir / "main.tf").write_text(VARIABLES + POOL, encoding="utf-8")
    if auto:
        for directory in (tf_dir, pf_dir):
            (directory / "terraform.tfvars").write_text('tag = "auto"\n', encoding="utf-8")
    env = {"TF_VAR_tag": "env"} if env_var else {}
    args: list[str] = []
    for kind, value in inputs:
        args += ["-var", value] if kind == "var" else [f"-var-file={root / value}"]
    config = root / "tfrc"
    config.write_text("", encoding="utf-8")
    result = subprocess.run([TERRAFORM, "console", *args], cwd=tf_dir, input="var.tag\n", capture_output=True,
                            text=True, timeout=60,
                            env={**os.environ, **env, "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": str(config)})
    assert result.returncode == 0, result.stderr
    expected = json.loads(result.stdout.strip())

    diags = Diagnostics()
    given_vars = command_line_variables([(k, str(root / v) if k == "var-file" else v) for k, v in inputs], diags)
    state, loaded = load([str(pf_dir)], variables=given_vars, env=env)
    assert not diags.has_errors and state is not None, loaded.to_json()
    assert state.pools["p"].description == expected
