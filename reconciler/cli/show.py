"""``poolform show PLANFILE``: render a saved plan (human, JSON or markdown; or, with ``--result``,
the markdown comment on the outcome of applying it).

Reads the file, checks it is a poolform plan of a supported format, renders it.
A missing or invalid file is one ``Error:`` line and exit 1. No plan logic here.
"""

from __future__ import annotations

import json

import click

from reconciler.cli._common import (automation, fail, json_error_document, link_base_option, link_root, no_color_option,
                                    use_color)
from reconciler.diagnostics import Code


def _fail(message: str, code: str = Code.INVALID_PLAN_FILE) -> None:
    fail(message, code=code)


@click.command("show")
@click.argument("planfile", metavar="PLANFILE")
@click.option("--json", "as_json", is_flag=True, help="The plan document as JSON (same as --format json).")
@click.option("--format", "fmt", type=click.Choice(["human", "json", "markdown"]), default=None,
              help="Output format (default human).")
@link_base_option
@click.option("--result", type=click.Choice(["applied", "failed"]), default=None,
              help="With --format markdown: the comment on the outcome of applying this plan (for the merged pull request).")
@click.option("--log", "log_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="With --result failed: the apply's error output, whose last lines the comment quotes.")
@no_color_option
def show(planfile: str, as_json: bool, fmt: str | None, link_base: str | None, result: str | None, log_file: str | None,
         no_color: bool) -> None:
    """Render a saved plan file.

    \b
    Examples:
      poolform show plan.json
      poolform show plan.json --json
      poolform show plan.json --format markdown > comment.md
      poolform show plan.json --format markdown --result applied > applied.md
    """
    if as_json and fmt not in (None, "json"):
        _fail("--json and --format are exclusive", Code.USAGE)
    fmt = "json" if as_json else (fmt or "human")
    if (result or log_file) and fmt != "markdown":
        _fail("--result and --log need --format markdown", Code.USAGE)
    if log_file and result != "failed":
        _fail("--log goes with --result failed", Code.USAGE)
    if fmt == "json":
        with json_error_document():
            _show(planfile, fmt, no_color)
    else:
        _show(planfile, fmt, no_color, link_base=link_base, result=result, log_file=log_file)


def _read_log(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()[-20_000:]
    except OSError as exc:
        _fail(f"cannot read the apply log {path}: {exc.strerror or exc}", Code.IO_ERROR)
        return ""


def _show(planfile: str, fmt: str, no_color: bool, *, link_base: str | None = None, result: str | None = None,
          log_file: str | None = None) -> None:
    try:
        with open(planfile, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        _fail(f"plan file {planfile} not found. Create one with `poolform plan --out {planfile}`.", Code.IO_ERROR)
        return
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read plan file {planfile}: {getattr(exc, 'strerror', None) or exc}", Code.IO_ERROR)
        return
    from reconciler.plan.planfile import check_plan_json

    try:
        data = json.loads(text)
        check_plan_json(data)
    except json.JSONDecodeError as exc:
        _fail(f"{planfile}:{exc.lineno}:{exc.colno}: not a poolform plan file: it is not JSON ({exc.msg}).")
        return
    except ValueError as exc:
        _fail(f"{planfile}: {exc}")
        return
    if fmt == "json":
        from reconciler.views.json import render_json

        output = render_json(data)
    elif fmt == "markdown" and result:
        from reconciler.views.markdown import render_apply_markdown

        output = render_apply_markdown(data, outcome=result, log=_read_log(log_file) if log_file else "")
    elif fmt == "markdown":
        from reconciler.views.markdown import render_markdown

        output = render_markdown(data, link_base=link_base, root=link_root())
    else:
        from reconciler.views.human import render_human

        from reconciler.cli.plan import apply_command

        output = render_human(data, color=use_color(no_color), automation=automation(), apply_hint=apply_command(planfile),
                              saved=True)
    click.echo(output, nl=not output.endswith("\n"))
