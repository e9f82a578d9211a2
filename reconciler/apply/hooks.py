"""Progress reporting for an apply: the :class:`ApplyHooks` protocol and two renderers.

* :class:`HumanHooks` prints terraform-like lines ("work_pool.x: Creating...",
  "work_pool.x: Creation complete after 0s") and the final summary.
* :class:`JsonLinesHooks` prints typed JSON messages, one per line, after
  terraform's machine-readable UI (``apply_start``, ``apply_complete``,
  ``apply_errored``, ``change_summary``, ``diagnostic``).

Steps are :class:`reconciler.plan.steps.Step` values; their progress verbs and
actions come from the step vocabulary (``SPECS``). Hooks may be called from
several threads at once; both renderers lock around each write. Must not decide
anything about the apply.
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import datetime, timezone
from typing import Any, Protocol, TextIO

from reconciler import __version__
from reconciler.model.state import printable
from reconciler.plan.steps import Step

def summary_line(added: int, changed: int, destroyed: int) -> str:
    return f"Apply complete! Resources: {added} added, {changed} changed, {destroyed} destroyed."


class ApplyHooks(Protocol):
    def on_step_start(self, step: Step) -> None: ...

    def on_step_done(self, step: Step, seconds: float) -> None: ...

    def on_step_error(self, step: Step, error: BaseException) -> None: ...


class NullHooks:
    def on_step_start(self, step: Step) -> None:
        pass

    def on_step_done(self, step: Step, seconds: float) -> None:
        pass

    def on_step_error(self, step: Step, error: BaseException) -> None:
        pass


class HumanHooks:
    """Terraform-like progress lines on ``out`` (errors go to ``err``)."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None, *, color: bool = False) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.color = color
        self._lock = threading.Lock()

    def _bold(self, text: str) -> str:
        return f"\x1b[1m{text}\x1b[0m" if self.color else text

    def _write(self, stream: TextIO, line: str) -> None:
        with self._lock:
            stream.write(line + "\n")
            stream.flush()

    def on_step_start(self, step: Step) -> None:
        self._write(self.out, f"{self._bold(printable(step.address))}: {step.spec.progress}")

    def on_step_done(self, step: Step, seconds: float) -> None:
        self._write(self.out, f"{self._bold(printable(step.address))}: {step.spec.done} after {seconds:.0f}s")

    def on_step_error(self, step: Step, error: BaseException) -> None:
        text = f"Error: {printable(step.address)}: {error}"
        self._write(self.err, f"\x1b[31m{text}\x1b[0m" if self.color else text)

    def summary(self, added: int, changed: int, destroyed: int) -> None:
        line = summary_line(added, changed, destroyed)
        self._write(self.out, "\n" + (f"\x1b[1;32m{line}\x1b[0m" if self.color else line))


class JsonLinesHooks:
    """Typed JSON messages, one per line, in the shape of terraform's ``-json`` UI."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self._lock = threading.Lock()

    def emit(self, type_: str, message: str, level: str = "info", **extra: Any) -> None:
        record = {
            "@level": level,
            "@message": message,
            "@module": "poolform.ui",
            "@timestamp": datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "type": type_,
            **extra,
        }
        with self._lock:
            self.out.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.out.flush()

    def version(self) -> None:
        self.emit("version", f"poolform {__version__}", poolform=__version__, ui="1.0")

    def _hook(self, step: Step) -> dict[str, Any]:
        return {"resource": {"addr": step.address, "resource_type": step.spec.target.value, "pool": step.pool,
                             "name": step.queue or step.pool},
                "action": step.spec.action.value, "op": step.op.value}

    def on_step_start(self, step: Step) -> None:
        self.emit("apply_start", f"{step.address}: {step.spec.progress}", hook=self._hook(step))

    def on_step_done(self, step: Step, seconds: float) -> None:
        hook = {**self._hook(step), "elapsed_seconds": round(seconds, 3)}
        self.emit("apply_complete", f"{step.address}: {step.spec.done} after {seconds:.0f}s", hook=hook)

    def on_step_error(self, step: Step, error: BaseException) -> None:
        hook = {**self._hook(step), "error": str(error)}
        self.emit("apply_errored", f"{step.address}: {error}", level="error", hook=hook)

    def change_summary(self, added: int, changed: int, destroyed: int, operation: str = "apply") -> None:
        if operation == "apply":
            message = summary_line(added, changed, destroyed)
        else:
            message = f"Plan: {added} to add, {changed} to change, {destroyed} to destroy."
        self.emit("change_summary", message,
                  changes={"add": added, "change": changed, "remove": destroyed, "operation": operation})

    def diagnostic(self, severity: str, summary: str, detail: str = "", address: str | None = None,
                   range: dict[str, Any] | None = None, code: str | None = None) -> None:
        self.emit("diagnostic", summary, level="error" if severity == "error" else "warn",
                  diagnostic={"severity": severity, "summary": summary, "detail": detail, "address": address,
                              "range": range, "code": code or ("error" if severity == "error" else "warning")})
