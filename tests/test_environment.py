"""The set-up files agree with each other: pyproject.toml, environment.yml, constraints.txt."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in ("book", "dev"):
        reqs += project["optional-dependencies"][extra]
    return {r.replace(" ", "") for r in reqs}


def _environment_requirements() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return {r.replace(" ", "") for r in pip if not r.startswith("-e")}


def test_environment_yml_lists_exactly_the_pyproject_requirements():
    in_pyproject = _pyproject_requirements()
    in_environment = _environment_requirements()
    assert in_pyproject - in_environment == set(), "missing from environment.yml"
    assert in_environment - in_pyproject == set(), "in environment.yml but not in pyproject.toml"


def test_environment_yml_installs_the_toolkit_and_python_3_11():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "-e ." in pip


def test_torch_is_pinned_to_the_same_version_everywhere():
    constraint = re.search(r"^torch==([\d.]+)$", (ROOT / "constraints.txt").read_text(), re.M)
    assert constraint, "constraints.txt must pin torch"
    pins = {r for r in _pyproject_requirements() | _environment_requirements() if r.startswith("torch")}
    assert pins == {f"torch=={constraint.group(1)}"}


def test_pyfeat_stays_an_optional_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any("py-feat" in r for r in project["dependencies"])
    assert any("py-feat" in r for r in project["optional-dependencies"]["pyfeat"])
    assert not any("py-feat" in r for r in _environment_requirements())


def test_only_one_opencv_distribution_is_requested():
    reqs = _pyproject_requirements()
    assert not any(r.startswith(("opencv-python", "opencv-python-headless")) for r in reqs)
