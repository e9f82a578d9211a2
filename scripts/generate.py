"""`make schema`: regenerate every generated file, in dependency order.

provider-schema/config.schema.json (from the config models), provider-schema/policy.schema.json (rule
files), provider-schema/plan.schema.json (from the
plan's vocabularies), provider-schema/provider.schema.json (from the Terraform provider's schema), then
docs/cli.md, docs/config.md and the sample comment in docs/ci.md. Tests fail when any of them is stale.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    from reconciler.model.document import config_schema_text, policy_schema_text
    from reconciler.plan.schema import plan_schema_text
    from reconciler.provider.schema import write_schema_file

    for name, text in (("config.schema.json", config_schema_text()), ("policy.schema.json", policy_schema_text()),
                       ("plan.schema.json", plan_schema_text())):
        target = ROOT / "provider-schema" / name
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target.relative_to(ROOT)}")
    print(f"wrote {Path(write_schema_file()).resolve().relative_to(ROOT)}")
    return subprocess.call([sys.executable, str(ROOT / "scripts" / "generate_docs.py")], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
