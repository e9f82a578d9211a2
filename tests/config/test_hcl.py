"""HCL (.tf) configs: the supported expression subset, the provider's attributes, and diagnostics at file:line."""

from __future__ import annotations

import json

import pytest

from reconciler.model.state import UNMANAGED

POOL = 'resource "prefect_work_pool" "p" {{\n  name = "p"\n  type = "process"\n  description = {expr}\n}}\n'


def describe(tree, expr, *, prelude="", variables=None, env=None, files=None):
    """Load a module whose pool description is ``expr``; return (description, diagnostics)."""
    for name, text in (files or {}).items():
        tree.write(name, text)
    tree.write("m/main.tf", prelude + POOL.format(expr=expr))
    state, diags = tree.load("m", variables=variables, env=env)
    return (state.pools["p"].description if state else None), diags


EXPRESSIONS = {
    "string_literal": ('"plain"', {}, "plain"),
    "escapes": (r'"a\tb\"c\\d\u00e9"', {}, 'a\tb"c\\dé'),
    "escaped_interpolation": ('"$${not} %%{x}"', {}, "${not} %{x}"),
    "interpolation_of_numbers_and_bools": ('"${1 + 2}-${true}-${1.5}"', {}, "3-true-1.5"),
    "variable_default": ('var.env', {"prelude": 'variable "env" { default = "dev" }\n'}, "dev"),
    "cli_var_wins_over_env_and_default": (
        '"${var.env}"', {"prelude": 'variable "env" { default = "dev" }\n', "variables": {"env": "prod"},
                         "env": {"TF_VAR_env": "stage"}}, "prod"),
    "tf_var_env_wins_over_default": (
        '"${var.env}"', {"prelude": 'variable "env" { default = "dev" }\n', "env": {"TF_VAR_env": "stage"}}, "stage"),
    "typed_number_var": ('"${var.n * 2}"', {"prelude": 'variable "n" { type = number }\n', "variables": {"n": "21"}}, "42"),
    "typed_map_var": ('var.m.k', {"prelude": 'variable "m" { type = map(string) }\n', "variables": {"m": '{ k = "v" }'}}, "v"),
    "locals_chain": ('local.b', {"prelude": 'locals {\n  a = "x"\n  b = "${local.a}-y"\n}\n'}, "x-y"),
    "locals_in_another_file": ('local.a', {"files": {"m/locals.tf": 'locals { a = "elsewhere" }\n'}}, "elsewhere"),
    "jsonencode_sorts_keys": ('jsonencode({ b = 1, a = [true, null] })', {}, '{"a":[true,null],"b":1}'),
    "jsondecode": ('jsondecode("{\\"k\\": [1, 2]}").k[1] == 2 ? "yes" : "no"', {}, "yes"),
    "file_relative_to_path_module": ('file("${path.module}/note.txt")', {"files": {"m/note.txt": "hello\n"}}, "hello\n"),
    "templatefile_with_directives": (
        'templatefile("${path.module}/t.tpl", { name = "n", items = ["a", "b"], on = true })',
        {"files": {"m/t.tpl": "hi ${name}:%{ for i in items }[${i}]%{ endfor }%{ if on } on%{ else } off%{ endif }"}},
        "hi n:[a][b] on"),
    "templatefile_strip_markers": (
        'templatefile("${path.module}/t.tpl", { xs = ["a", "b"] })',
        {"files": {"m/t.tpl": "%{ for x in xs ~}\n${x}\n%{~ endfor }"}}, "ab"),
    "conditional_and_logic": ('1 < 2 && !false ? "t" : "f"', {}, "t"),
    "for_expression": ('join(",", [for s in ["a", "b", "c"] : upper(s) if s != "b"])', {}, "A,C"),
    "for_object_expression": ('jsonencode({ for k, v in { a = 1 } : k => v + 1 })', {}, '{"a":2}'),
    "merge_and_lookup": ('lookup(merge({ a = "1" }, { a = "2" }), "a", "none")', {}, "2"),
    "heredoc_trimmed": ('<<-EOT\n    line ${1}\n      indented\n    EOT\n', {}, "line 1\n  indented\n"),
    "index_and_attribute_access": ('local.m.list[1].name', {"prelude": 'locals {\n  m = { list = [{ name = "a" }, { name = "b" }] }\n}\n'}, "b"),
    "reference_to_pool_attribute": ('"${prefect_work_pool.other.name}/${prefect_work_pool.other.type}"',
                                    {"prelude": 'resource "prefect_work_pool" "other" {\n  name = "o"\n  type = "docker"\n}\n'},
                                    "o/docker"),
    "null_description_is_absent": ('null', {}, None),
    "splat": ('join(",", local.l[*].a)', {"prelude": 'locals { l = [{ a = "x" }, { a = "y" }] }\n'}, "x,y"),
    "attribute_splat": ('join(",", local.l.*.a)', {"prelude": 'locals { l = [{ a = "x" }] }\n'}, "x"),
    "splat_of_one_value": ('join(",", local.l[*])', {"prelude": 'locals { l = "one" }\n'}, "one"),
    "try_falls_back_on_dynamic_errors": ('try(local.m.missing, "fallback")', {"prelude": 'locals { m = {} }\n'}, "fallback"),
    "format_and_try": ('format("%s-%03d", try(tonumber("x"), "n"), 7)', {}, "n-007"),
    "argument_expansion": ('format("%s-%s", local.l...)', {"prelude": 'locals { l = ["a", "b"] }\n'}, "a-b"),
    "conditional_unifies_to_string": ('true ? 1 : "a"', {}, "1"),
    "numeric_string_arithmetic": ('"${"5" + 1}"', {}, "6"),
    "exact_decimal_sum": ('"${0.1 + 0.2}"', {}, "0.3"),
}


