"""Pull-request comments (GitHub-flavoured markdown, also rendered by GitLab), from JSON values only.

:func:`render_markdown` draws a plan. Order: a hidden marker (first line, so a bot can update
its comment in place: ``<!-- poolform-plan -->``, or ``<!-- poolform-plan:ENV -->`` when the
plan names its environment, so each environment keeps its own comment), the title and counts,
a warning block listing deletes and replaces, errors, the changed addresses, the due runs they
hold back, side effects,
unmanaged objects, warnings, a mermaid diagram of each touched pool's queue waterfall before ->
after (``views/mermaid.py``, from the plan's ``waterfalls``), and the full human diff inside
``<details>``. :func:`render_failure_markdown` draws a failed validate or plan from its
diagnostics; :func:`render_apply_markdown` the outcome of an apply. Every diagnostic's
file:line is a link when a link base (the PR head's blob URL) is given. The result is always at
most ``max_chars`` characters (GitHub rejects comments over 65,536): long sections are cut with
a note pointing at the full plan (the workflow's artifact), and a diagram is either whole or
left out, never cut.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any
from urllib.parse import quote

from reconciler.views.human import action_of, plan_line, render_change, run_note_text, side_effect_lines, visible_changes
from reconciler.views.diagnostics import printable, render_diagnostic, summary_line
from reconciler.views.mermaid import render_waterfall

MARKER = "<!-- poolform-plan -->"
FULL_PLAN_NOTE = "the full plan is in the job log and in the run's `poolform-plan` artifact (plan.json)"
_DIAGRAM_LIMIT = 30
_SAFE_MARK = re.compile(r"[^A-Za-z0-9_.-]")
_LIST_LIMIT = 100
_VERBS = {"create": "create", "update": "update", "replace": "**replace**", "delete": "**destroy**"}
_DIFF_MARKER = re.compile(r"^(\s*)(-/\+|[+~-])( |$)")


def marker(kind: str = "plan", environment: str | None = None) -> str:
    """The hidden first line a bot finds its comment by: ``<!-- poolform-KIND -->`` or, for an
    environment, ``<!-- poolform-KIND:ENV -->`` (characters outside ``A-Za-z0-9_.-`` as %XX, so a name
    can neither end the comment nor match another environment's marker)."""
    suffix = ""
    if environment:
        suffix = ":" + _SAFE_MARK.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), environment)
    return f"<!-- poolform-{kind}{suffix} -->"


def _titled(title: str, environment: str | None) -> str:
    return f"{title} · {printable(environment)}" if environment else title


def link_of(diag: dict[str, Any], link_base: str | None, root: str | None = None) -> str | None:
    """``link_base/<file>#L<line>`` for a diagnostic whose file is inside the checkout, else None.
    ``root``: the directory relative file names are relative to inside the repository (``""`` = its root);
    absolute names are made relative to ``root`` when they are under it."""
    rng = diag.get("range") or {}
    filename = rng.get("filename")
    if not link_base or not filename:
        return None
    path = str(filename).replace("\\", "/")
    if path.startswith("/"):
        if not root or not root.startswith("/"):
            return None
        path = posixpath.relpath(path, root)
    path = posixpath.normpath(path)
    if path.startswith("..") or path.startswith("/"):
        return None
    line = (rng.get("start") or {}).get("line")
    anchor = f"#L{int(line)}" if isinstance(line, int) and line > 0 else ""
    return link_base.rstrip("/") + "/" + quote(path) + anchor


def _code(text: str) -> str:
    return "`" + printable(text).replace("`", "'").replace("|", "\\|") + "`"


def _capped(items: list[str], limit: int, what: str) -> list[str]:
    if len(items) <= limit:
        return items
    return items[:limit] + [f"- … and {len(items) - limit} more {what}"]


def _list_section(heading: str, items: list[str], what: str) -> list[str]:
    """A ``#### heading`` over ``items`` as a bullet list, capped at ``_LIST_LIMIT``; nothing without items."""
    if not items:
        return []
    return [f"#### {heading}", *_capped(["- " + item for item in items], _LIST_LIMIT, what), ""]


