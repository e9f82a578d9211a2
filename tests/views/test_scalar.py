"""The human view's ``_scalar`` (the text after ``=`` on almost every line of a plan) is
``json.dumps(value, ensure_ascii=False)`` for every value, its shortcuts included."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from reconciler.views.human import _scalar

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text()
    | st.sampled_from(["\ud800", "\u2028", "\x00\x1f\x7f", '"\\/', "é"]),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=5)


@given(values)
def test_scalar_is_json_dumps(value) -> None:
    assert _scalar(value) == json.dumps(value, ensure_ascii=False)


def test_subclasses_take_the_long_way() -> None:
    class Flag(int):
        def __repr__(self) -> str:
            return "Flag"

    assert _scalar(Flag(3)) == json.dumps(Flag(3), ensure_ascii=False)
