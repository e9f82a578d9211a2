"""``pip install poolform`` without the ``server`` extra: the CLI works, ``server start`` says what to install.

The environment without the extra is this venv's site-packages minus every distribution the
``server`` and ``postgres`` extras bring and the base dependencies do not (computed from the
installed metadata, the way pip resolves them): a directory of links to what is left, read by a
``python -S`` that never sees the rest. Quick enough for ``make test``; ``make compat`` also
installs the built wheel into a fresh venv (tests/compat/test_install.py).
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(requirements: list[str], extras: set[str]) -> set[str]:
    """Canonical names of the distributions these requirements install, with their own requirements."""
    seen: set[str] = set()
    todo = [(text, extras) for text in requirements]
    while todo:
        text, active = todo.pop()
        req = Requirement(text)
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in (active or {""})):
            continue
        name = canonical(req.name)
        if name == "poolform":
            todo += [(t, set(req.extras)) for t in importlib.metadata.requires("poolform") or []]
            continue
        if name in seen:
            continue
        seen.add(name)
        todo += [(t, set(req.extras)) for t in importlib.metadata.requires(name) or []]
    return seen


@pytest.fixture(scope="module")
def cli_only_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site directory holding links to this venv's packages but those only the extras bring."""
    requires = importlib.metadata.requires("poolform") or []
    base = closure(requires, set())
    extra = closure(["poolform[server,postgres]"], set()) - base
    assert {"fastapi", "uvicorn", "starlette", "websockets"} <= extra, extra
    hidden: set[str] = set()
    for dist in importlib.metadata.distributions():
        if canonical(dist.metadata["Name"]) in extra:
            hidden |= {Path(str(f)).parts[0] for f in dist.files or []}
    site = Path(sysconfig.get_paths()["purelib"])
    view = tmp_path_factory.mktemp("cli-only-site")
    for entry in site.iterdir():
        if entry.name not in hidden and entry.name != "__pycache__":
            (view / entry.name).symlink_to(entry)
    return view


def run(site: Path, *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    boot = ("import site, sys; site.addsitedir(sys.argv[1]); sys.argv = ['poolform', *sys.argv[2:]]\n"
            "from reconciler.cli.main import main\nmain()")
    return subprocess.run([sys.executable, "-S", "-c", boot, str(site), *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def test_the_view_really_lacks_the_server_stack(cli_only_site: Path) -> None:
    probe = subprocess.run([sys.executable, "-S", "-c", "import site, sys; site.addsitedir(sys.argv[1]); import fastapi",
                            str(cli_only_site)], capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0 and "No module named 'fastapi'" in probe.stderr


def test_server_start_without_the_extra_says_what_to_install(cli_only_site: Path, tmp_path: Path) -> None:
    result = run(cli_only_site, "server", "start", "--port", "0", "--db", str(tmp_path / "s.db"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "pip install 'poolform[server]'" in result.stderr
    assert "fastapi" in result.stderr and "uvicorn" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "s.db").exists()


@pytest.mark.parametrize("args", [
    ("--version",), ("--help",), ("server", "--help"), ("server", "start", "--help"), ("completion", "bash"),
    ("schema",), ("validate", "-f", "examples/kubernetes"), ("validate", "-f", "examples/hcl"),
    ("fmt", "--check", "examples/process"),
], ids=lambda args: " ".join(args))
def test_commands_work_without_the_extra(cli_only_site: Path, args: tuple[str, ...]) -> None:
    result = run(cli_only_site, *args)
    assert result.returncode == 0, result.stdout + result.stderr


def test_plan_and_apply_work_without_the_extra(cli_only_site: Path, socket_env: Any, tmp_path: Path) -> None:
    pool = socket_env.name("cli-only")  # socket_env deletes its prefixed pools from the shared server afterwards
    (tmp_path / "pools.yaml").write_text(
        f"version: 1\nwork_pools:\n  {pool}:\n    type: process\n    queues:\n      high: {{priority: 1}}\n",
        encoding="utf-8")
    env = {"PREFECT_API_URL": socket_env.api_url}
    plan = run(cli_only_site, "plan", "--detailed-exitcode", env=env, cwd=tmp_path)
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert f"work_pool.{pool}" in plan.stdout
    apply = run(cli_only_site, "apply", "--auto-approve", env=env, cwd=tmp_path)
    assert apply.returncode == 0, apply.stdout + apply.stderr
    again = run(cli_only_site, "plan", "--detailed-exitcode", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr


def test_terraform_install_works_without_the_extra(cli_only_site: Path, tmp_path: Path) -> None:
    result = run(cli_only_site, "terraform", "install", "--dir", str(tmp_path / "mirror"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert any(path.is_file() for path in (tmp_path / "mirror").rglob("*"))


def test_the_provider_starts_and_loads_its_service_without_the_extra(cli_only_site: Path) -> None:
    """The handshake line, then the gRPC service modules the first call loads."""
    boot = ("import site, sys; site.addsitedir(sys.argv[1])\n"
            "from reconciler.provider.main import main\n"
            "import reconciler.provider.servicer\n"
            "sys.exit(main())")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PLUGIN_PROTOCOL_VERSIONS": "6",
           "TF_PLUGIN_MAGIC_COOKIE": "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"}
    proc = subprocess.Popen([sys.executable, "-S", "-c", boot, str(cli_only_site)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert line.startswith("1|6|"), line + err
