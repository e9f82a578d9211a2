"""Command behaviour: prompts, refusals, bad input, unreachable/unauthorized servers, render, sockets."""

from __future__ import annotations

import json

import pytest

from reconciler.cli import _common
from reconciler.plan.document import FORMAT_VERSION

from .conftest import assert_ok

CFG = """
version: 1
work_pools:
  {p}alpha:
    type: process
    description: first
    queues:
      q1: {priority: 2}
"""

TEMPLATED = """
version: 1
work_pools:
  {p}tpl:
    type: kubernetes
    base_job_template:
      job_configuration:
        image: "{{ image }}"
        command: "{{ command }}"
        env: "{{ env }}"
        name: "job-{{ name }}"
      variables:
        type: object
        properties:
          image: {type: string, default: "repo/app:1"}
          command: {type: string}
          env: {type: object, additionalProperties: {type: string}}
          name: {type: string, default: "x"}
  {p}bare:
    type: process
"""


def test_apply_without_tty_or_auto_approve_refuses_at_once(ref_env):
    cfg = ref_env.write("pools.yaml", CFG)
    out = assert_ok(ref_env.cli("apply", "-f", cfg), 1)
    assert ref_env.faults.seen == []
    assert "Error: no plan file and no --auto-approve; apply needs one of them when input is not a terminal" in out
    assert ref_env.pools() == {}


@pytest.mark.parametrize("answer, code, created", [("yes\n", 0, True), ("no\n", 1, False), ("y\n", 1, False)],
                         ids=["yes", "no", "y-is-not-yes"])
def test_apply_prompt_on_a_terminal(ref_env, answer, code, created):
    cfg = ref_env.write("pools.yaml", CFG)
    out = assert_ok(ref_env.cli("apply", "-f", cfg, tty=True, input=answer), code)
    assert "Only 'yes' will be accepted to approve." in out
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in out and 'Run "poolform apply' not in out
    assert (ref_env.name("alpha") in ref_env.pools()) is created
    if not created:
        assert "Apply cancelled." in out


def test_nothing_to_apply_says_no_changes(ref_env):
    cfg = ref_env.write("pools.yaml", CFG)
    assert_ok(ref_env.cli("apply", "-f", cfg, "--auto-approve"))
    out = assert_ok(ref_env.cli("apply", "-f", cfg, "--auto-approve"))
    assert "No changes." in out


def test_automation_drops_hints(ref_env):
    cfg = ref_env.write("pools.yaml", CFG)
    out = assert_ok(ref_env.cli("plan", "-f", cfg))
    assert 'Run "poolform apply' in out
    out = assert_ok(ref_env.cli("plan", "-f", cfg, env={"POOLFORM_IN_AUTOMATION": "1"}))
    assert 'Run "poolform apply' not in out and "Plan: 2 to add" in out


def test_no_color_without_a_terminal(ref_env):
    cfg = ref_env.write("pools.yaml", CFG)
    out = assert_ok(ref_env.cli("plan", "-f", cfg, env={"NO_COLOR": ""}))
    assert "\x1b[" not in out


@pytest.mark.parametrize(
    "filename, text, needle",
    [
        ("bad.yaml", "version: 1\nwork_pools:\n  a: [unclosed\n", "bad.yaml:"),
        ("unknown.yaml", "version: 1\nwork_pools:\n  a:\n    type: process\n    descripton: x\n", "description"),
        ("types.yaml", "version: 1\nwork_pools:\n  a:\n    concurrency_limit: lots\n", "types.yaml:4"),
        ("bad.tf", 'resource "prefect_work_pool" "a" {\n  name = "a"\n  type = \n}\n', "bad.tf:"),
    ],
    ids=["malformed-yaml", "unknown-key", "wrong-type", "malformed-hcl"],
)
def test_bad_config_gives_diagnostics_and_exit_1(ref_env, filename, text, needle):
    path = ref_env.write(filename, text)
    for cmd in ("plan", "apply"):
        args = [cmd, "-f", path] + (["--auto-approve"] if cmd == "apply" else [])
        out = assert_ok(ref_env.cli(*args), 1)
        assert needle in out
        assert "error" in out.lower()
    assert ref_env.faults.seen == []


