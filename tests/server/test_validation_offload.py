"""CPU-heavy template validation never blocks other requests: it runs in worker threads, at most
``VALIDATION_THREADS`` at once, while the event loop keeps answering.  Shown by ordering, not by
timing: the validation is held open until health has answered (if it ran on the event loop, health
could never answer and the held validation would wait for nothing).  Latency figures live in
``bench/server_validation.py``."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from reconciler.server import VALIDATION_THREADS, routes
from reconciler.server.runner import serve_in_thread

TEMPLATE = {
    "job_configuration": {"command": "{{ command }}"},
    "variables": {"type": "object", "properties": {"command": {"type": "string", "default": "run"}}},
}


class HeldValidation:
    """Wraps a check the routes run off the loop (``defaults_problem``, ``prepare``): says when the
    check of a non-empty template starts and holds it until released."""

    def __init__(self, real) -> None:  # type: ignore[no-untyped-def]
        self.real = real
        self.lock = threading.Lock()
        self.running = 0
        self.started = threading.Semaphore(0)
        self.release = threading.Event()

    def __call__(self, template: dict | None) -> str | None:
        if not template:
            return self.real(template)
        with self.lock:
            self.running += 1
        self.started.release()
        try:
            assert self.release.wait(30), "never released"
            return self.real(template)
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> HeldValidation:
    holder = HeldValidation(routes.defaults_problem)
    monkeypatch.setattr(routes, "defaults_problem", holder)
    return holder


def _fresh(template: dict) -> dict:
    """``template`` with a schema this process has not checked yet (a checked one is answered from
    the memo without a thread)."""
    return {**template, "variables": {**template["variables"], "description": uuid.uuid4().hex}}


def _wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_health_and_reads_answer_while_a_template_is_validated(held: HeldValidation, method: str) -> None:
    template = _fresh(TEMPLATE)
    with serve_in_thread() as server, ThreadPoolExecutor(1) as pool:
        assert httpx.post(server.api_url + "/work_pools/", json={"name": "other"}).status_code == 201
        if method == "POST":
            slow = pool.submit(httpx.post, server.api_url + "/work_pools/", json={"name": "big", "base_job_template": template}, timeout=60)
        else:
            slow = pool.submit(httpx.patch, server.api_url + "/work_pools/other", json={"base_job_template": template}, timeout=60)
        assert held.started.acquire(timeout=30)
        answered = [httpx.get(server.api_url + "/health", timeout=10).json(),
                    httpx.get(server.api_url + "/work_pools/other", timeout=10).status_code]
        still_validating = not slow.done()
        held.release.set()
        assert answered == [True, 200]
        assert still_validating
        assert slow.result().status_code in (201, 204), slow.result().text
        assert httpx.get(server.api_url + "/work_pools/" + ("big" if method == "POST" else "other")).json()["base_job_template"] == template


def test_at_most_validation_threads_validations_run_at_once(held: HeldValidation) -> None:
    requests = VALIDATION_THREADS + 2
    template = _fresh(TEMPLATE)
    with serve_in_thread() as server, ThreadPoolExecutor(requests) as pool:
        limiters = server.app.state.validation_limiters
        posts = [pool.submit(httpx.post, server.api_url + "/work_pools/", json={"name": f"p{i}", "base_job_template": template}, timeout=60)
                 for i in range(requests)]
        _wait_until(lambda: len(limiters) == 1 and next(iter(limiters.values())).statistics().tasks_waiting == requests - VALIDATION_THREADS,
                    "the requests over the bound to queue")
        running = held.running
        assert httpx.get(server.api_url + "/health", timeout=10).json() is True
        held.release.set()
        assert running == VALIDATION_THREADS
        assert sorted(p.result().status_code for p in posts) == [201] * requests


@pytest.mark.parametrize("what", ["deployment", "flow-run"])
def test_health_answers_while_job_variables_checks_are_prepared(monkeypatch: pytest.MonkeyPatch, what: str) -> None:
    """The first job-variable check against a pool's template (a deployment with job variables, a
    run of a deployment in the pool) prepares the template off the loop before the store work."""
    held = HeldValidation(routes.prepare)
    monkeypatch.setattr(routes, "prepare", held)
    # a template this process has not prepared yet (one it has is known and needs no thread)
    template = _fresh(TEMPLATE)
    with serve_in_thread() as server, ThreadPoolExecutor(1) as pool:
        api = server.api_url
        assert httpx.post(api + "/work_pools/", json={"name": "p", "base_job_template": template}).status_code == 201
        flow = httpx.post(api + "/flows/", json={"name": "f"}).json()
        if what == "deployment":
            slow = pool.submit(httpx.post, api + "/deployments/", timeout=60,
                               json={"name": "d", "flow_id": flow["id"], "work_pool_name": "p", "job_variables": {"command": "go"}})
        else:
            deployment = httpx.post(api + "/deployments/", json={"name": "d", "flow_id": flow["id"], "work_pool_name": "p"}).json()
            slow = pool.submit(httpx.post, api + f"/deployments/{deployment['id']}/create_flow_run", json={"job_variables": {"command": 1}},
                               timeout=60)
        assert held.started.acquire(timeout=30)
        answered = httpx.get(api + "/health", timeout=10).json()
        still_checking = not slow.done()
        held.release.set()
        assert answered is True and still_checking
        result = slow.result()
    if what == "deployment":
        assert result.status_code == 201, result.text
    else:  # the check itself still runs, in the domain: 1 is not a string
        assert result.status_code == 422 and "command" in result.text, result.text


def test_a_prepared_template_is_not_sent_to_a_thread_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of a deployment whose pool's template was prepared once are checked on the loop straight
    away (the template's parse is kept per stored text and known by identity): no thread hop per run."""
    calls: list[object] = []
    real = routes.prepare
    monkeypatch.setattr(routes, "prepare", lambda template: (calls.append(template), real(template))[1])
    template = _fresh(TEMPLATE)
    with serve_in_thread() as server:
        api = server.api_url
        assert httpx.post(api + "/work_pools/", json={"name": "p", "base_job_template": template}).status_code == 201
        flow = httpx.post(api + "/flows/", json={"name": "f"}).json()
        deployment = httpx.post(api + "/deployments/", json={"name": "d", "flow_id": flow["id"], "work_pool_name": "p"}).json()
        created = [httpx.post(api + f"/deployments/{deployment['id']}/create_flow_run", json={"job_variables": {"command": "go"}})
                   for _ in range(3)]
        refused = httpx.post(api + f"/deployments/{deployment['id']}/create_flow_run", json={"job_variables": {"command": 1}})
    assert [r.status_code for r in created] == [201, 201, 201]
    assert refused.status_code == 422 and "command" in refused.text  # still checked, on the loop
    assert len(calls) == 1


