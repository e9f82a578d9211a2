"""The tfplugin6 Provider service: each RPC translated between protobuf and the Python values of
``codec``; what a call means lives in ``resources`` and ``datasources``.

Every RPC handler is wrapped: an exception becomes an error diagnostic in the response (with the
exception's message), never a plugin crash. Loaded right after the handshake line (``server``):
nothing here is needed to start. ConfigureProvider, which only a plan's or an apply's start
receives, loads the HTTP client and the template validator in the background (``_warm_up``).
"""

from __future__ import annotations

import functools
import json
import sys
import threading
import traceback
from typing import Any, Callable

from tf.gen import tfplugin_pb2 as pb

from reconciler.provider import codec, schema
from reconciler.provider.codec import Diags, ProviderError

_SEVERITY = {"error": pb.Diagnostic.ERROR, "warning": pb.Diagnostic.WARNING}


def _diag_pb(diags: Diags) -> list[Any]:
    out = []
    for severity, summary, detail, path in diags:
        kwargs: dict[str, Any] = {"severity": _SEVERITY[severity], "summary": summary, "detail": detail}
        if path:
            kwargs["attribute"] = pb.AttributePath(steps=[pb.AttributePath.Step(**s) for s in codec.path_steps(path)])
        out.append(pb.Diagnostic(**kwargs))
    return out


def _dv(value: Any) -> Any:
    return pb.DynamicValue(msgpack=codec.encode(value))


def _schema_pb(block: schema.Block) -> Any:
    attrs = [
        pb.Schema.Attribute(
            name=a.name, type=json.dumps(a.type).encode(), description=a.description,
            required=a.required, optional=a.optional, computed=a.computed, sensitive=a.sensitive,
            description_kind=pb.PLAIN,
        )
        for a in block.attributes
    ]
    return pb.Schema(version=0, block=pb.Schema.Block(attributes=attrs, description=block.description,
                                                       description_kind=pb.PLAIN))


def _warm_up(state: Any) -> None:
    """After ConfigureProvider (only a plan's or an apply's start has it), load what its next calls
    need: the HTTP client (httpx) for the reads, and the template checks' validator (jsonschema)
    for the pools' plans unless the checks are kept on disk (``checkcache``: the validation start
    before this one checked the same templates). The reads that arrive meanwhile wait for the
    same client under its lock; the imports overlap with Terraform's own work and the reads'
    round trips. Failing here is never an error: the call that needs the piece reports it."""
    try:
        state.client()
    except Exception:  # noqa: BLE001 - the calls themselves report every problem
        pass
    from reconciler.provider import checkcache

    if checkcache.directory() is not None:
        return  # the templates' checks are most likely kept from this plan's validation start
    try:
        from reconciler.template_rules import schema_errors

        schema_errors({})
    except Exception:  # noqa: BLE001
        pass


