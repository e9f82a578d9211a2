"""The pools and queues this provider process has planned: the rules that span several resources.

Terraform plans each resource on its own (``PlanResourceChange`` sees one object), but one
provider process serves every resource of a ``terraform plan`` (and, again, of an apply's
re-plan). :class:`Planned` remembers what was planned there, pool by name and queue by pool
and name, so that the sibling rules of :mod:`reconciler.model.rules` apply as they do in
``poolform validate``: two declared queues of one pool at the same priority (an error on the
one planned second), a queue limit above its pool's (a warning on whichever of the two is
planned second). Planning a queue again (a re-plan) replaces its record. Thread-safe: Terraform
plans resources in parallel. No I/O.

:func:`make_room` says which queues move when the provider sets a queue's priority exactly:
unmanaged queues move as Prefect's walk moves them, declared priorities never do.
"""

from __future__ import annotations

import threading
from typing import Any, Collection, Mapping

from reconciler.model import rules
from reconciler.provider.codec import is_known


def _number(value: Any) -> Any:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) and is_known(value) else None


class Planned:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool_limits: dict[str, Any] = {}
        self._queues: dict[str, dict[str, tuple[Any, Any]]] = {}

    def pool(self, name: Any, concurrency_limit: Any) -> list[tuple[str, rules.Problem]]:
        """Record a planned pool; (queue, problem) for each queue planned earlier whose limit is above it."""
        if not isinstance(name, str):
            return []
        limit = _number(concurrency_limit)
        with self._lock:
            self._pool_limits[name] = limit
            queues = sorted(self._queues.get(name, {}).items())
        out = []
        for queue, (_, queue_limit) in queues:
            problem = rules.queue_limit_problem(queue_limit, limit)
            if problem is not None:
                out.append((queue, problem))
        return out

    def queue(self, pool: Any, name: Any, priority: Any, concurrency_limit: Any) -> list[rules.Problem]:
        """Record a planned queue; the problems it has with what was planned before it."""
        if not isinstance(pool, str) or not isinstance(name, str):
            return []
        priority, limit = _number(priority), _number(concurrency_limit)
        with self._lock:
            siblings = self._queues.setdefault(pool, {})
            siblings[name] = (priority, limit)
            others = sorted((q, p) for q, (p, _) in siblings.items() if q != name)
            pool_limit = self._pool_limits.get(pool)
        out = [rules.duplicate_priority_problem(other, name, priority)
               for other, other_priority in others if priority is not None and other_priority == priority]
        above = rules.queue_limit_problem(limit, pool_limit)
        if above is not None:
            out.append(above)
        return out

    def declared(self, pool: str) -> dict[str, Any]:
        """The queues of ``pool`` planned here: name -> declared priority (None: the server's choice)."""
        with self._lock:
            return {name: priority for name, (priority, _) in self._queues.get(pool, {}).items()}

    def forget_queue(self, pool: Any, name: Any) -> None:
        """A queue planned for deletion holds no priority any more."""
        with self._lock:
            if isinstance(pool, str) and isinstance(name, str):
                self._queues.get(pool, {}).pop(name, None)


def make_room(current: Mapping[str, int], target: str, priority: int, held: Collection[str],
              movable: Collection[str], reserved: Collection[int] = ()) -> dict[str, int]:
    """The queues that move, and to which priority, when ``target`` is set to exactly ``priority``.

    ``current``: the pool's queues and priorities, equal ones in the server's listing order.
    As Prefect's walk moves them, the queues at ``priority`` go one up and push along the queue
    in their way, keeping their order, with two limits that keep declared priorities still:
    a ``held`` queue (planned in this process with a declared priority) never moves, and a
    queue in the way is pushed along only when it is ``movable`` (planned in this process
    without a priority: the server's choice); otherwise the moving queue skips to the next
    priority, as it does over a ``reserved`` priority (one a held queue is about to take). A queue
    at ``priority`` that this process did not plan moves: were its priority declared, the
    configuration would have two queues at ``priority``, which planning refuses.
    Returns ``{queue: new priority}`` for the queues that move; no queue gets a priority
    another one keeps.
    """
    positions = {q: p for q, p in current.items() if q != target}
    pending = [q for q, p in positions.items() if p == priority and q not in held]
    moves: dict[str, int] = {}
    slot = priority
    while pending:
        queue = pending.pop(0)
        slot = max(slot, positions[queue]) + 1
        while True:
            in_way = [q for q, p in positions.items() if p == slot and q != queue]
            if slot in reserved:
                slot += 1
                continue
            if not in_way:
                break
            if all(q in movable and q not in held for q in in_way):
                pending.extend(q for q in in_way if q not in pending)
                pending.sort(key=positions.__getitem__)  # stable: ties keep the listing order
                break
            slot += 1
        positions[queue] = slot
        moves[queue] = slot
    return moves
