"""Keep the built book offline and free of script errors.

Jupyter Book 1 always loads sphinx-thebe, which injects its configuration script twice with the
current theme (a ``THEBE_JS_URL`` redeclaration error in every page) and points at a CDN. The book
does not offer live code (thebe is off), so its scripts and stylesheet are dropped from every page.
"""
from __future__ import annotations


def _is_thebe(asset) -> bool:
    name = str(getattr(asset, "filename", asset) or "")
    body = str(getattr(asset, "attributes", {}).get("body", "")) if hasattr(asset, "attributes") else ""
    return "thebe" in name.lower() or "THEBE_JS_URL" in body


def _drop_thebe(app, pagename, templatename, context, doctree) -> None:
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not _is_thebe(asset)]


def setup(app):
    app.connect("html-page-context", _drop_thebe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
