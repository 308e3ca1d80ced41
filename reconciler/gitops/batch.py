"""What the pull requests one push merged (`pushed`) come to for one manifest root.

- None of them touches the root, and the push changes none of its files: nothing to apply (green;
  when its first-parent line cannot be followed, whether a PR's change was undone on the way is
  said to be unread: `Push.unread`).
- The push changes none of the root's files, but some of its PRs do (a later one, or a later
  commit, changed it back: `Push.undone`): nothing to apply (green), and each of those PRs is
  told why its reviewed plan was not applied.
- One touches it: its reviewed plan is applied, checked as ever (its manifest must be the one
  merged: a later commit of the push that changed the root makes it stale, "plan again"). The
  PRs that leave the root alone are named in the job summary.
- Several touch it: none is applied, and the job fails. Each plan was made on a base without
  the others' changes, so the manifest merged is none of theirs: the first would have to be
  applied to a manifest the job does not have (its checkout is the push's last commit), and
  every later one is always stale. Each of them is told, with a fresh plan of the merged root.
- The push changes the root but no PR it merged does (a commit pushed directly, a merge's own
  edit), or may (more files than compare lists, its steps' too: `pushed.steps`): no plan of that
  change was reviewed, nothing is applied, and the job fails.
- A push whose merges cannot be told (`pushed.Unreadable`) is refused the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from reconciler.gitops import pushed
from reconciler.gitops.context import RunContext
from reconciler.gitops.hub import GitHub, GitHubError, pick
from reconciler.gitops.pushed import FRESH, MAX_FILES, NOTHING_SENT, Pull, Push, Unreadable
from reconciler.gitops.roots import Root, untouched

CALL = "GET /commits/SHA/pulls"


@dataclass(frozen=True)
class Verdict:
    """`pull`: the one PR whose reviewed plan is applied; `told`: the PRs told what the job did;
    `refusal`: why nothing is applied (the job fails); `nothing`: why there is nothing to apply
    (it passes); `note`: what came of each PR of the push, when it merged more than one;
    `undone`: each PR whose change the push undid, and what it is told (with `nothing`)."""

    pull: Pull | None = None
    told: tuple[int, ...] = ()
    refusal: str = ""
    nothing: str = ""
    note: tuple[str, ...] = ()
    undone: tuple[tuple[int, str], ...] = ()


def number(pull: Pull) -> int:
    found: int = pick(pull, CALL, "number", kind=int)
    return found


def judge(hub: GitHub, ctx: RunContext, root: Root, when_modified: Sequence[str]) -> Verdict:
    """The verdict on this root of the push `ctx` is for."""
    try:
        push = pushed.read(hub, ctx, lambda files: root.touched(files, when_modified))
    except Unreadable as exc:
        return Verdict(refusal=str(exc))
    where = root.name or "the manifest"
    if push.files is not None and not root.touched(push.files, when_modified):
        return (
            _undone(hub, push, root, when_modified)
            if push.undone
            else Verdict(nothing=_untouched(push, where))
        )
    whys = {number(p): untouched(hub, root, number(p), when_modified) for p in push.merged}
    touching = tuple(p for p in push.merged if whys[number(p)] is None)
    if len(touching) == 1:
        return Verdict(touching[0], (number(touching[0]),), note=_note(push, whys, where, applied=True))
    if touching:
        told = tuple(number(p) for p in touching)
        return Verdict(told=told, refusal=_several(touching, where), note=_note(push, whys, where))
    return replace(_unreviewed(push, whys, where), note=_note(push, whys, where))


def _untouched(push: Push, where: str) -> str:
    commits = f"{push.commits} commit(s), {len(push.files or ())} changed file(s) elsewhere"
    said = f"this push ({commits}) changes no file of {where}: nothing to apply for it"
    if push.unread:  # whether a PR's change was undone on the way: said unread, never guessed
        said += (
            f"; whether a pull request of it changed {where} and a later commit changed it back was not "
            f"read ({push.unread}), so no such pull request is told that its reviewed plan was not applied"
        )
    return said


def _undone(hub: GitHub, push: Push, root: Root, when_modified: Sequence[str]) -> Verdict:
    """A push that leaves the root as it was, though PRs of it changed it: nothing to apply, and
    each of those PRs told why its reviewed plan was not applied."""
    where = root.name or "the manifest"
    try:
        whys = {number(p): untouched(hub, root, number(p), when_modified) for p in push.merged}
    except GitHubError as exc:  # nothing to apply all the same: the PRs are said untold, never red
        return Verdict(nothing=_untouched(replace(push, unread=str(exc)), where))
    changed = tuple(n for n, why in whys.items() if why is None)
    nothing = _untouched(push, where)
    if changed:
        nothing += f" ({_named(changed)} changed it, and this same push changed it back)"
    said = tuple((n, _undone_why(n, changed, push.loose, where)) for n in changed)
    note = tuple(
        line.replace("not applied (below)", "undone in this push, not applied")
        for line in _note(push, whys, where)
    )
    return Verdict(told=changed, nothing=nothing, note=note, undone=said)


def _undone_why(n: int, changed: tuple[int, ...], loose: tuple[str, ...], where: str) -> str:
    """What PR #n is told: who undid its change to the root (or whose it undid)."""
    at = changed.index(n)
    later, earlier = changed[at + 1 :], changed[:at]
    if earlier and not later:
        how = f"PR #{n} undid what {_named(earlier)} changed in {where} earlier in this push"
    else:
        by = f"later in this push ({_named(later)} changed it too)" if later else "in this push by "
        if not later:
            commits = ", ".join(sha[:12] for sha in loose)
            by += f"commit(s) {commits}, not merged from a pull request" if loose else "a merge's own edit"
        how = f"PR #{n}'s change to {where} was undone {by}"
    return (
        f"{how}: the push as a whole changes no file of {where}, so there is nothing to apply and "
        f"PR #{n}'s reviewed plan was not applied; nothing was sent"
    )


