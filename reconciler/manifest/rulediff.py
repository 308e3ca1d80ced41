"""The rules of two manifests compared (a pull request's base and head): each account's policy
and budget in force (the top level's with the account's own in place; an account gone: its
rules removed) and its ceilings (`max_debit`, and the tier's `key_cap` and `per_key_cap`, the
top level's where the account sets none, as the loader resolves them; and each key's
`per_key_cap` in force where it differs otherwise than its account's: a file's own, in a folder
whose files each state one), each group's own, and
the exceptions of each key the head has (a key new in it: each of its exceptions is added). A
key that moves to another account or group (matched by its address without the account) is
judged by other rules: each rule in force for it that differs is a line of its own (one that
stays put: the account's and group's lines say it).

Only the rules: keys, accounts' other settings and where a rule is written do not count.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from reconciler.core.accounts import Account
from reconciler.core.keys import DesiredKey
from reconciler.core.policy import Budget, Group, KeyRules
from reconciler.core.rulechanges import (
    NEW,
    REMOVED,
    Change,
    ExceptionChange,
    cap_changes,
    rule_changes,
    whole,
    whole_caps,
)
from reconciler.manifest.load import Manifest
from reconciler.manifest.rules import DEFAULT_CAP

NEW_ACCOUNT, GONE_ACCOUNT = "(new account)", "(account removed)"
NEW_GROUP, GONE_GROUP = "(new group)", "(group removed)"
NO_GROUP = "(none)"
Place = tuple[str, str]  # a key's (account, address)


def changed_rules(base: Manifest, head: Manifest) -> tuple[Change, ...]:
    """Every difference of the rules, the accounts' first, then the groups', then the keys' that
    moved, then the exceptions."""
    pairs = _pairs(base, head)
    return (
        *_accounts(base, head),
        *_groups(base, head),
        *_moved(base, head, pairs),
        *_key_caps(base, head, pairs),
        *_exceptions(base, head, pairs),
    )


def _accounts(base: Manifest, head: Manifest) -> list[Change]:
    before = {a.name: a for a in base.accounts}
    found: list[Change] = []
    for account in head.accounts:
        whose = f"account {account.name}" if account.declared else ""
        old = before.get(account.name)
        if old is None:
            found += whole(account.policy, whose, NEW, NEW_ACCOUNT)
            found += whole(account.budget, whose, NEW, NEW_ACCOUNT)
            found += whole_caps(account, whose, NEW)
        else:
            found += [*_rules_of(old, account, whose), *cap_changes(old, account, whose, DEFAULT_CAP)]
    return found + _gone_accounts(base, head)


def _gone_accounts(base: Manifest, head: Manifest) -> list[Change]:
    """Each rule an account of the base states that the head no longer has (renamed or removed)."""
    kept = {a.name for a in head.accounts}
    found: list[Change] = []
    for old in (a for a in base.accounts if a.name not in kept):
        whose = f"account {old.name}" if old.declared else ""
        found += [
            *whole(old.policy, whose, REMOVED, GONE_ACCOUNT),
            *whole(old.budget, whose, REMOVED, GONE_ACCOUNT),
            *whole_caps(old, whose, REMOVED),
        ]
    return found


def _rules_of(old: Account | Group, new: Account | Group, whose: str) -> list[Change]:
    inherits = isinstance(new, Group)
    return [
        *rule_changes(old.policy, new.policy, whose, inherits),
        *rule_changes(old.budget, new.budget, whose, inherits),
    ]


def _groups(base: Manifest, head: Manifest) -> list[Change]:
    before, after = {g.name: g for g in base.groups}, {g.name: g for g in head.groups}
    found: list[Change] = []
    for name in [*after, *(n for n in before if n not in after)]:
        old, new, whose = before.get(name), after.get(name), f"group {name}"
        if old is not None and new is not None:
            found += _rules_of(old, new, whose)
        else:
            way, label, group = (NEW, NEW_GROUP, new) if new is not None else (REMOVED, GONE_GROUP, old)
            assert group is not None
            found += [*whole(group.policy, whose, way, label), *whole(group.budget, whose, way, label)]
    return found


def _pairs(base: Manifest, head: Manifest) -> dict[Place, DesiredKey]:
    """Each key of the head -> the same key on the base: at its place, else the base's key of
    its address at a place the head no longer has (in account order), else of its name (an id
    changed as the key moved: the plan binds the same live key by its name)."""
    before = {(k.account, k.address): k for k in base.keys}
    names = {(k.account, k.address): k.name for k in head.keys}
    after = sorted(names)
    left = [key for place, key in sorted(before.items()) if place not in after]
    found = {place: before[place] for place in after if place in before}
    _match(found, left, {p: p[1] for p in after}, lambda k: k.address)
    _match(found, left, names, lambda k: k.name)
    return found


def _match(
    found: dict[Place, DesiredKey],
    left: list[DesiredKey],
    wanted: dict[Place, str],
    by: Callable[[DesiredKey], str],
) -> None:
    """Each place not yet paired -> the first key left whose `by` is its wanted value."""
    for place in (p for p in wanted if p not in found):
        old = next((k for k in left if by(k) == wanted[place]), None)
        if old is not None:
            left.remove(old)
            found[place] = old


def _moved(base: Manifest, head: Manifest, pairs: dict[Place, DesiredKey]) -> list[Change]:
    """Each rule in force that differs for a key now in another account or group."""
    found: list[Change] = []
    for key in head.keys:
        old = pairs.get((key.account, key.address))
        if old is None or (old.account, old.group) == (key.account, key.group):
            continue
        whose = f"key {key.address}: {_move(old, key)}"
        before = base.rules.get((old.account, old.address), KeyRules()).policy
        after = head.rules.get((key.account, key.address), KeyRules()).policy
        found += rule_changes(before, after, whose)
        if _on_both(old.group, base, head) and _on_both(key.group, base, head):  # else listed new or gone
            found += rule_changes(_budget(base, old), _budget(head, key), whose)  # the totals it counts in
        if old.account != key.account:  # the ceilings of the account it is in
            found += cap_changes(base.account(old.account), head.account(key.account), whose, DEFAULT_CAP)
    return found


def _on_both(group: str | None, base: Manifest, head: Manifest) -> bool:
    return not group or all(any(g.name == group for g in m.groups) for m in (base, head))


def _budget(manifest: Manifest, key: DesiredKey) -> Budget:
    """The budget over a key's group (its account's, for a key in none), which it counts in."""
    group = next((g for g in manifest.groups if g.name == key.group), None) if key.group else None
    return group.budget if group is not None else manifest.account(key.account).budget


def _move(old: DesiredKey, new: DesiredKey) -> str:
    """`account prod -> staging`, `group strict -> loose`, or both."""
    said = [f"account {old.account} -> {new.account}"] if old.account != new.account else []
    if old.group != new.group:
        said.append(f"group {old.group or NO_GROUP} -> {new.group or NO_GROUP}")
    return ", ".join(said)


def _key_caps(base: Manifest, head: Manifest, pairs: dict[Place, DesiredKey]) -> list[Change]:
    """Each key of an account on both sides whose per_key_cap in force differs otherwise than its
    account's (a file's own, in a folder whose files disagree: the account has none to compare)."""
    found: list[Change] = []
    for at, old in sorted(pairs.items()):
        if old.account != at[0]:
            continue  # moved to another account: its ceilings are compared (`_moved`)
        before, after = (
            Account(per_key_cap=base.caps.get((old.account, old.address))),
            Account(per_key_cap=head.caps.get(at)),
        )
        accounts = (base.account(old.account), head.account(at[0]))
        if _in_force(before, after) != _in_force(*accounts):
            found += cap_changes(before, after, f"key {head.account(at[0]).address(at[1])}", DEFAULT_CAP)
    return found


def _in_force(*accounts: Account) -> tuple[Decimal, ...]:
    return tuple(DEFAULT_CAP if a.per_key_cap is None else a.per_key_cap for a in accounts)


def _exceptions(base: Manifest, head: Manifest, pairs: dict[Place, DesiredKey]) -> list[Change]:
    """Each key of the head: its exceptions against the same key's on the base (none when new)."""
    found: list[Change] = []
    for at in sorted({(k.account, k.address) for k in head.keys}):
        was = pairs.get(at)
        old, new = _waived(base, (was.account, was.address) if was else None), _waived(head, at)
        shown = head.account(at[0]).address(at[1])
        for rule in sorted(set(old) | set(new)):
            if old.get(rule) != new.get(rule):
                found.append(ExceptionChange(shown, rule, old.get(rule), new.get(rule)))
    return found


def _waived(manifest: Manifest, at: Place | None) -> dict[str, str]:
    ruled = manifest.rules.get(at) if at is not None else None
    return dict(ruled.waived) if ruled is not None else {}
