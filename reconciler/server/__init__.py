"""The poolform reference server: a Prefect-compatible API for work pools, queues,
workers and scheduled runs on SQLite (or PostgreSQL).

Public entry points: ``reconciler.server.app.create_app``,
``reconciler.server.store.open_store``, ``reconciler.server.runner.serve_in_thread``,
``reconciler.server.clock.ManualClock``.  Nothing here imports the rest of the
package, and nothing outside (tests and the ``server`` CLI aside) imports this.
"""
