"""Priority assignment and the bump walk (prefect-api.md §3.2), as the captures show."""

from __future__ import annotations

import pytest

from conftest import queues


def make(client, name, priority=None, pool="pool"):
    body = {"name": name}
    if priority is not None:
        body["priority"] = priority
    response = client.post(f"/api/work_pools/{pool}/queues", json=body)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([("a", None)], {"default": 1, "a": 2}),
        ([("a", None), ("b", None)], {"default": 1, "a": 2, "b": 3}),
        ([("a", 1)], {"a": 1, "default": 2}),
        ([("a", 5), ("b", None)], {"default": 1, "b": 2, "a": 5}),
        ([("a", 2), ("b", 2)], {"default": 1, "b": 2, "a": 3}),
        ([("a", 3), ("b", 5), ("c", 3)], {"default": 1, "c": 3, "a": 4, "b": 5}),
        ([("a", 2), ("b", 3), ("c", 2)], {"default": 1, "c": 2, "a": 3, "b": 4}),
        ([("a", 10), ("b", 1)], {"b": 1, "default": 2, "a": 10}),
    ],
    ids=["first-extra-gets-2", "max-plus-one", "take-1-bumps-default", "first-gap", "collision-bumps",
         "bump-stops-at-gap", "cascade", "gaps-kept"],
)
def test_create_priorities(client, pool, steps, expected):
    for name, priority in steps:
        make(client, name, priority)
    assert queues(client) == expected


@pytest.mark.parametrize(
    ("target", "priority", "expected"),
    [
        ("b", 1, {"b": 1, "default": 2, "a": 3}),
        ("default", 3, {"a": 2, "default": 3, "b": 4}),
        ("a", 2, {"default": 1, "a": 2, "b": 3}),
        ("a", 7, {"default": 1, "b": 3, "a": 7}),
    ],
    ids=["move-up", "move-down-collides", "same-priority-no-change", "move-to-gap"],
)
def test_update_priority_walk(client, pool, target, priority, expected):
    make(client, "a")
    make(client, "b")
    assert client.patch(f"/api/work_pools/pool/queues/{target}", json={"priority": priority}).status_code == 204
    assert queues(client) == expected


def test_legacy_patch_does_not_walk(client, pool):
    make(client, "a")
    queue_id = client.get("/api/work_pools/pool/queues/a").json()["id"]
    assert client.patch(f"/api/work_queues/{queue_id}", json={"priority": 1}).status_code == 204
    assert queues(client) == {"default": 1, "a": 1}


def test_delete_keeps_gaps_and_fixes_duplicates(client, pool):
    for name in ("a", "b", "c"):
        make(client, name)
    client.delete("/api/work_pools/pool/queues/b")
    assert queues(client) == {"default": 1, "a": 2, "c": 4}
    queue_id = client.get("/api/work_pools/pool/queues/c").json()["id"]
    client.patch(f"/api/work_queues/{queue_id}", json={"priority": 2})
    assert client.delete("/api/work_pools/pool/queues/default").status_code == 409
    make(client, "d", 9)
    client.delete("/api/work_pools/pool/queues/d")
    assert sorted(queues(client).values()) == [1, 2, 3]
