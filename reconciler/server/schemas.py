"""Request bodies of the reference server, mirroring Prefect 3.9.1's action and
filter models (unknown keys rejected with 422, the same names and constraints).

Responses are plain dicts built in ``serialize.py``; this module holds no logic
beyond field validation and must not import the rest of the package. Each model's validator is
built on its first use (``defer_build``; ``routes.deferred`` builds a route's before it makes the
route): a server uses few of them.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, Optional
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from reconciler.server import MAX_DESCRIPTION_LENGTH, MAX_NAME_LENGTH
from reconciler.server.jobtemplates import check_structure

NAME_PATTERN = r"^[^/%&><]+$"
_NAME_RE = re.compile(NAME_PATTERN)


def _non_emptyish(value: str) -> str:
    if not value.replace(" ", "").replace("'", "").replace('"', ""):
        raise ValueError("name cannot be an empty string")
    if not _NAME_RE.match(value):
        raise PydanticCustomError(
            "string_pattern_mismatch", "String should match pattern '{pattern}'", {"pattern": NAME_PATTERN}
        )
    return value


NonEmptyishName = Annotated[str, Field(max_length=MAX_NAME_LENGTH), AfterValidator(_non_emptyish)]
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH)]
ShortText = Annotated[str, Field(max_length=MAX_NAME_LENGTH)]
"""A name without Prefect's character rule (queue renames, flow run names) or a pool type."""
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION_LENGTH)]
MAX_INT = 2**31 - 1
NonNegInt = Annotated[int, Field(ge=0, le=MAX_INT)]
Int = Annotated[int, Field(ge=-MAX_INT, le=MAX_INT)]
Template = Annotated[dict[str, Any], AfterValidator(check_structure)]


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)


class StorageConfiguration(Action):
    bundle_upload_step: Optional[dict[str, Any]] = None
    bundle_execution_step: Optional[dict[str, Any]] = None
    default_result_storage_block_id: Optional[str] = None


class WorkPoolCreate(Action):
    name: NonEmptyishName
    description: Optional[Description] = None
    type: ShortText = "prefect-agent"
    base_job_template: Template = Field(default_factory=dict)
    is_paused: bool = False
    concurrency_limit: Optional[NonNegInt] = None
    storage_configuration: StorageConfiguration = Field(default_factory=StorageConfiguration)


class WorkPoolUpdate(Action):
    description: Optional[Description] = None
    is_paused: Optional[bool] = None
    base_job_template: Optional[Template] = None
    concurrency_limit: Optional[NonNegInt] = None
    storage_configuration: Optional[StorageConfiguration] = None


class WorkQueueCreate(Action):
    name: Name
    description: Optional[Description] = ""
    is_paused: bool = False
    concurrency_limit: Optional[NonNegInt] = None
    priority: Optional[Annotated[int, Field(gt=0, le=MAX_INT)]] = None
    filter: Optional[dict[str, Any]] = None


class WorkQueueUpdate(Action):
    name: Optional[ShortText] = None
    description: Optional[Description] = None
    is_paused: Optional[bool] = None
    concurrency_limit: Optional[NonNegInt] = None
    priority: Optional[Annotated[int, Field(gt=0, le=MAX_INT)]] = None
    last_polled: Optional[datetime] = None
    filter: Optional[dict[str, Any]] = None


class AnyStr(Action):
    any_: Optional[list[str]] = None


class AnyUuid(Action):
    any_: Optional[list[UUID]] = None


class NameFilter(Action):
    any_: Optional[list[str]] = None
    startswith_: Optional[list[str]] = None
    like_: Optional[str] = None


class WorkPoolFilter(Action):
    operator: Literal["and_", "or_"] = "and_"
    id: Optional[AnyUuid] = None
    name: Optional[AnyStr] = None
    type: Optional[AnyStr] = None


class WorkQueueFilter(Action):
    operator: Literal["and_", "or_"] = "and_"
    id: Optional[AnyUuid] = None
    name: Optional[NameFilter] = None


class TimeFilter(Action):
    before_: Optional[datetime] = None
    after_: Optional[datetime] = None
    is_null_: Optional[bool] = None


class StatusFilter(Action):
    any_: Optional[list[str]] = None
    not_any_: Optional[list[str]] = None


class OpAnyNull(Action):
    operator: Literal["and_", "or_"] = "and_"
    any_: Optional[list[str]] = None
    is_null_: Optional[bool] = None


class TagsFilter(Action):
    operator: Literal["and_", "or_"] = "and_"
    all_: Optional[list[str]] = None
    any_: Optional[list[str]] = None
    is_null_: Optional[bool] = None


class WorkerFilter(Action):
    operator: Literal["and_", "or_"] = "and_"
    last_heartbeat_time: Optional[TimeFilter] = None
    status: Optional[StatusFilter] = None


