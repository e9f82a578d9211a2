"""Taking over a state the official PrefectHQ provider wrote: ``terraform state replace-provider``,
``terraform init``, and the first plan is empty.

The state fixture has the official provider's layout (terraform-provider-prefect v3.4.1,
``internal/provider/resources/work_pool.go`` and ``work_queue.go``): schema version 0, every
attribute of its schema (``account_id``/``workspace_id`` null in OSS), timestamps as Go's
``time.RFC3339`` (whole seconds), ``base_job_template`` as Go's ``json.Marshal`` (sorted keys,
compact). The objects are created on the reference server the way that provider creates them
(``POST /work_pools/``, ``POST /work_pools/{name}/queues/`` with the priority, which moves the
default queue as Prefect does).
"""

from __future__ import annotations

import datetime
import json
import uuid

import pytest

pytestmark = pytest.mark.terraform

OFFICIAL = 'provider["registry.terraform.io/prefecthq/prefect"]'

TEMPLATE = {
    "job_configuration": {"command": "{{ command }}", "env": "{{ env }}"},
    "variables": {"type": "object", "properties": {
        "command": {"type": "string", "default": "python -m app"},
        "env": {"type": "object", "additionalProperties": {"type": "string"}},
    }},
}


def _go_time(value: str) -> str:
    """A server timestamp as the official provider stores it: Go's time.RFC3339, whole seconds."""
    moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _official_state(pool: dict, queue: dict) -> dict:
    pool_attrs = {
        "id": pool["id"], "created": _go_time(pool["created"]), "updated": _go_time(pool["updated"]),
        "account_id": None, "workspace_id": None, "name": pool["name"], "description": pool["description"],
        "type": pool["type"], "paused": pool["is_paused"], "concurrency_limit": pool["concurrency_limit"],
        "default_queue_id": pool["default_queue_id"],
        "base_job_template": json.dumps(pool["base_job_template"], sort_keys=True, separators=(",", ":")),
    }
    queue_attrs = {
        "id": queue["id"], "created": _go_time(queue["created"]), "updated": _go_time(queue["updated"]),
        "account_id": None, "workspace_id": None, "work_pool_name": pool["name"], "name": queue["name"],
        "description": queue["description"], "is_paused": queue["is_paused"],
        "concurrency_limit": queue["concurrency_limit"], "priority": queue["priority"],
    }

    def resource(kind: str, name: str, attributes: dict, deps: list[str] | None = None) -> dict:
        instance = {"schema_version": 0, "attributes": attributes, "sensitive_attributes": [],
                    "identity_schema_version": 0}
        if deps:
            instance["dependencies"] = deps
        return {"mode": "managed", "type": kind, "name": name, "provider": OFFICIAL, "instances": [instance]}

    return {
        "version": 4, "terraform_version": "1.11.4", "serial": 4, "lineage": str(uuid.uuid4()), "outputs": {},
        "resources": [resource("prefect_work_pool", "pool", pool_attrs),
                      resource("prefect_work_queue", "high", queue_attrs, ["prefect_work_pool.pool"])],
        "check_results": None,
    }


def test_state_of_the_official_provider_is_taken_over_with_an_empty_first_plan(tf, api, server, names):
    pool_name = names()
    api.post("/work_pools/", {"name": pool_name, "type": "process", "description": "migrated", "is_paused": False,
                              "concurrency_limit": 4, "base_job_template": TEMPLATE})
    api.post(f"/work_pools/{pool_name}/queues/", {"name": "high", "description": "urgent", "is_paused": False,
                                                  "concurrency_limit": 2, "priority": 1})
    pool, queue = api.get(f"/work_pools/{pool_name}"), api.get(f"/work_pools/{pool_name}/queues/high")
    assert api.queues(pool_name)["default"]["priority"] == 2, "Prefect moves the default queue out of the way"
    (tf.dir / "terraform.tfstate").write_text(json.dumps(_official_state(pool, queue), indent=2))
    endpoint = server.api_url.removesuffix("/api")  # the official provider's endpoint: /api is appended
    tf.write(f'''
provider "prefect" {{
  endpoint = "{endpoint}"
}}

resource "prefect_work_pool" "pool" {{
  name              = "{pool_name}"
  type              = "process"
  description       = "migrated"
  paused            = false
  concurrency_limit = 4
  base_job_template = jsonencode({json.dumps(TEMPLATE)})
}}

resource "prefect_work_queue" "high" {{
  work_pool_name    = prefect_work_pool.pool.name
  name              = "high"
  description       = "urgent"
  concurrency_limit = 2
  priority          = 1
}}
''')
    proc = tf.run("state", "replace-provider", "-auto-approve", "-no-color", "prefecthq/prefect", "poolform/prefect")
    assert "Successfully replaced provider for 2 resources" in proc.stdout, proc.stdout
    tf.run("init", "-input=false", "-no-color")
    code, out = tf.plan()
    assert code == 0, f"the first plan after taking over the official provider's state is not empty:\n{out}"
    state = json.loads(tf.run("show", "-json").stdout)["values"]["root_module"]["resources"]
    assert {r["provider_name"] for r in state} == {"registry.terraform.io/poolform/prefect"}

    # and it is managed from now on: a change is planned and applied in place, nothing is replaced
    tf.write((tf.dir / "main.tf").read_text().replace('description       = "urgent"', 'description       = "now ours"'),
             header=False)
    plan = tf.plan_json()
    actions = {c["address"]: c["change"]["actions"] for c in plan["resource_changes"]}
    assert actions == {"prefect_work_pool.pool": ["no-op"], "prefect_work_queue.high": ["update"]}
    tf.apply()
    assert api.get(f"/work_pools/{pool_name}/queues/high")["description"] == "now ours"
    assert tf.plan()[0] == 0
