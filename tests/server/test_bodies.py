"""``bodies.parse_json`` against ``json.loads`` as the oracle: the same value for strict JSON, a decode
error pointing at the offending token for NaN/Infinity/overflow, lone surrogates and too-deep nesting;
and ``bodies.BodyLimit`` over a real socket (declared, chunked and under-declared bodies)."""

from __future__ import annotations

import json
import math
import re
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.server.bodies import MAX_DEPTH, parse_json
from reconciler.server.runner import serve_in_thread

_LONE = re.compile("[\ud800-\udfff]")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(codec=None, categories=("Cs", "Ll", "Nd", "So", "Po")), max_size=6),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(st.characters(codec=None), max_size=3), inner, max_size=3),
    max_leaves=12,
)


def _wrap(value: object, levels: int) -> object:
    for _ in range(levels):
        value = [value]
    return value


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _refusable(value: object) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, str):
        return bool(_LONE.search(value))
    if isinstance(value, dict):
        return any(_refusable(k) or _refusable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(map(_refusable, value))
    return False


@settings(max_examples=300, deadline=None)
@given(values, st.integers(min_value=0, max_value=MAX_DEPTH + 3), st.booleans())
def test_strict_json_is_json_loads_minus_what_cannot_round_trip(value, levels, ascii_only) -> None:
    text = json.dumps(_wrap(value, levels), ensure_ascii=ascii_only)
    raw = text.encode("utf-8", "surrogatepass")
    oracle = json.loads(text)
    refused = _refusable(oracle) or _depth(oracle) > MAX_DEPTH or (not ascii_only and bool(_LONE.search(text)))
    try:
        parsed = parse_json(raw)
    except json.JSONDecodeError as exc:
        assert refused, exc
        where = exc.doc[exc.pos:]
        assert where.startswith(('"', "[", "{", "NaN", "Infinity", "-Infinity")) or where[:1].isdigit() or where[:2].lstrip("-")[:1].isdigit() \
            or exc.msg.startswith("the body is not valid UTF-8"), (exc.msg, where[:20])
    else:
        assert not refused
        assert json.dumps(parsed) == json.dumps(oracle)


@pytest.mark.parametrize(
    ("raw", "message", "token"),
    [
        (b'{"a": [1, NaN]}', "NaN is not a JSON number", "NaN"),
        (b'{"a": "NaN", "b": -Infinity}', "-Infinity is not a JSON number", "-Infinity"),
        (b'{"a": 1.5e400}', "1.5e400 is too large for a number", "1.5e400"),
        (b'{"NaN \\"Infinity\\"": "\\ud800x"}', "lone UTF-16 surrogate", '"\\ud800x"'),
        (b'{"a": "\\\\ud800", "b": "\\udc00"}', "lone UTF-16 surrogate", '"\\udc00"'),
        (b'{"a": "[[[[", "b": ' + b"[" * 70 + b"]" * 70 + b"}", "nest deeper than 64 levels", "["),
    ],
    ids=["nan", "minus-infinity-after-string", "overflow", "high-surrogate", "low-surrogate-after-escaped-backslash", "depth"],
)
def test_decode_error_points_at_the_token(raw, message, token) -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        parse_json(raw)
    assert message in caught.value.msg
    assert caught.value.doc[caught.value.pos:].startswith(token)
    if token == "[":  # the first bracket one level too deep: 64 are open before it (the body's "{" and 63 "[")
        before = caught.value.doc[: caught.value.pos]
        assert before.count("{") + before.count("[") - len("[[[[") == MAX_DEPTH


@pytest.mark.parametrize("text", ['\ufeff{"a": 1}', '\ufeff\ufeff{}', '{"a": 1} x', "", "[1,", '{"a" 1}', "\ufeff"])
def test_syntax_errors_are_json_loads_errors(text) -> None:
    """What json.loads refuses, parse_json refuses with the same message and position (its decoder is
    built once, and a decoder alone does not refuse a byte order mark)."""
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as caught:
        parse_json(text)
    assert (caught.value.msg, caught.value.pos) == (expected.value.msg, expected.value.pos)


def _exchange(port: int, head: bytes, chunks: list[bytes]) -> tuple[int, bytes]:
    """Send ``head`` and ``chunks`` without ending the body; return the status and body of the first answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head)
        for chunk in chunks:
            conn.sendall(chunk)
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        header, _, body = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"content-length: (\d+)", header, re.I).group(1))
        while len(body) < length:
            body += conn.recv(65536)
    return int(header.split()[1]), body[:length]


def _head(extra: str) -> bytes:
    return f"POST /api/work_pools/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{extra}\r\n".encode()


def test_body_limit_holds_over_a_socket() -> None:
    """413 comes back while the client is still sending (the server never waits for the whole body):
    a declared 100 MB body before any byte of it, a chunked body at the first chunk over the limit.
    A Content-Length smaller than the body reads only that much: the rest is not a body but a bad
    next request (400), so nothing past the declared length reaches the app."""
    limit = 4096
    with serve_in_thread(max_body_size=limit) as server:
        status, body = _exchange(server.port, _head(f"Content-Length: {100 * 1024 * 1024}\r\n"), [])
        assert status == 413 and f"limit of {limit} bytes" in json.loads(body)["detail"], body
        chunk = b"%x\r\n%s\r\n" % (2048, b" " * 2048)
        status, body = _exchange(server.port, _head("Transfer-Encoding: chunked\r\n"), [b"1\r\n{\r\n", chunk, chunk, chunk])
        assert status == 413 and "--max-body-size" in json.loads(body)["detail"], body
        whole = json.dumps({"name": "lying", "description": "x" * (2 * limit)}).encode()
        status, body = _exchange(server.port, _head("Content-Length: 20\r\n"), [whole])
        assert status in (400, 422), body
        status, body = _exchange(server.port, _head(f"Content-Length: {limit}\r\n"), [b"{" + b" " * (limit - 2) + b"}"])
        assert status == 422 and json.loads(body)["exception_detail"][0]["msg"] == "Field required", body
        assert [p["name"] for p in server.store.query("SELECT name FROM work_pool")] == []
