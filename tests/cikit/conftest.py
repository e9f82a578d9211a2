"""Fixtures for the CI-kit tests: the example workflows, a config repository, a live server.

``poolform_commands`` pulls every ``poolform ...`` command line out of a shell script
the way a reader would (backslash continuations joined, heredoc bodies skipped,
redirections and pipes cut off), so the tests can run them through the real CLI.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GITHUB_DIR = ROOT / "examples" / "github-actions"
GITLAB_FILE = ROOT / "examples" / "gitlab-ci" / ".gitlab-ci.yml"
BIN_DIR = Path(sys.executable).parent

CONFIG = """\
# yaml-language-server: $schema=../provider-schema/config.schema.json
version: 1
work_pools:
  ci-process:
    type: process
    description: CI kit test pool
    concurrency_limit: 5
    queues:
      critical:
        priority: 1
        concurrency_limit: 1
      low:
        priority: 10
        description: bulk
"""

ENVIRONMENTS = """\
# yaml-language-server: $schema=../provider-schema/config.schema.json
version: 1
environments:
  staging:
    api_url: {staging}
    api_key_env: PREFECT_STAGING_API_KEY
  prod:
    api_url: {prod}
    api_key_env: PREFECT_PROD_API_KEY
"""
"""The example workflows' two environments, each on its own reference server (``server`` is
staging's, ``prod_server`` prod's); the keys are the variables the workflows fill in."""

_SEPARATORS = {";", "&&", "||", "|", "then", "do", "else", "if", "!", "while", "until"}
_HEREDOC = re.compile(r"<<-?\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)['\"]?")


def _is_separator(token: str) -> bool:
    return token in _SEPARATORS or (bool(token) and set(token) <= set("();<>|&"))


def poolform_commands(script: str) -> list[list[str]]:
    """Every ``poolform`` invocation in a shell script, as argv lists, in order."""
    commands: list[list[str]] = []
    text = re.sub(r"\\\n[ \t]*", " ", script)
    heredoc_end: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if heredoc_end is not None:
            if line == heredoc_end:
                heredoc_end = None
            continue
        match = _HEREDOC.search(line)
        if match:
            heredoc_end = match.group(1)
        if "poolform" not in line or line.startswith("#"):
            continue
        line = line.replace("$(", " ; ")
        try:
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            tokens = list(lexer)
        except ValueError:
            continue
        for index, token in enumerate(tokens):
            if token != "poolform" or (index > 0 and not _is_separator(tokens[index - 1])):
                continue
            argv: list[str] = []
            for arg in tokens[index:]:
                if _is_separator(arg):
                    if arg.startswith((">", "<", "&")) and argv[-1:] in (["1"], ["2"]):
                        argv.pop()
                    break
                argv.append(arg)
            commands.append(argv)
    return commands


def load_workflow(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    """``on:`` of a workflow (PyYAML reads the bare key ``on`` as the boolean True)."""
    value = workflow.get("on", workflow.get(True))
    if isinstance(value, str):
        return {value: None}
    if isinstance(value, list):
        return {name: None for name in value}
    return value or {}


@dataclass
class Step:
    job: str
    name: str
    run: str


def github_steps(workflow: dict[str, Any]) -> list[Step]:
    steps = []
    for job_name, job in workflow["jobs"].items():
        for index, step in enumerate(job.get("steps", [])):
            if "run" in step:
                steps.append(Step(job_name, step.get("name") or f"step {index}", step["run"]))
    return steps


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def gitlab_job(ci: dict[str, Any], name: str) -> dict[str, Any]:
    """A GitLab job with its ``extends:`` resolved as GitLab does: hashes merged deeply (later
    templates, then the job itself, win), everything else replaced."""
    job = ci[name]
    parents = job.get("extends", [])
    merged: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        merged = _merge(merged, gitlab_job(ci, parent))
    return _merge(merged, {k: v for k, v in job.items() if k != "extends"})


def gitlab_jobs(ci: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every job that runs (hidden ``.templates`` and global keywords left out), extends resolved."""
    return {name: gitlab_job(ci, name) for name, job in ci.items()
            if isinstance(job, dict) and not name.startswith(".") and "script" in gitlab_job(ci, name)}


def gitlab_scripts(ci: dict[str, Any]) -> list[Step]:
    steps = []
    for job_name, job in gitlab_jobs(ci).items():
        script = job["script"]
        lines = script if isinstance(script, list) else [script]
        steps.append(Step(job_name, job_name, "\n".join(lines)))
    return steps


@pytest.fixture(scope="session")
def github_workflows() -> dict[str, dict[str, Any]]:
    return {path.name: load_workflow(path) for path in sorted(GITHUB_DIR.glob("*.yml"))}


@pytest.fixture(scope="session")
def gitlab_ci() -> dict[str, Any]:
    return load_workflow(GITLAB_FILE)


@pytest.fixture
def server() -> Iterator[Any]:
    from reconciler.server.runner import serve_in_thread

    handle = serve_in_thread(store_path=":memory:", port=0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def prod_server() -> Iterator[Any]:
    from reconciler.server.runner import serve_in_thread

    handle = serve_in_thread(store_path=":memory:", port=0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def repo(tmp_path: Path, server: Any, prod_server: Any) -> Path:
    """A config repository as the workflows expect it: ``pools/`` at the top, with the environments
    staging (``server``) and prod (``prod_server``)."""
    (tmp_path / "pools").mkdir()
    (tmp_path / "pools" / "pools.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "pools" / "environments.yaml").write_text(
        ENVIRONMENTS.format(staging=server.api_url, prod=prod_server.api_url), encoding="utf-8")
    return tmp_path


def base_env(api_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "POOLFORM_", "GITHUB_", "CI")) and k not in ("NO_COLOR", "FORCE_COLOR", "TF_IN_AUTOMATION")}
    env["PATH"] = f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}"
    env["PREFECT_API_URL"] = api_url
    env["POOLFORM_IN_AUTOMATION"] = "1"
    env.update(extra)
    return env


@pytest.fixture
def run_poolform(repo: Path, server: Any):
    """Run ``argv`` (starting with ``poolform``) in the repo against the live server."""

    def run(argv: list[str], *, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        assert argv[0] == "poolform", argv
        return subprocess.run(
            [sys.executable, "-m", "reconciler", *argv[1:]], cwd=repo, env=env or base_env(server.api_url),
            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout,
        )

    return run


@pytest.fixture
def run_bash(repo: Path, server: Any):
    """Run a workflow's shell script with bash, as a runner would (poolform on PATH)."""

    def run(script: str, *, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-e", "-c", script], cwd=repo, env=env or base_env(server.api_url),
            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout,
        )

    return run


@pytest.fixture(scope="session")
def kit() -> Any:
    """The helpers above, for test modules (conftest is not importable under importlib mode)."""
    import types

    return types.SimpleNamespace(
        ROOT=ROOT, GITHUB_DIR=GITHUB_DIR, GITLAB_FILE=GITLAB_FILE, CONFIG=CONFIG,
        poolform_commands=poolform_commands, triggers=triggers, github_steps=github_steps,
        gitlab_scripts=gitlab_scripts, base_env=base_env, load_workflow=load_workflow, gitlab_job=gitlab_job,
        gitlab_jobs=gitlab_jobs, ENVIRONMENTS=ENVIRONMENTS,
    )
