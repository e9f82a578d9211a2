"""A plan file is the plan: edits an attacker could make to a plan document are refused.

Table: named edits of a plan with every kind of change, each refused with its own message,
by the reader (the document alone) or by the check against the server as it was at plan
time. Property: any single edit of a field that the executor acts on or the views show,
in any plan the planner makes, is refused.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plan_test_helpers import desired, dp, dq, observed, op, oq, scenarios
from reconciler.errors import InvalidPlanError
from reconciler.plan.planfile import dumps_plan, read_plan
from reconciler.plan.planner import make_plan
from reconciler.plan.verify import server_findings

STATE = observed(
    op("k", description="old", queues=[oq("default", 1), oq("stray", 2), oq("high", 3), oq("low", 5, description="bulk")]),
    op("r", queues=[oq("default", 1), oq("a", 2), oq("b", 3)]),
    op("team-x", queues=[oq("default", 1), oq("j", 2)]),
    op("other"),
)
CONFIG = desired(
    dp("k", description="new", queues=[dq("k", "high", priority=1), dq("k", "low", priority=5, description="bulk")]),
    dp("n", queues=[dq("n", "q", priority=2)]),
    dp("r", type="docker", queues=[dq("r", "a")]),
    prune=True, scope=["team-*"],
)


def _plan() -> dict[str, Any]:
    return json.loads(dumps_plan(make_plan(CONFIG, STATE)))


def _verdict(document: dict[str, Any], state=STATE) -> str:
    """"" when accepted, else the refusal's text (the reader's, or the server check's)."""
    try:
        plan = read_plan(document)
    except InvalidPlanError as exc:
        return f"read: {exc}"
    findings = server_findings(plan, state)
    if findings.stale:
        return "stale: " + "; ".join(f"{a} ({w})" for a, w in findings.stale)
    return "; ".join(text for _, text in findings.problems)


def _change(document, address):
    return next(c for c in document["resource_changes"] if c["address"] == address)


def _step(document, op, address):
    return next(s for s in document["steps"] if s["op"] == op and s["address"] == address)


def test_the_base_plan_has_every_kind_of_change_and_is_accepted() -> None:
    document = _plan()
    actions = {tuple(c["change"]["actions"]) for c in document["resource_changes"]}
    assert actions == {("create",), ("update",), ("delete",), ("delete", "create"), ("no-op",)}
    assert document["side_effects"] and any(s["op"] == "converge_priorities" for s in document["steps"])
    assert _verdict(document) == ""


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(document):
        *parents, leaf = path.split("/")
        node = document
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(leaf) if isinstance(node, list) else leaf] = value
    return edit


def _retarget(document):
    step = _step(document, "update_pool", "work_pool.k")
    step["pool"], step["address"] = "other", "work_pool.other"


def _append_delete(document):
    document["steps"].append({"op": "delete_pool", "address": "work_pool.other", "pool": "other"})


def _converge_more(document):
    next(s for s in document["steps"] if s["op"] == "converge_priorities")["priorities"]["default"] = 9


def _hide_change(document):
    _change(document, "work_pool.k")["change"]["changed_paths"] = []


def _call_it_no_op(document):
    change = _change(document, "work_pool.k")
    change["change"].update(actions=["no-op"], changed_paths=[])
    change["action_reason"] = "no_op"


def _not_destructive(document):
    _change(document, "work_pool.team-x")["destructive"] = False


def _drop_fingerprint(document):
    del document["observed"]["work_pool.k"]


def _drop_queue_fingerprint(document):
    del document["observed"]["work_queue.k.default"]


def _unknown_field(document):
    _change(document, "work_pool.k")["change"]["after"]["storage_configuration"] = {}


def _keep_queue_of_deleted_pool(document):
    change = _change(document, "work_queue.team-x.j")
    change["change"].update(actions=["no-op"], after=change["change"]["before"])
    change.update(action_reason="no_op", destructive=False)
    document["summary"]["destroy"] -= 1


def _twice(document):
    document["resource_changes"].append(copy.deepcopy(_change(document, "work_pool.k")))
    document["summary"]["change"] += 1


def _edit_body(document):
    _step(document, "update_pool", "work_pool.k")["body"]["concurrency_limit"] = 0


def _drop_step(document):
    document["steps"].remove(_step(document, "delete_queue", "work_queue.k.stray"))


