"""Read-side helpers: rows, selection and sort, the loaded-checkpoint cache, calendars, lists."""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checkpoints_admin import queries
from checkpoints_admin.checkpoints import CheckpointNotFound, CheckpointStore, CorruptCheckpoint
from checkpoints_admin.checkpoints.summary import summarize
from tests.web.conftest import write_json

NOW = datetime(2025, 3, 6, 10, 0, tzinfo=UTC)


@pytest.fixture
def store(samples_dir) -> CheckpointStore:
    return CheckpointStore(samples_dir)


def test_rows_carry_state_and_finding_counts(store):
    rows = {row.name: row for row in queries.build_rows(store.list(), now=NOW, stale_after=3600)}
    assert rows["reconciliation_checkpoint"].state == "stalled"
    assert (
        rows["reconciliation_checkpoint"].errors,
        rows["reconciliation_checkpoint"].warnings,
    ) == (0, 2)
    assert rows["daily_reconciliation_checkpoint"].state == "running"
    assert rows["my-process"].state == "running"
    fresh = queries.build_rows(store.list(), now=NOW, stale_after=10**9)
    assert {row.name: row.warnings for row in fresh}["reconciliation_checkpoint"] == 1


def test_a_last_update_in_the_future_counts_as_a_warning_in_the_row(store, samples_dir):
    write_json(samples_dir, "ahead", {"id": "a", "status": "running", "progress": 5,
                                      "lastUpdated": "2099-01-01T00:00:00.000Z"})  # fmt: skip
    rows = {row.name: row for row in queries.build_rows(store.list(), now=NOW, stale_after=60)}
    assert (rows["ahead"].state, rows["ahead"].warnings) == ("running", 1)
    loaded = queries.load_checkpoint(store, "ahead")
    findings = loaded.findings_at(now=NOW, stale_after=60)
    assert [f.pointer for f in findings] == ["/lastUpdated"]


def test_a_corrupt_file_is_a_corrupt_row(store, samples_dir):
    (samples_dir / "bad.json").write_text("[1, 2")
    row = {row.name: row for row in queries.build_rows(store.list(), now=NOW, stale_after=60)}[
        "bad"
    ]
    assert (row.state, row.errors, row.summary) == ("corrupt", 1, None)
    assert queries.state_counts([row]) == {
        "pending": 0,
        "running": 0,
        "stalled": 0,
        "completed": 0,
        "failed": 0,
        "corrupt": 1,
    }


def test_select_filters_and_sorts_with_missing_values_last(store, samples_dir):
    (samples_dir / "bad.json").write_text("{")
    rows = queries.build_rows(store.list(), now=NOW, stale_after=3600)
    assert [r.name for r in queries.select_rows(rows, sort="rate")] == [
        "my-process",
        "reconciliation_checkpoint",
        "bad",
        "daily_reconciliation_checkpoint",
    ]
    assert [r.name for r in queries.select_rows(rows, sort="rate", descending=True)][:2] == [
        "reconciliation_checkpoint",
        "my-process",
    ]
    assert [r.name for r in queries.select_rows(rows, q="PROC")] == ["my-process"]
    assert [r.name for r in queries.select_rows(rows, state="corrupt")] == ["bad"]
    assert [r.name for r in queries.select_rows(rows, kind="managed")] == ["my-process"]
    assert [r.name for r in queries.select_rows(rows, sort="bogus")][0] == "bad"


def test_load_checkpoint_parses_unchanged_bytes_once(store, samples_dir):
    queries.clear_cache()
    first = queries.load_checkpoint(store, "my-process")
    assert queries.load_checkpoint(store, "my-process") is first
    write_json(samples_dir, "my-process", {**first.data, "progress": 60})
    changed = queries.load_checkpoint(store, "my-process")
    assert changed is not first
    assert changed.data["progress"] == 60
    assert changed.checkpoint.version != first.checkpoint.version


def test_load_checkpoint_raises_the_store_errors(store, samples_dir):
    with pytest.raises(CheckpointNotFound):
        queries.load_checkpoint(store, "missing")
    (samples_dir / "bad.json").write_text('{"a": }')
    with pytest.raises(CorruptCheckpoint) as excinfo:
        queries.load_checkpoint(store, "bad")
    assert excinfo.value.line == 1


