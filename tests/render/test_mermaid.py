"""The usage view's Mermaid block parses: a small grammar of the `xychart-beta` statements it
writes, after Mermaid's own (packages/mermaid/src/diagrams/xychart/parser/xychart.jison): a
quoted text is `"[^"]*"`, a number `[+-]?(\\d+(\\.\\d+)?|\\.\\d+)` (no exponent, no
separator), `%%` starts a comment and `;` ends a statement wherever they are outside a
quoted text (and `"%%` is a comment even where a quote opens one). On top of the grammar,
what GitHub needs to draw it: as many values in each bar as there are labels, within the
y-axis's range. Hostile key names (quotes, comments, markup, entities) must not break it.

The blocks these tests make, and each block refused below, were also given to Mermaid 11's own
parser (`mermaid.parse` under jsdom) when this test was written: it agreed on every one."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from reconciler.core.accounts import Account
from reconciler.core.usage import AccountUsage, KeyUsage, UsageView
from reconciler.render import usage_md

from ..helpers import TESTS
from .test_usage import NOW, two_accounts, two_accounts_in_groups

TEXT = r'"[^"]*"'
NUMBER = r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)"
STATEMENTS = {
    "title": re.compile(rf"title (?P<title>{TEXT})"),
    "x-axis": re.compile(rf"x-axis (?:{TEXT} )?\[(?P<labels>{TEXT}(?:, {TEXT})*)\]"),
    "y-axis": re.compile(rf"y-axis (?:{TEXT} )?(?P<low>{NUMBER}) --> (?P<high>{NUMBER})"),
    "bar": re.compile(rf"bar (?:{TEXT} )?\[(?P<values>{NUMBER}(?:, {NUMBER})*)\]"),
}
FENCE = re.compile(r"^```mermaid\n(.*?)\n```$", re.S | re.M)


@dataclass
class Chart:
    title: str = ""
    labels: list[str] = field(default_factory=list)
    low: Decimal | None = None  # no y-axis: Mermaid ranges it from the values
    high: Decimal | None = None
    bars: list[list[Decimal]] = field(default_factory=list)


class NotMermaid(AssertionError):
    pass


def outside_texts(line: str) -> str:
    return re.sub(TEXT, '""', line)


def parse(block: str) -> Chart:
    """The chart the block describes, or NotMermaid naming the line Mermaid would refuse."""
    first, *lines = block.split("\n")
    if first != "xychart-beta":
        raise NotMermaid(f"not an xychart: {first!r}")
    chart = Chart()
    for line in lines:
        statement = line.strip()
        bare = outside_texts(statement)
        if "%%" in bare or ";" in bare or '"%%' in statement:
            raise NotMermaid(f"a comment or a statement's end outside a quoted text: {line!r}")
        kind = statement.split(" ", 1)[0]
        found = STATEMENTS[kind].fullmatch(statement) if kind in STATEMENTS else None
        if found is None:
            raise NotMermaid(f"not a statement of the grammar: {line!r}")
        _add(chart, kind, found)
    return _checked(chart)


def _add(chart: Chart, kind: str, found: re.Match[str]) -> None:
    if kind == "title":
        chart.title = found["title"][1:-1]
    elif kind == "x-axis":
        chart.labels = [t[1:-1] for t in re.findall(TEXT, found["labels"])]
    elif kind == "y-axis":
        chart.low, chart.high = Decimal(found["low"]), Decimal(found["high"])
    else:
        chart.bars.append([Decimal(v) for v in found["values"].split(", ")])


def _checked(chart: Chart) -> Chart:
    if not chart.labels or not chart.bars:
        raise NotMermaid("no labels or no bars")
    if any(len(values) != len(chart.labels) for values in chart.bars):
        raise NotMermaid(f"{len(chart.labels)} labels, bars of {[len(v) for v in chart.bars]} values")
    low, high = chart.low, chart.high
    if low is not None and high is not None and any(not low <= v <= high for b in chart.bars for v in b):
        raise NotMermaid(f"values outside the y-axis {low} --> {high}")
    if len(set(chart.labels)) != len(chart.labels):
        raise NotMermaid(f"two bars with one label (Mermaid draws them as one): {chart.labels}")
    return chart


def block_of(markdown: str) -> str:
    (block,) = FENCE.findall(markdown)
    return block


def chart_of(view: UsageView) -> Chart:
    out = io.StringIO()
    usage_md.markdown(view, out)
    return parse(block_of(out.getvalue()))


def test_the_golden_markdown_chart_parses_and_shows_used_against_allocated_per_account() -> None:
    chart = parse(block_of((TESTS / "golden" / "usage.md").read_text()))
    assert chart.labels == ["prod", "staging"] and chart.title.endswith("per account")
    allocated, used = chart.bars
    assert allocated == [Decimal("285.00"), Decimal("10.00")] and used == [Decimal("225.00"), Decimal("2.50")]
    assert chart == chart_of(two_accounts())


def test_the_golden_chart_with_groups_parses_and_has_a_bar_per_group() -> None:
    """Keys of one group in two accounts make one bar; keys of no group, and unmanaged ones, `(none)`."""
    chart = parse(block_of((TESTS / "golden" / "usage-groups.md").read_text()))
    assert chart.labels == ["platform", "data", "(none)"] and chart.title.endswith("per group")
    allocated, used = chart.bars
    assert allocated == [Decimal("210.00"), Decimal("60.00"), Decimal("25.00")]
    assert used == [Decimal("182.50"), Decimal("45.00"), Decimal("0.00")]
    assert chart == chart_of(two_accounts_in_groups())


HOSTILE = [
    'say "hi"',
    "%% not a comment",
    '"%%x',
    "a;b",
    "<b>bold</b>",
    "`code`",
    "#quot; entity",
    "back\\slash",
    "naïve 日本",
    "ctl\x1b[31m",
    "x-axis [1]",
]


def hostile_view() -> UsageView:
    keys = tuple(
        KeyUsage("default", name, f"ek-proxy-…{i:04d}", Decimal(i + 1), Decimal(i), -1, True, address=str(i))
        for i, name in enumerate([*HOSTILE, "twin", "twin"])
    )
    return UsageView(NOW, 30, (AccountUsage(Account(), keys),))


def test_hostile_key_names_never_break_the_chart() -> None:
    chart = chart_of(hostile_view())
    assert len(chart.labels) == len(HOSTILE) + 2
    assert "say 'hi'" in chart.labels and "ctl\\u001b[31m" in chart.labels
    assert {"twin …0011", "twin …0012"} <= set(chart.labels)  # one name, two keys: two bars


def test_amounts_are_written_as_mermaid_reads_numbers() -> None:
    huge = KeyUsage("default", "big", "ek-proxy-…0001", Decimal("1E+4"), Decimal("2.5E+3"), -1, True, "big")
    tiny = KeyUsage("default", "tiny", "ek-proxy-…0002", Decimal("0.001"), Decimal(0), -1, True, "tiny")
    chart = chart_of(UsageView(NOW, 30, (AccountUsage(Account(), (huge, tiny)),)))
    assert chart.bars == [[Decimal("10000.00"), Decimal("0.00")], [Decimal("2500.00"), Decimal("0.00")]]
    assert chart.high == 10000


def test_no_keys_no_chart() -> None:
    out = io.StringIO()
    usage_md.markdown(UsageView(NOW, 30, (AccountUsage(Account()),)), out)
    assert "```" not in out.getvalue() and "Unused for 30 days or more (0)." in out.getvalue()


@pytest.mark.parametrize(
    ("block", "why"),
    [
        ('xychart-beta\n    x-axis ["a", "b"]\n    bar [1, 2]\n    bar [1]', "labels, bars of"),
        ('xychart-beta\n    x-axis ["a"b"]\n    bar [1]', "not a statement"),
        ('xychart-beta\n    x-axis ["a"]\n    y-axis "Credits" 0 --> 5\n    bar [1E+3]', "not a statement"),
        ('xychart-beta\n    x-axis ["a"]\n    y-axis "Credits" 0 --> 5\n    bar [9]', "outside the y-axis"),
        ('xychart-beta\n    x-axis ["a", "a"]\n    bar [1, 2]', "one label"),
        ('xychart-beta\n    x-axis ["a", "b"]\n    bar [1, %%2]', "comment"),
        ('xychart-beta\n    x-axis ["%%a"]\n    bar [1]', "comment"),
        ('xychart-beta\n    x-axis ["a";"b"]\n    bar [1]', "statement's end"),
    ],
)
def test_the_grammar_refuses_what_mermaid_would(block: str, why: str) -> None:
    with pytest.raises(NotMermaid, match=why):
        parse(block)
