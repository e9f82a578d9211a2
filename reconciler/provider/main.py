"""Entry point ``terraform-provider-prefect``: refuse to run outside Terraform, then serve.

Kept tiny: only the stdlib before the handshake checks; gRPC, the stubs, msgpack
and cryptography load in ``server``; httpx, pydantic and jsonschema load on first use.
"""

from __future__ import annotations

import os
import sys

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"


def main() -> int:
    if os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        sys.stderr.write(
            "This is the Terraform provider poolform/prefect. Terraform starts it; it is not meant to be run "
            "directly.\nInstall it with `poolform terraform install` and run `terraform init`.\n")
        return 1
    versions = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", "6").split(",")
    if "6" not in [v.strip() for v in versions]:
        sys.stderr.write(f"poolform/prefect speaks plugin protocol 6 only; Terraform offered {','.join(versions)}. "
                         "Use Terraform 1.0 or later.\n")
        return 1
    from reconciler.provider.server import serve

    return serve()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
