"""Config files -> desired state (YAML, HCL, overlays), and live state -> config (``import``).

Public API: :func:`load`, :func:`load_documents`, :func:`export_config`.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("load", "load_documents", "build_state", "expand_paths"):
        from reconciler.config import load as _load

        return getattr(_load, name)
    if name == "export_config":
        from reconciler.config.export import export_config

        return export_config
    raise AttributeError(name)
