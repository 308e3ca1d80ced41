"""What a reviewer reads of a saved plan is what apply sends: a plan of the example manifest,
made on the bundled sandbox, whose shown part alone was edited, one edit a row (as a break-it
run edited it: the name, before and after, the key, the warnings, the reason...). Each is
refused by `show` and by `apply --plan`, naming the file and the key, and nothing is sent; the
plan as written is shown as `plan` printed it, and applied.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.plan import Plan
from reconciler.core.plans import Plans
from reconciler.core.secrets import ProxyKey
from reconciler.sandbox import Sandbox, seeds
from reconciler.state import saved_plan as planfile

from ..helpers import ROOT, run_cli
from ..planning.test_planner import desired, live, plan_of
from ..reliability_log import record

Edit = Callable[[dict[str, Any]], None]
EDITED = "plan.json: the changes it would apply are not the plan it shows (edited by hand, or put together from two plans?): "
REWRITTEN = "is not shown as the plan wrote it (its reason, warnings, key or another line edited?)"
TOTALS = "its totals, notes, problems, unmanaged keys, policy or groups are not shown as the plan wrote them"
SECRETS = ("ek-proxy-demo", "ek-sandbox-demo-key")  # the demo seed's keys, whole


@pytest.fixture
def planned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> str:
    """keys.example.yaml planned on the bundled sandbox and saved: what `plan` printed."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    shutil.copy(ROOT / "keys.example.yaml", "keys.yaml")
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--sandbox", "--out", "plan.json")
    assert code == 0, err
    return out


def account() -> tuple[Any, ...]:
    """The demo account as the sandbox holds it: its balance and every key."""
    store = Sandbox.open(".ehkeys/sandbox.db", seeds.load()).store
    return store.account("user_abc123")["balance"], store.keys_of("user_abc123")


def key(data: dict[str, Any], address: str) -> dict[str, Any]:
    return next(k for k in data["plan"]["keys"] if k["address"] == address)


def layout(data: dict[str, Any], address: str) -> dict[str, Any]:
    index = next(i for i, k in enumerate(data["plan"]["keys"]) if k["address"] == address)
    found: dict[str, Any] = data["layout"][index]
    return found


def _after(data: dict[str, Any]) -> None:
    key(data, "prod-backend")["changes"]["allocated_ammount"]["after"] = 25.0  # 250 is sent


def _before(data: dict[str, Any]) -> None:
    key(data, "prod-backend")["changes"]["allocated_ammount"]["before"] = 249.0  # live 200


def _name(data: dict[str, Any]) -> None:
    key(data, "prod-backend")["name"] = "Totally Harmless"


def _key(data: dict[str, Any]) -> None:
    key(data, "prod-backend")["key"] = "ek-proxy-…9999"


def _warnings(data: dict[str, Any]) -> None:
    for shown in data["plan"]["keys"]:
        shown["warnings"] = []


def _reason(data: dict[str, Any]) -> None:
    key(data, "old-staging")["reason"] = "approved by security"


def _deleted_name(data: dict[str, Any]) -> None:
    key(data, "old-staging")["name"] = "Scratch"  # a manifest key's delete: its manifest name


def _credit(data: dict[str, Any]) -> None:
    """The debit and the totals edited together: the plan holds together, and shows -5.00."""
    key(data, "prod-backend")["credit"].update(account_debit=5.0, allocation_delta=5.0)
    data["plan"]["summary"] = json.loads(json.dumps(Plan.from_data(data["plan"]).summary(), default=str))


def _field_dropped(data: dict[str, Any]) -> None:
    """The model added to prod-backend no longer shown (its layout edited to match)."""
    del key(data, "prod-backend")["changes"]["model_whitelist"]
    layout(data, "prod-backend")["fields"].remove("model_whitelist")


def _field_added(data: dict[str, Any]) -> None:
    key(data, "dev-playground")["changes"]["expires_at"] = {"before": -1, "after": 1830211200}
    layout(data, "dev-playground")["fields"].append("expires_at")


def _window(data: dict[str, Any]) -> None:
    key(data, "prod-backend")["changes"]["limit_type"]["after"] = "weekly"  # monthly is sent


def _enabled(data: dict[str, Any]) -> None:
    key(data, "intern-sandbox")["changes"]["is_active"]["after"] = True  # a disable


def _created_expiry(data: dict[str, Any]) -> None:
    key(data, "analytics")["changes"]["expires_at"]["after"] = 1893456000


def _note(data: dict[str, Any]) -> None:
    data["plan"]["notes"].append("reviewed and approved by security")


def _layout_unchanged(data: dict[str, Any]) -> None:
    layout(data, "dev-playground")["unchanged"] = 0  # shown as `(5 unchanged fields)`


