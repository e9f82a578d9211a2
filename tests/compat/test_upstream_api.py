"""Prefect's own API tests for work pools, queues and workers, run against our server.

Prefect's ``tests/server/orchestration/api/test_workers.py`` and ``test_work_queues.py`` are
not in the prefect wheel nor in its sdist on PyPI, and may not be copied into this repository,
so they are read at run time from a PrefectHQ/prefect source given by ``POOLFORM_PREFECT_SOURCE``:
a checkout, or a git directory read at ``POOLFORM_PREFECT_REF`` (default: the ``3.9.1`` tag).
Without it this test is skipped, saying how to run it; the cases that failed against us before
are reproduced as our own tests in tests/server/test_prefect_exact.py.

The files run in the real Prefect venv (they import prefect) with our plugin
(tests/compat/upstream/poolform_upstream_plugin.py) instead of Prefect's conftest: their pure-HTTP
cases talk to a fresh poolform server each, over a socket; the cases that reach into Prefect's
process or database are skipped, each with its reason. Every other outcome must be a pass, or a
failure listed in KNOWN_FAILURES with why we differ — and a listed failure that passes fails too.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.compat

HERE = Path(__file__).resolve().parent
FILES = ("tests/server/orchestration/api/test_workers.py", "tests/server/orchestration/api/test_work_queues.py")
DEFAULT_REF = "3.9.1"
RUN_TIMEOUT_S = 1800

# "file::Class::test[param]" -> why our server answers otherwise, on purpose.
KNOWN_FAILURES: dict[str, str] = {}

INI = """[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
asyncio_default_test_loop_scope = function
python_files = test_*.py
filterwarnings =
    ignore::DeprecationWarning
"""


def _source_files(destination: Path) -> str:
    """Copy the two test files into ``destination``; returns where they came from."""
    source = os.environ.get("POOLFORM_PREFECT_SOURCE")
    if not source:
        pytest.skip("Prefect's API tests are not on PyPI: set POOLFORM_PREFECT_SOURCE to a PrefectHQ/prefect "
                    "checkout or git directory (and POOLFORM_PREFECT_REF, default 3.9.1) to run them against ours")
    root = Path(source)
    if all((root / f).is_file() for f in FILES):
        for f in FILES:
            (destination / Path(f).name).write_bytes((root / f).read_bytes())
        return str(root)
    ref = os.environ.get("POOLFORM_PREFECT_REF", DEFAULT_REF)
    for f in FILES:
        shown = subprocess.run(["git", "--git-dir", str(root), "show", f"{ref}:{f}"], capture_output=True, timeout=120)
        if shown.returncode != 0:
            pytest.fail(f"POOLFORM_PREFECT_SOURCE={source} is neither a checkout holding {f} nor a git directory "
                        f"with it at {ref!r} (POOLFORM_PREFECT_REF): {shown.stderr.decode(errors='replace').strip()}",
                        pytrace=False)
        (destination / Path(f).name).write_bytes(shown.stdout)
    return f"{source} at {ref}"


def _outcomes(report: Path) -> dict[str, tuple[str, str]]:
    """test id -> (passed | failed | skipped, message) from a JUnit XML report."""
    out: dict[str, tuple[str, str]] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        classname = case.get("classname", "")
        module, _, klass = classname.partition(".")
        test_id = "::".join(p for p in (f"{module}.py", klass, case.get("name", "")) if p)
        result, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            found = case.find(tag)
            if found is not None:
                result = "skipped" if tag == "skipped" else "failed"
                message = (found.get("message") or "").strip()
                break
        out[test_id] = (result, message)
    return out


def test_prefects_own_api_tests_against_ours(prefect_venv: Path, tmp_path: Path) -> None:
    cases = tmp_path / "upstream"
    cases.mkdir()
    origin = _source_files(cases)
    (cases / "pytest.ini").write_text(INI)
    python = prefect_venv / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import pytest, pytest_asyncio"], capture_output=True, timeout=120)
    if probe.returncode != 0:
        pytest.fail(f"{prefect_venv} lacks pytest and pytest-asyncio, which Prefect's tests need: run `make compat` "
                    "(it installs them there)", pytrace=False)

    spec = importlib.util.spec_from_file_location("poolform_upstream_factory", HERE / "upstream" / "factory.py")
    assert spec is not None and spec.loader is not None
    factory_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(factory_module)

    report = tmp_path / "report.xml"
    home = tmp_path / "prefect-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    with factory_module.ServerFactory(tmp_path) as factory:
        env.update(PYTHONPATH=str(HERE / "upstream"), POOLFORM_UPSTREAM_FACTORY=factory.url, PREFECT_HOME=str(home))
        proc = subprocess.run(
            [str(python), "-m", "pytest", "-q", "-p", "poolform_upstream_plugin", "-p", "no:cacheprovider",
             f"--junitxml={report}", "-o", "junit_family=xunit2", "-c", str(cases / "pytest.ini"),
             "--rootdir", str(cases), str(cases)],
            cwd=cases, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
        )
    assert report.is_file(), f"Prefect's tests did not run:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    outcomes = _outcomes(report)
    counts = Counter(result for result, _ in outcomes.values())
    reasons = Counter(message for result, message in outcomes.values() if result == "skipped")
    summary = [f"Prefect's API tests from {origin}: {counts['passed']} passed, {counts['failed']} failed, "
               f"{counts['skipped']} skipped of {len(outcomes)}"]
    summary += [f"  skipped {n}: {why}" for why, n in reasons.most_common()]
    failed = {t: m for t, (r, m) in outcomes.items() if r == "failed"}
    summary += [f"  FAILED {t}: {m[:300]}" for t, m in sorted(failed.items())]
    print("\n".join(summary), file=sys.stderr)
    (tmp_path / "summary.txt").write_text("\n".join(summary) + "\n")
    unexpected = sorted(set(failed) - set(KNOWN_FAILURES))
    fixed = sorted(t for t in KNOWN_FAILURES if outcomes.get(t, ("",))[0] == "passed")
    assert not unexpected and not fixed, "\n".join(summary + [f"unexpected failures: {unexpected}",
                                                             f"listed failures that pass now: {fixed}"])
