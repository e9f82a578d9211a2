"""Bounded parsing: YAML bombs, oversized and over-nested documents and templates are errors, in
both YAML parsers (libyaml's fast path and ruamel), before memory grows with the expansion."""

from __future__ import annotations

import contextlib
import json
import tracemalloc
from typing import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.config import yaml_source
from reconciler.config.load import MAX_TEMPLATE_BYTES, MAX_TEMPLATE_DEPTH, load
from reconciler.config.yaml_source import (
    MAX_ALIAS_NODES,
    MAX_YAML_BYTES,
    MAX_YAML_DEPTH,
    MAX_YAML_EVENTS,
    parse_yaml_text,
)
from reconciler.diagnostics import Diagnostics

BACKENDS = ["ruamel"] + (["libyaml"] if yaml_source.BACKEND == "libyaml" else [])
MEMORY_BUDGET = 200 * 1024 * 1024


def laughs(levels: int = 9, width: int = 9) -> str:
    """The classic billion laughs: each level a list of ``width`` aliases of the previous one."""
    lines = ["version: 1", "a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    lines.append(f"work_pools: {{p: {{type: process, description: *a{levels - 1}}}}}")
    return "\n".join(lines) + "\n"


def nested_mapping_laughs(levels: int = 12) -> str:
    """Aliases nested in mappings and reached through ``<<`` merges."""
    lines = ["l0: &l0 {a: lol, b: lol, c: lol, d: lol}"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} {{a: *l{i - 1}, b: *l{i - 1}, c: *l{i - 1}, d: *l{i - 1}, <<: *l{i - 1}}}")
    return "\n".join(lines) + "\n"


def wide(anchor: int = 400, aliases: int = 400) -> str:
    """One wide anchor, aliased many times: no nesting at all."""
    return "a: &a [" + ", ".join(["x"] * anchor) + "]\nb: [" + ", ".join(["*a"] * aliases) + "]\n"


BOMBS = {
    "billion_laughs": laughs(),
    "billion_laughs_deep_narrow": laughs(levels=40, width=2),
    "nested_mappings_and_merges": nested_mapping_laughs(),
    "wide": wide(),
    "in_a_template_file_shape": "job_configuration: &j {x: [&s lol, *s, *s, *s]}\n"
                                + "".join(f"v{i}: &v{i} [*{'j' if i == 0 else f'v{i - 1}'}, *{'j' if i == 0 else f'v{i - 1}'},"
                                          f" *{'j' if i == 0 else f'v{i - 1}'}, *{'j' if i == 0 else f'v{i - 1}'}]\n"
                                          for i in range(14))
                                + "variables: *v13\n",
}


@contextlib.contextmanager
def _address_space_capped(extra: int) -> Iterator[None]:
    """A regression must fail with MemoryError, not take the shared machine's memory: cap this
    process's address space at its current size plus ``extra`` while the block runs."""
    try:
        import resource

        with open("/proc/self/status", encoding="ascii") as fh:
            size = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    except (ImportError, OSError, StopIteration):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (size + extra, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _parse(text: str, backend: str) -> tuple[object, Diagnostics, int]:
    diags = Diagnostics()
    tracemalloc.start()
    try:
        with _address_space_capped(2 * MEMORY_BUDGET):
            doc = parse_yaml_text(text, "bomb.yaml", diags, backend=backend)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return doc, diags, peak


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("text", list(BOMBS.values()), ids=list(BOMBS))
def test_alias_bombs_are_refused_before_they_expand(text, backend):
    assert len(text) < 64 * 1024
    doc, diags, peak = _parse(text, backend)
    assert doc is None
    ((error,),) = [diags.errors]
    assert error.effective_code == "yaml_too_large"
    assert error.summary == f"YAML aliases expand this document past {MAX_ALIAS_NODES:,} repeated values"
    assert error.range.filename == "bomb.yaml" and error.range.start.line >= 1
    assert peak < MEMORY_BUDGET, f"{peak / 1e6:.0f} MB"


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_alias_inside_itself_is_refused(backend):
    doc, diags, _ = _parse("a: &a [x, *a]\n", backend)
    assert doc is None
    assert [(d.summary, d.effective_code, str(d.range)) for d in diags.errors] == [
        ("a YAML alias refers to a node that contains it", "yaml_too_large", "bomb.yaml:1:4")]


@pytest.mark.parametrize("backend", BACKENDS)
def test_aliases_within_the_bound_expand_as_written(backend):
    text = "base: &q {priority: 1, concurrency_limit: 2}\nqueues:\n" + "".join(
        f"  q{i}: *q\n" for i in range(200)) + "merged: {<<: *q, priority: 3}\n"
    doc, diags, _ = _parse(text, backend)
    assert not diags, [d.format() for d in diags]
    assert doc.data["queues"]["q199"] == {"priority": 1, "concurrency_limit": 2}
    assert doc.data["merged"] == {"priority": 3, "concurrency_limit": 2}


@pytest.mark.parametrize("backend", BACKENDS)
def test_too_many_values_are_refused_before_composing(backend, monkeypatch):
    monkeypatch.setattr(yaml_source, "MAX_YAML_EVENTS", 500)
    text = "a: [" + ", ".join(["1"] * 600) + "]\n"
    doc, diags, _ = _parse(text, backend)
    assert doc is None
    assert [d.effective_code for d in diags.errors] == ["yaml_too_large"]
    assert "over 500 values" in diags.errors[0].summary


def test_the_event_limit_is_a_size_no_real_config_reaches():
    assert MAX_YAML_EVENTS >= 1_000_000 and MAX_ALIAS_NODES >= 100_000


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_oversized_document_is_refused_unparsed(backend):
    text = "a: " + "x" * (MAX_YAML_BYTES + 1) + "\n"
    doc, diags, _ = _parse(text, backend)
    assert doc is None
    assert [d.effective_code for d in diags.errors] == ["yaml_too_large"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("depth", [MAX_YAML_DEPTH + 5, 5000, 200_000])
def test_deep_nesting_is_an_error_not_a_crash(backend, depth):
    doc, diags, _ = _parse("[" * depth + "]" * depth + "\n", backend)
    assert doc is None
    assert [d.effective_code for d in diags.errors] == ["yaml_too_large"]
    assert "nested too deeply" in diags.errors[0].summary


def test_a_file_over_the_size_limit_is_an_error_before_reading(tree, monkeypatch):
    from reconciler.config import files

    monkeypatch.setattr(files, "MAX_FILE_BYTES", 1000)
    tree.write("pools.yaml", "version: 1\n# " + "x" * 2000 + "\n")
    state, diags = load(["pools.yaml"])
    assert state is None
    assert [(d.summary, d.effective_code) for d in diags.errors] == [
        (f"pools.yaml is {(tree.root / 'pools.yaml').stat().st_size} bytes, over the 1000 bytes limit", "input_too_large")]


# --------------------------------------------------------------------------- templates

def _nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = {"k": value}
    return value


def _template_with(value: object) -> dict[str, object]:
    return {"job_configuration": {"command": "{{ command }}"},
            "variables": {"properties": {"command": {"type": "string", "default": "x"}, "blob": {"default": value}}}}


@pytest.mark.parametrize("form", ["inline", "file", "named"])
def test_a_template_nested_too_deeply_is_an_error(tree, form):
    template = _template_with(_nested(MAX_TEMPLATE_DEPTH))
    _write_template(tree, form, template)
    state, diags = load(["pools.yaml"])
    assert state is None
    assert [d.effective_code for d in diags.errors] == ["template_too_large"], [d.format() for d in diags]
    assert f"nested too deeply (over {MAX_TEMPLATE_DEPTH} levels)" in diags.errors[0].summary


@pytest.mark.parametrize("form", ["inline", "file", "named", "named_defaults"])
def test_a_template_too_large_is_an_error(tree, form):
    big = "y" * (MAX_TEMPLATE_BYTES + 10)
    if form == "named_defaults":
        _write_template(tree, "named", _template_with("small"), defaults={"blob": big})
    else:
        _write_template(tree, form, _template_with(big))
    state, diags = load(["pools.yaml"])
    assert state is None
    assert [d.effective_code for d in diags.errors] == ["template_too_large"], [d.format() for d in diags]
    assert diags.errors[0].summary.startswith("the base job template is too large")


def test_a_template_within_the_bounds_loads(tree):
    _write_template(tree, "named", _template_with(_nested(MAX_TEMPLATE_DEPTH - 5)), defaults={"blob": "z" * 1000})
    state, diags = load(["pools.yaml"])
    assert not diags.has_errors, [d.format() for d in diags]


def _write_template(tree, form: str, template: dict[str, object], defaults: dict[str, object] | None = None) -> None:
    body = json.dumps(template)
    if form == "inline":
        tree.write("pools.yaml", f"version: 1\nwork_pools:\n  p:\n    type: process\n    base_job_template: {body}\n")
    elif form == "file":
        tree.write("t.json", body)
        tree.write("pools.yaml", "version: 1\nwork_pools:\n  p:\n    type: process\n    base_job_template: {file: t.json}\n")
    else:
        ref = {"template": "t", **({"defaults": defaults} if defaults else {})}
        tree.write("pools.yaml", f"version: 1\nbase_job_templates:\n  t: {body}\nwork_pools:\n  p:\n    type: process\n"
                                 f"    base_job_template: {json.dumps(ref)}\n")


# --------------------------------------------------------------------------- property

@st.composite
def alias_documents(draw: st.DrawFn) -> tuple[str, int, int]:
    """A document of anchored lists, each aliasing earlier anchors any number of times; with its
    expanded and distinct value counts, computed independently of the code under test."""
    count = draw(st.integers(1, 8))
    sizes: list[int] = []
    lines = []
    distinct = 1  # the root mapping
    for i in range(count):
        refs = draw(st.lists(st.integers(0, i - 1), max_size=12)) if i else []
        scalars = draw(st.integers(0, 5))
        items = ["s"] * scalars + [f"*a{r}" for r in refs]
        lines.append(f"a{i}: &a{i} [{', '.join(items)}]")
        sizes.append(1 + scalars + sum(sizes[r] for r in refs))
        distinct += 2 + scalars  # the key, the list, its scalars
    total = 1 + sum(1 + s for s in sizes)  # the root mapping, each key and each value
    return "\n".join(lines) + "\n", total, distinct


@settings(max_examples=200, deadline=None)
@given(doc=alias_documents(), backend=st.sampled_from(BACKENDS))
def test_aliases_are_either_refused_or_expanded_within_the_bound(doc, backend):
    text, total, distinct = doc
    diags = Diagnostics()
    parsed = parse_yaml_text(text, "p.yaml", diags, backend=backend)
    if parsed is None:
        assert [d.effective_code for d in diags.errors] == ["yaml_too_large"]
        assert total - distinct > MAX_ALIAS_NODES or total > MAX_YAML_EVENTS
    else:
        assert not diags
        assert total - distinct <= MAX_ALIAS_NODES
        assert _count(parsed.data) == total


def _count(value: object) -> int:
    if isinstance(value, dict):
        return 1 + sum(1 + _count(v) for v in value.values())
    if isinstance(value, list):
        return 1 + sum(_count(v) for v in value)
    return 1


@pytest.mark.parametrize("text", list(BOMBS.values()), ids=list(BOMBS))
def test_fmt_refuses_a_bomb_instead_of_walking_it(text):
    """fmt's round trip compares the documents it wrote with the ones it read: an alias bomb would
    make that comparison walk every expansion (it ran for minutes)."""
    from reconciler.config.fmt import FormatError, format_yaml

    with _address_space_capped(2 * MEMORY_BUDGET), pytest.raises(FormatError) as refused:
        format_yaml("# yaml-language-server: $schema=config.schema.json\n" + text, "bomb.yaml")
    assert "aliases expand this document" in str(refused.value)