def test_the_cache_is_bounded(store, samples_dir, monkeypatch):
    queries.clear_cache()
    monkeypatch.setattr(queries, "CACHE_ENTRIES", 2)
    for name in ("my-process", "reconciliation_checkpoint", "daily_reconciliation_checkpoint"):
        queries.load_checkpoint(store, name)
    assert len(queries._CACHE) == 2
    # and by the memory they take parsed, estimated from their bytes
    queries.clear_cache()
    monkeypatch.setattr(queries, "CACHE_ENTRIES", 16)
    sizes = {name: (samples_dir / f"{name}.json").stat().st_size for name in ("my-process",
             "reconciliation_checkpoint", "daily_reconciliation_checkpoint")}  # fmt: skip
    room = (sizes["reconciliation_checkpoint"] + sizes["daily_reconciliation_checkpoint"]) * 6
    monkeypatch.setattr(queries, "CACHE_MEMORY", room)
    for name in sizes:
        queries.load_checkpoint(store, name)
    assert [key[1] for key in queries._CACHE] == [
        "reconciliation_checkpoint",
        "daily_reconciliation_checkpoint",
    ]


def index_of(data: dict, kind: str) -> queries.DateIndex:
    return queries.DateIndex.of(data, kind, summarize(data, kind=kind))


def test_day_states_and_first_gap():
    data = {
        "pendingDates": ["2025-03-09", "2025-03-10", "2025-03-02"],
        "completedDates": ["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-07"],
    }
    index = index_of(data, "unified-reconciliation")
    assert [index.state_of(f"2025-03-{n:02d}") for n in range(1, 12)] == [
        "completed",
        "conflict",
        "completed",
        "gap",
        "gap",
        "gap",
        "completed",
        "gap",
        "pending",
        "pending",
        "outside",
    ]
    assert index.first_gap == "2025-03-04"
    assert index.first_pending == "2025-03-02"


def test_first_gap_in_a_long_range_is_found_without_walking_it():
    start = date(1000, 1, 1).toordinal()
    done = [date.fromordinal(start + n).isoformat() for n in range(300_000)]
    missing = done.pop(250_000)
    index = index_of({"completedDates": done, "pendingDates": []}, "unified-reconciliation")
    assert index.first_gap == missing
    assert (
        index_of(
            {"completedDates": done[:1000], "pendingDates": []}, "unified-reconciliation"
        ).first_gap
        is None
    )


def test_daily_dates_index():
    data = {"dates": ["2025-03-04", "2025-03-06"], "processedDates": ["2025-03-04"]}
    index = index_of(data, "daily-reconciliation")
    assert index.state_of("2025-03-04") == "completed"
    assert index.state_of("2025-03-05") == "gap"
    assert index.state_of("2025-03-06") == "pending"


def test_month_grid_has_weekday_rows():
    index = index_of(
        {"completedDates": ["2025-03-01"], "pendingDates": ["2025-03-03"]}, "unified-reconciliation"
    )
    month = queries.month_grid(index, 2025, 3, today=date(2025, 3, 3))
    assert [label for label, _ in month.rows] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert len(month.rows[0][1]) == 6  # March 2025 spans six weeks
    saturday = month.rows[5][1]
    assert saturday[0].date == "2025-03-01"
    assert saturday[0].state == "completed"
    monday = month.rows[0][1]
    assert monday[0] is None
    assert (monday[1].date, monday[1].state, monday[1].today) == ("2025-03-03", "pending", True)
    assert month.counts == {"completed": 1, "pending": 1, "conflict": 0, "gap": 1, "outside": 28}
    assert (month.previous, month.next, month.label) == ("2025-02", "2025-04", "March 2025")


def test_month_bounds_and_parsing():
    index = index_of({"completedDates": [], "pendingDates": []}, "unified-reconciliation")
    assert queries.month_grid(index, 1, 1, today=date(2025, 1, 1)).previous is None
    assert queries.month_grid(index, 9999, 12, today=date(2025, 1, 1)).next is None
    assert queries.parse_month("2025-02") == (2025, 2)
    assert queries.parse_month("2025-02-14") == (2025, 2)
    assert queries.parse_month("2025-13") is None
    assert queries.parse_month("0000-01") is None
    assert queries.parse_month("") is None
    assert queries.default_month(index, date(2030, 5, 1)) == (2030, 5)


def test_list_fields_put_the_kinds_lists_first():
    data = {"extra": [1], "completedDates": ["a"], "pendingDates": [], "stats": {}}
    fields = queries.list_fields(data, "unified-reconciliation")
    assert [(f.key, f.label, f.count) for f in fields] == [
        ("pendingDates", "Pending dates", 0),
        ("completedDates", "Completed dates", 1),
        ("extra", "extra", 1),
    ]


