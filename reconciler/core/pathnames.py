"""Names from the file system that are not UTF-8: told apart, and shown.

Linux allows any bytes in a name; Python hands over one that is not UTF-8 as text holding a
lone surrogate for each byte that is not (`os.fsdecode`). ehkeys keeps paths in saved plans,
states, reports and on GitHub, which all spell names in UTF-8, so such a name is refused where
it comes in (`REASON` says why): a manifest's files, folders and the links it follows
(`manifest.sources`), a path given on the command line (`cli.optiontypes.path`), where a state
is kept (`state.paths`) and a GitOps root (`gitops.roots`). Each refusal shows the name with
each such byte as `\\xNN` (`keys/caf\\xe9/a.yaml`).
"""

from __future__ import annotations

from reconciler.core.printable import printable

REASON = "ehkeys keeps paths in plans, state and GitHub, which spell names in UTF-8"


def undecodable(name: str) -> bool:
    """Whether `name` (a path as the file system gave it) is not UTF-8."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def shown(name: str) -> str:
    """`name` safe to print: each byte that is not UTF-8 as `\\xNN`, as the shell's `$'\\xNN'`
    writes it, and what else is unprintable escaped as `printable` does."""
    if not undecodable(name):
        return printable(name)
    return printable("".join(f"\\x{ord(c) - 0xDC00:02x}" if "\udc80" <= c <= "\udcff" else c for c in name))


def quoted(text: str) -> str:
    """`text` quoted in a message: as `repr` quotes it, but bytes that are not UTF-8 as `\\xNN`,
    never as Python's `\\udcNN` for them."""
    return f"'{shown(text)}'" if undecodable(text) else repr(text)


def refusal(what: str = "the name", do: str = "rename it") -> str:
    """Why a name is refused (`what` is not UTF-8), and what to `do`."""
    return f"{what} is not UTF-8: {do}: {REASON}"
