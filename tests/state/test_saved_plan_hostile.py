"""A saved plan edited by hand, its digests worked out again (anyone can: they tell an edit, not
who made the file), and a key renamed in the dashboard: what `show` and `plan` print. No text a
file or the account sets may colour or clear the terminal, start a line that fakes a row, a
total or a symbol, reorder a line (U+202E), or show a proxy key whole."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

from reconciler.state import saved_digest

from ..helpers import run_cli
from .test_saved_plan_shown import planned as planned

KEY = "ek-proxy-A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0"  # a key held in a name
HOSTILE = f"x\x1b[2J\x1b[31m\n  + Fake (a new key)\nPlan: 0 to create \u202e {KEY}"
UNSAFE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\u202a-\u202e\u2028\u2029]")  # a newline only ours


def rewrite(edit: Any) -> None:
    """plan.json edited, its shown digests made again for the edit."""
    data = json.loads(Path("plan.json").read_text())
    edit(data)
    data.update(saved_digest.encode(data["plan"], data["layout"]))
    Path("plan.json").write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


def renamed(data: dict[str, Any]) -> None:
    """The new key's name, in what the plan shows and in what it applies alike."""
    shown = next(k for k in data["plan"]["keys"] if k["address"] == "analytics")
    shown["name"] = shown["changes"]["name"]["after"] = HOSTILE
    for op in shown["operations"] + data["changes"]["analytics"]["operations"]:
        op["body"]["name"] = HOSTILE


def worded(data: dict[str, Any]) -> None:
    """A reason and a warning: shown text the digests alone cover."""
    first = data["plan"]["keys"][0]
    first["reason"], first["warnings"] = HOSTILE, [HOSTILE]


def assert_safe(text: str) -> None:
    assert KEY not in text and KEY[9:] not in text
    for line in text.splitlines():
        assert not UNSAFE.search(line), repr(line)
        assert not line.startswith(("  + Fake", "Plan: 0")), repr(line)


def test_a_hostile_name_reason_or_warning_in_a_saved_plan_is_shown_inert(planned: str, capsys: Any) -> None:
    for edit in (renamed, worded):
        rewrite(edit)
        for fmt in ("text", "markdown"):
            code, out, err = run_cli(capsys, "show", "plan.json", "--format", fmt)
            assert code == 0, err
            assert_safe(out + err)
        assert "Fake (a new key)" in out  # shown, as inert text


def test_a_hostile_header_of_a_saved_plan_is_shown_inert(planned: str, capsys: Any) -> None:
    def header(data: dict[str, Any]) -> None:
        data["created_at"], data["manifest_digest"] = HOSTILE, "\x1b[2J"

    rewrite(header)
    code, _, err = run_cli(capsys, "show", "plan.json")
    assert code == 0 and err.startswith("Saved plan plan.json")
    assert_safe(err)


def test_a_reason_of_another_type_is_a_message_naming_the_file(planned: str, capsys: Any) -> None:
    rewrite(lambda data: data["plan"]["keys"][0].update(reason={"a": 1}))
    for fmt in ("text", "json", "markdown"):
        code, out, err = run_cli(capsys, "show", "plan.json", "--format", fmt)
        assert (code, out) == (1, "")
        assert err.startswith("ehkeys: error: plan.json: ") and "plan again" in err, err


def test_a_key_renamed_in_the_dashboard_is_planned_inert(planned: str, capsys: Any) -> None:
    with sqlite3.connect(".ehkeys/sandbox.db") as db:
        db.execute("UPDATE keys SET name = ? WHERE name = 'support bot (old)'", (HOSTILE,))
        db.execute("UPDATE keys SET name = ? WHERE name = 'Production API Key'", (HOSTILE,))
    for fmt in ("text", "markdown"):
        code, out, err = run_cli(capsys, "plan", "keys.yaml", "--sandbox", "--format", fmt)
        assert code == 0, err
        assert_safe(out)
        assert "ek-proxy-…S9t0" in out  # the key in the name, shown as every key is


def test_a_key_renamed_in_the_dashboard_is_reported_inert(planned: str, capsys: Any) -> None:
    with sqlite3.connect(".ehkeys/sandbox.db") as db:
        db.execute("UPDATE keys SET name = ? WHERE name = 'support bot (old)'", (HOSTILE,))
        db.execute("UPDATE keys SET name = ? WHERE name = 'Production API Key'", (HOSTILE,))
    for command in ("usage", "drift"):
        for fmt in ("text", "markdown"):
            code, out, err = run_cli(capsys, command, "keys.yaml", "--sandbox", "--format", fmt)
            assert code in (0, 2), err
            assert_safe(out)
