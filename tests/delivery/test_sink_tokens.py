"""A token written in a command sink's arguments (`gh ... --token ghp_…`, a Vault `hvs.` token):
the plan (text, Markdown, JSON, the saved plan), apply's output and its errors showed it whole
wherever they named the sink, and `validate` said nothing of it. Now it is shown as a proxy key
is, `ghp_…` and its last 4, and `validate` warns at its line (`--strict` fails)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.sinks import CommandSink, FileSink, VaultSink
from reconciler.delivery import errors
from reconciler.manifest import keytext

from ..helpers import free_port, run_cli
from .manifests import delivering

GITHUB = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"
FINE_GRAINED = "github_pat_11ABCDEFG0123456789abc_" + "abcdefghijklmnopqrstuvwxyz" * 2 + "ABCDEFG"
VAULT = "hvs.CAESIJlWh6TZMI6p4XBsqzQ1abcdefGh4HDpZaGh2b3NzLkVFOEt0dTZ4bFVUNEdtS1RUd1Z6"
LEGACY_VAULT = "s.Qf1s5zigZ4OX6akYjQXJC1jY"
TOKENS = [GITHUB, FINE_GRAINED, VAULT, LEGACY_VAULT]
# The command reads the value, then fails saying the token it was given ($0: its argument).
FAILS = 'cat >/dev/null; echo "refused: $0" >&2; exit 4'


def manifest(tokens: list[str] = TOKENS) -> str:
    return delivering(*(f"command: [sh, -c, '{FAILS}', {token}]" for token in tokens))


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keys.yaml").write_text(manifest())
    return tmp_path


def _no_token(*texts: str) -> None:
    for text in texts:
        for token in TOKENS:
            assert token[-12:-4] not in text, text  # nor a piece of one


def test_the_plan_in_every_format_and_the_saved_plan_show_a_token_as_prefix_and_last_4(
    workdir: Path, capsys: Any
) -> None:
    outputs = []
    for shown in ("text", "markdown", "json"):
        code, out, err = run_cli(
            capsys, "plan", "keys.yaml", "--sandbox", "--format", shown, "--out", f"{shown}.json"
        )
        assert code == 0, out + err
        outputs += [out, err, (workdir / f"{shown}.json").read_text()]
    code, out, err = run_cli(capsys, "show", "text.json")
    outputs += [out, err]
    _no_token(*outputs)
    assert "ghp_…yzAB" in outputs[0] and "hvs.…d1Z6" in outputs[0] and "s.…C1jY" in outputs[0]
    assert "github_pat_…DEFG" in outputs[0]


def test_apply_s_output_and_its_errors_never_show_the_token(workdir: Path, capsys: Any) -> None:
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--sandbox", "--auto-approve")
    assert code == 3, out + err
    assert "✗ api → command sh -c " in out and "failed: sh exited 4: refused: ghp_…yzAB" in out, out
    _no_token(out, err)


def test_a_sink_with_a_token_left_owed_then_removed_is_named_without_it(workdir: Path, capsys: Any) -> None:
    """The plan's note of a delivery still owed to a sink no longer in the manifest named it as
    the state knows it: its words whole."""
    assert run_cli(capsys, "apply", "keys.yaml", "--sandbox", "--auto-approve")[0] == 3  # all owed
    (workdir / "keys.yaml").write_text(manifest([]).replace("deliver:\n", "deliver: []\n"))
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--sandbox")
    assert code == 0 and "no longer in the manifest" in out and "ghp_…yzAB" in out, out + err
    _no_token(out, err)


def test_validate_warns_of_a_token_at_its_line_never_showing_it_and_strict_fails(
    workdir: Path, capsys: Any
) -> None:
    code, out, err = run_cli(capsys, "validate", "keys.yaml")
    assert code == 0, out + err
    assert (
        f"keys.yaml:8:{len('      - command: [sh, -c, ') + len(FAILS) + 5}: warning: {keytext.TOKEN_MESSAGE}"
        in out
    )
    assert "(4 places: lines 8, 9, 10 and 1 more" in out, out
    _no_token(out, err)
    code, out, err = run_cli(capsys, "validate", "--strict", "keys.yaml")
    assert code == 1 and err.startswith("4 error(s)"), out + err
    _no_token(out, err)


def test_a_token_in_a_comment_is_warned_too_a_token_variable_is_not(workdir: Path, capsys: Any) -> None:
    text = manifest([]).replace("deliver:\n", "deliver: [{command: [gh, secret, set, X]}]  # GH_TOKEN\n")
    (workdir / "keys.yaml").write_text(text + f"# the old one: {GITHUB}\n")
    code, out, err = run_cli(capsys, "validate", "keys.yaml")
    assert code == 0 and f"keys.yaml:8:16: warning: {keytext.TOKEN_MESSAGE}\n" in out, out + err
    (workdir / "keys.yaml").write_text(text + "# the token: ${GH_TOKEN}, ghp_…yzAB as shown\n")
    code, out, err = run_cli(capsys, "validate", "keys.yaml")
    assert code == 0 and "token" not in out, out + err


def test_a_github_secret_s_written_token_is_refused_once_not_warned_of_again(
    workdir: Path, capsys: Any
) -> None:
    text = manifest([]) + f"      - github_secret: {{repo: acme/api, token: {GITHUB}}}\n"
    (workdir / "keys.yaml").write_text(text)
    code, out, err = run_cli(capsys, "validate", "keys.yaml")
    assert code == 1 and out.count("keys.yaml:8:") == 1 and "must be a reference" in out, out + err
    _no_token(out, err)


def test_a_command_s_json_error_never_shows_its_token_after_an_escaped_newline(
    workdir: Path, capsys: Any
) -> None:
    """A program that reports its failure as JSON (`{"error": "refused\\nghp_…"}`) wrote the token
    right after `\\n`, a letter: taken for the middle of a word, it was shown whole in apply's
    output."""
    script = 'import json, sys; sys.stdin.read(); sys.exit(json.dumps({"error": "refused\\n" + sys.argv[1]}))'
    (workdir / "keys.yaml").write_text(
        manifest([]) + f"      - command: [{sys.executable}, -c, '{script}', {GITHUB}]\n"
    )
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--sandbox", "--auto-approve")
    assert code == 3 and 'exited 1: {"error": "refused\\nghp_…yzAB"}' in out, out + err
    _no_token(out, err)


def test_the_state_and_the_journal_know_a_sink_with_a_token_without_it(workdir: Path, capsys: Any) -> None:
    """They named a command sink by its words whole: a token written in them went to the state,
    which the GitOps jobs push to the state branch. Now its words as shown, and a digest."""
    assert run_cli(capsys, "apply", "keys.yaml", "--sandbox", "--auto-approve")[0] == 3  # owed
    kept = [p.read_text() for p in (workdir / ".ehkeys").rglob("*.json*")]  # states, journals
    assert any("command sh -c" in text for text in kept), "the owed deliveries are recorded"
    _no_token(*kept)
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--sandbox")  # known again, still owed
    assert code == 0 and "no longer in the manifest" not in out, out + err


def test_a_sink_an_earlier_ehkeys_recorded_with_its_token_whole_is_known_again(
    workdir: Path, capsys: Any
) -> None:
    """States and journals written before hold such a sink's words whole: read as this version
    names it, the delivery made is not reported as never received."""
    (workdir / "keys.yaml").write_text(manifest([GITHUB]).replace(FAILS, "cat > got.txt"))
    assert run_cli(capsys, "apply", "keys.yaml", "--sandbox", "--auto-approve")[0] == 0
    ident = CommandSink(("sh", "-c", "cat > got.txt", GITHUB)).ident
    assert ident.startswith("command sh -c 'cat > got.txt' ghp_…yzAB #"), ident
    replaced = 0
    for kept in (workdir / ".ehkeys").rglob("*.json*"):  # as an earlier ehkeys wrote them
        text = kept.read_text()
        for form in (ident, json.dumps(ident)[1:-1]):  # as written, or with `…` escaped
            replaced += text.count(form)
            text = text.replace(form, f"command sh -c 'cat > got.txt' {GITHUB}")
        kept.write_text(text)
    assert replaced
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--sandbox")
    assert code == 0 and "never received" not in out + err, out + err


PATH_SINKS = f"      - file: out/{GITHUB}/app.env\n      - vault: {{path: 'apps/{VAULT}', field: key}}\n"


def test_a_token_in_a_file_or_vault_sink_s_path_is_shown_as_prefix_and_last_4(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command sink's words were scrubbed wherever they were shown, a file sink's path and a
    Vault sink's path not: the plan, its Markdown and JSON, the saved plan, apply's report and
    its errors, and `validate`'s and plan's word that git would track the file showed it whole."""
    (workdir / "keys.yaml").write_text(manifest([]) + PATH_SINKS)
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--sandbox")  # the sinks' offline checks
    assert "out/ghp_…yzAB/app.env: its folder does not exist: an apply run so refuses" in out, out + err
    assert "vault secret/apps/hvs.…d1Z6#key: VAULT_ADDR and VAULT_TOKEN are not set" in out, out
    _no_token(out, err)
    (workdir / "out" / GITHUB).mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(workdir)], check=True)  # git would track the file: refused
    for argv in (("validate", "keys.yaml"), ("plan", "keys.yaml", "--sandbox")):
        code, out, err = run_cli(capsys, *argv)
        assert "out/ghp_…yzAB/app.env: git would track this file" in out + err, out + err
        _no_token(out, err)
    shutil.rmtree(workdir / ".git")

    outputs = []
    for shown in ("text", "markdown", "json"):
        code, out, err = run_cli(
            capsys, "plan", "keys.yaml", "--sandbox", "--format", shown, "--out", "p.json"
        )
        assert code == 0, out + err
        outputs += [out, err, (workdir / "p.json").read_text(), *run_cli(capsys, "show", "p.json")[1:]]
    assert (
        "→ file out/ghp_…yzAB/app.env#EH_KEY_API" in outputs[0]
        and "→ vault secret/apps/hvs.…d1Z6#key" in outputs[0]
    )
    _no_token(*outputs)

    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--sandbox", "--auto-approve")  # VAULT_ADDR unset
    assert code == 1 and "vault secret/apps/hvs.…d1Z6#key: VAULT_ADDR and VAULT_TOKEN are not set" in err, err
    _no_token(out, err)
    monkeypatch.setattr(errors, "BACKOFF", (0.0, 0.0))  # the refused connection is tried again at once
    monkeypatch.setenv("VAULT_ADDR", f"http://127.0.0.1:{free_port()}")  # nothing listens: delivery fails
    monkeypatch.setenv("VAULT_TOKEN", "hvs.the-environment-s-own-token")
    code, out, err = run_cli(capsys, "apply", "keys.yaml", "--sandbox", "--auto-approve")
    assert code == 3 and "✓ api → file out/ghp_…yzAB/app.env#EH_KEY_API: delivered" in out, out + err
    assert "✗ api → vault secret/apps/hvs.…d1Z6#key: failed: " in out and "/data/apps/hvs.…d1Z6:" in out, out
    _no_token(out, err)


