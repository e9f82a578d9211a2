"""--var-file, -chdir, the "run apply next" hint, --allow-unknown-type end to end, and colour rules."""

from __future__ import annotations

import io
import json
import shlex
from pathlib import Path

import pytest

from reconciler.cli import _common

from .conftest import assert_ok

HCL = """
variable "tag" {
  type    = string
  default = "default"
}

variable "limit" {
  type    = number
  default = 1
}

resource "prefect_work_pool" "p" {
  name              = "{p}pool"
  type              = "process"
  description       = var.tag
  concurrency_limit = var.limit
}
"""


def _planned(result) -> dict:
    doc = json.loads(assert_ok(result))
    [change] = [c for c in doc["resource_changes"] if c["type"] == "work_pool"]
    return change["change"]["after"]


@pytest.mark.parametrize(
    "args, tag",
    [
        (["--var", "tag=cli"], "cli"),
        (["--var-file", "x.tfvars"], "x"),
        (["-var-file=x.tfvars"], "x"),
        (["--var", "tag=cli", "--var-file", "x.tfvars"], "x"),
        (["--var-file", "x.tfvars", "--var", "tag=cli"], "cli"),
        (["--var-file", "x.tfvars", "--var-file", "y.tfvars.json"], "y"),
        (["-var-file", "y.tfvars.json", "-var", "tag=last"], "last"),
        ([], "default"),
    ],
    ids=["var", "var-file", "terraform-spelling", "file-after-var-wins", "var-after-file-wins", "later-file-wins",
         "json-then-var", "none"],
)
def test_var_and_var_file_apply_in_command_line_order(ref_env, args, tag):
    cfg = ref_env.write("infra/main.tf", HCL)
    ref_env.write("x.tfvars", 'tag = "x"\n')
    ref_env.write("y.tfvars.json", '{\n  "tag": "y",\n  "limit": 7\n}\n')
    args = [a.replace("x.tfvars", str(ref_env.tmp / "x.tfvars")).replace("y.tfvars.json", str(ref_env.tmp / "y.tfvars.json"))
            for a in args]
    after = _planned(ref_env.cli("plan", "-f", str(Path(cfg).parent), *args, "--json"))
    assert after["description"] == tag
    assert after["concurrency_limit"] == (7 if any("y.tfvars.json" in a for a in args) else 1)


def test_var_file_beats_auto_tfvars_and_environment(ref_env):
    cfg = ref_env.write("infra/main.tf", HCL)
    ref_env.write("infra/terraform.tfvars", 'tag = "auto"\n')
    ref_env.write("x.tfvars", 'tag = "x"\n')
    infra = str(Path(cfg).parent)
    assert _planned(ref_env.cli("plan", "-f", infra, "--json", env={"TF_VAR_tag": "env"}))["description"] == "auto"
    after = _planned(ref_env.cli("plan", "-f", infra, "--var-file", str(ref_env.tmp / "x.tfvars"), "--json",
                                 env={"TF_VAR_tag": "env"}))
    assert after["description"] == "x"


@pytest.mark.parametrize(
    "name, text, needle",
    [
        ("bad.tfvars", 'tag = \n', "bad.tfvars:"),
        ("ref.tfvars", 'tag = var.other\n', "cannot be referenced in a var file"),
        ("block.tfvars", 'thing {\n  a = 1\n}\n', "block.tfvars:1:1: error: a var file holds only NAME = value lines"),
        ("bad.tfvars.json", '{\n  "tag": "x",\n  "limit": 07\n}\n', "bad.tfvars.json:3:"),
        ("list.tfvars.json", '["tag"]\n', "list.tfvars.json is not a JSON variables file: expected '{', found '['"),
        ("vars.txt", 'tag = "x"\n', "not a variable definitions file"),
        ("missing.tfvars", None, "file not found: "),
    ],
    ids=["malformed-hcl", "reference", "block", "malformed-json", "json-not-object", "wrong-suffix", "missing"],
)
def test_bad_var_files_are_errors_naming_the_file(ref_env, name, text, needle):
    cfg = ref_env.write("infra/main.tf", HCL)
    path = ref_env.write(name, text) if text is not None else str(ref_env.tmp / name)
    out = assert_ok(ref_env.cli("plan", "-f", str(Path(cfg).parent), "--var-file", path), 1)
    assert needle in out
    assert ref_env.faults.seen == [], "nothing may be read from the server when the inputs are wrong"


