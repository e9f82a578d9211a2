"""The human plan, in terraform's style, rendered from the plan JSON dict only.

Per change: ``# <address> will be created`` (updated in-place / must be replaced /
will be destroyed), then the object with ``+ ~ -`` markers per attribute; templates
appear as a nested diff of the changed paths only. Then the due runs the changes hold
back (the plan's ``runs`` notes), side effects, unmanaged
objects, warnings and the line ``Plan: N to add, N to change, N to destroy.``
Colour (ANSI) only when the caller asks for it.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.views.diagnostics import BOLD, GREEN, RED, YELLOW, paint, printable, render_diagnostic, summary_line

_MISSING = object()

_HEADERS = {
    "create": "will be created",
    "update": "will be updated in-place",
    "replace": "must be replaced",
    "delete": "will be destroyed",
}
_SYMBOLS = {"create": "+", "update": "~", "replace": "-/+", "delete": "-"}
_LEGEND = {
    "create": "  + create",
    "update": "  ~ update in-place",
    "replace": "-/+ destroy and then create replacement",
    "delete": "  - destroy",
}
_COLORS = {"+": GREEN, "~": YELLOW, "-": RED}


def action_of(change: dict[str, Any]) -> str:
    actions = change["change"]["actions"]
    if actions == ["delete", "create"]:
        return "replace"
    return actions[0]


def _paint_marker(symbol: str, color: bool) -> str:
    if symbol == "-/+":
        return paint("-", RED, color) + "/" + paint("+", GREEN, color)
    return paint(symbol, _COLORS.get(symbol, ""), color) if symbol.strip() else symbol


_MARKERS = {(symbol, color): _paint_marker(symbol, color) for symbol in ("+", "~", "-", "-/+") for color in (False, True)}
"""Every line of a change starts with one of these (computed once: a plan of 6,000 changes draws ~100,000 lines)."""


def _marker(symbol: str, color: bool) -> str:
    found = _MARKERS.get((symbol, color))
    return found if found is not None else _paint_marker(symbol, color)


_encode_string = json.encoder.encode_basestring  # the C function json.dumps(str, ensure_ascii=False) calls
_LITERALS = {None: "null", True: "true", False: "false"}


def _scalar(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False)``, without building an encoder for a string, an
    integer, a boolean or null (the values of almost every line)."""
    kind = type(value)
    if kind is str:
        return _encode_string(value)
    if kind is int:
        return int.__repr__(value)
    if value is None or kind is bool:
        return _LITERALS[value]
    return json.dumps(value, ensure_ascii=False)


def _get(value: Any, path: list[Any]) -> Any:
    for part in path:
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return value


def _label(key: Any) -> str:
    return f"[{key}]" if isinstance(key, int) else str(key)


class _Writer:
    def __init__(self, color: bool) -> None:
        self.color = color
        self.lines: list[str] = []

    def attr(self, indent: int, symbol: str, key: Any, text: str, width: int = 0) -> None:
        label = _label(key).ljust(width)
        self.lines.append(f"{' ' * indent}{_marker(symbol, self.color)} {label} = {text}")

    def value(self, indent: int, symbol: str, key: Any, value: Any, width: int = 0, suffix: str = "") -> None:
        """``key = value`` where a mapping or list is drawn as a block with ``symbol`` on every line."""
        if isinstance(value, dict) and value:
            self.attr(indent, symbol, key, "{", width)
            inner = max(len(_label(k)) for k in value)
            for k, v in value.items():
                self.value(indent + 4, symbol, k, v, inner)
            self.lines.append(" " * (indent + 2) + "}")
        elif isinstance(value, list) and value:
            self.attr(indent, symbol, key, "[", width)
            for index, item in enumerate(value):
                self.value(indent + 4, symbol, index, item, len(_label(len(value) - 1)))
            self.lines.append(" " * (indent + 2) + "]")
        else:
            self.attr(indent, symbol, key, _scalar(value) + suffix, width)

    def tree(self, indent: int, key: Any, before: Any, after: Any, prefix: list[Any], subtree: dict[Any, Any], width: int) -> None:
        """A nested diff of only the paths in ``subtree`` (a trie of changed paths)."""
        old = _get(before, prefix)
        new = _get(after, prefix)
        if not subtree:
            if old is _MISSING:
                self.value(indent, "+", key, new, width)
            elif new is _MISSING:
                self.value(indent, "-", key, old, width, " -> null")
            else:
                self.attr(indent, "~", key, f"{_scalar(old)} -> {_scalar(new)}", width)
            return
        opener = "[" if isinstance(new, list) else "{"
        self.attr(indent, "~", key, opener, width)
        inner = max(len(_label(k)) for k in subtree)
        for child in subtree:
            self.tree(indent + 4, child, before, after, prefix + [child], subtree[child], inner)
        self.lines.append(" " * (indent + 2) + ("]" if opener == "[" else "}"))


