"""`deliver:` in the manifest: each bad sink named at its FILE:LINE:COL (fixtures named after the
failure), and where a key's sinks come from (the most specific list wins whole)."""

from __future__ import annotations

import pwd
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.sinks import CommandSink, FileSink, GitHubSecretSink, VaultSink
from reconciler.manifest import load as manifest

from ..conftest import MANIFESTS
from ..helpers import only_error_at, run_cli
from ..reliability_log import record

NOW = 1_800_000_000

# fixture -> (line, col, path, a fragment of the message)
ERRORS = [
    (
        "bad-deliver-github-secret-no-repo.yaml",
        7,
        24,
        "keys[0].deliver[0].github_secret",
        "missing required field 'repo'",
    ),
    (
        "bad-deliver-github-secret-literal-token.yaml",
        7,
        48,
        "keys[0].deliver[0].github_secret.token",
        "must be a reference to the environment variable that holds the token, as ${VAR}",
    ),
    (
        "bad-deliver-github-secret-reserved-name.yaml",
        7,
        47,
        "keys[0].deliver[0].github_secret.name",
        "GitHub refuses secret names that start with GITHUB_",
    ),
    (
        "bad-deliver-github-secret-bad-repo.yaml",
        7,
        31,
        "keys[0].deliver[0].github_secret.repo",
        "must be OWNER/REPO, as in github.com/OWNER/REPO (got 'https://github.com/acme/api')",
    ),
    (
        "bad-deliver-two-kinds-in-one-sink.yaml",
        7,
        9,
        "keys[0].deliver[0]",
        "a sink is one of file, command, github_secret, vault; this one names file and command",
    ),
    (
        "bad-deliver-timeout-on-a-file.yaml",
        8,
        18,
        "keys[0].deliver[0].timeout",
        "timeout: is for a command sink, not file",
    ),
    (
        "bad-deliver-command-timeout-nan.yaml",  # no bound refused it: each delivery 'timed out'
        8,
        18,
        "keys[0].deliver[0].timeout",
        "must be a number (.nan is 'not a number'",
    ),
    ("bad-deliver-vault-no-path.yaml", 7, 16, "keys[0].deliver[0].vault", "missing required field 'path'"),
    ("bad-deliver-command-empty.yaml", 7, 18, "keys[0].deliver[0].command", "should be non-empty"),
    (
        "bad-deliver-sink-named-twice.yaml",
        8,
        9,
        "keys[0].deliver[1]",
        "vault secret/apps/api#key is named twice: deliver to it once",
    ),
    (
        "bad-deliver-two-keys-one-secret.yaml",
        8,
        5,
        "deliver",
        "worker delivers to github_secret acme/api:EH_KEY, as api at",
    ),
    (
        "bad-deliver-account-sink-of-no-kind.yaml",
        7,
        9,
        "accounts.prod.deliver[0]",
        "a sink is one of file, command, github_secret, vault; this one names none of them",
    ),
    (
        "bad-deliver-vault-path-climbs-out.yaml",
        7,
        23,
        "keys[0].deliver[0].vault.path",
        "apps/../../sys/policy/admin: an empty, . or .. part would send the value to another path",
    ),
    (
        "bad-deliver-github-secret-repo-is-dot-dot.yaml",
        7,
        31,
        "keys[0].deliver[0].github_secret.repo",
        "acme/..: . and .. name no repo",
    ),
    (
        "bad-deliver-github-secret-repo-ends-in-a-newline.yaml",  # the schema's pattern lets it by
        7,
        31,
        "keys[0].deliver[0].github_secret.repo",
        "must be OWNER/REPO, as in github.com/OWNER/REPO (got 'acme/api\\n')",
    ),
    (
        "bad-deliver-github-secret-environment-is-dot-dot.yaml",
        7,
        54,
        "keys[0].deliver[0].github_secret.environment",
        "..: . and .. name no environment",
    ),
    (
        "bad-deliver-two-keys-one-file-spelled-two-ways.yaml",
        7,
        5,
        "deliver",
        "worker delivers to file ./config/../app.env#OPENAI_API_KEY, as api at",
    ),
    (
        "bad-deliver-two-keys-one-secret-in-two-cases.yaml",
        7,
        5,
        "deliver",
        "worker delivers to github_secret Acme/API:eh_key, as api at",
    ),
    (
        "bad-deliver-github-token-is-the-account-key.yaml",
        7,
        5,
        "deliver",
        "github_secret acme/api:EH_KEY: its token, ${EH_PROD_API_KEY}, holds an ElectronHub account key",
    ),
    ("bad-deliver-file-path-with-nul.yaml", 7, 15, "keys[0].deliver[0].file", "holds a NUL character"),
    ("bad-deliver-command-with-nul.yaml", 7, 23, "keys[0].deliver[0].command[1]", "holds a NUL character"),
    (
        "bad-deliver-file-is-a-folder.yaml",
        7,
        15,
        "keys[0].deliver[0].file",
        "config/ names a folder: give the file's own path (config/app.env)",
    ),
    (
        "bad-deliver-file-is-the-manifest.yaml",
        7,
        15,
        "keys[0].deliver[0].file",
        "bad-deliver-file-is-the-manifest.yaml is a YAML or JSON file (a manifest, a state, a plan)",
    ),
    (
        "bad-deliver-file-to-stdout.yaml",
        7,
        15,
        "keys[0].deliver[0].file",
        "/dev/stdout is not a regular file: a secret goes only to a file (0600), never a stream",
    ),
    (
        "bad-deliver-file-home-of-unknown-user.yaml",
        7,
        15,
        "keys[0].deliver[0].file",
        "~ehkeys-no-such-user is the home folder of the user ehkeys-no-such-user, not known on this machine",
    ),
]


