"""The HTTP client for a Prefect-compatible API (prefect-api.md §0, §1, §7, §8).

Owns: auth headers, retries (429/502/503 with ``Retry-After`` and jittered
backoff), the CSRF token dance, paging of ``/filter`` calls, percent-encoding of
names in paths, a call counter, a thread pool for concurrent calls, the ONE
place where HTTP outcomes become the :mod:`reconciler.errors` tree, and the
:class:`ClientEvents` protocol through which it reports pages read and each retry
(rendering them is the CLI's job).
Must not hold plan logic or decide what to change.
"""

from __future__ import annotations

import email.utils
import json as _json
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence, TypeVar
from urllib.parse import quote, urlencode

import httpx

from reconciler import __version__
from reconciler.errors import (
    ApiError,
    Conflict,
    Forbidden,
    NotFound,
    ServerError,
    TransportError,
    Unauthorized,
    Unprocessable,
)
from reconciler.settings import ConnectionSettings

API_VERSION = "0.8.4"
PAGE = 200
RETRY_STATUSES = frozenset({429, 502, 503})
MAX_RETRY_AFTER = 60.0
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

T = TypeVar("T")
R = TypeVar("R")

_STATUS_ERRORS: dict[int, type[ApiError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Unprocessable,
}


def enc(name: str) -> str:
    """A name as one path segment (``with space`` -> ``with%20space``; ``/`` too)."""
    return quote(name, safe="")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        current = now if now is not None else time.time()
        seconds = when.timestamp() - current
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


def backoff(attempt: int) -> float:
    """Jittered exponential backoff for attempt 1, 2, ... (about 0.1 s, 0.2 s, 0.4 s ... capped at 5 s)."""
    base = min(5.0, 0.1 * (2 ** (attempt - 1)))
    return base * random.uniform(0.5, 1.5)


@dataclass(frozen=True)
class RetryNotice:
    """A call that failed in a way worth retrying, about to be sent again after ``wait`` seconds."""

    method: str
    route: str
    reason: str
    """What went wrong: ``"503"`` (a status) or a transport reason such as ``"timed out"``."""
    status: int | None
    wait: float
    retry: int
    """Which retry this is, 1-based, out of ``max_retries``."""
    max_retries: int


class ClientEvents(Protocol):
    """What the client reports while it works; the CLI renders it (``reconciler.views.progress``).

    Methods may be called from several threads at once.
    """

    def on_rows(self, route: str, count: int) -> None:
        """A page of ``count`` rows of a ``/filter`` call (``route`` as counted, e.g. ``/work_pools/filter``) arrived."""

    def on_retry(self, notice: RetryNotice) -> None:
        """A call is about to be retried."""


def _chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for i in range(0, len(items), size):
        yield list(items[i:i + size])


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    lowered = text.lower()
    if "connection refused" in lowered or "errno 111" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered or "name resolution" in lowered:
        return "unknown host"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return text.splitlines()[0] if text else type(exc).__name__


def _proxied(url: str) -> bool:
    """True when the environment routes ``url`` through a proxy (HTTP_PROXY, ALL_PROXY, minus
    NO_PROXY); the lean transport speaks only direct HTTP, so such URLs stay with httpx."""
    import urllib.request

    host = httpx.URL(url).host
    proxies = urllib.request.getproxies()
    if not (proxies.get("http") or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(host)


class PrefectClient:
    """A synchronous client; thread-safe, so :meth:`map` can run calls concurrently.

    ``http`` may be any ``httpx.Client`` (e.g. ``fastapi.testclient.TestClient``
    for in-process tests); requests always use absolute URLs built from
    ``settings.api_url``.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        http: httpx.Client | None = None,
        max_workers: int = 8,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.api_url = settings.api_url.rstrip("/")
        self._owns_http = http is None
        self._direct: Any = None
        if http is None and self.api_url.startswith("http:") and not _proxied(self.api_url):
            from reconciler.api.transport import KeepAliveTransport

            transport = KeepAliveTransport(settings.timeout, verify=settings.verify)
            http = httpx.Client(timeout=settings.timeout, follow_redirects=True, transport=transport)
            url = httpx.URL(self.api_url)
            self._direct = (transport, url.host, url.port or 80, url.raw_path.decode("ascii").rstrip("/"))
        self.http = http if http is not None else httpx.Client(
            timeout=settings.timeout,
            verify=settings.verify if self.api_url.startswith("https:") else False,
            follow_redirects=True,
            limits=httpx.Limits(max_connections=max(max_workers, 1) * 2, max_keepalive_connections=max(max_workers, 1) * 2),
        )
        self.max_workers = max(1, max_workers)
        self._sleep = sleep
        self.events: ClientEvents | None = None
        """Where rows and retries are reported (set by the CLI); None: nowhere."""
        self._lock = threading.Lock()
        self._calls = 0
        self._calls_by_route: dict[str, int] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._headers = {
            "X-PREFECT-API-VERSION": API_VERSION,
            "User-Agent": f"poolform/{__version__} (API {API_VERSION})",
            "Accept": "application/json",
        }
        if settings.authorization:
            self._headers["Authorization"] = settings.authorization
        self._csrf_lock = threading.RLock()
        self._csrf_checked = False
        self._csrf_enabled = False
        self._csrf_client = str(uuid.uuid4())
        self._csrf_token: str | None = None
        self._csrf_expires: float | None = None

    # -- lifecycle -------------------------------------------------------

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> "PrefectClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- counting and concurrency ---------------------------------------

    @property
    def count_calls(self) -> int:
        """HTTP requests sent so far (every attempt, CSRF probes included)."""
        return self._calls

    @property
    def calls_by_route(self) -> dict[str, int]:
        """``"METHOD /path"`` -> requests sent, names collapsed to ``{name}``."""
        with self._lock:
            return dict(self._calls_by_route)

    def reset_calls(self) -> None:
        with self._lock:
            self._calls = 0
            self._calls_by_route.clear()

    def _count(self, method: str, route: str) -> None:
        with self._lock:
            self._calls += 1
            key = f"{method} {route}"
            self._calls_by_route[key] = self._calls_by_route.get(key, 0) + 1

    def executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="poolform-http")
            return self._pool

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(x) for x in items]`` run concurrently (bounded by ``max_workers``), in order.

        The first exception raised by any call is re-raised after all calls finish.
        """
        items = list(items)
        if len(items) <= 1 or self.max_workers == 1:
            return [fn(x) for x in items]
        futures = [self.executor().submit(fn, x) for x in items]
        results: list[R] = []
        error: BaseException | None = None
        for fut in futures:
            try:
                results.append(fut.result())
            except Exception as exc:  # noqa: BLE001 - re-raised below
                if error is None:
                    error = exc
        if error is not None:
            raise error
        return results

    # -- the one request ----------------------------------------------------

    def url(self, path: str) -> str:
        return self.api_url + path

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        route: str | None = None,
        retry: bool = True,
    ) -> Any:
        """Send one call (with retries) and return the decoded JSON body (None for 204).

        ``path`` is relative to the API URL and already percent-encoded. Every
        failure is raised as an :class:`~reconciler.errors.ApiError` subclass;
        an error raised after a retry has ``retried = True`` (a 409 on a retried
        create then means the first attempt did create the object).
        """
        method = method.upper()
        url = self.url(path)
        if method in WRITE_METHODS:
            self._ensure_csrf()
        attempt = 0
        csrf_refreshed = False
        while True:
            attempt += 1
            headers = dict(self._headers)
            if method in WRITE_METHODS and self._csrf_enabled:
                headers.update(self._csrf_headers())
            self._count(method, route or path)
            try:
                response = self._send(method, path, url, json, params, headers)
            except httpx.ConnectError as exc:
                raise self._transport(method, url, _reason(exc), exc, attempt) from None
            except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                reason = f"no answer within {self.settings.timeout:g}s" if isinstance(exc, httpx.TimeoutException) else _reason(exc)
                if retry and attempt <= self.settings.max_retries:
                    self._retry(method, route or path, reason, None, backoff(attempt), attempt)
                    continue
                raise self._transport(method, url, reason, exc, attempt) from None
            except (httpx.HTTPError, OSError) as exc:
                raise self._transport(method, url, _reason(exc), exc, attempt) from None

            status = response.status_code
            if status in RETRY_STATUSES and retry and attempt <= self.settings.max_retries:
                wait = parse_retry_after(response.headers.get("Retry-After"))
                self._retry(method, route or path, str(status), status, wait if wait is not None else backoff(attempt),
                            attempt)
                continue
            if (status == 403 and method in WRITE_METHODS and self._csrf_enabled and not csrf_refreshed
                    and "csrf" in response.text.lower()):
                csrf_refreshed = True
                self._fetch_csrf_token()
                continue
            return self._decode(method, url, response, attempt)

    def _send(self, method: str, path: str, url: str, body: Any, params: dict[str, str] | None,
              headers: dict[str, str]) -> Any:
        """One HTTP exchange: straight through the lean transport's sockets for a plain http URL
        (the request's bytes written, the answer read as a ``transport.Reply``), else (and for a
        redirect, which httpx follows) through ``self.http``."""
        if self._direct is None:
            return self.http.request(method, url, json=body, params=params, headers=headers)
        transport, host, port, base = self._direct
        target = base + path + (("?" + urlencode(params)) if params else "")
        data = None
        if body is not None:
            data = _json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
            headers = {**headers, "Content-Type": "application/json"}
        reply = transport.exchange(method, host, port, target, list(headers.items()), data)
        if 300 <= reply.status_code < 400:
            return self.http.request(method, url, json=body, params=params, headers=headers)
        return reply

    def _retry(self, method: str, route: str, reason: str, status: int | None, wait: float, attempt: int) -> None:
        """Announce the retry (``events``), then wait before it."""
        if self.events is not None:
            self.events.on_retry(RetryNotice(method, route, reason, status, wait, attempt, self.settings.max_retries))
        self._sleep(wait)

    def _decode(self, method: str, url: str, response: Any, attempt: int) -> Any:
        """The body of ``response`` (an ``httpx.Response`` or a ``transport.Reply``), or the error it means."""
        status = response.status_code
        if 200 <= status < 300 and (status == 204 or not response.content):
            return None
        body: Any = None
        is_json = False
        if response.content:
            try:
                body = response.json()
                is_json = True
            except ValueError:
                body = response.text[:500]
        ctype = response.headers.get("content-type", "no content type").split(";")[0]
        if 200 <= status < 300:
            if is_json:
                return body
            raise self._transport(method, url, f"the answer ({status}, {ctype}) is not JSON; "
                                  "is this the Prefect API URL (it usually ends in /api)?", None, attempt)
        if 300 <= status < 400:
            raise self._transport(method, url, f"unexpected redirect {status} to {response.headers.get('location', '?')}",
                                  None, attempt)
        if not is_json and status in (404, 405):
            raise self._transport(method, url, f"the answer ({status}, {ctype}) is not JSON; "
                                  "is this the Prefect API URL (it usually ends in /api)?", None, attempt)
        cls = _STATUS_ERRORS.get(status) or (ServerError if status >= 500 else ApiError)
        err = cls(self._message(method, url, status, body), status=status, body=body, method=method, url=url)
        err.retried = attempt > 1  # type: ignore[attr-defined]
        raise err

    def _message(self, method: str, url: str, status: int, body: Any) -> str:
        probe = ApiError("", body=body)
        detail = probe.detail
        if isinstance(body, dict) and isinstance(body.get("exception_detail"), list):
            parts = []
            for item in body["exception_detail"][:3]:
                if isinstance(item, dict):
                    loc = ".".join(str(x) for x in item.get("loc", ()) if x != "body")
                    parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", "")))
            if parts:
                detail = f"{body.get('exception_message', 'Invalid request')} " + "; ".join(parts)
        detail = " ".join(str(detail).split())[:300]
        if status == 401:
            return (f"the Prefect API at {self.api_url} refused the credentials (401 Unauthorized). "
                    "Set PREFECT_API_KEY, PREFECT_API_AUTH_STRING or PREFECT_BASIC_AUTH_KEY.")
        if status >= 500:
            return f"{method} {url} failed: the server answered {status}{': ' + detail if detail else ''}"
        if status == 404 and body == {"detail": "Not Found"}:
            return (f"{method} {url} failed (404): no such API route; "
                    "is this the Prefect API URL (it usually ends in /api)?")
        return f"{method} {url} failed ({status}){': ' + detail if detail else ''}"

    def _transport(self, method: str, url: str, reason: str, exc: BaseException | None, attempt: int) -> TransportError:
        if reason in ("connection refused", "unknown host"):
            msg = f"cannot reach the Prefect API at {self.api_url}: {reason}. Set PREFECT_API_URL or --api-url."
        else:
            msg = f"{method} {url} failed: {reason}"
        err = TransportError(msg, method=method, url=url)
        err.retried = attempt > 1  # type: ignore[attr-defined]
        return err

    # -- CSRF (prefect-api.md §7) ----------------------------------------------

    def _csrf_headers(self) -> dict[str, str]:
        with self._csrf_lock:
            if self._csrf_expires is not None and time.time() >= self._csrf_expires - 5:
                self._fetch_csrf_token_locked()
            return {"Prefect-Csrf-Token": self._csrf_token or "", "Prefect-Csrf-Client": self._csrf_client}

    def _ensure_csrf(self) -> None:
        if self._csrf_checked:
            return
        with self._csrf_lock:
            if self._csrf_checked:
                return
            self._fetch_csrf_token_locked()
            self._csrf_checked = True

    def _fetch_csrf_token(self) -> None:
        with self._csrf_lock:
            self._fetch_csrf_token_locked()

    def _fetch_csrf_token_locked(self) -> None:
        try:
            body = self.request("GET", "/csrf-token", params={"client": self._csrf_client}, route="/csrf-token")
        except (NotFound, Unprocessable) as exc:
            if isinstance(exc, NotFound) or "csrf protection is disabled" in str(exc.detail).lower():
                self._csrf_enabled = False
                self._csrf_token = None
                return
            raise
        if not isinstance(body, dict) or not body.get("token"):
            self._csrf_enabled = False
            return
        self._csrf_enabled = True
        self._csrf_token = str(body["token"])
        self._csrf_expires = None
        expiration = body.get("expiration")
        if isinstance(expiration, str):
            try:
                self._csrf_expires = datetime.fromisoformat(expiration.replace("Z", "+00:00")).timestamp()
            except ValueError:
                self._csrf_expires = None

    # -- paging -------------------------------------------------------------

    def paged(self, path: str, body: dict[str, Any] | None = None, *, route: str | None = None,
              parallel: int = 1) -> list[dict[str, Any]]:
        """POST a ``/filter`` call page by page (limit 200) until a short page.

        ``parallel`` > 1 asks for that many pages at once (waves of offsets); only
        call it so from outside :meth:`map`, whose pool it uses.
        """
        def page_at(offset: int) -> list[dict[str, Any]]:
            page = self.request("POST", path, json={**(body or {}), "limit": PAGE, "offset": offset}, route=route or path)
            if not isinstance(page, list):
                raise TransportError(f"POST {self.url(path)} failed: expected a JSON list, got {type(page).__name__}",
                                     method="POST", url=self.url(path))
            if self.events is not None:
                self.events.on_rows(route or path, len(page))
            return page

        out: list[dict[str, Any]] = []
        offset = 0
        wave = max(1, parallel)
        while True:
            pages = self.map(page_at, [offset + i * PAGE for i in range(wave)]) if wave > 1 else [page_at(offset)]
            for page in pages:
                out.extend(page)
                if len(page) < PAGE:
                    return out
            offset += PAGE * wave

    # -- reads --------------------------------------------------------------

    def read_pools(self, names: Iterable[str] | None = None, *, parallel: int = 1) -> list[dict[str, Any]]:
        """Pools as ``WorkPoolResponse`` dicts: all of them, or those named (missing names are absent)."""
        if names is None:
            return self.paged("/work_pools/filter", parallel=parallel)
        wanted = sorted(set(names))
        if not wanted:
            return []
        pages = self.map(lambda chunk: self.paged("/work_pools/filter", {"work_pools": {"name": {"any_": chunk}}}),
                         list(_chunks(wanted, PAGE)))
        return [pool for page in pages for pool in page]

    def read_pool(self, name: str) -> dict[str, Any] | None:
        try:
            return self.request("GET", f"/work_pools/{enc(name)}", route="/work_pools/{name}")
        except NotFound:
            return None

    def read_queues(self, pool: str) -> list[dict[str, Any]]:
        """The queues of one pool (``WorkQueueResponse`` dicts, by priority)."""
        return self.paged(f"/work_pools/{enc(pool)}/queues/filter", route="/work_pools/{name}/queues/filter")

    def read_all_queues(self, *, parallel: int = 1) -> dict[str, list[dict[str, Any]]] | None:
        """Every queue of every pool through the legacy ``/work_queues/filter``, by ``work_pool_name``.

        Offset paging over a name order can skip or repeat rows when names tie
        (every pool has ``default``); a repeated id means the read was not
        reliable and None is returned, as it is when rows lack ``work_pool_name``.
        """
        rows = self.paged("/work_queues/filter", parallel=parallel)
        seen: set[str] = set()
        grouped: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            qid = str(row.get("id"))
            pool = row.get("work_pool_name")
            if qid in seen or not pool:
                return None
            seen.add(qid)
            grouped.setdefault(pool, []).append(row)
        return grouped

    def read_flow_run(self, run_id: str) -> dict[str, Any] | None:
        """A ``FlowRunResponse``, or None when the server has no run of that id."""
        try:
            return self.request("GET", f"/flow_runs/{enc(run_id)}", route="/flow_runs/{id}")
        except NotFound:
            return None

    def read_flow_runs(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Every run a ``/flow_runs/filter`` body matches (paged; a run seen twice while the
        pages moved under it is kept once)."""
        rows = self.paged("/flow_runs/filter", body)
        return list({str(r.get("id")): r for r in rows}.values())

    def read_workers(self, pool: str) -> list[dict[str, Any]]:
        """The workers of one pool (``WorkerResponse`` dicts)."""
        return self.paged(f"/work_pools/{enc(pool)}/workers/filter", route="/work_pools/{name}/workers/filter")

    def read_deployments(self, pool_names: Iterable[str]) -> list[dict[str, Any]]:
        names = sorted(set(pool_names))
        if not names:
            return []
        pages = self.map(
            lambda chunk: self.paged("/deployments/filter", {"work_pools": {"name": {"any_": chunk}}}),
            list(_chunks(names, PAGE)),
        )
        return [d for page in pages for d in page]

    def read_flows(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        wanted = sorted(set(ids))
        if not wanted:
            return []
        pages = self.map(lambda chunk: self.paged("/flows/filter", {"flows": {"id": {"any_": chunk}}}),
                         list(_chunks(wanted, PAGE)))
        return [f for page in pages for f in page]

    def count_flow_runs(self, body: dict[str, Any]) -> int:
        """``POST /flow_runs/count`` with a flow run filter body."""
        return int(self.request("POST", "/flow_runs/count", json=body))

    def read_worker_metadata(self) -> dict[str, Any]:
        return self.request("GET", "/collections/views/aggregate-worker-metadata")

    def server_version(self) -> str | None:
        try:
            value = self.request("GET", "/admin/version")
        except (NotFound, Unprocessable):
            return None
        return value if isinstance(value, str) else None

    # -- writes -------------------------------------------------------------

    def create_pool(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a pool; a 409 after a retried attempt means our first attempt created it."""
        try:
            return self.request("POST", "/work_pools/", json=body, route="/work_pools/")
        except Conflict as exc:
            if getattr(exc, "retried", False):
                existing = self.read_pool(body["name"])
                if existing is not None:
                    return existing
            raise

    def update_pool(self, name: str, body: dict[str, Any]) -> None:
        self.request("PATCH", f"/work_pools/{enc(name)}", json=body, route="/work_pools/{name}")

    def delete_pool(self, name: str) -> None:
        self.request("DELETE", f"/work_pools/{enc(name)}", route="/work_pools/{name}")

    def create_queue(self, pool: str, body: dict[str, Any]) -> dict[str, Any]:
        path = f"/work_pools/{enc(pool)}/queues"
        try:
            return self.request("POST", path, json=body, route="/work_pools/{name}/queues")
        except Conflict as exc:
            if getattr(exc, "retried", False):
                try:
                    return self.request("GET", f"{path}/{enc(body['name'])}", route="/work_pools/{name}/queues/{name}")
                except NotFound:
                    pass
            raise

    def update_queue(self, pool: str, name: str, body: dict[str, Any]) -> None:
        self.request("PATCH", f"/work_pools/{enc(pool)}/queues/{enc(name)}", json=body,
                     route="/work_pools/{name}/queues/{name}")

    def delete_queue(self, pool: str, name: str) -> None:
        self.request("DELETE", f"/work_pools/{enc(pool)}/queues/{enc(name)}", route="/work_pools/{name}/queues/{name}")
