"""Golden example tests reuse the end-to-end harness (servers, ``Env.cli``) from tests/e2e/conftest.py."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_path = Path(__file__).resolve().parents[1] / "e2e" / "conftest.py"
_spec = importlib.util.spec_from_file_location("poolform_e2e_harness", _path)
harness = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("poolform_e2e_harness", harness)
_spec.loader.exec_module(harness)

env = harness.env
ref_env = harness.ref_env
socket_server = harness.socket_server
socket_env = harness.socket_env
assert_ok = harness.assert_ok