EDITS: dict[str, tuple[Edit, str]] = {  # each edit of the shown part, and what the refusal says
    "after": (
        _after,
        "prod-backend shows allocated_ammount: 200.00 -> 25.00, but would be applied as 200.00 -> 250.00",
    ),
    "before": (
        _before,
        "prod-backend shows allocated_ammount: 249.00 -> 250.00, but would be applied as 200.00 -> 250.00",
    ),
    "name": (
        _name,
        'prod-backend is shown named "Totally Harmless", but what it would apply names it "Production Backend"',
    ),
    "key": (_key, f"prod-backend {REWRITTEN}"),
    "warnings emptied": (
        _warnings,
        'nightly-batch does not show its warning "allocation 40.00 is below what the key has already '
        'used (45.00): the key is exhausted at once"',
    ),
    "reason": (_reason, f"old-staging {REWRITTEN}"),
    "a delete's name": (_deleted_name, f"old-staging {REWRITTEN}"),
    "credit and totals": (
        _credit,
        "prod-backend is shown to move -5.00 (allocation +5.00), but its operations move -50.00 (allocation "
        f"+50.00); {TOTALS}",
    ),
    "a field change dropped": (
        _field_dropped,
        "prod-backend does not show its change of model_whitelist ([gpt-4o] -> [claude-3-5-sonnet-20241022, gpt-4o])",
    ),
    "a field change added": (
        _field_added,
        "dev-playground shows a change of expires_at that it would not apply",
    ),
    "limit_type after": (
        _window,
        'prod-backend shows limit_type: (unknown) -> "weekly", but would be applied as (unknown) -> "monthly"',
    ),
    "is_active after": (
        _enabled,
        "intern-sandbox shows is_active: true -> true, but would be applied as true -> false",
    ),
    "a create's field": (
        _created_expiry,
        "analytics shows expires_at: 2030-01-01T00:00:00Z, but would be applied as 2027-12-31T00:00:00Z",
    ),
    "a note added": (_note, TOTALS),
    "the unchanged count": (_layout_unchanged, f"dev-playground {REWRITTEN}"),
}


def edit_plan(edit: Edit) -> None:
    """The saved plan with its shown part edited, written back as `plan --out` writes it."""
    data = json.loads(Path("plan.json").read_text())
    applied = json.dumps(data["changes"], sort_keys=True)
    edit(data)
    assert json.dumps(data["changes"], sort_keys=True) == applied  # the applied part as it was
    Path("plan.json").write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n")


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_edit_of_what_the_plan_shows_is_refused_by_show_and_by_apply(
    planned: str, capsys: Any, edit: str
) -> None:
    change, said = EDITS[edit]
    before = account()
    edit_plan(change)
    for fmt in ("text", "json", "markdown"):
        code, out, err = run_cli(capsys, "show", "plan.json", "--format", fmt)
        assert (code, out) == (1, ""), err
        assert err == f"ehkeys: error: {EDITED}{said}: plan again\n"
    code, out, err = run_cli(
        capsys, "apply", "keys.yaml", "--sandbox", "--plan", "plan.json", "--auto-approve"
    )
    assert (code, out) == (1, "") and err == f"ehkeys: error: {EDITED}{said}: plan again\n"
    assert not any(secret in err for secret in SECRETS) and "Traceback" not in err
    assert account() == before  # nothing sent


def test_the_plan_as_written_is_shown_as_plan_printed_it_and_applied(planned: str, capsys: Any) -> None:
    written = json.loads(Path("plan.json").read_text())["shown_digests"]  # each key's, and the rest's
    assert len(written["keys"]) == 7 and written["rest"]
    code, out, err = run_cli(capsys, "show", "plan.json")
    assert (code, out) == (0, planned), err
    before = account()
    code, out, err = run_cli(
        capsys, "apply", "keys.yaml", "--sandbox", "--plan", "plan.json", "--auto-approve"
    )
    assert code == 0 and "Charged net -40.00, as reviewed." in out, out + err
    assert account() != before and account()[0] == 960.0
    record(
        "money",
        "a saved plan whose shown part alone was edited (name, before/after, key, credit, warnings, reason...)",
        len(EDITS),
        "refused by show and apply naming the key; nothing sent",
    )


def test_a_plan_with_many_keys_edited_names_ten_and_counts_the_rest(tmp_path: Path, capsys: Any) -> None:
    secrets = [ProxyKey(f"ek-proxy-many-{i:04d}-secret") for i in range(12)]
    keys = [
        desired(address=f"k{i:02d}", proxy_key=s, allocated_ammount=Decimal(150))
        for i, s in enumerate(secrets)
    ]
    path = tmp_path / "plan.json"
    planfile.save(Plans((plan_of(keys, [live(proxy_key=s) for s in secrets]),)), str(path), "ab" * 32, 0)
    data = json.loads(path.read_text())
    for shown in data["plan"]["keys"]:
        shown["reason"] = "approved"
    path.write_text(json.dumps(data))
    code, _, err = run_cli(capsys, "show", str(path))
    assert (
        code == 1
        and err.count(REWRITTEN) == 10
        and err.endswith(f"k09 {REWRITTEN}; and 2 more: plan again\n")
    )
