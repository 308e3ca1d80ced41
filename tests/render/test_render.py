"""Text and Markdown against golden files; colour rules; JSON against its schema."""

from __future__ import annotations

import io
import json
import os
import re
from decimal import Decimal
from html.parser import HTMLParser
from ipaddress import ip_network

import jsonschema
import pytest

from reconciler.core.plans import Plans
from reconciler.core.secrets import ProxyKey
from reconciler.manifest import resources
from reconciler.render import plan as render
from reconciler.render import plans
from reconciler.render.view import escape

from ..helpers import TESTS
from ..planning.test_planner import NOW, desired, live, plan_of

GOLDEN = TESTS / "golden"
D = Decimal


def sample_plan():  # type: ignore[no-untyped-def]
    """One of every kind: update, create, disable, delete, error, unchanged, unmanaged."""
    prod, batch, dev = (
        ProxyKey(f"ek-proxy-{n}") for n in ("prodprod0001", "batchbatch0002", "devdevdev0003")
    )
    intern, old, stray = (ProxyKey(f"ek-proxy-{n}") for n in ("intern0005", "oldstaging0006", "stray0007"))
    keys = [
        desired(
            address="prod",
            proxy_key=prod,
            name="Production",
            allocated_ammount=D(150),
            model_whitelist=frozenset({"gpt-4o", "o3"}),
            ip_whitelist=frozenset({ip_network("10.0.0.0/8"), ip_network("2001:db8::/32")}),
        ),
        desired(
            address="batch",
            proxy_key=batch,
            name="Batch | nightly",
            allocated_ammount=D(40),
            expires_at=1900000000,
        ),
        desired(address="dev", proxy_key=dev, name="Dev"),
        desired(address="ghost", proxy_key=ProxyKey("ek-proxy-ghostghost0004"), name="<Ghost>"),
        desired(
            address="analytics",
            proxy_key=None,
            name="Analytics",
            allocated_ammount=D(25),
            limit_type="weekly",
            model_whitelist=frozenset({"gpt-4o-mini"}),
            ip_whitelist=frozenset({ip_network("10.40.0.0/16")}),
        ),
        desired(address="intern", proxy_key=intern, name="Intern", is_active=False),
        desired(address="old", proxy_key=old, name="Old Staging", absent=True),
    ]
    lives = [
        live(proxy_key=prod, name="Production", used_ammount=D("20.5")),
        live(
            proxy_key=batch,
            name="Batch | nightly",
            allocated_ammount=D(60),
            used_ammount=D(45),
            expires_at=NOW + 86400,
        ),
        live(proxy_key=dev, name="Dev"),
        live(proxy_key=intern, name="Intern", allocated_ammount=D(20), used_ammount=D(4)),
        live(proxy_key=old, name="Old Staging", allocated_ammount=D(30), used_ammount=D(10)),
        live(proxy_key=stray, name="Made by hand", allocated_ammount=D(5), is_active=False),
    ]
    values = {k.proxy_key.fingerprint: {"limit_type": "daily"} for k in keys if k.proxy_key}
    plan = plan_of(keys, lives, values, balance=D("1000.00"))
    plan.requests = 2
    return plan


@pytest.mark.parametrize(("fmt", "golden"), [("text", "plan.txt"), ("markdown", "plan.md")])
def test_golden(fmt: str, golden: str) -> None:
    out = io.StringIO()
    plans.RENDERERS[fmt](Plans((sample_plan(),)), out)
    path = GOLDEN / golden
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(out.getvalue())
    assert out.getvalue() == path.read_text()


def test_json_matches_its_schema_and_is_exact_to_the_cent() -> None:
    out = io.StringIO()
    plans.as_json(Plans((sample_plan(),)), out)
    data = json.loads(out.getvalue(), parse_float=Decimal)
    jsonschema.validate(json.loads(out.getvalue()), resources.schema("plan"))
    assert data["format_version"] == 3 and {k["account"] for k in data["keys"]} == {"default"}
    assert data["accounts"] == {"default": data["summary"]}
    assert data["summary"]["account_debit"] == D("75.0")
    assert data["summary"]["account_refund"] == D("35.0") and data["summary"]["net"] == D("-40.0")
    assert [k["action"] for k in data["keys"]] == [
        "update",
        "update",
        "no-op",
        "error",
        "create",
        "disable",
        "delete",
    ]
    assert "no live key has this proxy_key" in data["keys"][3]["error"]
    assert data["keys"][4]["key"] == "(new)" and [o["kind"] for o in data["keys"][4]["operations"]] == [
        "create",
        "update",
    ]
    assert data["unmanaged"][0]["name"] == "Made by hand" and data["summary"]["requests"] == 2


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert render.Style(Tty()).on and not render.Style(io.StringIO()).on
    monkeypatch.setenv("NO_COLOR", "1")
    assert not render.Style(Tty()).on
    out = Tty()
    render.text(sample_plan(), out, render.Style(out, force=True))
    assert "\033[33m~\033[0m Production" in out.getvalue()


