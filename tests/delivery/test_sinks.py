"""Each sink on its own, against the real thing or a fake served for real: the file on disk, the
command as a process, GitHub's Actions-secrets API (the fake opens each secret with its private
key: the value a workflow would read), Vault's KV v2 API. What a failure says names the sink and
what to do, never the value."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from reconciler.core.secrets import ProxyKey
from reconciler.core.sinks import CommandSink, FileSink, GitHubSecretSink, Recipient, Sink, VaultSink
from reconciler.delivery import command, errors, send
from reconciler.delivery.errors import DeliveryError

from .. import fakegithub
from ..fakegithub import FakeGitHub
from ..githubspec import error
from . import fakevault
from .fakevault import FakeVault

VALUE = ProxyKey("ek-proxy-delivered-0123456789abcdef")
WHO = Recipient("prod/api", "API", "prod", "EH_KEY_PROD_API")
RECORDER = Path(__file__).parent / "record_sink.py"


def deliver(sink: Sink, env: dict[str, str] | None = None, hidden: tuple[str, ...] = ()) -> None:
    asyncio.run(send.deliver(sink, VALUE, WHO, {**os.environ, **(env or {})}, hidden))


def failure(sink: Sink, env: dict[str, str] | None = None) -> str:
    with pytest.raises(DeliveryError) as caught:
        deliver(sink, env)
    assert VALUE.reveal() not in caught.value.message
    return caught.value.message


# --- file -------------------------------------------------------------------------------------


def test_a_file_gets_its_line_0600_and_keeps_every_other(tmp_path: Path) -> None:
    env = tmp_path / "app.env"
    env.write_text(
        "# the app's settings\nPORT=8080\nEH_KEY_PROD_API=ek-proxy-old-one\nexport EH_KEY_PROD_API=again\n"
    )
    env.chmod(0o644)
    deliver(FileSink("app.env", "EH_KEY_PROD_API", str(tmp_path)))
    assert env.read_text() == f"# the app's settings\nPORT=8080\nEH_KEY_PROD_API={VALUE.reveal()}\n"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    deliver(FileSink(str(env), "OTHER", ""))  # an absolute path; another name: one more line
    assert env.read_text().splitlines()[-1] == f"OTHER={VALUE.reveal()}"


def test_a_new_file_is_made_0600(tmp_path: Path) -> None:
    deliver(FileSink("new.env", "EH_KEY_PROD_API", str(tmp_path)))
    made = tmp_path / "new.env"
    assert made.read_text() == f"EH_KEY_PROD_API={VALUE.reveal()}\n"
    assert stat.S_IMODE(made.stat().st_mode) == 0o600


def test_a_file_git_would_track_is_refused(tmp_path: Path) -> None:
    if subprocess.run(["git", "--version"], capture_output=True).returncode != 0:
        pytest.skip("no git")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("ignored.env\n")
    message = failure(FileSink("app.env", "X", str(tmp_path)))
    assert "git would track this file" in message and not (tmp_path / "app.env").exists()
    deliver(FileSink("ignored.env", "X", str(tmp_path)))
    assert (tmp_path / "ignored.env").read_text() == f"X={VALUE.reveal()}\n"


def test_a_link_git_tracks_stays_a_link_and_its_target_gets_the_value(tmp_path: Path) -> None:
    if subprocess.run(["git", "--version"], capture_output=True).returncode != 0:
        pytest.skip("no git")
    repo, outside = tmp_path / "repo", tmp_path / "outside.env"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "app.env").symlink_to(outside)
    subprocess.run(["git", "-C", str(repo), "add", "app.env"], check=True)
    deliver(FileSink("app.env", "X", str(repo)))
    assert (repo / "app.env").is_symlink() and outside.read_text() == f"X={VALUE.reveal()}\n"
    status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True)
    assert status.stdout == "A  app.env\n"  # the link as added: no secret where git looks


def test_a_file_that_is_no_regular_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    assert "not a regular file" in failure(FileSink("folder", "X", str(tmp_path)))
    assert "its folder does not exist" in failure(FileSink("nowhere/app.env", "X", str(tmp_path)))


def test_a_file_write_cut_short_by_ctrl_c_leaves_no_copy_of_the_value_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (or SIGTERM, raised as one) while the temporary file is written: it held the value,
    and stayed as `.app.env.XXXX`, a name no `*.env` ignore rule covers, for git to pick up."""

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        deliver(FileSink("app.env", "X", str(tmp_path)))
    assert list(tmp_path.iterdir()) == []


