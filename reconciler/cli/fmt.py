"""``poolform fmt``: rewrite config files in their canonical layout.

Parses arguments, asks :mod:`reconciler.config.fmt` for the new text of each file,
writes it (unless ``--check``), and maps the outcome to an exit code. Formatting
rules live in ``reconciler.config.fmt``, not here. A file that cannot be parsed is
reported as ``file:line: message`` and left untouched.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_WOULD_CHANGE = 3


@click.command(name="fmt")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--check", is_flag=True, help="Write nothing; exit 3 if any file would change.")
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff of the changes.")
@click.option("--recursive", "-r", is_flag=True, help="Also format files in subdirectories.")
def fmt(paths: tuple[str, ...], check: bool, show_diff: bool, recursive: bool) -> None:
    """Normalize config files: YAML key order, indentation and comments; HCL spacing.

    PATHS are files or directories (default: the current directory). A directory
    contributes its *.yaml, *.yml, *.tf and *.tfvars files; subdirectories only
    with --recursive. YAML keys are put in schema order (version, manage,
    base_job_templates, work_pools; type, description, paused, concurrency_limit,
    base_job_template, queues in a pool; priority, concurrency_limit, paused,
    description in a queue); unknown keys keep their place after the known ones
    and comments are kept. YAML files that are not poolform configs (no
    work_pools, base_job_templates or manage at the top, and no config.schema.json
    modeline) are left alone. .tf and .tfvars files come out byte for byte as
    `terraform fmt` (1.11) writes them: what it accepts, fmt accepts, and what
    `terraform fmt -check` passes, `fmt --check` passes.

    Files are rewritten in place and the changed ones listed, unless --check.

    \b
    Exit codes:
      0  nothing to change (or everything rewritten)
      1  a file could not be read or parsed (it is left untouched)
      3  with --check: at least one file would change
    """
    from reconciler.config.fmt import discover, format_file

    files, problems = discover(paths or (".",), recursive=recursive)
    named = {Path(p).resolve() for p in paths if Path(p).is_file()}
    for problem in problems:
        click.echo(f"Error: {problem}", err=True)
    failed = bool(problems)
    would_change = False
    for path in files:
        result = format_file(path)
        if result.error is not None:
            click.echo(f"Error: {result.error}", err=True)
            click.echo("  The file was left unchanged; fix it and run `poolform fmt` again.", err=True)
            failed = True
            continue
        if result.skipped is not None:
            if Path(path).resolve() in named:
                click.echo(f"Skipped {path}: {result.skipped}.", err=True)
            continue
        if not result.changed:
            continue
        would_change = True
        click.echo(str(path))
        if show_diff:
            click.echo(result.diff(), nl=False)
        if check:
            continue
        try:
            _replace(path, result.formatted or "")
        except OSError as exc:
            click.echo(f"Error: {path}: cannot write ({exc.strerror or exc}); the file was left unchanged.", err=True)
            failed = True
    if failed:
        sys.exit(EXIT_ERROR)
    if check and would_change:
        sys.exit(EXIT_WOULD_CHANGE)


def _replace(path: Path, text: str) -> None:
    """Write ``text`` over ``path`` atomically (a temporary file beside it, then a rename), keeping its mode."""
    import os
    import shutil
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".fmt", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
