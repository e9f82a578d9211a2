"""Table-driven cases for ``claim_refusal`` and ``decide`` (Prefect 3's flow-run rules + claims)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from reconciler.server.orchestration import Decision, decide
from reconciler.scheduling import PoolSlots, QueueSlots, claim_refusal

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
Q = QueueSlots("id-q", "q", 1, False, None, 0)


@pytest.mark.parametrize(
    "pool, queue, expected",
    [
        pytest.param(PoolSlots(False, None, 50, "p"), Q, None, id="no-limits"),
        pytest.param(PoolSlots(False, 5, 4, "p"), QueueSlots("i", "q", 1, False, 1, 0), None,
                     id="one-slot-left-in-both"),
        pytest.param(PoolSlots(False, 5, 5, "p"), Q,
                     "Work pool 'p' is at its concurrency limit (5 of 5 slots in use).", id="pool-full"),
        pytest.param(PoolSlots(False, 5, 7, "p"), Q,
                     "Work pool 'p' is at its concurrency limit (7 of 5 slots in use).",
                     id="pool-over-limit"),
        pytest.param(PoolSlots(False, 5, 1, "p"), QueueSlots("i", "q", 1, False, 1, 1),
                     "Work queue 'p/q' is at its concurrency limit (1 of 1 slots in use).",
                     id="queue-full"),
        pytest.param(PoolSlots(False, 0, 0, "p"), Q,
                     "Work pool 'p' is at its concurrency limit (0 of 0 slots in use).",
                     id="pool-limit-0"),
        pytest.param(PoolSlots(False, None, 0, "p"), QueueSlots("i", "q", 1, False, 0, 0),
                     "Work queue 'p/q' is at its concurrency limit (0 of 0 slots in use).",
                     id="queue-limit-0"),
        pytest.param(PoolSlots(True, None, 0, "p"), Q,
                     "Work pool 'p' is paused; resume it before runs can start.", id="pool-paused"),
        pytest.param(PoolSlots(False, None, 0, "p"), QueueSlots("i", "q", 1, True, None, 0),
                     "Work queue 'p/q' is paused; resume it before runs can start.",
                     id="queue-paused"),
        pytest.param(PoolSlots(True, 1, 1, "p"), QueueSlots("i", "q", 1, True, 1, 1),
                     "Work pool 'p' is paused; resume it before runs can start.",
                     id="pool-reason-comes-first"),
        pytest.param(PoolSlots(False, 1, 1), Q,
                     "The work pool is at its concurrency limit (1 of 1 slots in use).",
                     id="pool-without-name"),
    ],
)
def test_claim_refusal(pool, queue, expected):
    assert claim_refusal(pool, queue) == expected


FULL = "Work pool 'p' is at its concurrency limit (5 of 5 slots in use)."


def D(status, reason=None, delay=None, replacement=None):
    return Decision(status, reason, delay, replacement)


def pending_abort(cur):
    return D("ABORT", f"This run is in a {cur} state and cannot transition to a PENDING state.")


CASES = [
    # (id, current type, current name, proposed type, proposed name, kwargs, expected)
    ("claim-scheduled-to-pending", "SCHEDULED", "Scheduled", "PENDING", "Pending", {}, D("ACCEPT")),
    ("claim-late-run", "SCHEDULED", "Late", "PENDING", "Pending", {}, D("ACCEPT")),
    ("second-claim-aborts", "PENDING", "Pending", "PENDING", "Pending", {}, pending_abort("PENDING")),
    ("claim-after-running-aborts", "RUNNING", "Running", "PENDING", "Pending", {},
     pending_abort("RUNNING")),
    ("claim-cancelled-aborts", "CANCELLED", "Cancelled", "PENDING", "Pending", {},
     pending_abort("CANCELLED")),
    ("claim-cancelling-is-rejected-first", "CANCELLING", "Cancelling", "PENDING", "Pending", {},
     D("REJECT", "Cannot transition flows that are cancelling to a state other than Cancelled.")),
    ("pending-substate-allowed", "PENDING", "Pending", "PENDING", "Submitting", {}, D("ACCEPT")),
    ("same-substate-aborts", "PENDING", "Submitting", "PENDING", "Submitting", {},
     pending_abort("PENDING")),
    ("back-to-plain-pending-aborts", "PENDING", "Submitting", "PENDING", "Pending", {},
     pending_abort("PENDING")),
    ("claim-refused-by-limit", "SCHEDULED", "Scheduled", "PENDING", "Pending", {"refusal": FULL},
     D("ABORT", FULL)),
    ("direct-start-refused-by-limit", "SCHEDULED", "Scheduled", "RUNNING", None,
     {"refusal": FULL}, D("ABORT", FULL)),
    ("refusal-ignored-outside-claims", "PENDING", "Pending", "RUNNING", "Running",
     {"refusal": FULL}, D("ACCEPT")),
    ("double-claim-reason-wins-over-refusal", "PENDING", "Pending", "PENDING", "Pending",
     {"refusal": FULL}, pending_abort("PENDING")),
    ("force-overrides-everything", "PENDING", "Pending", "PENDING", "Pending",
     {"force": True, "refusal": FULL}, D("ACCEPT")),
    ("resume-into-a-full-pool-waits", "PAUSED", "Paused", "RUNNING", None, {"refusal": FULL}, D("WAIT", FULL, 10)),
    ("first-state-into-a-full-pool-aborts", None, None, "PENDING", None, {"refusal": FULL}, D("ABORT", FULL)),
    ("void-claim-aborts", "SCHEDULED", "Scheduled", "RUNNING", None, {"void_claim": "gone"}, D("ABORT", "gone")),
    ("void-claim-overridden-by-force", "PENDING", "Pending", "RUNNING", None,
     {"void_claim": "gone", "force": True}, D("ACCEPT")),
    ("force-into-a-full-pool", "SCHEDULED", "Scheduled", "PENDING", "Pending", {"force": True, "refusal": FULL},
     D("ACCEPT")),
    ("force-reruns-completed", "COMPLETED", "Completed", "SCHEDULED", "Scheduled", {"force": True},
     D("ACCEPT")),
    ("running-early-waits", "PENDING", "Pending", "RUNNING", None,
     {"scheduled_time": NOW + timedelta(seconds=30)},
     D("WAIT", "Scheduled time is in the future", 30)),
    ("running-early-rounds-up", "SCHEDULED", "Scheduled", "RUNNING", None,
     {"scheduled_time": NOW + timedelta(seconds=2.6)}, D("WAIT", "Scheduled time is in the future", 3)),
    ("running-early-rounds-down", "SCHEDULED", "Scheduled", "RUNNING", None,
     {"scheduled_time": NOW + timedelta(seconds=2.4)}, D("WAIT", "Scheduled time is in the future", 2)),
    ("running-under-half-second-early-accepts", "PENDING", "Pending", "RUNNING", None,
     {"scheduled_time": NOW + timedelta(seconds=0.4)}, D("ACCEPT")),
    ("running-on-time", "PENDING", "Pending", "RUNNING", None, {"scheduled_time": NOW}, D("ACCEPT")),
    ("running-late", "PENDING", "Pending", "RUNNING", None,
     {"scheduled_time": NOW - timedelta(hours=1)}, D("ACCEPT")),
    ("running-without-scheduled-time", "PENDING", "Pending", "RUNNING", None, {}, D("ACCEPT")),
    ("completes", "RUNNING", "Running", "COMPLETED", None, {}, D("ACCEPT")),
    ("fails", "RUNNING", "Running", "FAILED", None, {}, D("ACCEPT")),
    ("crashes", "PENDING", "Pending", "CRASHED", None, {}, D("ACCEPT")),
    ("cancelling-running", "RUNNING", "Running", "CANCELLING", None, {}, D("ACCEPT")),
    ("cancelling-to-cancelled", "CANCELLING", "Cancelling", "CANCELLED", None, {}, D("ACCEPT")),
    ("cancelling-to-completed-rejected", "CANCELLING", "Cancelling", "COMPLETED", None, {},
     D("REJECT", "Cannot transition flows that are cancelling to a state other than Cancelled.")),
    ("cancel-scheduled-becomes-cancelled", "SCHEDULED", "Scheduled", "CANCELLING", None, {},
     D("REJECT", "Scheduled flow run has no infrastructure to terminate.", None, "CANCELLED")),
    ("cancel-scheduled-directly", "SCHEDULED", "Scheduled", "CANCELLED", None, {}, D("ACCEPT")),
    ("terminal-to-crashed", "COMPLETED", "Completed", "CRASHED", None, {},
     D("ABORT", "Run is already in terminal state COMPLETED.")),
    ("terminal-to-cancelling", "FAILED", "Failed", "CANCELLING", None, {},
     D("ABORT", "Run is already in terminal state FAILED.")),
    ("terminal-to-paused", "CRASHED", "Crashed", "PAUSED", None, {},
     D("ABORT", "Run is already in terminal state CRASHED.")),
    ("completed-to-pending-aborts", "COMPLETED", "Completed", "PENDING", "Pending", {},
     D("ABORT", "Run is already in terminal state COMPLETED.")),
    ("failed-to-running-aborts", "FAILED", "Failed", "RUNNING", None, {},
     D("ABORT", "Run is already in terminal state FAILED.")),
    ("crashed-to-scheduled-aborts", "CRASHED", "Crashed", "SCHEDULED", None, {},
     D("ABORT", "Run is already in terminal state CRASHED.")),
    ("terminal-to-terminal", "FAILED", "Failed", "COMPLETED", None, {}, D("ACCEPT")),
    ("mark-late", "SCHEDULED", "Scheduled", "SCHEDULED", "Late", {}, D("ACCEPT")),
    ("mark-late-twice", "SCHEDULED", "Late", "SCHEDULED", "Late", {},
     D("REJECT", "This flow run is already marked late.")),
    ("mark-running-late", "RUNNING", "Running", "SCHEDULED", "Late", {},
     D("REJECT", "Only scheduled flows can be marked late.")),
    ("reschedule", "SCHEDULED", "Late", "SCHEDULED", "Scheduled", {}, D("ACCEPT")),
    ("pause-running", "RUNNING", "Running", "PAUSED", "Paused", {}, D("ACCEPT")),
    ("pause-pending", "PENDING", "Pending", "PAUSED", "Paused", {},
     D("REJECT", "Cannot pause flows that are not currently running.")),
    ("suspend-scheduled", "SCHEDULED", "Scheduled", "PAUSED", "Suspended", {},
     D("REJECT", "Cannot suspend flows that are not currently running.")),
    ("pause-without-state", None, None, "PAUSED", None, {},
     D("ABORT", "Cannot pause flows with no state.")),
    ("resume-to-running", "PAUSED", "Paused", "RUNNING", None, {}, D("ACCEPT")),
    ("paused-to-pending", "PAUSED", "Paused", "PENDING", "Pending", {},
     D("REJECT", "This run cannot transition to the PENDING state from the PAUSED state.")),
    ("first-state-pending", None, None, "PENDING", "Pending", {}, D("ACCEPT")),
    ("first-state-scheduled", None, None, "SCHEDULED", "Scheduled", {}, D("ACCEPT")),
]


@pytest.mark.parametrize(
    "cur, cur_name, new, new_name, kwargs, expected",
    [pytest.param(*c[1:], id=c[0]) for c in CASES],
)
def test_decide(cur, cur_name, new, new_name, kwargs, expected):
    args = {"force": False, "scheduled_time": None, "now": NOW, "refusal": None, **kwargs}
    assert decide(cur, cur_name, new, new_name, **args) == expected
