# A process pool (mirrors examples/process/pools.yaml): workers run flows as local
# subprocesses on the machines that poll it. The template is Prefect's default process
# template with a project-wide working directory and stream_output off; queues split
# urgent work from nightly batches. Connection: PREFECT_API_URL (or endpoint below).
terraform {
  required_providers {
    prefect = { source = "poolform/prefect" }
  }
}

provider "prefect" {
  # endpoint = "http://127.0.0.1:4200/api"   # default: PREFECT_API_URL
}

resource "prefect_work_pool" "etl_process" {
  name              = "etl-process"
  type              = "process"
  description       = "Nightly ETL on the batch hosts"
  concurrency_limit = 8
  base_job_template = jsonencode({
    job_configuration = {
      command       = "{{ command }}"
      env           = "{{ env }}"
      labels        = "{{ labels }}"
      name          = "{{ name }}"
      stream_output = "{{ stream_output }}"
      working_dir   = "{{ working_dir }}"
    }
    variables = {
      type = "object"
      properties = {
        name = {
          anyOf       = [{ type = "string" }, { type = "null" }]
          default     = null
          description = "Name given to infrastructure created by a worker."
          title       = "Name"
        }
        env = {
          type                 = "object"
          additionalProperties = { anyOf = [{ type = "string" }, { type = "null" }] }
          default              = { PYTHONUNBUFFERED = "1" }
          description          = "Environment variables to set when starting a flow run."
          title                = "Environment Variables"
        }
        labels = {
          type                 = "object"
          additionalProperties = { type = "string" }
          description          = "Labels applied to infrastructure created by a worker."
          title                = "Labels"
        }
        command = {
          anyOf       = [{ type = "string" }, { type = "null" }]
          default     = null
          description = "The command to use when starting a flow run; blank lets the worker choose."
          title       = "Command"
        }
        stream_output = {
          type        = "boolean"
          default     = false
          description = "Stream flow run output to the worker's standard output."
          title       = "Stream Output"
        }
        working_dir = {
          anyOf       = [{ type = "string", format = "path" }, { type = "null" }]
          default     = "/srv/etl"
          description = "Directory the flow run process starts in."
          title       = "Working Directory"
        }
      }
    }
  })
}

# The pool's own default queue: adopted (updated), never created; destroy resets it.
resource "prefect_work_queue" "default" {
  work_pool_name = prefect_work_pool.etl_process.name
  name           = "default"
  description    = "Ad-hoc runs"
}

resource "prefect_work_queue" "urgent" {
  work_pool_name    = prefect_work_pool.etl_process.name
  name              = "urgent"
  priority          = 1
  concurrency_limit = 2
  description       = "Re-runs and hotfix backfills"
}

resource "prefect_work_queue" "nightly" {
  work_pool_name = prefect_work_pool.etl_process.name
  name           = "nightly"
  priority       = 5
  description    = "Scheduled nightly loads"
}