def test_markdown_escapes_names_from_the_api() -> None:
    out = io.StringIO()
    render.markdown(sample_plan(), out)
    assert "<Ghost>" not in out.getvalue() and "&lt;Ghost&gt;" in out.getvalue()
    assert "Batch \\| nightly" in out.getvalue()


def test_markdown_mentions_no_one_a_key_name_or_an_api_message_names() -> None:
    """A key renamed in the dashboard to "@acme/oncall" is listed in the PR comment: GitHub
    would notify the team. It reads the same, and notifies no one; an address stays an address."""
    stray = ProxyKey("ek-proxy-mention0008")
    lives = [live(proxy_key=stray, name="cc @acme/oncall and @bob, ops@example.com")]
    out = io.StringIO()
    render.markdown(plan_of([], lives, {}), out)
    assert "cc @<!-- -->acme/oncall and @<!-- -->bob, ops@example.com" in out.getvalue()
    assert "@acme" not in out.getvalue() and "@bob" not in out.getvalue()


def test_a_name_copied_from_the_comment_is_the_name_and_still_mentions_no_one() -> None:
    """What keeps GitHub from reading a mention adds no character to the page: "cc @bob" copied
    from the comment into the manifest (to adopt the hand-made key by its name) is the live
    key's name, not "cc @\u200bbob", which adopts nothing and creates a second key."""
    name = "cc @bob and @acme/ops"
    out = io.StringIO()
    render.markdown(plan_of([], [live(proxy_key=ProxyKey("ek-proxy-copied0013"), name=name)], {}), out)
    page = rendered(out.getvalue())
    assert f"{name} (ek-proxy-…0013)" in "".join(page.text)
    assert not [t for t in page.text if re.search(r"(?<![A-Za-z0-9_])@\w", t)]  # text GitHub reads


def test_a_large_plan_shows_its_changes_not_every_unchanged_key() -> None:
    """3 changes among 2,000 keys: the PR comment fits GitHub's limit with the changes and
    the credits in it, and the text plan names a few unchanged keys, not all of them."""
    keys = [
        desired(
            address=f"key-{i}",
            proxy_key=ProxyKey(f"ek-proxy-many{i:06d}"),
            name=f"key-{i}",
            allocated_ammount=D(150) if i in (7, 700, 1999) else D(100),
            expires_at=NOW + 3600 if i % 2 else -1,
        )
        for i in range(2000)
    ]
    lives = [live(proxy_key=k.proxy_key, name=k.name, expires_at=k.expires_at) for k in keys]
    values = {k.proxy_key.fingerprint: {"limit_type": "daily"} for k in keys if k.proxy_key}
    plan = plan_of(keys, lives, values)  # half of them expire within the week: a warning each
    md, text = io.StringIO(), io.StringIO()
    render.markdown(plan, md)
    render.text(plan, text)
    comment = md.getvalue()
    assert len(comment) < 65_536 and comment.count("| update |") == 3
    assert "1997 unchanged: key-0, key-1," in comment and "and 1987 more" in comment
    assert "**Credits: 150.00 debited" in comment
    assert "Warnings on unchanged keys (998)" in comment and "and 948 more" in comment
    assert "= 1997 unchanged: key-0, key-1, key-2, key-3, key-4, key-5, key-6, key-8, key-9, key-10 and" in (
        text.getvalue()
    )
    assert "key-11," not in text.getvalue()


@pytest.mark.parametrize(
    "name",
    ["@@oncall", "café@oncall", "Łódź@oncall", "ops @@@oncall"],
    ids=["doubled-at", "accented-letter-before", "non-latin-letter-before", "tripled-at"],
)
def test_markdown_mentions_no_one_however_the_at_is_preceded(name: str) -> None:
    """GitHub mentions @name after anything but an ASCII letter, digit or underscore: after
    another @, or after an accented letter (its patterns are ASCII), it still pages @oncall."""
    stray = ProxyKey("ek-proxy-mention0009")
    out = io.StringIO()
    render.markdown(plan_of([], [live(proxy_key=stray, name=name)], {}), out)
    assert "@oncall" not in out.getvalue() and "@<!-- -->oncall" in out.getvalue()


MARKED = "**URGENT** [approve](https://evil.example) `rm -rf` ~~old~~ _quiet_ a\\*b prod_backend"


