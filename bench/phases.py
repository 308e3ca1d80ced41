"""Where scenario 3's apply spends its time: one run, its phases timed from inside the process.

    python bench/phases.py            # 500 updates at 20 ms, parallelism 32, as bench/run.py's scenario 3
    python bench/phases.py --runs 3   # each phase's median of three runs

bench/run.py times the whole process; this says which part of it is start-up, the read, the
plan, the wave of updates, the list that checks them, the recording and the journal's fold.
The apply runs in a child process (`--child`), the very command bench/run.py runs, with
timestamps around a few functions: a function renamed or moved is reported as not seen, never
silently left out. Figures are wall-clock milliseconds since the child was started.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

# (module, class or "", function, the phase it times); the phases are listed in run order
TIMED = [
    ("reconciler.engine.workspace", "", "load_manifest", "manifest loaded and checked"),
    ("reconciler.engine.plan", "", "build_plan", "the read and the plan"),
    ("reconciler.api.inventory", "", "read", "  of which: the read (list and balance, one round trip)"),
    ("reconciler.apply.applier", "Applier", "_wave", "the wave (updates, checking list, recording)"),
    ("reconciler.apply.applier", "Applier", "_listing", "  of which: the checking list"),
    ("reconciler.apply.applier", "Applier", "_finish", "  of which: the results recorded"),
    ("reconciler.state.store", "State", "compact", "the journal folded into the state"),
]


def child(argv: list[str]) -> None:
    """Runs `ehkeys argv` with the timestamps, then prints them (JSON) on stderr's last line."""
    started = float(os.environ["EHKEYS_PHASES_T0"])
    marks: dict[str, list[float]] = {}
    import reconciler.cli.main as cli  # the command line's own imports

    imported = time.time() - started
    for module, owner, name, phase in TIMED:
        _wrap(module, owner, name, _adding(marks, phase))

    def report() -> None:
        ended = time.time() - started
        print(json.dumps({"imports": imported, "marks": marks, "end": ended}), file=sys.stderr)

    import atexit

    atexit.register(report)
    sys.argv = ["ehkeys", *argv]
    cli.entry()


def _adding(marks: dict[str, list[float]], phase: str) -> Callable[[float, float], None]:
    """Each call's time added to `phase`, which starts at its first call."""

    def seen(start: float, took: float) -> None:
        marks.setdefault(phase, [start, 0.0])[1] += took

    return seen


def _wrap(module: str, owner: str, name: str, seen: Callable[[float, float], Any]) -> None:
    """`module.owner.name` timed: `seen(start, took)` after each call, start since the child began."""
    target = importlib.import_module(module)
    holder = getattr(target, owner) if owner else target
    real = getattr(holder, name)
    t0 = float(os.environ["EHKEYS_PHASES_T0"])
    if inspect.iscoroutinefunction(real):

        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            began = time.time()
            try:
                return await real(*args, **kwargs)
            finally:
                seen(began - t0, time.time() - began)

        setattr(holder, name, timed_async)
        return

    def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.time()
        try:
            return real(*args, **kwargs)
        finally:
            seen(began - t0, time.time() - began)

    setattr(holder, name, timed)


def once(tmp: Path, n: int, parallelism: int) -> dict[str, Any]:
    import subprocess

    import run  # bench/run.py: the same sandbox, seed and manifest as scenario 3

    (tmp / "m.yaml").write_text(run.manifest(n, allocated=12.5))
    with run.sandbox(tmp, run.seed(n), "--latency-ms", "20", "--rate-limit", "10000000/60") as base:
        env = {**os.environ, "ELECTRONHUB_API_KEY": run.API_KEY, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
        argv = ["apply", "m.yaml", "--auto-approve", "--parallelism", str(parallelism)]
        argv += ["--state", str(tmp / f"state-{time.monotonic_ns()}.json"), "--base-url", base]
        env["EHKEYS_PHASES_T0"] = repr(time.time())
        done = subprocess.run(
            [sys.executable, __file__, "--child", *argv], cwd=tmp, env=env, capture_output=True, text=True
        )
        wall = time.time() - float(env["EHKEYS_PHASES_T0"])
    if done.returncode != 0:
        raise SystemExit(f"the apply exited {done.returncode}: {done.stderr[-800:]}")
    found: dict[str, Any] = json.loads(done.stderr.strip().splitlines()[-1])
    found["wall"] = wall
    return found


def table(runs: list[dict[str, Any]]) -> str:
    import statistics

    def med(get: Callable[[dict[str, Any]], float]) -> float:
        return statistics.median(get(r) for r in runs) * 1000

    rows = [("interpreter start and the command line's imports", 0.0, med(lambda r: r["imports"]))]
    rows.append(("the apply's imports, settings, client", med(lambda r: r["imports"]), 0.0))
    for *_, phase in TIMED:
        if any(phase not in r["marks"] for r in runs):
            rows.append((f"{phase}: NOT SEEN (renamed or moved? update bench/phases.py)", 0.0, 0.0))
            continue
        rows.append(
            (phase, med(lambda r, p=phase: r["marks"][p][0]), med(lambda r, p=phase: r["marks"][p][1]))
        )
    rows.append(("the command's end (atexit)", med(lambda r: r["end"]), 0.0))
    rows.append(("the process's exit, as the parent saw it", med(lambda r: r["wall"]), 0.0))
    first = med(lambda r: r["marks"][TIMED[0][3]][0]) if all(TIMED[0][3] in r["marks"] for r in runs) else 0.0
    rows[1] = (rows[1][0], rows[1][1], first - rows[1][1])
    lines = ["| phase | starts at (ms) | takes (ms) |", "|---|---|---|"]
    lines += [
        f"| {name} | {start:.0f} | {took:.0f} |" if took else f"| {name} | {start:.0f} | |"
        for name, start, took in rows
    ]
    return "\n".join(lines)


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
        return
    import argparse  # the parent's imports here, not the child's: its start-up is what is timed
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--keys", type=int, default=500)
    parser.add_argument("--parallelism", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [once(Path(tmp), args.keys, args.parallelism) for _ in range(args.runs)]
    print(table(runs))


if __name__ == "__main__":
    main()
