"""Issue 8, paths 1, 6, 7 and 8 end to end, through the CLI against the server (in process, over a
socket, and a real Prefect under ``make compat``): nothing is planned from a config that could not
be read whole; no secret reaches any output; YAML bombs are refused; usage errors exit 1 and JSON
diagnostics carry a code."""

from __future__ import annotations

import json
import os
import resource
import secrets

from reconciler.plan.document import FORMAT_VERSION as PLAN_FORMAT_VERSION

from .conftest import assert_ok

POOLS_A = """
version: 1
manage: {prune: true, scope: ["{p}*"]}
work_pools:
  {p}a: {type: process}
"""
POOLS_B = """
version: 1
work_pools:
  {p}b:
    type: process
    queues: {q: {priority: 1}}
"""


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


# --------------------------------------------------------------------------- path 1: skipped input

def test_a_config_file_that_became_unreadable_stops_plan_and_apply_instead_of_destroying(env):
    directory = env.tmp / "pools"
    env.write("pools/a.yaml", POOLS_A)
    env.write("pools/b.yaml", POOLS_B)
    assert_ok(env.cli("apply", "-f", str(directory), "--auto-approve"))
    assert set(env.pools()) == {env.name("a"), env.name("b")}

    (directory / "b.yaml").rename(directory / "b-moved.yaml.bak")
    os.symlink("b-moved.yaml", directory / "b.yaml")  # dangling: the file it names was renamed

    result = env.cli("plan", "-f", str(directory), "--json", "--detailed-exitcode")
    out = assert_ok(result, 1)
    document = json.loads(result.stdout)
    assert document["errored"] is True
    assert [(d["summary"], d["code"]) for d in document["diagnostics"] if d["severity"] == "error"][0] == (
        f"{directory}/b.yaml is a dangling symbolic link", "unreadable_input")
    assert "destroy" not in out and "delete" not in result.stdout

    out = assert_ok(env.cli("apply", "-f", str(directory), "--auto-approve"), 1)
    assert "is a dangling symbolic link" in out
    assert set(env.pools()) == {env.name("a"), env.name("b")}  # nothing deleted


def test_a_symlink_loop_stops_the_plan(env):
    env.write("pools/a.yaml", POOLS_A)
    os.symlink("loop.yaml", env.tmp / "pools" / "loop.yaml")
    out = assert_ok(env.cli("plan", "-f", str(env.tmp / "pools")), 1)
    assert "loop.yaml is a symbolic link loop" in out
    assert "Plan:" not in out


# --------------------------------------------------------------------------- path 6: secrets

SECRET_CONFIG = """
version: 1
work_pools:
  {{p}}sec:
    type: process
    description: "deploys with {key}"
    base_job_template:
      job_configuration:
        command: "{{{{ command }}}}"
        env: "{{{{ env }}}}"
      variables:
        type: object
        properties:
          command: {{type: string, default: "flow run --api-key={key}"}}
          env: {{type: object, default: {{PREFECT_API_KEY: "{key}", GH: "{token}"}}}}
    queues:
      q: {{priority: 1, description: "{token}"}}
"""


