"""The benchmark harness keeps working: a smoke run with tiny N (figures are not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ..helpers import ROOT

# slow: a smoke run of the benchmark harness: a sandbox process and the CLI as subprocesses
pytestmark = pytest.mark.slow


def test_bench_smoke_run_produces_every_scenario(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())
    assert set(results) == {
        "1_latency_bound",
        "2_rate_limited",
        "3_apply",
        "4_offline_1k",
        "4_offline_10k",
        "5_scale",
        "7_plan_list",
        "8_validate",
        "9_accounts",
        "6_tier_free",
        "6_tier_pro",
        "6_tier_enterprise",
    }
    assert results["3_apply"]["balance_exact"] is True
    apply = results["3_apply"]
    assert apply["httpx_floor_s"] > apply["bare_client_s"] > 0  # the floors ran
    assert apply["httpx_floor_with_imports_s"] > 0  # and the floor with ehkeys' imports
    assert results["7_plan_list"]["requests"] == 2  # the path users run: the list and the balance
    assert results["2_rate_limited"]["responses_429"] == 0
    assert "| 1_latency_bound |" in done.stdout
    for tier, keys in (("free", 10), ("pro", 50), ("enterprise", 100)):
        figures = results[f"6_tier_{tier}"]
        assert figures["keys"] == keys and f"| 6_tier_{tier} |" in done.stdout
        assert figures["list_requests"] == 2  # counted by the sandbox: the list and the balance
        assert figures["perkey_requests"] >= keys + 2  # balance, list 404, one lookup a key (+ any 429)


def test_reference_figures_say_why_they_are_absent_without_the_history(tmp_path: Path) -> None:
    """A clone without the reference commit (shallow, or an archive) still gets its figures,
    each scenario saying why the reference's are not beside them."""
    sys.path.insert(0, str(ROOT / "bench"))
    import reference

    results = {"4_offline_10k": {"wall_s": 2.5}, "7_plan_list": {"plan_s": 1.0}}
    reference.calibrate(tmp_path, tmp_path, results)  # tmp_path: no git history at all
    assert results["4_offline_10k"]["reference"].startswith("not measured: ")
    assert "reference" not in results["7_plan_list"]


def test_reference_scales_a_figure_by_how_much_slower_the_reference_ran_here() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import reference

    found = reference.scaled({"wall_s": 2.0, "ideal_s": 0.25}, here=5.0, recorded=1.0)
    assert found["machine_factor"] == 5.0
    assert found["at_reference_speed_s"] == pytest.approx(0.4)
    assert found["ratio_to_ideal_at_reference_speed"] == pytest.approx(1.6)
