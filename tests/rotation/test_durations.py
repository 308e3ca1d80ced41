"""Durations and due-ness, as tables: what each spelling means, what a bad one says and where,
and when a key is rotated (its age on the API's clock, from its created_at)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reconciler.api.inventory import Inventory
from reconciler.core.changes import Action
from reconciler.core.durations import DAY, HOUR, WEEK, Duration
from reconciler.core.keys import DesiredKey, LiveKey, Location
from reconciler.core.rotation import Rotation
from reconciler.core.secrets import ProxyKey
from reconciler.manifest import load
from reconciler.planning.planner import Desired, Recorded, make_plan

from ..helpers import run_cli


@pytest.mark.parametrize(
    ("given", "seconds", "shown"),
    [
        ("90d", 90 * DAY, "90d"),
        ("12h", 12 * HOUR, "12h"),
        ("2w", 2 * WEEK, "14d"),
        ("48h", 2 * DAY, "2d"),
        (0, 0, "0"),  # bare 0, as YAML reads it
        ("0", 0, "0"),
        (" 7d ", 7 * DAY, "7d"),
    ],
)
def test_a_duration_is_read_and_shown(given: Any, seconds: int, shown: str) -> None:
    duration = Duration.parse(given)
    assert duration.seconds == seconds and str(duration) == shown


@pytest.mark.parametrize("given", ["90", "1.5d", "-1d", "7 days", "3m", "d", "", False, 7, None, "1234567d"])
def test_a_bad_duration_says_what_is_expected(given: Any) -> None:
    with pytest.raises(ValueError, match=r"expected a duration: a whole number of hours, days or weeks"):
        Duration.parse(given)


def _validate(tmp_path: Path, capsys: Any, rotate: str) -> tuple[int, str]:
    text = f"version: 1\nkeys:\n  - id: svc\n    name: Svc\n    limit_type: daily\n    rotate: {rotate}\n"
    (tmp_path / "keys.yaml").write_text(text)
    code, out, err = run_cli(capsys, "validate", str(tmp_path / "keys.yaml"))
    return code, out + err


@pytest.mark.parametrize(
    ("rotate", "where", "message"),
    [
        ("{every: 0, overlap: 7d}", "6:21", "rotate.every: must be how often the key is rotated"),
        ("{every: 90, overlap: 7d}", "6:21", "rotate.every: must be how often the key is rotated"),
        ("{every: 90d, overlap: 3x}", "6:35", "rotate.overlap: must be how long the old key stays"),
        ("{every: 90d, overlap: 7}", "6:35", "rotate.overlap: must be how long the old key stays"),
        ("{overlap: 7d}", "6:13", "rotate: missing required field 'every'"),
        ("{every: 90d, overlapp: 7d}", "6:26", "unknown field 'overlapp'; did you mean 'overlap'?"),
        ("90d", "6:13", "rotate: must be a mapping"),
    ],
)
def test_a_bad_rotation_is_named_at_its_file_and_line(
    tmp_path: Path, capsys: Any, rotate: str, where: str, message: str
) -> None:
    code, said = _validate(tmp_path, capsys, rotate)
    assert code == 1 and f"keys.yaml:{where}: keys[svc]." in said and message in said, said
    assert "Traceback" not in said


@pytest.mark.parametrize("rotate", ["{every: 0}", "{every: 0h}", "{every: '0'}"])
def test_an_every_of_0_is_one_error_not_also_an_overlap_not_shorter_than_it(
    tmp_path: Path, capsys: Any, rotate: str
) -> None:
    """The error is `every`'s own; 'overlap 0 is not shorter than every 0' only repeated it, wrongly
    blaming an overlap the key never set."""
    code, said = _validate(tmp_path, capsys, rotate)
    assert code == 1 and "rotate.every: must be how often the key is rotated" in said
    assert "not shorter than every" not in said and "1 error(s)" in said, said


@pytest.mark.parametrize("rotate", ["{every: 1d, overlap: 7d}", "{every: 7d, overlap: 1w}"])
def test_an_overlap_not_shorter_than_every_is_an_error_at_its_line(
    tmp_path: Path, capsys: Any, rotate: str
) -> None:
    code, said = _validate(tmp_path, capsys, rotate)
    assert code == 1 and "keys.yaml:6:13: keys[svc].rotate: overlap 7d is not shorter than every" in said


def test_an_overlap_shorter_than_every_is_not_warned_of(tmp_path: Path, capsys: Any) -> None:
    code, said = _validate(tmp_path, capsys, "{every: 8d, overlap: 7d}")
    assert code == 0 and "0 warning(s)" in said


@pytest.mark.parametrize(
    ("rotate", "every", "overlap"),
    [
        ("{every: 90d, overlap: 7d}", 90 * DAY, 7 * DAY),
        ("{every: 12h, overlap: 0}", 12 * HOUR, 0),
        ("{every: 2w}", 14 * DAY, 0),
    ],
)
def test_a_rotation_is_read_from_the_key(
    tmp_path: Path, capsys: Any, rotate: str, every: int, overlap: int
) -> None:
    code, said = _validate(tmp_path, capsys, rotate)
    assert code == 0, said
    loaded = load.load([str(tmp_path / "keys.yaml")]).manifest
    assert loaded is not None
    assert loaded.keys[0].rotate == Rotation(Duration(every), Duration(overlap))


def test_defaults_and_a_groups_defaults_give_a_rotation_a_key_may_replace(tmp_path: Path) -> None:
    (tmp_path / "keys.yaml").write_text(
        "version: 1\n"
        "defaults: {limit_type: daily, rotate: {every: 90d, overlap: 7d}}\n"
        "groups:\n  ops:\n    defaults: {rotate: {every: 30d}}\n"
        "keys:\n"
        "  - {id: a, name: A}\n"
        "  - {id: b, name: B, group: ops}\n"
        "  - {id: c, name: C, rotate: {every: 12h, overlap: 1h}}\n"
    )
    loaded = load.load([str(tmp_path / "keys.yaml")]).manifest
    assert loaded is not None
    assert [str(k.rotate.every) if k.rotate else None for k in loaded.keys] == ["90d", "30d", "12h"]
    assert [str(k.rotate.overlap) if k.rotate else None for k in loaded.keys] == ["7d", "0", "1h"]


def test_max_lifetime_still_reads_days_and_weeks(tmp_path: Path) -> None:
    (tmp_path / "keys.yaml").write_text(
        "version: 1\npolicy: {max_lifetime: 2w}\nkeys:\n  - {id: a, name: A, limit_type: daily, expires_at: never}\n"
    )
    result = load.load([str(tmp_path / "keys.yaml")], now=1_800_000_000)
    assert result.manifest is not None and result.manifest.accounts[0].policy.max_lifetime == 14


# --- due-ness: the plan of one key whose age is `age` on the API's clock -------------------------

CLOCK = 1_800_000_000


def _plan(age: int | None, rotate: Rotation | None, clock: int | None = CLOCK) -> Action:
    proxy = ProxyKey("ek-proxy-test-000001-secretpart")
    created = None if age is None else CLOCK - age
    live = LiveKey(proxy, "Svc", -1, Decimal(10), Decimal(2), True, frozenset(), frozenset(), created)
    key = DesiredKey(
        "svc",
        "Svc",
        Location("keys.yaml", 3, 5),
        limit_type="daily",
        allocated_ammount=Decimal(10),
        rotate=rotate,
    )
    inventory = Inventory((live,), Decimal(100), clock=clock)
    recorded = Recorded({"svc": live.fingerprint}, {live.fingerprint: {"limit_type": "daily"}})
    plan = make_plan(Desired([key]), inventory, recorded, now=CLOCK - 400 * DAY)  # the local clock is off
    return plan.changes[0].action


EVERY_90 = Rotation(Duration(90 * DAY), Duration(7 * DAY))


@pytest.mark.parametrize(
    ("age", "rotate", "clock", "action"),
    [
        (89 * DAY, EVERY_90, CLOCK, Action.NO_OP),
        (90 * DAY - 1, EVERY_90, CLOCK, Action.NO_OP),
        (90 * DAY, EVERY_90, CLOCK, Action.ROTATE),  # due the second it is `every` old
        (400 * DAY, EVERY_90, CLOCK, Action.ROTATE),
        (400 * DAY, None, CLOCK, Action.NO_OP),  # no schedule: never
        (None, EVERY_90, CLOCK, Action.NO_OP),  # no created_at: its age is unknown
        (13 * HOUR, Rotation(Duration(12 * HOUR)), CLOCK, Action.ROTATE),
        (11 * HOUR, Rotation(Duration(12 * HOUR)), CLOCK, Action.NO_OP),
        (91 * DAY, EVERY_90, None, Action.NO_OP),  # no Date from the API: the local clock, 400 days behind
    ],
)
def test_a_key_is_due_once_its_age_on_the_apis_clock_passes_every(
    age: int | None, rotate: Rotation | None, clock: int | None, action: Action
) -> None:
    assert _plan(age, rotate, clock) is action


def test_a_key_pinned_by_proxy_key_is_never_rotated(capsys: Any, tmp_path: Path) -> None:
    """rotate: (its own or from defaults) on a key whose proxy_key pins its value: the pinned
    value never matches the successor, so each apply made another successor and stranded the
    last one. validate refuses both at their lines; the free key is fine; ehkeys rotate of a
    pinned key is refused before anything is read."""
    file = str(Path(__file__).parent.parent / "manifests" / "bad-rotate-on-a-pinned-key.yaml")
    code, out, err = run_cli(capsys, "validate", file)
    assert code == 1 and "2 error(s)" in err, out + err
    assert (
        "bad-rotate-on-a-pinned-key.yaml:8:16: keys[pinned].proxy_key: rotate: (from defaults) on a key pinned"
        in out
    )
    assert "bad-rotate-on-a-pinned-key.yaml:14:13: keys[own].rotate: rotate: on a key pinned" in out
    assert "keys[free]" not in out
    manifest = tmp_path / "k.yaml"
    manifest.write_text(
        "version: 1\ndefaults: {limit_type: daily}\nkeys:\n"
        "  - {id: pinned, name: Pinned, proxy_key: ek-proxy-0000000000000000000000000000abcd, allocated_ammount: 10}\n"
    )
    code, out, err = run_cli(capsys, "rotate", str(manifest), "pinned", "--auto-approve", "--sandbox")
    assert code == 1 and "pins it by proxy_key" in err and "0000abcd" not in out + err, out + err


def test_an_overlap_not_shorter_than_every_is_refused(capsys: Any) -> None:
    """rotate: {every: 7d, overlap: 30d}: the key fell due again during its overlap, and no
    rotation starts while one is under way, so it silently stopped rotating; now an error."""
    file = str(Path(__file__).parent.parent / "manifests" / "bad-rotate-overlap-not-shorter-than-every.yaml")
    code, out, err = run_cli(capsys, "validate", file)
    assert code == 1 and "1 error(s)" in err, out + err
    assert ":8:13: keys[svc].rotate: overlap 30d is not shorter than every 7d" in out
    assert "keys[ok]" not in out
