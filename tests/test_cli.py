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


@pytest.mark.parametrize("command", ["simulate", "extract", "import", "train", "slices", "analyze", "run", "report"])
def test_every_command_fails_on_bad_input_with_one_line(command, tmp_path):
    missing = str(tmp_path / "missing")
    args = {
        "simulate": [missing, "--preset", "no-such-preset"],
        "extract": [missing, str(tmp_path / "out")],
        "import": ["--format", "openface", missing, missing + ".csv", str(tmp_path / "out")],
        "train": [missing, str(tmp_path / "run")],
        "slices": [missing],
        "analyze": [missing],
        "run": [missing, str(tmp_path / "run")],
        "report": [missing],
    }[command]
    result = subprocess.run([sys.executable, "-m", "toolkit", command, *args], capture_output=True, text=True)
    assert result.returncode != 0
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith(("WARNING", "I0000", "W0000"))]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
