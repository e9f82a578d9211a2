"""plan / apply / import end to end: against the reference server (and a real Prefect with POOLFORM_TEST_API_URL)."""

from __future__ import annotations

import json

import pytest

from .conftest import assert_ok, squash

BASE = """
version: 1
work_pools:
  {p}k8s:
    type: kubernetes
    description: Production
    concurrency_limit: 20
    queues:
      critical: {priority: 1, concurrency_limit: 1}
      high: {priority: 5, concurrency_limit: 3}
      low: {priority: 10, description: bulk}
  {p}proc:
    type: process
    queues:
      batch: {paused: true}
"""


def _apply(env, *files, extra=()):
    args = ["apply", "--auto-approve"]
    for f in files:
        args += ["-f", f]
    return assert_ok(env.cli(*args, *extra))


def _plan(env, *files, code=0, extra=()):
    args = ["plan", "--detailed-exitcode"]
    for f in files:
        args += ["-f", f]
    return assert_ok(env.cli(*args, *extra), code)


def _plan_json(env, *files, extra=()):
    args = ["plan", "--json"]
    for f in files:
        args += ["-f", f]
    result = env.cli(*args, *extra)
    assert_ok(result)
    return json.loads(result.stdout)


def test_apply_from_empty_then_second_plan_is_empty(env):
    cfg = env.write("pools.yaml", BASE)
    out = _plan(env, cfg, code=2)
    assert f"# work_pool.{env.name('k8s')} will be created" in out
    assert "Plan: 6 to add, 0 to change, 0 to destroy." in out
    out = _apply(env, cfg)
    assert f"work_pool.{env.name('k8s')}: Creation complete" in out
    assert "Apply complete! Resources: 6 added, 0 changed, 0 destroyed." in out
    pools = env.pools()
    k8s = pools[env.name("k8s")]
    assert (k8s["type"], k8s["description"], k8s["concurrency_limit"]) == ("kubernetes", "Production", 20)
    prios = {n: q["priority"] for n, q in k8s["queues"].items()}
    assert (prios["critical"], prios["high"], prios["low"]) == (1, 5, 10)
    assert k8s["queues"]["critical"]["concurrency_limit"] == 1
    assert pools[env.name("proc")]["queues"]["batch"]["is_paused"] is True
    out = _plan(env, cfg, code=0)
    assert "No changes." in out
    assert_ok(env.cli("plan", "-f", cfg, "--expect-no-changes"))


def test_edit_gives_exact_diff(env):
    cfg = env.write("pools.yaml", BASE)
    _apply(env, cfg)
    edited = env.write("pools.yaml", BASE.replace("description: Production", "description: Prod v2")
                       .replace("high: {priority: 5, concurrency_limit: 3}", "high: {priority: 5, concurrency_limit: 4}"))
    out = _plan(env, edited, code=2)
    assert '~ description = "Production" -> "Prod v2"' in squash(out)
    assert "~ concurrency_limit = 3 -> 4" in squash(out)
    assert "Plan: 0 to add, 2 to change, 0 to destroy." in out
    plan = _plan_json(env, edited)
    changed = {c["address"]: c["change"]["changed_paths"] for c in plan["resource_changes"] if c["change"]["actions"] != ["no-op"]}
    assert changed == {f"work_pool.{env.name('k8s')}": [["description"]],
                       f"work_queue.{env.name('k8s')}.high": [["concurrency_limit"]]}
    _apply(env, edited)
    _plan(env, edited, code=0)


def test_out_of_band_drift_shows_the_field(env):
    cfg = env.write("pools.yaml", BASE)
    _apply(env, cfg)
    c = env.client()
    c.update_pool(env.name("k8s"), {"description": "changed by hand"})
    c.update_queue(env.name("k8s"), "low", {"concurrency_limit": 7})
    out = _plan(env, cfg, code=2)
    assert '~ description = "changed by hand" -> "Production"' in squash(out)
    assert "~ concurrency_limit = 7 -> null" in squash(out)
    assert "Plan: 0 to add, 2 to change, 0 to destroy." in out
    _apply(env, cfg)
    _plan(env, cfg, code=0)