def test_markdown_shows_a_name_as_written_with_no_emphasis_link_or_code() -> None:
    """A key renamed in the dashboard to "**URGENT** [approve](https://evil.example)" must not
    put a bold word or a link into the PR comment a reviewer approves from: rendered (as
    CommonMark with GitHub's tables and strikethrough), the comment shows the name as written."""
    from markdown_it import MarkdownIt

    changed = desired(address="marked", proxy_key=ProxyKey("ek-proxy-marked0010"), name=MARKED)
    lives = [
        live(proxy_key=changed.proxy_key, name="before"),
        live(proxy_key=ProxyKey("ek-proxy-stray0011"), name=MARKED),
    ]
    out = io.StringIO()
    render.markdown(plan_of([changed], lives, {}), out)
    page = Page()
    page.feed(MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(out.getvalue()))
    assert "".join(page.text).count(MARKED) >= 3  # the row's title, its <summary>, the unmanaged key
    assert not [
        t for t in page.marked if any(word in t for word in ("URGENT", "approve", "rm", "old", "quiet"))
    ]
    assert "prod_backend" in out.getvalue()  # an `_` inside a word stays as written
    assert escape("[x] approved").startswith("&#91;x]")  # at a list item's start: no checkbox


@pytest.mark.parametrize(
    "name",
    [
        "# URGENT approve",
        "- - -",
        "1. one",
        "7) seven",
        "+ x",
        "    code here",
        "=== x",
        "---",
        " # x",
        "  2. two",
    ],
    ids=[
        "heading",
        "break",
        "ordered",
        "ordered-paren",
        "plus-list",
        "indented-code",
        "setext",
        "rule",
        "indented-heading",
        "indented-list",
    ],
)
def test_markdown_starts_no_heading_list_or_code_block_with_a_name(name: str) -> None:
    """A name (or an API's error text) that starts a line of the comment, as an unmanaged key's
    list item does, reads as written: "# URGENT approve" was a heading, "    code" a code block,
    "1. one" a list in the list."""
    from markdown_it import MarkdownIt

    out = io.StringIO()
    render.markdown(plan_of([], [live(proxy_key=ProxyKey("ek-proxy-block0012"), name=name)], {}), out)
    html = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(out.getvalue())
    (item,) = [line for line in html.splitlines() if "ek-proxy-…0012" in line]
    page = Page()
    page.feed(item)
    assert item.startswith("<li>") and item.endswith("</li>"), item
    assert "".join(page.text).startswith(f"{name} (ek-proxy-…0012)"), item
    assert [escape(t) for t in ("10.00 allocated", "-old", " (account prod)", "--target 'x': none")] == [
        "10.00 allocated",
        "-old",
        " (account prod)",
        "--target 'x': none",  # an error naming an option: no block starts so
    ]


def rendered(markdown: str) -> Page:
    """The comment as CommonMark (with GitHub's tables and strikethrough) renders it: the text
    GitHub's own extensions read, a piece between two tags (or comments) at a time."""
    from markdown_it import MarkdownIt

    page = Page()
    page.feed(MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown))
    return page


class Page(HTMLParser):
    """A rendered comment's text (character references decoded, as a browser shows it, in raw
    HTML too), and the text inside emphasis, links, code and strikethrough."""

    MARKUP = frozenset({"strong", "em", "a", "code", "s", "del"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.marked: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.MARKUP.intersection(self.open):
            self.marked.append(data)


def nested_parentheses(line: str) -> bool:
    """Whether a parenthesis opens inside another on this line."""
    depth = 0
    for char in line:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth > 1:
            return True
    return False


def test_a_key_adopted_by_name_has_its_reason_in_the_markdown_row_without_nested_parentheses() -> None:
    key = desired(address="docs", proxy_key=None, name="Docs Bot", allocated_ammount=D(20))
    plan = plan_of([key], [live(name="Docs Bot")], values={})
    out = io.StringIO()
    plans.RENDERERS["markdown"](Plans((plan,)), out)
    (row,) = [line for line in out.getvalue().splitlines() if line.startswith("| ~ | Docs Bot")]
    assert "| update: adopted by name (the next apply records it) |" in row, row
    assert not any(nested_parentheses(line) for line in out.getvalue().splitlines())


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_an_allocation_that_differs_finer_than_a_cent_shows_both_amounts_exactly(fmt: str) -> None:
    """The API keeps a live allocation of 10.004; the manifest asks 10: the plan updates it,
    and read `allocated_ammount: 10.00 -> 10.00`, an update of nothing."""
    key = desired(allocated_ammount=D(10))
    plan = plan_of([key], [live(allocated_ammount=D("10.004"))])
    out = io.StringIO()
    plans.RENDERERS[fmt](Plans((plan,)), out)
    shown = (
        "allocated_ammount: 10.004 -> 10.00" if fmt == "text" else "| allocated_ammount | 10.004 | 10.00 |"
    )
    assert shown in out.getvalue(), out.getvalue()
    assert "10.00 -> 10.00" not in out.getvalue() and "| 10.00 | 10.00 |" not in out.getvalue()
