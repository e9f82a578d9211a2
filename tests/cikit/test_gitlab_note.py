"""The GitLab ``plan`` job's script, run with bash against the reference server and a fake GitLab API:
one merge-request note, found by the marker and updated in place, and the outcome label."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest

MARKER = "<!-- poolform-plan -->"
MR = "/api/v4/projects/11/merge_requests/5"


class FakeGitLab:
    def __init__(self) -> None:
        self.notes: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str, Any]] = []
        self.labels: set[str] = set()
        self.tokens: set[str] = set()


@pytest.fixture
def gitlab() -> Iterator[tuple[FakeGitLab, str]]:
    fake = FakeGitLab()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"null")

        def do_GET(self) -> None:  # noqa: N802
            fake.tokens.add(self.headers.get("PRIVATE-TOKEN", ""))
            path = urlsplit(self.path).path
            fake.calls.append(("GET", path, None))
            self._reply(200 if path == f"{MR}/notes" else 404, fake.notes if path == f"{MR}/notes" else {})

        def do_POST(self) -> None:  # noqa: N802
            body = self._body()
            fake.calls.append(("POST", self.path, body))
            note = {"id": 100 + len(fake.notes), "body": body["body"]}
            fake.notes.append(note)
            self._reply(201, note)

        def do_PUT(self) -> None:  # noqa: N802
            body = self._body()
            fake.calls.append(("PUT", self.path, body))
            if self.path == MR:
                fake.labels |= set(body["add_labels"].split(","))
                fake.labels -= set(body["remove_labels"].split(","))
                self._reply(200, {"labels": sorted(fake.labels)})
                return
            note_id = int(self.path.rsplit("/", 1)[-1])
            for note in fake.notes:
                if note["id"] == note_id:
                    note["body"] = body["body"]
            self._reply(200, {"id": note_id})

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}/api/v4"
    finally:
        server.shutdown()
        server.server_close()


def _plan_job(gitlab_ci: dict[str, Any]) -> str:
    return "\n".join(gitlab_ci["plan"]["script"])


def _env(kit: Any, server: Any, api: str) -> dict[str, str]:
    return kit.base_env(server.api_url, CI_API_V4_URL=api, CI_PROJECT_ID="11", CI_MERGE_REQUEST_IID="5",
                        POOLFORM_GITLAB_TOKEN="glpat-test", CI_PIPELINE_URL="https://gitlab.example.com/p/-/pipelines/9",
                        CI_COMMIT_SHORT_SHA="abc1234")


def test_plan_job_creates_then_updates_one_note(gitlab_ci: dict[str, Any], gitlab: tuple[FakeGitLab, str], kit: Any,
                                               server: Any, run_bash: Any, repo: Path) -> None:
    fake, api = gitlab
    fake.notes.append({"id": 1, "body": "Looks good"})
    first = run_bash(_plan_job(gitlab_ci), env=_env(kit, server, api))
    assert first.returncode == 0, (first.stdout, first.stderr)
    assert (repo / "plan.env").read_text().strip() == "PLAN_EXITCODE=2"
    assert len(fake.notes) == 2
    note = fake.notes[1]
    assert note["body"].startswith(MARKER) and "work_pool.ci-process" in note["body"]
    assert "pipelines/9" in note["body"] and "abc1234" in note["body"]
    assert fake.labels == {"add-or-update"}
    assert fake.tokens == {"glpat-test"}

    second = run_bash(_plan_job(gitlab_ci), env=_env(kit, server, api))
    assert second.returncode == 0, (second.stdout, second.stderr)
    assert len(fake.notes) == 2, "the second run must update its note, not add one"
    assert [c[1] for c in fake.calls if c[0] == "PUT" and "/notes/" in c[1]] == [f"{MR}/notes/{note['id']}"]
    assert fake.notes[0]["body"] == "Looks good"


def test_plan_job_fails_on_a_broken_config_without_a_note(gitlab_ci: dict[str, Any], gitlab: tuple[FakeGitLab, str],
                                                         kit: Any, server: Any, run_bash: Any, repo: Path) -> None:
    fake, api = gitlab
    (repo / "pools" / "pools.yaml").write_text("version: 1\nwork_pools:\n  p:\n    tpye: process\n")
    result = run_bash(_plan_job(gitlab_ci), env=_env(kit, server, api))
    assert result.returncode == 1
    assert fake.notes == [] and fake.calls == []


def test_plan_job_labels_no_changes_after_apply(gitlab_ci: dict[str, Any], gitlab: tuple[FakeGitLab, str], kit: Any,
                                               server: Any, run_bash: Any, run_poolform: Any) -> None:
    fake, api = gitlab
    assert run_poolform(["poolform", "apply", "-f", "pools/", "--auto-approve"]).returncode == 0
    result = run_bash(_plan_job(gitlab_ci), env=_env(kit, server, api))
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert fake.labels == {"no-changes"}
    assert "No changes" in fake.notes[0]["body"]
