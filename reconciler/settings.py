"""Connection settings from flags and the ``PREFECT_*`` environment (prefect-api.md §7, house-style C5).

Owns: which server to talk to, how to authenticate, timeouts, retries, TLS
verification, and whether we run in automation (CI). Must not do I/O beyond
reading the given environment mapping.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import urlsplit, urlunsplit

DEFAULT_API_URL = "http://127.0.0.1:4200/api"
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 5

_TRUE = {"1", "true", "yes", "on", "t", "y"}


def normalize_api_url(url: str) -> str:
    """Strip trailing slashes; append ``/api`` when the URL has no path at all."""
    url = url.strip()
    if not url:
        return DEFAULT_API_URL
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if not path:
        path = "/api"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def endpoint_api_url(endpoint: str) -> str:
    """The API URL of a Terraform provider ``endpoint``: ``http://h:4200`` and ``http://h:4200/api/`` both give
    ``.../api`` (the official provider appends ``/api`` when it is missing)."""
    url = endpoint.strip().rstrip("/")
    if not url.endswith("/api") and "/api/" not in url + "/":
        url += "/api"
    return url


def redact_url(url: str) -> str:
    """``url`` without a password in its user info (for messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def endpoint_problem(endpoint: str) -> str | None:
    """Why ``endpoint`` cannot be a Prefect API URL, or None."""
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return (f"endpoint {redact_url(endpoint)!r} is not an http(s) URL. Write the Prefect API URL, e.g. "
                "\"http://127.0.0.1:4200/api\" (the trailing /api is optional).")
    return None


@dataclass(frozen=True)
class ProviderBlock:
    """What an HCL config's ``provider "prefect"`` block sets, and where (``"main.tf:3"``) for messages.

    The keys are secrets: they are never part of a repr, a message or an output.
    """

    where: str
    endpoint: str | None = None
    api_key: str | None = field(default=None, repr=False)
    basic_auth_key: str | None = field(default=None, repr=False)
    allow_unknown_type: bool = False
    """Not a connection setting: a pool type that is no known worker type is accepted (``--allow-unknown-type``)."""


def in_automation(environ: Mapping[str, str] | None = None) -> bool:
    """True under CI or POOLFORM_IN_AUTOMATION (non-empty), like terraform's TF_IN_AUTOMATION."""
    env = os.environ if environ is None else environ
    return bool(env.get("CI") or env.get("POOLFORM_IN_AUTOMATION"))


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{key}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise ValueError(f"{key}={raw!r} must be greater than 0")
    return value


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{key}={raw!r} is not a whole number") from None
    if value < 0:
        raise ValueError(f"{key}={raw!r} must not be negative")
    return value


@dataclass(frozen=True)
class ConnectionSettings:
    """How to reach a Prefect-compatible API.

    ``api_url`` always ends with the API base path (``.../api``), never with ``/``.
    When both ``auth_string`` and ``api_key`` are set, ``auth_string`` wins (Basic),
    as Prefect's client does.
    """

    api_url: str = DEFAULT_API_URL
    api_key: str | None = field(default=None, repr=False)
    auth_string: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    verify: bool = True

    @classmethod
    def from_env(cls, api_url: str | None = None, environ: Mapping[str, str] | None = None,
                 provider: ProviderBlock | None = None, profile: Mapping[str, str] | None = None) -> "ConnectionSettings":
        """Settings from ``environ`` (default ``os.environ``) and an HCL config's provider block.

        The server: ``api_url`` (the ``--api-url`` flag), else the provider block's ``endpoint``,
        else PREFECT_API_URL, else the active Prefect profile's (``profile``: its settings), else the
        default. Credentials: the provider block's ``api_key`` / ``basic_auth_key``, else PREFECT_API_KEY /
        PREFECT_API_AUTH_STRING or PREFECT_BASIC_AUTH_KEY (Terraform's rule: a provider attribute beats its
        environment variable), else the profile's. Every other setting: the environment variable, else the
        profile's, else the default (Prefect's order: environment variables over profile values). When the flag
        overrides the server, the provider block is not used at all, so its credentials never
        go to a server it does not name. Raises ValueError with a one-line message for a malformed number.
        """
        given = os.environ if environ is None else environ
        env = {**{k: v for k, v in (profile or {}).items() if v != ""},
               **{k: v for k, v in given.items() if k.startswith("PREFECT_") and v != ""}} if profile else given
        block = provider if (provider is not None and not api_url) else None
        if api_url:
            url = normalize_api_url(api_url)
        elif block is not None and block.endpoint:
            url = endpoint_api_url(block.endpoint)
        else:
            url = normalize_api_url(env.get("PREFECT_API_URL") or DEFAULT_API_URL)
        api_key = (block.api_key if block is not None else None) or env.get("PREFECT_API_KEY") or None
        auth = ((block.basic_auth_key if block is not None else None) or env.get("PREFECT_API_AUTH_STRING")
                or env.get("PREFECT_BASIC_AUTH_KEY") or None)
        return cls(
            api_url=url,
            api_key=api_key,
            auth_string=auth,
            timeout=_float(env, "PREFECT_API_REQUEST_TIMEOUT", DEFAULT_TIMEOUT),
            max_retries=_int(env, "PREFECT_CLIENT_MAX_RETRIES", DEFAULT_MAX_RETRIES),
            verify=(env.get("PREFECT_API_TLS_INSECURE_SKIP_VERIFY", "").strip().lower() not in _TRUE),
        )

    @property
    def authorization(self) -> str | None:
        """The ``Authorization`` header value, or None."""
        if self.auth_string:
            return "Basic " + base64.b64encode(self.auth_string.encode()).decode()
        if self.api_key:
            return f"Bearer {self.api_key}"
        return None
