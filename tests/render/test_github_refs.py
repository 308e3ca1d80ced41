"""What GitHub reads in a comment beyond CommonMark: a reference (`#12`, `GH-12`,
`owner/repo#12`, `user@sha`, a commit's SHA) links and marks the issue it names ("mentioned
this"), a shortcode shows an emoji. In a key's name or an API's message, none is one; the name
reads, and copies, as written. GitHub reads the rendered text, character references decoded
(`&#35;1` is `#1` to it): each piece of text between two tags or comments is checked here as
GitHub's reading would be (docs.github.com, "Autolinked references and URLs")."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest

from reconciler.core.secrets import ProxyKey
from reconciler.render import drift as driftrender
from reconciler.render import plan as render
from reconciler.render.view import escape

from ..drift.test_drift import drift, live, want
from ..planning.test_planner import desired, plan_of
from ..planning.test_planner import live as live_key
from .test_render import rendered

SHA = "a5c3785ed8d6a35868bc169f07e40e889087fd2e"
# What GitHub would link, or show as an emoji, in one piece of rendered text.
GITHUB_READS = re.compile(
    r"#[0-9]|\bGH-[0-9]"  # an issue or a pull request: #26, GH-26, jlord/sheetsee.js#26
    r"|(?<![A-Za-z0-9_])@\w|@[0-9a-f]{7,40}\b"  # a mention; user@sha, owner/repo@sha
    r"|\b[0-9a-f]{40}\b"  # a commit's SHA
    r"|:(?:white_check_mark|heavy_check_mark|x|\+1|100|de):",  # an emoji
    re.IGNORECASE,
)

INERT = {  # a name or a message -> as escaped: an empty HTML comment splits what GitHub reads
    "issue": ("fix #1", "fix #<!-- -->1"),
    "issue-after-a-word": ("team#12", "team#<!-- -->12"),
    "other-repo": ("org/repo#2", "org/repo#<!-- -->2"),
    "gh-prefix": ("see GH-26", "see GH-<!-- -->26"),
    "gh-prefix-lower": ("gh-26", "gh-<!-- -->26"),
    "user-commit": ("jlord@a5c3785", "jlord@<!-- -->a5c3785"),
    "repo-commit": ("jlord/sheetsee.js@a5c3785", "jlord/sheetsee.js@<!-- -->a5c3785"),
    "full-sha": (f"reverts {SHA}", f"reverts a<!-- -->{SHA[1:]}"),
    "user-full-sha": (f"x@{SHA}", f"x@<!-- -->a<!-- -->{SHA[1:]}"),  # no bare SHA after the @ either
    "emoji": (":white_check_mark: ok", ":<!-- -->white_check_mark: ok"),
    "emoji-after-a-word": ("ok:heavy_check_mark:", "ok:<!-- -->heavy_check_mark:"),
    "emoji-thumbs": (":+1:", ":<!-- -->+1:"),
    "emoji-hex-name": ("2001:de::/32", "2001:<!-- -->de::/32"),  # :de: is a flag
    "emoji-number": ("keys.yaml:100:5", "keys.yaml:<!-- -->100:5"),  # :100: is one too
    "character-reference": ("&#35;1", "&amp;#<!-- -->35;1"),
    "heading-and-issue": ("#1 first", "&#35;<!-- -->1 first"),
    "after-a-url": ("see https://x.io/a then #3", "see https://x.io/a then #<!-- -->3"),
}
AS_WRITTEN = {  # nothing GitHub links or shows otherwise
    "fragment": "v1.2#notes",
    "team-name": "team#backend",
    "address": "ops@example.com",
    "short-sha": "deploy a5c3785",  # only this repository's commit, when one has that prefix
    "ipv6": "2001:db8::/32",
    "time": "2027-01-15T08:00:00Z",
    "location": "keys.yaml:4:5: vault secret/api#EH_KEY",
    "upper-case": "github_secret acme/api:EH_KEY: delivered",  # no emoji's name has a capital
    "url": "https://docs.example.com/errors#42",  # a link: its target shows, nothing in it is read
    "www": "www.example.com/#1",
    "option": "--target 'x': none",
}


@pytest.mark.parametrize(("name", "escaped"), list(INERT.values()), ids=list(INERT))
def test_a_reference_or_a_shortcode_in_a_name_is_inert_and_reads_as_written(name: str, escaped: str) -> None:
    assert escape(name) == escaped
    page = rendered(f"- {escape(name)}\n")
    assert "".join(page.text).strip() == name  # and copies as written: the comment adds no character
    assert not [piece for piece in page.text if GITHUB_READS.search(piece)], page.text


@pytest.mark.parametrize("name", list(AS_WRITTEN.values()), ids=list(AS_WRITTEN))
def test_what_github_reads_as_nothing_stays_as_written_beside_a_reference_made_inert(name: str) -> None:
    assert escape(f"{name} #7") == f"{name} #<!-- -->7"


def test_ehkeys_own_message_keeps_its_pull_request_reference_and_no_other() -> None:
    """A job's refusal names its PR ("PR #8: its plan failed ..."): a reference ehkeys means;
    an API's message inside it (a key named `fix #1`) is inert all the same."""
    message = "PR #8: the plan was made for PR #9, not this one; key fix #1 (ek-proxy-…0001): 422"
    assert escape(message, ours=True) == message.replace("fix #1", "fix #<!-- -->1")
    assert "PR #<!-- -->8" in escape(message)  # a name reads as nothing of ehkeys'


