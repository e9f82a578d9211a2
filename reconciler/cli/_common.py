"""Shared pieces of the commands that talk to a server: options, output, errors, the client.

Owns: the click options ``-f`` (with ``--allow-read``), ``--var``, ``--var-file``, ``--api-url``,
``--json``, ``--no-color``; colour and automation decisions; printing diagnostics (warnings to
stdout, errors to stderr); turning faults into ONE ``Error: ...`` line and exit 1, each with its
diagnostic code (:class:`reconciler.diagnostics.Code`) in JSON output; and building the API
client (``CLIENT_FACTORY`` lets tests inject an in-process one) with its progress and retry
lines on stderr.
Must not hold plan or apply logic. Heavy imports stay inside functions.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, NoReturn, Sequence, TextIO

import click

from reconciler.diagnostics import Code

if TYPE_CHECKING:
    from reconciler.api.client import PrefectClient
    from reconciler.diagnostics import Diagnostics
    from reconciler.model.state import DesiredState
    from reconciler.config.environments import Environment
    from reconciler.settings import ConnectionSettings, ProviderBlock

CLIENT_FACTORY: "Callable[[ConnectionSettings], PrefectClient] | None" = None
"""When set (tests), builds the client instead of a network ``httpx.Client``."""

STDIN_IS_TTY: Callable[[], bool] = lambda: sys.stdin.isatty()  # noqa: E731


_ALLOW_READ = "poolform.allow_read"


def _remember_allow_read(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    ctx.meta[_ALLOW_READ] = tuple(value)
    return value


def files_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``-f PATH`` (repeatable) and ``--allow-read DIR`` (repeatable; read by :func:`allow_read`)."""
    fn = click.option(
        "--allow-read", multiple=True, metavar="DIR", expose_value=False, callback=_remember_allow_read,
        type=click.Path(exists=True),
        help="Also let file references (file:, file(), templatefile()) read under DIR; repeatable. "
             "By default they read only inside the -f paths' directories and the working directory.",
    )(fn)
    return click.option(
        "-f", "--file", "files", multiple=True, metavar="PATH",
        help="Config file or directory (*.yaml, *.yml, *.tf); repeat to merge, later wins. Default: the poolform "
             "configs in the current directory (YAML files with work_pools, base_job_templates or manage; *.tf).",
    )(fn)


def allow_read() -> tuple[str, ...]:
    """The ``--allow-read`` paths of the command running now."""
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if _ALLOW_READ in ctx.meta:
            return tuple(ctx.meta[_ALLOW_READ])
        ctx = ctx.parent
    return ()


def var_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--var", "-var", "variables", multiple=True, metavar="NAME=VALUE",
                        help="Set an HCL input variable (repeatable).")(fn)


def var_file_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--var-file", "-var-file", "var_files", multiple=True, metavar="FILE",
                        help="Set HCL input variables from a .tfvars or .tfvars.json file (repeatable). "
                             "--var and --var-file apply in command-line order, later wins; both beat "
                             "*.auto.tfvars, terraform.tfvars and TF_VAR_*.")(fn)


def allow_unknown_type_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--allow-unknown-type", is_flag=True,
                        help="Accept a pool type that is no known worker type (a custom worker's). In HCL, "
                        "allow_unknown_type = true in the provider \"prefect\" block does the same.")(fn)


_VAR_ORDER = "poolform.variable_order"


class Command(click.Command):
    """A command that remembers the order of ``--var`` and ``--var-file`` on its command line,
    so that later assignments win across both, as terraform's ``-var`` and ``-var-file`` do."""

    def make_parser(self, ctx: click.Context) -> Any:
        parser = super().make_parser(ctx)
        parse = parser.parse_args

        def parse_args(args: list[str]) -> Any:
            opts, largs, order = parse(args=args)
            ctx.meta[_VAR_ORDER] = [p.name for p in order if p.name in ("variables", "var_files")]
            return opts, largs, order

        parser.parse_args = parse_args  # type: ignore[method-assign]
        return parser


