"""Summaries per kind: progress, counts, rate, ETA, dates covered and the derived state."""

from __future__ import annotations

import dataclasses
import gc
import pickle
from datetime import UTC, datetime, timedelta

import pytest

from checkpoints_admin.checkpoints.kinds import validate
from checkpoints_admin.checkpoints.summary import STATES, Summary, examine, summarize
from tests.checkpoints.conftest import load_sample as sample


def test_unified_sample(unified):
    summary = summarize(unified)
    assert summary.kind == "unified-reconciliation"
    assert summary.status is None
    assert summary.progress == 7231 / 8564
    assert (summary.done, summary.pending, summary.total, summary.unit) == (4, 2, 6, "dates")
    # 7,231 records between startTime and lastUpdateTime (300.666 s): about 24 per second.
    assert summary.rate == pytest.approx(24.05, abs=0.01)
    assert summary.rate_unit == "records"
    assert summary.eta_seconds == pytest.approx((8564 - 7231) / summary.rate)
    assert summary.started == datetime(2024, 3, 6, 16, 34, 16, 123000, tzinfo=UTC)
    assert summary.last_update == datetime(2024, 3, 6, 16, 39, 16, 789000, tzinfo=UTC)
    assert dict(summary.records) == {"successful": 7189, "failed": 42, "timeouts": 3}
    assert (summary.first_date, summary.last_date, summary.gaps) == ("2025-03-01", "2025-03-07", 1)


def test_unified_without_records_counts_dates(unified):
    unified["stats"]["totalRecords"] = 0
    summary = summarize(unified)
    assert summary.progress == 4 / 6
    assert summary.rate == pytest.approx(4 / 300.666)
    assert summary.rate_unit == "dates"
    assert summary.eta_seconds == pytest.approx(2 / summary.rate)


def test_unified_with_no_date_left_is_done_whatever_the_records_say(unified):
    """Skipped dates leave the job's record estimate short: 84 % of records, no date left."""
    unified["completedDates"] += unified["pendingDates"]
    unified["pendingDates"] = []
    summary = summarize(unified)
    assert (summary.done, summary.pending, summary.progress) == (6, 0, 1.0)
    assert summary.rate_unit == "dates"
    assert summary.eta_seconds == 0
    assert summary.state(now=summary.last_update, stale_after=60) == "completed"
    # no dates at all: the records are all there is to go by
    unified["completedDates"] = []
    assert summarize(unified).progress == 7231 / 8564


def test_unified_with_more_processed_than_total_stays_within_one(unified):
    unified["stats"]["processedRecords"] = 9000
    assert summarize(unified).progress == 1.0


def test_daily_sample(daily):
    summary = summarize(daily)
    assert summary.kind == "daily-reconciliation"
    assert summary.status == "running"
    assert summary.progress == 0.5
    assert (summary.done, summary.pending, summary.total, summary.unit) == (1, 1, 2, "dates")
    assert summary.rate is None  # lastRun is the start: no elapsed time yet
    assert summary.eta_seconds is None
    assert summary.started == datetime(2025, 3, 6, 10, 15, 23, 456000, tzinfo=UTC)
    assert summary.last_update == summary.started
    assert (summary.first_date, summary.last_date, summary.gaps) == ("2025-03-04", "2025-03-05", 0)
    assert dict(summary.records) == {}


def test_daily_rate_runs_to_the_end_time(daily):
    daily.update(
        status="completed",
        processedDates=["2025-03-04", "2025-03-05"],
        endTime="2025-03-06T10:15:33.456Z",
    )
    summary = summarize(daily)
    assert summary.progress == 1.0
    assert summary.rate == pytest.approx(0.2)
    assert summary.eta_seconds == 0
    assert summary.last_update == datetime(2025, 3, 6, 10, 15, 33, 456000, tzinfo=UTC)


def test_daily_processed_dates_outside_dates_do_not_count(daily):
    daily["processedDates"] = ["2025-03-04", "2025-03-09"]
    summary = summarize(daily)
    assert (summary.done, summary.pending, summary.progress) == (1, 1, 0.5)


def test_managed_sample(managed):
    summary = summarize(managed)
    assert summary.kind == "managed"
    assert summary.status == "running"
    assert summary.progress == 0.33
    assert (summary.done, summary.pending, summary.total, summary.unit) == (1, 2, 3, "items")
    assert summary.rate == pytest.approx(1 / 300)
    assert summary.eta_seconds == pytest.approx(600)
    assert summary.started == datetime(2025, 3, 6, 9, 0, tzinfo=UTC)
    assert summary.last_update == datetime(2025, 3, 6, 9, 5, tzinfo=UTC)
    assert (summary.first_date, summary.last_date, summary.gaps) == (None, None, 0)


