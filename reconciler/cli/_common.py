"""Shared pieces of the commands that talk to a server: options, output, errors, the client.

Owns: the click options ``-f``, ``--var``, ``--api-url``, ``--json``, ``--no-color``;
colour and automation decisions; printing diagnostics (warnings to stdout,
errors to stderr); turning faults into ONE ``Error: ...`` line and exit 1; and
building the API client (``CLIENT_FACTORY`` lets tests inject an in-process one).
Must not hold plan or apply logic. Heavy imports stay inside functions.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterator, NoReturn, Sequence, TextIO

import click

if TYPE_CHECKING:
    from reconciler.api.client import PrefectClient
    from reconciler.model.state import DesiredState
    from reconciler.settings import ConnectionSettings

CLIENT_FACTORY: "Callable[[ConnectionSettings], PrefectClient] | None" = None
"""When set (tests), builds the client instead of a network ``httpx.Client``."""

STDIN_IS_TTY: Callable[[], bool] = lambda: sys.stdin.isatty()  # noqa: E731


def files_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "-f", "--file", "files", multiple=True, metavar="PATH",
        help="Config file or directory (*.yaml, *.yml, *.tf); repeat to merge, later wins. Default: the current directory.",
    )(fn)


def var_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--var", "variables", multiple=True, metavar="NAME=VALUE",
                        help="Set an HCL input variable (repeatable).")(fn)


def api_url_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--api-url", metavar="URL",
                        help="Prefect API URL (default: PREFECT_API_URL, else http://127.0.0.1:4200/api).")(fn)


def no_color_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--no-color", is_flag=True, help="No ANSI colours (also off when NO_COLOR is set or output is not a terminal).")(fn)


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(fn)


# -- output ---------------------------------------------------------------------


def use_color(no_color: bool, stream: TextIO | None = None) -> bool:
    """ANSI colour only on a terminal, never with --no-color, NO_COLOR or in automation."""
    if no_color or os.environ.get("NO_COLOR") or automation():
        return False
    stream = stream or sys.stdout
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def automation() -> bool:
    from reconciler.settings import in_automation

    return in_automation()


def echo(text: str = "", *, err: bool = False, nl: bool = True) -> None:
    click.echo(text, err=err, nl=nl)


_JSON_ERRORS: list[Callable[[dict[str, Any]], None]] = []
"""While a ``--json`` command runs: where its error diagnostics also go, as JSON on stdout."""


@contextlib.contextmanager
def json_errors(sink: Callable[[dict[str, Any]], None]) -> Iterator[None]:
    """Also hand every error (``fail``, error diagnostics) to ``sink`` while the block runs."""
    _JSON_ERRORS.append(sink)
    try:
        yield
    finally:
        _JSON_ERRORS.remove(sink)


@contextlib.contextmanager
def json_error_document() -> Iterator[None]:
    """For a command whose stdout is one JSON document: on a failing exit, print
    ``{"format_version", "poolform_version", "errored": true, "diagnostics": [...]}`` so stdout still parses."""
    import json

    from reconciler import __version__

    collected: list[dict[str, Any]] = []
    try:
        with json_errors(collected.append):
            yield
    except SystemExit as exc:
        if exc.code not in (0, None) and collected:
            click.echo(json.dumps({"format_version": "1.0", "poolform_version": __version__, "errored": True,
                                   "applyable": False, "diagnostics": collected}, indent=2, ensure_ascii=False))
        raise


def _to_json_sinks(diagnostic: dict[str, Any]) -> None:
    if _JSON_ERRORS:
        _JSON_ERRORS[-1](diagnostic)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``Error: message`` on stderr (and to the JSON sink, if any) and exit."""
    _to_json_sinks({"severity": "error", "summary": message, "detail": ""})
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def print_diagnostics(diags: Any, *, color: bool = False, warnings_to_stderr: bool = False) -> None:
    """Warnings to stdout (stderr when stdout carries JSON or markdown), errors to stderr, all of them."""
    items = diags.to_json() if hasattr(diags, "to_json") else list(diags or [])
    if not items:
        return
    render = _diagnostics_renderer()
    warnings = [d for d in items if d.get("severity") != "error"]
    errors = [d for d in items if d.get("severity") == "error"]
    for diagnostic in errors:
        _to_json_sinks(diagnostic)
    for group, err in ((warnings, warnings_to_stderr), (errors, True)):
        if not group:
            continue
        if render is not None:
            text = render(group, color=color)
        else:
            text = "\n\n".join(_format_diagnostic(d) for d in group)
        click.echo(text.rstrip("\n"), err=err)


