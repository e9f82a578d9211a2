"""``poolform completion bash|zsh|fish``: each script is valid for its shell (``bash -n``, ``zsh -n``,
``fish --no-execute`` where installed) and completes through click's callback
(``_POOLFORM_COMPLETE=<shell>_complete``); bash and fish are driven through the generated script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

POOLFORM = str(Path(sys.executable).with_name("poolform"))
SHELL_CHECK = {"bash": ["bash", "-n"], "zsh": ["zsh", "-n"], "fish": ["fish", "--no-execute"]}


def script(shell: str) -> str:
    result = subprocess.run([POOLFORM, "completion", shell], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_each_script_is_valid_for_its_shell(shell: str, tmp_path: Path) -> None:
    text = script(shell)
    assert "_POOLFORM_COMPLETE" in text and f"{shell}_complete" in text
    if shutil.which(SHELL_CHECK[shell][0]) is None:
        pytest.skip(f"{shell} is not installed: only the script's shape is checked")
    path = tmp_path / f"poolform.{shell}"
    path.write_text(text, encoding="utf-8")
    check = subprocess.run([*SHELL_CHECK[shell], str(path)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize(("words", "expected"), [
    ("poolform pl", {"plan"}),
    ("poolform comp", {"completion"}),
    ("poolform plan --detailed", {"--detailed-exitcode"}),
    ("poolform completion ", {"bash", "zsh", "fish"}),
    ("poolform terraform ", {"install"}),
])
def test_bash_completes_through_the_generated_script(words: str, expected: set[str], tmp_path: Path) -> None:
    path = tmp_path / "poolform.bash"
    path.write_text(script("bash"), encoding="utf-8")
    trailing = " ''" if words.endswith(" ") else ""  # the empty word being completed
    driver = (
        f'source "{path}"\n'
        f'COMP_WORDS=({words}{trailing})\n'
        'COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n'
        '_poolform_completion poolform\n'
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{Path(POOLFORM).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", driver], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == expected, result.stdout


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
@pytest.mark.parametrize(("line", "expected"), [
    ("poolform pl", {"plan"}),
    ("poolform completion ", {"bash", "zsh", "fish"}),
])
def test_fish_completes_through_the_generated_script(line: str, expected: set[str], tmp_path: Path) -> None:
    path = tmp_path / "poolform.fish"
    path.write_text(script("fish"), encoding="utf-8")
    env = {**os.environ, "PATH": f"{Path(POOLFORM).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(["fish", "--no-config", "-c", f"source {path}; complete --do-complete '{line}'"],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert {row.split("\t")[0] for row in result.stdout.splitlines()} == expected, result.stdout


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_callbacks_offer_the_command(shell: str) -> None:
    env = {**os.environ, "_POOLFORM_COMPLETE": f"{shell}_complete", "COMP_WORDS": "poolform pl",
           "COMP_CWORD": "1" if shell == "zsh" else "pl"}
    result = subprocess.run([POOLFORM], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert "plan" in result.stdout.split() or "plain,plan\tShow what apply would change on the server." in result.stdout


def test_an_unknown_shell_is_a_usage_error() -> None:
    result = subprocess.run([POOLFORM, "completion", "tcsh"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "'tcsh' is not one of 'bash', 'zsh', 'fish'" in result.stderr
    assert "Traceback" not in result.stderr
