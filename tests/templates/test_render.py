"""render_job_configuration: the worker's rendering rules (prefect-api.md §5.4 steps 1-3; env as Prefect 3.9.1's
from_template_and_values does it, checked against that code)."""

from __future__ import annotations

import pytest

from reconciler.templates import render_job_configuration, unresolved_placeholders


def tpl(job_configuration, **properties):
    return {"job_configuration": job_configuration, "variables": {"type": "object", "properties": properties}}


CASES = {
    "whole_placeholder_keeps_the_type": (
        tpl({"n": "{{ n }}", "b": "{{ b }}", "o": "{{ o }}", "l": "{{ l }}"},
            n={"default": 3}, b={"default": True}, o={"default": {"k": 1}}, l={"default": [1, "x"]}),
        {}, {}, {},
        {"n": 3, "b": True, "o": {"k": 1}, "l": [1, "x"]},
    ),
    "missing_variable_removes_the_key_and_list_item": (
        tpl({"a": "{{ a }}", "keep": 1, "items": ["x", "{{ a }}", "{{ k }}"]}, a={}, k={"default": "y"}),
        {}, {}, {},
        {"keep": 1, "items": ["x", "y"]},
    ),
    "null_default_is_skipped_but_explicit_null_is_kept": (
        tpl({"a": "{{ a }}", "b": "{{ b }}"}, a={"default": None}, b={"default": None}),
        {"b": None}, {}, {},
        {"b": None},
    ),
    "embedded_placeholder_uses_python_str": (
        tpl({"t": "{{ t }}-", "n": "{{ n }}-", "d": "x{{ d }}", "m": "{{ missing }}-", "two": "{{ a }}{{ b }}"},
            t={"default": True}, n={}, d={"default": {"k": 1}}, missing={}, a={"default": 1}, b={"default": 2.5}),
        {"n": None}, {}, {},
        {"t": "True-", "n": "None-", "d": "x{'k': 1}", "m": "-", "two": "12.5"},
    ),
    "flow_run_env_merges_key_by_key_over_the_pool_default_other_keys_replaced": (
        tpl({"env": "{{ env }}", "labels": "{{ labels }}"},
            env={"default": {"POOL": "1"}}, labels={"default": {"a": "1"}}),
        {"env": {"A": "dep", "B": "dep"}, "labels": {"b": "2"}}, {"env": {"B": "run"}, "labels": {"c": "3"}}, {},
        {"env": {"POOL": "1", "A": "dep", "B": "run"}, "labels": {"c": "3"}},
    ),
    "env_default_without_env_in_job_configuration_adds_it": (
        tpl({"x": "{{ x }}"}, x={"default": 1}, env={"default": {"A": "1"}}),
        {}, {}, {},
        {"x": 1, "env": {"A": "1"}},
    ),
    "empty_env_default_leaves_the_placeholder_to_the_job_variables": (
        tpl({"env": "{{ env }}"}, env={"default": {}}),
        {"env": {"A": "1"}}, {}, {},
        {"env": {"A": "1"}},
    ),
    "dotted_env_keys_merge_over_the_pool_default": (
        tpl({"env": "{{ env }}"}, env={"default": {"P": "1"}}),
        {"env": {"A": "plain"}, "env.A": "dotted", "env.B": "dotted"}, {}, {},
        {"env": {"P": "1", "A": "plain", "B": "dotted"}},
    ),
    "dotted_keys_expand_and_plain_key_wins": (
        tpl({"env": "{{ env }}"}, env={}),
        {"env": {"A": "plain"}, "env.A": "dotted", "env.B": "dotted"}, {}, {},
        {"env": {"A": "plain", "B": "dotted"}},
    ),
    "path_lookup_into_a_variable": (
        tpl({"x": "{{ cfg.inner[1] }}", "y": "{{ cfg.inner.0 }}"}, **{"cfg": {"default": {"inner": [5, 6]}}}),
        {}, {}, {},
        {"x": 6, "y": 5},
    ),
    "environment_placeholders_come_from_environ": (
        tpl({"home": "{{ $HOME }}", "both": "{{ $USER }}@{{ host }}", "none": "{{ $NOPE }}"}, host={"default": "h"}),
        {}, {}, {"HOME": "/home/bob", "USER": "bob"},
        {"home": "/home/bob", "both": "bob@h", "none": ""},
    ),
    "server_side_placeholders_are_left_as_written": (
        tpl({"s": "{{ prefect.blocks.secret.db }}", "v": "x-{{ prefect.variables.region }}"}),
        {}, {}, {},
        {"s": "{{ prefect.blocks.secret.db }}", "v": "x-{{ prefect.variables.region }}"},
    ),
    "non_string_scalars_pass_through": (
        tpl({"i": 1, "f": 1.5, "b": False, "z": None, "s": "plain"}),
        {}, {}, {},
        {"i": 1, "f": 1.5, "b": False, "z": None, "s": "plain"},
    ),
    "job_configuration_env_dict_merges_with_env_default_which_wins": (
        tpl({"env": {"FIXED": "1", "BOTH": "job"}}, env={"default": {"BOTH": "var", "VAR": "2"}}),
        {}, {}, {},
        {"env": {"FIXED": "1", "BOTH": "var", "VAR": "2"}},
    ),
    "deployment_env_lays_over_a_literal_env_mapping": (
        tpl({"env": {"FIXED": "1", "BOTH": "job"}}, env={"default": {"BOTH": "var", "VAR": "2"}}),
        {"env": {"BOTH": "dep"}}, {}, {},
        {"env": {"FIXED": "1", "BOTH": "dep", "VAR": "2"}},
    ),
    "deployment_vars_override_defaults_whole": (
        tpl({"image": "{{ image }}", "res": "{{ res }}"}, image={"default": "a:1"}, res={"default": {"cpu": 1, "mem": 2}}),
        {"image": "b:2", "res": {"cpu": 4}}, {}, {},
        {"image": "b:2", "res": {"cpu": 4}},
    ),
}


@pytest.mark.parametrize("template,deployment,flow_run,environ,expected", list(CASES.values()), ids=list(CASES))
def test_render(template, deployment, flow_run, environ, expected):
    before = repr(template)
    out = render_job_configuration(template, deployment_vars=deployment, flow_run_vars=flow_run, environ=environ)
    assert out == expected
    assert repr(template) == before


def test_kubernetes_style_manifest(process_template):
    template = tpl({"job_manifest": {"metadata": {"generateName": "{{ name }}-", "namespace": "{{ namespace }}"},
                                     "spec": {"ttlSecondsAfterFinished": "{{ ttl }}"}}},
                   name={"default": "flow"}, namespace={"default": "prefect"}, ttl={})
    out = render_job_configuration(template, deployment_vars={"namespace": "etl"})
    assert out == {"job_manifest": {"metadata": {"generateName": "flow-", "namespace": "etl"}, "spec": {}}}


def test_default_process_template_renders_defaults(process_template):
    out = render_job_configuration(process_template, deployment_vars={"env": {"A": "1"}})
    assert out == {"env": {"A": "1"}, "stream_output": True}


def test_unresolved_placeholders_lists_block_and_variable_references():
    rendered = {"a": "{{ prefect.blocks.secret.db }}", "b": ["x {{ prefect.variables.r }}"], "c": "{{ plain }}"}
    assert unresolved_placeholders(rendered) == {"prefect.blocks.secret.db", "prefect.variables.r"}