def _handler(response_cls: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run ``fn(self, request, diags) -> dict of response fields``; report every failure as a diagnostic."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def call(self: "ProviderServicer", request: Any, context: Any) -> Any:
            diags = Diags()
            fields: dict[str, Any] = {}
            try:
                fields = fn(self, request, diags) or {}
            except ProviderError as exc:
                diags.error(exc.summary, exc.detail, exc.path)
            except Exception as exc:  # noqa: BLE001 - the point: no plugin crash
                traceback.print_exc(file=sys.stderr)
                diags.error(f"Unexpected error in the prefect provider ({fn.__name__})",
                            f"{type(exc).__name__}: {exc}\nThis is a bug; the provider log (TF_LOG=DEBUG) has "
                            "the traceback.")
            return response_cls(diagnostics=_diag_pb(diags), **fields)

        return call

    return wrap


class ProviderServicer:
    def __init__(self) -> None:
        from reconciler.provider.config import ProviderState

        self.state = ProviderState()
        self._schema_response: Any = None
        self._lock = threading.Lock()

    def _resource(self, type_name: str) -> Any:
        from reconciler.provider import resources

        return resources.get(type_name, self.state)

    def _data_source(self, type_name: str) -> Any:
        from reconciler.provider import datasources

        return datasources.get(type_name, self.state)

    def GetMetadata(self, request: Any, context: Any) -> Any:
        return pb.GetMetadata.Response(
            server_capabilities=pb.ServerCapabilities(plan_destroy=False, get_provider_schema_optional=True),
            resources=[pb.GetMetadata.ResourceMetadata(type_name=n) for n in schema.RESOURCES],
            data_sources=[pb.GetMetadata.DataSourceMetadata(type_name=n) for n in schema.DATA_SOURCES],
        )

    def GetProviderSchema(self, request: Any, context: Any) -> Any:
        with self._lock:
            if self._schema_response is None:
                self._schema_response = pb.GetProviderSchema.Response(
                    provider=_schema_pb(schema.PROVIDER),
                    resource_schemas={n: _schema_pb(b) for n, b in schema.RESOURCES.items()},
                    data_source_schemas={n: _schema_pb(b) for n, b in schema.DATA_SOURCES.items()},
                    server_capabilities=pb.ServerCapabilities(plan_destroy=False,
                                                              get_provider_schema_optional=True),
                )
            return self._schema_response

    @_handler(pb.ValidateProviderConfig.Response)
    def ValidateProviderConfig(self, request: Any, diags: Diags) -> None:
        self.state.validate(codec.read_dynamic(request.config) or {}, diags)

    @_handler(pb.ConfigureProvider.Response)
    def ConfigureProvider(self, request: Any, diags: Diags) -> None:
        self.state.configure(codec.read_dynamic(request.config) or {}, diags)
        if not diags.has_errors:
            threading.Thread(target=_warm_up, args=(self.state,), name="warm-up", daemon=True).start()

    @_handler(pb.ValidateResourceConfig.Response)
    def ValidateResourceConfig(self, request: Any, diags: Diags) -> None:
        self._resource(request.type_name).validate(codec.read_dynamic(request.config) or {}, diags)

    @_handler(pb.ValidateDataResourceConfig.Response)
    def ValidateDataResourceConfig(self, request: Any, diags: Diags) -> None:
        self._data_source(request.type_name)

    @_handler(pb.UpgradeResourceState.Response)
    def UpgradeResourceState(self, request: Any, diags: Diags) -> dict[str, Any]:
        block = schema.RESOURCES[request.type_name]
        raw = request.raw_state
        if not raw.json:
            raise ProviderError("Unsupported state format",
                                "This state predates JSON state (flatmap); re-import the resource.")
        state = codec.conform(json.loads(raw.json), block.names)
        return {"upgraded_state": _dv(state)}

    @_handler(pb.ReadResource.Response)
    def ReadResource(self, request: Any, diags: Diags) -> dict[str, Any]:
        current = codec.read_dynamic(request.current_state)
        new = self._resource(request.type_name).read(current, diags) if current is not None else None
        return {"new_state": _dv(new), "private": request.private}

    @_handler(pb.PlanResourceChange.Response)
    def PlanResourceChange(self, request: Any, diags: Diags) -> dict[str, Any]:
        resource = self._resource(request.type_name)
        prior = codec.read_dynamic(request.prior_state)
        proposed = codec.read_dynamic(request.proposed_new_state)
        config = codec.read_dynamic(request.config)
        planned, replace = resource.plan(prior, proposed, config, diags)
        return {
            "planned_state": _dv(planned),
            "requires_replace": [pb.AttributePath(steps=[pb.AttributePath.Step(attribute_name=n)]) for n in replace],
            "planned_private": request.prior_private,
        }

    @_handler(pb.ApplyResourceChange.Response)
    def ApplyResourceChange(self, request: Any, diags: Diags) -> dict[str, Any]:
        resource = self._resource(request.type_name)
        prior = codec.read_dynamic(request.prior_state)
        planned = codec.read_dynamic(request.planned_state)
        config = codec.read_dynamic(request.config)
        try:
            new = resource.apply(prior, planned, config, diags)
        except ProviderError as exc:
            diags.error(exc.summary, exc.detail, exc.path)
            new = prior
        return {"new_state": _dv(new), "private": request.planned_private}

    @_handler(pb.ImportResourceState.Response)
    def ImportResourceState(self, request: Any, diags: Diags) -> dict[str, Any]:
        state = self._resource(request.type_name).import_(request.id, diags)
        return {"imported_resources": [
            pb.ImportResourceState.ImportedResource(type_name=request.type_name, state=_dv(state))
        ]}

    @_handler(pb.ReadDataSource.Response)
    def ReadDataSource(self, request: Any, diags: Diags) -> dict[str, Any]:
        config = codec.read_dynamic(request.config) or {}
        return {"state": _dv(self._data_source(request.type_name).read(config, diags))}

    def MoveResourceState(self, request: Any, context: Any) -> Any:
        diags = Diags()
        diags.error("Moving resources between types is not supported by the prefect provider")
        return pb.MoveResourceState.Response(diagnostics=_diag_pb(diags))

    def GetFunctions(self, request: Any, context: Any) -> Any:
        return pb.GetFunctions.Response()

    def StopProvider(self, request: Any, context: Any) -> Any:
        return pb.StopProvider.Response()
