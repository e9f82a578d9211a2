"""Live state -> config text (``poolform import``).

Owns :func:`export_config`: every field of the chosen pools and their queues
written explicitly (queue priorities included, templates inline), so that
loading the text and planning against the same server gives no changes. The
YAML emitter here quotes every string that a YAML 1.2 (or 1.1) reader could
take for anything but a string. No network: the caller observes the server.

The modeline names the schema by its stable ``$id``
(``https://poolform.dev/schema/config.schema.json``), which is never fetched:
point an editor at ``provider-schema/config.schema.json`` for that id (e.g. the
``yaml.schemas`` setting of yaml-language-server), or edit the modeline to the
relative path, as the files under ``examples/`` do.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Sequence

from reconciler.model.document import SCHEMA_ID
from reconciler.model.state import ObservedPool, ObservedState

MODELINE = f"# yaml-language-server: $schema={SCHEMA_ID}"

_SAFE_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./ -]*$")
_AMBIGUOUS = {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"}


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    text = str(value)
    if (_SAFE_PLAIN.match(text) and text.lower() not in _AMBIGUOUS and not text.endswith((" ", ":"))
            and ": " not in text and " #" not in text):
        return text
    return _NOT_YAML_PRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False))


_NOT_YAML_PRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")
"""What json.dumps leaves raw but a YAML reader refuses (non-printable) or folds (NEL, LS, PS line breaks)."""


def _emit(value: Any, indent: int, out: list[str]) -> None:
    pad = "  " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            key_text = _scalar(str(key))
            if isinstance(item, dict) and item:
                out.append(f"{pad}{key_text}:")
                _emit(item, indent + 1, out)
            elif isinstance(item, list) and item:
                out.append(f"{pad}{key_text}:")
                _emit(item, indent + 1, out)
            else:
                out.append(f"{pad}{key_text}: {_inline(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)) and item:
                nested: list[str] = []
                _emit(item, indent + 1, nested)
                first = nested[0][len(pad) + 2:]
                out.append(f"{pad}- {first}")
                out.extend(nested[1:])
            else:
                out.append(f"{pad}- {_inline(item)}")
    else:
        out.append(f"{pad}{_inline(value)}")


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}" if not value else "{" + ", ".join(f"{_scalar(str(k))}: {_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    return _scalar(value)


def pool_document(pool: ObservedPool) -> dict[str, Any]:
    """One pool as a config mapping, every field explicit."""
    queues = sorted(pool.queues.values(), key=lambda q: (q.priority, q.name))
    return {
        "type": pool.type,
        "description": pool.description,
        "paused": pool.paused,
        "concurrency_limit": pool.concurrency_limit,
        "base_job_template": pool.base_job_template or {},
        "queues": {
            queue.name: {
                "priority": queue.priority,
                "concurrency_limit": queue.concurrency_limit,
                "paused": queue.paused,
                "description": queue.description,
            }
            for queue in queues
        },
    }


def export_config(observed: ObservedState, *, pools: Sequence[str] | None = None) -> str:
    """Live pools (all, or the named ones in that order), their queues and templates as YAML config."""
    names = list(pools) if pools is not None else sorted(observed.pools)
    lines = [MODELINE]
    source = f" from {observed.api_url}" if observed.api_url else ""
    lines.append(f"# Written by poolform import{source}. Planning this file against the same server shows no changes.")
    skipped = [n for n in names if n in observed.pools and n.lower().startswith("prefect")]
    for name in skipped:
        lines.append(f"# Skipped work pool {name!r}: names starting with 'prefect' are reserved by the server.")
    lines.append("version: 1")
    body = {name: pool_document(observed.pools[name]) for name in names
            if name in observed.pools and name not in skipped}
    if not body:
        lines.append("work_pools: {}")
    else:
        lines.append("work_pools:")
        _emit(body, 1, lines)
    return "\n".join(lines) + "\n"
