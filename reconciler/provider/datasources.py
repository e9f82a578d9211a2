"""Data sources: ``prefect_work_pool(s)``, ``prefect_work_queue(s)``, ``prefect_worker_metadata``.

Templates come back as canonical JSON strings (sorted keys, compact), usable
directly as a pool's ``base_job_template``; the pool resource compares JSON
semantically, so the text form never causes a diff.
"""

from __future__ import annotations

import abc

from typing import Any

from reconciler.provider import schema
from reconciler.provider.codec import Diags, ProviderError
from reconciler.provider.config import ProviderState
from reconciler.provider.resources import _call, _canonical, _enc, pool_attributes, queue_attributes


def _pool(body: dict[str, Any]) -> dict[str, Any]:
    return pool_attributes(body, _canonical(body.get("base_job_template")))


def _queue(body: dict[str, Any]) -> dict[str, Any]:
    return queue_attributes(body)


class DataSource(abc.ABC):
    block: schema.Block

    def __init__(self, provider: ProviderState) -> None:
        self.provider = provider

    def out(self, config: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        return {name: values.get(name, config.get(name)) for name in self.block.names}

    @abc.abstractmethod
    def read(self, config: dict[str, Any], diags: Diags) -> dict[str, Any]:
        """Implemented by each data source type."""


class WorkPoolData(DataSource):
    block = schema.DATA_WORK_POOL

    def read(self, config: dict[str, Any], diags: Diags) -> dict[str, Any]:
        name = config.get("name")
        if not name:
            raise ProviderError("Missing work pool name", "Set name = \"<pool name>\" to look a pool up.", ("name",))
        client = self.provider.client()
        body = _call(f"read work pool {name!r}", lambda: client.read_pool(name))
        if body is None:
            raise ProviderError(f"Work pool {name!r} not found", f"No work pool named {name!r} on "
                                f"{self.provider.api_url}. Check the name.", ("name",))
        return self.out(config, _pool(body))


class WorkPoolsData(DataSource):
    block = schema.DATA_WORK_POOLS

    def read(self, config: dict[str, Any], diags: Diags) -> dict[str, Any]:
        client = self.provider.client()
        pools = _call("list work pools", lambda: client.read_pools())
        wanted = set(config.get("filter_any") or [])
        rows = [_pool(p) for p in pools if not wanted or str(p.get("id")) in wanted]
        return self.out(config, {"work_pools": sorted(rows, key=lambda r: r["name"] or "")})


class WorkQueueData(DataSource):
    block = schema.DATA_WORK_QUEUE

    def read(self, config: dict[str, Any], diags: Diags) -> dict[str, Any]:
        from reconciler.errors import NotFound

        pool, name = config.get("work_pool_name"), config.get("name")
        client = self.provider.client()

        def get() -> Any:
            try:
                return client.request("GET", f"/work_pools/{_enc(pool)}/queues/{_enc(name)}",
                                      route="/work_pools/{name}/queues/{name}")
            except NotFound:
                return None

        body = _call(f"read work queue {pool!r}/{name!r}", get)
        if body is None:
            raise ProviderError(f"Work queue {pool}/{name} not found",
                                f"Work pool {pool!r} has no queue {name!r} (or the pool does not exist).", ("name",))
        values = _queue(body)
        values["work_pool_name"] = pool
        return self.out(config, values)


class WorkQueuesData(DataSource):
    block = schema.DATA_WORK_QUEUES

    def read(self, config: dict[str, Any], diags: Diags) -> dict[str, Any]:
        pool = config.get("work_pool_name")
        client = self.provider.client()
        queues = _call(f"list the queues of work pool {pool!r}", lambda: client.read_queues(pool))
        wanted = set(config.get("filter_any") or [])
        rows = []
        for q in queues:
            if wanted and str(q.get("id")) not in wanted:
                continue
            row = _queue(q)
            row["work_pool_name"] = row["work_pool_name"] or pool
            rows.append(row)
        return self.out(config, {"work_queues": rows})


class WorkerMetadataData(DataSource):
    block = schema.DATA_WORKER_METADATA

    def read(self, config: dict[str, Any], diags: Diags) -> dict[str, Any]:
        client = self.provider.client()
        metadata = _call("read the aggregate worker metadata", lambda: client.read_worker_metadata()) or {}
        by_type: dict[str, Any] = {}
        for package in metadata.values():
            if isinstance(package, dict):
                for worker_type, entry in package.items():
                    if isinstance(entry, dict) and "default_base_job_configuration" in entry:
                        by_type[worker_type] = entry["default_base_job_configuration"]
        # the official provider's values: "" (not null) for a type the server does not list
        configs = {attr: (_canonical(by_type[t]) if t in by_type else "")
                   for attr, t in schema.WORKER_TYPES.items()}
        return self.out(config, {"base_job_configs": configs})


_TYPES: dict[str, type[DataSource]] = {
    "prefect_work_pool": WorkPoolData,
    "prefect_work_pools": WorkPoolsData,
    "prefect_work_queue": WorkQueueData,
    "prefect_work_queues": WorkQueuesData,
    "prefect_worker_metadata": WorkerMetadataData,
}


def get(type_name: str, provider: ProviderState) -> DataSource:
    try:
        return _TYPES[type_name](provider)
    except KeyError:
        raise ProviderError(f"Unknown data source {type_name!r}",
                            f"The prefect provider has: {', '.join(_TYPES)}.") from None
