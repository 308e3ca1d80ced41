"""The rules a pull request changes: its root read as it is on the PR's base commit, through the
contents API (a shallow checkout has no base commit), loaded offline with the same loader,
and its rules compared with the head's (`manifest.rulediff`).

Only the files the PR changes are asked for, the rest taken from the checkout
(`gitops.basefiles`), when GitHub lists them all and the checkout can stand for the rest (a
link the PR, or its target, changes cannot: `gitops.baselinks`); else the whole root is read
(`gitops.basetree`: YAML files and folders, hidden ones aside, as `manifest.sources.walk` reads
a checkout; a link as a link, so the loader reads a file two links reach once, as in the
checkout; one out of the repository: the comparison would be incomplete). The root missing on the base is new:
nothing to compare (one of several inputs missing: that one is new, the others are compared). A base that
does not load, or an API error, is said, never a traceback: the rules could not be compared
(rules-apart then fails the check; without it the plan stands).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from reconciler.core.plans import Plans
from reconciler.core.printable import printable
from reconciler.core.rulechanges import RulesReview
from reconciler.gitops import basefiles, baseroot
from reconciler.gitops.basefiles import Checkout
from reconciler.gitops.basehops import Incomplete
from reconciler.gitops.basetree import Absent, BaseTree
from reconciler.gitops.context import RunContext
from reconciler.gitops.hub import GitHub, GitHubError
from reconciler.gitops.roots import PullFiles
from reconciler.manifest.load import Manifest, load
from reconciler.manifest.rulediff import changed_rules
from reconciler.render import rules


def review(
    hub: GitHub,
    ctx: RunContext,
    manifests: Sequence[str],
    head: Manifest,
    plans: Plans,
    apart: bool,
    files: PullFiles | None = None,
) -> RulesReview | None:
    """The head's rules against the base's (None: not a pull request's run); with `apart`
    (rules-apart), judged by how many keys `plans` change. `files`: the PR's, when GitHub
    lists them all (else each file of the base is asked for)."""
    if ctx.pr_number is None:
        return None
    base, local = _base_sha(ctx), Checkout(ctx.workspace, files) if files and files.complete else None
    found = compare(hub, base, _inputs(manifests, ctx.workspace), head, local) if base else None
    if found is None and apart:
        found = RulesReview(problem="the event names no base commit (pull_request.base.sha)")
    if found is None or not apart:
        return found
    return found.judged(sum(c.action.changes_something for p in plans.each for c in p.changes))


def _base_sha(ctx: RunContext) -> str:
    base = ctx.pull_request.get("base")
    sha = base.get("sha") if isinstance(base, dict) else None
    return sha if isinstance(sha, str) else ""


def _inputs(manifests: Sequence[str], top: Path) -> list[str | None]:
    """Each manifest from the repository's top as given, its links not followed (None: outside
    it): what it names on the base is the base's layout's to say (`gitops.baseroot`)."""
    return [baseroot.given(m, top) for m in manifests]


def compare(
    hub: GitHub, base: str, inputs: Sequence[str | None], head: Manifest, local: Checkout | None = None
) -> RulesReview:
    """The rules of `inputs` (paths from the repository's top) on commit `base` against `head`'s;
    with `local`, only the files the PR changes are asked for."""
    if any(path is None for path in inputs):
        return RulesReview(base, problem="the manifest is outside the repository")
    try:
        with tempfile.TemporaryDirectory(prefix="ehkeys-base-") as folder:
            loaded = _load_base(hub, base, [str(path) for path in inputs], Path(folder), local)
    except Absent:
        return RulesReview(base, absent=True)
    except Incomplete as exc:
        return RulesReview(base, problem=f"the comparison would be incomplete: {exc}")
    except GitHubError as exc:
        return RulesReview(base, problem=str(exc))
    except OSError as exc:  # the temporary folder: full, or not writable
        return RulesReview(base, problem=f"its files could not be written to a temporary folder ({exc})")
    if isinstance(loaded, str):
        return RulesReview(base, problem=f"the manifest there does not load: {loaded}")
    return RulesReview(base, changed_rules(loaded, head))


def _load_base(
    hub: GitHub, base: str, paths: Sequence[str], folder: Path, local: Checkout | None
) -> Manifest | str:
    """The base's manifest, loaded offline from `folder` (no variable is needed for rules), or
    its first error (its place from the repository's top)."""
    (folder / ".git").mkdir()  # the repository's top: a file's directory manifest is looked for below it
    tree = BaseTree(hub, base, folder)
    tree.module = partial(basefiles.module, local, tree)  # a submodule: the checkout's, if the PR leaves it
    found = [root for path in paths if (root := _input(tree, path, local)) is not None]
    if not found:
        raise Absent
    result = load([str(folder / path) for path in found], env={}, offline=True)
    if result.manifest is not None:
        return result.manifest
    first = result.errors[0].text() if result.errors else "it holds no manifest"
    return first.replace(f"{folder}/", "")


def _input(tree: BaseTree, path: str, local: Checkout | None) -> str | None:
    """The manifest input `path` names on the base (the directory manifest it is in there, or
    itself), into the tree's folder; None: the base has neither."""
    present = _read(tree, path, local)
    fast = local is not None and basefiles.plain(local, path)
    settled = partial(basefiles.settled, local, tree) if local is not None and fast else tree.settings
    root = baseroot.located(tree, path, settled)
    if root is None or root == path:
        return path if present else None
    _read(tree, root, local)
    return root


def _read(tree: BaseTree, path: str, local: Checkout | None) -> bool:
    """Input `path` as on the base, into the tree's folder: from the checkout and the PR's
    changes, or, without them or where the checkout cannot stand for the base (a link the PR,
    or its target, changes, a submodule it bumps: what it reads is not a file the PR's list
    names), read whole from the base."""
    if local is None or not basefiles.plain(local, path):
        return tree.input(path)
    return basefiles.assemble(local, path, tree)


def tell(found: RulesReview | None) -> None:
    """What the review found, on stderr (the comment and the summary show it too), each line one
    line of the log: a name or a link's target from the base may hold a newline, and a log line
    starting `::` is a workflow command to the runner."""
    lines = rules.said(found)
    if found is not None and not lines:
        print(f"rules: unchanged since the base {found.base[:12]}", file=sys.stderr)
    for said in lines:
        print(f"rules: {printable(said.strip())}", file=sys.stderr)
