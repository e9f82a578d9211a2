"""Terraform's own order of the variable files it loads by itself, checked against terraform 1.11.4.

poolform reads ``terraform.tfvars``, ``terraform.tfvars.json``, then ``*.auto.tfvars`` and
``*.auto.tfvars.json`` together by name (later wins), and no other var file unless named with
``--var-file``: for each set of files here the real ``terraform console`` and poolform agree.
"""

from __future__ import annotations

import json

import pytest

from reconciler.config.load import load

pytestmark = pytest.mark.terraform

NAMED = ('variable "name" {\n  type    = string\n  default = "default"\n}\n'
         'resource "prefect_work_pool" "p" {\n  name = var.name\n  type = "process"\n}\n')

SETS = [
    {"terraform.tfvars": 'name = "tfvars"\n', "terraform.tfvars.json": {"name": "tfvars-json"},
     "prod.tfvars.json": {"name": "not-auto-loaded"}},
    {"terraform.tfvars.json": {"name": "tfvars-json"}, "a.auto.tfvars": 'name = "a-auto"\n'},
    {"a.auto.tfvars.json": {"name": "a-auto-json"}, "b.auto.tfvars": 'name = "b-auto"\n'},
    {"a.auto.tfvars": 'name = "a-auto"\n', "b.auto.tfvars.json": {"name": "b-auto-json"},
     "terraform.tfvars.json": {"name": "tfvars-json"}},
]


def test_auto_loaded_variable_files_in_terraforms_order(tf, monkeypatch):
    tf.write(NAMED)
    tf.init()
    monkeypatch.chdir(tf.dir)
    for files in SETS:
        for old in tf.dir.glob("*.tfvars*"):
            old.unlink()
        for name, content in files.items():
            (tf.dir / name).write_text(content if isinstance(content, str) else json.dumps(content))
        proc = tf.run("console", "-no-color", env={"TF_VAR_name": "from-environment"}, input_text="var.name\n")
        terraform_value = json.loads(proc.stdout.strip())
        state, diags = load(["."], env={"TF_VAR_name": "from-environment"})
        assert not diags.errors, [d.summary for d in diags.errors]
        assert list(state.pools) == [terraform_value], files
