"""The whole key lifecycle end to end on the sandbox: create, disable, enable, delete, prune,
protect, the key cap, the mass-delete guard, lost answers, exact money, saved plans, secrets."""

from __future__ import annotations

import asyncio
import json
import shlex
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from reconciler.api.client import Client, RetryPolicy
from reconciler.apply.applier import Applier
from reconciler.core.outcomes import Outcome, Result
from reconciler.core.secrets import ProxyKey
from reconciler.engine.plan import build_plan
from reconciler.engine.workspace import desired
from reconciler.manifest import load as manifest
from reconciler.render import apply as applyrender
from reconciler.sandbox import Sandbox, seeds
from reconciler.state.store import State

from ..helpers import API_KEY, key_value, run_cli, sandbox_state_dir, seed_data, state_dir
from ..reliability_log import record

SANDBOX = ["--sandbox", "--sandbox-seed", "seed.yaml"]
FUTURE = 1_900_000_000


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    seed(seed_data(3))
    return tmp_path


def seed(data: dict[str, Any]) -> None:
    Path("seed.yaml").write_text(yaml.safe_dump(data))


def box() -> Sandbox:
    return Sandbox.open(".ehkeys/sandbox.db", seeds.load("seed.yaml"))


def keys() -> dict[str, dict[str, Any]]:
    return {k["name"]: k for k in box().store.keys_of("u1")}


def balance() -> Decimal:
    return Decimal(box().store.account("u1")["balance"])


def manifest_of(*entries: dict[str, Any], **settings: Any) -> str:
    return yaml.safe_dump(
        {"version": 1, **settings, "defaults": {"limit_type": "daily"}, "keys": list(entries)}
    )


def existing(i: int, **fields: Any) -> dict[str, Any]:
    return {"id": f"k{i}", "name": f"key-{i}", **fields}


def analytics(**fields: Any) -> dict[str, Any]:
    body = {"id": "analytics", "name": "Analytics", "allocated_ammount": 25, "limit_type": "weekly"}
    return {
        **body,
        "expires_at": FUTURE,
        "model_whitelist": ["gpt-4o-mini"],
        "ip_whitelist": ["10.40.0.0/16"],
        **fields,
    }


def apply(capsys: Any, text: str, *extra: str) -> tuple[int, str, str]:
    Path("keys.yaml").write_text(text)
    return run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--auto-approve", *extra)


def plan(capsys: Any, *extra: str) -> tuple[int, str, str]:
    return run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--detailed-exitcode", *extra)


def test_create_with_a_weekly_window_then_in_sync(workdir: Path, capsys: Any) -> None:
    code, out, _ = apply(capsys, manifest_of(existing(0), existing(1), existing(2), analytics()))
    assert code == 0 and "+ Analytics (a new key)" in out and "Apply complete: 1 created, 3 updated." in out
    created = keys()["Analytics"]
    assert created["limit_type"] == "weekly" and created["allocated_ammount"] == 25
    assert created["model_whitelist"] == ["gpt-4o-mini"] and created["ip_whitelist"] == ["10.40.0.0/16"]
    assert balance() == Decimal(975)
    assert plan(capsys)[0] == 0  # bound by the state now: nothing to do, nothing created twice
    assert len(keys()) == 4


def test_disable_enable_and_delete(workdir: Path, capsys: Any) -> None:
    text = manifest_of(existing(0, is_active=False), existing(1, absent=True), existing(2))
    code, out, _ = apply(capsys, text)
    assert code == 0 and "↓ key-0" in out and "- key-1" in out and "absent: true at keys.yaml" in out
    assert keys()["key-0"]["is_active"] is False and "key-1" not in keys()
    assert balance() == Decimal(1008)  # key-1's unused 8 came back; the disabled key keeps its credit
    code, out, _ = plan(capsys)
    assert code == 0 and "absent: true, and no such key exists" in out
    code, out, _ = apply(capsys, text.replace("is_active: false", "is_active: true"))
    assert code == 0 and "↑ key-0" in out and keys()["key-0"]["is_active"] is True


