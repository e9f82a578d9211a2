"""``poolform diff --env A --env B``: how two environments' desired states differ (promotion review).

Loads the configuration once per environment (the ``-f`` files with that environment's overlays and
variables), compares the two states (``reconciler.plan.compare``) and renders the comparison
(human, or ``--json``). No server is read and no credential is needed. Exit 0 (with
``--detailed-exitcode``: 2 when they differ), 1 on error.
Must not hold comparison logic.
"""

from __future__ import annotations

import contextlib
import json
import sys

import click

from reconciler.cli import _common as common


@click.command("diff", cls=common.Command)
@common.files_option
@common.var_option
@common.var_file_option
@common.allow_unknown_type_option
@click.option("--env", "env_names", multiple=True, metavar="NAME",
              help="An environment of the config's environments: map; give exactly two (left, then right).")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 when the states are the same, 1 on error, 2 when they differ.")
@common.json_option
@common.no_color_option
def diff(files: tuple[str, ...], variables: tuple[str, ...], var_files: tuple[str, ...], allow_unknown_type: bool,
         env_names: tuple[str, ...], detailed_exitcode: bool, as_json: bool, no_color: bool) -> None:
    """Show how two environments' desired states differ (no server).

    Each side is the configuration as `--env NAME` reads it: the -f files, then the
    environment's overlay files and variables. Every pool and queue either side declares
    is compared field by field (a template path by path); a field one side does not
    manage shows as (not managed).

    \b
    Examples:
      poolform diff --env staging --env prod
      poolform diff -f pools/ --env staging --env prod --json
    """
    color = not as_json and common.use_color(no_color)
    with common.json_error_document() if as_json else contextlib.nullcontext():
        if len(env_names) != 2:
            common.usage(f"give exactly two environments with --env (got {len(env_names)}), e.g. "
                         "--env staging --env prod")
        if env_names[0] == env_names[1]:
            common.usage(f"--env {env_names[0]} is given twice: name two different environments")
        from reconciler.plan.compare import compare_states

        states = []
        with common.errors_to_exit():
            for name in env_names:
                environment = common.select_environment(name, files)
                states.append(common.load_config(files, variables, var_files=var_files,
                                                 allow_unknown_type=allow_unknown_type, color=color,
                                                 machine_output=as_json, environment=environment))
        document = compare_states(states[0], states[1], left_name=env_names[0], right_name=env_names[1])
    if as_json:
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        from reconciler.views.comparison import render_comparison

        click.echo(render_comparison(document, color=color), nl=False)
    if detailed_exitcode and (document["objects"] or document["ownership"]):
        sys.exit(2)
