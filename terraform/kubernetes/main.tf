# Kubernetes pools sharing one base job template (mirrors examples/kubernetes/pools.yaml).
# k8s-prod uses templates/k8s.json as written; k8s-batch overrides the namespace, image
# and memory defaults. Reformatting the JSON file never shows a diff: the provider
# compares templates as JSON.
terraform {
  required_providers {
    prefect = { source = "poolform/prefect" }
  }
}

provider "prefect" {}

locals {
  k8s = jsondecode(file("${path.module}/templates/k8s.json"))
  batch_defaults = {
    namespace    = "batch"
    image        = "ghcr.io/acme/flows-batch:2026.11"
    memory_limit = "8Gi"
  }
  k8s_batch = merge(local.k8s, {
    variables = merge(local.k8s.variables, {
      properties = merge(local.k8s.variables.properties, {
        for name, value in local.batch_defaults :
        name => merge(local.k8s.variables.properties[name], { default = value })
      })
    })
  })
}

resource "prefect_work_pool" "k8s_prod" {
  name              = "k8s-prod"
  type              = "kubernetes"
  description       = "Production flows on the main cluster"
  paused            = false
  concurrency_limit = 20
  base_job_template = file("${path.module}/templates/k8s.json")
}

resource "prefect_work_queue" "critical" {
  work_pool_name    = prefect_work_pool.k8s_prod.name
  name              = "critical"
  priority          = 1
  concurrency_limit = 1
  description       = "Customer-facing SLAs"
}

resource "prefect_work_queue" "high" {
  work_pool_name    = prefect_work_pool.k8s_prod.name
  name              = "high"
  priority          = 5
  concurrency_limit = 3
}

resource "prefect_work_queue" "low" {
  work_pool_name = prefect_work_pool.k8s_prod.name
  name           = "low"
  priority       = 10
  is_paused      = false
  description    = "bulk"
}

resource "prefect_work_pool" "k8s_batch" {
  name              = "k8s-batch"
  type              = "kubernetes"
  description       = "Batch and backfill jobs, isolated namespace"
  concurrency_limit = 10
  base_job_template = jsonencode(local.k8s_batch)
}

resource "prefect_work_queue" "backfill" {
  work_pool_name    = prefect_work_pool.k8s_batch.name
  name              = "backfill"
  priority          = 2
  concurrency_limit = 4
}