def test_missing_file(ref_env):
    out = assert_ok(ref_env.cli("plan", "-f", str(ref_env.tmp / "nope.yaml")), 1)
    assert "nope.yaml" in out


def test_bad_var_and_bad_format_combination(ref_env):
    cfg = ref_env.write("pools.yaml", CFG)
    assert "NAME=VALUE" in assert_ok(ref_env.cli("plan", "-f", cfg, "--var", "novalue"), 1)
    assert "exclusive" in assert_ok(ref_env.cli("plan", "-f", cfg, "--json", "--format", "markdown"), 1)


def test_unreachable_server_is_one_line(ref_env, refused_port):
    cfg = ref_env.write("pools.yaml", CFG)
    url = f"http://127.0.0.1:{refused_port}/api"
    for args in (["plan", "-f", cfg], ["apply", "-f", cfg, "--auto-approve"], ["import", "--all"], ["render", "--pool", "x"]):
        result = ref_env.cli(*args, "--api-url", url, inject=False)
        out = assert_ok(result, 1)
        assert out.strip() == (f"Error: cannot reach the Prefect API at {url}: connection refused. "
                               "Set PREFECT_API_URL or --api-url.")


def test_unauthorized_server_is_one_line(ref_env, tmp_path):
    from reconciler.server.runner import serve_in_thread

    cfg = ref_env.write("pools.yaml", CFG)
    with serve_in_thread(str(tmp_path / "auth.db"), auth_string="admin:s3cret") as server:
        out = assert_ok(ref_env.cli("plan", "-f", cfg, "--api-url", server.api_url, inject=False), 1)
        assert out.startswith("Error: the Prefect API at") and "401" in out and len(out.strip().splitlines()) == 1
        out = assert_ok(ref_env.cli("plan", "-f", cfg, "--api-url", server.api_url, inject=False,
                                    env={"PREFECT_API_AUTH_STRING": "admin:wrong"}), 1)
        assert "401" in out
        out = assert_ok(ref_env.cli("apply", "-f", cfg, "--auto-approve", "--api-url", server.api_url, inject=False,
                                    env={"PREFECT_API_AUTH_STRING": "admin:s3cret"}))
        assert "Apply complete!" in out


def test_server_error_during_plan_is_one_line(ref_env):
    cfg = ref_env.write("pools.yaml", CFG)
    ref_env.faults.fail(lambda r: r.url.path.endswith("/work_pools/filter"), status=500)
    out = assert_ok(ref_env.cli("plan", "-f", cfg), 1)
    assert out.startswith("Error: POST http://testserver/api/work_pools/filter failed: the server answered 500")


def test_plan_file_problems(ref_env, tmp_path):
    cfg = ref_env.write("pools.yaml", CFG)
    planfile = str(tmp_path / "plan.json")
    assert_ok(ref_env.cli("plan", "-f", cfg, "--out", planfile))
    out = assert_ok(ref_env.cli("apply", planfile, "--api-url", "http://elsewhere:4200/api"), 1)
    assert "was made against http://testserver/api" in out
    out = assert_ok(ref_env.cli("apply", planfile, "-f", cfg), 1)
    assert "cannot be used with a plan file" in out
    (tmp_path / "junk.json").write_text("{nope")
    out = assert_ok(ref_env.cli("apply", str(tmp_path / "junk.json")), 1)
    assert "not a poolform plan file" in out
    out = assert_ok(ref_env.cli("apply", str(tmp_path / "missing.json")), 1)
    assert "cannot read the plan file" in out
    assert ref_env.pools() == {}