def _trie(paths: list[list[Any]]) -> dict[Any, Any]:
    root: dict[Any, Any] = {}
    for path in paths:
        node = root
        for part in path:
            node = node.setdefault(part, {})
    return root


def render_change(change: dict[str, Any], *, color: bool = False) -> str:
    """One change as a terraform-style block (no trailing newline)."""
    action = action_of(change)
    symbol = _SYMBOLS[action]
    body = change["change"]
    before = body.get("before") or {}
    after = body.get("after") or {}
    out = _Writer(color)
    header = f"  # {printable(change['address'])} {_HEADERS[action]}"
    out.lines.append(paint(header, BOLD, color))
    if change.get("reason_detail") and action in ("replace", "delete"):
        out.lines.append(f"  # ({change['reason_detail']})")
    kind = change["type"]
    label = change["name"] if kind == "work_pool" else f"{change['pool']}.{change['name']}"
    lead = " " * (3 - len(symbol)) + _marker(symbol, color)
    out.lines.append(f"{lead} {kind} {_scalar(label)} {{")
    if action == "create":
        keys = [k for k in after if k != "pool" and after[k] is not None]
        width = max((len(k) for k in keys), default=0)
        for key in keys:
            out.value(6, "+", key, after[key], width)
    elif action == "delete":
        keys = [k for k in before if k != "pool" and before[k] is not None]
        width = max((len(k) for k in keys), default=0)
        for key in keys:
            out.value(6, "-", key, before[key], width, " -> null")
    else:
        trie = _trie(body.get("changed_paths") or [])
        keys = [k for k in after if k != "pool" and (k in trie or k == "name")]
        width = max((len(k) for k in keys), default=0)
        hidden = 0
        for key in after:
            if key == "pool":
                continue
            if key in trie:
                if trie[key]:
                    out.tree(6, key, before, after, [key], trie[key], width)
                else:
                    old = before.get(key, _MISSING)
                    text = f"{_scalar(old) if old is not _MISSING else 'null'} -> {_scalar(after[key])}"
                    if key == "type" and action == "replace":
                        text += paint(" # forces replacement", RED, color)
                    out.attr(6, "~", key, text, width)
            elif key == "name":
                out.attr(6, " ", key, _scalar(after[key]), width)
            else:
                hidden += 1
        if hidden:
            noun = "attribute" if hidden == 1 else "attributes"
            out.lines.append(f"        # ({hidden} unchanged {noun} hidden)")
    out.lines.append("    }")
    return "\n".join(out.lines)


def visible_changes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in plan.get("resource_changes", []) if action_of(c) != "no-op"]


def plan_line(plan: dict[str, Any]) -> str:
    s = plan.get("summary") or {}
    return f"Plan: {s.get('add', 0)} to add, {s.get('change', 0)} to change, {s.get('destroy', 0)} to destroy."


def side_effect_lines(plan: dict[str, Any]) -> list[str]:
    lines = []
    for effect in plan.get("side_effects", []):
        field = ".".join(str(p) for p in effect.get("path", []))
        lines.append(
            f"  # {printable(effect['address'])} {field} {_scalar(effect.get('before'))} -> {_scalar(effect.get('after'))}"
            + (" (moved by the server's priority bump)" if effect.get("path") == ["priority"] else "")
        )
    return lines


def _limit(value: Any) -> str:
    return "none" if value is None else str(value)


def run_note_text(plan: dict[str, Any], note: dict[str, Any]) -> str:
    """What one ``runs`` note says, after its address: the count and what happens to those runs
    (numbers and fixed words only, so each view writes the address its own way)."""
    count = note.get("due_runs", 0)
    runs = f"{count} due run{'s' if count != 1 else ''}"
    they, them = ("it", "it") if count == 1 else ("they", "them")
    change = next((c for c in plan.get("resource_changes", []) if c.get("address") == note.get("address")), None) or {}
    what = "queue" if change.get("type") == "work_queue" else "pool"
    effect = note.get("effect")
    if effect == "pause":
        return (f"{runs} will wait while the {what} is paused"
                + (f"; {they} will start late when the {what} is resumed (Prefect #19313)" if note.get("start_late_on_resume") else ""))
    if effect == "limit_lowered":
        before = change.get("change", {}).get("before") or {}
        after = change.get("change", {}).get("after") or {}
        return (f"{runs}; the concurrency limit goes from {_limit(before.get('concurrency_limit'))} "
                f"to {_limit(after.get('concurrency_limit'))}, so fewer runs start at once")
    verb = "replacing" if change.get("change", {}).get("actions") == ["delete", "create"] else "deleting"
    return f"{runs}; {verb} the {what} leaves {them} without a queue: no worker will pick {them} up"


