"""The Terraform provider ``poolform/prefect`` (plugin protocol 6) on the reconciler's core.

Layout: ``main`` (entry point, handshake checks), ``server`` (the start, the
services, go-plugin controller), ``transport`` (gRPC over HTTP/2 and mutual TLS,
without grpcio), ``servicer`` (the Provider service), ``codec`` (msgpack values, unknowns, paths),
``schema`` (attributes of the provider, resources and data sources, and the
``terraform providers schema -json`` document), ``resources`` / ``datasources``
(what each type does), ``config`` (provider configuration to a client),
``install`` (the offline filesystem mirror), ``checkcache`` (template checks kept between
starts). The HTTP client, template checks
and JSON equality come from ``reconciler.api``, ``reconciler.templates`` and
``reconciler.plan.normalize``; nothing here re-implements them.
"""
