"""Our provider against a REAL Prefect 3.9.1 server (``make compat``): the behaviours it relies on hold there too.

In particular the legacy ``PATCH /api/work_queues/{id}`` sets a priority without
moving sibling queues (prefect-api.md §1.4), which is what keeps Terraform's
sibling queues free of priority ping-pong.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.compat


@pytest.fixture
def real(tf_for, api_for, real_server):
    return tf_for(real_server), api_for(real_server.api_url)


def _queues(pool: str, priorities: dict[str, int]) -> str:
    body = f'resource "prefect_work_pool" "pool" {{\n  name = "{pool}"\n  type = "process"\n}}\n'
    for name, priority in priorities.items():
        body += (f'resource "prefect_work_queue" "{name}" {{\n  work_pool_name = prefect_work_pool.pool.name\n'
                 f'  name = "{name}"\n  priority = {priority}\n}}\n')
    return body


def test_legacy_queue_patch_sets_exact_priority_without_moving_siblings(real, names):
    _, api = real
    pool = names()
    api.post("/work_pools/", {"name": pool, "type": "process"})
    a = api.post(f"/work_pools/{pool}/queues", {"name": "a"})
    b = api.post(f"/work_pools/{pool}/queues", {"name": "b"})
    before = {n: q["priority"] for n, q in api.queues(pool).items()}
    api.patch(f"/work_queues/{b['id']}", {"priority": before["a"]})
    after = {n: q["priority"] for n, q in api.queues(pool).items()}
    assert after == {**before, "b": before["a"]}, "the legacy route must not run the bump walk"
    assert a["id"] != b["id"]


def test_sibling_priority_swap_has_no_ping_pong_on_real_prefect(real, names):
    tf, api = real
    pool = names()
    tf.write(_queues(pool, {"a": 2, "b": 3, "c": 4}))
    tf.init()
    tf.apply()
    tf.write(_queues(pool, {"a": 4, "b": 3, "c": 1}))
    tf.apply()
    code, out = tf.plan()
    assert code == 0, out
    queues = api.queues(pool)
    assert {n: queues[n]["priority"] for n in "abc"} == {"a": 4, "b": 3, "c": 1}
    assert queues["default"]["priority"] not in (1, 3, 4), "the undeclared default queue moves out of c's way"
    tf.destroy()


def test_default_queue_adopt_and_reset_and_import_on_real_prefect(real, names):
    tf, api = real
    pool = names()
    template = {"job_configuration": {"command": "{{ command }}"},
                "variables": {"type": "object", "properties": {"command": {"type": "string"}}}}
    api.post("/work_pools/", {"name": pool, "type": "process", "base_job_template": template})
    (tf.dir / "t.json").write_text(json.dumps(template, indent=7))
    tf.write(f'''
import {{
  to = prefect_work_pool.pool
  id = "{pool}"
}}
resource "prefect_work_pool" "pool" {{
  name              = "{pool}"
  type              = "process"
  base_job_template = file("t.json")
}}
resource "prefect_work_queue" "default" {{
  work_pool_name = prefect_work_pool.pool.name
  name           = "default"
  description    = "adopted"
  is_paused      = true
}}
''')
    tf.init()
    tf.apply()
    assert tf.plan()[0] == 0
    queue = api.queues(pool)["default"]
    assert (queue["description"], queue["is_paused"]) == ("adopted", True)
    tf.write(f'resource "prefect_work_pool" "pool" {{\n  name = "{pool}"\n  type = "process"\n}}\n')
    tf.apply()
    queue = api.queues(pool)["default"]
    assert (queue["description"], queue["is_paused"]) == ("The work pool's default queue.", False)
    tf.destroy()
    assert api.get(f"/work_pools/{pool}") is None
