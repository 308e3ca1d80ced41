"""Text and Markdown against golden files; colour rules; JSON against its schema."""

from __future__ import annotations

import io
import json
import os
from decimal import Decimal
from ipaddress import ip_network
from pathlib import Path

import jsonschema
import pytest

from reconciler import render, resources
from reconciler.model import LiveKey, ProxyKey
from reconciler.plan import Failure
from reconciler.planner import make_plan

from .test_planner import NOW, desired, live

GOLDEN = Path(__file__).parent / "golden"
D = Decimal


def sample_plan():  # type: ignore[no-untyped-def]
    keys = [
        desired(
            proxy_key=ProxyKey("ek-proxy-prodprod0001"),
            name="Production",
            allocated_ammount=D(150),
            model_whitelist=frozenset({"gpt-4o", "o3"}),
            ip_whitelist=frozenset({ip_network("10.0.0.0/8"), ip_network("2001:db8::/32")}),
        ),
        desired(
            proxy_key=ProxyKey("ek-proxy-batchbatch0002"),
            name="Batch | nightly",
            allocated_ammount=D(40),
            expires_at=1900000000,
        ),
        desired(proxy_key=ProxyKey("ek-proxy-devdevdev0003"), name="Dev"),
        desired(proxy_key=ProxyKey("ek-proxy-ghostghost0004"), name="<Ghost>"),
    ]
    lives: list[LiveKey | Failure] = [
        live(name="Production", used_ammount=D("20.5")),
        live(
            name="Batch | nightly", allocated_ammount=D(60), used_ammount=D(45), expires_at=1800000000 + 86400
        ),
        live(name="Dev"),
        Failure(404, "HTTP 404: Proxy key not found"),
    ]
    recorded = {k.proxy_key.fingerprint: {"limit_type": "daily"} for k in keys}
    return make_plan(keys, lives, recorded, NOW, balance=D("1000.00"))


@pytest.mark.parametrize(("fmt", "golden"), [("text", "plan.txt"), ("markdown", "plan.md")])
def test_golden(fmt: str, golden: str) -> None:
    out = io.StringIO()
    render.RENDERERS[fmt](sample_plan(), out)
    path = GOLDEN / golden
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(out.getvalue())
    assert out.getvalue() == path.read_text()


def test_json_matches_its_schema_and_is_exact_to_the_cent() -> None:
    out = io.StringIO()
    render.as_json(sample_plan(), out)
    data = json.loads(out.getvalue(), parse_float=Decimal)
    jsonschema.validate(json.loads(out.getvalue()), resources.schema("plan"))
    assert data["summary"]["account_debit"] == D("50.0")
    assert data["summary"]["account_refund"] == D("15.0") and data["summary"]["net"] == D("-35.0")
    assert [k["action"] for k in data["keys"]] == ["update", "update", "no-op", "error"]
    assert data["keys"][3]["error"] == {"status": 404, "message": "HTTP 404: Proxy key not found"}


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


def test_a_large_plan_shows_its_changes_not_every_unchanged_key() -> None:
    """3 changes among 2,000 keys: the PR comment fits GitHub's limit with the changes and
    the credits in it, and the text plan names a few unchanged keys, not all of them."""
    keys = [
        desired(
            proxy_key=ProxyKey(f"ek-proxy-many{i:06d}"),
            name=f"key-{i}",
            allocated_ammount=D(150) if i in (7, 700, 1999) else D(100),
        )
        for i in range(2000)
    ]
    lives: list[LiveKey | Failure] = [live(name=f"key-{i}") for i in range(2000)]
    plan = make_plan(keys, lives, {}, NOW, balance=D(1000))  # no recorded limit_type: a warning each
    md, text = io.StringIO(), io.StringIO()
    render.markdown(plan, md)
    render.text(plan, text)
    comment = md.getvalue()
    assert len(comment) < 65_536 and comment.count("| update |") == 3
    assert "1997 unchanged: key-0, key-1," in comment and "and 1987 more" in comment
    assert "**Credits: 150.00 debited" in comment
    assert "Warnings on unchanged keys (1997)" in comment and "and 1947 more" in comment
    assert "= 1997 unchanged: key-0, key-1, key-2, key-3, key-4, key-5, key-6, key-8, key-9, key-10 and" in (
        text.getvalue()
    )
    assert "key-11," not in text.getvalue()
