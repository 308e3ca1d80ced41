"""The exit codes: every command returns one of these, and its --help documents them
(`cli/exitcodes.py` builds those tables from these members, so no other code can be listed)."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0  # done: planned, applied, in sync, shown (health warnings allowed)
    ERROR = 1  # an error, a refusal before sending, or a usage error (1 as Terraform's, never 2)
    CHANGES = 2  # plan --detailed-exitcode: there are changes to apply
    DRIFT = 2  # drift: the account drifted (the same number as CHANGES)
    INCOMPLETE = 3  # apply: some changes failed, were skipped, not planned or are unverified
    POLICY = 4  # plan: the plan breaks the manifest's policy or budget (apply refuses it: 1)
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)