def test_the_state_and_the_journal_know_a_file_or_vault_sink_with_a_token_without_it(
    workdir: Path, capsys: Any
) -> None:
    """As for a command's words: a file's or a Vault path holding a token went whole to the
    state and journal (the state branch). Now as shown, with a digest; an earlier ehkeys'
    record, with the path whole, is known again."""
    (workdir / "keys.yaml").write_text(manifest([]) + PATH_SINKS)
    (workdir / "out" / GITHUB).mkdir(parents=True)
    owed = {"VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "x"}  # the Vault sink fails: owed
    with pytest.MonkeyPatch.context() as mp:
        for name, value in owed.items():
            mp.setenv(name, value)
        mp.setattr(errors, "BACKOFF", (0.0, 0.0))
        assert run_cli(capsys, "apply", "keys.yaml", "--sandbox", "--auto-approve")[0] == 3
    kept = {p: p.read_text() for p in (workdir / ".ehkeys").rglob("*.json*")}  # states, journals
    recorded = json.dumps("vault secret/apps/hvs.…d1Z6#key #")[1:-1]  # `…` as the JSON escapes it
    assert any(recorded in text for text in kept.values()), kept
    _no_token(*kept.values())
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--sandbox")
    assert code == 0 and "still to be delivered to vault secret/apps/hvs.…d1Z6#key" in out, out + err
    assert "no longer in the manifest" not in out and "never received" not in out, out

    for path, text in kept.items():  # as an earlier ehkeys wrote them: each sink's path whole
        for sink in (FileSink(f"out/{GITHUB}/app.env", "EH_KEY_API"), VaultSink(f"apps/{VAULT}", "key")):
            whole = f"{sink.ident.partition(' ')[0]} {sink.describe().partition(' ')[2]}"
            whole = whole.replace("ghp_…yzAB", GITHUB).replace("hvs.…d1Z6", VAULT)
            for form in (sink.ident, json.dumps(sink.ident)[1:-1]):
                text = text.replace(form, whole if form == sink.ident else json.dumps(whole)[1:-1])
        path.write_text(text)
    assert any(GITHUB in path.read_text() for path in kept), "the earlier form is what is read now"
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--sandbox")
    assert code == 0 and "still to be delivered to vault secret/apps/hvs.…d1Z6#key" in out, out + err
    assert "no longer in the manifest" not in out and "never received" not in out, out
