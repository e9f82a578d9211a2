"""Reading the files a configuration is made of, under one read policy; and the did-you-mean hint.

Owns the read policy. Every file poolform reads for a configuration (the files given or found
under ``-f``, ``.tf`` and ``.tfvars`` files, ``{file: ...}`` templates, HCL ``file()`` and
``templatefile()``) goes through :func:`read_confined`, which refuses, with a reason and a
diagnostic code:

* a path whose real location (symlinks and ``..`` resolved) is outside the configuration's
  root: the directories of the ``-f`` paths, the working directory and every ``--allow-read``
  path (``read_outside_root``);
* anything under /proc, /sys or /dev, whatever the root (``read_outside_root``);
* a missing file, a dangling or looping symlink, a directory, a FIFO, socket or device, a
  file it may not read, or one that is not UTF-8 (``unreadable_input``);
* a file over :data:`MAX_FILE_BYTES` (``input_too_large``);
* a file holding ``[masked:NAME]``, what poolform prints in place of a secret: printed output
  taken for a config (``masked_value``).

The policy of the load in progress is a context variable (:func:`read_policy`), so the
readers deep inside the YAML and HCL code need no extra argument; without one, the root is
the working directory. No parsing here, no printing.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import errno
import os
import stat
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

from reconciler.diagnostics import Code, Diagnostics, Pos, SourceRange
from reconciler.secrets import MASK_PATTERN

MAX_FILE_BYTES = 8 * 1024 * 1024
"""The largest file poolform reads as (part of) a configuration."""

NEVER_READ = ("/proc", "/sys", "/dev")
"""Pseudo-file systems that hold process environments and devices: never read, even when allowed."""


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """`` Did you mean "x"?`` or ``""``."""
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f' Did you mean "{match[0]}"?' if match else ""


class ReadRefused(Exception):
    """A file the policy will not read, or cannot read; ``summary``/``detail`` are the diagnostic's words."""

    def __init__(self, summary: str, detail: str = "", code: str = Code.UNREADABLE_INPUT, *,
                 at: Pos | None = None) -> None:
        super().__init__(summary)
        self.summary = summary
        self.detail = detail
        self.code = code
        self.at = at
        """Where in the file the problem is, when it is in the content (encoding, a masked value)."""


def _inside(real: str, root: str) -> bool:
    if root == os.sep:
        return True
    return real == root or real.startswith(root + os.sep)


@dataclass(frozen=True)
class ReadPolicy:
    """Where configuration files may be read from: real paths (a directory allows its whole tree)."""

    roots: tuple[str, ...]

    @classmethod
    def for_config(cls, paths: Iterable[str] = (), allow_read: Iterable[str] = (), *,
                   cwd: str | None = None) -> "ReadPolicy":
        """The root of a configuration given as ``paths`` (``-f``): each directory, each file's
        directory, the working directory, and every ``allow_read`` path."""
        roots: list[str] = [os.path.realpath(cwd or os.getcwd())]
        for raw in paths:
            directory = raw if os.path.isdir(raw) else (os.path.dirname(raw) or ".")
            roots.append(os.path.realpath(directory))
        roots.extend(os.path.realpath(path) for path in allow_read)
        return cls(tuple(dict.fromkeys(roots)))

    def check(self, path: str, *, display: str | None = None, named: bool = False) -> str:
        """The real path of ``path`` if the policy lets it be read; else :class:`ReadRefused`.
        ``named``: the user named this very path on the command line, so it is part of the root."""
        real = os.path.realpath(path)
        filename = display or path
        for system in NEVER_READ:
            if _inside(real, system):
                raise ReadRefused(f"{filename} is a system file poolform never reads",
                                  f"It resolves to {real}; poolform reads no file under "
                                  f"{', '.join(NEVER_READ)}, even with --allow-read.",
                                  Code.READ_OUTSIDE_ROOT)
        if not named and not any(_inside(real, root) for root in self.roots):
            shown = ", ".join(self.roots)
            raise ReadRefused(f"{filename} is outside the configuration's root",
                              f"It resolves to {real}. poolform reads files only inside the directories of the -f "
                              f"paths and the working directory ({shown}). Move the file there, or allow its "
                              "directory explicitly with --allow-read DIR.",
                              Code.READ_OUTSIDE_ROOT)
        return real


_POLICY: contextvars.ContextVar[ReadPolicy | None] = contextvars.ContextVar("poolform_read_policy", default=None)