class Paging(Loose):
    limit: Optional[Int] = None
    offset: Optional[NonNegInt] = None


class WorkPoolFilterBody(Paging):
    work_pools: Optional[WorkPoolFilter] = None


class WorkPoolCountBody(Loose):
    work_pools: Optional[WorkPoolFilter] = None


class WorkQueueFilterBody(Paging):
    work_queues: Optional[WorkQueueFilter] = None


class LegacyQueueFilterBody(Paging):
    work_queues: Optional[WorkQueueFilter] = None
    work_pools: Optional[WorkPoolFilter] = None


class WorkerFilterBody(Paging):
    workers: Optional[WorkerFilter] = None


class ScheduledRunsBody(Loose):
    work_queue_names: Optional[list[str]] = None
    scheduled_before: Optional[datetime] = None
    scheduled_after: Optional[datetime] = None
    limit: Optional[Int] = None


class PoolConcurrencyBody(Loose):
    page: Annotated[int, Field(ge=1, le=MAX_INT)] = 1
    limit: Optional[Int] = None
    flow_run_limit: Annotated[int, Field(ge=0, le=200)] = 10


class QueueConcurrencyBody(Loose):
    page: Annotated[int, Field(ge=1, le=MAX_INT)] = 1
    limit: Optional[Int] = None


class LegacyGetRunsBody(Loose):
    scheduled_before: Optional[datetime] = None
    limit: Optional[Int] = None
    agent_id: Optional[str] = None


class FlowCreate(Action):
    name: Name
    tags: list[str] = Field(default_factory=list)
    labels: Optional[dict[str, Any]] = None


class StateDetails(Loose):
    scheduled_time: Optional[datetime] = None


