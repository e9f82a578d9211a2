"""The ``environments:`` map of a YAML config: which environments exist, and what one adds to a load.

Owns: reading each environment (its server: ``api_url`` or a Prefect ``profile``; the NAMES of the
environment variables that hold its credentials; its overlay ``files``, relative to the file that
declares it; its HCL ``variables``), refusing a credential written into the file (at file:line,
without echoing it), and :func:`find_environments`, the light first pass that reads only the
YAML files of a configuration to learn its environments before the full load (which then reads
the base files plus the chosen environment's overlays). Environments live in YAML only: an HCL
configuration keeps its environments in a YAML file beside it (``.tfvars`` files and
``variables`` select per-environment values). No network, no printing; reading the
configuration's own files only.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from reconciler.config.files import ReadPolicy, ReadRefused, did_you_mean, read_policy, read_text
from reconciler.config.source import RawDoc, merge
from reconciler.config.var_files import VAR_FILE_SUFFIXES, VarValue
from reconciler.diagnostics import Code, Diagnostics, SourceRange
from reconciler.model.document import ENVIRONMENT_NAME_PATTERN, ENV_VAR_NAME_PATTERN

SECRET_KEYS = ("api_key", "auth_string", "basic_auth_key", "password", "token", "key", "secret")
"""Keys that would hold a credential's value: refused in an environment, with the right key named."""

_ENV_NAME = re.compile(ENVIRONMENT_NAME_PATTERN)
_VAR_NAME = re.compile(ENV_VAR_NAME_PATTERN)
_KEY_PREFIXES = ("pnu_", "pnb_")
"""Prefect Cloud API keys (user, service account) start so."""


@dataclass(frozen=True)
class Environment:
    """One declared environment, its relative paths resolved against the declaring file's directory."""

    name: str
    where: SourceRange
    api_url: str | None = None
    profile: str | None = None
    api_key_env: str | None = None
    auth_string_env: str | None = None
    files: tuple[str, ...] = ()
    """Config files and directories, read after the ``-f`` files (later wins)."""
    var_files: tuple[str, ...] = ()
    """``.tfvars``/``.tfvars.json`` of ``files``: HCL variable files, before the command line's."""
    variables: Mapping[str, VarValue] = field(default_factory=dict)
    description: str | None = None


def secret_key_problem(key: str) -> tuple[str, str]:
    """The summary and detail for a credential-holding key written in an environment."""
    kind = "auth_string_env" if key in ("auth_string", "basic_auth_key", "password") else "api_key_env"
    return (f"{key!r} would put a credential in the config file",
            f"Credentials are never read from a config file. Put the value in a CI secret or an environment "
            f"variable and name that variable with {kind}: (for example {kind}: "
            f"{'PREFECT_AUTH_STRING_PROD' if kind == 'auth_string_env' else 'PREFECT_API_KEY_PROD'}).")


def _looks_secret(value: str) -> bool:
    return value.lower().startswith(_KEY_PREFIXES) or ":" in value or len(value) > 64


def read_environments(doc: RawDoc, diags: Diagnostics, bad: set[tuple[Any, ...]] | None = None) -> dict[str, Environment]:
    """The environments of a merged document, each checked; those with errors are left out.
    ``bad``: paths the structure check already reported (not reported again)."""
    raw = doc.data.get("environments")
    if not isinstance(raw, dict):
        return {}
    found: dict[str, Environment] = {}
    for name, spec in raw.items():
        path = ("environments", name)
        if bad is not None and path in bad:
            continue
        if not isinstance(spec, dict):
            if bad is None:
                diags.error(f"environment {name!r} must be a mapping", "Give it api_url or profile, and files.",
                            range=doc.where(path))
            continue
        env = _environment(str(name), spec, doc, diags, check_keys=bad is None)
        if env is not None:
            found[str(name)] = env
    return found


