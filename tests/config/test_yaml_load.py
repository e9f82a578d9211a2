"""Good YAML configs -> DesiredState: defaults, YAML 1.2 scalars, templates, overlays, file references."""

from __future__ import annotations

import pytest

from reconciler.config.yaml_source import parse_yaml_text
from reconciler.diagnostics import Diagnostics
from reconciler.model.state import DEFAULT_POOL_TYPE, UNMANAGED, DesiredQueue


def test_absent_fields_take_server_defaults_and_unmanaged(tree):
    tree.write("pools.yaml", """
        version: 1
        work_pools:
          a:
            queues:
              q: {}
              default: {}
        """)
    state, diags = tree.load("pools.yaml")
    assert not diags.has_errors
    pool = state.pools["a"]
    assert (pool.type, pool.description, pool.paused, pool.concurrency_limit) == (DEFAULT_POOL_TYPE, None, False, None)
    assert pool.base_job_template is UNMANAGED
    q, default = pool.queues["q"], pool.queues["default"]
    assert (q.description, q.paused, q.concurrency_limit, q.priority) == ("", False, None, UNMANAGED)
    assert default.description == "The work pool's default queue."
    assert default.priority is UNMANAGED
    assert state.prune is False and state.scope == []


def test_declared_fields_and_manage(tree):
    tree.write("pools.yaml", """
        version: 1
        manage: {prune: true, scope: ["team-a-*"]}
        work_pools:
          k8s-prod:
            type: kubernetes
            description: Production
            paused: true
            concurrency_limit: 0
            base_job_template: {}
            queues:
              critical: {priority: 1, concurrency_limit: 0, paused: true, description: sla}
              default: {description: mine, priority: 4}
        """)
    state, diags = tree.load("pools.yaml")
    assert not diags
    pool = state.pools["k8s-prod"]
    assert (pool.type, pool.description, pool.paused, pool.concurrency_limit) == ("kubernetes", "Production", True, 0)
    assert pool.base_job_template == {}
    assert pool.queues["critical"] == DesiredQueue("k8s-prod", "critical", "sla", True, 0, 1, pool.queues["critical"].source)
    assert pool.queues["default"].description == "mine" and pool.queues["default"].priority == 4
    assert state.prune is True and state.scope == ["team-a-*"]
    assert str(pool.source) == "pools.yaml:4:3"
    assert str(pool.queues["critical"].source) == "pools.yaml:11:7"
    assert str(pool.template_source) == "pools.yaml:9:24"


@pytest.mark.parametrize("backend", ["libyaml", "ruamel"])
@pytest.mark.parametrize("text,expected", [
    ("no", "no"), ("on", "on"), ("off", "off"), ("yes", "yes"), ("y", "y"), ("NO", "NO"),
    ("true", True), ("False", False), ("null", None), ("~", None), ("", None),
    ("1", 1), ("-3", -3), ("0o17", 15), ("0x1f", 31), ("1.5", 1.5), ("1e3", 1000.0),
    ("'true'", "true"), ('"1"', "1"), ("!!str 12", "12"), ("010", 10),
], ids=lambda v: repr(v))
def test_yaml_1_2_scalars(backend, text, expected):
    diags = Diagnostics()
    doc = parse_yaml_text(f"key: {text}\n", "f.yaml", diags, backend=backend)
    assert not diags
    assert doc.data == {"key": expected}
    assert type(doc.data["key"]) is type(expected)


def test_queues_named_like_yaml_1_1_booleans_stay_strings(tree):
    tree.write("pools.yaml", """
        version: 1
        work_pools:
          a:
            type: process
            queues:
              no: {priority: 1}
              on: {priority: 2}
              off: {}
              "yes": {}
              true: {}
              1: {}
        """)
    state, diags = tree.load("pools.yaml")
    assert not diags.has_errors
    assert list(state.pools["a"].queues) == ["no", "on", "off", "yes", "true", "1"]


@pytest.mark.parametrize("backend", ["libyaml", "ruamel"])
def test_backends_agree_on_data_and_positions(backend):
    text = "a: &x {k: 1, j: [1, 2]}\nb:\n  <<: *x\n  k: 2\nc: 'no'\n"
    diags = Diagnostics()
    doc = parse_yaml_text(text, "f.yaml", diags, backend=backend)
    assert not diags
    assert doc.data == {"a": {"k": 1, "j": [1, 2]}, "b": {"k": 2, "j": [1, 2]}, "c": "no"}
    assert doc.keys[("b", "k")] == ("f.yaml", 4, 3)
    assert doc.values[("a", "j", 1)] == ("f.yaml", 1, 21)


