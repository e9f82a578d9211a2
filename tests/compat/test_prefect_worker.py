"""A real Prefect 3.9.1 process worker (`prefect worker start --run-once`) against a server.

One worker process per server: it heartbeats, fills the pool's empty base job template with its
own default, polls, claims a deployment's scheduled run and executes the flow (a local file, no
network). The same test runs against real Prefect (proving the expectations) and against ours.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.compat

FIXTURES = Path(__file__).parent / "fixtures"
PROCESS_TEMPLATE = json.loads((FIXTURES / "process-default-base-job-template.json").read_text())
FLOW_SOURCE = """\
from prefect import flow


@flow
def hello(who: str = "nobody") -> int:
    print(f"hello {who}")
    return 42
"""


def test_worker_runs_a_deployment_flow_run(either_api, prefect_cli_for, tmp_path):
    api, api_url = either_api, str(either_api.base_url).rstrip("/")
    pool = f"worker-{uuid.uuid4().hex[:8]}"
    code = tmp_path / "code"
    code.mkdir()
    (code / "flows.py").write_text(FLOW_SOURCE)
    assert api.post("work_pools/", json={"name": pool, "type": "process"}).status_code == 201
    flow = api.post("flows/", json={"name": f"hello-{pool}"}).json()
    r = api.post("deployments/", json={
        "name": "compat", "flow_id": flow["id"], "work_pool_name": pool, "entrypoint": "flows.py:hello",
        "path": str(code), "parameters": {"who": "compat"},
        "pull_steps": [{"prefect.deployments.steps.set_working_directory": {"directory": str(code)}}]})
    assert r.status_code == 201, r.text
    r = api.post(f"deployments/{r.json()['id']}/create_flow_run", json={"name": "compat-run"})
    assert r.status_code == 201, r.text
    run_id = r.json()["id"]

    proc = prefect_cli_for(api_url)("worker", "start", "--pool", pool, "--type", "process", "--run-once")
    assert proc.returncode == 0, proc.output
    assert "started!" in proc.output and "stopped!" in proc.output

    pool_row = api.get(f"work_pools/{pool}").json()
    assert pool_row["status"] == "READY"
    assert pool_row["base_job_template"] == PROCESS_TEMPLATE
    workers = api.post(f"work_pools/{pool}/workers/filter", json={}).json()
    assert [w["status"] for w in workers] == ["ONLINE"]
    default = api.get(f"work_pools/{pool}/queues/default").json()
    assert default["status"] == "READY" and default["last_polled"] is not None

    run = api.get(f"flow_runs/{run_id}").json()
    assert (run["state_type"], run["state_name"]) == ("COMPLETED", "Completed"), (
        f"{run['state_type']} {run['state_name']}: {run['state'] and run['state']['message']}\n"
        f"worker output:\n{proc.output[-4000:]}")
    assert run["run_count"] == 1 and run["start_time"] and run["end_time"]
    assert "hello compat" in proc.output
    # The client's events worker logs "Still processing items" when draining at exit is slow (a
    # loaded machine; real Prefect too): timing, not a failure. Any other EventsWorker line is.
    output = "\n".join(line for line in proc.output.splitlines() if "Still processing items" not in line)
    assert "EventsWorker" not in output and "/events/in" not in output and "ERROR" not in output, output[-4000:]
    api.delete(f"work_pools/{pool}")