def _environment(name: str, spec: dict[str, Any], doc: RawDoc, diags: Diagnostics, *,
                 check_keys: bool) -> Environment | None:
    path = ("environments", name)
    before = len(diags.errors)
    if not _ENV_NAME.match(name):
        diags.error(f"invalid environment name {name!r}",
                    "An environment name starts with a letter or digit and holds letters, digits, '_', '.' and '-' "
                    "(it is used in --env and in plan comments).", range=doc.where(path, key=True))
    if check_keys:  # the first pass: the full load's structure check reports the rest
        for key in spec:
            if key in SECRET_KEYS:
                summary, detail = secret_key_problem(key)
                diags.error(f"environment {name!r}: {summary}", detail, range=doc.where(path + (key,), key=True))
    api_url, profile = spec.get("api_url"), spec.get("profile")
    if api_url is None and profile is None:
        diags.error(f"environment {name!r} names no server",
                    "Give it api_url (the Prefect API URL) or profile (a Prefect profile with PREFECT_API_URL).",
                    range=doc.where(path, key=True))
    if api_url is not None and profile is not None:
        diags.error(f"environment {name!r} has both api_url and profile",
                    "Give one: api_url names the server, or profile names a Prefect profile that does.",
                    range=doc.where(path + ("profile",), key=True))
    if isinstance(api_url, str):
        from urllib.parse import urlsplit

        parts = urlsplit(api_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            diags.error(f"environment {name!r}: api_url is not an http(s) URL",
                        "Write the Prefect API URL, e.g. https://prefect.example.com/api or "
                        "https://api.prefect.cloud/api/accounts/ID/workspaces/ID.",
                        range=doc.where(path + ("api_url",)))
        elif parts.password is not None or parts.username is not None:
            diags.error(f"environment {name!r}: api_url carries user info, a credential in the config file",
                        "Remove the user:password@ part and name the variable that holds it with auth_string_env:.",
                        range=doc.where(path + ("api_url",)))
    for key in ("api_key_env", "auth_string_env"):
        value = spec.get(key)
        if not isinstance(value, str):
            continue
        if _looks_secret(value) or not _VAR_NAME.match(value):
            shown = "" if _looks_secret(value) else f" {value!r}"
            diags.error(f"environment {name!r}: {key} must be the NAME of an environment variable{shown}",
                        (f"This looks like a credential itself: it must never be in the file (rotate it if it was "
                         f"committed). " if _looks_secret(value) else "")
                        + f"Write a variable name such as {'PREFECT_API_KEY_PROD' if key == 'api_key_env' else 'PREFECT_AUTH_STRING_PROD'} "
                        "(letters, digits and '_') and set that variable where poolform runs.",
                        range=doc.where(path + (key,)))
    files: list[str] = []
    var_files: list[str] = []
    listed = spec.get("files")
    if check_keys and listed is not None and not (isinstance(listed, list) and all(isinstance(f, str) for f in listed)):
        diags.error(f"environment {name!r}: files must be a list of paths",
                    "For example files: [overlays/prod.yaml].", range=doc.where(path + ("files",)))
    if check_keys and spec.get("variables") is not None and not isinstance(spec.get("variables"), dict):
        diags.error(f"environment {name!r}: variables must be a mapping",
                    "For example variables: {image_tag: 1.4.2}.", range=doc.where(path + ("variables",)))
    for index, entry in enumerate(listed if isinstance(listed, list) else []):
        if not isinstance(entry, str) or not entry:
            continue
        where = doc.where(path + ("files", index))
        base = os.path.dirname(where.filename)
        resolved = os.path.normpath(entry if os.path.isabs(entry) else os.path.join(base, entry))
        if not os.path.lexists(resolved):
            hint = ""
            parent = os.path.dirname(resolved) or "."
            if os.path.isdir(parent):
                try:
                    hint = did_you_mean(os.path.basename(resolved), os.listdir(parent))
                except OSError:
                    hint = ""
            diags.error(f"environment {name!r}: file not found: {entry}",
                        f"Paths in files are relative to {where.filename} (here: {resolved}).{hint}",
                        range=where, code=Code.UNREADABLE_INPUT)
            continue
        (var_files if resolved.endswith(VAR_FILE_SUFFIXES) else files).append(resolved)
    variables: dict[str, VarValue] = {}
    raw_vars = spec.get("variables")
    if isinstance(raw_vars, dict):
        for var, value in raw_vars.items():
            variables[str(var)] = VarValue(value, doc.where(path + ("variables", var), key=True))
    if len(diags.errors) > before:
        return None
    return Environment(name=name, where=doc.where(path, key=True),
                       api_url=api_url.strip() if isinstance(api_url, str) else None,
                       profile=profile if isinstance(profile, str) else None,
                       api_key_env=spec.get("api_key_env") if isinstance(spec.get("api_key_env"), str) else None,
                       auth_string_env=(spec.get("auth_string_env") if isinstance(spec.get("auth_string_env"), str)
                                        else None),
                       files=tuple(files), var_files=tuple(var_files), variables=variables,
                       description=spec.get("description") if isinstance(spec.get("description"), str) else None)


def find_environments(paths: Sequence[str], diags: Diagnostics, *,
                      allow_read: Sequence[str] = ()) -> dict[str, Environment]:
    """The environments the YAML files of a configuration declare (``paths`` as ``-f``; none: the
    working directory's poolform configs). Problems of other parts are left to the full load."""
    from reconciler.config.load import expand_paths, is_poolform_config
    from reconciler.config.yaml_source import parse_yaml_text

    discover = not paths
    docs: list[RawDoc] = []
    with read_policy(ReadPolicy.for_config(paths, allow_read)):
        local = Diagnostics()
        for name in expand_paths(list(paths) or ["."], local):
            if name.endswith((".tf", ".tf.json")):
                continue
            text = read_text(name, local)
            if text is None:
                continue
            doc = parse_yaml_text(text, name, local)
            if doc is None or not isinstance(doc.data, dict) or (discover and not is_poolform_config(doc.data, text)):
                continue
            docs.append(doc)
        if not docs:
            return {}
        merged = merge(docs)
        found = read_environments(merged, diags)
        policy = ReadPolicy.for_config(paths, allow_read)
        for env in list(found.values()):
            for path in env.files + env.var_files:
                try:
                    policy.check(path)
                except ReadRefused as refused:
                    diags.error(f"environment {env.name!r}: {refused.summary}", refused.detail, range=env.where,
                                code=refused.code)
                    found.pop(env.name, None)
    return found


def unknown_environment(name: str, known: Sequence[str]) -> str:
    """The message for ``--env NAME`` naming no declared environment."""
    if not known:
        return (f"unknown environment {name!r}: the configuration declares no environments. Declare it under "
                "environments: in a YAML config file (see docs/config.md, Environments).")
    return (f"unknown environment {name!r}.{did_you_mean(name, known)} Declared: {', '.join(sorted(known))}.")


__all__ = ["Environment", "SECRET_KEYS", "find_environments", "read_environments", "secret_key_problem",
           "unknown_environment"]