def run_lines(plan: dict[str, Any]) -> list[str]:
    """The plan's ``runs`` notes, one line each."""
    return [f"  # {printable(str(note.get('address', '')))}: {run_note_text(plan, note)}" for note in plan.get("runs", [])]


def unmanaged_lines(plan: dict[str, Any]) -> list[str]:
    return [f"  {printable(item['address'])}: {item.get('reason', '')}" for item in plan.get("unmanaged", [])]


def render_warnings(warnings: list[dict[str, Any]], *, color: bool = False, compact: bool = False) -> list[str]:
    """Warning blocks, or with ``compact`` one summary line each (terraform's -compact-warnings)."""
    if not warnings:
        return []
    if not compact:
        lines: list[str] = []
        for diag in warnings:
            lines.append(render_diagnostic(diag, color=color))
            lines.append("")
        return lines
    noun = "warning" if len(warnings) == 1 else "warnings"
    lines = [paint(f"{len(warnings)} {noun}:", BOLD + YELLOW, color)]
    lines.extend("  - " + summary_line(diag) for diag in warnings)
    lines.append("To see the full warning notes, run poolform without --compact-warnings.")
    lines.append("")
    return lines


def render_human(
    plan: dict[str, Any],
    *,
    color: bool = False,
    automation: bool = False,
    apply_hint: str | None = None,
    saved: bool = False,
    compact_warnings: bool = False,
) -> str:
    """The whole human plan, ending with a newline.

    ``apply_hint``: the command that applies this plan (``saved``: it applies the saved
    plan file, exactly), used in the closing hint; no hint at all when ``automation``
    is set. ``compact_warnings``: warnings as one summary line each.
    """
    lines: list[str] = []
    if plan.get("environment"):
        lines += [f"Environment: {plan['environment']} ({plan.get('api_url', '')})", ""]
    diagnostics = plan.get("diagnostics", [])
    errors = [d for d in diagnostics if d.get("severity") == "error"]
    warnings = [d for d in diagnostics if d.get("severity") != "error"]
    if plan.get("errored") or errors:
        for diag in errors:
            lines.append(render_diagnostic(diag, color=color))
            lines.append("")
        lines.extend(render_warnings(warnings, color=color, compact=compact_warnings))
        lines.append("Planning failed; nothing will be applied. Fix the errors above and plan again.")
        return "\n".join(lines) + "\n"

    changes = visible_changes(plan)
    if not changes and not plan.get("steps"):
        lines.append(paint("No changes.", BOLD + GREEN, color) + " Your work pools match the configuration.")
        lines.append("")
        lines.append("poolform compared the configuration with the server and found no differences,")
        lines.append("so there is nothing to apply.")
        lines.append("")
    else:
        used = {action_of(c) for c in changes}
        lines.append("Resource actions are indicated with the following symbols:")
        for action in ("create", "update", "replace", "delete"):
            if action in used:
                legend = _LEGEND[action]
                symbol = _SYMBOLS[action]
                start = legend.index(symbol)
                lines.append(legend[:start] + _marker(symbol, color) + legend[start + len(symbol):])
        lines.append("")
        lines.append("poolform will perform the following actions:")
        lines.append("")
        for change in changes:
            lines.append(render_change(change, color=color))
            lines.append("")
    held = run_lines(plan)
    if held:
        lines.append("Runs waiting on the server that these changes hold back:")
        lines.extend(held)
        lines.append("")
    effects = side_effect_lines(plan)
    if effects:
        lines.append("Unmanaged values the server will change as a side effect:")
        lines.extend(effects)
        lines.append("")
    unmanaged = unmanaged_lines(plan)
    if unmanaged:
        lines.append(f"Not managed by this configuration (left untouched): {len(unmanaged)}")
        lines.extend(unmanaged)
        lines.append("")
    lines.extend(render_warnings(warnings, color=color, compact=compact_warnings))
    if changes or plan.get("steps"):
        lines.append(paint(plan_line(plan), BOLD, color))
        if not automation:
            lines.append("")
            command = apply_hint or "poolform apply"
            if saved:
                lines.append(f'Run "{command}" to apply exactly these changes.')
            else:
                lines.append(f'Run "{command}" to apply these changes.')
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"
