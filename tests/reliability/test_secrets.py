"""Sentinel secrets through every command, on success and failure paths, with --debug on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.api.client import Client
from reconciler.api.errors import NotFound
from reconciler.core.secrets import ProxyKey, scrub
from reconciler.gitops import hub as ghapi
from reconciler.gitops.issues import upsert_comment
from reconciler.render.plan import MARKER

from ..helpers import live_sandbox, run_cli
from ..reliability_log import record

SENTINEL = "SENTINEL"
API_KEY = "ek-SENTINEL-account-key-7f3c9d"
PROXY = [f"ek-proxy-SENTINEL-{i}-{'x' * 12}-{i:04d}" for i in range(4)]


def seed() -> dict[str, Any]:
    keys = [
        {"key": k, "user_id": "u1", "name": f"key-{i}", "allocated_ammount": 10.0, "used_ammount": 1.0}
        for i, k in enumerate(PROXY[:3])
    ]
    keys.append({"key": PROXY[3], "user_id": "u2", "name": "theirs"})
    return {
        "accounts": [
            {"user_id": "u1", "api_key": API_KEY, "balance": 100.0, "per_key_cap": 50},
            {"user_id": "u2", "api_key": "ek-SENTINEL-other-account", "balance": 1.0},
        ],
        "keys": keys,
        "rate_limit": {"requests": 100_000, "window_s": 60},
    }


def manifest(amounts: list[float], extra: str = "") -> str:
    lines = ["version: 1", "defaults: {limit_type: weekly}", "keys:"]
    for i, amount in enumerate(amounts):
        lines.append(f"  - {{proxy_key: '${{EH_KEY_{i}}}', name: key-{i}, allocated_ammount: {amount}}}")
    return "\n".join(lines) + "\n" + extra


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for i, key in enumerate(PROXY):
        monkeypatch.setenv(f"EH_KEY_{i}", key)
    Path("seed.yaml").write_text(yaml.safe_dump(seed()))
    logging.getLogger().setLevel(logging.DEBUG)
    return tmp_path


SANDBOX = ["--sandbox", "--sandbox-seed", "seed.yaml", "--debug"]
GHOST = "  - {proxy_key: ek-proxy-SENTINEL-ghost-000000-9999, name: ghost}\n"
THEIRS = "  - {proxy_key: '${EH_KEY_3}', name: theirs}\n"

SINKS = "[{file: sink.env}, {command: [sh, -c, 'cat >&2; exit 3']}]"
RUNS: list[tuple[str, str, list[str]]] = [
    # (what, manifest text, argv after the command's manifest)
    ("validate ok", manifest([12, 13]), ["validate", "keys.yaml", "--debug"]),
    (
        "validate: duplicate keys, literal secret",
        manifest([12, 12]) + "  - {proxy_key: '${EH_KEY_0}', name: dup}\n" + GHOST,
        ["validate", "keys.yaml", "--format", "github", "--debug"],
    ),
    (
        "validate: not a proxy key",
        "version: 1\nkeys:\n  - {proxy_key: ek-SENTINEL-account, name: a, limit_type: daily}\n",
        ["validate", "keys.yaml", "--format", "json"],
    ),
    ("plan text with 404 and 403", manifest([12, 13]) + GHOST + THEIRS, ["plan", "keys.yaml", *SANDBOX]),
    ("plan json", manifest([12, 13]), ["plan", "keys.yaml", "--format", "json", *SANDBOX]),
    (
        "plan markdown --out",
        manifest([12, 13]) + GHOST,
        ["plan", "keys.yaml", "--format", "markdown", "--out", "plan.json", *SANDBOX],
    ),
    ("drift", manifest([12, 13]), ["drift", "keys.yaml", *SANDBOX]),
    (
        "apply refused by --max-debit",
        manifest([12, 13]),
        ["apply", "keys.yaml", "--auto-approve", "--max-debit", "1", *SANDBOX],
    ),
    (
        "apply with a key over the cap",
        manifest([12, 13, 60]),
        ["apply", "keys.yaml", "--auto-approve", *SANDBOX],
    ),
    (
        "apply of a saved plan",
        manifest([12, 13]) + GHOST,
        ["apply", "keys.yaml", "--plan", "plan.json", *SANDBOX],
    ),
    ("apply ok", manifest([14, 15]), ["apply", "keys.yaml", "--auto-approve", *SANDBOX]),
    (
        "deliver to a file and to a command that fails echoing the value",
        manifest([12, 13]).replace("{limit_type: weekly}", "{limit_type: weekly, deliver: " + SINKS + "}"),
        ["deliver", "keys.yaml", *SANDBOX],
    ),
    ("import --all", "", ["import", "--all", *SANDBOX]),
    ("import --key-env", "", ["import", "--key-env", "EH_KEY_1", "--key-env", "EH_KEY_3", *SANDBOX]),
]


def _leaks(*texts: str) -> list[str]:
    return [t[max(t.find(SENTINEL) - 60, 0) : t.find(SENTINEL) + 40] for t in texts if SENTINEL in t]


def test_no_sentinel_in_any_output_or_file(
    workdir: Path, capsys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen = []
    for what, text, argv in RUNS:
        if text:
            Path("keys.yaml").write_text(text)
        code, out, err = run_cli(capsys, *argv)
        assert code in (0, 1, 2, 3), (what, err)
        assert "Traceback" not in err and "internal error" not in err, (what, err)
        assert not _leaks(out, err), (what, _leaks(out, err))
        seen.append(code)
    assert not _leaks(caplog.text)
    files = [p for p in workdir.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".md")]
    assert {p.name for p in files} >= {"plan.json", "state.json", "journal.jsonl"}
    for path in files:
        assert not _leaks(path.read_text()), path
    assert 0 in seen and 1 in seen and 3 in seen  # success and failure paths both ran
    assert Path("sink.env").read_text() == f"EH_KEY_KEY_0={PROXY[0]}\nEH_KEY_KEY_1={PROXY[1]}\n"  # only there
    record(
        "secret",
        "every command (validate, plan x3 formats, drift, apply x4, deliver, import x2), success and failure, "
        "--debug",
        len(RUNS),
        "no sentinel in stdout, stderr, logs, saved plan, state file or journal; a delivered value only in its sink",
    )


@pytest.mark.parametrize(
    "value",
    [
        "ek-proxy-SENTINEL-used-as-account-key-1",
        "eyJSENTINEL.eyJzdWIiOiIxIn0.c2ln",
        "sk-SENTINEL-wrong-vendor",
    ],
)
def test_rejected_api_keys_are_not_echoed(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ELECTRONHUB_API_KEY", value)
    Path("keys.yaml").write_text(manifest([12]))
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--base-url", "http://127.0.0.1:9/v1", "--debug")
    assert code == 1 and not _leaks(out, err)
    record(
        "secret",
        f"unusable ELECTRONHUB_API_KEY ({value.split('-')[0]}…)",
        1,
        "refused before any request, not echoed",
    )


@pytest.mark.slow
def test_a_wrong_api_key_over_a_socket_is_not_echoed(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("keys.yaml").write_text(manifest([12]))
    with live_sandbox(workdir, seed()) as base:
        monkeypatch.setenv("ELECTRONHUB_API_KEY", "ek-SENTINEL-not-the-right-key")
        code, out, err = run_cli(capsys, "plan", "keys.yaml", "--base-url", base, "--debug")
    assert code == 1 and "HTTP 401" in err and not _leaks(out, err)
    record(
        "secret", "a wrong account key against a live sandbox (401)", 1, "clear 401 message, key not echoed"
    )


def test_the_pr_comment_carries_no_secret(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("keys.yaml").write_text(manifest([12, 13]) + GHOST + THEIRS)
    _, markdown, _ = run_cli(
        capsys, "plan", "keys.yaml", "--format", "markdown", "--out", "plan.json", *SANDBOX
    )
    Path("plan.md").write_text(markdown)
    assert not _leaks(Path("plan.json").read_text()), "the saved plan is the PR's artifact"
    posted: list[str] = []

    def fake(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=[])
        posted.append(request.content.decode())
        return httpx.Response(201, json={"id": 1})

    monkeypatch.setenv("GITHUB_TOKEN", "ghs_x")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/keys")
    hub = ghapi.GitHub.from_env(httpx.MockTransport(fake))
    upsert_comment(hub, 3, Path("plan.md").read_text(), MARKER)
    assert posted and "ehkeys-plan" in posted[0] and not _leaks(*posted)
    record("secret", "the markdown plan posted as a PR comment, and its artifact", 1, "no sentinel in either")


def test_proxy_keys_never_travel_in_urls_and_tls_is_always_verified(workdir: Path) -> None:
    seen: list[str] = []

    def fake(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(404, json={"error": {"message": "nope"}})

    for url in ("https://api.example.test/v1", "http://127.0.0.1:8899/v1"):
        client = Client(API_KEY, url, parallelism=16)
        for pool in client._transports:
            context = pool._pool._ssl_context  # type: ignore[attr-defined]
            assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname

    async def go() -> None:
        async with Client(API_KEY, "https://api.example.test/v1", transport=httpx.MockTransport(fake)) as c:
            for key in PROXY:
                with contextlib.suppress(NotFound):  # only the URLs matter here
                    await c.lookup(ProxyKey(key))

    asyncio.run(go())
    assert seen and not _leaks(*seen)
    record(
        "secret",
        "request URLs and TLS settings",
        len(seen),
        "no key in any URL; TLS verification on, no switch to turn it off",
    )


# --- keys with characters a header cannot carry; logs from every library ------------------------


@pytest.mark.parametrize(
    "value",
    [
        "ek-SENTINEL-part\r\nINJECTED-after-the-line-break",
        "ek-SENTINEL-part\nX-Injected: SENTINEL",
        "ek-SENTINEL-ключ-non-ascii",
        "ek-SENTINEL with spaces",
        "ek-SENTINEL\ttab",
    ],
    ids=["crlf", "lf", "non-ascii", "space", "tab"],
)
def test_an_api_key_with_impossible_characters_is_refused_unechoed(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ELECTRONHUB_API_KEY", value)
    Path("keys.yaml").write_text(manifest([12]))
    code, out, err = run_cli(capsys, "plan", "keys.yaml", "--base-url", "http://127.0.0.1:9/v1", "--debug")
    assert code == 1 and "ELECTRONHUB_API_KEY contains characters no API key has" in err
    assert not _leaks(out, err) and "INJECTED" not in err and "internal error" not in err
    record(
        "secret",
        f"ELECTRONHUB_API_KEY with {value[11:15]!r}… (CR/LF, non-ASCII, spaces)",
        1,
        "refused, not echoed",
    )


def test_every_library_log_record_is_scrubbed(
    workdir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("keys.yaml").write_text(manifest([12]))
    monkeypatch.setenv("EHKEYS_DEBUG_HTTP", "1")  # every library's debug lines, httpcore's too
    run_cli(capsys, "validate", "keys.yaml", "--debug")  # installs the CLI's log handler
    headers = [(b"Authorization", b"Bearer sk-SENTINEL-any-vendor"), (b"X-Key", PROXY[0].encode())]
    logging.getLogger("httpcore.http11").debug("send_request_headers.started headers=%r", headers)
    try:
        raise ValueError(f"bad header value {API_KEY!r}")
    except ValueError:
        logging.getLogger("some.library").exception("request failed for %s", PROXY[1])
    err = capsys.readouterr().err
    assert "send_request_headers.started" in err and "Traceback" in err and "Bearer …" in err
    assert not _leaks(err)
    record("secret", "debug logs of other libraries (headers, a traceback) holding keys", 2, "scrubbed")


# --- the scrubber -------------------------------------------------------------------------------


FRAGMENTS = ["ek-", "ek-proxy-", "…", "abcd", "SENTINEL", " ", ":", ".", "!", "'", '"', ",", "\n", "\r"]
FRAGMENTS += ["Bearer ", "bearer\t", "ж", "+/=", "%2F", "(", ")", "-", "_", "x", "9", "ek-…", "ek-proxy-…"]


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=4), max_size=12).map("".join))
def test_scrubbing_twice_is_scrubbing_once(text: str) -> None:
    once = scrub(text)
    assert scrub(once) == once


@pytest.mark.parametrize(
    "key",
    [
        "ek-proxy-ab+SENTINEL/tail=",
        "ek-proxy-ab%2FSENTINEL%3D",
        "ek-SENTINEL:with:colons",
        "ek-proxy-ab~SENTINEL*&$#@tail",
        "ek-proxy-abжSENTINELж",
        "ek-ab.SENTINEL.cd",
    ],
)
def test_keys_with_unusual_characters_are_hidden_whole(key: str) -> None:
    for text in (f"key {key} refused", f"'{key}'", f"({key}).", f"{key}: not found", f"a={key},b"):
        assert SENTINEL not in scrub(text), scrub(text)
    record("secret", f"a key with unusual characters ({key[9:12]!r}…) in free text", 5, "hidden whole")


def test_redacted_keys_stay_as_they_are() -> None:
    for shown in ("ek-proxy-…abcd", "ek-…7f3c", "ek-proxy-…-key"):
        assert scrub(f"x {shown}: y") == f"x {shown}: y"
    assert ProxyKey("ek-proxy-1234567890abcdef").display == "ek-proxy-…cdef"
    assert (
        scrub("POST /auth/proxy/update (ek-proxy-1234567890abcdef)")
        == "POST /auth/proxy/update (ek-proxy-…cdef)"
    )
    record("secret", "scrubbing already redacted keys (a redacted key used as the API key)", 3, "unchanged")


KNOWN = "ek-proxy-a40a1b2c3d4e5f60718293a4b5c6d7e8"


@settings(max_examples=300, deadline=None)
@given(
    st.integers(9, len(KNOWN) - 8),
    st.integers(8, len(KNOWN)),
    st.booleans(),
    st.text(max_size=6),
    st.text(max_size=6),
)
def test_any_piece_of_a_known_key_is_hidden_once_and_for_all(
    start: int, size: int, upper: bool, before: str, after: str
) -> None:
    """8 or more characters of a known key's body, in any case, wherever they are."""
    piece = KNOWN[start : start + size]
    piece = piece.upper() if upper else piece
    once = scrub(f"{before}{piece}{after}", [KNOWN])
    assert piece.lower() not in once.lower() and "…" in once
    assert scrub(once, [KNOWN]) == once