def test_render_from_config_and_live(ref_env, tmp_path):
    cfg = ref_env.write("pools.yaml", TEMPLATED)
    pool = ref_env.name("tpl")
    out = assert_ok(ref_env.cli("render", "--pool", pool, "-f", cfg, "--job-variables", '{"image": "repo/app:2", "command": "run"}'))
    rendered = json.loads(out)
    assert rendered["image"] == "repo/app:2" and rendered["command"] == "run" and rendered["name"] == "job-x"
    (tmp_path / "vars.json").write_text('{"image": "from-file"}')
    out = assert_ok(ref_env.cli("render", "--pool", pool, "-f", cfg, "--job-variables", f"@{tmp_path / 'vars.json'}",
                                "--flow-run-variables", '{"image": "flow-run-wins"}'))
    assert json.loads(out)["image"] == "flow-run-wins"
    assert_ok(ref_env.cli("apply", "-f", cfg, "--auto-approve"))
    out = assert_ok(ref_env.cli("render", "--pool", pool, "--live"))
    assert json.loads(out)["image"] == "repo/app:1"


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--job-variables", "{not json"], "--job-variables: not valid JSON"),
        (["--job-variables", "[1, 2]"], "expected a JSON object"),
        (["--flow-run-variables", "@/nonexistent/vars.json"], "cannot read /nonexistent/vars.json"),
    ],
    ids=["bad-json", "not-an-object", "missing-file"],
)
def test_render_bad_arguments(ref_env, args, needle):
    cfg = ref_env.write("pools.yaml", TEMPLATED)
    out = assert_ok(ref_env.cli("render", "--pool", ref_env.name("tpl"), "-f", cfg, *args), 1)
    assert needle in out


def test_render_pool_without_template_or_missing(ref_env):
    cfg = ref_env.write("pools.yaml", TEMPLATED)
    assert_ok(ref_env.cli("apply", "-f", cfg, "--auto-approve"))
    out = assert_ok(ref_env.cli("render", "--pool", ref_env.name("bare"), "-f", cfg), 1)
    assert "has no base job template" in out
    out = assert_ok(ref_env.cli("render", "--pool", "ghost"), 1)
    assert "'ghost' not found" in out


def test_import_needs_pools_or_all(ref_env):
    assert "--pool NAME" in assert_ok(ref_env.cli("import"), 1)
    assert "--pool NAME" in assert_ok(ref_env.cli("import", "--all", "--pool", "x"), 1)


def test_over_a_socket_with_the_network_client(socket_env):
    cfg = socket_env.write("pools.yaml", CFG)
    out = assert_ok(socket_env.cli("plan", "-f", cfg, "--detailed-exitcode", inject=False), 2)
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in out
    planfile = str(socket_env.tmp / "plan.json")
    assert_ok(socket_env.cli("plan", "-f", cfg, "--out", planfile, inject=False))
    out = assert_ok(socket_env.cli("apply", planfile, inject=False))
    assert "Apply complete! Resources: 2 added, 0 changed, 0 destroyed." in out
    assert_ok(socket_env.cli("plan", "-f", cfg, "--detailed-exitcode", inject=False), 0)
    assert socket_env.pools()[socket_env.name("alpha")]["queues"]["q1"]["priority"] == 2


def test_client_factory_is_restored(ref_env):
    ref_env.cli("plan", "-f", ref_env.write("pools.yaml", CFG))
    assert _common.CLIENT_FACTORY is None


def test_render_refuses_job_variables_the_server_would_refuse(ref_env):
    cfg = ref_env.write("pools.yaml", TEMPLATED)
    result = ref_env.cli("render", "--pool", ref_env.name("tpl"), "-f", cfg, "--job-variables", '{"image": 5}')
    out = assert_ok(result, 1)
    assert "Error: the job variables do not validate against the variables of work pool" in result.stderr
    assert "the server would refuse them when a flow run is created" in result.stderr
    assert "image" in result.stderr and result.stdout == ""


def test_automation_never_prompts(ref_env):
    cfg = ref_env.write("pools.yaml", CFG)
    out = assert_ok(ref_env.cli("apply", "-f", cfg, tty=True, input="yes\n", env={"CI": "true"}), 1)
    assert "no --auto-approve" in out and "Enter a value" not in out


