"""The manifest loader over fixture files named after the failure they provoke."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli.main import main
from reconciler.manifest import load as manifest
from reconciler.manifest.diagnostics import Diagnostic
from reconciler.sandbox import seeds

from ..conftest import MANIFESTS, ROOT
from ..helpers import key_value, manifest_text, run_cli, seed_data
from ..reliability_log import record

NOW = 1_800_000_000  # 2027-01-15: a fixed "now" so expiry warnings do not drift

# fixture -> (line, col, path, a fragment of the message)
ERRORS = [
    ("bad-binary.yaml", 1, 1, "", "not UTF-8"),
    ("bad-duplicate-key.yaml", 6, 5, "", "'Second' has the same proxy_key as 'First' at"),
    ("bad-duplicate-name.yaml", 6, 5, "", "duplicate name 'Same': already the id (or name) of the key at"),
    ("bad-duplicate-yaml-field.yaml", 6, 5, "", "duplicate key 'name' (first at line 4)"),
    ("bad-empty.yaml", 1, 1, "", "empty manifest"),
    (
        "bad-expires-after-9999.yaml",
        6,
        17,
        "keys[0].expires_at",
        "to 253402300799, which is 9999-12-31T23:59:59Z",
    ),
    ("bad-expires-format.yaml", 6, 17, "keys[0].expires_at", "ISO-8601"),
    ("bad-exponent-amount.yaml", 6, 24, "keys[0].allocated_ammount", "must be <= 1000000000000 (got 1E+30)"),
    (
        "bad-hex-amount.yaml",
        6,
        24,
        "keys[0].allocated_ammount",
        "0x32 is hexadecimal: write it in decimal, 50",
    ),
    ("bad-host-bits.yaml", 6, 32, "keys[0].ip_whitelist[1]", "did you mean '192.168.1.0/24'"),
    ("bad-huge-allocation.yaml", 6, 24, "keys[0].allocated_ammount", "must be <= 1000000000000"),
    ("bad-impossible-date.yaml", 6, 17, "keys[0].expires_at", "impossible date"),
    ("bad-ip.yaml", 6, 20, "keys[0].ip_whitelist[0]", "'300.1.2.3' is not an IP address"),
    ("bad-id-with-slash.yaml", 3, 9, "keys[0].id", "must not contain '/': a '/' will separate an account"),
    (
        "bad-ids-share-a-variable.yaml",
        6,
        5,
        "",
        "bad-ids-share-a-variable.yaml:3:5 both become the variable EH_KEY_PROD_BACKEND",
    ),
    ("bad-leading-zero-amount.yaml", 6, 24, "keys[0].allocated_ammount", "read octal 40: write 50"),
    ("bad-limit-type.yaml", 5, 17, "keys[0].limit_type", "one of daily, weekly, monthly"),
    ("bad-missing-limit-type.yaml", 3, 5, "keys[0]", "the API never reports limit_type"),
    ("bad-missing-name.yaml", 3, 5, "keys[0]", "missing required field 'name'"),
    ("bad-name-too-long.yaml", 4, 11, "keys[0].name", "1 to 25 characters (got 37)"),
    ("bad-name-with-slash-is-the-id.yaml", 3, 11, "keys[0].name", "give the key an id: without '/'"),
    ("bad-negative-allocation.yaml", 6, 24, "keys[0].allocated_ammount", ">= 0"),
    ("bad-not-a-proxy-key.yaml", 3, 16, "keys[0].proxy_key", "must start with 'ek-proxy-'"),
    ("bad-over-cap.yaml", 7, 24, "keys[0].allocated_ammount", "exceeds the per-key cap of 500"),
    (
        "bad-protect-inactive.yaml",
        7,
        14,
        "keys[0].protect",
        "protect: true and is_active: false: a protected",
    ),
    (
        "bad-protect-inactive-by-default.yaml",
        8,
        14,
        "keys[0].protect",
        "protect: true and is_active: false (from defaults): a protected key is never disabled",
    ),
    ("bad-sexagesimal-amount.yaml", 6, 24, "keys[0].allocated_ammount", "must be a number (got '1:30')"),
    ("bad-sub-cent.yaml", 6, 24, "keys[0].allocated_ammount", "more than 2 decimal places"),
    ("bad-tab.yaml", 3, 1, "", "invalid YAML"),
    ("bad-top-level-list.yaml", 1, 1, "", "must be a mapping"),
    (
        "bad-unknown-field.yaml",
        6,
        5,
        "keys[0].allocated_amount",
        "did you mean 'allocated_ammount'",
    ),
    ("bad-unset-env.yaml", 3, 16, "keys[0].proxy_key", "EH_SURELY_UNSET_VAR is not set"),
    ("bad-version.yaml", 1, 10, "version", "must be 1"),
    ("bad-version-quoted.yaml", 1, 10, "version", "must be 1 (got '1'): the number, without quotes"),
    (
        "bad-whitespace-inside-key.yaml",
        3,
        16,
        "keys[0].proxy_key",
        "the value from the default of EH_A has whitespace inside the key (a space)",
    ),
]


@pytest.mark.parametrize(("fixture", "line", "col", "path", "fragment"), ERRORS)
def test_each_bad_manifest_names_line_and_problem(
    fixture: str, line: int, col: int, path: str, fragment: str
) -> None:
    result = manifest.load([str(MANIFESTS / fixture)], now=NOW)
    assert result.manifest is None
    assert len(result.errors) == 1, result.errors
    error = result.errors[0]
    assert (error.line, error.col, error.path) == (line, col, path)
    assert fragment in error.message


def test_every_problem_is_reported_in_one_run() -> None:
    result = manifest.load([str(MANIFESTS / "bad-many-errors.yaml")], now=NOW)
    assert [(e.line, e.path) for e in result.errors] == [
        (4, "keys[0].name"),
        (8, "keys[1].limit_type"),
        (9, "keys[1].model_whitelist"),
    ]


def test_a_duplicate_id_is_said_beside_the_other_errors_of_its_key() -> None:
    """A second `backend` with a negative allocation, and a name used twice by a key with a
    bad window: one run says all four problems, not the duplicates once the rest is fixed."""
    result = manifest.load([str(MANIFESTS / "bad-duplicate-id-on-a-key-with-another-error.yaml")], now=NOW)
    assert [(e.line, e.path, e.message.split(":")[0]) for e in result.errors] == [
        (6, "", "duplicate id 'backend'"),
        (8, "keys[1].allocated_ammount", "must be >= 0 (got -5)"),
        (11, "keys[2].limit_type", "must be one of daily, weekly, monthly, unknown (got 'fortnightly')"),
        (12, "", "duplicate name 'Shared'"),
    ]


def test_each_bad_list_entry_is_pointed_at() -> None:
    result = manifest.load([str(MANIFESTS / "bad-two-bad-ips.yaml")], now=NOW)
    assert [(e.line, e.col, e.path) for e in result.errors] == [
        (8, 9, "keys[0].ip_whitelist[1]"),
        (9, 9, "keys[0].ip_whitelist[2]"),
    ]


@pytest.mark.parametrize(
    ("fixture", "fragment"),
    [
        ("warn-expired.yaml", "in the past"),
        ("warn-literal-key.yaml", "plain-text proxy key"),
        ("warn-literal-key-as-default.yaml", "as a ${VAR:-…} default"),
        ("warn-open-to-all.yaml", "0.0.0.0/0 allows every IP"),
        ("warn-protected-expired.yaml", "a protected key that expired on 2020-01-01T00:00:00Z"),
        ("warn-token-after-an-escape.yaml", "shaped like a GitHub or Vault token"),  # `\tghp_…`
    ],
)
def test_warnings_keep_the_manifest_valid(fixture: str, fragment: str) -> None:
    result = manifest.load([str(MANIFESTS / fixture)], now=NOW)
    assert result.manifest is not None
    assert any(fragment in d.message and not d.is_error for d in result.diagnostics)


def test_strict_turns_warnings_into_errors(capsys: pytest.CaptureFixture[str]) -> None:
    target = str(MANIFESTS / "warn-literal-key.yaml")
    assert main(["validate", target]) == 0
    assert main(["validate", "--strict", target]) == 1


@pytest.mark.slow  # every fixture manifest validated (~3 s)
def test_no_secret_in_any_message(capsys: pytest.CaptureFixture[str]) -> None:
    for fixture in sorted(MANIFESTS.glob("*.yaml")):
        main(["validate", "--format", "json", str(fixture)])
    out, err = capsys.readouterr()
    for secret in (
        "aaaaaaaaaaaa1111",
        "literalsecret9999",
        "bbbbbbbbbbbb2222",
        "sentinelsecret7777",
        "defaultsecret8888",
    ):
        assert secret not in out + err


def test_example_manifest_is_valid_and_typed() -> None:
    """As a --sandbox run reads it: ${EH_SUPPORT_KEY} from the bundled seed, the environment empty."""
    demo = seeds.load().variables
    result = manifest.load([str(ROOT / "keys.example.yaml")], env={}, now=NOW, fallback=demo)
    assert result.diagnostics == []
    assert result.manifest is not None
    prod, batch, dev, support, analytics, intern, staging = result.manifest.keys
    assert (prod.address, prod.protect, prod.proxy_key) == ("prod-backend", True, None)
    assert prod.allocated_ammount == Decimal("250")
    assert prod.expires_at == 1830211200  # 2027-12-31T00:00:00Z
    assert prod.ip_whitelist == frozenset({ip_network("10.20.0.0/16"), ip_network("203.0.113.42/32")})
    assert batch.limit_type == "weekly" and dev.limit_type == "daily"  # the latter from defaults
    assert dev.expires_at == -1 and dev.model_whitelist == frozenset()
    assert support.managed == ("name", "allocated_ammount", "limit_type")
    assert support.proxy_key is not None and support.proxy_key.display == "ek-proxy-…0004"
    assert "demo" not in repr(support)
    assert (analytics.limit_type, intern.is_active, staging.absent) == ("weekly", False, True)
    (account,) = result.manifest.accounts
    assert account.key_cap == 15 and account.ignore == ("Production API Key",)


def test_the_environment_wins_over_the_sandboxs_variable() -> None:
    env = {"EH_SUPPORT_KEY": "ek-proxy-from-the-environment-9876"}
    result = manifest.load(
        [str(ROOT / "keys.example.yaml")], env=env, now=NOW, fallback=seeds.load().variables
    )
    assert result.manifest is not None
    support = result.manifest.keys[3].proxy_key
    assert support is not None and support.reveal() == env["EH_SUPPORT_KEY"]


def test_a_directory_is_one_manifest_and_duplicates_span_files(tmp_path: Path) -> None:
    body = "version: 1\nkeys:\n  - {proxy_key: '${X:-ek-proxy-same-key-0001}', name: %s, limit_type: daily}\n"
    (tmp_path / "a.yaml").write_text(body % "A")
    (tmp_path / "b.yml").write_text(body % "B")
    (tmp_path / "notes.txt").write_text("ignored")
    result = manifest.load([str(tmp_path)], now=NOW)
    assert [Path(e.file).name for e in result.errors] == ["b.yml"]
    assert "a.yaml:3:5" in result.errors[0].message


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("-1", -1),
        ("never", -1),
        ("1735689600", 1735689600),
        ("2025-01-01", 1735689600),
        ("2025-01-01T00:00:00Z", 1735689600),
        ("2025-01-01T02:00:00+02:00", 1735689600),
        ("2025-01-01 00:00:00", 1735689600),
    ],
)
def test_expiry_forms_are_epoch_seconds(tmp_path: Path, text: str, epoch: int) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nkeys:\n  - proxy_key: ${X:-ek-proxy-k-0001}\n    name: K\n"
        f"    limit_type: daily\n    expires_at: {text}\n"
    )
    result = manifest.load([str(path)], now=NOW)
    assert result.manifest is not None, result.diagnostics
    assert result.manifest.keys[0].expires_at == epoch


def test_github_format_prints_annotations(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--format", "github", str(MANIFESTS / "bad-limit-type.yaml")]) == 1
    warned, failed = capsys.readouterr().out.splitlines()  # the fixture's key, written as a default
    assert warned.startswith("::warning file=") and ",line=3,col=16::keys[Hourly].proxy_key: " in warned
    assert failed.startswith("::error file=")
    assert ",line=5,col=17::keys[Hourly].limit_type: must be one of" in failed  # the key by its id (or name)


def test_github_annotations_escape_what_would_end_a_property_or_a_message(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """GitHub's workflow commands: a property escapes `%`, CR, LF, `:` and `,`; the message `%`,
    CR and LF. Unescaped, `file=keys,v2:prod.yaml` annotated the file `keys`."""
    odd = tmp_path / "keys,v2:prod 100%.yaml"
    odd.write_text((MANIFESTS / "bad-limit-type.yaml").read_text().replace("hourly", "'50%0A'"))
    assert main(["validate", "--format", "github", str(odd)]) == 1
    out = capsys.readouterr().out.split("\n", 1)[1]  # after the warning of its key, written as a default
    assert out.startswith(f"::error file={tmp_path}/keys%2Cv2%3Aprod 100%25.yaml,line=5,col=17::"), out
    assert "(got '50%250A')" in out, out
    diagnostic = Diagnostic("a.yaml", 3, 5, "keys[0].name", "one\r\ntwo: 5%, three")
    assert diagnostic.github() == "::error file=a.yaml,line=3,col=5::keys[0].name: one%0D%0Atwo: 5%25, three"


def test_missing_file_is_a_message_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "no/such/file.yaml"]) == 1
    assert "no such file or directory" in capsys.readouterr().out


def test_a_pipe_given_as_a_manifest_is_said_to_be_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ehkeys validate <(...)`, /dev/stdin, a FIFO: it is there, and was called missing."""
    fifo = tmp_path / "keys.yaml"
    os.mkfifo(fifo)
    assert main(["validate", str(fifo)]) == 1
    out = capsys.readouterr().out
    assert f"{fifo}: not a regular file (a device or a pipe): name a manifest file or a folder" in out