def variable_inputs(variables: Sequence[str], var_files: Sequence[str] = ()) -> list[tuple[str, str]]:
    """``("var", "NAME=VALUE")`` and ``("var-file", PATH)`` in command-line order."""
    ctx = click.get_current_context(silent=True)
    order = ctx.meta.get(_VAR_ORDER) if ctx is not None else None
    if order is None or len(order) != len(variables) + len(var_files):
        return [("var", v) for v in variables] + [("var-file", f) for f in var_files]
    left = {"variables": iter(variables), "var_files": iter(var_files)}
    return [("var" if name == "variables" else "var-file", next(left[name])) for name in order]


def api_url_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--api-url", metavar="URL",
                        help="Prefect API URL (default: PREFECT_API_URL, else http://127.0.0.1:4200/api).")(fn)


def no_color_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--no-color", is_flag=True, help="No ANSI colours (also off when NO_COLOR is set, TERM=dumb or output is not a terminal).")(fn)


def compact_warnings_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--compact-warnings", is_flag=True,
                        help="Show warnings as one summary line each (with file:line), as terraform's "
                             "-compact-warnings; errors stay in full.")(fn)


def link_base_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--link-base", metavar="URL", envvar="POOLFORM_LINK_BASE",
                        help="With --format markdown: link each file:line to URL/FILE#LLINE, e.g. the pull request "
                             "head's https://github.com/OWNER/REPO/blob/SHA (env POOLFORM_LINK_BASE).")(fn)


def link_root() -> str:
    """The directory markdown links treat relative file names as relative to (the current one)."""
    return os.getcwd()


CHDIR = "poolform.chdir"
"""``ctx.meta`` key: the ``--chdir`` directory given before the command, if any."""


def global_arguments() -> list[str]:
    """The global options given before the command (``-chdir=DIR``), to repeat in a suggested command."""
    ctx = click.get_current_context(silent=True)
    chdir = ctx.meta.get(CHDIR) if ctx is not None else None
    return [f"-chdir={chdir}"] if chdir else []


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(fn)


# -- output ---------------------------------------------------------------------


def use_color(no_color: bool, stream: TextIO | None = None) -> bool:
    """ANSI colour only on a terminal, never with --no-color, NO_COLOR, TERM=dumb or in automation."""
    if no_color or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb" or automation():
        return False
    stream = stream or sys.stdout
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def automation() -> bool:
    from reconciler.settings import in_automation

    return in_automation()


def echo(text: str = "", *, err: bool = False, nl: bool = True) -> None:
    click.echo(text, err=err, nl=nl)


_JSON_ERRORS: list[Callable[[dict[str, Any]], None]] = []
"""While a ``--json`` command runs: where its error diagnostics also go, as JSON on stdout."""


@contextlib.contextmanager
def json_errors(sink: Callable[[dict[str, Any]], None]) -> Iterator[None]:
    """Also hand every error (``fail``, error diagnostics) to ``sink`` while the block runs."""
    _JSON_ERRORS.append(sink)
    try:
        yield
    finally:
        _JSON_ERRORS.remove(sink)


@contextlib.contextmanager
def json_error_document() -> Iterator[None]:
    """For a command whose stdout is one JSON document: on a failing exit, print
    ``{"format_version", "poolform_version", "errored": true, "diagnostics": [...]}`` so stdout still parses."""
    import json

    from reconciler import __version__
    from reconciler.plan.document import FORMAT_VERSION

    collected: list[dict[str, Any]] = []
    try:
        with json_errors(collected.append):
            yield
    except SystemExit as exc:
        if exc.code not in (0, None) and collected:
            click.echo(json.dumps({"format_version": FORMAT_VERSION, "poolform_version": __version__, "errored": True,
                                   "applyable": False, "diagnostics": collected}, indent=2, ensure_ascii=False))
        raise


def _to_json_sinks(diagnostic: dict[str, Any]) -> None:
    if _JSON_ERRORS:
        _JSON_ERRORS[-1](diagnostic)


def fail(message: str, exit_code: int = 1, *, code: str = Code.ERROR) -> NoReturn:
    """Print ``Error: message`` on stderr (and to the JSON sink, if any, with ``code``) and exit."""
    _to_json_sinks({"severity": "error", "summary": message, "detail": "", "address": None, "range": None,
                    "path": [], "code": str(code)})
    click.echo(f"Error: {message}", err=True)
    sys.exit(exit_code)


def usage(message: str) -> NoReturn:
    """A usage error found after parsing (options that exclude each other, a malformed value): exit 1."""
    fail(message, code=Code.USAGE)