def test_prune_deletes_only_unmanaged_keys_not_ignored(workdir: Path, capsys: Any) -> None:
    code, out, _ = apply(capsys, manifest_of(existing(0), existing(1), prune=True, ignore=["key-2"]))
    assert code == 0 and "Plan: 0 to create, 2 to update, 0 to delete" in out
    code, out, _ = apply(capsys, manifest_of(existing(0), prune=True))
    assert code == 0 and "not in the manifest; prune: true at keys.yaml:" in out
    assert sorted(keys()) == ["key-0"]


def test_without_prune_unmanaged_keys_are_reported_and_drift_fails(workdir: Path, capsys: Any) -> None:
    apply(capsys, manifest_of(existing(0), existing(1)))
    code, out, _ = run_cli(capsys, "drift", "keys.yaml", *SANDBOX)
    assert code == 2 and "1 unmanaged key(s)" in out and "key-2" in out
    Path("keys.yaml").write_text(manifest_of(existing(0), existing(1), ignore=["key-*2"]))
    assert run_cli(capsys, "drift", "keys.yaml", *SANDBOX)[0] == 0


def test_protect_refuses_a_delete_or_a_disable(workdir: Path, capsys: Any) -> None:
    """protect with absent: true or is_active: false is refused by validate: nothing is sent."""
    for change in ({"is_active": False}, {"absent": True}):
        code, out, err = apply(
            capsys, manifest_of(existing(0, protect=True, **change), existing(1), existing(2))
        )
        assert code == 1 and "a protected key is never" in err and "Apply complete" not in out
        assert "key-0" in keys() and keys()["key-0"]["is_active"]


def test_the_key_cap_is_checked_before_anything_is_sent(workdir: Path, capsys: Any) -> None:
    text = manifest_of(existing(0), existing(1), existing(2), analytics(), key_cap=3)
    code, _, err = apply(capsys, text)
    assert code == 1 and "over key_cap 3" in err and "nothing was sent" in err and len(keys()) == 3
    text = manifest_of(existing(0), existing(1, absent=True), existing(2), analytics(), key_cap=3)
    assert apply(capsys, text)[0] == 0 and sorted(keys()) == ["Analytics", "key-0", "key-2"]


def test_without_key_cap_the_services_403_is_a_clear_per_key_failure(workdir: Path, capsys: Any) -> None:
    data = seed_data(3)
    data["accounts"][0]["key_cap"] = 3
    seed(data)
    code, out, _ = apply(capsys, manifest_of(existing(0), existing(1), existing(2), analytics()))
    assert code == 3 and "Analytics (a new key): failed" in out and "Exceeded proxy key limit" in out
    assert "(the account holds 3 keys, its tier's cap: set `key_cap: 3` in the manifest" in out  # says how


def test_the_mass_delete_guard(workdir: Path, capsys: Any) -> None:
    seed(seed_data(10))
    entries = [existing(i, absent=i < 4) for i in range(10)]
    code, _, err = apply(capsys, manifest_of(*entries))
    assert code == 1 and "deletes 4 of the account's 10 keys" in err and "--allow-mass-delete" in err
    assert len(keys()) == 10
    Path("keys.yaml").write_text(manifest_of(*entries))
    code, out, _ = plan(capsys)  # a plan reviewed in a pull request says what its apply will need
    assert (
        code == 2
        and (
            "warning: apply refuses this plan without --allow-mass-delete (the action's allow-mass-delete "
            "input): the plan deletes 4 of the account's 10 keys: over 30% of the keys, in an account of "
            "more than 5 keys"
        )
        in out
    ), out
    assert apply(capsys, manifest_of(*entries), "--allow-mass-delete")[0] == 0 and len(keys()) == 6
    code, _, err = apply(capsys, manifest_of(prune=True))
    assert code == 1 and "prune: true over a manifest with no keys" in err and len(keys()) == 6


