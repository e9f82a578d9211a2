"""Bad YAML configs: every problem is reported, with file:line:column and the address."""

from __future__ import annotations

import pytest

CASES = {
    "malformed_yaml_flow_sequence": (
        {"pools.yaml": """
            version: 1
            work_pools:
              a: {type: process, queues: [1,
            """},
        ["pools.yaml:4:1 error malformed YAML: did not find expected node content [None]"],
    ),
    "malformed_yaml_bad_indent": (
        {"pools.yaml": """
            version: 1
            work_pools:
              a:
                type: process
               description: x
            """},
        ["pools.yaml:5:4 error malformed YAML: did not find expected key [None]"],
    ),
    "unknown_pool_key_with_did_you_mean": (
        {"pools.yaml": """
            version: 1
            work_pools:
              a:
                type: process
                descripton: hello
            """},
        ["pools.yaml:5:5 error unknown key 'descripton' [work_pool.a]"],
    ),
    "unknown_queue_key": (
        {"pools.yaml": """
            version: 1
            work_pools:
              a:
                type: process
                queues:
                  q: {priorty: 2}
            """},
        ["pools.yaml:6:11 error unknown key 'priorty' [work_queue.a.q]"],
    ),
    "unknown_top_level_key": (
        {"pools.yaml": """
            version: 1
            work_pool:
              a: {type: process}
            """},
        ["pools.yaml:2:1 error unknown key 'work_pool' [None]"],
    ),
    "unknown_manage_key": (
        {"pools.yaml": """
            version: 1
            manage: {prune: true, scopes: [a]}
            """},
        ["pools.yaml:2:23 error unknown key 'scopes' [None]"],
    ),
    "wrong_types": (
        {"pools.yaml": """
            version: 1
            work_pools:
              a:
                type: process
                paused: "yes"
                concurrency_limit: "5"
                queues:
                  q: {priority: 1.5, paused: on}
            """},
        [
            "pools.yaml:5:13 error paused must be a boolean (true or false), not the string 'yes' [work_pool.a]",
            "pools.yaml:6:24 error concurrency_limit must be an integer, not the string '5' [work_pool.a]",
            "pools.yaml:8:21 error priority must be an integer, not the number 1.5 [work_queue.a.q]",
            "pools.yaml:8:34 error paused must be a boolean (true or false), not the string 'on' [work_queue.a.q]",
        ],
    ),
    "queues_not_a_mapping": (
        {"pools.yaml": """
            version: 1
            work_pools:
              a:
                type: process
                queues: [a, b]
            """},
        ["pools.yaml:5:13 error queues must be a mapping, not a list [work_pool.a]"],
    ),
    "missing_version": (
        {"pools.yaml": """
            work_pools:
              a: {type: process}
            """},
        ["pools.yaml:1:1 error missing required key 'version' [None]"],
    ),
    "unsupported_version": (
        {"pools.yaml": """
            version: 2
            """},
        ["pools.yaml:1:10 error unsupported version: the number 2 [None]"],
    ),
    "duplicate_pool_key": (
        {"pools.yaml": """
            version: 1
            work_pools:
              a: {type: process}
              a: {type: kubernetes}
            """},
        ["pools.yaml:4:3 error duplicate key 'a' [None]"],
    ),
    "duplicate_queue_priorities": (
        {"pools.yaml": """
            version: 1
            work_pools:
              a:
                type: process
                queues:
                  x: {priority: 3}
                  y: {priority: 3}
            """},
        ["pools.yaml:7:21 error queues 'x' and 'y' both have priority 3 [work_queue.a.y]"],
    ),
    "negative_limits_and_zero_priority": (
        {"pools.yaml": """
            version: 1
            work_pools:
              a:
                type: process
                concurrency_limit: -1
                queues:
                  x: {priority: 0, concurrency_limit: -2}
            """},
        [
            "pools.yaml:5:24 error concurrency_limit must be at least 0, not the number -1 [work_pool.a]",
            "pools.yaml:7:21 error priority must be at least 1, not the number 0 [work_queue.a.x]",
            "pools.yaml:7:43 error concurrency_limit must be at least 0, not the number -2 [work_queue.a.x]",
        ],
    ),
    "queue_limit_above_pool_limit_warns": (
        {"pools.yaml": """
            version: 1
            work_pools:
              a:
                type: process
                concurrency_limit: 2
                queues:
                  x: {concurrency_limit: 3}
            """},
        ["pools.yaml:7:30 warning queue concurrency_limit 3 is above the pool's 2 [work_queue.a.x]"],
    ),
    "reserved_pool_names_any_case": (
        {"pools.yaml": """
            version: 1
            work_pools:
              prefect-managed: {type: process}
              PrefectThing: {type: process}
            """},
        [
            "pools.yaml:3:3 error pool name 'prefect-managed' is reserved [work_pool.prefect-managed]",
            "pools.yaml:4:3 error pool name 'PrefectThing' is reserved [work_pool.PrefectThing]",
        ],
    ),
    "control_character_is_located": (
        {"pools.yaml": """
            version: 1
            work_pools:
              "a\x7fb": {type: process}
            """},
        ["pools.yaml:3:5 error malformed YAML: control characters are not allowed (U+007F) [None]"],
    ),
    "integers_above_32_bits": (
        {"pools.yaml": """
            version: 1
            work_pools:
              a:
                type: process
                concurrency_limit: 2147483648
                queues: {q: {priority: 99999999999, concurrency_limit: 2147483647}}
            """},
        [
            "pools.yaml:5:24 error concurrency_limit must be at most 2147483647, not the number 2147483648 [work_pool.a]",
            "pools.yaml:6:28 error priority must be at most 2147483647, not the number 99999999999 [work_queue.a.q]",
        ],
    ),
    "line_breaks_in_pool_and_queue_names": (
        {"pools.yaml": """
            version: 1
            work_pools:
              "a\\nb": {type: process}
              c:
                type: process
                queues: {"x\\ny": {}}
            """},
        [
            "pools.yaml:3:3 error pool name 'a\\nb' contains a line break [work_pool.a\nb]",
            "pools.yaml:6:14 error queue name 'x\\ny' contains a line break [work_queue.c.x\ny]",
        ],
    ),
    "bad_pool_and_queue_names": (
        {"pools.yaml": """
            version: 1
            work_pools:
              a/b: {type: process}
              "  ": {type: process}
              c:
                type: process
                queues:
                  "x%y": {}
            """},
        [
            "pools.yaml:3:3 error pool name 'a/b' contains a character the server refuses [work_pool.a/b]",
            "pools.yaml:4:3 error pool name cannot be an empty string [work_pool.  ]",
            "pools.yaml:8:7 error queue name 'x%y' is not allowed [work_queue.c.x%y]",
        ],
    ),
    "missing_type_warns": (
        {"pools.yaml": """
            version: 1
            work_pools:
              a: {description: x}
            """},
        ["pools.yaml:3:3 warning type not set: the pool will be created as prefect-agent [work_pool.a]"],
    ),
    "template_file_missing": (
        {"pools.yaml": """
            version: 1
            work_pools:
              a:
                type: process
                base_job_template: {file: nope.json}
            """},
        ["pools.yaml:5:31 error file not found: nope.json [work_pool.a]"],
    ),
    "template_form_mixed": (
        {"pools.yaml": """
            version: 1
            work_pools:
              a:
                type: process
                base_job_template: {file: t.json, variables: {}}
            """},
        ["pools.yaml:5:39 error unknown key 'variables' [work_pool.a]"],
    ),
    "template_form_file_and_template": (
        {"pools.yaml": """
            version: 1
            work_pools:
              a:
                type: process
                base_job_template: {file: t.json, template: k8s}
            """},
        ["pools.yaml:5:39 error unknown key 'template' [work_pool.a]"],
    ),
    "named_template_form_with_a_tag_named_key": (
        {"pools.yaml": """
            version: 1
            base_job_templates:
              t: {file: t.json, inline: true}
            """},
        ["pools.yaml:3:21 error unknown key 'inline' [None]"],
    ),
    "unknown_named_template_with_did_you_mean": (
        {"pools.yaml": """
            version: 1
            base_job_templates:
              k8s: {job_configuration: {a: "{{ a }}"}, variables: {properties: {a: {type: string}}}}
            work_pools:
              a:
                type: kubernetes
                base_job_template: {template: k8", defaults: {}}
            """},
        ["pools.yaml:7:35 error unknown template 'k8\"' [work_pool.a]"],
    ),
    "defaults_for_undeclared_variable": (
        {"pools.yaml": """
            version: 1
            base_job_templates:
              k8s: {job_configuration: {a: "{{ image }}"}, variables: {properties: {image: {type: string}}}}
            work_pools:
              a:
                type: kubernetes
                base_job_template: {template: k8s, defaults: {imgae: x}}
            """},
        ["pools.yaml:7:51 error template 'k8s' does not declare variable 'imgae' [work_pool.a]"],
    ),
    "defaults_invalid_against_schema": (
        {"pools.yaml": """
            version: 1
            base_job_templates:
              k8s: {job_configuration: {a: "{{ n }}"}, variables: {properties: {n: {type: integer}}}}
            work_pools:
              a:
                type: kubernetes
                base_job_template:
                  template: k8s
                  defaults: {n: many}
            """},
        ["pools.yaml:9:21 error the default of variable 'n' does not match its schema: 'many' is not valid under any of the given schemas [work_pool.a]"],
    ),
    "inline_template_undeclared_placeholder": (
        {"pools.yaml": """
            version: 1
            work_pools:
              a:
                type: process
                base_job_template:
                  job_configuration:
                    command: "{{ command }}"
                    image: "{{ image }}"
                  variables:
                    properties:
                      command: {type: string}
            """},
        ["pools.yaml:8:16 error job_configuration uses undeclared variable(s): image [work_pool.a]"],
    ),
    "inline_template_missing_variables": (
        {"pools.yaml": """
            version: 1
            work_pools:
              a:
                type: process
                base_job_template:
                  job_configuration: {command: echo}
            """},
        ["pools.yaml:6:7 error base_job_template needs a non-empty variables [work_pool.a]"],
    ),
    "template_file_errors_point_into_the_file": (
        {
            "pools.yaml": """
                version: 1
                work_pools:
                  a:
                    type: process
                    base_job_template: {file: templates/t.json}
                """,
            "templates/t.json": """
                {
                  "job_configuration": {"x": "{{ x }}"},
                  "variables": {"type": "object", "properties": {"x": {"type": "not-a-type"}}}
                }
                """,
        },
        ["templates/t.json:3:64 error variables is not a valid JSON Schema: 'not-a-type' is not valid under any of the given schemas [work_pool.a]"],
    ),
    "template_file_malformed_json": (
        {
            "pools.yaml": """
                version: 1
                work_pools:
                  a:
                    type: process
                    base_job_template: {file: t.json}
                """,
            "t.json": """
                {"job_configuration": {"x": 1},
                 "variables": {"type": "object",}
                """,
        },
        ["t.json:2:33 error malformed JSON: Expecting property name enclosed in double quotes [work_pool.a]"],
    ),
    "template_file_unknown_key": (
        {
            "pools.yaml": """
                version: 1
                work_pools:
                  a:
                    type: process
                    base_job_template: {file: t.yaml}
                """,
            "t.yaml": """
                job_configuration: {x: "{{ x }}"}
                variable: {properties: {x: {type: string}}}
                """,
        },
        [
            "t.yaml:1:1 error base_job_template needs a non-empty variables [work_pool.a]",
            "t.yaml:2:1 error unknown key 'variable' in a base job template file [work_pool.a]",
        ],
    ),
    "top_level_not_a_mapping": (
        {"pools.yaml": """
            - version: 1
            """},
        ["pools.yaml:1:1 error the top level of a config file must be a mapping [None]"],
    ),
    "bad_scalar_tag": (
        {"pools.yaml": """
            version: 1
            work_pools:
              a: {type: process, concurrency_limit: !!int ten}
            """},
        ["pools.yaml:3:41 error 'ten' is not a valid int [None]"],
    ),
}


