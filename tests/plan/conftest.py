"""Makes tests/plan/helpers.py importable as ``plan_test_helpers`` (tests run with --import-mode=importlib)."""

import importlib.util
import pathlib
import sys

if "plan_test_helpers" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("plan_test_helpers", pathlib.Path(__file__).with_name("helpers.py"))
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["plan_test_helpers"] = _module
    _spec.loader.exec_module(_module)
