"""``poolform fmt``: YAML key order and layout, HCL spacing, idempotence, the command's exit codes."""

from __future__ import annotations

import io
import re
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from reconciler.cli.main import cli
from reconciler.config.fmt import FormatError, discover, format_hcl, format_yaml

YAML_CASES = [
    (
        "schema-order-top-and-pool",
        "work_pools:\n  p:\n    queues:\n      q:\n        description: x\n        priority: 1\n    type: process\nversion: 1\n",
        "version: 1\nwork_pools:\n  p:\n    type: process\n    queues:\n      q:\n        priority: 1\n        description: x\n",
    ),
    (
        "queue-order",
        "version: 1\nwork_pools:\n  p:\n    queues:\n      q:\n        description: d\n        paused: true\n        concurrency_limit: 2\n        priority: 3\n",
        "version: 1\nwork_pools:\n  p:\n    queues:\n      q:\n        priority: 3\n        concurrency_limit: 2\n        paused: true\n        description: d\n",
    ),
    (
        "unknown-keys-kept-at-the-end-in-order",
        "zeta: 1\nwork_pools: {}\nalpha: 2\nversion: 1\n",
        "version: 1\nwork_pools: {}\nzeta: 1\nalpha: 2\n",
    ),
    (
        "four-space-indent-to-two",
        "version: 1\nwork_pools:\n    p:\n        type: process\n        description: x\n",
        "version: 1\nwork_pools:\n  p:\n    type: process\n    description: x\n",
    ),
    (
        "end-of-line-comments-keep-their-gap",
        "version: 1\nwork_pools:\n    p:\n        type: process    # fixed\n        queues:  # all\n            q: {priority: 1}  # top\n",
        "version: 1\nwork_pools:\n  p:\n    type: process    # fixed\n    queues:  # all\n      q: {priority: 1}  # top\n",
    ),
    (
        "sequences-indented-under-key",
        "version: 1\nmanage:\n  scope:\n  - a-*\n  - b-*\n",
        "version: 1\nmanage:\n  scope:\n    - a-*\n    - b-*\n",
    ),
    (
        "comments-move-with-their-key",
        "# header\nwork_pools:\n  p:\n    # the queues\n    queues: {}\n    type: process  # immutable\n# the version\nversion: 1\n",
        "# header\n# the version\nversion: 1\nwork_pools:\n  p:\n    type: process  # immutable\n    # the queues\n    queues: {}\n",
    ),
    (
        "trailing-comment-stays-at-the-end",
        "work_pools: {}\nversion: 1\n# end of file\n",
        "version: 1\nwork_pools: {}\n# end of file\n",
    ),
    (
        "deeper-comment-stays-inside",
        "version: 1\nwork_pools:\n  p:\n    queues:\n      a: {priority: 1}\n      # b: {priority: 2}\n    type: process\n",
        "version: 1\nwork_pools:\n  p:\n    type: process\n    queues:\n      a: {priority: 1}\n      # b: {priority: 2}\n",
    ),
    (
        "flow-mapping-reordered-inline",
        "version: 1\nwork_pools:\n  p:\n    queues:\n      q: {description: x, priority: 2}\n",
        "version: 1\nwork_pools:\n  p:\n    queues:\n      q: {priority: 2, description: x}\n",
    ),
    (
        "quotes-and-block-scalars-kept",
        "version: 1\nwork_pools:\n  'p':\n    description: |\n      two\n      lines\n    type: \"process\"\n",
        "version: 1\nwork_pools:\n  'p':\n    type: \"process\"\n    description: |\n      two\n      lines\n",
    ),
    (
        "template-contents-not-reordered",
        "version: 1\nbase_job_templates:\n  t:\n    variables: {}\n    job_configuration: {}\n",
        "version: 1\nbase_job_templates:\n  t:\n    variables: {}\n    job_configuration: {}\n",
    ),
    (
        "explicit-document-start-kept",
        "---\nwork_pools: {}\nversion: 1\n",
        "---\nversion: 1\nwork_pools: {}\n",
    ),
    (
        "yaml-1.2-strings-stay-strings",
        "version: 1\nwork_pools:\n  p:\n    queues:\n      no: {priority: 1}\n      on: {priority: 2}\n",
        "version: 1\nwork_pools:\n  p:\n    queues:\n      no: {priority: 1}\n      on: {priority: 2}\n",
    ),
    (
        "nulls-keep-their-spelling",
        "work_pools:\n  p:\n    description:\n    concurrency_limit: ~\n    paused: null  # x\n  q:\nversion: 1\n",
        "version: 1\nwork_pools:\n  p:\n    description:\n    paused: null  # x\n    concurrency_limit: ~\n  q:\n",
    ),
    (
        "nulls-in-flow-collections-spelled-out",
        "version: 1\nbase_job_templates:\n  t:\n    variables: {a: [null, ~, 1], b: null, c: }\n",
        "version: 1\nbase_job_templates:\n  t:\n    variables: {a: [null, ~, 1], b: null, c: null}\n",
    ),
    (
        "single-entry-mappings-in-flow-sequences-keep-braces",
        "version: 1\nbase_job_templates:\n  t:\n    variables: {anyOf: [{type: string}, {type: 'null'}]}\n",
        "version: 1\nbase_job_templates:\n  t:\n    variables: {anyOf: [{type: string}, {type: 'null'}]}\n",
    ),
    (
        "anchors-stay-before-their-aliases",
        "version: 1\nx-defaults: &d\n  type: process\nwork_pools:\n  a:\n    <<: *d\n    description: A\n  b:\n    description: B\n    type: process\n",
        "version: 1\nx-defaults: &d\n  type: process\nwork_pools:\n  a:\n    <<: *d\n    description: A\n  b:\n    type: process\n    description: B\n",
    ),
    (
        "merge-keys-not-materialized",
        "version: 1\nx-b: &b\n  type: process\n  description:\nwork_pools:\n  a:\n    paused: true\n    <<: *b\n",
        "version: 1\nx-b: &b\n  type: process\n  description:\nwork_pools:\n  a:\n    paused: true\n    <<: *b\n",
    ),
    ("empty-file", "", ""),
    ("only-comments", "# nothing yet\n", "# nothing yet\n"),
]