@pytest.mark.parametrize("files,expected", list(CASES.values()), ids=list(CASES))
def test_bad_config_is_reported_with_positions(tree, files, expected):
    for name, text in files.items():
        tree.write(name, text)
    state, diags = tree.load(next(iter(files)))
    got = tree.where(diags)
    for line in expected:
        assert any(g.startswith(line) or g == line for g in got), f"missing {line!r} in {got}"
    if any(" error " in line for line in expected):
        assert state is None
        assert diags.has_errors


def test_all_errors_are_reported_together(tree):
    tree.write("pools.yaml", """
        version: 1
        work_pools:
          prefect-x: {type: process}
          a:
            typo: 1
            concurrency_limit: -1
            queues:
              q1: {priority: 2}
              q2: {priority: 2}
        """)
    state, diags = tree.load("pools.yaml")
    assert state is None
    summaries = sorted(d.summary for d in diags.errors)
    assert summaries == sorted([
        "pool name 'prefect-x' is reserved",
        "unknown key 'typo'",
        "concurrency_limit must be at least 0, not the number -1",
        "queues 'q1' and 'q2' both have priority 2",
    ])


def test_did_you_mean_is_in_the_detail(tree):
    tree.write("pools.yaml", """
        version: 1
        work_pools:
          a: {type: process, concurency_limit: 3}
        """)
    _, diags = tree.load("pools.yaml")
    (error,) = diags.errors
    assert error.detail.startswith('Did you mean "concurrency_limit"?')
    assert error.path == ("work_pools", "a", "concurency_limit")


@pytest.mark.parametrize("args,summary", [
    (["missing.yaml"], "config file not found: missing.yaml"),
    (["empty_dir"], "no config files in empty_dir"),
], ids=["missing_file", "directory_without_configs"])
def test_missing_inputs(tree, args, summary):
    (tree.root / "empty_dir").mkdir()
    state, diags = tree.load(*args)
    assert state is None
    assert [d.summary for d in diags.errors] == [summary]


def test_missing_file_suggests_a_close_name(tree):
    tree.write("pools.yaml", "version: 1\n")
    _, diags = tree.load("pool.yaml")
    (error,) = diags.errors
    assert 'Did you mean "pools.yaml"?' in error.detail


def test_unreadable_bytes_are_a_diagnostic(tree):
    (tree.root / "bad.yaml").write_bytes(b"version: 1\n\xff\xfe\n")
    state, diags = tree.load("bad.yaml")
    assert state is None
    (error,) = diags.errors
    assert error.summary.startswith("bad.yaml is not UTF-8 text")
