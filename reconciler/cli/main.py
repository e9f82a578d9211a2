"""Entry point of ``poolform``: a click group whose commands are imported lazily.

Each command lives in its own module (``reconciler/cli/<command>.py``) and is
imported only when it runs, so ``poolform --version`` and ``--help`` stay fast.
To add a command, add one line to ``COMMANDS``.
"""

from __future__ import annotations

import importlib
import sys

import click

from reconciler import __version__
from reconciler.cli._common import CHDIR

COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module, attribute), in the order --help lists them
    "validate": ("reconciler.cli.validate", "validate"),
    "plan": ("reconciler.cli.plan", "plan"),
    "apply": ("reconciler.cli.apply", "apply"),
    "show": ("reconciler.cli.show", "show"),
    "import": ("reconciler.cli.import_", "import_"),
    "render": ("reconciler.cli.render", "render"),
    "fmt": ("reconciler.cli.fmt", "fmt"),
    "schema": ("reconciler.cli.schema", "schema"),
    "server": ("reconciler.cli.server", "server"),
    "terraform": ("reconciler.cli.terraform", "terraform"),
}

SHORT_HELP: dict[str, str] = {
    "validate": "Check config files offline.",
    "plan": "Show what apply would change on the server.",
    "apply": "Make the server match the config (or a saved plan).",
    "show": "Render a saved plan file.",
    "import": "Write live pools and queues as config.",
    "render": "Render the job configuration a worker would get.",
    "fmt": "Normalize config files.",
    "schema": "Print the config's JSON Schema.",
    "server": "Run the reference server.",
    "terraform": "Install the Terraform provider.",
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module = importlib.import_module(target[0])
        return getattr(module, target[1])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SHORT_HELP.get(name, "")) for name in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="poolform", message="%(prog)s %(version)s")
@click.option("--chdir", "-chdir", metavar="DIR",
              help="Switch to DIR before running the command, as terraform's -chdir: relative -f, --var-file "
                   "and plan file paths and the default config directory are read in DIR.")
@click.pass_context
def cli(ctx: click.Context, chdir: str | None) -> None:
    """poolform: Prefect work pools, work queues and base job templates as code.

    \b
    Typical use:
      poolform validate -f pools/          # offline checks
      poolform plan -f pools/ --out plan.json
      poolform apply plan.json
      poolform -chdir=infra plan           # as if run in infra/

    Connection: PREFECT_API_URL (or --api-url), PREFECT_API_KEY (Bearer),
    PREFECT_API_AUTH_STRING / PREFECT_BASIC_AUTH_KEY (Basic).
    """
    if chdir is None:
        return
    import os

    previous = os.getcwd()
    try:
        os.chdir(chdir)
    except OSError as exc:
        click.echo(f"Error: -chdir {chdir}: {exc.strerror or exc}; give an existing directory.", err=True)
        sys.exit(1)
    ctx.meta[CHDIR] = chdir
    ctx.call_on_close(lambda: os.chdir(previous))


def main() -> None:
    try:
        cli.main(prog_name="poolform")
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
