"""``poolform render``: the job configuration a worker would get for a pool (prefect-api.md §5.4).

The template comes from the config (``-f``) when it declares the pool with a
template, else from the live pool (always with ``--live``). Prints JSON; job
variables the pool's variables refuse are an error (exit 1), as they would be
when a flow run is created.
Must not hold rendering rules: that is ``reconciler.templates``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from reconciler.cli import _common as common
from reconciler.config.files import did_you_mean
from reconciler.diagnostics import Code


def _json_arg(option: str, raw: str | None) -> dict[str, Any]:
    if raw is None:
        return {}
    source = option
    text = raw
    if raw.startswith("@"):
        source = raw[1:]
        try:
            with open(source, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            common.fail(f"{option}: cannot read {source}: {exc.strerror or exc}", code=Code.UNREADABLE_INPUT)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        common.fail(f"{option}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno} of {source}). "
                    "Pass a JSON object such as '{\"image\": \"repo/app:1\"}' or @file.json", code=Code.USAGE)
    if not isinstance(value, dict):
        common.usage(f"{option}: expected a JSON object, got {type(value).__name__}")
    return value


@click.command("render", cls=common.Command)
@click.option("--pool", required=True, metavar="NAME", help="The work pool whose template to render.")
@click.option("--job-variables", metavar="JSON|@FILE", help="Deployment job variables (a JSON object, or @file).")
@click.option("--flow-run-variables", metavar="JSON|@FILE", help="Flow-run job variables, applied over the deployment's.")
@common.files_option
@common.var_option
@common.var_file_option
@common.allow_unknown_type_option
@click.option("--live", is_flag=True, help="Use the pool's template on the server, not the config's.")
@common.env_option
@common.api_url_option
def render(pool: str, job_variables: str | None, flow_run_variables: str | None, files: tuple[str, ...],
           variables: tuple[str, ...], var_files: tuple[str, ...], allow_unknown_type: bool, live: bool,
           env_name: str | None, api_url: str | None) -> None:
    """Render the job configuration a worker would get.

    Exit 1 when the pool is neither declared (with a template) nor on the server
    (with the closest names as a hint), or when the job variables do not validate
    against the pool's variables (the server would refuse them).

    \b
    Examples:
      poolform render --pool k8s-prod -f pools/ --job-variables '{"image": "repo/app:2"}'
      poolform render --pool k8s-prod --live --job-variables @vars.json
      poolform render --pool k8s-prod --env prod   # with prod's overlays (or, --live, from prod's server)
    """
    from reconciler.model.state import UNMANAGED
    from reconciler.templates import render_job_configuration

    deployment_vars = _json_arg("--job-variables", job_variables)
    flow_run_vars = _json_arg("--flow-run-variables", flow_run_variables)
    template: Any = None
    origin = ""
    declared_names: list[str] = []
    provider = None
    with common.errors_to_exit():
        environment = common.server_environment(env_name, api_url, files)
    if (files or environment is not None) and not live:
        desired = common.load_config(files, variables, var_files=var_files, allow_unknown_type=allow_unknown_type,
                                     environment=environment)
        declared_names = list(desired.pools)
        provider = desired.provider
        declared = desired.pools.get(pool)
        if declared is not None and declared.base_job_template is not UNMANAGED:
            template = declared.base_job_template
            origin = "in the config"
    if template is None:
        with common.errors_to_exit():
            client = common.make_client(api_url, provider=provider, environment=environment)
            try:
                body = client.read_pool(pool)
                live_names = [row.get("name", "") for row in client.read_pools()] if body is None else []
            finally:
                client.close()
        if body is None:
            where = (" (it is not declared with a base_job_template in the config either)"
                     if (files or environment is not None) and not live else "")
            hint = did_you_mean(pool, list(dict.fromkeys(declared_names + live_names)))
            common.fail(f"work pool {pool!r} not found at {client.api_url}{where}.{hint}", code=Code.NOT_FOUND)
        template = body.get("base_job_template") or {}
        origin = "on the server"
    if not template or not isinstance(template, dict) or not template.get("job_configuration"):
        common.fail(f"work pool {pool!r} has no base job template {origin}; there is nothing to render. "
                    "Declare base_job_template in the config, or set one on the pool.")
    from reconciler.templates import validate_job_variables

    merged = {**deployment_vars, **flow_run_vars}
    problems = validate_job_variables(template.get("variables") or {}, merged, enforce_required=True)
    if problems:
        click.echo(f"Error: the job variables do not validate against the variables of work pool {pool!r} "
                   f"({origin}); the server would refuse them when a flow run is created:", err=True)
        for problem in problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(1)
    try:
        rendered = render_job_configuration(template, deployment_vars=deployment_vars, flow_run_vars=flow_run_vars,
                                            environ=dict(os.environ))
    except (ValueError, TypeError, KeyError) as exc:
        common.fail(f"cannot render the template of work pool {pool!r}: {exc}")
    click.echo(json.dumps(rendered, indent=2, ensure_ascii=False, sort_keys=False))
