"""Entry point ``terraform-provider-prefect``: refuse to run outside Terraform, then serve.

The launcher ``poolform terraform install`` writes runs this and sets ``POOLFORM_PROVIDER_VERSION``
to its own version: another version of poolform refuses to serve in its place.
Kept tiny: only the stdlib before the handshake checks; cryptography (the certificate) before the
handshake line, the transport (ssl, h2), protobuf and msgpack after it (``server``); httpx, pydantic
and jsonschema on first use.
"""

from __future__ import annotations

import os
import sys

from reconciler.api import lean_imports

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
VERSION_ENV = "POOLFORM_PROVIDER_VERSION"
"""Set by the installed launcher to the version Terraform selected (and the lock file pins)."""


def main() -> int:
    if os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        sys.stderr.write(
            "This is the Terraform provider poolform/prefect. Terraform starts it; it is not meant to be run "
            "directly.\nInstall it with `poolform terraform install` and run `terraform init`.\n")
        return 1
    from reconciler import __version__

    wanted = os.environ.get(VERSION_ENV)
    if wanted and wanted != __version__:
        sys.stderr.write(
            f"Terraform selected poolform/prefect {wanted}, but the poolform that runs it is {__version__} "
            f"({sys.argv[0]}). Install poolform {wanted} (pip install 'poolform=={wanted}'), or, to move to "
            f"{__version__}, run `poolform terraform install` and `terraform init -upgrade`.\n")
        return 1
    versions = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", "6").split(",")
    if "6" not in [v.strip() for v in versions]:
        sys.stderr.write(f"poolform/prefect speaks plugin protocol 6 only; Terraform offered {','.join(versions)}. "
                         "Use Terraform 1.0 or later.\n")
        return 1
    lean_imports()
    profile_dir = os.environ.get("POOLFORM_PROVIDER_PROFILE")
    if profile_dir:  # debugging: a cProfile of this process, every thread (``profiling``)
        from reconciler.provider import profiling

        profiling.start()
    try:
        from reconciler.provider.server import serve

        try:
            code = serve()
        except OSError as exc:  # the socket's directory: a clear line for Terraform to show, not a traceback
            sys.stderr.write(f"poolform/prefect cannot start: {exc}\n")
            code = 1
    finally:
        if profile_dir:
            profiling.stop(profile_dir)
    # Terraform waits for the plugin's exit after each of its three starts a plan; the interpreter's
    # teardown (joining gRPC's and the executors' threads, freeing every module) is time it waits
    # for nothing: the socket is removed and nothing is left to write but the standard streams.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
