"""Priority assignment and the bump walk (prefect-api.md §3.2), as the captures show."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import queues
from reconciler.plan.priorities import bump_walk, plan_priorities


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


# ------------------------------------------------------------------ exactly as Prefect 3.9.1
#
# Recorded against a real Prefect 3.9.1 server (scripts/prefect_server.py) with the same requests;
# tests/compat/test_priority_walk.py replays random sequences against both servers. Equal
# priorities are taken in creation order, by the walk and by the listing alike.


def _op(client, op, name, priority=None, pool="pool"):
    if op == "create":
        return make(client, name, priority, pool)
    if op == "patch":
        response = client.patch(f"/api/work_pools/{pool}/queues/{name}", json={"priority": priority})
    elif op == "legacy":
        queue_id = client.get(f"/api/work_pools/{pool}/queues/{name}").json()["id"]
        response = client.patch(f"/api/work_queues/{queue_id}", json={"priority": priority})
    else:
        raise AssertionError(op)
    assert response.status_code == 204, response.text


def listing(client, pool="pool"):
    response = client.post(f"/api/work_pools/{pool}/queues/filter", json={})
    assert response.status_code == 200, response.text
    return [(q["name"], q["priority"]) for q in response.json()]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([("create", "a"), ("legacy", "a", 1), ("create", "t", 2)], [("default", 1), ("a", 2), ("t", 2)]),
        ([("create", "b"), ("create", "a"), ("legacy", "a", 1), ("legacy", "b", 1), ("create", "t", 1)],
         [("t", 1), ("default", 2), ("b", 3), ("a", 4)]),
        ([("create", "a"), ("create", "b"), ("legacy", "b", 1), ("legacy", "a", 1), ("legacy", "default", 1),
          ("create", "t", 3)], [("default", 1), ("a", 2), ("b", 3), ("t", 3)]),
        ([("create", "z"), ("create", "y"), ("legacy", "default", 5), ("legacy", "z", 5), ("legacy", "y", 5),
          ("create", "t", 1)], [("t", 1), ("default", 5), ("z", 6), ("y", 7)]),
        ([("create", "a"), ("legacy", "a", 1), ("patch", "a", 1)], [("a", 1), ("default", 2)]),
        ([("create", "a"), ("legacy", "a", 1), ("patch", "default", 1)], [("default", 1), ("a", 2)]),
        ([("create", "a", 3), ("patch", "a", 9)], [("default", 1), ("a", 9)]),
    ],
    ids=["create-above-all-is-not-inserted", "ties-in-creation-order", "ties-bumped-to-a-non-inserted-create",
         "create-first-bumps-the-ties-apart", "same-priority-patch-still-walks", "patch-default-onto-a-tie",
         "patch-above-all-keeps-the-gap"],
)
def test_walk_as_prefect_3_9_1(client, pool, steps, expected):
    """With the manual clock standing still: creation order is kept by the store, not the clock."""
    for step in steps:
        _op(client, *step)
    assert listing(client) == expected


class PrefectWalk:
    """A plain re-statement of Prefect 3.9.1's queue priorities for one pool (the model the
    server must match): queues in creation order with their priorities; ``bulk_update`` is
    ``bulk_update_work_queue_priorities`` for one queue; the legacy id routes set or delete
    without walking; a pool-scoped delete walks with no target."""

    def __init__(self) -> None:
        self.queues: list[list] = [["default", 1]]  # [name, priority], creation order

    def listing(self) -> list[tuple[str, int]]:
        return [(n, p) for n, p in sorted(self.queues, key=lambda q: q[1])]  # stable: ties by creation

    def _find(self, name):
        return next((q for q in self.queues if q[0] == name), None)

    def _walk(self, target=None) -> None:
        order = [q for q in sorted(self.queues, key=lambda q: q[1]) if q is not target]
        if target is not None:
            for index, queue in enumerate(order):
                if queue[1] >= target[1]:
                    order.insert(index, target)
                    break
        last = 0
        for queue in order:
            if queue[1] <= last:
                last += 1
                queue[1] = last
            else:
                last = queue[1]

    def apply(self, op: str, name: str, priority: int | None) -> int:
        """The status Prefect answers, after changing the model as it would."""
        queue = self._find(name)
        if op == "create":
            if queue is not None:
                return 409
            if priority is None:
                taken = sorted(p for _, p in self.queues)
                priority = next((i + 1 for i, p in enumerate(taken) if p != i + 1), (taken[-1] if taken else 0) + 1)
                self.queues.append([name, priority])
            else:
                self.queues.append([name, priority])
                self._walk(self.queues[-1])
            return 201
        if queue is None:
            return 404
        if op in ("patch", "legacy"):
            queue[1] = priority
            if op == "patch":
                self._walk(queue)
            return 204
        if name == "default":
            return 409
        self.queues.remove(queue)
        if op == "delete":
            self._walk()
        return 204


OPS = st.lists(
    st.tuples(
        st.sampled_from(["create", "create", "patch", "patch", "legacy", "delete", "legacy_delete"]),
        st.sampled_from(["default", "a", "b", "c", "d"]),
        st.one_of(st.none(), st.integers(min_value=1, max_value=6)),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_walk_matches_a_restatement_of_prefects(client, ops):
    """Random creates, PATCHes (pool-scoped and legacy) and deletes: same statuses, same queues in
    the same order as the model, after every step."""
    pool = f"pool-{uuid.uuid4().hex[:8]}"
    assert client.post("/api/work_pools/", json={"name": pool, "type": "process"}).status_code == 201
    model = PrefectWalk()
    for op, name, priority in ops:
        if op in ("patch", "legacy") and priority is None:
            priority = 1
        expected = model.apply(op, name, priority)
        if op == "create":
            body = {"name": name} if priority is None else {"name": name, "priority": priority}
            if priority is not None and priority % 2:
                body["concurrency_limit"] = priority
            response = client.post(f"/api/work_pools/{pool}/queues", json=body)
            if response.status_code == 201:  # the answer is the queue as read back
                assert response.json() == client.get(f"/api/work_pools/{pool}/queues/{name}").json()
        elif op == "patch":
            response = client.patch(f"/api/work_pools/{pool}/queues/{name}", json={"priority": priority})
        elif op == "delete":
            response = client.delete(f"/api/work_pools/{pool}/queues/{name}")
        else:
            found = client.get(f"/api/work_pools/{pool}/queues/{name}")
            if found.status_code == 404:
                assert expected == 404
                continue
            queue_id = found.json()["id"]
            if op == "legacy":
                response = client.patch(f"/api/work_queues/{queue_id}", json={"priority": priority})
            else:
                response = client.delete(f"/api/work_queues/{queue_id}")
        assert response.status_code == expected, (op, name, priority, response.text)
        assert listing(client, pool) == model.listing(), (op, name, priority)


@settings(max_examples=300, deadline=None)
@given(ops=OPS)
def test_the_planners_walk_is_the_same_restatement(ops):
    """reconciler.plan.priorities.bump_walk (what plans simulate) agrees with the model."""
    model = PrefectWalk()
    for op, name, priority in ops:
        if op not in ("create", "patch") or priority is None:
            continue
        before = dict(model.listing())
        if model.apply(op, name, priority) in (201, 204):
            assert bump_walk(before, name, priority) == dict(model.listing())


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, data=st.data())
def test_a_priority_plan_lands_in_one_pass(client, ops, data):
    """The planner's steps (reconciler.plan.priorities.plan_priorities), sent once as single-queue
    PATCHes, leave every managed queue at its desired priority on this server, whatever state
    random sequences left (ties from the legacy route included): no converge rounds needed."""
    pool = f"pool-{uuid.uuid4().hex[:8]}"
    assert client.post("/api/work_pools/", json={"name": pool, "type": "process"}).status_code == 201
    for op, name, priority in ops:
        if op == "create":
            body = {"name": name} if priority is None else {"name": name, "priority": priority}
            client.post(f"/api/work_pools/{pool}/queues", json=body)
        elif op in ("patch", "legacy"):
            found = client.get(f"/api/work_pools/{pool}/queues/{name}")
            if found.status_code == 200:
                path = f"/api/work_pools/{pool}/queues/{name}" if op == "patch" else f"/api/work_queues/{found.json()['id']}"
                client.patch(path, json={"priority": priority or 1})
    current = dict(listing(client, pool))
    managed = data.draw(st.lists(st.sampled_from(sorted(current)), min_size=1, unique=True))
    desired = dict(zip(managed, data.draw(st.lists(st.integers(1, 9), min_size=len(managed), max_size=len(managed),
                                                   unique=True))))
    for queue, priority in plan_priorities(current, desired, fix_duplicates=data.draw(st.booleans())):
        assert client.patch(f"/api/work_pools/{pool}/queues/{queue}", json={"priority": priority}).status_code == 204
    after = dict(listing(client, pool))
    assert {q: after[q] for q in desired} == desired


def test_a_created_queue_bumped_by_the_walk_is_answered_as_stored(client, pool):
    """Ties left by legacy PATCHes (default, a and b at 1) push a new queue at priority 3 up to 4:
    the create's answer says 4, as a read does."""
    for name in ("a", "b"):
        assert client.post("/api/work_pools/pool/queues", json={"name": name}).status_code == 201
    assert client.post("/api/work_pools/pool/queues", json={"name": "z", "priority": 5}).status_code == 201
    for name in ("a", "b"):
        queue_id = client.get(f"/api/work_pools/pool/queues/{name}").json()["id"]
        assert client.patch(f"/api/work_queues/{queue_id}", json={"priority": 1}).status_code == 204
    created = client.post("/api/work_pools/pool/queues", json={"name": "new", "priority": 3, "concurrency_limit": 2})
    assert created.status_code == 201
    assert created.json()["priority"] == 4
    assert created.json() == client.get("/api/work_pools/pool/queues/new").json()


