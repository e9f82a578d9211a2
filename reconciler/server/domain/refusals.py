"""Why the domain refuses a request: one exception per kind, each carrying Prefect's ``detail``.

The routes map a kind to its status code (``routes.status_of``); nothing here speaks HTTP.
Also the refusals that are worded the same in several modules (missing pool, missing queue).
"""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    """The request cannot be done; ``detail`` is the body's ``detail`` (usually a sentence),
    or its ``exception_message`` where Prefect answers with that key (``key``)."""

    def __init__(self, detail: Any, *, key: str = "detail") -> None:
        super().__init__(detail)
        self.detail = detail
        self.key = key

    def body(self) -> dict[str, Any]:
        return {self.key: self.detail}


class NotFound(Refusal):
    """The object named does not exist."""


class Conflict(Refusal):
    """The request contradicts what exists (a duplicate name, the default queue, a stale state)."""


class Forbidden(Refusal):
    """The object is reserved (``prefect*`` pools)."""


class Invalid(Refusal):
    """The request is well-formed but its values cannot be used (limits, templates, dates)."""


class NotNow(Refusal):
    """The object is in a state that does not allow this change (job variables of a started run)."""


def pool_not_found(name: str) -> NotFound:
    return NotFound(f'Work pool "{name}" not found.')


def queue_not_found(pool: str, queue: str) -> NotFound:
    return NotFound(f"Work pool queue '{pool}/{queue}' not found.")


def queue_id_not_found() -> NotFound:
    return NotFound("work queue not found")


def object_not_found(kind: str, object_id: str, end: str = "") -> NotFound:
    """Prefect's ``ObjectNotFoundError`` body (``{"exception_message": ...}``), as the routes
    that let it through word it: ``Work queue with id <id> not found`` (``end`` adds a period
    where Prefect's text has one)."""
    return NotFound(f"{kind} with id {object_id} not found{end}", key="exception_message")


def null_field(key: str) -> Invalid:
    return Invalid(f"{key} cannot be null; send a value or leave the key out.")


__all__ = ["Refusal", "NotFound", "Conflict", "Forbidden", "Invalid", "NotNow", "pool_not_found",
           "queue_not_found", "queue_id_not_found", "object_not_found", "null_field"]
