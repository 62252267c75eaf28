"""Kinds and integrity rules: the seed samples, each rule broken on purpose, dates at scale."""

from __future__ import annotations

import copy
import random
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checkpoints_admin.checkpoints import kinds as kinds_module
from checkpoints_admin.checkpoints.kinds import (
    KINDS,
    MAX_LISTED,
    Finding,
    count_findings,
    date_range,
    detect_kind,
    findings_as_of,
    invalid_dates,
    is_date,
    json_pointer,
    scan_dates,
    stale_finding,
    validate,
    with_article,
)
from checkpoints_admin.checkpoints.summary import summarize
from tests.checkpoints.conftest import load_sample as sample

UNIFIED_GAP = Finding(
    "warning",
    "/pendingDates",
    "2025-03-05 is inside the range but in neither pendingDates nor completedDates"
    " (it is the lastProcessedDate)",
)


# --- detection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("reconciliation_checkpoint", "unified-reconciliation"),
        ("daily_reconciliation_checkpoint", "daily-reconciliation"),
        ("my-process", "managed"),
    ],
)
def test_detect_kind_of_the_samples(name, kind):
    assert detect_kind(sample(name)) == kind


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        ({}, "unknown"),
        ({"anything": 1}, "unknown"),
        ({"id": "x", "status": "running"}, "unknown"),  # no progress: not what the manager writes
        ({"id": "x", "status": "running", "progress": 0}, "managed"),
        ({"completedDates": []}, "unified-reconciliation"),
        ({"pendingDates": [], "dates": []}, "unified-reconciliation"),
        ({"processedDates": []}, "daily-reconciliation"),
        # What CheckpointManager writes, with job fields named as a date kind's lists:
        # managed unless both lists of that kind are there.
        ({"dates": [], "id": "x", "status": "running", "progress": 1}, "managed"),
        ({"pendingDates": [], "id": "x", "status": "running", "progress": 1}, "managed"),
        (
            {"dates": [], "processedDates": [], "id": "x", "status": "running", "progress": 1},
            "daily-reconciliation",
        ),
        (
            {"pendingDates": [], "completedDates": [], "id": "x", "status": "x", "progress": 1},
            "unified-reconciliation",
        ),
    ],
)
def test_detect_kind_from_keys(data, kind):
    assert detect_kind(data) == kind


@pytest.mark.parametrize("value", [None, [], ["pendingDates"], "pendingDates", 3, 2.5, True])
def test_non_objects_are_unknown_and_one_error(value):
    assert detect_kind(value) == "unknown"
    findings = validate(value)
    assert len(findings) == 1
    assert findings[0].severity == "error"
    assert findings[0].pointer == ""
    assert "must be a JSON object" in findings[0].message


def test_unknown_objects_have_no_rules():
    assert validate({"whatever": [1, 1, "x"], "progress": 500}) == []


def test_forced_kind_applies_its_rules():
    findings = validate({"something": 1}, kind="managed")
    assert [(f.severity, f.pointer, f.message) for f in findings] == [
        ("error", "", "id is missing"),
        ("error", "", "status is missing"),
        ("error", "", "progress is missing"),
    ]


def test_an_unknown_kind_name_is_refused():
    with pytest.raises(ValueError) as excinfo:
        validate({}, kind="weekly")
    assert "'weekly'" in str(excinfo.value)
    assert set(KINDS) == {"unified-reconciliation", "daily-reconciliation", "managed", "unknown"}


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("list", "a list"),
        ("object", "an object"),
        ("item", "an item"),
        ("date", "a date"),
        ("int", "an int"),
        ("unknown", "an unknown"),
        ("unified-reconciliation", "a unified-reconciliation"),
        ("daily-reconciliation", "a daily-reconciliation"),
        ("managed", "a managed"),
        ("ISO 8601 time", "an ISO 8601 time"),
        ("UTF-8 string", "a UTF-8 string"),
        ("hour", "an hour"),
        ("whole number", "a whole number"),
    ],
)
def test_with_article_goes_by_the_sound(word, expected):
    assert with_article(word) == expected


# --- the seed samples --------------------------------------------------------------------