def usage_error_json(command: str, exc: click.UsageError) -> None:
    """With ``--json``, a usage error is also printed as the JSON the command would print, code ``usage``."""
    import json

    from reconciler import __version__

    diagnostic = {"severity": "error", "summary": exc.format_message(),
                  "detail": f"See `poolform {command} --help`.", "address": None, "range": None, "path": [],
                  "code": str(Code.USAGE)}
    if command == "apply":
        from reconciler.apply.hooks import JsonLinesHooks

        hooks = JsonLinesHooks()
        hooks.version()
        hooks.emit("diagnostic", diagnostic["summary"], level="error", diagnostic=diagnostic)
        return
    if command == "validate":
        document: dict[str, Any] = {"format_version": "1.0", "valid": False, "error_count": 1, "warning_count": 0,
                                    "pool_count": 0, "queue_count": 0, "diagnostics": [diagnostic]}
    else:
        from reconciler.plan.document import FORMAT_VERSION

        document = {"format_version": FORMAT_VERSION, "poolform_version": __version__, "errored": True, "applyable": False,
                    "diagnostics": [diagnostic]}
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


def masked(text: str) -> str:
    """``text`` with secret values masked, for what goes to a file rather than to stdout (``import -o``)."""
    from reconciler.secrets import Masker

    return Masker.from_environ(os.environ).mask(text)


def print_diagnostics(diags: Any, *, color: bool = False, warnings_to_stderr: bool = False) -> None:
    """Warnings to stdout (stderr when stdout carries JSON or markdown), errors to stderr, all of them."""
    items = diags.to_json() if hasattr(diags, "to_json") else list(diags or [])
    if not items:
        return
    render = _diagnostics_renderer()
    warnings = [d for d in items if d.get("severity") != "error"]
    errors = [d for d in items if d.get("severity") == "error"]
    for diagnostic in errors:
        _to_json_sinks(diagnostic)
    for group, err in ((warnings, warnings_to_stderr), (errors, True)):
        if not group:
            continue
        if render is not None:
            text = render(group, color=color)
        else:
            text = "\n\n".join(_format_diagnostic(d) for d in group)
        click.echo(text.rstrip("\n"), err=err)


def _diagnostics_renderer() -> Callable[..., str] | None:
    try:
        from reconciler.views.diagnostics import render_diagnostics
    except ImportError:
        return None
    return render_diagnostics


def _format_diagnostic(d: dict[str, Any]) -> str:
    rng = d.get("range")
    where = f"{rng['filename']}:{rng['start']['line']}:{rng['start']['column']}: " if rng else ""
    addr = f" [{d['address']}]" if d.get("address") else ""
    text = f"{where}{d.get('severity', 'error')}: {d.get('summary', '')}{addr}"
    if d.get("detail"):
        text += "\n  " + str(d["detail"]).replace("\n", "\n  ")
    return text


# -- errors ---------------------------------------------------------------------


@contextlib.contextmanager
def errors_to_exit() -> Iterator[None]:
    """Turn faults into one ``Error:`` line and exit 1 (never a traceback)."""
    from reconciler.errors import ConfigError, PoolformError

    try:
        yield
    except ConfigError as exc:
        print_diagnostics(exc.diagnostics)
        sys.exit(1)
    except PoolformError as exc:
        fail(str(exc), code=fault_code(exc))
    except KeyboardInterrupt:
        raise
    except OSError as exc:
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        fail(f"cannot read or write{where}: {exc.strerror or exc}", code=Code.IO_ERROR)


def fault_code(exc: BaseException) -> Code:
    """The diagnostic code of a fault from the exception tree (reconciler/errors.py)."""
    from reconciler import errors

    for name, code in (("StalePlanError", Code.STALE_PLAN), ("InvalidPlanError", Code.INVALID_PLAN_FILE),
                       ("ApplyError", Code.APPLY_FAILED), ("TransportError", Code.API_UNREACHABLE),
                       ("Unauthorized", Code.API_UNAUTHORIZED),
                       ("ApiError", Code.API_ERROR), ("ConfigError", Code.INVALID_CONFIG)):
        kind = getattr(errors, name, None)
        if kind is not None and isinstance(exc, kind):
            return code
    return Code.ERROR


