"""Provider configuration: the ``provider "prefect"`` block plus ``PREFECT_*`` to a lazy API client.

Precedence: attribute, then environment (``reconciler.settings.ConnectionSettings``),
then the settings default. ``endpoint`` works with or without ``/api``.
Prefect Cloud as the official provider reaches it: with an account and a workspace id the API
URL is ``…/api/accounts/{account_id}/workspaces/{workspace_id}`` (:func:`workspace_api_url`);
the account comes from ``account_id``, else ``PREFECT_CLOUD_ACCOUNT_ID``, else the endpoint's
path, the workspace from ``workspace_id``, else the endpoint's path (the official provider has
no variable for it). On ``api.prefect.cloud`` an API key is required.
``allow_unknown_type`` (not in the official provider) accepts pool types that are no known
worker type. :attr:`ProviderState.planned` holds what this process planned (sibling rules).
The client (httpx) is created on first use, once, under a lock.
"""

from __future__ import annotations

import dataclasses
import os
import re
import threading
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from reconciler.provider.codec import UNKNOWN, Diags, ProviderError
from reconciler.settings import endpoint_api_url  # noqa: F401 - one rule for the CLI and the provider
from reconciler.settings import endpoint_problem as _endpoint_problem

_CLIENT_ATTRS = ("endpoint", "api_key", "basic_auth_key", "account_id", "workspace_id")
ACCOUNT_ENV = "PREFECT_CLOUD_ACCOUNT_ID"
CLOUD_HOST = "api.prefect.cloud"
_SCOPE = re.compile(r"/accounts/([^/]+)/workspaces/([^/]+)$")


def workspace_api_url(api_url: str, account_id: str | None = None, workspace_id: str | None = None) -> str:
    """The API URL scoped to a Prefect Cloud workspace, by the official provider's rule: the ids in
    ``api_url``'s path (``…/accounts/{a}/workspaces/{w}``) unless ``account_id`` / ``workspace_id``
    are given; scoped only when both are known. Raises ValueError naming an id that is no UUID."""
    parts = urlsplit(api_url)
    path = parts.path.rstrip("/")
    found = _SCOPE.search(path)
    account, workspace = (found.group(1), found.group(2)) if found else (None, None)
    if found:
        path = path[:found.start()]
    account, workspace = account_id or account, workspace_id or workspace
    for name, value in (("account_id", account), ("workspace_id", workspace)):
        if value is not None:
            try:
                uuid.UUID(value)
            except ValueError:
                raise ValueError(f"{name} {value!r} is not a UUID") from None
    if account and workspace:
        path += f"/accounts/{account}/workspaces/{workspace}"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


