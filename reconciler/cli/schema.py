"""``poolform schema``: print (or write) the config's JSON Schema.

The schema comes from :func:`reconciler.model.document.config_schema_text`, the same
text checked in at ``provider-schema/config.schema.json``. No logic here.
"""

from __future__ import annotations

import click


@click.command("schema")
@click.option("--out", "out", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the schema to FILE instead of standard output.")
def schema(out: str | None) -> None:
    """Print the config's JSON Schema (draft-07, for editors and CI).

    \b
    Editors (yaml-language-server) pick it up from a modeline on line 1:
      # yaml-language-server: $schema=../provider-schema/config.schema.json
    """
    from reconciler.model.document import config_schema_text

    text = config_schema_text()
    if out:
        try:
            with open(out, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            click.echo(f"Error: cannot write {out}: {exc.strerror or exc}", err=True)
            raise SystemExit(1)
        click.echo(f"Wrote {out}.", err=True)
    else:
        click.echo(text, nl=False)
