"""Fixtures shared by several test directories: ``mermaid_parse`` (the mermaid package's own parser
under node, for the PR comment's diagrams in tests/views and tests/e2e). Also points
``XDG_CACHE_HOME`` at a temporary directory for the whole run, so the provider processes the tests
start (their template checks kept between starts) never write to the user's own cache, and makes
the hypothesis profile every property test starts from: no deadline (speed is never a timed
assertion; on a loaded machine one slow example would fail the test as "unreliable timings"), and
a failure prints the blob that replays it."""

import atexit
import os
import pathlib
import shutil
import socket
import sys
import tempfile
from typing import Iterator

import pytest
from hypothesis import settings

JS = pathlib.Path(__file__).resolve().parent / "js"

_CACHE = tempfile.mkdtemp(prefix="poolform-test-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, True)

settings.register_profile("poolform", deadline=None, print_blob=True)
settings.load_profile("poolform")


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections for the whole test: held bound, never listening.
    (A port found free and let go again can be taken meanwhile by a server another test starts.)"""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


def _node() -> list[str]:
    """The node command; on a machine without one, the ``nodejs-bin`` wheel installed into this venv."""
    import shutil
    import subprocess

    found = shutil.which("node") or shutil.which("nodejs")
    if found:
        return [found]
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "nodejs-bin[cmd]"], capture_output=True,
                               text=True, timeout=600)
    assert installed.returncode == 0, "node is missing and nodejs-bin did not install:\n" + installed.stderr
    return [sys.executable, "-m", "nodejs"]


def _npm(node: list[str]) -> list[str]:
    import shutil

    if node[0] != sys.executable:
        npm = shutil.which("npm")
        assert npm, "node is installed without npm: install npm (apt-get install npm)"
        return [npm]
    return [sys.executable, "-m", "nodejs.npm"]


@pytest.fixture(scope="session")
def mermaid_parse():
    """``mermaid_parse(sources) -> [{"ok": bool, ...}]``: the mermaid package's own parser under node.

    Installs tests/js's locked dependencies (``npm ci``) once per lock file; the install is shared by
    the test workers (a file lock) and reused by later runs. Fails, never skips, when node cannot run.
    """
    import fcntl
    import hashlib
    import json as _json
    import subprocess

    node = _node()
    lock_hash = hashlib.sha256((JS / "package-lock.json").read_bytes()).hexdigest()
    stamp = JS / "node_modules" / ".poolform-lock-sha256"
    with open(JS / ".install.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not stamp.exists() or stamp.read_text() != lock_hash:
            done = subprocess.run([*_npm(node), "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=JS,
                                  capture_output=True, text=True, timeout=900)
            assert done.returncode == 0, "npm ci in tests/js failed:\n" + done.stderr[-3000:]
            stamp.write_text(lock_hash)

    def parse(sources: list[str]) -> list[dict]:
        result = subprocess.run([*node, str(JS / "parse_mermaid.mjs")], input=_json.dumps(sources), capture_output=True,
                                text=True, timeout=300, cwd=JS)
        assert result.returncode == 0, result.stderr[-3000:]
        return _json.loads(result.stdout)

    return parse
