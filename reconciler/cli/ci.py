"""``poolform ci github|gitlab ...``: what the example workflows do on the forge, as commands.

Posts or updates the pull-request (merge-request) comment found by its marker and sets the
outcome label, opens/updates/closes the drift issue, and finds the merged pull request's saved
plan for the apply job. The workflows stay thin (one command per step) and these commands are
tested against fake GitHub and GitLab APIs. Parses arguments and files, renders the drift issue
with the markdown view, calls ``reconciler.ci``; no forge logic here.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable

import click

from reconciler.cli import _common as common


def _read(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        common.fail(f"cannot read {what} {path}: {getattr(exc, 'strerror', None) or exc}")


def _plan(path: str) -> dict[str, Any]:
    from reconciler.plan.planfile import check_plan_json

    text = _read(path, "the plan file")
    try:
        data = json.loads(text)
        check_plan_json(data)
    except ValueError as exc:
        common.fail(f"{path}: not a poolform plan file: {exc}")
    return data


def _body(body_file: str, footer: str | None) -> str:
    body = _read(body_file, "the comment body")
    if footer:
        body = body.rstrip("\n") + "\n\n" + footer.strip() + "\n"
    return body


def _run(make: Callable[[], Any], action: Callable[[Any], None]) -> None:
    with common.errors_to_exit():
        forge = make()
        try:
            action(forge)
        finally:
            forge.close()


body_option = click.option("--body-file", required=True, type=click.Path(dir_okay=False), metavar="FILE",
                           help="The markdown to post; its first line is the marker the comment is found by.")
footer_option = click.option("--footer", metavar="TEXT", help="A line appended to the body (e.g. the run's link).")
plan_option = click.option("--plan", "plan_file", type=click.Path(dir_okay=False), metavar="PLANFILE",
                           help="Also label the outcome of this saved plan: no-changes, add-or-update or destroy.")


def _comment(forge: Any, body: str, plan_file: str | None) -> None:
    from reconciler.ci.forge import environment_of, label_outcome, marker_of, upsert_comment
    from reconciler.errors import ForgeError

    plan = _plan(plan_file) if plan_file else None
    if plan is not None and plan.get("environment"):
        named = environment_of(marker_of(body))
        if named != plan["environment"]:
            raise ForgeError(f"{plan_file} is a plan of environment {plan['environment']!r} but the comment's marker "
                             f"is {'for ' + repr(named) if named else 'for no environment'}: render the body from "
                             "the same environment's plan")
    done, number = upsert_comment(forge, body)
    click.echo(f"{done} comment {number}")
    if plan is not None:
        label = label_outcome(forge, plan)
        click.echo(f"label {label}" if label else "the plan failed: labels left as they are")


def _drift(forge: Any, plan_file: str, title: str | None, footer: str | None, note: str | None,
           environment: str | None) -> None:
    from reconciler.ci.forge import drift
    from reconciler.errors import ForgeError
    from reconciler.views.markdown import render_markdown

    plan = _plan(plan_file)
    if plan.get("errored"):
        raise ForgeError("the drift check's plan failed, so drift is unknown: the drift issue is left as it is")
    if environment and plan.get("environment") not in (None, environment):
        raise ForgeError(f"{plan_file} is a plan of environment {plan.get('environment')!r}, not {environment!r}")
    environment = environment or plan.get("environment")
    body = render_markdown({**plan, "environment": environment}, title="poolform drift", kind="drift", max_chars=60_000)
    if footer:
        body = body.rstrip("\n") + "\n\n" + footer.strip() + "\n"
    where = f" of {environment}" if environment else ""
    done, number = drift(forge, body, drifted=bool(plan.get("steps")),
                         title=title or f"poolform: work pools{where} drifted from the configuration",
                         closing_note=note or "No drift any more: the server matches the configuration.")
    click.echo(f"drift issue {done}" + (f" #{number}" if number is not None else ""))


def _label(forge: Any, plan_files: tuple[str, ...]) -> None:
    from reconciler.ci.forge import label_outcome

    label = label_outcome(forge, [_plan(path) for path in plan_files])
    click.echo(f"label {label}" if label else "a plan failed: labels left as they are")


plans_argument = click.argument("plan_files", nargs=-1, required=True, type=click.Path(dir_okay=False),
                                metavar="PLANFILE...")


drift_options = [
    click.option("--plan", "plan_file", required=True, type=click.Path(dir_okay=False), metavar="PLANFILE",
                 help="The drift check's saved plan: changes = drift (open or update the issue), none = close it."),
    click.option("--title", metavar="TEXT", help="The issue title when one is opened."),
    footer_option,
    click.option("--note", metavar="TEXT", help="The comment left when the issue is closed."),
    click.option("--environment", metavar="NAME",
                 help="The environment whose issue this is (default: the plan's own); one issue per environment."),
]


def _with(options: list[Callable[..., Any]]) -> Callable[..., Any]:
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            fn = option(fn)
        return fn
    return wrap


@click.group("ci")
def ci() -> None:
    """Pull-request comments, labels and drift issues for the CI workflows (GitHub, GitLab)."""


@ci.group("github")
def github() -> None:
    """GitHub Actions: env GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL."""


def _github(**kwargs: Any) -> Callable[[], Any]:
    def make() -> Any:
        from reconciler.ci.github import GitHub

        return GitHub(dict(os.environ), **kwargs)
    return make


@github.command("comment", cls=common.Command)
@click.option("--pr", "number", required=True, type=click.IntRange(min=1), help="The pull request number.")
@body_option
@footer_option
@plan_option
@click.option("--author", metavar="LOGIN", help="Our comments' author when not a bot (a personal token's login).")
def github_comment(number: int, body_file: str, footer: str | None, plan_file: str | None, author: str | None) -> None:
    """Create or update the pull request's comment with the body's marker, and label the outcome.

    \b
    Examples:
      poolform ci github comment --pr 7 --body-file plan.md --plan plan.json
    """
    body = _body(body_file, footer)
    _run(_github(number=number, author=author), lambda forge: _comment(forge, body, plan_file))


@github.command("label", cls=common.Command)
@click.option("--pr", "number", required=True, type=click.IntRange(min=1), help="The pull request number.")
@plans_argument
def github_label(number: int, plan_files: tuple[str, ...]) -> None:
    """Label the pull request from every environment's plan: destroy when any plan destroys or
    replaces, else add-or-update when any changes, else no-changes; left as it is when a plan failed.

    \b
    Examples:
      poolform ci github label --pr 7 plans/*/plan.json
    """
    _run(_github(number=number), lambda forge: _label(forge, plan_files))


@github.command("drift", cls=common.Command)
@_with(drift_options)
def github_drift(plan_file: str, title: str | None, footer: str | None, note: str | None,
                 environment: str | None) -> None:
    """Open or update the drift issue (label drift) when the plan has changes; close it when not.

    One issue per environment: the marker carries the plan's environment.
    """
    _run(_github(), lambda forge: _drift(forge, plan_file, title, footer, note, environment))


@github.command("saved-plan-run", cls=common.Command)
@click.option("--sha", required=True, help="The merge commit (github.sha).")
@click.option("--workflow", required=True, metavar="FILE", help="The plan workflow's file name, e.g. poolform-plan.yml.")
def github_saved_plan_run(sha: str, workflow: str) -> None:
    """Print pr=N and run_id=M (for $GITHUB_OUTPUT): the merged pull request and its last good plan run."""
    def find(forge: Any) -> None:
        for key, value in forge.saved_plan_run(sha, workflow).items():
            click.echo(f"{key}={value}")
    _run(_github(), find)


@ci.group("gitlab")
def gitlab() -> None:
    """GitLab CI: env CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID, POOLFORM_GITLAB_TOKEN."""


def _gitlab(**kwargs: Any) -> Callable[[], Any]:
    def make() -> Any:
        from reconciler.ci.gitlab import GitLab

        return GitLab(dict(os.environ), **kwargs)
    return make


@gitlab.command("comment", cls=common.Command)
@click.option("--mr", "iid", type=click.IntRange(min=1), help="The merge request IID (default CI_MERGE_REQUEST_IID).")
@body_option
@footer_option
@plan_option
def gitlab_comment(iid: int | None, body_file: str, footer: str | None, plan_file: str | None) -> None:
    """Create or update the merge request's note with the body's marker, and label the outcome.

    \b
    Examples:
      poolform ci gitlab comment --body-file plan.md --plan plan.json
    """
    body = _body(body_file, footer)
    _run(_gitlab(iid=iid), lambda forge: _comment(forge, body, plan_file))


@gitlab.command("label", cls=common.Command)
@click.option("--mr", "iid", type=click.IntRange(min=1), help="The merge request IID (default CI_MERGE_REQUEST_IID).")
@plans_argument
def gitlab_label(iid: int | None, plan_files: tuple[str, ...]) -> None:
    """Label the merge request from every environment's plan: destroy when any plan destroys or
    replaces, else add-or-update when any changes, else no-changes; left as it is when a plan failed.

    \b
    Examples:
      poolform ci gitlab label plans/*.json
    """
    _run(_gitlab(iid=iid), lambda forge: _label(forge, plan_files))


@gitlab.command("drift", cls=common.Command)
@_with(drift_options)
def gitlab_drift(plan_file: str, title: str | None, footer: str | None, note: str | None,
                 environment: str | None) -> None:
    """Open or update the drift issue (label drift) when the plan has changes; close it when not."""
    _run(_gitlab(), lambda forge: _drift(forge, plan_file, title, footer, note, environment))


@gitlab.command("saved-plan", cls=common.Command)
@click.option("--sha", required=True, help="The merge commit (CI_COMMIT_SHA).")
@click.option("--job", default="plan", show_default=True, help="The merge request pipeline's plan job.")
@click.option("--artifact", default="plan.json", show_default=True, help="The plan file inside the job's artifacts.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), metavar="FILE", help="Where to write the plan.")
def gitlab_saved_plan(sha: str, job: str, artifact: str, out: str) -> None:
    """Download the merged merge request's saved plan (its plan job's artifact); exit 1 when there is none."""
    from reconciler.errors import ForgeError

    def fetch(forge: Any) -> None:
        iid, content = forge.saved_plan(sha, job, artifact)
        if iid is None:
            raise ForgeError(f"commit {sha} belongs to no merged merge request: there is no saved plan to apply")
        if content is None:
            raise ForgeError(f"merge request !{iid} has no successful {job!r} job with {artifact}: re-run its pipeline")
        with open(out, "wb") as fh:
            fh.write(content)
        click.echo(f"mr={iid}")
    _run(_gitlab(), fetch)
