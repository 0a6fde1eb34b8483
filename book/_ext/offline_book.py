"""Keep the built book offline and free of script errors; offer each chapter as a notebook.

Jupyter Book 1 always loads sphinx-thebe, which injects its configuration script twice with the
current theme (a ``THEBE_JS_URL`` redeclaration error in every page) and points at a CDN. The book
does not offer live code (thebe is off), so its scripts and stylesheet are dropped from every page.

Each chapter page also gets a link to its executed notebook (``.ipynb``, outputs included), copied
from the build's ``jupyter_execute`` folder beside the page when the build finishes.
"""
from __future__ import annotations

import shutil
from pathlib import Path

_CHAPTERS = "notebooks/"


def _is_thebe(asset) -> bool:
    name = str(getattr(asset, "filename", asset) or "")
    body = str(getattr(asset, "attributes", {}).get("body", "")) if hasattr(asset, "attributes") else ""
    return "thebe" in name.lower() or "THEBE_JS_URL" in body


def _drop_thebe(app, pagename, templatename, context, doctree) -> None:
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not _is_thebe(asset)]


def _notebook_link(app, pagename, templatename, context, doctree) -> None:
    if not pagename.startswith(_CHAPTERS) or "body" not in context:
        return
    name = pagename.rsplit("/", 1)[-1] + ".ipynb"
    link = (f'<p class="notebook-download"><a href="{name}" download>Download this chapter as a Jupyter '
            f'notebook (.ipynb, with its outputs)</a></p>\n')
    context["body"] = link + context["body"]


def _copy_notebooks(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    executed = Path(app.outdir).parent / "jupyter_execute" / _CHAPTERS
    for notebook in sorted(executed.glob("*.ipynb")):
        target = Path(app.outdir) / _CHAPTERS / notebook.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(notebook, target)


def setup(app):
    app.connect("html-page-context", _drop_thebe, priority=900)
    app.connect("html-page-context", _notebook_link)
    app.connect("build-finished", _copy_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
