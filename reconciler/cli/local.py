"""The commands that need no API: `validate` (offline, a pre-commit hook: it starts without
the HTTP stack) and `sandbox` (serves the local stand-in)."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

from reconciler.core.errors import UsageError
from reconciler.manifest import diagnostics
from reconciler.manifest import load as manifest

if TYPE_CHECKING:
    from reconciler.sandbox.seed import BadSetting

log = logging.getLogger("ehkeys")


def validate(args: argparse.Namespace) -> int:
    result = manifest.load(args.manifests, offline=True)
    found = [d for d in result.diagnostics if args.strict or d.severity != diagnostics.NOTICE]
    if args.strict:  # warnings fail; notices (a variable only CI sets) are shown, never fail
        found = [
            replace(d, severity=diagnostics.ERROR) if d.severity == diagnostics.WARNING else d for d in found
        ]
    diagnostics.render(found, args.format, sys.stdout)
    errors = sum(d.is_error for d in found)
    if args.format == "text":
        count = len(result.manifest.keys) if result.manifest else 0
        warnings = sum(d.severity == diagnostics.WARNING for d in found)
        summary = (
            f"{warnings} warning(s); {count} key(s) valid"
            if not errors
            else f"{errors} error(s), {warnings} warning(s)"
        )
        print(summary, file=sys.stderr)
    return 1 if errors else 0


def sandbox(args: argparse.Namespace) -> int:

    from reconciler import sandbox as sb

    seed = sb.seeds.load(args.seed)
    try:
        faults = replace(
            seed.faults,
            **{k: v for k, v in vars(args).items() if k in FAULT_FLAGS and v is not None},
        )
        rate = seed.rate_limit
        if args.rate_limit:
            requests, _, window = args.rate_limit.partition("/")
            rate = replace(rate, requests=int(requests), window_s=float(window or 60))
        if args.cooldown is not None:
            rate = replace(rate, cooldown_s=args.cooldown)
        if args.list_unavailable:
            faults = replace(faults, list_unavailable=True)
    except sb.seeds.BadSetting as exc:
        raise _setting_error(exc, args) from None
    except ValueError:
        raise UsageError(f"--rate-limit {args.rate_limit!r}: expected N or N/SECONDS, like 20/2") from None
    sock = sb.listen(args.host, args.port)  # a port in use fails before the --db file is made
    box = sb.Sandbox.open(args.db, seed, rate=rate, faults=faults)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("the sandbox is reachable beyond this machine on %s", args.host)
    sb.serve(box, sock)
    return 0


def _setting_error(exc: BadSetting, args: argparse.Namespace) -> UsageError:
    """A sandbox setting out of range, in terms of the flag that set it."""
    if exc.section == "rate_limit" and exc.field != "cooldown_s":
        return UsageError(f"--rate-limit {args.rate_limit!r}: {exc.rule}")
    if exc.field == "*_rate":
        return UsageError(f"the fault rates add up to {exc.value:g}: expected at most 1 in all")
    flag = "--cooldown" if exc.field == "cooldown_s" else "--" + exc.field.replace("_", "-")
    return UsageError(f"{flag} {exc.value:g}: {exc.rule}")


FAULT_FLAGS = {  # the seed's `faults:` a flag can set, and what each does
    "latency_ms": "milliseconds added before every answer",
    "jitter_ms": "up to this many milliseconds more, at random",
    "error_rate": "share of requests answered 500",
    "rate_limited_rate": "share of requests answered 429",
    "drop_rate": "share of connections dropped after the update is done",
    "html_rate": "share of requests answered with an edge challenge page",
}
