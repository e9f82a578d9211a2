"""`make compat`: every test marked `compat`, against a real Prefect 3.9.1 server and CLI.

Owns: checking the Prefect venv, starting one real Prefect server for the whole run, running
`pytest -m compat tests` with POOLFORM_TEST_API_URL (that server's API URL) and
POOLFORM_PREFECT_VENV set, stopping the server, and exiting with pytest's code (an empty
selection counts as a failure). Must not: install anything (the Makefile builds the venv).

Usage: python scripts/compat.py [--venv DIR] [--tests PATH] [-- extra pytest args]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from prefect_server import PrefectServerError, prefect_executable, running_prefect_server  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
EXPECTED_VERSION = "3.9.1"
PYTEST_NO_TESTS = 5


def say(message: str) -> None:
    print(f"compat: {message}", flush=True)


def installed_version(venv: Path) -> str:
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import prefect; print(prefect.__version__)"],
        capture_output=True, text=True, timeout=120,
    )
    if proc.returncode != 0:
        raise PrefectServerError(f"cannot import prefect from {venv}: {proc.stderr.strip().splitlines()[-1:]}")
    return proc.stdout.strip()


def _run_pytest(cmd: list[str], env: dict[str, str]) -> int:
    """pytest's exit code; on SIGTERM/SIGINT it stops pytest before the server is stopped."""
    proc = subprocess.Popen(cmd, cwd=REPO, env=env)
    try:
        return proc.wait()
    except BaseException:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        raise


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1:]
        argv = argv[: argv.index("--")]
    parser = argparse.ArgumentParser(description="Run the compat suite against a real Prefect 3.9.1.")
    parser.add_argument("--venv", default=os.environ.get("POOLFORM_PREFECT_VENV") or str(REPO / ".venv-prefect"),
                        help="venv holding prefect==3.9.1 (default: $POOLFORM_PREFECT_VENV or .venv-prefect)")
    parser.add_argument("--tests", default="tests", help="where pytest looks for compat tests (default: tests)")
    args = parser.parse_args(argv)
    venv = Path(args.venv).resolve()
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)

    try:
        prefect_executable(venv)
        version = installed_version(venv)
    except (PrefectServerError, subprocess.TimeoutExpired) as exc:
        say(f"error: {exc}")
        return 2
    if version != EXPECTED_VERSION:
        say(f"error: {venv} has prefect {version}, the compat suite needs {EXPECTED_VERSION}: "
            f"`{venv}/bin/pip install prefect=={EXPECTED_VERSION}`")
        return 2

    say(f"starting a real Prefect {version} server from {venv} ...")
    try:
        with running_prefect_server(venv) as api_url:
            say(f"Prefect server ready at {api_url} ({time.monotonic() - started:.1f} s)")
            env = dict(os.environ, POOLFORM_TEST_API_URL=api_url, POOLFORM_PREFECT_VENV=str(venv))
            cmd = [sys.executable, "-m", "pytest", "-q", "-m", "compat", args.tests, *extra]
            say("running " + " ".join(cmd[2:]))
            try:
                rc = _run_pytest(cmd, env)
            except KeyboardInterrupt:
                rc = 130
            say("stopping the Prefect server")
    except PrefectServerError as exc:
        say(f"error: {exc}")
        return 2

    elapsed = time.monotonic() - started
    if rc == PYTEST_NO_TESTS:
        say(f"FAILED: no test carries the compat marker, nothing was checked ({elapsed:.0f} s)")
        return 1
    say(f"{'passed' if rc == 0 else f'FAILED (pytest exit {rc})'} in {elapsed:.0f} s")
    return rc


if __name__ == "__main__":
    sys.exit(main())
