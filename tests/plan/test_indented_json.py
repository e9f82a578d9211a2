"""``planfile.indented_json`` (plan files and ``plan -o json``) writes what
``json.dumps(value, indent=2, ensure_ascii=False)`` writes, through orjson when that gives the same
document: for any JSON-ish value (NaN and Infinity, integers beyond 64 bits, keys that are not
strings, lone surrogates included) the text reads back as the standard library's does, and is the
same text whenever no float needs an exponent."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.plan.planfile import indented_json

scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats()
           | st.text(max_size=6) | st.sampled_from(["\ud800", "\u2028", "\x00\x1f\x7f", "é", '"\\/']))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=3) | st.integers(0, 3), inner, max_size=3), max_leaves=12)


def _exponent_floats(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value) and "e" in repr(value)
    if isinstance(value, dict):
        return any(_exponent_floats(v) for v in value.values())
    if isinstance(value, list):
        return any(_exponent_floats(v) for v in value)
    return False


@settings(max_examples=400, deadline=None)
@given(values)
def test_same_document_as_the_standard_library(value) -> None:
    ours = indented_json(value)
    theirs = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    # read back and written again by the standard library: NaN compares as text, not as a value
    assert json.dumps(json.loads(ours)) == json.dumps(json.loads(theirs))
    if not _exponent_floats(value):
        assert ours == theirs


def test_non_finite_numbers_stay_as_the_standard_library_writes_them() -> None:
    # orjson alone would write null for each of them
    assert indented_json({"a": [math.nan, math.inf, -math.inf]}) == '{\n  "a": [\n    NaN,\n    Infinity,\n    -Infinity\n  ]\n}\n'
