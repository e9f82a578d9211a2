"""GitLab's REST API (v4) for the CI scripts: the merge request's notes and labels, drift issues,
and the saved plan of a merged merge request. Environment as in GitLab CI: ``CI_API_V4_URL``,
``CI_PROJECT_ID``, ``CI_MERGE_REQUEST_IID``, and ``POOLFORM_GITLAB_TOKEN`` (a project access
token with the ``api`` scope; the job token cannot write notes). A note is ours when the
token's own user (``GET /user``) wrote it; system notes never are. Every list is paginated
(notes of a long review are not all on the first page).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from reconciler.ci.forge import DRIFT_LABEL, Http, Note, from_env
from reconciler.errors import ForgeError


class GitLab:
    def __init__(self, env: dict[str, str], *, iid: int | None = None, transport: httpx.BaseTransport | None = None) -> None:
        api = from_env(env, "CI_API_V4_URL", what="the GitLab API URL (set by GitLab CI)")
        project = from_env(env, "CI_PROJECT_ID", what="the project id (set by GitLab CI)")
        token = from_env(env, "POOLFORM_GITLAB_TOKEN", what="a project access token with the api scope, as a masked "
                                                            "CI/CD variable")
        self.project = f"/projects/{quote(project, safe='')}"
        merge_request = iid if iid is not None else env.get("CI_MERGE_REQUEST_IID", "").strip()
        self.iid = int(merge_request) if str(merge_request).isdigit() else None
        self.http = Http(api, {"PRIVATE-TOKEN": token, "User-Agent": "poolform-ci"}, "GitLab", transport)
        self._me: int | None = None

    def close(self) -> None:
        self.http.close()

    def me(self) -> int:
        if self._me is None:
            self._me = int(self.http.json("GET", "/user")["id"])
        return self._me

    def _mr(self) -> str:
        if self.iid is None:
            raise ForgeError("no merge request: run in a merge request pipeline (CI_MERGE_REQUEST_IID) or pass --mr IID")
        return f"{self.project}/merge_requests/{self.iid}"

    def _ours(self, item: dict[str, Any]) -> bool:
        return not item.get("system") and (item.get("author") or {}).get("id") == self.me()

    def comments(self) -> list[Note]:
        return [Note(int(n["id"]), str(n.get("body") or ""), self._ours(n))
                for n in self.http.pages(self._mr() + "/notes", {"sort": "asc", "order_by": "created_at"})]

    def create_comment(self, body: str) -> int:
        return int(self.http.json("POST", self._mr() + "/notes", json={"body": body})["id"])

    def update_comment(self, comment_id: int, body: str) -> None:
        self.http.call("PUT", f"{self._mr()}/notes/{comment_id}", json={"body": body})

    def set_labels(self, add: str, remove: list[str]) -> None:
        self.http.call("PUT", self._mr(), json={"add_labels": add, "remove_labels": ",".join(remove)})

    def drift_issues(self) -> list[Note]:
        return [Note(int(i["iid"]), str(i.get("description") or ""), self._ours(i))
                for i in self.http.pages(self.project + "/issues", {"state": "opened", "labels": DRIFT_LABEL})]

    def create_issue(self, title: str, body: str) -> int:
        return int(self.http.json("POST", self.project + "/issues",
                                  json={"title": title, "description": body, "labels": DRIFT_LABEL})["iid"])

    def update_issue(self, number: int, body: str) -> None:
        self.http.call("PUT", f"{self.project}/issues/{number}", json={"description": body})

    def close_issue(self, number: int, comment: str) -> None:
        self.http.call("POST", f"{self.project}/issues/{number}/notes", json={"body": comment})
        self.http.call("PUT", f"{self.project}/issues/{number}", json={"state_event": "close"})

    def saved_plan(self, sha: str, job: str, artifact: str) -> tuple[int | None, bytes | None]:
        """The merged merge request of commit ``sha`` and ``artifact`` of its last successful ``job``
        on the merge request's head: ``(iid, content)``, None where there is none."""
        requests = self.http.json("GET", f"{self.project}/repository/commits/{quote(sha, safe='')}/merge_requests")
        merged = next((m for m in requests or [] if m.get("state") == "merged"), None)
        if merged is None:
            return None, None
        iid = int(merged["iid"])
        head = merged.get("sha")
        for pipeline in self.http.pages(f"{self.project}/merge_requests/{iid}/pipelines", {}):
            if head and pipeline.get("sha") != head:
                continue
            for found in self.http.pages(f"{self.project}/pipelines/{int(pipeline['id'])}/jobs", {"scope[]": "success"}):
                if found.get("name") == job:
                    path = f"{self.project}/jobs/{int(found['id'])}/artifacts/{quote(artifact)}"
                    response = self.http.call("GET", path, allow=(404,))
                    return iid, (response.content if response.status_code == 200 else None)
        return iid, None
