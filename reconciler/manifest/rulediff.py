"""The rules of two manifests compared (a pull request's base and head): each account's policy
and budget in force (the top level's with the account's own in place), each group's own, and
the exceptions of each key the head has (a key new in it: each of its exceptions is added).

Only the rules: keys, accounts' other settings and where a rule is written do not count.
"""

from __future__ import annotations

from reconciler.core.accounts import Account
from reconciler.core.policy import Group
from reconciler.core.rulechanges import NEW, REMOVED, Change, ExceptionChange, rule_changes, whole
from reconciler.manifest.load import Manifest

NEW_ACCOUNT, NEW_GROUP, GONE_GROUP = "(new account)", "(new group)", "(group removed)"


def changed_rules(base: Manifest, head: Manifest) -> tuple[Change, ...]:
    """Every difference of the rules, the accounts' first, then the groups', then the exceptions."""
    return (*_accounts(base, head), *_groups(base, head), *_exceptions(base, head))


def _accounts(base: Manifest, head: Manifest) -> list[Change]:
    before = {a.name: a for a in base.accounts}
    found: list[Change] = []
    for account in head.accounts:
        whose = f"account {account.name}" if account.declared else ""
        old = before.get(account.name)
        if old is None:
            found += whole(account.policy, whose, NEW, NEW_ACCOUNT)
            found += whole(account.budget, whose, NEW, NEW_ACCOUNT)
        else:
            found += _rules_of(old, account, whose)
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


def _exceptions(base: Manifest, head: Manifest) -> list[Change]:
    """Each key of the head: its exceptions against the same key's on the base (none when new)."""
    keys = {(k.account, k.address) for k in head.keys}
    found: list[Change] = []
    for at in sorted(keys & (set(base.rules) | set(head.rules))):
        old, new = _waived(base, at), _waived(head, at)
        shown = head.account(at[0]).address(at[1])
        for rule in sorted(set(old) | set(new)):
            if old.get(rule) != new.get(rule):
                found.append(ExceptionChange(shown, rule, old.get(rule), new.get(rule)))
    return found


def _waived(manifest: Manifest, at: tuple[str, str]) -> dict[str, str]:
    ruled = manifest.rules.get(at)
    return dict(ruled.waived) if ruled is not None else {}