def _swap_steps(document):
    steps = document["steps"]
    steps[0], steps[1] = steps[1], steps[0]


def _edit_before(document):
    _change(document, "work_pool.k")["change"]["before"]["description"] = "older"


def _edit_side_effect(document):
    document["side_effects"][0]["after"] += 1


def _edit_fingerprint(document):
    document["observed"]["work_queue.k.high"] = "sha256:" + "0" * 64


def _severity(document):
    document["diagnostics"].append({"severity": "error", "summary": "x"})


def _both_sides(document):
    """An edit that every view shows (the new description in the change and in its step): applied as shown."""
    _change(document, "work_pool.k")["change"]["after"]["description"] = "shown"
    _step(document, "update_pool", "work_pool.k")["body"]["description"] = "shown"


EDITS = {
    "step-retargeted": (_retarget, "read: ", "touches work_pool.other, which is not among the plan's resource_changes"),
    "delete-appended": (_append_delete, "read: ", "(delete_pool work_pool.other) touches work_pool.other, which is not among"),
    "converge-widened": (_converge_more, "read: ", "touches work_queue.k.default, which is not among"),
    "summary-miscounts": (_set("summary/destroy", 0), "read: ", "its summary (add 4, change 2, destroy 0, replace 2, unmanaged 1) "
                                                                 "does not count its resource_changes (add 4, change 2, destroy 6"),
    "change-hidden": (_hide_change, "read: ", "(work_pool.k): its changed_paths are not the differences"),
    "update-called-no-op": (_call_it_no_op, "read: ", "(work_pool.k): it is a no-op whose 'before' and 'after' differ"),
    "reason-mismatch": (_set("resource_changes/0/action_reason", "no_op"), "read: ",
                        "action_reason 'no_op' does not go with actions ['update']"),
    "delete-not-destructive": (_not_destructive, "read: ", "'destructive' must be true exactly for deletes"),
    "errored-hidden": (_severity, "read: ", "'errored' is false but the plan has error diagnostics"),
    "applyable-flipped": (_set("applyable", False), "read: ", "'applyable' must be true exactly when"),
    "mode-flipped": (_set("mode", "destroy"), "read: ", "a destroy plan only deletes"),
    "fingerprint-dropped": (_drop_fingerprint, "read: ", "observed has no fingerprint of work_pool.k, which the plan changes"),
    "unknown-form-field": (_unknown_field, "read: ", "has field 'storage_configuration' that a work_pool does not have"),
    "form-value-type": (_set("resource_changes/0/change/after/paused", "yes"), "read: ", "wrong type for 'paused'"),
    "address-respelled": (_set("resource_changes/0/address", "work_pool.other"), "read: ",
                          "its address is not 'work_pool.k', which its pool and name spell"),
    "queue-kept-in-deleted-pool": (_keep_queue_of_deleted_pool, "read: ",
                                   "work_queue.team-x.j: it is planned for no-op in work_pool.team-x, which the plan deletes"),
    "change-twice": (_twice, "read: ", "work_pool.k is listed twice"),
    "side-effect-shape": (_set("side_effects/0/path", ["description"]), "read: ", "side_effects[0] must be"),
    "body-edited": (_edit_body, "", "steps[1] (update_pool work_pool.k) does not carry what its change shows"),
    "step-dropped": (_drop_step, "", "a step its changes make is missing: delete_queue work_queue.k.stray"),
    "steps-swapped": (_swap_steps, "", "its steps are its changes' steps in another order: steps[0] is "
                                       "update_pool work_pool.k where its changes put delete_pool work_pool.r"),
    "before-edited": (_edit_before, "", "(work_pool.k): its 'before' is not the object on the server"),
    "side-effect-edited": (_edit_side_effect, "read: ", "its waterfall of work_pool.k does not show the priority move of"),
    "queue-fingerprint-dropped": (_drop_queue_fingerprint, "",
                                  "observed has no fingerprint of work_queue.k.default, a queue of work_pool.k"),
    "fingerprint-edited": (_edit_fingerprint, "stale: ", "work_queue.k.high (fields the plan does not show)"),
}


@pytest.mark.parametrize("name", list(EDITS))
def test_an_edit_is_refused_saying_why(name: str) -> None:
    edit, where, message = EDITS[name]
    document = _plan()
    edit(document)
    verdict = _verdict(document)
    assert verdict.startswith(where) and message in verdict, verdict