def test_unified_sample_has_exactly_the_gap_warning(unified):
    # lastProcessedDate is 2025-03-05, the gap itself: one warning says both facts rather
    # than a second "lastProcessedDate is in neither list" warning.
    assert validate(unified) == [UNIFIED_GAP]


def test_daily_and_managed_samples_are_clean(daily, managed):
    assert validate(daily) == []
    assert validate(managed) == []


def test_last_processed_date_outside_the_range_has_its_own_warning(unified):
    unified["lastProcessedDate"] = "2025-02-20"
    unified["completedDates"].insert(4, "2025-03-05")
    assert validate(unified) == [
        Finding(
            "warning",
            "/lastProcessedDate",
            "lastProcessedDate 2025-02-20 is neither in completedDates nor in pendingDates",
        )
    ]


def test_a_gap_that_is_not_the_last_processed_date(unified):
    unified["lastProcessedDate"] = "2025-03-04"
    assert validate(unified) == [
        Finding(
            "warning",
            "/pendingDates",
            "2025-03-05 is inside the range but in neither pendingDates nor completedDates",
        )
    ]


# --- each rule broken on purpose ---------------------------------------------------------


def _set(path, value):
    def change(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _delete(key):
    def change(data):
        del data[key]

    return change


def _append(key, value):
    def change(data):
        data[key].append(value)

    return change


def _fix_unified_gap(data):
    data["completedDates"].insert(4, "2025-03-05")


UNIFIED_CASES = [
    # (id, change, severity, pointer, words in the message)
    (
        "pending-not-list",
        _set(["pendingDates"], "2025-03-06"),
        "error",
        "/pendingDates",
        "must be a list",
    ),
    ("pending-missing", _delete("pendingDates"), "error", "", "pendingDates is missing"),
    ("date-not-string", _append("pendingDates", 20250308), "error", "/pendingDates/2", "20250308"),
    (
        "unreal-date",
        _set(["pendingDates", 1], "2025-02-30"),
        "error",
        "/pendingDates/1",
        "'2025-02-30' is not a real date",
    ),
    (
        "month-13",
        _append("pendingDates", "2025-13-45"),
        "error",
        "/pendingDates/2",
        "'2025-13-45' is not a real date",
    ),
    (
        "not-iso",
        _set(["completedDates", 0], "03/01/2025"),
        "error",
        "/completedDates/0",
        "not a real date",
    ),
    (
        "duplicate",
        _append("completedDates", "2025-03-04"),
        "error",
        "/completedDates/5",
        "more than once",
    ),
    (
        "both",
        _append("pendingDates", "2025-03-04"),
        "error",
        "/pendingDates/2",
        "both pending and completed",
    ),
    (
        "negative",
        _set(["stats", "failedRecords"], -1),
        "error",
        "/stats/failedRecords",
        "cannot be negative",
    ),
    ("count-float", _set(["stats", "timeouts"], 3.5), "error", "/stats/timeouts", "whole number"),
    ("count-bool", _set(["stats", "timeouts"], True), "error", "/stats/timeouts", "not true"),
    ("stats-not-object", _set(["stats"], [1, 2]), "error", "/stats", "must be an object"),
    (
        "stats-emptied",  # an edit of /stats to {} would take the job's counters away
        _set(["stats"], {}),
        "warning",
        "/stats",
        "stats has no totalRecords, processedRecords, successfulRecords, failedRecords, timeouts",
    ),
    (
        "start-iso",
        _set(["startTime"], "2025-03-06T10:00:00Z"),
        "error",
        "/startTime",
        "epoch milliseconds",
    ),
    (
        "update-float",
        _set(["lastUpdateTime"], 1709743156789.5),
        "error",
        "/lastUpdateTime",
        "epoch milliseconds",
    ),
    ("start-negative", _set(["startTime"], -5), "error", "/startTime", "not a usable time"),
    (
        "last-date-type",
        _set(["lastProcessedDate"], 5),
        "error",
        "/lastProcessedDate",
        "must be a date string",
    ),
    (
        "last-date-unreal",
        _set(["lastProcessedDate"], "2025-02-29"),
        "error",
        "/lastProcessedDate",
        "'2025-02-29' is not a real date",
    ),
    (
        "processed-over-total",
        _set(["stats", "totalRecords"], 7000),
        "error",
        "/stats/processedRecords",
        "more than totalRecords",
    ),
    (
        "sum-mismatch",
        _set(["stats", "failedRecords"], 40),
        "warning",
        "/stats/processedRecords",
        "7,189 + 40 = 7,229",
    ),
    (
        "start-after-update",
        _set(["startTime"], 1709743156790),
        "warning",
        "/startTime",
        "after lastUpdateTime",
    ),
    (
        "unsorted",
        _set(["completedDates"], ["2025-03-01", "2025-03-03", "2025-03-02", "2025-03-04"]),
        "warning",
        "/completedDates/2",
        "not sorted",
    ),
]


@pytest.mark.parametrize(
    ("change", "severity", "pointer", "words"),
    [case[1:] for case in UNIFIED_CASES],
    ids=[case[0] for case in UNIFIED_CASES],
)
def test_unified_rules(unified, change, severity, pointer, words):
    _fix_unified_gap(unified)
    unified["lastProcessedDate"] = "2025-03-04"
    assert validate(unified) == []
    change(unified)
    findings = validate(unified)
    matching = [f for f in findings if f.pointer == pointer and words in f.message]
    assert [f.severity for f in matching] == [severity], findings


DAILY_CASES = [
    ("dates-missing", _delete("dates"), "error", "", "dates is missing"),
    ("dates-object", _set(["dates"], {"2025-03-04": True}), "error", "/dates", "must be a list"),
    (
        "unreal",
        _append("dates", "2025-04-31"),
        "error",
        "/dates/2",
        "'2025-04-31' is not a real date",
    ),
    (
        "duplicate",
        _append("processedDates", "2025-03-04"),
        "error",
        "/processedDates/1",
        "more than once",
    ),
    (
        "not-subset",
        _append("processedDates", "2025-03-06"),
        "error",
        "/processedDates/1",
        "not in dates",
    ),
    # A status of the job's own blocks nothing: only the state shown is worked out otherwise.
    ("status-unknown", _set(["status"], "paused"), "warning", "/status", "'paused' is not one of"),
    ("status-type", _set(["status"], 1), "error", "/status", "must be a string"),
    (
        "end-while-running",
        _set(["endTime"], "2025-03-06T11:00:00.000Z"),
        "error",
        "/endTime",
        "while status is 'running'",
    ),
    ("last-run-type", _set(["lastRun"], 1709742856123), "error", "/lastRun", "ISO 8601"),
    (
        "start-garbage",
        _set(["startTime"], "yesterday"),
        "error",
        "/startTime",
        "'yesterday' is not an ISO 8601 time",
    ),
    (
        "start-bad-month",
        _set(["startTime"], "2025-13-06T10:15:23Z"),
        "error",
        "/startTime",
        "not an ISO 8601 time",
    ),
    (
        "last-not-processed",
        _set(["lastProcessedDate"], "2025-03-05"),
        "warning",
        "/lastProcessedDate",
        "not in processedDates",
    ),
    (
        "gap",
        _append("dates", "2025-03-07"),
        "warning",
        "/dates",
        "2025-03-06 is inside the range but not in dates",
    ),
    (
        "unsorted",
        _set(["dates"], ["2025-03-05", "2025-03-04"]),
        "warning",
        "/dates/1",
        "not sorted",
    ),
    (
        "completed-with-left",
        _set(["status"], "completed"),
        "warning",
        "/status",
        "1 date of dates is not in processedDates",
    ),
]


@pytest.mark.parametrize(
    ("change", "severity", "pointer", "words"),
    [case[1:] for case in DAILY_CASES],
    ids=[case[0] for case in DAILY_CASES],
)
def test_daily_rules(daily, change, severity, pointer, words):
    change(daily)
    findings = validate(daily)
    matching = [f for f in findings if f.pointer == pointer and words in f.message]
    assert [f.severity for f in matching] == [severity], findings


def test_daily_start_after_end(daily):
    daily.update(status="completed", processedDates=["2025-03-04", "2025-03-05"])
    daily["endTime"] = "2025-03-06T09:00:00.000Z"
    assert validate(daily) == [
        Finding(
            "warning",
            "/startTime",
            "startTime 2025-03-06T10:15:23.456Z is after endTime 2025-03-06T09:00:00.000Z",
        )
    ]


MANAGED_CASES = [
    ("id-type", _set(["id"], 7), "error", "/id", "must be a string"),
    ("progress-high", _set(["progress"], 140), "error", "/progress", "between 0 and 100, not 140"),
    ("progress-negative", _set(["progress"], -0.5), "error", "/progress", "not -0.5"),
    ("progress-string", _set(["progress"], "33"), "error", "/progress", "must be a number"),
    ("status", _set(["status"], "done"), "warning", "/status", "'done' is not one of"),
    ("created-type", _set(["created"], 1741251600000), "error", "/created", "ISO 8601"),
    ("updated-garbage", _set(["lastUpdated"], "later"), "error", "/lastUpdated", "'later'"),
    ("items-not-list", _set(["pendingItems"], "item2"), "error", "/pendingItems", "must be a list"),
    (
        "item-duplicate",
        _append("pendingItems", "item2"),
        "error",
        "/pendingItems/2",
        "more than once",
    ),
    (
        "item-both",
        _append("pendingItems", "item1"),
        "error",
        "/pendingItems/2",
        "both pending and processed",
    ),
    (
        "created-after-updated",
        _set(["created"], "2025-03-06T10:00:00.000Z"),
        "warning",
        "/created",
        "after lastUpdated",
    ),
    (
        "completed-below-100",
        _set(["status"], "completed"),
        "warning",
        "/progress",
        "progress is 33",
    ),
    (
        "completed-with-items-left",  # (a job reset under it, which went on from memory)
        _set(["status"], "completed"),
        "warning",
        "/status",
        "status is 'completed' but 2 items are still in pendingItems",
    ),
]


def test_a_completed_managed_checkpoint_with_nothing_pending_is_clean(managed):
    managed.update(
        status="completed", progress=100, pendingItems=[], processedItems=["a", "b", "c"]
    )
    assert validate(managed) == []
    managed.update(pendingItems=["d"])
    assert [f.message for f in validate(managed)] == [
        "status is 'completed' but 1 item is still in pendingItems"
    ]


@pytest.mark.parametrize(
    ("change", "severity", "pointer", "words"),
    [case[1:] for case in MANAGED_CASES],
    ids=[case[0] for case in MANAGED_CASES],
)
def test_managed_rules(managed, change, severity, pointer, words):
    change(managed)
    findings = validate(managed)
    matching = [f for f in findings if f.pointer == pointer and words in f.message]
    assert [f.severity for f in matching] == [severity], findings


def test_structured_managed_items_are_not_compared(managed):
    managed["pendingItems"] = [{"id": 1}, {"id": 1}, [1]]
    assert validate(managed) == []


# --- ordering, grouping, pointers --------------------------------------------------------


def test_errors_come_first_then_warnings_each_in_document_order(unified):
    unified["stats"]["failedRecords"] = 40  # warning in stats (last key)
    unified["startTime"] = unified["lastUpdateTime"] + 1  # warning at startTime
    unified["pendingDates"].append("2025-13-01")  # error in pendingDates (2nd key)
    unified["lastProcessedDate"] = 3  # error at the first key
    findings = validate(unified)
    assert [(f.severity, f.pointer) for f in findings] == [
        ("error", "/lastProcessedDate"),
        ("error", "/pendingDates/2"),
        ("warning", "/pendingDates"),  # the 2025-03-05 gap
        ("warning", "/startTime"),
        ("warning", "/stats/processedRecords"),
    ]


def test_many_gaps_are_grouped_into_one_finding(unified):
    unified["completedDates"] = ["2025-01-01"]
    unified["pendingDates"] = ["2025-03-06", "2025-03-07"]
    findings = validate(unified)
    assert findings == [
        Finding(
            "warning",
            "/pendingDates",
            "63 dates inside the range 2025-01-01 … 2025-03-07 are in neither pendingDates nor "
            "completedDates: 2025-01-02, 2025-01-03, 2025-01-04 … "
            "(lastProcessedDate 2025-03-05 is one of them)",
        )
    ]


def test_a_few_gaps_get_one_finding_each(unified):
    unified["lastProcessedDate"] = "2025-03-07"
    unified["completedDates"] = ["2025-03-01", "2025-03-03"]
    unified["pendingDates"] = ["2025-03-05", "2025-03-07"]
    assert [f.message.split()[0] for f in validate(unified)] == [
        "2025-03-02",
        "2025-03-04",
        "2025-03-06",
    ]


def test_many_bad_entries_are_capped_with_a_count(unified):
    unified["pendingDates"] = [f"2025-02-{day}" for day in range(30, 50)]
    findings = [f for f in validate(unified) if f.severity == "error"]
    assert [f.pointer for f in findings] == [f"/pendingDates/{i}" for i in range(MAX_LISTED)] + [
        "/pendingDates"
    ]
    assert findings[-1].message == "15 more entries that are not real dates in pendingDates"


def test_many_duplicates_non_strings_and_shared_items_are_capped_with_a_count(unified):
    unified["pendingDates"] = ["2025-03-01"] * 9 + [7] * 8
    unified["completedDates"] = []
    errors = [f for f in validate(unified) if f.severity == "error"]
    assert [f.message for f in errors if f.pointer == "/pendingDates"] == [
        "3 more entries that are not strings in pendingDates",
        "3 more duplicate dates in pendingDates",
    ]
    assert errors[0].pointer == "/pendingDates/9"
    assert errors[0].message == "pendingDates must hold date strings, not 7"
    duplicates = [f for f in errors if "appears more than once" in f.message]
    assert [f.pointer for f in duplicates] == [f"/pendingDates/{i}" for i in range(1, 6)]
    managed = {
        "id": "job",
        "status": "running",
        "progress": 5,
        "pendingItems": list(range(8)) + [1] * 6 + [1.0, True],
        "processedItems": list(range(7)),
    }
    messages = [f.message for f in validate(managed) if f.pointer == "/pendingItems"]
    assert messages == [
        "1 more duplicate items in pendingItems",
        "8 more items that are also processed in pendingItems",
    ]


def test_pointer_escaping_of_keys_with_slash_and_tilde(unified):
    unified["stats"]["a/b~c"] = -2
    findings = validate(unified)
    assert Finding("error", "/stats/a~1b~0c", "a/b~c cannot be negative (-2)") in findings


def test_json_pointer():
    assert json_pointer() == ""
    assert json_pointer("stats", "processedRecords") == "/stats/processedRecords"
    assert json_pointer("a/b", "~x", 3) == "/a~1b/~0x/3"
    assert json_pointer("~1") == "/~01"  # ~ escaped first, so the result reads back as "~1"


def test_finding_str():
    assert str(Finding("error", "", "bad")) == "error: (document): bad"
    assert str(UNIFIED_GAP).startswith("warning: /pendingDates: 2025-03-05")


# --- stale -------------------------------------------------------------------------------


def test_stale_running_checkpoint_warns_only_when_asked(managed):
    now = datetime(2025, 3, 6, 10, 5, tzinfo=UTC)  # one hour after lastUpdated
    assert validate(managed) == []
    assert validate(managed, now=now, stale_after=7200) == []
    assert validate(managed, now=now, stale_after=1800) == [
        Finding(
            "warning",
            "/lastUpdated",
            "running but not updated for 60 minutes (since 2025-03-06 09:05:00 UTC; "
            "threshold 30 minutes)",
        )
    ]


def test_stale_warning_comes_last_and_names_the_kind_field(unified, daily):
    now = datetime(2024, 3, 7, tzinfo=UTC)
    findings = validate(unified, now=now, stale_after=3600)
    assert findings[0] == UNIFIED_GAP
    assert findings[1].pointer == "/lastUpdateTime"
    assert findings[1].message.startswith("running but not updated for 7 hours")
    stale = stale_finding(summarize(daily), now=datetime(2025, 3, 8, tzinfo=UTC), stale_after=60)
    assert stale is not None
    assert stale.pointer == "/lastRun"
    assert "37 hours" in stale.message


def test_the_stale_warning_points_at_the_field_that_gave_the_last_update(daily):
    """A daily run that set endTime after its lastRun was last updated at endTime."""
    daily["endTime"] = "2025-03-06T11:00:00.000Z"
    stale = stale_finding(summarize(daily), now=datetime(2025, 3, 8, tzinfo=UTC), stale_after=60)
    assert stale is not None and stale.pointer == "/endTime"
    assert "since 2025-03-06 11:00:00 UTC" in stale.message


def test_a_last_update_in_the_future_is_a_warning(managed, unified):
    """A wrong clock (or a mistyped time) would keep the job from ever showing as stalled."""
    now = datetime(2025, 3, 6, 10, 0, tzinfo=UTC)
    managed["lastUpdated"] = "2099-01-01T00:00:00.000Z"
    findings = validate(managed, now=now, stale_after=3600)
    (future,) = [f for f in findings if "in the future" in f.message]
    assert (future.severity, future.pointer) == ("warning", "/lastUpdated")
    assert future.message.startswith("the last update is ")
    assert "(2099-01-01 00:00:00 UTC): a clock or the time is wrong" in future.message
    managed["lastUpdated"] = "2025-03-06T10:04:00.000Z"  # a few minutes ahead: clocks drift
    assert not [f for f in validate(managed, now=now, stale_after=3600) if "future" in f.message]
    unified["lastUpdateTime"] = int(datetime(2030, 1, 1, tzinfo=UTC).timestamp() * 1000)
    assert [
        f.pointer for f in validate(unified, now=now, stale_after=3600) if "future" in f.message
    ] == ["/lastUpdateTime"]


def test_finished_checkpoints_are_never_stale(managed, daily):
    later = datetime(2030, 1, 1, tzinfo=UTC)
    managed["status"] = "completed"
    managed["progress"] = 100
    assert stale_finding(summarize(managed), now=later, stale_after=1) is None
    daily["status"] = "failed"
    assert stale_finding(summarize(daily), now=later, stale_after=1) is None


def test_findings_as_of_a_moment_add_the_stale_warning_and_count(unified):
    static = [UNIFIED_GAP, Finding("error", "/x", "broken")]
    summary = summarize(unified)
    early = datetime(2024, 3, 6, 16, 45, tzinfo=UTC)  # minutes after its last update
    late = datetime(2024, 3, 7, tzinfo=UTC)
    assert findings_as_of(static, summary, now=early, stale_after=3600) == static
    stale = findings_as_of(static, summary, now=late, stale_after=3600)
    assert stale[:2] == static
    assert stale[2] == stale_finding(summary, now=late, stale_after=3600)
    assert count_findings(stale) == (1, 2)
    assert count_findings([]) == (0, 0)


# --- dates -------------------------------------------------------------------------------


def test_is_date_agrees_with_the_calendar():
    for year in (0, 1, 4, 100, 400, 1900, 1999, 2000, 2024, 2025, 2100, 2400, 9999):
        for month in range(15):
            for day in range(34):
                text = f"{year:04d}-{month:02d}-{day:02d}"
                try:
                    real = date.fromisoformat(text) is not None
                except ValueError:
                    real = False
                assert is_date(text) is real, text


@pytest.mark.parametrize(
    "text",
    [
        "2025-3-01",
        "2025-03-01 ",
        " 2025-03-01",
        "20250301",
        "2025-W10-1",
        "٢٠٢٥-03-01",
        "2025-03-01T00:00",
        "2025-03-01\n",
        "+2025-03-01",
        "",
    ],
)
def test_is_date_refuses_near_dates(text):
    assert not is_date(text)
    assert invalid_dates([text]) == {text}


def test_invalid_dates_cannot_be_fooled_by_newlines():
    assert invalid_dates(["2025-03-01\n2025-03-02", "2025-03-03"]) == {"2025-03-01\n2025-03-02"}
    assert invalid_dates(["2025-03-01", "2025-03-02"]) == set()
    assert invalid_dates(["2025-03-01", "2025-02-29", "2024-02-29"]) == {"2025-02-29"}


def iter_dates(first: int, last: int) -> list[str]:
    return [value for chunk in kinds_module._date_chunks(first, last) for value in chunk]


def test_date_chunks_cross_years_and_leap_days():
    first = date(2023, 12, 30).toordinal()
    assert iter_dates(first, first + 63) == [
        (date(2023, 12, 30) + timedelta(days=n)).isoformat() for n in range(64)
    ]
    assert iter_dates(first, first - 1) == []


def _naive_gaps(*lists):
    present = {d for lst in lists for d in lst if is_date(d)}
    if not present:
        return 0, []
    low, high = date.fromisoformat(min(present)), date.fromisoformat(max(present))
    days = [(low + timedelta(days=n)).isoformat() for n in range((high - low).days + 1)]
    missing = [d for d in days if d not in present]
    return len(missing), missing


@pytest.mark.parametrize("seed", range(12))
def test_gaps_match_a_naive_count(seed):
    rng = random.Random(seed)
    start = date(2020 + seed, 1, 1)
    days = [(start + timedelta(days=n)).isoformat() for n in range(rng.randint(1, 900))]
    chosen = [d for d in days if rng.random() < 0.9]
    rng.shuffle(chosen)
    cut = rng.randint(0, len(chosen))
    a, b = chosen[:cut], chosen[cut:]
    if seed % 3 == 0:  # clean sorted lists: the binary search path
        a.sort()
        b.sort()
    elif seed % 3 == 1:  # overlap, duplicate and junk: the set path
        a = [*a, *b[:2], "2021-02-30", 7]
    lists = (scan_dates(a), scan_dates(b))
    covered = date_range(lists)
    count, missing = _naive_gaps(a, b)
    assert covered.gaps == count
    assert covered.gap_dates(lists, 4) == missing[:4]


def test_a_gap_at_the_end_of_a_long_clean_list():
    start = date(1800, 1, 1)
    days = [(start + timedelta(days=n)).isoformat() for n in range(100_000)]
    missing = days.pop(99_990)
    data = {"pendingDates": days[50_000:], "completedDates": days[:50_000]}
    assert validate(data) == [
        Finding(
            "warning",
            "/pendingDates",
            f"{missing} is inside the range but in neither pendingDates nor completedDates",
        )
    ]


# --- robustness --------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    [
        "lastProcessedDate",
        "pendingDates",
        "completedDates",
        "startTime",
        "lastUpdateTime",
        "stats",
        "lastRun",
        "dates",
        "processedDates",
        "status",
        "endTime",
        "id",
        "created",
        "lastUpdated",
        "progress",
        "processedItems",
        "pendingItems",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    base=st.sampled_from(
        ["reconciliation_checkpoint", "daily_reconciliation_checkpoint", "my-process"]
    ),
    changes=st.dictionaries(FIELDS, JSON, max_size=4),
)
def test_validate_and_summarize_never_raise_on_content(base, changes):
    data = copy.deepcopy(SAMPLE_DATA[base])
    data.update(changes)
    findings = validate(data, now=datetime(2025, 3, 7, tzinfo=UTC), stale_after=60)
    assert all(f.severity in ("error", "warning") for f in findings)
    ranks = [f.severity == "warning" for f in findings]
    assert ranks == sorted(ranks)
    summary = summarize(data)
    assert summary.progress is None or 0 <= summary.progress <= 1


SAMPLE_DATA = {
    name: sample(name)
    for name in ("reconciliation_checkpoint", "daily_reconciliation_checkpoint", "my-process")
}


def test_a_gap_with_no_pending_list_points_at_the_document():
    data = {"completedDates": ["2025-03-01", "2025-03-03"]}
    assert validate(data) == [
        Finding("error", "", "pendingDates is missing"),
        Finding(
            "warning",
            "",
            "2025-03-02 is inside the range but in neither pendingDates nor completedDates",
        ),
    ]


def test_items_equal_in_python_but_not_in_json_are_distinct(managed):
    managed["processedItems"] = [1, "1"]
    managed["pendingItems"] = [True, 1.5, None]
    assert validate(managed) == []
    managed["pendingItems"].append(1)
    assert validate(managed) == [
        Finding("error", "/pendingItems/3", "1 is both pending and processed")
    ]