def test_a_name_that_reads_pr_and_a_number_in_ehkeys_own_message_is_no_reference() -> None:
    """A key named `PR #7 preview` in a refusal the merged PR is told (`the plan breaks the
    policy: … on PR #7 preview`) kept its reference, as ehkeys' own `PR #12` does: it linked
    PR 7, marked "mentioned" at each such apply."""
    message = "PR #8: the plan breaks the policy: max_allocation on PR #7 preview: 500 > 100"
    assert escape(message, ours=True).startswith("PR #8: ")
    assert "on PR #<!-- -->7 preview" in escape(message, ours=True)
    made = "the plan in run 1001 was made for PR #9, not this one"
    assert escape(made, ours=True) == made


NAMES = ("fix #1", "org/repo#2", ":white_check_mark: ok")


def test_a_plan_comment_and_a_drift_issue_of_such_names_hold_no_reference_and_no_emoji() -> None:
    """Keys named `fix #1`, `org/repo#2` and `:white_check_mark: ok`, in the manifest and made
    by hand: the PR comment and the drift issue body link no issue (nor mark it "mentioned
    this" at every drift run) and show no ✓; each name reads as written."""
    made = [live_key(proxy_key=ProxyKey(f"ek-proxy-named000{i}"), name=n) for i, n in enumerate(NAMES[1:])]
    wanted = [
        desired(address=f"k{i}", proxy_key=None, name=n, allocated_ammount=Decimal(5))
        for i, n in enumerate(NAMES)
    ]
    comment = io.StringIO()
    render.markdown(plan_of(wanted, made), comment)  # one to create, two adopted by their names
    hand_made = [live(ProxyKey(f"ek-proxy-drift-hand{i}"), name=n) for i, n in enumerate(NAMES[1:])]
    found = drift([want()], [live(name=NAMES[0]), *hand_made], [live()])  # renamed, and two made by hand
    issue = io.StringIO()
    driftrender.markdown(found, issue)
    for body in (comment.getvalue(), issue.getvalue()):
        assert not [n for n in NAMES if n in body], body  # none as GitHub would read it
        page = rendered(body)
        assert not [piece for piece in page.text if GITHUB_READS.search(piece)], page.text
        assert all(n in "".join(page.text) for n in NAMES), "".join(page.text)


@pytest.mark.parametrize("name", ["ok :white_check_mark", "lgtm:+1", "approved :100"])
def test_a_name_ending_in_half_a_shortcode_is_no_emoji_before_the_colon_ehkeys_writes(name: str) -> None:
    """A plan comment writes `<summary>NAME: create</summary>`, and the unchanged keys' warnings
    `- NAME: …`: a name ending in `:white_check_mark` was a ✓ there, closed by ehkeys' colon."""
    wanted = [desired(address="k0", proxy_key=None, name=name, allocated_ammount=Decimal(5))]
    comment = io.StringIO()
    render.markdown(plan_of(wanted, []), comment)
    page = rendered(comment.getvalue())
    assert f"{name}: create" in "".join(page.text), page.text  # reads as written
    assert not [piece for piece in page.text if GITHUB_READS.search(piece)], page.text