def test_managed_without_items_estimates_from_progress(managed):
    del managed["processedItems"], managed["pendingItems"]
    managed["progress"] = 25
    summary = summarize(managed)
    assert (summary.done, summary.pending, summary.total, summary.unit) == (0, 0, None, "")
    assert summary.rate is None
    assert summary.eta_seconds == pytest.approx(900)  # 5 minutes for 25 %, 15 more for 75 %


@pytest.mark.parametrize("value", [None, [], "text", 1, {"unrelated": True}])
def test_unknown_documents_summarise_to_nothing(value):
    summary = summarize(value)
    assert summary == Summary(kind="unknown")
    assert summary.progress is None
    assert (summary.done, summary.pending, summary.total, summary.rate) == (0, 0, None, None)


def test_unknown_document_keeps_its_own_status():
    assert summarize({"status": "failed"}).status == "failed"


@pytest.mark.parametrize(
    "changes",
    [
        {"pendingDates": "2025-03-06", "completedDates": [1, None, "2025-03-01", ["x"]]},
        {"stats": [1, 2], "startTime": "2025-03-06T10:00:00Z", "lastUpdateTime": -1},
        {"stats": {"totalRecords": "8564", "processedRecords": True}},
        {"startTime": 10**30, "lastUpdateTime": 1.5},
    ],
)
def test_wrong_types_are_treated_as_absent_in_unified(unified, changes):
    unified.update(changes)
    summary = summarize(unified)
    assert summary.kind == "unified-reconciliation"
    assert summary.progress is None or 0 <= summary.progress <= 1


def test_wrong_typed_unified_fields_count_as_absent(unified):
    unified.update(
        completedDates=[1, None, "2025-03-01", "2025-02-30"],
        stats={"totalRecords": "8564", "processedRecords": 7231, "failedRecords": -1},
        startTime="2025",
    )
    summary = summarize(unified)
    assert (summary.done, summary.pending) == (2, 2)  # the two strings, real date or not
    assert summary.progress == 0.5  # no usable totalRecords: dates
    assert summary.started is None and summary.rate is None
    assert dict(summary.records) == {}
    assert (summary.first_date, summary.last_date) == ("2025-03-01", "2025-03-07")


def test_wrong_typed_managed_fields_count_as_absent(managed):
    managed.update(progress=400, created=5, pendingItems="x", status=["running"])
    summary = summarize(managed)
    assert (summary.progress, summary.started, summary.status) == (None, None, None)
    assert (summary.done, summary.pending, summary.total) == (1, 0, 1)


def test_an_unknown_kind_name_is_refused():
    with pytest.raises(ValueError) as excinfo:
        summarize({}, kind="hourly")
    assert "'hourly'" in str(excinfo.value)


def test_forced_kind(managed):
    assert summarize(managed, kind="unknown") == Summary(kind="unknown", status="running")


# --- state -------------------------------------------------------------------------------

NOW = datetime(2025, 3, 6, 10, 0, tzinfo=UTC)
RECENT = NOW - timedelta(minutes=5)
OLD = NOW - timedelta(hours=3)


@pytest.mark.parametrize(
    ("summary", "state"),
    [
        (Summary(kind="managed", status="completed", last_update=OLD), "completed"),
        (Summary(kind="managed", status="failed", last_update=OLD), "failed"),
        (Summary(kind="managed", status="pending", last_update=OLD), "pending"),
        # "pending" with work recorded (a job that went on after a reset): running, and so
        # stalled once it stops updating
        (Summary(kind="managed", status="pending", done=17, last_update=RECENT), "running"),
        (Summary(kind="managed", status="pending", done=17, last_update=OLD), "stalled"),
        (Summary(kind="managed", status="running", last_update=RECENT), "running"),
        (Summary(kind="managed", status="running", last_update=OLD), "stalled"),
        (Summary(kind="managed", status="running", last_update=None), "running"),
        (Summary(kind="daily-reconciliation", status="running", last_update=OLD), "stalled"),
        # unified documents have no status: derived from the dates
        (Summary(kind="unified-reconciliation", done=4, pending=0, last_update=OLD), "completed"),
        (Summary(kind="unified-reconciliation", done=4, pending=2, last_update=RECENT), "running"),
        (Summary(kind="unified-reconciliation", done=4, pending=2, last_update=OLD), "stalled"),
        (Summary(kind="unified-reconciliation", done=0, pending=2, last_update=None), "pending"),
        (Summary(kind="unified-reconciliation", done=0, pending=2, last_update=RECENT), "running"),
        (Summary(kind="unified-reconciliation", done=0, pending=0), "pending"),
        (Summary(kind="unknown"), "pending"),
        (Summary(kind="unknown", status="completed"), "completed"),
    ],
)
def test_state(summary, state):
    assert summary.state(now=NOW, stale_after=3600) == state
    assert state in STATES


