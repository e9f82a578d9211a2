"""GitHub's REST API for the CI scripts: the pull request's comments and labels, drift issues,
and the plan run of a merged pull request. Environment as in GitHub Actions: ``GITHUB_API_URL``,
``GITHUB_REPOSITORY``, ``GITHUB_TOKEN``. A comment is ours when a bot wrote it (the Actions
token posts as ``github-actions[bot]``), or the given login when posting with another token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from reconciler.ci.forge import DRIFT_LABEL, Http, Note, from_env
from reconciler.errors import ForgeError


class GitHub:
    def __init__(self, env: dict[str, str], *, number: int | None = None, author: str | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        repository = from_env(env, "GITHUB_REPOSITORY", what="the OWNER/REPO to comment on (set by GitHub Actions)")
        if repository.count("/") != 1:
            raise ForgeError(f"GITHUB_REPOSITORY must be OWNER/REPO, not {repository!r}")
        token = from_env(env, "GITHUB_TOKEN", what="pass the workflow's token: env: GITHUB_TOKEN: ${{ github.token }}")
        self.repo = "/repos/" + "/".join(quote(part, safe="") for part in repository.split("/"))
        self.number = number
        self.author = author
        self.http = Http(env.get("GITHUB_API_URL") or "https://api.github.com",
                         {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                          "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "poolform-ci"}, "GitHub", transport)

    def close(self) -> None:
        self.http.close()

    def _issue(self) -> str:
        if self.number is None:
            raise ForgeError("no pull request number: pass --pr N (github.event.pull_request.number)")
        return f"{self.repo}/issues/{self.number}"

    def _ours(self, item: dict[str, Any]) -> bool:
        user = item.get("user") or {}
        return user.get("login") == self.author if self.author else user.get("type") == "Bot"

    def comments(self) -> list[Note]:
        return [Note(int(c["id"]), str(c.get("body") or ""), self._ours(c))
                for c in self.http.pages(self._issue() + "/comments", {})]

    def create_comment(self, body: str) -> int:
        return int(self.http.json("POST", self._issue() + "/comments", json={"body": body})["id"])

    def update_comment(self, comment_id: int, body: str) -> None:
        self.http.call("PATCH", f"{self.repo}/issues/comments/{comment_id}", json={"body": body})

    def set_labels(self, add: str, remove: list[str]) -> None:
        for name in remove:
            self.http.call("DELETE", f"{self._issue()}/labels/{quote(name, safe='')}", allow=(404,))
        self.http.call("POST", self._issue() + "/labels", json={"labels": [add]})

    def drift_issues(self) -> list[Note]:
        return [Note(int(i["number"]), str(i.get("body") or ""), self._ours(i))
                for i in self.http.pages(self.repo + "/issues", {"state": "open", "labels": DRIFT_LABEL})
                if "pull_request" not in i]

    def create_issue(self, title: str, body: str) -> int:
        return int(self.http.json("POST", self.repo + "/issues", json={"title": title, "body": body,
                                                                       "labels": [DRIFT_LABEL]})["number"])

    def update_issue(self, number: int, body: str) -> None:
        self.http.call("PATCH", f"{self.repo}/issues/{number}", json={"body": body})

    def close_issue(self, number: int, comment: str) -> None:
        self.http.call("POST", f"{self.repo}/issues/{number}/comments", json={"body": comment})
        self.http.call("PATCH", f"{self.repo}/issues/{number}", json={"state": "closed", "state_reason": "completed"})

    def saved_plan_run(self, sha: str, workflow: str) -> dict[str, Any]:
        """``{"pr": N, "run_id": M}`` for the merged pull request of commit ``sha`` and the last
        successful run of ``workflow`` on its head; missing keys when there is none."""
        pulls = self.http.json("GET", f"{self.repo}/commits/{quote(sha, safe='')}/pulls")
        merged = next((p for p in pulls or [] if p.get("merged_at")), None)
        if merged is None:
            return {}
        found: dict[str, Any] = {"pr": int(merged["number"])}
        runs = self.http.json("GET", f"{self.repo}/actions/workflows/{quote(workflow, safe='')}/runs",
                              params={"head_sha": merged["head"]["sha"], "status": "success", "per_page": 1})
        listed = (runs or {}).get("workflow_runs") or []
        if listed:
            found["run_id"] = int(listed[0]["id"])
        return found
