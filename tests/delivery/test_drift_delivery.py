"""`ehkeys drift` reports a delivery still owed (a sink that failed, a run cut short) of any key,
not only a rotation's successor: a health warning naming the key and the sink, in every format,
never the value; gone once the value is delivered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.core.sinks import CommandSink

from ..helpers import run_cli, seed_data
from .manifests import delivering

SANDBOX = ["--sandbox", "--sandbox-seed", "seed.yaml"]


def manifest(folder: Path) -> str:
    """A file sink that works, and a command sink that works only while `sink-up` exists."""
    script = f"test -e {folder / 'sink-up'} && cat > {folder / 'delivered.txt'}"
    return delivering("file: app.env", f"command: [sh, -c, {json.dumps(script)}]")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keys.yaml").write_text(manifest(tmp_path))
    (tmp_path / "seed.yaml").write_text(yaml.safe_dump(seed_data(0)))  # an account without keys
    return tmp_path


def drift(capsys: Any, *extra: str) -> tuple[int, str]:
    code, out, err = run_cli(capsys, "drift", "keys.yaml", *SANDBOX, *extra)
    return code, out + err


def test_a_failed_delivery_is_a_health_warning_naming_the_sink(workdir: Path, capsys: Any) -> None:
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--auto-approve", *SANDBOX)
    assert code == 3, out + err
    value = (workdir / "app.env").read_text().strip().removeprefix("EH_KEY_API=")
    code, said = drift(capsys)
    assert code == 0, said  # a warning, never drift
    assert "warning: API (ek-proxy-…" in said
    sink = CommandSink(("sh", "-c", f"test -e {workdir / 'sink-up'} && cat > {workdir / 'delivered.txt'}"))
    assert (
        f"its value is still to be delivered to {sink.describe()} (a delivery failed or was cut short)"
        in said
    )
    assert "file app.env" not in said  # that one was delivered
    code, md = drift(capsys, "--format", "markdown")
    assert code == 0 and "delivery-pending" in md and "command sh -c" in md
    code, data = drift(capsys, "--format", "json")
    (warning,) = json.loads(data)["health"]
    assert (warning["kind"], warning["subject"], warning["name"]) == ("delivery-pending", "api", "API")
    assert warning["key"] == f"ek-proxy-…{value[-4:]}"
    for text in (said, md, data):
        assert value not in text
    (workdir / "sink-up").touch()
    assert run_cli(capsys, "deliver", "keys.yaml", *SANDBOX)[0] == 0
    assert (workdir / "delivered.txt").read_text() == value
    code, data = drift(capsys, "--format", "json")
    assert code == 0 and json.loads(data)["health"] == []
