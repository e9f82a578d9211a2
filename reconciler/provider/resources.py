"""``prefect_work_pool`` and ``prefect_work_queue``: validate, plan, apply, read, import.

Validation: every rule of ``reconciler.model.rules`` (the ones ``poolform validate`` applies),
in the same words, on the attribute: one object's rules in ValidateResourceConfig and again
in PlanResourceChange once unknown values are known; the pool ``type`` at plan (it needs the
provider's ``allow_unknown_type``); ties and limits between resources at plan, over what this
process planned (``reconciler.provider.siblings``).

Planning rules (what the official provider gets wrong, terraform.md §1.5):

* ``base_job_template`` is a JSON string compared as JSON
  (``reconciler.plan.normalize.templates_equal``). When the prior and configured
  templates are equal, the *prior* text is planned, so reformatting the file or
  importing never shows a diff. Omitted, it is unmanaged: the server's value is kept.
  Read keeps the prior text while it is equal to the server's value, and writes the
  server's value (canonical JSON) otherwise, and always on import.
* ``id``, ``created``, ``default_queue_id`` keep their prior values. ``updated`` is
  planned unknown only when the object itself is updated (honest, and apply's new
  value is then accepted); otherwise it keeps its prior value.
* Removed optional attributes are sent as explicit nulls (``description``,
  ``concurrency_limit``) or as the server default (queue ``description`` "",
  ``paused``/``is_paused`` false).
* Queue priorities are written through the legacy ``PATCH /work_queues/{id}``,
  which stores the exact value without the server's bump walk, and queues are
  created without a priority (first free slot, nothing moves) and deleted through
  ``DELETE /work_queues/{id}`` (no walk either): declared siblings never move, so
  applying them in any order or in parallel gives exactly the configured priorities.
  The queues in the way of a priority set so (the pool's unmanaged ``default`` queue,
  a queue declared without a priority) move as Prefect's walk moves them
  (``siblings.make_room``), one pool at a time in this process, as Prefect and the
  official provider leave them.
* The ``default`` queue is adopted (updated), never created; destroying it resets it.
"""

from __future__ import annotations

import abc

import json
import threading
import time
from typing import Any, Callable

from reconciler.model import rules
from reconciler.model.state import DEFAULT_QUEUE
from reconciler.plan.normalize import DEFAULT_QUEUE_DESCRIPTION, canonical_json, templates_equal
from reconciler.provider import schema
from reconciler.provider.codec import UNKNOWN, Diags, ProviderError, is_known
from reconciler.provider.config import ProviderState

POOL_WAIT_SECONDS = 10.0
_CHECK_LOCK = threading.Lock()
"""One template check at a time: parallel validations of one template then share its result."""
_CHECKED: dict[str, tuple[tuple[str, str, str, tuple[str, ...]], ...]] = {}


def _enc(name: str) -> str:
    from reconciler.api.client import enc

    return enc(name)


def _api_error(action: str, exc: Exception, import_id: str | None = None) -> ProviderError:
    from reconciler.errors import ApiError, Conflict, NotFound

    if isinstance(exc, ApiError):
        hint = ""
        if isinstance(exc, NotFound):
            hint = " Check the name, and that the object was not deleted outside Terraform."
        elif isinstance(exc, Conflict) and import_id is not None:
            hint = (f" It already exists on the server: to manage it here, import it (an import block with"
                    f" id = {json.dumps(import_id)}, or `terraform import <address> '{import_id}'`), or choose another name.")
        return ProviderError(f"Could not {action}", f"{exc}{hint}")
    return ProviderError(f"Could not {action}", f"{type(exc).__name__}: {exc}")


def _call(action: str, fn: Callable[[], Any], import_id: str | None = None) -> Any:
    from reconciler.errors import ApiError

    try:
        return fn()
    except ApiError as exc:
        raise _api_error(action, exc, import_id) from None


def parse_template(text: Any, path: tuple[str, ...] = ("base_job_template",)) -> Any:
    """A JSON string to a value; a clear error on the attribute when it is not JSON."""
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        raise ProviderError("base_job_template is not valid JSON",
                            f"{exc}. Pass a JSON string: file(\"template.json\"), templatefile(...) or "
                            "jsonencode({...}).", path) from None


def _canonical(value: Any) -> str:
    return canonical_json(value if value is not None else {})


