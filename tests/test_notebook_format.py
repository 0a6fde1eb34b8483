"""The chapters open in JupyterLab as notebooks and a save without edits rewrites them byte for byte.

JupyterLab saves a chapter through Jupytext's contents manager with the project's Jupytext
configuration (notebooks/jupytext.toml). These tests do the same in memory (no execution, no server):
read each chapter, write it back in its own format with that configuration, and compare bytes.
"""

import copy
import json
import tomllib
from pathlib import Path

import jupytext
import pytest
from nbformat.v4 import new_output
from jupytext.config import find_jupytext_configuration_file, load_jupytext_config

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.md"))
IDS = [p.name for p in NOTEBOOKS]


def test_there_are_chapters():
    assert NOTEBOOKS, "no chapter in notebooks/"


def own_format(path: Path) -> str:
    """The chapter's format as its header states it, e.g. 'md:myst'."""
    representation = jupytext.read(path)["metadata"]["jupytext"]["text_representation"]
    return representation["extension"].lstrip(".") + ":" + representation["format_name"]


def save_like_jupyterlab(path: Path, nb=None) -> str:
    """The text Jupytext writes for this chapter with the project's configuration."""
    config = load_jupytext_config(str(path))
    if nb is None:
        nb = jupytext.read(path)
    return jupytext.writes(nb, fmt=own_format(path), config=config)


def test_project_jupytext_config_applies_to_the_chapters():
    for path in NOTEBOOKS:
        found = find_jupytext_configuration_file(str(path.parent))
        assert found and Path(found) == ROOT / "notebooks" / "jupytext.toml", (path.name, found)
    settings = tomllib.loads((ROOT / "notebooks" / "jupytext.toml").read_text())
    assert "formats" not in settings, "chapters are not paired: outputs never go into the repository"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_chapter_is_myst_with_a_kernelspec(path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\njupytext:\n"), "a chapter starts with its jupytext header"
    metadata = jupytext.read(path)["metadata"]
    representation = metadata["jupytext"]["text_representation"]
    assert representation["extension"] == ".md"
    assert representation["format_name"] == "myst"
    kernelspec = metadata.get("kernelspec")
    assert kernelspec, "the header names a kernel, so that the notebook starts one when opened"
    assert kernelspec.get("name") and kernelspec.get("language") == "python"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_save_without_edit_is_byte_identical(path):
    before = path.read_bytes()
    after = save_like_jupyterlab(path).encode("utf-8")
    if after != before:
        import difflib

        diff = "".join(difflib.unified_diff(before.decode("utf-8").splitlines(True),
                                            after.decode("utf-8").splitlines(True),
                                            "in git", "after save", n=1))
        pytest.fail(f"saving {path.name} would change it:\n{diff[:3000]}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_outputs_and_kernel_metadata_are_not_saved(path):
    """After a run in JupyterLab the notebook has outputs and language_info; the .md stays unchanged."""
    nb = copy.deepcopy(jupytext.read(path))
    nb.metadata["language_info"] = {"name": "python", "version": "3.11"}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.execution_count = i + 1
            cell.outputs = [new_output("stream", name="stdout", text="output\n")]
    assert save_like_jupyterlab(path, nb).encode("utf-8") == path.read_bytes()


def test_jupyterlab_opens_markdown_as_a_jupytext_notebook():
    """`make lab` adds .jupyter/ to JUPYTER_CONFIG_PATH; its overrides make the notebook the default viewer."""
    overrides = json.loads((ROOT / ".jupyter" / "labconfig" / "default_setting_overrides.json").read_text())
    viewers = overrides["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    assert viewers["markdown"] == "Jupytext Notebook"
    makefile = (ROOT / "Makefile").read_text()
    assert "JUPYTER_CONFIG_PATH=$(CURDIR)/.jupyter" in makefile
