"""The desired and observed state of pools and queues, and their addresses.

These dataclasses are the seam between the steps of the pipeline:

* ``config/`` produces a :class:`DesiredState` (what the files declare);
* ``api/observe.py`` produces an :class:`ObservedState` (what the server holds);
* ``plan/`` compares the two and produces a ``Plan``;
* the Terraform provider builds the same values from Terraform's config and state.

Field values are already in the server's vocabulary and with the server's
defaults filled in (``description`` of a queue is ``""`` when not declared, and so
on), so that comparing a desired field with an observed one is plain equality.
A desired field set to :data:`UNMANAGED` is not compared and never written.
No I/O here.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Collection, Final, Mapping

from reconciler.diagnostics import SourceRange

if TYPE_CHECKING:
    from reconciler.model.policy import Rule
    from reconciler.settings import ProviderBlock


class _Unmanaged:
    """Sentinel: the config does not manage this field; the server's value stands."""

    _instance: "_Unmanaged | None" = None

    def __new__(cls) -> "_Unmanaged":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNMANAGED"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNMANAGED"


UNMANAGED: Final = _Unmanaged()

DEFAULT_QUEUE: Final = "default"
"""The queue every pool gets on create; it can be managed but never created or deleted."""

DEFAULT_POOL_TYPE: Final = "prefect-agent"
"""What the server stores when a pool is created without a type."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """``text`` with control characters (line breaks, tabs, escapes) written as escapes, so a name
    holding one cannot break a line of output or inject terminal codes."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: json.dumps(m.group())[1:-1] if m.group() in "\n\r\t" else f"\\u{ord(m.group()):04x}", text)


def pool_address(pool: str) -> str:
    return f"work_pool.{pool}"


def queue_address(pool: str, queue: str) -> str:
    return f"work_queue.{pool}.{queue}"


def parse_address(address: str) -> tuple[str, str, str | None]:
    """``work_pool.x`` -> ("work_pool", "x", None); ``work_queue.x.q`` -> ("work_queue", "x", "q").

    Pool names may contain dots, so a queue address is split on its *last* dot
    only when the pool part names a known pool; callers that need exactness
    should compare against addresses they built with the functions above.
    Raises ValueError for anything else.
    """
    if address.startswith("work_pool."):
        name = address[len("work_pool."):]
        if name:
            return ("work_pool", name, None)
    elif address.startswith("work_queue."):
        rest = address[len("work_queue."):]
        pool, sep, queue = rest.rpartition(".")
        if sep and pool and queue:
            return ("work_queue", pool, queue)
    raise ValueError(f"not an address: {address!r} (expected work_pool.<pool> or work_queue.<pool>.<queue>)")


def queue_address_candidates(address: str) -> list[tuple[str, str]]:
    """Every (pool, queue) a ``work_queue.`` address can mean, longest pool name first.

    ``work_queue.a.b.c`` is pool ``a.b`` queue ``c`` or pool ``a`` queue ``b.c``: both
    pool and queue names may contain dots. Empty for anything else.
    """
    if not address.startswith("work_queue."):
        return []
    rest = address[len("work_queue."):]
    found = []
    dot = rest.rfind(".", 1, len(rest) - 1)  # neither name empty: a dot at 1 .. len - 2
    while dot > 0:
        found.append((rest[:dot], rest[dot + 1:]))
        dot = rest.rfind(".", 1, dot)
    return found


def resolve_queue_address(address: str, known_pools: "Collection[str] | Mapping[str, Any]") -> tuple[str, str]:
    """(pool, queue) of a ``work_queue.`` address: the longest pool name in ``known_pools`` it
    starts with, else a split on the last dot. Raises ValueError for anything else."""
    candidates = queue_address_candidates(address)
    if not candidates:
        raise ValueError(f"not a queue address: {address!r} (expected work_queue.<pool>.<queue>)")
    return next((c for c in candidates if c[0] in known_pools), candidates[0])


@dataclass
class DesiredQueue:
    """A queue as declared. ``priority`` UNMANAGED means the server's choice stands."""

    pool: str
    name: str
    description: str | Any = ""
    paused: bool | Any = False
    concurrency_limit: int | None | Any = None
    priority: int | Any = UNMANAGED
    source: SourceRange | None = None

    @property
    def address(self) -> str:
        return queue_address(self.pool, self.name)


@dataclass
class DesiredPool:
    """A pool as declared. ``base_job_template`` UNMANAGED means the template is not managed."""

    name: str
    type: str = DEFAULT_POOL_TYPE
    description: str | None | Any = None
    paused: bool | Any = False
    concurrency_limit: int | None | Any = None
    base_job_template: dict[str, Any] | Any = UNMANAGED
    queues: dict[str, DesiredQueue] = field(default_factory=dict)
    source: SourceRange | None = None
    template_source: SourceRange | None = None

    @property
    def address(self) -> str:
        return pool_address(self.name)


