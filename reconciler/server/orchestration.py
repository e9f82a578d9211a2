"""Flow-run state transition rules: what ``POST /api/flow_runs/{id}/set_state`` answers.

Owns the decision (ACCEPT, REJECT, ABORT or WAIT, with Prefect 3's reason texts) for one
proposed transition. Pure: no I/O, no clock (``now`` is passed in), no imports from the rest of
the package. The route loads the run, asks ``scheduling.claim_refusal`` when the proposal takes a
slot, calls ``decide`` and writes the state only on ACCEPT (or REJECT with ``replacement_type``).

Rules, in the order Prefect's core flow policy applies them (first one that fires wins):

1. ``force`` accepts anything: the operator's documented override, as in Prefect (it also
   bypasses the limit check of rule 9 and the claim checks of rule 1b).
1b. Beyond Prefect, a void claim (``leases.proposal_refusal``): ABORT with its reason.
2. From a terminal state (COMPLETED, FAILED, CANCELLED, CRASHED) to CANCELLING, PAUSED or
   CRASHED: ABORT "Run is already in terminal state X."
3. From CANCELLING to anything but CANCELLED: REJECT.
4. SCHEDULED to CANCELLING (a scheduled run has no infrastructure): REJECT, and the run becomes
   CANCELLED instead (``replacement_type``).
5. To PENDING from PENDING, RUNNING, CANCELLING or CANCELLED: ABORT, the guard against two
   workers claiming one run. A named PENDING sub-state ("Submitting") may follow "Pending".
6. Beyond Prefect: from a terminal state to SCHEDULED, PENDING or RUNNING: ABORT with the text of
   rule 2, so a worker holding a stale poll can never start a finished run again. Prefect lets
   some of these through (re-runs); use ``force`` for a deliberate re-run.
7. SCHEDULED named "Late": REJECT unless the run is SCHEDULED and not already Late.
8. To PAUSED: ABORT with no state, REJECT unless RUNNING. From PAUSED only RUNNING, SCHEDULED
   or a terminal state.
9. Beyond Prefect, the limit check on every way into a slot: from a state that holds none
   (SCHEDULED, PAUSED, no state) to PENDING or RUNNING with a ``refusal`` (the pool or queue is
   paused or at its concurrency limit). From SCHEDULED or no state: ABORT with that reason; the
   run stays SCHEDULED and a later poll hands it out again. From PAUSED (a paused flow
   resuming in its running process): WAIT ``RESUME_WAIT_SECONDS`` with the reason, which the
   Prefect client sleeps on and proposes again, so the run resumes when a slot frees.
10. SCHEDULED or PENDING to RUNNING before ``scheduled_time``: WAIT, ``delay_seconds`` the delay
    rounded to the nearest second (as Prefect does), only when it is at least 1.
11. Everything else: ACCEPT.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["Decision", "decide", "TERMINAL_TYPES", "STATE_TYPES", "ACTIVE_TYPES", "LATE_AFTER_SECONDS",
           "RESUME_WAIT_SECONDS"]

STATE_TYPES = frozenset(
    {"SCHEDULED", "PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "CRASHED", "PAUSED",
     "CANCELLING"}
)
TERMINAL_TYPES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "CRASHED"})
ACTIVE_TYPES = frozenset({"PENDING", "RUNNING"})
"""The states that hold a slot of their pool and queue (occupancy SQL is built from this)."""
LATE_AFTER_SECONDS = 15
"""A SCHEDULED run this long past its time reads "Late" (computed when read)."""
RESUME_WAIT_SECONDS = 10
"""How long a paused run resuming into a full pool or queue is told to wait before asking again."""


@dataclass(frozen=True)
class Decision:
    status: str
    reason: str | None = None
    delay_seconds: int | None = None
    replacement_type: str | None = None


ACCEPT = Decision("ACCEPT")


def _abort(reason: str) -> Decision:
    return Decision("ABORT", reason)


def _reject(reason: str, replacement_type: str | None = None) -> Decision:
    return Decision("REJECT", reason, replacement_type=replacement_type)


def _wait_seconds(scheduled_time: datetime, now: datetime) -> int:
    delay = (scheduled_time - now).total_seconds()
    whole = int(delay // 1)
    return whole + round(delay - whole)


def decide(
    current_type: str | None,
    current_name: str | None,
    proposed_type: str,
    proposed_name: str | None,
    *,
    force: bool,
    scheduled_time: datetime | None,
    now: datetime,
    refusal: str | None,
    void_claim: str | None = None,
) -> Decision:
    """Answer a proposed transition of a flow run from its current state.

    ``scheduled_time`` is the current state's ``state_details.scheduled_time`` (a PENDING state
    carries the time copied from its SCHEDULED state); ``refusal`` is the reason taking a slot
    would break a pause or a limit, or None; ``void_claim`` the reason the proposer's claim is
    void, or None. Datetimes must be timezone-aware.
    """
    if force:
        return ACCEPT
    if void_claim is not None:
        return _abort(void_claim)
    cur, new = current_type, proposed_type

    if cur in TERMINAL_TYPES and new in {"CANCELLING", "PAUSED", "CRASHED"}:
        return _abort(f"Run is already in terminal state {cur}.")
    if cur == "CANCELLING" and new != "CANCELLED":
        return _reject(
            "Cannot transition flows that are cancelling to a state other than Cancelled."
        )
    if cur == "SCHEDULED" and new == "CANCELLING":
        return _reject(
            "Scheduled flow run has no infrastructure to terminate.", replacement_type="CANCELLED"
        )
    if new == "PENDING" and cur in {"PENDING", "RUNNING", "CANCELLING", "CANCELLED"}:
        named_substate = cur == "PENDING" and current_name != proposed_name and (
            proposed_name != "Pending"
        )
        if not named_substate:
            return _abort(
                f"This run is in a {cur} state and cannot transition to a PENDING state."
            )
    if cur in TERMINAL_TYPES and new not in TERMINAL_TYPES:
        return _abort(f"Run is already in terminal state {cur}.")
    if new == "SCHEDULED" and proposed_name == "Late":
        if cur != "SCHEDULED":
            return _reject("Only scheduled flows can be marked late.")
        if current_name == "Late":
            return _reject("This flow run is already marked late.")
    if new == "PAUSED":
        verb = "suspend" if proposed_name == "Suspended" else "pause"
        if cur is None:
            return _abort(f"Cannot {verb} flows with no state.")
        if cur != "RUNNING":
            return _reject(f"Cannot {verb} flows that are not currently running.")
    if cur == "PAUSED" and new not in TERMINAL_TYPES | {"RUNNING", "SCHEDULED"}:
        return _reject(f"This run cannot transition to the {new} state from the {cur} state.")
    if cur not in ACTIVE_TYPES and new in ACTIVE_TYPES and refusal is not None:
        if cur == "PAUSED":
            return Decision("WAIT", refusal, delay_seconds=RESUME_WAIT_SECONDS)
        return _abort(refusal)
    if cur in {"SCHEDULED", "PENDING"} and new == "RUNNING" and scheduled_time is not None:
        delay = _wait_seconds(scheduled_time, now)
        if delay > 0:
            return Decision("WAIT", "Scheduled time is in the future", delay_seconds=delay)
    return ACCEPT
