"""Fixtures for the compatibility suite: the real Prefect 3.9.1 venv, CLI and server, and ours.

The real Prefect venv comes from POOLFORM_PREFECT_VENV (default: .venv-prefect at the repo root).
The real server is POOLFORM_TEST_API_URL when set (scripts/compat.py starts one), otherwise this
suite starts its own for the session. Every real-Prefect process gets a clean environment: no
PREFECT_* variable or profile of the caller leaks in.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
CLI_TIMEOUT_S = 180


def _load_prefect_server_module():
    spec = importlib.util.spec_from_file_location("poolform_prefect_server", REPO / "scripts" / "prefect_server.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


prefect_server = _load_prefect_server_module()


@pytest.fixture(scope="session")
def prefect_venv() -> Path:
    venv = Path(os.environ.get("POOLFORM_PREFECT_VENV") or REPO / ".venv-prefect")
    try:
        prefect_server.prefect_executable(venv)
    except prefect_server.PrefectServerError as exc:
        pytest.fail(f"{exc}; or point POOLFORM_PREFECT_VENV at a venv with prefect==3.9.1", pytrace=False)
    return venv


@pytest.fixture(scope="session")
def real_api_url(prefect_venv: Path) -> Iterator[str]:
    """The API URL (ending in /api) of a real Prefect 3.9.1 server."""
    given = os.environ.get("POOLFORM_TEST_API_URL")
    if given:
        yield given.rstrip("/")
        return
    try:
        with prefect_server.running_prefect_server(prefect_venv) as url:
            yield url
    except prefect_server.PrefectServerError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def our_server(tmp_path_factory: pytest.TempPathFactory):
    """Our reference server over a real socket (127.0.0.1, free port) and a fresh SQLite file."""
    from reconciler.server.runner import serve_in_thread

    handle = serve_in_thread(str(tmp_path_factory.mktemp("ours") / "server.db"))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def our_api(our_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=our_server.api_url + "/", timeout=30) as client:
        yield client


class _RetryBusy(httpx.BaseTransport):
    """Sends a request again when Prefect answers 503: on SQLite, a write that meets "database is
    locked" is rolled back and answered 503, and Prefect's own client retries it. A test compares
    the answer to the request, not to a lock taken by the server's background services."""

    ATTEMPTS = 8

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport(retries=3)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        for attempt in range(self.ATTEMPTS):
            response = self._inner.handle_request(request)
            if response.status_code != 503 or attempt == self.ATTEMPTS - 1:
                return response
            response.read()
            response.close()
            time.sleep(0.1 * (attempt + 1))
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._inner.close()


@pytest.fixture(scope="session")
def real_api(real_api_url: str) -> Iterator[httpx.Client]:
    transport = _RetryBusy()
    with httpx.Client(base_url=real_api_url + "/", timeout=30, transport=transport) as client:
        yield client


@pytest.fixture(scope="session")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prefect-home")


CliRunner = Callable[..., subprocess.CompletedProcess]


def make_cli(venv: Path, home: Path, api_url: str) -> CliRunner:
    exe = prefect_server.prefect_executable(venv)
    env = prefect_server.clean_prefect_env(home, PREFECT_API_URL=api_url, COLUMNS="250", TERM="dumb")

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [str(exe), *args],
            env=env,
            cwd=home,
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
        )
        proc.output = proc.stdout + proc.stderr  # type: ignore[attr-defined]
        return proc

    return run


@pytest.fixture(scope="module")
def prefect_cli(prefect_venv: Path, prefect_home: Path, our_server) -> CliRunner:
    """Run the real `prefect` CLI against our server: `prefect_cli("work-pool", "ls")`."""
    return make_cli(prefect_venv, prefect_home, our_server.api_url)


@pytest.fixture(scope="session")
def prefect_cli_for(prefect_venv: Path, prefect_home: Path) -> Callable[[str], CliRunner]:
    """`prefect_cli_for(api_url)`: a runner of the real `prefect` CLI against any server."""
    return lambda api_url: make_cli(prefect_venv, prefect_home, api_url)


@pytest.fixture(params=["ours", "prefect"])
def either_api(request: pytest.FixtureRequest) -> httpx.Client:
    """A client of our server, then of the real Prefect server (``real_api``: it sends a request
    again on 503, as Prefect's client does): tests that must hold on both. The server's API URL is
    ``str(client.base_url).rstrip("/")``."""
    return request.getfixturevalue("our_api" if request.param == "ours" else "real_api")
