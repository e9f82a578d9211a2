"""``poolform terraform``: install the Terraform provider into a filesystem mirror or a network mirror's files."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.errors import InstallError
from reconciler.provider import install as _install


@click.group("terraform")
def terraform() -> None:
    """The Terraform provider poolform/prefect."""


@terraform.command("install")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=f"Mirror directory [default for filesystem-mirror: {_install.DEFAULT_DIR}, which Terraform "
                   "searches without any CLI configuration; required for network-mirror].")
@click.option("--format", "layout", type=click.Choice(["filesystem-mirror", "network-mirror"]),
              default="filesystem-mirror", show_default=True,
              help="filesystem-mirror: the unpacked layout for a filesystem_mirror (or the implied local "
                   "directories). network-mirror: index.json, <version>.json and zipped packages with their "
                   "h1:/zh: hashes, for a network_mirror served by any static HTTPS server.")
def install(directory: Path | None, layout: str) -> None:
    """Write the provider for Terraform, for linux and darwin on amd64 and arm64.

    The package is a small sh launcher that holds no path of this machine, so its hashes (and a
    .terraform.lock.hcl made anywhere) are the same on every machine for one poolform version. It runs
    the terraform-provider-prefect of the poolform found on PATH, or the executable named by
    POOLFORM_PROVIDER."""
    if layout == "network-mirror" and directory is None:
        raise click.UsageError("--format network-mirror needs --dir DIR: the directory your HTTPS server serves.")
    target = directory if directory is not None else _install.DEFAULT_DIR
    try:
        if layout == "network-mirror":
            folder = _install.install_network_mirror(target)
        else:
            executable = _install.install(target)
    except OSError as exc:
        raise click.ClickException(f"cannot write the provider under {target}: {exc.strerror or exc}. "
                                   "Choose a writable directory with --dir.") from None
    except InstallError as exc:
        raise click.ClickException(str(exc)) from None
    root = Path(target).expanduser().resolve()
    version = _install.__version__
    if layout == "network-mirror":
        click.echo(f"Wrote the network mirror of poolform/prefect {version} "
                   f"({', '.join(_install.platforms())}) under {folder}")
        click.echo(f"Hashes: {' '.join(_install.package_hashes())}")
        click.echo("")
        click.echo(f"Serve {root} over HTTPS (Terraform requires it) and use this CLI configuration "
                   "(~/.terraformrc, or a file named by TF_CLI_CONFIG_FILE), with your URL:")
        click.echo("")
        click.echo(_install.network_cli_config(), nl=False)
    else:
        click.echo(f"Installed poolform/prefect {version} ({', '.join(_install.platforms())}) "
                   f"under {executable.parent.parent}")
        click.echo("")
        if directory is None:
            click.echo(f"{root} is one of Terraform's implied mirror directories: `terraform init` finds the "
                       "provider without extra configuration.")
            click.echo("To be explicit (or if you already have a provider_installation block), "
                       "use this CLI configuration:")
        else:
            click.echo("Point Terraform at the mirror with this CLI configuration "
                       "(~/.terraformrc, or a file named by TF_CLI_CONFIG_FILE):")
        click.echo("")
        click.echo(_install.cli_config(root), nl=False)
    click.echo("")
    click.echo(f"The provider runs the {_install.ENTRY_POINT} found on PATH (activate poolform's virtual "
               f"environment), or the executable named by {_install.COMMAND_ENV}.")
    click.echo('Then, in your root module: terraform { required_providers { prefect = { source = "poolform/prefect" } } }')
