"""A saved plan's two parts: what `show` prints (`plan`, `layout`) and what apply sends (`changes`).

The fixture `saved_plans/changes-differ-from-shown-plan.json` is put together from two real
plans of one manifest (key-0 `absent: true`, key-1 raised to 14): its shown part is
`plan --target key-1` (1 to update, 0 to delete), its changes the whole plan's (which also
deletes key-0). Its digest is its bytes', so `--expect-digest` alone cannot tell.
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.apply import reviewed
from reconciler.core.outcomes import Outcome, Report, Result
from reconciler.core.plan import Plan
from reconciler.sandbox import Sandbox, seeds
from reconciler.state import saved_digest
from reconciler.state import saved_plan as planfile

from ..helpers import TESTS, run_cli, seed_data
from ..reliability_log import record

FIXTURE = TESTS / "saved_plans" / "changes-differ-from-shown-plan.json"
SANDBOX = ["--sandbox", "--sandbox-seed", "seed.yaml"]
MANIFEST = """\
version: 1
keys:
  - proxy_key: "${EH_KEY_0:-ek-proxy-test-000000-secretpart}"
    name: "key-0"
    absent: true
  - proxy_key: "${EH_KEY_1:-ek-proxy-test-000001-secretpart}"
    name: "key-1"
    limit_type: "daily"
    allocated_ammount: 14
