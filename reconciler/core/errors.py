"""The errors ehkeys reports to a user. The CLI turns each into a message and an exit code."""

from __future__ import annotations

from reconciler.core.exitcodes import ExitCode


class EhkeysError(Exception):
    """Base of every error the CLI prints as a message rather than a traceback."""

    exit_code = ExitCode.ERROR


class UsageError(EhkeysError):
    """A command-line option or environment setting is wrong."""


class ConfigError(EhkeysError):
    """The API key, base URL or another setting cannot be used."""


class StateError(EhkeysError):
    """The state file or a saved plan cannot be read or does not fit."""


class Refused(EhkeysError):
    """Apply refused up front (a money guard, a stale plan, no approval): nothing was sent."""


class StalePlan(Refused):
    """A saved plan made from another version of the manifest: plan again (nothing was sent)."""
