"""Glossary terms link to the glossary.

book/glossary.md defines the book's vocabulary in a ``{glossary}`` directive. Each chapter and the
main reference pages link the first prose use of a term to its definition with the ``{term}`` role:
{term}`attention slice`, or {term}`attention slices <attention slice>` when the words differ.

These tests read the pages as text (no build): every ``{term}`` role must name a glossary term, and
for the distinctive terms in ``ENFORCED`` the first use in a page's prose must be such a link. Prose
excludes the YAML front matter, code cells and other fenced code, cell markers and their metadata,
headings, tables, math, code spans, other roles and link texts.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "book" / "glossary.md"
PAGES = sorted((ROOT / "notebooks").glob("[01][0-9]_*.md")) + [
    ROOT / "book" / f"{name}.md" for name in ("method", "intro", "organisation", "ethics")
]
IDS = [p.name for p in PAGES]

# Distinctive terms whose first prose use on a page must be a {term} link, with the words that
# count as a use of each (matched case-insensitively, any whitespace between words, whole words).
ENFORCED = {
    "attention slice": r"attention\s+slices?",
    "random slice": r"random\s+slices?",
    "effect-free twin": r"effect-free\s+twins?",
    "distractor": r"distractors?",
    "episode": r"episodes?",
    "null reference": r"null\s+references?",
    "salience score": r"salience\s+scores?",
    "AU (action unit)": r"(?-i:AUs?)|action\s+units?",
}

TERM_ROLE = re.compile(r"\{term\}`([^`]+)`")
# admonition-like directives hold prose; every other fenced block is code or data
PROSE_DIRECTIVES = {"important", "note", "warning", "tip", "hint", "caution", "attention", "seealso",
                    "admonition", "danger", "error"}


def glossary_terms() -> list[str]:
    """The terms of the glossary: the unindented lines directly under the ``{glossary}`` directive."""
    terms, inside = [], False
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        if not inside:
            inside = bool(re.match(r"^(`{3,}|:{3,})\{glossary\}", line))
            continue
        if re.match(r"^(`{3,}|:{3,})\s*$", line):
            break
        if line.strip() and not line[0].isspace() and not line.startswith(":"):
            terms.append(line.strip())
    return terms


def role_target(content: str) -> tuple[str, str]:
    """(visible text, target term) of a {term} role's content: `words` or `words <target>`."""
    content = " ".join(content.split())
    m = re.fullmatch(r"(.*?)\s*<([^<>]+)>", content)
    return (m.group(1), m.group(2).strip()) if m else (content, content)


def prose(text: str) -> tuple[str, dict[int, str]]:
    """The page with everything but prose blanked out (same length, newlines kept), and, for each
    character of a {term} role's visible text, the role's target."""
    chars = list(text)

    def blank(start: int, end: int) -> None:
        for i in range(start, end):
            if chars[i] != "\n":
                chars[i] = " "

    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    i = 0
    if text.startswith("---\n"):  # YAML front matter
        i = 1
        while i < len(lines) and lines[i].rstrip("\n") != "---":
            i += 1
        blank(0, starts[min(i + 1, len(lines))])
        i += 1
    fence = None  # (marker, holds prose)
    for k in range(i, len(lines)):
        line = lines[k].rstrip("\n")
        opening = re.match(r"^\s*(`{3,}|~{3,}|:{3,})\s*(\{([\w-]+)\})?", line)
        if fence is None and opening:
            fence = (opening.group(1), opening.group(3) in PROSE_DIRECTIVES)
            blank(starts[k], starts[k + 1])
        elif fence is not None and line.strip() == fence[0]:
            fence = None
            blank(starts[k], starts[k + 1])
        elif fence is not None and not fence[1]:
            blank(starts[k], starts[k + 1])  # code cells, code blocks, their metadata and captions
        elif re.match(r"^\s*(#{1,6}\s|\+\+\+|%|\||\(.*\)=\s*$|:[\w-]+:)", line):
            blank(starts[k], starts[k + 1])  # headings, cell markers, comments, tables, targets, options
    for pattern in (r"\$\$.*?\$\$", r"(?<![\\\w])\$[^$\n]+\$"):  # display, then inline math
        for m in re.finditer(pattern, "".join(chars), re.S):
            blank(*m.span())
    linked = {}
    for m in TERM_ROLE.finditer("".join(chars)):
        target = role_target(m.group(1))[1]
        explicit = re.fullmatch(r"(.*?)\s*<[^<>]+>", m.group(1), re.S)
        start = m.start(1)
        end = start + len(explicit.group(1)) if explicit else m.end(1)
        blank(m.start(), start)
        blank(end, m.end())
        linked.update({j: target for j in range(start, end)})
    for pattern in (r"\{[\w:+-]+\}`[^`]*`", r"(`+)[^`].*?\1", r"\[[^\]]*\]\([^)]*\)"):
        for m in re.finditer(pattern, "".join(chars), re.S):  # other roles, code spans, links
            blank(*m.span())
    return "".join(chars), linked


