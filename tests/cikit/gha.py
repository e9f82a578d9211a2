"""Run a GitHub Actions job of the example workflows locally, step by step, as a runner would:
``${{ }}`` expressions in ``env:`` and ``if:`` evaluated from a context the test gives (an
unknown expression fails the test, so the workflows stay within what is exercised here), each
``run:`` through ``bash --noprofile --norc -eo pipefail`` with the workflow, job and step
``env:`` merged, ``$GITHUB_OUTPUT`` read back into ``steps.<id>.outputs``, ``$GITHUB_STEP_SUMMARY``
kept, steps after a failure skipped unless their ``if:`` says ``always()``/``failure()``.
``uses:`` steps: checkout and setup-python are no-ops (the test prepared the tree and
the venv, which also stands for the ``pip install poolform`` step), upload-artifact and download-artifact copy files through a local directory.
A matrix job runs once per entry (:func:`matrix_entries`, ``matrix.*`` in the context);
``secrets[EXPR]`` looks the evaluated name up among the context's ``secrets.*``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class Result:
    outcome: dict[str, str] = field(default_factory=dict)       # step id or name -> success / failure / skipped
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)
    env_seen: dict[str, dict[str, str]] = field(default_factory=dict)
    failed: bool = False


def _value(expr: str, ctx: dict[str, Any], result: Result, env: dict[str, str]) -> Any:
    expr = expr.strip()
    if expr.startswith("'") and expr.endswith("'"):
        return expr[1:-1]
    if "||" in expr:
        for part in expr.split("||"):
            value = _value(part, ctx, result, env)
            if value not in ("", None, False):
                return value
        return ""
    match = re.fullmatch(r"secrets\[(.+)\]", expr)
    if match:
        name = f"secrets.{_value(match.group(1), ctx, result, env)}"
        if name not in ctx:
            raise KeyError(f"secret not in the test's context: {name} (from {expr})")
        return ctx[name]
    match = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr)
    if match:
        return result.outputs.get(match.group(1), {}).get(match.group(2), "")
    match = re.fullmatch(r"steps\.([\w-]+)\.outcome", expr)
    if match:
        return result.outcome.get(match.group(1), "skipped")
    match = re.fullmatch(r"env\.([\w-]+)", expr)
    if match:
        return env.get(match.group(1), "")
    if expr in ctx:
        return ctx[expr]
    if re.fullmatch(r"(inputs|vars)\.[\w-]+", expr):
        return ""
    raise KeyError(f"expression not in the test's context: {expr}")


def substitute(text: str, ctx: dict[str, Any], result: Result, env: dict[str, str]) -> str:
    return EXPR.sub(lambda m: str(_value(m.group(1), ctx, result, env)), text)


def condition(expr: str | None, ctx: dict[str, Any], result: Result, env: dict[str, str]) -> bool:
    """The few condition shapes the example workflows use; anything else fails the test."""
    if expr is None:
        return not result.failed
    expr = EXPR.sub(lambda m: m.group(1), str(expr)).strip()
    status = {"always()": True, "failure()": result.failed, "success()": not result.failed}
    terms = [t.strip() for t in re.split(r"&&", expr)]
    gate: bool | None = None
    values = []
    for term in terms:
        if term in status:
            gate = status[term] if gate is None else gate and status[term]
            continue
        alternatives = [a.strip() for a in term.split("||")]
        ok = False
        for alt in alternatives:
            match = re.fullmatch(r"(.+?)\s*(==|!=)\s*(.+)", alt)
            if not match:
                raise KeyError(f"condition not understood by the test harness: {alt}")
            left = str(_value(match.group(1), ctx, result, env))
            right = str(_value(match.group(3), ctx, result, env))
            ok = ok or ((left == right) if match.group(2) == "==" else (left != right))
        values.append(ok)
    if gate is None:
        gate = not result.failed
    return gate and all(values)


def matrix_entries(spec: dict[str, Any]) -> list[dict[str, str]]:
    """The entries of a job's ``strategy.matrix`` (its axes' product, then ``include``); ``[{}]`` without one."""
    matrix = dict((spec.get("strategy") or {}).get("matrix") or {})
    include = matrix.pop("include", [])
    matrix.pop("exclude", None)
    entries: list[dict[str, str]] = [{}]
    for axis, values in matrix.items():
        entries = [{**entry, axis: value} for entry in entries for value in values]
    if include:
        entries = [entry for entry in entries if entry] + list(include)
    return entries


def run_job(workflow: dict[str, Any], job: str, *, ctx: dict[str, Any], cwd: Path, base_env: dict[str, str],
            artifacts: Path, timeout: float = 300, matrix: dict[str, Any] | None = None) -> Result:
    spec = workflow["jobs"][job]
    ctx = {**ctx, **{f"matrix.{key}": value for key, value in (matrix or {}).items()}}
    result = Result()
    top_env = {k: str(v) for k, v in (workflow.get("env") or {}).items()}
    outer = {k: substitute(v, ctx, result, top_env) for k, v in top_env.items()}
    outer.update({k: substitute(str(v), ctx, result, outer) for k, v in (spec.get("env") or {}).items()})
    summary = cwd / "step_summary.md"
    for index, step in enumerate(spec["steps"]):
        key = step.get("id") or step.get("name") or f"step{index}"
        if not condition(step.get("if"), ctx, result, outer):
            result.outcome[key] = "skipped"
            continue
        uses = step.get("uses", "")
        if uses:
            action = uses.split("@", 1)[0]
            with_ = {k: substitute(str(v), ctx, result, outer) for k, v in (step.get("with") or {}).items()}
            if action == "actions/upload-artifact":
                target = artifacts / with_["name"]
                target.mkdir(parents=True, exist_ok=True)
                source = cwd / with_["path"]
                if not source.exists():
                    result.outcome[key] = "failure"
                    result.failed = True
                    continue
                shutil.copy(source, target / source.name)
            elif action == "actions/download-artifact" and "pattern" in with_:
                # every artifact matching the pattern, each into PATH/<artifact name>/
                for source in sorted(artifacts.glob(with_["pattern"])):
                    target = cwd / with_.get("path", ".") / source.name
                    target.mkdir(parents=True, exist_ok=True)
                    for item in source.iterdir():
                        shutil.copy(item, target / item.name)
            elif action == "actions/download-artifact":
                source = artifacts / with_["name"]
                if not source.is_dir():
                    result.outcome[key] = "failure"
                    result.failed = True
                    continue
                for item in source.iterdir():
                    shutil.copy(item, cwd / item.name)
            elif action not in ("actions/checkout", "actions/setup-python"):
                raise KeyError(f"the harness does not run {action}")
            result.outcome[key] = "success"
            continue
        env = dict(base_env)
        env.update(outer)
        env.update({k: substitute(str(v), ctx, result, outer) for k, v in (step.get("env") or {}).items()})
        output = cwd / f".output-{index}"
        output.write_text("")
        env.update(GITHUB_OUTPUT=str(output), GITHUB_STEP_SUMMARY=str(summary))
        env.setdefault("GITHUB_SHA", str(ctx.get("github.sha", "")))
        result.env_seen[key] = env
        script = substitute(step["run"], ctx, result, outer)
        if re.fullmatch(r'pip install "poolform==[\w.]+"', script.strip()):
            result.outcome[key] = "success"  # this venv is the install
            continue
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        result.logs[key] = done.stdout + done.stderr
        outputs = {}
        for line in output.read_text().splitlines():
            if "=" in line:
                name, _, value = line.partition("=")
                outputs[name] = value
        result.outputs[key] = outputs
        result.outcome[key] = "success" if done.returncode == 0 else "failure"
        if done.returncode != 0:
            result.failed = True
    return result


def clean_env(bin_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "POOLFORM_", "GITHUB_", "CI")) and k not in ("NO_COLOR", "FORCE_COLOR")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env
