"""`workerctl completion` and `workerctl version`: scripts the shells load, completions they get, the version line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pyworker
from pyworker.entrypoints.cli import main
from pyworker.entrypoints.errors import EXIT_USAGE

WORKERCTL = str(Path(sys.executable).with_name("workerctl"))


@pytest.mark.parametrize(("shell", "marker"), [("bash", "complete -o"), ("zsh", "#compdef workerctl"),
                                               ("fish", "complete --no-files --command workerctl")])
def test_completion_prints_the_shells_script(shell: str, marker: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", shell]) == 0

    script = capsys.readouterr().out
    assert marker in script
    assert "_WORKERCTL_COMPLETE" in script


def test_an_unknown_shell_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "tcsh"]) == EXIT_USAGE
    assert capsys.readouterr().err.startswith('workerctl: unsupported shell "tcsh"')


@pytest.mark.slow
def test_the_zsh_script_completes_commands_through_the_installed_workerctl() -> None:
    # What the zsh script runs on <TAB>: the same program with its completion variables set.
    env = {**os.environ, "_WORKERCTL_COMPLETE": "zsh_complete", "COMP_WORDS": "workerctl durable dl", "COMP_CWORD": "2"}
    done = subprocess.run([WORKERCTL], env=env, capture_output=True, text=True, timeout=30, check=True)

    assert done.stdout.splitlines()[:2] == ["plain", "dlq"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_the_bash_script_is_valid_bash() -> None:
    script = subprocess.run([WORKERCTL, "completion", "bash"], capture_output=True, text=True, timeout=30, check=True)

    subprocess.run(["bash", "-n"], input=script.stdout, text=True, timeout=30, check=True)


def test_version_names_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0

    assert capsys.readouterr().out.startswith(f"workerctl {pyworker.__version__} (python=")
