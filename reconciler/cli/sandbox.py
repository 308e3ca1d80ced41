"""`ehkeys sandbox`: serve the local stand-in of the ElectronHub API, its seed's settings
overridden by the flags."""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace

from reconciler import sandbox as sb
from reconciler.cli.optiongroups import FAULT_FLAGS
from reconciler.core.errors import UsageError
from reconciler.core.exitcodes import ExitCode
from reconciler.sandbox.seed import BadSetting, Faults, RateLimit, Seed

log = logging.getLogger("ehkeys")


def run(args: argparse.Namespace) -> ExitCode:
    seed = sb.seeds.load(args.seed)
    try:
        faults, rate = _faults(seed, args), _rate(seed, args)
    except BadSetting as exc:
        raise _setting_error(exc, args) from None
    except ValueError:
        raise UsageError(f"--rate-limit {args.rate_limit!r}: expected N or N/SECONDS, like 20/2") from None
    sock = sb.listen(args.host, args.port)  # a port in use fails before the --db file is made
    box = sb.Sandbox.open(args.db, seed, rate=rate, faults=faults)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("the sandbox is reachable beyond this machine on %s", args.host)
    exports = [(var, box.api_key_for(name)) for name, var in args.account]
    # the seed's keys' variables (`${EH_SUPPORT_KEY}` in keys.example.yaml), as a --sandbox run
    # reads them: a served sandbox's client reads only its environment
    exports += [(var, key) for var, key in sorted(seed.variables.items()) if box.store.key(key)]
    sb.serve(box, sock, exports=exports)
    return ExitCode.OK


def _faults(seed: Seed, args: argparse.Namespace) -> Faults:
    given = {k: v for k, v in vars(args).items() if k in FAULT_FLAGS and v is not None}
    faults = replace(seed.faults, **given)
    return replace(faults, list_unavailable=True) if args.list_unavailable else faults


def _rate(seed: Seed, args: argparse.Namespace) -> RateLimit:
    rate = seed.rate_limit
    if args.rate_limit:
        requests, _, window = args.rate_limit.partition("/")
        rate = replace(rate, requests=int(requests), window_s=float(window or 60))
    if args.cooldown is not None:
        rate = replace(rate, cooldown_s=args.cooldown)
    return rate


def _setting_error(exc: BadSetting, args: argparse.Namespace) -> UsageError:
    """A sandbox setting out of range, in terms of the flag that set it."""
    if exc.section == "rate_limit" and exc.field != "cooldown_s":
        return UsageError(f"--rate-limit {args.rate_limit!r}: {exc.rule}")
    if exc.field == "*_rate":
        return UsageError(f"the fault rates add up to {exc.value:g}: expected at most 1 in all")
    flag = "--cooldown" if exc.field == "cooldown_s" else "--" + exc.field.replace("_", "-")
    return UsageError(f"{flag} {exc.value:g}: {exc.rule}")