def _same_json(text_a: Any, text_b: Any) -> bool:
    if not isinstance(text_a, str) or not isinstance(text_b, str):
        return False
    try:
        return templates_equal(json.loads(text_a), json.loads(text_b))
    except ValueError:
        return False


def _template_diagnostics(text: str) -> tuple[tuple[str, str, str, tuple[str, ...]], ...]:
    """Diagnostics for a template string, on the attribute: its size and nesting
    (:func:`reconciler.model.rules.template_size_problems`), then its content
    (``reconciler.templates.check_template``), as ``poolform validate`` checks them; memoized in
    the process and, between the provider's starts, on disk (``checkcache``)."""
    with _CHECK_LOCK:
        found = _CHECKED.get(text)
        if found is not None:
            return found
        from reconciler.provider import checkcache

        found = checkcache.load(text)
        if found is None:
            found = _check_template_text(text)
            checkcache.store(text, found)
        if len(_CHECKED) > 256:
            _CHECKED.clear()
        _CHECKED[text] = found
        return found


def _check_template_text(text: str) -> tuple[tuple[str, str, str, tuple[str, ...]], ...]:
    from reconciler.templates import check_template

    diags = Diags()
    problems = []
    try:
        value = parse_template(text)
    except ProviderError as exc:
        diags.error(exc.summary, exc.detail, exc.path)
    else:
        too_large = rules.template_size_problems(value)
        _add_problems(diags, too_large)
        problems = [] if too_large else check_template(value)
    for problem in problems:
        where = ".".join(str(p) for p in problem.path)
        detail = (f"At {where}: " if where else "") + (problem.detail or problem.summary)
        add = diags.warning if problem.severity == "warning" else diags.error
        add(problem.summary, detail, ("base_job_template",))
    return tuple(diags)


def _add_problems(diags: Diags, problems: list[rules.Problem], *, detail_prefix: str = "") -> None:
    """Problems of :mod:`reconciler.model.rules` as diagnostics on their attribute (the same words as the CLI's)."""
    for problem in problems:
        add = diags.error if problem.severity == "error" else diags.warning
        add(problem.summary, detail_prefix + problem.detail, (problem.field,))


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def pool_problems(config: dict[str, Any]) -> list[rules.Problem]:
    """The per-object rules a pool's configuration breaks (values unknown yet are checked once known)."""
    out: list[rules.Problem] = []
    name = _string(config.get("name"))
    if name is not None:
        out += rules.pool_name_problems(name)
    if config.get("type") is None:
        out.append(rules.missing_type_problem())
    out += rules.number_problems("concurrency_limit", config.get("concurrency_limit"))
    return out


def queue_problems(config: dict[str, Any]) -> list[rules.Problem]:
    """The per-object rules a queue's configuration breaks."""
    out: list[rules.Problem] = []
    name = _string(config.get("name"))
    if name is not None:
        out += rules.queue_name_problems(name)
    for key in ("priority", "concurrency_limit"):
        out += rules.number_problems(key, config.get(key))
    return out


ALLOW_UNKNOWN_TYPE = ("A custom worker's type is accepted with allow_unknown_type = true in the provider \"prefect\" "
                      "block (poolform reads it too).")


def pool_attributes(body: dict[str, Any], template_text: Any) -> dict[str, Any]:
    """A ``WorkPoolResponse`` as the provider's pool attributes (resource and data source alike)."""
    return {
        "id": str(body.get("id")) if body.get("id") else None,
        "created": body.get("created"),
        "updated": body.get("updated"),
        "name": body.get("name"),
        "description": body.get("description"),
        "type": body.get("type"),
        "paused": bool(body.get("is_paused", False)),
        "concurrency_limit": body.get("concurrency_limit"),
        "default_queue_id": str(body["default_queue_id"]) if body.get("default_queue_id") else None,
        "base_job_template": template_text,
    }


def queue_attributes(body: dict[str, Any]) -> dict[str, Any]:
    """A ``WorkQueueResponse`` as the provider's queue attributes (resource and data source alike)."""
    return {
        "id": str(body.get("id")) if body.get("id") else None,
        "created": body.get("created"),
        "updated": body.get("updated"),
        "work_pool_name": body.get("work_pool_name"),
        "name": body.get("name"),
        "description": body.get("description") or "",
        "is_paused": bool(body.get("is_paused", False)),
        "concurrency_limit": body.get("concurrency_limit"),
        "priority": body.get("priority"),
    }