@pytest.mark.parametrize("expr,options,expected", list(EXPRESSIONS.values()), ids=list(EXPRESSIONS))
def test_expression_evaluation(tree, expr, options, expected):
    value, diags = describe(tree, expr, **options)
    assert not diags.has_errors, tree.where(diags)
    assert value == expected


ERRORS = {
    "unsupported_function": ('upper(nope())', {}, "m/main.tf:4:23 error function nope() is not supported offline"),
    "known_only_at_apply": ('upper(timestamp())', {}, "m/main.tf:4:23 error timestamp() is known only during apply"),
    "try_does_not_hide_unsupported": ('try(nope(), "x")', {}, "m/main.tf:4:21 error function nope() is not supported offline"),
    "try_does_not_hide_undeclared": ('try(var.nope, "x")', {}, "m/main.tf:4:21 error no variable named 'nope' is declared"),
    "unsupported_reference": ('data.prefect_x.y.name', {}, "m/main.tf:4:17 error reference to data.prefect_x.y is not supported offline"),
    "worker_metadata_data_source": ('data.prefect_worker_metadata.d.base_job_configs.kubernetes', {},
                                    "m/main.tf:4:17 error reference to data.prefect_worker_metadata.d is not supported offline"),
    "unknown_variable": ('var.nope', {}, "m/main.tf:4:17 error no variable named 'nope' is declared"),
    "variable_without_value": ('var.env', {"prelude": 'variable "env" {}\n'}, "m/main.tf:1:1 error variable 'env' has no value"),
    "bad_number_var": ('"${var.n}"', {"prelude": 'variable "n" { type = number }\n', "variables": {"n": "ten"}},
                       "m/main.tf:1:1 error invalid value for variable 'n' (--var n): cannot convert \"ten\" to a number"),
    "local_cycle": ('local.a', {"prelude": 'locals {\n  a = local.b\n  b = local.a\n}\n'}, "m/main.tf:3:7 error local.a refers to itself"),
    "id_known_only_after_apply": ('prefect_work_pool.p.id', {}, "m/main.tf:4:17 error prefect_work_pool.p.id is known only after apply"),
    "type_mismatch_in_operator": ('"${1 + "a"}"', {}, 'm/main.tf:4:24 error + needs numbers, not string'),
    "missing_file": ('file("${path.module}/none.txt")', {}, "m/main.tf:4:17 error file not found: m/none.txt"),
    "error_inside_templatefile": ('templatefile("${path.module}/t.tpl", {})', {"files": {"m/t.tpl": "x ${nope}"}},
                                  "m/main.tf:4:17 error in template m/t.tpl: 'nope' is not a template variable"),
}


