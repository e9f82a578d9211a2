"""``poolform status``: how work pools stand now: per pool its type, status, limit and slots in
use; per queue (in waterfall order) its priority, pause, limit, slots in use, backlog of due runs,
the oldest due run's lateness and when it was last polled; the pool's workers and their heartbeats.

Reads through the API client (``api/survey.py``: any Prefect 3.x API, reads only), computes with
``reconciler.explain.status_document``, renders with ``views/status.py`` or as JSON. ``--watch``
refreshes in place (rich ``Live`` on a terminal; elsewhere each refresh is printed) until Ctrl-C,
which exits 0. Exit 1 on an error (a pool named that does not exist, an unreachable server).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

import click

from reconciler.cli import _common as common
from reconciler.diagnostics import Code

if TYPE_CHECKING:
    from reconciler.config.environments import Environment

CLOCK: Callable[[], datetime] = lambda: datetime.now(timezone.utc)  # noqa: E731
""""Now" for the computation (tests pin it to the server's clock)."""


@click.command("status")
@click.option("--pool", "pools", multiple=True, metavar="NAME", help="Only this work pool (repeatable). Default: every pool.")
@common.json_option
@click.option("--watch", is_flag=True, help="Refresh in place until Ctrl-C (which exits 0).")
@click.option("--interval", type=click.FloatRange(0.5, 3600), default=2.0, show_default=True, metavar="SECONDS",
              help="Seconds between refreshes with --watch.")
@common.server_env_option
@common.api_url_option
@common.no_color_option
def status(pools: tuple[str, ...], as_json: bool, watch: bool, interval: float, env_name: str | None,
           api_url: str | None, no_color: bool) -> None:
    """Show how work pools, their queues and workers stand now.

    Reads from the API only (any Prefect 3.x server); the backlog of a queue is
    its due SCHEDULED runs, its lateness the oldest one's. With --json, one JSON
    document (with --watch, one per refresh, a line each).

    \b
    Examples:
      poolform status
      poolform status --pool k8s-prod --watch
      poolform status --env prod               # the prod environment's server
      poolform status --json | jq '.pools[].queues[] | {name, backlog}'
    """
    with common.json_error_document() if as_json else contextlib.nullcontext():
        with common.errors_to_exit():
            environment = common.server_environment(env_name, api_url)
    server = (api_url, environment)
    if as_json and not watch:
        with common.json_error_document():
            click.echo(json.dumps(_read(pools, server), indent=2, ensure_ascii=False))
        return
    if not watch:
        _print(_read(pools, server), no_color)
        return
    try:
        if as_json:
            while True:
                click.echo(json.dumps(_read(pools, server), ensure_ascii=False))
                time.sleep(interval)
        elif common.use_color(no_color):
            _live(pools, server, interval)
        else:
            while True:
                _print(_read(pools, server), no_color)
                time.sleep(interval)
    except KeyboardInterrupt:
        sys.exit(0)


def _read(pools: tuple[str, ...], server: "tuple[str | None, Environment | None]") -> dict[str, Any]:
    from reconciler.api.survey import survey_pools
    from reconciler.explain import status_document

    with common.errors_to_exit():
        client = common.make_client(server[0], environment=server[1])
        try:
            now = CLOCK()
            pictures, missing = survey_pools(client, list(pools), now)
        finally:
            client.close()
    if missing:
        names = ", ".join(repr(n) for n in missing)
        common.fail(f"work pool{'s' if len(missing) > 1 else ''} {names} not found at {client.api_url}.", code=Code.NOT_FOUND)
    return status_document(pictures, now)


def _print(document: dict[str, Any], no_color: bool) -> None:
    from reconciler.views.status import render_status

    from reconciler.cli.explain import _width

    click.echo(render_status(document, color=common.use_color(no_color), width=_width()), nl=False)


def _live(pools: tuple[str, ...], server: "tuple[str | None, Environment | None]", interval: float) -> None:
    from rich.console import Console
    from rich.live import Live

    from reconciler.views.status import status_renderable

    console = Console(highlight=False, emoji=False, markup=False)
    with Live(status_renderable(_read(pools, server)), console=console, auto_refresh=False) as live:
        while True:
            time.sleep(interval)
            live.update(status_renderable(_read(pools, server)), refresh=True)