def test_text_without_a_piece_of_the_known_key_is_left_as_it_was() -> None:
    text = "vault said 403 for a40a1b2 (7 characters of its body) stays whole"
    assert scrub(text, [KNOWN]) == scrub(text) == text


@pytest.mark.parametrize("word", ["week-2026-49", "seek-and-destroy", "cheek-to-cheek"])
def test_a_word_holding_ek_dash_is_no_key(word: str) -> None:
    """scrub turned `week-2026-49` into `week-…6-49`: the `ek-` of another word starts no key
    (a proxy key's `ek-proxy-` is hidden wherever it is)."""
    assert scrub(f"deploy {word} done") == f"deploy {word} done"
    assert scrub(f"x{word}ek-proxy-abcdef1234") == f"x{word}ek-proxy-…1234"


TOKENS = {  # by their documented shapes, shown as a proxy key is: prefix, `…`, last 4
    "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB": "ghp_…yzAB",  # classic personal access token
    "gho_" + "a" * 32 + "wxyz": "gho_…wxyz",
    "ghu_" + "b" * 32 + "wxyz": "ghu_…wxyz",
    "ghs_" + "c" * 36 + ".eyJ0-eXAi.sig_wxyz": "ghs_…wxyz",  # an installation token, as a JWT now
    "ghr_" + "d" * 72 + "wxyz": "ghr_…wxyz",
    "github_pat_11ABCDEFG0123456789abc_" + "e" * 55 + "wxyz": "github_pat_…wxyz",
    "hvs.CAESIJlWh6TZMI6p4XBsqzQ1abcdefGh4HDpZaGh2b3NzLkVFOEt0dTZ4bFVUNEd-_wxyz": "hvs.…wxyz",
    "hvb.AAAAAQJ" + "f" * 120 + "wxyz": "hvb.…wxyz",
    "s.Qf1s5zigZ4OX6akYjQXJwxyz": "s.…wxyz",  # a service token before Vault 1.10
    "s.Qf1s5zigZ4OX6akYjQXJC1jY.wxyz9": "s.…xyz9",  # in a namespace
}


