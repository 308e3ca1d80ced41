"""The usage view's three formats against golden files (two accounts: managed keys in the
manifest's order, an unmanaged key, an ignored one, a disabled one, keys never used), the bar
per key and its colours, per-key and per-group charts, and JSON against its schema."""

from __future__ import annotations

import io
import json
import os
from decimal import Decimal
from typing import Any

import jsonschema
import pytest

from reconciler.api.inventory import Inventory
from reconciler.core.accounts import Account
from reconciler.core.secrets import ProxyKey
from reconciler.core.usage import NO_GROUP, AccountUsage, KeyUsage, UsageView
from reconciler.drift.usage import of_account
from reconciler.manifest import resources
from reconciler.render import usage as render
from reconciler.render import usage_md
from reconciler.render.plan import Style

from ..helpers import TESTS, run_cli
from ..planning.test_planner import desired, live

GOLDEN = TESTS / "golden"
NOW = 1_800_000_000  # 2027-01-15T08:00:00Z
DAY = 86400
D = Decimal
PROD = Account("prod", "EH_PROD_API_KEY", ignore=("legacy-*",), declared=True)
STAGING = Account("staging", "EH_STAGING_API_KEY", declared=True)


def secret(tail: str) -> ProxyKey:
    return ProxyKey(f"ek-proxy-usage-test-{tail}")


def prod(groups: tuple[str | None, ...] = (None, None, None)) -> AccountUsage:
    backend, batch, intern = groups
    keys = [
        desired(
            address="backend", name="Backend", proxy_key=secret("0001"), limit_type="monthly", group=backend
        ),
        desired(address="batch", name="Batch | nightly", proxy_key=None, limit_type="weekly", group=batch),
        desired(address="intern", name="Intern", proxy_key=secret("0003"), limit_type="daily", group=intern),
        desired(address="analytics", name="Analytics", proxy_key=None),  # not created yet: not shown
    ]
    lives = [  # the list's order is not the manifest's: the view keeps the manifest's
        live(proxy_key=secret("0007"), name="Made by hand", allocated_ammount=D(5), used_ammount=D(0),
             created_at=NOW - 3 * DAY),
        live(proxy_key=secret("0002"), name="Batch | nightly", allocated_ammount=D(60),
             used_ammount=D(45), expires_at=NOW + 90 * DAY, last_used=NOW - 40 * DAY),
        live(proxy_key=secret("0001"), name="Backend", allocated_ammount=D(200), used_ammount=D(180),
             last_used=NOW - 2 * DAY),
        live(proxy_key=secret("0003"), name="Intern", allocated_ammount=D(20), used_ammount=D(0),
             is_active=False, created_at=NOW - 100 * DAY),
        live(proxy_key=secret("0009"), name="legacy-billing", allocated_ammount=D(500)),
    ]  # fmt: skip
    return of_account(PROD, keys, Inventory(tuple(lives), D(1000)), {})


def staging(group: str | None = None) -> AccountUsage:
    keys = [desired(address="web", name="Web", proxy_key=secret("0004"), limit_type="daily", group=group)]
    lives = [
        live(proxy_key=secret("0004"), name="Web", allocated_ammount=D(10), used_ammount=D("2.5"),
             expires_at=NOW + DAY, last_used=NOW - 3600),
    ]  # fmt: skip
    return of_account(STAGING, keys, Inventory(tuple(lives), D("90.5")), {})


def two_accounts(unused_days: int = 30) -> UsageView:
    return UsageView(NOW, unused_days, (prod(), staging()))


def two_accounts_in_groups() -> UsageView:
    """The same keys, in groups: Backend and Web in platform (one in each account), Batch in
    data, Intern and the unmanaged key in none."""
    return UsageView(NOW, 30, (prod(("platform", "data", None)), staging("platform")))


def rendered(fmt: str, view: UsageView) -> str:
    out = io.StringIO()
    render.RENDERERS[fmt](view, out)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
@pytest.mark.parametrize("golden", ["usage", "usage-groups"])
def test_the_three_formats_match_their_golden_files(fmt: str, golden: str) -> None:
    """Without groups, and with them (the roll-up by group, and the chart's bar per group)."""
    path = GOLDEN / f"{golden}.{ {'text': 'txt', 'markdown': 'md', 'json': 'json'}[fmt] }"
    got = rendered(fmt, two_accounts() if golden == "usage" else two_accounts_in_groups())
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(got)
    assert got == path.read_text()


