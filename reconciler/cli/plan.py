"""``poolform plan``: load the config, observe the server, make the plan, render it.

Exit codes: 0 ok (or no changes with ``--detailed-exitcode``), 1 error, 2 changes
present with ``--detailed-exitcode`` or ``--expect-no-changes``.
Must not hold plan logic: that is ``reconciler.plan``.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any, Sequence

import click

from reconciler.cli import _common as common

if TYPE_CHECKING:
    from reconciler.api.client import PrefectClient
    from reconciler.config.environments import Environment
    from reconciler.model.state import DesiredState
    from reconciler.plan.document import Plan


def load_for_plan(files: Sequence[str], variables: Sequence[str], *, var_files: Sequence[str] = (),
                  allow_unknown_type: bool = False, color: bool = False,
                  environment: "Environment | None" = None) -> "tuple[DesiredState, list[dict[str, Any]]]":
    """Load the config (exit 1 on config errors); its warnings are returned to become the plan's first
    diagnostics, so every view (and the PR comment) shows them."""
    warnings: list[dict[str, Any]] = []
    desired = common.load_config(files, variables, var_files=var_files, allow_unknown_type=allow_unknown_type,
                                 color=color, warnings=warnings, environment=environment)
    return desired, warnings


def run_plan(client: "PrefectClient", desired: "DesiredState", warnings: Sequence[dict[str, Any]] = (), *,
             targets: Sequence[str] = (), destroy: bool = False, environment: str | None = None) -> "Plan":
    """Observe, read deployments where templates change, plan, count the due runs the changes hold back."""
    from datetime import datetime, timezone

    from reconciler.api.observe import observe, observe_deployments, observe_due_runs
    from reconciler.plan.planner import make_plan, pools_with_variable_changes
    from reconciler.plan.runs import affected, run_notes

    targets = common.check_targets(targets)
    with common.gc_paused():
        observed = observe(client, desired, targets=targets, all_pools=not targets)
        impacted = pools_with_variable_changes(desired, observed)
        if impacted:
            observed.deployments = observe_deployments(client, impacted)
        now = datetime.now(timezone.utc)
        plan = make_plan(desired, observed, targets=targets, destroy=destroy, now=now, api_url=client.api_url)
        held = affected(plan.resource_changes)
        if held:  # the due runs the changes hold back, counted only where there are such changes
            observed.due_runs = observe_due_runs(client, [(a.address, a.pool, a.queue) for a in held], now)
            plan.runs = run_notes(plan.resource_changes, observed.due_runs)
        common.finish_progress(client)
    plan.diagnostics[:0] = list(warnings)
    plan.ignored = list(desired.ignored)
    plan.environment = environment
    return plan


def apply_command(planfile: str | None, *, files: Sequence[str] = (), variables: Sequence[str] = (),
                  var_files: Sequence[str] = (), targets: Sequence[str] = (), destroy: bool = False,
                  allow_unknown_type: bool = False, env_name: str | None = None) -> str:
    """The ``poolform apply ...`` command that applies what was just planned, shell-quoted."""
    import shlex

    words = ["poolform", *common.global_arguments(), "apply"]
    if planfile:
        words.append(planfile)
        if env_name:
            for path in files:
                words += ["-f", path]
    if env_name:
        words += ["--env", env_name]
    if not planfile:
        for path in files:
            words += ["-f", path]
        for kind, value in common.variable_inputs(variables, var_files):
            words += ["--var" if kind == "var" else "--var-file", value]
        for target in targets:
            words += ["--target", target]
        if destroy:
            words.append("--destroy")
        if allow_unknown_type:
            words.append("--allow-unknown-type")
    return " ".join(shlex.quote(word) for word in words)


def render_plan(plan_json: dict[str, Any], fmt: str, *, color: bool, apply_hint: str | None = None,
                saved: bool = False, title: str = "poolform plan", hints: bool = True,
                compact_warnings: bool = False, link_base: str | None = None) -> str:
    if fmt == "json":
        from reconciler.views.json import render_json

        return render_json(plan_json)
    if fmt == "markdown":
        from reconciler.views.markdown import render_markdown

        return render_markdown(plan_json, title=title, compact_warnings=compact_warnings, link_base=link_base,
                               root=common.link_root())
    from reconciler.views.human import render_human

    return render_human(plan_json, color=color, automation=common.automation() or not hints, apply_hint=apply_hint,
                        saved=saved, compact_warnings=compact_warnings)


@click.command("plan", cls=common.Command)
@common.files_option
@common.var_option
@common.var_file_option
@common.allow_unknown_type_option
@click.option("--out", type=click.Path(dir_okay=False), metavar="FILE", help="Save the plan (JSON) for `poolform apply FILE`.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 when there are no changes, 1 on error, 2 when there are changes.")
@common.json_option
@click.option("--format", "fmt", type=click.Choice(["human", "json", "markdown"]), default=None,
              help="Output format (default human; --json is --format json).")
@click.option("--target", "targets", multiple=True, metavar="ADDR",
              help="Plan only this address (work_pool.NAME or work_queue.POOL.QUEUE); repeatable. Not for routine "
                   "use. A target that matches nothing is an error.")
@click.option("--destroy", is_flag=True,
              help="Plan to delete every declared pool with its queues; never an undeclared pool, whatever manage.prune says.")
@click.option("--expect-no-changes", is_flag=True, help="Fail (exit 2) when the plan has changes, e.g. for drift checks.")
@common.compact_warnings_option
@common.link_base_option
@common.env_option
@click.option("--all-envs", is_flag=True,
              help="Plan every environment of the config's environments: map, each against its own server; with "
                   "--detailed-exitcode exit 2 when any has changes, 1 when any fails.")
@common.api_url_option
@common.no_color_option
def plan(files: tuple[str, ...], variables: tuple[str, ...], var_files: tuple[str, ...], allow_unknown_type: bool,
         out: str | None, detailed_exitcode: bool, as_json: bool, fmt: str | None, targets: tuple[str, ...],
         destroy: bool, expect_no_changes: bool, compact_warnings: bool, link_base: str | None, env_name: str | None,
         all_envs: bool, api_url: str | None, no_color: bool) -> None:
    """Show what apply would change on the server.

    Warnings (from the config and from planning) are part of the plan: the JSON
    document's diagnostics and the markdown comment carry them, each with the
    file:line that set the value.

    \b
    Examples:
      poolform plan -f pools/
      poolform plan -f base.yaml -f prod.yaml --out plan.json
      poolform plan -f infra/ --var-file prod.tfvars --var image_tag=1.4
      poolform plan -f pools/ --format markdown > comment.md
      poolform plan -f pools/ --detailed-exitcode   # 0 none, 1 error, 2 changes
      poolform plan --env staging --out staging.plan.json
      poolform plan --all-envs --detailed-exitcode
    """
    if as_json and fmt not in (None, "json"):
        common.usage("--json and --format are exclusive")
    fmt = "json" if as_json else (fmt or "human")
    color = fmt == "human" and common.use_color(no_color)
    if (env_name or all_envs) and api_url:
        common.usage("--api-url cannot be used with --env or --all-envs: an environment names its own server")
    if all_envs:
        if env_name:
            common.usage("--env and --all-envs are exclusive")
        if out:
            common.usage("--out saves one plan: use --env NAME --out FILE for each environment")
        _plan_all(files, variables, var_files, allow_unknown_type, fmt, color, targets, destroy, compact_warnings,
                  detailed_exitcode, expect_no_changes, link_base)
        return
    hint = apply_command(out, files=files, variables=variables, var_files=var_files, targets=targets, destroy=destroy,
                         allow_unknown_type=allow_unknown_type, env_name=env_name)
    with common.json_error_document() if fmt == "json" else contextlib.nullcontext():
        with common.errors_to_exit():
            environment = common.select_environment(env_name, files)
            desired, warnings = load_for_plan(files, variables, var_files=var_files,
                                              allow_unknown_type=allow_unknown_type, color=color,
                                              environment=environment)
            client = common.make_client(api_url, provider=desired.provider, progress=True, environment=environment)
            try:
                result = run_plan(client, desired, warnings, targets=targets, destroy=destroy, environment=env_name)
            finally:
                client.close()
            plan_json = result.to_json()
            if out:
                from reconciler.plan.planfile import indented_json

                with open(out, "w", encoding="utf-8") as fh:
                    fh.write(indented_json(plan_json))  # dumps_plan(result), without a second to_json
            text = render_plan(plan_json, fmt, color=color, apply_hint=hint, saved=bool(out),
                               compact_warnings=compact_warnings, link_base=link_base)
            click.echo(text, nl=not text.endswith("\n"))
    if plan_json.get("errored"):
        sys.exit(1)
    changes = bool(plan_json.get("steps"))
    if expect_no_changes and changes:
        click.echo("Error: the plan has changes, and --expect-no-changes was given.", err=True)
        sys.exit(2)
    if detailed_exitcode and changes:
        sys.exit(2)


def _plan_all(files: Sequence[str], variables: Sequence[str], var_files: Sequence[str], allow_unknown_type: bool,
              fmt: str, color: bool, targets: Sequence[str], destroy: bool, compact_warnings: bool,
              detailed_exitcode: bool, expect_no_changes: bool, link_base: str | None) -> None:
    """``plan --all-envs``: each environment planned against its own server, in declaration order; one
    failing environment does not stop the others. JSON: ``{"format_version", "poolform_version",
    "environments": [plan document or error document, ...]}``, each carrying its ``environment``."""
    import json

    from reconciler import __version__
    from reconciler.diagnostics import Diagnostics
    from reconciler.plan.document import FORMAT_VERSION

    diags = Diagnostics()
    with common.errors_to_exit():
        found = common.environments_of(files, diags)
    if diags.has_errors or not found:
        with common.json_error_document() if fmt == "json" else contextlib.nullcontext():
            common.print_diagnostics(diags, warnings_to_stderr=True)
            common.fail("the configuration declares no environments (environments: in a YAML config file)"
                        if not diags.has_errors else
                        "the environments of the configuration have errors; nothing was read from or sent to a server.",
                        code=common.Code.INVALID_CONFIG if diags.has_errors else common.Code.USAGE)
    documents: list[dict[str, Any]] = []
    texts: list[str] = []
    failed = changed = False
    for name, environment in found.items():
        errors: list[dict[str, Any]] = []
        plan_json: dict[str, Any] | None = None
        if fmt == "human":
            click.echo(f"=== Environment {name} ===", err=False)
        try:
            with common.json_errors(errors.append), common.errors_to_exit():
                desired, warnings = load_for_plan(files, variables, var_files=var_files,
                                                  allow_unknown_type=allow_unknown_type, color=color,
                                                  environment=environment)
                client = common.make_client(None, provider=desired.provider, progress=True, environment=environment)
                try:
                    plan_json = run_plan(client, desired, warnings, targets=targets, destroy=destroy,
                                         environment=name).to_json()
                finally:
                    client.close()
        except SystemExit:
            plan_json = None
        if plan_json is None:
            failed = True
            plan_json = {"format_version": FORMAT_VERSION, "poolform_version": __version__, "environment": name,
                         "errored": True, "applyable": False, "diagnostics": errors}
            if fmt == "markdown":
                from reconciler.views.markdown import render_failure_markdown

                texts.append(render_failure_markdown(errors, title="poolform plan", environment=name,
                                                     link_base=link_base, root=common.link_root()))
            elif fmt == "human":
                click.echo(f"Environment {name}: the plan failed (above).\n")
            documents.append(plan_json)
            continue
        failed = failed or bool(plan_json.get("errored"))
        changed = changed or bool(plan_json.get("steps"))
        documents.append(plan_json)
        if fmt == "json":
            continue
        text = render_plan(plan_json, fmt, color=color, compact_warnings=compact_warnings, link_base=link_base,
                           apply_hint=apply_command(None, files=files, variables=variables, var_files=var_files,
                                                    targets=targets, destroy=destroy,
                                                    allow_unknown_type=allow_unknown_type, env_name=name))
        if fmt == "markdown":
            texts.append(text)
        else:
            click.echo(text, nl=not text.endswith("\n"))
            click.echo("")
    if fmt == "json":
        click.echo(json.dumps({"format_version": FORMAT_VERSION, "poolform_version": __version__,
                               "environments": documents}, indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        click.echo("\n".join(texts), nl=False)
    if failed:
        sys.exit(1)
    if expect_no_changes and changed:
        click.echo("Error: a plan has changes, and --expect-no-changes was given.", err=True)
        sys.exit(2)
    if detailed_exitcode and changed:
        sys.exit(2)
