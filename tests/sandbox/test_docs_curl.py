"""The docs' own curl commands, word for word (only the host changed), against a live
`ehkeys sandbox` process with the bundled demo seed.

Every curl example of every proxy-key page runs; each answer has the shape (keys and types)
of the page's documented response example, and its values where the docs' example key is
the one answering. The destructive ones run last, each against a state where it removes
something: list, lookup, create, update, toggle (twice: disable, then enable), remove (twice:
then 404), delete-all (twice: then no keys).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from ..helpers import ROOT, live_sandbox

pytestmark = pytest.mark.slow  # the docs' curl commands against a sandbox process

DOCS = ROOT / "tests" / "api-docs"
DOC_KEY = "ek-proxy-1234567890abcdef"
DOCS_TIME = 1704067200  # the docs' examples are written on 2024-01-01 (their created_at)
PAGES = sorted(p.name for p in DOCS.glob("proxy-*"))


def curls(page: str) -> list[str]:
    """The page's curl examples: the cURL tab of an .mdx page, the commands of a .txt page."""
    text = (DOCS / page).read_text()
    if page.endswith(".mdx"):
        found = re.findall(r"^```bash cURL\n(curl .*?)\n```", text, flags=re.S | re.M)
    else:
        found = re.findall(r"^curl .*?(?:\}'|-d '\{[^\n]*\}')$", text, flags=re.S | re.M)
    return list(dict.fromkeys(found))  # a .txt page repeats its example


def examples(page: str) -> dict[str, Any]:
    """The page's documented responses, by title ("Response" for a .txt page's only one)."""
    text = (DOCS / page).read_text()
    if page.endswith(".txt"):
        return {"Response": json.loads(re.search(r"^\{\n.*?^\}", text, flags=re.S | re.M).group(0))}  # type: ignore[union-attr]
    shown = text.split("<ResponseExample>")[1].split("</ResponseExample>")[0]
    return {
        t: json.loads(b) for t, b in re.findall(r"^```json ?([^\n]*)\n(.*?)\n```", shown, flags=re.S | re.M)
    }


def fits(got: Any, documented: Any) -> bool:
    """Same keys and JSON types; a list's items each fit one documented item (an empty list
    fits any list)."""
    if isinstance(documented, dict):
        return (
            isinstance(got, dict)
            and got.keys() == documented.keys()
            and all(fits(got[k], v) for k, v in documented.items())
        )
    if isinstance(documented, list):
        return isinstance(got, list) and all(
            any(fits(g, d) for d in documented) or not documented for g in got
        )
    return type(got) is type(documented)


@pytest.fixture(scope="module")
def curl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str, int], Any]]:
    """Runs a page's curl example (by index) as published, host changed, on one sandbox."""
    demo = yaml.safe_load((ROOT / "reconciler/sandbox/demo_seed.yaml").read_text())
    demo["clock"] = {"start": DOCS_TIME}  # the create example expires on 2025-01-01
    env = {**os.environ, "ELECTRONHUB_API_KEY": "ek-sandbox-demo-key"}
    with live_sandbox(tmp_path_factory.mktemp("curl"), demo) as base:

        def run(page: str, index: int = 0) -> Any:
            cmd = curls(page)[index].replace("https://api.electronhub.ai/v1", base)
            done = subprocess.run(
                ["bash", "-c", cmd + " -sS"], env=env, capture_output=True, text=True, check=True
            )
            return json.loads(done.stdout)

        yield run


def test_every_proxy_key_page_has_its_curl_examples() -> None:
    assert len(PAGES) == 9
    assert {page: len(curls(page)) for page in PAGES} == dict.fromkeys(PAGES, 1)
    assert all(examples(page) for page in PAGES)


# The tests below run in this order, on the one sandbox of the module.


def test_list(curl: Callable[..., Any]) -> None:
    documented = examples("proxy-keys.mdx")["Response"]
    listed = curl("proxy-keys.mdx")
    assert len(listed) == 7 and fits(listed, documented)
    assert listed[0] == documented[0]  # the docs' own key, to the value


@pytest.mark.parametrize("page", ["proxy-lookup.txt", "proxy-lookup.mdx"])
def test_lookup(curl: Callable[..., Any], page: str) -> None:
    assert curl(page) == examples(page)["Response"]


def test_create(curl: Callable[..., Any]) -> None:
    documented = examples("proxy-create.mdx")["Response"]
    made = curl("proxy-create.mdx")
    assert fits(made, documented)
    generated = {"key", "created_at"}
    assert {k: v for k, v in made.items() if k not in generated} == {
        k: v for k, v in documented.items() if k not in generated
    }
    assert made["key"].startswith("ek-proxy-") and made["key"] != DOC_KEY
    assert DOCS_TIME <= made["created_at"] < DOCS_TIME + 600
    assert len(curl("proxy-keys.mdx")) == 8


@pytest.mark.parametrize("page", ["proxy-update.txt", "proxy-update.mdx"])
def test_update(curl: Callable[..., Any], page: str) -> None:
    documented = examples(page)
    assert curl(page) == documented.get("Success Response", documented.get("Response"))
    after = curl("proxy-lookup.mdx")
    assert after["name"] == "Updated Production Key" and after["allocated_ammount"] == 150.0
    assert after["used_ammount"] == 25.5  # usage survives updates
    assert after["model_whitelist"] == ["gpt-4o", "claude-3-5-sonnet-20241022", "dall-e-3"]


def test_toggle_disables_then_enables(curl: Callable[..., Any]) -> None:
    documented = examples("proxy-toggle.mdx")
    assert curl("proxy-toggle.mdx") == documented["Disable Response"]
    assert curl("proxy-lookup.mdx")["is_active"] is False
    assert curl("proxy-toggle.mdx") == documented["Enable Response"]


def test_remove_then_404(curl: Callable[..., Any]) -> None:
    """The page's error example is the envelope of before 2026-07-07 ({"detail": ...}); the
    sandbox answers errors.mdx's envelope, with the same message."""
    documented = examples("proxy-delete.mdx")
    assert curl("proxy-delete.mdx") == documented["Success Response"]
    again = curl("proxy-delete.mdx")["error"]
    assert again["code"] == 404 and again["message"] == documented["Error Response"]["detail"]
    assert DOC_KEY not in [k["key"] for k in curl("proxy-keys.mdx")]


def test_delete_all_then_no_keys(curl: Callable[..., Any]) -> None:
    documented = examples("proxy-delete-all.mdx")
    assert curl("proxy-delete-all.mdx") == documented["Success Response"]
    assert curl("proxy-keys.mdx") == []
    assert curl("proxy-delete-all.mdx") == documented["No Keys Response"]