@pytest.mark.parametrize(("source", "expected"), [c[1:] for c in YAML_CASES], ids=[c[0] for c in YAML_CASES])
def test_format_yaml(source: str, expected: str) -> None:
    assert format_yaml(source, "pools.yaml") == expected
    assert format_yaml(expected, "pools.yaml") == expected


HCL_CASES = [  # each expected output is exactly what `terraform fmt` (1.11) prints for the input
    (
        "indent-and-align",
        'resource "prefect_work_pool" "p" {\nname = "p"\n      type   = "process"\n  concurrency_limit = 5\n}\n',
        'resource "prefect_work_pool" "p" {\n  name              = "p"\n  type              = "process"\n  concurrency_limit = 5\n}\n',
    ),
    (
        "blank-line-and-comment-break-runs",
        'locals {\n  a = 1\n  bbb = 2\n\n  cc = 3\n  # note\n  dddd = 4\n  e = 5\n}\n',
        'locals {\n  a   = 1\n  bbb = 2\n\n  cc = 3\n  # note\n  dddd = 4\n  e    = 5\n}\n',
    ),
    (
        "multi-line-value-breaks-run-and-nests",
        'resource "x" "y" {\n  name = "n"\n  base_job_template = jsonencode({\n  job_configuration = {}\n      variables = {}\n  })\n  paused = false\n}\n',
        'resource "x" "y" {\n  name = "n"\n  base_job_template = jsonencode({\n    job_configuration = {}\n    variables         = {}\n  })\n  paused = false\n}\n',
    ),
    (
        "trailing-comments-aligned-in-run",
        'locals {\n  a = "short"   # one\n  bbbb = "longer value" # two\n}\n',
        'locals {\n  a    = "short"        # one\n  bbbb = "longer value" # two\n}\n',
    ),
    (
        "block-header-spacing",
        'resource   "x"    "y"{\n  a=1\n}\n',
        'resource "x" "y" {\n  a = 1\n}\n',
    ),
    (
        "heredoc-body-untouched",
        'locals {\n  t = <<EOT\n   keep   =   this\nEOT\n  s = "x"\n}\n',
        'locals {\n  t = <<EOT\n   keep   =   this\nEOT\n  s = "x"\n}\n',
    ),
    (
        "strings-with-brackets-and-equals",
        'locals {\n  a = "x = { ["\n  bb = "${var.x}-}"\n}\n',
        'locals {\n  a  = "x = { ["\n  bb = "${var.x}-}"\n}\n',
    ),
    (
        "list-items-indented",
        'locals {\n  l = [\n  1,\n      2,\n  ]\n}\n',
        'locals {\n  l = [\n    1,\n    2,\n  ]\n}\n',
    ),
]


