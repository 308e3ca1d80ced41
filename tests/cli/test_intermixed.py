"""A command's options may come before, between or after its positionals, in every command that
takes more than one positional word: `ehkeys deliver keys.yaml --sandbox api` was refused
("unrecognized arguments: api") while `rotate` and `reveal` read the same order, and so was a
second manifest after an option (`plan a.yaml --sandbox b.yaml`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli import options

from ..helpers import run_cli, seed_data

# each command, its positional words (the first one's destination, then the rest's), and an
# option of its own: a flag, or one that takes a value (which must not swallow a positional)
COMMANDS: dict[str, tuple[list[str], tuple[str, str], list[str]]] = {
    "validate": (["a.yaml", "b.yaml"], ("manifests", "manifests"), ["--strict"]),
    "plan": (["a.yaml", "b.yaml"], ("manifests", "manifests"), ["--sandbox"]),
    "drift": (["a.yaml", "b.yaml"], ("manifests", "manifests"), ["--format", "json"]),
    "usage": (["a.yaml", "b.yaml"], ("manifests", "manifests"), ["--sandbox"]),
    "apply": (["a.yaml", "b.yaml"], ("manifests", "manifests"), ["--auto-approve"]),
    "rotate": (["a.yaml", "api", "web"], ("manifests", "addresses"), ["--overlap", "1d"]),
    "deliver": (["a.yaml", "api", "web"], ("manifests", "ids"), ["--sandbox"]),
    "reveal": (["a.yaml", "api", "web"], ("manifests", "ids"), ["--account", "prod"]),
    "github plan": (["a", "b"], ("manifests", "manifests"), ["--dir", "out"]),
    "github apply": (["a", "b"], ("manifests", "manifests"), ["--fresh"]),
    "github drift": (["a", "b"], ("manifests", "manifests"), ["--sandbox"]),
    "github rotate": (["a", "b"], ("manifests", "manifests"), ["--sandbox"]),
    "github deliver": (["a", "b"], ("manifests", "manifests"), ["--target", "api"]),
    "github comment": (["a", "b"], ("manifests", "manifests"), ["--pr", "7"]),
}


def _orders(words: list[str], option: list[str]) -> dict[str, list[str]]:
    return {
        "before": [*option, *words],
        "between": [words[0], *option, *words[1:]],
        "after each": [words[0], *option, *words[1:2], "--debug", *words[2:]],
        "after": [*words, *option],
    }


CASES = [
    (command, where, argv)
    for command, (words, _, option) in COMMANDS.items()
    for where, argv in _orders(words, option).items()
]


@pytest.mark.parametrize(("command", "where", "argv"), CASES, ids=[f"{c} {w}" for c, w, _ in CASES])
def test_options_may_stand_anywhere_among_the_positionals(command: str, where: str, argv: list[str]) -> None:
    words, (first, rest), option = COMMANDS[command]
    args = options.parse([*command.split(), *argv])
    if first == rest:
        assert getattr(args, first) == words
    else:
        assert (getattr(args, first), getattr(args, rest)) == (words[:1], words[1:])
    flag = option[0].removeprefix("--").replace("-", "_")
    assert getattr(args, flag) not in (None, False, []), f"{option} was not read"


def test_after_a_double_dash_every_word_is_a_positional() -> None:
    args = options.parse(["deliver", "--sandbox", "--", "-keys.yaml", "--account"])
    assert (args.manifests, args.ids, args.sandbox) == (["-keys.yaml"], ["--account"], True)


def test_a_positional_still_missing_or_a_word_too_many_is_a_usage_error(capsys: Any) -> None:
    code, _, err = run_cli(capsys, "rotate", "keys.yaml", "--sandbox")
    assert code == 1 and "the following arguments are required: ADDRESS" in err
    assert "usage: ehkeys rotate" in err and "MANIFEST_OR_DIR ADDRESS [ADDRESS ...]" in err
    code, _, err = run_cli(capsys, "show", "plan.json", "--format", "json", "other.json")
    assert code == 1 and "unrecognized arguments: other.json" in err and "usage: ehkeys show" in err


def test_deliver_reads_its_addresses_after_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The new user's command, end to end: the key named after `--sandbox` delivered again."""
    monkeypatch.chdir(tmp_path)
    manifest = "version: 1\ndefaults: {limit_type: daily}\nkeys:\n"
    for name in ("api", "web"):
        manifest += f"  - id: {name}\n    name: {name}\n    allocated_ammount: 5\n    deliver: [{{file: {name}.env}}]\n"
    (tmp_path / "keys.yaml").write_text(manifest)
    (tmp_path / "seed.yaml").write_text(yaml.safe_dump(seed_data(0)))
    seeded = ["--sandbox-seed", "seed.yaml"]
    assert run_cli(capsys, "apply", "keys.yaml", "--sandbox", *seeded, "--auto-approve")[0] == 0
    value = (tmp_path / "api.env").read_text()
    for sink in ("api.env", "web.env"):
        (tmp_path / sink).unlink()
    code, out, err = run_cli(capsys, "deliver", "keys.yaml", "--sandbox", "api", *seeded)
    assert code == 0, out + err
    assert (tmp_path / "api.env").read_text() == value and not (tmp_path / "web.env").exists()
    assert value.split("=", 1)[1].strip() not in out + err