@pytest.mark.parametrize("expr,options,expected", list(ERRORS.values()), ids=list(ERRORS))
def test_unsupported_or_bad_expressions_are_diagnostics_at_their_line(tree, expr, options, expected):
    value, diags = describe(tree, expr, **options)
    assert value is None
    got = tree.where(diags)
    assert any(line.startswith(expected) for line in got), got


SYNTAX = {
    "missing_value": ('resource "prefect_work_pool" "p" {\n  name = \n}\n', "m/main.tf:2:10 error malformed HCL: unexpected"),
    "unclosed_list": ('resource "prefect_work_pool" "p" {\n  name = [1,\n}\n', "m/main.tf:3:1 error malformed HCL: unexpected '}'"),
    "unterminated_string": ('locals {\n  a = "abc\n}\n', "m/main.tf:2:"),
}


@pytest.mark.parametrize("text,expected", list(SYNTAX.values()), ids=list(SYNTAX))
def test_bad_hcl_syntax(tree, text, expected):
    tree.write("m/main.tf", text)
    state, diags = tree.load("m")
    assert state is None
    got = tree.where(diags)
    assert any(line.startswith(expected) for line in got), got


def test_provider_attributes_map_onto_the_desired_state(tree):
    template = {"job_configuration": {"c": "{{ c }}"}, "variables": {"properties": {"c": {"type": "string", "default": "x"}}}}
    tree.write("infra/tpl.json", json.dumps(template))
    tree.write("infra/main.tf", """
        terraform {
          required_providers {
            prefect = { source = "prefecthq/prefect" }
          }
        }
        provider "prefect" {}
        resource "aws_s3_bucket" "ignored" { bucket = "b" }
        output "ignored" { value = 1 }
        resource "prefect_work_pool" "k8s" {
          name              = "k8s-prod"
          type              = "kubernetes"
          description       = "Production"
          paused            = true
          concurrency_limit = "20"
          base_job_template = file("${path.module}/tpl.json")
        }
        resource "prefect_work_pool" "bare" {
          name = "bare"
        }
        resource "prefect_work_queue" "critical" {
          work_pool_name    = prefect_work_pool.k8s.name
          name              = "critical"
          priority          = 1
          concurrency_limit = 1
          is_paused         = "true"
          description       = "sla"
        }
        resource "prefect_work_queue" "default" {
          work_pool_name = prefect_work_pool.k8s.name
          name           = "default"
        }
        """)
    state, diags = tree.load("infra")
    assert not diags.has_errors, tree.where(diags)
    pool = state.pools["k8s-prod"]
    assert (pool.type, pool.description, pool.paused, pool.concurrency_limit) == ("kubernetes", "Production", True, 20)
    assert pool.base_job_template == template
    critical = pool.queues["critical"]
    assert (critical.priority, critical.concurrency_limit, critical.paused, critical.description) == (1, 1, True, "sla")
    assert pool.queues["default"].description == "The work pool's default queue."
    assert pool.queues["default"].priority is UNMANAGED
    assert state.pools["bare"].base_job_template is UNMANAGED
    assert str(pool.source) == "infra/main.tf:9:1"
    assert str(critical.source) == "infra/main.tf:20:1"
    assert tree.where(diags) == [
        "infra/main.tf:17:1 warning type not set: the pool will be created as prefect-agent [work_pool.bare]"]


