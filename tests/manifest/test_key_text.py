"""Text shaped like a proxy key outside a key's proxy_key (a YAML comment, a command sink's
arguments): a warning at its line, never the text; it was not said at all."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from reconciler.manifest import keytext
from reconciler.manifest import load as manifest

from ..helpers import run_cli

SECRETS = ["ek-proxy-old9comment1234", "ek-proxy-trailing5678", "ek-proxy-in9args4321"]
MANIFEST = f"""version: 1
# rotated: the old key was {SECRETS[0]}, shown as ek-proxy-…1234
defaults: {{limit_type: daily}}
keys:
  - name: written
    proxy_key: ek-proxy-literal9999  # the old one: {SECRETS[1]}
  - name: defaulted
    proxy_key: '${{EH_B:-ek-proxy-default7777}}'
  - name: delivered
    proxy_key: ${{EH_C}}  # keys look like ek-proxy-... and start with ek-proxy-
    deliver:
      - command: [notify, --token, {SECRETS[2]}, "ek-proxy-${{SUFFIX}}"]
"""


def _stray(tmp_path: Path, text: str) -> list[tuple[int, int]]:
    (tmp_path / "keys.yaml").write_text(text)
    result = manifest.load([str(tmp_path / "keys.yaml")], env={}, offline=True)
    return [(d.line, d.col) for d in result.diagnostics if d.message == keytext.MESSAGE]


def test_key_shaped_text_outside_proxy_key_values_is_warned_at_its_line(tmp_path: Path) -> None:
    """Not the written proxy_key nor the :- default (warned of as they were), nor a key as ehkeys
    shows one, a placeholder, the bare prefix, or a prefix before a ${VAR}."""
    assert _stray(tmp_path, MANIFEST) == [(2, 28), (6, 53), (12, 36)]


def test_the_same_key_as_a_proxy_key_and_in_a_comment_is_warned_in_the_comment(tmp_path: Path) -> None:
    text = "version: 1\nkeys:\n  - {name: a, limit_type: daily, proxy_key: ek-proxy-same1234}\n"
    assert _stray(tmp_path, text) == []
    assert _stray(tmp_path, text + "# ek-proxy-same1234\n") == [(4, 3)]
    assert _stray(tmp_path, text.replace("- {", "- {id: ek-proxy-same1234, ")) == [(3, 10)]


def test_validate_names_the_line_never_the_text_and_strict_fails(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("keys.yaml").write_text(MANIFEST.replace("ek-proxy-literal9999", "${EH_A}"))
    code, out, err = run_cli(capsys, "validate", "keys.yaml")
    assert code == 0 and f"keys.yaml:2:28: warning: {keytext.MESSAGE} (3 places: lines 2, 6, 12" in out, out
    assert not any(secret in out + err for secret in SECRETS)
    code, out, err = run_cli(capsys, "validate", "--strict", "keys.yaml")
    assert (code, err) == (1, "4 error(s), 0 warning(s)\n"), out  # and the :- default's
    assert f"keys.yaml:2:28: {keytext.MESSAGE} (3 places: lines 2, 6, 12" in out, out


ESCAPED = [  # one key, written in double quotes with escapes: ek-proxy-abcdef0123456789
    r'"\x65k-proxy-abcdef0123456789"',
    r'"\u0065k-proxy-abcdef0123456789"',
    r'"ek-proxy-abc\x64ef0123456789"',
    r'"ek-proxy-abcdef012345678\x39"',
    '"ek-proxy-abcdef\\\n      0123456789"',  # a line break escaped: one line of text
    r'&pinned !!str "ek-proxy-\x61bcdef0123456789"',
    r'"ek-proxy-abcdef0123456789\"\\"',
]


def test_a_proxy_key_written_with_escapes_is_warned_of_once_as_a_plain_one(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    """The escaped text was no value's text: it was key-shaped text outside a proxy_key too."""
    monkeypatch.chdir(tmp_path)
    for written in ESCAPED:
        Path("keys.yaml").write_text(
            f"version: 1\nkeys:\n  - name: a\n    limit_type: daily\n    proxy_key: {written}\n"
        )
        code, out, err = run_cli(capsys, "validate", "keys.yaml")
        assert code == 0 and err == "1 warning(s); 1 key(s) valid\n", written + out + err
        assert out.startswith("keys.yaml:5:16: warning: keys[a].proxy_key: plain-text proxy key"), (
            written + out
        )
        assert "abcdef" not in out


def test_a_key_in_a_comment_beside_an_escaped_proxy_key_is_still_warned_of(tmp_path: Path) -> None:
    """The escaped value's own key was no longer counted as written: its copy in the comment was
    taken for the value's."""
    text = 'version: 1\nkeys:\n  - {name: a, limit_type: daily, proxy_key: "\\x65k-proxy-same1234"}\n'
    assert _stray(tmp_path, text) == []
    assert _stray(tmp_path, text + "# ek-proxy-same1234\n") == [(4, 3)]
    assert _stray(tmp_path, text.replace("}", "}  # ek-proxy-same1234")) == [(3, 72)]


def test_a_line_of_50000_tokens_and_key_shaped_pieces_is_warned_of_in_a_moment(tmp_path: Path) -> None:
    """Each occurrence's column was found by reading its line from the start again: a 2 MB line of
    a crafted manifest (a pull request's) held validate, and every plan, for minutes."""
    line = "".join(f" hvs.{i:030d}.abcde ek-proxy-{i:010d}" for i in range(50_000))
    path = tmp_path / "one-line-of-50000-tokens.yaml"
    path.write_text(f"version: 1\nkeys:\n  - {{name: a, limit_type: daily}}\n#{line}\n")
    started = time.monotonic()
    result = manifest.load([str(path)], env={}, offline=True)
    assert time.monotonic() - started < 5
    assert sorted(d.message for d in result.diagnostics) == sorted([keytext.MESSAGE, keytext.TOKEN_MESSAGE])
    assert {(d.line, d.col) for d in result.diagnostics} == {(4, 3), (4, 44)}
