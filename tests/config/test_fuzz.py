"""Whatever a config holds, loading it gives diagnostics, never an exception."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.config.load import load

KEYS = st.sampled_from(["version", "manage", "prune", "scope", "work_pools", "base_job_templates", "type",
                        "description", "paused", "concurrency_limit", "base_job_template", "queues", "priority",
                        "file", "template", "defaults", "job_configuration", "variables", "properties", "default",
                        "a", "prefect-x", "q/1", "", "default"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, allow_infinity=False),
                    st.sampled_from(["", "no", "{{ a }}", "x.json", "process", "a", "{{ $HOME }}"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(KEYS, inner, max_size=4)), max_leaves=25)
DOCUMENTS = st.fixed_dictionaries({"version": st.sampled_from([1, 2, "1"])},
                                  optional={"work_pools": st.dictionaries(KEYS, VALUES, max_size=3),
                                            "base_job_templates": st.dictionaries(KEYS, VALUES, max_size=2),
                                            "manage": VALUES})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=DOCUMENTS)
def test_load_never_raises(tree, document):
    tree.write("pools.yaml", json.dumps(document))
    state, diags = tree.load("pools.yaml")
    assert (state is None) == diags.has_errors
    for diagnostic in diags:
        assert diagnostic.summary
        assert diagnostic.range is not None


FRAGMENTS = st.sampled_from([
    'resource "prefect_work_pool" "p" {', 'resource "prefect_work_queue" "q" {', "}", "\n", "name = ", "type = ",
    "work_pool_name = ", "priority = ", "base_job_template = ", '"p"', '"${var.x}"', "var.x", "local.y",
    "jsonencode({a = 1})", "file(\"nope\")", "[1, 2]", "{ a = 1 }", "1 + ", "true ? 1 : 2", "prefect_work_pool.p.name",
    'variable "x" { default = 1 }', "locals { y = local.y }", "%{ if true }", '"${', "<<EOT\nx\nEOT\n", "-1", "null",
])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(FRAGMENTS, max_size=14))
def test_hcl_load_never_raises(tree, parts):
    tree.write("m/main.tf", " ".join(parts))
    state, diags = tree.load("m")
    assert (state is None) == diags.has_errors