# -- inputs ---------------------------------------------------------------------


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while the block runs (restored after).

    Loading a config and reading pools allocate many small acyclic objects; the
    collector's passes over them were about 40% of loading 1,000 pools.
    """
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_config(files: Sequence[str], variables: Sequence[str], var_files: Sequence[str] = (), *,
                allow_unknown_type: bool = False,
                environment: "Environment | None" = None) -> "tuple[DesiredState | None, Diagnostics]":
    """Load and check the config (no printing): ``-f`` paths, ``--var``/``--var-file`` in order; with
    ``environment``, its overlays after the ``-f`` paths and its variables before the command line's."""
    from reconciler.config.load import load
    from reconciler.config.var_files import command_line_variables
    from reconciler.diagnostics import Diagnostics

    diags = Diagnostics()
    overlays, inputs = environment_inputs(environment, var_files, variables)
    given = command_line_variables(inputs, diags)
    with gc_paused():
        desired, loaded = load(list(files), variables=given, allow_unknown_types=allow_unknown_type,
                               allow_read=allow_read(), overlays=overlays)
    diags.append(loaded)
    if desired is not None:
        declare_credential_sources(*desired.credential_sources)
    if desired is not None and not loaded.has_errors and desired.policy:
        from reconciler.check_policy import check_policy

        diags.append(check_policy(desired, desired.policy, environment=environment.name if environment else None))
    return (None if diags.has_errors else desired), diags


def load_config(files: Sequence[str], variables: Sequence[str], *, var_files: Sequence[str] = (),
                allow_unknown_type: bool = False, color: bool = False, machine_output: bool = False,
                warnings: "list[dict[str, Any]] | None" = None,
                environment: "Environment | None" = None) -> "DesiredState":
    """Load and check the config; print every diagnostic; exit 1 on any error.

    ``warnings``: when given, the config's warnings go there (as JSON diagnostics, for the plan
    to carry) instead of being printed.
    """
    desired, diags = read_config(files, variables, var_files, allow_unknown_type=allow_unknown_type,
                                 environment=environment)
    if diags.has_errors or desired is None:
        print_diagnostics(diags, color=color, warnings_to_stderr=True)
        n = len(diags.errors)
        codes = {d.effective_code for d in diags.errors}
        fail(f"the configuration has {n} error{'s' if n != 1 else ''}; nothing was read from or sent to the server." if n
             else "the configuration could not be read.",
             code=codes.pop() if len(codes) == 1 else Code.INVALID_CONFIG)
    if warnings is not None:
        warnings.extend(diags.to_json())
    else:
        print_diagnostics(diags, color=color, warnings_to_stderr=machine_output)
    return desired


def connection(api_url: str | None, provider: "ProviderBlock | None" = None,
               environment: "Environment | None" = None) -> "ConnectionSettings":
    """Flag, then the config's provider block, then PREFECT_*, then the active Prefect profile
    (``ConnectionSettings.from_env`` says why); with ``environment``, that environment's server and
    credentials only (:func:`environment_connection`)."""
    from reconciler.profiles import load_profile
    from reconciler.settings import ConnectionSettings, redact_url

    if environment is not None:
        return environment_connection(environment)
    if api_url and provider is not None and provider.endpoint:
        echo(f"Warning: --api-url overrides the provider \"prefect\" block at {provider.where} (endpoint "
             f"{redact_url(provider.endpoint)}); its credentials are not used.", err=True)
    profile = load_profile(os.environ)
    if profile is not None:
        declare_credentials(profile.values.get("PREFECT_API_KEY"), profile.values.get("PREFECT_API_AUTH_STRING"),
                            "PREFECT_API_KEY", "PREFECT_API_AUTH_STRING")
    try:
        return ConnectionSettings.from_env(api_url, provider=provider, profile=profile.values if profile else None)
    except ValueError as exc:
        usage(str(exc))


def declare_credentials(api_key: str | None, auth_string: str | None, key_name: str, auth_name: str) -> None:
    """Mask an API key and a basic-auth ``user:password`` (whole, and its password alone) in every output,
    shown as ``[masked:NAME]``: for credentials taken from where output masking does not look by itself
    (a Prefect profile, a variable an environment names whatever its name)."""
    from reconciler.secrets import declare

    if api_key:
        declare(api_key.strip(), key_name)
    if auth_string:
        declare(auth_string.strip(), auth_name)
        declare(auth_string.strip().partition(":")[2], auth_name)