def test_stalled_threshold_is_strict_and_naive_now_means_utc():
    summary = Summary(kind="managed", status="running", last_update=NOW - timedelta(seconds=60))
    assert summary.state(now=NOW, stale_after=60) == "running"
    assert summary.state(now=NOW, stale_after=59) == "stalled"
    assert summary.state(now=NOW.replace(tzinfo=None), stale_after=59) == "stalled"
    assert summary.state(now=NOW, stale_after=None) == "running"


def test_states_of_the_samples(unified, daily, managed):
    at_update = datetime(2025, 3, 6, 10, 16, tzinfo=UTC)
    assert summarize(daily).state(now=at_update, stale_after=3600) == "running"
    assert summarize(managed).state(now=at_update, stale_after=3600) == "stalled"
    assert summarize(unified).state(now=at_update, stale_after=3600) == "stalled"
    unified["completedDates"] += unified.pop("pendingDates")
    unified["pendingDates"] = []
    assert summarize(unified).state(now=at_update, stale_after=3600) == "completed"


# --- examine -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["reconciliation_checkpoint", "daily_reconciliation_checkpoint", "my-process"]
)
def test_examine_is_summarize_and_validate_together(name):
    data = sample(name)
    data["stats"] = {"processedRecords": -1}  # some findings for every kind
    now = datetime(2025, 3, 7, tzinfo=UTC)
    assert examine(data) == (summarize(data), validate(data))
    assert examine(data, now=now, stale_after=60) == (
        summarize(data),
        validate(data, now=now, stale_after=60),
    )
    assert examine(data, kind="unknown") == (Summary(kind="unknown", status=data.get("status")), [])


def test_examine_of_a_non_object():
    summary, findings = examine(["not", "an", "object"])
    assert summary == Summary(kind="unknown")
    assert [f.message for f in findings] == ["a checkpoint must be a JSON object, not a list"]


def test_summaries_copy_and_pickle(unified):
    summary = summarize(unified)
    assert pickle.loads(pickle.dumps(summary)) == summary
    assert dataclasses.asdict(summary)["records"] == {
        "successful": 7189,
        "failed": 42,
        "timeouts": 3,
    }


def test_examine_works_out_the_span_of_the_date_lists_once(monkeypatch) -> None:
    from checkpoints_admin.checkpoints import kinds as kinds_module

    calls = []
    real = kinds_module.date_range

    def counting(lists):
        calls.append(len(lists))
        return real(lists)

    monkeypatch.setattr(kinds_module, "date_range", counting)
    data = {
        "pendingDates": ["2025-03-04"],
        "completedDates": ["2025-03-01", "2025-03-02"],
        "lastProcessedDate": "2025-03-02",
    }
    summary, findings = examine(data)
    assert calls == [2]
    assert (summary.first_date, summary.last_date, summary.gaps) == ("2025-03-01", "2025-03-04", 1)
    assert [f.message for f in findings] == [
        "2025-03-03 is inside the range but in neither pendingDates nor completedDates"
    ]


@pytest.mark.parametrize("order", ["sorted", "shuffled with duplicates"])
def test_daily_counts_the_same_whether_its_lists_are_sorted_or_not(order) -> None:
    dates = [f"2025-03-{day:02d}" for day in range(1, 11)]
    processed = dates[:4] + ["2025-04-01"]  # one processed date that is not in dates
    if order != "sorted":
        dates = dates[::-1] + dates[:2]
        processed = processed[::-1] + processed[:1]
    data = {"dates": dates, "processedDates": processed, "status": "completed"}
    summary, findings = examine(data)
    assert (summary.done, summary.pending, summary.total) == (4, 6, 10)
    messages = [f.message for f in findings]
    assert "'2025-04-01' is in processedDates but not in dates" in messages
    assert "status is 'completed' but 6 dates of dates are not in processedDates" in messages