@pytest.mark.parametrize("backend", ["libyaml", "ruamel"])
def test_duplicate_keys_are_diagnostics_in_both_backends(backend):
    diags = Diagnostics()
    parse_yaml_text("a: 1\nb: 2\na: 3\n", "f.yaml", diags, backend=backend)
    (error,) = diags.errors
    assert (str(error.range), error.summary) == ("f.yaml:3:1", "duplicate key 'a'")
    assert "f.yaml:1:1" in error.detail


def test_named_template_with_defaults_is_a_deep_copy(tree):
    tree.write("pools.yaml", """
        version: 1
        base_job_templates:
          k8s:
            job_configuration: {namespace: "{{ namespace }}", image: "{{ image }}"}
            variables:
              type: object
              properties:
                namespace: {type: string, default: prefect}
                image: {type: string, default: "repo/app:1"}
        work_pools:
          one:
            type: kubernetes
            base_job_template: {template: k8s, defaults: {namespace: etl}}
          two:
            type: kubernetes
            base_job_template: {template: k8s}
          three:
            type: kubernetes
            base_job_template: {template: k8s, defaults: {namespace: ml, image: "repo/ml:2"}}
        """)
    state, diags = tree.load("pools.yaml")
    assert not diags
    props = {name: pool.base_job_template["variables"]["properties"] for name, pool in state.pools.items()}
    assert {n: (p["namespace"]["default"], p["image"]["default"]) for n, p in props.items()} == {
        "one": ("etl", "repo/app:1"),
        "two": ("prefect", "repo/app:1"),
        "three": ("ml", "repo/ml:2"),
    }
    assert state.pools["one"].base_job_template["job_configuration"] == {"namespace": "{{ namespace }}", "image": "{{ image }}"}
    assert props["one"] is not props["two"]


def test_file_references_are_relative_to_the_file_that_names_them(tree):
    tree.write("conf/pools.yaml", """
        version: 1
        base_job_templates:
          shared: {file: ../templates/shared.json}
        work_pools:
          a:
            type: process
            base_job_template: {file: local/t.yaml}
          b:
            type: process
            base_job_template: {template: shared}
        """)
    tree.write("conf/local/t.yaml", """
        job_configuration: {command: "{{ command }}"}
        variables: {type: object, properties: {command: {type: string, default: "run a"}}}
        """)
    tree.write("templates/shared.json", """
        {"job_configuration": {"command": "{{ command }}"},
         "variables": {"type": "object", "properties": {"command": {"type": "string", "default": "run shared"}}}}
        """)
    state, diags = tree.load("conf")
    assert not diags
    assert state.pools["a"].base_job_template["variables"]["properties"]["command"]["default"] == "run a"
    assert state.pools["b"].base_job_template["variables"]["properties"]["command"]["default"] == "run shared"


def test_directory_reads_yaml_and_yml_sorted_not_recursive(tree):
    tree.write("d/b.yml", "work_pools: {p: {description: from-b}}\n")
    tree.write("d/a.yaml", "version: 1\nwork_pools: {p: {type: process, description: from-a}}\n")
    tree.write("d/nested/c.yaml", "version: 1\nwork_pools: {other: {type: process}}\n")
    tree.write("d/notes.txt", "not config\n")
    state, diags = tree.load("d")
    assert not diags
    assert list(state.pools) == ["p"]
    assert state.pools["p"].description == "from-b"
    assert state.pools["p"].type == "process"


def test_overlay_deep_merges_later_wins(tree):
    tree.write("base.yaml", """
        version: 1
        manage: {prune: false, scope: [a-*]}
        base_job_templates:
          t:
            job_configuration: {x: "{{ x }}"}
            variables: {properties: {x: {type: string, default: base}}}
        work_pools:
          web:
            type: process
            description: base
            concurrency_limit: 5
            base_job_template: {template: t, defaults: {x: one}}
            queues:
              fast: {priority: 1, concurrency_limit: 2}
              slow: {priority: 5}
          other: {type: process}
        """)
    tree.write("prod.yaml", """
        manage: {scope: [b-*]}
        work_pools:
          web:
            concurrency_limit: 30
            queues:
              fast: {concurrency_limit: 10}
              new: {priority: 9}
        """)
    state, diags = tree.load("base.yaml", "prod.yaml")
    assert not diags
    web = state.pools["web"]
    assert (web.description, web.concurrency_limit) == ("base", 30)
    assert {n: (q.priority, q.concurrency_limit) for n, q in web.queues.items()} == {
        "fast": (1, 10), "slow": (5, None), "new": (9, None)}
    assert web.base_job_template["variables"]["properties"]["x"]["default"] == "one"
    assert state.scope == ["b-*"]
    assert set(state.pools) == {"web", "other"}