@pytest.mark.timeout(20)
@pytest.mark.parametrize("named", [".", "a.yaml"])
def test_a_pipe_in_a_manifest_folder_is_said_to_be_one_not_read_for_ever(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], named: str
) -> None:
    """A named pipe among a directory manifest's files: opening it would wait for a writer."""
    monkeypatch.chdir(tmp_path)
    Path("ehkeys.yaml").write_text("version: 1\n")
    Path("a.yaml").write_text("version: 1\nkeys:\n  - {id: a, name: A, limit_type: daily}\n")
    os.mkfifo("b.yaml")
    assert main(["validate", named]) == 1
    out = capsys.readouterr().out
    assert "b.yaml:1:1: not a regular file (a device or a pipe): move it out of the manifest's folder" in out


def test_proxy_keys_can_come_from_one_ci_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nkeys:\n  - {proxy_key: '${EH_ONE}', name: one, limit_type: daily}\n  - {proxy_key: '${EH_TWO}', name: two, limit_type: daily}\n"
    )
    monkeypatch.setenv(
        "EHKEYS_PROXY_KEYS",
        "# one line per key\nEH_ONE=ek-proxy-from-the-secret-0001\nEH_TWO = ek-proxy-from-the-secret-0002\n",
    )
    monkeypatch.setenv("EH_TWO", "ek-proxy-set-on-its-own-0003")
    result = manifest.load([str(path)], now=NOW)
    assert result.manifest is not None, result.diagnostics
    assert [k.proxy_key.reveal()[-4:] for k in result.manifest.keys] == ["0001", "0003"]


