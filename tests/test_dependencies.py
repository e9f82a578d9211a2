"""Declared dependencies = imported ones, from the code's own imports and pyproject.toml.

Every third-party module ``reconciler/`` imports (at module level or inside a function) is mapped
to the distribution that provides it (``importlib.metadata.packages_distributions``) and compared
with the metadata:

* the CLI and the provider (everything but ``reconciler/server/`` and the ``server`` command)
  import only what ``dependencies`` declares, so ``pip install poolform`` is enough for them;
* the server side imports only what ``dependencies`` and the ``server``/``postgres`` extras declare;
* every declared distribution is imported somewhere on its side (a base one by the CLI or the
  provider, an extra's by the server), or is in ``LOADED_WITHOUT_IMPORT`` with the line of code that
  makes it load;
* ``poolform server start`` checks for exactly the ``server`` extra's modules.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "reconciler"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> dict[str, set[str]]:
    """Distribution names (canonical) by group: ``base`` and each extra; self-references dropped."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    groups = {"base": project["dependencies"], **project["optional-dependencies"]}
    found = {group: {canonical(Requirement(text).name) for text in texts} - {"poolform"}
             for group, texts in groups.items()}
    return {"server": set(), "postgres": set(), **found}


def is_server_side(path: Path) -> bool:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] == "server" or relative == Path("cli", "server.py")


def third_party_imports(path: Path) -> dict[str, int]:
    """Top-level module -> first line importing it (standard library and our own package left out)."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top not in ("reconciler", "__future__"):
                found.setdefault(top, node.lineno)
    return found


def _in(relative: str, needle: str) -> Callable[[], bool]:
    return lambda: needle in (PACKAGE / relative).read_text(encoding="utf-8")


LOADED_WITHOUT_IMPORT: dict[str, tuple[str, Callable[[], bool]]] = {
    # distribution: (why it is needed though no module imports it, a check that the reason still holds)
    "websockets": ("uvicorn speaks the event channel's websocket with it (ws='websockets-sansio')",
                   _in("server/runner.py", 'ws="websockets-sansio"')),
    "uvloop": ("uvicorn's default loop='auto' runs on it when it is installed",
               lambda: all("loop=" not in (PACKAGE / f).read_text(encoding="utf-8")
                           for f in ("server/runner.py", "cli/server.py"))),
}


DECLARED_AHEAD: dict[str, str] = {
    # distribution: the change that imports it, declared before that change lands; the entry goes
    # once it has landed
}


@pytest.fixture(scope="module")
def imports() -> dict[str, dict[str, dict[str, int]]]:
    """side ('client' or 'server') -> file -> top-level module -> line."""
    sides: dict[str, dict[str, dict[str, int]]] = {"client": {}, "server": {}}
    for path in sorted(PACKAGE.rglob("*.py")):
        found = third_party_imports(path)
        if found:
            sides["server" if is_server_side(path) else "client"][str(path.relative_to(ROOT))] = found
    return sides


@functools.cache
def providers() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def distributions_of(module: str) -> set[str]:
    return {canonical(name) for name in providers().get(module, [])}


def test_every_import_is_declared_on_its_side(imports: dict[str, dict[str, dict[str, int]]]) -> None:
    groups = declared()
    allowed = {"client": groups["base"], "server": groups["base"] | groups["server"] | groups["postgres"]}
    where = {"client": "[project] dependencies", "server": "dependencies or the server/postgres extras"}
    offences = []
    for side, files in imports.items():
        for file, modules in files.items():
            for module, line in modules.items():
                dists = distributions_of(module)
                if not dists:
                    offences.append(f"{file}:{line} imports {module}, which no installed distribution provides")
                elif not dists & allowed[side]:
                    offences.append(f"{file}:{line} imports {module} ({', '.join(sorted(dists))}), "
                                    f"not declared in {where[side]} of pyproject.toml")
    assert not offences, "\n".join(offences)


def test_every_declared_dependency_is_used_on_its_side(imports: dict[str, dict[str, dict[str, int]]]) -> None:
    groups = declared()
    used = {side: {dist for modules in files.values() for module in modules for dist in distributions_of(module)}
            for side, files in imports.items()}
    stale = [f"{name}: {reason} (no longer true: update LOADED_WITHOUT_IMPORT)"
             for name, (reason, holds) in LOADED_WITHOUT_IMPORT.items() if not holds()]
    unused = [
        f"{dist} is declared in {group} but imported by no module of {side}"
        for group, side in (("base", "client"), ("server", "server"), ("postgres", "server"))
        for dist in sorted(groups[group])
        if dist not in used[side] and dist not in LOADED_WITHOUT_IMPORT and dist not in DECLARED_AHEAD
    ]
    misplaced = [f"{dist} is in the server extra but the CLI or the provider imports it: move it to dependencies"
                 for dist in sorted(groups["server"] & used["client"])]
    assert not stale + unused + misplaced, "\n".join(stale + unused + misplaced)


def test_server_start_checks_exactly_the_server_extra() -> None:
    from reconciler.cli.server import SERVER_EXTRA_MODULES

    modules = {
        module
        for module, dists in providers().items()
        if {canonical(d) for d in dists} & (declared()["server"] - {"uvloop"}) and not module.startswith("_")
    }
    assert set(SERVER_EXTRA_MODULES) == modules


def test_the_check_sees_lazy_and_nested_imports(tmp_path: Path) -> None:
    source = tmp_path / "sample.py"
    source.write_text("import os\nfrom . import x\n\ndef f():\n    from lark.tree import Tree\n    import grpc, yaml\n")
    assert third_party_imports(source) == {"lark": 5, "grpc": 6, "yaml": 6}
    assert distributions_of("grpc") == {"grpcio"} and distributions_of("hcl2") == {"python-hcl2"}