def test_money_is_exact_to_the_cent_across_a_mixed_plan(workdir: Path, capsys: Any) -> None:
    data = seed_data(4, used_ammount=2.37)
    seed(data)
    text = manifest_of(
        existing(0, allocated_ammount=10.01),  # +0.01 debit
        existing(1, allocated_ammount=3.33),  # -6.67: all of it unused, refunded
        existing(2, absent=True),  # refund 10 - 2.37 = 7.63
        existing(3, is_active=False),
        analytics(allocated_ammount=0.07),  # debit 0.07
    )
    code, out, _ = apply(capsys, text)
    assert code == 0 and "net +14.22" in out
    assert "Credits moved: +14.22 (balance 1,000.00 -> 1,014.22)" in out and balance() == Decimal("1014.22")
    record(
        "money", "a mixed plan: raise, lower, delete, disable, create, to the cent", 5, "planned net = moved"
    )


def test_a_saved_plan_with_every_action_is_applied_exactly(workdir: Path, capsys: Any) -> None:
    text = manifest_of(
        existing(0, allocated_ammount=12), existing(1, absent=True), existing(2, is_active=False), analytics()
    )
    Path("keys.yaml").write_text(text)
    assert plan(capsys, "--out", "plan.json")[0] == 2
    saved = json.loads(Path("plan.json").read_text())
    assert sorted(c["action"] for c in saved["changes"].values()) == ["create", "delete", "disable", "update"]
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--plan", "plan.json")
    assert code == 0 and balance() == Decimal(1000 - 2 + 8 - 25)
    assert "Apply complete: 1 created, 1 updated, 1 disabled, 1 deleted." in out


def test_each_landed_change_says_what_it_did_not_applied(workdir: Path, capsys: Any) -> None:
    """A delete that landed read `✓ key-1 (ek-proxy-…part): applied`, as an update did, and the
    totals `4 applied`: a reader could not tell a deleted key from an updated one. Each line, the
    report's Result column and the totals now say what happened; the saved plan is as it was."""
    text = manifest_of(
        existing(0, allocated_ammount=12), existing(1, absent=True), existing(2, is_active=False), analytics()
    )
    Path("keys.yaml").write_text(text)
    assert plan(capsys, "--out", "plan.json")[0] == 2
    saved = Path("plan.json").read_bytes()
    argv = ["apply", "keys.yaml", *SANDBOX, "--plan", "plan.json", "--report-out", "apply.md"]
    code, out, _ = run_cli(capsys, *argv)
    landed = [line.split("): ", 1) for line in out.splitlines() if line.startswith("  ✓ ")]
    said = {name.removeprefix("  ✓ ").split(" (")[0]: word for name, word in landed}
    assert code == 0 and said == {
        "key-0": "updated",
        "key-1": "deleted",
        "key-2": "disabled",
        "Analytics": "created",
    }, out
    report = Path("apply.md").read_text()
    assert "| - | key-1 (`ek-proxy-…part`) | delete | deleted | +8.00 |" in report, report
    assert "**Apply complete: 1 created, 1 updated, 1 disabled, 1 deleted.**" in report
    assert " applied" not in out.split("Applying:")[1] + report
    assert Path("plan.json").read_bytes() == saved


def test_a_saved_plan_skips_a_refund_whose_usage_moved(workdir: Path, capsys: Any) -> None:
    Path("keys.yaml").write_text(manifest_of(existing(0, absent=True), existing(1), existing(2)))
    plan(capsys, "--out", "plan.json")
    box().store.db.execute("UPDATE keys SET used_ammount = '9.5' WHERE key = ?", (key_value(0),))
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--plan", "plan.json")
    assert code == 3 and "key-0 (ek-proxy-…part): skipped: changed since plan" in out
    assert "key-0" in keys()


def test_a_saved_plan_made_with_target_leaves_other_keys_alone(workdir: Path, capsys: Any) -> None:
    Path("keys.yaml").write_text(manifest_of(*(existing(i, allocated_ammount=11) for i in range(3))))
    run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--target", "k1", "--out", "plan.json")
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--plan", "plan.json")
    assert code == 0 and "Apply complete: 1 updated." in out and "skipped" not in out
    assert [k["allocated_ammount"] for k in keys().values()] == [10, 11, 10]


