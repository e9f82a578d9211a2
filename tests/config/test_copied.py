"""``load._copied``: each pool's template is its own (a deep copy of config data), as
``copy.deepcopy`` makes it, for any value the loaders produce."""

from __future__ import annotations

import copy
import datetime

from hypothesis import given
from hypothesis import strategies as st

from reconciler.config.load import _copied

leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4) | st.dates()
values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=15)


def _containers(value, found):
    if isinstance(value, (dict, list)):
        found.append(value)
        for item in value.values() if isinstance(value, dict) else value:
            _containers(item, found)
    return found


@given(values)
def test_copied_equals_a_deep_copy_and_shares_no_container(value) -> None:
    copied = _copied(value)
    assert copied == copy.deepcopy(value)
    originals = {id(c) for c in _containers(value, [])}
    assert not originals & {id(c) for c in _containers(copied, [])}


def test_other_mutable_values_are_deep_copied() -> None:
    class Box:
        def __init__(self) -> None:
            self.items = [1]

    source = {"a": [Box()], "when": datetime.date(2026, 1, 1)}
    copied = _copied(source)
    assert copied["a"][0] is not source["a"][0] and copied["a"][0].items == [1]
