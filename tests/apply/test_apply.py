"""`ehkeys apply` against the in-process sandbox: money first, nothing more than reviewed."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.sandbox import Sandbox, seeds

from ..helpers import API_KEY, key_value, manifest_text, run_cli, sandbox_state_dir, seed_data, unwarned
from ..served import serving


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    seed(tmp_path, seed_data(3))
    return tmp_path


def seed(workdir: Path, data: dict[str, Any]) -> None:
    (workdir / "seed.yaml").write_text(yaml.safe_dump(data))


def box() -> Sandbox:
    return Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))


def balance() -> Decimal:
    return box().store.account("u1")["balance"]


def live(i: int) -> dict[str, Any]:
    key = box().store.key(key_value(i))
    assert key is not None
    return key


def apply(capsys: Any, text: str, *extra: str) -> tuple[int, str, str]:
    Path("keys.yaml").write_text(text)
    return run_cli(capsys, "apply", "keys.yaml", "--sandbox", "--sandbox-seed", "seed.yaml", *extra)


def journal() -> list[dict[str, Any]]:
    path = sandbox_state_dir() / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_without_a_tty_and_without_auto_approve_nothing_is_sent(workdir: Path, capsys: Any) -> None:
    code, out, err = apply(capsys, manifest_text(1, allocated_ammount=20))
    assert code == 1 and "run this apply again with --auto-approve" in err
    assert live(0)["allocated_ammount"] == 10 and balance() == 1000


def test_without_a_tty_apply_refuses_before_printing_the_plan_and_says_how_to_go_on(
    workdir: Path, capsys: Any
) -> None:
    """In a pipe, apply printed the whole plan, then refused it: nobody could answer. It refuses
    first, naming the plan command to review it; the saved plan it suggests applies in a pipe."""
    code, out, err = apply(capsys, manifest_text(2, allocated_ammount=20), "--target", "key-1")
    err = unwarned(err)
    assert code == 1 and out == "", out
    plan = "`ehkeys plan keys.yaml --sandbox --sandbox-seed seed.yaml --target key-1`"
    assert (
        err.startswith("ehkeys: error: stdin is not a terminal, so nobody can approve the plan")
        and plan in err
    )
    assert "--auto-approve" in err and "`--plan plan.json`" in err and len(err.splitlines()) == 1, err
    assert journal() == [] and balance() == 1000
    argv = plan.strip("`").split()[1:]
    assert run_cli(capsys, *argv, "--out", "plan.json")[0] == 0
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *argv[2:-2], "--plan", "plan.json")
    assert code == 0 and "Apply complete: 1 updated." in out
    assert (live(0)["allocated_ammount"], live(1)["allocated_ammount"]) == (10, 20)


def test_a_closed_stdin_is_no_terminal_either(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ehkeys apply keys.yaml <&-` (a scheduler's job with no stdin): Python's sys.stdin is None,
    and apply (rotate too) ended in an internal error rather than its refusal."""
    monkeypatch.setattr("sys.stdin", None)
    code, out, err = apply(capsys, manifest_text(1, allocated_ammount=20))
    assert code == 1 and "stdin is not a terminal, so nobody can approve the plan" in err, err
    assert "internal error" not in err and live(0)["allocated_ammount"] == 10


