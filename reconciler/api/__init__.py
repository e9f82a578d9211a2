"""Talking to a Prefect-compatible API: the HTTP client (``client``) and ``observe``.

Nothing here decides what to change; that is ``reconciler.plan``.
"""

import sys


def lean_imports() -> None:
    """Keep httpx's command-line client out of this process: ``import httpx`` loads ``httpx._main``
    (with rich and pygments) when click, rich and pygments are installed, as poolform installs them:
    about 45-70 ms of every start that talks to a server (the CLI's commands, the provider's starts)
    for a ``main()`` nothing here calls. httpx falls back to a stub ``main`` when that import fails,
    as it does when those libraries are absent. Call it before httpx is first imported."""
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