def test_a_var_file_value_no_variable_takes_is_a_warning_at_its_line(ref_env):
    cfg = ref_env.write("infra/main.tf", HCL)
    path = ref_env.write("x.tfvars", '# values\ntag = "x"\nunused = 1\n')
    doc = json.loads(assert_ok(ref_env.cli("plan", "-f", str(Path(cfg).parent), "--var-file", path, "--json")))
    [warning] = [d for d in doc["diagnostics"] if "unused" in d["summary"]]
    assert warning["severity"] == "warning"
    assert warning["range"]["filename"] == path and warning["range"]["start"]["line"] == 3


def test_chdir_reads_config_var_files_and_plan_files_in_the_directory(env, monkeypatch, tmp_path):
    work = tmp_path / "work"
    (work / "infra").mkdir(parents=True)
    (work / "infra" / "main.tf").write_text(HCL.replace("{p}", env.prefix), encoding="utf-8")
    (work / "prod.tfvars").write_text('tag = "prod"\n', encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    url = ["--api-url", env.api_url]
    out = assert_ok(env.cli(f"-chdir={work}", "plan", "-f", "infra", "--var-file", "prod.tfvars", "--out", "plan.json",
                            *url))
    assert (work / "plan.json").is_file() and not (elsewhere / "plan.json").exists()
    assert Path.cwd() == elsewhere, "the working directory is restored after the command"
    assert f'Run "poolform -chdir={work} apply plan.json" to apply exactly these changes.' in out
    out = assert_ok(env.cli("--chdir", str(work), "apply", "plan.json", *url))
    assert "Apply complete! Resources: 1 added" in out
    assert env.pools()[env.name("pool")]["description"] == "prod"
    out = assert_ok(env.cli("-chdir", str(work / "infra"), "validate", add_url=False))
    assert "Success! The configuration is valid (1 work pool" in out


def test_chdir_to_a_missing_directory_is_one_error(ref_env, tmp_path):
    out = assert_ok(ref_env.cli(f"-chdir={tmp_path / 'nope'}", "validate"), 1)
    assert out.startswith(f"Error: -chdir {tmp_path / 'nope'}:")


def test_the_apply_hint_repeats_the_arguments_and_works_when_run(env, monkeypatch, tmp_path):
    work = tmp_path / "my work"
    (work / "my pools").mkdir(parents=True)
    (work / "my pools" / "main.tf").write_text(HCL.replace("{p}", env.prefix), encoding="utf-8")
    (work / "a b.tfvars").write_text('tag = "from file"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    target = f"work_pool.{env.name('pool')}"
    args = ["-f", "my pools", "--var", "limit=3", "--var-file", "a b.tfvars", "--target", target]
    out = assert_ok(env.cli("-chdir=my work", "plan", *args, "--api-url", env.api_url))
    command = (f"poolform '-chdir=my work' apply -f 'my pools' --var limit=3 --var-file 'a b.tfvars' "
               f"--target {target}")
    assert f'Run "{command}" to apply these changes.' in out
    words = shlex.split(command)
    assert words[0] == "poolform"
    out = assert_ok(env.cli(*words[1:], "--auto-approve", "--api-url", env.api_url))
    assert "Apply complete! Resources: 1 added" in out
    pool = env.pools()[env.name("pool")]
    assert (pool["description"], pool["concurrency_limit"]) == ("from file", 3)


def test_destroy_and_allow_unknown_type_are_repeated_in_the_hint(env):
    cfg = env.write("pools.yaml", """
        version: 1
        work_pools:
          {p}custom:
            type: acme-batch
        """)
    out = assert_ok(env.cli("plan", "-f", cfg), 1)
    assert "unknown work pool type 'acme-batch'" in out
    out = assert_ok(env.cli("plan", "-f", cfg, "--allow-unknown-type"))
    assert f'Run "poolform apply -f {cfg} --allow-unknown-type" to apply these changes.' in out
    assert "Apply complete!" in assert_ok(env.cli("apply", "-f", cfg, "--allow-unknown-type", "--auto-approve"))
    assert env.pools()[env.name("custom")]["type"] == "acme-batch"
    out = assert_ok(env.cli("plan", "-f", cfg, "--allow-unknown-type", "--destroy"))
    assert f'Run "poolform apply -f {cfg} --destroy --allow-unknown-type" to apply these changes.' in out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    "environ, expected",
    [({}, True), ({"TERM": "dumb"}, False), ({"TERM": "xterm-256color"}, True), ({"NO_COLOR": "1"}, False),
     ({"CI": "true"}, False)],
    ids=["terminal", "term-dumb", "term-xterm", "no-color", "ci"],
)
def test_colour_on_a_terminal_unless_told_otherwise(monkeypatch, environ, expected):
    for name in ("TERM", "NO_COLOR", "CI", "POOLFORM_IN_AUTOMATION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert _common.use_color(False, _Terminal()) is expected
    assert _common.use_color(False, io.StringIO()) is False
    assert _common.use_color(True, _Terminal()) is False


def test_term_dumb_plan_has_no_colour_even_when_forced_to_a_terminal(ref_env, monkeypatch):
    cfg = ref_env.write("pools.yaml", "version: 1\nwork_pools:\n  {p}a:\n    type: process\n")
    seen: list[bool] = []
    real = _common.use_color

    def spy(no_color: bool, stream=None) -> bool:
        result = real(no_color, _Terminal())
        seen.append(result)
        return result

    monkeypatch.setattr(_common, "use_color", spy)
    out = assert_ok(ref_env.cli("plan", "-f", cfg, env={"NO_COLOR": "", "TERM": "dumb"}))
    assert seen and not any(seen) and "\x1b[" not in out


WARNED = """
version: 1
work_pools:
  {p}w:
    type: process
    concurrency_limit: 2
    queues:
      q: {priority: 1, concurrency_limit: 9}
"""


def test_plan_and_apply_carry_config_warnings_with_their_line(env):
    cfg = env.write("pools.yaml", WARNED)
    line = f"{cfg}:8:"
    out = assert_ok(env.cli("plan", "-f", cfg))
    assert f"{line}" in out and "warning: queue concurrency_limit 9 is above the pool's 2" in out
    assert "The pool's limit caps the queue anyway" in out
    out = assert_ok(env.cli("plan", "-f", cfg, "--compact-warnings"))
    assert f"1 warning:\n  - {cfg}:8:" in out and "The pool's limit caps the queue anyway" not in out
    result = env.cli("apply", "-f", cfg, "--auto-approve", "--json")
    messages = [json.loads(line) for line in assert_ok(result).splitlines()]
    [warning] = [m for m in messages if m["type"] == "diagnostic"]
    assert warning["@level"] == "warn"
    assert warning["diagnostic"]["range"]["filename"] == cfg and warning["diagnostic"]["range"]["start"]["line"] == 8
    out = assert_ok(env.cli("apply", "-f", cfg, "--auto-approve", "--compact-warnings"))
    assert "No changes." in out and f"1 warning:\n  - {cfg}:8:" in out


def test_retries_are_announced_on_stderr_and_json_stdout_stays_clean(env):
    cfg = env.write("pools.yaml", "version: 1\nwork_pools:\n  {p}a:\n    type: process\n")
    env.faults.fail(lambda r: r.url.path.endswith("/work_pools/filter"), status=503, times=2,
                    headers={"Retry-After": "0"})
    result = env.cli("plan", "-f", cfg, "--json")
    assert_ok(result)
    assert json.loads(result.stdout)["summary"]["add"] == 1
    assert result.stderr.splitlines() == ["503 from the server, retrying now (1 of 5)",
                                          "503 from the server, retrying now (2 of 5)"]
    env.faults.fail(lambda r: r.method == "POST" and r.url.path.endswith("/work_pools/"), status=429,
                    headers={"Retry-After": "0"})
    result = env.cli("apply", "-f", cfg, "--auto-approve")
    assert "Apply complete! Resources: 1 added" in assert_ok(result)
    assert "429 from the server, retrying now (1 of 5)" in result.stderr


def test_long_reads_show_progress_on_stderr_only(env, monkeypatch):
    from reconciler.views import progress

    pools = "".join(f"  {{p}}pool-{i:02d}:\n    type: process\n" for i in range(25))
    cfg = env.write("pools.yaml", "version: 1\nwork_pools:\n" + pools)
    assert_ok(env.cli("apply", "-f", cfg, "--auto-approve"))
    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setattr(progress, "INTERVAL", 0.0)
    result = env.cli("import", *[a for i in range(25) for a in ("--pool", env.name(f"pool-{i:02d}"))])
    assert_ok(result)
    assert "Reading from the server: 25 work pools" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("Read 25 work pools, ")
    assert "Reading from the server" not in result.stdout and result.stdout.startswith("# yaml-language-server")
    result = env.cli("plan", "-f", cfg, "--json")
    assert json.loads(result.stdout)["summary"]["add"] == 0
    assert "Reading from the server: 25 work pools" in result.stderr
    monkeypatch.setattr(progress, "DELAY", 3600.0)
    assert "Reading" not in env.cli("plan", "-f", cfg).stderr