@pytest.mark.parametrize(("source", "expected"), [c[1:] for c in HCL_CASES], ids=[c[0] for c in HCL_CASES])
def test_format_hcl(source: str, expected: str) -> None:
    assert format_hcl(source, "main.tf") == expected
    assert format_hcl(expected, "main.tf") == expected


@pytest.mark.parametrize(
    ("name", "source", "line"),
    [
        ("bad.yaml", "version: 1\nwork_pools: [a\n", 3),
        ("bad.yaml", "version: 1\n  work_pools: {}\n", 2),
        ("dup.yaml", "version: 1\nversion: 2\n", 2),
        ("bad.tf", 'resource "x" "y" {\n  a = \n}\n', 2),
        ("bad.tf", 'resource "x" "y" {\n  a = 1\n', 3),
    ],
    ids=["yaml-unclosed-flow", "yaml-bad-indent", "yaml-duplicate-key", "hcl-missing-value", "hcl-unclosed-block"],
)
def test_malformed_input_names_file_and_line(name: str, source: str, line: int) -> None:
    fmt = format_hcl if name.endswith(".tf") else format_yaml
    with pytest.raises(FormatError) as info:
        fmt(source, name)
    assert info.value.filename == name
    assert info.value.line == line
    assert str(info.value).startswith(f"{name}:{line}")


# ---------------------------------------------------------------- properties

_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=8).filter(lambda s: s[0] != "-")
_queue = st.fixed_dictionaries({}, optional={
    "priority": st.integers(1, 50), "concurrency_limit": st.one_of(st.none(), st.integers(0, 9)),
    "paused": st.booleans(), "description": st.text(max_size=12), "extra_key": st.integers(),
})
_pool = st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["process", "kubernetes"]), "description": st.one_of(st.none(), st.text(max_size=20)),
    "paused": st.booleans(), "concurrency_limit": st.integers(0, 99),
    "queues": st.dictionaries(_names, _queue, max_size=3), "labels": st.lists(st.text(max_size=5), max_size=3),
})
_document = st.fixed_dictionaries({"version": st.just(1)}, optional={
    "manage": st.fixed_dictionaries({}, optional={"prune": st.booleans(), "scope": st.lists(_names, max_size=3)}),
    "work_pools": st.dictionaries(_names, _pool, max_size=3), "notes": st.text(max_size=10),
})


def _shuffled(value: object, data: st.DataObject) -> object:
    if isinstance(value, dict):
        keys = data.draw(st.permutations(list(value)))
        return {k: _shuffled(value[k], data) for k in keys}
    if isinstance(value, list):
        return [_shuffled(v, data) for v in value]
    return value


def _dump(value: object, indent: int, flow: bool) -> str:
    yaml = YAML()
    yaml.indent(mapping=indent, sequence=indent + 2, offset=indent)
    yaml.default_flow_style = None if flow else False
    out = io.StringIO()
    yaml.dump(value, out)
    return out.getvalue()


def _parses(text: str) -> bool:
    """ruamel's own writer can emit text it cannot read back (e.g. a plain `?0` in a flow mapping)."""
    try:
        YAML(typ="safe").load(text)
    except Exception:
        return False
    return True