def _named(numbers: tuple[int, ...]) -> str:
    return ", ".join(f"PR #{n}" for n in numbers)


def _several(touching: tuple[Pull, ...], where: str) -> str:
    named = _named(tuple(number(p) for p in touching))
    return (
        f"this push merged {len(touching)} pull requests that change {where}: {named} (in merge order). "
        "Each one's plan was made without the others' changes, so the manifest merged is none of theirs "
        f"and no reviewed plan is applied; nothing was sent. {FRESH}; to have each change applied as "
        "reviewed, let the merge queue merge one pull request at a time"
    )


def _unreviewed(push: Push, whys: dict[int, str | None], where: str) -> Verdict:
    """No PR of the push touches the root: nothing to apply, unless the push changes it all the
    same (or may: its files unknown) by commits no PR made, or by a merge's own edit."""
    named = ", ".join(f"PR #{n}" for n in whys)
    if push.commits == 0:  # no push range: the commit alone, said as an earlier ehkeys said it
        if push.loose:
            return Verdict(
                refusal=f"commit {push.loose[0][:12]} was not merged from a pull request, so no plan of it "
                "was reviewed: plan again (run this workflow by hand to apply a fresh plan); nothing was sent"
            )
        return Verdict(nothing=next(why for why in whys.values() if why))
    if push.loose:
        changes = "changes" if push.files is not None else "may change (more files than GitHub lists)"
        commits = ", ".join(sha[:12] for sha in push.loose)
        others = f" (the pull requests it merged, {named}, leave it alone)" if whys else ""
        return Verdict(
            refusal=f"this push {changes} {where}, and its commit(s) {commits} were not merged from a pull "
            f"request{others}: no plan of them was reviewed, so {NOTHING_SENT}"
        )
    if push.files is not None:
        return Verdict(
            refusal=f"this push changes {where}, but none of the pull requests it merged ({named}) does: "
            "the merge itself changed it (a conflict resolved?), and no plan of that was reviewed, so "
            + NOTHING_SENT
        )
    return Verdict(
        refusal=f"this push changes more files than GitHub's compare lists ({MAX_FILES}), and so does "
        f"a commit of it compared on its own, so whether it changes {where} cannot be told: none of the "
        f"pull requests it merged ({named}) does, but a merge's own edit (a conflict resolved) may have, "
        f"and no plan of that was reviewed, so {NOTHING_SENT}"
    )


def _note(push: Push, whys: dict[int, str | None], where: str, applied: bool = False) -> tuple[str, ...]:
    """What came of each PR (and loose commit) of a push that merged several, in merge order."""
    if len(push.merged) + len(push.loose) < 2:
        return ()
    done = "its reviewed plan, applied here" if applied else f"changes {where}: not applied (below)"
    said = tuple(
        f"PR #{n}: {done if why is None else f'changes no file of {where}'}" for n, why in whys.items()
    )
    return said + tuple(f"commit {sha[:12]}: not merged from a pull request" for sha in push.loose)