def _diff_line(line: str) -> str:
    """Move a leading ``+ ~ - -/+`` marker to column 0 so GitHub colours the diff block."""
    match = _DIFF_MARKER.match(line)
    if not match:
        return line
    indent, symbol = match.group(1), match.group(2)
    mark = "!" if symbol == "~" else symbol
    return mark + indent + line[len(indent) + len(symbol):]


def render_markdown(plan: dict[str, Any], *, title: str = "poolform plan", max_chars: int = 65_000,
                    compact_warnings: bool = False, link_base: str | None = None, root: str | None = None,
                    full_plan_note: str = FULL_PLAN_NOTE, kind: str = "plan") -> str:
    """A PR comment for ``plan``, at most ``max_chars`` characters long (``kind``: its marker's,
    ``plan`` or ``drift`` for the drift issue).

    Each warning is one list item with the file:line that set the value (a link under
    ``link_base``); with ``compact_warnings`` only its summary line (terraform's -compact-warnings).
    """
    changes = visible_changes(plan)
    diagnostics = plan.get("diagnostics", [])
    errors = [d for d in diagnostics if d.get("severity") == "error"]
    warnings = [d for d in diagnostics if d.get("severity") != "error"]
    environment = plan.get("environment")
    head: list[str] = [marker(kind, environment), f"### {_titled(title, environment)}", ""]
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
    body.extend(_list_section("Errors", [_one_line(d, link_base, root) for d in errors], "errors"))
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
    body.extend(_list_section("Runs held back", [f"{_code(str(note.get('address', '')))}: {run_note_text(plan, note)}"
                                                 for note in plan.get("runs", [])], "notes"))
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
    line = _compact_line if compact_warnings else _one_line
    body.extend(_list_section("Warnings", [line(d, link_base, root) for d in warnings], "warnings"))

    text = "\n".join(head + body)
    details_reserve = 400 if changes else 0
    diagrams = _diagrams(plan.get("waterfalls") or {}, max_chars - len(text) - details_reserve, full_plan_note)
    if diagrams:
        text += "\n" + diagrams
    if changes:
        text += "\n" + _details(changes, max_chars - len(text) - 2, full_plan_note)
    return _fit(text, max_chars, full_plan_note)


def _fit(text: str, max_chars: int, full_plan_note: str) -> str:
    if len(text) > max_chars:
        note = f"\n\n… truncated to fit a comment; {full_plan_note}.\n"
        cut = max(0, max_chars - len(note))
        # At a line break: a value cut in the middle could leave part of a secret unrecognizable to the masker.
        text = text[: max(0, text.rfind("\n", 0, cut + 1))] + note
    return text if text.endswith("\n") else text + "\n"


def _linked(diag: dict[str, Any], text: str, link_base: str | None, root: str | None) -> str:
    """``text`` with its leading ``file:line:col`` turned into a link to the file, when there is one."""
    url = link_of(diag, link_base, root)
    rng = diag.get("range") or {}
    if not url:
        return text
    start = rng.get("start") or {}
    where = f"{rng.get('filename', '?')}:{start.get('line', 1)}:{start.get('column', 1)}"
    if not text.startswith(where):
        return text
    shown = printable(where).replace("[", "\\[").replace("]", "\\]")
    return f"[{shown}]({url})" + text[len(where):]


def _compact_line(diag: dict[str, Any], link_base: str | None = None, root: str | None = None) -> str:
    return _linked(diag, summary_line(diag), link_base, root).replace("|", "\\|")


def _one_line(diag: dict[str, Any], link_base: str | None = None, root: str | None = None) -> str:
    text = render_diagnostic(diag).replace("\n  ", " — ").replace("\n", " ")
    return _linked(diag, text, link_base, root).replace("|", "\\|")