def test_overlay_errors_point_at_the_overlay_file(tree):
    tree.write("base.yaml", "version: 1\nwork_pools:\n  web: {type: process, concurrency_limit: 5}\n")
    tree.write("prod.yaml", "work_pools:\n  web:\n    concurrency_limit: lots\n")
    state, diags = tree.load("base.yaml", "prod.yaml")
    assert state is None
    assert tree.where(diags) == [
        "prod.yaml:3:24 error concurrency_limit must be an integer, not the string 'lots' [work_pool.web]"]


@pytest.mark.parametrize("overlay,expected", [
    ("{template: t}", {"job_configuration": {"x": "{{ x }}"}, "variables": {"properties": {"x": {"type": "string"}}}}),
    ("{}", {}),
    ("{variables: {properties: {x: {type: string, default: o}}}}",
     {"job_configuration": {"x": "{{ x }}"}, "variables": {"properties": {"x": {"type": "string", "default": "o"}}}}),
], ids=["other_form_replaces", "empty_replaces", "same_form_merges"])
def test_overlay_of_a_template(tree, overlay, expected):
    tree.write("base.yaml", """
        version: 1
        base_job_templates:
          t: {job_configuration: {x: "{{ x }}"}, variables: {properties: {x: {type: string}}}}
        work_pools:
          web:
            type: process
            base_job_template:
              job_configuration: {x: "{{ x }}"}
              variables: {properties: {x: {type: string}}}
        """)
    tree.write("over.yaml", f"work_pools:\n  web:\n    base_job_template: {overlay}\n")
    state, diags = tree.load("base.yaml", "over.yaml")
    assert not diags.has_errors, tree.where(diags)
    assert state.pools["web"].base_job_template == expected


def test_anchors_and_merge_keys_share_settings(tree):
    tree.write("pools.yaml", """
        version: 1
        work_pools:
          a: &pool
            type: process
            concurrency_limit: 4
            queues: {q: {priority: 2}}
          b:
            <<: *pool
            concurrency_limit: 8
        """)
    state, diags = tree.load("pools.yaml")
    assert not diags
    assert (state.pools["b"].type, state.pools["b"].concurrency_limit) == ("process", 8)
    assert state.pools["b"].queues["q"].priority == 2


def test_empty_file_is_a_missing_version(tree):
    tree.write("pools.yaml", "# nothing yet\n")
    state, diags = tree.load("pools.yaml")
    assert state is None
    assert [d.summary for d in diags.errors] == ["missing required key 'version'"]


def test_state_for_template_file_is_what_the_file_holds(tree):
    tree.write("pools.yaml", "version: 1\nwork_pools:\n  a: {type: process, base_job_template: {file: t.json}}\n")
    tree.write("t.json", '{"job_configuration": {"c": "{{ c }}"}, "variables": {"properties": {"c": {"type": "integer", "default": 3}}}}\n')
    state, diags = tree.load("pools.yaml")
    assert not diags
    assert state.pools["a"].base_job_template == {
        "job_configuration": {"c": "{{ c }}"}, "variables": {"properties": {"c": {"type": "integer", "default": 3}}}}


def test_null_entries_declare_with_defaults(tree):
    tree.write("pools.yaml", """
        version: 1
        work_pools:
          a:
            type: process
            queues:
              default:
              q:
          b:
        """)
    state, diags = tree.load("pools.yaml")
    assert not diags.has_errors
    assert list(state.pools["a"].queues) == ["default", "q"]
    assert state.pools["a"].queues["q"].description == ""
    assert state.pools["b"].type == "prefect-agent"
    assert [d.summary for d in diags.warnings] == ["type not set: the pool will be created as prefect-agent"]


@pytest.mark.parametrize("name,text,source", [
    ("pools.yaml", "\ufeffversion: 1\r\nwork_pools:\r\n  a: {type: process}\r\n", "pools.yaml:3:3"),
    ("m/main.tf", '\ufeffresource "prefect_work_pool" "a" {\r\n  name = "a"\r\n  type = "process"\r\n}\r\n', "m/main.tf:1:1"),
], ids=["yaml", "hcl"])
def test_byte_order_mark_and_crlf_are_accepted(tree, name, text, source):
    (tree.root / name).parent.mkdir(parents=True, exist_ok=True)
    (tree.root / name).write_bytes(text.encode("utf-8"))
    state, diags = tree.load(name.split("/")[0] if "/" in name else name)
    assert not diags
    assert state.pools["a"].type == "process"
    assert str(state.pools["a"].source) == source
