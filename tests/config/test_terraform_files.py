"""Every file Terraform would read as configuration is read or refused, never skipped.

A directory that holds Terraform's JSON syntax (``*.tf.json``) or an override file
(``override.tf``, ``*_override.tf``, ``*_override.tf.json``) is refused at that file, in the
root module and in a local module alike (skipped, its pools would be missing from the plan and,
with ``prune``, planned for deletion). The variable files Terraform loads on its own are read,
``terraform.tfvars.json`` and ``*.auto.tfvars.json`` included, in Terraform's order (the same
order is checked against the real terraform in tests/terraform/test_tfvars_order.py).
"""

from __future__ import annotations

import json

import pytest

from reconciler.config.load import load

POOL = 'resource "prefect_work_pool" "{label}" {{\n  name = {name}\n  type = "process"\n}}\n'
JSON_POOL = json.dumps({"resource": {"prefect_work_pool": {"extra": {"name": "from-json", "type": "process"}}}},
                       indent=2)

JSON_SUMMARY = "Terraform's JSON syntax (.tf.json) is not read by poolform"
OVERRIDE_SUMMARY = "override files are not read by poolform"


def _errors(diags):
    return [(d.range.filename if d.range else None, d.range.start.line if d.range else None, d.summary)
            for d in diags.errors]


@pytest.mark.parametrize(("name", "summary"), [
    ("pools.tf.json", JSON_SUMMARY),
    ("override.tf", OVERRIDE_SUMMARY),
    ("pools_override.tf", OVERRIDE_SUMMARY),
    ("pools_override.tf.json", OVERRIDE_SUMMARY),
])
@pytest.mark.parametrize("where", ["root", "module", "explicit", "discovered"])
def test_terraform_files_poolform_cannot_read_are_refused_at_the_file(tree, name, summary, where):
    text = JSON_POOL if name.endswith(".json") else POOL.format(label="extra", name='"from-override"')
    tree.write("infra/main.tf", POOL.format(label="p", name='"p"'))
    if where == "module":
        tree.write("infra/main.tf", 'module "m" {\n  source = "./mod"\n}\n')
        tree.write("infra/mod/main.tf", POOL.format(label="p", name='"p"'))
        path = f"infra/mod/{name}"
    else:
        path = f"infra/{name}"
    tree.write(path, text)
    if where == "explicit":
        state, diags = load(["infra/main.tf", path])
    elif where == "discovered":
        import os

        os.chdir(tree.root / "infra")
        state, diags = load([])
        path = name
    else:
        state, diags = load(["infra"])
    assert state is None, "nothing is planned"
    errors = _errors(diags)
    assert len(errors) == 1, errors
    filename, line, text_ = errors[0]
    assert (filename, line) == (path, 1)
    assert text_ == f"{path}: {summary}"
    if where == "module":
        assert "(module 'm', called at infra/main.tf:1)" in diags.errors[0].detail


def test_a_directory_with_only_json_syntax_is_refused_not_reported_empty(tree):
    tree.write("infra/main.tf.json", JSON_POOL)
    state, diags = load(["infra"])
    assert state is None
    assert [d.summary for d in diags.errors] == [f"infra/main.tf.json: {JSON_SUMMARY}"]


def test_hidden_and_backup_files_of_a_module_are_passed_over_as_in_the_root(tree):
    tree.write("infra/main.tf", 'module "m" {\n  source = "./mod"\n}\n')
    tree.write("infra/mod/main.tf", POOL.format(label="p", name='"p"'))
    tree.write("infra/mod/.#main.tf", "this is an editor lock file {")
    tree.write("infra/mod/main.tf~", "a backup {")
    tree.write("infra/mod/.hidden.tf.json", "{}")
    state, diags = load(["infra"])
    assert not diags.errors, _errors(diags)
    assert list(state.pools) == ["p"]


