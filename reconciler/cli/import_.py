"""``poolform import``: write live pools, queues and templates as config (YAML).

Planning the written file right away gives no changes. Exit 0 ok, 1 error.
Must not hold logic: reading is ``reconciler.api``, writing is ``reconciler.config.export``.
"""

from __future__ import annotations

import click

from reconciler.cli import _common as common
from reconciler.diagnostics import Code


@click.command("import")
@click.option("--pool", "pools", multiple=True, metavar="NAME", help="A live pool to import; repeatable.")
@click.option("--all", "all_pools", is_flag=True, help="Import every pool on the server.")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the YAML here instead of standard output.")
@common.server_env_option
@common.api_url_option
def import_(pools: tuple[str, ...], all_pools: bool, output: str | None, env_name: str | None,
            api_url: str | None) -> None:
    """Write live pools and queues as config.

    \b
    Examples:
      poolform import --pool k8s-prod -o pools/k8s-prod.yaml
      poolform import --all > pools.yaml
      poolform import --env prod --pool k8s-prod   # from the prod environment's server
    """
    if bool(pools) == all_pools:
        common.usage("name the pools to import with --pool NAME (repeatable), or pass --all")
    from reconciler.api.observe import observe_pools
    from reconciler.config.export import export_config

    with common.errors_to_exit():
        environment = common.server_environment(env_name, api_url)
        client = common.make_client(api_url, progress=True, environment=environment)
        try:
            observed = observe_pools(client, None if all_pools else list(pools))
            common.finish_progress(client)
        finally:
            client.close()
        missing = [name for name in pools if name not in observed.pools]
        if missing:
            names = ", ".join(repr(n) for n in missing)
            common.fail(f"work pool{'s' if len(missing) > 1 else ''} {names} not found at {client.api_url}; "
                        "list the pools with `prefect work-pool ls` or use --all.", code=Code.NOT_FOUND)
        names = sorted(observed.pools) if all_pools else list(dict.fromkeys(pools))
        text = export_config(observed, pools=names)
        masked = common.masked(text)
        if masked != text:
            click.echo("Warning: values of secret environment variables in the live pools are written as "
                       "[masked:NAME]; poolform refuses a config holding one until the real value is put back.", err=True)
            text = masked
        if output:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
            click.echo(f"Wrote {len(names)} work pool{'s' if len(names) != 1 else ''} to {output}.", err=True)
        else:
            click.echo(text, nl=not text.endswith("\n"))
