"""A --target or render --pool that matches nothing is an error with a did-you-mean, never an empty
"No changes" that exits 0; render refuses job variables the server would refuse."""

from __future__ import annotations

import json

import pytest

from .conftest import assert_ok

CFG = """
version: 1
work_pools:
  {p}alpha:
    type: process
    queues:
      critical: {priority: 1}
  {p}beta:
    type: process
"""


@pytest.mark.parametrize("command", ["plan", "apply"])
@pytest.mark.parametrize(
    "target, hint",
    [
        ("work_pool.{p}alpah", 'Did you mean "work_pool.{p}alpha"?'),
        ("work_queue.{p}alpha.critcal", 'Did you mean "work_queue.{p}alpha.critical"?'),
        ("work_pool.zzz-nothing-like-it", ""),
    ],
    ids=["pool-typo", "queue-typo", "no-close-match"],
)
def test_a_target_that_matches_nothing_fails(env, command, target, hint):
    cfg = env.write("pools.yaml", CFG)
    target = target.replace("{p}", env.prefix)
    args = [command, "-f", cfg, "--target", target] + (["--auto-approve"] if command == "apply" else [])
    result = env.cli(*args, "--detailed-exitcode") if command == "plan" else env.cli(*args)
    out = assert_ok(result, 1)
    assert f"target {target} matches nothing" in out
    assert "No changes" not in out
    if hint:
        assert hint.replace("{p}", env.prefix) in out
    else:
        assert "Did you mean" not in out
    assert env.pools() == {}


def test_one_unmatched_target_among_good_ones_still_fails_and_applies_nothing(env):
    cfg = env.write("pools.yaml", CFG)
    good, bad = f"work_pool.{env.name('alpha')}", f"work_pool.{env.name('gamma')}"
    out = assert_ok(env.cli("apply", "-f", cfg, "--target", good, "--target", bad, "--auto-approve"), 1)
    assert f"target {bad} matches nothing" in out
    assert env.pools() == {}


def test_unmatched_target_in_json_plan_is_an_error_document(env):
    cfg = env.write("pools.yaml", CFG)
    result = env.cli("plan", "-f", cfg, "--target", f"work_pool.{env.name('alpah')}", "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["errored"] is True and doc["applyable"] is False
    [error] = [d for d in doc["diagnostics"] if d["severity"] == "error"]
    assert error["address"] == f"work_pool.{env.name('alpah')}"
    assert f'Did you mean "work_pool.{env.name("alpha")}"?' in error["detail"]


def test_a_matching_target_still_plans(env):
    cfg = env.write("pools.yaml", CFG)
    out = assert_ok(env.cli("plan", "-f", cfg, "--target", f"work_pool.{env.name('beta')}", "--detailed-exitcode"), 2)
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in out


def test_target_of_a_live_undeclared_pool_matches(env):
    cfg = env.write("pools.yaml", CFG)
    assert_ok(env.cli("apply", "-f", cfg, "--auto-approve"))
    only_alpha = env.write("alpha.yaml", "version: 1\nwork_pools:\n  {p}alpha:\n    type: process\n"
                                         "    queues:\n      critical: {priority: 1}\n")
    out = assert_ok(env.cli("plan", "-f", only_alpha, "--target", f"work_pool.{env.name('beta')}"))
    assert "matches nothing" not in out


def test_render_unknown_pool_suggests_the_closest_declared_or_live_name(env):
    cfg = env.write("pools.yaml", CFG)
    assert_ok(env.cli("apply", "-f", cfg, "--auto-approve"))
    out = assert_ok(env.cli("render", "--pool", env.name("alpah")), 1)
    assert f"work pool '{env.name('alpah')}' not found at" in out
    assert f'Did you mean "{env.name("alpha")}"?' in out
    templated = env.write("t.yaml", """
        version: 1
        work_pools:
          {p}declared-only:
            type: process
        """)
    out = assert_ok(env.cli("render", "--pool", env.name("declared-onyl"), "-f", templated), 1)
    assert f'Did you mean "{env.name("declared-only")}"?' in out
    out = assert_ok(env.cli("render", "--pool", "qqqqqqqqqqqqqq"), 1)
    assert "not found" in out and "Did you mean" not in out


TEMPLATED = """
version: 1
work_pools:
  {p}tpl:
    type: kubernetes
    base_job_template:
      job_configuration:
        image: "{{ image }}"
        replicas: "{{ replicas }}"
      variables:
        type: object
        required: [image]
        properties:
          image: {type: string}
          replicas: {type: integer, default: 1, minimum: 1}
"""


@pytest.mark.parametrize(
    "job_variables, needle",
    [
        ('{"image": 5}', "image"),
        ('{"replicas": 2}', "image"),
        ('{"image": "a", "replicas": 0}', "replicas"),
    ],
    ids=["wrong-type", "missing-required", "below-minimum"],
)
def test_render_exits_1_on_invalid_job_variables(env, job_variables, needle):
    cfg = env.write("pools.yaml", TEMPLATED)
    result = env.cli("render", "--pool", env.name("tpl"), "-f", cfg, "--job-variables", job_variables)
    assert_ok(result, 1)
    assert result.stdout == ""
    assert "Error: the job variables do not validate" in result.stderr and needle in result.stderr
    ok = env.cli("render", "--pool", env.name("tpl"), "-f", cfg, "--job-variables", '{"image": "a"}')
    assert json.loads(assert_ok(ok)) == {"image": "a", "replicas": 1}
