"""`apply --plan`: the reviewed plan's digest, a stale plan, reviewed net against charged net
key by key, and the Markdown report for the PR (`--report-out`), against the sandbox."""

from __future__ import annotations

import json
import os
import re
import stat
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.sandbox import Sandbox, seeds

from ..helpers import API_KEY, key_value, manifest_text, run_cli, seed_data, unwarned
from ..reliability_log import record

SANDBOX = ["--sandbox", "--sandbox-seed", "seed.yaml"]
UNREACHABLE = ["--base-url", "http://127.0.0.1:9/v1"]  # nothing listens: any request would fail


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(3)))
    return tmp_path


def box() -> Sandbox:
    return Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))


def balance() -> Decimal:
    return Decimal(box().store.account("u1")["balance"])


def manifest(**per_key: dict[str, Any]) -> str:
    """Three keys key-0..2 as seeded (10 allocated, 2 used); per_key['k1'] adds fields to key-1."""
    lines = manifest_text(3).splitlines()
    out = []
    for line in lines:
        out.append(line)
        match = re.fullmatch(r'    name: "key-(\d)"', line)
        if match:
            out += [f"    {k}: {json.dumps(v)}" for k, v in per_key.get(f"k{match.group(1)}", {}).items()]
    return "\n".join(out) + "\n"


def plan(capsys: Any, text: str) -> str:
    """Plan and save; returns the digest `plan --out` printed."""
    Path("keys.yaml").write_text(text)
    code, _, err = run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--out", "plan.json")
    assert code == 0
    found = re.search(r"Saved the plan to plan\.json \((sha256:[0-9a-f]{64})\)", err)
    assert found, err
    return found.group(1)


def apply(capsys: Any, *extra: str) -> tuple[int, str, str]:
    return run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--plan", "plan.json", *extra)


def hand_update(i: int, **fields: Any) -> None:
    body = {
        "name": f"key-{i}",
        "expires_at": -1,
        "allocated_ammount": Decimal(10),
        "limit_type": "daily",
        "model_whitelist": ["gpt-4o"],
        "ip_whitelist": ["10.0.0.0/8"],
    }
    box().store.update(key_value(i), {**body, **fields})


RAISE_TWO = {"k1": {"allocated_ammount": 14}, "k2": {"allocated_ammount": 13}}  # -4 -3


def test_the_reviewed_plan_applied_unchanged_charges_as_reviewed(workdir: Path, capsys: Any) -> None:
    digest = plan(capsys, manifest(**RAISE_TWO))
    code, out, _ = apply(capsys, "--expect-digest", digest, "--report-out", "apply.md")
    assert code == 0 and balance() == Decimal(993)
    assert "Charged net -7.00, as reviewed.\nThe balance moved -7.00, as charged." in out
    report = Path("apply.md").read_text()
    assert "| ~ | key-1 (`ek-proxy-…part`) | update | updated | -4.00 |  |" in report
    assert "Balance 1,000.00 → 993.00 (credits moved: -7.00)." in report
    assert "#### Reviewed and charged\n\nCharged net -7.00, as reviewed." in report


def test_a_key_whose_usage_moved_is_skipped_and_named_with_the_field(workdir: Path, capsys: Any) -> None:
    plan(capsys, manifest(k0={"absent": True}, k1={"allocated_ammount": 14}))  # +8.00 refund, -4.00
    box().store.db.execute("UPDATE keys SET used_ammount = '3.5' WHERE key = ?", (key_value(0),))
    code, out, _ = apply(capsys, "--report-out", "apply.md")
    assert code == 3 and balance() == Decimal(1000)  # key-1's debit counted on key-0's refund
    why = "skipped: changed since plan; its live state moved: used_ammount 2.00 -> 3.50"
    assert f"key-0 (ek-proxy-…part): {why}" in out
    assert (
        "Charged net +0.00, not the reviewed +4.00 (-4.00), because of:\n"
        f"  key-0 (ek-proxy-…part): reviewed +8.00, charged +0.00: {why}\n"
        f"  key-1 (ek-proxy-…part): reviewed -4.00, charged +0.00: skipped: {COUNTED_ON_KEY_0}\n"
        "The balance moved +0.00, as charged." in out
    )
    report = Path("apply.md").read_text()
    assert f"- key-0 (`ek-proxy-…part`): reviewed +8.00, charged +0.00: {why.replace('->', '→')}" in report
    assert "| - | key-0 (`ek-proxy-…part`) | delete | skipped |  |" in report


