"""docs/cli.md is the --help of every command, and every command has help (sqlite-utils' test_docs)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import click
import pytest

from reconciler.cli.main import COMMANDS, SHORT_HELP

ROOT = Path(__file__).resolve().parents[2]
STALE = "docs/cli.md is stale; run `python scripts/generate_docs.py`"


def test_walk_reaches_every_command_and_subcommand(gen: ModuleType) -> None:
    paths = [ctx.command_path for ctx, _ in gen.walk_commands()]
    assert paths[0] == "poolform"
    assert {f"poolform {name}" for name in COMMANDS} <= set(paths)
    groups = [ctx.command_path for ctx, cmd in gen.walk_commands() if isinstance(cmd, click.Group) and ctx.parent]
    for group in groups:
        assert any(p.startswith(group + " ") for p in paths), f"{group} has no subcommands in the walk"


def test_every_command_has_help(gen: ModuleType) -> None:
    missing = [ctx.command_path for ctx, command in gen.walk_commands() if not (command.help or "").strip()]
    assert not missing, "commands without help text: " + ", ".join(missing)


def test_every_option_has_help(gen: ModuleType) -> None:
    missing = []
    for ctx, command in gen.walk_commands():
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden and not (param.help or "").strip():
                missing.append(f"{ctx.command_path} {param.opts[0]}")
    assert not missing, "options without help text: " + ", ".join(missing)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_top_level_command_has_a_short_help(name: str) -> None:
    assert SHORT_HELP.get(name, "").strip(), f"poolform {name} has no entry in SHORT_HELP (reconciler/cli/main.py)"


def test_cli_md_is_fresh(gen: ModuleType) -> None:
    expected = gen.outputs()[gen.CLI_DOC]
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == expected, STALE


def test_cli_md_documents_every_command(gen: ModuleType) -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for ctx, _ in list(gen.walk_commands())[1:]:
        assert f"\n## {ctx.command_path}\n" in text, f"{ctx.command_path} is missing; {STALE}"
        assert f"Usage: {ctx.command_path} " in text


def test_generated_help_is_what_the_cli_prints(gen: ModuleType) -> None:
    from click.testing import CliRunner

    from reconciler.cli.main import cli

    for ctx, command in gen.walk_commands():
        args = ctx.command_path.split()[1:] + ["--help"]
        printed = CliRunner().invoke(cli, args, prog_name="poolform", terminal_width=gen.WIDTH, max_content_width=gen.WIDTH)
        assert printed.exit_code == 0, (args, printed.output)
        assert " ".join(printed.output.split()) == " ".join(command.get_help(ctx).split()), ctx.command_path
