# The kubernetes example (../kubernetes/pools.yaml) written for the Terraform provider.
# `poolform plan -f examples/hcl` reads it without terraform; `terraform plan` reads it too.
terraform {
  required_providers {
    prefect = {
      source = "prefecthq/prefect"
    }
  }
}

provider "prefect" {}

variable "environment" {
  type        = string
  default     = "prod"
  description = "Suffix of the pool names (pass --var environment=staging, or TF_VAR_environment)."
}

variable "pool_limit" {
  type    = number
  default = 20
}

locals {
  k8s_template = jsondecode(file("${path.module}/../kubernetes/templates/k8s.json"))

  batch_template = merge(local.k8s_template, {
    variables = merge(local.k8s_template.variables, {
      properties = merge(local.k8s_template.variables.properties, {
        namespace = merge(local.k8s_template.variables.properties.namespace, { default = "batch" })
        image     = merge(local.k8s_template.variables.properties.image, { default = "ghcr.io/acme/flows-batch:2026.11" })
      })
    })
  })

  queues = {
    critical = { priority = 1, concurrency_limit = 1 }
    high     = { priority = 5, concurrency_limit = 3 }
  }
}

resource "prefect_work_pool" "k8s" {
  name              = "tf-k8s-${var.environment}"
  type              = "kubernetes"
  description       = "Production flows on the main cluster (Terraform)"
  paused            = false
  concurrency_limit = var.pool_limit
  base_job_template = jsonencode(local.k8s_template)
}

resource "prefect_work_queue" "critical" {
  work_pool_name    = prefect_work_pool.k8s.name
  name              = "critical"
  priority          = local.queues.critical.priority
  concurrency_limit = local.queues.critical.concurrency_limit
  description       = "Customer-facing SLAs"
}

resource "prefect_work_queue" "high" {
  work_pool_name    = prefect_work_pool.k8s.name
  name              = "high"
  priority          = local.queues.high.priority
  concurrency_limit = local.queues.high.concurrency_limit
}

resource "prefect_work_queue" "low" {
  work_pool_name = prefect_work_pool.k8s.name
  name           = "low"
  priority       = 10
  is_paused      = false
  description    = "bulk"
}

resource "prefect_work_pool" "batch" {
  name              = "tf-k8s-batch-${var.environment}"
  type              = "kubernetes"
  description       = "Batch and backfill jobs, isolated namespace (Terraform)"
  concurrency_limit = floor(var.pool_limit / 2)
  base_job_template = jsonencode(local.batch_template)
}

resource "prefect_work_queue" "backfill" {
  work_pool_name    = prefect_work_pool.batch.name
  name              = "backfill"
  priority          = 2
  concurrency_limit = 4
}
