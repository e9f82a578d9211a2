"""HCL configs end to end against the reference server over a socket, with the CLI's own network client.

Issue 8, path 2: a module's pools are planned (they vanished before), the provider block's endpoint
is where plan and apply go (they went to PREFECT_API_URL or 127.0.0.1:4200), a registry module is
an error at its line, and the provider block's keys never reach an output.
"""

from __future__ import annotations

import json

from .conftest import assert_ok

NOWHERE = "http://127.0.0.1:9/api"
"""Where PREFECT_API_URL points in these tests: nothing listens there."""

POOL_MODULE = """
variable "name" {}
variable "queues" {
  type    = map(number)
  default = {}
}
resource "prefect_work_pool" "pool" {
  name = var.name
  type = "process"
}
resource "prefect_work_queue" "q" {
  for_each       = var.queues
  work_pool_name = prefect_work_pool.pool.name
  name           = each.key
  priority       = each.value
}
resource "aws_s3_bucket" "artifacts" {
  bucket = "${var.name}-artifacts"
}
output "pool" {
  value = prefect_work_pool.pool.name
}
"""


def _root(env, extra: str = "") -> str:
    env.write("infra/modules/pool/main.tf", POOL_MODULE)
    return env.write("infra/main.tf", f"""
        variable "url" {{}}
        provider "prefect" {{
          endpoint = var.url
          api_key  = "pnu_do_not_print_me"
        }}
        module "etl" {{
          source = "./modules/pool"
          name   = "{{p}}etl"
          queues = {{ critical = 1, bulk = 5 }}
        }}
        module "ml" {{
          for_each = toset(["train", "serve"])
          source   = "./modules/pool"
          name     = "{{p}}ml-${{each.key}}"
        }}
        resource "prefect_work_queue" "adhoc" {{
          work_pool_name = module.etl.pool
          name           = "adhoc"
        }}
        {extra}
        """)


def test_module_pools_are_planned_and_applied_at_the_provider_endpoint(socket_env):
    env = socket_env
    directory = str(env.tmp / "infra")
    _root(env)
    args = ("-f", directory, "--var", f"url={env.api_url}")
    out = assert_ok(env.cli("plan", *args, "--json", inject=False, add_url=False,
                            env={"PREFECT_API_URL": NOWHERE}))
    plan = json.loads(out[out.index("{"):])
    assert plan["api_url"] == env.api_url
    created = sorted(c["address"] for c in plan["resource_changes"] if c["change"]["actions"] == ["create"])
    assert created == sorted([f"work_pool.{env.name('etl')}", f"work_pool.{env.name('ml-serve')}",
                              f"work_pool.{env.name('ml-train')}", f"work_queue.{env.name('etl')}.adhoc",
                              f"work_queue.{env.name('etl')}.bulk", f"work_queue.{env.name('etl')}.critical"])
    assert sorted(i["address"] for i in plan["ignored"]) == [
        "module.etl.aws_s3_bucket.artifacts", 'module.ml["serve"].aws_s3_bucket.artifacts',
        'module.ml["train"].aws_s3_bucket.artifacts']
    assert "pnu_do_not_print_me" not in out

    out = assert_ok(env.cli("apply", *args, "--auto-approve", inject=False, add_url=False,
                            env={"PREFECT_API_URL": NOWHERE}))
    assert "Apply complete! Resources: 6 added, 0 changed, 0 destroyed." in out
    assert "pnu_do_not_print_me" not in out
    pools = env.pools()
    assert pools[env.name("etl")]["queues"]["critical"]["priority"] == 1
    assert env.name("ml-serve") in pools
    assert_ok(env.cli("plan", *args, "--detailed-exitcode", inject=False, add_url=False,
                      env={"PREFECT_API_URL": NOWHERE}), 0)


def test_api_url_flag_wins_over_the_provider_block(socket_env):
    env = socket_env
    _root(env)
    result = env.cli("plan", "-f", str(env.tmp / "infra"), "--var", "url=http://127.0.0.1:9", "--api-url",
                     env.api_url, inject=False, add_url=False)
    out = assert_ok(result)
    assert "--api-url overrides the provider \"prefect\" block at" in out
    assert "Plan: 6 to add" in out and "pnu_do_not_print_me" not in out


def test_a_registry_module_is_an_error_at_its_line_and_nothing_is_sent(socket_env):
    env = socket_env
    main = _root(env, extra='module "vpc" {\n  source  = "terraform-aws-modules/vpc/aws"\n  version = "5.8.1"\n}\n')
    for args in (("plan",), ("apply", "--auto-approve"), ("validate",)):
        result = env.cli(*args, "-f", str(env.tmp / "infra"), "--var", f"url={env.api_url}", inject=False,
                         add_url=False, env={"PREFECT_API_URL": NOWHERE})
        out = assert_ok(result, 1)
        line = next(n for n, text in enumerate(open(main, encoding="utf-8"), 1) if "terraform-aws-modules" in text)
        assert f"main.tf:{line}" in out, out
        assert "source 'terraform-aws-modules/vpc/aws' is not read by poolform" in out
    assert env.name("etl") not in env.pools()


def test_values_the_configuration_declares_secret_are_masked_in_every_output(socket_env):
    """The provider block's api_key and a ``sensitive = true`` variable are secrets without being in the
    environment: masked wherever poolform prints them, sent to the server as they are."""
    env = socket_env
    key, token = "pnu_block_key_0123456789", "tok-sensitive-98765"
    config = env.write("secret/main.tf", f"""
        variable "url" {{}}
        variable "token" {{
          type      = string
          sensitive = true
        }}
        provider "prefect" {{
          endpoint = var.url
          api_key  = "{key}"
        }}
        resource "prefect_work_pool" "p" {{
          name        = "{{p}}sec"
          type        = "process"
          description = "uses ${{var.token}} and {key}"
        }}
        """)
    args = ("-f", str(env.tmp / "secret"), "--var", f"url={env.api_url}", "--var", f"token={token}")
    for extra in ((), ("--json",), ("--format", "markdown")):
        out = assert_ok(env.cli("plan", *args, *extra, inject=False, add_url=False, env={"PREFECT_API_URL": NOWHERE}))
        assert key not in out and token not in out, extra
        assert "[masked:provider.prefect.api_key]" in out and "[masked:var.token]" in out, extra
    out = assert_ok(env.cli("apply", *args, "--auto-approve", inject=False, add_url=False,
                            env={"PREFECT_API_URL": NOWHERE}))
    assert key not in out and token not in out
    assert env.pools()[env.name("sec")]["description"] == f"uses {token} and {key}"
    # nothing leaks into the next command that declares nothing
    plain = env.write("plain.yaml", f"version: 1\nwork_pools:\n  {env.name('plain')}:\n    type: process\n"
                                    f"    description: {token}\n")
    out = assert_ok(env.cli("plan", "-f", plain))
    assert token in out
    assert config
    # printed output fed back as input is refused, whatever the mask's name
    echoed = env.write("echoed.yaml", f"version: 1\nwork_pools:\n  {env.name('echo')}:\n    type: process\n"
                                      "    description: '[masked:var.token]'\n")
    assert "holds a value masked on output" in assert_ok(env.cli("plan", "-f", echoed), 1)
