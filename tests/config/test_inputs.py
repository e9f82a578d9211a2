"""Every input is accounted for: what ``-f`` names or a directory holds is read or is an error;
without ``-f`` only poolform configs are read, and a file that cannot be parsed is an error."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from reconciler.config import load as load_module
from reconciler.config.load import is_poolform_config, load

GOOD = "version: 1\nmanage: {prune: true, scope: ['x-*']}\nwork_pools:\n  x-a: {type: process}\n"
OTHER = "version: 1\nwork_pools:\n  x-b: {type: process}\n"


def _codes(diags):
    return sorted({d.effective_code for d in diags.errors})


def _summaries(diags):
    return [d.summary for d in diags.errors]


# --------------------------------------------------------------------------- -f DIR

BROKEN_ENTRIES = {
    # name: (make the entry, expected words in the error)
    "dangling_symlink": (lambda d: os.symlink("gone.yaml", d / "b.yaml"), "pools/b.yaml is a dangling symbolic link"),
    "looping_symlink": (lambda d: os.symlink("b.yaml", d / "b.yaml"), "pools/b.yaml is a symbolic link loop"),
    "mutual_loop": (lambda d: (os.symlink("c.yaml", d / "b.yaml"), os.symlink("b.yaml", d / "c.yaml")),
                    "pools/b.yaml is a symbolic link loop"),
    "directory_named_yaml": (lambda d: (d / "b.yaml").mkdir(), "pools/b.yaml is a directory, not a file"),
    "named_pipe": (lambda d: os.mkfifo(d / "b.yaml"), "pools/b.yaml is a named pipe, not a file"),
    "latin1": (lambda d: (d / "b.yaml").write_bytes(b"version: 1\ndescription: caf\xe9\n"), "pools/b.yaml is not UTF-8"),
    "symlink_out_of_root": (lambda d: os.symlink("/etc/hostname", d / "b.yaml"), "pools/b.yaml is outside the configuration's root"),
}


@pytest.mark.parametrize("make,words", list(BROKEN_ENTRIES.values()), ids=list(BROKEN_ENTRIES))
def test_an_entry_of_a_directory_that_cannot_be_read_is_an_error_and_nothing_loads(tree, make, words):
    tree.write("pools/a.yaml", GOOD)
    make(tree.root / "pools")
    state, diags = load(["pools"])
    assert state is None
    assert any(words in s for s in _summaries(diags)), _summaries(diags)
    assert set(_codes(diags)) <= {"unreadable_input", "read_outside_root"}, _codes(diags)


def test_a_given_dangling_symlink_is_an_error(tree):
    os.symlink("nowhere.yaml", tree.root / "pools.yaml")
    state, diags = load(["pools.yaml"])
    assert state is None
    assert _summaries(diags) == ["pools.yaml is a dangling symbolic link"]
    assert _codes(diags) == ["unreadable_input"]


def test_a_directory_that_cannot_be_listed_is_an_error_not_a_traceback(tree, monkeypatch):
    tree.write("pools/a.yaml", GOOD)
    real_scandir = os.scandir

    def scandir(path):
        if os.path.basename(os.fspath(path)) == "pools":
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(load_module.os, "scandir", scandir)
    state, diags = load(["pools"])
    assert state is None
    assert _summaries(diags) == ["cannot read the directory pools: Permission denied"]
    assert _codes(diags) == ["unreadable_input"]


def _as_unprivileged_user(argv: list[str], cwd: str) -> subprocess.CompletedProcess[str]:
    """Run argv as ``nobody`` when we are root (root reads any file whatever its mode), else as we are."""
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: permissions cannot be tested")
        argv = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", *argv]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NO_COLOR": "1", "HOME": cwd})


def test_unreadable_files_and_directories_are_errors_naming_them(tmp_path):
    root = tempfile.mkdtemp(dir="/tmp")  # tmp_path's parents are not open to another user
    try:
        os.chmod(root, 0o755)
        for sub in ("pools", "locked"):
            os.mkdir(os.path.join(root, sub))
            with open(os.path.join(root, sub, "a.yaml"), "w", encoding="utf-8") as fh:
                fh.write(GOOD)
        os.chmod(os.path.join(root, "pools", "a.yaml"), 0)
        os.chmod(os.path.join(root, "locked"), 0)
        result = _as_unprivileged_user([sys.executable, "-m", "reconciler", "validate", "-f", "pools", "-f", "locked",
                                        "--json"], root)
    finally:
        os.chmod(os.path.join(root, "locked"), 0o755)
        shutil.rmtree(root)
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert sorted((d["summary"], d["code"]) for d in document["diagnostics"]) == [
        ("cannot read pools/a.yaml: Permission denied", "unreadable_input"),
        ("cannot read the directory locked: Permission denied", "unreadable_input"),
    ]
    assert "Traceback" not in result.stderr


def test_hidden_and_backup_files_of_a_directory_are_passed_over_as_terraform_does(tree):
    tree.write("pools/a.yaml", GOOD)
    tree.write("pools/.pre-commit-config.yaml", "repos: []\n")
    tree.write("pools/a.yaml~", "garbage: [\n")
    tree.write("pools/#a.yaml#", "garbage: [\n")
    os.symlink("root@host.1234:1700000000", tree.root / "pools" / ".#a.yaml")  # an emacs lock file
    state, diags = load(["pools"])
    assert not diags.has_errors, _summaries(diags)
    assert list(state.pools) == ["x-a"]


# --------------------------------------------------------------------------- no -f: poolform configs only

FOREIGN = {
    ".pre-commit-config.yaml": "repos:\n- repo: https://github.com/psf/black\n  rev: 24.1.0\n  hooks: [{id: black}]\n",
    "docker-compose.yml": "version: '3.8'\nservices:\n  db: {image: postgres}\n",
    "mkdocs.yml": "site_name: docs\nnav: [index.md]\n",
    "k8s.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n",
    "empty.yaml": "",
    "list.yaml": "- a\n- b\n",
    "gitlab.yml": "include:\n  - local: x.yml\njob:\n  script: !reference [.setup, script]\n",
    "readthedocs.yaml": "version: 2\nbuild: {os: ubuntu-22.04}\n",
    "prefect.yaml": "name: flows\ndeployments:\n- name: d\n  work_pool: {name: x-a, work_queue_name: q}\n",
}


def test_without_f_other_yaml_files_are_not_read_and_not_errors(tree):
    for name, text in FOREIGN.items():
        (tree.root / name).write_text(text, encoding="utf-8")
    tree.write("pools.yaml", GOOD)
    state, diags = load([])
    assert not diags, [d.format() for d in diags]
    assert list(state.pools) == ["x-a"]


def test_without_f_every_poolform_config_is_read_in_name_order(tree):
    tree.write("a.yaml", GOOD)
    tree.write("b.yml", OTHER)
    tree.write("compose.yaml", FOREIGN["docker-compose.yml"])
    state, diags = load([])
    assert not diags.has_errors
    assert sorted(state.pools) == ["x-a", "x-b"]


@pytest.mark.parametrize("text", [
    "version: 1\nwork_pool:\n  x-b: {type: process}\n",       # typo of work_pools
    "version: 1\nworkPools:\n  x-b: {type: process}\n",
    "base_job_template:\n  k8s: {file: t.json}\n",
    "managed: {prune: true}\n",
    "# yaml-language-server: $schema=provider-schema/config.schema.json\nverison: 1\n",
], ids=["work_pool", "workPools", "base_job_template", "managed", "modeline"])
def test_without_f_a_config_with_a_typo_is_still_read_and_its_error_reported(tree, text):
    tree.write("a.yaml", GOOD)
    tree.write("b.yaml", text)
    state, diags = load([])
    assert state is None
    assert any(d.range and d.range.filename == "b.yaml" for d in diags.errors), [d.format() for d in diags]


@pytest.mark.parametrize("text,code", [
    ("version: 1\nwork_pools:\n  x-b: {type: process\n", "syntax_error"),       # a broken poolform config
    ("services:\n  db: {image: postgres\n", "syntax_error"),                     # a broken file of anyone
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
     + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}' if i else '*a'] * 10)}]\n" for i in range(8)),
     "yaml_too_large"),                                                        # a bomb of no known tool
], ids=["broken_config", "broken_foreign", "billion_laughs"])
def test_without_f_a_yaml_file_that_cannot_be_parsed_is_an_error_not_skipped(tree, text, code):
    tree.write("a.yaml", GOOD)
    tree.write("b.yaml", text)
    state, diags = load([])
    assert state is None
    assert [d.range.filename for d in diags.errors] == ["b.yaml"]
    assert _codes(diags) == [code]


def test_without_f_an_unreadable_file_is_an_error_not_skipped(tree):
    tree.write("a.yaml", GOOD)
    os.symlink("missing.yaml", tree.root / "b.yaml")
    state, diags = load([])
    assert state is None
    assert _summaries(diags) == ["b.yaml is a dangling symbolic link"]


def test_without_f_nothing_to_read_names_the_files_passed_over(tree):
    tree.write("docker-compose.yml", FOREIGN["docker-compose.yml"])
    tree.write("mkdocs.yml", FOREIGN["mkdocs.yml"])
    state, diags = load([])
    assert state is None
    (error,) = diags.errors
    assert error.summary == "no poolform config in the current directory"
    assert "It holds docker-compose.yml, mkdocs.yml, but none of them is one." in error.detail
    assert error.effective_code == "no_configuration"


def test_with_f_every_yaml_file_of_the_directory_is_a_config(tree):
    tree.write("pools/a.yaml", GOOD)
    tree.write("pools/compose.yaml", FOREIGN["docker-compose.yml"])
    state, diags = load(["pools"])
    assert state is None
    assert any("unknown key 'services'" in s for s in _summaries(diags))


@pytest.mark.parametrize("key,claimed", [
    ("work_pools", True), ("base_job_templates", True), ("manage", True), ("work_pool", True),
    ("Work-Pools", True), ("version", False), ("services", False), ("repos", False), ("jobs", False),
    ("apiVersion", False), ("deployments", False), ("definitions", False), ("pools", False), ("paths", False),
])
def test_what_claims_a_file(key, claimed):
    assert is_poolform_config({key: 1}, "") is claimed
    assert is_poolform_config(["not", "a", "mapping"], "") is False
