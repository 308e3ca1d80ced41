"""What ehkeys says at the end of a run reaches stderr a line at a time, whole."""

from __future__ import annotations

import io

import pytest

from reconciler.cli import main as cli


class Writes(io.StringIO):
    """stderr that remembers each write, as another thread writing between two would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def write(self, text: str) -> int:
        self.calls.append(text)
        return super().write(text)


def interrupted(args: object) -> None:
    raise KeyboardInterrupt


def test_interrupted_is_one_write_with_its_newline(monkeypatch: pytest.MonkeyPatch) -> None:
    err = Writes()
    monkeypatch.setattr(cli, "_run", interrupted)
    monkeypatch.setattr("sys.stderr", err)
    assert cli.main(["plan", "keys.yaml"]) == 130
    assert "ehkeys: interrupted\n" in err.calls
