"""The command-line dispatcher: help, unknown commands, one-line errors."""
from __future__ import annotations

import subprocess
import sys

import pytest

from toolkit.__main__ import COMMANDS, main


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_no_command_prints_usage_and_fails(capsys):
    assert main([]) == 2
    assert "usage: python -m toolkit COMMAND" in capsys.readouterr().out


def test_unknown_command_is_refused(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help(command):
    result = subprocess.run([sys.executable, "-m", "toolkit", command, "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"python -m toolkit {command}" in result.stdout


def test_a_failure_is_one_line_and_non_zero(tmp_path):
    result = subprocess.run([sys.executable, "-m", "toolkit", "report", str(tmp_path / "nowhere")],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: ")
    assert "not a run folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