COUNTED_ON_KEY_0 = (
    "not sent: an earlier change did not land, and these debits counted on it "
    "(the refund of key-0 (ek-proxy-…part): skipped); plan again"
)
NEW_KEY = (
    "  - {id: fresh, name: key-new, allocated_ammount: 4, limit_type: daily, "
    "model_whitelist: [gpt-4o], ip_whitelist: [10.0.0.0/8]}\n"
)


def within_budget() -> str:
    """key-0 deleted (+8.00), key-1 raised (-4.00), key-new created (-4.00): net +0.00, and a
    budget of 1.00 that holds only because the refund pays for the debits."""
    text = manifest(k0={"absent": True}, k1={"allocated_ammount": 14}) + NEW_KEY
    return text.replace("version: 1\n", "version: 1\nbudget: {max_net_debit: 1}\n", 1)


def test_debits_that_counted_on_a_refund_skipped_since_the_plan_are_not_sent(
    workdir: Path, capsys: Any
) -> None:
    """The reviewed net (+0.00, within max_net_debit 1.00) counted on key-0's refund; once its
    usage moved, that delete is skipped, and so are the debits, as when a delete fails at the
    API: the account is never charged a net the review did not show."""
    plan(capsys, within_budget())
    box().store.db.execute("UPDATE keys SET used_ammount = '3' WHERE key = ?", (key_value(0),))
    code, out, _ = apply(capsys, "--report-out", "apply.md")
    assert code == 3 and balance() == Decimal(1000), out
    assert [k["name"] for k in box().store.keys_of("u1")] == ["key-0", "key-1", "key-2"]
    assert f"key-1 (ek-proxy-…part): skipped: {COUNTED_ON_KEY_0}" in out
    assert f"key-new (a new key): skipped: {COUNTED_ON_KEY_0}" in out
    assert "Apply incomplete: 1 updated, 3 skipped." in out  # key-2: its limit_type, which moves no credit
    assert "Charged net +0.00, the reviewed net, but not key by key, because of:" in out
    assert "| ~ | key-1 (`ek-proxy-…part`) | update | skipped |" in Path("apply.md").read_text()
    record(
        "money",
        "a reviewed plan whose refund is skipped (its usage moved) and whose debits counted on it",
        1,
        "the debits skipped, the refund named; no credit moved",
    )


def test_debits_that_counted_on_the_refund_of_a_key_deleted_by_hand_are_not_sent(
    workdir: Path, capsys: Any
) -> None:
    """key-0 deleted by hand since the plan (after more use: its refund was 1.00, not the 8.00
    reviewed): this apply makes no refund, so the debits that counted on it are not sent."""
    plan(capsys, manifest(k0={"absent": True}, k1={"allocated_ammount": 14}) + NEW_KEY)  # no budget
    box().store.db.execute("UPDATE keys SET used_ammount = '9' WHERE key = ?", (key_value(0),))
    box().store.remove(key_value(0))
    code, out, _ = apply(capsys)
    assert code == 3 and balance() == Decimal(1001), out
    assert "key-0 (ek-proxy-…part): skipped: changed since plan; it cannot be planned now: not found" in out
    assert f"key-1 (ek-proxy-…part): skipped: {COUNTED_ON_KEY_0}" in out
    assert f"key-new (a new key): skipped: {COUNTED_ON_KEY_0}" in out


def test_debits_that_counted_on_a_refund_made_before_this_apply_are_not_sent(
    workdir: Path, capsys: Any
) -> None:
    """key-0's delete made by another apply since the plan (here one with --target): it is
    already as planned, but this apply made no refund, and the debits that counted on one wait
    for a plan of the account as it is now; that plan applies them."""
    Path("keys.yaml").write_text(manifest())
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0  # k0 bound
    text = manifest(k0={"absent": True}, k1={"allocated_ammount": 14}) + NEW_KEY
    plan(capsys, re.sub(r"proxy_key: .*" + key_value(0) + ".*", "id: key-0", text))  # bound by the state
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve", "--target", "key-0")[0] == 0
    code, out, _ = apply(capsys)
    assert code == 3 and balance() == Decimal(1008), out
    assert (
        "key-0 (ek-proxy-…part): already as planned: nothing left to do; since the plan: the key is gone"
        in out
    )
    counted = "these debits counted on it (the refund of key-0 (ek-proxy-…part): made before this apply)"
    assert f"key-1 (ek-proxy-…part): skipped: not sent: an earlier change did not land, and {counted}" in out
    assert "Apply incomplete: 0 applied, 2 skipped, 1 already as planned." in out
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0
    assert balance() == Decimal(1000)


