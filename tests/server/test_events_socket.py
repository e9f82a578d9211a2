"""The events intake websocket over a real server: handshake, auth message, events dropped, refusals."""

from __future__ import annotations

import base64
import json
import logging

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from reconciler.server.runner import serve_in_thread


@pytest.fixture(scope="module")
def server():
    with serve_in_thread() as handle:
        yield handle


@pytest.fixture(scope="module")
def auth_server():
    with serve_in_thread(auth_string="user:pass") as handle:
        yield handle


def _ws(handle, path: str, header: str | None = None, subprotocols=("prefect",)):
    headers = {"Authorization": "Basic " + base64.b64encode(header.encode()).decode()} if header else None
    return connect(f"ws://127.0.0.1:{handle.port}{path}", subprotocols=list(subprotocols) or None,
                   additional_headers=headers, open_timeout=5, close_timeout=5)


def test_events_in_accepts_prefect_authenticates_answers_pings_and_drops_events(server):
    with _ws(server, "/api/events/in") as ws:
        assert ws.subprotocol == "prefect"
        ws.send(json.dumps({"type": "auth", "token": None}))
        assert json.loads(ws.recv(timeout=5)) == {"type": "auth_success"}
        ws.send(json.dumps({"event": "prefect.flow-run.Running", "payload": "x" * 70000}))
        ws.send(json.dumps({"type": "auth", "token": None}))
        ws.ping(b"checkpoint").wait(5)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.2)


def test_events_in_without_the_subprotocol_is_accepted_without_one(server):
    with _ws(server, "/api/events/in", subprotocols=()) as ws:
        assert ws.subprotocol is None
        ws.send(json.dumps({"type": "auth", "token": "anything"}))
        assert json.loads(ws.recv(timeout=5)) == {"type": "auth_success"}


@pytest.mark.parametrize("path", ["/api/events/out", "/api/work_pools/p/workers/connect", "/api/nothing", "/"],
                         ids=["events-out", "worker-channel", "unknown", "root"])
def test_other_websocket_paths_are_refused_with_404_before_upgrade(server, path):
    with pytest.raises(InvalidStatus) as info:
        _ws(server, path)
    response = info.value.response
    assert response.status_code == 404 and json.loads(response.body) == {"detail": "Not Found"}


def test_plain_get_of_the_worker_channel_is_404(server):
    response = httpx.get(f"{server.api_url}/work_pools/x/workers/connect")
    assert response.status_code == 404 and response.json() == {"detail": "Not Found"}


@pytest.mark.parametrize("header", [None, "user:wrong"], ids=["no-header", "wrong-header"])
def test_basic_auth_refuses_the_upgrade_with_401(auth_server, header):
    with pytest.raises(InvalidStatus) as info:
        _ws(auth_server, "/api/events/in", header)
    assert info.value.response.status_code == 401
    assert json.loads(info.value.response.body) == {"exception_message": "Unauthorized"}


@pytest.mark.parametrize(("token", "reply"), [("user:pass", "auth_success"), ("wrong", "auth_failure"), (None, "auth_failure")],
                         ids=["right-token", "wrong-token", "no-token"])
def test_basic_auth_checks_the_auth_message_token(auth_server, token, reply):
    with _ws(auth_server, "/api/events/in", "user:pass") as ws:
        ws.send(json.dumps({"type": "auth", "token": token}))
        message = json.loads(ws.recv(timeout=5))
        assert message["type"] == reply
        if reply == "auth_failure":
            assert message["reason"] == "Invalid token"
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        else:
            ws.ping().wait(5)


def test_refused_and_accepted_upgrades_log_no_warning_or_error():
    records: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("uvicorn.error")
    handle = serve_in_thread(auth_string="user:pass")
    logger.addHandler(handler)
    try:
        for path, header in [("/api/events/out", "user:pass"), ("/api/events/in", None)]:
            with pytest.raises(InvalidStatus):
                _ws(handle, path, header)
        with _ws(handle, "/api/events/in", "user:pass") as ws:
            ws.send(json.dumps({"type": "auth", "token": "wrong"}))
            assert json.loads(ws.recv(timeout=5))["type"] == "auth_failure"
    finally:
        handle.stop()
        logger.removeHandler(handler)
    assert [r.getMessage() for r in records] == []