def test_a_known_defaults_verdict_costs_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fleet's pools share a template: once its defaults verdict is in the memo, creating another
    pool with it (a small body) is checked on the loop, a refused one too; a body over
    ``routes.ON_LOOP_BYTES`` still goes to a thread."""
    calls: list[object] = []
    real = routes.defaults_problem
    monkeypatch.setattr(routes, "defaults_problem", lambda template: (calls.append(template), real(template))[1])
    template = _fresh(TEMPLATE)
    bad = {**template, "variables": {**template["variables"], "properties": {"command": {"type": "integer", "default": "x"}}}}
    with serve_in_thread() as server:
        api = server.api_url
        answers = [httpx.post(api + "/work_pools/", json={"name": f"p{i}", "base_job_template": template}).status_code
                   for i in range(3)]
        refusals = [httpx.post(api + "/work_pools/", json={"name": f"bad{i}", "base_job_template": bad}).status_code
                    for i in range(2)]
        big = {**template, "variables": {**template["variables"], "title": "x" * routes.ON_LOOP_BYTES}}
        assert httpx.post(api + "/work_pools/", json={"name": "big", "base_job_template": big}).status_code == 201
    assert answers == [201, 201, 201] and refusals == [422, 422]
    assert len(calls) == 3  # the first of each template, and the big body