class Resource(abc.ABC):
    block: schema.Block

    def __init__(self, provider: ProviderState) -> None:
        self.provider = provider

    # -- planning (generic) ---------------------------------------------------

    def validate(self, config: dict[str, Any], diags: Diags) -> None:
        return None

    def default(self, attr: schema.Attr, config: dict[str, Any]) -> Any:
        """What an optional+computed attribute left out of the config is planned as (None: keep prior)."""
        return attr.default

    def plan(self, prior: dict[str, Any] | None, proposed: dict[str, Any] | None, config: dict[str, Any] | None,
             diags: Diags) -> tuple[dict[str, Any] | None, list[str]]:
        if proposed is None:
            return None, []
        planned = dict(proposed)
        for a in self.block.attributes:
            cfg = (config or {}).get(a.name)
            if a.optional and a.computed and cfg is None:
                default = self.default(a, config or {})
                if default is not None:
                    planned[a.name] = default
                elif prior is None:
                    planned[a.name] = UNKNOWN
                else:
                    planned[a.name] = prior.get(a.name)
            if a.json and prior is not None and cfg is not None and cfg is not UNKNOWN:
                if _same_json(prior.get(a.name), cfg):
                    planned[a.name] = prior.get(a.name)
        computed_only = [a for a in self.block.attributes if a.computed and not a.optional]
        if prior is None:
            for a in computed_only:
                planned[a.name] = UNKNOWN
            return planned, []
        replace = [a.name for a in self.block.attributes
                   if a.replace and (planned.get(a.name) is UNKNOWN or planned.get(a.name) != prior.get(a.name))]
        if replace:
            for a in computed_only:
                planned[a.name] = UNKNOWN
            return planned, replace
        changed = any(planned.get(a.name) is UNKNOWN or planned.get(a.name) != prior.get(a.name)
                      for a in self.block.attributes if not (a.computed and not a.optional))
        for a in computed_only:
            planned[a.name] = UNKNOWN if (changed and not a.keep_prior) else prior.get(a.name)
        return planned, []

    def apply(self, prior: dict[str, Any] | None, planned: dict[str, Any] | None, config: dict[str, Any] | None,
              diags: Diags) -> dict[str, Any] | None:
        try:
            if planned is None:
                self.delete(prior or {}, diags)
                return None
            if prior is None:
                return self.create(planned, diags)
            return self.update(prior, planned, diags)
        finally:
            self.provider.written()

    def state(self, values: dict[str, Any]) -> dict[str, Any]:
        return {name: values.get(name) for name in self.block.names}

    def settle(self, state: dict[str, Any], planned: dict[str, Any]) -> dict[str, Any]:
        """Every configurable attribute exactly as planned (when known): no inconsistent result after apply."""
        for a in self.block.attributes:
            if not (a.computed and not a.optional) and is_known(planned.get(a.name)):
                state[a.name] = planned.get(a.name)
        return state

    # -- per type ---------------------------------------------------------------

    @abc.abstractmethod
    def create(self, planned: dict[str, Any], diags: Diags) -> dict[str, Any]:
        """Implemented by each resource type."""

    @abc.abstractmethod
    def update(self, prior: dict[str, Any], planned: dict[str, Any], diags: Diags) -> dict[str, Any]:
        """Implemented by each resource type."""

    @abc.abstractmethod
    def delete(self, prior: dict[str, Any], diags: Diags) -> None:
        """Implemented by each resource type."""

    @abc.abstractmethod
    def read(self, current: dict[str, Any], diags: Diags) -> dict[str, Any] | None:
        """Implemented by each resource type."""

    @abc.abstractmethod
    def import_(self, import_id: str, diags: Diags) -> dict[str, Any]:
        """Implemented by each resource type."""


def _strip_workspace(parts: list[str]) -> list[str]:
    import uuid

    if len(parts) > 1:
        try:
            uuid.UUID(parts[-1].strip())
        except ValueError:
            return parts
        return parts[:-1]
    return parts