def test_prune_off_lists_unmanaged_and_prune_on_deletes(env):
    cfg = env.write("pools.yaml", BASE)
    _apply(env, cfg)
    c = env.client()
    c.create_queue(env.name("k8s"), {"name": "stray"})
    c.create_pool({"name": env.name("legacy"), "type": "process"})
    out = _plan(env, cfg, code=0)
    assert f"work_queue.{env.name('k8s')}.stray" in out
    assert "destroy" not in out.split("Not managed")[0]
    scoped = env.write("pools.yaml", BASE.replace("version: 1", "version: 1\nmanage:\n  prune: true\n  scope: [\"{p}*\"]"))
    out = _plan(env, scoped, code=2)
    assert f"# work_queue.{env.name('k8s')}.stray will be destroyed" in out
    assert f"# work_pool.{env.name('legacy')} will be destroyed" in out
    assert "Plan: 0 to add, 0 to change, 2 to destroy." in out
    _apply(env, scoped)
    pools = env.pools()
    assert env.name("legacy") not in pools
    assert "stray" not in pools[env.name("k8s")]["queues"]
    _plan(env, scoped, code=0)


def test_stale_plan_is_refused_naming_what_changed(env):
    cfg = env.write("pools.yaml", BASE)
    _apply(env, cfg)
    edited = env.write("pools.yaml", BASE.replace("description: Production", "description: Next"))
    planfile = str(env.tmp / "plan.json")
    assert_ok(env.cli("plan", "-f", edited, "--out", planfile))
    env.client().update_pool(env.name("k8s"), {"concurrency_limit": 99})
    result = env.cli("apply", planfile)
    out = assert_ok(result, 1)
    assert f"work_pool.{env.name('k8s')} changed since the plan was made (concurrency_limit)" in out
    assert env.pools()[env.name("k8s")]["description"] == "Production"
    assert_ok(env.cli("plan", "-f", edited, "--out", planfile))
    out = assert_ok(env.cli("apply", planfile))
    assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in out


def test_saved_plan_applies_exactly_and_empty_plan_says_no_changes(env):
    cfg = env.write("pools.yaml", BASE)
    planfile = str(env.tmp / "plan.json")
    out = assert_ok(env.cli("plan", "-f", cfg, "--out", planfile))
    assert f'poolform apply {planfile}' in out
    out = assert_ok(env.cli("apply", planfile))
    assert "Apply complete! Resources: 6 added" in out
    assert_ok(env.cli("plan", "-f", cfg, "--out", planfile))
    out = assert_ok(env.cli("apply", planfile))
    assert "No changes." in out


def test_injected_server_error_then_rerun_converges(env):
    cfg = env.write("pools.yaml", BASE)
    env.faults.fail(lambda r: r.method == "POST" and "/queues" in r.url.path and env.name("k8s") in r.url.path
                    and json.loads(r.content).get("name") == "high", status=500)
    result = env.cli("apply", "-f", cfg, "--auto-approve")
    out = assert_ok(result, 1)
    assert f"Error: work_queue.{env.name('k8s')}.high" in out
    assert "injected failure" in out
    assert "Applied" in out and "skipped" in out
    pools = env.pools()
    assert env.name("proc") in pools and "batch" in pools[env.name("proc")]["queues"]
    assert "high" not in pools[env.name("k8s")]["queues"]
    out = _plan(env, cfg, code=2)
    assert f"work_queue.{env.name('k8s')}.high will be created" in out
    _apply(env, cfg)
    _plan(env, cfg, code=0)


def test_retryable_503_is_retried_within_one_apply(env):
    cfg = env.write("pools.yaml", BASE)
    env.faults.fail(lambda r: r.method == "POST" and r.url.path.endswith("/work_pools/"), nth=1, status=503,
                    headers={"Retry-After": "0"})
    out = _apply(env, cfg)
    assert "Apply complete! Resources: 6 added" in out
    _plan(env, cfg, code=0)


def test_priority_reorder_with_unmanaged_default_in_between(env):
    first = env.write("pools.yaml", """
        version: 1
        work_pools:
          {p}prio:
            type: process
            queues:
              a: {priority: 1}
              b: {priority: 3}
              c: {priority: 5}
        """)
    _apply(env, first)
    prios = {n: q["priority"] for n, q in env.pools()[env.name("prio")]["queues"].items()}
    assert (prios["a"], prios["b"], prios["c"]) == (1, 3, 5)
    assert prios["default"] not in (1, 3, 5)
    reordered = env.write("pools.yaml", """
        version: 1
        work_pools:
          {p}prio:
            type: process
            queues:
              a: {priority: 5}
              b: {priority: 1}
              c: {priority: 3}
        """)
    _plan(env, reordered, code=2)
    _apply(env, reordered)
    prios = {n: q["priority"] for n, q in env.pools()[env.name("prio")]["queues"].items()}
    assert (prios["a"], prios["b"], prios["c"]) == (5, 1, 3)
    assert len(set(prios.values())) == len(prios)
    _plan(env, reordered, code=0)