def test_no_secret_of_a_created_key_anywhere_but_secrets_out(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = workdir / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    outside = workdir.parent / f"{workdir.name}-secrets.env"
    code, out, err = apply(
        capsys, manifest_of(existing(0), analytics()), "--secrets-out", str(outside), "--debug"
    )
    secret = keys()["Analytics"]["key"]
    assert code == 0 and outside.read_text() == f"EH_KEY_ANALYTICS={secret}\n"
    assert oct(outside.stat().st_mode & 0o777) == "0o600"
    written = [p.read_bytes() for p in workdir.rglob("*") if p.is_file() and ".db" not in p.name]
    assert all(secret not in text for text in [out, err]) and all(secret.encode() not in b for b in written)
    assert secret[-4:] in out  # shown redacted, once it is known
    record(
        "secret",
        "a created key's value: output, --debug logs, journal, state, summary",
        1,
        "only in --secrets-out",
    )


def test_secrets_out_refuses_a_file_git_would_track(workdir: Path, capsys: Any) -> None:
    subprocess.run(["git", "init", "-q", str(workdir)], check=True)
    code, _, err = apply(capsys, manifest_of(existing(0), analytics()), "--secrets-out", "new-keys.env")
    assert code == 1 and "git would track" in err and "Analytics" not in keys()


def test_reveal_prints_only_to_a_terminal_or_a_file(workdir: Path, capsys: Any) -> None:
    apply(capsys, manifest_of(existing(0), analytics()))
    code, out, err = run_cli(capsys, "reveal", "keys.yaml", "analytics", *SANDBOX)
    assert code == 1 and "only to a terminal" in err and "ek-proxy" not in out
    target = workdir.parent / f"{workdir.name}-reveal.env"
    code, out, err = run_cli(capsys, "reveal", "keys.yaml", "analytics", *SANDBOX, "--out", str(target))
    assert code == 0 and target.read_text() == f"EH_KEY_ANALYTICS={keys()['Analytics']['key']}\n"
    assert err == f"Appended 1 value to {target} (0600): EH_KEY_ANALYTICS\n"  # the name, never the value
    assert out == ""
    code, _, err = run_cli(capsys, "reveal", "keys.yaml", "analytics", "k0", *SANDBOX, "--out", str(target))
    assert code == 0 and err == f"Appended 2 values to {target} (0600): EH_KEY_K0, EH_KEY_ANALYTICS\n"
    assert "ek-proxy" not in err


@pytest.mark.parametrize(
    "target",
    ["keys.yaml", "other.yml", "state.json", ".ehkeys/keys/sandbox/journal.jsonl", ".ehkeys/sandbox.db"],
)
def test_secrets_never_go_into_a_manifest_or_another_yaml_or_json_file(
    workdir: Path, capsys: Any, target: str
) -> None:
    """Outside a repository git tracks nothing, so `--out keys.yaml` appended the key's
    `NAME=value` line to the manifest itself: a secret in the file one commits, and a manifest
    that no longer parses."""
    apply(capsys, manifest_of(existing(0), analytics()))
    if target != "keys.yaml" and not Path(target).exists():
        Path(target).write_text("{}\n")
    before = Path(target).read_text()
    code, _, err = run_cli(capsys, "reveal", "keys.yaml", "analytics", *SANDBOX, "--out", target)
    assert code == 1 and f"--out {target}: a YAML or JSON file" in err, err
    more = {"id": "more", "name": "More", "allocated_ammount": 1}
    Path("keys.yaml").write_text(manifest_of(existing(0), analytics(), more))
    before = Path(target).read_text()
    argv = ["apply", "keys.yaml", *SANDBOX, "--auto-approve", "--secrets-out", target]
    code, _, err = run_cli(capsys, *argv)
    assert code == 1 and f"--secrets-out {target}: a YAML or JSON file" in err and "More" not in keys()
    assert Path(target).read_text() == before and "ek-proxy" not in before


# --- lost answers, driven through the applier with a transport that loses them ---------------


class LosesAnswers(httpx.AsyncBaseTransport):
    """Forwards every request; the answer of each call to `path` is lost after the service acted."""

    def __init__(self, inner: httpx.AsyncBaseTransport, path: str) -> None:
        self.inner, self.path, self.sent = inner, path, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer = await self.inner.handle_async_request(request)
        if request.url.path.endswith(self.path):
            self.sent += 1
            raise httpx.ReadTimeout("the answer never came", request=request)
        return answer


def apply_losing(tmp: Path, sandbox: Sandbox, text: str, path: str) -> tuple[list[Result], int]:
    transport = LosesAnswers(sandbox.transport(), path)
    return drive(tmp, sandbox, text, transport, RetryPolicy(attempts=3, base_delay=0.001)), transport.sent


def drive(
    tmp: Path,
    sandbox: Sandbox,
    text: str,
    transport: httpx.AsyncBaseTransport,
    retry: RetryPolicy | None = None,
) -> list[Result]:
    """Plan and apply `text` through `transport`, as `ehkeys apply` does; the results."""
    (tmp / "keys.yaml").write_text(text)
    loaded = manifest.load([str(tmp / "keys.yaml")]).manifest
    assert loaded is not None
    results: list[Result] = []
    retry = retry or RetryPolicy(attempts=1)

    async def run() -> None:
        async with Client(API_KEY, "http://127.0.0.1/v1", transport=transport, retry=retry) as client:
            state = State(state_dir(tmp / "keys.yaml") / "state.json")
            made, account = await build_plan(client, desired(loaded, []), state)
            applier = Applier(client, state, results.append, parallelism=1)
            await applier.run(made.to_apply, account.keys, made.balance_before)
            state.compact()  # the engine folds the journal in once the apply is done

    asyncio.run(run())
    return results


def test_a_lost_create_answer_is_adopted_not_duplicated(tmp_path: Path) -> None:
    sandbox = Sandbox.open(":memory:", seeds.parse(seed_data(1)))
    results, sent = apply_losing(
        tmp_path, sandbox, manifest_of(existing(0), analytics()), "/auth/proxy/create"
    )
    created = [k for k in sandbox.store.keys_of("u1") if k["name"] == "Analytics"]
    assert sent == 1 and len(created) == 1  # never sent twice
    assert [r.outcome for r in results if r.change.address == "analytics"] == [Outcome.FAILED]
    assert created[0]["limit_type"] == "daily"  # the follow-up update was not sent blind...
    state = json.loads((state_dir(tmp_path / "keys.yaml") / "state.json").read_text())
    assert state["bindings"]["analytics"]  # ...but the key is adopted: the next plan updates it
    results, _ = apply_losing(tmp_path, sandbox, manifest_of(existing(0), analytics()), "/nothing")
    assert [r.outcome for r in results] == [Outcome.APPLIED]
    assert len([k for k in sandbox.store.keys_of("u1") if k["name"] == "Analytics"]) == 1
    record(
        "fault",
        "create answer lost after the service created the key",
        1,
        "adopted from the list; never sent twice",
    )


def test_a_lost_toggle_answer_is_not_flipped_twice(tmp_path: Path) -> None:
    sandbox = Sandbox.open(":memory:", seeds.parse(seed_data(1)))
    results, sent = apply_losing(
        tmp_path, sandbox, manifest_of(existing(0, is_active=False)), "/auth/proxy/toggle"
    )
    assert sent == 1 and sandbox.store.key(key_value(0))["is_active"] is False  # flipped once
    assert [r.outcome for r in results] == [Outcome.FAILED]  # its window update was not sent blind
    assert "1 later step(s) were not sent" in results[0].message
    results, sent = apply_losing(tmp_path, sandbox, manifest_of(existing(0, is_active=False)), "/nothing")
    assert [r.outcome for r in results] == [Outcome.APPLIED] and sent == 0
    assert sandbox.store.key(key_value(0))["is_active"] is False  # the next run did not toggle it back
    record(
        "fault",
        "toggle answer lost after the service flipped the key",
        1,
        "confirmed by the list; not flipped again",
    )


def test_a_lost_remove_answer_is_confirmed_by_the_list(tmp_path: Path) -> None:
    sandbox = Sandbox.open(":memory:", seeds.parse(seed_data(1)))
    results, sent = apply_losing(
        tmp_path, sandbox, manifest_of(existing(0, absent=True)), "/auth/proxy/remove"
    )
    assert sandbox.store.key(key_value(0)) is None and [r.outcome for r in results] == [Outcome.APPLIED]
    assert sandbox.store.account("u1")["balance"] == Decimal(1008)  # refunded once
    record(
        "fault",
        "remove answer lost (and the retry answered 404)",
        sent,
        "confirmed gone by the list; refunded once",
    )


class RefusesUpdates(httpx.AsyncBaseTransport):
    """Forwards every request but the updates, which the API refuses (400) without acting."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth/proxy/update"):
            body = {"error": {"message": "refused", "type": "invalid_request_error", "code": 400}}
            return httpx.Response(400, json=body, request=request)
        return await self.inner.handle_async_request(request)


def test_a_refused_update_of_the_window_alone_is_a_failure_not_applied(tmp_path: Path) -> None:
    """limit_type is write-only: the list cannot show it. An update sent only for it and
    refused left every visible field as it was, so the verdict said "the account matches" and
    counted it applied (exit 0) though the window never changed."""
    sandbox = Sandbox.open(":memory:", seeds.parse(seed_data(1)))
    results = drive(
        tmp_path, sandbox, manifest_of(existing(0, limit_type="weekly")), RefusesUpdates(sandbox.transport())
    )
    assert [r.outcome for r in results] == [Outcome.FAILED], results
    assert "HTTP 400: refused" in results[0].message and "limit_type" in results[0].message
    state = json.loads((state_dir(tmp_path / "keys.yaml") / "state.json").read_text())
    assert all(r.get("limit_type") != "weekly" for r in state["keys"].values())  # never recorded


class ListFailsAfterWrites(httpx.AsyncBaseTransport):
    """The account's list answers 429 once any write went out: the check after the wave fails."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.wrote = inner, False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        listing = request.method == "GET" and request.url.path.endswith("/auth/proxy")
        if listing and self.wrote:
            return httpx.Response(429, json={"error": {"message": "Too many requests", "code": 429}})
        self.wrote |= request.method == "POST" and not request.url.path.endswith("/lookup")
        return await self.inner.handle_async_request(request)


def test_writes_whose_check_failed_are_sent_not_verified_and_counted_so(tmp_path: Path) -> None:
    sandbox = Sandbox.open(":memory:", seeds.parse(seed_data(2)))
    (tmp_path / "keys.yaml").write_text(manifest_of(existing(0, allocated_ammount=15), existing(1)))
    loaded = manifest.load([str(tmp_path / "keys.yaml")]).manifest
    assert loaded is not None
    results: list[Result] = []

    async def run() -> Any:
        retry = RetryPolicy(attempts=1)
        transport = ListFailsAfterWrites(sandbox.transport())
        async with Client(API_KEY, "http://127.0.0.1/v1", transport=transport, retry=retry) as client:
            state = State(tmp_path / "state.json")
            made, account = await build_plan(client, desired(loaded, []), state)
            return await Applier(client, state, results.append).run(
                made.to_apply, account.keys, made.balance_before
            )

    report = asyncio.run(run())
    assert [r.outcome for r in results] == [Outcome.UNVERIFIED, Outcome.UNVERIFIED]
    assert report.exit_code == 3 and "2 sent, not verified" in applyrender.totals(report)[0]
    assert sandbox.store.key(key_value(0))["allocated_ammount"] == 15  # it did land
    record(
        "answer",
        "the list that checks a wave fails (429) after the writes landed",
        2,
        "sent, not verified; exit 3",
    )


class FirstCreateRefused(httpx.AsyncBaseTransport):
    """The first create gets a 502 from the edge and never reaches the service."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.creates = inner, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth/proxy/create"):
            self.creates += 1
            if self.creates == 1:
                return httpx.Response(502, json={"error": {"message": "Bad gateway", "code": 502}})
        return await self.inner.handle_async_request(request)


def test_a_failed_create_never_adopts_a_sibling_created_in_the_same_apply(tmp_path: Path) -> None:
    sandbox = Sandbox.open(":memory:", seeds.parse(seed_data(0)))
    twins = manifest_of(
        {"id": "worker-a", "name": "Worker", "allocated_ammount": 10},
        {"id": "worker-b", "name": "Worker", "allocated_ammount": 10},
    )
    results = drive(tmp_path, sandbox, twins, FirstCreateRefused(sandbox.transport()))
    assert sorted(r.outcome for r in results) == [Outcome.APPLIED, Outcome.FAILED]
    bindings = json.loads((state_dir(tmp_path / "keys.yaml") / "state.json").read_text())["bindings"]
    assert len(bindings) == 1 and len(sandbox.store.keys_of("u1")) == 1
    record("fault", "two creates of one name, the first refused by the edge", 2, "no key bound to two ids")


class RemoveFails(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth/proxy/remove"):
            return httpx.Response(500, json={"error": {"message": "boom", "code": 500}})
        return await self.inner.handle_async_request(request)


def test_debits_that_counted_on_a_failed_delete_are_not_sent(tmp_path: Path) -> None:
    sandbox = Sandbox.open(
        ":memory:", seeds.parse({**seed_data(3), "accounts": [{**seed_data()["accounts"][0], "key_cap": 3}]})
    )
    text = manifest_of(existing(0, absent=True), existing(1), existing(2), analytics(), key_cap=3)
    results = drive(tmp_path, sandbox, text, RemoveFails(sandbox.transport()))
    by_address = {r.change.address: r for r in results}
    assert by_address["k0"].outcome is Outcome.FAILED and by_address["analytics"].outcome is Outcome.SKIPPED
    assert (
        "counted on it (the refund of key-0 (ek-proxy-…part): failed); plan again"
        in by_address["analytics"].message
    )
    assert len(sandbox.store.keys_of("u1")) == 3  # never over the cap
    record("fault", "a delete that fails before the create it made room for", 1, "the create is skipped")


def test_a_saved_plan_deletes_only_the_key_it_showed(workdir: Path, capsys: Any) -> None:
    data = seed_data(2)
    data["keys"][1]["name"] = "key-0"  # two live keys of one name
    seed(data)
    Path("keys.yaml").write_text(
        manifest_of({"id": "old", "name": "key-0", "proxy_key": key_value(0), "absent": True})
    )
    plan(capsys, "--out", "plan.json")
    box().store.db.execute("DELETE FROM keys WHERE key = ?", (key_value(0),))  # gone by hand meanwhile
    code, out, _ = run_cli(capsys, "apply", "keys.yaml", *SANDBOX, "--plan", "plan.json")
    assert key_value(1) in {k["key"] for k in box().store.keys_of("u1")}  # the other one survives
    assert code != 0


def test_secrets_go_only_to_a_regular_file(workdir: Path, capsys: Any) -> None:
    for path in ("/dev/stdout", "/dev/stderr"):
        code, out, err = apply(capsys, manifest_of(existing(0), analytics()), "--secrets-out", path)
        assert code == 1 and "not a regular file" in err and "Analytics" not in keys()
    record("secret", "--secrets-out /dev/stdout (a pipe into a CI log)", 2, "refused before any request")


def test_names_from_the_dashboard_cannot_paint_or_reorder_the_plan(workdir: Path, capsys: Any) -> None:
    data = seed_data(2)
    data["keys"][1]["name"] = "evil\x1b[31m\u202eyek"
    seed(data)
    Path("keys.yaml").write_text(manifest_of(existing(0)))
    code, out, _ = plan(capsys)
    assert "\x1b" not in out and "\u202e" not in out and "evil\\u001b[31m\\u202eyek" in out
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--format", "markdown")
    assert "\x1b" not in out and "\u202e" not in out
    record(
        "input",
        "live key names with ANSI escapes and bidi overrides",
        1,
        "printed escaped, in text and Markdown",
    )


def test_import_quotes_ids_that_yaml_would_read_as_numbers(workdir: Path, capsys: Any) -> None:
    data = seed_data(4)
    for i, name in enumerate(["2024", "True", "null", "0o17"]):
        data["keys"][i]["name"] = name
    seed(data)
    code, out, _ = run_cli(capsys, "import", "--all", *SANDBOX)
    Path("imported.yaml").write_text(out)
    assert code == 0 and run_cli(capsys, "validate", "imported.yaml")[0] == 0


def test_an_unreachable_api_stops_the_whole_apply_with_one_error(tmp_path: Path) -> None:
    """The breaker's verdict is about the API, not one key: no key-by-key list of failures."""
    from reconciler.api.errors import Unreachable
    from reconciler.core.changes import Action, Change
    from reconciler.core.operations import Update

    class Silent:
        parallelism = 4

        async def update(self, body: dict[str, Any]) -> None:
            raise Unreachable("stopped: the API has not answered 3 attempts in a row")

    change = Change("k0", Action.UPDATE, "key-0", target=ProxyKey(key_value(0)), operations=(Update({}),))
    applier = Applier(Silent(), State(tmp_path / "state.json"), lambda r: None)  # type: ignore[arg-type]
    with pytest.raises(Unreachable):
        asyncio.run(applier.run([change, change], [], None))


def test_apply_says_where_a_new_keys_value_is_with_a_command_that_prints_it(
    workdir: Path, capsys: Any
) -> None:
    code, out, _ = apply(capsys, manifest_of(existing(0), analytics()))
    hint = "ehkeys reveal keys.yaml --sandbox --sandbox-seed seed.yaml analytics"
    assert code == 0 and f"`{hint}` prints one" in out, out
    code, out, err = run_cli(capsys, *hint.split()[1:], "--out", "value.txt")  # as said, to a file
    assert code == 0 and Path("value.txt").read_text().startswith("EH_KEY_ANALYTICS=ek-proxy-"), out + err


def test_the_suggested_reveal_runs_as_printed_for_paths_that_look_like_options(
    workdir: Path, capsys: Any
) -> None:
    """A manifest and a state named with a leading '-' (given after `--` and as `--state=`): the
    printed command still names them as paths, never as options reveal does not know."""
    Path("-keys.yaml").write_text(manifest_of(existing(0), analytics()))
    args = ("apply", *SANDBOX, "--state=-state.json", "--auto-approve", "--", "-keys.yaml")
    code, out, _ = run_cli(capsys, *args)
    assert code == 0 and "` prints one" in out, out
    hint = shlex.split(out.split("account only: `")[1].split("`")[0])
    code, out, err = run_cli(capsys, *hint[1:], "--out", "value.txt")
    assert code == 0 and Path("value.txt").read_text().startswith("EH_KEY_ANALYTICS=ek-proxy-"), out + err


def test_protect_and_absent_together_are_refused_by_validate(workdir: Path, capsys: Any) -> None:
    Path("keys.yaml").write_text(manifest_of(existing(0, protect=True, absent=True)))
    code, out, _ = run_cli(capsys, "validate", "keys.yaml")
    assert code == 1 and "a protected key is never deleted" in out


def test_sandbox_reset_starts_the_sandboxs_state_afresh_too(workdir: Path, capsys: Any) -> None:
    apply(capsys, manifest_of(existing(0), analytics()))
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX, "--sandbox-reset")
    assert "+ Analytics (a new key)" in out and "gone from the account" not in out


def test_a_create_cut_short_is_never_sent_again_when_its_name_cannot_bind_it(
    workdir: Path, capsys: Any
) -> None:
    """Two manifest keys share a name (never bound by name); a kill left one create unconfirmed."""
    data = seed_data(1)
    data["keys"][0]["name"] = "Worker"  # what the cut-short create made
    seed(data)
    journal = sandbox_state_dir() / "journal.jsonl"
    journal.parent.mkdir(parents=True)
    journal.write_text(
        json.dumps({"address": "worker-a", "name": "Worker", "operation": "create", "result": "sending"})
        + "\n"
    )
    twins = manifest_of(
        {"id": "worker-a", "name": "Worker", "allocated_ammount": 10},
        {"id": "worker-b", "name": "Worker", "allocated_ammount": 10},
    )
    Path("keys.yaml").write_text(twins)
    code, out, _ = plan(capsys)
    assert code == 1 and "never saw it land" in out
    record(
        "kill",
        "a create cut short, its name shared by two manifest keys",
        1,
        "an error, never a second create",
    )
