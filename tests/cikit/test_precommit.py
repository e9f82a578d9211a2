"""``.pre-commit-hooks.yaml``: the hooks exist, follow pre-commit's conventions, and run our CLI."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
BY_ID = {hook["id"]: hook for hook in HOOKS}


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    assert argv[0] == "poolform"
    return subprocess.run([sys.executable, "-m", "reconciler", *argv[1:]], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def test_the_two_hooks_are_declared() -> None:
    assert set(BY_ID) == {"poolform-validate", "poolform-fmt"}
    for hook in HOOKS:
        assert hook["language"] == "python"
        assert hook["name"] and hook["description"]
        assert hook["require_serial"] is True


@pytest.mark.parametrize("hook_id", ["poolform-validate", "poolform-fmt"])
def test_entry_is_a_poolform_command_with_help(hook_id: str, tmp_path: Path) -> None:
    argv = shlex.split(BY_ID[hook_id]["entry"])
    assert argv[0] == "poolform" and len(argv) == 2
    result = _run([*argv, "--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: poolform {argv[1]}")


def test_validate_hook_takes_no_filenames() -> None:
    hook = BY_ID["poolform-validate"]
    assert hook["pass_filenames"] is False
    pattern = re.compile(hook["files"])
    for name in ("pools/a.yaml", "b.yml", "main.tf", "templates/k8s.json"):
        assert pattern.search(name), name
    assert not pattern.search("README.md")


def test_fmt_hook_file_selection() -> None:
    hook = BY_ID["poolform-fmt"]
    assert hook.get("pass_filenames", True) is True
    assert "yaml" in hook["types_or"]
    pattern = re.compile(hook["files"])
    for name in ("pools/a.yaml", "b.yml", "main.tf"):
        assert pattern.search(name), name
    for name in ("x.json", "README.md", "a.yaml.bak"):
        assert not pattern.search(name), name


def test_fmt_hook_fixes_files_like_pre_commit_runs_it(tmp_path: Path) -> None:
    ugly = tmp_path / "pools.yaml"
    ugly.write_text("work_pools:\n    p:\n        type: process\nversion: 1\n")
    tidy = tmp_path / "other.yaml"
    tidy.write_text("version: 1\n")
    result = _run([*shlex.split(BY_ID["poolform-fmt"]["entry"]), str(ugly), str(tidy)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert ugly.read_text() == "version: 1\nwork_pools:\n  p:\n    type: process\n"
    assert result.stdout.strip() == str(ugly)


@pytest.mark.parametrize(("config", "code"), [
    ("version: 1\nwork_pools:\n  p:\n    type: process\n", 0),
    ("version: 1\nwork_pools:\n  p:\n    tpye: process\n", 1),
], ids=["valid", "unknown-key"])
def test_validate_hook_runs_offline(tmp_path: Path, config: str, code: int) -> None:
    (tmp_path / "pools").mkdir()
    (tmp_path / "pools" / "pools.yaml").write_text(config)
    result = _run([*shlex.split(BY_ID["poolform-validate"]["entry"]), "-f", "pools/"], tmp_path)
    assert result.returncode == code, (result.stdout, result.stderr)
    if code:
        assert "pools/pools.yaml:4" in result.stdout + result.stderr
