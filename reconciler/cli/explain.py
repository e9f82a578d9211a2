"""``poolform explain FLOW_RUN_ID``: where a flow run stands in its pool and why it has not started.

Reads the run and its pool through the API client (``api/survey.py``: any Prefect 3.x API, reads
only), computes with ``reconciler.explain`` (the server's scheduling core) and renders the document
(``views/status.py``, or JSON). Exit 0 when the run is explained (whatever its reasons), 1 on an
error (no such run, a malformed id, an unreachable server). No logic here.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Callable

import click

from reconciler.cli import _common as common
from reconciler.diagnostics import Code

CLOCK: Callable[[], datetime] = lambda: datetime.now(timezone.utc)  # noqa: E731
""""Now" for the computation (tests pin it to the server's clock)."""


@click.command("explain")
@click.argument("flow_run_id", metavar="FLOW_RUN_ID")
@common.json_option
@common.server_env_option
@common.api_url_option
@common.no_color_option
def explain(flow_run_id: str, as_json: bool, env_name: str | None, api_url: str | None, no_color: bool) -> None:
    """Say where a flow run stands in its work pool and why it has not started.

    Reads the run, its pool, queues, workers and their runs from the API (nothing
    is written) and computes, with the scheduling core of the reference server,
    the run's position in the order the pool hands out its due runs and every
    reason it is held: NOT_SCHEDULED, NOT_DUE, POOL_PAUSED, QUEUE_PAUSED,
    POOL_LIMIT, QUEUE_LIMIT, PRIORITY, NO_WORKER, NO_POOL. No reason means a
    worker polling now would receive it. Works against any Prefect 3.x API.

    \b
    Examples:
      poolform explain 0b9f6c3e-1d2a-4c8e-9a55-6f1f3a2b7c10
      poolform explain 0b9f6c3e-1d2a-4c8e-9a55-6f1f3a2b7c10 --json
      poolform explain 0b9f6c3e-1d2a-4c8e-9a55-6f1f3a2b7c10 --env prod
    """
    if as_json:
        with common.json_error_document():
            _explain(flow_run_id, as_json, env_name, api_url, no_color)
    else:
        _explain(flow_run_id, as_json, env_name, api_url, no_color)


def _explain(flow_run_id: str, as_json: bool, env_name: str | None, api_url: str | None, no_color: bool) -> None:
    from reconciler.api.survey import survey_run
    from reconciler.explain import explain_document, explain_run

    try:
        run_id = str(uuid.UUID(flow_run_id.strip()))
    except ValueError:
        common.usage(f"FLOW_RUN_ID {flow_run_id!r} is not a flow run id (a UUID such as "
                     "0b9f6c3e-1d2a-4c8e-9a55-6f1f3a2b7c10); list runs with `prefect flow-run ls`.")
    with common.errors_to_exit():
        environment = common.server_environment(env_name, api_url)
        client = common.make_client(api_url, environment=environment)
        try:
            now = CLOCK()
            found = survey_run(client, run_id, now)
        finally:
            client.close()
    if found is None:
        common.fail(f"flow run {run_id} not found at {client.api_url}; list runs with `prefect flow-run ls`.",
                    code=Code.NOT_FOUND)
    run, picture = found
    document = explain_document(explain_run(picture, run, now), picture)
    if as_json:
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    from reconciler.views.status import render_explanation

    color = common.use_color(no_color)
    click.echo(render_explanation(document, color=color, width=_width()), nl=False)


def _width() -> int:
    import shutil

    return max(60, shutil.get_terminal_size((120, 24)).columns)