def test_examine_intersects_sorted_daily_lists_once_without_sets(monkeypatch) -> None:
    from checkpoints_admin.checkpoints import kinds as kinds_module

    calls = []
    real = kinds_module._common_sorted
    real_values = kinds_module.DateList.values

    def counting(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    def values(dates):
        calls.append("set of values")
        return real_values.fget(dates)

    monkeypatch.setattr(kinds_module, "_common_sorted", counting)
    monkeypatch.setattr(kinds_module.DateList, "values", property(values))
    dates = [f"2025-03-{day:02d}" for day in range(1, 11)]
    data = {"dates": dates, "processedDates": dates[:4], "status": "completed"}
    summary, findings = examine(data)
    assert calls == [(10, 4)]
    assert (summary.done, summary.pending) == (4, 6)
    assert [f.message for f in findings] == [
        "status is 'completed' but 6 dates of dates are not in processedDates"
    ]


@pytest.mark.parametrize("name", ["reconciliation_checkpoint", "daily_reconciliation_checkpoint"])
def test_examine_leaves_no_reference_cycles(name) -> None:
    """Its date lists are freed when it returns, not at the next garbage collection.

    A collection also finds what another thread of the process (a live server's, a pool's)
    left meanwhile: a cycle of examine's own is found after each call, so one of three calls
    followed by an empty collection proves there is none."""
    data = sample(name)
    examine(data)
    gc.collect()
    gc.disable()
    try:
        found = []
        for _ in range(3):
            examine(data)
            found.append(gc.collect())
            if found[-1] == 0:
                break
        assert found[-1] == 0, found
    finally:
        gc.enable()


def test_a_manager_job_keeping_dates_of_its_own_is_managed_and_blocks_nothing():
    """CheckpointManager's document with a job field named like a daily job's list."""
    data = {
        "id": "nightly-1",
        "created": "2025-03-06T09:00:00.000Z",
        "lastUpdated": "2025-03-06T10:00:00.000Z",
        "status": "running",
        "progress": 90,
        "dates": ["2025-03-05", "2025-03-06"],
    }
    summary = summarize(data)
    assert (summary.kind, summary.progress) == ("managed", 0.9)
    now = datetime(2025, 3, 6, 10, 5, tzinfo=UTC)
    assert summary.state(now=now, stale_after=3600) == "running"
    assert summary.state(now=now + timedelta(hours=2), stale_after=3600) == "stalled"
    assert [f for f in validate(data, now=now) if f.severity == "error"] == []


def test_a_manager_job_keeping_unified_lists_has_the_managers_status_and_times():
    """Both unified lists make it a unified job (its dates are the measure), but the status
    and times are the manager's: it can stall, and a failed run shows as failed."""
    data = {
        "id": "recon-1",
        "created": "2025-03-06T09:00:00.000Z",
        "lastUpdated": "2025-03-06T10:00:00.000Z",
        "status": "running",
        "progress": 50,
        "pendingDates": ["2025-03-07"],
        "completedDates": ["2025-03-06"],
    }
    summary = summarize(data)
    assert (summary.kind, summary.progress, summary.status) == (
        "unified-reconciliation",
        0.5,
        "running",
    )
    assert summary.started == datetime(2025, 3, 6, 9, 0, tzinfo=UTC)
    assert summary.last_update == datetime(2025, 3, 6, 10, 0, tzinfo=UTC)
    now = datetime(2025, 3, 6, 12, 0, tzinfo=UTC)
    assert summary.state(now=now, stale_after=3600) == "stalled"
    assert summarize({**data, "status": "failed"}).state(now=now, stale_after=3600) == "failed"
    assert summarize({**data, "pendingDates": []}).state(now=now, stale_after=3600) == "stalled"


def test_a_seed_job_moved_onto_the_manager_is_as_recent_as_its_last_save(unified):
    """The seed's file keeps its lastUpdateTime (epoch ms), which the manager leaves alone,
    and the manager saves lastUpdated: the job showed as stalled just after it saved, and
    its warning said it was not updated for a year."""
    saved = {**unified, "status": "running", "lastUpdated": "2026-12-05T21:00:00.000Z"}
    summary = summarize(saved)
    assert summary.last_update == datetime(2026, 12, 5, 21, 0, tzinfo=UTC)
    now = datetime(2026, 12, 5, 21, 1, tzinfo=UTC)
    assert summary.state(now=now, stale_after=3600) == "running"
    assert not [f for f in validate(saved, now=now) if "not updated" in f.message]
    # the seed's own field, when it is the later one, stays the measure
    older = {**saved, "lastUpdated": "2020-01-01T00:00:00.000Z"}
    assert summarize(older).last_update == summarize(unified).last_update


def test_rate_text_is_one_wording_for_the_console_the_cli_and_the_status_page():
    from checkpoints_admin.checkpoints.summary import rate_text

    assert rate_text(24.0, "records") == "24.0 rec/s"
    assert rate_text(24.0, "records", short=False) == "24.0 records/s"
    assert rate_text(2 / 86400, "dates", short=False) == "2.0 dates/day"
    assert rate_text(1 / 86400 / 2, "items", short=False) == "3.5 items/week"
    assert rate_text(1e-9, "items") == "< 0.1 items/wk"
    assert rate_text(3.0, "") == "3.0 units/s"
    assert [rate_text(r, "dates") for r in (None, 0, -1.0, float("nan"))] == [None] * 4
