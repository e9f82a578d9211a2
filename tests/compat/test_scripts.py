"""scripts/prefect_server.py and scripts/compat.py with a stand-in `prefect` executable.

Not marked compat: these run in `make test` and need no real Prefect. The stand-in is a small
Python script installed as `<venv>/bin/prefect` that behaves like `prefect server start` in the
way each case needs (healthy, crashing, never healthy), so start, failure and stop paths are real.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

HEALTHY = """\
import json, os, subprocess, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
args = sys.argv[1:]
port = int(args[args.index("--port") + 1])
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
with open(os.environ["POOLFORM_FAKE_FACTS"], "w") as f:
    json.dump({"args": args, "child": child.pid, "leaked": sorted(k for k in os.environ
               if k.startswith("PREFECT_") and k not in ALLOWED), "env": {k: v for k, v in os.environ.items()
               if k.startswith("PREFECT_")}}, f)
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"true" if self.path == "/api/health" else b"{}"
        self.send_response(200); self.send_header("content-length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
HTTPServer(("127.0.0.1", port), H).serve_forever()
"""
CRASHING = "import sys\nprint('boom: the database is on fire')\nsys.exit(3)\n"
SILENT = "import time\nprint('starting slowly')\ntime.sleep(600)\n"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"poolform_{name}", REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(REPO / "scripts"))
    return module


prefect_server = _load("prefect_server")


def fake_venv(root: Path, source: str) -> Path:
    allowed = sorted(set(prefect_server._SERVER_SETTINGS) | {
        "PREFECT_HOME", "PREFECT_PROFILES_PATH", "PREFECT_SERVER_DATABASE_CONNECTION_URL"})
    venv = root / "venv"
    (venv / "bin").mkdir(parents=True)
    exe = venv / "bin" / "prefect"
    exe.write_text(f"#!{sys.executable}\nALLOWED = {allowed!r}\n{source}")
    exe.chmod(0o755)
    return venv


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"


def test_running_server_is_healthy_isolated_and_stopped_with_its_children(tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("PREFECT_API_URL", "http://leak.invalid/api")
    monkeypatch.setenv("PREFECT_PROFILE", "leaky")
    monkeypatch.setenv("POOLFORM_FAKE_FACTS", str(tmp_path / "facts.json"))
    venv = fake_venv(tmp_path, HEALTHY)
    with prefect_server.running_prefect_server(venv, timeout=30) as api_url:
        assert api_url.startswith("http://127.0.0.1:") and api_url.endswith("/api")
        assert urllib.request.urlopen(f"{api_url}/health").read() == b"true"
        facts = json.loads((tmp_path / "facts.json").read_text())
        home = Path(facts["env"]["PREFECT_HOME"])
        assert home.is_dir()
    assert facts["args"][-1] == api_url.rsplit(":", 1)[1].split("/")[0]
    assert facts["args"][:3] == ["server", "start", "--host"] and facts["args"][3] == "127.0.0.1"
    assert facts["leaked"] == []
    assert facts["env"]["PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED"] == "true"
    assert facts["env"]["PREFECT_SERVER_SERVICES_FOREMAN_ENABLED"] == "true"
    assert facts["env"]["PREFECT_SERVER_DATABASE_CONNECTION_URL"].startswith(f"sqlite+aiosqlite:///{home}")
    deadline = time.monotonic() + 10
    while _alive(facts["child"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(facts["child"]), "the server's child process outlived the server"
    assert not home.exists(), "the temporary PREFECT_HOME was not removed"


def test_a_port_taken_before_the_server_binds_it_is_given_up_for_another(tmp_path, monkeypatch):
    monkeypatch.setenv("POOLFORM_FAKE_FACTS", str(tmp_path / "facts.json"))
    venv = fake_venv(tmp_path, HEALTHY)
    chosen = prefect_server.free_port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        first = [taken.getsockname()[1]]
        monkeypatch.setattr(prefect_server, "free_port", lambda: first.pop() if first else chosen())
        with prefect_server.running_prefect_server(venv, timeout=30) as api_url:
            assert not first and f":{taken.getsockname()[1]}/" not in api_url
            assert urllib.request.urlopen(f"{api_url}/health").read() == b"true"
    # the stand-in that could not bind the taken port had started a child: stopped with its group
    marker = f"POOLFORM_FAKE_FACTS={tmp_path / 'facts.json'}".encode()
    deadline = time.monotonic() + 10
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_with(marker) == [], "a child of a stand-in server outlived it"


def _processes_with(marker: bytes) -> list[int]:
    """The live processes whose environment holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes() and _alive(int(entry.name)):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.parametrize(
    ("source", "timeout", "expected"),
    [
        pytest.param(CRASHING, 30, ["exited with code 3", "boom: the database is on fire"], id="crash"),
        pytest.param(SILENT, 1, ["not healthy", "after 1 s", "starting slowly"], id="never-healthy"),
    ],
)
def test_start_failure_names_the_cause_and_the_log_tail(tmp_path, source, timeout, expected):
    venv = fake_venv(tmp_path, source)
    with pytest.raises(prefect_server.PrefectServerError) as info:
        with prefect_server.running_prefect_server(venv, timeout=timeout):
            pytest.fail("the server must not be reported as running")
    for text in expected:
        assert text in str(info.value)


def test_missing_venv_says_how_to_create_it(tmp_path):
    with pytest.raises(prefect_server.PrefectServerError) as info:
        prefect_server.prefect_executable(tmp_path / "nowhere")
    assert "pip install prefect==3.9.1" in str(info.value)


def test_compat_script_refuses_a_missing_venv_with_a_clear_message(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "compat.py"), "--venv", str(tmp_path / "nope")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "no Prefect installation" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr


def test_compat_script_refuses_another_prefect_version(tmp_path):
    venv = fake_venv(tmp_path, HEALTHY)
    python = venv / "bin" / "python"
    python.write_text("#!/bin/sh\necho 2.19.0\n")
    python.chmod(0o755)
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "compat.py"), "--venv", str(venv)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "has prefect 2.19.0" in proc.stdout and "needs 3.9.1" in proc.stdout