def test_the_view_keeps_the_manifests_order_marks_unmanaged_keys_and_leaves_ignored_ones_out() -> None:
    shown = [(k.name, k.managed, k.window) for k in prod().keys]
    assert shown == [
        ("Backend", True, "monthly"),
        ("Batch | nightly", True, "weekly"),  # bound by name: no proxy_key in the manifest
        ("Intern", True, "daily"),
        ("Made by hand", False, None),
    ]
    text = rendered("text", two_accounts())
    assert "? Made by hand (ek-proxy-…0007)" in text and "legacy-billing" not in text
    assert "Intern (ek-proxy-…0003, inactive)" in text and "Analytics" not in text


def test_each_key_says_whether_it_is_active_in_every_format() -> None:
    """A disabled key was marked `inactive` after its name, and an active one said nothing: a
    reader could not tell "active" from "not shown". Each row now has its Active cell, the
    unused list keeps the mark (it has no column), and JSON its `is_active`."""
    view = two_accounts()
    text = rendered("text", view).splitlines()
    headers = [line.split() for line in text if line.lstrip().startswith("Key ")]
    assert len(headers) == 2 and all(h[5:7] == ["Active", "Window"] for h in headers)  # "Used %": 2 words
    rows = {
        line.split(" (")[0].strip(): line for line in text if "(ek-proxy-" in line and "unspent" not in line
    }
    said = {name: row.split("]")[1].split()[0] for name, row in rows.items()}
    assert said == {
        "Backend": "yes",
        "Batch | nightly": "yes",
        "Intern": "no",
        "? Made by hand": "yes",
        "Web": "yes",
    }
    assert "Intern (ek-proxy-…0003, inactive): never used" in rendered("text", view)  # the unused list
    markdown = rendered("markdown", view)
    assert "| Key | Allocated | Used | Used % | Active | Window | Expires | Last used |" in markdown
    assert "| Intern (ek-proxy-…0003) | 20.00 | 0.00 | 0.0% | no | daily |" in markdown
    assert "| Backend (ek-proxy-…0001) | 200.00 | 180.00 | 90.0% | yes | monthly |" in markdown
    keys = [k for a in json.loads(rendered("json", view))["accounts"].values() for k in a["keys"]]
    assert {k["name"]: k["is_active"] for k in keys} == {
        "Backend": True, "Batch | nightly": True, "Intern": False, "Made by hand": True, "Web": True,
    }  # fmt: skip


def test_unused_days_decides_which_keys_are_listed_as_unused() -> None:
    def unused(days: int) -> list[str]:
        return [k.name for k in two_accounts(days).unused_keys]

    assert unused(30) == ["Batch | nightly", "Intern"]  # 40 days; never used, made 100 days ago
    assert unused(41) == ["Intern"]
    assert unused(3) == ["Batch | nightly", "Intern", "Made by hand"]  # never used, made 3 days ago
    assert unused(0) == ["Backend", "Batch | nightly", "Intern", "Made by hand", "Web"]
    assert "Unused for 41 days or more (1):" in rendered("text", two_accounts(41))
    assert "Unused for 1 day or more (" in rendered("text", two_accounts(1))  # not "1 days"
    assert "Unused for 1 day or more (" in rendered("markdown", two_accounts(1))
    assert json.loads(rendered("json", two_accounts(41)))["total"]["unused"] == 1


def test_a_bar_per_key_in_colour_only_on_a_terminal() -> None:
    plain = rendered("text", two_accounts())
    assert "180.00   90.0% [██████████████████░░]" in plain and "\033[" not in plain
    assert "[░░░░░░░░░░░░░░░░░░░░]" in plain  # nothing used
    out = io.StringIO()
    render.text(two_accounts(), out, Style(out, force=True))
    coloured = out.getvalue()
    assert "[\033[31m██████████████████\033[0m░░]" in coloured  # 90%: red
    assert "[\033[33m███████████████\033[0m░░░░░]" in coloured  # 75%: yellow
    assert "[\033[32m█████\033[0m░░░░░░░░░░░░░░░]" in coloured  # 25%: green


def test_the_golden_json_with_groups_matches_its_schema() -> None:
    data = json.loads((GOLDEN / "usage-groups.json").read_text())
    jsonschema.validate(data, resources.schema("usage"))
    assert list(data["groups"]) == ["platform", "data", "(none)"]
    assert [k["group"] for k in data["accounts"]["prod"]["keys"]] == ["platform", "data", None, None]


