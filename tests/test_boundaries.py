"""The layering rules of docs/architecture.md, checked from the code's own imports.

* ``plan/`` is pure: it imports neither ``api/``, ``apply/``, ``views/``, ``cli/`` nor any HTTP or
  rendering library;
* ``views/`` read plan JSON only: no ``api/``, ``apply/`` or ``plan.planner``;
* the server and the client side share only the HTTP contract: nothing under
  ``reconciler/server/`` imports the rest of the package, and nothing outside it (the
  ``server`` command aside) imports the server;
* ``poolform --version`` stays light: the CLI entry imports no heavy library.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "reconciler"


def imports_of(path: Path) -> set[str]:
    """Every module name an ``import`` or ``from ... import`` in the file names (relative ones resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level]
                names.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                names.add(node.module)
    return names


def files_under(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


RULES = [
    ("plan", ("reconciler.api", "reconciler.apply", "reconciler.views", "reconciler.cli", "reconciler.server",
              "reconciler.provider", "httpx", "rich", "click")),
    ("views", ("reconciler.api", "reconciler.apply", "reconciler.cli", "reconciler.server", "reconciler.plan.planner",
               "httpx")),
    ("model", ("reconciler.api", "reconciler.apply", "reconciler.plan", "reconciler.cli", "reconciler.server", "httpx")),
    ("apply", ("reconciler.cli", "reconciler.views", "reconciler.server")),
    ("api", ("reconciler.plan", "reconciler.apply", "reconciler.cli", "reconciler.views", "reconciler.server")),
    ("config", ("reconciler.api", "reconciler.apply", "reconciler.plan", "reconciler.cli", "reconciler.server", "httpx")),
]


@pytest.mark.parametrize(("folder", "forbidden"), RULES, ids=[rule[0] for rule in RULES])
def test_layer_does_not_import_what_it_must_not(folder: str, forbidden: tuple[str, ...]) -> None:
    offences = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in files_under(folder)
        for name in imports_of(path)
        if any(name == bad or name.startswith(bad + ".") for bad in forbidden)
    ]
    assert not offences, "\n".join(offences)


def test_server_shares_only_the_http_contract() -> None:
    inside = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in files_under("server")
        for name in imports_of(path)
        if name.startswith("reconciler") and not name.startswith("reconciler.server")
    ]
    assert not inside, "the server must not import the rest of the package:\n" + "\n".join(inside)
    outside = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if "server" not in path.relative_to(PACKAGE).parts[:1] and path.name != "server.py"
        for name in imports_of(path)
        if name.startswith("reconciler.server")
    ]
    assert not outside, "only `poolform server` may import the server:\n" + "\n".join(outside)


def test_version_does_not_load_heavy_libraries() -> None:
    code = (
        "import sys; sys.argv = ['poolform', '--version']\n"
        "from reconciler.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('httpx', 'pydantic', 'fastapi', 'jsonschema', 'rich', 'deepdiff', 'hcl2', 'yaml', 'ruamel')"
        " if m in sys.modules)\n"
        "print('HEAVY:' + ','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("poolform ")
    assert lines[-1] == "HEAVY:", f"heavy imports on the --version path: {lines[-1][len('HEAVY:'):]}"
