"""The read policy: ``file:``, ``file()`` and ``templatefile()`` read only inside the configuration's
root (the ``-f`` paths' directories and the working directory) or an ``--allow-read`` path; never
/proc, /sys, /dev; never a named pipe (it would block)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.config.files import ReadPolicy, ReadRefused, read_confined
from reconciler.config.load import load

TEMPLATE = '{"job_configuration": {"command": "{{ command }}"}, "variables": {"properties": {"command": {"type": "string", "default": "SECRET-CONTENT-42"}}}}'


def _yaml_ref(path: str) -> str:
    return f"version: 1\nwork_pools:\n  p:\n    type: process\n    base_job_template: {{file: {path!r}}}\n"


def _hcl(expr: str) -> str:
    return ('resource "prefect_work_pool" "p" {\n  name = "p"\n  type = "process"\n'
            f'  base_job_template = {expr}\n}}\n')


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """tmp/repo (the working directory) with configs in repo/pools; tmp/outside holds a template."""
    root = tmp_path / "repo"
    (root / "pools").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "templates" / "ok.json").write_text(TEMPLATE, encoding="utf-8")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "t.json").write_text(TEMPLATE, encoding="utf-8")
    monkeypatch.chdir(root)
    return root


def _errors(diags):
    return [(str(d.range) if d.range else "-", d.summary, d.effective_code) for d in diags.errors]


def test_yaml_file_reference_inside_the_root_is_read(repo):
    (repo / "pools" / "a.yaml").write_text(_yaml_ref("../templates/ok.json"), encoding="utf-8")
    state, diags = load(["pools"])
    assert not diags.has_errors, _errors(diags)
    assert state.pools["p"].base_job_template["variables"]["properties"]["command"]["default"] == "SECRET-CONTENT-42"


@pytest.mark.parametrize("ref", ["../../outside/t.json", "{outside}/t.json", "/proc/self/environ", "/etc/hostname",
                                 "../templates/../../outside/t.json"])
def test_yaml_file_reference_leaving_the_root_is_an_error_at_its_line(repo, ref):
    ref = ref.format(outside=repo.parent / "outside")
    (repo / "pools" / "a.yaml").write_text(_yaml_ref(ref), encoding="utf-8")
    state, diags = load(["pools"])
    assert state is None
    ((where, summary, code),) = _errors(diags)
    assert where == "pools/a.yaml:5:31"
    assert code == "read_outside_root"
    assert summary in (f"{os.path.normpath(os.path.join('pools', ref))} is outside the configuration's root",
                       f"{ref} is outside the configuration's root", f"{ref} is a system file poolform never reads")
    assert "SECRET-CONTENT-42" not in repr(diags)


def test_a_symlink_pointing_out_of_the_root_is_an_error(repo):
    os.symlink(repo.parent / "outside" / "t.json", repo / "templates" / "link.json")
    (repo / "pools" / "a.yaml").write_text(_yaml_ref("../templates/link.json"), encoding="utf-8")
    state, diags = load(["pools"])
    assert _errors(diags) == [("pools/a.yaml:5:31", "templates/link.json is outside the configuration's root",
                               "read_outside_root")]


def test_a_symlinked_directory_pointing_out_of_the_root_is_an_error(repo):
    os.symlink(repo.parent / "outside", repo / "templates" / "shared")
    (repo / "pools" / "a.yaml").write_text(_yaml_ref("../templates/shared/t.json"), encoding="utf-8")
    state, diags = load(["pools"])
    assert [e[2] for e in _errors(diags)] == ["read_outside_root"]


def test_allow_read_widens_the_root_explicitly(repo):
    ref = "../../outside/t.json"
    (repo / "pools" / "a.yaml").write_text(_yaml_ref(ref), encoding="utf-8")
    state, diags = load(["pools"], allow_read=[str(repo.parent / "outside")])
    assert not diags.has_errors, _errors(diags)
    assert state.pools["p"].base_job_template["job_configuration"] == {"command": "{{ command }}"}


def test_the_f_paths_directories_are_part_of_the_root(repo, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "t.json").write_text(TEMPLATE, encoding="utf-8")
    (other / "a.yaml").write_text(_yaml_ref("t.json"), encoding="utf-8")
    state, diags = load([str(other / "a.yaml")])
    assert not diags.has_errors, _errors(diags)


def test_system_pseudo_files_are_refused_even_when_allowed():
    policy = ReadPolicy.for_config([], ["/"])
    for path in ("/proc/self/environ", "/proc/self/cmdline", "/dev/zero", "/sys/kernel/hostname"):
        with pytest.raises(ReadRefused) as refused:
            read_confined(path, policy=policy)
        assert refused.value.code == "read_outside_root"
        assert "never reads" in refused.value.summary


def test_a_named_pipe_is_refused_without_blocking(repo):
    os.mkfifo(repo / "templates" / "pipe.json")
    (repo / "pools" / "a.yaml").write_text(_yaml_ref("../templates/pipe.json"), encoding="utf-8")
    state, diags = load(["pools"])
    assert _errors(diags) == [("pools/a.yaml:5:31", "templates/pipe.json is a named pipe, not a file",
                               "unreadable_input")]


HCL_CASES = {
    "proc_environ": ('file("/proc/self/environ")', "/proc/self/environ is a system file poolform never reads"),
    "dotdot": ('file("../outside/t.json")', "../outside/t.json is outside the configuration's root"),
    "templatefile_out": ('templatefile("${path.module}/../../outside/t.json", {})',
                         "./../../outside/t.json is outside the configuration's root"),
    "absolute": ('file("{outside}/t.json")', "{outside}/t.json is outside the configuration's root"),
}


@pytest.mark.parametrize("expr,summary", list(HCL_CASES.values()), ids=list(HCL_CASES))
def test_hcl_file_functions_read_only_inside_the_root(repo, expr, summary):
    outside = repo.parent / "outside"
    os.chdir(repo / "pools")  # the working directory is part of the root: make it the pools directory
    (repo / "pools" / "main.tf").write_text(_hcl(expr.replace("{outside}", str(outside))), encoding="utf-8")
    state, diags = load(["."])
    assert state is None
    ((where, got, code),) = _errors(diags)
    assert where == "main.tf:4:23"
    assert got == summary.replace("{outside}", str(outside))
    assert code == "read_outside_root"
    assert "SECRET-CONTENT-42" not in repr(diags)


def test_hcl_file_inside_the_root_is_read(repo):
    (repo / "pools" / "main.tf").write_text(_hcl('file("templates/ok.json")'), encoding="utf-8")
    state, diags = load(["pools"])
    assert not diags.has_errors, _errors(diags)
    assert state.pools["p"].base_job_template["job_configuration"] == {"command": "{{ command }}"}


# --------------------------------------------------------------------------- property

_NAMES = st.sampled_from(["a", "b", "..", ".", "in", "out", "link_in", "link_out"])


@pytest.fixture(scope="module")
def prop_tree(tmp_path_factory):
    """base/root and base/outside, each with a, b, in, out and f.txt everywhere; in every directory
    ``link_in`` points to root/a and ``link_out`` to outside/b."""
    base = tmp_path_factory.mktemp("prop")
    root, outside = base / "root", base / "outside"
    for top in (root, outside):
        for sub in ("a", "b", "in", "out"):
            (top / sub).mkdir(parents=True)
    for top in (root, outside):
        for directory in [top, *(top / s for s in ("a", "b", "in", "out"))]:
            (directory / "f.txt").write_text(f"content of {directory}", encoding="utf-8")
            os.symlink(root / "a", directory / "link_in")
            os.symlink(outside / "b", directory / "link_out")
    return root


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(_NAMES, min_size=1, max_size=7))
def test_a_path_is_read_exactly_when_its_real_location_is_inside_the_root(prop_tree, parts):
    """Whatever mix of ``..``, ``.`` and symlinks (in and out of the root) a path takes, it is read
    exactly when the file it finally reaches lies inside the root, and only then."""
    root = prop_tree
    path = os.path.join(str(root / "a"), *parts, "f.txt")
    policy = ReadPolicy(roots=(os.path.realpath(root),))
    real = Path(os.path.realpath(path))
    inside = real.is_relative_to(os.path.realpath(root))
    try:
        text = read_confined(path, policy=policy)
    except ReadRefused as refused:
        assert not inside or not real.exists(), (path, refused.summary)
        assert refused.code == ("unreadable_input" if inside else "read_outside_root"), (path, refused.summary)
    else:
        assert inside and text == real.read_text(encoding="utf-8")
