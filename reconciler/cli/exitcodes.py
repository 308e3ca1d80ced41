"""The exit codes each command documents in its --help (and the tables of README.md and
docs/commands.md): each row is an `ExitCode` member and what it means for that command."""

from __future__ import annotations

from reconciler.core.exitcodes import ExitCode

OK, ERROR, CHANGES, INCOMPLETE, POLICY, INTERRUPTED = (
    ExitCode.OK,
    ExitCode.ERROR,
    ExitCode.CHANGES,
    ExitCode.INCOMPLETE,
    ExitCode.POLICY,
    ExitCode.INTERRUPTED,
)
DETAILED_EXITCODE = (
    f"exit {OK.value} no changes, {CHANGES.value} changes, {POLICY.value} the policy or a budget "
    f"broken, {ERROR.value} errors (see exit codes below)"
)
"""What an option says of the codes: made from the members, as the tables are."""
BROKEN = "the plan breaks the manifest's policy or budget (its Policy section says which); apply refuses it"
Rows = tuple[tuple[ExitCode, str], ...]

MEANINGS: dict[str, Rows] = {
    "validate": (
        (OK, "valid (warnings allowed, unless --strict)"),
        (ERROR, "errors (a key breaking the policy included), or a usage error"),
    ),
    "schema": (
        (OK, "the schema is printed, or written with --out (or there already)"),
        (
            ERROR,
            "--out refused (nothing written): an edit of the schema, another file, a place "
            "ehkeys keeps a file; or a usage error",
        ),
    ),
    "plan": (
        (OK, "planned (with --detailed-exitcode: nothing to change)"),
        (CHANGES, "with --detailed-exitcode only: there are changes to apply"),
        (POLICY, BROKEN),
        (ERROR, "an error: a key in error, the API, the manifest, or a usage error"),
        (INTERRUPTED, "interrupted (Ctrl-C)"),
    ),
    "drift": (
        (OK, "in sync (health warnings allowed: expiring keys, high usage, low balance)"),
        (
            ExitCode.DRIFT,
            "drift: changed outside ehkeys, not applied yet, unmanaged keys, or values never applied",
        ),
        (ERROR, "an error: a key in error, the API, the manifest, or a usage error"),
        (INTERRUPTED, "interrupted (Ctrl-C)"),
    ),
    "usage": (
        (OK, "shown"),
        (ERROR, "an error: an account that cannot be read, the API, the manifest, or a usage error"),
        (INTERRUPTED, "interrupted (Ctrl-C)"),
    ),
    "apply": (
        (OK, "applied, or nothing to apply"),
        (
            INCOMPLETE,
            "some changes failed, were skipped (changed since the saved plan), were not planned (a key "
            "the plan shows in error: the others applied, nothing sent for it), or are unverified; "
            "or another run created a key of the same name at the same time",
        ),
        (
            ERROR,
            "refused before sending (a money guard, the policy or a budget broken, a stale plan, a "
            "digest that differs, no approval, another apply holding the state), an error, or a usage error",
        ),
        (INTERRUPTED, "interrupted (Ctrl-C): writes in flight are named; run plan to see where they landed"),
    ),
    "rotate": (
        (OK, "rotated (with an overlap of 0, the old keys deleted too)"),
        (INCOMPLETE, "a successor or a retirement failed or was skipped (not delivered: the old key stays)"),
        (
            ERROR,
            "refused before sending (a money guard, no approval, a rotation under way), an error, "
            "or a usage error",
        ),
        (INTERRUPTED, "interrupted (Ctrl-C): writes in flight are named; run plan to see where they landed"),
    ),
    "show": (
        (OK, "the saved plan is shown"),
        (ERROR, "the file cannot be read, is not a saved plan, or would apply what it does not show"),
    ),
    "import": (
        (OK, "the manifest is printed, or written with --out"),
        (ERROR, "an error, or a usage error"),
        (INTERRUPTED, "interrupted (Ctrl-C)"),
    ),
    "reveal": (
        (OK, "the values are shown or written"),
        (ERROR, "an error, or a usage error"),
        (INTERRUPTED, "interrupted (Ctrl-C)"),
    ),
    "deliver": (
        (OK, "every value delivered to every sink"),
        (
            INCOMPLETE,
            "a delivery failed (each failed sink is named; the next apply or deliver tries it again)",
        ),
        (ERROR, "an error (another apply holding the state among them), or a usage error"),
        (INTERRUPTED, "interrupted (Ctrl-C)"),
    ),
    "sandbox": (
        (OK, "stopped with Ctrl-C"),
        (ERROR, "a bad setting, a port in use or not allowed, or a usage error"),
    ),
    "github": (
        (OK, "the job did its work (drift too when it finds drift: the issue says so)"),
        (INCOMPLETE, "apply: some changes failed, were skipped, not planned or are unverified"),
        (POLICY, "plan: " + BROKEN),
        (ERROR, "an error, a refusal or a usage error; `ehkeys github JOB --help` says which"),
    ),
    "github plan": (
        (OK, "planned"),
        (POLICY, BROKEN + " (the comment is still posted)"),
        (ERROR, "the plan has errors, or an error"),
        (INTERRUPTED, "interrupted (Ctrl-C); the state is still stored"),
    ),
    "github comment": ((OK, "posted or updated"), (ERROR, "no plan to post (one saying so is), or an error")),
    "github apply": (
        (OK, "the reviewed plan is applied"),
        (
            INCOMPLETE,
            "some changes failed, were skipped (moved since the review), not planned, or are unverified",
        ),
        (ERROR, "no trusted reviewed plan, or the manifest changed since (a fresh plan is posted); an error"),
        (INTERRUPTED, "interrupted (Ctrl-C); the state is still stored"),
    ),
    "github rotate": (
        (OK, "due rotations and retirements applied, or none due; with --now, the --target keys rotated"),
        (INCOMPLETE, "a rotation or a retirement failed or was skipped (the drift issue says which)"),
        (
            ERROR,
            "refused (a money guard, the policy, a rotation under way), or an error; the drift issue "
            "is told; a --target that --now cannot rotate (unknown, shared, absent, pinned, an --overlap "
            "not shorter than its rotate.every) is refused before the state is read, in the job "
            "summary only",
        ),
        (
            INTERRUPTED,
            "interrupted (Ctrl-C, or the run cancelled: SIGTERM, SIGHUP); the state is still stored",
        ),
    ),
    "github deliver": (
        (OK, "every value delivered to every sink"),
        (INCOMPLETE, "a delivery failed (each failed sink is named; still owed, delivered by the next try)"),
        (ERROR, "an error (another apply holding the state among them); the job summary says why"),
        (INTERRUPTED, "interrupted (Ctrl-C); the state is still stored"),
    ),
    "github drift": (
        (OK, "checked; the issue is opened, edited or closed"),
        (ERROR, "the check failed"),
        (INTERRUPTED, "interrupted (Ctrl-C); the state is still stored"),
    ),
}

EXIT_CODES = {
    command: [(str(code.value), meaning) for code, meaning in rows] for command, rows in MEANINGS.items()
}  # as --help lists them: the number, then the meaning


def exit_codes(command: str) -> str:
    """The epilog of `command`'s --help (every command documents its codes: a missing one fails here)."""
    rows = EXIT_CODES[command]
    return "exit codes:\n" + "\n".join(f"  {code:<5}{meaning}" for code, meaning in rows)
