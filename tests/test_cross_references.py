"""Chapter references in the book's sources are links to the right page, never typed numbers.

A typed "chapter 06" goes stale when chapters move, and several once pointed to the wrong chapter;
a ``{doc}`` role is checked by Sphinx and, here, against the number its text shows.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md")) + sorted((ROOT / "book").glob("*.md"))
ROLE = re.compile(r"\{doc\}`([^`<]*?)\s*<([^>`]+)>`")
TYPED = re.compile(r"\b[Cc]hapters?\s+\d\d\b")


def _prose(text: str) -> str:
    """The text outside code cells, fenced blocks and the front matter (roles kept)."""
    text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)
    return re.sub(r"^(`{3,})[^\n]*\n.*?^\1\s*$", "", text, flags=re.S | re.M)


def problems(text: str) -> list[str]:
    """Typed chapter numbers, and chapter links whose text shows another number than their target."""
    found = []
    prose = _prose(text)
    for shown, target in ROLE.findall(prose):
        number = re.search(r"\b(\d\d)\b", shown)
        page = Path(target).name
        if number and re.match(r"\d\d_", page) and not page.startswith(number.group(1) + "_"):
            found.append(f"link text {shown!r} points to {target}")
    bare = ROLE.sub("LINK", prose)
    bare = re.sub(r"`[^`\n]*`", "CODE", bare)
    found += [f"typed reference {m.group(0)!r}" for m in TYPED.finditer(bare)]
    return found


def test_the_check_finds_typed_and_wrong_references():
    text = ("---\njupytext: x\n---\nSee chapter 03 and {doc}`chapter 06 <05_attention_vs_random>`; "
            "{doc}`chapter 04 <04_attention_slices>` is right, so are chapters {doc}`04 <04_a>` to {doc}`07 <07_b>`.\n"
            "```{code-cell} ipython3\nprint('chapter 02')\n```\n`chapter 09` in code is fine.\n")
    assert problems(text) == ["link text 'chapter 06' points to 05_attention_vs_random",
                              "typed reference 'chapter 03'"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_chapter_references_are_links_to_the_right_page(page):
    assert problems(page.read_text()) == []
