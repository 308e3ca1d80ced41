"""Messages come out in one order: by file, line and column, then path, message and severity,
whichever way they were found (several checks report in their own order)."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from reconciler.manifest import diagnostics
from reconciler.manifest.diagnostics import ERROR, NOTICE, WARNING, Diagnostic

found = st.builds(
    Diagnostic,
    file=st.sampled_from(["a.yaml", "b.yaml", "team/x.yaml"]),
    line=st.integers(0, 4),
    col=st.integers(1, 3),
    path=st.sampled_from(["", "keys[0]", "keys[0].name", "keys[1]"]),
    message=st.sampled_from(["unknown field 'nmae'", "plain-text proxy key", "expires_at is in the past"]),
    severity=st.sampled_from([ERROR, WARNING, NOTICE]),
    key_id=st.sampled_from(["", "api", "web"]),
)


@given(st.lists(found, max_size=30))
def test_ordered_is_the_order_of_the_fields_whatever_the_order_found(items: list[Diagnostic]) -> None:
    assert diagnostics.ordered(items) == sorted(items)
    assert diagnostics.ordered(reversed(items)) == sorted(items)


def test_validate_prints_by_file_then_line_then_column() -> None:
    late = Diagnostic("m.yaml", 9, 3, "keys[2].name", "late")
    early = Diagnostic("m.yaml", 2, 7, "version", "early")
    same_line = Diagnostic("m.yaml", 9, 1, "keys[2]", "same line, earlier column")
    other = Diagnostic("a.yaml", 40, 1, "keys[0]", "another file")
    out = io.StringIO()
    diagnostics.render([late, early, same_line, other], "text", out)
    printed = [line.split(": ")[-1] for line in out.getvalue().splitlines()]
    assert printed == ["another file", "early", "same line, earlier column", "late"]
