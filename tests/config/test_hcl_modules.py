"""HCL: local modules, constructs poolform refuses, other providers' resources, the provider block.

Nothing that could declare a pool or queue is skipped: a local module is evaluated (variables,
outputs, nested, count/for_each), anything else is an error at its line.
"""

from __future__ import annotations

import pytest

from reconciler.settings import ConnectionSettings

MODULE = """
variable "prefix" {
  type = string
}
variable "limits" {
  type    = map(number)
  default = { critical = 1 }
}
variable "settings" {
  type = object({
    paused = optional(bool, false)
    note   = optional(string)
  })
  default = {}
}
resource "prefect_work_pool" "pool" {
  name              = "${var.prefix}-pool"
  type              = "process"
  paused            = var.settings.paused
  concurrency_limit = sum(values(var.limits))
}
resource "prefect_work_queue" "q" {
  for_each          = var.limits
  work_pool_name    = prefect_work_pool.pool.name
  name              = each.key
  concurrency_limit = each.value
}
output "pool_name" {
  value = prefect_work_pool.pool.name
}
"""


def test_local_module_with_inputs_defaults_outputs_and_nesting(tree):
    tree.write("infra/modules/pools/main.tf", MODULE)
    tree.write("infra/modules/wrapper/main.tf", """
        variable "team" {}
        module "inner" {
          source = "../pools"
          prefix = "${var.team}-inner"
        }
        output "inner_pool" {
          value = module.inner.pool_name
        }
        """)
    tree.write("infra/main.tf", """
        module "etl" {
          source   = "./modules/pools"
          prefix   = "etl"
          limits   = { critical = 2, bulk = 3 }
          settings = { paused = true }
        }
        module "ml" {
          source = "./modules/wrapper"
          team   = "ml"
        }
        resource "prefect_work_queue" "extra" {
          work_pool_name = module.etl.pool_name
          name           = "extra"
          priority       = 7
        }
        resource "prefect_work_queue" "ml_extra" {
          work_pool_name = module.ml.inner_pool
          name           = "from-root"
        }
        """)
    state, diags = tree.load("infra")
    assert not diags.has_errors, tree.where(diags)
    assert sorted(state.pools) == ["etl-pool", "ml-inner-pool"]
    etl = state.pools["etl-pool"]
    assert (etl.paused, etl.concurrency_limit) == (True, 5)
    assert {n: q.concurrency_limit for n, q in etl.queues.items() if n != "default"} == {
        "bulk": 3, "critical": 2, "extra": None}
    assert etl.queues["extra"].priority == 7
    ml = state.pools["ml-inner-pool"]
    assert (ml.paused, ml.concurrency_limit) == (False, 1)
    assert sorted(ml.queues) == ["critical", "from-root"]
    assert str(etl.source) == "infra/modules/pools/main.tf:15:1"


def test_module_count_and_for_each(tree):
    tree.write("m/mod/main.tf", MODULE)
    tree.write("m/main.tf", """
        module "team" {
          for_each = toset(["a", "b"])
          source   = "./mod"
          prefix   = "team-${each.key}"
        }
        module "shard" {
          count  = 2
          source = "./mod"
          prefix = "shard${count.index}"
        }
        resource "prefect_work_queue" "x" {
          work_pool_name = module.team["b"].pool_name
          name           = "x"
        }
        resource "prefect_work_queue" "y" {
          work_pool_name = module.shard[1].pool_name
          name           = "y"
        }
        """)
    state, diags = tree.load("m")
    assert not diags.has_errors, tree.where(diags)
    assert sorted(state.pools) == ["shard0-pool", "shard1-pool", "team-a-pool", "team-b-pool"]
    assert "x" in state.pools["team-b-pool"].queues and "y" in state.pools["shard1-pool"].queues


def test_problems_inside_a_module_point_into_the_module(tree):
    tree.write("m/mod/main.tf", """
        variable "n" {
          type = number
          validation {
            condition     = var.n > 0
            error_message = "n must be positive."
          }
        }
        variable "required" {}
        resource "prefect_work_pool" "p" {
          name              = "p-${var.n}"
          type              = "process"
          concurency_limit  = 1
        }
        """)
    tree.write("m/main.tf", """
        module "bad" {
          source  = "./mod"
          n       = -1
          typo    = 1
        }
        module "wrong_type" {
          source   = "./mod"
          n        = "ten"
          required = "x"
        }
        """)
    state, diags = tree.load("m")
    assert state is None
    got = tree.where(diags)
    for line in [
        "m/main.tf:1:1 error module 'bad' is missing the required argument 'required' [None]",
        "m/main.tf:4:3 error module 'bad' has no variable 'typo' [None]",
        "m/main.tf:8:14 error invalid value for variable 'n' (module 'wrong_type' argument): cannot convert \"ten\" to a number [None]",
        "m/mod/main.tf:4:21 error invalid value for variable 'n': n must be positive. [None]",
    ]:
        assert line in got, got


