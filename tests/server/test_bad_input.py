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
    ("set-state-missing-run", "POST", "/api/flow_runs/00000000-0000-0000-0000-000000000000/set_state", {"state": {"type": "PENDING"}}, 404, "Flow run not found"),
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