CREDENTIAL_VARIABLES = ("PREFECT_API_KEY", "PREFECT_API_AUTH_STRING", "PREFECT_BASIC_AUTH_KEY", "PREFECT_API_URL")


def environment_connection(environment: "Environment") -> "ConnectionSettings":
    """An environment's settings: its ``api_url`` (or its profile's), and credentials from the variables
    it names (or its profile's), never PREFECT_API_URL / PREFECT_API_KEY / PREFECT_API_AUTH_STRING, so one
    environment's server or key never goes to another. Timeouts, retries and TLS: PREFECT_* as usual."""
    from dataclasses import replace

    from reconciler.errors import ProfileError
    from reconciler.profiles import load_profile
    from reconciler.settings import ConnectionSettings

    where = f"{environment.where.filename}:{environment.where.start.line}"
    values: dict[str, str] = {}
    if environment.profile is not None:
        profile = load_profile(os.environ, environment.profile)
        assert profile is not None
        values = dict(profile.values)
    url = environment.api_url or values.get("PREFECT_API_URL")
    if not url:
        raise ProfileError(f"environment {environment.name!r} ({where}) names no server: give it api_url, or a "
                           f"profile with PREFECT_API_URL" + (f" (profile {environment.profile!r} has none)"
                                                               if environment.profile else "") + ".")
    secrets = {"api_key": values.get("PREFECT_API_KEY"), "auth_string": values.get("PREFECT_API_AUTH_STRING")}
    for attribute, variable in (("api_key", environment.api_key_env), ("auth_string", environment.auth_string_env)):
        if variable is None:
            continue
        value = os.environ.get(variable, "")
        if not value.strip():
            raise ProfileError(f"environment {environment.name!r} ({where}) takes its "
                               f"{'API key' if attribute == 'api_key' else 'basic auth user:password'} from "
                               f"${variable}, which is not set. Set it (a CI secret) where poolform runs.")
        secrets[attribute] = value.strip()
    declare_credentials(values.get("PREFECT_API_KEY"), values.get("PREFECT_API_AUTH_STRING"),
                        "PREFECT_API_KEY", "PREFECT_API_AUTH_STRING")
    others = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARIABLES}
    try:
        base = ConnectionSettings.from_env(url, environ=others,
                                           profile={k: v for k, v in values.items() if k not in CREDENTIAL_VARIABLES})
    except ValueError as exc:
        usage(str(exc))
    return replace(base, api_key=secrets["api_key"] or None, auth_string=secrets["auth_string"] or None)


def env_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--env", "env_name", metavar="NAME",
                        help="Use the environment NAME of the config's environments: map: its server, its credentials "
                             "(from the environment variables it names) and its overlay files (after the -f files).")(fn)


def server_env_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--env NAME`` for a command without config files: the environments: map of the working directory's config."""
    return click.option("--env", "env_name", metavar="NAME",
                        help="Talk to the server of environment NAME (its URL or Prefect profile, its credentials) "
                             "of the environments: map in the working directory's config (-chdir DIR for another).")(fn)


def select_environment(name: str | None, files: Sequence[str]) -> "Environment | None":
    """The environment ``--env NAME`` names in the config's ``environments:`` (exit 1, with a did-you-mean,
    when there is none of that name, or when the environments cannot be read)."""
    if name is None:
        return None
    from reconciler.config.environments import unknown_environment
    from reconciler.diagnostics import Diagnostics

    diags = Diagnostics()
    found = environments_of(files, diags)
    if diags.has_errors:
        print_diagnostics(diags, warnings_to_stderr=True)
        fail(f"the environments of the configuration have {len(diags.errors)} error"
             f"{'s' if len(diags.errors) != 1 else ''}; nothing was read from or sent to the server.",
             code=Code.INVALID_CONFIG)
    if name not in found:
        # declared but broken environments were reported above; here the name is simply not declared
        usage(unknown_environment(name, list(found)))
    return found[name]