def test_undeclared_default_queue_moves_as_prefect_moves_it_and_the_next_plan_is_empty(env):
    cfg = env.write("pools.yaml", """
        version: 1
        work_pools:
          {p}bump:
            type: process
            queues:
              high: {priority: 1}
        """)
    _apply(env, cfg)
    prios = {n: q["priority"] for n, q in env.pools()[env.name("bump")]["queues"].items()}
    assert prios == {"high": 1, "default": 2}, "as Prefect and the official provider leave them"
    _plan(env, cfg, code=0)


def test_default_queue_declared_is_managed_not_created(env):
    cfg = env.write("pools.yaml", """
        version: 1
        work_pools:
          {p}dq:
            type: process
            queues:
              default: {description: Catch-all, priority: 10, concurrency_limit: 2}
              urgent: {priority: 1}
        """)
    out = _plan(env, cfg, code=2)
    assert f"work_queue.{env.name('dq')}.default will be created" not in out
    _apply(env, cfg)
    q = env.pools()[env.name("dq")]["queues"]
    assert (q["default"]["description"], q["default"]["priority"], q["default"]["concurrency_limit"]) == ("Catch-all", 10, 2)
    assert q["urgent"]["priority"] == 1
    _plan(env, cfg, code=0)


def test_type_change_is_a_replace(env):
    cfg = env.write("pools.yaml", BASE)
    _apply(env, cfg)
    changed = env.write("pools.yaml", BASE.replace("type: process", "type: docker"))
    out = _plan(env, changed, code=2)
    assert f"# work_pool.{env.name('proc')} must be replaced" in out
    assert "Plan: 2 to add, 0 to change, 2 to destroy." in out
    plan = _plan_json(env, changed)
    replaced = {c["address"]: c for c in plan["resource_changes"] if c["change"]["actions"] == ["delete", "create"]}
    assert sorted(replaced) == [f"work_pool.{env.name('proc')}", f"work_queue.{env.name('proc')}.batch"]
    pool_change = replaced[f"work_pool.{env.name('proc')}"]
    assert pool_change["destructive"] is True and pool_change["action_reason"] == "replace_because_cannot_update"
    _apply(env, changed)
    pools = env.pools()
    assert pools[env.name("proc")]["type"] == "docker"
    assert pools[env.name("proc")]["queues"]["batch"]["is_paused"] is True
    _plan(env, changed, code=0)


def test_target_limits_the_plan_and_warns(env):
    cfg = env.write("pools.yaml", BASE)
    out = assert_ok(env.cli("plan", "-f", cfg, "--target", f"work_pool.{env.name('proc')}"))
    assert "targeting is in effect" in out
    assert f"work_pool.{env.name('proc')} will be created" in out
    assert env.name("k8s") not in out.split("Plan:")[0].replace("targeting", "")
    out = assert_ok(env.cli("apply", "-f", cfg, "--auto-approve", "--target", f"work_pool.{env.name('proc')}"))
    assert set(env.pools()) == {env.name("proc")}
    out = assert_ok(env.cli("plan", "-f", cfg, "--target", "nonsense"), 1)
    assert "--target" in out and "Traceback" not in out


def test_destroy_deletes_declared_pools(env):
    cfg = env.write("pools.yaml", BASE)
    _apply(env, cfg)
    out = _plan(env, cfg, code=2, extra=("--destroy",))
    assert f"# work_pool.{env.name('k8s')} will be destroyed" in out
    _apply(env, cfg, extra=("--destroy",))
    assert env.pools() == {}
    out = _plan(env, cfg, code=0, extra=("--destroy",))
    assert "No changes." in out


