"""Views tests: plan builders from tests/plan/helpers.py (as ``plan_test_helpers``) and the golden-file check.

Regenerate goldens with ``POOLFORM_UPDATE_GOLDENS=1 pytest tests/views``.
"""

import importlib.util
import os
import pathlib
import sys

import pytest

if "plan_test_helpers" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "plan_test_helpers", pathlib.Path(__file__).parent.parent / "plan" / "helpers.py")
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["plan_test_helpers"] = _module
    _spec.loader.exec_module(_module)
if "views_test_scenarios" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("views_test_scenarios", pathlib.Path(__file__).with_name("scenarios.py"))
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["views_test_scenarios"] = _module
    _spec.loader.exec_module(_module)

GOLDEN = pathlib.Path(__file__).with_name("golden")


@pytest.fixture
def golden():
    """``golden(name, text)``: compare with tests/views/golden/<name>, or rewrite it when updating."""

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if os.environ.get("POOLFORM_UPDATE_GOLDENS"):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert path.exists(), f"missing golden {path}; run with POOLFORM_UPDATE_GOLDENS=1 to create it"
        assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden; rerun with POOLFORM_UPDATE_GOLDENS=1 if intended"

    return check
