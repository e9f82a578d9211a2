"""Nothing happens that the plan did not say (issue 8, paths 3-5), end to end.

* An edited plan file is refused before anything is sent (path 3).
* A change between ``plan --out`` and ``apply`` inside a pool the plan deletes or
  replaces makes the plan stale, naming the changed object (path 4).
* ``--destroy`` deletes the declared pools and nothing undeclared (path 5).

Against the reference server in process and over a socket, and a real Prefect under ``make compat``.
"""

from __future__ import annotations

import json

import pytest

from .conftest import assert_ok

CONFIG = """
version: 1
manage: {prune: true, scope: ["{p}*"]}
work_pools:
  {p}k8s:
    type: kubernetes
    description: Production
    queues:
      high: {priority: 1}
"""


def _planfile(env, cfg):
    path = str(env.tmp / "plan.json")
    assert_ok(env.cli("plan", "-f", cfg, "--out", path))
    return path


def _edit(path, edit):
    with open(path, encoding="utf-8") as fh:
        document = json.load(fh)
    edit(document)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(document, fh, indent=2)


def _retarget(env, victim):
    def edit(document):
        step = next(s for s in document["steps"] if s["op"] == "update_pool")
        step["pool"], step["address"] = victim, f"work_pool.{victim}"
    return edit


def _append_delete(env, victim):
    def edit(document):
        document["steps"].append({"op": "delete_pool", "address": f"work_pool.{victim}", "pool": victim})
    return edit


def _edit_body(env, victim):
    def edit(document):
        step = next(s for s in document["steps"] if s["op"] == "update_pool")
        step["body"]["concurrency_limit"] = 0
    return edit


def _consistent_delete(env, victim):
    """A delete of an unmanaged pool added with its change, its true 'before' and fingerprint: only the
    summary still says "0 to destroy"."""
    from reconciler.api.observe import observe_pools
    from reconciler.plan.normalize import fingerprints, observed_pool_form

    live = observe_pools(env.client(), [victim])
    address = f"work_pool.{victim}"

    def edit(document):
        document["resource_changes"].append({
            "address": address, "type": "work_pool", "pool": victim, "name": victim,
            "change": {"actions": ["delete"], "before": observed_pool_form(live.pools[victim]), "after": None,
                       "changed_paths": []},
            "action_reason": "delete_because_pruned", "reason_detail": "", "destructive": True})
        document["steps"].append({"op": "delete_pool", "address": address, "pool": victim})
        document["observed"].update(fingerprints(live, [address], with_queues=[victim]))
    return edit


@pytest.mark.parametrize(("edit", "named", "why"), [
    pytest.param(_retarget, "victim", "which is not among the plan's resource_changes", id="step-retargeted-to-another-pool"),
    pytest.param(_append_delete, "victim", "which is not among the plan's resource_changes",
                 id="appended-delete-of-an-unmanaged-pool"),
    pytest.param(_edit_body, "k8s", "does not carry what its change shows", id="edited-step-body"),
    pytest.param(_consistent_delete, None, "does not count its resource_changes", id="added-change-and-step-summary-unchanged"),
])
def test_an_edited_plan_file_is_refused_and_nothing_is_sent(env, edit, named, why):
    cfg = env.write("pools.yaml", CONFIG)
    assert_ok(env.cli("apply", "-f", cfg, "--auto-approve"))
    victim = f"unmanaged-{env.prefix}victim"
    env.client().create_pool({"name": victim, "type": "process", "description": "not ours"})
    try:
        edited = env.write("pools.yaml", CONFIG.replace("description: Production", "description: Next"))
        path = _planfile(env, edited)
        _edit(path, edit(env, victim))
        env.faults.seen.clear()
        out = assert_ok(env.cli("apply", path), 1)
        assert "Error:" in out and why in out, out
        if named:
            assert f"work_pool.{env.name('k8s') if named == 'k8s' else victim}" in out, out
        assert not [r for r in env.faults.seen if r.split()[0] in ("PATCH", "DELETE") or r.endswith("/work_pools/")]
        assert env.pools()[env.name("k8s")]["description"] == "Production"
        live = env.client().read_pool(victim)
        assert (live["description"], live["concurrency_limit"]) == ("not ours", None)
        raw = assert_ok(env.cli("apply", path, "--json"), 1)
        lines = [json.loads(line) for line in raw.splitlines() if line.startswith("{")]
        errors = [m["diagnostic"] for m in lines if m.get("type") == "diagnostic"]
        assert [e["code"] for e in errors] == ["invalid_plan_file"] and why in errors[0]["summary"], errors
        if why != "does not carry what its change shows":
            out = assert_ok(env.cli("show", path), 1)
            assert why in out, "show renders no plan file that apply would refuse on its face"
    finally:
        try:
            env.client().delete_pool(victim)
        except Exception:  # noqa: BLE001 - the test failed already if it is gone
            pass


