"""Policy rules from config files: the ``policy:`` key of each file and the rule files it names.

Owns: reading ``policy: {rules: [...], files: [...]}`` of every config document (before the
overlay merge, so an overlay adds rules and never removes one), expanding ``files`` (a file, a
directory's ``*.yaml``/``*.yml``/``*.json``, a glob) relative to the file that names them,
reading rule files (``version: 1``, ``rules:``) under the read policy of
:mod:`reconciler.config.files`, checking each rule's shape (the ``PolicyRule`` model), its
schema (:func:`reconciler.check_policy.rule_problems`) and that ids are unique; every problem is
an ``invalid_policy`` error at file:line, never a rule skipped silently. Returns
:class:`reconciler.model.policy.Rule` values. Checking them is :mod:`reconciler.check_policy`.
No network, no printing.
"""

from __future__ import annotations

import glob
import os
from dataclasses import replace
from typing import Any, Sequence

from reconciler.config.files import did_you_mean, ignored_name, read_text
from reconciler.config.source import RawDoc
from reconciler.config.yaml_source import parse_yaml_text
from reconciler.diagnostics import Code, Diagnostics, SourceRange
from reconciler.model.policy import Rule

RULE_FILE_SUFFIXES = (".yaml", ".yml", ".json")
MAX_RULES = 1_000
"""Rules in one configuration (each is evaluated once per object it targets)."""
_GLOB_CHARS = set("*?[")


def read_rules(docs: Sequence[RawDoc], diags: Diagnostics) -> list[Rule]:
    """The rules of every document's ``policy`` key, in file order: inline rules, then those of
    the files named (each file read once however often it is named)."""
    from reconciler.config.load import structure_diagnostics
    from reconciler.model.document import Policy

    found: list[tuple[RawDoc, tuple[Any, ...]]] = []
    local = Diagnostics()
    read: set[str] = set()
    for doc in docs:
        if not isinstance(doc.data, dict) or doc.data.get("policy") is None:
            continue
        bad = structure_diagnostics(doc, local, model=Policy, at=("policy",))
        policy = doc.data["policy"]
        if not isinstance(policy, dict):
            continue
        rules = policy.get("rules")
        if isinstance(rules, list):
            found += [(doc, ("policy", "rules", i)) for i in range(len(rules))
                      if not any(p[:3] == ("policy", "rules", i) for p in bad)]
        files = policy.get("files")
        if isinstance(files, list):
            for i, entry in enumerate(files):
                if not isinstance(entry, str):
                    continue
                at = doc.where(("policy", "files", i))
                for filename in _expand(entry, at, local):
                    if filename in read:
                        continue
                    read.add(filename)
                    rule_doc = _read_rule_file(filename, at, local)
                    if rule_doc is not None:
                        found += [(rule_doc, ("rules", n)) for n in range(len(rule_doc.data["rules"]))]
    declared = [name for doc in docs if isinstance(doc.data, dict) and isinstance(doc.data.get("environments"), dict)
                for name in doc.data["environments"]]
    rules_out = _rules(found, local, list(dict.fromkeys(declared)))
    diags.append(replace(d, code=Code.INVALID_POLICY) if d.code is None and d.severity == "error" else d
                 for d in local)
    return rules_out


def _expand(entry: str, at: SourceRange, diags: Diagnostics) -> list[str]:
    """The rule files one ``files`` entry names, sorted; an entry that names none is an error at ``at``."""
    base = os.path.dirname(at.filename)
    path = entry if os.path.isabs(entry) else os.path.join(base, entry)
    if _GLOB_CHARS & set(entry):
        matches = sorted(os.path.normpath(m) for m in glob.glob(path) if not ignored_name(os.path.basename(m)))
        files = [m for m in matches if not os.path.isdir(m)]
        if not files:
            diags.error(f"the policy files pattern {entry!r} matches no file",
                        f"It is read relative to {base or '.'}; fix the pattern or remove it.", range=at)
        return files
    path = os.path.normpath(path)
    if os.path.isdir(path):
        try:
            names = sorted(n for n in os.listdir(path) if n.endswith(RULE_FILE_SUFFIXES) and not ignored_name(n))
        except OSError as exc:
            diags.error(f"cannot read the policy directory {path}: {exc.strerror or exc}", range=at,
                        code=Code.UNREADABLE_INPUT)
            return []
        if not names:
            diags.error(f"no rule files in {path}", "A policy directory holds *.yaml, *.yml or *.json rule files "
                        "(it is not searched recursively).", range=at)
        return [os.path.join(path, n) for n in names]
    return [path]  # read_text reports a missing or unreadable file at the line that names it


