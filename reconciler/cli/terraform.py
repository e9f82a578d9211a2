"""``poolform terraform``: install the Terraform provider into an offline filesystem mirror."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.provider import install as _install


@click.group("terraform")
def terraform() -> None:
    """The Terraform provider poolform/prefect."""


@terraform.command("install")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=f"Filesystem mirror directory [default: {_install.DEFAULT_DIR}, which Terraform searches "
                   "without any CLI configuration].")
def install(directory: Path | None) -> None:
    """Write the provider into a filesystem mirror so that `terraform init` works offline."""
    target = directory if directory is not None else _install.DEFAULT_DIR
    try:
        executable = _install.install(target)
    except OSError as exc:
        raise click.ClickException(f"cannot write the provider under {target}: {exc.strerror or exc}. "
                                   "Choose a writable directory with --dir.") from None
    root = Path(target).expanduser().resolve()
    click.echo(f"Installed poolform/prefect {executable.parent.parent.name} ({executable.parent.name}) at {executable}")
    click.echo("")
    if directory is None:
        click.echo(f"{root} is one of Terraform's implied mirror directories: `terraform init` finds the provider "
                   "without extra configuration.")
        click.echo("To be explicit (or if you already have a provider_installation block), use this CLI configuration:")
    else:
        click.echo("Point Terraform at the mirror with this CLI configuration "
                   "(~/.terraformrc, or a file named by TF_CLI_CONFIG_FILE):")
    click.echo("")
    click.echo(_install.cli_config(root), nl=False)
    click.echo("")
    click.echo('Then, in your root module: terraform { required_providers { prefect = { source = "poolform/prefect" } } }')