@pytest.mark.parametrize("token", list(TOKENS))
def test_github_and_vault_tokens_are_shown_as_their_prefix_and_last_4(token: str) -> None:
    for text, shown in (
        (f"gh secret set X --token {token}", f"gh secret set X --token {TOKENS[token]}"),
        (f"'{token}'.", f"'{TOKENS[token]}'."),
        (f"GH_TOKEN={token}: refused", f"GH_TOKEN={TOKENS[token]}: refused"),
        # after an escape ending in a letter: a program's JSON error, a URL-encoded `=`
        (f'{{"error": "refused\\n{token}"}}', f'{{"error": "refused\\n{TOKENS[token]}"}}'),
        (f"?q=1&token%3D{token}", f"?q=1&token%3D{TOKENS[token]}"),
    ):
        assert scrub(text) == shown
        assert scrub(shown) == shown


@pytest.mark.parametrize(
    "text",
    [
        "ghp_short and hvs.short",  # shorter than any token
        "keys.Qf1s5zigZ4OX6akYjQXJC1jY",  # a word's `s.` starts no token
        "src/s.Qf1s5zigZ4OX6akYjQXJC1jY",
        "s.Qf1s5zigZ4OX6akYjQXJC1jYmore",  # 24 letters and digits, not more
        "xghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
    ],
)
def test_text_merely_like_a_token_is_left_as_it_was(text: str) -> None:
    assert scrub(text) == text
