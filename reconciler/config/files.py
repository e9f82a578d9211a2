"""Helpers every config reader shares: reading a referenced file into text with diagnostics,
and the did-you-mean hint. No parsing here.
"""

from __future__ import annotations

import difflib
from typing import Sequence

from reconciler.diagnostics import Diagnostics, Pos, SourceRange


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """`` Did you mean "x"?`` or ``""``."""
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f' Did you mean "{match[0]}"?' if match else ""


def read_text(filename: str, diags: Diagnostics, *, referenced_at: SourceRange | None = None,
              address: str | None = None) -> str | None:
    try:
        with open(filename, encoding="utf-8-sig") as handle:
            return handle.read()
    except FileNotFoundError:
        diags.error(f"file not found: {filename}", "Paths are relative to the config file that names them.",
                    range=referenced_at, address=address)
    except IsADirectoryError:
        diags.error(f"{filename} is a directory, not a file", range=referenced_at, address=address)
    except UnicodeDecodeError as exc:
        diags.error(f"{filename} is not UTF-8 text: {exc.reason} at byte {exc.start}",
                    range=referenced_at or SourceRange(filename, Pos(1, 1)), address=address)
    except OSError as exc:
        diags.error(f"cannot read {filename}: {exc.strerror or exc}", range=referenced_at, address=address)
    return None
