"""Entry point of ``poolform``: a click group whose commands are imported lazily.

Each command lives in its own module (``reconciler/cli/<command>.py``) and is
imported only when it runs, so ``poolform --version`` and ``--help`` stay fast.
To add a command, add one line to ``COMMANDS``.

Owns two things every command shares: output masking (stdout and stderr pass through
:class:`reconciler.secrets.MaskedStream` while any command runs, so no secret value from
the environment is printed, whoever prints it) and exit codes as terraform's: a usage
error (unknown option, missing argument, bad value) exits 1, never click's 2, which
``plan --detailed-exitcode`` reserves for "changes present"; with ``--json`` it is also
reported as JSON with the code ``usage``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from typing import Any, Iterator, Sequence

import click

from reconciler import __version__

COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module, attribute), in the order --help lists them
    "validate": ("reconciler.cli.validate", "validate"),
    "plan": ("reconciler.cli.plan", "plan"),
    "apply": ("reconciler.cli.apply", "apply"),
    "diff": ("reconciler.cli.diff", "diff"),
    "show": ("reconciler.cli.show", "show"),
    "import": ("reconciler.cli.import_", "import_"),
    "render": ("reconciler.cli.render", "render"),
    "status": ("reconciler.cli.status", "status"),
    "explain": ("reconciler.cli.explain", "explain"),
    "fmt": ("reconciler.cli.fmt", "fmt"),
    "schema": ("reconciler.cli.schema", "schema"),
    "server": ("reconciler.cli.server", "server"),
    "terraform": ("reconciler.cli.terraform", "terraform"),
    "ci": ("reconciler.cli.ci", "ci"),
    "completion": ("reconciler.cli.completion", "completion"),
}

SHORT_HELP: dict[str, str] = {
    "validate": "Check config files offline.",
    "plan": "Show what apply would change on the server.",
    "apply": "Make the server match the config (or a saved plan).",
    "diff": "Show how two environments' desired states differ.",
    "show": "Render a saved plan file.",
    "import": "Write live pools and queues as config.",
    "render": "Render the job configuration a worker would get.",
    "status": "Show how work pools, queues and workers stand now.",
    "explain": "Say why a flow run has not started.",
    "fmt": "Normalize config files.",
    "schema": "Print the config's JSON Schema.",
    "server": "Run the reference server.",
    "terraform": "Install the Terraform provider.",
    "ci": "Comments, labels and drift issues for CI (GitHub, GitLab).",
    "completion": "Print the shell completion script (bash, zsh, fish).",
}


USAGE_EXIT_CODE = 1


@contextlib.contextmanager
def masked_output() -> Iterator[None]:
    """stdout and stderr masked (see :mod:`reconciler.secrets`) while the block runs."""
    from reconciler.secrets import Masker, MaskedStream

    masker = Masker.live(os.environ)  # also masks what the configuration declares secret while it runs
    saved = sys.stdout, sys.stderr
    streams = MaskedStream(sys.stdout, masker), MaskedStream(sys.stderr, masker)
    sys.stdout, sys.stderr = streams  # type: ignore[assignment]
    try:
        yield
    finally:
        masker.retire()
        for stream in streams:
            stream.release()
        if (sys.stdout, sys.stderr) == streams:
            sys.stdout, sys.stderr = saved
        else:  # click swapped them (a closed pipe): put back only what is still ours
            sys.stdout = saved[0] if sys.stdout is streams[0] else sys.stdout
            sys.stderr = saved[1] if sys.stderr is streams[1] else sys.stderr


def _wants_json(args: Sequence[str]) -> bool:
    args = list(args)
    if "--json" in args or "--format=json" in args:
        return True
    return any(a == "--format" and b == "json" for a, b in zip(args, args[1:]))


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command is used."""

    def main(self, args: Sequence[str] | None = None, *rest: Any, **extra: Any) -> Any:
        with masked_output():
            return super().main(args, *rest, **extra)

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            exc.exit_code = USAGE_EXIT_CODE
            raise

    def invoke(self, ctx: click.Context) -> Any:
        args = [*ctx._protected_args, *ctx.args] if hasattr(ctx, "_protected_args") else list(ctx.args)
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            exc.exit_code = USAGE_EXIT_CODE
            if args and args[0] in COMMANDS and _wants_json(args[1:]):
                from reconciler.cli._common import usage_error_json

                usage_error_json(args[0], exc)
            raise

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
    PREFECT_API_AUTH_STRING / PREFECT_BASIC_AUTH_KEY (Basic), else the active
    Prefect profile (PREFECT_PROFILE, profiles.toml); or --env NAME, an
    environment of the config's environments: map.
    """
    if chdir is None:
        return
    import os

    from reconciler.cli._common import CHDIR  # not at the top: `poolform server start` needs none of it

    previous = os.getcwd()
    try:
        os.chdir(chdir)
    except OSError as exc:
        click.echo(f"Error: -chdir {chdir}: {exc.strerror or exc}; give an existing directory.", err=True)
        sys.exit(1)
    ctx.meta[CHDIR] = chdir
    ctx.call_on_close(lambda: os.chdir(previous))


def main() -> None:
    from reconciler.api import lean_imports

    lean_imports()
    try:
        cli.main(prog_name="poolform")
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception:  # a fault: its traceback is printed masked, like everything else
        import traceback

        with masked_output():
            traceback.print_exc()
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