def test_prefect_server_script_prints_the_url_and_stops_on_sigterm(tmp_path):
    import signal

    venv = fake_venv(tmp_path, HEALTHY)
    env = dict(os.environ, POOLFORM_FAKE_FACTS=str(tmp_path / "facts.json"))
    proc = subprocess.Popen([sys.executable, str(REPO / "scripts" / "prefect_server.py"), "--venv", str(venv)],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("PREFECT_API_URL=http://127.0.0.1:")
        assert urllib.request.urlopen(line.split("=", 1)[1] + "/health").read() == b"true"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


COMPAT_TEST = """\
import os, urllib.request
import pytest

@pytest.mark.compat
def test_sees_the_server():
    url = os.environ["POOLFORM_TEST_API_URL"]
    assert url.endswith("/api") and os.environ["POOLFORM_PREFECT_VENV"]
    assert urllib.request.urlopen(url + "/health").read() == b"true"

def test_not_compat():
    raise AssertionError("must be deselected")
"""


def _fake_prefect_3_9_1(tmp_path: Path) -> Path:
    venv = fake_venv(tmp_path, HEALTHY)
    python = venv / "bin" / "python"
    python.write_text("#!/bin/sh\necho 3.9.1\n")
    python.chmod(0o755)
    return venv


@pytest.mark.parametrize(
    ("files", "code", "last_line"),
    [
        pytest.param({"test_x.py": COMPAT_TEST}, 0, "compat: passed in", id="passes"),
        pytest.param({"test_x.py": COMPAT_TEST.replace('b"true"', 'b"false"')}, 1, "compat: FAILED (pytest exit 1)",
                     id="fails"),
        pytest.param({}, 1, "compat: FAILED: no test carries the compat marker", id="nothing-collected"),
    ],
)
def test_compat_script_runs_the_marked_tests_against_the_server_it_started(tmp_path, files, code, last_line):
    venv = _fake_prefect_3_9_1(tmp_path)
    tests = tmp_path / "suite"
    tests.mkdir()
    for name, text in files.items():
        (tests / name).write_text(text)
    env = dict(os.environ, POOLFORM_FAKE_FACTS=str(tmp_path / "facts.json"))
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "compat.py"), "--venv", str(venv), "--tests", str(tests),
                           "--", "-p", "no:cacheprovider"], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == code, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("compat:")]
    assert lines[0].startswith("compat: starting a real Prefect 3.9.1 server")
    assert "compat: stopping the Prefect server" in lines
    assert lines[-1].startswith(last_line)
