"""The exit codes each command documents in its --help (and the README's table)."""

from __future__ import annotations

EXIT_CODES = {
    "validate": [("0", "valid (warnings allowed, unless --strict)"), ("1", "errors, or a usage error")],
    "plan": [
        ("0", "planned (with --detailed-exitcode: nothing to change)"),
        ("2", "with --detailed-exitcode only: there are changes to apply"),
        ("1", "an error: a key in error, the API, the manifest, or a usage error"),
        ("130", "interrupted (Ctrl-C)"),
    ],
    "drift": [
        ("0", "in sync (health warnings allowed: expiring keys, high usage, low balance)"),
        ("2", "drift: changed outside ehkeys, not applied yet, unmanaged keys, or values never applied"),
        ("1", "an error: a key in error, the API, the manifest, or a usage error"),
        ("130", "interrupted (Ctrl-C)"),
    ],
    "apply": [
        ("0", "applied, or nothing to apply"),
        (
            "3",
            "some changes failed, were skipped (changed since the saved plan), or are unverified; "
            "or another run created a key of the same name at the same time",
        ),
        (
            "1",
            "refused before sending (a money guard, a stale plan, a digest that differs, no approval, "
            "another apply holding the state), an error, or a usage error",
        ),
        ("130", "interrupted (Ctrl-C): writes in flight are named; run plan to see where they landed"),
    ],
    "show": [
        ("0", "the saved plan is shown"),
        ("1", "the file cannot be read, is not a saved plan, or would apply what it does not show"),
    ],
    "import": [
        ("0", "the manifest is printed, or written with --out"),
        ("1", "an error, or a usage error"),
        ("130", "interrupted"),
    ],
    "reveal": [
        ("0", "the values are shown or written"),
        ("1", "an error, or a usage error"),
        ("130", "interrupted"),
    ],
    "sandbox": [
        ("0", "stopped with Ctrl-C"),
        ("1", "a bad setting, a port in use or not allowed, or a usage error"),
    ],
    "github": [
        ("0", "the job did its work (drift too when it finds drift: the issue says so)"),
        ("3", "apply: some changes failed, were skipped or are unverified"),
        ("1", "an error, a refusal or a usage error; `ehkeys github JOB --help` says which"),
    ],
    "github plan": [
        ("0", "planned"),
        ("1", "the plan has errors, or an error"),
        ("130", "interrupted (Ctrl-C); the state is still stored"),
    ],
    "github comment": [("0", "posted or updated"), ("1", "no plan to post (one saying so is), or an error")],
    "github apply": [
        ("0", "the reviewed plan is applied"),
        ("3", "some changes failed, were skipped (moved since the review), or are unverified"),
        ("1", "no trusted reviewed plan, or the manifest changed since (a fresh plan is posted); an error"),
        ("130", "interrupted (Ctrl-C); the state is still stored"),
    ],
    "github drift": [
        ("0", "checked; the issue is opened, edited or closed"),
        ("1", "the check failed"),
        ("130", "interrupted (Ctrl-C); the state is still stored"),
    ],
}


def exit_codes(command: str) -> str:
    rows = EXIT_CODES[command]  # every command documents its codes: a missing row fails here
    return "exit codes:\n" + "\n".join(f"  {code:<5}{meaning}" for code, meaning in rows)
