"""Diagnostics: user and config problems as values (after terraform's tfdiags).

A :class:`Diagnostic` has a severity, a one-line summary, a detail that says what
to do next, the object's address (``work_pool.x``, ``work_queue.x.q``), a source
range (file:line:column) and a path inside the object. Code that finds problems
appends to a :class:`Diagnostics` list and goes on; the CLI reports them all.
This module must not print.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Pos:
    """A 1-based line and column."""

    line: int
    column: int = 1


@dataclass(frozen=True)
class SourceRange:
    """Where something was written: a file and a start (and optional end) position."""

    filename: str
    start: Pos
    end: Pos | None = None

    def __str__(self) -> str:
        return f"{self.filename}:{self.start.line}:{self.start.column}"

    def to_json(self) -> dict[str, Any]:
        end = self.end or self.start
        return {
            "filename": self.filename,
            "start": {"line": self.start.line, "column": self.start.column},
            "end": {"line": end.line, "column": end.column},
        }


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    summary: str
    detail: str = ""
    address: str | None = None
    range: SourceRange | None = None
    path: tuple[str | int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": str(self.severity),
            "summary": self.summary,
            "detail": self.detail,
            "address": self.address,
            "range": self.range.to_json() if self.range else None,
            "path": list(self.path),
        }

    def format(self) -> str:
        """One human block: ``file:line:col: error: summary [address]`` then the detail."""
        where = f"{self.range}: " if self.range else ""
        addr = f" [{self.address}]" if self.address else ""
        text = f"{where}{self.severity}: {self.summary}{addr}"
        if self.detail:
            text += "\n  " + self.detail.replace("\n", "\n  ")
        return text


@dataclass
class Diagnostics:
    """An ordered, appendable list of diagnostics."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, summary: str, detail: str = "", *, address: str | None = None,
              range: SourceRange | None = None, path: Iterable[str | int] = ()) -> None:
        self.items.append(Diagnostic(Severity.ERROR, summary, detail, address, range, tuple(path)))

    def warning(self, summary: str, detail: str = "", *, address: str | None = None,
                range: SourceRange | None = None, path: Iterable[str | int] = ()) -> None:
        self.items.append(Diagnostic(Severity.WARNING, summary, detail, address, range, tuple(path)))

    def append(self, other: "Diagnostic | Diagnostics | Iterable[Diagnostic]") -> None:
        if isinstance(other, Diagnostic):
            self.items.append(other)
        else:
            self.items.extend(other)

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.items)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity is Severity.WARNING]

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def to_json(self) -> list[dict[str, Any]]:
        return [d.to_json() for d in self.items]