def first_use(text: str, term: str):
    """(line number, words, linked target or None) of the first prose use of an enforced term."""
    clean, linked = prose(text)
    m = re.search(r"(?<![\w-])(?:%s)(?![\w-])" % ENFORCED[term], clean, re.I)
    if m is None:
        return None
    return text.count("\n", 0, m.start()) + 1, " ".join(m.group().split()), linked.get(m.start())


def unlinked_first_uses(text: str) -> list[str]:
    problems = []
    for term in ENFORCED:
        use = first_use(text, term)
        if use is not None and (use[2] is None or use[2].lower() != term.lower()):
            problems.append(f"line {use[0]}: first use of {term!r} ({use[1]!r}) is not {{term}}`...<{term}>`")
    return problems


def test_glossary_terms_are_read():
    terms = glossary_terms()
    assert len(terms) >= 10 and len(set(terms)) == len(terms), terms
    assert "attention slice" in terms and "AU (action unit)" in terms


def test_enforced_terms_are_in_the_glossary():
    assert set(ENFORCED) <= set(glossary_terms()), set(ENFORCED) - set(glossary_terms())


def test_the_check_catches_an_unlinked_first_use():
    page = ("---\njupytext: {}\n---\n\n# Attention slices\n\n```{code-cell} ipython3\n"
            "# random slices in code do not count\n```\n\nWe cut `attention slice`s, then an attention\n"
            "slice and a {term}`random slice`; $x$ is a null reference's p-value.\n")
    problems = unlinked_first_uses(page)
    assert len(problems) == 2 and "line 11" in problems[0] and "'attention slice'" in problems[0]
    assert "'null reference'" in problems[1]
    linked = page.replace("an attention\nslice", "an {term}`attention\nslice <attention slice>`")
    linked = linked.replace("a null reference's", "a {term}`null reference`'s")
    assert unlinked_first_uses(linked) == []


@pytest.mark.parametrize("path", PAGES, ids=IDS)
def test_term_roles_target_glossary_terms(path):
    known = {t.lower() for t in glossary_terms()}
    roles = [role_target(m.group(1)) for m in TERM_ROLE.finditer(path.read_text(encoding="utf-8"))]
    unknown = [f"{visible} <{target}>" for visible, target in roles if target.lower() not in known]
    assert not unknown, f"{{term}} roles with no glossary entry: {unknown}"


@pytest.mark.parametrize("path", PAGES, ids=IDS)
def test_first_use_of_distinctive_terms_links_to_the_glossary(path):
    problems = unlinked_first_uses(path.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_pages_link_to_the_glossary():
    """The pages use the glossary at all (a guard against the role being dropped everywhere)."""
    assert len(PAGES) == 17, IDS
    assert [p.name for p in PAGES if not TERM_ROLE.search(p.read_text(encoding="utf-8"))] == []