def _diagrams(waterfalls: dict[str, Any], budget: int, full_plan_note: str) -> str:
    """One mermaid block per touched pool, each whole or left out (with a note) within ``budget``."""
    if not waterfalls:
        return ""
    heading = "#### Queue order (worker polls top to bottom; before → after)\n\n"
    reserve = 200
    used = len(heading) + reserve
    blocks: list[str] = []
    for index, (pool, waterfall) in enumerate(waterfalls.items()):
        block = f"`work_pool.{printable(pool)}`\n\n```mermaid\n{render_waterfall(pool, waterfall)}\n```\n"
        if index >= _DIAGRAM_LIMIT or used + len(block) + 1 > budget:
            break
        blocks.append(block)
        used += len(block) + 1
    left = len(waterfalls) - len(blocks)
    if not blocks and budget < used:
        return ""
    text = heading + "\n".join(blocks)
    if left:
        text += f"\n… {left} more pool diagram{'s' if left != 1 else ''} left out to fit; {full_plan_note}.\n"
    return text


def render_failure_markdown(diagnostics: list[dict[str, Any]], *, title: str = "poolform validate",
                            environment: str | None = None, link_base: str | None = None, root: str | None = None,
                            kind: str = "plan", max_chars: int = 65_000, note: str = "") -> str:
    """The comment for a validate or plan that failed before there was a plan: its diagnostics,
    errors first, each with its file:line (a link to the PR's file under ``link_base``).
    It carries the ``kind`` marker, so it replaces (and is later replaced by) that plan comment."""
    errors = [d for d in diagnostics if d.get("severity") == "error"]
    warnings = [d for d in diagnostics if d.get("severity") != "error"]
    lines = [marker(kind, environment), f"### {_titled(title, environment)}", ""]
    count = f"{len(errors)} error{'s' if len(errors) != 1 else ''}"
    lines.append(f"**Failed: {count}.** Nothing was planned or applied; fix the configuration and push again.")
    if note:
        lines += ["", printable(note)]
    lines.append("")
    lines.extend(_list_section("Errors", [_one_line(d, link_base, root) for d in errors], "errors"))
    lines.extend(_list_section("Warnings", [_one_line(d, link_base, root) for d in warnings], "warnings"))
    return _fit("\n".join(lines), max_chars, "the job log has every diagnostic")


def render_apply_markdown(plan: dict[str, Any], *, outcome: str, log: str = "", title: str = "poolform apply",
                          max_chars: int = 65_000) -> str:
    """The comment on a merged pull request after its apply: ``outcome`` is ``applied`` or ``failed``;
    the plan that was applied (its counts and changed addresses) and, when it failed, the end of
    ``log`` (poolform's own, already masked, error output)."""
    environment = plan.get("environment")
    changes = visible_changes(plan)
    lines = [marker("apply", environment), f"### {_titled(title, environment)}", ""]
    if outcome == "applied":
        lines.append("**Applied.** " + (plan_line(plan).replace("Plan:", "The server now has the plan's") if changes
                                          else "Nothing to change."))
    else:
        lines.append("**Apply failed.** The server may be partly changed; a new plan shows what is left.")
    lines.append("")
    if changes:
        lines += [f"- {_VERBS[action_of(c)]} {_code(c['address'])}" for c in changes[:_LIST_LIMIT]]
        if len(changes) > _LIST_LIMIT:
            lines.append(f"- … and {len(changes) - _LIST_LIMIT} more changes")
        lines.append("")
    if outcome != "applied" and log.strip():
        tail = [printable(line) for line in log.strip().splitlines()[-40:]]
        fence = "````" if any("```" in line for line in tail) else "```"
        lines += [f"{fence}text", *tail, fence, ""]
    return _fit("\n".join(lines), max_chars, "the job log has the whole output")


def _details(changes: list[dict[str, Any]], budget: int, full_plan_note: str = FULL_PLAN_NOTE) -> str:
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
        text += f"\n… truncated: {left} more change{'s' if left != 1 else ''}; {full_plan_note}.\n"
    return text
