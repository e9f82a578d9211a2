"""Run by the real Prefect 3.9.1 venv's Python: reads JSON-lines cases on stdin and prints, for
each, what Prefect's own functions answer (the structure validator of WorkPoolCreate, the
create-time defaults check, job-variable validation for deployments and runs, and a
deployment PATCH's check). Imports only Prefect and its dependencies."""

import asyncio
import json
import sys

import jsonschema
from fastapi import HTTPException
from prefect.server.api import validation
from prefect.server.schemas.actions import DeploymentUpdate, validate_base_job_template
from prefect.utilities.schema_tools import ValidationError


async def answer(case: dict) -> dict:
    template = case["template"]
    try:
        if case["kind"] == "structure":
            validate_base_job_template(template)
        elif case["kind"] == "defaults":
            await validation.validate_job_variable_defaults_for_work_pool(None, "pool", template)
        elif case["kind"] == "jobvars":
            await validation._validate_work_pool_job_variables(
                None, "pool", template, *case["layers"], ignore_required=not case["enforce"], ignore_invalid_defaults=True)
        else:
            DeploymentUpdate(job_variables=case["layers"][0]).check_valid_configuration(template)
    except HTTPException as exc:
        return {"status": exc.status_code, "detail": exc.detail}
    except ValidationError as exc:
        return {"validation": str(exc)}
    except jsonschema.exceptions.ValidationError as exc:
        return {"repr": repr(exc)}
    except ValueError as exc:
        return {"error": "ValueError", "msg": str(exc)}
    return {"ok": True}


async def main() -> None:
    for line in sys.stdin:
        print(json.dumps(await answer(json.loads(line))), flush=True)


asyncio.run(main())
