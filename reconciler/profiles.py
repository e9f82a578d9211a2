"""Prefect profiles (``profiles.toml``), found and chosen as the Prefect CLI does.

Owns: where the file is (``PREFECT_PROFILES_PATH``, with ``$PREFECT_HOME`` and ``~`` expanded; else
``$PREFECT_HOME/profiles.toml``; else ``~/.prefect/profiles.toml``), which profile is active
(``PREFECT_PROFILE``, else the file's ``active``), and a profile's settings as strings. Reads that
one file and nothing else; a file that cannot be read or parsed, or a profile that is not in it,
is a :class:`ProfileError` saying what to do. Connection precedence (a flag, then ``PREFECT_*``
environment variables, then the profile) is :mod:`reconciler.settings`' business.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from reconciler.errors import ProfileError

SETTINGS = ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_API_AUTH_STRING", "PREFECT_API_REQUEST_TIMEOUT",
            "PREFECT_CLIENT_MAX_RETRIES", "PREFECT_API_TLS_INSECURE_SKIP_VERIFY")
"""The profile settings poolform uses (the others are the Prefect server's or worker's)."""


@dataclass(frozen=True)
class Profile:
    """A profile's name, the file it came from, and its settings (values as strings; secrets not in repr)."""

    name: str
    path: str
    values: Mapping[str, str] = field(default_factory=dict, repr=False)


def prefect_home(environ: Mapping[str, str]) -> Path:
    raw = environ.get("PREFECT_HOME")
    return Path(os.path.expanduser(raw)) if raw else Path(os.path.expanduser("~")) / ".prefect"


def profiles_path(environ: Mapping[str, str]) -> Path:
    """The profiles file the Prefect CLI reads under ``environ``."""
    raw = environ.get("PREFECT_PROFILES_PATH")
    if raw:
        home = str(prefect_home(environ))
        return Path(os.path.expanduser(raw.replace("${PREFECT_HOME}", home).replace("$PREFECT_HOME", home)))
    return prefect_home(environ) / "profiles.toml"


def _read(path: Path) -> dict[str, object] | None:
    import tomllib

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"cannot read the Prefect profiles file {path}: {getattr(exc, 'strerror', None) or exc}. "
                           "Fix it, or point PREFECT_PROFILES_PATH at another file.") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"the Prefect profiles file {path} is not valid TOML ({exc}). Fix it (`prefect profile "
                           "ls` reads the same file), or point PREFECT_PROFILES_PATH at another file.") from None
    return data


def _profiles(data: dict[str, object], path: Path) -> dict[str, dict[str, object]]:
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(v, dict) for v in profiles.values()):
        raise ProfileError(f"the Prefect profiles file {path} has no [profiles.NAME] tables as Prefect writes them.")
    return profiles  # type: ignore[return-value]


def load_profile(environ: Mapping[str, str], name: str | None = None, *, required: bool = False) -> Profile | None:
    """The profile ``name`` (None: the active one: ``PREFECT_PROFILE``, else the file's ``active``).

    None when no profile is asked for (no name, no ``PREFECT_PROFILE``) and the file is absent or names
    no active profile, or names one it does not hold (Prefect falls back to its defaults then). A profile
    asked for by name (``name``, ``PREFECT_PROFILE``) that is not there is a :class:`ProfileError`."""
    path = profiles_path(environ)
    asked = name or environ.get("PREFECT_PROFILE") or None
    data = _read(path)
    if data is None:
        if asked is not None or required:
            where = "PREFECT_PROFILE" if name is None else "the environment's profile"
            raise ProfileError(f"Prefect profile {asked!r} ({where}) not found: there is no profiles file at {path}. "
                               "Create the profile with `prefect profile create`, or set PREFECT_PROFILES_PATH / "
                               "PREFECT_HOME to where it is.")
        return None
    profiles = _profiles(data, path)
    chosen = asked or (data.get("active") if isinstance(data.get("active"), str) else None)
    if chosen is None:
        return None
    if chosen not in profiles:
        if asked is None:
            return None  # the file's own `active` names nothing: Prefect uses its defaults
        close = difflib.get_close_matches(chosen, list(profiles), n=1, cutoff=0.6)
        hint = f' Did you mean "{close[0]}"?' if close else ""
        raise ProfileError(f"Prefect profile {chosen!r} not found in {path}.{hint} It holds: "
                           f"{', '.join(sorted(profiles)) or 'no profiles'}.")
    values = {k: _text(v) for k, v in profiles[chosen].items() if k in SETTINGS}
    return Profile(chosen, str(path), values)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


__all__ = ["Profile", "ProfileError", "SETTINGS", "load_profile", "prefect_home", "profiles_path"]