def _diagnostics_renderer() -> Callable[..., str] | None:
    try:
        from reconciler.views.diagnostics import render_diagnostics
    except ImportError:
        return None
    return render_diagnostics


def _format_diagnostic(d: dict[str, Any]) -> str:
    rng = d.get("range")
    where = f"{rng['filename']}:{rng['start']['line']}:{rng['start']['column']}: " if rng else ""
    addr = f" [{d['address']}]" if d.get("address") else ""
    text = f"{where}{d.get('severity', 'error')}: {d.get('summary', '')}{addr}"
    if d.get("detail"):
        text += "\n  " + str(d["detail"]).replace("\n", "\n  ")
    return text


# -- errors ---------------------------------------------------------------------


@contextlib.contextmanager
def errors_to_exit() -> Iterator[None]:
    """Turn faults into one ``Error:`` line and exit 1 (never a traceback)."""
    from reconciler.errors import ConfigError, PoolformError

    try:
        yield
    except ConfigError as exc:
        print_diagnostics(exc.diagnostics)
        sys.exit(1)
    except PoolformError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        raise
    except OSError as exc:
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        fail(f"cannot read or write{where}: {exc.strerror or exc}")


# -- inputs ---------------------------------------------------------------------


def parse_vars(pairs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            fail(f"--var {pair!r} must look like NAME=VALUE")
        out[name.strip()] = value
    return out


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while the block runs (restored after).

    Loading a config and reading pools allocate many small acyclic objects; the
    collector's passes over them were about 40% of loading 1,000 pools.
    """
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_config(files: Sequence[str], variables: Sequence[str], *, color: bool = False,
                machine_output: bool = False) -> "DesiredState":
    """Load and check the config; print every diagnostic; exit 1 on any error."""
    from reconciler.config.load import load

    paths = list(files) or ["."]
    with gc_paused():
        desired, diags = load(paths, variables=parse_vars(variables))
    if diags.has_errors or desired is None:
        print_diagnostics(diags, color=color, warnings_to_stderr=True)
        n = len(diags.errors)
        fail(f"the configuration has {n} error{'s' if n != 1 else ''}; nothing was read from or sent to the server." if n
             else "the configuration could not be read.")
    print_diagnostics(diags, color=color, warnings_to_stderr=machine_output)
    return desired


def connection(api_url: str | None) -> "ConnectionSettings":
    from reconciler.settings import ConnectionSettings

    try:
        return ConnectionSettings.from_env(api_url)
    except ValueError as exc:
        fail(str(exc))


DEFAULT_PARALLELISM = 10


def parallelism_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--parallelism", type=click.IntRange(1, 64), default=None, metavar="N",
                        help=f"Concurrent API calls (default {DEFAULT_PARALLELISM}, or POOLFORM_PARALLELISM).")(fn)


def parallelism(value: int | None = None) -> int:
    if value is not None:
        return value
    raw = os.environ.get("POOLFORM_PARALLELISM", "").strip()
    if not raw:
        return DEFAULT_PARALLELISM
    try:
        n = int(raw)
    except ValueError:
        fail(f"POOLFORM_PARALLELISM={raw!r} is not a whole number")
    if not 1 <= n <= 64:
        fail(f"POOLFORM_PARALLELISM={raw!r} must be between 1 and 64")
    return n


def make_client(api_url: str | None, *, workers: int | None = None) -> "PrefectClient":
    settings = connection(api_url)
    if CLIENT_FACTORY is not None:
        return CLIENT_FACTORY(settings)
    from reconciler.api.client import PrefectClient

    return PrefectClient(settings, max_workers=parallelism(workers))


def check_targets(targets: Sequence[str]) -> list[str]:
    from reconciler.model.state import parse_address

    for target in targets:
        try:
            parse_address(target)
        except ValueError as exc:
            fail(f"invalid --target {target!r}: {exc}")
    return list(targets)
