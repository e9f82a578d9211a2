"""Every HTTP call the real Prefect 3.9.1 CLI made for its work-pool and work-queue commands
(fixtures/cli-http-trace.jsonl), replayed with its headers: the same status codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

TRACE = Path(__file__).resolve().parent / "fixtures" / "cli-http-trace.jsonl"
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def commands() -> list[tuple[str, list[dict]]]:
    out: list[tuple[str, list[dict]]] = []
    for line in TRACE.read_text(encoding="utf-8").splitlines():
        if line.startswith("### prefect"):
            out.append((line[4:], []))
        elif line.startswith("{"):
            out[-1][1].append(json.loads(line))
    return out


def test_trace_has_the_cli_commands() -> None:
    names = [name for name, _ in commands()]
    assert "prefect work-pool create trace-pool --type process --overwrite" in names
    assert sum(len(calls) for _, calls in commands()) >= 25


def test_cli_trace_replays_with_the_same_statuses(client) -> None:
    ids: dict[str, str] = {}
    last_created: str | None = None
    mismatches = []
    for command, calls in commands():
        for call in calls:
            path = call["path"]
            for uid in UUID_RE.findall(path):
                if uid not in ids and last_created:
                    ids[uid] = last_created
                path = path.replace(uid, ids.get(uid, uid))
            headers = {"User-Agent": call["ua"], "X-PREFECT-API-VERSION": call["client_version"]}
            kwargs = {"json": call["request_body"]} if call["request_body"] is not None else {}
            response = client.request(call["method"], path, headers=headers, **kwargs)
            if response.status_code == 201:
                last_created = response.json().get("id")
            if response.status_code != call["status"]:
                mismatches.append(f"{command}: {call['method']} {call['path']} -> {response.status_code}, CLI saw {call['status']}")
    assert mismatches == []