def test_keys_of_no_group_roll_up_under_a_name_the_schema_documents_and_no_group_can_take(
    tmp_path: Any, capsys: Any
) -> None:
    """JSON's `groups` is keyed by name, and a key cannot be null: keys of no group are `(none)`,
    which the schema names (any other name is refused) and which no group of a manifest can be."""
    data = json.loads((GOLDEN / "usage-groups.json").read_text())
    schema = resources.schema("usage")
    jsonschema.validate(data, schema)
    assert NO_GROUP == "(none)" and "`(none)`" in schema["properties"]["groups"]["description"]
    data["groups"]["(no group)"] = data["groups"].pop(NO_GROUP)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)
    manifest = tmp_path / "keys.yaml"
    manifest.write_text('version: 1\ngroups:\n  "(none)": {}\nkeys: []\n')
    code, out, _ = run_cli(capsys, "validate", str(manifest))
    assert code == 1 and "group name '(none)' must be lower-case letters" in out


def test_json_matches_its_schema_and_names_each_account() -> None:
    text = rendered("json", two_accounts())
    data = json.loads(text, parse_float=Decimal)
    jsonschema.validate(json.loads(text), resources.schema("usage"))
    assert list(data["accounts"]) == ["prod", "staging"] and data["groups"] == {}
    assert data["total"]["allocated_ammount"] == D(295) and data["total"]["used_ammount"] == D("227.5")
    made = data["accounts"]["prod"]["keys"][3]
    assert made["managed"] is False and made["address"] is None and made["key"] == "ek-proxy-…0007"
    assert "usage-test" not in text  # never a key


def one_account(*keys: KeyUsage) -> UsageView:
    return UsageView(NOW, 30, (AccountUsage(Account(), keys, D(100)),))


def key(name: str, allocated: int, used: int, **fields: Any) -> KeyUsage:
    return KeyUsage("default", name, "ek-proxy-…" + name[-4:].rjust(4, "x"), D(allocated), D(used), -1,
                    True, address=fields.pop("address", name), **fields)  # fmt: skip


def test_one_account_charts_its_keys_largest_first_and_sums_the_rest() -> None:
    keys = [key(f"key-{i:02d}", 10 + i, i) for i in range(25)]
    per, bars = usage_md.chart_bars(one_account(*keys))
    assert per == "key" and len(bars) == usage_md.CHART_BARS + 1
    assert bars[0] == ("key-24", D(34), D(24))
    assert bars[-1] == ("5 more keys", D(10 + 11 + 12 + 13 + 14), D(0 + 1 + 2 + 3 + 4))


def test_groups_get_a_roll_up_and_the_chart_once_keys_name_them() -> None:
    view = one_account(key("a", 10, 5, group="payments"), key("b", 30, 3, group="research"), key("c", 5, 5))
    assert [(r.name, r.allocated, r.used) for r in view.per_group()] == [
        ("payments", D(10), D(5)),
        ("research", D(30), D(3)),
        ("(none)", D(5), D(5)),
    ]
    assert usage_md.chart_bars(view)[0] == "group"
    assert "By group:\n  payments: 5.00 of 10.00 credits used (50.0%) by 1 key\n" in rendered("text", view)
    assert "| research | 1 | 30.00 | 3.00 | 10.0% |" in rendered("markdown", view)
    data = json.loads(rendered("json", view))
    jsonschema.validate(data, resources.schema("usage"))
    assert data["groups"]["payments"]["keys"] == 1
    assert data["accounts"]["default"]["keys"][0]["group"] == "payments"


def test_an_account_that_could_not_be_read_says_why_and_the_others_are_shown() -> None:
    broken = AccountUsage(STAGING, error="the account could not be read: 401 check EH_STAGING_API_KEY")
    view = UsageView(NOW, 30, (prod(), broken))
    text = rendered("text", view)
    assert "error: the account could not be read: 401 check EH_STAGING_API_KEY" in text and "Backend" in text
    assert "> **Error:** the account could not be read" in rendered("markdown", view)
    assert json.loads(rendered("json", view))["accounts"]["staging"]["error"].startswith("the account")


def test_a_key_with_nothing_allocated_shows_no_share_and_an_empty_bar() -> None:
    view = one_account(key("empty", 0, 0))
    assert "0.00       - [░░░░░░░░░░░░░░░░░░░░]" in rendered("text", view)
    (shown,) = json.loads(rendered("json", view))["accounts"]["default"]["keys"]
    assert shown["percent_used"] is None


def test_a_negative_use_from_the_api_draws_an_empty_bar_of_the_usual_width() -> None:
    """An answer saying `used_ammount: -3` (an API's own refund, a bug): the bar stays 20 wide."""
    view = one_account(key("refunded", 10, -3))
    line = next(row for row in rendered("text", view).splitlines() if "[" in row and "refunded" in row)
    assert "[" + "░" * 20 + "]" in line