NAMED = 'variable "name" {\n  type = string\n  default = "default"\n}\n' + POOL.format(label="p", name="var.name")


@pytest.mark.parametrize(("files", "expected"), [
    ({"terraform.tfvars.json": {"name": "tfvars-json"}}, "tfvars-json"),
    ({"terraform.tfvars": 'name = "tfvars"\n', "terraform.tfvars.json": {"name": "tfvars-json"}}, "tfvars-json"),
    ({"terraform.tfvars.json": {"name": "tfvars-json"}, "a.auto.tfvars": 'name = "a-auto"\n'}, "a-auto"),
    ({"a.auto.tfvars.json": {"name": "a-auto-json"}, "b.auto.tfvars": 'name = "b-auto"\n'}, "b-auto"),
    ({"a.auto.tfvars": 'name = "a-auto"\n', "b.auto.tfvars.json": {"name": "b-auto-json"}}, "b-auto-json"),
    ({"prod.tfvars.json": {"name": "not-auto-loaded"}}, "default"),
], ids=["tfvars_json", "json_after_hcl", "auto_after_terraform", "auto_by_name_hcl_last", "auto_by_name_json_last",
        "other_var_files_need_var_file"])
def test_variable_files_terraform_loads_are_read_in_its_order(tree, files, expected):
    tree.write("infra/main.tf", NAMED)
    for name, content in files.items():
        tree.write(f"infra/{name}", content if isinstance(content, str) else json.dumps(content))
    state, diags = load(["infra"])
    assert not diags.errors, _errors(diags)
    assert list(state.pools) == [expected]


def test_tfvars_json_problems_are_diagnostics_at_the_line(tree):
    tree.write("infra/main.tf", NAMED)
    tree.write("infra/terraform.tfvars.json", '{\n  "name": "x",\n  "nope": 1\n}\n')
    state, diags = load(["infra"])
    assert [(d.severity, d.range.filename, d.range.start.line, d.summary) for d in diags] == [
        ("warning", "infra/terraform.tfvars.json", 3,
         "infra/terraform.tfvars.json sets 'nope', but no variable \"name\" is declared".replace('"name"', '"nope"'))]
    tree.write("infra/terraform.tfvars.json", '{\n  "name": \n}\n')
    state, diags = load(["infra"])
    assert state is None and diags.errors[0].range.filename == "infra/terraform.tfvars.json"


@pytest.mark.parametrize("where", ["given", "discovered"])
def test_a_json_poolform_config_in_a_directory_is_refused_other_json_is_not_configuration(tree, where):
    tree.write("infra/pools.yaml", "version: 1\nwork_pools:\n  p: {type: process}\n")
    tree.write("infra/template.json", json.dumps({"job_configuration": {}, "variables": {}}))
    tree.write("infra/tsconfig.json", "{ // comments: not JSON\n}")
    tree.write("infra/prod.tfvars.json", json.dumps({"work_pools": "a variable, not a config"}))
    state, diags = load(["infra"]) if where == "given" else (tree.root / "infra").exists() and _in(tree, "infra")
    assert state is not None and not diags.errors, _errors(diags)
    tree.write("infra/more.json", json.dumps({"version": 1, "work_pools": {"q": {"type": "process"}}}))
    state, diags = load(["infra"]) if where == "given" else _in(tree, "infra")
    assert state is None
    prefix = "infra/" if where == "given" else ""
    assert _errors(diags) == [(f"{prefix}more.json", 1, f"{prefix}more.json: a poolform config in JSON is not read "
                                                        "from a directory")]
    assert "Rename it to more.yaml" in diags.errors[0].detail
    state, diags = load(["infra/pools.yaml", "infra/more.json"] if where == "given" else ["pools.yaml", "more.json"])
    assert sorted(state.pools) == ["p", "q"], "named with -f, it is read"


def _in(tree, directory):
    import os

    os.chdir(tree.root / directory)
    return load([])
