"""One value to one sink, whatever its kind; what stops a sink before anything is sent."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from reconciler.core.secrets import ProxyKey, scrub
from reconciler.core.sinks import CommandSink, FileSink, GitHubSecretSink, Recipient, Sink, VaultSink
from reconciler.delivery import command, filesink, github, vault
from reconciler.delivery.errors import DeliveryError


async def deliver(
    sink: Sink, value: ProxyKey, recipient: Recipient, env: Mapping[str, str], hidden: Collection[str] = ()
) -> None:
    """Write `value` to `sink`; raises `DeliveryError` (its message never holds the value, nor a
    piece of it, nor a token or key its sink's path or words name: `scrub`).
    `env`: where tokens are read, and the command's environment less the `hidden` variables."""
    try:
        if isinstance(sink, FileSink):
            filesink.deliver(sink, value)
        elif isinstance(sink, CommandSink):
            await command.deliver(sink, value, recipient, env, hidden)
        elif isinstance(sink, GitHubSecretSink):
            await github.deliver(sink, value, env)
        else:
            await vault.deliver(sink, value, env)
    except DeliveryError as exc:  # a service may quote the value (a proxy echoing the request)
        shown = exc.message.replace(value.reveal(), value.display)
        raise DeliveryError(scrub(shown, [value.reveal()])) from None


def preflight(sink: Sink, env: Mapping[str, str]) -> str:
    """Why the sink cannot be written now ('' when nothing is known against it): a file git would
    track, a token or address not set, a command's program not there; a token or key in the
    sink's path or words hidden (`scrub`)."""
    if isinstance(sink, FileSink):
        return scrub(filesink.preflight(sink))
    if isinstance(sink, CommandSink):
        return scrub(command.preflight(sink, env))
    if isinstance(sink, GitHubSecretSink):
        return scrub(github.preflight(sink, env))
    return scrub(vault.preflight(sink, env))


async def refused(sinks: Sequence[Sink], env: Mapping[str, str]) -> dict[Sink, str]:
    """Why each sink's service refuses it now, asked before anything is sent ('' or absent when
    it does not): a GitHub token that may not write secrets (one request per repository or
    environment), a Vault token that may not write its path (one request for every path). A
    service that cannot be reached refuses nothing; files and commands ask nothing."""
    github_sinks = [sink for sink in sinks if isinstance(sink, GitHubSecretSink)]
    vault_sinks = [sink for sink in sinks if isinstance(sink, VaultSink)]
    hub = await github.writable(github_sinks, env) if github_sinks else {}
    kv = await vault.writable(vault_sinks, env) if vault_sinks else {}
    return {sink: scrub(why) for found in (hub, kv) for sink, why in found.items()}
