"""Scenarios 3 and 4 against the run their targets came from, in the same run.

Their targets are absolute (scenario 4 "< 2 s", scenario 3 "<= 2x ideal" where the ideal leaves
out all CPU), read from the run of commit 64140a9 on 2026-11-21 (its `bench/RESULTS.md`:
scenario 4 1.03 s, scenario 3 1.42 s). The machines that run this bench since are several
times slower, and their speed varies by the hour. So `--reference` runs that commit's own
`bench/run.py` (its code, its sandbox, this venv) beside today's, and reads each figure as the
reference reads it: `machine_factor` is the reference's wall time here over its recorded one,
and `at_reference_speed_s` today's wall time divided by it, the figure to hold to the target.

It needs the repository's history (`git archive`); without it the figures say why they are
absent.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

COMMIT = "64140a9"
# wall_s of 64140a9's own run, 2026-11-21 22:43, as its bench/RESULTS.md records them
RECORDED = {"3_apply": 1.42, "4_offline_10k": 1.03}


def calibrate(root: Path, tmp: Path, results: dict[str, dict[str, Any]]) -> None:
    """Adds the reference's figures to each of `results`' scenarios it recorded."""
    wanted = [name for name in RECORDED if name in results]
    if not wanted:
        return
    try:
        walls = reference_walls(root, tmp / "reference", wanted)
    except (OSError, subprocess.CalledProcessError, tarfile.TarError, ValueError) as exc:
        for name in wanted:
            results[name]["reference"] = f"not measured: {exc}"
        return
    for name in wanted:
        results[name].update(scaled(results[name], walls[name], RECORDED[name]))


def scaled(figures: dict[str, Any], here: float, recorded: float) -> dict[str, Any]:
    """The reference's wall time here, and today's figures as at the reference's speed."""
    factor = here / recorded
    found = {
        "reference_wall_s": here,
        "machine_factor": factor,
        "at_reference_speed_s": figures["wall_s"] / factor,
    }
    if "ideal_s" in figures:
        found["ratio_to_ideal_at_reference_speed"] = found["at_reference_speed_s"] / figures["ideal_s"]
    return found


def reference_walls(root: Path, where: Path, wanted: list[str]) -> dict[str, float]:
    """The reference commit's own bench, run on these scenarios: each one's wall_s."""
    archived = subprocess.run(
        ["git", "-C", str(root), "archive", "--format=tar", COMMIT], capture_output=True, check=True
    ).stdout
    where.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archived)) as tar:
        tar.extractall(where, filter="data")
    # its bytecode written first, as today's run writes its own (`run.compiled`): that commit's
    # bench predates it, and with PYTHONDONTWRITEBYTECODE set each of its processes would
    # compile every module again, a slower reference flattering today's figures
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(where / "reconciler")], check=True)
    out = where / "results.json"
    only = [arg for name in wanted for arg in ("--only", name)]
    subprocess.run(
        [sys.executable, str(where / "bench" / "run.py"), *only, "--out", str(out)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    found = json.loads(out.read_text())
    return {name: float(found[name]["wall_s"]) for name in wanted}