REFUSED = {
    "registry_module": ('module "vpc" {\n  source  = "terraform-aws-modules/vpc/aws"\n  version = "5.0.0"\n}\n',
                        "m/main.tf:2:13 error module 'vpc': source 'terraform-aws-modules/vpc/aws' is not read by poolform"),
    "git_module": ('module "x" {\n  source = "git::https://example.com/pools.git"\n}\n',
                   "m/main.tf:2:12 error module 'x': source 'git::https://example.com/pools.git' is not read by poolform"),
    "missing_module_directory": ('module "x" {\n  source = "./nope"\n}\n', "m/main.tf:2:12 error module 'x': m/nope is not a directory"),
    "recursive_module": ('module "me" {\n  source = "./"\n}\n', "m/main.tf:2:12 error module 'me' calls itself"),
    "other_prefect_resource": ('resource "prefect_deployment" "d" {\n  name = "d"\n}\n',
                               "m/main.tf:1:1 error resource prefect_deployment is not read by poolform"),
    "prefect_data_source": ('data "prefect_work_pool" "d" {\n  name = "d"\n}\n',
                            "m/main.tf:1:1 error data source prefect_work_pool is not read by poolform"),
    "aliased_provider": ('provider "prefect" {\n  alias    = "other"\n  endpoint = "http://x:4200"\n}\n',
                         "m/main.tf:2:3 error an aliased prefect provider is not read by poolform"),
    "two_provider_blocks": ('provider "prefect" {}\nprovider "prefect" {}\n', "m/main.tf:2:1 error duplicate provider \"prefect\" block"),
    "refused_provider_attribute": ('provider "prefect" {\n  custom_headers = "{}"\n}\n',
                                   "m/main.tf:2:3 error provider \"prefect\": custom_headers is not supported by poolform"),
    "workspace_id_refused": ('provider "prefect" {\n  workspace_id = "w"\n}\n',
                             "m/main.tf:2:3 error provider \"prefect\": workspace_id is not supported by poolform"),
    "bad_endpoint": ('provider "prefect" {\n  endpoint = "ftp://x"\n}\n', "m/main.tf:2:14 error provider \"prefect\": invalid endpoint"),
    "unknown_block": ('workflow "x" {\n}\n', "m/main.tf:1:1 error unsupported block type 'workflow'"),
    "reference_to_another_provider": ('resource "aws_s3_bucket" "b" {}\nlocals {\n  x = aws_s3_bucket.b.arn\n}\n'
                                      'resource "prefect_work_pool" "p" {\n  name = local.x\n}\n',
                                      "m/main.tf:3:7 error aws_s3_bucket.b.arn comes from another provider"),
    "resource_of_an_aliased_provider": ('resource "prefect_work_pool" "p" {\n  name     = "p"\n  provider = prefect.other\n}\n',
                                        "m/main.tf:3:14 error resources of an aliased prefect provider are not read by poolform"),
}


@pytest.mark.parametrize("text,expected", list(REFUSED.values()), ids=list(REFUSED))
def test_what_poolform_cannot_evaluate_is_an_error_at_its_line(tree, text, expected):
    tree.write("m/main.tf", text)
    tree.write("m/pools.tf", 'resource "prefect_work_pool" "keep" {\n  name = "keep"\n  type = "process"\n}\n')
    state, diags = tree.load("m")
    assert state is None, "refused input must fail the load"
    got = tree.where(diags)
    assert any(line.startswith(expected) for line in got), got


def test_a_module_outside_the_configuration_is_refused(tree, monkeypatch):
    tree.write("outside/main.tf", 'resource "prefect_work_pool" "o" {\n  name = "o"\n  type = "process"\n}\n')
    tree.write("repo/main.tf", 'module "x" {\n  source = "../outside"\n}\n')
    monkeypatch.chdir(tree.root / "repo")
    state, diags = tree.load(".")
    assert state is None
    assert [d.summary for d in diags.errors] == ["module 'x': ../outside is outside the configuration"]
    assert (diags.errors[0].range.filename, diags.errors[0].range.start.line) == ("main.tf", 2)


