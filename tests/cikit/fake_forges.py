"""In-process fakes of the GitHub and GitLab REST APIs (127.0.0.1, real HTTP), with the state the
CI commands read and write: comments/notes, labels, issues, merged pull requests, workflow runs
and job artifacts. Lists are paginated with a small page size, so a client that reads only the
first page misses things (GitHub: ``Link`` headers; GitLab: ``X-Next-Page``, as GitLab also
sends). Every request is recorded with its auth header, for the tests' assertions."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

PAGE = 3


@dataclass
class Fake:
    kind: str
    token: str
    url: str = ""
    comments: list[dict[str, Any]] = field(default_factory=list)
    labels: set[str] = field(default_factory=set)
    issues: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    auth: set[str] = field(default_factory=set)
    merged: dict[str, dict[str, Any]] = field(default_factory=dict)    # commit sha -> PR / MR
    runs: list[dict[str, Any]] = field(default_factory=list)           # GitHub workflow runs
    pipelines: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # GitLab MR iid -> pipelines
    jobs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)       # pipeline id -> jobs
    artifacts: dict[int, dict[str, bytes]] = field(default_factory=dict)      # job id -> files
    me: dict[str, Any] = field(default_factory=lambda: {"id": 900, "username": "project_11_bot"})
    fail_writes: int | None = None
    next_id: int = 1000

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def writes(self) -> list[tuple[str, str, Any]]:
        return [c for c in self.calls if c[0] != "GET"]


def _page(items: list[Any], query: dict[str, list[str]]) -> tuple[list[Any], int | None]:
    page = int(query.get("page", ["1"])[0])
    size = min(int(query.get("per_page", ["30"])[0]), PAGE)
    chunk = items[(page - 1) * size: page * size]
    return chunk, (page + 1 if page * size < len(items) else None)


def serve(fake: Fake) -> Iterator[Fake]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None) -> None:
            data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream" if raw is not None else "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _list(self, items: list[Any], path: str, query: dict[str, list[str]]) -> None:
            chunk, following = _page(items, query)
            headers: dict[str, str] = {}
            if following:
                rest = {k: v[0] for k, v in query.items() if k != "page"}
                link = fake.url + path + "?" + "&".join(f"{k}={v}" for k, v in {**rest, "page": following}.items())
                if fake.kind == "github":
                    headers["Link"] = f'<{link}>; rel="next"'
                else:
                    headers["X-Next-Page"] = str(following)
            self._reply(200, chunk, headers)

        def _handle(self, method: str) -> None:
            split = urlsplit(self.path)
            path, query = split.path, parse_qs(split.query)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            fake.calls.append((method, path, body))
            header = self.headers.get("Authorization" if fake.kind == "github" else "PRIVATE-TOKEN", "")
            fake.auth.add(header)
            expected = f"Bearer {fake.token}" if fake.kind == "github" else fake.token
            if header != expected:
                self._reply(401, {"message": "Bad credentials"})
                return
            if method != "GET" and fake.fail_writes:
                self._reply(fake.fail_writes, {"message": "Resource not accessible by integration"})
                return
            route = (fake.github if fake.kind == "github" else fake.gitlab)
            route(self, method, path, query, body)

        def do_GET(self) -> None:  # noqa: N802
            self._handle("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._handle("POST")

        def do_PATCH(self) -> None:  # noqa: N802
            self._handle("PATCH")

        def do_PUT(self) -> None:  # noqa: N802
            self._handle("PUT")

        def do_DELETE(self) -> None:  # noqa: N802
            self._handle("DELETE")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}" + ("" if fake.kind == "github" else "/api/v4")
    if fake.kind == "gitlab":
        fake.url_root = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------ GitHub

def _github(self: Fake, h: Any, method: str, path: str, query: dict[str, list[str]], body: Any) -> None:
    repo = "/repos/acme/pools"
    parts = path[len(repo):].strip("/").split("/") if path.startswith(repo + "/") else []
    if parts[:1] == ["issues"] and len(parts) == 3 and parts[2] == "comments" and method == "GET":
        number = int(parts[1])
        h._list([c for c in self.comments if c["issue"] == number], path, query)
    elif parts[:1] == ["issues"] and len(parts) == 3 and parts[2] == "comments" and method == "POST":
        comment = {"id": self.new_id(), "issue": int(parts[1]), "body": body["body"],
                   "user": {"login": "github-actions[bot]", "type": "Bot"}}
        self.comments.append(comment)
        h._reply(201, comment)
    elif parts[:2] == ["issues", "comments"] and method == "PATCH":
        found = next((c for c in self.comments if c["id"] == int(parts[2])), None)
        if found is None:
            h._reply(404, {"message": "Not Found"})
            return
        found["body"] = body["body"]
        h._reply(200, found)
    elif parts[:1] == ["issues"] and len(parts) == 3 and parts[2] == "labels" and method == "POST":
        self.labels |= set(body["labels"])
        h._reply(200, [{"name": n} for n in sorted(self.labels)])
    elif parts[:1] == ["issues"] and len(parts) == 4 and parts[2] == "labels" and method == "DELETE":
        if parts[3] not in self.labels:
            h._reply(404, {"message": "Label does not exist"})
            return
        self.labels.discard(parts[3])
        h._reply(200, [])
    elif parts == ["issues"] and method == "GET":
        wanted = query.get("labels", [""])[0]
        state = query.get("state", ["open"])[0]
        h._list([i for i in self.issues if i["state"] == state and (not wanted or wanted in i["labels"])], path, query)
    elif parts == ["issues"] and method == "POST":
        issue = {"number": self.new_id(), "title": body["title"], "body": body["body"], "labels": body.get("labels", []),
                 "state": "open", "comments": [], "user": {"login": "github-actions[bot]", "type": "Bot"}}
        self.issues.append(issue)
        h._reply(201, issue)
    elif parts[:1] == ["issues"] and len(parts) == 2 and method == "PATCH":
        issue = next(i for i in self.issues if i["number"] == int(parts[1]))
        issue.update({k: v for k, v in body.items() if k in ("body", "state")})
        h._reply(200, issue)
    elif parts[:1] == ["commits"] and parts[2:] == ["pulls"]:
        pr = self.merged.get(parts[1])
        h._reply(200, [pr] if pr else [])
    elif parts[:2] == ["actions", "workflows"] and parts[3:] == ["runs"]:
        head = query.get("head_sha", [""])[0]
        runs = [r for r in self.runs if r["workflow"] == parts[2] and r["head_sha"] == head
                and r["conclusion"] == query.get("status", ["success"])[0]]
        h._reply(200, {"total_count": len(runs), "workflow_runs": runs[:1]})
    else:
        h._reply(404, {"message": "Not Found"})


# ------------------------------------------------------------------ GitLab

def _gitlab(self: Fake, h: Any, method: str, path: str, query: dict[str, list[str]], body: Any) -> None:
    project = "/api/v4/projects/11"
    if path == "/api/v4/user":
        h._reply(200, self.me)
        return
    parts = path[len(project):].strip("/").split("/") if path.startswith(project + "/") else []
    if parts[:1] == ["merge_requests"] and parts[2:] == ["notes"] and method == "GET":
        h._list([n for n in self.comments if n["issue"] == int(parts[1])], path, query)
    elif parts[:1] == ["merge_requests"] and parts[2:] == ["notes"] and method == "POST":
        note = {"id": self.new_id(), "issue": int(parts[1]), "body": body["body"], "system": False,
                "author": {"id": self.me["id"], "username": self.me["username"]}}
        self.comments.append(note)
        h._reply(201, note)
    elif parts[:1] == ["merge_requests"] and len(parts) == 4 and parts[2] == "notes" and method == "PUT":
        note = next((n for n in self.comments if n["id"] == int(parts[3])), None)
        if note is None:
            h._reply(404, {"message": "404 Not found"})
            return
        note["body"] = body["body"]
        h._reply(200, note)
    elif parts[:1] == ["merge_requests"] and len(parts) == 2 and method == "PUT":
        self.labels |= {x for x in body.get("add_labels", "").split(",") if x}
        self.labels -= set(body.get("remove_labels", "").split(","))
        h._reply(200, {"labels": sorted(self.labels)})
    elif parts[:1] == ["merge_requests"] and parts[2:] == ["pipelines"]:
        h._list(self.pipelines.get(int(parts[1]), []), path, query)
    elif parts[:1] == ["pipelines"] and parts[2:] == ["jobs"]:
        scope = query.get("scope[]", [None])[0]
        h._list([j for j in self.jobs.get(int(parts[1]), []) if scope is None or j["status"] == scope], path, query)
    elif parts[:1] == ["jobs"] and parts[2:3] == ["artifacts"]:
        content = self.artifacts.get(int(parts[1]), {}).get("/".join(parts[3:]))
        if content is None:
            h._reply(404, {"message": "404 Not found"})
            return
        h._reply(200, raw=content)
    elif parts[:2] == ["repository", "commits"] and parts[3:] == ["merge_requests"]:
        mr = self.merged.get(parts[2])
        h._reply(200, [mr] if mr else [])
    elif parts == ["issues"] and method == "GET":
        wanted = query.get("labels", [""])[0]
        h._list([i for i in self.issues if i["state"] == query.get("state", ["opened"])[0]
                 and (not wanted or wanted in i["labels"])], path, query)
    elif parts == ["issues"] and method == "POST":
        issue = {"iid": self.new_id(), "title": body["title"], "description": body["description"],
                 "labels": body["labels"].split(","), "state": "opened", "notes": [],
                 "author": {"id": self.me["id"]}}
        self.issues.append(issue)
        h._reply(201, issue)
    elif parts[:1] == ["issues"] and len(parts) == 2 and method == "PUT":
        issue = next(i for i in self.issues if i["iid"] == int(parts[1]))
        if "description" in body:
            issue["description"] = body["description"]
        if body.get("state_event") == "close":
            issue["state"] = "closed"
        h._reply(200, issue)
    elif parts[:1] == ["issues"] and parts[2:] == ["notes"] and method == "POST":
        issue = next(i for i in self.issues if i["iid"] == int(parts[1]))
        issue["notes"].append(body["body"])
        h._reply(201, {"id": self.new_id()})
    else:
        h._reply(404, {"message": "404 Not found"})


Fake.github = _github  # type: ignore[attr-defined]
Fake.gitlab = _gitlab  # type: ignore[attr-defined]
