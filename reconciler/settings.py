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
    def from_env(cls, api_url: str | None = None, environ: Mapping[str, str] | None = None) -> "ConnectionSettings":
        """Settings from ``environ`` (default ``os.environ``); ``api_url`` (a flag) beats PREFECT_API_URL.

        Raises ValueError with a one-line message for a malformed number.
        """
        env = os.environ if environ is None else environ
        url = api_url or env.get("PREFECT_API_URL") or DEFAULT_API_URL
        auth = env.get("PREFECT_API_AUTH_STRING") or env.get("PREFECT_BASIC_AUTH_KEY") or None
        return cls(
            api_url=normalize_api_url(url),
            api_key=env.get("PREFECT_API_KEY") or None,
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
