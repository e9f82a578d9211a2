# Take over pools and queues that already exist (created by `prefect work-pool create`,
# the UI, or poolform) with import blocks. The first plan shows only "will be imported"
# and no changes when the config matches the server, base_job_template included;
# `terraform import prefect_work_pool.NAME <pool>` and
# `terraform import prefect_work_queue.NAME '<pool>,<queue>'` do the same from the CLI.
terraform {
  required_providers {
    prefect = { source = "poolform/prefect" }
  }
}

provider "prefect" {}

variable "pool" {
  description = "Name of the existing process pool to import."
  type        = string
  default     = "legacy-process"
}

import {
  to = prefect_work_pool.legacy
  id = var.pool
}

import {
  to = prefect_work_queue.default
  id = "${var.pool},default"
}

import {
  to = prefect_work_queue.reports
  id = "${var.pool},reports"
}

# base_job_template is omitted: the server's template stays as it is (unmanaged, no diff).
# Add base_job_template = file("template.json") to manage it from here on.
resource "prefect_work_pool" "legacy" {
  name = var.pool
  type = "process"
}

resource "prefect_work_queue" "default" {
  work_pool_name = prefect_work_pool.legacy.name
  name           = "default"
  # description omitted: "The work pool's default queue.", as the server writes it.
}

# priority omitted: the server's value is kept.
resource "prefect_work_queue" "reports" {
  work_pool_name = prefect_work_pool.legacy.name
  name           = "reports"
}
