"""Replays every captured Prefect 3.9.1 scenario in fixtures/ against the app and requires
the same status codes, field names and values (ids and timestamps aside).

Deliberate differences are listed, with reasons, in replay.KNOWN / KNOWN_STATUS; a captured
500 must become a 4xx with a body that says what went wrong."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from replay import KNOWN, KNOWN_STATUS, Replayer, capture_start, clock_for, create_missing_runs, scenarios
from reconciler.server.app import create_app
from reconciler.server.clock import ManualClock
from reconciler.server.store import open_store

SCENARIOS = scenarios()


@pytest.fixture(scope="module")
def replay() -> dict[str, Any]:
    clock = ManualClock(capture_start())
    store = open_store(":memory:")
    client = TestClient(create_app(store, clock=clock), raise_server_exceptions=False)
    replayer = Replayer(client, clock)
    problems: dict[str, list[str]] = {}
    used: set[tuple[str, str]] = set()
    for scenario in SCENARIOS:
        name = scenario["scenario"]
        problems[name] = []
        if clock() < clock_for(scenario):
            clock.set(clock_for(scenario))
        create_missing_runs(replayer, scenario)
        for exchange in scenario["exchanges"]:
            key = (name, exchange["step"])
            status, body = replayer.run(scenario, exchange)
            where = f"{exchange['step']} ({exchange['method']} {exchange['path']})"
            if exchange["status_code"] == 500:
                failed = status >= 500 or (
                    status >= 400 and not (isinstance(body, dict) and (body.get("detail") or body.get("exception_detail")))
                )
                if failed:
                    problems[name].append(f"{where}: Prefect's 500 must become an answer (a 4xx with a message), got {status} {body}")
                continue
            wanted = exchange["status_code"]
            if key in KNOWN_STATUS:
                used.add(key)
                wanted = KNOWN_STATUS[key][0]
            if status != wanted:
                problems[name].append(f"{where}: status {wanted} expected, got {status}: {body}")
                continue
            if wanted != exchange["status_code"]:
                continue
            if key in KNOWN:
                used.add(key)
            problems[name].extend(f"{where}: {p}" for p in replayer.compare(name, exchange["step"], exchange["response_body"], body))
    store.close()
    return {"problems": problems, "used": used}


@pytest.mark.parametrize("scenario", [s["scenario"] for s in SCENARIOS])
def test_scenario_matches_capture(replay: dict[str, Any], scenario: str) -> None:
    assert replay["problems"][scenario] == []


def test_every_known_difference_is_exercised(replay: dict[str, Any]) -> None:
    declared = set(KNOWN) | set(KNOWN_STATUS)
    assert declared - replay["used"] == set()


def test_replay_covers_the_captured_500s() -> None:
    fivehundreds = [(s["scenario"], e["step"]) for s in SCENARIOS for e in s["exchanges"] if e["status_code"] == 500]
    assert len(fivehundreds) >= 5
