"""What a saved plan shows, digested when it is written: each key's entry (with its layout), the
rest of each part (unmanaged keys, notes, problems, the policy and group sections), and, with
accounts, the moves. `saved_shown` works out again from the changes what can be (names, field
lines, credits, a change's own warnings); these digests cover what cannot (a reason, the other
warnings, a key's last four characters, an error's text), so that an edit of the shown part
alone is refused, naming the key.

Anyone who edits the file can compute these again: they tell an edit of what a reviewer reads,
not who made the file. The file's own digest (`--expect-digest`, which the reviewed comment
shows) is what pins it whole. A file written before ehkeys recorded them (any format) has none,
and is checked as before, by `saved_shown` alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.core.errors import StateError

ENTRY = "shown_digests"  # in each part: {"keys": [one per key of `plan.keys`], "rest": ...}
MOVES = "moves_digest"  # beside `moves` (format 5)
_HEX = 16  # an edit detector, not a signature: nothing here is secret


def of(value: Any) -> str:
    """The digest of a JSON value, however its mappings were ordered."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:_HEX]


def encode(plan: Mapping[str, Any], layout: Sequence[Any]) -> dict[str, Any]:
    """A part's entry: written beside its `plan` and `layout`, as the file holds them."""
    keys = [of([key, lay]) for key, lay in zip(plan["keys"], layout, strict=True)]
    return {ENTRY: {"keys": keys, "rest": of(_rest(plan))}}


def edited(path: str, part: Mapping[str, Any]) -> tuple[list[int], bool]:
    """The indexes of the keys whose shown entry is not the one written, and whether the rest of
    the part is not; ([], False) for a part written before these were recorded."""
    if ENTRY not in part:
        return [], False
    plan, layout, digests = part["plan"], part["layout"], part[ENTRY]
    if not _of_shape(digests, len(plan["keys"])):
        raise StateError(f"{path}: its {ENTRY} entry is not what a plan writes (edited by hand?): plan again")
    pairs = zip(plan["keys"], layout, digests["keys"], strict=True)
    keys = [index for index, (key, lay, digest) in enumerate(pairs) if of([key, lay]) != digest]
    return keys, of(_rest(plan)) != digests["rest"]


def _rest(plan: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in plan.items() if name != "keys"}


def _of_shape(digests: Any, keys: int) -> bool:
    if not isinstance(digests, dict) or sorted(digests) != ["keys", "rest"]:
        return False
    listed, rest = digests["keys"], digests["rest"]
    return (
        isinstance(listed, list) and len(listed) == keys and all(isinstance(d, str) for d in [*listed, rest])
    )