def test_a_queue_created_after_the_plan_in_a_pool_it_deletes_makes_the_plan_stale(env):
    cfg = env.write("pools.yaml", CONFIG + "  {p}old:\n    type: process\n    queues:\n      a: {}\n")
    assert_ok(env.cli("apply", "-f", cfg, "--auto-approve"))
    path = _planfile(env, env.write("pools.yaml", CONFIG))
    env.client().create_queue(env.name("old"), {"name": "late"})
    out = assert_ok(env.cli("apply", path), 1)
    assert "stale" in out and f"work_queue.{env.name('old')}.late" in out, out
    assert "late" in env.pools()[env.name("old")]["queues"]


def test_a_queue_created_after_the_plan_in_a_pool_it_replaces_makes_the_plan_stale(env):
    cfg = env.write("pools.yaml", CONFIG)
    assert_ok(env.cli("apply", "-f", cfg, "--auto-approve"))
    path = _planfile(env, env.write("pools.yaml", CONFIG.replace("type: kubernetes", "type: docker")))
    env.client().create_queue(env.name("k8s"), {"name": "late"})
    out = assert_ok(env.cli("apply", path), 1)
    assert "stale" in out and f"work_queue.{env.name('k8s')}.late" in out, out
    assert env.pools()[env.name("k8s")]["type"] == "kubernetes"


def test_a_change_to_the_default_queue_of_a_pool_the_plan_deletes_makes_it_stale(env):
    cfg = env.write("pools.yaml", CONFIG + "  {p}old:\n    type: process\n")
    assert_ok(env.cli("apply", "-f", cfg, "--auto-approve"))
    path = _planfile(env, env.write("pools.yaml", CONFIG))
    env.client().update_queue(env.name("old"), "default", {"concurrency_limit": 3})
    out = assert_ok(env.cli("apply", path), 1)
    assert "stale" in out and f"work_queue.{env.name('old')}.default" in out, out
    assert env.name("old") in env.pools()


@pytest.mark.parametrize("prune", [False, True], ids=["prune-off", "prune-on"])
def test_destroy_deletes_the_declared_pools_and_nothing_undeclared(env, prune):
    cfg = env.write("pools.yaml", CONFIG.replace("prune: true", f"prune: {str(prune).lower()}"))
    assert_ok(env.cli("apply", "-f", cfg, "--auto-approve"))
    env.client().create_pool({"name": env.name("undeclared"), "type": "process"})
    out = assert_ok(env.cli("plan", "-f", cfg, "--destroy", "--detailed-exitcode"), 2)
    assert f"# work_pool.{env.name('k8s')} will be destroyed" in out
    assert f"work_pool.{env.name('undeclared')} will be destroyed" not in out
    assert "Plan: 0 to add, 0 to change, 2 to destroy." in out
    assert_ok(env.cli("apply", "-f", cfg, "--destroy", "--auto-approve"))
    assert set(env.pools()) == {env.name("undeclared")}
