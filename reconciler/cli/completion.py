"""``poolform completion SHELL``: print the shell completion script for bash, zsh or fish.

The script is click's own (the one ``_POOLFORM_COMPLETE=<shell>_source poolform`` prints): it
calls ``poolform`` back with ``_POOLFORM_COMPLETE=<shell>_complete`` to complete commands,
options and choices, so completions always match the installed version. No logic here.
"""

from __future__ import annotations

import click

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_POOLFORM_COMPLETE"


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script for SHELL (bash, zsh or fish).

    \b
    Install it once:
      bash: echo 'eval "$(poolform completion bash)"' >> ~/.bashrc      (bash 4.4 or later)
      zsh:  echo 'eval "$(poolform completion zsh)"' >> ~/.zshrc
      fish: poolform completion fish > ~/.config/fish/completions/poolform.fish
    """
    from click.shell_completion import get_completion_class

    from reconciler.cli.main import cli

    script_class = get_completion_class(shell)
    assert script_class is not None, shell  # click ships all three SHELLS
    click.echo(script_class(cli, {}, "poolform", COMPLETE_VAR).source())