def test_an_edit_that_every_view_shows_is_the_plan() -> None:
    document = _plan()
    _both_sides(document)
    assert _verdict(document) == ""


def test_refusals_name_no_values() -> None:
    document = _plan()
    _change(document, "work_pool.k")["change"]["before"]["description"] = "s3cr3t-value"
    _step(document, "update_pool", "work_pool.k")["body"]["description"] = "t0ken-value"
    verdict = _verdict(document)
    assert verdict and "s3cr3t" not in verdict and "t0ken" not in verdict


# -- any single edit ----------------------------------------------------------------------

_FREE_TEXT = {"poolform_version", "api_url", "created_at", "targets", "unmanaged", "ignored", "diagnostics",
              "reason_detail",
              # a snapshot for the reader where the changes carry no value (an unchanged queue, a field
              # the config does not manage); what the changes do carry is checked: test_waterfall_edits_*
              "waterfalls"}


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if path and path[-1] in _FREE_TEXT:
        return []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, path + (k,))] or [path]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, path + (i,))] or [path]
    return [path]


def _other(value: Any) -> Any:
    """A JSON value of the same kind that differs (for containers: one more element)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if value is None:
        return 0
    if isinstance(value, dict):
        return {**value, "zz": 1}
    return [*value, 0]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.booleans(), st.data())
def test_any_single_edit_of_what_is_acted_on_or_shown_is_refused(scenario, destroy, data) -> None:
    cfg, state = scenario
    document = json.loads(dumps_plan(make_plan(cfg, state, destroy=destroy)))
    assert _verdict(document, state) == ""
    path = data.draw(st.sampled_from(_leaves(document)), label="edited field")
    node = document
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = _other(node[path[-1]])
    assert _verdict(document, state), f"an edit of {'/'.join(map(str, path))} was accepted"


def _waterfall_doc() -> dict[str, Any]:
    document = _plan()
    assert document["waterfalls"] and _verdict(document) == ""
    return document


def _after_row(document: dict[str, Any], pool: str, name: str) -> dict[str, Any]:
    return next(q for q in document["waterfalls"][pool]["after"]["queues"] if q["name"] == name)


@pytest.mark.parametrize("edit", [
    "changed-queue-priority", "changed-queue-limit", "deleted-queue-kept", "pool-dropped", "pool-added",
    "unchanged-queue-changed", "pool-limit", "order",
])
def test_waterfall_edits_that_contradict_the_changes_are_refused(edit: str) -> None:
    document = _waterfall_doc()
    changes = [c for c in document["resource_changes"] if c["type"] == "work_queue" and c["change"]["after"]
               and c["pool"] in document["waterfalls"] and document["waterfalls"][c["pool"]]["after"]]
    change = changes[0]
    pool = change["pool"]
    after = document["waterfalls"][pool]["after"]
    if edit == "changed-queue-priority":
        _after_row(document, pool, change["name"])["priority"] = 999
    elif edit == "changed-queue-limit":
        row = _after_row(document, pool, change["name"])
        row["concurrency_limit"] = (row["concurrency_limit"] or 0) + 7
        assert "concurrency_limit" in change["change"]["after"]
    elif edit == "deleted-queue-kept":
        deleted = next(c for c in document["resource_changes"] if c["type"] == "work_queue"
                       and c["change"]["actions"] == ["delete"] and document["waterfalls"][c["pool"]]["after"])
        document["waterfalls"][deleted["pool"]]["after"]["queues"].append(
            {"name": deleted["name"], "priority": 99, "concurrency_limit": None, "paused": False})
    elif edit == "pool-dropped":
        del document["waterfalls"][pool]
    elif edit == "pool-added":
        document["waterfalls"]["elsewhere"] = {"before": None, "after": None}
    elif edit == "unchanged-queue-changed":
        document = json.loads(dumps_plan(make_plan(
            desired(dp("w", queues=[dq("w", "a", priority=1, concurrency_limit=3), dq("w", "b", priority=2)])),
            observed(op("w", queues=[oq("default", 3), oq("a", 1), oq("b", 2)])))))
        row = next(q for q in document["waterfalls"]["w"]["after"]["queues"] if q["name"] == "b")
        row["paused"] = True
    elif edit == "pool-limit":
        after["concurrency_limit"] = (after["concurrency_limit"] or 0) + 1
    else:
        after["queues"].reverse()
    assert "waterfall" in _verdict(document)
