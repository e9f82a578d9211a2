"""``poolform validate``: check config files offline.

Parses arguments, calls :func:`reconciler.config.load.load`, prints the
diagnostics (warnings to stdout, errors to stderr) or their JSON, and exits 1
on any error. No checks of its own, no network.
"""

from __future__ import annotations

import contextlib
import json
import sys

import click

from reconciler.cli import _common as common


@click.command("validate", cls=common.Command)
@common.files_option
@common.var_option
@common.var_file_option
@common.allow_unknown_type_option
@common.env_option
@common.json_option
@click.option("--format", "fmt", type=click.Choice(["human", "json", "markdown"]), default=None,
              help="Output format (default human; --json is --format json; markdown: the pull-request comment, "
                   "which on failure replaces the plan comment).")
@click.option("--environment", "comment_env", metavar="NAME", default=None,
              help="With --format markdown: the environment whose plan comment this replaces (its marker; "
                   "default: --env's).")
@common.link_base_option
@common.no_color_option
def validate(files: tuple[str, ...], variables: tuple[str, ...], var_files: tuple[str, ...], allow_unknown_type: bool,
             env_name: str | None, as_json: bool, fmt: str | None, comment_env: str | None, link_base: str | None,
             no_color: bool) -> None:
    """Check config files offline: format, names, priorities, templates.

    Every problem is reported with file:line:column and its address
    (work_pool.NAME, work_queue.POOL.QUEUE). Exit 1 when there are errors.
    A pool type must be a known worker type (process, kubernetes, docker, ecs,
    cloud-run, ..., with a did-you-mean); --allow-unknown-type accepts a custom
    worker's type.

    \b
    Examples:
      poolform validate                      # the current directory
      poolform validate -f base.yaml -f prod.yaml
      poolform validate -f infra/ --var env=prod --json
      poolform validate -f infra/ --var-file prod.tfvars
      poolform validate -f pools/ --format markdown --link-base https://github.com/o/r/blob/SHA
      poolform validate --env prod            # with the prod environment's overlays
    """
    if as_json and fmt not in (None, "json"):
        common.usage("--json and --format are exclusive")
    as_json = as_json or fmt == "json"
    if env_name and comment_env and comment_env != env_name:
        common.usage(f"--environment {comment_env} is not --env {env_name}: the comment's environment is the one "
                     "validated (leave --environment out)")
    comment_env = comment_env or env_name
    errors_seen: list[dict[str, object]] = []
    try:
        with common.json_errors(errors_seen.append) if as_json or fmt == "markdown" else contextlib.nullcontext():
            environment = common.select_environment(env_name, files)
    except SystemExit:
        if as_json:
            click.echo(json.dumps({"format_version": "1.0", "valid": False, "error_count": len(errors_seen),
                                   "warning_count": 0, "pool_count": 0, "queue_count": 0, "ignored": [],
                                   "diagnostics": errors_seen}, indent=2))
        elif fmt == "markdown" and errors_seen:
            _markdown(errors_seen, comment_env, link_base)
        raise
    state, diags = common.read_config(files, variables, var_files, allow_unknown_type=allow_unknown_type,
                                      environment=environment)
    errors, warnings = len(diags.errors), len(diags.warnings)
    if fmt == "markdown":
        _markdown(diags.to_json(), comment_env, link_base)
        sys.exit(1 if errors else 0)
    if as_json:
        document = {
            "format_version": "1.0",
            "valid": not diags.has_errors,
            "error_count": errors,
            "warning_count": warnings,
            "pool_count": len(state.pools) if state else 0,
            "queue_count": sum(len(p.queues) for p in state.pools.values()) if state else 0,
            "ignored": list(state.ignored) if state else [],
            "diagnostics": diags.to_json(),
        }
        click.echo(json.dumps(document, indent=2))
        sys.exit(1 if errors else 0)
    color = common.use_color(no_color)
    common.print_diagnostics(diags, color=color)
    if errors:
        click.echo(f"Error: the configuration is invalid: {errors} error{'s' if errors != 1 else ''}, "
                   f"{warnings} warning{'s' if warnings != 1 else ''}.", err=True)
        sys.exit(1)
    pools = len(state.pools) if state else 0
    queues = sum(len(pool.queues) for pool in state.pools.values()) if state else 0
    counts = [_plural(pools, "work pool"), _plural(queues, "queue")]
    if warnings:
        counts.append(_plural(warnings, "warning"))
    if diags:
        click.echo()
    click.echo(f"Success! The configuration is valid ({', '.join(counts)}).")


def _markdown(diagnostics: list[dict], environment: str | None, link_base: str | None) -> None:
    from reconciler.views.markdown import render_failure_markdown

    if any(d.get("severity") == "error" for d in diagnostics):
        text = render_failure_markdown(diagnostics, title="poolform validate", environment=environment,
                                       link_base=link_base, root=common.link_root())
    else:
        from reconciler.views.markdown import marker

        text = f"{marker('plan', environment)}\n### poolform validate\n\n**Valid.** The configuration has no errors.\n"
    click.echo(text, nl=not text.endswith("\n"))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
