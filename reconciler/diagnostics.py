"""Diagnostics: user and config problems as values (after terraform's tfdiags).

A :class:`Diagnostic` has a severity, a one-line summary, a detail that says what
to do next, the object's address (``work_pool.x``, ``work_queue.x.q``), a source
range (file:line:column), a path inside the object and a stable ``code`` from
:data:`CODES` (what kind of problem it is, for CI to branch on without reading the
text). Code that finds problems appends to a :class:`Diagnostics` list and goes on;
the CLI reports them all. This module must not print.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Code(enum.StrEnum):
    """The vocabulary of diagnostic codes: every JSON diagnostic carries one (``"code"``).

    Codes are stable: new ones may be added, none is renamed or reused. Each is described
    in :data:`CODES` (the table docs/cli.md shows)."""

    USAGE = "usage"
    UNREADABLE_INPUT = "unreadable_input"
    READ_OUTSIDE_ROOT = "read_outside_root"
    NO_CONFIGURATION = "no_configuration"
    SYNTAX_ERROR = "syntax_error"
    YAML_TOO_LARGE = "yaml_too_large"
    INPUT_TOO_LARGE = "input_too_large"
    TEMPLATE_TOO_LARGE = "template_too_large"
    MASKED_VALUE = "masked_value"
    INVALID_CONFIG = "invalid_config"
    POLICY_VIOLATION = "policy_violation"
    INVALID_POLICY = "invalid_policy"
    INVALID_PLAN_FILE = "invalid_plan_file"
    STALE_PLAN = "stale_plan"
    API_UNREACHABLE = "api_unreachable"
    API_UNAUTHORIZED = "api_unauthorized"
    API_ERROR = "api_error"
    NOT_FOUND = "not_found"
    APPLY_FAILED = "apply_failed"
    CANCELLED = "cancelled"
    IO_ERROR = "io_error"
    ERROR = "error"
    WARNING = "warning"


CODES: dict[Code, str] = {
    Code.USAGE: "the command line is wrong: unknown option, missing argument, bad value, options that "
                "exclude each other (exit 1)",
    Code.UNREADABLE_INPUT: "a config path, a file found in a directory or a file a config names cannot be read: "
                           "missing, a dangling or looping symlink, no permission, not UTF-8, not a regular file",
    Code.READ_OUTSIDE_ROOT: "a file reference (`file:`, `file()`, `templatefile()`, a symlink) leads outside the "
                            "configuration's root; widen it with --allow-read DIR",
    Code.NO_CONFIGURATION: "no poolform config was found",
    Code.SYNTAX_ERROR: "a file is not valid YAML, JSON or HCL",
    Code.YAML_TOO_LARGE: "a YAML document is over the size, value-count, alias-expansion or nesting limits",
    Code.INPUT_TOO_LARGE: "a file or a rendered templatefile() is over the size limit",
    Code.TEMPLATE_TOO_LARGE: "a base job template is over the size or nesting limits",
    Code.MASKED_VALUE: "a config or plan file holds a value poolform masked on output (`[masked:NAME]`); "
                       "put the real value back",
    Code.INVALID_CONFIG: "any other problem in the configuration (format, names, priorities, templates)",
    Code.POLICY_VIOLATION: "the planned configuration breaks a policy rule it declares (an error, or a warning "
                           "for a rule of severity warning); the summary names the rule",
    Code.INVALID_POLICY: "a policy rule cannot be used: a bad rule file, an invalid schema, a reference outside "
                         "the rule, a pattern RE2 cannot run, a duplicate id",
    Code.INVALID_PLAN_FILE: "a plan file cannot be applied or shown as it is: unreadable, not a poolform plan, "
                            "not the plan it shows (edited), errored, made for another server, or printed with "
                            "masked values",
    Code.STALE_PLAN: "the server changed since the plan was made; make a new plan",
    Code.API_UNREACHABLE: "the server could not be reached, timed out or did not answer JSON",
    Code.API_UNAUTHORIZED: "the server refused the credentials (401)",
    Code.API_ERROR: "the server answered an error",
    Code.NOT_FOUND: "a pool named on the command line does not exist on the server",
    Code.APPLY_FAILED: "an apply stopped part-way; what was applied is listed",
    Code.CANCELLED: "apply was not approved",
    Code.IO_ERROR: "a file could not be written or read outside the configuration (--out, -o, plan files)",
    Code.ERROR: "any other error",
    Code.WARNING: "any warning",
}


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
    code: str | None = None
    """One of :class:`Code`; None means the generic one for its severity."""

    @property
    def effective_code(self) -> str:
        return str(self.code or (Code.ERROR if self.severity is Severity.ERROR else Code.WARNING))

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": str(self.severity),
            "summary": self.summary,
            "detail": self.detail,
            "address": self.address,
            "range": self.range.to_json() if self.range else None,
            "path": list(self.path),
            "code": self.effective_code,
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
              range: SourceRange | None = None, path: Iterable[str | int] = (), code: str | None = None) -> None:
        self.items.append(Diagnostic(Severity.ERROR, summary, detail, address, range, tuple(path), code))

    def warning(self, summary: str, detail: str = "", *, address: str | None = None,
                range: SourceRange | None = None, path: Iterable[str | int] = (), code: str | None = None) -> None:
        self.items.append(Diagnostic(Severity.WARNING, summary, detail, address, range, tuple(path), code))

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
