"""The plan as a ready pull-request comment (GitHub-flavoured markdown), from the plan JSON dict.

Order: a hidden marker (``<!-- poolform-plan -->``, first line, so a bot can update
its comment in place), the title and counts, a warning block listing deletes and
replaces, the changed addresses, the due runs they hold back, side effects, unmanaged objects, warnings, and the
full human diff inside ``<details>``. The result is always shorter than
``max_chars`` (GitHub rejects comments over 65,536 characters): long sections are
cut with a note saying how much was left out.
"""

from __future__ import annotations

import re
from typing import Any

from reconciler.views.human import action_of, plan_line, render_change, run_note_text, side_effect_lines, visible_changes
from reconciler.views.diagnostics import printable, render_diagnostic, summary_line

MARKER = "<!-- poolform-plan -->"
_LIST_LIMIT = 100
_VERBS = {"create": "create", "update": "update", "replace": "**replace**", "delete": "**destroy**"}
_DIFF_MARKER = re.compile(r"^(\s*)(-/\+|[+~-])( |$)")


def _code(text: str) -> str:
    return "`" + printable(text).replace("`", "'").replace("|", "\\|") + "`"


def _capped(items: list[str], limit: int, what: str) -> list[str]:
    if len(items) <= limit:
        return items
    return items[:limit] + [f"- … and {len(items) - limit} more {what}"]


def _diff_line(line: str) -> str:
    """Move a leading ``+ ~ - -/+`` marker to column 0 so GitHub colours the diff block."""
    match = _DIFF_MARKER.match(line)
    if not match:
        return line
    indent, symbol = match.group(1), match.group(2)
    mark = "!" if symbol == "~" else symbol
    return mark + indent + line[len(indent) + len(symbol):]


def render_markdown(plan: dict[str, Any], *, title: str = "poolform plan", max_chars: int = 65_000,
                    compact_warnings: bool = False) -> str:
    """A PR comment for ``plan``, at most ``max_chars`` characters long.

    Each warning is one list item with the file:line that set the value; with
    ``compact_warnings`` only its summary line (terraform's -compact-warnings).
    """
    changes = visible_changes(plan)
    diagnostics = plan.get("diagnostics", [])
    errors = [d for d in diagnostics if d.get("severity") == "error"]
    warnings = [d for d in diagnostics if d.get("severity") != "error"]
    head: list[str] = [MARKER, f"### {title}", ""]
    if plan.get("errored") or errors:
        head.append("**Plan failed.** Nothing will be applied.")
    elif changes or plan.get("steps"):
        head.append("**" + plan_line(plan)[:5] + "**" + plan_line(plan)[5:].rstrip("."))
    else:
        head.append("**No changes.** Your work pools match the configuration.")
    if plan.get("targets"):
        head.append("")
        head.append("> [!NOTE]")
        head.append("> Resource targeting is in effect (" + ", ".join(_code(t) for t in plan["targets"]) + "); the plan may be incomplete.")
    head.append("")

    destructive = [c for c in changes if action_of(c) in ("delete", "replace")]
    body: list[str] = []
    if destructive:
        body.append("> [!CAUTION]")
        body.append(f"> **This plan destroys or replaces {len(destructive)} object{'s' if len(destructive) != 1 else ''}:**")
        lines = []
        for change in destructive:
            verb = "replaced" if action_of(change) == "replace" else "destroyed"
            detail = f": {change['reason_detail']}" if change.get("reason_detail") else ""
            lines.append(f"- {_code(change['address'])} will be **{verb}**{detail}")
        body.extend("> " + line for line in _capped(lines, _LIST_LIMIT, "destructive changes"))
        body.append("")
    if errors:
        body.append("#### Errors")
        body.extend(_capped(["- " + _one_line(d) for d in errors], _LIST_LIMIT, "errors"))
        body.append("")
    if changes:
        body.append("#### Changes")
        body.append("")
        body.append("| action | address | changed |")
        body.append("|---|---|---|")
        rows = []
        for change in changes:
            paths = [".".join(str(p) for p in path) for path in change["change"].get("changed_paths", [])]
            action = action_of(change)
            shown = ", ".join(_code(p) for p in paths[:4]) + (f" and {len(paths) - 4} more" if len(paths) > 4 else "")
            rows.append(f"| {_VERBS[action]} | {_code(change['address'])} | {shown if action in ('update', 'replace') else ''} |")
        if len(rows) > _LIST_LIMIT:
            rows = rows[:_LIST_LIMIT] + [f"| | … and {len(rows) - _LIST_LIMIT} more changes | |"]
        body.extend(rows)
        body.append("")
    held = plan.get("runs", [])
    if held:
        body.append("#### Runs held back")
        body.extend(_capped([f"- {_code(str(note.get('address', '')))}: {run_note_text(plan, note)}" for note in held], _LIST_LIMIT, "notes"))
        body.append("")
    effects = side_effect_lines(plan)
    if effects:
        body.append("<details><summary>Side effects on unmanaged values (" + str(len(effects)) + ")</summary>")
        body.append("")
        body.extend(_capped(["- " + line.strip().lstrip("# ") for line in effects], _LIST_LIMIT, "side effects"))
        body.append("")
        body.append("</details>")
        body.append("")
    unmanaged = plan.get("unmanaged", [])
    if unmanaged:
        body.append(f"<details><summary>Not managed by this configuration ({len(unmanaged)})</summary>")
        body.append("")
        body.extend(_capped([f"- {_code(u['address'])}: {u.get('reason', '')}" for u in unmanaged], _LIST_LIMIT, "objects"))
        body.append("")
        body.append("</details>")
        body.append("")
    if warnings:
        body.append("#### Warnings")
        items = [_compact_line(d) if compact_warnings else _one_line(d) for d in warnings]
        body.extend(_capped(["- " + item for item in items], _LIST_LIMIT, "warnings"))
        body.append("")

    text = "\n".join(head + body)
    if changes:
        text += "\n" + _details(changes, max_chars - len(text) - 2)
    if len(text) > max_chars:
        note = "\n\n… truncated to fit a comment; see the job log for the full plan.\n"
        cut = max(0, max_chars - len(note))
        # At a line break: a value cut in the middle could leave part of a secret unrecognizable to the masker.
        text = text[: max(0, text.rfind("\n", 0, cut + 1))] + note
    return text if text.endswith("\n") else text + "\n"


def _compact_line(diag: dict[str, Any]) -> str:
    return summary_line(diag).replace("|", "\\|")


def _one_line(diag: dict[str, Any]) -> str:
    text = render_diagnostic(diag).replace("\n  ", " — ").replace("\n", " ")
    return text.replace("|", "\\|")


def _details(changes: list[dict[str, Any]], budget: int) -> str:
    blocks = ["\n".join(_diff_line(line) for line in render_change(c).splitlines()) for c in changes]
    fence = "````" if any("```" in block for block in blocks) else "```"
    opening = f"<details><summary>Full plan ({len(changes)} change{'s' if len(changes) != 1 else ''})</summary>\n\n{fence}diff\n"
    closing = f"{fence}\n\n</details>\n"
    reserve = 120
    used = len(opening) + len(closing) + reserve
    kept: list[str] = []
    for block in blocks:
        if used + len(block) + 2 > budget:
            break
        kept.append(block)
        used += len(block) + 2
    if not kept and budget < len(opening) + len(closing) + reserve:
        return ""
    text = opening + "\n\n".join(kept) + "\n" + closing
    left = len(blocks) - len(kept)
    if left:
        text += f"\n… truncated: {left} more change{'s' if left != 1 else ''}; see the job log for the full plan.\n"
    return text