@contextlib.contextmanager
def read_policy(policy: ReadPolicy) -> Iterator[ReadPolicy]:
    """Make ``policy`` the one every read in the block follows."""
    token = _POLICY.set(policy)
    try:
        yield policy
    finally:
        _POLICY.reset(token)


def current_policy() -> ReadPolicy:
    return _POLICY.get() or ReadPolicy.for_config()


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _why_missing(path: str, filename: str) -> ReadRefused:
    """A file that cannot be opened: missing, a dangling symlink, or a symlink loop."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return ReadRefused(f"{filename} is a symbolic link loop",
                               "The link (or a directory on its way) points back at itself; fix or remove it.")
        if os.path.islink(path):
            return ReadRefused(f"{filename} is a dangling symbolic link",
                               f"It points to {os.readlink(path)}, which does not exist; fix or remove the link.")
        if exc.errno == errno.ENOTDIR:
            return ReadRefused(f"file not found: {filename}", "A part of the path is a file, not a directory.")
        return ReadRefused(f"file not found: {filename}", "Paths are relative to the config file that names them.")
    return ReadRefused(f"cannot read {filename}")


def read_confined(path: str, *, display: str | None = None, policy: ReadPolicy | None = None,
                  limit: int | None = None, named: bool = False) -> str:
    """The text of ``path`` (UTF-8, a BOM dropped) when the read policy allows it; else :class:`ReadRefused`,
    whose words name the file ``display`` (default: ``path``). ``limit`` defaults to MAX_FILE_BYTES.
    ``named``: a path the user gave on the command line (``--var-file``): inside the root by definition."""
    filename = display or path
    limit = MAX_FILE_BYTES if limit is None else limit
    real = (policy or current_policy()).check(path, display=filename, named=named)
    try:
        info = os.stat(real)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
            raise _why_missing(path, filename) from None
        raise ReadRefused(f"cannot read {filename}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        if stat.S_ISDIR(info.st_mode):
            raise ReadRefused(f"{filename} is a directory, not a file")
        raise ReadRefused(f"{filename} is {_kind(info.st_mode)}, not a file",
                          "poolform reads configuration only from regular files.")
    if info.st_size > limit:
        raise ReadRefused(f"{filename} is {_size(info.st_size)}, over the {_size(limit)} limit",
                          "Split the configuration into several files.", Code.INPUT_TOO_LARGE)
    try:
        with open(real, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ReadRefused(f"cannot read {filename}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise ReadRefused(f"{filename} is over the {_size(limit)} limit", "Split the configuration into several files.",
                          Code.INPUT_TOO_LARGE)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReadRefused(f"{filename} is not UTF-8 text: {exc.reason} at byte {exc.start}",
                          "Save the file as UTF-8.", at=Pos(1, 1)) from None
    masked = MASK_PATTERN.search(text)
    if masked:
        line = text.count("\n", 0, masked.start()) + 1
        column = masked.start() - text.rfind("\n", 0, masked.start())
        raise ReadRefused(f"{filename} holds a value masked on output: {masked.group()}",
                          f"At line {line}: poolform printed this in place of the value of {masked.group(1)} (a secret); "
                          "it is not the value. Put the real value back, or take it from a variable.",
                          Code.MASKED_VALUE, at=Pos(line, column))
    return text


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MiB".replace(".0 MiB", " MiB")
    return f"{n} bytes"


def ignored_name(name: str) -> bool:
    """Names a directory scan passes over, as terraform does: hidden files (``.pre-commit-config.yaml``,
    editor lock files such as ``.#pools.yaml``), backups ending in ``~``, ``#autosave#`` files."""
    return name.startswith(".") or name.endswith("~") or (name.startswith("#") and name.endswith("#"))


def read_text(filename: str, diags: Diagnostics, *, referenced_at: SourceRange | None = None,
              address: str | None = None, named: bool = False) -> str | None:
    """:func:`read_confined`, with a refusal reported as an error diagnostic (at ``referenced_at``,
    the place that named the file, if any) and None returned."""
    try:
        return read_confined(filename, named=named)
    except ReadRefused as refused:
        where = referenced_at
        if refused.at is not None and (where is None or refused.code == Code.MASKED_VALUE):
            where = SourceRange(filename, refused.at)
        diags.error(refused.summary, refused.detail, range=where, address=address, code=refused.code)
    return None
