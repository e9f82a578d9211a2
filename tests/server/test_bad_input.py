"""Bad input always gets a 4xx with a body that says what is wrong, never a 500."""

from __future__ import annotations

import pytest

CASES = [
    # id, method, path, body (bytes = raw), status, text expected in the body
    ("malformed-json", "POST", "/api/work_pools/", b"{not json", 422, "JSON decode error"),
    ("pool-unknown-field", "POST", "/api/work_pools/", {"name": "x", "bogus": 1}, 422, "Extra inputs are not permitted"),
    ("pool-name-int", "POST", "/api/work_pools/", {"name": 123}, 422, "valid string"),
    ("pool-name-slash", "POST", "/api/work_pools/", {"name": "a/b"}, 422, "String should match pattern"),
    ("pool-name-emptyish", "POST", "/api/work_pools/", {"name": " '' "}, 422, "name cannot be an empty string"),
    ("pool-name-missing", "POST", "/api/work_pools/", {}, 422, "Field required"),
    ("pool-reserved", "POST", "/api/work_pools/", {"name": "PrefectX"}, 403, "reserved for internal use"),
    ("pool-limit-negative", "POST", "/api/work_pools/", {"name": "x", "concurrency_limit": -1}, 422, "greater than or equal to 0"),
    ("pool-limit-string", "POST", "/api/work_pools/", {"name": "x", "concurrency_limit": "many"}, 422, "valid integer"),
    ("pool-paused-string", "POST", "/api/work_pools/", {"name": "x", "is_paused": "maybe"}, 422, "valid boolean"),
    ("template-not-object", "POST", "/api/work_pools/", {"name": "x", "base_job_template": "nope"}, 422, "valid dictionary"),
    ("template-variables-string", "POST", "/api/work_pools/",
     {"name": "x", "base_job_template": {"job_configuration": {"a": "b"}, "variables": "s"}}, 422, "must be a JSON Schema object"),
    ("template-properties-list", "POST", "/api/work_pools/",
     {"name": "x", "base_job_template": {"job_configuration": {"a": "b"}, "variables": {"type": "object", "properties": ["a"]}}},
     422, "variables.properties"),
    ("template-undeclared", "POST", "/api/work_pools/",
     {"name": "x", "base_job_template": {"job_configuration": {"a": "{{ a }}"}, "variables": {"type": "object", "properties": {}}}},
     422, "undeclared variable(s): a."),
    ("template-bad-schema", "POST", "/api/work_pools/",
     {"name": "x", "base_job_template": {"job_configuration": {"a": "{{ a }}"}, "variables": {"type": "object", "properties": {"a": {"type": "nope"}}}}},
     422, "Invalid schema"),
    ("filter-limit-too-big", "POST", "/api/work_pools/filter", {"limit": 201}, 422, "Invalid limit: must be less than or equal to 200."),
    ("filter-limit-negative", "POST", "/api/work_pools/filter", {"limit": -1}, 422, "Invalid limit"),
    ("filter-offset-negative", "POST", "/api/work_pools/filter", {"offset": -1}, 422, "greater than or equal to 0"),
    ("filter-unknown-subkey", "POST", "/api/work_pools/filter", {"work_pools": {"nam": {"any_": ["x"]}}}, 422, "Extra inputs"),
    ("patch-name", "PATCH", "/api/work_pools/pool", {"name": "y"}, 422, "Extra inputs are not permitted"),
    ("patch-type", "PATCH", "/api/work_pools/pool", {"type": "docker"}, 422, "Extra inputs are not permitted"),
    ("patch-template-null", "PATCH", "/api/work_pools/pool", {"base_job_template": None}, 422, "base_job_template cannot be null"),
    ("patch-paused-null", "PATCH", "/api/work_pools/pool", {"is_paused": None}, 422, "is_paused cannot be null"),
    ("patch-storage-null", "PATCH", "/api/work_pools/pool", {"storage_configuration": None}, 422, "cannot be null"),
    ("queue-bad-name", "POST", "/api/work_pools/pool/queues", {"name": "a%b"}, 422, "String should match pattern"),
    ("queue-priority-zero", "POST", "/api/work_pools/pool/queues", {"name": "q", "priority": 0}, 422, "greater than 0"),
    ("queue-patch-priority-null", "PATCH", "/api/work_pools/pool/queues/default", {"priority": None}, 422, "priority cannot be null"),
    ("queue-patch-name-null", "PATCH", "/api/work_pools/pool/queues/default", {"name": None}, 422, "name cannot be null"),
    ("queue-delete-default", "DELETE", "/api/work_pools/pool/queues/default", None, 409, "default queue"),
    ("queue-filter-limit", "POST", "/api/work_pools/pool/queues/filter", {"limit": 500}, 422, "Invalid limit"),
    ("poll-limit", "POST", "/api/work_pools/pool/get_scheduled_flow_runs", {"limit": 201}, 422, "Invalid limit"),
    ("poll-bad-date", "POST", "/api/work_pools/pool/get_scheduled_flow_runs", {"scheduled_before": "tomorrow"}, 422, "datetime"),
    ("poll-unknown-queue", "POST", "/api/work_pools/pool/get_scheduled_flow_runs", {"work_queue_names": ["nope"]}, 404, "'pool/nope' not found"),
    ("heartbeat-no-name", "POST", "/api/work_pools/pool/workers/heartbeat", {}, 422, "Field required"),
    ("heartbeat-bad-interval", "POST", "/api/work_pools/pool/workers/heartbeat", {"name": "w", "heartbeat_interval_seconds": "x"}, 422, "valid integer"),
    ("flow-run-bad-state", "POST", "/api/flow_runs/", {"flow_id": "x", "state": {"type": "NOPE"}}, 422, "Input should be"),
    ("flow-run-missing-flow", "POST", "/api/flow_runs/", {"flow_id": "00000000-0000-0000-0000-000000000000"}, 404, "create it with POST /api/flows/"),
    ("flow-run-filter-sort", "POST", "/api/flow_runs/filter", {"sort": "SIDEWAYS"}, 422, "Input should be"),
    ("set-state-missing-run", "POST", "/api/flow_runs/00000000-0000-0000-0000-000000000000/set_state", {"state": {"type": "PENDING"}}, 404, "Flow run with id 00000000-0000-0000-0000-000000000000 not found"),
    ("deployment-missing-flow", "POST", "/api/deployments/", {"name": "d", "flow_id": "nope"}, 404, "Flow nope not found"),
    ("legacy-queue-missing", "GET", "/api/work_queues/00000000-0000-0000-0000-000000000000", None, 404, "not found"),
    ("body-is-a-list", "POST", "/api/work_pools/", [1, 2], 422, "Invalid request received."),
    ("view-unknown", "GET", "/api/collections/views/nope", None, 404, "nope"),
    ("unknown-route", "GET", "/api/nothing-here", None, 404, "Not Found"),
    ("huge-pool-limit", "POST", "/api/work_pools/", {"name": "x", "concurrency_limit": 10**30}, 422, "less than or equal to 2147483647"),
    ("huge-offset", "POST", "/api/work_pools/filter", {"offset": 10**30}, 422, "less than or equal to 2147483647"),
    ("huge-patch-limit", "PATCH", "/api/work_pools/pool", {"concurrency_limit": 10**30}, 422, "less than or equal"),
    ("huge-priority", "POST", "/api/work_pools/pool/queues", {"name": "q", "priority": 10**30}, 422, "less than or equal"),
    ("huge-run-offset", "POST", "/api/flow_runs/filter", {"offset": 10**30}, 422, "less than or equal"),
    ("huge-interval", "POST", "/api/work_pools/pool/workers/heartbeat", {"name": "w", "heartbeat_interval_seconds": 10**30}, 422, "less than or equal"),
    ("huge-flow-offset", "POST", "/api/flows/filter", {"offset": 10**30}, 422, "less than or equal"),
    ("empty-body", "POST", "/api/work_pools/", b"", 422, "Field required"),
    ("not-utf8", "POST", "/api/work_pools/", b"\xff\xfe", 422, "JSON"),
    ("nan", "POST", "/api/work_pools/", b'{"name": "x", "concurrency_limit": NaN}', 422, "NaN is not a JSON number"),
    ("infinity-in-template", "POST", "/api/work_pools/",
     b'{"name": "x", "base_job_template": {"job_configuration": {"a": "{{ a }}"}, '
     b'"variables": {"type": "object", "properties": {"a": {"default": Infinity}}}}}', 422, "Infinity is not a JSON number"),
    ("minus-infinity-parameters", "POST", "/api/flow_runs/", b'{"flow_id": "x", "parameters": {"a": -Infinity}}', 422, "-Infinity is not"),
    ("float-overflow", "PATCH", "/api/work_pools/pool", b'{"description": "d", "concurrency_limit": 1e999}', 422, "1e999 is too large"),
    ("lone-high-surrogate", "POST", "/api/work_pools/", b'{"name": "x\\ud800"}', 422, "lone UTF-16 surrogate"),
    ("lone-low-surrogate-description", "PATCH", "/api/work_pools/pool", b'{"description": "\\udc00"}', 422, "lone UTF-16 surrogate"),
    ("lone-surrogate-key", "POST", "/api/flow_runs/", b'{"flow_id": "x", "parameters": {"\\udfff": 1}}', 422, "lone UTF-16 surrogate"),
    ("encoded-surrogate-bytes", "POST", "/api/work_pools/", b'{"name": "\xed\xa0\x80"}', 422, "not valid UTF-8"),
    ("nested-65-deep", "POST", "/api/work_pools/filter", b'{"work_pools": ' + b"[" * 64 + b"]" * 64 + b"}", 422, "nest deeper than 64"),
    ("template-variables-500-deep", "POST", "/api/work_pools/",
     ('{"name": "x", "base_job_template": {"job_configuration": {"a": "{{ a }}"}, "variables": {"type": "object", "properties": {"a": '
      + '{"type": "object", "properties": {"a": ' * 500 + "{}" + "}}" * 500 + "}}}}").encode(), 422, "nest deeper than 64"),
    ("pool-name-1025", "POST", "/api/work_pools/", {"name": "p" * 1025}, 422, "String should have at most 1024 characters"),
    ("pool-type-1025", "POST", "/api/work_pools/", {"name": "x", "type": "t" * 1025}, 422, "at most 1024 characters"),
    ("pool-description-10001", "POST", "/api/work_pools/", {"name": "x", "description": "d" * 10_001}, 422, "at most 10000 characters"),
    ("pool-patch-description-10001", "PATCH", "/api/work_pools/pool", {"description": "d" * 10_001}, 422, "at most 10000 characters"),
    ("queue-name-1025", "POST", "/api/work_pools/pool/queues", {"name": "q" * 1025}, 422, "at most 1024 characters"),
    ("queue-rename-1025", "PATCH", "/api/work_pools/pool/queues/default", {"name": "q" * 1025}, 422, "at most 1024 characters"),
    ("queue-description-10001", "POST", "/api/work_pools/pool/queues", {"name": "q", "description": "d" * 10_001}, 422, "at most 10000"),
    ("legacy-queue-name-1025", "POST", "/api/work_queues/", {"name": "q" * 1025}, 422, "at most 1024 characters"),
    ("worker-name-1025", "POST", "/api/work_pools/pool/workers/heartbeat", {"name": "w" * 1025}, 422, "at most 1024 characters"),
    ("flow-name-1025", "POST", "/api/flows/", {"name": "f" * 1025}, 422, "at most 1024 characters"),
    ("flow-run-name-1025", "POST", "/api/flow_runs/", {"flow_id": "x", "name": "r" * 1025}, 422, "at most 1024 characters"),
    ("deployment-name-1025", "POST", "/api/deployments/", {"name": "d" * 1025, "flow_id": "x"}, 422, "at most 1024 characters"),
    ("deployment-description-10001", "POST", "/api/deployments/", {"name": "d", "flow_id": "x", "description": "d" * 10_001}, 422, "at most 10000"),
    ("dangling-ref-default", "POST", "/api/work_pools/",
     {"name": "x", "base_job_template": {"job_configuration": {"a": "{{ a }}"},
                                         "variables": {"type": "object", "properties": {"a": {"$ref": "#/definitions/nope", "default": 1}}}}},
     422, "Validation failed for work pool's job variable defaults: Validation failed. Failure reason: PointerToNowhere"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "text"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_4xx(client, pool, method, path, body, status, text) -> None:
    kwargs = {}
    if isinstance(body, bytes):
        kwargs = {"content": body, "headers": {"content-type": "application/json"}}
    elif body is not None:
        kwargs = {"json": body}
    response = client.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    assert text in response.text


def test_refused_json_has_prefect_decode_error_shape(client) -> None:
    """NaN is refused the way Prefect 3.9.1 refuses malformed JSON (pool-create-malformed-json.json):
    a ``json_invalid`` detail at ``["body", offset]`` with the raw body echoed."""
    raw = '{"name": "x", "concurrency_limit": NaN}'
    response = client.post("/api/work_pools/", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json() == {
        "exception_message": "Invalid request received.",
        "exception_detail": [{"type": "json_invalid", "loc": ["body", raw.index("NaN")], "msg": "JSON decode error", "input": {},
                              "ctx": {"error": "NaN is not a JSON number; send a finite number or null"}}],
        "request_body": raw,
    }
    assert client.get("/api/work_pools/x").status_code == 404


def test_longest_names_and_descriptions_are_kept(client, pool, flow) -> None:
    name, description = "p" * 1024, "d" * 10_000
    created = client.post("/api/work_pools/", json={"name": name, "description": description, "type": "t" * 1024})
    assert created.status_code == 201, created.text
    assert client.get(f"/api/work_pools/{name}").json()["description"] == description
    queue = client.post(f"/api/work_pools/{name}/queues", json={"name": "q" * 1024, "description": description})
    assert queue.status_code == 201, queue.text
    assert client.post("/api/deployments/", json={"name": "d" * 1024, "flow_id": flow["id"], "description": description}).status_code == 201


def test_64_levels_are_accepted(client, flow) -> None:
    """The nesting limit is 64 levels counting the body itself: 64 is stored and read back."""
    nested: object = 1
    for _ in range(62):
        nested = [nested]
    created = client.post("/api/flow_runs/", json={"flow_id": flow["id"], "parameters": {"p": nested}})
    assert created.status_code == 201, created.text
    assert client.get(f"/api/flow_runs/{created.json()['id']}").json()["parameters"] == {"p": nested}


def test_escaped_surrogate_pairs_are_characters(client) -> None:
    raw = b'{"name": "x", "description": "\\ud83d\\ude00 ok"}'
    response = client.post("/api/work_pools/", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 201, response.text
    assert response.json()["description"] == "\U0001f600 ok"


def test_every_api_route_reads_strict_json() -> None:
    import importlib
    import pkgutil

    from fastapi.routing import APIRoute

    from reconciler.server import routes
    from reconciler.server.bodies import StrictJsonRoute

    readers = [
        (info.name, route)
        for info in pkgutil.iter_modules(routes.__path__)
        for route in importlib.import_module(f"{routes.__name__}.{info.name}").router.routes
        if isinstance(route, APIRoute) and route.body_field is not None
    ]
    assert len(readers) > 20
    assert [(module, route.path) for module, route in readers if not isinstance(route, StrictJsonRoute)] == []


def test_validation_error_body_has_prefect_shape(client) -> None:
    response = client.post("/api/work_pools/", json={"name": "x", "bogus": 1})
    body = response.json()
    assert set(body) == {"exception_message", "exception_detail", "request_body"}
    assert body["exception_message"] == "Invalid request received."
    assert body["exception_detail"][0]["loc"] == ["body", "bogus"]
    assert body["request_body"] == {"name": "x", "bogus": 1}


def test_null_patch_changes_nothing(client, pool) -> None:
    before = client.get("/api/work_pools/pool").json()
    assert client.patch("/api/work_pools/pool", json={"base_job_template": None}).status_code == 422
    assert client.get("/api/work_pools/pool").json() == before
