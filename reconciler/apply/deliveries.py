"""Delivery, the step after a create: a key's value written to each of its sinks, each on its
own (one failing never skips another), journalled (pending before the create is sent, done or
failed after; never the value), the failed ones owed until a later apply or `ehkeys deliver`
makes them, with the value read again from the account's list.

`Delivery` is the interface for whoever makes a key and must hand its value over (the apply's
creates, `ehkeys deliver`, a rotation's successor): `announce(key)` before the key is made, then
`await deliver(key, value)` once its value is known. `Owed` is one apply's use of it: the keys it
created, and the deliveries earlier runs left owed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from reconciler.core.accounts import DEFAULT_KEY_VAR, Account
from reconciler.core.changes import Action, Change
from reconciler.core.keys import DesiredKey
from reconciler.core.plan import Plan
from reconciler.core.secrets import ProxyKey, scrub
from reconciler.core.sinks import Delivered, DeliveryOutcome, FileSink, Recipient, Sink
from reconciler.delivery import send
from reconciler.delivery.errors import DeliveryError
from reconciler.manifest.addresses import variable
from reconciler.state.deliveries import DONE, DROPPED, FAILED, PENDING
from reconciler.state.store import State

log = logging.getLogger("ehkeys")
THROWAWAY = (
    "only to this job's runner, whose disk is thrown away when the job ends: a later step of the "
    "job must carry the file somewhere lasting, else deliver through github_secret, vault or a command"
)


def hidden(
    accounts: Collection[Account], env: Mapping[str, str] | None = None, secret_vars: Collection[str] = ()
) -> frozenset[str]:
    """The variables holding a secret, never in a command sink's environment: the account keys
    the accounts name, the variables the manifest's `proxy_key:` fields read (`secret_vars`), and
    any other holding the same value as one of them (`export OPENAI_API_KEY=$EH_PROD_API_KEY`)
    in `env` (default: this process's). `command.environment` leaves out more: EHKEYS_* (so
    EHKEYS_PROXY_KEYS), and any variable holding a proxy key."""
    env = os.environ if env is None else env
    named = {DEFAULT_KEY_VAR, *(a.key_var for a in accounts if a.key_var), *secret_vars}
    keys = {env[name] for name in named if env.get(name)}
    return frozenset(named | {name for name, value in env.items() if value in keys})


@dataclass(frozen=True)
class Delivery:
    """How one account's keys are delivered: its state (where each delivery is journalled), the
    account (addresses as shown), the environment the sinks read their tokens from, and the
    variables a command sink never sees (`hidden`)."""

    state: State
    account: Account
    env: Mapping[str, str]
    hidden: frozenset[str] = frozenset()
    throwaway_runner: bool = False  # the sinks run on a runner thrown away with its job (GitOps)

    def announce(self, key: DesiredKey) -> None:
        """Before the key is made: each of its sinks owed, so a run killed between the create
        and the delivery delivers on the next one."""
        for sink in key.deliver:
            self.state.delivery(key.address, sink.ident, PENDING)

    async def deliver(
        self, key: DesiredKey, value: ProxyKey, sinks: Sequence[Sink] | None = None
    ) -> DeliveryOutcome:
        """`value`, the key's current one, to each of `sinks` (default: all the key's), each on its
        own; each done or failed is journalled, the failed ones stay owed."""
        shown = self.account.address(key.address)
        recipient = Recipient(shown, key.name, self.account.name, variable(shown))
        results = [
            await self._one(key, sink, value, recipient) for sink in (key.deliver if sinks is None else sinks)
        ]
        return DeliveryOutcome(shown, tuple(results))

    async def _one(self, key: DesiredKey, sink: Sink, value: ProxyKey, recipient: Recipient) -> Delivered:
        self.state.delivery(key.address, sink.ident, PENDING)
        try:
            await send.deliver(sink, value, recipient, self.env, self.hidden)
        except DeliveryError as exc:
            return self._failed(key, sink, value, recipient, exc.message)
        except Exception as exc:  # a sink's own bug: the others go on, and this one is owed
            log.debug("delivery to %s failed", sink.describe(), exc_info=True)
            return self._failed(key, sink, value, recipient, f"internal error: {type(exc).__name__}: {exc}")
        self.state.delivery(key.address, sink.ident, DONE)
        lasting = not (self.throwaway_runner and isinstance(sink, FileSink))
        return Delivered(recipient.address, sink.describe(), True, warning="" if lasting else THROWAWAY)

    def _failed(
        self, key: DesiredKey, sink: Sink, value: ProxyKey, recipient: Recipient, why: str
    ) -> Delivered:
        message = scrub(why.replace(value.reveal(), value.display), [value.reveal()])
        self.state.delivery(key.address, sink.ident, FAILED, message)
        return Delivered(recipient.address, sink.describe(), False, message)

    def preflight(self, keys: Sequence[DesiredKey]) -> list[str]:
        """What stops these keys' sinks before anything is sent (a file git would track, a token
        not set, a command not there), each said once, at the key's FILE:LINE."""
        found = [(key, send.preflight(sink, self.env)) for key in keys for sink in key.deliver]
        return self._said(found)

    async def refused(self, keys: Sequence[DesiredKey]) -> list[str]:
        """What these keys' sinks' services refuse, asked before anything is sent (a GitHub
        token that may not write secrets, a Vault token that may not write its path), each
        said once, at the key's FILE:LINE."""
        refusals = await send.refused([sink for key in keys for sink in key.deliver], self.env)
        return self._said([(key, refusals.get(sink, "")) for key in keys for sink in key.deliver])

    def _said(self, found: Sequence[tuple[DesiredKey, str]]) -> list[str]:
        said = (f"{key.location}: {self.account.address(key.address)}: {why}" for key, why in found if why)
        return list(dict.fromkeys(said))


