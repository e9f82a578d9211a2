"""Secret values kept out of everything poolform prints.

Owns: which environment variables hold secrets (:func:`is_secret_name`: ``PREFECT_API_KEY``,
``PREFECT_API_AUTH_STRING``, ``PREFECT_BASIC_AUTH_KEY`` and any ``*_TOKEN``, ``*_SECRET``,
``*_PASSWORD``, ``*_KEY``), the forms a value takes once rendered (as written; JSON-, Python-,
YAML- and markdown-escaped; with control characters escaped; base64- and URL-encoded; line by
line), the :class:`Masker` that replaces each occurrence with ``[masked:NAME]``, and
:class:`MaskedStream`, the text stream the CLI puts in front of stdout and stderr for every
command (``reconciler.cli.main``): the one place output is masked, whatever printed it.

Values shorter than :data:`MIN_SECRET_LENGTH` are not masked: masking every ``true`` or ``1``
would garble the output and, by marking each place the value occurs, give it away.
No I/O of its own.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any, Iterable, Mapping, TextIO

SECRET_NAMES = ("PREFECT_API_KEY", "PREFECT_API_AUTH_STRING", "PREFECT_BASIC_AUTH_KEY")
SECRET_SUFFIXES = ("_TOKEN", "_SECRET", "_PASSWORD", "_KEY")
MIN_SECRET_LENGTH = 6

_LONG_TEXT = 4096

MASK_PATTERN = re.compile(r"\[masked:([A-Za-z_][A-Za-z0-9_.]*)\]")
"""What a masked value looks like in output; a config or plan file holding one is refused."""


def mask_token(name: str) -> str:
    return f"[masked:{name}]"


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return upper in SECRET_NAMES or upper.endswith(SECRET_SUFFIXES) or upper in {s[1:] for s in SECRET_SUFFIXES}


def secret_values(environ: Mapping[str, str]) -> dict[str, str]:
    """Secret value -> the name of the (alphabetically first) variable holding it, then every
    value a configuration declared secret (:func:`declare`)."""
    found: dict[str, str] = {}
    for name in sorted(environ):
        value = environ[name]
        if is_secret_name(name) and isinstance(value, str) and len(value.strip()) >= MIN_SECRET_LENGTH:
            found.setdefault(value, name)
    for value, name in _declared.items():
        found.setdefault(value, name)
    return found


_declared: dict[str, str] = {}
_active: "list[Masker]" = []


def declare(value: Any, name: str) -> None:
    """Treat ``value`` as a secret for the rest of the process, shown as ``[masked:NAME]``.

    For values a configuration marks secret rather than the environment: the HCL provider
    block's ``api_key``/``basic_auth_key`` and ``sensitive = true`` variables. Strings in a
    list or map are declared one by one. Maskers in use (the CLI's output streams) take it
    at once. Only while a live masker is in use (a CLI command runs); forgotten when the last retires.
    """
    if not _active:
        return
    if isinstance(value, dict):
        for item in value.values():
            declare(item, name)
        return
    if isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            declare(item, name)
        return
    if not isinstance(value, str) or len(value.strip()) < MIN_SECRET_LENGTH or value in _declared:
        return
    _declared[value] = name
    for masker in _active:
        masker.extend({value: name})


def _escaped(text: str) -> set[str]:
    import html

    from reconciler.model.state import printable

    forms = {
        text,
        json.dumps(text, ensure_ascii=False)[1:-1],
        json.dumps(text)[1:-1],
        repr(text)[1:-1],
        printable(text),
        text.replace("'", "''"),
        html.escape(text),
    }
    forms.add(printable(text).replace("`", "'").replace("|", "\\|"))
    return forms


def forms_of(value: str) -> set[str]:
    """Every way ``value`` (or a line of it) can appear in poolform's output, at least MIN_SECRET_LENGTH long."""
    import base64
    from urllib.parse import quote, quote_plus

    forms: set[str] = set()
    for text in {value, value.strip()}:
        forms |= _escaped(text)
        raw = text.encode("utf-8")
        forms |= {base64.b64encode(raw).decode().rstrip("="), base64.urlsafe_b64encode(raw).decode().rstrip("="),
                  quote(text, safe=""), quote_plus(text, safe="")}
    for line in value.splitlines():  # every line break Python knows (views split with splitlines too)
        line = line.strip()
        if len(line) >= MIN_SECRET_LENGTH:
            forms |= _escaped(line)
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class Masker:
    """Replaces every form of every secret value with ``[masked:NAME]``."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self.names: dict[str, str] = {}
        self.extend(secrets)

    def extend(self, secrets: Mapping[str, str]) -> None:
        """Mask these values too."""
        for value, name in secrets.items():
            for form in forms_of(value):
                self.names.setdefault(form, name)
        ordered = sorted(self.names, key=lambda f: (-len(f), f))
        self._ordered = ordered
        self._pattern = re.compile("|".join(re.escape(f) for f in ordered)) if ordered else None
        self._prefixes: set[str] | None = None
        self.longest = max((len(f) for f in ordered), default=0)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "Masker":
        return cls(secret_values(environ))

    @classmethod
    def live(cls, environ: Mapping[str, str]) -> "Masker":
        """A masker of ``environ``'s secrets that also takes every value declared (:func:`declare`) later."""
        masker = cls.from_environ(environ)
        _active.append(masker)
        return masker

    def retire(self) -> None:
        """Stop taking declared values (the end of :meth:`live`)."""
        if self in _active:
            _active.remove(self)
        if not _active:
            _declared.clear()

    def __bool__(self) -> bool:
        return self._pattern is not None

    def mask(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        if len(text) < _LONG_TEXT:
            return self._pattern.sub(lambda m: mask_token(self.names[m.group()]), text)
        # A long text (a whole plan): find the few forms present with C substring search first,
        # longest first, rather than trying every alternative at every position.
        for form in [f for f in self._ordered if f in text]:
            text = text.replace(form, mask_token(self.names[form]))
        return text

    def mask_value(self, value: Any) -> Any:
        """``value`` (JSON-like) with every string masked, keys included."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {self.mask_value(k): self.mask_value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.mask_value(v) for v in value]
        return value

    def unsafe_tail(self, text: str) -> int:
        """Length of the longest end of ``text`` that could be the start of a secret (to hold back)."""
        if self._pattern is None:
            return 0
        if self._prefixes is None:
            self._prefixes = {form[:k] for form in self.names for k in range(1, len(form))}
        for k in range(min(len(text), self.longest - 1), 0, -1):
            if text[-k:] in self._prefixes:
                return k
        return 0


class MaskedStream:
    """A text stream that masks what it passes on.

    Whole lines are masked and written at once; the end of a line still being written is
    held back until its line ends, or, on ``flush()``, written except for an end that could
    begin a secret (so a prompt shows, and a secret written in pieces is still caught).
    ``release()`` writes whatever is left.
    """

    def __init__(self, inner: TextIO, masker: Masker) -> None:
        self.inner = inner
        self.masker = masker
        self._pending = ""
        self._lock = threading.RLock()

    def write(self, text: str | bytes) -> int:
        if isinstance(text, (bytes, bytearray)):  # click.echo(bytes) on a stream without .buffer (shell completion)
            written = len(text)
            self.write(bytes(text).decode(getattr(self.inner, "encoding", None) or "utf-8", "replace"))
            return written
        with self._lock:
            if not self.masker and not self._pending:  # nothing to mask (yet): no line buffering
                self.inner.write(text)
                return len(text)
            full = self._pending + text
            cut = full.rfind("\n") + 1
            if cut:
                self.inner.write(self.masker.mask(full[:cut]))
            self._pending = full[cut:]
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                masked = self.masker.mask(self._pending)
                hold = self.masker.unsafe_tail(masked)
                self.inner.write(masked[:len(masked) - hold])
                self._pending = masked[len(masked) - hold:]
            self.inner.flush()

    def release(self) -> None:
        """Write what is held back (masked) and flush."""
        with self._lock:
            if self._pending:
                self.inner.write(self.masker.mask(self._pending))
                self._pending = ""
            try:
                self.inner.flush()
            except (OSError, ValueError):
                pass

    def isatty(self) -> bool:
        return bool(getattr(self.inner, "isatty", lambda: False)())

    def __getattr__(self, name: str) -> Any:
        if name == "buffer":
            # Bytes written to the underlying buffer would pass unmasked.
            raise AttributeError(name)
        return getattr(self.inner, name)
