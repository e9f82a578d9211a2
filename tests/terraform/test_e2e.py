"""End to end: real terraform 1.11.4, our provider from an offline mirror, the reference server.

Each official-provider defect of issue 4 has a test here that shows ours does not have it.
"""

from __future__ import annotations

import json
import os
import stat

TEMPLATE = {
    "job_configuration": {"command": "{{ command }}", "env": "{{ env }}", "labels": {"team": "data"}},
    "variables": {
        "type": "object",
        "properties": {
            "command": {"type": "string", "default": "python -m app"},
            "env": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
}


def _reverse_keys(value):
    if isinstance(value, dict):
        return {k: _reverse_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reverse_keys(v) for v in value]
    return value


def pool_and_queues(pool: str, queues: dict[str, int], *, description: str = "managed", template: str = 'file("${path.module}/template.json")') -> str:
    body = f'''
resource "prefect_work_pool" "pool" {{
  name              = "{pool}"
  type              = "process"
  description       = "{description}"
  concurrency_limit = 5
  base_job_template = {template}
}}
'''
    for name, priority in queues.items():
        body += f'''
resource "prefect_work_queue" "{name}" {{
  work_pool_name = prefect_work_pool.pool.name
  name           = "{name}"
  priority       = {priority}
}}
'''
    return body


def test_lifecycle_second_plan_empty_reformatted_template_update_and_destroy(tf, api, names):
    pool = names()
    (tf.dir / "template.json").write_text(json.dumps(TEMPLATE, indent=2))
    tf.write(pool_and_queues(pool, {"high": 1, "low": 2}))
    tf.init()
    tf.apply()
    assert api.get(f"/work_pools/{pool}")["base_job_template"] == TEMPLATE
    assert tf.plan()[0] == 0, "second plan after apply must be empty"

    # whitespace-only and key-order-only edit of the template file: still no diff
    (tf.dir / "template.json").write_text(json.dumps(_reverse_keys(TEMPLATE), separators=(",", ":")))
    code, out = tf.plan()
    assert code == 0, out

    # in-place update: only description changes; ids and created are never "(known after apply)"
    tf.write(pool_and_queues(pool, {"high": 1, "low": 2}, description="changed"))
    plan = tf.plan_json()
    changes = {c["address"]: c["change"] for c in plan["resource_changes"]}
    assert changes["prefect_work_pool.pool"]["actions"] == ["update"]
    assert set(changes["prefect_work_pool.pool"]["after_unknown"]) <= {"updated"}
    assert changes["prefect_work_pool.pool"]["after"]["id"] == changes["prefect_work_pool.pool"]["before"]["id"]
    assert changes["prefect_work_queue.high"]["actions"] == ["no-op"]
    tf.apply()
    assert api.get(f"/work_pools/{pool}")["description"] == "changed"
    assert tf.plan()[0] == 0

    tf.destroy()
    assert api.get(f"/work_pools/{pool}") is None


def test_priority_reorder_of_siblings_converges_without_ping_pong(tf, api, names):
    pool = names()
    (tf.dir / "template.json").write_text(json.dumps(TEMPLATE))
    tf.write(pool_and_queues(pool, {"a": 2, "b": 3, "c": 4}))
    tf.init()
    tf.apply()
    tf.write(pool_and_queues(pool, {"a": 4, "b": 3, "c": 2}))
    plan = tf.plan_json()
    for change in plan["resource_changes"]:
        if change["address"] in ("prefect_work_queue.a", "prefect_work_queue.c"):
            assert change["change"]["actions"] == ["update"]
            assert set(change["change"]["after_unknown"]) <= {"updated"}, "no (known after apply) noise"
        else:
            assert change["change"]["actions"] == ["no-op"], change["address"]
    tf.apply()
    code, out = tf.plan()
    assert code == 0, out
    queues = api.queues(pool)
    assert {n: queues[n]["priority"] for n in "abc"} == {"a": 4, "b": 3, "c": 2}
    assert queues["default"]["priority"] == 1, "unmanaged sibling must not be moved"
    # and a swap that collides with the unmanaged default queue's priority
    tf.write(pool_and_queues(pool, {"a": 1, "b": 2, "c": 3}))
    tf.apply()
    assert tf.plan()[0] == 0
    queues = api.queues(pool)
    assert {n: queues[n]["priority"] for n in "abc"} == {"a": 1, "b": 2, "c": 3}


def test_default_queue_is_adopted_in_the_same_apply_and_reset_on_destroy(tf, api, names):
    pool = names()
    tf.write(f'''
resource "prefect_work_pool" "pool" {{
  name = "{pool}"
  type = "process"
}}
resource "prefect_work_queue" "default" {{
  work_pool_name    = prefect_work_pool.pool.name
  name              = "default"
  description       = "ours now"
  is_paused         = true
  concurrency_limit = 3
  priority          = 7
}}
''')
    tf.init()
    tf.apply()
    created = api.get(f"/work_pools/{pool}")
    queue = api.queues(pool)["default"]
    assert queue["id"] == created["default_queue_id"], "the pool's own default queue is managed, not a new one"
    assert (queue["description"], queue["is_paused"], queue["concurrency_limit"], queue["priority"]) == ("ours now", True, 3, 7)
    assert tf.plan()[0] == 0

    tf.write(f'''
resource "prefect_work_pool" "pool" {{
  name = "{pool}"
  type = "process"
}}
''')
    tf.apply()
    queue = api.queues(pool)["default"]
    assert queue["id"] == created["default_queue_id"]
    assert queue["description"] == "The work pool's default queue."
    assert queue["is_paused"] is False and queue["concurrency_limit"] is None
    assert queue["priority"] == 7, "priority is left alone"
    tf.destroy()


def test_out_of_band_change_shows_as_drift_and_deleted_object_is_recreated(tf, api, names):
    pool = names()
    (tf.dir / "template.json").write_text(json.dumps(TEMPLATE))
    tf.write(pool_and_queues(pool, {"high": 1}))
    tf.init()
    tf.apply()
    api.patch(f"/work_pools/{pool}", {"description": "edited in the UI"})
    code, out = tf.plan()
    assert code == 2
    assert '"edited in the UI" -> "managed"' in out
    plan = tf.plan_json("-refresh-only")
    drift = {d["address"]: d["change"] for d in plan.get("resource_drift", [])}
    assert drift["prefect_work_pool.pool"]["after"]["description"] == "edited in the UI"

    # deleted outside Terraform: read removes it from state and the plan re-creates it
    queue_id = api.queues(pool)["high"]["id"]
    api.delete(f"/work_queues/{queue_id}")
    plan = tf.plan_json()
    changes = {c["address"]: c["change"]["actions"] for c in plan["resource_changes"]}
    assert changes["prefect_work_queue.high"] == ["create"]
    tf.apply()
    assert api.queues(pool)["high"]["priority"] == 1


def test_import_by_command_then_first_plan_is_empty_template_included(tf, api, names):
    pool = names()
    api.post("/work_pools/", {"name": pool, "type": "process", "description": "managed",
                              "concurrency_limit": 5, "base_job_template": TEMPLATE})
    api.post(f"/work_pools/{pool}/queues", {"name": "high"})
    api.post(f"/work_pools/{pool}/queues", {"name": "low"})
    # the config writes the same template differently (indentation, key order)
    (tf.dir / "template.json").write_text(json.dumps(_reverse_keys(TEMPLATE), indent=4))
    tf.write(pool_and_queues(pool, {"high": 2, "low": 3}) + f'''
resource "prefect_work_pool" "unmanaged_template" {{
  name = "{pool}-bare"
  type = "process"
}}
''')
    api.post("/work_pools/", {"name": f"{pool}-bare", "type": "process", "base_job_template": TEMPLATE})
    tf.init()
    tf.run("import", "-input=false", "-no-color", "prefect_work_pool.pool", pool)
    tf.run("import", "-input=false", "-no-color", "prefect_work_pool.unmanaged_template", f"{pool}-bare")
    tf.run("import", "-input=false", "-no-color", "prefect_work_queue.high", f"{pool},high")
    tf.run("import", "-input=false", "-no-color", "prefect_work_queue.low", f"{pool},low")
    assert json.loads(tf.state("prefect_work_pool.pool")["base_job_template"]) == TEMPLATE
    code, out = tf.plan()
    assert code == 0, out


def test_import_blocks_plan_no_changes_and_apply(tf, api, names):
    pool = names()
    api.post("/work_pools/", {"name": pool, "type": "process", "description": "managed",
                              "concurrency_limit": 5, "base_job_template": TEMPLATE})
    api.post(f"/work_pools/{pool}/queues", {"name": "high"})
    (tf.dir / "template.json").write_text(json.dumps(TEMPLATE, indent=8))
    tf.write(pool_and_queues(pool, {"high": 2}) + f'''
import {{
  to = prefect_work_pool.pool
  id = "{pool}"
}}
import {{
  to = prefect_work_queue.high
  id = "{pool},high"
}}
''')
    tf.init()
    plan = tf.plan_json()
    for change in plan["resource_changes"]:
        assert change["change"]["actions"] == ["no-op"], change
        assert change["change"].get("importing"), change
    tf.apply()
    assert tf.plan()[0] == 0


def test_removed_optional_attributes_are_cleared_on_the_server(tf, api, names):
    pool = names()
    tf.write(f'''
resource "prefect_work_pool" "pool" {{
  name              = "{pool}"
  type              = "process"
  description       = "to be removed"
  concurrency_limit = 4
  paused            = true
}}
resource "prefect_work_queue" "q" {{
  work_pool_name    = prefect_work_pool.pool.name
  name              = "q"
  description       = "to be removed"
  concurrency_limit = 2
  is_paused         = true
}}
''')
    tf.init()
    tf.apply()
    tf.write(f'''
resource "prefect_work_pool" "pool" {{
  name = "{pool}"
  type = "process"
}}
resource "prefect_work_queue" "q" {{
  work_pool_name = prefect_work_pool.pool.name
  name           = "q"
}}
''')
    tf.apply()
    body = api.get(f"/work_pools/{pool}")
    assert (body["description"], body["concurrency_limit"], body["is_paused"]) == (None, None, False)
    queue = api.queues(pool)["q"]
    assert (queue["description"], queue["concurrency_limit"], queue["is_paused"]) == ("", None, False)
    assert tf.plan()[0] == 0


def test_refined_unknown_inside_jsonencode_template_plans_and_applies(tf, api, names):
    pool = names()
    tf.write(f'''
resource "terraform_data" "image" {{
  input = "registry.example/app:1.2"
}}
resource "prefect_work_pool" "pool" {{
  name = "{pool}"
  type = "process"
  base_job_template = jsonencode({{
    job_configuration = {{ image = "{{{{ image }}}}", tag = "prefix-${{terraform_data.image.output}}" }}
    variables = {{ type = "object", properties = {{ image = {{ type = "string", default = terraform_data.image.output }} }} }}
  }})
}}
''')
    tf.init()
    code, out = tf.plan()
    assert code == 2 and "known after apply" in out
    tf.apply()
    template = api.get(f"/work_pools/{pool}")["base_job_template"]
    assert template["variables"]["properties"]["image"]["default"] == "registry.example/app:1.2"
    assert template["job_configuration"]["tag"] == "prefix-registry.example/app:1.2"
    assert tf.plan()[0] == 0


def test_plan_time_template_diagnostic_points_at_the_attribute(tf, names):
    tf.write(f'''
resource "prefect_work_pool" "pool" {{
  name = "{names()}"
  type = "process"
  base_job_template = jsonencode({{
    job_configuration = {{ command = "{{{{ command }}}}", image = "{{{{ image }}}}" }}
    variables = {{ type = "object", properties = {{ command = {{ type = "string" }} }} }}
  }})
}}
''')
    tf.init()
    proc = tf.run("plan", "-input=false", "-no-color", check=False)
    assert proc.returncode == 1
    assert "undeclared" in proc.stderr and "image" in proc.stderr
    assert 'with prefect_work_pool.pool' in proc.stderr and "main.tf line" in proc.stderr


def test_read_only_home_does_not_break_the_provider(tf, api, names):
    pool = names()
    home = tf.dir.parent / "readonly-home"
    home.mkdir()
    os.chmod(home, stat.S_IRUSR | stat.S_IXUSR)
    try:
        tf.write(f'resource "prefect_work_pool" "pool" {{\n  name = "{pool}"\n  type = "process"\n}}\n')
        tf.init()
        tf.run("apply", "-auto-approve", "-input=false", "-no-color", env={"HOME": str(home), "XDG_CACHE_HOME": str(home / "cache")})
        assert api.get(f"/work_pools/{pool}") is not None
    finally:
        os.chmod(home, stat.S_IRWXU)


def test_data_sources(tf, api, names):
    pool = names()
    api.post("/work_pools/", {"name": pool, "type": "process", "base_job_template": TEMPLATE})
    api.post(f"/work_pools/{pool}/queues", {"name": "high", "priority": 1})
    pool_id = api.get(f"/work_pools/{pool}")["id"]
    tf.write(f'''
data "prefect_work_pool" "one" {{ name = "{pool}" }}
data "prefect_work_pools" "some" {{ filter_any = ["{pool_id}"] }}
data "prefect_work_queue" "q" {{
  work_pool_name = "{pool}"
  name           = "high"
}}
data "prefect_work_queues" "all" {{ work_pool_name = "{pool}" }}
data "prefect_worker_metadata" "m" {{}}
output "template" {{ value = jsondecode(data.prefect_work_pool.one.base_job_template) }}
output "pools" {{ value = [for p in data.prefect_work_pools.some.work_pools : p.name] }}
output "priority" {{ value = data.prefect_work_queue.q.priority }}
output "queues" {{ value = sort([for q in data.prefect_work_queues.all.work_queues : q.name]) }}
output "process" {{ value = jsondecode(data.prefect_worker_metadata.m.base_job_configs.process) }}
output "types" {{ value = keys(data.prefect_worker_metadata.m.base_job_configs) }}
output "managed" {{ value = data.prefect_worker_metadata.m.base_job_configs.prefect_managed }}
''')
    tf.init()
    tf.apply()
    out = json.loads(tf.run("output", "-json").stdout)
    assert out["template"]["value"] == TEMPLATE
    assert out["pools"]["value"] == [pool]
    assert out["priority"]["value"] == 1
    assert out["queues"]["value"] == ["default", "high"]
    assert set(out["process"]["value"]) == {"job_configuration", "variables"}
    assert len(out["types"]["value"]) == 15, "the official provider's 15 types, prefect_managed included"
    assert out["managed"]["value"] == "", "a type the server does not list: an empty string, as the official provider"


def test_provider_configuration_errors_are_clear_diagnostics(tf, names):
    tf.write(f'''
provider "prefect" {{
  endpoint = "not a url"
}}
resource "prefect_work_pool" "pool" {{ name = "{names()}" }}
''')
    tf.init()
    proc = tf.run("plan", "-input=false", "-no-color", check=False)
    assert proc.returncode == 1
    assert "Invalid provider endpoint" in proc.stderr and "not an http(s) URL" in proc.stderr
    assert "Plugin error" not in proc.stderr

    tf.write(f'''
provider "prefect" {{
  endpoint = "http://127.0.0.1:9/api/"
}}
resource "prefect_work_pool" "pool" {{ name = "{names()}" }}
''')
    proc = tf.run("apply", "-auto-approve", "-input=false", "-no-color", check=False)
    assert proc.returncode == 1
    assert "Could not create work pool" in proc.stderr and "127.0.0.1:9/api" in proc.stderr
    assert "Plugin error" not in proc.stderr


def test_endpoint_without_api_suffix_and_import_id_errors(tf, server, api, names):
    pool = names()
    base = server.api_url[: -len("/api")]
    tf.write(f'''
provider "prefect" {{
  endpoint = "{base}"
}}
resource "prefect_work_queue" "q" {{
  work_pool_name = "{pool}"
  name           = "q"
}}
''')
    api.post("/work_pools/", {"name": pool, "type": "process"})
    tf.init()
    proc = tf.run("import", "-input=false", "-no-color", "prefect_work_queue.q", "just-a-pool", check=False)
    assert proc.returncode == 1 and "<work_pool_name>,<queue_name>" in proc.stderr
    tf.apply()
    assert "q" in api.queues(pool)


def test_terraform_providers_schema_matches_the_checked_in_schema(tf):
    from reconciler.provider.schema import SCHEMA_FILE

    tf.write("")
    tf.init()
    assert json.loads(tf.run("providers", "schema", "-json").stdout) == json.loads(SCHEMA_FILE.read_text())


def test_templatefile_template_applies_without_inconsistent_result(tf, api, names):
    pool = names()
    (tf.dir / "template.json.tftpl").write_text(
        '{\n  "job_configuration": {"command": "{{ command }}", "team": "${team}"},\n'
        '  "variables": {"type": "object", "properties": {"command": {"type": "string", "default": "${cmd}"}}}\n}\n')
    tf.write(f'''
resource "prefect_work_pool" "pool" {{
  name              = "{pool}"
  type              = "process"
  base_job_template = templatefile("${{path.module}}/template.json.tftpl", {{ team = "data", cmd = "python -m app" }})
}}
''')
    tf.init()
    out = tf.apply()
    assert "inconsistent result" not in out
    template = api.get(f"/work_pools/{pool}")["base_job_template"]
    assert template["job_configuration"]["team"] == "data"
    assert template["variables"]["properties"]["command"]["default"] == "python -m app"
    assert tf.plan()[0] == 0


def test_default_install_dir_is_found_by_terraform_without_cli_config(tf, api, names, tmp_path):
    import subprocess
    import sys

    home = tmp_path / "fresh-home"
    home.mkdir()
    env = {**tf.env, "HOME": str(home)}
    proc = subprocess.run([sys.executable, "-m", "reconciler.cli.main", "terraform", "install"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert str(home / ".terraform.d" / "plugins") in proc.stdout
    empty_config = tmp_path / "empty.tfrc"
    empty_config.write_text("")
    pool = names()
    tf.write(f'resource "prefect_work_pool" "pool" {{\n  name = "{pool}"\n  type = "process"\n}}\n')
    no_cache = {"HOME": str(home), "TF_CLI_CONFIG_FILE": str(empty_config), "TF_PLUGIN_CACHE_DIR": ""}
    tf.run("init", "-input=false", "-no-color", env=no_cache)
    tf.run("apply", "-auto-approve", "-input=false", "-no-color", env=no_cache)
    assert api.get(f"/work_pools/{pool}")["type"] == "process"


def test_template_known_only_at_apply_is_checked_before_it_is_sent(tf, api, names):
    pool = names()
    tf.write(f'''
resource "terraform_data" "placeholder" {{
  input = "{{{{ image }}}}"
}}
resource "prefect_work_pool" "pool" {{
  name = "{pool}"
  type = "process"
  base_job_template = jsonencode({{
    job_configuration = {{ image = terraform_data.placeholder.output }}
    variables = {{ type = "object", properties = {{ command = {{ type = "string" }} }} }}
  }})
}}
''')
    tf.init()
    assert tf.plan()[0] == 2, "unknown at plan time: not checked yet"
    proc = tf.run("apply", "-auto-approve", "-input=false", "-no-color", check=False)
    assert proc.returncode == 1
    assert "undeclared" in proc.stderr and "image" in proc.stderr
    assert api.get(f"/work_pools/{pool}") is None, "the invalid template never reached the server"


def test_basic_auth_from_attribute_or_environment(tf_for, names):
    from reconciler.server.runner import serve_in_thread

    with serve_in_thread(":memory:", port=0, auth_string="admin:s3cret") as secured:
        tf = tf_for(secured)
        pool = names()
        body = f'resource "prefect_work_pool" "pool" {{\n  name = "{pool}"\n  type = "process"\n}}\n'
        tf.write('provider "prefect" {\n  basic_auth_key = "admin:wrong"\n}\n' + body)
        tf.init()
        proc = tf.run("apply", "-auto-approve", "-input=false", "-no-color", check=False)
        assert proc.returncode == 1 and "401" in proc.stderr and "Plugin error" not in proc.stderr
        tf.write('provider "prefect" {\n  basic_auth_key = "admin:s3cret"\n}\n' + body)
        tf.apply()
        tf.write(body)
        assert tf.plan(env={"PREFECT_API_AUTH_STRING": "admin:s3cret"})[0] == 0
        assert tf.plan(env={"PREFECT_BASIC_AUTH_KEY": "admin:s3cret"})[0] == 0


def test_names_with_spaces_hash_and_question_mark_are_escaped(tf, api, names):
    pool = names() + " #1?"
    tf.write(f'''
resource "prefect_work_pool" "pool" {{
  name        = "{pool}"
  type        = "process"
  description = "odd name"
}}
resource "prefect_work_queue" "q" {{
  work_pool_name = prefect_work_pool.pool.name
  name           = "night shift #2?"
  priority       = 3
}}
''')
    tf.init()
    tf.apply()
    from urllib.parse import quote

    assert api.get(f"/work_pools/{quote(pool, safe='')}")["description"] == "odd name"
    assert tf.plan()[0] == 0
    tf.destroy()
    assert api.get(f"/work_pools/{quote(pool, safe='')}") is None


def test_creating_what_already_exists_says_how_to_import_it(tf, api, names):
    pool = names("taken pool")
    api.post("/work_pools/", {"name": pool, "type": "process"})
    api.post(f"/work_pools/{pool}/queues", {"name": "taken q"})
    tf.write(f'''
resource "prefect_work_pool" "pool" {{
  name = "{pool}"
  type = "process"
}}
resource "prefect_work_queue" "q" {{
  work_pool_name = "{pool}"
  name           = "taken q"
}}
''')
    tf.init()
    proc = tf.run("apply", "-auto-approve", "-input=false", "-no-color", check=False)
    assert proc.returncode == 1
    stderr = " ".join(proc.stderr.split())
    assert f"Could not create work pool '{pool}'" in stderr and f'import block with id = "{pool}"' in stderr
    assert f'import block with id = "{pool},taken q"' in stderr
    assert f"terraform import <address> '{pool},taken q'" in stderr


def test_moving_a_queue_to_another_pool_replaces_it(tf, api, names):
    first, second = names("first"), names("second")

    def config(target: str) -> str:
        return f'''
resource "prefect_work_pool" "first" {{
  name = "{first}"
}}
resource "prefect_work_pool" "second" {{
  name = "{second}"
}}
resource "prefect_work_queue" "q" {{
  work_pool_name    = prefect_work_pool.{target}.name
  name              = "moving q"
  priority          = 3
  concurrency_limit = 2
}}
'''

    tf.write(config("first"))
    tf.init()
    tf.apply()
    tf.write(config("second"))
    plan = tf.plan_json()
    actions = {c["address"]: c["change"]["actions"] for c in plan["resource_changes"]}
    assert actions["prefect_work_queue.q"] == ["delete", "create"]
    assert actions["prefect_work_pool.first"] == ["no-op"] and actions["prefect_work_pool.second"] == ["no-op"]
    tf.apply()
    assert "moving q" not in api.queues(first)
    moved = api.queues(second)["moving q"]
    assert (moved["priority"], moved["concurrency_limit"]) == (3, 2)
    assert tf.plan()[0] == 0


def test_forty_sibling_queues_applied_ten_at_a_time_converge_and_reverse(tf, api, names):
    pool = names()

    def config(reverse: bool) -> str:
        body = f'resource "prefect_work_pool" "pool" {{\n  name = "{pool}"\n}}\n'
        body += '''
resource "prefect_work_queue" "q" {
  count          = 40
  work_pool_name = prefect_work_pool.pool.name
  name           = "q${count.index}"
  priority       = %s
}
''' % ("41 - count.index" if reverse else "count.index + 2")
        return body

    tf.write(config(False))
    tf.init()
    tf.apply("-parallelism=10")
    assert tf.plan()[0] == 0
    assert {n: q["priority"] for n, q in api.queues(pool).items() if n != "default"} == {f"q{i}": i + 2 for i in range(40)}
    tf.write(config(True))
    tf.apply("-parallelism=10")
    assert tf.plan()[0] == 0
    assert {n: q["priority"] for n, q in api.queues(pool).items() if n != "default"} == {f"q{i}": 41 - i for i in range(40)}
