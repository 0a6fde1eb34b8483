"""The command line: the dispatcher (help, unknown commands, one-line errors) and the command table."""
from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys

import pytest

from toolkit import cli
from toolkit.__main__ import main
from toolkit.cli import COMMANDS


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The environment of the ``python -m toolkit`` subprocesses: a private stage cache."""
    return dict(os.environ, TOOLKIT_CACHE=str(tmp_path_factory.mktemp("cache")))


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name, (_, help_) in COMMANDS.items():
        assert f"  {name} " in out and help_ in out


def test_no_command_prints_usage_and_fails(capsys):
    assert main([]) == 2
    assert "usage: python -m toolkit COMMAND" in capsys.readouterr().out


def test_unknown_command_is_refused(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_every_command_is_a_function_of_toolkit_cli():
    assert sorted(COMMANDS) == ["analyze", "extract", "import", "report", "run", "simulate", "slices", "train"]
    for name, (function, help_) in COMMANDS.items():
        assert inspect.getmodule(function) is cli, name
        assert list(inspect.signature(function).parameters) == ["argv"], name
        assert help_ and "\n" not in help_


@pytest.mark.parametrize("module", ["salience", "classify", "importances", "recovery", "folds", "models", "extract",
                                    "hirability", "model", "training", "runs", "importers", "report", "simulate",
                                    "slices"])
def test_modules_no_longer_have_their_own_command_line(module):
    assert not hasattr(importlib.import_module(f"toolkit.{module}"), "cli")


def test_main_dispatches_to_the_command_with_the_rest_of_argv(monkeypatch):
    seen = []
    monkeypatch.setitem(COMMANDS, "report", (lambda argv: seen.append(argv) or 7, "stand-in"))
    assert main(["report", "a", "--format", "md"]) == 7
    assert seen == [["a", "--format", "md"]]


def test_an_exception_becomes_one_error_line(monkeypatch, capsys):
    def broken(argv):
        raise ValueError("first line\n   second   line")

    monkeypatch.setitem(COMMANDS, "report", (broken, "stand-in"))
    monkeypatch.delenv("TOOLKIT_TRACEBACK", raising=False)
    assert main(["report"]) == 1
    assert capsys.readouterr().err == "error: first line second line\n"
    monkeypatch.setenv("TOOLKIT_TRACEBACK", "1")
    with pytest.raises(ValueError, match="first line"):
        main(["report"])


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help(command, env):
    result = subprocess.run([sys.executable, "-m", "toolkit", command, "--help"], capture_output=True, text=True,
                            env=env)
    assert result.returncode == 0, result.stderr
    assert f"python -m toolkit {command}" in result.stdout


def test_a_failure_is_one_line_and_non_zero(tmp_path, env):
    result = subprocess.run([sys.executable, "-m", "toolkit", "report", str(tmp_path / "nowhere")],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: ")
    assert "not a run folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["simulate", "extract", "import", "train", "slices", "analyze", "run", "report"])
def test_every_command_fails_on_bad_input_with_one_line(command, tmp_path, env):
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
    result = subprocess.run([sys.executable, "-m", "toolkit", command, *args], capture_output=True, text=True,
                            env=env)
    assert result.returncode != 0
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith(("WARNING", "I0000", "W0000"))]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