def test_a_key_updated_by_hand_to_match_is_skipped_its_limit_type_unknown(workdir: Path, capsys: Any) -> None:
    """The hand update reached the allocation, but an update resets limit_type: the key is not
    as reviewed (its limit_type must be sent again), so it is skipped and named, not applied."""
    Path("keys.yaml").write_text(manifest())
    assert run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve")[0] == 0  # limit_type known
    plan(capsys, manifest(**RAISE_TWO))
    hand_update(1, allocated_ammount=Decimal(14))
    code, out, _ = apply(capsys)
    why = "skipped: changed since plan; its live state moved: allocated_ammount 10.00 -> 14.00"
    assert code == 3 and f"key-1 (ek-proxy-…part): {why}" in out, out
    assert f"key-1 (ek-proxy-…part): reviewed -4.00, charged +0.00: {why}" in out
    assert "Charged net -3.00, not the reviewed -7.00 (+4.00), because of:" in out
    assert balance() == Decimal(1000 - 4 - 3)  # the hand change paid its own 4.00


def test_a_key_renamed_by_hand_with_parentheses_is_skipped_in_a_line_of_no_nested_ones(
    workdir: Path, capsys: Any
) -> None:
    """The skip line names what moved, here a name holding parentheses: the line around it has
    none of its own, so none sits inside another."""
    plan(capsys, manifest(**RAISE_TWO))
    hand_update(1, name="key-1 (by hand)")
    code, out, _ = apply(capsys)
    skipped = 'skipped: changed since plan; its live state moved: name "key-1" -> "key-1 (by hand)"'
    assert code == 3 and f"key-1 (ek-proxy-…part): {skipped}" in out, out
    assert "(its live state moved" not in out


def test_a_saved_plan_applied_again_says_what_moved_without_nested_parentheses(
    workdir: Path, capsys: Any
) -> None:
    hand_update(1, name="key-1 (old)")  # the plan renames it back
    plan(capsys, manifest(**RAISE_TWO))
    assert apply(capsys)[0] == 0
    code, out, _ = apply(capsys)  # the same file again: every change already made
    done = 'already as planned: nothing left to do; since the plan: allocated_ammount 10.00 -> 14.00, name "key-1 (old)" -> "key-1"'
    assert code == 0 and f"key-1 (ek-proxy-…part): {done}" in out, out
    assert "nothing left to do (" not in out


def test_a_failed_key_is_named_with_its_error_and_the_report_is_still_written(
    workdir: Path, capsys: Any
) -> None:
    plan(capsys, manifest(**RAISE_TWO))
    box().store.db.execute("UPDATE accounts SET per_key_cap = '13' WHERE user_id = 'u1'")
    code, out, _ = apply(capsys, "--report-out", "apply.md")
    assert code == 3 and balance() == Decimal(997)
    assert "key-1 (ek-proxy-…part): reviewed -4.00, charged +0.00: failed: HTTP 400" in out
    report = Path("apply.md").read_text()
    assert "| ~ | key-1 (`ek-proxy-…part`) | update | failed |  | HTTP 400" in report
    assert "| ~ | key-2 (`ek-proxy-…part`) | update | updated | -3.00 |" in report
    assert "Charged net -3.00, not the reviewed -7.00 (+4.00), because of:" in report


def test_a_stale_plan_says_plan_again_before_any_request_and_writes_no_report(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan(capsys, manifest(**RAISE_TWO))
    Path("keys.yaml").write_text(manifest(k1={"allocated_ammount": 15}))
    monkeypatch.setenv("ELECTRONHUB_API_KEY", API_KEY)
    code, out, err = run_cli(
        capsys, "apply", "keys.yaml", *UNREACHABLE, "--plan", "plan.json", "--report-out", "apply.md"
    )
    assert code == 1 and out == ""
    assert unwarned(err) == (
        "ehkeys: error: plan.json was made from another version of the manifest (it changed since "
        "the plan was reviewed): plan again; nothing was sent\n"
    )
    assert not Path("apply.md").exists()


def test_a_plan_file_whose_digest_differs_from_the_reviewed_one_is_refused(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = plan(capsys, manifest(**RAISE_TWO))
    reviewed = "sha256:" + "0" * 64
    monkeypatch.setenv("ELECTRONHUB_API_KEY", API_KEY)
    code, _, err = run_cli(
        capsys, "apply", "keys.yaml", *UNREACHABLE, "--plan", "plan.json", "--expect-digest", reviewed
    )
    assert code == 1 and err == (
        f"ehkeys: error: plan.json has digest {digest}, not the reviewed {reviewed}: it is not the "
        "plan that was reviewed; nothing was sent\n"
    )
    code, _, _ = apply(capsys, "--expect-digest", digest.upper().replace("SHA256", "sha256"))
    assert code == 0 and balance() == Decimal(993)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--expect-digest", "abc123"], "--expect-digest 'abc123': expected sha256: and 64 hex digits"),
        (["--report-out", "no/such/dir/apply.md"], "--report-out no/such/dir/apply.md: no such directory"),
        (["--report-out", "."], "--report-out .: that is a directory"),
        # the folder the states are kept in: a folder, not a state the report would replace
        (
            ["--report-out", ".ehkeys"],
            "--report-out .ehkeys: that is a directory; name a file, like apply.md",
        ),
    ],
)
def test_bad_options_are_refused_before_anything_is_sent(
    workdir: Path, capsys: Any, extra: list[str], message: str
) -> None:
    plan(capsys, manifest(**RAISE_TWO))
    code, out, err = apply(capsys, *extra)
    assert code == 1 and message in err and out == "" and balance() == 1000