def _refused_for_odd_line_breaks(source: str) -> bool:
    """NEL, LS and PS shift ruamel's positions: such a file is refused with its line, never garbled."""
    if not re.search("[\x85\u2028\u2029]", source):
        return False
    with pytest.raises(FormatError, match="which the YAML reader counts as a line break"):
        format_yaml(source, "p.yaml")
    return True


def _load(text: str) -> object:
    return json.loads(json.dumps(YAML(typ="safe").load(text)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=_document, indent=st.sampled_from([2, 4]), flow=st.booleans(), data=st.data())
def test_yaml_fmt_is_idempotent_and_keeps_every_value(doc: dict, indent: int, flow: bool, data: st.DataObject) -> None:
    source = _dump(_shuffled(doc, data), indent, flow)
    assume(_parses(source))
    if _refused_for_odd_line_breaks(source):
        return
    once = format_yaml(source, "p.yaml")
    assert format_yaml(once, "p.yaml") == once
    assert _load(once) == _load(source)
    top = [k for k in _load(once)]
    known = [k for k in ("version", "manage", "base_job_templates", "work_pools") if k in top]
    assert top[: len(known)] == known


_attr = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(lambda s: s[0] != "_")
_value = st.one_of(st.integers(0, 10**6).map(str), st.text(alphabet="abc xyz=", max_size=10).map(json.dumps),
                   st.just("true"), st.just("[1, 2]"))


@settings(max_examples=60, deadline=None)
@given(attrs=st.lists(st.tuples(_attr, _value, st.integers(0, 6), st.integers(0, 3), st.booleans()), min_size=1, max_size=8,
                      unique_by=lambda t: t[0]))
def test_hcl_fmt_is_idempotent_and_keeps_values(attrs: list[tuple[str, str, int, int, bool]]) -> None:
    import hcl2

    body = "".join(f"{' ' * lead}{name}{' ' * gap}={' ' * gap}{value}\n" + ("\n" if blank else "")
                   for name, value, lead, gap, blank in attrs)
    source = f'resource "prefect_work_pool" "p" {{\n{body}}}\n'
    once = format_hcl(source, "p.tf")
    assert format_hcl(once, "p.tf") == once
    assert hcl2.loads(once) == hcl2.loads(source)
    for line in once.rstrip("\n").split("\n")[1:-1]:
        assert not line or line.startswith("  ") and not line.startswith("   ")


# ---------------------------------------------------------------- the command

UGLY = "work_pools:\n    p:\n        type: process\nversion: 1\n"
PRETTY = "version: 1\nwork_pools:\n  p:\n    type: process\n"
UGLY_TF = 'resource "prefect_work_pool" "p" {\nname = "p"\n    type = "process"\n}\n'


def _invoke(*args: str):
    return CliRunner().invoke(cli, ["fmt", *args], catch_exceptions=False)


def test_fmt_writes_in_place_and_lists_changed_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(UGLY)
    (tmp_path / "b.yml").write_text(PRETTY)
    (tmp_path / "c.tf").write_text(UGLY_TF)
    (tmp_path / "notes.txt").write_text(UGLY)
    result = _invoke(str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [str(tmp_path / "a.yaml"), str(tmp_path / "c.tf")]
    assert (tmp_path / "a.yaml").read_text() == PRETTY
    assert (tmp_path / "c.tf").read_text() == 'resource "prefect_work_pool" "p" {\n  name = "p"\n  type = "process"\n}\n'
    assert (tmp_path / "notes.txt").read_text() == UGLY
    again = _invoke(str(tmp_path))
    assert again.exit_code == 0 and again.output == ""


def test_fmt_check_writes_nothing_and_exits_3(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(UGLY)
    result = _invoke("--check", str(tmp_path / "a.yaml"))
    assert result.exit_code == 3
    assert str(tmp_path / "a.yaml") in result.output
    assert (tmp_path / "a.yaml").read_text() == UGLY
    (tmp_path / "a.yaml").write_text(PRETTY)
    assert _invoke("--check", str(tmp_path / "a.yaml")).exit_code == 0


def test_fmt_diff_prints_a_unified_diff(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(UGLY)
    result = _invoke("--check", "--diff", str(tmp_path / "a.yaml"))
    assert result.exit_code == 3
    assert f"--- a/{tmp_path / 'a.yaml'}" in result.output
    assert "+version: 1\n" in result.output and "-version: 1\n" in result.output
    assert "-    p:\n" in result.output and "+  p:\n" in result.output


@pytest.mark.parametrize("check", [False, True], ids=["write", "check"])
def test_fmt_malformed_file_is_reported_and_untouched(tmp_path: Path, check: bool) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nwork_pools: [a\n")
    (tmp_path / "good.yaml").write_text(UGLY)
    result = CliRunner().invoke(cli, ["fmt", *(["--check"] if check else []), str(tmp_path)])
    assert result.exit_code == 1
    assert f"{bad}:3:1: invalid YAML" in result.output
    assert "Traceback" not in result.output
    assert bad.read_text() == "version: 1\nwork_pools: [a\n"
    assert (tmp_path / "good.yaml").read_text() == (UGLY if check else PRETTY)


def test_fmt_recursive_only_when_asked(tmp_path: Path) -> None:
    nested = tmp_path / "env" / "prod"
    nested.mkdir(parents=True)
    (nested / "p.yaml").write_text(UGLY)
    assert _invoke("--check", str(tmp_path)).exit_code == 0
    result = _invoke("--check", "--recursive", str(tmp_path))
    assert result.exit_code == 3 and str(nested / "p.yaml") in result.output


def test_fmt_leaves_other_yaml_alone(tmp_path: Path) -> None:
    workflow = tmp_path / "ci.yml"
    workflow.write_text("on:\n    push:\njobs: {}\n")
    marked = tmp_path / "overlay.yaml"
    marked.write_text("# yaml-language-server: $schema=../provider-schema/config.schema.json\nfoo:\n    bar: 1\n")
    result = CliRunner().invoke(cli, ["fmt", str(tmp_path)])
    assert result.exit_code == 0
    assert workflow.read_text() == "on:\n    push:\njobs: {}\n"
    assert marked.read_text().endswith("foo:\n  bar: 1\n")
    named = CliRunner().invoke(cli, ["fmt", "--check", str(workflow)])
    assert named.exit_code == 0
    assert f"Skipped {workflow}: not a poolform config" in named.output


def test_fmt_missing_path_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["fmt", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "no such file or directory" in result.output


def test_discover_skips_hidden_directories(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.yaml").write_text(UGLY)
    (tmp_path / "a.tf").write_text(UGLY_TF)
    files, problems = discover([tmp_path], recursive=True)
    assert files == [tmp_path / "a.tf"] and problems == []


def test_the_shipped_examples_are_formatted() -> None:
    root = Path(__file__).resolve().parents[2]
    result = CliRunner().invoke(cli, ["fmt", "--check", "--diff", "--recursive", str(root / "examples")])
    assert result.exit_code == 0, "run `poolform fmt -r examples/`:\n" + result.output


def test_key_order_is_the_schema_order() -> None:
    import json

    from reconciler.config.fmt import KEY_ORDER

    schema = json.loads((Path(__file__).resolve().parents[2] / "provider-schema" / "config.schema.json").read_text())
    definitions = schema["definitions"]
    assert KEY_ORDER[()] == tuple(schema["properties"])
    assert KEY_ORDER[("manage",)] == tuple(definitions["Manage"]["properties"])
    assert KEY_ORDER[("work_pools", "*")] == tuple(definitions["WorkPool"]["properties"])
    assert KEY_ORDER[("work_pools", "*", "queues", "*")] == tuple(definitions["WorkQueue"]["properties"])
    assert KEY_ORDER[("environments", "*")] == tuple(definitions["Environment"]["properties"])


def _with_comments(text: str, data: st.DataObject) -> str:
    """Put numbered full-line comments before random lines and end-of-line comments after random scalars."""
    out: list[str] = []
    for number, line in enumerate(text.rstrip("\n").split("\n")):
        indent = len(line) - len(line.lstrip(" "))
        if data.draw(st.booleans(), label=f"before {number}"):
            out.append(" " * indent + f"# c{number}")
        if line.rstrip().endswith((":", "|", ">")) or not data.draw(st.booleans(), label=f"eol {number}"):
            out.append(line)
        else:
            out.append(f"{line}  # e{number}")
    return "\n".join(out) + "\n"


_rich_document = st.fixed_dictionaries({
    "version": st.just(1),
    "work_pools": st.dictionaries(_names, _pool.map(lambda p: {**p, "type": "process"}), min_size=1, max_size=3),
    "manage": st.fixed_dictionaries({"prune": st.booleans(), "scope": st.lists(_names, min_size=1, max_size=3)}),
}, optional={"notes": st.text(max_size=10)})


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=_rich_document, indent=st.sampled_from([2, 4]), data=st.data())
def test_yaml_fmt_keeps_every_comment(doc: dict, indent: int, data: st.DataObject) -> None:
    source = _with_comments(_dump(_shuffled(doc, data), indent, flow=False), data)
    assume(_parses(source))
    if _refused_for_odd_line_breaks(source):
        return
    once = format_yaml(source, "p.yaml")
    assert format_yaml(once, "p.yaml") == once
    assert _load(once) == _load(source)
    marks = RE_COMMENTS.findall
    assert sorted(marks(once)) == sorted(marks(source))


RE_COMMENTS = re.compile(r"# ([ce]\d+)$", re.MULTILINE)


def test_fmt_rewrite_keeps_the_file_mode_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "a.yaml"
    target.write_text(UGLY)
    target.chmod(0o640)
    assert _invoke(str(target)).exit_code == 0
    assert target.read_text() == PRETTY
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml"]


@pytest.mark.parametrize(("before", "after", "same"), [
    ("a: 1\nb: 2\n", "b: 2\na: 1\n", True),
    ("a: null\n", "a:\n", True),
    ("a: '1'\n", "a: 1\n", False),
    ("a: {b: x}\n", "a: {b: ?x}\n", False),
], ids=["reordered", "null-spelling", "string-became-int", "unreadable-output"])
def test_safety_net_compares_the_data(before: str, after: str, same: bool) -> None:
    from reconciler.config import fmt as module

    assert module._same_data(before, after) is same


def test_output_that_would_change_data_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from reconciler.config import fmt as module

    monkeypatch.setattr(module, "_same_data", lambda before, after: False)
    target = tmp_path / "a.yaml"
    target.write_text(UGLY)
    result = _invoke(str(target))
    assert result.exit_code == 1
    assert "without changing a value" in result.output
    assert target.read_text() == UGLY


def test_hcl_output_that_would_change_tokens_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from reconciler.config import hcl_fmt

    real = hcl_fmt._layout

    def squeeze(tokens: list) -> None:  # a layout bug: no spaces at all, so "a - b" becomes the name "a-b"
        real(tokens)
        for token in tokens:
            token.spaces = 0

    monkeypatch.setattr(hcl_fmt, "_layout", squeeze)
    source = 'locals {\nvalue = a - b\n}\n'
    target = tmp_path / "main.tf"
    target.write_text(source)
    result = _invoke(str(target))
    assert result.exit_code == 1
    assert "cannot be normalized without changing a token" in result.output
    assert target.read_text() == source


_HCL_ALPHABET = 'ab1 =\n{}[]()"$%#/*<-EOT\\~.,:?!\t'


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=_HCL_ALPHABET, max_size=60))
def test_hcl_fmt_never_crashes_and_its_output_is_a_fixed_point(text: str) -> None:
    try:
        once = format_hcl(text, "fuzz.tf")
    except FormatError as exc:
        assert exc.filename == "fuzz.tf"
        return
    assert format_hcl(once, "fuzz.tf") == once