def test_other_providers_resources_are_listed_as_ignored(tree):
    tree.write("m/mod/main.tf", 'data "aws_caller_identity" "me" {}\nresource "prefect_work_pool" "p" {\n'
                                '  name = "in-module"\n  type = "process"\n}\n')
    tree.write("m/main.tf", """
        resource "aws_s3_bucket" "logs" {
          bucket = "logs"
        }
        module "m" {
          source = "./mod"
        }
        resource "prefect_work_pool" "p" {
          name = "root"
          type = "process"
        }
        """)
    state, diags = tree.load("m")
    assert not diags.has_errors, tree.where(diags)
    assert sorted(state.pools) == ["in-module", "root"]
    assert [(i["address"], i["mode"], i["range"]["filename"], i["range"]["start"]["line"]) for i in state.ignored] == [
        ("aws_s3_bucket.logs", "managed", "m/main.tf", 1),
        ("module.m.data.aws_caller_identity.me", "data", "m/mod/main.tf", 1),
    ]


def test_provider_block_is_read_and_its_keys_are_never_shown(tree):
    tree.write("m/main.tf", """
        variable "url" {}
        provider "prefect" {
          endpoint       = var.url
          api_key        = "pnu_secret_key"
          basic_auth_key = "admin:hunter2"
          csrf_enabled   = true
        }
        resource "prefect_work_pool" "p" {
          name = "p"
          type = "process"
        }
        """)
    state, diags = tree.load("m", variables={"url": "http://10.0.0.9:4200"})
    assert not diags.has_errors, tree.where(diags)
    block = state.provider
    assert (block.where, block.endpoint, block.api_key, block.basic_auth_key) == (
        "m/main.tf:2", "http://10.0.0.9:4200", "pnu_secret_key", "admin:hunter2")
    assert "pnu_secret_key" not in repr(block) and "hunter2" not in repr(block)
    assert "pnu_secret_key" not in repr(state)


def test_two_directories_with_provider_blocks_are_refused(tree):
    tree.write("a/main.tf", 'provider "prefect" {\n  endpoint = "http://a:4200"\n}\n')
    tree.write("b/main.tf", 'provider "prefect" {\n  endpoint = "http://b:4200"\n}\n'
                            'resource "prefect_work_pool" "p" {\n  name = "p"\n  type = "process"\n}\n')
    state, diags = tree.load("a", "b")
    assert state is None
    assert any(line.startswith('b/main.tf:1:1 error two provider "prefect" blocks') for line in tree.where(diags))


class _Block:
    def __init__(self, endpoint=None, api_key=None, basic_auth_key=None):
        from reconciler.settings import ProviderBlock

        self.value = ProviderBlock("main.tf:1", endpoint, api_key, basic_auth_key)


@pytest.mark.parametrize("flag,block,env,url,authorization", [
    (None, None, {}, "http://127.0.0.1:4200/api", None),
    (None, None, {"PREFECT_API_URL": "http://env:1/api", "PREFECT_API_KEY": "k"}, "http://env:1/api", "Bearer k"),
    (None, _Block("http://block:2"), {"PREFECT_API_URL": "http://env:1/api"}, "http://block:2/api", None),
    (None, _Block("http://block:2", api_key="b"), {"PREFECT_API_KEY": "e"}, "http://block:2/api", "Bearer b"),
    (None, _Block(None, api_key="b"), {"PREFECT_API_URL": "http://env:1/api"}, "http://env:1/api", "Bearer b"),
    (None, _Block("https://api.prefect.cloud/api/accounts/a/workspaces/w"), {},
     "https://api.prefect.cloud/api/accounts/a/workspaces/w", None),
    ("http://flag:3/api", _Block("http://block:2", api_key="b"), {"PREFECT_API_KEY": "e"}, "http://flag:3/api", "Bearer e"),
], ids=["default", "environment", "block_beats_environment", "block_key_beats_environment_key",
        "block_key_with_environment_url", "cloud_workspace_url_kept", "flag_wins_and_block_is_not_used"])
def test_connection_precedence(flag, block, env, url, authorization):
    settings = ConnectionSettings.from_env(flag, environ=env, provider=block.value if block else None)
    assert (settings.api_url, settings.authorization) == (url, authorization)