class ProviderState:
    """What ConfigureProvider set; shared by every resource and data source call (thread-safe)."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        self._lock = threading.Lock()
        self._settings: Any = None
        self._client: Any = None
        self._readers: tuple[Any, Any, Any] | None = None
        self._problem: tuple[str, str] | None = ("Provider not configured",
                                                 "Terraform did not configure the prefect provider before use.")
        self.allow_unknown_type = False
        """``allow_unknown_type`` of the provider block: a pool type that is no known worker type is accepted."""
        from reconciler.provider.siblings import Planned

        self.planned = Planned()
        self._pool_locks: dict[str, threading.Lock] = {}

    def validate(self, config: dict[str, Any], diags: Diags) -> None:
        allow = config.get("allow_unknown_type")
        if allow is not None and allow is not UNKNOWN and not isinstance(allow, bool):
            diags.error("Invalid allow_unknown_type", "Set it to true or false.", ("allow_unknown_type",))
        endpoint = config.get("endpoint")
        if isinstance(endpoint, str):
            problem = _endpoint_problem(endpoint)
            if problem:
                diags.error("Invalid provider endpoint", problem, ("endpoint",))
        for name in ("account_id", "workspace_id"):
            value = _text(config.get(name))
            if value is not None:
                try:
                    uuid.UUID(value)
                except ValueError:
                    diags.error(f"Invalid {name}", f"{name} {value!r} is not a UUID. Copy the id from the Prefect "
                                "Cloud URL (…/account/<account_id>/workspace/<workspace_id>/…).", (name,))

    def configure(self, config: dict[str, Any], diags: Diags) -> None:
        from reconciler.settings import ConnectionSettings

        with self._lock:
            self._client = None
            self.allow_unknown_type = config.get("allow_unknown_type") in (True, UNKNOWN)  # unknown: cannot refuse
            unknown = [name for name in _CLIENT_ATTRS if config.get(name) is UNKNOWN]
            if unknown:
                self._problem = ("Provider configuration not known yet",
                                 f"{', '.join(unknown)} depend(s) on values known only after apply; the prefect "
                                 "provider needs them to reach the server. Use values known at plan time.")
                return
            endpoint = config.get("endpoint")
            if isinstance(endpoint, str) and endpoint.strip():
                problem = _endpoint_problem(endpoint)
                if problem:
                    diags.error("Invalid provider endpoint", problem, ("endpoint",))
                    self._problem = ("Invalid provider endpoint", problem)
                    return
                api_url: str | None = endpoint_api_url(endpoint)
            else:
                api_url = None
            try:
                settings = ConnectionSettings.from_env(api_url=api_url, environ=self._environ)
            except ValueError as exc:
                diags.error("Invalid Prefect connection settings", f"{exc}. Fix the environment variable.")
                self._problem = ("Invalid Prefect connection settings", str(exc))
                return
            if config.get("api_key"):
                settings = dataclasses.replace(settings, api_key=config["api_key"])
            if config.get("basic_auth_key"):
                settings = dataclasses.replace(settings, auth_string=config["basic_auth_key"])
            account = _text(config.get("account_id")) or _text(self._environ.get(ACCOUNT_ENV))
            try:
                api_url = workspace_api_url(settings.api_url, account, _text(config.get("workspace_id")))
            except ValueError as exc:
                source = ACCOUNT_ENV if "account_id" in str(exc) and not _text(config.get("account_id")) else None
                detail = (f"{exc} (from {source})." if source else f"{exc}.") + (
                    " Write the UUIDs of your Prefect Cloud account and workspace.")
                diags.error("Invalid Prefect Cloud id", detail)
                self._problem = ("Invalid Prefect Cloud id", detail)
                return
            settings = dataclasses.replace(settings, api_url=api_url)
            if urlsplit(api_url).hostname == CLOUD_HOST and not settings.api_key:
                detail = ("The endpoint is Prefect Cloud, which needs an API key: set api_key or PREFECT_API_KEY, "
                          "or point endpoint / PREFECT_API_URL at a self-hosted Prefect server.")
                diags.error("Missing Prefect API Key", detail, ("api_key",))
                self._problem = ("Missing Prefect API Key", detail)
                return
            self._settings = settings
            self._problem = None

    def pool_lock(self, pool: str) -> threading.Lock:
        """Serializes this process's priority writes in one pool (read, set, move the queues in the way)."""
        with self._lock:
            return self._pool_locks.setdefault(pool, threading.Lock())

    @property
    def api_url(self) -> str:
        return self._settings.api_url if self._settings is not None else ""

    def client(self) -> Any:
        """The shared ``PrefectClient``; raises ProviderError when the provider cannot reach a server."""
        with self._lock:
            if self._problem is not None:
                raise ProviderError(*self._problem)
            if self._client is None:
                from reconciler.api.client import PrefectClient

                self._client = PrefectClient(self._settings)
            return self._client

    def readers(self) -> tuple[Any, Any]:
        """Coalescing readers ``(pools by name, queue lists by pool)`` over the shared client."""
        client = self.client()
        with self._lock:
            if self._readers is None or self._readers[0] is not client:
                from reconciler.errors import NotFound
                from reconciler.provider.reads import BatchReader

                def pools(names: list[str]) -> dict[str, Any]:
                    return {p["name"]: p for p in client.read_pools(names)}

                def queues(pool_names: list[str]) -> dict[str, Any]:
                    def one(pool: str) -> Any:
                        try:
                            return client.read_queues(pool)
                        except NotFound:
                            return None
                    return dict(zip(pool_names, client.map(one, pool_names)))

                self._readers = (client, BatchReader(pools), BatchReader(queues))
            return self._readers[1], self._readers[2]

    def written(self) -> None:
        """Forget coalesced reads after a write."""
        with self._lock:
            readers = self._readers
        if readers is not None:
            readers[1].invalidate()
            readers[2].invalidate()