@pytest.mark.parametrize("fmt", [["--json"], ["--format", "markdown"]], ids=["json", "markdown"])
def test_config_warnings_are_part_of_machine_plans(ref_env, fmt):
    cfg = ref_env.write("pools.yaml", CFG + "      q2: {priority: 3, concurrency_limit: 9}\n    concurrency_limit: 2\n")
    result = ref_env.cli("plan", "-f", cfg, "--var", "unused=1", *fmt)
    assert_ok(result)
    assert "--var unused" not in result.stderr
    if fmt == ["--json"]:
        doc = json.loads(result.stdout)
        assert doc["summary"]["add"] == 3
        by_summary = {d["summary"]: d for d in doc["diagnostics"]}
        assert "--var unused is not used: no .tf file declares variable \"unused\"" in by_summary
        limit = by_summary["queue concurrency_limit 9 is above the pool's 2"]
        assert limit["severity"] == "warning" and limit["range"]["filename"] == cfg
        assert limit["range"]["start"]["line"] == 9
    else:
        warnings = result.stdout.split("#### Warnings")[1]
        assert "--var unused is not used" in warnings
        assert f"{cfg}:9:" in warnings and "queue concurrency_limit 9 is above the pool's 2" in warnings


def test_saved_plan_uses_its_own_api_url_when_none_is_given(socket_env):
    cfg = socket_env.write("pools.yaml", CFG)
    planfile = str(socket_env.tmp / "plan.json")
    assert_ok(socket_env.cli("plan", "-f", cfg, "--out", planfile, inject=False))
    result = socket_env.cli("apply", planfile, inject=False, add_url=False, env={"PREFECT_API_URL": ""})
    assert "Apply complete! Resources: 2 added" in assert_ok(result)


BAD_CFG = """
version: 1
work_pools:
  {p}alpha:
    typ: process
"""


@pytest.mark.parametrize("case", ["unreachable", "bad-config"], ids=["unreachable", "bad-config"])
def test_plan_json_errors_are_one_json_document_on_stdout(ref_env, case, refused_port):
    if case == "unreachable":
        cfg = ref_env.write("pools.yaml", CFG)
        result = ref_env.cli("plan", "-f", cfg, "--json", "--api-url", f"http://127.0.0.1:{refused_port}/api",
                             inject=False)
        expected = "cannot reach the Prefect API"
    else:
        cfg = ref_env.write("pools.yaml", BAD_CFG)
        result = ref_env.cli("plan", "-f", cfg, "--json")
        expected = "unknown key 'typ'"
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["errored"] is True and doc["applyable"] is False
    assert doc["format_version"] == FORMAT_VERSION
    assert any(expected in d["summary"] for d in doc["diagnostics"])
    assert all(d["severity"] == "error" for d in doc["diagnostics"])
    assert "Error: " in result.stderr


def test_apply_json_errors_are_diagnostic_lines(ref_env, refused_port):
    cfg = ref_env.write("pools.yaml", CFG)
    url = f"http://127.0.0.1:{refused_port}/api"
    result = ref_env.cli("apply", "-f", cfg, "--auto-approve", "--json", "--api-url", url, inject=False)
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [m["type"] for m in lines] == ["version", "diagnostic"]
    assert lines[1]["@level"] == "error" and "cannot reach the Prefect API" in lines[1]["diagnostic"]["summary"]


def test_show_json_of_a_bad_file_is_json(ref_env, tmp_path):
    junk = tmp_path / "junk.json"
    junk.write_text("garbage", encoding="utf-8")
    result = ref_env.cli("show", str(junk), "--json")
    assert result.exit_code == 1
    assert "not a poolform plan file" in json.loads(result.stdout)["diagnostics"][0]["summary"]


@pytest.mark.parametrize("enabled_before", [True, False], ids=["enabled", "disabled"])
def test_gc_paused_disables_collection_and_restores_the_previous_state(enabled_before):
    import gc

    (gc.enable if enabled_before else gc.disable)()
    try:
        with pytest.raises(RuntimeError):
            with _common.gc_paused():
                assert not gc.isenabled()
                raise RuntimeError
        assert gc.isenabled() is enabled_before
    finally:
        gc.enable()