class WorkPool(Resource):
    block = schema.WORK_POOL

    def plan(self, prior: dict[str, Any] | None, proposed: dict[str, Any] | None, config: dict[str, Any] | None,
             diags: Diags) -> tuple[dict[str, Any] | None, list[str]]:
        if config is not None:
            # values unknown at validation (e.g. from another resource) are checked once known;
            # warnings were already reported by ValidateResourceConfig
            found = Diags()
            self.validate(config, found)
            diags.extend(d for d in found if d[0] == "error")
            kind = _string(config.get("type"))
            if kind is not None:  # needs the provider's allow_unknown_type, known only once it is configured
                _add_problems(diags, rules.pool_type_problems(kind, allow_unknown=self.provider.allow_unknown_type,
                                                              how_to_allow=ALLOW_UNKNOWN_TYPE))
        if config is not None and proposed is not None:
            for queue, problem in self.provider.planned.pool(config.get("name"), config.get("concurrency_limit")):
                _add_problems(diags, [problem], detail_prefix=f"Queue {queue!r} of this pool: ")
        return super().plan(prior, proposed, config, diags)

    def validate(self, config: dict[str, Any], diags: Diags) -> None:
        _add_problems(diags, pool_problems(config))
        text = config.get("base_job_template")
        if isinstance(text, str):
            diags.extend(_template_diagnostics(text))

    def _from_api(self, body: dict[str, Any], base: dict[str, Any], template_text: Any) -> dict[str, Any]:
        return self.state({**base, **pool_attributes(body, template_text)})

    def create(self, planned: dict[str, Any], diags: Diags) -> dict[str, Any]:
        client = self.provider.client()
        name = planned["name"]
        body: dict[str, Any] = {"name": name, "type": planned.get("type") or "prefect-agent",
                                "is_paused": bool(planned.get("paused"))}
        if planned.get("description") is not None:
            body["description"] = planned["description"]
        if planned.get("concurrency_limit") is not None:
            body["concurrency_limit"] = planned["concurrency_limit"]
        template = planned.get("base_job_template")
        if isinstance(template, str):
            body["base_job_template"] = parse_template(template)
        created = _call(f"create work pool {name!r}", lambda: client.create_pool(body), import_id=name)
        text = template if isinstance(template, str) else _canonical(created.get("base_job_template"))
        return self.settle(self._from_api(created, planned, text), planned)

    def update(self, prior: dict[str, Any], planned: dict[str, Any], diags: Diags) -> dict[str, Any]:
        client = self.provider.client()
        name = prior["name"]
        body: dict[str, Any] = {}
        if planned.get("description") != prior.get("description"):
            body["description"] = planned.get("description")
        if planned.get("paused") != prior.get("paused"):
            body["is_paused"] = bool(planned.get("paused"))
        if planned.get("concurrency_limit") != prior.get("concurrency_limit"):
            body["concurrency_limit"] = planned.get("concurrency_limit")
        template = planned.get("base_job_template")
        if isinstance(template, str) and template != prior.get("base_job_template"):
            body["base_job_template"] = parse_template(template)
        if body:
            _call(f"update work pool {name!r}", lambda: client.update_pool(name, body))
        current = _call(f"read work pool {name!r}", lambda: client.read_pool(name))
        if current is None:
            raise ProviderError(f"Work pool {name!r} disappeared during apply",
                                "It was deleted outside Terraform; run terraform apply again to re-create it.")
        text = template if isinstance(template, str) else _canonical(current.get("base_job_template"))
        return self.settle(self._from_api(current, planned, text), planned)

    def delete(self, prior: dict[str, Any], diags: Diags) -> None:
        from reconciler.errors import NotFound

        name = prior.get("name")
        client = self.provider.client()
        try:
            client.delete_pool(name)
        except NotFound:
            return
        except Exception as exc:  # noqa: BLE001
            raise _api_error(f"delete work pool {name!r}", exc) from None

    def read(self, current: dict[str, Any], diags: Diags) -> dict[str, Any] | None:
        name = current.get("name")
        pools, _ = self.provider.readers()
        body = _call(f"read work pool {name!r}", lambda: pools.get(name))
        if body is None:
            return None
        server_template = body.get("base_job_template") or {}
        prior_text = current.get("base_job_template")
        text = prior_text if _same_json(prior_text, json.dumps(server_template)) else _canonical(server_template)
        return self._from_api(body, current, text)

    def import_(self, import_id: str, diags: Diags) -> dict[str, Any]:
        parts = _strip_workspace(import_id.split(","))
        name = ",".join(parts)
        if not name.strip():
            raise ProviderError("Invalid import ID", "Import a work pool by its name: "
                                "terraform import prefect_work_pool.NAME <pool name>")
        return self.state({"name": name})


