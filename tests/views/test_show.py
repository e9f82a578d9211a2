"""``poolform show PLANFILE``: formats, colour off without a TTY, clear errors for bad files."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from views_test_scenarios import mixed
from reconciler.cli.show import show
from reconciler.plan.document import Plan
from reconciler.plan.planfile import dumps_plan
from reconciler.views.human import render_human
from reconciler.views.markdown import MARKER


@pytest.fixture
def planfile(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(dumps_plan(Plan.from_json(mixed())), encoding="utf-8")
    return path


@pytest.fixture
def runner(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("POOLFORM_IN_AUTOMATION", raising=False)
    return CliRunner()


def test_show_human(runner, planfile) -> None:
    result = runner.invoke(show, [str(planfile)])
    assert result.exit_code == 0, result.output
    assert result.output == render_human(mixed(), apply_hint=f"poolform apply {planfile}", saved=True)
    assert result.output.rstrip().endswith(f'Run "poolform apply {planfile}" to apply exactly these changes.')
    assert "\x1b[" not in result.output


def test_show_json_is_the_document(runner, planfile) -> None:
    result = runner.invoke(show, [str(planfile), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output) == mixed()
    assert runner.invoke(show, [str(planfile), "--format", "json"]).output == result.output


def test_show_markdown(runner, planfile) -> None:
    result = runner.invoke(show, [str(planfile), "--format", "markdown"])
    assert result.exit_code == 0
    assert result.output.startswith(MARKER + "\n")


def test_show_automation_drops_hint(runner, planfile, monkeypatch) -> None:
    monkeypatch.setenv("CI", "true")
    result = runner.invoke(show, [str(planfile), "--no-color"])
    assert result.output.rstrip().splitlines()[-1].startswith("Plan: ")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "not found", id="missing"),
        pytest.param("{not json", "not a poolform plan file: it is not JSON", id="not-json"),
        pytest.param('{"x": 1}', "not a poolform plan file", id="other-json"),
        pytest.param('{"format_version": "2.0", "resource_changes": []}', "unsupported plan format_version", id="newer-format"),
    ],
)
def test_show_bad_file_is_one_error_line(runner, tmp_path, content, message) -> None:
    path = tmp_path / "plan.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = runner.invoke(show, [str(path)])
    assert result.exit_code == 1
    assert message in result.output
    assert result.output.startswith("Error: ")
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)


def test_show_json_and_format_conflict(runner, planfile) -> None:
    result = runner.invoke(show, [str(planfile), "--json", "--format", "markdown"])
    assert result.exit_code == 1 and "exclusive" in result.output


def test_show_apply_results(runner, planfile, tmp_path) -> None:
    applied = runner.invoke(show, [str(planfile), "--format", "markdown", "--result", "applied"])
    assert applied.exit_code == 0, applied.output
    assert applied.output.startswith("<!-- poolform-apply -->\n") and "**Applied.**" in applied.output
    log = tmp_path / "apply.log"
    log.write_text("Applying...\nError: the server answered 503 for work_pool.batch\n", encoding="utf-8")
    failed = runner.invoke(show, [str(planfile), "--format", "markdown", "--result", "failed", "--log", str(log)])
    assert failed.exit_code == 0, failed.output
    assert "**Apply failed.**" in failed.output and "answered 503 for work_pool.batch" in failed.output
    for bad in (["--result", "applied"], ["--format", "markdown", "--log", str(log)]):
        refused = runner.invoke(show, [str(planfile), *bad])
        assert refused.exit_code == 1, refused.output


def test_validate_markdown_failure_links_the_lines(runner, tmp_path, monkeypatch) -> None:
    from reconciler.cli.validate import validate

    monkeypatch.chdir(tmp_path)
    (tmp_path / "pools").mkdir()
    (tmp_path / "pools" / "a.yaml").write_text("version: 1\nwork_pools:\n  p:\n    type: process\n    tpye: x\n")
    result = runner.invoke(validate, ["-f", "pools/", "--format", "markdown", "--environment", "prod",
                                      "--link-base", "https://github.com/o/r/blob/abc"])
    assert result.exit_code == 1
    assert result.output.startswith("<!-- poolform-plan:prod -->\n")
    assert "[pools/a.yaml:5:5](https://github.com/o/r/blob/abc/pools/a.yaml#L5): error: unknown key 'tpye'" in result.output
    (tmp_path / "pools" / "a.yaml").write_text("version: 1\nwork_pools:\n  p:\n    type: process\n")
    ok = runner.invoke(validate, ["-f", "pools/", "--format", "markdown"])
    assert ok.exit_code == 0 and ok.output.startswith("<!-- poolform-plan -->\n") and "**Valid.**" in ok.output