def test_the_command_it_suggests_shows_no_password_of_the_base_url(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A base URL through a proxy that wants a password (`https://user:pass@host`): the refusal
    without a terminal printed it whole in the plan command it suggests, as the error of one
    refused (plain http) did; shown as `…`."""
    monkeypatch.setenv("ELECTRONHUB_API_KEY", API_KEY)
    Path("keys.yaml").write_text(manifest_text(1, allocated_ammount=20))
    with serving(box().app) as (url,):
        given = url.replace("http://", "http://ops:hunter2-proxy@") + "/v1"
        code, out, err = run_cli(capsys, "apply", "keys.yaml", "--base-url", given)
    assert code == 1 and "nobody can approve the plan" in err, err
    assert f"--base-url '{given.replace('hunter2-proxy', '…')}'" in err and "hunter2" not in out + err, err
    refused = "http://ops:hunter2-proxy@api.example.com/v1"
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--base-url", refused)
    assert code == 1 and "base URL 'http://ops:…@api.example.com/v1': use https://" in err, err
    assert "hunter2" not in out + err


@pytest.mark.parametrize(("answer", "code", "amount"), [("yes\n", 0, 20), ("y\n", 1, 10), ("\n", 1, 10)])
def test_confirmation_accepts_only_yes(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, answer: str, code: int, amount: int
) -> None:
    monkeypatch.setattr("sys.stdin", FakeTty(answer))
    got, out, _ = apply(capsys, manifest_text(1, allocated_ammount=20))
    assert got == code
    assert "Apply these changes? Only 'yes' will be accepted:" in out
    assert live(0)["allocated_ammount"] == amount


def test_auto_approve_applies_reports_and_is_idempotent(workdir: Path, capsys: Any) -> None:
    text = manifest_text(3, allocated_ammount=15)
    code, out, _ = apply(capsys, text, "--auto-approve")
    assert code == 0
    assert "Apply complete: 3 updated." in out
    assert "Credits moved: -15.00 (balance 1,000.00 -> 985.00)" in out
    assert balance() == Decimal("985")
    sent = len(journal())
    code, out, _ = apply(capsys, text, "--auto-approve")
    assert code == 0 and "Nothing to apply" in out
    assert len(journal()) == sent and balance() == Decimal("985")


def test_nothing_to_change_sends_nothing(workdir: Path, capsys: Any) -> None:
    code, out, _ = apply(capsys, manifest_text(3, allocated_ammount=10), "--auto-approve")
    assert code == 0 and out.count('limit_type: (unknown) -> "daily"') == 3  # never recorded: sent once
    sent = len(journal())
    code, out, _ = apply(capsys, manifest_text(3, allocated_ammount=10))
    assert code == 0 and "Nothing to apply" in out and len(journal()) == sent


def test_unmanaged_fields_survive_and_limit_type_is_sent_and_recorded(workdir: Path, capsys: Any) -> None:
    text = manifest_text(1, allocated_ammount=12).replace('limit_type: "daily"', 'limit_type: "weekly"')
    code, _, _ = apply(capsys, text, "--auto-approve")
    assert code == 0
    key = live(0)
    assert key["model_whitelist"] == ["gpt-4o"] and key["ip_whitelist"] == ["10.0.0.0/8"]
    assert key["limit_type"] == "weekly"  # the sandbox keeps what lookup never shows
    state = json.loads((sandbox_state_dir() / "state.json").read_text())
    assert [v["limit_type"] for v in state["keys"].values()] == ["weekly"]
    assert key_value(0) not in (sandbox_state_dir() / "state.json").read_text()
    # a recorded limit_type that differs is a change on its own
    code, out, _ = apply(capsys, text.replace("weekly", "monthly"), "--auto-approve")
    assert 'limit_type: "weekly" -> "monthly"' in out and live(0)["limit_type"] == "monthly"


def test_max_debit_refuses_the_whole_apply(workdir: Path, capsys: Any) -> None:
    code, _, err = apply(
        capsys, manifest_text(3, allocated_ammount=20), "--auto-approve", "--max-debit", "29.99"
    )
    assert code == 1 and "debits 30.00 credits, over --max-debit 29.99 credits" in err
    assert balance() == 1000 and journal() == []
    code, _, _ = apply(capsys, manifest_text(3, allocated_ammount=20), "--auto-approve", "--max-debit", "30")
    assert code == 0 and balance() == Decimal("970")


def test_expect_net_must_match_exactly(workdir: Path, capsys: Any) -> None:
    text = manifest_text(2, allocated_ammount=12.5)
    code, _, err = apply(capsys, text, "--auto-approve", "--expect-net", "-4.99")
    assert code == 1 and "not the --expect-net -4.99" in err and balance() == 1000
    code, _, _ = apply(capsys, text, "--auto-approve", "--expect-net", "-5.00")
    assert code == 0 and balance() == Decimal("995")


def test_balance_that_cannot_cover_the_debits_is_refused_up_front(workdir: Path, capsys: Any) -> None:
    seed(workdir, seed_data(2, balance=5.0))
    code, _, err = apply(capsys, manifest_text(2, allocated_ammount=13), "--auto-approve")
    assert code == 1 and "would fail with 402" in err
    assert balance() == 5 and live(0)["allocated_ammount"] == 10


def test_refunds_come_first_so_they_can_pay_for_the_debits(workdir: Path, capsys: Any) -> None:
    seed(workdir, seed_data(2, balance=1.0, used_ammount=0))
    text = manifest_text(1, start=1, allocated_ammount=4)  # key-1 goes 10 -> 4: refund 6
    text += manifest_text(1, start=0, allocated_ammount=16).split("keys:\n")[1]  # key-0: debit 6
    code, out, _ = apply(capsys, text, "--auto-approve")
    assert code == 0, out
    assert out.index("key-1 (ek-proxy-…part): updated") < out.index("key-0 (ek-proxy-…part): updated")
    assert balance() == Decimal("1")


def test_a_failing_key_among_good_ones_exits_3_and_a_rerun_finishes(workdir: Path, capsys: Any) -> None:
    data = seed_data(3)
    data["accounts"][0]["per_key_cap"] = 100
    seed(workdir, data)
    text = manifest_text(3, allocated_ammount=11)
    lines = text.splitlines()
    k1 = lines.index('    name: "key-1"')
    lines[k1 + 2] = "    allocated_ammount: 150"
    text = "\n".join(lines) + "\n"
    code, out, _ = apply(capsys, text, "--auto-approve")
    assert code == 3
    assert (
        "key-1 (ek-proxy-…part): failed: HTTP 400: allocated_ammount exceeds your tier's per-key cap" in out
    )
    assert "Apply incomplete: 2 updated, 1 failed." in out
    assert balance() == Decimal("998")
    box().store.db.execute("UPDATE accounts SET per_key_cap = '10000'")
    code, out, _ = apply(capsys, text, "--auto-approve")
    assert code == 0 and "Apply complete: 1 updated." in out
    assert balance() == Decimal("858")
    assert (
        "key-1 (ek-proxy-…part): updated" in out and "key-0 (ek-proxy-…part)" not in out.split("Applying:")[1]
    )


def test_saved_plan_is_applied_exactly_and_refuses_a_changed_manifest(workdir: Path, capsys: Any) -> None:
    text = manifest_text(2, allocated_ammount=14)
    Path("keys.yaml").write_text(text)
    code, _, _ = run_cli(
        capsys, "plan", "keys.yaml", "--sandbox", "--sandbox-seed", "seed.yaml", "--out", "plan.json"
    )
    saved = Path("plan.json").read_text()
    assert key_value(0) not in saved and "ek-test-account-key" not in saved
    code, _, err = apply(capsys, manifest_text(2, allocated_ammount=15), "--plan", "plan.json")
    assert code == 1 and "another version of the manifest" in err and balance() == 1000
    # someone changes key-1 by hand after the plan was reviewed
    box().store.update(
        key_value(1),
        {
            "name": "key-1",
            "expires_at": -1,
            "allocated_ammount": Decimal(11),
            "limit_type": "daily",
            "model_whitelist": ["gpt-4o"],
            "ip_whitelist": ["10.0.0.0/8"],
        },
    )
    code, out, _ = apply(capsys, text, "--plan", "plan.json")
    assert code == 3
    assert "key-1 (ek-proxy-…part): skipped: changed since plan" in out
    assert "Apply incomplete: 1 updated, 1 skipped." in out
    assert live(0)["allocated_ammount"] == 14 and live(1)["allocated_ammount"] == 11
    assert balance() == Decimal("995")


def test_the_job_summary_says_what_was_applied(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = workdir / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, _, _ = apply(capsys, manifest_text(2, allocated_ammount=15), "--auto-approve")
    text = summary.read_text()
    assert code == 0 and text.startswith("<!-- ehkeys-apply -->")
    assert "| ~ | key-0 (`ek-proxy-…part`) | update | updated | -5.00 |" in text
    assert "Apply complete: 2 updated." in text and "→ 990.00" in text


def test_a_bad_amount_is_refused_before_any_request(workdir: Path, capsys: Any) -> None:
    code, _, err = apply(
        capsys, manifest_text(1, allocated_ammount=20), "--auto-approve", "--max-debit", "ten"
    )
    assert code == 1 and "--max-debit 'ten': expected an amount of credits" in err
    assert not Path(".ehkeys/sandbox.db").exists()


@pytest.mark.parametrize(
    ("flag", "given", "message"),
    [
        ("--max-debit", "-1", "--max-debit '-1': expected an amount of 0 or more"),
        ("--max-debit", "1e999", "--max-debit '1e999': expected an amount up to 1,000,000,000,000"),
        ("--expect-net", "-1e999", "--expect-net '-1e999': expected an amount up to 1,000,000,000,000"),
        # shown to the cent: "debits 20.00 credits, over --max-debit 20.00", "not the --expect-net -20.00"
        ("--max-debit", "19.999", "--max-debit '19.999': expected an amount to the cent"),
        ("--expect-net", "-20.001", "--expect-net '-20.001': expected an amount to the cent"),
    ],
)
def test_an_amount_no_plan_can_meet_is_refused_before_any_request(
    workdir: Path, capsys: Any, flag: str, given: str, message: str
) -> None:
    """--max-debit -1 refused every plan with "debits 0.00 credits, over --max-debit -1.00";
    1e999 is finite to Decimal, and the refusal printed its thousand digits."""
    code, _, err = apply(capsys, manifest_text(1, allocated_ammount=20), "--auto-approve", f"{flag}={given}")
    assert code == 1 and message in err and len(err) < 300, err
    assert not Path(".ehkeys/sandbox.db").exists()


def test_refusals_print_money_as_the_plan_does(workdir: Path, capsys: Any) -> None:
    code, _, err = apply(
        capsys, manifest_text(3, allocated_ammount=30), "--auto-approve", "--max-debit", "50"
    )
    assert code == 1 and "debits 60.00 credits, over --max-debit 50.00 credits" in err
    code, _, err = apply(
        capsys, manifest_text(3, allocated_ammount=30), "--auto-approve", "--expect-net", "-5"
    )
    assert code == 1 and "is -60.00 credits, not the --expect-net -5.00 credits" in err
