"""How the ``tfparse`` package (Terraform expression semantics in a Go extension) would do as poolform's
HCL reader, measured on the repository's own HCL: the function table of
``tests/config/test_hcl_functions.py`` (Terraform 1.11.4's answers) and every ``.tf`` directory.

Not a dependency of poolform: run it from a scratch virtualenv that has both installed::

    python -m venv /tmp/tfp && /tmp/tfp/bin/pip install tfparse==0.6.22 -e '.[dev]'
    /tmp/tfp/bin/python bench/hcl_tfparse.py

It prints, for tfparse and for poolform's reader, the rows answered as Terraform answers, the rows
where Terraform refuses the expression but the reader gives a value or silently nothing, and the
time to read every ``.tf`` directory of the repository (first call, then the mean of 5 rounds).
"""

from __future__ import annotations

import glob
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    try:
        import tfparse
    except ImportError:
        print("tfparse is not installed: pip install tfparse==0.6.22 into a scratch virtualenv (see the docstring)")
        return 1
    sys.path.insert(0, str(ROOT))
    spec = importlib.util.spec_from_file_location("table", ROOT / "tests/config/test_hcl_functions.py")
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    rows = [(e, v) for e, v in table.CASES if e not in table.DIFFERENCES]
    refused = sum(1 for _, v in rows if v is table.ERROR)
    counts = {"same": 0, "other value": 0, "error given a value": 0, "error made silent null": 0,
              "error reported": 0, "whole parse failed": 0}
    for expr, expected in rows:
        work = tempfile.mkdtemp()
        Path(work, "main.tf").write_text(f"locals {{\n  e = {expr}\n}}\n")
        try:
            out = tfparse.load_from_path(work)
        except Exception:  # noqa: BLE001 - one bad value fails tfparse's whole parse
            counts["whole parse failed"] += 1
            continue
        got = (out.get("locals") or [{}])[0].get("e")
        if expected is table.ERROR:
            counts["error made silent null" if got is None else "error given a value"] += 1
        else:
            counts["same" if table._same(got, expected) else "other value"] += 1
    ours = {"same": 0, "other value": 0, "error reported": 0, "error given a value": 0}
    for expr, expected in rows:
        got = table._ours(expr)
        if expected is table.ERROR:
            ours["error reported" if got is table.ERROR else "error given a value"] += 1
        else:
            ours["same" if table._same(got, expected) else "other value"] += 1
    print(f"function table: {len(rows)} rows, {refused} of them refused by Terraform")
    print(f"  tfparse : {counts}")
    print(f"  poolform: {ours}")

    os.chdir(ROOT)
    dirs = sorted({os.path.dirname(p) for p in glob.glob("**/*.tf", recursive=True)
                   if ".venv" not in p and not p.startswith("tests")})
    from reconciler.config.load import load

    for name, run in (("tfparse", lambda d: tfparse.load_from_path(d)), ("poolform", lambda d: load([d]))):
        start = time.perf_counter()
        run(dirs[0])
        first = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(5):
            for directory in dirs:
                run(directory)
        print(f"  {name:8}: {len(dirs)} .tf directories, first call {first * 1000:.0f} ms, "
              f"then {(time.perf_counter() - start) / 5 * 1000:.0f} ms per round")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