def test_expect_digest_needs_a_saved_plan(workdir: Path, capsys: Any) -> None:
    Path("keys.yaml").write_text(manifest(**RAISE_TWO))
    code, _, err = run_cli(
        capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve", "--expect-digest", "sha256:" + "a" * 64
    )
    assert code == 1 and "--expect-digest checks a saved plan: pass it with --plan FILE" in err


def test_a_guard_refusal_writes_no_report(workdir: Path, capsys: Any) -> None:
    plan(capsys, manifest(**RAISE_TWO))
    code, _, err = apply(capsys, "--max-debit", "5", "--report-out", "apply.md")
    assert code == 1 and "over --max-debit 5.00 credits" in err
    assert not Path("apply.md").exists() and balance() == 1000


def test_without_a_saved_plan_the_report_has_no_review_but_every_key(workdir: Path, capsys: Any) -> None:
    Path("keys.yaml").write_text(manifest(**RAISE_TWO))
    run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve", "--report-out", "apply.md")
    report = Path("apply.md").read_text()
    assert report.startswith("<!-- ehkeys-apply -->") and "Reviewed" not in report
    assert (
        "**Apply complete: 3 updated.**" in report
    )  # key-0: its limit_type, never recorded and "Balance 1,000.00 → 993.00" in report


def test_a_saved_plan_applied_twice_is_as_planned_the_second_time(workdir: Path, capsys: Any) -> None:
    """A re-run of the apply job after it succeeded: nothing is sent again, and it is no failure."""
    plan(capsys, manifest(**RAISE_TWO))
    assert apply(capsys)[0] == 0
    code, out, _ = apply(capsys)
    assert code == 0 and balance() == Decimal(1000 - 7)
    assert "Apply complete: 0 applied, 3 already as planned." in out


@pytest.mark.parametrize("option", ["plan --out", "apply --report-out"])
def test_an_output_file_that_is_a_pipe_or_a_device_is_refused_and_left_as_it_is(
    workdir: Path, capsys: Any, option: str
) -> None:
    """The file was written beside and renamed over it: `--out /dev/stdout` run as root (a CI
    container) replaced the machine's /dev/stdout with a regular file holding the plan. A FIFO
    stands in for the device here."""
    os.mkfifo("out.fifo")
    Path("keys.yaml").write_text(manifest(k1={"allocated_ammount": 12}))
    command, flag = option.split()
    extra = ["--auto-approve"] if command == "apply" else []
    code, _, err = run_cli(capsys, command, "keys.yaml", *SANDBOX, *extra, flag, "out.fifo")
    assert code == 1 and f"{flag} out.fifo: not a regular file" in err, err
    assert stat.S_ISFIFO(os.lstat("out.fifo").st_mode) and balance() == Decimal(1000)  # nothing sent


@pytest.mark.parametrize("target", ["keys.yaml", "notes.yml"])
def test_the_report_never_goes_over_the_manifest_or_another_yaml_file(
    workdir: Path, capsys: Any, target: str
) -> None:
    """`--report-out keys.yaml` (a completion gone wrong) replaced the manifest with the
    Markdown report, after the apply had run; plan --out already refused it."""
    Path("keys.yaml").write_text(manifest(k1={"allocated_ammount": 12}))
    if target != "keys.yaml":
        Path(target).write_text("a: 1\n")
    before = Path(target).read_text()
    code, _, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve", "--report-out", target)
    assert code == 1 and f"--report-out {target}: " in err and "name it like apply.md" in err, err
    assert Path(target).read_text() == before and balance() == Decimal(1000)  # nothing sent
