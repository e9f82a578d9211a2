"""Fixtures for config tests: write files into a temporary tree and load them."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest

from reconciler.config.load import load
from reconciler.diagnostics import Diagnostics

REPO = Path(__file__).resolve().parents[2]


class Tree:
    """A temporary directory to write config files into; paths in diagnostics are relative to it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, name: str, text: str) -> str:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return name

    @staticmethod
    def where(diags: Diagnostics) -> list[str]:
        return where(diags)

    def load(self, *names: str, variables: dict[str, str] | None = None, env: dict[str, str] | None = None) -> Any:
        return load(list(names), variables=variables or {}, env=env or {})


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tree:
    monkeypatch.chdir(tmp_path)
    return Tree(tmp_path)


def where(diags: Diagnostics) -> list[str]:
    """Each diagnostic as ``file:line:col severity summary [address]`` for compact assertions."""
    out = []
    for d in diags:
        rng = f"{d.range.filename}:{d.range.start.line}:{d.range.start.column}" if d.range else "-"
        out.append(f"{rng} {d.severity} {d.summary} [{d.address}]")
    return out


@pytest.fixture
def positions() -> Callable[[Diagnostics], list[str]]:
    return where


def rel(path: str) -> str:
    return os.path.relpath(path)
