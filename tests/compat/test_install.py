"""The built wheel installed the way users install it, each time into a fresh virtual environment.

* beside ``prefect==3.9.1`` (``pip install poolform prefect==3.9.1``, then the ``server`` extra too):
  ``pip check`` is clean both times;
* without extras: no server stack is installed, the CLI works, ``server start`` says what to install;
* at every lower bound pyproject.toml declares (a constraints file pins each ``>=`` to its version):
  ``pip check`` is clean and ``make demo``'s script (server, validate, plan, apply, re-plan, a polling
  worker) runs there.

Slow (pip resolves and installs from the index or its cache), hence ``make compat``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest
from packaging.requirements import Requirement

pytestmark = pytest.mark.compat

ROOT = Path(__file__).resolve().parents[2]
PIP_TIMEOUT_S = 1200
# orjson is not among them: the CLI writes plan files with it (a base dependency)
SERVER_STACK = {"fastapi", "starlette", "uvicorn", "websockets", "uvloop"}


def sh(*cmd: str | Path, timeout: float = PIP_TIMEOUT_S, cwd: Path = ROOT, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "VIRTUAL_ENV", "PYTHONPATH"))}
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
    if ok:
        assert result.returncode == 0, f"{' '.join(map(str, cmd))} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def fresh_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from the checkout's files (tracked and new, not ignored), as `pip wheel .` builds it."""
    source = tmp_path_factory.mktemp("source")
    files = sh("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", timeout=60).stdout
    for name in filter(None, files.split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    sh(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, f"{source}{os.sep}")
    (built,) = out.glob("poolform-*.whl")
    return built


def installed(bin_dir: Path) -> dict[str, str]:
    listed = json.loads(sh(bin_dir / "python", "-m", "pip", "list", "--format", "json", timeout=120).stdout)
    return {item["name"].lower().replace("_", "-"): item["version"] for item in listed}


def test_poolform_installs_beside_prefect(wheel: Path, tmp_path: Path) -> None:
    bin_dir = fresh_venv(tmp_path / "venv")
    sh(bin_dir / "pip", "install", "-q", wheel, "prefect==3.9.1")
    sh(bin_dir / "pip", "check")
    sh(bin_dir / "pip", "install", "-q", f"{wheel}[server]")
    sh(bin_dir / "pip", "check")
    assert installed(bin_dir)["prefect"] == "3.9.1"
    assert sh(bin_dir / "poolform", "--version").stdout.strip() == "poolform 0.1.0"
    assert "3.9.1" in sh(bin_dir / "prefect", "--version", timeout=120).stdout


def test_without_extras_the_cli_works_and_the_server_says_what_to_install(wheel: Path, tmp_path: Path) -> None:
    bin_dir = fresh_venv(tmp_path / "venv")
    sh(bin_dir / "pip", "install", "-q", wheel)
    sh(bin_dir / "pip", "check")
    assert not SERVER_STACK & set(installed(bin_dir)), "pip install poolform brought the server stack"
    assert sh(bin_dir / "poolform", "--version").stdout.startswith("poolform ")
    sh(bin_dir / "poolform", "validate", "-f", "examples/kubernetes", "-f", "examples/hcl")
    assert (bin_dir / "terraform-provider-prefect").exists()
    start = sh(bin_dir / "poolform", "server", "start", "--port", "0", "--db", tmp_path / "s.db", ok=False)
    assert start.returncode == 1
    assert "pip install 'poolform[server]'" in start.stderr and "Traceback" not in start.stderr


def lower_bounds() -> dict[str, str]:
    """Every distribution of the base, server and postgres groups -> the version of its `>=` bound."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    texts = [*project["dependencies"], *project["optional-dependencies"]["server"],
             *project["optional-dependencies"]["postgres"]]
    bounds = {}
    for text in texts:
        req = Requirement(text)
        if req.name == "poolform" or (req.marker and not req.marker.evaluate({"extra": "server"})):
            continue
        (low,) = [spec.version for spec in req.specifier if spec.operator == ">="]
        bounds[req.name.lower().replace("_", "-").replace(".", "-")] = low
    return bounds


def test_every_lower_bound_installs_and_runs_the_demo(wheel: Path, tmp_path: Path) -> None:
    bounds = lower_bounds()
    constraints = tmp_path / "lower.txt"
    constraints.write_text("".join(f"{name}=={version}\n" for name, version in bounds.items()), encoding="utf-8")
    bin_dir = fresh_venv(tmp_path / "venv")
    sh(bin_dir / "pip", "install", "-q", "-c", constraints, f"{wheel}[server,postgres]")
    sh(bin_dir / "pip", "check")
    versions = {name.replace(".", "-"): v for name, v in installed(bin_dir).items()}
    assert {name: versions.get(name) for name in bounds} == bounds
    demo = sh(bin_dir / "python", ROOT / "scripts" / "demo.py", timeout=600)
    assert "No changes." in demo.stdout and "poll 3: handed out ['critical-1']" in demo.stdout