"""
NOT_SHOWN = "key-0 would be applied (delete) but the shown plan does not list it"


def put_together(shown: Path, applied: Path) -> bytes:
    """One plan's shown part with another's changes, written as `plan --out` writes a plan."""
    data = {**json.loads(shown.read_text()), "changes": json.loads(applied.read_text())["changes"]}
    return (json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(2)))
    Path("keys.yaml").write_text(MANIFEST)
    return tmp_path


def box() -> Sandbox:
    return Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))


def live_names() -> list[str]:
    return sorted(k["name"] for k in box().store.db.execute("SELECT name FROM keys WHERE user_id = 'u1'"))


def balance() -> Decimal:
    return Decimal(box().store.account("u1")["balance"])


def save(capsys: Any, out: str, *extra: str) -> None:
    code, _, err = run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--out", out, *extra)
    assert code == 0, err


def edited(path: Path, edit: Any) -> Path:
    """The saved plan at `path` with `edit(data)` applied, in the same format."""
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    return path


# --- the fixture, and show ---------------------------------------------------------------------


def test_the_fixture_is_two_real_plans_of_one_manifest_put_together(workdir: Path, capsys: Any) -> None:
    save(capsys, "shown.json", "--target", "key-1")
    save(capsys, "whole.json")
    made = json.loads(put_together(Path("shown.json"), Path("whole.json")))
    fixture = json.loads(FIXTURE.read_text())  # saved before plans digested what they show: none here
    assert made.pop("shown_digests")["keys"] and "shown_digests" not in fixture
    assert {**made, "created_at": None} == {**fixture, "created_at": None}
    assert sorted(fixture["changes"]) == ["key-0", "key-1"] and len(fixture["plan"]["keys"]) == 1


def test_show_refuses_a_plan_whose_changes_differ_from_what_it_shows(capsys: Any) -> None:
    code, out, err = run_cli(capsys, "show", str(FIXTURE))
    assert (code, out) == (1, "") and "1 to update, 0 to delete" not in out
    assert err.startswith(f"ehkeys: error: {FIXTURE}: the changes it would apply are not the plan it shows")
    assert NOT_SHOWN in err and "key-1" not in err and err.count("\n") == 1


def test_apply_refuses_it_with_its_own_digest_and_deletes_nothing(workdir: Path, capsys: Any) -> None:
    shutil.copy(FIXTURE, "plan.json")
    digest = planfile.digest("plan.json")
    before = balance()
    code, out, err = run_cli(
        capsys, "apply", "keys.yaml", *SANDBOX, "--plan", "plan.json", "--expect-digest", digest
    )
    assert code == 1 and out == "" and NOT_SHOWN in err, err
    assert live_names() == ["key-0", "key-1"] and balance() == before == Decimal(1000)
    record(
        "money",
        "a saved plan whose changes delete a key its shown part does not",
        1,
        "refused by show and apply, key kept",
    )


def _drop_key_1(data: dict[str, Any]) -> None:
    del data["changes"]["key-1"]


def _delete_instead(data: dict[str, Any]) -> None:
    data["changes"]["key-1"].update(action="delete", operations=[{"kind": "remove"}])


def _raise_to_40(data: dict[str, Any]) -> None:
    data["changes"]["key-1"]["operations"][0]["body"]["allocated_ammount"] = "40"


def _to_a_new_key(data: dict[str, Any]) -> None:
    data["changes"]["key-1"]["key"] = None


WAYS = {
    "shown, not applied": (
        _drop_key_1,
        "key-1 is shown (update) but is not among the changes it would apply",
    ),
    "another action": (_delete_instead, "key-1 is shown as update but would be applied as delete"),
    "other operations": (_raise_to_40, "key-1 would be sent other operations than the ones shown"),
    "another key": (_to_a_new_key, "key-1 is shown for another key than the one it would be applied to"),
}


@pytest.mark.parametrize("way", WAYS)
def test_each_way_the_two_parts_can_differ_is_refused_naming_the_key(
    workdir: Path, capsys: Any, way: str
) -> None:
    save(capsys, "plan.json", "--target", "key-1")
    edit, message = WAYS[way]
    path = edited(Path("plan.json"), edit)
    code, out, err = run_cli(capsys, "show", str(path))
    assert (code, out) == (1, "") and message in err, err
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--plan", str(path))
    assert code == 1 and message in err and balance() == 1000


# --- an edit of the shown part with its digests computed again ----------------------------------
# Reading the file, show and apply work out what it shows from what it applies, and check the
# rest against the digests written with it; whoever edits the file can compute those again. Then
# what cannot be worked out offline (a key's last four characters, a manifest key's name on its
# delete, a window it replaces) is still refused by apply, against the plan it makes now.


def _redigested(edit: Any) -> Any:
    def edit_and_digest(data: dict[str, Any]) -> None:
        edit(data)
        data.update(saved_digest.encode(data["plan"], data["layout"]))

    return edit_and_digest


def _key(index: int, data: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = data["plan"]["keys"][index]
    return found


def _shown_key(data: dict[str, Any]) -> None:
    _key(1, data)["key"] = "ek-proxy-…abcd"


def _shown_deleted_name(data: dict[str, Any]) -> None:
    _key(0, data)["name"] = "kept"


def _shown_window(data: dict[str, Any]) -> None:
    _key(1, data)["changes"]["limit_type"]["before"] = "monthly"  # never recorded: null


def _shown_credit(data: dict[str, Any]) -> None:
    _key(1, data)["credit"].update(account_debit=1.0, allocation_delta=1.0)
    data["plan"]["summary"] = json.loads(json.dumps(Plan.from_data(data["plan"]).summary(), default=str))


def _shown_allocation(data: dict[str, Any]) -> None:
    _key(1, data)["changes"]["allocated_ammount"]["after"] = 12.0  # sends 14


def _shown_before(data: dict[str, Any]) -> None:
    _key(1, data)["changes"]["allocated_ammount"]["before"] = 13.0  # live 10


APPLY_TELLS = {  # show cannot tell these offline: apply, against the plan it makes now
    "another key shown": (
        _shown_key,
        "key-1 would be applied to key-1 (ek-proxy-…part) for -4.00, but the plan shows key-1 "
        "(ek-proxy-…abcd) for -4.00 (edited by hand?): plan again; nothing was sent",
    ),
    "a delete shown of another name": (
        _shown_deleted_name,
        "key-0 would be applied to key-0 (ek-proxy-…part) for +8.00, but the plan shows kept "
        "(ek-proxy-…part) for +8.00",
    ),
    "another window replaced": (
        _shown_window,
        'key-1 would be applied as allocated_ammount: 10.00 -> 14.00; limit_type: (unknown) -> "daily", '
        'but the plan shows allocated_ammount: 10.00 -> 14.00; limit_type: "monthly" -> "daily"',
    ),
}
BOTH_TELL = {  # what it shows is worked out from what it applies: show and apply refuse it
    "another credit shown": (
        _shown_credit,
        "key-1 is shown to move -1.00 (allocation +1.00), but its operations move -4.00 (allocation +4.00)",
    ),
    "after edited": (
        _shown_allocation,
        "key-1 shows allocated_ammount: 10.00 -> 12.00, but would be applied as 10.00 -> 14.00",
    ),
    "before edited": (
        _shown_before,
        "key-1 shows allocated_ammount: 13.00 -> 14.00, but would be applied as 10.00 -> 14.00",
    ),
}


@pytest.mark.parametrize("case", sorted(APPLY_TELLS))
def test_what_show_cannot_tell_offline_apply_refuses_before_sending(
    workdir: Path, capsys: Any, case: str
) -> None:
    edit, message = APPLY_TELLS[case]
    save(capsys, "plan.json")
    path = edited(Path("plan.json"), _redigested(edit))
    assert run_cli(capsys, "show", str(path))[0] == 0  # its digests computed again: it holds together
    code, _, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--plan", str(path))
    assert code == 1 and f"plan.json: {message}" in err and "nothing was sent" in err, err
    assert balance() == 1000 and live_names() == ["key-0", "key-1"]


@pytest.mark.parametrize("case", sorted(BOTH_TELL))
def test_what_apply_would_send_is_what_show_shows_even_with_the_digests_computed_again(
    workdir: Path, capsys: Any, case: str
) -> None:
    """The shown part's `changes` (`allocated_ammount: 10.00 -> 12.00`) is what a reviewer reads;
    with the operations, live values and credit left as they were, apply sent 14 all the same."""
    edit, message = BOTH_TELL[case]
    save(capsys, "plan.json")
    path = edited(Path("plan.json"), _redigested(edit))
    for argv in (["show", str(path)], ["apply", "keys.yaml", *SANDBOX, "--plan", str(path)]):
        code, out, err = run_cli(capsys, *argv)
        assert (code, out) == (1, "") and message in err, err
        assert "plan.json: the changes it would apply are not the plan it shows" in err
    assert balance() == 1000


def test_a_plan_saved_before_plans_digested_what_they_show_is_read_as_it_was(
    workdir: Path, capsys: Any
) -> None:
    """No digests in it (any format before them): what it shows is still worked out from what it
    applies, and the rest is shown as it is."""
    save(capsys, "plan.json", "--target", "key-1")
    data = json.loads(Path("plan.json").read_text())
    del data["shown_digests"]
    _key(0, data)["reason"] = "said by hand"
    Path("plan.json").write_text(json.dumps(data))
    code, out, _ = run_cli(capsys, "show", "plan.json")
    assert code == 0 and "# said by hand" in out
    _key(0, data)["name"] = "Totally Harmless"
    Path("plan.json").write_text(json.dumps(data))
    code, _, err = run_cli(capsys, "show", "plan.json")
    assert (
        code == 1
        and 'key-1 is shown named "Totally Harmless", but what it would apply names it "key-1"' in err
    )


# --- reviewed vs charged -----------------------------------------------------------------------


def test_the_review_names_every_key_applied_that_the_plan_did_not_show(workdir: Path, capsys: Any) -> None:
    save(capsys, "shown.json", "--target", "key-1")
    save(capsys, "whole.json")
    shown, whole = planfile.load("shown.json"), planfile.load("whole.json")
    report = Report(results=[Result(c, Outcome.APPLIED) for c in whole.plans.only.to_apply])
    lines = reviewed.compare(shown.sections["default"], report).lines()
    assert lines[0] == "Charged net +4.00, not the reviewed -4.00 (+8.00), because of:"
    assert (
        lines[1]
        == "  key-0 (ek-proxy-…part): reviewed +0.00, charged +8.00: deleted, but the reviewed plan does not show it"
    )
    assert len(lines) == 3


def test_a_key_sent_that_the_plan_did_not_show_is_named_even_when_the_net_matches(
    workdir: Path, capsys: Any
) -> None:
    save(capsys, "shown.json", "--target", "key-1")
    save(capsys, "whole.json")
    shown, whole = planfile.load("shown.json"), planfile.load("whole.json")
    key_0, key_1 = (next(c for c in whole.plans.only.changes if c.name == n) for n in ("key-0", "key-1"))
    report = Report(results=[Result(key_1, Outcome.APPLIED), Result(key_0, Outcome.UNVERIFIED)])
    review = reviewed.compare(shown.sections["default"], report)
    assert not review.as_reviewed
    assert review.lines()[:2] == [
        "Charged net -4.00, the reviewed net, but not key by key, because of:",
        "  key-0 (ek-proxy-…part): reviewed +0.00, charged +0.00: sent, not verified, "
        "but the reviewed plan does not show it",
    ]