def _read_rule_file(filename: str, at: SourceRange, diags: Diagnostics) -> RawDoc | None:
    from reconciler.config.load import structure_diagnostics
    from reconciler.model.document import PolicyFile

    text = read_text(filename, diags, referenced_at=at)
    if text is None:
        return None
    parsed = parse_yaml_text(text, filename, diags)
    if parsed is None:
        return None
    if not isinstance(parsed.data, dict):
        diags.error("a rule file must hold a mapping {version: 1, rules: [...]}", range=parsed.where(()))
        return None
    bad = structure_diagnostics(parsed, diags, model=PolicyFile)
    if any(p[:1] != ("rules",) or len(p) < 2 for p in bad) or not isinstance(parsed.data.get("rules"), list):
        return None
    parsed.data = dict(parsed.data)
    kept = [i for i in range(len(parsed.data["rules"])) if not any(p[:2] == ("rules", i) for p in bad)]
    if len(kept) != len(parsed.data["rules"]):
        parsed = _only(parsed, kept)
    return parsed


def _only(doc: RawDoc, kept: list[int]) -> RawDoc:
    """``doc`` with only the rules at ``kept`` (the others have errors), positions renumbered."""
    out = RawDoc({**doc.data, "rules": [doc.data["rules"][i] for i in kept]}, doc.origin)
    for new, old in enumerate(kept):
        for table, target in ((doc.values, out.values), (doc.keys, out.keys)):
            for path, loc in table.items():
                if path[:2] == ("rules", old):
                    target[("rules", new) + path[2:]] = loc
    return out


def _rules(found: list[tuple[RawDoc, tuple[Any, ...]]], diags: Diagnostics, declared: list[str]) -> list[Rule]:
    rules: list[Rule] = []
    seen: dict[str, SourceRange] = {}
    if len(found) > MAX_RULES:
        doc, path = found[MAX_RULES]
        diags.error(f"more than {MAX_RULES:,} policy rules", "Each rule is evaluated once per object it targets; "
                    "merge rules that check the same target.", range=doc.where(path))
        return []
    for doc, path in found:
        raw = doc.data
        for part in path:
            raw = raw[part]
        where = doc.where(path + ("id",))
        rule_id = raw["id"]
        if rule_id in seen:
            diags.error(f"duplicate policy rule id {rule_id!r}", f"It was first declared at {seen[rule_id]}; "
                        "rule ids are unique across every config and rule file (an overlay adds rules, it cannot "
                        "replace one).", range=where)
            continue
        seen[rule_id] = where
        schema = raw["schema"]
        problems = _schema_problems(schema)
        for schema_path, summary, detail in problems:
            diags.error(f"policy rule {rule_id!r}: {summary}", detail,
                        range=doc.where(path + ("schema",) + schema_path), code=Code.INVALID_POLICY)
        if problems:
            continue
        environments = raw.get("environments")
        unknown = [(i, name) for i, name in enumerate(environments or []) if name not in declared]
        for i, name in unknown:
            diags.error(f"policy rule {rule_id!r} names the environment {name!r}, which the configuration does not "
                        "declare", (did_you_mean(name, declared).strip() + " ").lstrip()
                        + (f"Declared environments: {', '.join(declared)}." if declared else
                           "Declare it under the top-level environments: map, or remove it from the rule.")
                        + " A rule scoped to no declared environment would never apply.",
                        range=doc.where(path + ("environments", i)), code=Code.INVALID_POLICY)
        if unknown:
            continue
        rules.append(Rule(id=rule_id, message=raw["message"], target=raw["target"], schema=schema,
                          severity=raw.get("severity") or "error", description=raw.get("description") or "",
                          environments=tuple(environments) if environments is not None else None, where=where))
    return rules


def _schema_problems(schema: Any) -> list[tuple[tuple[Any, ...], str, str]]:
    from reconciler.check_policy import rule_problems

    try:
        return rule_problems(schema)
    except RecursionError:
        return [((), "the rule's schema cannot be checked (it nests too deeply)", "Flatten it.")]

