"""What the CI scripts do, whichever forge: comments found by marker, outcome labels, drift issues.

A comment or issue is ours when the first line of its body is the marker the body we post starts
with (``<!-- poolform-plan:prod -->`` ...; see ``views/markdown.py``) and its author is the
identity we post as; anything else (a human quoting the marker, another bot) is never touched.
Also the shared HTTP helper: one httpx client, errors as :class:`ForgeError` naming the call and
the forge's own message (never a header or token), lists followed page by page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

import httpx

from reconciler.errors import ForgeError

MARKER = re.compile(r"^<!-- poolform-[a-z]+(?::[A-Za-z0-9_.%-]+)? -->$")
LABELS = ("no-changes", "add-or-update", "destroy")
DRIFT_LABEL = "drift"
MAX_BODY = 65_536
MAX_PAGES = 200


@dataclass
class Note:
    """A comment (GitHub) or note (GitLab), or an issue (``id`` = its number/iid)."""

    id: int
    body: str
    ours: bool


class Forge(Protocol):
    def comments(self) -> list[Note]: ...
    def create_comment(self, body: str) -> int: ...
    def update_comment(self, comment_id: int, body: str) -> None: ...
    def set_labels(self, add: str, remove: list[str]) -> None: ...
    def drift_issues(self) -> list[Note]: ...
    def create_issue(self, title: str, body: str) -> int: ...
    def update_issue(self, number: int, body: str) -> None: ...
    def close_issue(self, number: int, comment: str) -> None: ...


def marker_of(body: str) -> str:
    """The marker on the first line of ``body``; ForgeError when there is none."""
    first = body.split("\n", 1)[0].strip()
    if not MARKER.match(first):
        raise ForgeError("the comment body does not start with a poolform marker line such as "
                         "<!-- poolform-plan --> (render it with `poolform plan/show/validate --format markdown`)")
    return first


def environment_of(mark: str) -> str | None:
    """The environment a marker line names (``%XX`` decoded), None for a bare marker."""
    from urllib.parse import unquote

    inner = mark[len("<!-- "):-len(" -->")]
    return unquote(inner.split(":", 1)[1]) if ":" in inner else None


def check_body(body: str) -> str:
    """``body`` when one comment can carry it: within the forges' size limit and with one marker
    (``plan --all-envs`` markdown has one per environment: post each environment's own)."""
    marks = [line for line in body.split("\n") if MARKER.match(line.strip())]
    if len(marks) > 1:
        raise ForgeError(f"the comment body carries {len(marks)} poolform markers (one per environment): post one "
                         "comment per environment, rendered with `poolform plan --env NAME --format markdown`")
    if len(body) > MAX_BODY:
        raise ForgeError(f"the comment body is {len(body)} characters; GitHub and GitLab take at most {MAX_BODY}. "
                         "Render it with poolform's markdown format, which stays under the limit.")
    return body


def _mine(notes: list[Note], mark: str) -> Note | None:
    return next((n for n in notes if n.ours and n.body.split("\n", 1)[0].strip() == mark), None)


def upsert_comment(forge: Forge, body: str) -> tuple[str, int]:
    """Update our comment carrying ``body``'s marker, or create it: ``("updated"|"created", id)``."""
    mark = marker_of(check_body(body))
    found = _mine(forge.comments(), mark)
    if found:
        forge.update_comment(found.id, body)
        return "updated", found.id
    return "created", forge.create_comment(body)


def outcome_label(plan: dict[str, Any]) -> str | None:
    """``no-changes``, ``add-or-update`` or ``destroy`` for a plan; None for a failed one."""
    if plan.get("errored"):
        return None
    if not plan.get("steps"):
        return LABELS[0]
    summary = plan.get("summary") or {}
    return LABELS[2] if (summary.get("destroy", 0) or 0) + (summary.get("replace", 0) or 0) else LABELS[1]


def combined_label(plans: list[dict[str, Any]]) -> str | None:
    """One label for several environments' plans: the most severe of theirs (``destroy`` over
    ``add-or-update`` over ``no-changes``); None when any plan failed or there is none."""
    labels = [outcome_label(plan) for plan in plans]
    if not labels or None in labels:
        return None
    return max(labels, key=LABELS.index)


def label_outcome(forge: Forge, plan: dict[str, Any] | list[dict[str, Any]]) -> str | None:
    """Set the outcome label of one plan, or of several environments' plans together."""
    label = combined_label(plan if isinstance(plan, list) else [plan])
    if label:
        forge.set_labels(label, [other for other in LABELS if other != label])
    return label


def drift(forge: Forge, body: str, *, drifted: bool, title: str, closing_note: str) -> tuple[str, int | None]:
    """Open or update the drift issue with ``body``'s marker when ``drifted``, else close it:
    ``("opened"|"updated"|"closed"|"none", number)``."""
    mark = marker_of(check_body(body))
    found = _mine(forge.drift_issues(), mark)
    if drifted:
        if found:
            forge.update_issue(found.id, body)
            return "updated", found.id
        return "opened", forge.create_issue(title, body)
    if found:
        forge.close_issue(found.id, closing_note)
        return "closed", found.id
    return "none", None


class Http:
    """One httpx client for a forge: JSON calls, errors as ForgeError, paginated lists."""

    def __init__(self, base: str, headers: dict[str, str], name: str, transport: httpx.BaseTransport | None = None) -> None:
        self.name = name
        self.client = httpx.Client(base_url=base.rstrip("/"), headers=headers, timeout=30.0, transport=transport,
                                   follow_redirects=False)

    def close(self) -> None:
        self.client.close()

    def call(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
             allow: tuple[int, ...] = ()) -> httpx.Response:
        try:
            response = self.client.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            raise ForgeError(f"{self.name} API: {method} {path} failed: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 400 and response.status_code not in allow:
            raise ForgeError(f"{self.name} API: {method} {path} answered {response.status_code}: {_message(response)}"
                             + _hint(response.status_code, self.name))
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ForgeError(f"{self.name} API: {method} {path} answered {response.status_code} with a body that "
                             "is not JSON") from None

    def pages(self, path: str, params: dict[str, Any]) -> Iterator[Any]:
        """Every item of a list, following ``Link: rel="next"`` (both) or ``X-Next-Page`` (GitLab)."""
        url: str | None = path
        query: dict[str, Any] | None = {**params, "per_page": 100}
        for _ in range(MAX_PAGES):
            response = self.call("GET", url, params=query)  # type: ignore[arg-type]
            items = response.json()
            if not isinstance(items, list):
                raise ForgeError(f"{self.name} API: GET {path} did not answer a list")
            yield from items
            following = response.links.get("next", {}).get("url")
            if following and httpx.URL(following).host not in ("", self.client.base_url.host):
                raise ForgeError(f"{self.name} API: GET {path} pointed its next page at another host; not followed")
            if following:
                url, query = following, None
                continue
            page = response.headers.get("X-Next-Page", "").strip()
            if page:
                url, query = path, {**params, "per_page": 100, "page": page}
                continue
            return
        raise ForgeError(f"{self.name} API: GET {path} has more than {MAX_PAGES} pages")


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.reason_phrase or "(no message)"
    if isinstance(data, dict):
        for key in ("message", "error", "error_description"):
            if isinstance(data.get(key), (str, list, dict)):
                return str(data[key])[:300]
    return response.reason_phrase or "(no message)"


def _hint(status: int, name: str) -> str:
    if status in (401, 403):
        return (f". Check the token: it needs to write comments, labels and issues on {name} "
                "(GitHub: permissions pull-requests: write, issues: write; GitLab: a project access token with the api scope).")
    if status == 404:
        return ". Check the repository or project and the pull request or merge request number."
    return "."


def from_env(env: dict[str, str], name: str, *, what: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ForgeError(f"{name} is not set: {what}")
    return value


Factory = Callable[[], Forge]