@pytest.mark.parametrize(
    ("existing", "body", "statements"),
    [
        ([], {"name": "a", "priority": 5}, ["INSERT"]),
        ([("a", 5)], {"name": "b", "priority": 9}, ["INSERT"]),
        ([("a", 5)], {"name": "b", "priority": 5}, ["INSERT", "BEGIN", "SELECT", "INSERT", "UPDATE", "COMMIT"]),
        ([], {"name": "a"}, ["BEGIN", "SELECT", "INSERT", "COMMIT"]),
    ],
    ids=["behind-the-default", "behind-the-others", "collides-so-walks", "no-priority"],
)
def test_a_queue_added_behind_the_others_is_one_statement_on_sqlite(store, client, pool, existing, body, statements):
    """The apply's common create (a priority above every other queue's) is one INSERT on SQLite,
    its own transaction; anything else (here: a collision the walk settles) falls back to the
    transaction, after the INSERT that inserted nothing."""
    for name, priority in existing:
        make(client, name, priority)
    seen: list[str] = []
    store._conn.set_trace_callback(lambda sql: seen.append(sql.split()[0].upper()))
    try:
        created = make(client, body["name"], body.get("priority"))
    finally:
        store._conn.set_trace_callback(None)
    assert seen == statements
    assert created == client.get(f"/api/work_pools/pool/queues/{body['name']}").json()
