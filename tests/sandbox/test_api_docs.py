"""tests/api-docs holds copies of the API docs; when the originals are beside the repository
(../shared/electronhub-api), the copies must be the same bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..helpers import ROOT

COPIES = ROOT / "tests" / "api-docs"
SHARED = ROOT.parent / "shared" / "electronhub-api"


def _original(name: str) -> Path:
    return SHARED / name if name.endswith(".txt") else SHARED / "docs" / name


@pytest.mark.parametrize("name", sorted(p.name for p in COPIES.iterdir() if p.name != "README.md"))
def test_the_copies_match_the_shared_docs(name: str) -> None:
    if not SHARED.is_dir():
        pytest.skip("no ../shared/electronhub-api beside the repository (a fresh clone)")
    assert (COPIES / name).read_bytes() == _original(name).read_bytes()


def test_every_proxy_key_page_is_copied() -> None:
    names = {p.name for p in COPIES.iterdir()}
    assert {"openapi.json", "proxy-lookup.txt", "proxy-update.txt"} <= names
    assert len([n for n in names if n.startswith("proxy-") and n.endswith(".mdx")]) == 7
