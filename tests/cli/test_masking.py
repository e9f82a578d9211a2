"""The masker: no secret value from the environment passes any rendering poolform prints (plans in
every view, diagnostics, YAML export), whatever the value holds and however the text is written."""

from __future__ import annotations

import io
import json
import random

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from reconciler.config.export import export_config
from reconciler.diagnostics import Diagnostics, Pos, SourceRange
from reconciler.model.state import DesiredPool, DesiredQueue, DesiredState, ObservedPool, ObservedState
from reconciler.plan.planner import make_plan
from reconciler.secrets import MIN_SECRET_LENGTH, Masker, MaskedStream, is_secret_name, mask_token, secret_values
from reconciler.views.diagnostics import render_diagnostics
from reconciler.views.human import render_human
from reconciler.views.json import render_json
from reconciler.views.markdown import render_markdown

SECRET_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=MIN_SECRET_LENGTH, max_size=48,
).filter(lambda s: len(s.strip()) >= MIN_SECRET_LENGTH)


def _leaks(secret: str, output: str) -> list[str]:
    """The ways ``secret`` can still be read in ``output``: as written, JSON-escaped, or a line of it."""
    found = []
    if secret in output:
        found.append("raw")
    if json.dumps(secret)[1:-1] in output or json.dumps(secret, ensure_ascii=False)[1:-1] in output:
        found.append("json")
    found += [f"line {line!r}" for line in secret.splitlines() if len(line.strip()) >= MIN_SECRET_LENGTH + 2
              and line.strip() in output]
    return found


def _template(secret: str) -> dict:
    return {"job_configuration": {"command": "{{ command }}", "env": {"TOKEN": secret}},
            "variables": {"type": "object", "properties": {
                "command": {"type": "string", "default": f"run --token={secret} now"}}}}


def _renderings(secret: str) -> dict[str, str]:
    """Everything poolform can print about a config and a server holding ``secret``."""
    pool = DesiredPool(name="p", type="process", description=f"about {secret}", base_job_template=_template(secret),
                       queues={"q": DesiredQueue(pool="p", name="q", description=secret)})
    observed = ObservedState(pools={
        "p": ObservedPool.from_api({"name": "p", "type": "process", "description": "old", "is_paused": False,
                                    "concurrency_limit": None, "base_job_template": _template(secret + "-old")},
                                   [{"name": "default", "priority": 1, "description": "x", "is_paused": False,
                                     "concurrency_limit": None}])}, api_url="http://x/api")
    plan = make_plan(DesiredState(pools={"p": pool}), observed, api_url="http://x/api").to_json()
    diags = Diagnostics()
    diags.error(f"concurrency_limit must be an integer, not the string {secret!r}", f"Got {secret}.",
                range=SourceRange("pools.yaml", Pos(3, 5)), address="work_pool.p")
    return {
        "human": render_human(plan),
        "json": render_json(plan),
        "markdown": render_markdown(plan),
        "markdown_small": render_markdown(plan, max_chars=900),
        "diagnostics": render_diagnostics(diags.to_json()),
        "diagnostics_json": json.dumps(diags.to_json()),
        "import": export_config(observed, pools=["p"]),
    }


def _through_stream(text: str, masker: Masker, rng: random.Random) -> str:
    """``text`` written to a MaskedStream in random pieces, with random flushes."""
    sink = io.StringIO()
    stream = MaskedStream(sink, masker)
    i = 0
    while i < len(text):
        n = rng.randint(1, 40)
        stream.write(text[i:i + n])
        if rng.random() < 0.3:
            stream.flush()
        i += n
    stream.release()
    return sink.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secret=SECRET_TEXT, name=st.sampled_from(["PREFECT_API_KEY", "PREFECT_API_AUTH_STRING", "GITHUB_TOKEN",
                                                  "db_password", "AWS_SECRET", "SIGNING_KEY"]),
       seed=st.integers(0, 2**32))
def test_no_rendering_lets_a_secret_through(secret, name, seed):
    assume(secret not in mask_token(name) and secret.strip() not in mask_token(name))
    masker = Masker.from_environ({name: secret})
    rng = random.Random(seed)
    for kind, text in _renderings(secret).items():
        whole = masker.mask(text)
        assert not _leaks(secret, whole), (kind, _leaks(secret, whole))
        streamed = _through_stream(text, masker, rng)
        assert not _leaks(secret, streamed), (kind, "stream", _leaks(secret, streamed))


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300), seed=st.integers(0, 2**32))
def test_text_without_secrets_passes_the_stream_unchanged(text, seed):
    masker = Masker.from_environ({"PREFECT_API_KEY": "pnu_0123456789abcdefghij"})
    assume("pnu_0123456789abcdefghij" not in text)
    assert _through_stream(text, masker, random.Random(seed)) == masker.mask(text)


def test_a_multi_line_secret_is_masked_line_by_line_too():
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END KEY-----\n"
    masker = Masker.from_environ({"SSH_PRIVATE_KEY": key})
    out = masker.mask("line one\n  MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n" + json.dumps({"k": key}))
    assert "MIIEvQ" not in out and "BKcwggSjAgEAAoIBAQC7" not in out
    assert out.count("[masked:SSH_PRIVATE_KEY]") == 2


@pytest.mark.parametrize("name,secret", [
    ("PREFECT_API_KEY", "pnu_abcdef"), ("PREFECT_API_AUTH_STRING", "admin:hunter22"),
    ("PREFECT_BASIC_AUTH_KEY", "admin:hunter22"), ("GITHUB_TOKEN", "ghp_x1y2z3"), ("DB_PASSWORD", "correct horse"),
    ("app_secret", "s3cr3t-value"), ("SIGNING_KEY", "k" * 40), ("TOKEN", "abcdef"),
])
def test_which_variables_are_secrets(name, secret):
    assert is_secret_name(name)
    assert secret_values({name: secret}) == {secret: name}


@pytest.mark.parametrize("name", ["PREFECT_API_URL", "HOME", "PATH", "KEYBOARD", "TOKENIZER", "MONKEY", "USER"])
def test_other_variables_are_not(name):
    assert not is_secret_name(name)


@pytest.mark.parametrize("value", ["1", "true", "prod", "abcde", "     x    "])
def test_short_values_are_not_masked(value):
    """Masking every ``true`` would garble output and, by marking where it occurs, reveal the value."""
    masker = Masker.from_environ({"FEATURE_KEY": value})
    assert not masker
    assert masker.mask(f"value is {value}") == f"value is {value}"


def test_encoded_forms_are_masked():
    import base64
    from urllib.parse import quote

    secret = "admin:p@ss/w0rd+x"
    masker = Masker.from_environ({"PREFECT_API_AUTH_STRING": secret})
    for form in (secret, base64.b64encode(secret.encode()).decode(), quote(secret, safe=""), repr(secret)[1:-1],
                 secret.replace("'", "''")):
        out = masker.mask(f"<{form}>")
        assert out.startswith("<[masked:PREFECT_API_AUTH_STRING]") and form.rstrip("=") not in out, (form, out)


def test_a_long_text_is_masked_the_same_way():
    masker = Masker.from_environ({"A_TOKEN": "tok-1234567", "B_TOKEN": "tok-1234567890"})
    text = ("x" * 5000 + " tok-1234567890 and tok-1234567 ") * 3
    out = masker.mask(text)
    assert "tok-123" not in out
    assert out.count("[masked:B_TOKEN]") == 3 and out.count("[masked:A_TOKEN]") == 3