class StateCreate(Action):
    type: Literal["SCHEDULED", "PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "CRASHED", "PAUSED", "CANCELLING"]
    name: Optional[ShortText] = None
    message: Optional[str] = None
    data: Any = None
    state_details: dict[str, Any] = Field(default_factory=dict)
    timestamp: Optional[datetime] = None


class FlowRunCreate(Action):
    state: Optional[StateCreate] = None
    name: Optional[ShortText] = None
    flow_id: str
    flow_version: Optional[str] = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    parent_task_run_id: Optional[str] = None
    infrastructure_document_id: Optional[str] = None
    empirical_policy: Optional[dict[str, Any]] = None
    tags: list[str] = Field(default_factory=list)
    labels: Optional[dict[str, Any]] = None
    idempotency_key: Optional[str] = None
    work_pool_name: Optional[str] = None
    work_queue_name: Optional[str] = None
    job_variables: Optional[dict[str, Any]] = None
    deployment_id: Optional[str] = None


class FlowRunUpdate(Action):
    name: Optional[ShortText] = None
    flow_version: Optional[str] = None
    parameters: Optional[dict[str, Any]] = None
    empirical_policy: Optional[dict[str, Any]] = None
    tags: Optional[list[str]] = None
    labels: Optional[dict[str, Any]] = None
    infrastructure_pid: Optional[str] = None
    job_variables: Optional[dict[str, Any]] = None


class SetStateBody(Loose):
    state: StateCreate
    force: bool = False


class DeploymentCreate(Action):
    name: Name
    flow_id: str
    paused: bool = False
    schedules: list[dict[str, Any]] = Field(default_factory=list)
    concurrency_limit: Optional[Annotated[int, Field(gt=0, le=MAX_INT)]] = None
    concurrency_options: Optional[dict[str, Any]] = None
    global_concurrency_limit_id: Optional[str] = None
    enforce_parameter_schema: bool = True
    parameter_openapi_schema: Optional[dict[str, Any]] = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    labels: Optional[dict[str, Any]] = None
    pull_steps: Optional[list[dict[str, Any]]] = None
    work_queue_name: Optional[str] = None
    work_pool_name: Optional[str] = None
    storage_document_id: Optional[str] = None
    infrastructure_document_id: Optional[str] = None
    description: Optional[Description] = None
    path: Optional[str] = None
    version: Optional[str] = None
    entrypoint: Optional[str] = None
    job_variables: dict[str, Any] = Field(default_factory=dict)
    version_info: Optional[dict[str, Any]] = None


class DeploymentUpdate(Action):
    version: Optional[str] = None
    description: Optional[Description] = None
    paused: Optional[bool] = None
    schedules: Optional[list[dict[str, Any]]] = None
    concurrency_limit: Optional[Annotated[int, Field(gt=0, le=MAX_INT)]] = None
    concurrency_options: Optional[dict[str, Any]] = None
    global_concurrency_limit_id: Optional[str] = None
    parameters: Optional[dict[str, Any]] = None
    parameter_openapi_schema: Optional[dict[str, Any]] = None
    tags: Optional[list[str]] = None
    work_queue_name: Optional[str] = None
    work_pool_name: Optional[str] = None
    path: Optional[str] = None
    job_variables: Optional[dict[str, Any]] = None
    pull_steps: Optional[list[dict[str, Any]]] = None
    entrypoint: Optional[str] = None
    storage_document_id: Optional[str] = None
    infrastructure_document_id: Optional[str] = None
    enforce_parameter_schema: Optional[bool] = None
    version_info: Optional[dict[str, Any]] = None


class DeploymentFlowRunCreate(Action):
    state: Optional[StateCreate] = None
    name: Optional[ShortText] = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    enforce_parameter_schema: Optional[bool] = None
    context: dict[str, Any] = Field(default_factory=dict)
    infrastructure_document_id: Optional[str] = None
    empirical_policy: Optional[dict[str, Any]] = None
    tags: list[str] = Field(default_factory=list)
    idempotency_key: Optional[str] = None
    labels: Optional[dict[str, Any]] = None
    parent_task_run_id: Optional[str] = None
    work_queue_name: Optional[str] = None
    job_variables: Optional[dict[str, Any]] = None


class DeploymentFilterBody(Paging):
    flows: Optional[dict[str, Any]] = None
    flow_runs: Optional[dict[str, Any]] = None
    deployments: Optional[dict[str, Any]] = None
    work_pools: Optional[WorkPoolFilter] = None
    work_pool_queues: Optional[WorkQueueFilter] = None
    sort: Optional[str] = None


class FlowRunStateFilter(Action):
    operator: Literal["and_", "or_"] = "and_"
    type: Optional[StatusFilter] = None
    name: Optional[StatusFilter] = None


class FlowRunFilter(Action):
    operator: Literal["and_", "or_"] = "and_"
    id: Optional[StatusFilter] = None
    name: Optional[NameFilter] = None
    tags: Optional[TagsFilter] = None
    deployment_id: Optional[OpAnyNull] = None
    work_queue_name: Optional[OpAnyNull] = None
    state: Optional[FlowRunStateFilter] = None
    flow_version: Optional[dict[str, Any]] = None
    start_time: Optional[TimeFilter] = None
    end_time: Optional[TimeFilter] = None
    expected_start_time: Optional[TimeFilter] = None
    next_scheduled_start_time: Optional[TimeFilter] = None
    parent_flow_run_id: Optional[dict[str, Any]] = None
    parent_task_run_id: Optional[dict[str, Any]] = None
    idempotency_key: Optional[StatusFilter] = None
    created_by: Optional[dict[str, Any]] = None


class FlowFilterLite(Loose):
    id: Optional[StatusFilter] = None
    name: Optional[StatusFilter] = None


class DeploymentFilterLite(Loose):
    id: Optional[StatusFilter] = None
    name: Optional[StatusFilter] = None


FlowRunSort = Literal[
    "ID_DESC",
    "START_TIME_ASC",
    "START_TIME_DESC",
    "EXPECTED_START_TIME_ASC",
    "EXPECTED_START_TIME_DESC",
    "NAME_ASC",
    "NAME_DESC",
    "NEXT_SCHEDULED_START_TIME_ASC",
    "END_TIME_DESC",
]


class FlowRunFilterBody(Paging):
    sort: Optional[FlowRunSort] = "ID_DESC"
    flows: Optional[FlowFilterLite] = None
    flow_runs: Optional[FlowRunFilter] = None
    task_runs: Optional[dict[str, Any]] = None
    deployments: Optional[DeploymentFilterLite] = None
    work_pools: Optional[WorkPoolFilter] = None
    work_pool_queues: Optional[WorkQueueFilter] = None


class LogCreate(Action):
    name: str
    level: Int
    message: str
    timestamp: datetime
    flow_run_id: Optional[UUID] = None
    task_run_id: Optional[UUID] = None
    worker_id: Optional[UUID] = None


class LogLevelFilter(Loose):
    ge_: Optional[Int] = None
    le_: Optional[Int] = None


class LogTimeFilter(Loose):
    before_: Optional[datetime] = None
    after_: Optional[datetime] = None


class LogFilter(Loose):
    flow_run_id: Optional[AnyUuid] = None
    task_run_id: Optional[AnyUuid] = None
    level: Optional[LogLevelFilter] = None
    timestamp: Optional[LogTimeFilter] = None


class LogFilterBody(Paging):
    logs: Optional[LogFilter] = None
    sort: Optional[Literal["TIMESTAMP_ASC", "TIMESTAMP_DESC", "LEVEL_ASC", "LEVEL_DESC"]] = "TIMESTAMP_ASC"
