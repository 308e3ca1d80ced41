"""Saved plans: `ehkeys show` prints what `ehkeys plan` printed, the file's digest, bad files."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from decimal import Decimal
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.cli.main import main
from reconciler.cli.plan import emit
from reconciler.core.accounts import Account, Endpoint
from reconciler.core.errors import Refused, StalePlan
from reconciler.core.keys import LiveKey
from reconciler.core.plan import Plan, ShownKey
from reconciler.core.plans import Move, Plans
from reconciler.core.secrets import ProxyKey, RedactedKey
from reconciler.state import saved_plan as planfile

from ..helpers import ROOT, TESTS, manifest_text, run_cli, seed_data
from ..planning.test_planner import NOW, desired, live, plan_of
from ..render.test_render import sample_plan

FIXTURES = TESTS / "saved_plans"
SANDBOX = ["--sandbox", "--sandbox-seed", "seed.yaml"]
FORMATS = ("text", "json", "markdown")


def shown(plan: Plan, fmt: str) -> str:
    out = io.StringIO()
    emit(Plans((plan,)), fmt, out)
    return out.getvalue()


def show(path: Path, fmt: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["show", str(path), "--format", fmt])
    return code, out.getvalue(), err.getvalue()


# --- show == plan, for plans of every kind --------------------------------------------------

cents = st.integers(min_value=0, max_value=10**9).map(lambda n: Decimal(n) / 100)
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=25)
models = st.frozensets(st.sampled_from(["gpt-4o", "o3", "gpt-4o-mini", "claude-3"]), max_size=3)
networks = st.frozensets(
    st.sampled_from(["10.0.0.0/8", "192.168.1.0/24", "203.0.113.42/32", "2001:db8::/32"]).map(ip_network),
    max_size=3,
)
expiries = st.sampled_from([-1, NOW - 86400, NOW + 86400, NOW + 400 * 86400, 253402300799])


@st.composite
def live_keys(draw: st.DrawFn, secret: ProxyKey) -> LiveKey:
    allocated = draw(cents)
    return live(
        proxy_key=secret,
        name=draw(names),
        expires_at=draw(expiries),
        allocated_ammount=allocated,
        used_ammount=draw(st.sampled_from([Decimal(0), allocated / 2, allocated, allocated + 1])),
        is_active=draw(st.booleans()),
        model_whitelist=draw(models),
        ip_whitelist=draw(networks),
    )


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    """Real planner plans: creates, updates (money, sets, names), enable/disable, deletes with
    reasons, errors, unchanged and unmanaged keys, notes and problems, with or without a balance."""
    keys, lives, values = [], [], {}
    for i in range(draw(st.integers(0, 6))):
        secret = ProxyKey(f"ek-proxy-show-{i:04d}-secret")
        kind = draw(st.sampled_from(["bound", "bound", "create", "not found"]))
        if kind == "bound":
            lives.append(draw(live_keys(secret)))
            if draw(st.booleans()):
                values[secret.fingerprint] = {"limit_type": draw(st.sampled_from(["daily", "monthly"]))}
        fields: dict[str, Any] = {
            "address": f"k{i}",
            "proxy_key": None if kind == "create" else secret,
            "name": draw(names),
            "limit_type": draw(st.sampled_from(["daily", "weekly", "monthly"])),
            "allocated_ammount": draw(cents if kind == "create" else st.none() | cents),
            "expires_at": draw(st.none() | expiries),
            "model_whitelist": draw(st.none() | models),
            "ip_whitelist": draw(st.none() | networks),
            "is_active": draw(st.sampled_from([None, True, False])),
            "absent": kind == "bound" and draw(st.sampled_from([False, False, True])),
            "protect": draw(st.sampled_from([False, False, True])),
        }
        keys.append(desired(**fields))
    for i in range(draw(st.integers(0, 3))):
        lives.append(draw(live_keys(ProxyKey(f"ek-proxy-stray-{i:04d}-secret"))))
    plan = plan_of(keys, lives, values, balance=draw(st.none() | cents), prune=draw(st.booleans()))
    plan.notes += draw(st.lists(names, max_size=2))
    plan.problems += draw(st.lists(names, max_size=1))
    plan.requests = draw(st.integers(0, 5))
    return plan


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=plans(), created_at=st.integers(0, 4_000_000_000))
def test_show_prints_what_plan_printed_in_every_format(
    tmp_path_factory: Any, plan: Plan, created_at: int
) -> None:
    path = tmp_path_factory.mktemp("show") / "plan.json"
    digest = planfile.save(Plans((plan,)), str(path), "ab" * 32, created_at)
    for fmt in FORMATS:
        code, out, err = show(path, fmt)
        assert (code, out) == (0, shown(plan, fmt)), fmt
        assert digest in err


def test_show_of_a_plan_of_every_kind_matches_the_golden_plan(tmp_path: Path) -> None:
    plan = sample_plan()
    path = tmp_path / "plan.json"
    planfile.save(Plans((plan,)), str(path), "cd" * 32, 1_800_000_000)
    assert show(path, "text")[1] == (TESTS / "golden" / "plan.txt").read_text()
    assert show(path, "markdown")[1] == (TESTS / "golden" / "plan.md").read_text()


def test_a_saved_plan_keeps_its_moves_and_shows_them_as_plan_did(tmp_path: Path) -> None:
    """Moves between two accounts (one created earlier, of a key pinned there) and one between
    accounts the run left out, named beyond ASCII: read back as saved, shown as plan shows them."""
    prod, staging = sample_plan(), sample_plan()
    prod.account, staging.account = Account("prod", declared=True), Account("staging", declared=True)
    prod.endpoint = staging.endpoint = Endpoint("https://api.electronhub.ai/v1", "sha256:" + "0" * 24)
    moves = (
        Move("old", "prod", "staging", False),
        Move("ghost", "staging", "prod", True),
        Move('ünï "q" ↦', "dev", "qa", True),
    )
    path = tmp_path / "plan.json"
    planfile.save(Plans((prod, staging), moves), str(path), "ab" * 32, 1_800_000_000)
    assert planfile.load(str(path)).moves == moves
    printed = {}
    for fmt in FORMATS:
        out = io.StringIO()
        emit(Plans((prod, staging), moves), fmt, out)
        printed[fmt] = out.getvalue()
        assert show(path, fmt)[:2] == (0, printed[fmt]), fmt
    assert "↦ ghost: moves from account staging to prod: created in prod by an earlier run" in printed["text"]


def test_a_saved_plan_of_format_4_made_before_plans_saved_their_moves_shows_none() -> None:
    """Made by the ehkeys before (a key moved: it saved no moves): read and shown as it was."""
    path = FIXTURES / "format-4-with-a-move.json"
    code, out, err = show(path, "text")
    assert code == 0 and "=== Account staging ===" in out and "↦" not in out, err
    assert json.loads(show(path, "json")[1])["moves"] == []
    assert planfile.load(str(path)).moves == ()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(3)))
    return tmp_path


def test_show_needs_no_api_key_no_manifest_and_names_the_plan(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = manifest_text(3, allocated_ammount=14).splitlines()
    Path("keys.yaml").write_text("\n".join([*lines[:-1], "    absent: true"]) + "\n")
    printed = {}
    for fmt in FORMATS:
        code, printed[fmt], err = run_cli(
            capsys, "plan", "keys.yaml", *SANDBOX, "--format", fmt, "--out", "p.json"
        )
        assert code == 0
    digest = planfile.digest("p.json")
    assert err.strip().endswith(f"Saved the plan to p.json ({digest})")
    saved = json.loads(Path("p.json").read_text())
    Path("keys.yaml").unlink()
    monkeypatch.delenv("ELECTRONHUB_API_KEY", raising=False)
    monkeypatch.setenv("ELECTRONHUB_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    for fmt in FORMATS:
        code, out, err = run_cli(capsys, "show", "p.json", "--format", fmt)
        assert (code, out) == (0, printed[fmt])
    assert err == (
        f"Saved plan p.json ({digest}), made {saved['created_at']} from the manifest with digest "
        f"sha256:{saved['manifest_digest']}\n"
    )
    assert "2 to update, 1 to delete" in printed["text"]


# --- the file: deterministic, atomic, its digest ---------------------------------------------


def test_a_saved_plan_read_back_knows_its_keys_only_as_shown(tmp_path: Path) -> None:
    """No key in it can be sent or fingerprinted: each is a RedactedKey, never a ProxyKey
    wrapped around redacted text (which would have sent `ek-proxy-…0001` as a key)."""
    path = tmp_path / "plan.json"
    planfile.save(Plans((sample_plan(),)), str(path), "ab" * 32, 1_800_000_000)
    plan = planfile.load(str(path)).plans.only
    assert all(c.target is None for c in plan.changes) and plan.unmanaged
    assert {type(c.shown) for c in plan.changes if not c.new} == {RedactedKey}
    assert [type(u.live) for u in plan.unmanaged] == [ShownKey] * len(plan.unmanaged)
    assert not hasattr(RedactedKey("ek-proxy-…0001"), "reveal") and plan.unmanaged_listed == []
    assert RedactedKey("ek-proxy-a-whole-secret-value").display == "ek-proxy-…alue"


def test_the_same_plan_saves_to_the_same_bytes_with_sorted_keys_and_its_digest(tmp_path: Path) -> None:
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    first = planfile.save(Plans((sample_plan(),)), str(one), "ef" * 32, 1_800_000_000)
    second = planfile.save(Plans((sample_plan(),)), str(two), "ef" * 32, 1_800_000_000)
    assert one.read_bytes() == two.read_bytes() and first == second
    assert first == "sha256:" + hashlib.sha256(one.read_bytes()).hexdigest() == planfile.digest(str(one))

    def sorted_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        assert [k for k, _ in pairs] == sorted(k for k, _ in pairs)
        return dict(pairs)

    data = json.loads(one.read_text(), object_pairs_hook=sorted_keys)
    assert data["created_at"] == "2027-01-15T08:00:00Z" and data["format_version"] == 3


def test_an_interrupted_save_leaves_the_old_plan_whole_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "plan.json"
    planfile.save(Plans((sample_plan(),)), str(path), "ef" * 32, 1_800_000_000)
    before = path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(planfile.StateError, match=r"plan\.json: cannot write the plan \(No space left"):
        planfile.save(Plans((Plan([]),)), str(path), "ef" * 32, 1_900_000_000)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["plan.json"]


# --- bad files: one line naming the file, exit 1 ---------------------------------------------

BAD_FILES = [
    ("no-such-plan.json", "cannot read the plan (No such file or directory)"),
    ("empty.json", "the file is empty; not a saved ehkeys plan"),
    (
        "not-json.json",
        "not a saved ehkeys plan (make one with `ehkeys plan --out FILE`): not JSON, at line 1",
    ),
    ("not-utf8.json", "not a saved ehkeys plan (make one with `ehkeys plan --out FILE`): not UTF-8 text"),
    ("wrong-kind.json", "not a saved ehkeys plan (make one with `ehkeys plan --out FILE`)"),
    ("truncated.json", "the plan ends early (truncated?): save it again"),
    # json's parser recurses a level at a time: a RecursionError, which is no ValueError
    (
        "nested-too-deeply.json",
        "not a saved ehkeys plan (make one with `ehkeys plan --out FILE`): nested too deeply",
    ),
    ("future-format-version.json", "a saved plan of format 99, from a newer ehkeys"),
    ("older-format-version.json", "a saved plan of format 2, from an older ehkeys: plan again"),
    ("missing-layout.json", "not a complete saved plan (no 'layout' in it)"),
    ("requests-past-any-number.json", "not a complete saved plan (cannot convert float infinity to integer)"),
    ("net-edited-by-hand.json", "the saved plan does not hold together (edited by hand?)"),
    # it said `([<class 'decimal.ConversionSyntax'>])`, and not what to do
    ("amount-not-a-number.json", "not a complete saved plan (an amount in it is no number): plan again"),
    ("error-with-operations.json", "(ghost: cannot be planned, yet has operations to send)"),
]


def test_a_manifest_given_to_show_is_said_to_be_no_saved_plan_and_how_to_make_one() -> None:
    manifest = ROOT / "keys.example.yaml"  # the slip a new user makes: the manifest, not the plan
    code, out, err = show(manifest, "text")
    assert code == 1 and out == ""
    assert err == (
        f"ehkeys: error: {manifest}: not a saved ehkeys plan (make one with `ehkeys plan --out FILE`): "
        "not JSON, at line 1, column 1: Expecting value\n"
    )


@pytest.mark.parametrize(("name", "message"), BAD_FILES)
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_bad_plan_file_is_one_line_naming_it(name: str, message: str, fmt: str) -> None:
    path = FIXTURES / name
    code, out, err = show(path, fmt)
    assert code == 1 and out == ""
    assert err.startswith(f"ehkeys: error: {path}: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(("name", "message"), BAD_FILES[:4])
def test_apply_refuses_a_bad_plan_file_before_any_request(
    workdir: Path, capsys: Any, name: str, message: str
) -> None:
    Path("keys.yaml").write_text(manifest_text(3, allocated_ammount=14))
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--plan", str(FIXTURES / name))
    assert code == 1 and message in err and out == ""


@pytest.mark.parametrize(
    ("field", "value"),
    [("live", "x"), ("allocated_ammount", "x"), ("expires_at", "soon"), ("ip_whitelist", [None])],
)
def test_a_plan_whose_live_values_were_edited_by_hand_is_refused_naming_them(
    workdir: Path, capsys: Any, field: str, value: Any
) -> None:
    """The live values a change was planned against are what apply compares with, and says of
    when they moved: one of another shape was an internal error (TypeError, InvalidOperation)."""
    Path("keys.yaml").write_text(manifest_text(3, allocated_ammount=14))
    assert run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--out", "plan.json")[0] == 0
    data = json.loads(Path("plan.json").read_text())
    address, change = sorted(data["changes"].items())[0]
    if field == "live":
        change["live"] = value
    else:
        change["live"][field] = value
    Path("plan.json").write_text(json.dumps(data))
    code, out, err = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--plan", "plan.json", "--auto-approve")
    where = "" if field == "live" else f".{field}"
    assert code == 1 and "internal error" not in err, err
    assert f"plan.json: changes[{address}].live{where} is not what a plan records (edited by hand?)" in err
    assert "Applying" not in out


@pytest.mark.parametrize("argv", [["show", "in.fifo"], ["plan", "keys.yaml", *SANDBOX, "--state", "in.fifo"]])
def test_a_pipe_given_as_a_file_to_read_is_refused_not_read_forever(
    workdir: Path, capsys: Any, argv: list[str]
) -> None:
    """A FIFO nobody writes (or /dev/zero, /dev/stdin) as the saved plan or the state: the
    command waited forever (or read until memory ran out)."""
    os.mkfifo("in.fifo")
    Path("keys.yaml").write_text(manifest_text(3, allocated_ammount=14))
    code, out, err = run_cli(capsys, *argv)
    assert (
        code == 1 and "in.fifo: cannot read the " in err and "not a regular file: a device or a pipe" in err
    )


def test_a_stale_plan_is_its_own_refusal() -> None:
    assert issubclass(StalePlan, Refused) and StalePlan.exit_code == 1


def test_a_plan_saved_by_an_older_ehkeys_that_shows_a_change_otherwise_is_refused_saying_so(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saved by the ehkeys before command sinks were shown by their words (`→ command sh`): the
    lines it shows are not what this ehkeys would apply, so nothing is sent. The refusal said only
    "edited by hand?", which sends a reviewer looking for an edit nobody made."""
    monkeypatch.chdir(tmp_path)
    fixture = FIXTURES / "made-by-an-older-ehkeys-command-sink"
    Path("keys.yaml").write_bytes(fixture.with_suffix(".yaml").read_bytes())
    Path("plan.json").write_bytes(fixture.with_suffix(".json").read_bytes())
    code, _, err = run_cli(capsys, "apply", "keys.yaml", "--sandbox", "--plan", "plan.json", "--auto-approve")
    assert code == 1, err
    assert "but the plan shows" in err and "→ command sh (" in err, err
    said = "(edited by hand, or saved by another version of ehkeys?): plan again; nothing was sent"
    assert said in err, err
