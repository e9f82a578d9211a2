"""``poolform fmt`` against the real ``terraform fmt``: the same output, byte for byte, and the same refusals.

Cases: every .tf and .tfvars file of the repository, the ```hcl blocks of the docs, hand-written hard
cases (heredocs, comments in odd places, nested and single-line blocks, for expressions, multi-line
lists and objects, alignment runs broken by comments and blank lines, terraform's own rewrites) and
generated ones (tests/cikit/hcl_generator.py, fixed seeds). One terraform process formats them all
in place (CHECKPOINT_DISABLE=1 and an empty CLI config of our own); skipped when terraform is not on
PATH. POOLFORM_FMT_CASES=N generates N cases instead of the default.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli.main import cli
from reconciler.config.fmt import FormatError, format_hcl

from .hcl_generator import generate, scramble

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = shutil.which("terraform")
GENERATED = int(os.environ.get("POOLFORM_FMT_CASES", "150"))
SKIP_DIRS = {".git", ".venv", ".venv-prefect", ".terraform", "node_modules", ".hypothesis", ".pytest_cache"}

pytestmark = pytest.mark.skipif(TERRAFORM is None, reason="terraform is not on PATH")

HARD = {
    "heredoc-then-aligned-run": 'a = <<EOT\nfoo   \n  ${x}\nEOT\nbbb = 2\n',
    "flush-heredoc-in-block": 'locals {\n      a = <<-EOT\n        one\n          two ${var.x}\n        EOT\n  b=1\n}\n',
    "heredoc-in-list": 'x = [\n<<EOT\nhi\nEOT\n, 2,\n  ]\n',
    "heredoc-in-call": 'x = jsonencode(<<JSON\n{"a": 1}\nJSON\n)\n',
    "empty-heredoc": 'x = <<EOT\nEOT\n',
    "crlf-heredoc": 'x = <<EOT\r\nline\r\nEOT\r\nyy = 1\r\n',
    "comments-everywhere": ('# top\nresource "a" "b" { # after brace\n  // own line\n  x = 1 /* inline */\n'
                            '  yyy = [ # open\n    1, # one\n    /* two */ 2,\n    # alone\n  ] # close\n'
                            '  z = { /* c */ a = 1 }\n} # end\n'),
    "comment-breaks-alignment": 'locals {\n  a = 1\n  # break\n  bbbb = 2\n  cc = 3\n\n  d = 4 # x\n  eeeee = 5 # y\n}\n',
    "block-comment-multiline": 'x {\n  /* c\n  */ a = 1\n      /*\n   keep\n */\n}\n',
    "nested-blocks": 'a {\nb {\nc {\nd = 1\n}\n}\ne "l" {\n}\n}\n',
    "single-line-blocks": 'lifecycle { prevent_destroy = true }\nb {}\nc "x" { y = [1,2] }\n',
    "for-expressions": ('x = [for k,v in var.m: "${k}=${v}" if v!=null]\n'
                        'y = {for k, v in var.m : upper(k) => v...}\nz = [for x in [for y in z: y]: x]\n'),
    "multi-line-lists-objects": ('x = [\n1,\n  2,\n      [3,\n4],\n]\n'
                                 'y = {\n  a = {\n  b = 1\n  cc = 2\n  }\n  ddd = [\n  1\n  ]\n  e = 5\n}\n'),
    "closers-and-openers-on-one-line": 'x = [{\na = 1\n}, {\nbb = 2\n}]\ny = merge({\n  a = 1\n  }, {\n  b = 2\n})\n',
    "operators-and-unary": 'x = [-1, - 2, a - b, a-1, !b, a * -b, (a) - 1, x[-1], a==b, c=>d]\n'.replace(", c=>d", ""),
    "splat-and-index": 'x = a[*].b\ny = a.*.b\nz = a[0] [1] ["k"]\nw = a.0\n',
    "templates": 'x = "${ a }-%{ if b }y%{ else }n%{ endif }"\ny = "%{~ for i in l ~} ${i} %{~ endfor ~}"\n',
    "interpolation-only-unwrapped": ('a = "${var.x}"\nb = "${var.x}${var.y}"\nc = "x${var.y}"\n'
                                     'd = "${\n  var.c ?\n  1 : 2\n}"\ne = "${(x)}"\n'),
    "legacy-variable-types": ('variable "a" {\n  type = "string"\n}\nvariable "b" {\n  type = list\n}\n'
                              'variable "c" {\n  type = "map"\n}\nvariable "d" {\n  type = set\n}\n'
                              'x "variable" {\n  type = list\n}\n'),
    "unquoted-labels-and-escapes": 'resource aws_instance web {\n}\nresource "a" "x\\u0041" {\n}\n',
    "provider-functions-and-ellipsis": 'x = provider::terraform::encode_tfvars({ a = 1 })\ny = f(var.l...)\n',
    "unicode-alignment": 'locals {\n  ünï = 1\n  b = 2\n  "é" = 3\n}\n',
    "tabs-and-trailing-spaces": 'locals {\n\ta\t=\t1   \n\tbb =\t2\t\n}\n',
    "no-final-newline": 'a = 1',
    "trailing-spaces-at-eof": 'a=1   ',
    "blank-lines-kept": '\n\n\na = 1\n\n\n\nb = 2\n\n',
    "empty": '',
    "object-colons": 'x = { a: 1, "b": 2 }\ny = {\n  a: 1\n  bb: 2\n}\n',
    "conditional-multi-line-in-parens": 'x = (\n  a ?\n  b :\n  c\n)\n',
}

INVALID = {
    "missing-value": 'a = \n',
    "unclosed-block": 'resource "x" "y" {\n  a = 1\n',
    "two-attributes-one-line": 'a = 1 b = 2\n',
    "comma-between-attributes": 'a = 1,\nb = 2\n',
    "unterminated-string": 'a = "abc\n',
    "heredoc-never-closed": 'a = <<EOT\nabc\n',
    "bad-escape": 'a = "\\q"\n',
    "duplicate-attribute": 'a = 1\na = 2\n',
    "endif-without-if": 'a = "%{ endif }"\n',
    "single-quotes": "a = 'x'\n",
    "semicolon": 'a = 1;\n',
    "block-with-equals": 'a = {\n}\nb = c {\n}\n',
    "multi-line-conditional-in-body": 'a = b ?\nc : d\n',
    "tuple-for-with-arrow": 'a = [for x in y : x => x]\n',
}


def _repository_cases() -> dict[str, str]:
    cases: dict[str, str] = {}
    for path in sorted(ROOT.rglob("*")):
        if any(part in SKIP_DIRS for part in path.relative_to(ROOT).parts):
            continue
        if path.is_file() and path.suffix in (".tf", ".tfvars"):
            cases[f"repo:{path.relative_to(ROOT)}"] = path.read_text(encoding="utf-8")
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "terraform" / "README.md"]:
        if doc.exists():
            for index, block in enumerate(re.findall(r"```hcl\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)):
                cases[f"doc:{doc.relative_to(ROOT)}#{index}"] = block
    return cases


REPOSITORY = _repository_cases()


def _generated() -> dict[str, str]:
    cases = {}
    for seed in range(GENERATED):
        rng = random.Random(seed)
        cases[f"generated:{seed}"] = scramble(generate(rng), rng)
    return cases


GENERATED_CASES = _generated()
ALL = {**REPOSITORY, **{f"hard:{k}": v for k, v in HARD.items()}, **{f"invalid:{k}": v for k, v in INVALID.items()},
       **GENERATED_CASES}


@pytest.fixture(scope="module")
def terraform_fmt(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    """Each case as terraform fmt writes it (None: terraform refused it), from one terraform process."""
    root = tmp_path_factory.mktemp("tf-fmt")
    names = {}
    for index, (case, text) in enumerate(ALL.items()):
        name = f"c{index:05d}.tf"
        names[case] = name
        (root / name).write_bytes(text.encode("utf-8"))
    config = root.parent / "terraformrc"
    config.write_text("", encoding="utf-8")
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": str(config), "TF_IN_AUTOMATION": "1"}
    result = subprocess.run([TERRAFORM, "fmt", "-no-color", "-list=false", str(root)], capture_output=True, text=True,
                            env=env, timeout=300)
    refused = set(re.findall(r"on \S*?(c\d{5}\.tf) line", result.stderr))
    assert result.returncode == 0 or refused, result.stderr
    return {case: None if name in refused else (root / name).read_bytes().decode("utf-8")
            for case, name in names.items()}


def _ours(text: str) -> str | None:
    try:
        return format_hcl(text, "case.tf")
    except FormatError:
        return None


@pytest.mark.parametrize("case", list(ALL), ids=list(ALL))
def test_same_output_and_same_refusals_as_terraform(terraform_fmt, case):
    expected = terraform_fmt[case]
    ours = _ours(ALL[case])
    if case.startswith("invalid:"):
        assert expected is None, f"terraform accepts {case}; move it to HARD"
    if expected is None:
        assert ours is None, f"terraform refuses {case!r} but poolform formats it"
        return
    assert ours is not None, f"poolform refuses {case!r}, which terraform fmt accepts"
    assert ours == expected


def test_most_generated_cases_are_valid_and_changed(terraform_fmt):
    """The generator must exercise the formatter: most cases valid, and most needing changes."""
    valid = [case for case in GENERATED_CASES if terraform_fmt[case] is not None]
    changed = [case for case in valid if terraform_fmt[case] != GENERATED_CASES[case]]
    assert len(valid) >= 0.9 * len(GENERATED_CASES)
    assert len(changed) >= 0.9 * len(valid)


def test_repository_hcl_passes_fmt_check_as_terraforms_does(terraform_fmt, tmp_path):
    """`terraform fmt -check` accepts the repository's HCL, so `poolform fmt --check` must too."""
    files = [ROOT / case[len("repo:"):] for case in REPOSITORY if case.startswith("repo:")]
    assert files, "the repository has .tf files"
    for case in (c for c in REPOSITORY if c.startswith("repo:")):
        assert terraform_fmt[case] == REPOSITORY[case], f"{case} is not terraform-formatted"
    result = CliRunner().invoke(cli, ["fmt", "--check", *map(str, files)])
    assert result.exit_code == 0, result.output


def test_terraform_data_losses_are_not_copied():
    """terraform fmt drops a quoted block label holding `$` and a comment between labels; poolform keeps them."""
    assert format_hcl('resource "a" "x$y" {\n}\n', "m.tf") == 'resource "a" "x$y" {\n}\n'
    assert format_hcl('resource /* c */ a "b" {\n}\n', "m.tf") == 'resource /* c */ "a" "b" {\n}\n'
