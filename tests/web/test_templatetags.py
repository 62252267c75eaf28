"""The console's template filters: times, durations, rates, badges, bars, escaping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from checkpoints_admin.checkpoints.summary import Summary
from checkpoints_admin.templatetags import console


def test_reltime_says_how_long_ago_with_the_utc_time_on_hover():
    moment = timezone.now() - timedelta(minutes=4, seconds=5)
    html = console.reltime(moment)
    assert html.startswith(
        f'<time datetime="{moment.astimezone(UTC).isoformat().replace("+00:00", "Z")}"'
    )
    assert f'title="{moment:%Y-%m-%d %H:%M:%S} UTC"' in html
    assert html.endswith(">4 min ago</time>")


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(seconds=3), "just now"),
        (timedelta(seconds=45), "45 s ago"),
        (timedelta(hours=3, minutes=12), "3 h ago"),
        (timedelta(days=2, hours=4), "2 d ago"),
        (timedelta(days=800), "2 y ago"),
        (-timedelta(minutes=10), "in 10 min"),
    ],
)
def test_relative_words(delta, words):
    now = datetime(2025, 3, 6, 12, tzinfo=UTC)
    assert console.relative_words(now - delta, now) == words


def test_reltime_of_nothing_and_of_epoch_seconds():
    assert console.reltime(None) == '<span class="muted">—</span>'
    assert 'datetime="1970-01-01T00:00:10Z"' in console.reltime(10.0)
    assert console.utc(datetime(2025, 3, 6, 10, 15, 23, tzinfo=UTC)) == "2025-03-06 10:15:23 UTC"
    assert console.utc("soon") == "—"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.2, "0 s"),
        (55, "55 s"),
        (3600 * 3 + 720, "3 h 12 min"),
        (86400 * 2 + 3600 * 4 + 5, "2 d 4 h"),
        (3600, "1 h"),
    ],
)
def test_duration(seconds, text):
    assert console.duration(seconds) == text


def test_duration_of_nothing():
    assert console.duration(None) == "—"
    assert console.duration(True) == "—"


@pytest.mark.parametrize(
    ("rate", "unit", "text"),
    [
        (24.0, "records", "24.0 rec/s"),
        (0.5, "items", "30.0 items/min"),
        (1 / 3600 * 3.2, "dates", "3.2 dates/h"),
        (1 / 86400 * 2, "dates", "2.0 dates/d"),
        (1 / 86400 / 2, "dates", "3.5 dates/wk"),  # not 0.5 a day
        (1 / 604800 / 20, "items", "< 0.1 items/wk"),  # never a rate of 0.0
        (1234.4, "records", "1,234 rec/s"),
        (None, "dates", "—"),
        (0, "dates", "—"),
    ],
)
def test_rate_reads_best_per_second_minute_hour_day_or_week(rate, unit, text):
    assert console.rate(SimpleNamespace(rate=rate, rate_unit=unit, unit=unit)) == text


def test_percent_and_short_hashes_and_initials():
    assert console.percent(0.8443) == "84.4 %"
    assert console.percent(None) == "—"
    assert console.shorthash("0123456789abcdef" * 4) == "0123456789ab"
    assert console.initials("jane.doe") == "JD"
    assert console.initials("root") == "RO"
    assert console.initials("") == "?"


def test_badges_carry_their_word_and_escape_unknown_states():
    assert console.state_badge("running") == (
        '<span class="badge badge--running">'
        '<span class="badge__dot" aria-hidden="true"></span>running</span>'
    )
    assert "badge--lg" in console.state_badge("failed", "lg")
    odd = console.state_badge('<b onclick="x">')
    assert "badge--unknown" in odd
    assert "&lt;b onclick=&quot;x&quot;&gt;" in odd


def test_progress_bar_is_a_progress_element():
    assert console.progress_bar(0.5, "running") == (
        '<progress class="bar bar--thin bar--running" max="1" value="0.5000" '
        'aria-label="50.0 %"></progress>'
    )
    assert 'value="1.0000"' in console.progress_bar(3, "completed", "big")
    assert "progress unknown" in console.progress_bar(None)


def test_values_as_text():
    assert console.plain("2025-03-01") == "2025-03-01"
    assert console.plain({"a": 1}) == '{"a":1}'
    assert console.jsonvalue("x" * 300, 10) == '"xxxxxxxx…'
    assert console.stat(8564) == "8,564"
    assert console.stat(0.5) == "0.50"
    assert console.stat([1, 2]) == "[1,2]"


@pytest.mark.parametrize(
    ("seconds", "state", "text"),
    [
        # the finish expected at the last update (an hour ago), counted from now
        (3 * 3600 + 720, "running", console.duration(2 * 3600 + 720)),
        (3690, "pending", console.duration(90)),
        (3600, "running", console.duration(0)),
        (3000, "running", "overdue"),
        (90, "stalled", "—"),  # it will not finish on its own
        (90, "failed", "—"),
        (None, "running", "—"),
        (0, "completed", "done"),
        (None, "completed", "done"),
    ],
)
def test_eta_only_while_a_job_is_expected_to_go_on(seconds, state, text):
    now = datetime(2025, 3, 6, 12, 0, tzinfo=UTC)
    summary = Summary(
        kind="unified-reconciliation", eta_seconds=seconds, last_update=now - timedelta(hours=1)
    )
    assert console.eta(summary, state, now) == text
    assert console.eta(None, "running", now) == "—"


def test_breakable_escapes_the_name_and_breaks_only_after_its_separators():
    assert console.breakable("daily_reconciliation-2025.06") == (
        "daily_<wbr>reconciliation-<wbr>2025.<wbr>06"
    )
    hostile = console.breakable('<img src=x onerror="a&b">_x')
    assert hostile == "&lt;img src=x onerror=&quot;a&amp;b&quot;&gt;_<wbr>x"
    assert console.breakable("") == "" and console.breakable(None) == ""


def test_shown_escapes_what_would_not_show_and_keeps_lines_when_asked():
    from checkpoints_admin.templatetags.console import shown

    assert shown("a\u202eb<") == (
        'a<span class="esc" title="U+202E RIGHT-TO-LEFT OVERRIDE">\\u202e</span>b&lt;'
    )
    assert shown("a\nb") == 'a<span class="esc" title="U+000A CONTROL CHARACTER">\\n</span>b'
    # a file's own lines (a <pre>, a text diff): line breaks, CRs and tabs kept as they are
    assert shown("a\tb\r\nc", "lines") == "a\tb\r\nc"
    assert "\\u200b" in shown("a\u200bb", "lines")
