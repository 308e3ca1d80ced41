"""A key's name as the account gives it, made safe to print: whoever can rename a key in the
dashboard cannot colour, move, split or reorder the plan's lines, in a terminal or a PR comment."""

from __future__ import annotations

import pytest

from reconciler.core.printable import printable


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Backend", "Backend"),
        ("Ünïcode 名前 🙂", "Ünïcode 名前 🙂"),  # printable: as written
        ("a\x1b[31mred", "a\\u001b[31mred"),  # a terminal colour
        ("line\nbreak", "line\\u000abreak"),
        ("Old St\u2028+ Fake", "Old St\\u2028+ Fake"),  # a line separator: a second line in an editor
        ("x\u2029y", "x\\u2029y"),  # a paragraph separator
        ("abc\u202egnp.exe", "abc\\u202egnp.exe"),  # right-to-left override
        ("ab\u061ccd", "ab\\u061ccd"),  # the Arabic letter mark: a direction mark outside \u202a-\u202e
        ("zero\u2060width\ufeff", "zero\\u2060width\\ufeff"),  # joiners and a BOM: invisible
        ("soft\u00adhyphen", "soft\\u00adhyphen"),
        ("tag\U000e0041", "tag\\U000e0041"),  # a tag character: invisible, outside the BMP
    ],
)
def test_every_character_python_cannot_print_is_escaped(name: str, shown: str) -> None:
    assert printable(name) == shown
