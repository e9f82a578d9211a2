"""The example root modules under terraform/ apply, plan empty afterwards, and destroy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "terraform"


@pytest.mark.parametrize("example", ["process", "kubernetes"])
def test_example_applies_and_second_plan_is_empty(tf, api, example):
    shutil.copytree(EXAMPLES / example, tf.dir, dirs_exist_ok=True)
    tf.init()
    tf.apply()
    code, out = tf.plan()
    assert code == 0, out
    tf.destroy()


def test_import_example_first_plan_has_no_changes(tf, api, names):
    pool = names()
    api.post("/work_pools/", {"name": pool, "type": "process",
                              "base_job_template": {"job_configuration": {"command": "{{ command }}"},
                                                    "variables": {"type": "object",
                                                                  "properties": {"command": {"type": "string"}}}}})
    api.post(f"/work_pools/{pool}/queues", {"name": "reports"})
    shutil.copytree(EXAMPLES / "import", tf.dir, dirs_exist_ok=True)
    tf.init()
    plan = tf.plan_json(f"-var=pool={pool}")
    assert len(plan["resource_changes"]) == 3
    for change in plan["resource_changes"]:
        assert change["change"]["actions"] == ["no-op"] and change["change"].get("importing"), change
    tf.apply(f"-var=pool={pool}")
    assert tf.plan(f"-var=pool={pool}")[0] == 0


def test_examples_are_terraform_fmt_clean(tf):
    proc = tf.run("fmt", "-check", "-recursive", "-list=true", str(EXAMPLES), check=False)
    assert proc.returncode == 0, f"run `terraform fmt -recursive terraform/`; not formatted:\n{proc.stdout}"