def test_secret_values_reach_no_output(env):
    key = "pnu_" + secrets.token_hex(16)
    token = "ghp_" + secrets.token_hex(12)
    secret_env = {"PREFECT_API_KEY": key, "GITHUB_TOKEN": token}
    config = env.write("pools.yaml", SECRET_CONFIG.format(key=key, token=token))
    planfile = str(env.tmp / "plan.json")
    outputs: dict[str, str] = {}

    def run(name: str, *args: str, code: int = 0) -> str:
        result = env.cli(*args, env=secret_env)
        outputs[name] = assert_ok(result, code)
        return outputs[name]

    run("validate", "validate", "-f", config)
    run("plan human", "plan", "-f", config, "--out", planfile)
    run("plan json", "plan", "-f", config, "--json")
    run("plan markdown", "plan", "-f", config, "--format", "markdown")
    for fmt in ("human", "json", "markdown"):
        run(f"show {fmt}", "show", planfile, "--format", fmt)
    run("apply progress", "apply", "-f", config, "--auto-approve")
    run("render config", "render", "--pool", env.name("sec"), "-f", config)
    run("render live", "render", "--pool", env.name("sec"), "--live")
    run("import", "import", "--pool", env.name("sec"))
    exported = str(env.tmp / "imported.yaml")
    run("import -o", "import", "--pool", env.name("sec"), "-o", exported)
    outputs["import file"] = open(exported, encoding="utf-8").read()
    bad = env.write("bad.yaml", f"version: 1\nwork_pools:\n  {env.name('x')}: {{type: process, concurrency_limit: '{key}'}}\n")
    run("diagnostic", "validate", "-f", bad, code=1)
    run("error", "plan", "-f", config, "--target", f"nonsense-{key}", code=1)
    env.client().update_pool(env.name("sec"), {"description": f"changed by hand {token}"})
    run("apply --json", "apply", "-f", config, "--auto-approve", "--json")

    for name, text in outputs.items():
        assert key not in text, f"the API key leaked into {name}:\n{text}"
        assert token not in text, f"the token leaked into {name}:\n{text}"
    assert "[masked:GITHUB_TOKEN]" in outputs["plan human"] + outputs["plan markdown"] + outputs["plan json"]
    assert "[masked:GITHUB_TOKEN]" in outputs["render live"] and "[masked:GITHUB_TOKEN]" in outputs["import file"]
    # what the server holds is the real value: masking is on output only
    live = env.pools()[env.name("sec")]
    assert live["queues"]["q"]["description"] == token
    # and what was printed cannot be taken for input
    out = assert_ok(env.cli("plan", "-f", exported), 1)
    assert "holds a value masked on output: [masked:" in out
    printed = env.tmp / "printed-plan.json"
    printed.write_text(outputs["plan json"], encoding="utf-8")
    out = assert_ok(env.cli("apply", str(printed), env=secret_env), 1)
    assert "holds a value masked on output" in out


def test_file_references_outside_the_root_are_refused_before_anything_is_read(env):
    outside = env.tmp.parent / f"outside-{env.prefix}"
    outside.mkdir(exist_ok=True)
    (outside / "t.json").write_text('{"job_configuration": {"x": "LEAKED-CONTENT"}, '
                                    '"variables": {"type": "object", "properties": {"y": {"type": "string"}}}}',
                                    encoding="utf-8")
    env.write("repo/pools.yaml", f"""
    version: 1
    work_pools:
      {{p}}a:
        type: process
        base_job_template: {{file: ../../{outside.name}/t.json}}
    """)
    env.write("repo/main.tf", 'resource "prefect_work_pool" "b" {\n  name = "{p}b"\n  type = "process"\n'
                              '  description = file("/proc/self/environ")\n}\n')
    cwd = os.getcwd()
    os.chdir(env.tmp / "repo")
    try:
        result = env.cli("plan", "--json")
    finally:
        os.chdir(cwd)
    assert_ok(result, 1)
    document = json.loads(result.stdout)
    errors = [(d["range"]["filename"], d["range"]["start"]["line"], d["code"]) for d in document["diagnostics"]
              if d["range"]]
    assert errors == [("main.tf", 4, "read_outside_root"), ("pools.yaml", 6, "read_outside_root")]
    assert "LEAKED-CONTENT" not in result.output and "PATH=" not in result.output
    assert env.pools() == {}
    # --allow-read widens the root explicitly (the YAML reference only; /proc stays refused)
    os.remove(env.tmp / "repo" / "main.tf")
    assert_ok(env.cli("validate", "-f", str(env.tmp / "repo"), "--allow-read", str(outside)))


# --------------------------------------------------------------------------- path 7: YAML bombs

