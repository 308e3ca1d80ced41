"""Messages a new user read in the first week: a warning repeated at 10,000 keys is one line,
a cap nobody set says it is the default, the mass-delete rule says when it applies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.manifest import load as manifest

from ..helpers import key_value, run_cli, seed_data
from ..reliability_log import record

LITERAL = "plain-text proxy key in the manifest"


def literal_keys(path: Path, n: int) -> Path:
    lines = ["version: 1", "defaults: {limit_type: daily}", "keys:"]
    for i in range(n):
        lines += [f"  - proxy_key: {key_value(i)}", f"    name: k{i}"]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_a_warning_at_10000_keys_is_one_line_with_a_count_and_the_first_places(
    tmp_path: Path, capsys: Any
) -> None:
    path = literal_keys(tmp_path / "keys.yaml", 10_000)
    code, out, err = run_cli(capsys, "validate", str(path))
    assert code == 0 and out.count("\n") == 1 and "10000 warning(s); 10000 key(s) valid" in err
    assert out.startswith(f"{path}:4:16: warning: keys[*].proxy_key: {LITERAL}")
    assert "(10000 places: lines 4, 6, 8 and 9997 more; --format json lists each)" in out
    assert "secretpart" not in out + err
    record("input", "a warning repeated at 10,000 keys", 10_000, "one line: count and first places")


@pytest.mark.parametrize(("n", "lines"), [(2, 2), (3, 1)])
def test_a_few_repeats_stay_apart_and_github_groups_as_text_does(
    tmp_path: Path, capsys: Any, n: int, lines: int
) -> None:
    path = literal_keys(tmp_path / "keys.yaml", n)
    _, out, _ = run_cli(capsys, "validate", "--format", "github", str(path))
    assert out.count("::warning ") == lines
    _, out, _ = run_cli(capsys, "validate", "--format", "json", str(path))
    assert len(json.loads(out)["diagnostics"]) == n  # JSON lists every place


def test_a_grouped_line_names_each_file_when_they_differ(tmp_path: Path, capsys: Any) -> None:
    literal_keys(tmp_path / "a.yaml", 2)
    text = literal_keys(tmp_path / "b.yaml", 4).read_text().replace("name: k", "name: b")
    (tmp_path / "b.yaml").write_text(text.replace("-test-0000", "-test-1000"))
    _, out, _ = run_cli(capsys, "validate", str(tmp_path))
    assert out.count("\n") == 1
    assert (
        f"(6 places: {tmp_path / 'a.yaml'}:4, {tmp_path / 'a.yaml'}:6, {tmp_path / 'b.yaml'}:4 and 3 more"
        in out
    )


@pytest.mark.parametrize(
    ("cap", "fragment"),
    [
        (None, "exceeds the per-key cap of 10000, the default: the manifest sets no per_key_cap"),
        (20000, "exceeds the per-key cap of 20000 (per_key_cap)"),
    ],
)
def test_the_per_key_cap_says_when_it_is_the_default(tmp_path: Path, cap: int | None, fragment: str) -> None:
    data: dict[str, Any] = {
        "version": 1,
        "keys": [{"name": "big", "limit_type": "daily", "allocated_ammount": 25000}],
    }
    if cap is not None:
        data["per_key_cap"] = cap
    (tmp_path / "keys.yaml").write_text(yaml.safe_dump(data))
    result = manifest.load([str(tmp_path / "keys.yaml")], env={})
    assert [e.path for e in result.errors] == ["keys[0].allocated_ammount"]
    assert fragment in result.errors[0].message


def test_the_mass_delete_refusal_says_when_the_rule_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(10)))
    kept = [{"id": f"k{i}", "name": f"key-{i}"} for i in range(6)]
    doomed = [{"id": f"k{i}", "name": f"key-{i}", "absent": True} for i in range(6, 10)]
    data = {"version": 1, "defaults": {"limit_type": "daily"}, "keys": kept + doomed}
    Path("keys.yaml").write_text(yaml.safe_dump(data))
    code, _, err = run_cli(
        capsys, "apply", "keys.yaml", "--sandbox", "--sandbox-seed", "seed.yaml", "--auto-approve"
    )
    assert code == 1 and "the plan deletes 4 of the account's 10 keys: over 30% of the keys, " in err
    assert "in an account of more than 5 keys; pass --allow-mass-delete" in err
