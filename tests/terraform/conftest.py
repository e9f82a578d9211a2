"""Fixtures for driving the real ``terraform`` binary against the reference server.

One reference server and one offline filesystem mirror per test session (per
xdist worker); every test works in its own temporary directory with its own
CLI config, state and pool names, so tests run in parallel safely.
Without ``terraform`` on the PATH every test here fails and says so.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.provider.install import cli_config, install

TERRAFORM = shutil.which("terraform")

HEADER = """terraform {
  required_providers {
    prefect = { source = "poolform/prefect" }
  }
}
"""


@pytest.fixture(scope="session")
def terraform_bin() -> str:
    if TERRAFORM is None:
        pytest.fail("terraform is not on the PATH: these end-to-end tests need Terraform >= 1.6 (tested with 1.11.4). "
                    "Install it (https://developer.hashicorp.com/terraform/install) and run the tests again.")
    return TERRAFORM


@pytest.fixture(scope="session")
def server():
    from reconciler.server.runner import serve_in_thread

    handle = serve_in_thread(":memory:", port=0)
    yield handle
    handle.stop()


@pytest.fixture(scope="session")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tf-mirror")
    install(root / "mirror")
    config = root / "cli.tfrc"
    config.write_text(cli_config(root / "mirror"))
    cache = root / "plugin-cache"
    cache.mkdir()
    return {"mirror": root / "mirror", "cli_config": config, "cache": cache}


class Api:
    """A tiny direct client for setting up and checking server state in tests."""

    def __init__(self, api_url: str) -> None:
        self.http = httpx.Client(base_url=api_url, timeout=10)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        # a real Prefect on SQLite answers 503 ("database is locked", its transaction rolled back)
        # while its own services write: every request is retried a few times, as Prefect's client does
        for attempt in range(6):
            r = self.http.request(method, path, **kwargs)
            if r.status_code != 503 or attempt == 5:
                return r
            time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    def get(self, path: str) -> Any:
        r = self._send("GET", path)
        return None if r.status_code == 404 else r.raise_for_status().json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._send("POST", path, json=body).raise_for_status().json()

    def patch(self, path: str, body: dict[str, Any]) -> None:
        self._send("PATCH", path, json=body).raise_for_status()

    def delete(self, path: str) -> None:
        self._send("DELETE", path).raise_for_status()

    def queues(self, pool: str) -> dict[str, dict[str, Any]]:
        return {q["name"]: q for q in self.post(f"/work_pools/{pool}/queues/filter", {})}


@pytest.fixture(scope="session")
def api(server) -> Api:
    return Api(server.api_url)


class TF:
    """One Terraform working directory; ``init`` copies the session's initialized ``.terraform``."""

    def __init__(self, binary: str, workdir: Path, env: dict[str, str], initialized: Path | None = None) -> None:
        self.binary = binary
        self.dir = workdir
        self.env = env
        self.initialized = initialized

    def write(self, body: str, name: str = "main.tf", header: bool = True) -> None:
        (self.dir / name).write_text((HEADER if header else "") + body)

    def run(self, *args: str, check: bool = True, env: dict[str, str] | None = None,
            input_text: str | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run([self.binary, *args], cwd=self.dir, env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=300, input=input_text)
        if check and proc.returncode != 0:
            raise AssertionError(f"terraform {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def init(self) -> None:
        if self.initialized is None:
            self.run("init", "-input=false", "-no-color")
            return
        shutil.copytree(self.initialized / ".terraform", self.dir / ".terraform", symlinks=True)
        shutil.copy(self.initialized / ".terraform.lock.hcl", self.dir / ".terraform.lock.hcl")

    def apply(self, *extra: str) -> str:
        return self.run("apply", "-auto-approve", "-input=false", "-no-color", *extra).stdout

    def destroy(self) -> str:
        return self.run("destroy", "-auto-approve", "-input=false", "-no-color").stdout

    def plan(self, *extra: str, env: dict[str, str] | None = None) -> tuple[int, str]:
        proc = self.run("plan", "-detailed-exitcode", "-input=false", "-no-color", *extra, check=False, env=env)
        if proc.returncode == 1:
            raise AssertionError(f"terraform plan failed:\n{proc.stdout}\n{proc.stderr}")
        return proc.returncode, proc.stdout

    def plan_json(self, *extra: str) -> dict[str, Any]:
        self.run("plan", "-input=false", "-no-color", "-out=tfplan", *extra)
        return json.loads(self.run("show", "-json", "tfplan").stdout)

    def state(self, address: str) -> dict[str, Any]:
        data = json.loads(self.run("show", "-json").stdout)
        for resource in data.get("values", {}).get("root_module", {}).get("resources", []):
            if resource["address"] == address:
                return resource["values"]
        raise AssertionError(f"{address} is not in the state")


VENV_BIN = str(Path(sys.executable).parent)
"""Holds this interpreter's ``terraform-provider-prefect``, which the installed launcher finds on PATH."""


def tf_env(mirror: dict[str, Path], server, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PREFECT_", "POOLFORM_PROVIDER"))}
    env.update({
        "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
        "TF_CLI_CONFIG_FILE": str(mirror["cli_config"]),
        "TF_PLUGIN_CACHE_DIR": str(mirror["cache"]),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "PREFECT_API_URL": server.api_url,
        "HOME": str(home),
    })
    return env


@pytest.fixture(scope="session")
def initialized(terraform_bin, mirror, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real ``terraform init`` from the offline mirror per session; tests copy its result."""
    work = tmp_path_factory.mktemp("tf-init")
    (work / "main.tf").write_text(HEADER)

    class _NoServer:
        api_url = "http://127.0.0.1:9/api"

    TF(terraform_bin, work, tf_env(mirror, _NoServer(), work)).init()
    lock = (work / ".terraform.lock.hcl").read_text()
    assert 'provider "registry.terraform.io/poolform/prefect"' in lock and "h1:" in lock, lock
    return work


@pytest.fixture
def tf_for(terraform_bin, mirror, initialized, tmp_path: Path):
    """A factory: ``tf_for(server_with_api_url) -> TF`` in this test's temporary directory."""

    def make(target) -> TF:
        work = tmp_path / "work"
        work.mkdir()
        home = tmp_path / "home"
        home.mkdir()
        return TF(terraform_bin, work, tf_env(mirror, target, home), initialized)

    return make


@pytest.fixture
def tf(tf_for, server) -> TF:
    return tf_for(server)


@pytest.fixture(scope="session")
def api_for():
    return Api


@pytest.fixture
def names(request: pytest.FixtureRequest):
    """Unique, readable pool names for this test: names("a") -> "t-<test>-a"."""
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    return lambda suffix="p": f"t-{base}-{suffix}"


REPO = Path(__file__).resolve().parents[2]


def _prefect_server_module():
    spec = importlib.util.spec_from_file_location("poolform_prefect_server_tf", REPO / "scripts" / "prefect_server.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def real_server():
    helper = _prefect_server_module()
    venv = Path(os.environ.get("POOLFORM_PREFECT_VENV") or REPO / ".venv-prefect")
    given = os.environ.get("POOLFORM_TEST_API_URL")

    class Handle:
        def __init__(self, api_url: str) -> None:
            self.api_url = api_url.rstrip("/")

    if given:
        yield Handle(given)
        return
    try:
        with helper.running_prefect_server(venv) as url:
            yield Handle(url)
    except helper.PrefectServerError as exc:
        pytest.fail(f"{exc}; point POOLFORM_PREFECT_VENV at a venv with prefect==3.9.1", pytrace=False)
