"""The provider's template checks kept between its starts (``reconciler.provider.checkcache``):
what is read back is exactly what the check answers, what cannot be trusted is checked again,
and a start that finds its templates kept does not import jsonschema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reconciler.provider import checkcache, resources

ROOT = Path(__file__).resolve().parents[2]
_GOOD = {"job_configuration": {"command": "{{ command }}"},
         "variables": {"type": "object", "properties": {"command": {"type": "string", "default": "python -m flows"}}}}
TEMPLATES = [
    json.dumps(_GOOD),
    "{not json",
    json.dumps({"job_configuration": {"command": "{{ command }}"},
                "variables": {"type": "object", "properties": {"command": {"type": 5}}}}),
    json.dumps({"job_configuration": {"command": "{{ command }}"},
                "variables": {"type": "object", "properties": {"command": {"type": "integer", "default": "x"}}}}),
    json.dumps({"job_configuration": {"command": "{{ command }}"},
                "variables": {"type": "object", "properties": {"command": {"type": "string"}, "unused": {}}}}),
]


@pytest.fixture
def kept(tmp_path, monkeypatch):
    """The cache's directory, under a fresh XDG_CACHE_HOME; the process's own memo emptied."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(checkcache.ENV, raising=False)
    resources._CHECKED.clear()
    yield tmp_path / "poolform" / "template-checks"
    resources._CHECKED.clear()


def _check(text: str) -> tuple:
    resources._CHECKED.clear()  # as a new start of the provider
    return resources._template_diagnostics(text)


class _Counted:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import reconciler.templates

        self.calls = 0
        real = reconciler.templates.check_template

        def counted(template: object) -> object:
            self.calls += 1
            return real(template)

        monkeypatch.setattr(reconciler.templates, "check_template", counted)


@pytest.mark.parametrize("text", TEMPLATES)
def test_a_kept_check_is_the_check(kept, monkeypatch, text):
    monkeypatch.setenv(checkcache.ENV, "off")
    expected = _check(text)
    assert not kept.exists()
    monkeypatch.delenv(checkcache.ENV)
    counted = _Counted(monkeypatch)
    assert _check(text) == expected
    assert [p.stat().st_mode & 0o777 for p in kept.glob("*.json")] == [0o600]
    assert kept.stat().st_mode & 0o777 == 0o700
    ran = counted.calls
    assert _check(text) == expected and counted.calls == ran  # read back, not checked again


@pytest.mark.parametrize("tamper", ["garbage", "another key", "a severity of its own", "a path of floats",
                                    "a directory open to others", "another version"])
def test_what_cannot_be_trusted_is_checked_again(kept, monkeypatch, tamper):
    text = TEMPLATES[3]
    expected = _check(text)
    (entry,) = kept.glob("*.json")
    document = json.loads(entry.read_text())
    if tamper == "garbage":
        entry.write_bytes(b"\xff{")
    elif tamper == "another key":
        entry.write_text(json.dumps({**document, "key": "0" * 64}))
    elif tamper == "a severity of its own":
        entry.write_text(json.dumps({**document, "diagnostics": [["fatal", "s", "d", []]]}))
    elif tamper == "a path of floats":
        entry.write_text(json.dumps({**document, "diagnostics": [["error", "s", "d", [1.5]]]}))
    elif tamper == "a directory open to others":
        entry.write_text(json.dumps({**document, "diagnostics": []}))
        kept.chmod(0o777)
    else:
        entry.write_text(json.dumps({**document, "diagnostics": []}))
        monkeypatch.setattr(checkcache, "_fingerprint", lambda: "another poolform")
    counted = _Counted(monkeypatch)
    assert _check(text) == expected
    assert counted.calls == 1


def test_a_start_with_its_templates_kept_does_not_import_jsonschema(tmp_path):
    """The point of the cache: the validation and plan starts of a plan after the first never
    load jsonschema for templates already checked, and answer the same."""
    code = textwrap.dedent(f"""
        import sys
        from reconciler.provider import resources
        print(resources._template_diagnostics({TEMPLATES[3]!r}))
        print("jsonschema" in sys.modules)
    """)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    env.pop(checkcache.ENV, None)
    first, second = (subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                                    timeout=60, cwd=ROOT) for _ in range(2))
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.splitlines()[1] == "True" and second.stdout.splitlines()[1] == "False"
    assert first.stdout.splitlines()[0] == second.stdout.splitlines()[0] != "()"