@pytest.mark.parametrize(("fixture", "line", "col", "path", "fragment"), ERRORS)
def test_each_bad_sink_names_file_line_and_problem(
    fixture: str, line: int, col: int, path: str, fragment: str, capsys: Any
) -> None:
    only_error_at(capsys, MANIFESTS / fixture, line, col, path, fragment)


def test_a_sink_problem_found_once_the_keys_are_made_names_its_key(capsys: Any) -> None:
    """As `keys[api].name` does: `deliver:` alone at the key's line left the reader to find it."""
    file = MANIFESTS / "bad-deliver-github-token-is-the-account-key.yaml"
    code, out, _ = run_cli(capsys, "validate", str(file))
    assert code == 1 and f"{file}:7:5: keys[api].deliver: github_secret acme/api:EH_KEY: its token" in out


def test_a_home_folder_where_home_is_not_set_is_said_at_the_sinks_line(
    capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A container whose user has no passwd entry, run without HOME: `~` names no folder."""

    def unknown(uid: int) -> Any:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(pwd, "getpwuid", unknown)
    fixture = MANIFESTS / "bad-deliver-file-under-home-without-home.yaml"
    code, out, err = run_cli(capsys, "validate", str(fixture))
    assert code == 1 and "internal error" not in err
    assert (
        f"{fixture}:7:15: keys[api].deliver[0].file: ~/app.env: ~ is the home folder, but HOME is not set "
        "(and this user has none): set HOME or write the full path" in out
    )


def test_a_literal_token_is_never_echoed(capsys: Any) -> None:
    for fmt in ("text", "json", "github"):
        code, out, err = run_cli(
            capsys,
            "validate",
            "--format",
            fmt,
            str(MANIFESTS / "bad-deliver-github-secret-literal-token.yaml"),
        )
        assert code == 1 and "sentinelsecret7777" not in out + err


def test_the_most_specific_deliver_list_wins_whole() -> None:
    result = manifest.load([str(MANIFESTS / "ok-deliver-most-specific-wins.yaml")], env={}, now=NOW)
    assert result.errors == [], result.errors
    assert result.manifest is not None
    keys = {k.address: k.deliver for k in result.manifest.keys}
    folder = str(MANIFESTS)
    assert keys["own"] == (CommandSink(("gh", "secret", "set", "EH_KEY"), 30.0),)
    assert keys["none"] == ()
    assert keys["grouped"] == (
        GitHubSecretSink("acme/payments", "EH_KEY_PROD_GROUPED", "production", "PAYMENTS_TOKEN"),
    )
    assert keys["accounted"] == (VaultSink("prod/keys", "EH_KEY_PROD_ACCOUNTED"),)
    assert keys["defaulted"] == (FileSink("defaults.env", "EH_KEY_STAGING_DEFAULTED", folder),)
    assert keys["named"] == (FileSink("named.env", "OPENAI_API_KEY", folder),)
    assert (
        keys["grouped"][0].describe()
        == "github_secret acme/payments:EH_KEY_PROD_GROUPED (environment production)"
    )
    assert keys["accounted"][0].describe() == "vault secret/prod/keys#EH_KEY_PROD_ACCOUNTED"


def test_deliver_changes_the_digest_only_where_it_is_set(tmp_path: Path) -> None:
    plain = "version: 1\ndefaults: {limit_type: daily}\nkeys:\n  - {id: api, name: API}\n"
    with_sink = plain.replace("name: API}", "name: API, deliver: [{file: .env}]}")
    digests = []
    for n, text in enumerate((plain, with_sink)):
        path = tmp_path / f"keys{n}.yaml"
        path.write_text(text)
        loaded = manifest.load([str(path)], env={}, now=NOW).manifest
        assert loaded is not None
        digests.append(loaded.digest)
    assert digests[0] != digests[1]


CLASH = """version: 1
defaults: {limit_type: daily}
keys:
  - {id: a, name: svc-a, allocated_ammount: 1, deliver: [{file: a.env, name: APP_KEY}]}
  - {id: b, name: svc-b, allocated_ammount: 1, deliver: [{file: SPELLING, name: APP_KEY}]}
"""


@pytest.mark.parametrize("spelling", ["link", "absolute"])
def test_two_spellings_of_one_file_are_one_file(
    spelling: str, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link to the file, or its absolute path: the same file, as the sink resolves it from the
    manifest's folder (not from where ehkeys runs); b's line would have replaced a's."""
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "b.env").symlink_to("a.env")
    other = str(folder / "a.env") if spelling == "absolute" else "b.env"
    (folder / "keys.yaml").write_text(CLASH.replace("SPELLING", other))
    monkeypatch.chdir(tmp_path)  # a relative path is from the manifest's folder: repo/
    code, out, err = run_cli(capsys, "validate", "repo/keys.yaml")
    assert code == 1, out + err
    assert (
        f"repo/keys.yaml:5:5: deliver: b delivers to file {other}#APP_KEY, as a at repo/keys.yaml:4:5 "
        "does (to file a.env#APP_KEY: the same file): one value would overwrite the other" in out
    ), out
    code, out, err = run_cli(capsys, "apply", "repo/keys.yaml", "--auto-approve", "--sandbox")
    assert code == 1 and not (folder / "a.env").exists(), out + err
    record(
        "secret", f"two keys delivering to one file spelled two ways ({spelling})", 1, "refused, naming both"
    )


def test_two_files_of_one_name_in_two_folders_do_not_clash(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "keys.yaml").write_text(CLASH.replace("SPELLING", "one/a.env"))
    code, out, err = run_cli(capsys, "validate", str(tmp_path / "keys.yaml"))
    assert code == 0, out + err
