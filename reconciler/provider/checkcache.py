"""The provider's template checks kept between its starts.

Terraform starts the provider three times a plan; the validation start and the plan start check
the same ``base_job_template`` texts, and a check needs jsonschema, whose import is the largest
part of such a start's work. A check's diagnostics are a function of the text and of the code
that checks it, so they are kept on disk under a key made of both: the text, poolform's and the
interpreter's versions, and the files of the checking modules and of jsonschema (path, size,
modification time), so an upgrade or an edited checkout never reads an older answer.

Kept in ``$XDG_CACHE_HOME/poolform/template-checks`` (``~/.cache`` by default): a directory only
its owner may enter (0700; one owned by another user or open to others is not used), one 0600
file per text. A diagnostic may quote the template's values, which Terraform's state holds anyway.
``POOLFORM_PROVIDER_CACHE=off`` turns it off. What cannot be read, written or understood is a
miss and the check runs: never an error, never another answer. Owns no check itself
(``resources`` runs them).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
from typing import Any

ENV = "POOLFORM_PROVIDER_CACHE"
_DEPENDS_ON = ("reconciler.templates", "reconciler.template_rules", "reconciler.model.rules",
               "reconciler.provider.resources", "reconciler.provider.checkcache", "jsonschema",
               "jsonschema_specifications", "referencing")
"""The modules whose code makes a check's answer: their files are part of every key."""
_MAX_ENTRIES = 1024
"""More files than this and the directory is emptied before the next one is written."""

Diagnostic = tuple[str, str, str, tuple[Any, ...]]


def enabled() -> bool:
    return os.environ.get(ENV, "").strip().lower() not in ("off", "0", "false", "no")


def directory(create: bool = False) -> str | None:
    """The cache's directory, when it is on and only its owner can use it (else None)."""
    if not enabled():
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "poolform", "template-checks")
    try:
        if create:
            os.makedirs(path, mode=0o700, exist_ok=True)
        status = os.stat(path)
    except OSError:
        return None
    if status.st_uid != os.getuid() or status.st_mode & 0o077:
        return None
    return path


@functools.lru_cache(maxsize=1)
def _fingerprint() -> str:
    import importlib.util

    from reconciler import __version__

    parts = [__version__, sys.version]
    for name in _DEPENDS_ON:
        try:
            spec = importlib.util.find_spec(name)
            origin = spec.origin if spec is not None else None
            status = os.stat(origin) if origin else None
        except (ImportError, OSError, ValueError):
            status, origin = None, None
        parts.append(f"{name}={origin}:{status.st_size}:{status.st_mtime_ns}" if status else f"{name}=?")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _key(text: str) -> str:
    return hashlib.sha256((_fingerprint() + "\0" + text).encode("utf-8", "surrogatepass")).hexdigest()


def _diagnostics(entry: Any, key: str) -> tuple[Diagnostic, ...] | None:
    if not isinstance(entry, dict) or entry.get("key") != key or not isinstance(entry.get("diagnostics"), list):
        return None
    out = []
    for item in entry["diagnostics"]:
        if not (isinstance(item, list) and len(item) == 4 and item[0] in ("error", "warning")
                and isinstance(item[1], str) and isinstance(item[2], str) and isinstance(item[3], list)
                and all(isinstance(p, (str, int)) and not isinstance(p, bool) for p in item[3])):
            return None
        out.append((item[0], item[1], item[2], tuple(item[3])))
    return tuple(out)


def load(text: str) -> tuple[Diagnostic, ...] | None:
    """The diagnostics kept for ``text`` by the same code, or None."""
    path = directory()
    if path is None:
        return None
    key = _key(text)
    try:
        fd = os.open(os.path.join(path, key + ".json"), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as file:
            if os.fstat(file.fileno()).st_uid != os.getuid():
                return None
            entry = json.loads(file.read())
    except (OSError, ValueError):
        return None
    return _diagnostics(entry, key)


def store(text: str, diagnostics: tuple[Diagnostic, ...]) -> None:
    """Keep ``text``'s diagnostics (written whole or not at all)."""
    path = directory(create=True)
    if path is None:
        return
    key = _key(text)
    data = json.dumps({"key": key, "diagnostics": [[s, summary, detail, list(where)]
                                                   for s, summary, detail, where in diagnostics]}).encode()
    temporary = os.path.join(path, f".{key}.{os.getpid()}.{os.urandom(4).hex()}")
    try:
        names = os.listdir(path)
        if len(names) >= _MAX_ENTRIES:
            for name in names:
                try:
                    os.unlink(os.path.join(path, name))
                except OSError:
                    pass
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, os.path.join(path, key + ".json"))
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
