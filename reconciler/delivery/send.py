"""One value to one sink, whatever its kind; what stops a sink before anything is sent."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from reconciler.core.secrets import ProxyKey
from reconciler.core.sinks import CommandSink, FileSink, GitHubSecretSink, Recipient, Sink
from reconciler.delivery import command, filesink, github, vault


async def deliver(
    sink: Sink, value: ProxyKey, recipient: Recipient, env: Mapping[str, str], hidden: Collection[str] = ()
) -> None:
    """Write `value` to `sink`; raises `DeliveryError` (its message never holds the value).
    `env`: where tokens are read, and the command's environment less the `hidden` variables."""
    if isinstance(sink, FileSink):
        filesink.deliver(sink, value)
    elif isinstance(sink, CommandSink):
        await command.deliver(sink, value, recipient, env, hidden)
    elif isinstance(sink, GitHubSecretSink):
        await github.deliver(sink, value, env)
    else:
        await vault.deliver(sink, value, env)


def preflight(sink: Sink, env: Mapping[str, str]) -> str:
    """Why the sink cannot be written now ('' when nothing is known against it): a file git would
    track, a token or address not set, a command's program not there."""
    if isinstance(sink, FileSink):
        return filesink.preflight(sink)
    if isinstance(sink, CommandSink):
        return command.preflight(sink, env)
    if isinstance(sink, GitHubSecretSink):
        return github.preflight(sink, env)
    return vault.preflight(sink, env)
