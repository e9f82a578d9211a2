"""Talking to a Prefect-compatible API: the HTTP client (``client``) and ``observe``.

Nothing here decides what to change; that is ``reconciler.plan``.
"""
