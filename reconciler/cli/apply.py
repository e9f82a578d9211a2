"""``poolform apply``: make the server match the config, or run exactly a saved plan.

Without a plan file it plans, shows the plan and asks for ``yes`` on a terminal;
with no terminal it needs ``--auto-approve`` and refuses at once otherwise. With a
plan file it applies that plan, refusing a stale one. Exit 0 ok, 1 error.
Must not hold apply logic: that is ``reconciler.apply``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from reconciler.cli import _common as common
from reconciler.diagnostics import Code

PROMPT = (
    "Do you want to perform these actions?\n"
    "  poolform will perform the actions described above.\n"
    "  Only 'yes' will be accepted to approve.\n"
)


def _no_changes(as_json: bool, hooks: Any) -> None:
    if as_json:
        hooks.change_summary(0, 0, 0)
    else:
        click.echo("No changes. Your work pools match the configuration; nothing to apply.")


def _json_diagnostics(plan_json: dict[str, Any], hooks: Any) -> None:
    for diag in plan_json.get("diagnostics", []):
        hooks.diagnostic(diag.get("severity", "warning"), diag.get("summary", ""), diag.get("detail", ""),
                         diag.get("address"), range=diag.get("range"), code=diag.get("code"))


def _read_plan_file(path: str) -> tuple[Any, dict[str, Any]]:
    """The plan in ``path``, checked (``planfile.read_plan``), and its document as read."""
    from reconciler.plan.planfile import loads_plan_document
    from reconciler.secrets import MASK_PATTERN

    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        common.fail(f"cannot read the plan file {path}: {getattr(exc, 'strerror', None) or exc}",
                    code=Code.INVALID_PLAN_FILE)
    masked = MASK_PATTERN.search(text)
    if masked:
        common.fail(f"{path} holds a value masked on output ({masked.group()}): it is printed output, not a plan "
                    "file. Save plans with `poolform plan --out FILE` and apply that file.", code=Code.MASKED_VALUE)
    try:
        with common.gc_paused():  # a plan of 1,000 pools is millions of small objects: no collector passes over them
            return loads_plan_document(text)
    except ValueError as exc:
        common.fail(f"{path}: {exc}", code=Code.INVALID_PLAN_FILE)


def _execute(client: Any, plan_json: dict[str, Any], hooks: Any, as_json: bool, *, check_stale: bool,
             plan: Any = None) -> None:
    from reconciler.apply.executor import apply_plan
    from reconciler.errors import ApplyError

    try:
        with common.gc_paused():
            result = apply_plan(client, plan_json, hooks=hooks, check_stale=check_stale, plan=plan)
    except ApplyError as exc:
        skipped = getattr(exc, "skipped", [])
        partial = getattr(exc, "result", None)
        if as_json:
            if partial is not None:
                hooks.change_summary(partial.added, partial.changed, partial.destroyed)
            hooks.diagnostic("error", f"apply stopped: {len(exc.applied)} of {len(plan_json.get('steps', []))} steps "
                             "applied before the failure", str(exc), code=Code.APPLY_FAILED)
        else:
            click.echo("")
            click.echo(f"Applied {len(exc.applied)} of {len(plan_json.get('steps', []))} steps before the failure"
                       + (f"; skipped {len(skipped)}: " + ", ".join(sorted({s.address for s in skipped}))
                          if skipped else "") + ".", err=True)
            for step, error in getattr(exc, "failures", [(exc.failed, exc.cause)]):
                click.echo(f"Error: {step.address if step is not None else 'apply'}: {error}", err=True)
            if not common.automation():
                click.echo("Run `poolform plan` and `poolform apply` again to converge.", err=True)
        sys.exit(1)
    if as_json:
        hooks.change_summary(result.added, result.changed, result.destroyed)
    else:
        hooks.summary(result.added, result.changed, result.destroyed)


@click.command("apply", cls=common.Command)
@click.argument("planfile", required=False, metavar="[PLANFILE]")
@common.files_option
@common.var_option
@common.var_file_option
@common.allow_unknown_type_option
@click.option("--auto-approve", is_flag=True, help="Skip the interactive approval (needed when input is not a terminal).")
@common.json_option
@click.option("--target", "targets", multiple=True, metavar="ADDR",
              help="Apply only this address; repeatable. Not for routine use. A target that matches nothing is an error.")
@click.option("--destroy", is_flag=True,
              help="Delete every declared pool with its queues; never an undeclared pool, whatever manage.prune says.")
@common.compact_warnings_option
@common.parallelism_option
@common.env_option
@common.api_url_option
@common.no_color_option
def apply(planfile: str | None, files: tuple[str, ...], variables: tuple[str, ...], var_files: tuple[str, ...],
          allow_unknown_type: bool, auto_approve: bool, as_json: bool, targets: tuple[str, ...], destroy: bool,
          compact_warnings: bool, parallelism: int | None, env_name: str | None, api_url: str | None,
          no_color: bool) -> None:
    """Make the server match the config (or a saved plan).

    A saved plan is applied as written, and nothing is sent when it is not the plan it
    shows (its steps are not the steps its changes make, a step touches an address that
    is not among its changes, its summary miscounts them) or when it is stale (anything it
    read changed on the server, including any queue of a pool it deletes or replaces).

    \b
    Examples:
      poolform apply -f pools/                   # plan, show, ask for 'yes'
      poolform apply -f pools/ --auto-approve    # CI
      poolform plan -f pools/ --out plan.json && poolform apply plan.json
      poolform apply --env staging --auto-approve
      poolform apply staging.plan.json --env staging   # refused if planned for another environment
    """
    from reconciler.apply.hooks import HumanHooks, JsonLinesHooks

    color = not as_json and common.use_color(no_color)
    hooks: Any = JsonLinesHooks() if as_json else HumanHooks(color=color)
    if as_json:
        hooks.version()
        with common.json_errors(lambda d: hooks.diagnostic("error", d.get("summary", ""), d.get("detail", ""),
                                                           d.get("address"), code=d.get("code"))):
            _apply(planfile, files, variables, var_files, allow_unknown_type, auto_approve, as_json, targets, destroy,
                   compact_warnings, parallelism, api_url, color, hooks, env_name)
    else:
        _apply(planfile, files, variables, var_files, allow_unknown_type, auto_approve, as_json, targets, destroy,
               compact_warnings, parallelism, api_url, color, hooks, env_name)


def _apply(planfile: str | None, files: tuple[str, ...], variables: tuple[str, ...], var_files: tuple[str, ...],
           allow_unknown_type: bool, auto_approve: bool, as_json: bool, targets: tuple[str, ...], destroy: bool,
           compact_warnings: bool, parallelism: int | None, api_url: str | None, color: bool, hooks: Any,
           env_name: str | None = None) -> None:

    if env_name and api_url:
        common.usage("--api-url cannot be used with --env: an environment names its own server")
    if planfile is not None:
        if variables or var_files or targets or destroy or allow_unknown_type or (files and not env_name):
            common.usage("a saved plan is applied as it is: -f (except to find --env's environment), --var, --var-file, "
                         "--allow-unknown-type, --target and --destroy cannot be used with a plan file")
        plan, plan_json = _read_plan_file(planfile)
        made_env = plan_json.get("environment")
        if env_name != made_env:
            if made_env is None:
                common.fail(f"the plan {planfile} was made without --env, not for environment {env_name!r}. Apply it "
                            f"without --env, or make a plan with `poolform plan --env {env_name} --out FILE`.",
                            code=Code.INVALID_PLAN_FILE)
            if env_name is not None:
                common.fail(f"the plan {planfile} was made for environment {made_env!r}, not {env_name!r}: it is "
                            f"refused. Apply it with --env {made_env}, or make a plan with `poolform plan --env "
                            f"{env_name} --out FILE`.", code=Code.INVALID_PLAN_FILE)
        if api_url is None and env_name is None and not os.environ.get("PREFECT_API_URL") and plan_json.get("api_url"):
            api_url = plan_json["api_url"]
        with common.errors_to_exit():
            environment = common.select_environment(env_name, files)
            client = common.make_client(api_url, workers=parallelism, environment=environment)
            try:
                from reconciler.settings import normalize_api_url

                made_for = normalize_api_url(plan_json.get("api_url") or "") if plan_json.get("api_url") else ""
                if made_for and made_for != client.api_url:
                    which = f" for environment {made_env!r}" if made_env else ""
                    common.fail(f"the plan {planfile} was made{which} against {made_for}, but the API URL is "
                                f"{client.api_url}: it is refused. Apply it against the same server, or make a new "
                                "plan.", code=Code.INVALID_PLAN_FILE)
                if plan_json.get("errored"):
                    common.fail(f"the plan {planfile} has errors and cannot be applied; fix them and plan again.",
                                code=Code.INVALID_PLAN_FILE)
                if not plan_json.get("steps"):
                    _no_changes(as_json, hooks)
                    return
                _execute(client, plan_json, hooks, as_json, check_stale=True, plan=plan)
            finally:
                client.close()
        return

    interactive = common.STDIN_IS_TTY() and not common.automation()
    if as_json and not auto_approve:
        common.usage("--json without a plan file needs --auto-approve (there is no prompt in JSON mode)")
    if not auto_approve and not interactive:
        common.usage("no plan file and no --auto-approve; apply needs one of them when input is not a terminal")

    from reconciler.cli.plan import load_for_plan, render_plan, run_plan

    with common.errors_to_exit():
        environment = common.select_environment(env_name, files)
        desired, warnings = load_for_plan(files, variables, var_files=var_files, allow_unknown_type=allow_unknown_type,
                                          color=color, environment=environment)
        client = common.make_client(api_url, workers=parallelism, provider=desired.provider, progress=True,
                                    environment=environment)
        try:
            result = run_plan(client, desired, warnings, targets=targets, destroy=destroy, environment=env_name)
            plan_json = result.to_json()
            if plan_json.get("errored"):
                if as_json:
                    _json_diagnostics(plan_json, hooks)
                click.echo(render_plan(plan_json, "human", color=color, compact_warnings=compact_warnings), nl=False,
                           err=True)
                sys.exit(1)
            if not plan_json.get("steps"):
                if as_json:
                    _json_diagnostics(plan_json, hooks)
                else:
                    from reconciler.views.human import render_warnings

                    warnings = [d for d in plan_json.get("diagnostics", []) if d.get("severity") != "error"]
                    for line in render_warnings(warnings, color=color, compact=compact_warnings):
                        click.echo(line)
                _no_changes(as_json, hooks)
                return
            if as_json:
                _json_diagnostics(plan_json, hooks)
                summary = plan_json.get("summary", {})
                hooks.change_summary(summary.get("add", 0), summary.get("change", 0), summary.get("destroy", 0),
                                     operation="plan")
            else:
                click.echo(render_plan(plan_json, "human", color=color, hints=False, compact_warnings=compact_warnings))
            if not auto_approve:
                click.echo(PROMPT)
                answer = click.prompt("  Enter a value", default="", show_default=False, prompt_suffix=": ")
                click.echo("")
                if answer.strip() != "yes":
                    common.fail("Apply cancelled.", code=Code.CANCELLED)
            _execute(client, plan_json, hooks, as_json, check_stale=not auto_approve)
        finally:
            client.close()