@pytest.mark.slow  # a Python process
def test_validate_starts_without_the_http_stack_or_jsonschema() -> None:
    """`ehkeys validate` runs as a pre-commit hook: it must not pay for httpx and asyncio, and a
    valid manifest, a directory's too, is known valid without importing jsonschema (~60 ms; `schemarules`)."""
    probe = (
        "import sys; from reconciler.cli.main import main; "
        "code = main(['validate', 'keys.example.yaml']) or main(['validate', 'examples/accounts']); "
        "print(code, sorted(m for m in ('httpx', 'httpcore', 'asyncio', 'anyio', 'jsonschema') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[-2] == "0 []"


@pytest.mark.slow  # a Python process
def test_validate_imports_re2_only_for_a_name_pattern() -> None:
    """RE2 (~3 ms to import) runs a policy's name_pattern (`namepattern`): a manifest without one,
    as most are, does not pay for it."""
    probe = (
        "import sys; from reconciler.cli.main import main; code = main(['validate', {}]); "
        "print(code, 're2' in sys.modules)"
    )
    for manifest_file, imported in (
        ("keys.example.yaml", "0 False"),
        (MANIFESTS / "ok-policy.yaml", "0 True"),
    ):
        done = subprocess.run(
            [sys.executable, "-c", probe.format(repr(str(manifest_file)))],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.split("\n")[-2] == imported, done.stdout


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_a_manifest_keyed_by_proxy_keys_never_prints_them(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--format", fmt, str(MANIFESTS / "bad-keyed-by-proxy-key.yaml")]) == 1
    out, err = capsys.readouterr()
    assert "sentinelsecret7777" not in out + err
    if fmt == "json":
        out = json.dumps(json.loads(out), ensure_ascii=False)
    assert "unknown field 'ek-proxy-…7777'" in out  # in the message, and in the path:
    assert "keys[0].ek-proxy-…7777" in out
    assert out.count("missing required field 'name'") == 1
    record("secret", f"a manifest keyed by its proxy keys, validate --format {fmt}", 1, "every key redacted")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("9999-12-31T23:59:59-01:00", "is after 9999-12-31T23:59:59Z, the latest expiry ehkeys accepts"),
        ("1969-12-31T23:59:59Z", "is before 1970: write -1 or 'never' for no expiry"),
        ("0001-01-01", "is before 1970"),
    ],
)
def test_expiry_dates_outside_what_the_api_counts_are_refused(
    tmp_path: Path, text: str, fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nkeys:\n  - proxy_key: ${X:-ek-proxy-k-0001}\n    name: K\n"
        f"    limit_type: daily\n    expires_at: {text}\n"
    )
    assert main(["validate", str(path)]) == 1
    assert f"m.yaml:6:17: keys[K].expires_at: '{text}' {fragment}" in capsys.readouterr().out
    record("input", f"expires_at {text}", 1, "refused with a message naming the bound")


def test_a_live_expiry_beyond_9999_is_shown_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(1, expires_at=99_999_999_999_999)))
    Path("m.yaml").write_text(
        "version: 1\nkeys:\n  - {proxy_key: '${X:-ek-proxy-test-000000-secretpart}', name: key-0,"
        " limit_type: daily, expires_at: 2030-01-01}\n"
    )
    sandbox = ["--sandbox", "--sandbox-seed", "seed.yaml"]
    code, out, err = run_cli(capsys, "plan", "m.yaml", *sandbox)
    assert code == 0, err
    assert "99999999999999 (epoch seconds, after 9999)" in out and "2030-01-01T00:00:00Z" in out
    code, out, err = run_cli(capsys, "import", "--all", *sandbox)
    assert code == 0, err
    assert "expires_at: 99999999999999  # 99999999999999 (epoch seconds, after 9999)" in out
    record("input", "a live key whose expiry is beyond year 9999 (plan, import)", 2, "shown as a number")