def test_resource_problems_point_at_their_attribute(tree):
    tree.write("m/main.tf", """
        resource "prefect_work_pool" "p" {
          name = "p"
          type = "process"
          concurency_limit = 3
          base_job_template = jsonencode({ job_configuration = { a = "{{ b }}" }, variables = { properties = { a = {} } } })
        }
        resource "prefect_work_pool" "q" {
          name = "q"
          type = "process"
          base_job_template = { job_configuration = {} }
        }
        resource "prefect_work_pool" "r" {
          name = "r"
          type = "process"
          base_job_template = "{not json"
        }
        resource "prefect_work_queue" "orphan" {
          work_pool_name = "missing"
          name = "x"
        }
        resource "prefect_work_queue" "dup1" {
          work_pool_name = "p"
          name = "same"
        }
        resource "prefect_work_queue" "dup2" {
          work_pool_name = "p"
          name = "same"
        }
        resource "prefect_work_pool" "prefect" {
          name = "prefect-thing"
          type = "process"
        }
        """)
    state, diags = tree.load("m")
    assert state is None
    got = tree.where(diags)
    expected = [
        "m/main.tf:4:3 error unknown attribute 'concurency_limit' in prefect_work_pool.p [work_pool.p]",
        "m/main.tf:5:23 error job_configuration uses undeclared variable(s): b [work_pool.p]",
        "m/main.tf:10:23 error base_job_template must be a JSON string [work_pool.q]",
        "m/main.tf:15:23 error base_job_template is not valid JSON: Expecting property name enclosed in double quotes (line 1, column 2 of the JSON) [work_pool.r]",
        "m/main.tf:18:20 error queue 'x' refers to pool 'missing', which no prefect_work_pool in this configuration declares [work_queue.missing.x]",
        "m/main.tf:25:1 error two prefect_work_queue resources declare queue 'same' of pool 'p' [work_queue.p.same]",
        "m/main.tf:29:1 error pool name 'prefect-thing' is reserved [work_pool.prefect-thing]",
    ]
    for line in expected:
        assert line in got, got
    assert 'Did you mean "concurrency_limit"?' in next(d.detail for d in diags if "concurency_limit" in d.summary)


def test_unused_cli_var_is_a_warning(tree):
    tree.write("pools.yaml", "version: 1\nwork_pools: {a: {type: process}}\n")
    state, diags = tree.load("pools.yaml", variables={"env": "prod"})
    assert state is not None
    assert [d.summary for d in diags.warnings] == ['--var env is not used: no .tf file declares variable "env"']


def test_hcl_and_yaml_merge_in_order(tree):
    tree.write("d/a.tf", 'resource "prefect_work_pool" "p" {\n  name = "p"\n  type = "process"\n  concurrency_limit = 1\n}\n')
    tree.write("d/b.yaml", "work_pools:\n  p:\n    concurrency_limit: 9\n")
    state, diags = tree.load("d")
    assert not diags.has_errors, tree.where(diags)
    assert state.pools["p"].concurrency_limit == 9


@pytest.mark.parametrize("files,variables,env,expected", [
    ({"m/terraform.tfvars": 'env = "tfvars"\n'}, {}, {}, "tfvars"),
    ({"m/terraform.tfvars": 'env = "tfvars"\n', "m/b.auto.tfvars": 'env = "auto"\n'}, {}, {}, "auto"),
    ({"m/terraform.tfvars": 'env = "tfvars"\n'}, {"env": "cli"}, {}, "cli"),
    ({"m/terraform.tfvars": 'env = "tfvars"\n'}, {}, {"TF_VAR_env": "from-env"}, "tfvars"),
    ({}, {}, {"TF_VAR_env": "from-env"}, "from-env"),
], ids=["terraform_tfvars", "auto_tfvars_wins", "cli_var_wins", "tfvars_beat_environment", "environment_beats_default"])
def test_variable_precedence_like_terraform(tree, files, variables, env, expected):
    value, diags = describe(tree, "var.env", prelude='variable "env" { default = "default" }\n',
                            variables=variables, env=env, files=files)
    assert not diags, tree.where(diags)
    assert value == expected


def test_tfvars_problems_are_diagnostics(tree):
    value, diags = describe(tree, "var.env", prelude='variable "env" { default = "d" }\n',
                            files={"m/terraform.tfvars": 'nope = 1\nenv = local.x\n'})
    assert value is None
    assert tree.where(diags) == [
        "m/terraform.tfvars:1:1 warning m/terraform.tfvars sets 'nope', but no variable \"nope\" is declared [None]",
        "m/terraform.tfvars:2:7 error local cannot be referenced here [None]",
    ]