# --- command ----------------------------------------------------------------------------------


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    out = tmp_path / "record.jsonl"
    monkeypatch.setenv("RECORD_TO", str(out))
    return out


def records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_a_command_gets_the_value_on_stdin_only(record: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EH_PROD_API_KEY", "ek-account-key-never-passed-on")
    deliver(CommandSink((sys.executable, str(RECORDER), "--secret", "EH_KEY")), hidden=("EH_PROD_API_KEY",))
    (got,) = records(record)
    assert got["stdin"] == VALUE.reveal()  # no newline after it
    assert not [a for a in got["argv"] if VALUE.reveal() in a]
    assert not [k for k, v in got["env"].items() if VALUE.reveal() in v]
    assert {k: v for k, v in got["env"].items() if k.startswith("EHKEYS_")} == {
        "EHKEYS_ADDRESS": "prod/api",
        "EHKEYS_NAME": "API",
        "EHKEYS_ACCOUNT": "prod",
        "EHKEYS_VARIABLE": "EH_KEY_PROD_API",
    }
    assert "EH_PROD_API_KEY" not in got["env"] and got["env"]["RECORD_TO"] == str(record)


def test_a_command_that_fails_says_why_without_the_value(
    record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECORD_EXIT", "4")
    monkeypatch.setenv("RECORD_SAY", "could not store {value} in the vault")
    message = failure(CommandSink((sys.executable, str(RECORDER))))
    assert message.startswith(f"{sys.executable} exited 4: could not store ek-proxy-…cdef in the vault")


def test_a_command_that_hangs_is_stopped_at_its_timeout(
    record: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECORD_BLOCK", str(tmp_path / "started"))
    message = failure(CommandSink((sys.executable, str(RECORDER)), timeout=0.5))
    assert "did not finish within 0.5 s: stopped" in message


def test_a_command_that_fails_echoing_a_token_never_shows_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", "ghp_sentinel-token-0123456789")
    echoes = "import os, sys; sys.stdin.read(); sys.exit('refused ' + os.environ['DEPLOY_TOKEN'])"
    message = failure(CommandSink((sys.executable, "-c", echoes)))
    assert message == f"{sys.executable} exited 1: refused …" and "sentinel" not in message


def test_a_command_that_hangs_is_stopped_with_what_it_started(tmp_path: Path) -> None:
    marker = tmp_path / "late"  # written by its child 0.5 s on, were that child left running
    script = f"(sleep 0.5; echo late > {marker}) & sleep 60"
    message = failure(CommandSink(("sh", "-c", script), timeout=0.2))
    assert message == "sh did not finish within 0.2 s: stopped"
    time.sleep(0.5)  # past the moment it would have written it
    assert not marker.exists()  # its child was stopped with it (its process group), not left behind


def test_a_command_that_exits_leaving_a_child_on_its_stderr_is_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a daemon it started keeps its standard error open: the command is done when it exits
    monkeypatch.setattr(command, "GRACE", 0.2)  # how long its standard error is read for after
    marker = tmp_path / "daemon-ended"
    deliver(CommandSink(("sh", "-c", f"cat > /dev/null; (sleep 3; touch {marker}) &"), timeout=5.0))
    assert not marker.exists()  # done while the daemon still holds its standard error


def test_a_command_that_reads_no_stdin_has_not_delivered() -> None:
    message = failure(CommandSink(("true",)))
    assert message == (
        "true exited 0 without reading the value from its standard input "
        f"({len(VALUE.reveal())} of its {len(VALUE.reveal())} characters left): it cannot have written it"
    )
    closes = "import os, time; os.close(0); time.sleep(0.2)"  # its stdin closed before we write
    assert "exited 0 without reading the value" in failure(CommandSink((sys.executable, "-c", closes)))


def test_a_command_killed_by_a_signal_is_named() -> None:
    kills = "import os, signal, sys; sys.stdin.read(); os.kill(os.getpid(), signal.SIGKILL)"
    assert failure(CommandSink((sys.executable, "-c", kills))) == f"{sys.executable} was killed by SIGKILL"


def test_a_command_with_endless_stderr_echoing_the_value_is_quoted_short_and_scrubbed() -> None:
    echoes = (
        "import sys; v = sys.stdin.read()\n"
        "for _ in range(20000): sys.stderr.write('x' * 1000 + ' ' + v + ' ' + v.upper() + '\\n')\n"
        "sys.exit(2)"
    )  # 20 MB, the value in it in two cases
    message = failure(CommandSink((sys.executable, "-c", echoes)))
    assert message.startswith(f"{sys.executable} exited 2: …") and len(message) < 600
    assert VALUE.reveal().lower() not in message.lower() and message.endswith("ek-proxy-…cdef ek-proxy-…cdef")


def pieces(secret: str, size: int = 8) -> list[str]:
    """Every `size`-character piece of a key's body (after `ek-proxy-`), lower case."""
    body = secret.removeprefix("ek-proxy-").lower()
    return [body[i : i + size] for i in range(len(body) - size + 1)]


@pytest.mark.parametrize(
    "prints",
    [
        '"${v#ek-}"',  # proxy-delivered-...: the prefix cut, as a shell does
        '"${v#ek-proxy-}"',
        '"$(printf %s "$v" | tr a-z A-Z | cut -c4-)"',  # upper case, without ek-
        '"key=$(printf %s "$v" | cut -c14-27)!"',  # a piece from the middle
    ],
    ids=["without-ek", "without-ek-proxy", "upper-case", "a-middle-piece"],
)
def test_a_command_that_prints_the_value_changed_never_shows_a_piece_of_it(prints: str) -> None:
    message = failure(CommandSink(("sh", "-c", f"read -r v; echo {prints} >&2; exit 3")))
    assert message.startswith("sh exited 3: ") and "…" in message, message
    assert not [p for p in pieces(VALUE.reveal()) if p in message.lower()], message


@pytest.mark.parametrize(
    "prints",
    [
        '"b=$(printf %s "$v" | base64 -w0)"',  # `set -x` tracing a base64 step (a Kubernetes secret)
        '"$(printf KEY=%s "$v" | base64 -w0)"',  # the value at another offset of the encoding
        '"$(printf %s "$v" | od -An -tx1 | tr -d " \\n")"',  # hex
    ],
    ids=["base64", "base64-after-a-prefix", "hex"],
)
def test_a_command_that_prints_the_value_encoded_never_shows_enough_to_decode_it(prints: str) -> None:
    message = failure(CommandSink(("sh", "-c", f"read -r v; echo {prints} >&2; exit 3")))
    assert message.startswith("sh exited 3: ") and "…" in message, message
    body = message.removeprefix("sh exited 3: ")
    for run in re.findall(r"[A-Za-z0-9+/=]{12,}", body):
        assert "proxy" not in _decoded(run), (run, message)


@pytest.mark.parametrize("dump", ["od -An -tx1", "xxd", "hexdump -C"])
def test_a_command_that_dumps_the_value_in_spaced_hex_never_shows_8_bytes_of_it(dump: str) -> None:
    if shutil.which(dump.split()[0]) is None:
        pytest.skip(f"no {dump.split()[0]} here")
    message = failure(CommandSink(("sh", "-c", f"{dump} >&2; exit 3")))
    assert message.startswith("sh exited 3: ") and "…" in message, message
    bare, raw = re.sub(r"[^0-9a-f]", "", message.lower()), VALUE.reveal().encode().hex()
    assert not [i for i in range(0, len(raw) - 15, 2) if raw[i : i + 16] in bare], message


@pytest.mark.parametrize(
    "dump", ["od -c", "od -x", "hexdump", "xxd -i", "base32", "fold -w6", "od -An -tx1 -w4"]
)
def test_a_dump_that_scrub_cannot_cut_is_not_shown_at_all(dump: str) -> None:
    """Each spells the whole key once its separators are dropped (`e k - p r o x y`, `0x65, 0x6b`,
    bytes swapped in pairs, base32, a key wrapped every 6 characters)."""
    if shutil.which(dump.split()[0]) is None:
        pytest.skip(f"no {dump.split()[0]} here")
    message = failure(CommandSink(("sh", "-c", f"{dump} >&2; exit 3")))
    assert (
        message
        == "sh exited 3: (its standard error is not shown: it spells the key's value, in some encoding)"
    )


def test_ordinary_standard_error_is_still_shown() -> None:
    said = "HTTP 403 for 123e4567-e89b-12d3-a456-426614174000 at sha 3f9a1c7e, retry in 30 s"
    message = failure(CommandSink(("sh", "-c", f"cat >/dev/null; echo '{said}' >&2; exit 3")))
    assert message == f"sh exited 3: {said}"


def _decoded(text: str) -> str:
    """`text` read as base64 or hex, whichever it is; '' when neither."""
    for decode in (bytes.fromhex, lambda t: base64.b64decode(t + "=" * (-len(t) % 4))):
        with contextlib.suppress(ValueError):
            return decode(text).decode("latin-1")
    return ""


def test_a_command_that_does_not_exist_is_named() -> None:
    assert (
        failure(CommandSink(("ehkeys-no-such-command-here",)))
        == "cannot run ehkeys-no-such-command-here: no such command"
    )


# --- github_secret ------------------------------------------------------------------------------


@pytest.fixture
def github() -> Iterator[tuple[FakeGitHub, dict[str, str]]]:
    fake = FakeGitHub()
    with fakegithub.serve(fake) as url:
        yield (
            fake,
            {
                "GITHUB_API_URL": url,
                "DEPLOY_TOKEN": fakegithub.TOKEN,
                "GITHUB_TOKEN": "ghs_the_workflows_own",
            },
        )


def test_a_repository_secret_is_sealed_so_that_github_reads_the_value(
    github: tuple[FakeGitHub, dict[str, str]],
) -> None:
    fake, env = github
    deliver(GitHubSecretSink("acme/api", "EH_KEY", None, "DEPLOY_TOKEN"), env)
    assert fake.secrets == {("acme/api", None, "EH_KEY"): VALUE.reveal()}
    deliver(GitHubSecretSink("acme/api", "EH_KEY", None, "DEPLOY_TOKEN"), env)  # replaced: 204
    assert fake.writes("secrets") == ["PUT /repos/acme/api/actions/secrets/EH_KEY"] * 2


def test_an_environment_secret_is_the_environments(github: tuple[FakeGitHub, dict[str, str]]) -> None:
    fake, env = github
    deliver(GitHubSecretSink("acme/api", "EH_KEY", "production", "DEPLOY_TOKEN"), env)
    assert fake.secrets == {("acme/api", "production", "EH_KEY"): VALUE.reveal()}
    fake.faults["GET /repos/acme/api/environments/staging/"] = JSONResponse(error(404, "Not Found"), 404)
    message = failure(GitHubSecretSink("acme/api", "EH_KEY", "staging", "DEPLOY_TOKEN"), env)
    assert (
        "acme/api or its environment 'staging' does not exist, or the token in DEPLOY_TOKEN cannot see it"
        in message
    )


@pytest.mark.parametrize("repo", ["acme/api#x", "acme/api?x", "acme/my api", "ac me/api"])
def test_a_repository_name_a_url_would_cut_short_is_quoted_not_sent_elsewhere(
    github: tuple[FakeGitHub, dict[str, str]], repo: str
) -> None:
    """Such a name never passes validate; the sink quotes it anyway, so that its request cannot
    reach another path (`#` and `?` end a URL's path: the secret went to acme/api)."""
    fake, env = github
    deliver(GitHubSecretSink(repo, "EH_KEY", None, "DEPLOY_TOKEN"), env)
    deliver(GitHubSecretSink(repo, "EH_KEY", "prod", "DEPLOY_TOKEN"), env)
    assert fake.secrets == {(repo, None, "EH_KEY"): VALUE.reveal(), (repo, "prod", "EH_KEY"): VALUE.reveal()}


def test_a_token_github_refuses_is_named_with_the_permission_needed(
    github: tuple[FakeGitHub, dict[str, str]],
) -> None:
    fake, env = github
    message = failure(GitHubSecretSink("acme/api", "EH_KEY"), env)  # GITHUB_TOKEN: not the fake's token
    assert "HTTP 401: Bad credentials: GitHub refused the token in GITHUB_TOKEN" in message
    fake.faults["PUT /repos/acme/api/environments"] = JSONResponse(
        error(403, "Resource not accessible by integration"), status_code=403
    )
    message = failure(GitHubSecretSink("acme/api", "EH_KEY", "production", "DEPLOY_TOKEN"), env)
    assert "HTTP 403: Resource not accessible by integration" in message
    assert 'the "Secrets" and "Environments" repository permission' in message
    assert "a workflow's own GITHUB_TOKEN cannot" in message and not fake.secrets


def test_an_unset_token_is_said_before_any_request() -> None:
    sink = GitHubSecretSink("acme/api", "EH_KEY", None, "NO_SUCH_TOKEN_VAR")
    assert send.preflight(sink, {}).startswith("github_secret acme/api:EH_KEY: NO_SUCH_TOKEN_VAR is not set")
    assert "plain http only to this machine" in failure(
        sink, {"NO_SUCH_TOKEN_VAR": "x", "GITHUB_API_URL": "http://example.com"}
    )


def test_a_redirect_is_not_followed_with_the_token(github: tuple[FakeGitHub, dict[str, str]]) -> None:
    fake, env = github
    elsewhere = f"{fake.blob_url}/storage/1"  # another origin, which tells whether it saw a token
    fake.faults["GET /repos/acme/api/actions/secrets/public-key"] = RedirectResponse(elsewhere, 302)
    message = failure(GitHubSecretSink("acme/api", "EH_KEY", None, "DEPLOY_TOKEN"), env)
    assert f"HTTP 302: a redirect to {elsewhere}, not followed (the token goes nowhere else)" in message
    assert not fake.leaked_token and not [c for c in fake.calls if "/storage/" in c]


def test_a_gateways_502_is_tried_again(
    github: tuple[FakeGitHub, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, env = github
    monkeypatch.setattr(errors, "BACKOFF", (0.0, 0.0))
    fake.flaky["PUT /repos/acme/api/actions/secrets/EH_KEY"] = 2  # GitHub's front answers 502 twice
    deliver(GitHubSecretSink("acme/api", "EH_KEY", None, "DEPLOY_TOKEN"), env)
    assert fake.secrets == {("acme/api", None, "EH_KEY"): VALUE.reveal()}
    fake.faults["GET /repos/acme/api/actions/secrets/public-key"] = JSONResponse(
        error(502, "Bad Gateway"), 502
    )
    message = failure(GitHubSecretSink("acme/api", "EH_KEY", None, "DEPLOY_TOKEN"), env)
    assert message.endswith("GET /repos/acme/api/actions/secrets/public-key: HTTP 502: Bad Gateway")
    assert fake.calls.count("GET /repos/acme/api/actions/secrets/public-key") == 1 + 3  # three tries


async def _endless(piece: bytes, pause: float = 0.0, count: int = 10_000) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield piece
        await asyncio.sleep(pause)


def test_a_huge_answer_is_not_read_whole(github: tuple[FakeGitHub, dict[str, str]]) -> None:
    fake, env = github
    fake.faults["GET /repos/acme/api/actions/secrets/public-key"] = StreamingResponse(
        _endless(b"x" * 65536), status_code=500
    )  # 650 MB, were it read
    message = failure(GitHubSecretSink("acme/api", "EH_KEY", None, "DEPLOY_TOKEN"), env)
    assert message.endswith(f"HTTP 500, an answer over {errors.MAX_BODY:,} bytes; not read")


def test_an_answer_that_trickles_is_given_up_at_the_deadline(
    github: tuple[FakeGitHub, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, env = github
    monkeypatch.setattr(errors, "TIMEOUT", 0.3)  # each byte well within httpx's own read timeout
    fake.faults["PUT /repos/acme/api/actions/secrets/EH_KEY"] = StreamingResponse(
        _endless(b" ", pause=0.05, count=100), status_code=201
    )
    message = failure(GitHubSecretSink("acme/api", "EH_KEY", None, "DEPLOY_TOKEN"), env)
    assert message.endswith("/repos/acme/api/actions/secrets/EH_KEY: no whole answer within 0.3 s; given up")


# --- vault ------------------------------------------------------------------------------------


@pytest.fixture
def vault() -> Iterator[tuple[FakeVault, dict[str, str]]]:
    fake = FakeVault()
    with fakevault.serve(fake) as url:
        yield fake, {"VAULT_ADDR": url, "VAULT_TOKEN": fakevault.TOKEN}


def test_vault_gets_only_its_field_and_keeps_the_others(vault: tuple[FakeVault, dict[str, str]]) -> None:
    fake, env = vault
    fake.secrets[("secret", "apps/api")] = {"db_password": "kept", "eh_key": "old"}
    fake.versions[("secret", "apps/api")] = 3
    deliver(VaultSink("apps/api", "eh_key"), env)
    assert fake.secrets[("secret", "apps/api")] == {"db_password": "kept", "eh_key": VALUE.reveal()}
    assert fake.calls == ["PATCH secret/apps/api"]


def test_a_vault_secret_that_does_not_exist_is_created_once(vault: tuple[FakeVault, dict[str, str]]) -> None:
    fake, env = vault
    fake.mounts["kv"] = fakevault.Mount()
    deliver(VaultSink("teams/payments", "EH_KEY", "kv"), env)
    assert fake.secrets == {("kv", "teams/payments"): {"EH_KEY": VALUE.reveal()}}
    assert fake.calls == ["PATCH kv/teams/payments", "POST kv/teams/payments"]


def test_vault_refusals_name_the_capability_and_the_mount(vault: tuple[FakeVault, dict[str, str]]) -> None:
    fake, env = vault
    message = failure(VaultSink("apps/api", "k"), {**env, "VAULT_TOKEN": "hvs.wrong"})
    assert "HTTP 403: permission denied: the token in VAULT_TOKEN may not write it" in message
    assert "no KV v2 engine is mounted at nope/" in failure(VaultSink("apps/api", "k", "nope"), env)
    fake.failing = 1
    assert "HTTP 500" in failure(VaultSink("apps/api", "k"), env) and not fake.secrets
    assert (
        send.preflight(VaultSink("a", "b"), {}) == "vault secret/a#b: VAULT_ADDR and VAULT_TOKEN are not set"
    )


def refusals(sinks: list[Sink], env: dict[str, str]) -> dict[Sink, str]:
    return asyncio.run(send.refused(sinks, env))


UI_SECRET = "GET sys/internal/ui/mounts/secret"  # what is mounted there: asked once the token may write
NEEDS = "a delivery needs patch (each delivery is a merge patch) and create (the first makes the secret)"


def test_a_vault_token_is_asked_what_it_may_do_on_each_path_before_any_key_is_made(
    vault: tuple[FakeVault, dict[str, str]],
) -> None:
    fake, env = vault
    fake.mounts["kv"] = fakevault.Mount()
    fake.policies["hvs.app"] = {
        "secret/data/apps/*": ["patch", "create"],
        "secret/data/apps/old": ["read", "update"],  # a whole overwrite: no merge patch
        "secret/data/apps/kept": ["patch"],  # patches a secret that exists; cannot make one
    }
    api, other, old, kept, none = (
        VaultSink("apps/api", "k"),
        VaultSink("apps/api", "other"),
        VaultSink("apps/old", "k"),
        VaultSink("apps/kept", "k"),
        VaultSink("x", "k", "kv"),
    )
    found = refusals([api, other, old, kept, none], {**env, "VAULT_TOKEN": "hvs.app"})
    assert found[api] == found[other] == ""
    assert found[old] == (
        "vault secret/apps/old#k: the token in VAULT_TOKEN may not write secret/data/apps/old: its policies "
        f"lack the patch and create capabilities there (Vault gives it read, update); {NEEDS}"
    )
    assert found[kept] == (
        "vault secret/apps/kept#k: the token in VAULT_TOKEN may not write secret/data/apps/kept: its policies "
        f"lack the create capability there (Vault gives it patch); {NEEDS}"
    )
    assert found[none].startswith("vault kv/x#k: the token in VAULT_TOKEN may not write kv/data/x: its ")
    assert "lack the patch and create capabilities there (Vault gives it none);" in found[none]
    assert fake.calls == ["POST sys/capabilities-self", UI_SECRET]  # each path asked once, then secret/
    assert refusals([api, none], env) == {api: "", none: ""}  # a root token may do anything
    assert not fake.secrets and "hvs.app" not in str(found)


def test_a_token_that_may_patch_and_read_but_not_create_passes_where_the_secret_exists(
    vault: tuple[FakeVault, dict[str, str]],
) -> None:
    """'Update what exists, never create' is a common least-privilege policy: it was refused for
    lacking create, though the delivery's merge patch is all such a secret needs."""
    fake, env = vault
    fake.policies["hvs.app"] = {"secret/data/apps/*": ["patch", "read"]}
    fake.secrets[("secret", "apps/there")] = {"other": "kept"}
    fake.versions[("secret", "apps/there")] = 1
    there, new = VaultSink("apps/there", "k"), VaultSink("apps/new", "k")
    found = refusals([there, new], {**env, "VAULT_TOKEN": "hvs.app"})
    assert (
        found[there] == "" and "lack the create capability there (Vault gives it patch, read)" in found[new]
    )
    assert fake.calls == [
        "POST sys/capabilities-self",
        "GET secret/apps/there",
        "GET secret/apps/new",
        UI_SECRET,
    ]
    deliver(there, {**env, "VAULT_TOKEN": "hvs.app"})  # the merge patch is all it takes
    assert fake.secrets[("secret", "apps/there")] == {"other": "kept", "k": VALUE.reveal()}


def test_a_patch_and_read_token_is_not_refused_when_vault_does_not_say_whether_the_secret_exists(
    vault: tuple[FakeVault, dict[str, str]],
) -> None:
    """A 500 (or no answer) to the read was taken for 'the secret does not exist': the apply was
    refused for lacking create, where a Vault that does not answer refuses nothing."""
    fake, env = vault
    fake.policies["hvs.app"] = {"secret/data/apps/*": ["patch", "read"]}
    fake.secrets[("secret", "apps/there")] = {"other": "kept"}
    fake.versions[("secret", "apps/there")] = 1
    fake.reads_failing = True
    there, new = VaultSink("apps/there", "k"), VaultSink("apps/new", "k")
    found = refusals([there, new], {**env, "VAULT_TOKEN": "hvs.app"})
    assert found == {there: "", new: ""}
    assert fake.calls == [
        "POST sys/capabilities-self",
        "GET secret/apps/there",
        "GET secret/apps/new",
        UI_SECRET,
    ]


def test_a_token_vault_does_not_know_is_refused_and_never_shown(
    vault: tuple[FakeVault, dict[str, str]],
) -> None:
    fake, env = vault
    sink = VaultSink("apps/api", "k")
    found = refusals([sink], {**env, "VAULT_TOKEN": "hvs.revoked-token", "VAULT_NAMESPACE": "team-a"})
    assert found[sink] == (
        "vault secret/apps/api#k: POST /v1/sys/capabilities-self: HTTP 403: permission denied: Vault refused "
        "the token in VAULT_TOKEN (unknown to this Vault or namespace, expired or revoked): it may not write "
        "secret/data/apps/api (namespace team-a)"
    )
    assert fake.namespaces == ["team-a"]  # asked in the namespace the delivery writes in
    fake.answer = JSONResponse({"errors": ["permission denied for token hvs.revoked-token"]}, 403)
    found = refusals([sink], {**env, "VAULT_TOKEN": "hvs.revoked-token"})
    assert "HTTP 403: permission denied for token …: Vault refused" in found[sink]
    assert "hvs.revoked-token" not in found[sink]


def test_a_vault_that_cannot_say_refuses_nothing(
    vault: tuple[FakeVault, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As for GitHub: the delivery tries again, and stays owed if it fails. Nor is a sink asked
    whose variables `preflight` refuses (it says why itself)."""
    fake, env = vault
    sink = VaultSink("apps/api", "k")
    fake.answer = Response("<html>Sign in to the proxy</html>", 200, media_type="text/html")
    assert refusals([sink], {**env, "VAULT_TOKEN": "hvs.unknown"}) == {sink: ""}
    fake.answer = JSONResponse({"errors": ["Vault is sealed"]}, 503)
    monkeypatch.setattr(errors, "BACKOFF", (0.0, 0.0))
    assert refusals([sink], env) == {sink: ""} and fake.calls.count("POST sys/capabilities-self") == 1 + 3
    assert refusals([sink], {**env, "VAULT_ADDR": "http://127.0.0.1:1"}) == {sink: ""}
    fake.calls.clear()
    assert refusals([sink], {"VAULT_ADDR": env["VAULT_ADDR"]}) == {sink: ""} and not fake.calls


def test_a_token_with_a_newline_is_refused_and_never_shown(
    vault: tuple[FakeVault, dict[str, str]], github: tuple[FakeGitHub, dict[str, str]]
) -> None:
    pasted = fakevault.TOKEN + "\n"  # a secret pasted with its line's end: httpx quoted it whole
    message = failure(VaultSink("apps/api", "k"), {**vault[1], "VAULT_TOKEN": pasted})
    assert message == (
        "vault secret/apps/api#k: VAULT_TOKEN holds a character no token has (a newline, a space, or one "
        "beyond ASCII): check how it is set (its value is not shown)"
    )
    message = failure(
        GitHubSecretSink("acme/api", "EH_KEY", None, "DEPLOY_TOKEN"), {**github[1], "DEPLOY_TOKEN": "ghp_é"}
    )
    assert message.startswith("github_secret acme/api:EH_KEY: DEPLOY_TOKEN holds a character no token has")
    assert not vault[0].calls and not github[0].writes()


def test_an_address_with_a_password_is_never_shown_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"VAULT_ADDR": "https://admin:s3cret-pass@127.0.0.1:1", "VAULT_TOKEN": "hvs.x"}
    monkeypatch.setattr(errors, "BACKOFF", (0.0, 0.0))  # refused three times, at once
    message = failure(VaultSink("apps/api", "k"), env)
    assert message.startswith("PATCH https://127.0.0.1:1/v1/secret/data/apps/api: no answer")
    assert "s3cret-pass" not in message
    insecure = {**env, "VAULT_ADDR": "http://admin:s3cret-pass@vault.internal:8200"}
    assert send.preflight(VaultSink("apps/api", "k"), insecure) == (
        "vault secret/apps/api#k: VAULT_ADDR 'http://vault.internal:8200': plain http only to this machine "
        "(127.0.0.1); use https"
    )


def test_a_kv_version_1_mount_is_named(vault: tuple[FakeVault, dict[str, str]]) -> None:
    fake, env = vault
    fake.answer = JSONResponse({"errors": ["1 error occurred:\n\t* unsupported operation\n\n"]}, 405)
    message = failure(VaultSink("apps/api", "k"), env)
    assert message.endswith(
        "HTTP 405: 1 error occurred: * unsupported operation: secret/ is a KV version 1 mount (no patch), or Vault is older than 1.9"
    )


def test_a_200_that_is_not_vaults_answer_is_no_delivery(vault: tuple[FakeVault, dict[str, str]]) -> None:
    fake, env = vault
    fake.answer = Response("<html>Sign in to the proxy</html>", 200, media_type="text/html")
    message = failure(VaultSink("apps/api", "k"), env)
    assert message.endswith("but not Vault's answer (no version written): is VAULT_ADDR Vault's address?")


def test_a_standby_vaults_redirect_is_not_followed(vault: tuple[FakeVault, dict[str, str]]) -> None:
    fake, env = vault
    fake.answer = RedirectResponse("https://vault-active.example:8200/v1/secret/data/apps/api", 307)
    message = failure(VaultSink("apps/api", "k"), env)
    assert (
        "HTTP 307: a redirect to https://vault-active.example:8200/v1/secret/data/apps/api, not followed"
        in message
    )
    assert message.endswith("a standby node redirects to the active one: set VAULT_ADDR to it")
    assert fake.calls == ["PATCH secret/apps/api"]


def test_a_standby_vault_refuses_the_apply_before_any_key_is_made(
    vault: tuple[FakeVault, dict[str, str]],
) -> None:
    """Its redirect was read as 'Vault cannot be reached' (refusing nothing): the key was made and
    paid for, and the delivery then met the same 307."""
    fake, env = vault
    fake.answer = RedirectResponse("https://vault-active.example:8200/v1/sys/capabilities-self", 307)
    sink = VaultSink("apps/api", "k")
    (why,) = refusals([sink], env).values()
    assert why.startswith("vault secret/apps/api#k: POST /v1/sys/capabilities-self: HTTP 307")
    assert why.endswith("a standby node redirects to the active one: set VAULT_ADDR to it")


def test_an_answer_nested_too_deeply_is_no_delivery_and_no_crash(
    vault: tuple[FakeVault, dict[str, str]], github: tuple[FakeGitHub, dict[str, str]]
) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000  # JSON, but deeper than Python's parser recurses
    fake, env = vault
    fake.answer = Response(nested, 200, media_type="application/json")
    assert "but not Vault's answer (no version written)" in failure(VaultSink("apps/api", "k"), env)
    fake.answer = Response(nested, 403, media_type="application/json")
    assert "HTTP 403: [[[" in failure(VaultSink("apps/api", "k"), env)  # quoted as text, cut short
    hub, env = github
    hub.faults["GET /repos/acme/api/actions/secrets/public-key"] = Response(
        nested, media_type="application/json"
    )
    assert "GitHub's public key answer is not one" in failure(GitHubSecretSink("acme/api", "EH_KEY"), env)
    hub.violations.clear()  # the answer is not what GitHub describes: that is the point


def test_an_answer_that_echoes_the_token_never_shows_it(
    vault: tuple[FakeVault, dict[str, str]], github: tuple[FakeGitHub, dict[str, str]]
) -> None:
    fake, env = vault  # a proxy in front of Vault that quotes the request it refused
    fake.answer = JSONResponse({"errors": [f"permission denied for token {fakevault.TOKEN}"]}, 403)
    message = failure(VaultSink("apps/api", "k"), env)
    assert "HTTP 403: permission denied for token …" in message and fakevault.TOKEN not in message
    fake.answer = RedirectResponse(f"https://vault.example/login?token={fakevault.TOKEN}", 307)
    message = failure(VaultSink("apps/api", "k"), env)
    assert "a redirect to https://vault.example/login?token=…," in message and fakevault.TOKEN not in message
    hub, env = github
    hub.faults["PUT /repos/acme/api/actions/secrets/EH_KEY"] = JSONResponse(
        error(422, f"Bad token {fakegithub.TOKEN}"), 422
    )
    message = failure(GitHubSecretSink("acme/api", "EH_KEY", None, "DEPLOY_TOKEN"), env)
    assert "HTTP 422: Bad token …" in message and fakegithub.TOKEN not in message
