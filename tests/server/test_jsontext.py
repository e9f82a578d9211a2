"""The server's JSON text (``jsontext``): written and read back with orjson where it gives what the
standard library gives, with the standard library otherwise (a property over any JSON value)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.server.jsontext import json_bytes, json_text, json_value

SCALARS = (st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False)
           | st.integers() | st.integers(min_value=2**63 - 3, max_value=2**70) | st.text())
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                      max_leaves=20)


def same(a, b) -> bool:
    """Equal with the same types all the way down (1 is not 1.0 here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_written_text_is_the_standard_librarys_and_reads_back_the_same(value):
    text = json_text(value)
    assert json_bytes(value) == text.encode("utf-8", "surrogatepass")
    assert same(json.loads(text), json.loads(json.dumps(value, separators=(",", ":"), ensure_ascii=False)))
    assert same(json_value(text), json.loads(text))


def test_integers_beyond_64_bits_stay_integers():
    for text in ("[123456789012345678901234567890]", "[18446744073709551616]", '{"a":-99999999999999999999}'):
        assert same(json_value(text), json.loads(text))