def test_import_round_trip_plans_no_changes(env):
    c = env.client()
    template = {
        "job_configuration": {"command": "{{ command }}", "env": "{{ env }}", "image": "{{ image }}"},
        "variables": {"type": "object", "properties": {
            "command": {"type": "string", "default": "python -m app"},
            "env": {"type": "object", "additionalProperties": {"type": "string"}},
            "image": {"type": "string", "default": "repo/app:1"}}},
    }
    c.create_pool({"name": env.name("live"), "type": "kubernetes", "description": "made by hand",
                   "concurrency_limit": 5, "base_job_template": template})
    c.create_queue(env.name("live"), {"name": "fast", "priority": 1, "concurrency_limit": 2})
    c.create_queue(env.name("live"), {"name": "slow", "description": "later", "is_paused": True})
    c.create_pool({"name": env.name("other"), "type": "process"})
    out_file = str(env.tmp / "imported.yaml")
    assert_ok(env.cli("import", "--pool", env.name("live"), "-o", out_file))
    text = open(out_file, encoding="utf-8").read()
    assert env.name("live") in text and env.name("other") not in text
    out = _plan(env, out_file, code=0)
    assert "No changes." in out
    out = assert_ok(env.cli("import", "--pool", env.name("nope")), 1)
    assert f"'{env.name('nope')}' not found" in out


def test_json_outputs_are_machine_readable(env):
    cfg = env.write("pools.yaml", BASE)
    plan = _plan_json(env, cfg)
    assert plan["format_version"] == "1.3" and plan["summary"]["add"] == 6
    assert plan["api_url"] == env.api_url
    result = env.cli("apply", "-f", cfg, "--auto-approve", "--json")
    assert_ok(result)
    messages = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    types = [m["type"] for m in messages]
    assert types[0] == "version" and types[-1] == "change_summary"
    assert "apply_start" in types and "apply_complete" in types
    assert messages[-1]["changes"] == {"add": 6, "change": 0, "remove": 0, "operation": "apply"}
    out = assert_ok(env.cli("apply", "-f", cfg, "--json"), 1)
    assert "--auto-approve" in out


def test_markdown_format(env):
    cfg = env.write("pools.yaml", BASE)
    out = assert_ok(env.cli("plan", "-f", cfg, "--format", "markdown"))
    assert "<details>" in out and "6 to add" in out


def test_many_pools_use_the_bulk_queue_read_and_converge(env):
    from reconciler.api.observe import LEGACY_QUEUE_READ_MIN_POOLS

    n = LEGACY_QUEUE_READ_MIN_POOLS + 4
    pools = "".join(f"  {{p}}m{i:02d}:\n    type: process\n    queues:\n      fast: {{priority: 1}}\n      slow: {{priority: 7}}\n"
                    for i in range(n))
    cfg = env.write("pools.yaml", "version: 1\nwork_pools:\n" + pools)
    planfile = str(env.tmp / "plan.json")
    assert_ok(env.cli("plan", "-f", cfg, "--out", planfile))
    out = assert_ok(env.cli("apply", planfile))
    assert f"Resources: {3 * n} added" in out
    env.faults.seen.clear()
    _plan(env, cfg, code=0)
    assert any(p.endswith("/work_queues/filter") for p in env.faults.seen)
    env.client().update_queue(env.name("m03"), "slow", {"description": "drifted"})
    out = _plan(env, cfg, code=2)
    assert f"# work_queue.{env.name('m03')}.slow will be updated in-place" in out


DOTTED = """
version: 1
work_pools:
  {p}dot-q:
    type: process
    queues:
      "v1.2": {priority: 1}
      plain: {priority: 2}
  {p}a.b:
    type: process
    queues:
      c: {priority: 1}
"""


def test_dotted_queue_names_are_fingerprinted_targeted_and_checked_for_staleness(env):
    cfg = env.write("pools.yaml", DOTTED)
    _apply(env, cfg)
    planfile = str(env.tmp / "plan.json")
    cfg = env.write("pools.yaml", DOTTED.replace("plain: {priority: 2}", "plain: {priority: 2, description: next}"))
    _plan(env, cfg, code=2, extra=("--out", planfile))
    observed = json.loads(open(planfile, encoding="utf-8").read())["observed"]
    assert observed[f"work_queue.{env.name('dot-q')}.v1.2"] is not None
    assert observed[f"work_queue.{env.name('a.b')}.c"] is not None
    env.client().update_queue(env.name("dot-q"), "v1.2", {"is_paused": True})
    out = squash(_plan(env, cfg, code=2, extra=("--target", f"work_queue.{env.name('dot-q')}.v1.2", "--no-color")))
    assert f"# work_queue.{env.name('dot-q')}.v1.2 will be updated in-place" in out
    assert "will be created" not in out
    out = assert_ok(env.cli("apply", planfile), 1)
    assert f"work_queue.{env.name('dot-q')}.v1.2 changed since the plan was made (paused)" in out