def test_count_and_for_each_expand_into_instances(tree):
    tree.write("m/main.tf", """
        locals {
          envs   = toset(["staging", "prod", "prod"])
          queues = {
            critical = { priority = 1, concurrency_limit = 1 }
            bulk     = { priority = 5, concurrency_limit = null }
          }
        }
        resource "prefect_work_pool" "env" {
          for_each          = local.envs
          name              = "fe-${each.key}"
          type              = "process"
          concurrency_limit = each.value == "prod" ? 20 : 2
        }
        resource "prefect_work_queue" "q" {
          for_each          = local.queues
          work_pool_name    = prefect_work_pool.env["prod"].name
          name              = each.key
          priority          = each.value.priority
          concurrency_limit = each.value.concurrency_limit
        }
        resource "prefect_work_queue" "shards" {
          count          = 2
          work_pool_name = prefect_work_pool.env["staging"].name
          name           = "shard-${count.index}"
          priority       = 10 + count.index
        }
        """)
    state, diags = tree.load("m")
    assert not diags.has_errors, tree.where(diags)
    assert sorted(state.pools) == ["fe-prod", "fe-staging"]
    assert (state.pools["fe-prod"].concurrency_limit, state.pools["fe-staging"].concurrency_limit) == (20, 2)
    prod = state.pools["fe-prod"].queues
    assert {n: (q.priority, q.concurrency_limit) for n, q in prod.items() if n != "default"} == {
        "critical": (1, 1), "bulk": (5, None)}
    staging = state.pools["fe-staging"].queues
    assert {n: q.priority for n, q in staging.items() if n != "default"} == {"shard-0": 10, "shard-1": 11}
    assert str(prod["critical"].source) == "m/main.tf:14:1"


def test_count_and_for_each_mistakes_are_diagnostics_at_their_line(tree):
    tree.write("m/main.tf", """
        resource "prefect_work_pool" "a" {
          for_each = 3
          name     = "x"
        }
        resource "prefect_work_pool" "b" {
          count = -1
          name  = "y"
        }
        resource "prefect_work_pool" "c" {
          count    = 1
          for_each = { a = 1 }
          name     = "c"
        }
        resource "prefect_work_pool" "d" {
          for_each = { k = "v" }
          name     = "d-${each.value}"
          type     = "process"
        }
        resource "prefect_work_queue" "q" {
          work_pool_name = prefect_work_pool.d.name
          name           = "q"
        }
        resource "prefect_work_queue" "r" {
          work_pool_name = prefect_work_pool.d["k"].name
          name           = "r-${each.key}"
        }
        """)
    state, diags = tree.load("m")
    assert state is None
    assert tree.where(diags) == [
        "m/main.tf:2:14 error for_each must be a map, or a set of strings (toset([...])) [None]",
        "m/main.tf:6:11 error count must be a whole number of at least 0, not -1 [None]",
        "m/main.tf:10:14 error prefect_work_pool.c sets both count and for_each [None]",
        "m/main.tf:20:20 error prefect_work_pool.d has for_each: pick an instance, as in prefect_work_pool.d[KEY].name [None]",
        "m/main.tf:25:25 error each.key is available only in a resource or module that sets for_each [None]",
    ]


def test_lifecycle_prevent_destroy_is_recorded_per_address(tree):
    tree.write("m/main.tf", """
        resource "prefect_work_pool" "p" {
          name = "p"
          type = "process"
          lifecycle {
            prevent_destroy = true
          }
        }
        resource "prefect_work_queue" "q" {
          for_each       = toset(["a", "b"])
          work_pool_name = prefect_work_pool.p.name
          name           = each.key
          lifecycle {
            prevent_destroy = true
          }
        }
        resource "prefect_work_pool" "free" {
          name = "free"
          type = "process"
          lifecycle {
            prevent_destroy = false
            ignore_changes  = [description]
          }
        }
        """)
    state, diags = tree.load("m")
    assert not diags.has_errors, tree.where(diags)
    assert {a: str(r) for a, r in state.prevent_destroy.items()} == {
        "work_pool.p": "m/main.tf:5:23", "work_queue.p.a": "m/main.tf:13:23", "work_queue.p.b": "m/main.tf:13:23"}
