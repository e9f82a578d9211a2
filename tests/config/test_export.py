"""export_config: live pools written as config load back to exactly the observed values."""

from __future__ import annotations

import pytest

from reconciler.config.export import MODELINE, export_config
from reconciler.model.state import ObservedPool, ObservedState
from reconciler.templates import default_template

TRICKY = ["no", "on", "Yes", "null", "~", "1e3", "0x10", "010", "1.0", ": x", "a #b", "", " lead", "trail ",
          "multi\nline", "quote\"s", "{{ extra }}", "- dash", "*star", "&amp", "!bang", "%pct", "@at", "`tick", "é",
          "del\x7f", "nel\x85x", "ls\u2028ps\u2029", "c1\x9b", "bom\ufeff", "nul\x00", "cr\rlf", "tab\t"]


def pool(name, *, template=None, queues=(), **fields):
    body = {"id": f"id-{name}", "name": name, "type": "process", "description": None, "is_paused": False,
            "concurrency_limit": None, "base_job_template": template or {}, "default_queue_id": "q-default"}
    body.update(fields)
    queue_bodies = [{"id": "q-default", "name": "default", "description": "The work pool's default queue.",
                     "is_paused": False, "concurrency_limit": None, "priority": 1}, *queues]
    return ObservedPool.from_api(body, queue_bodies)


def roundtrip(tree, observed, pools=None):
    text = export_config(observed, pools=pools)
    tree.write("imported.yaml", text)
    state, diags = tree.load("imported.yaml")
    assert not diags.has_errors, tree.where(diags)
    return text, state, diags


def test_roundtrip_gives_the_observed_values(tree):
    template = default_template("process")
    template["job_configuration"]["extra"] = {"strings": TRICKY, "nested": [{"a": [1, 2.5, True, None]}, [], {}]}
    template["variables"]["properties"]["extra"] = {"type": "object", "default": {"k": TRICKY}}
    template["job_configuration"]["x"] = "{{ extra }}"
    observed = ObservedState(pools={
        "no": pool("no", template=template, description="multi\nline: yes", concurrency_limit=0, is_paused=True,
                   queues=[{"id": "q1", "name": "on", "description": "", "is_paused": True, "concurrency_limit": 0, "priority": 3},
                           {"id": "q2", "name": "1e3", "description": "#hash", "is_paused": False, "concurrency_limit": 5, "priority": 2}]),
        "k8s prod": pool("k8s prod", type="kubernetes"),
    }, api_url="http://127.0.0.1:4200/api")
    text, state, _ = roundtrip(tree, observed)
    assert text.splitlines()[0] == MODELINE
    for name, have in observed.pools.items():
        want = state.pools[name]
        assert (want.type, want.description, want.paused, want.concurrency_limit, want.base_job_template) == (
            have.type, have.description, have.paused, have.concurrency_limit, have.base_job_template)
        assert set(want.queues) == set(have.queues)
        for queue_name, queue in have.queues.items():
            got = want.queues[queue_name]
            assert (got.description, got.paused, got.concurrency_limit, got.priority) == (
                queue.description, queue.paused, queue.concurrency_limit, queue.priority)


def test_every_field_is_explicit(tree):
    observed = ObservedState(pools={"a": pool("a")})
    text = export_config(observed)
    body = text.split("version: 1\n", 1)[1]
    assert body == (
        "work_pools:\n"
        "  a:\n"
        "    type: process\n"
        "    description: null\n"
        "    paused: false\n"
        "    concurrency_limit: null\n"
        "    base_job_template: {}\n"
        "    queues:\n"
        "      default:\n"
        "        priority: 1\n"
        "        concurrency_limit: null\n"
        "        paused: false\n"
        "        description: \"The work pool's default queue.\"\n"
    )


@pytest.mark.parametrize("names,expected", [
    (None, ["a", "b"]), (["b"], ["b"]), (["b", "a"], ["b", "a"]), ([], []),
], ids=["all_sorted", "one", "given_order", "none"])
def test_pool_selection(tree, names, expected):
    observed = ObservedState(pools={"b": pool("b"), "a": pool("a")})
    _, state, _ = roundtrip(tree, observed, names)
    assert list(state.pools) == expected


def test_reserved_pools_are_skipped_with_a_comment(tree):
    observed = ObservedState(pools={"prefect-managed": pool("prefect-managed"), "a": pool("a")})
    text, state, _ = roundtrip(tree, observed)
    assert "# Skipped work pool 'prefect-managed'" in text
    assert list(state.pools) == ["a"]


def test_queues_are_written_in_priority_order():
    observed = ObservedState(pools={"a": pool("a", queues=[
        {"id": "1", "name": "z", "description": "", "is_paused": False, "concurrency_limit": None, "priority": 2},
        {"id": "2", "name": "b", "description": "", "is_paused": False, "concurrency_limit": None, "priority": 7}])})
    text = export_config(observed)
    assert text.index("      default:") < text.index("      z:") < text.index("      b:")
