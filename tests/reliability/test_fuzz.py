"""Property-based fuzzing: no input, however bad, makes ehkeys crash or build an update from garbage."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.api.answers import live_key
from reconciler.api.client import Client
from reconciler.api.errors import BadResponse
from reconciler.cli.main import main
from reconciler.core import keys
from reconciler.core.keys import LiveKey
from reconciler.core.secrets import ProxyKey

from ..helpers import API_KEY, key_value, manifest_text, seed_data
from ..reliability_log import record

pytestmark = pytest.mark.slow  # hypothesis, 150 cases a property

FIELDS = ["version", "keys", "defaults", "per_key_cap", "proxy_key", *keys.UPDATABLE, "allocated_amount"]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "never",
            "-1",
            "daily",
            "0.0.0.0/0",
            "10.0.0.1/8",
            "${X}",
            "${EH_KEY_0:-ek-proxy-x}",
            "2027-02-30",
            ".inf",
            "ek-proxy-abc",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
COUNTS: dict[str, int] = {}


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    old = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            yield Path(tmp)
        finally:
            os.chdir(old)


def run(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue() + err.getvalue()


def assert_clean(code: int, output: str, allowed: tuple[int, ...] = (0, 1)) -> None:
    assert code in allowed, output
    assert "Traceback" not in output and "internal error" not in output, output


def count(name: str) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + 1


def mutate(base: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """A valid manifest with one spot replaced by a random value."""
    doc = yaml.safe_load(manifest_text(2, allocated_ammount=5, ip_whitelist=["10.0.0.0/8"]))
    where = data.draw(st.sampled_from(["top", "key", "field", "defaults"]))
    junk = data.draw(values)
    if where == "top":
        doc[data.draw(st.sampled_from(FIELDS))] = junk
    elif where == "key":
        doc["keys"][data.draw(st.integers(0, 1))] = junk
    elif where == "field":
        doc["keys"][0][data.draw(st.sampled_from(FIELDS))] = junk
    else:
        doc["defaults"] = junk
    return doc


@SETTINGS
@given(data=st.data())
def test_validate_never_crashes_on_mutated_structure(data: st.DataObject) -> None:
    with workdir():
        Path("m.yaml").write_text(yaml.safe_dump(mutate({}, data)))
        assert_clean(*run("validate", "m.yaml"))
    count("structure")


@SETTINGS
@given(raw=st.binary(max_size=400))
def test_validate_never_crashes_on_raw_bytes(raw: bytes) -> None:
    with workdir():
        Path("m.yaml").write_bytes(raw)
        assert_clean(*run("validate", "m.yaml"))
    count("bytes")


TOKENS = [
    *"version: 1\nkeys:-[]{}&*!|>'\"#%@`\t ,.0x~$",
    "ek-proxy-",
    "<<",
    "\n  - ",
    "&a ",
    "*a",
    "!!binary ",
]


@SETTINGS
@given(text=st.lists(st.sampled_from(TOKENS), max_size=80).map("".join))
def test_validate_never_crashes_on_yaml_shaped_text(text: str) -> None:
    with workdir():
        Path("m.yaml").write_text(text)
        assert_clean(*run("validate", "m.yaml"))
    count("text")


NUMBERISH = st.text(alphabet="0123456789+-.eExXoO_:~", min_size=1, max_size=24) | st.sampled_from(
    ["1e30", "1e999999999999", "1e-999999999", "-.inf", ".nan", "099", "0x", "0o8", "9" * 40, "1:30"]
)


@SETTINGS
@given(field=st.sampled_from(["allocated_ammount", "expires_at", "per_key_cap", "version"]), text=NUMBERISH)
def test_validate_never_crashes_on_number_shaped_text(field: str, text: str) -> None:
    """Raw scalars where numbers go, written as YAML text (safe_dump would quote them)."""
    line = f"{field}: {text}\n"
    if field in ("allocated_ammount", "expires_at"):
        body = manifest_text(1) + "    " + line
    else:
        body = manifest_text(1).replace("version: 1\n", line if field == "version" else "version: 1\n" + line)
    with workdir():
        Path("m.yaml").write_text(body)
        assert_clean(*run("validate", "m.yaml"))
    count("numbers")


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_plan_never_crashes_on_mutated_manifests(data: st.DataObject) -> None:
    with workdir():
        Path("seed.yaml").write_text(yaml.safe_dump(seed_data(2)))
        Path("m.yaml").write_text(yaml.safe_dump(mutate({}, data)))
        assert_clean(*run("plan", "m.yaml", "--sandbox", "--sandbox-seed", "seed.yaml"), allowed=(0, 1))
    count("plan")


LOOKUP = {
    "name": "n",
    "key": "k",
    "user_id": "u",
    "expires_at": -1,
    "allocated_ammount": 1,
    "used_ammount": 0,
    "is_active": True,
    "model_whitelist": [],
    "ip_whitelist": [],
    "enabled_thinking": False,
    "created_at": 0,
    "last_used": None,
}


@SETTINGS
@given(data=st.data())
def test_garbage_answers_are_bad_responses_never_crashes(data: st.DataObject) -> None:
    answer = dict(LOOKUP)
    for field in data.draw(st.lists(st.sampled_from(list(LOOKUP)), max_size=3)):
        if data.draw(st.booleans()):
            answer[field] = data.draw(values)
        else:
            answer.pop(field, None)
    try:
        live = live_key(answer)
    except BadResponse:
        count("answers")
        return
    assert isinstance(live, LiveKey) and isinstance(live.name, str)
    count("answers")


@SETTINGS
@given(body=st.binary(max_size=300) | st.just(b"<html>challenge</html>") | st.just(b"{}"))
def test_non_json_or_wrong_bodies_are_a_clear_error(body: bytes) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))

    async def go() -> None:
        async with Client(API_KEY, "https://api.example.test/v1", transport=transport, sleep=_no_sleep) as c:
            await c.lookup(ProxyKey(key_value(0)))

    try:
        asyncio.run(go())
    except BadResponse as exc:
        assert "Traceback" not in str(exc)
    count("bodies")


async def _no_sleep(_: float) -> None:
    return None


FUZZ_ROWS = [
    (
        "input",
        "structure",
        "manifests: a valid one with one spot replaced by random JSON-like values (validate)",
        "exit 0 or 1 with a message; no traceback",
    ),
    ("input", "bytes", "manifests: random raw bytes (validate)", "exit 0 or 1 with a message; no traceback"),
    (
        "input",
        "text",
        "manifests: random YAML-shaped text, tabs, anchors, merge keys (validate)",
        "exit 0 or 1 with a message; no traceback",
    ),
    (
        "input",
        "numbers",
        "number-shaped YAML text (exponents, 40 digits, 0x, 1:30, .nan) in every numeric field (validate)",
        "exit 0 or 1 with a message; no traceback",
    ),
    ("input", "plan", "mutated manifests through `plan --sandbox`", "exit 0 or 1; no traceback"),
    (
        "answer",
        "answers",
        "lookup answers with fields removed or of random types",
        "BadResponse for the key, or a well-typed LiveKey",
    ),
    (
        "answer",
        "bodies",
        "non-JSON, HTML and empty-object bodies",
        "BadResponse: a clear error, never a crash",
    ),
]


def test_zz_record_fuzz_counts() -> None:
    """Runs last in this module: writes what the properties above tried."""
    for kind, counter, case, outcome in FUZZ_ROWS:
        record(kind, case, COUNTS.get(counter, 0), outcome)
    assert COUNTS.get("structure", 0) > 0
