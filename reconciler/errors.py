"""The one exception tree of poolform (faults, not user mistakes).

User and config problems are :class:`reconciler.diagnostics.Diagnostic` values,
collected and reported together. Exceptions are for faults that stop an
operation::

    PoolformError
     ├── ApiError                  an HTTP call failed (carries status, body, method, url)
     │    ├── Unauthorized         401
     │    ├── Forbidden            403
     │    ├── NotFound             404
     │    ├── Conflict             409
     │    ├── Unprocessable        422
     │    ├── ServerError          5xx (after retries)
     │    └── TransportError       unreachable, timeout, not JSON
     ├── StalePlanError            a saved plan no longer matches the server (carries the changed addresses)
     ├── InvalidPlanError          a plan file that does not hold together: its steps are not its
     │                             changes' steps, its summary miscounts, ... (also a ValueError)
     ├── ApplyError                an apply stopped part-way (carries what was applied)
     ├── ConfigError               a config could not be read at all (carries diagnostics)
     └── InstallError              the provider's mirror cannot be written (its index is not one)

HTTP responses are mapped to these in one place: ``reconciler.api.client``.
Only the CLI turns them into messages and exit codes.
"""

from __future__ import annotations

from typing import Any


class PoolformError(Exception):
    """Base of every poolform fault."""


class ForgeError(PoolformError):
    """A call to the GitHub or GitLab API (the CI scripts' comments and issues) failed."""


class ApiError(PoolformError):
    """An HTTP call to a Prefect-compatible server failed."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: Any = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.method = method
        self.url = url

    @property
    def detail(self) -> str:
        """The server's own words, from a Prefect error body when there is one."""
        body = self.body
        if isinstance(body, dict):
            for key in ("detail", "exception_message"):
                if key in body:
                    value = body[key]
                    extra = body.get("exception_detail")
                    if extra:
                        return f"{value} {extra}"
                    return value if isinstance(value, str) else str(value)
        if body is None:
            return ""
        return str(body)


class Unauthorized(ApiError):
    """401: the API key or basic-auth string is missing or wrong."""


class Forbidden(ApiError):
    """403: e.g. a reserved ``prefect*`` pool name, or a CSRF refusal."""


class NotFound(ApiError):
    """404."""


class Conflict(ApiError):
    """409: a name already exists, or an integrity conflict."""


class Unprocessable(ApiError):
    """422: the server rejected the body."""


class ServerError(ApiError):
    """5xx that persisted after retries."""


class TransportError(ApiError):
    """The server could not be reached, timed out, or answered something that is not JSON."""


class StalePlanError(PoolformError):
    """A saved plan was made against a server state that has changed since."""

    def __init__(self, message: str, changed: list[str]) -> None:
        super().__init__(message)
        self.changed = changed


class InvalidPlanError(PoolformError, ValueError):
    """A plan document that is not what ``poolform plan`` writes: its steps are not the steps of its
    changes, a step touches an address that is not among them, its summary miscounts them, its
    ``before`` values are not the server's, or its format is one this version does not apply.
    ``problems`` says each; ``addresses`` names the objects concerned (possibly none)."""

    def __init__(self, message: str, problems: list[str], addresses: list[str]) -> None:
        super().__init__(message)
        self.problems = problems
        self.addresses = addresses


class ApplyError(PoolformError):
    """An apply stopped part-way; ``applied`` lists the steps (``reconciler.plan.steps.Step``) that did
    take effect, ``failed`` the one that failed."""

    def __init__(self, message: str, *, applied: list[Any], failed: Any | None, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.applied = applied
        self.failed = failed
        self.cause = cause


class ConfigError(PoolformError):
    """Config files could not be turned into a desired state; ``diagnostics`` says why."""

    def __init__(self, diagnostics: Any) -> None:
        super().__init__("invalid configuration")
        self.diagnostics = diagnostics


class InstallError(PoolformError):
    """``poolform terraform install`` cannot write its mirror: an existing index file is not one."""


class ProfileError(PoolformError):
    """A Prefect profiles file (profiles.toml) cannot be read, or does not hold the profile asked for."""