@dataclass
class Owed:
    """One apply's deliveries: the keys it creates (their values as the creates answer), and
    what earlier runs left owed (values from the plan's list)."""

    delivery: Delivery
    keys: Sequence[DesiredKey]
    values: dict[str, ProxyKey] = field(default_factory=dict)  # address -> created now
    tried: set[str] = field(default_factory=set)  # addresses this apply delivered already
    made: list[Delivered] = field(default_factory=list)  # every delivery so far, as each key's ends

    def announce(self, changes: Sequence[Change]) -> None:
        by_address = {k.address: k for k in self.keys}
        for change in changes:
            key = by_address.get(change.address)
            if change.action in (Action.CREATE, Action.ROTATE) and key is not None:
                self.delivery.announce(key)  # a rotation's successor is delivered as a created key

    def created(self, change: Change, value: ProxyKey) -> None:
        self.values[change.address] = value

    async def run(self, plan: Plan) -> list[Delivered]:
        """Every delivery this apply makes, in the manifest's order."""
        done: list[Delivered] = []
        for key in (k for k in self.keys if k.address not in self.tried):  # run again: the keys made since
            value, sinks = self._due(key, plan)
            if value is not None and sinks:
                self.tried.add(key.address)
                results = (await self.delivery.deliver(key, value, sinks)).results
                done.extend(results)
                self.made.extend(results)  # known so far, should the run stop before the next
        for address in set(self.delivery.state.deliveries) - {k.address for k in self.keys}:
            self._drop(address, list(self.delivery.state.deliveries.get(address, {})))
        return done

    def _due(self, key: DesiredKey, plan: Plan) -> tuple[ProxyKey | None, list[Sink]]:
        """What to deliver of this key: all its sinks once created now; else those owed, with the
        value the plan read (none when its key does not exist, or is deleted: those dropped)."""
        if key.address in self.values:
            return self.values[key.address], list(key.deliver)
        owed = self.delivery.state.deliveries.get(key.address, {})
        change = plan.change(key.address)
        if not owed or change is None:
            return None, []  # nothing owed, or not in this run (--target)
        if key.absent or change.action is Action.DELETE:
            self._drop(key.address, list(owed))
            return None, []
        if change.action is Action.ROTATE:  # its successor not known (its create failed or was
            return None, []  # lost): the value the plan read is the old key's, soon retired
        self._drop(key.address, [s for s in owed if s not in {sink.ident for sink in key.deliver}])
        return change.target, [s for s in key.deliver if s.ident in owed]

    def _drop(self, address: str, idents: Sequence[str]) -> None:
        for ident in idents:
            self.delivery.state.delivery(address, ident, DROPPED, "the key or the sink left the manifest")
