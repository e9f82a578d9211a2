"""What the status page shows (``GET /``): the status document of every pool and each pool's
pending-runs document, read in one transaction so the page's numbers agree with each other.

Load and decide are ``standings``' (the same documents ``/api/poolform/status`` and
``/api/poolform/work_pools/{name}/pending`` answer); this module only gathers them. Must not
write anything or compute a number of its own.
"""

from __future__ import annotations

from typing import Any

from reconciler.server.domain import Ctx, atomic, standings


@atomic
def overview(ctx: Ctx) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(the status document of every pool, the pending-runs document per pool name)."""
    status = standings.status(ctx, [])
    return status, {pool["name"]: standings.pending_runs(ctx, pool["name"]) for pool in status["pools"]}
