"""`ehkeys import --out` against what a file system does: a disk that refuses the write half way,
a link where the manifest goes, two imports writing one file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ..helpers import files_up_to, run_cli, seed_data
from ..reliability_log import record

SANDBOX = ["--sandbox", "--sandbox-seed", "seed.yaml"]
KEYS = 300  # a manifest of about 80 kB: more than LIMIT lets a file hold


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(KEYS)))
    return tmp_path


def test_a_disk_that_refuses_the_manifest_half_way_leaves_no_half_manifest(
    workdir: Path, capsys: Any
) -> None:
    """The manifest was written in place, before the state: a full disk left its first 48 kB
    (whole keys among them: a manifest that validates with keys missing, their bindings not
    recorded), and the next import refused to replace it."""
    assert (
        run_cli(capsys, "import", "--all", *SANDBOX, "--out", "keys/first.yaml")[0] == 0
    )  # the sandbox, the schema
    whole = Path("keys/first.yaml").read_text()
    assert len(whole) > 64 * 1024
    with files_up_to(48 * 1024):
        code, _, err = run_cli(capsys, "import", "--all", *SANDBOX, "--out", "keys/keys.yaml")
    assert code == 1 and "(File too large)" in err and "internal error" not in err
    assert not Path("keys/keys.yaml").exists()
    assert [p.name for p in Path("keys").iterdir() if p.name.endswith(".tmp")] == []
    code, _, err = run_cli(capsys, "import", "--all", *SANDBOX, "--out", "keys/keys.yaml")
    assert code == 0 and Path("keys/keys.yaml").read_text() == whole
    record("files", "import --out to a disk that refuses the manifest half way", 1, "nothing left, said")


def test_a_link_where_the_manifest_goes_is_refused_and_not_written_through(
    workdir: Path, capsys: Any
) -> None:
    """A link to no file yet passed `exists()`: the manifest was written where it led."""
    Path("keys.yaml").symlink_to("elsewhere.yaml")
    code, _, err = run_cli(capsys, "import", "--all", *SANDBOX, "--out", "keys.yaml")
    assert code == 1 and "--out keys.yaml: the file exists" in err
    assert Path("keys.yaml").is_symlink() and not Path("elsewhere.yaml").exists()
    record("files", "import --out onto a link to no file", 1, "refused, nothing written through it")


def test_a_direction_override_in_a_name_is_written_escaped_and_read_back_as_itself(
    workdir: Path, capsys: Any
) -> None:
    """`a\\u202eevil` was written as itself: the manifest a reviewer reads in a PR showed the
    rest of its line reversed. Escaped now, as YAML reads it back: the plan renames nothing."""
    data = seed_data(2)
    data["keys"][0]["name"] = "a\u202eevil\u202c: ok"
    Path("seed.yaml").write_text(yaml.safe_dump(data))
    assert run_cli(capsys, "import", "--all", *SANDBOX, "--out", "keys.yaml")[0] == 0
    text = Path("keys.yaml").read_text()
    assert "\u202e" not in text and 'name: "a\\u202eevil\\u202c: ok"' in text
    Path("keys.yaml").write_text(text.replace("limit_type: unknown", "limit_type: daily"))
    code, out, _ = run_cli(capsys, "plan", "keys.yaml", *SANDBOX)
    assert code == 0 and "name:" not in out and "0 errors" in out
    record("input", "import of a key named with a direction override", 1, "escaped; plans no rename")
