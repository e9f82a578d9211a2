"""The plan of each config under examples/ against an empty server equals its golden file.

Regenerate with POOLFORM_UPDATE_GOLDENS=1. Human output, no colour, not in
automation; paths are relative to the repository root. Each example must then
apply cleanly and plan empty.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import assert_ok

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent
UPDATE = bool(os.environ.get("POOLFORM_UPDATE_GOLDENS"))

EXAMPLES = {
    "process": ["examples/process"],
    "kubernetes": ["examples/kubernetes"],
    "hcl": ["examples/hcl"],
    "overlays": ["examples/overlays/base.yaml", "examples/overlays/prod.yaml"],
}


def _files(paths: list[str]) -> list[str]:
    args: list[str] = []
    for p in paths:
        args += ["-f", p]
    return args


@pytest.mark.parametrize("name", sorted(EXAMPLES), ids=sorted(EXAMPLES))
def test_example_plan_matches_golden(ref_env, monkeypatch, name):
    monkeypatch.chdir(REPO)
    out = assert_ok(ref_env.cli("plan", *_files(EXAMPLES[name]), "--detailed-exitcode"), 2)
    golden = GOLDEN / f"{name}.plan.txt"
    if UPDATE:
        golden.write_text(out, encoding="utf-8")
    assert golden.exists(), f"missing {golden}; run with POOLFORM_UPDATE_GOLDENS=1"
    assert out == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(EXAMPLES), ids=sorted(EXAMPLES))
def test_example_applies_and_second_plan_is_empty(ref_env, monkeypatch, name):
    monkeypatch.chdir(REPO)
    out = assert_ok(ref_env.cli("apply", *_files(EXAMPLES[name]), "--auto-approve"))
    assert "Apply complete!" in out
    out = assert_ok(ref_env.cli("plan", *_files(EXAMPLES[name]), "--detailed-exitcode"), 0)
    assert "No changes." in out


def test_goldens_have_no_orphans():
    assert sorted(p.name for p in GOLDEN.glob("*.plan.txt")) == sorted(f"{n}.plan.txt" for n in EXAMPLES)
