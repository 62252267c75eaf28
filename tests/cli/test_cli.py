"""The commands' shared helpers: formatting, option parsing, error mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management.base import CommandError

from checkpoints_admin.checkpoints import (
    CheckpointLockTimeout,
    CorruptCheckpoint,
    InterventionError,
    InvalidCheckpointName,
    VersionConflict,
)
from checkpoints_admin.management.cli import (
    duration,
    error_for,
    one_line,
    parse_version,
    printable,
    rate_text,
    relative,
)
from checkpoints_admin.management.commands.edit_checkpoint import parse_assignment

NOW = datetime(2025, 3, 6, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0, "0s"),
        (59, "59s"),
        (60, "1m"),
        (3 * 3600 + 13 * 60 + 5, "3h 13m"),
        (2 * 86400 + 30, "2d"),
        (400 * 86400, "1y 35d"),
    ],
)
def test_duration_keeps_the_two_largest_units(seconds, text) -> None:
    assert duration(seconds) == text


def test_printable_escapes_what_a_terminal_would_act_on_and_keeps_text() -> None:
    shown = printable("a\x1b[2J\x07\r\n\t\x00\x7f\x9b\u202e\u2066\u2028\udcff é 日 \u200f")
    # (a right-to-left mark too, as the console shows it: it reorders what is around it)
    assert shown == (
        "a\\x1b[2J\\x07\\r\\n\\t\\x00\\x7f\\x9b\\u202e\\u2066\\u2028\\udcff é 日 \\u200f"
    )


def test_relative_time_reads_like_a_person_would_say_it() -> None:
    assert relative(None, NOW) == "-"
    assert relative(NOW - timedelta(minutes=4, seconds=10), NOW) == "4m ago"
    assert relative(NOW + timedelta(hours=2), NOW) == "in 2h"
    assert relative(NOW, NOW) == "just now"


def test_rate_picks_the_unit_of_time_that_gives_a_readable_number() -> None:
    assert rate_text(24.0, "records") == "24.0 rec/s"
    assert rate_text(0.5, "dates") == "30.0 dates/min"
    assert rate_text(1 / 7200, "dates") == "12.0 dates/d"
    assert rate_text(None, "items") == "-"
    assert rate_text(0.0, "items") == "-"


def test_set_values_are_json_and_strings_need_quotes() -> None:
    assert parse_assignment("/stats/failedRecords=40") == ("/stats/failedRecords", 40)
    assert parse_assignment('/status="completed"') == ("/status", "completed")
    assert parse_assignment("/endTime=null") == ("/endTime", None)
    assert parse_assignment('/note="a=b"') == ("/note", "a=b")
    with pytest.raises(CommandError) as excinfo:
        parse_assignment("/status=completed")
    assert excinfo.value.returncode == 2
    assert "strings need quotes" in str(excinfo.value)
    with pytest.raises(CommandError) as excinfo:
        parse_assignment("/progress=NaN")
    assert excinfo.value.returncode == 2
    with pytest.raises(CommandError) as excinfo:
        parse_assignment("stats=1")
    assert "starts with '/'" in str(excinfo.value)
    with pytest.raises(CommandError) as excinfo:
        parse_assignment("/stats")
    assert "expected /json/pointer=JSON" in str(excinfo.value)


def test_expected_versions_are_hex_of_at_least_8_digits() -> None:
    assert parse_version(None) is None
    assert parse_version("ABCDEF0123") == "abcdef0123"
    for bad in ("abc", "not-a-version", "g" * 64, "a" * 65):
        with pytest.raises(CommandError) as excinfo:
            parse_version(bad)
        assert excinfo.value.returncode == 2


def test_library_errors_map_to_one_line_and_an_exit_code() -> None:
    assert error_for(InvalidCheckpointName("Bad name '../x'.", name="../x")).returncode == 2
    conflict = error_for(VersionConflict("Changed.", name="a", expected="1", actual="2"))
    assert (conflict.returncode, str(conflict)) == (1, "a: changed.")
    locked = error_for(CheckpointLockTimeout("Timed out.", name="daily"))
    assert locked.returncode == 1
    assert str(locked) == (
        "Checkpoint 'daily' is locked: a job is holding it. Nothing was changed; "
        "try again in a moment."
    )
    corrupt = error_for(CorruptCheckpoint("Expecting value", name="x", line=3, column=5))
    assert str(corrupt) == "x: line 3, column 5: expecting value"
    said = error_for(CorruptCheckpoint("'x' is not JSON at line 3, column 5", name="x", line=3))
    assert str(said) == "'x' is not JSON at line 3, column 5"
    named = error_for(InterventionError("2025-03-01 is not pending", name="daily"))
    assert str(named) == "daily: 2025-03-01 is not pending"
    assert one_line("first\n  second\n\n") == "first second"