def test_scalars_read_as_yaml_1_2_like_the_editor_shows_them() -> None:
    result = manifest.load([str(MANIFESTS / "ok-yaml12-scalars.yaml")], now=NOW)
    assert result.manifest is not None, result.diagnostics
    key = result.manifest.keys[0]
    assert key.name == "yes" and key.model_whitelist == frozenset({"on", "1:30"})
    assert key.allocated_ammount == Decimal(100)
    record(
        "input",
        "YAML 1.1 number forms: 050, 0x32, 1:30, 1e30, yes, on",
        6,
        "read as YAML 1.2; forms a reader could misread refused, naming the decimal",
    )


def test_an_empty_variable_takes_the_default_as_in_the_shell() -> None:
    result = manifest.load([str(MANIFESTS / "warn-expired.yaml")], env={"EH_A": ""}, now=NOW)
    assert result.manifest is not None, result.diagnostics
    assert result.manifest.keys[0].proxy_key.reveal() == "ek-proxy-test-aaaaaaaaaaaa1111"
    record("input", "${VAR:-default} with VAR set but empty", 1, "the default, as in the shell")


def test_an_empty_variable_without_default_says_empty(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\nkeys:\n  - {proxy_key: '${EH_E}', name: e, limit_type: daily}\n")
    result = manifest.load([str(path)], env={"EH_E": ""}, now=NOW)
    assert [e.message for e in result.errors] == [
        "environment variable EH_E is empty (and has no :- default)"
    ]


def test_bad_lines_of_the_ci_secret_are_named_by_line_never_by_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\nkeys:\n  - {proxy_key: '${EH_ONE}', name: one, limit_type: daily}\n")
    lines = [
        "# one line per key",
        "EH_ONE=ek-proxy-secretone0000001",
        "ek-proxy-pastedwithoutname0002",  # 3: garbage
        "",
        "EH_ONE=ek-proxy-secretother000003",  # 5: the same NAME, another key
        "EH_TWO=ek-proxy-secrettwo0000004",
        "EH_TWO=ek-proxy-secrettwo0000004",  # 7: the same NAME, the same key
    ]
    monkeypatch.setenv("EHKEYS_PROXY_KEYS", "\n".join(lines))
    assert main(["validate", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "EHKEYS_PROXY_KEYS:3:1: warning: not a NAME=value line: ignored" in out
    assert "EHKEYS_PROXY_KEYS:5:1: EH_ONE: set again, to another value (first on line 2): keep one" in out
    assert "EHKEYS_PROXY_KEYS:7:1: warning: EH_TWO: set again, to the same value (first on line 6)" in out
    for secret in ("secretone", "pastedwithoutname", "secretother", "secrettwo"):
        assert secret not in out + err
    record(
        "secret",
        "EHKEYS_PROXY_KEYS with a line that is not NAME=value, and NAMEs given twice",
        2,
        "reported by line number and NAME, never a value",
    )


def test_a_key_variable_with_a_trailing_newline_is_stripped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("seed.yaml").write_text(yaml.safe_dump(seed_data(1)))
    Path("keys.yaml").write_text(manifest_text(1))
    monkeypatch.setenv("EH_KEY_0", key_value(0) + " \n")
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--sandbox", "--sandbox-seed", "seed.yaml")
    assert code == 0, err
    assert "0 errors" in out  # the lookup found the key
    assert (
        "keys[key-0].proxy_key: the value from EH_KEY_0 has trailing whitespace (a newline and a space)"
        in err
    )
    assert "secretpart" not in out + err
    record("input", "a key variable with a trailing space and newline", 1, "stripped, with a warning; found")


def test_a_directory_is_read_at_every_depth_and_each_file_once(tmp_path: Path) -> None:
    body = "version: 1\nkeys:\n  - {proxy_key: '${X:-ek-proxy-key-%s}', name: %s, limit_type: daily}\n"
    (tmp_path / "team" / "batch").mkdir(parents=True)
    (tmp_path / "top.yaml").write_text(body % ("0001", "top"))
    (tmp_path / "team" / "batch" / "deep.yml").write_text(body % ("0002", "deep"))
    for hidden in (".ehkeys", ".git"):
        (tmp_path / hidden).mkdir()
        (tmp_path / hidden / "not-a-manifest.yaml").write_text("anything: [")
    (tmp_path / ".pre-commit-config.yaml").write_text("repos: []\n")
    result = manifest.load([str(tmp_path), str(tmp_path / "top.yaml"), str(tmp_path / "team")], now=NOW)
    assert result.manifest is not None, result.diagnostics
    assert sorted(k.name for k in result.manifest.keys) == ["deep", "top"]
    record(
        "files",
        "a directory with subdirectories, hidden ones, and files also named on their own",
        1,
        "every manifest read once, at any depth; .git and .ehkeys skipped",
    )


def test_a_folders_link_that_loops_is_said_never_an_internal_error(tmp_path: Path, capsys: Any) -> None:
    """The walk lists a link by its name; following it never reaches a file. The rules review
    assembles a base's links as links too, so its loops reach the loader the same way."""
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "a.yaml").symlink_to("b.yaml")
    (tmp_path / "keys" / "b.yaml").symlink_to("a.yaml")
    (tmp_path / "keys" / "c.yaml").write_text("version: 1\nkeys: []\n")
    result = manifest.load([str(tmp_path / "keys")], env={}, offline=True)
    looped = "a link that reaches no file (its links loop): link it to a file, or remove it"
    assert [d.text() for d in result.errors] == [
        f"{tmp_path / 'keys' / n}: {looped}" for n in ("a.yaml", "b.yaml")
    ]
    code, out, err = run_cli(capsys, "validate", str(tmp_path / "keys"))
    assert code == 1 and looped in out and "internal error" not in err
    record(
        "files",
        "a folder's YAML link that loops (a.yaml -> b.yaml -> a.yaml)",
        1,
        "an error naming each link",
    )


def test_validate_needs_no_secret_an_unset_variable_is_a_notice_with_strict(capsys: Any) -> None:
    """The pre-commit hook runs on a developer's machine, where CI's secrets are not set."""
    fixture = str(MANIFESTS / "bad-unset-env.yaml")
    code, out, _ = run_cli(capsys, "validate", fixture)
    assert code == 0 and out == ""
    code, out, _ = run_cli(capsys, "validate", fixture, "--strict")
    assert (
        code == 0
        and "notice: keys[Unset].proxy_key: environment variable EH_SURELY_UNSET_VAR is not set" in out
    )
    code, out, _ = run_cli(capsys, "validate", fixture, "--strict", "--format", "github")
    assert out.startswith("::notice file=")
    code, _, err = run_cli(capsys, "plan", fixture, "--sandbox")
    assert code == 1 and "EH_SURELY_UNSET_VAR is not set" in err  # plan needs every variable it uses


def test_validate_json_counts_each_severity_apart(capsys: Any) -> None:
    """`--strict --format json` counted an unset variable's notice as a warning (`"warnings": 1`,
    no diagnostic a warning) while the text said `0 warning(s)`: each count is of its severity."""
    unset, warned = str(MANIFESTS / "bad-unset-env.yaml"), str(MANIFESTS / "warn-expired.yaml")
    code, out, err = run_cli(capsys, "validate", unset, "--strict")
    assert code == 0 and "notice:" in out and err == "0 warning(s); 1 key(s) valid\n"
    for argv, counts in (
        ([unset, "--strict"], (0, 0, 1)),
        ([unset, warned], (0, 2, 0)),  # without --strict a notice is not shown, nor counted
        ([unset, warned, "--strict"], (2, 0, 1)),  # --strict: the warnings are errors
    ):
        code, out, _ = run_cli(capsys, "validate", "--format", "json", *argv)
        data = json.loads(out)
        severities = [d["severity"] for d in data["diagnostics"]]
        assert data["warnings"] == counts[1], argv
        wanted = dict(zip(("errors", "warnings", "notices"), counts, strict=True))
        assert {k: data[k] for k in wanted} == wanted, argv
        assert {k: severities.count(k.removesuffix("s")) for k in wanted} == wanted, argv
        rows = [{k: row[k] for k in wanted} for row in data["manifests"]]
        assert {k: sum(r[k] for r in rows) for k in wanted} == wanted, argv


def test_the_proxy_key_prefix_a_message_names_is_printed_as_typed(capsys: Any) -> None:
    """Output is scrubbed of keys; the bare prefix `ek-proxy-` is none, and was printed as
    `must start with 'ek-proxy-…oxy-'`, a redaction of the message's own words."""
    code, out, err = run_cli(capsys, "validate", str(MANIFESTS / "bad-not-a-proxy-key.yaml"))
    assert code == 1 and "it must start with 'ek-proxy-'\n" in out + err, out + err
    assert "ek-1234567890" not in out + err  # the value itself is still never shown


def test_validate_names_a_key_by_its_id_as_plan_does(capsys: Any, tmp_path: Path, monkeypatch: Any) -> None:
    """`keys[3]` said little in a team file: validate (and plan refusing the manifest) name the key
    by its id, else its name; FILE:LINE:COL stay, and JSON keeps the index path beside `key`."""
    file = str(MANIFESTS / "bad-fourth-key-negative-allocation.yaml")
    code, out, _ = run_cli(capsys, "validate", file)
    assert code == 1
    assert f"{file}:8:53: keys[billing].allocated_ammount: must be >= 0 (got -5)" in out
    assert f"{file}:7:57: keys['Docs Bot'].limit_type: must be one of daily" in out
    assert "keys[3]" not in out and "keys[2]" not in out
    _, out, _ = run_cli(capsys, "validate", file, "--format", "json")
    found = {d["key"]: d["path"] for d in json.loads(out)["diagnostics"]}
    assert found == {"billing": "keys[3].allocated_ammount", "Docs Bot": "keys[2].limit_type"}
    monkeypatch.chdir(tmp_path)
    shutil.copy(file, "keys.yaml")
    code, _, err = run_cli(capsys, "plan", "keys.yaml", "--sandbox")
    assert code == 1 and "keys.yaml:8:53: keys[billing].allocated_ammount: must be >= 0" in err


def test_json_names_the_key_of_a_key_said_twice(capsys: Any, tmp_path: Path) -> None:
    """A duplicate id, name or proxy_key, and a name used twice, are problems of one key entry:
    JSON said `key: null` for them, where every other problem of a key names it."""
    said = {}
    for fixture in (
        "bad-duplicate-id-on-a-key-with-another-error",
        "bad-duplicate-key",
        "bad-duplicate-id-in-one-account",
    ):
        code, out, _ = run_cli(capsys, "validate", str(MANIFESTS / f"{fixture}.yaml"), "--format", "json")
        assert code == 1
        said.update({d["message"].split(":")[0]: d["key"] for d in json.loads(out)["diagnostics"]})
    assert said["duplicate id 'backend'"] == "backend"
    assert said["duplicate name 'Shared'"] == "Shared"
    assert said["duplicate proxy_key"] == "Second"  # the later entry, as its FILE:LINE is
    assert said["duplicate id 'backend' in account prod"] == "backend"
    twice = tmp_path / "keys.yaml"
    twice.write_text(
        "version: 1\nkeys:\n  - {id: a, name: Same, limit_type: daily}\n  - {id: b, name: Same, limit_type: daily}\n"
    )
    code, out, _ = run_cli(capsys, "validate", str(twice), "--format", "json")
    (warned,) = json.loads(out)["diagnostics"]
    assert (code, warned["key"], warned["severity"]) == (0, "b", "warning"), warned


def test_strict_validate_notes_unset_account_key_and_sink_token_variables(
    capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As for a proxy key's: `accounts.X.api_key: ${EH_PROD_API_KEY}` and a GitHub secret's
    `token: ${DEPLOY_TOKEN}` unset are notices with --strict (never a failure, never a value);
    a set one says nothing."""
    fixture = str(MANIFESTS / "notice-unset-account-key-and-sink-token.yaml")
    for var in ("EH_PROD_API_KEY", "DEPLOY_TOKEN", "WEB_DEPLOY_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EH_STAGING_API_KEY", "ek-sentinel-staging-account-key")
    code, out, _ = run_cli(capsys, "validate", fixture)
    assert code == 0 and out == ""
    code, out, _ = run_cli(capsys, "validate", fixture, "--strict")
    assert code == 0, out
    assert out.splitlines() == [
        f"{fixture}:3:19: notice: accounts.prod.api_key: environment variable EH_PROD_API_KEY is not set: "
        "plan and apply need it (the key of account prod)",
        f"{fixture}:8:46: notice: defaults.deliver[0].github_secret.token: environment variable "
        "WEB_DEPLOY_TOKEN is not set: apply and deliver need it to write this secret",
        f"{fixture}:14:48: notice: keys[backend].deliver[0].github_secret.token: environment variable "
        "DEPLOY_TOKEN is not set: apply and deliver need it to write this secret",
    ]
    assert "EH_STAGING_API_KEY" not in out and "sentinel" not in out


def test_strict_validate_notes_a_vault_sinks_unset_variables_and_a_command_not_there(
    capsys: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What the apply refuses a sink for before anything is sent, known offline: VAULT_ADDR and
    VAULT_TOKEN (read by every Vault sink, named by none), and a command's program not on PATH;
    notices with --strict, as an unset token's (a developer's machine need not have what CI has)."""
    fixture = str(MANIFESTS / "notice-vault-sink-and-command-not-there.yaml")
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    monkeypatch.setenv("VAULT_TOKEN", "")
    code, out, _ = run_cli(capsys, "validate", fixture)
    assert code == 0 and out == ""
    code, out, _ = run_cli(capsys, "validate", fixture, "--strict")
    assert code == 0, out
    need = "apply and deliver need it to write this secret"
    assert out.splitlines() == [
        f"{fixture}:5:14: notice: defaults.deliver[0].vault: environment variable VAULT_ADDR is not set: {need}",
        f"{fixture}:5:14: notice: defaults.deliver[0].vault: environment variable VAULT_TOKEN is empty: {need}",
        f"{fixture}:10:18: notice: keys[backend].deliver[0].command: ehkeys-no-such-deliverer is not a command "
        "on PATH: apply and deliver need it to run this sink",
        f"{fixture}:11:16: notice: keys[backend].deliver[1].vault: environment variable VAULT_ADDR is not set: "
        + need,
        f"{fixture}:11:16: notice: keys[backend].deliver[1].vault: environment variable VAULT_TOKEN is empty: "
        + need,
    ]
    monkeypatch.setenv("VAULT_ADDR", "https://vault.example:8200")
    monkeypatch.setenv("VAULT_TOKEN", "hvs.sentinel-token")
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    monkeypatch.chdir(tmp_path)
    text = Path(fixture).read_text().replace("ehkeys-no-such-deliverer", Path(sys.executable).name)
    Path("set.yaml").write_text(text)
    code, out, _ = run_cli(capsys, "validate", "set.yaml", "--strict")
    assert code == 0 and out == "", out


@pytest.mark.parametrize(
    ("fixture", "said"),
    [
        (
            "bad-limit-type-at-the-top-level.yaml",
            ":2:1: limit_type: unknown field 'limit_type' here: a key's field; did you mean defaults.limit_type?",
        ),
        (
            "bad-group-limit-type-beside-its-defaults.yaml",
            ":4:5: groups.ml.limit_type: unknown field 'limit_type' here: a key's field; did you mean "
            "groups.ml.defaults.limit_type?",
        ),
        (
            "bad-key-name-at-the-top-level.yaml",
            ":4:1: name: unknown field 'name' here: a key's own field; write it on each key under keys:",
        ),
    ],
)
def test_a_key_field_written_above_the_keys_says_where_it_belongs(
    fixture: str, said: str, capsys: Any
) -> None:
    """`limit_type` at the top level was "unknown field" with no hint (its close matches are none)."""
    file = str(MANIFESTS / fixture)
    code, out, _ = run_cli(capsys, "validate", file)
    assert code == 1 and file + said in out, out


@pytest.mark.parametrize(
    ("proxy_key", "env", "warned"),
    [
        ("${EH_K:-ek-proxy-fallbacksecret42abcdef}", {"EH_K": "ek-proxy-fromthevariable0001"}, True),
        ("${EH_K:-ek-proxy-fallbacksecret42abcdef}", {}, True),
        ("${EH_K:-ek-proxy-demo-support-0004}", {}, True),  # a key as a literal is: by its prefix
        ("${EH_K:-ek-proxy-demo-support-0004}", {"EH_K": "ek-proxy-fromthevariable0001"}, True),
        ("ek-proxy-${EH_K:-fallbacksecret42abcdef}", {}, True),  # its body, after a written prefix
        ("${EH_K:-ek-proxy-}${EH_B}", {"EH_B": "fromthevariable0001"}, False),  # the prefix is no key
        ("${EH_K:-}", {"EH_K": "ek-proxy-fromthevariable0001"}, False),
        ("ek-proxy-${EH_K}", {"EH_K": "fromthevariable0001"}, False),
        ("${EH_K}", {"EH_K": "ek-proxy-fromthevariable0001"}, False),
    ],
)
def test_a_key_written_as_a_default_is_a_secret_in_the_file(
    tmp_path: Path, proxy_key: str, env: dict[str, str], warned: bool
) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(f"version: 1\nkeys:\n  - proxy_key: '{proxy_key}'\n    name: K\n    limit_type: daily\n")
    result = manifest.load([str(path)], env=env, now=NOW)
    assert result.manifest is not None
    said = [d.message for d in result.diagnostics if "plain-text proxy key" in d.message]
    assert bool(said) is warned
    assert not any("fallbacksecret42" in m or "fromthevariable" in m for m in said)


def test_many_keys_written_as_defaults_are_one_grouped_warning(tmp_path: Path, capsys: Any) -> None:
    """500 keys bound by `${EH_Bi:-ek-proxy-…}` are one line with the count and the first places,
    as 500 literal keys are: not 500 lines, one a variable, burying every other warning."""
    keys = "".join(
        f"  - {{proxy_key: '${{EH_B{i}:-ek-proxy-default-{i:04d}}}', name: k{i}, limit_type: daily}}\n"
        for i in range(500)
    )
    path = tmp_path / "keys.yaml"
    path.write_text(f"version: 1\nkeys:\n{keys}")
    code, out, err = run_cli(capsys, "validate", str(path))
    lines = out.splitlines()
    assert code == 0 and len(lines) == 1 and "as a ${VAR:-…} default" in lines[0], lines[:3]
    assert "500 places: lines 3, 4, 5" in lines[0] and "ek-proxy-default" not in out + err, lines[0]


def test_an_account_name_ending_in_a_newline_is_refused_on_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Python's `$` matches before a final newline, so the schema's patterns passed `"prod\\n"`:
    the account got a state folder named with a newline. JSON Schema's `$` is the end of the
    text (`schemarules.ecma`); the problem's path shows the newline escaped, one line still."""
    assert main(["validate", str(MANIFESTS / "bad-account-name-ending-in-a-newline.yaml")]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(
        line.endswith(
            ":3:3: accounts.prod\\u000a: account name 'prod\\n' must be lower-case letters, digits, '-' and '_', starting with a letter or digit, at most 32 (an account's name names its state folder and prefixes its keys' addresses, prod/backend)"
        )
        for line in lines
    ), lines
    assert any(":5:24: keys[a].account: account 'prod\\n' must be" in line for line in lines), lines
