"""Every relative link in README.md and docs/*.md lands: on a file that exists and, with an anchor,
on one a heading of that file produces as GitHub makes them. The reference moved out of the README
into docs/, and a link still written `](#a-section)` after its section moved lands nowhere."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

from ..helpers import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\n[ \t]*\n).)+?\1", re.S)  # never across a blank line
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # https:, mailto: ...: not this repository's


def _prose(text: str) -> str:
    """The text without fenced blocks and code spans, its lines where they were."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            line = ""
        lines.append("" if fenced else line)
    return CODE_SPAN.sub(lambda m: "\n" * m.group(0).count("\n"), "\n".join(lines))


def _slug(heading: str, seen: dict[str, int]) -> str:
    """GitHub's anchor: the text as shown, lower-case, punctuation but `-` and `_` dropped, each
    space a `-`; the second heading of one slug gets `-1`, the third `-2`."""
    shown = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").replace("*", "")
    slug = re.sub(r"[^\w\- ]", "", shown.lower()).replace(" ", "-")
    count = seen.get(slug, 0)
    seen[slug] = count + 1
    return slug if count == 0 else f"{slug}-{count}"


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = (HEADING.match(line) for line in _prose(page.read_text()).splitlines())
    return {_slug(m.group(1), seen) for m in found if m}


def broken(pages: list[Path], root: Path = ROOT) -> list[str]:
    """Each relative link that lands nowhere, as `PAGE:LINE: TARGET: why` (PAGE from `root`)."""
    problems = []
    for page in pages:
        text = _prose(page.read_text())
        for found in LINK.finditer(text):
            target = found.group(1)
            if SCHEME.match(target):
                continue
            why = _why(page, target)
            if why:
                line = text.count("\n", 0, found.start(1)) + 1
                problems.append(f"{page.relative_to(root).as_posix()}:{line}: {target}: {why}")
    return problems


def _why(page: Path, target: str) -> str:
    path, _, anchor = target.partition("#")
    file = (page.parent / unquote(path)).resolve() if path else page
    if not file.exists():
        return "no such file"
    if not anchor:
        return ""
    if file.suffix != ".md":
        return "an anchor in a file that is not Markdown"
    if unquote(anchor) not in anchors(file):
        return f"no heading of {file.name} makes this anchor"
    return ""


def test_every_relative_link_in_the_readme_and_docs_lands() -> None:
    assert len(PAGES) > 2
    assert broken(PAGES) == []


def test_a_link_to_a_missing_file_or_anchor_is_found(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "guide.md").write_text(
        "# The guide (version 1)\n\n## Apply, money first\n\n## Drift\n\n## Drift\n\n"
        "```sh\n# Not a heading\n```\n\nBack to the [readme](../README.md#a-quick-tour).\n"
    )
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Title\n\n## A quick tour\n\n"
        "[ok](docs/guide.md#the-guide-version-1) [ok](docs/guide.md#apply-money-first)\n"
        "[second drift](docs/guide.md#drift-1) [self](#a-quick-tour) [dir](docs/) [web](https://x.y/#z)\n"
        "`[in code](#nowhere)` and\n\n```md\n[in a fence](#nowhere)\n```\n\n"
        "[gone](docs/missing.md) [moved](#drift) [no third](docs/guide.md#drift-2)\n"
        "[fenced heading](docs/guide.md#not-a-heading) [multi\nline](#apply-money-first)\n"
    )
    assert broken([readme, docs / "guide.md"], tmp_path) == [
        "README.md:13: docs/missing.md: no such file",
        "README.md:13: #drift: no heading of README.md makes this anchor",
        "README.md:13: docs/guide.md#drift-2: no heading of guide.md makes this anchor",
        "README.md:14: docs/guide.md#not-a-heading: no heading of guide.md makes this anchor",
        "README.md:15: #apply-money-first: no heading of README.md makes this anchor",
    ]