class WorkQueue(Resource):
    block = schema.WORK_QUEUE

    def default(self, attr: schema.Attr, config: dict[str, Any]) -> Any:
        if attr.name == "description" and config.get("name") == DEFAULT_QUEUE:
            return DEFAULT_QUEUE_DESCRIPTION
        return attr.default

    def validate(self, config: dict[str, Any], diags: Diags) -> None:
        _add_problems(diags, queue_problems(config))

    def plan(self, prior: dict[str, Any] | None, proposed: dict[str, Any] | None, config: dict[str, Any] | None,
             diags: Diags) -> tuple[dict[str, Any] | None, list[str]]:
        if config is not None:
            found = Diags()
            self.validate(config, found)  # values unknown at validation are checked once known
            diags.extend(d for d in found if d[0] == "error")
        if proposed is None or config is None:
            if prior is not None:
                self.provider.planned.forget_queue(prior.get("work_pool_name"), prior.get("name"))
        else:  # the declared values: an omitted priority is the server's choice, as in poolform
            _add_problems(diags, self.provider.planned.queue(config.get("work_pool_name"), config.get("name"),
                                                             config.get("priority"), config.get("concurrency_limit")))
        return super().plan(prior, proposed, config, diags)

    def _get(self, pool: str, name: str) -> dict[str, Any] | None:
        from reconciler.errors import NotFound

        client = self.provider.client()
        try:
            return client.request("GET", f"/work_pools/{_enc(pool)}/queues/{_enc(name)}",
                                  route="/work_pools/{name}/queues/{name}")
        except NotFound:
            return None

    def _patch(self, queue_id: str, body: dict[str, Any]) -> None:
        client = self.provider.client()
        client.request("PATCH", f"/work_queues/{queue_id}", json=body, route="/work_queues/{id}")

    def _set_priority(self, pool: str, name: str, queue_id: str, priority: int) -> None:
        """Give the queue exactly ``priority`` and move the queues in its way (``siblings.make_room``)."""
        from reconciler.provider.siblings import make_room

        client = self.provider.client()
        with self.provider.pool_lock(pool):
            listed = client.read_queues(pool)
            current = {q["name"]: q["priority"] for q in listed if isinstance(q.get("priority"), int)}
            ids = {q["name"]: str(q["id"]) for q in listed}
            self._patch(queue_id, {"priority": priority})
            declared = self.provider.planned.declared(pool)
            held = {q for q, p in declared.items() if p is not None} | {name}
            movable = {q for q, p in declared.items() if p is None}
            reserved = {p for q, p in declared.items() if p is not None and q != name}
            for queue, moved in make_room(current, name, priority, held, movable, reserved).items():
                self._patch(ids[queue], {"priority": moved})
        self.provider.written()

    def _from_api(self, body: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
        attributes = queue_attributes(body)
        attributes["work_pool_name"] = attributes["work_pool_name"] or base.get("work_pool_name")
        return self.state({**base, **attributes})

    def _finish(self, pool: str, name: str, planned: dict[str, Any]) -> dict[str, Any]:
        body = _call(f"read work queue {pool!r}/{name!r}", lambda: self._get(pool, name))
        if body is None:
            raise ProviderError(f"Work queue {pool}/{name} disappeared during apply",
                                "It was deleted outside Terraform; run terraform apply again.")
        return self.settle(self._from_api(body, planned), planned)

    def _wait_for_pool(self, pool: str, action: Callable[[], Any]) -> Any:
        """Run ``action``; while the pool does not exist yet (created in the same apply), retry briefly."""
        from reconciler.errors import NotFound

        deadline = time.monotonic() + POOL_WAIT_SECONDS
        while True:
            try:
                return action()
            except NotFound:
                if time.monotonic() > deadline or self.provider.client().read_pool(pool) is not None:
                    raise
                time.sleep(0.2)

    def create(self, planned: dict[str, Any], diags: Diags) -> dict[str, Any]:
        from reconciler.errors import ApiError, NotFound

        pool, name = planned["work_pool_name"], planned["name"]
        client = self.provider.client()
        fields = {"description": planned.get("description") or "",
                  "is_paused": bool(planned.get("is_paused")),
                  "concurrency_limit": planned.get("concurrency_limit")}
        priority = planned.get("priority")
        try:
            existing = None
            if name == DEFAULT_QUEUE:
                def find() -> dict[str, Any]:
                    found = self._get(pool, name)
                    if found is None:
                        raise NotFound(f"work pool {pool!r} has no queue {name!r} yet")
                    return found
                try:
                    existing = self._wait_for_pool(pool, find)
                except NotFound:
                    existing = None
            if existing is not None:
                self._patch(str(existing["id"]), dict(fields))
                if isinstance(priority, int) and existing.get("priority") != priority:
                    self._set_priority(pool, name, str(existing["id"]), priority)
            else:
                created = self._wait_for_pool(pool, lambda: client.create_queue(pool, {"name": name, **fields}))
                if isinstance(priority, int) and created.get("priority") != priority:
                    self._set_priority(pool, name, str(created["id"]), priority)
        except ApiError as exc:
            raise _api_error(f"create work queue {name!r} in work pool {pool!r}", exc, import_id=f"{pool},{name}") from None
        return self._finish(pool, name, planned)

    def update(self, prior: dict[str, Any], planned: dict[str, Any], diags: Diags) -> dict[str, Any]:
        pool, name = prior["work_pool_name"], prior["name"]
        body: dict[str, Any] = {}
        if planned.get("description") != prior.get("description"):
            body["description"] = planned.get("description") or ""
        if planned.get("is_paused") != prior.get("is_paused"):
            body["is_paused"] = bool(planned.get("is_paused"))
        if planned.get("concurrency_limit") != prior.get("concurrency_limit"):
            body["concurrency_limit"] = planned.get("concurrency_limit")
        if body:
            _call(f"update work queue {pool!r}/{name!r}", lambda: self._patch(str(prior["id"]), body))
        if isinstance(planned.get("priority"), int) and planned.get("priority") != prior.get("priority"):
            _call(f"update work queue {pool!r}/{name!r}",
                  lambda: self._set_priority(pool, name, str(prior["id"]), planned["priority"]))
        return self._finish(pool, name, planned)

    def delete(self, prior: dict[str, Any], diags: Diags) -> None:
        from reconciler.errors import ApiError, NotFound

        pool, name, queue_id = prior.get("work_pool_name"), prior.get("name"), prior.get("id")
        client = self.provider.client()
        try:
            if name == DEFAULT_QUEUE:
                self._patch(str(queue_id), {"description": DEFAULT_QUEUE_DESCRIPTION, "is_paused": False,
                                            "concurrency_limit": None})
            else:
                client.request("DELETE", f"/work_queues/{queue_id}", route="/work_queues/{id}")
        except NotFound:
            return
        except ApiError as exc:
            raise _api_error(f"delete work queue {pool!r}/{name!r}", exc) from None

    def read(self, current: dict[str, Any], diags: Diags) -> dict[str, Any] | None:
        pool, name = current.get("work_pool_name"), current.get("name")
        _, queues = self.provider.readers()
        listed = _call(f"read work queue {pool!r}/{name!r}", lambda: queues.get(pool)) or []
        body = next((q for q in listed if q.get("name") == name), None)
        if body is None:
            return None
        return self._from_api(body, current)

    def import_(self, import_id: str, diags: Diags) -> dict[str, Any]:
        parts = _strip_workspace(import_id.split(","))
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise ProviderError("Invalid import ID",
                                f"Got {import_id!r}. Import a work queue as <work_pool_name>,<queue_name>, e.g. "
                                "terraform import prefect_work_queue.high 'my-pool,high'")
        return self.state({"work_pool_name": parts[0], "name": parts[1]})


_TYPES: dict[str, type[Resource]] = {"prefect_work_pool": WorkPool, "prefect_work_queue": WorkQueue}


def get(type_name: str, provider: ProviderState) -> Resource:
    try:
        return _TYPES[type_name](provider)
    except KeyError:
        raise ProviderError(f"Unknown resource type {type_name!r}",
                            f"The prefect provider manages: {', '.join(_TYPES)}.") from None
