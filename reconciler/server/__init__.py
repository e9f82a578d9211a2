"""The poolform reference server: a Prefect 3.9.1-compatible API for work pools, queues,
workers, flows, deployments and scheduled flow runs, on SQLite (or PostgreSQL).

Entry points: ``app.create_app(store, clock=None, auth_string=None)``,
``store.open_store(url_or_path)``, ``runner.serve_in_thread(...)``, ``clock.ManualClock``.
Nothing here imports the rest of the package; nothing outside (tests and the ``server`` CLI
aside) imports this.

Deliberate differences from Prefect 3.9.1 (each is pinned by a test):

* Explicit ``null`` on a non-nullable field (pool ``is_paused``/``base_job_template``/
  ``storage_configuration``, queue ``priority``/``is_paused``/``name``/``description``) is a
  422 naming the field, not the 409 "Data integrity conflict" (or 500) Prefect gives.
* Pool PATCH runs all four template checks (structure, placeholders, ``variables`` a valid JSON
  Schema, defaults valid against it); 3.9.1 runs only the first two on PATCH.
* Every captured 500 is a 4xx with a message: a non-string pool name, ``variables`` that is not
  an object, ``variables.properties`` that is a list, deleting the default queue through the
  pool route (409, as the legacy id route), a queue list after a rename to ``x/y`` (200).
* Conflicts name what conflicts (duplicate queue on rename, the default queue on delete)
  instead of "Data integrity conflict".
* Legacy ``POST /work_queues/filter`` applies a ``work_pools`` filter; 3.9.1 ignores it.
* "Late" is computed when a run is read (SCHEDULED, more than 15 s past its time), so a run
  created overdue reads "Late" at once; the state type stays SCHEDULED and polls still hand
  it out.  Statuses (pool READY/NOT_READY, queue READY after a poll within 60 s, worker
  ONLINE/OFFLINE after 3 x interval, deployment READY) are likewise computed at read time.
* Claims are checked against limits: SCHEDULED -> PENDING/RUNNING is ABORTed when the pool or
  queue is paused or full (see ``orchestration.decide`` and ``scheduling.claim_refusal``); a
  paused run resuming into a full pool or queue is told to WAIT; a run cannot be created
  PENDING or RUNNING in a full pool or queue (409). ``force`` bypasses these, as in Prefect.
* Leases (``leases``): a run PENDING longer than ``--pending-timeout`` under a worker that
  stopped heartbeating returns to SCHEDULED with a message saying why; the first worker's late
  RUNNING is then ABORTed, as is a RUNNING proposal from a worker other than the claimant
  (workers are named by the ``X-Prefect-Worker-Name`` header Prefect 3.9.1 sends).
* ``get_scheduled_flow_runs`` returns the core FlowRun with its ``state`` filled in, as the
  3.9.1 capture shows (prefect-api.md §4 says null).
* ``/api/admin/version`` answers "3.9.1" (the Prefect client requires the same major version);
  ``/api/version`` answers the API version "0.8.4".
* The registry view serves the 3.9.1 offline registry, with ``prefect.process`` replaced by the
  template the 3.9.1 process worker generates (what ``prefect work-pool create`` sends).
* Pool occupancy (``active_slots``, pool limits) counts PENDING + RUNNING runs in all of the
  pool's queues, paused or not.
* Bounded requests (the ``MAX_*`` constants below): bodies over ``--max-body-size`` are 413;
  ``NaN``/``Infinity``, lone surrogates and nesting deeper than ``MAX_DEPTH`` are 422 in Prefect's
  malformed-JSON shape (3.9.1 reads bodies with plain ``json.loads``, which lets them through);
  names and descriptions have maximum lengths (3.9.1 has none).
"""

API_VERSION = "0.8.4"
"""What ``/api/version`` answers: the Prefect REST API schema version the 3.9.1 client speaks."""

SERVER_VERSION = "3.9.1"
"""What ``/api/admin/version`` answers: the Prefect release whose contract the server follows."""

# Limits on what one request may carry (docs/architecture.md, "Limits"); each is a 4xx, never a 500.

MAX_BODY_BYTES = 10 * 1024 * 1024
"""Default request body limit (``poolform server start --max-body-size``): larger bodies get 413
before they are read whole.  Prefect clients send log batches of up to 4 MB."""

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects in a request body (the body itself is level 1): 422 beyond."""

MAX_NAME_LENGTH = 1024
"""Longest name (work pool, queue, worker, flow, deployment, flow run, state) and pool type, in characters: 422 beyond.
Prefect 3.9.1 sets no limit on these (a 300-character pool name is in its captures), so the limit is generous."""

MAX_DESCRIPTION_LENGTH = 10_000
"""Longest pool, queue or deployment description, in characters: 422 beyond (Prefect 3.9.1 sets none)."""

VALIDATION_THREADS = 2
"""CPU-heavy template checks running at once in worker threads, per event loop (more wait their turn)."""
