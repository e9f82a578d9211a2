"""The container image (Dockerfile, .dockerignore) and compose.yaml.

With a working container engine (docker or podman answering ``info``) the image is built and run
until its own health check reports healthy. Without one, the image's command line is still
exercised: ENTRYPOINT + CMD as the Dockerfile spells them run in this venv (host, port and
database moved to 127.0.0.1, a free port and a temporary file), and the HEALTHCHECK command, as
spelled, must pass against it and fail once it has stopped. compose.yaml is checked for its
structure and its server command line goes through the real CLI's option parser.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
POOLFORM = str(Path(sys.executable).with_name("poolform"))
START_ATTEMPTS = 600  # health probes, 0.1 s apart, before the server counts as not started
PORT_ATTEMPTS = 5


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, backslash continuations joined."""
    logical, current = [], ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line.strip())
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    return [(parts[0].upper(), parts[1].strip() if len(parts) > 1 else "")
            for parts in (line.strip().split(None, 1) for line in logical)]


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), arguments
    return value


def final_stage(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    start = max(i for i, (name, _) in enumerate(steps) if name == "FROM")
    return steps[start:]


def healthcheck_command(steps: list[tuple[str, str]]) -> list[str]:
    (arguments,) = [args for name, args in final_stage(steps) if name == "HEALTHCHECK"]
    options, cmd, command = arguments.partition("CMD ")
    assert cmd, "HEALTHCHECK needs a CMD"
    assert all(re.fullmatch(r"--[a-z-]+=\w+", option) for option in options.split()), options
    return exec_form(command)


@pytest.fixture(scope="module")
def steps() -> list[tuple[str, str]]:
    return instructions((ROOT / "Dockerfile").read_text(encoding="utf-8"))


def test_dockerfile_shape(steps: list[tuple[str, str]]) -> None:
    bases = [args.split()[0] for name, args in steps if name == "FROM"]
    assert bases and all(re.fullmatch(r"python:3\.1[1-9]-slim", base) for base in bases), bases
    final = final_stage(steps)
    names = [name for name, _ in final]
    users = [args for name, args in final if name == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0"), "the server must not run as root"
    assert names.index("USER") < names.index("ENTRYPOINT")
    installs = [args for name, args in final if name == "RUN" and "pip install" in args]
    assert installs and "[server" in installs[0], "the image installs the server extra"
    assert exec_form(dict(final)["ENTRYPOINT"]) == ["poolform"]
    health = " ".join(healthcheck_command(steps))
    assert "/api/health" in health and not re.search(r"\b(curl|wget)\b", health)
    copied = [args.split()[:-1] for name, args in steps if name == "COPY" and not args.startswith("--from")]
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert "*" in lines, ".dockerignore starts from nothing (no .venv, .git or databases in the context)"
    kept = {line[1:].strip("/") for line in lines if line.startswith("!")}
    for source in (s for sources in copied for s in sources):
        assert (ROOT / source).exists(), source
        assert source.removeprefix("./").strip("/") in kept, f".dockerignore leaves out {source}"


def engine() -> str | None:
    for name in ("docker", "podman"):
        if shutil.which(name):
            try:
                if subprocess.run([name, "info"], capture_output=True, timeout=30).returncode == 0:
                    return name
            except subprocess.TimeoutExpired:
                pass
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def local_command_line(steps: list[tuple[str, str]], port: int, db: Path) -> tuple[list[str], list[str]]:
    """The image's ENTRYPOINT + CMD and HEALTHCHECK, moved to this venv, 127.0.0.1, `port` and `db`."""
    final = dict(final_stage(steps))
    argv = exec_form(final["ENTRYPOINT"]) + exec_form(final["CMD"])
    assert argv[0] == "poolform"
    (exposed,) = [args for name, args in final_stage(steps) if name == "EXPOSE"]
    moved = {"--host": "127.0.0.1", "--port": str(port), "--db": str(db)}
    assert argv[argv.index("--port") + 1] == exposed
    local = [POOLFORM, *(moved.get(prev, arg) for prev, arg in zip(["", *argv[1:]], argv[1:]))]
    health = healthcheck_command(steps)
    assert health[0] == "python" and f"127.0.0.1:{exposed}/" in " ".join(health)
    return local, [sys.executable, *(part.replace(f":{exposed}/", f":{port}/") for part in health[1:])]


def _until_listening(server: subprocess.Popen) -> str:
    """What the server printed up to its PREFECT_API_URL line (it listens then), or until it exited."""
    assert server.stdout is not None
    said = []
    for line in server.stdout:
        said.append(line)
        if line.startswith("PREFECT_API_URL="):
            break
    return "".join(said)


def test_the_image_command_line_serves_and_its_health_check_passes(steps: list[tuple[str, str]],
                                                                    tmp_path: Path) -> None:
    found = engine()
    if found:
        run_in_engine(found)
        return
    for _ in range(PORT_ATTEMPTS):
        # A port found free can be taken before the server binds it (by a server another test
        # starts, whose health check would pass too): the server says it listens, or that the port
        # is in use, and then another port is tried.
        port = free_port()
        argv, health = local_command_line(steps, port, tmp_path / "data" / "server.db")
        server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        said = _until_listening(server)
        if "PREFECT_API_URL=" in said or "already in use" not in said:
            break
        server.wait(60)
    try:
        for _ in range(START_ATTEMPTS):
            if server.poll() is not None or subprocess.run(health, capture_output=True, timeout=30).returncode == 0:
                break
            time.sleep(0.1)
        assert server.poll() is None, said + server.communicate()[0]
        probe = subprocess.run(health, capture_output=True, text=True, timeout=30)
        assert probe.returncode == 0, probe.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        output = said + server.communicate(timeout=60)[0]
    assert server.returncode == 0, output
    assert f"PREFECT_API_URL=http://127.0.0.1:{port}/api" in output
    down = subprocess.run(health, capture_output=True, text=True, timeout=30)
    assert down.returncode != 0, "the health check passed with no server behind it"


def run_in_engine(name: str) -> None:
    tag = f"poolform-test:{uuid.uuid4().hex[:8]}"
    subprocess.run([name, "build", "-t", tag, str(ROOT)], check=True, capture_output=True, timeout=1800)
    container = subprocess.run([name, "run", "-d", "-p", "127.0.0.1::4200", tag], check=True, capture_output=True,
                               text=True, timeout=120).stdout.strip()
    try:
        status = ""
        for _ in range(START_ATTEMPTS):
            status = subprocess.run([name, "inspect", "--format", "{{.State.Health.Status}}", container],
                                    capture_output=True, text=True, timeout=30).stdout.strip()
            if status in ("healthy", "unhealthy"):
                break
            time.sleep(0.5)
        assert status == "healthy", subprocess.run([name, "logs", container], capture_output=True, text=True).stdout
        user = subprocess.run([name, "exec", container, "id", "-u"], capture_output=True, text=True, timeout=30)
        assert user.stdout.strip() not in ("", "0")
    finally:
        subprocess.run([name, "rm", "-f", container], capture_output=True, timeout=120)
        subprocess.run([name, "rmi", "-f", tag], capture_output=True, timeout=120)


def interpolate(value: str) -> str:
    """compose's ${VAR:-default} with every variable unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def test_compose_runs_two_server_replicas_on_postgres(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "server"}
    postgres, server = services["postgres"], services["server"]
    assert postgres["image"].startswith("postgres:")
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert server["build"] == "." and (ROOT / "Dockerfile").exists()
    assert server["deploy"]["replicas"] == 2
    assert server["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    health = server["healthcheck"]["test"]
    assert health[0] == "CMD" and "/api/health" in " ".join(health) and "curl" not in " ".join(health)
    (published,) = server["ports"]
    first, last = map(int, re.fullmatch(r"127\.0\.0\.1:(\d+)-(\d+):4200", published).groups())
    assert last - first + 1 == server["deploy"]["replicas"], "one host port per replica"
    assert "pgdata" in compose["volumes"]


def test_compose_server_command_is_a_valid_poolform_command_on_the_postgres_service(compose: dict) -> None:
    from reconciler.cli.server import start

    server, postgres = compose["services"]["server"], compose["services"]["postgres"]
    argv = [interpolate(part) for part in server["command"]]
    assert argv[:2] == ["server", "start"]
    params = start.make_context("start", argv[2:]).params
    env = {key: interpolate(str(value)) for key, value in postgres["environment"].items()}
    assert params["db"] == (f"postgresql://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@postgres:5432/"
                            f"{env['POSTGRES_DB']}")
    assert params["port"] == 4200 and params["host"] == "0.0.0.0"
    assert shlex.join(argv)  # printable as one shell line


@pytest.mark.skipif(not shutil.which("docker") or engine() is None, reason="no docker engine to run compose config")
def test_docker_compose_accepts_the_file() -> None:
    result = subprocess.run(["docker", "compose", "-f", str(ROOT / "compose.yaml"), "config", "--quiet"],
                            capture_output=True, text=True, timeout=120)
    if "unknown command" in result.stderr or "is not a docker command" in result.stderr:
        pytest.skip("docker has no compose plugin")
    assert result.returncode == 0, result.stderr