def environments_of(files: Sequence[str], diags: "Diagnostics") -> "dict[str, Environment]":
    """The configuration's environments (``find_environments``), every environment's credentials declared
    to output masking before any is used (one environment's output never shows another's key): the values
    of the variables each names, whatever their names, and its profile's key and auth string."""
    from reconciler.config.environments import find_environments

    found = find_environments(files, diags, allow_read=allow_read())
    declare_credential_sources([v for e in found.values() for v in (e.api_key_env, e.auth_string_env) if v],
                               [e.profile for e in found.values() if e.profile is not None])
    return found


def declare_credential_sources(variables: Iterable[str], profiles: Iterable[str]) -> None:
    """Declare to output masking the values of these environment variables (whatever their names: each
    value a key or a ``user:password``) and the key and auth string of these Prefect profiles."""
    from reconciler.errors import ProfileError
    from reconciler.profiles import load_profile

    for variable in variables:
        value = os.environ.get(variable)
        declare_credentials(None, value, "", variable)  # as an auth string: whole, and the part after ':'
    for name in profiles:
        try:
            profile = load_profile(os.environ, name)
        except ProfileError:
            continue  # reported when that environment's connection is made
        if profile is not None:
            declare_credentials(profile.values.get("PREFECT_API_KEY"), profile.values.get("PREFECT_API_AUTH_STRING"),
                                "PREFECT_API_KEY", "PREFECT_API_AUTH_STRING")


def server_environment(env_name: str | None, api_url: str | None, files: Sequence[str] = ()) -> "Environment | None":
    """``--env NAME`` for a command that talks to a server: the environment (see :func:`select_environment`);
    a usage error with ``--api-url`` too (an environment names its own server)."""
    if env_name and api_url:
        usage("--api-url cannot be used with --env: an environment names its own server")
    return select_environment(env_name, files)


def environment_inputs(environment: "Environment | None", var_files: Sequence[str],
                       variables: Sequence[str]) -> "tuple[list[str], list[tuple[str, Any]]]":
    """The environment's overlays (read after the ``-f`` files), and the variable inputs in order:
    the environment's ``.tfvars`` files and ``variables`` first, the command line's after (they win)."""
    inputs: list[tuple[str, Any]] = list(variable_inputs(variables, var_files))
    if environment is None:
        return [], inputs
    own: list[tuple[str, Any]] = [("var-file", path) for path in environment.var_files]
    own += [("value", (name, value)) for name, value in environment.variables.items()]
    return list(environment.files), own + inputs


DEFAULT_PARALLELISM = 10


def parallelism_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--parallelism", type=click.IntRange(1, 64), default=None, metavar="N",
                        help=f"Concurrent API calls (default {DEFAULT_PARALLELISM}, or POOLFORM_PARALLELISM).")(fn)


def parallelism(value: int | None = None) -> int:
    if value is not None:
        return value
    raw = os.environ.get("POOLFORM_PARALLELISM", "").strip()
    if not raw:
        return DEFAULT_PARALLELISM
    try:
        n = int(raw)
    except ValueError:
        usage(f"POOLFORM_PARALLELISM={raw!r} is not a whole number")
    if not 1 <= n <= 64:
        usage(f"POOLFORM_PARALLELISM={raw!r} must be between 1 and 64")
    return n


def make_client(api_url: str | None, *, workers: int | None = None, provider: "ProviderBlock | None" = None,
                progress: bool = False, environment: "Environment | None" = None) -> "PrefectClient":
    """The API client, reporting each retry (and with ``progress``, the reading) on stderr."""
    from reconciler.views.progress import ProgressReporter

    settings = connection(api_url, provider, environment)
    if CLIENT_FACTORY is not None:
        client = CLIENT_FACTORY(settings)
    else:
        from reconciler.api.client import PrefectClient

        client = PrefectClient(settings, max_workers=parallelism(workers))
    # rewritten in place only where colour would be allowed (a terminal, not CI, not TERM=dumb or NO_COLOR)
    client.events = ProgressReporter(sys.stderr, tty=use_color(False, sys.stderr), progress=progress)
    return client


def finish_progress(client: "PrefectClient") -> None:
    """End the reading phase's progress line (before the plan is printed); retries are still announced."""
    finish = getattr(client.events, "finish", None)
    if finish is not None:
        finish()


def check_targets(targets: Sequence[str]) -> list[str]:
    from reconciler.model.state import parse_address

    for target in targets:
        try:
            parse_address(target)
        except ValueError as exc:
            usage(f"invalid --target {target!r}: {exc}")
    return list(targets)