def test_search_list_matches_text_of_any_value():
    values = ["alpha", "Beta", {"id": "beta-2"}, 42]
    assert queries.search_list(values, "BETA") == ["Beta", {"id": "beta-2"}]
    assert queries.search_list(values, "4") == [42]
    assert queries.search_list(values, "  ") is values


def test_a_listing_is_reused_while_the_directory_is_unchanged(store, samples_dir, monkeypatch):
    monkeypatch.setattr(queries, "LIST_CACHE_SECONDS", 3600.0)
    queries.clear_cache()
    past = 1_700_000_000
    os.utime(samples_dir, (past, past))
    first = queries.listing(store, stale_after=3600)
    assert [row.name for row in first.rows] == [
        "daily_reconciliation_checkpoint",
        "my-process",
        "reconciliation_checkpoint",
    ]
    assert queries.listing(store, stale_after=3600) is first
    assert queries.listing(store, stale_after=60) is not first  # another threshold, other states
    assert first.select(q="my") is first.select(q="my")
    # a job creates a file (the directory changes): the next listing shows it
    write_json(samples_dir, "new-job", {"id": "n", "status": "running", "progress": 1})
    os.utime(samples_dir, (past + 10, past + 10))
    second = queries.listing(store, stale_after=3600)
    assert second is not first
    assert "new-job" in [row.name for row in second.rows]
    # an in-place write leaves the directory alone: seen once the listing is older than allowed
    write_json(samples_dir, "new-job", {"id": "n", "status": "failed", "progress": 1})
    assert queries.listing(store, stale_after=3600) is second
    monkeypatch.setattr(queries, "LIST_CACHE_SECONDS", 0.0)
    third = queries.listing(store, stale_after=3600)
    assert {row.name: row.state for row in third.rows}["new-job"] == "failed"


def test_a_directory_changed_just_now_is_not_cached(store, samples_dir, monkeypatch):
    monkeypatch.setattr(queries, "LIST_CACHE_SECONDS", 3600.0)
    queries.clear_cache()
    # modified "now" (here: a clock a minute ahead), so another change could land within the
    # same mtime tick
    soon = time.time() + 60
    os.utime(samples_dir, (soon, soon))
    first = queries.listing(store, stale_after=3600)
    assert queries.listing(store, stale_after=3600) is not first


@settings(max_examples=150, deadline=None)
@given(
    completed=st.sets(st.integers(min_value=0, max_value=40)),
    pending=st.sets(st.integers(min_value=0, max_value=40)),
    odd=st.sampled_from([[], ["2025-02-30"], ["not a date"], [" 2025-01-05"]]),
)
def test_ascending_lists_index_like_their_sets(completed, pending, odd):
    """A unified checkpoint's strictly ascending lists are searched in place; the answers
    are those of the sets an unsorted copy of the same lists gives."""
    start = date(2025, 1, 1).toordinal()

    def days(numbers):
        return [date.fromordinal(start + n).isoformat() for n in sorted(numbers)]

    ascending = {"completedDates": days(completed), "pendingDates": sorted(days(pending) + odd)}
    shuffled = {key: list(reversed(value)) for key, value in ascending.items()}
    fast = index_of(ascending, "unified-reconciliation")
    slow = index_of(shuffled, "unified-reconciliation")
    if len(ascending["pendingDates"]) > 1:
        assert isinstance(fast.pending, queries._Ascending)
        assert isinstance(slow.pending, set)
    window = [date.fromordinal(start + n).isoformat() for n in range(-2, 44)]
    assert [fast.state_of(day) for day in window] == [slow.state_of(day) for day in window]
    assert fast.first_pending == slow.first_pending
    assert fast.first_gap == slow.first_gap


@pytest.mark.parametrize(
    "pending",
    [
        ["2025-03-09", "0000-00-00", "1", "2025-02-30", "2025-03-08"],  # unsorted: a set
        ["0000-00-00", "1", "2025-02-30", "2025-03-08", "2025-03-09"],  # sorted
        ["1", "2025-02-30"],  # no real date
    ],
)
def test_the_first_pending_date_skips_values_that_are_not_real_dates(pending):
    data = {"lastProcessedDate": "2025-03-01", "completedDates": ["2025-03-01"]}
    index = index_of({**data, "pendingDates": pending}, "unified-reconciliation")
    assert index.first_pending == ("2025-03-08" if "2025-03-08" in pending else None)
