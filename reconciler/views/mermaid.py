"""A pool's queue waterfall, before -> after, as a mermaid flowchart (from the plan's ``waterfalls``).

Each side is a subgraph listing the queues top to bottom in the order a worker serves them
(priority 1 first), each node saying its priority, its limit and whether it is paused; the pool's
own limit and pause are in the subgraph's title. Queues the plan creates, deletes or changes are
styled (classDef ``added``, ``removed``, ``changed``). Every name reaches the diagram only as
mermaid entity codes for anything but letters, digits, space, ``_``, ``.`` and ``-``, so no
name can end a label, open a link or inject a directive. Renders only.
"""

from __future__ import annotations

from typing import Any

_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.-")
_STYLES = ("classDef added fill:#e6ffec,stroke:#1a7f37",
           "classDef removed fill:#ffebe9,stroke:#cf222e,stroke-dasharray:4 2",
           "classDef changed fill:#fff8c5,stroke:#9a6700")


def label(text: Any) -> str:
    """``text`` as the inside of a quoted mermaid label: unsafe characters as ``#<code>;`` entities."""
    return "".join(ch if ch in _SAFE else f"#{ord(ch)};" for ch in str(text))


def _limit(value: Any) -> str:
    return "no limit" if value is None else f"limit {value}"


def _queue_label(queue: dict[str, Any]) -> str:
    parts = [label(queue.get("name", "")),
             "priority " + ("?" if queue.get("priority") is None else str(queue["priority"])),
             _limit(queue.get("concurrency_limit"))]
    if queue.get("paused"):
        parts.append("PAUSED")
    if queue.get("unmanaged"):
        parts.append("not managed")
    return "<br/>".join(parts)


def _title(name: str, side: dict[str, Any] | None) -> str:
    if side is None:
        return f"{name} (absent)"
    text = f"{name} ({_limit(side.get('concurrency_limit'))}"
    return text + (", PAUSED)" if side.get("paused") else ")")


def _key(queue: dict[str, Any]) -> tuple[Any, ...]:
    return (queue.get("priority"), queue.get("concurrency_limit"), bool(queue.get("paused")))


def render_waterfall(pool: str, waterfall: dict[str, Any]) -> str:
    """The mermaid source (without the fence) for one pool's ``waterfalls`` entry."""
    before, after = waterfall.get("before"), waterfall.get("after")
    old = {q["name"]: q for q in (before or {}).get("queues", [])}
    new = {q["name"]: q for q in (after or {}).get("queues", [])}
    lines = ["flowchart LR"]
    classes: dict[str, list[str]] = {"added": [], "removed": [], "changed": []}
    for prefix, side, heading in (("b", before, "before"), ("a", after, "after")):
        lines.append(f'  subgraph {prefix}["{heading}: {_title(label(pool), side)}"]')
        lines.append("    direction TB")
        queues = (side or {}).get("queues", [])
        if not queues:
            lines.append(f'    {prefix}_none["no queues"]')
        ids = []
        for index, queue in enumerate(queues):
            node = f"{prefix}{index}"
            ids.append(node)
            lines.append(f'    {node}["{_queue_label(queue)}"]')
            name = queue["name"]
            if prefix == "b" and name not in new:
                classes["removed"].append(node)
            elif prefix == "a" and name not in old:
                classes["added"].append(node)
            elif prefix == "a" and _key(old[name]) != _key(queue):
                classes["changed"].append(node)
        if len(ids) > 1:
            lines.append("    " + " --> ".join(ids))
        lines.append("  end")
    lines.append("  b ==> a")
    lines.extend("  " + style for style in _STYLES)
    for name, nodes in classes.items():
        if nodes:
            lines.append(f"  class {','.join(nodes)} {name}")
    return "\n".join(lines)


__all__ = ["label", "render_waterfall"]