@dataclass
class DesiredState:
    """Everything the config declares, plus what it owns beyond that.

    ``prune``: delete undeclared queues of declared pools and undeclared pools
    matching ``scope``. Without it nothing is ever deleted.
    ``scope``: glob patterns (fnmatch, case-sensitive) of pool names this config owns.
    """

    pools: dict[str, DesiredPool] = field(default_factory=dict)
    prune: bool = False
    scope: list[str] = field(default_factory=list)
    prevent_destroy: dict[str, SourceRange | None] = field(default_factory=dict)
    """Addresses whose .tf resource sets ``lifecycle { prevent_destroy = true }``: a plan that deletes
    or replaces one is an error, as in Terraform."""
    provider: "ProviderBlock | None" = None
    """An HCL config's ``provider "prefect"`` block (its endpoint and credentials), if it has one."""
    ignored: list[dict[str, Any]] = field(default_factory=list)
    """HCL resources and data sources of other providers, not read: ``{address, mode, type, reason, range}``."""
    credential_sources: tuple[list[str], list[str]] = field(default_factory=lambda: ([], []))
    """The environment variables and the Prefect profiles the config's ``environments:`` take credentials
    from (names only): their values are masked in output whichever environment is used, if any."""
    policy: list["Rule"] = field(default_factory=list)
    """The policy rules of every config file (``reconciler.check_policy`` checks them)."""
    source: SourceRange | None = None
    """The configuration's first file (where a violation of the whole configuration points)."""
    manage_source: SourceRange | None = None
    """Where ``manage:`` was written, if it was."""

    def owns_pool(self, name: str) -> bool:
        return name in self.pools or any(fnmatch.fnmatchcase(name, pattern) for pattern in self.scope)


@dataclass
class ObservedQueue:
    """A queue as the server returned it (``WorkQueueResponse``)."""

    pool: str
    id: str
    name: str
    description: str
    paused: bool
    concurrency_limit: int | None
    priority: int
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def address(self) -> str:
        return queue_address(self.pool, self.name)

    @classmethod
    def from_api(cls, pool: str, body: dict[str, Any]) -> "ObservedQueue":
        return cls(
            pool=pool,
            id=str(body.get("id", "")),
            name=body["name"],
            description=body.get("description") or "",
            paused=bool(body.get("is_paused", False)),
            concurrency_limit=body.get("concurrency_limit"),
            priority=int(body.get("priority") or 1),
            raw=body,
        )


@dataclass
class ObservedPool:
    """A pool as the server returned it (``WorkPoolResponse``), with its queues."""

    id: str
    name: str
    type: str
    description: str | None
    paused: bool
    concurrency_limit: int | None
    base_job_template: dict[str, Any]
    default_queue_id: str | None
    queues: dict[str, ObservedQueue] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def address(self) -> str:
        return pool_address(self.name)

    @property
    def default_queue_name(self) -> str | None:
        """The name of the queue ``default_queue_id`` points at (it may have been renamed)."""
        for queue in self.queues.values():
            if queue.id == self.default_queue_id:
                return queue.name
        return None

    @classmethod
    def from_api(cls, body: dict[str, Any], queues: list[dict[str, Any]] = ()) -> "ObservedPool":  # type: ignore[assignment]
        name = body["name"]
        return cls(
            id=str(body.get("id", "")),
            name=name,
            type=body.get("type") or DEFAULT_POOL_TYPE,
            description=body.get("description"),
            paused=bool(body.get("is_paused", False)),
            concurrency_limit=body.get("concurrency_limit"),
            base_job_template=body.get("base_job_template") or {},
            default_queue_id=(str(body["default_queue_id"]) if body.get("default_queue_id") else None),
            queues={q["name"]: ObservedQueue.from_api(name, q) for q in queues},
            raw=body,
        )


@dataclass
class ObservedDeployment:
    """The part of a deployment the deployment-impact check needs."""

    id: str
    name: str
    flow_name: str | None
    work_pool_name: str | None
    work_queue_name: str | None
    job_variables: dict[str, Any]


@dataclass
class ObservedState:
    """What the server holds. ``complete`` is False when only some pools were read (``--target``)."""

    pools: dict[str, ObservedPool] = field(default_factory=dict)
    deployments: dict[str, list[ObservedDeployment]] = field(default_factory=dict)
    """Deployments per pool name; filled only for pools whose template variables would change."""
    api_url: str = ""
    server_version: str | None = None
    due_runs: dict[str, int] = field(default_factory=dict)
    """Due SCHEDULED runs per pool or queue address; filled only for the addresses whose planned
    change holds runs back (``plan.runs.affected``), by ``observe_due_runs``."""
