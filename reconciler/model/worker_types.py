"""The worker types a work pool's ``type`` may name, and the one check every reader shares.

A pool's ``type`` says which worker polls it; it cannot change without replacing the
pool, and the server accepts any string, so a typo (``kuberentes``) creates a pool no
worker will ever poll. :data:`KNOWN_WORKER_TYPES` is the union of:

* Prefect 3.9.1's bundled aggregate worker metadata
  (``prefect/server/api/collections_data/views/aggregate-worker-metadata.json``, what
  ``GET /collections/views/aggregate-worker-metadata`` serves offline): process, ecs,
  azure-container-instance, docker, cloud-run, cloud-run-v2, vertex-ai, kubernetes;
* ``prefect-agent``, the server's type when none is given (the collection registry still
  lists it; the server strips it from the view);
* the push types Prefect 3.9.1 can provision (``prefect.infrastructure.provisioners``):
  ecs:push, azure-container-instance:push, cloud-run:push, cloud-run-v2:push, modal:push,
  coiled:push, and Prefect Cloud's managed type ``prefect:managed``
  (``WorkPool.is_managed_pool``);
* the types the official Terraform provider's ``prefect_worker_metadata`` data source
  exposes (all of the above but coiled:push and prefect:managed).

Pools of other (custom) workers are allowed explicitly: ``--allow-unknown-type`` in the
CLI. Used by ``config/load.py`` for YAML and HCL alike, and meant for the Terraform
provider's validation. No I/O.
"""

from __future__ import annotations

import difflib
from typing import Final

KNOWN_WORKER_TYPES: Final[tuple[str, ...]] = (
    "process",
    "kubernetes",
    "docker",
    "ecs",
    "ecs:push",
    "cloud-run",
    "cloud-run:push",
    "cloud-run-v2",
    "cloud-run-v2:push",
    "vertex-ai",
    "azure-container-instance",
    "azure-container-instance:push",
    "modal:push",
    "coiled:push",
    "prefect:managed",
    "prefect-agent",
)


def is_known_worker_type(value: str) -> bool:
    return value in KNOWN_WORKER_TYPES


def closest_worker_type(value: str) -> str | None:
    """The known type ``value`` most likely misspells (case and ``_``/``-`` mix-ups included), or None."""
    folded = value.strip().lower().replace("_", "-")
    if folded in KNOWN_WORKER_TYPES:
        return folded
    match = difflib.get_close_matches(folded, KNOWN_WORKER_TYPES, n=1, cutoff=0.6)
    return match[0] if match else None


def unknown_worker_type_problem(value: str) -> tuple[str, str] | None:
    """``(summary, detail)`` when ``value`` is not a known worker type, else None.

    The detail names the closest known type and lists them all; callers add how
    their surface allows a custom worker's type (a CLI flag, a provider setting).
    """
    if is_known_worker_type(value):
        return None
    closest = closest_worker_type(value)
    hint = f'Did you mean "{closest}"? ' if closest else ""
    return (f"unknown work pool type {value!r}",
            f"{hint}Known worker types: {', '.join(KNOWN_WORKER_TYPES)}.")
