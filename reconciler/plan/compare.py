"""Compare two desired states (two environments of one config) field by field: the promotion review.

Owns :func:`compare_states`, which turns two :class:`DesiredState` values into one comparison
document (a plain JSON value, ``format_version`` "1.0"): every pool and queue address of either
side, whether it is only on one side, and each field (a template's deep paths) whose declared
value differs, a field one side leaves unmanaged being absent on that side. Ownership
(``manage.prune``, ``manage.scope``) is compared too. No server is read: the states are what each
environment declares. Pure; no I/O.
"""

from __future__ import annotations

from typing import Any

from reconciler.model.state import DesiredState
from reconciler.plan.differ import diff_values, get_path
from reconciler.plan.normalize import desired_pool_form, desired_queue_form

FORMAT_VERSION = "1.0"
_ABSENT = object()


def _forms(state: DesiredState) -> dict[str, tuple[str, dict[str, Any]]]:
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for pool in state.pools.values():
        out[pool.address] = ("work_pool", desired_pool_form(pool))
        for queue in pool.queues.values():
            out[queue.address] = ("work_queue", desired_queue_form(queue))
    return out


def _differences(left: dict[str, Any], right: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key in [k for k in left if k not in ("name", "pool")] + [k for k in right if k not in left]:
        if key in ("name", "pool"):
            continue
        a, b = left.get(key, _ABSENT), right.get(key, _ABSENT)
        if a is _ABSENT or b is _ABSENT or not isinstance(a, dict) or not isinstance(b, dict):
            paths = [[key]] if (a is _ABSENT) != (b is _ABSENT) or diff_values(a, b) else []
        else:
            paths = diff_values(a, b, [key])
        for path in paths:
            entry: dict[str, Any] = {"path": path}
            for side, form in (("left", left), ("right", right)):
                value = get_path(form, path, _ABSENT)
                if value is not _ABSENT:
                    entry[side] = value
            out.append(entry)
    return out


def compare_states(left: DesiredState, right: DesiredState, *, left_name: str, right_name: str) -> dict[str, Any]:
    """The comparison document of ``left`` and ``right`` (see the module docstring)."""
    a, b = _forms(left), _forms(right)
    objects: list[dict[str, Any]] = []
    same = 0
    def order(address: str) -> tuple[str, int, str]:  # a pool, then its queues
        kind, form = a.get(address) or b[address]
        return (form["name"], 0, "") if kind == "work_pool" else (form["pool"], 1, form["name"])

    for address in sorted(set(a) | set(b), key=order):
        if address not in b:
            objects.append({"address": address, "type": a[address][0], "only_in": left_name, "differences": []})
        elif address not in a:
            objects.append({"address": address, "type": b[address][0], "only_in": right_name, "differences": []})
        else:
            differences = _differences(a[address][1], b[address][1])
            if differences:
                objects.append({"address": address, "type": a[address][0], "only_in": None,
                                "differences": differences})
            else:
                same += 1
    ownership = []
    for key, x, y in (("prune", left.prune, right.prune), ("scope", sorted(left.scope), sorted(right.scope))):
        if x != y:
            ownership.append({"path": ["manage", key], "left": x, "right": y})
    return {
        "format_version": FORMAT_VERSION,
        "left": left_name,
        "right": right_name,
        "objects": objects,
        "ownership": ownership,
        "summary": {
            "differ": sum(1 for o in objects if o["only_in"] is None),
            "only_left": sum(1 for o in objects if o["only_in"] == left_name),
            "only_right": sum(1 for o in objects if o["only_in"] == right_name),
            "same": same,
        },
    }



__all__ = ["FORMAT_VERSION", "compare_states"]
