"""Several accounts' drift: a section per account, in text, Markdown (the drift issue) and
JSON. A manifest without `accounts:` has one report, rendered as it always was
(`render.drift`); its JSON keeps format 1. With accounts, JSON is format 2: `accounts` maps
each account's name to its format-1 report, and the Markdown's digest covers every account."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from reconciler.core.accounts import Account
from reconciler.drift.report import DriftReport
from reconciler.render import drift as one
from reconciler.render import drift_words as words
from reconciler.render.plan import DRIFT_MARKER
from reconciler.render.plan import escape as md
from reconciler.render.plans import accounts

FORMAT_VERSION = 2  # with accounts: a format-1 report per account
Reports = Sequence[tuple[Account, DriftReport]]


def _single(reports: Reports) -> DriftReport | None:
    if len(reports) == 1 and not reports[0][0].declared:
        return reports[0][1]
    return None


def headline(reports: Reports) -> str:
    drifted = [a.name for a, r in reports if r.drifted or r.errors]
    counted = accounts(len(reports))
    if not drifted:
        return f"In sync: every account's keys match the manifest ({counted})."
    return f"Drift or errors in {len(drifted)} of {counted}: {', '.join(drifted)}."


def digest(reports: Reports) -> str:
    text = json.dumps({a.name: words.digest(r) for a, r in reports}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def text(reports: Reports, stream: TextIO) -> None:
    if (only := _single(reports)) is not None:
        one.text(only, stream)
        return
    for at, (account, found) in enumerate(reports):
        stream.write(("\n" if at else "") + f"=== Account {account.name} ===\n")
        one.text(found, stream)
    if len(reports) > 1:  # one account's own headline is the total: said once
        stream.write("\n" + headline(reports) + "\n")


def markdown(reports: Reports, stream: TextIO) -> None:
    if (only := _single(reports)) is not None:
        one.markdown(only, stream)
        return
    stream.write(f"{DRIFT_MARKER}\n### ehkeys drift: {md(headline(reports))}\n")
    stream.write(one.DIGEST.format(digest(reports)) + "\n\n")
    for account, found in reports:
        stream.write(f"#### Account {md(account.name)}: {md(words.headline(found))}\n\n")
        one.markdown_body(found, stream)


def data(reports: Reports) -> dict[str, Any]:
    if (only := _single(reports)) is not None:
        return one.data(only)
    return {
        "format_version": FORMAT_VERSION,
        "in_sync": not any(r.drifted or r.errors for _, r in reports),
        "headline": headline(reports),
        "digest": digest(reports),
        "accounts": {a.name: one.data(r) for a, r in reports},
    }


def as_json(reports: Reports, stream: TextIO) -> None:
    stream.write(json.dumps(data(reports), indent=2, ensure_ascii=False) + "\n")


RENDERERS: dict[str, Callable[[Reports, TextIO], None]] = {
    "text": text,
    "markdown": markdown,
    "json": as_json,
}
