"""Claims and their leases: when a PENDING run whose worker stopped heartbeating returns to
SCHEDULED, and which proposals from a worker whose claim is void are refused (Prefect issues
#17415, #17628: a dead worker's PENDING runs held their slots forever).

Pure: no I/O, no clock (``now`` is passed in), no imports from the rest of the package. The
domain (``domain/flow_runs.py``) loads claims and heartbeats under the pool's lock, asks these
functions, and writes what they decide.

Rules:

1. A claim (a move into PENDING from a state that holds no slot, accepted) records its
   claimant: the worker named by the request's ``X-Prefect-Worker-Name`` header, or nobody.
   Prefect 3.9.1 workers send that header on every request and pass their name to the flow-run
   process they start (``PREFECT__WORKER_NAME``), whose RUNNING proposal carries it too.
2. A PENDING run is reclaimed — returned to SCHEDULED at its scheduled time, the state message
   saying why — once it has been PENDING for longer than the lease (``--pending-timeout``,
   default 600 s) while its claimant is not heartbeating: that worker is OFFLINE, or the pool
   has never heard of it. A run claimed by nobody is reclaimed only when no worker of its pool is
   ONLINE. A live worker's slow infrastructure start is never reclaimed, however long.
3. After a reclaim, while the run is SCHEDULED, the former claimant's RUNNING proposal (its
   flow-run process starting late, from the void claim) is refused: the run must be claimed
   again. A PENDING proposal is a new claim, from that worker too.
4. A RUNNING proposal for a run PENDING or RUNNING under another worker's claim is refused
   (Prefect accepts RUNNING over RUNNING: that would start the run a second time).
5. A proposal without a worker name is judged as Prefect judges it (the server cannot tell).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["PENDING_TIMEOUT", "Claim", "reclaim_reason", "proposal_refusal"]

PENDING_TIMEOUT = 600.0
"""The default lease: seconds a run may stay PENDING under a worker that stopped heartbeating."""


@dataclass(frozen=True)
class Claim:
    """A PENDING run's claim as the pool knows it at ``now``."""

    claimant: str | None
    pending_since: datetime
    claimant_online: bool
    """The claimant's worker is ONLINE (False when the pool has no such worker)."""
    any_online: bool
    """Some worker of the pool is ONLINE."""


def reclaim_reason(claim: Claim, now: datetime, timeout: float) -> str | None:
    """The state message for returning a PENDING run to SCHEDULED (rule 2), or None to keep it."""
    pending = (now - claim.pending_since).total_seconds()
    if pending <= timeout:
        return None
    if claim.claimant is not None:
        if claim.claimant_online:
            return None
        who = f"worker {claim.claimant!r} stopped heartbeating"
    else:
        if claim.any_online:
            return None
        who = "no worker of its pool is heartbeating (the claim named no worker)"
    return (f"Returned to SCHEDULED: {who} and the run stayed PENDING for {pending:.0f} s, longer than the "
            f"pending timeout ({timeout:g} s). Its slot is free; the next poll hands the run out again.")


def proposal_refusal(current_type: str | None, proposed_type: str, claimant: str | None,
                     reclaimed_from: str | None, proposer: str | None) -> str | None:
    """Why a proposal from worker ``proposer`` is refused under rules 3 and 4, or None."""
    if proposer is None or proposed_type != "RUNNING":
        return None
    if current_type == "SCHEDULED" and reclaimed_from == proposer:
        return (f"Worker {proposer!r} no longer holds this run: its claim was taken back because it stopped "
                "heartbeating past the pending timeout, and the run was returned to SCHEDULED. Do not start it; "
                "a worker must claim it again.")
    if current_type in ("PENDING", "RUNNING") and claimant is not None and claimant != proposer:
        return f"This run is claimed by worker {claimant!r}, not {proposer!r}; only its claimant may start it."
    return None
