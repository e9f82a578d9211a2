"""Automation mode (``CI`` or ``POOLFORM_IN_AUTOMATION``): no prompts, no colour, no "run X next" hints,
progress as plain lines, even when a terminal is attached."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
HINT = re.compile(r'\b[Rr]un\b[^\n]*\bpoolform\b|poolform apply "?\S*"? to apply')


def _in_terminal(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 60) -> tuple[int | None, str]:
    """Run with stdin, stdout and stderr on a pseudo-terminal; return (exit code or None if it hung, output)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", *argv[1:]], cwd=cwd, env=env,
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        try:
            code: int | None = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = None
    finally:
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


def _automation_envs(kit: Any, api_url: str) -> list[dict[str, str]]:
    return [kit.base_env(api_url), {**kit.base_env(api_url), "POOLFORM_IN_AUTOMATION": "", "CI": "true"}]


@pytest.mark.parametrize("variable", ["POOLFORM_IN_AUTOMATION", "CI"])
def test_plan_in_automation_has_no_colour_and_no_hints_on_a_terminal(kit: Any, repo: Path, server: Any, variable: str) -> None:
    env = kit.base_env(server.api_url, POOLFORM_IN_AUTOMATION="")
    env[variable] = "1" if variable == "POOLFORM_IN_AUTOMATION" else "true"
    code, output = _in_terminal(["poolform", "plan", "-f", "pools/", "--out", "plan.json"], repo, env)
    assert code == 0, output
    assert "work_pool.ci-process" in output and "Plan: " in output
    assert not ANSI.search(output), output
    assert not HINT.search(output), output


def test_plan_outside_automation_does_give_the_hint(kit: Any, repo: Path, run_poolform: Any, server: Any) -> None:
    env = kit.base_env(server.api_url, POOLFORM_IN_AUTOMATION="")
    result = run_poolform(["poolform", "plan", "-f", "pools/", "--out", "plan.json"], env=env)
    assert result.returncode == 0, result.stderr
    assert HINT.search(result.stdout), result.stdout


@pytest.mark.parametrize("variable", ["POOLFORM_IN_AUTOMATION", "CI"])
def test_apply_in_automation_never_prompts_even_on_a_terminal(kit: Any, repo: Path, server: Any, variable: str) -> None:
    env = kit.base_env(server.api_url, POOLFORM_IN_AUTOMATION="")
    env[variable] = "1" if variable == "POOLFORM_IN_AUTOMATION" else "true"
    code, output = _in_terminal(["poolform", "apply", "-f", "pools/"], repo, env, timeout=15)
    assert code == 1, f"apply waited for input in automation mode (exit {code}):\n{output}"
    assert "Enter a value" not in output
    assert "--auto-approve" in output


def test_apply_without_terminal_refuses_at_once(repo: Path, run_poolform: Any) -> None:
    result = run_poolform(["poolform", "apply", "-f", "pools/"], timeout=30)
    assert result.returncode == 1
    assert "--auto-approve" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("variable", ["POOLFORM_IN_AUTOMATION", "CI"])
def test_apply_progress_is_plain_lines(kit: Any, repo: Path, server: Any, variable: str) -> None:
    env = kit.base_env(server.api_url, POOLFORM_IN_AUTOMATION="")
    env[variable] = "1" if variable == "POOLFORM_IN_AUTOMATION" else "true"
    code, output = _in_terminal(["poolform", "apply", "-f", "pools/", "--auto-approve"], repo, env)
    assert code == 0, output
    assert not ANSI.search(output), output
    assert "\r" not in output.replace("\r\n", "\n"), output
    assert not HINT.search(output), output
    assert "work_pool.ci-process" in output