def test_a_yaml_bomb_is_refused_with_a_code_and_nothing_sent(env):
    lines = ["version: 1", 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    bomb = env.write("bomb.yaml", "\n".join(lines) + "\nwork_pools:\n  {p}x: {type: process, description: *a8}\n")
    seen = len(env.faults.seen)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status", encoding="ascii") as fh:  # a regression fails with MemoryError, not 7 GB
        size = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (size + 1024 ** 3, hard))
    try:
        result = env.cli("plan", "-f", bomb, "--json")
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    assert_ok(result, 1)
    (diagnostic,) = [d for d in json.loads(result.stdout)["diagnostics"] if d["range"]]
    assert diagnostic["code"] == "yaml_too_large"
    assert diagnostic["range"]["filename"] == bomb
    assert len(env.faults.seen) == seen  # refused before any request


# --------------------------------------------------------------------------- path 8: exit codes and codes

def test_usage_errors_exit_1_and_never_2_under_detailed_exitcode(env):
    config = env.write("pools.yaml", POOLS_B)
    for args in (["plan", "-f", config, "--detailed-exitcode", "--bogus"],
                 ["plan", "-f", config, "--detailed-exitcode", "--format", "xml"],
                 ["plan", "-f", config, "--detailed-exitcode", "--target"],
                 ["plan", "-f", config, "--detailed-exitcode", "--var", "novalue"],
                 ["plan", "-f", config, "--detailed-exitcode", "--json", "--format", "markdown"],
                 ["apply", "extra-plan.json", "unexpected-argument"],
                 ["nosuchcommand"]):
        result = env.cli(*args)
        assert result.exit_code == 1, (args, result.exit_code, result.output)
    assert_ok(env.cli("plan", "-f", config, "--detailed-exitcode"), 2)  # 2 still means changes present


def test_json_usage_errors_and_faults_carry_a_stable_code(env):
    config = env.write("pools.yaml", POOLS_B)
    result = env.cli("plan", "-f", config, "--json", "--bogus")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    (diagnostic,) = document["diagnostics"]
    assert diagnostic["code"] == "usage" and diagnostic["summary"].startswith("No such option '--bogus'.")
    assert document["format_version"] == PLAN_FORMAT_VERSION  # the errored plan document is a plan document
    result = env.cli("apply", "--json", "--nope")
    assert result.exit_code == 1
    assert [m["diagnostic"]["code"] for m in _json_lines(result.stdout) if m["type"] == "diagnostic"] == ["usage"]
    result = env.cli("validate", "--json", "-f", config, "--bogus")
    assert result.exit_code == 1 and json.loads(result.stdout)["diagnostics"][0]["code"] == "usage"

    # a stale plan: the code CI branches on
    planfile = str(env.tmp / "plan.json")
    assert_ok(env.cli("plan", "-f", config, "--out", planfile))
    env.client().create_pool({"name": env.name("b"), "type": "process"})
    result = env.cli("apply", planfile, "--json")
    assert result.exit_code == 1
    codes = [m["diagnostic"]["code"] for m in _json_lines(result.stdout) if m["type"] == "diagnostic"]
    assert codes == ["stale_plan"], result.stdout

    # every JSON diagnostic has a code
    result = env.cli("validate", "--json", "-f", env.write("bad.yaml", "version: 2\nwork_pools: {a: {type: 1}}\n"))
    assert {d["code"] for d in json.loads(result.stdout)["diagnostics"]} == {"invalid_config"}


def test_an_apply_that_fails_part_way_says_so_with_a_code(env):
    config = env.write("pools.yaml", POOLS_B)
    env.faults.fail(lambda r: r.method == "POST" and r.url.path.rstrip("/").endswith("/queues"), status=422)
    result = env.cli("apply", "-f", config, "--auto-approve", "--json")
    assert result.exit_code == 1
    diagnostics = [m["diagnostic"] for m in _json_lines(result.stdout) if m["type"] == "diagnostic"]
    assert [d["code"] for d in diagnostics] == ["apply_failed"], result.stdout
    assert diagnostics[0]["summary"].startswith("apply stopped: 1 of ")
