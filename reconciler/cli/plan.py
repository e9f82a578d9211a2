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
    from reconciler.model.state import DesiredState
    from reconciler.plan.document import Plan


def load_for_plan(files: Sequence[str], variables: Sequence[str], *, var_files: Sequence[str] = (),
                  allow_unknown_type: bool = False, color: bool = False) -> "tuple[DesiredState, list[dict[str, Any]]]":
    """Load the config (exit 1 on config errors); its warnings are returned to become the plan's first
    diagnostics, so every view (and the PR comment) shows them."""
    warnings: list[dict[str, Any]] = []
    desired = common.load_config(files, variables, var_files=var_files, allow_unknown_type=allow_unknown_type,
                                 color=color, warnings=warnings)
    return desired, warnings


def run_plan(client: "PrefectClient", desired: "DesiredState", warnings: Sequence[dict[str, Any]] = (), *,
             targets: Sequence[str] = (), destroy: bool = False) -> "Plan":
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
    return plan


def apply_command(planfile: str | None, *, files: Sequence[str] = (), variables: Sequence[str] = (),
                  var_files: Sequence[str] = (), targets: Sequence[str] = (), destroy: bool = False,
                  allow_unknown_type: bool = False) -> str:
    """The ``poolform apply ...`` command that applies what was just planned, shell-quoted."""
    import shlex

    words = ["poolform", *common.global_arguments(), "apply"]
    if planfile:
        words.append(planfile)
    else:
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
@common.api_url_option
@common.no_color_option
def plan(files: tuple[str, ...], variables: tuple[str, ...], var_files: tuple[str, ...], allow_unknown_type: bool,
         out: str | None, detailed_exitcode: bool, as_json: bool, fmt: str | None, targets: tuple[str, ...],
         destroy: bool, expect_no_changes: bool, compact_warnings: bool, link_base: str | None, api_url: str | None,
         no_color: bool) -> None:
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
    """
    if as_json and fmt not in (None, "json"):
        common.usage("--json and --format are exclusive")
    fmt = "json" if as_json else (fmt or "human")
    color = fmt == "human" and common.use_color(no_color)
    hint = apply_command(out, files=files, variables=variables, var_files=var_files, targets=targets, destroy=destroy,
                         allow_unknown_type=allow_unknown_type)
    with common.json_error_document() if fmt == "json" else contextlib.nullcontext():
        with common.errors_to_exit():
            desired, warnings = load_for_plan(files, variables, var_files=var_files,
                                              allow_unknown_type=allow_unknown_type, color=color)
            client = common.make_client(api_url, provider=desired.provider, progress=True)
            try:
                result = run_plan(client, desired, warnings, targets=targets, destroy=destroy)
            finally:
                client.close()
            plan_json = result.to_json()
            if out:
                from reconciler.plan.planfile import dumps_plan

                with open(out, "w", encoding="utf-8") as fh:
                    fh.write(dumps_plan(result))
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
