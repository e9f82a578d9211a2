"""Replays the Prefect 3.9.1 captures in ``fixtures/`` against our app and lists the differences.

Ids are mapped from the capture to ours as responses arrive; timestamps are compared only
for presence (null or not); everything else must match: status code, field names, values.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SKIP_FILES = {"process-default-base-job-template.json"}
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIME_KEYS = {
    "created", "updated", "timestamp", "last_polled", "last_heartbeat_time", "expected_start_time",
    "next_scheduled_start_time", "start_time", "end_time", "scheduled_time", "estimated_run_time",
    "estimated_start_time_delta", "expiration",
}
# Differences we keep on purpose, by (scenario, step): the JSON paths not compared, and why.
KNOWN: dict[tuple[str, str], tuple[set[str], str]] = {
    ("late-runs", "run scheduled 60s in the past (POST /api/flow_runs/ with work_pool_name)"): (
        {"state_name", "state.name"},
        "lateness is computed at read time, so an overdue run is 'Late' at once, not after the next service loop",
    ),
    ("deployment-job-variables-validation", "flow run supplying image_tag (no state given -> SCHEDULED at now)"): (
        {"name"}, "random flow run names differ",
    ),
    ("queue-update", "rename to an existing name"): (
        {"detail"}, "we name the conflict instead of Prefect's generic 'Data integrity conflict' text",
    ),
    ("queue-delete-default", "rename back (conflict?)"): (
        {"detail"}, "we name the conflict instead of Prefect's generic 'Data integrity conflict' text",
    ),
    ("queue-delete-default", "delete default via legacy route"): (
        {"detail"}, "we say why the default queue cannot be deleted instead of 'Data integrity conflict'",
    ),
    ("queue-filter", "legacy POST /api/work_queues/filter with work_pools filter"): (
        {"<all>"}, "we apply the work_pools filter; 3.9.1 ignores it and lists every queue",
    ),
}
# Pools whose template differs from the capture after pool-update-base-job-template: 3.9.1
# stored templates there that we refuse (see KNOWN_STATUS), so later reads show the older one.
CASCADE_POOLS = {"ref-pool"}
# Steps where our status code differs on purpose: (scenario, step) -> (our status, why).
KNOWN_STATUS: dict[tuple[str, str], tuple[int, str]] = {
    ("pool-update", "is_paused null"): (422, "explicit null on a non-nullable field is a validation error, not Prefect's 409 integrity conflict"),
    ("queue-update-priority", "priority null"): (422, "explicit null on a non-nullable field is a validation error, not Prefect's 409 integrity conflict"),
    ("pool-update-base-job-template", "invalid variables schema"): (422, "PATCH also checks the variables schema (3.9.1 checks it on create only)"),
    ("pool-update-base-job-template", "default violating schema"): (422, "PATCH also checks defaults against the schema (3.9.1 checks them on create only)"),
}


def scenarios() -> list[dict[str, Any]]:
    out = []
    for path in sorted(FIXTURES.glob("*.json")):
        if path.name in SKIP_FILES:
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        out.append(data)
    out.sort(key=lambda d: d["captured_at"])
    return out


@dataclass
class Replayer:
    client: Any
    clock: Any
    ids: dict[str, str] = field(default_factory=dict)

    def substitute(self, text: str) -> str:
        return UUID_RE.sub(lambda m: self.ids.get(m.group(0), m.group(0)), text)

    def run(self, scenario: dict[str, Any], exchange: dict[str, Any]) -> tuple[int, Any]:
        self.clock.advance(seconds=0.005)
        path = self.substitute(exchange["path"])
        kwargs: dict[str, Any] = {}
        if "request_body_raw" in exchange:
            kwargs["content"] = exchange["request_body_raw"].encode()
            kwargs["headers"] = {"content-type": "application/json"}
        elif exchange.get("request_body") is not None:
            kwargs["content"] = self.substitute(json.dumps(exchange["request_body"])).encode()
            kwargs["headers"] = {"content-type": "application/json"}
        response = self.client.request(exchange["method"], path, **kwargs)
        body = response.json() if response.content else None
        return response.status_code, body

    def compare(self, scenario: str, step: str, expected: Any, actual: Any) -> list[str]:
        ignored = KNOWN.get((scenario, step), (set(), ""))[0]
        problems: list[str] = []
        if "<all>" in ignored:
            return problems
        self._cmp(expected, actual, "", ignored, problems)
        return problems

    def _cmp(self, exp: Any, act: Any, path: str, ignored: set[str], problems: list[str]) -> None:
        if path in ignored:
            return
        key = path.rsplit(".", 1)[-1]
        if isinstance(exp, dict) and isinstance(act, dict):
            if "default_queue_id" in exp and "base_job_template" in exp and exp.get("name") in CASCADE_POOLS:
                exp = {k: v for k, v in exp.items() if k != "base_job_template"}
                act = {k: v for k, v in act.items() if k != "base_job_template"}
            missing = [k for k in exp if k not in act]
            extra = [k for k in act if k not in exp]
            if missing or extra:
                problems.append(f"{path or '<body>'}: missing keys {missing}, extra keys {extra}")
            for k in exp:
                if k in act:
                    self._cmp(exp[k], act[k], f"{path}.{k}" if path else k, ignored, problems)
            return
        if isinstance(exp, list) and isinstance(act, list):
            if len(exp) != len(act):
                problems.append(f"{path or '<body>'}: {len(exp)} items expected, got {len(act)}")
            for i, (e, a) in enumerate(zip(exp, act)):
                self._cmp(e, a, f"{path}[{i}]", ignored, problems)
            return
        if key in TIME_KEYS or key.endswith("_time"):
            if (exp is None) != (act is None):
                problems.append(f"{path}: expected {exp!r}, got {act!r}")
            return
        if isinstance(exp, str) and isinstance(act, str) and UUID_RE.fullmatch(exp):
            mapped = self.ids.setdefault(exp, act)
            if mapped != act:
                problems.append(f"{path}: id {exp} maps to {mapped}, got {act}")
            return
        if isinstance(exp, str) and isinstance(act, str) and UUID_RE.search(exp):
            if self.substitute(exp) != act:
                self._learn_ids(exp, act)
                if self.substitute(exp) != act:
                    problems.append(f"{path}: expected {exp!r}, got {act!r}")
            return
        if exp != act or type(exp) is not type(act):
            problems.append(f"{path or '<body>'}: expected {exp!r}, got {act!r}")

    def _learn_ids(self, exp: str, act: str) -> None:
        pattern = re.escape(exp)
        for uid in UUID_RE.findall(exp):
            pattern = pattern.replace(re.escape(uid), f"(?P<u{len(self.ids) + hash(uid) % 1000}>[0-9a-f-]{{36}})", 1)
        match = re.fullmatch(pattern, act)
        if match:
            for uid, value in zip(UUID_RE.findall(exp), match.groups()):
                self.ids.setdefault(uid, value)


def capture_start() -> datetime:
    return datetime(2026, 11, 25, 15, 12, 6, tzinfo=timezone.utc)


def clock_for(scenario: dict[str, Any]) -> datetime:
    captured = datetime.fromisoformat(scenario["captured_at"].replace("Z", "+00:00"))
    return captured - timedelta(seconds=0.02 * len(scenario["exchanges"]))


def runs_seen(scenario: dict[str, Any]) -> list[dict[str, Any]]:
    """Flow runs that a poll scenario returns, in first-seen order (the capture did not record
    every run's creation, so the replay creates the missing ones from these)."""
    seen: dict[str, dict[str, Any]] = {}
    for exchange in scenario["exchanges"]:
        body = exchange.get("response_body")
        if isinstance(body, list):
            for item in body:
                if isinstance(item, dict) and isinstance(item.get("flow_run"), dict):
                    seen.setdefault(item["flow_run"]["id"], item["flow_run"])
    return list(seen.values())


def create_missing_runs(replayer: Replayer, scenario: dict[str, Any]) -> int:
    created = 0
    for run in runs_seen(scenario):
        if run["id"] in replayer.ids or not run.get("deployment_id"):
            continue
        deployment = replayer.ids.get(run["deployment_id"], run["deployment_id"])
        body = {
            "name": run["name"],
            "work_queue_name": run["work_queue_name"],
            "state": {"type": "SCHEDULED", "name": "Scheduled",
                      "state_details": {"scheduled_time": run["next_scheduled_start_time"]}},
            "job_variables": run["job_variables"],
        }
        response = replayer.client.post(f"/api/deployments/{deployment}/create_flow_run", json=body)
        assert response.status_code == 201, response.text
        replayer.ids[run["id"]] = response.json()["id"]
        created += 1
    return created
