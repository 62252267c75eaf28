"""Pure interventions (checkpoints/interventions.py): document in, new document out."""

from __future__ import annotations

import copy
import math
from datetime import date, timedelta

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonpointer import resolve_pointer

from checkpoints_admin.checkpoints import CheckpointError, InterventionError
from checkpoints_admin.checkpoints.diff import Move, diff
from checkpoints_admin.checkpoints.interventions import (
    MAX_RANGE_DAYS,
    MAX_SELECTION_DAYS,
    done_already,
    parse_dates,
    replace_document,
    reprocess_dates,
    reprocess_items,
    set_field,
    skip_dates,
    skip_items,
)
from checkpoints_admin.checkpoints.kinds import DAILY, UNIFIED, validate
from tests.checkpoints.conftest import load_sample as load


def errors(doc: dict) -> list:
    return [f for f in validate(doc) if f.severity == "error"]


def days(first: str, count: int) -> list[str]:
    start = date.fromisoformat(first)
    return [(start + timedelta(days=n)).isoformat() for n in range(count)]


# --------------------------------------------------------------------------- parse_dates


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["2025-03-01"], ["2025-03-01"]),
        (["2025-03-01..2025-03-03"], ["2025-03-01", "2025-03-02", "2025-03-03"]),
        (["2025-03-01..2025-03-01"], ["2025-03-01"]),
        (["2025-03-03", "2025-03-01"], ["2025-03-01", "2025-03-03"]),
        (["2025-03-03, 2025-03-01\n2025-03-02"], ["2025-03-01", "2025-03-02", "2025-03-03"]),
        (["2025-03-02", "2025-03-01..2025-03-02"], ["2025-03-01", "2025-03-02"]),
        ("2025-03-01 2025-03-02", ["2025-03-01", "2025-03-02"]),
        (["2024-02-28..2024-03-01"], ["2024-02-28", "2024-02-29", "2024-03-01"]),
        (["2024-12-31..2025-01-01"], ["2024-12-31", "2025-01-01"]),
    ],
)
def test_parse_dates(values, expected):
    assert parse_dates(values) == expected


def test_parse_dates_longest_range():
    first = "2000-01-01"
    last = (date(2000, 1, 1) + timedelta(days=MAX_RANGE_DAYS - 1)).isoformat()
    assert len(parse_dates([f"{first}..{last}"])) == MAX_RANGE_DAYS


def test_many_long_ranges_are_refused_before_any_is_built():
    """3,000 ranges of 100,000 days each would take gigabytes: refused by their total."""
    last = (date(1800, 1, 1) + timedelta(days=MAX_RANGE_DAYS - 1)).isoformat()
    ranges = " ".join(f"1800-01-01..{last}" for _ in range(3000))
    with pytest.raises(InterventionError) as excinfo:
        parse_dates([ranges])
    assert str(excinfo.value) == (
        "the dates and ranges given span 300,000,000 days in all; at most "
        f"{MAX_SELECTION_DAYS:,} are accepted in one change"
    )
    four = " ".join(f"1800-01-01..{last}" for _ in range(MAX_SELECTION_DAYS // MAX_RANGE_DAYS))
    assert len(parse_dates([four])) == MAX_RANGE_DAYS  # (the limit itself is accepted)


@pytest.mark.parametrize(
    ("values", "named"),
    [
        (["2025-13-45"], "'2025-13-45' is not a real date"),
        (["2025-02-30"], "'2025-02-30' is not a real date"),
        (["2025-02-29"], "'2025-02-29' is not a real date"),
        (["2025-00-10"], "'2025-00-10' is not a real date"),
        (["2025-3-1"], "'2025-3-1' is not a date (expected YYYY-MM-DD)"),
        (["20250301"], "'20250301' is not a date"),
        (["March 1"], "'March' is not a date"),
        (["2025-03-01T00:00"], "'2025-03-01T00:00' is not a date"),
        (["2025-03-01.."], "'' in '2025-03-01..' is not a date"),
        (["..2025-03-01"], "'' in '..2025-03-01' is not a date"),
        (["2025-03-01..2025-02-30"], "'2025-02-30' in '2025-03-01..2025-02-30' is not a real"),
        (["2025-03-07..2025-03-01"], "range '2025-03-07..2025-03-01' is reversed"),
        (["2025-03-01...2025-03-02"], "'.2025-03-02' in '2025-03-01...2025-03-02' is not a"),
        (["0001-01-01..9999-12-31"], "spans 3,652,059 days; at most 100,000 are accepted"),
        (["2000-01-01..2273-10-16"], "spans 100,001 days"),
        ([], "no dates given"),
        ([" , "], "no dates given"),
        ([20250301], "20250301 is not a date"),
    ],
)
def test_parse_dates_refusals(values, named):
    with pytest.raises(InterventionError) as excinfo:
        parse_dates(values)
    assert named in str(excinfo.value)
    assert isinstance(excinfo.value, CheckpointError)


# --------------------------------------------------------------------------- skip / reprocess dates


def test_skip_a_pending_date_on_the_unified_sample(unified):
    before = copy.deepcopy(unified)

    result = skip_dates(unified, ["2025-03-06"])

    assert unified == before
    assert result == {
        **before,
        "pendingDates": ["2025-03-07"],
        "completedDates": ["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04", "2025-03-06"],
    }
    assert result["lastProcessedDate"] == "2025-03-05"
    assert diff(unified, result).moves == (Move("2025-03-06", "/pendingDates", "/completedDates"),)
    assert errors(result) == []


def test_skip_range_applies_to_the_dates_present(unified):
    # 2025-03-05 is the sample's gap (in neither list): the range fills it; 2025-03-08 is
    # past the sample's dates, so the range leaves it out.
    result = skip_dates(unified, ["2025-03-05..2025-03-08"])
    assert result["pendingDates"] == []
    assert result["completedDates"] == [
        "2025-03-01",
        "2025-03-02",
        "2025-03-03",
        "2025-03-04",
        "2025-03-05",
        "2025-03-06",
        "2025-03-07",
    ]


def test_reprocess_completed_dates_on_the_unified_sample(unified):
    before = copy.deepcopy(unified)

    result = reprocess_dates(unified, ["2025-03-01..2025-03-02", "2025-03-04"])

    assert unified == before
    assert result["completedDates"] == ["2025-03-03"]
    assert result["pendingDates"] == [
        "2025-03-01",
        "2025-03-02",
        "2025-03-04",
        "2025-03-06",
        "2025-03-07",
    ]
    assert result["stats"] is unified["stats"]  # untouched values are shared, not copied
    assert errors(result) == []


def test_skip_then_reprocess_round_trips(unified):
    assert reprocess_dates(skip_dates(unified, ["2025-03-06"]), ["2025-03-06"]) == unified


def test_skip_on_the_daily_sample(daily):
    before = copy.deepcopy(daily)

    result = skip_dates(daily, ["2025-03-05"])

    assert daily == before
    assert result == {**before, "processedDates": ["2025-03-04", "2025-03-05"]}
    assert errors(result) == []


def test_reprocess_on_the_daily_sample_keeps_a_running_status(daily):
    result = reprocess_dates(daily, ["2025-03-04"])
    assert result == {**daily, "processedDates": []}


def test_reprocess_reopens_a_completed_daily_run(daily):
    finished = {
        **daily,
        "processedDates": ["2025-03-04", "2025-03-05"],
        "status": "completed",
        "endTime": "2025-03-06T11:00:00.000Z",
    }

    result = reprocess_dates(finished, ["2025-03-05"])

    assert result["processedDates"] == ["2025-03-04"]
    assert result["status"] == "running"
    assert result["endTime"] is None
    assert finished["status"] == "completed"
    assert errors(result) == []


def test_reprocess_leaves_a_failed_run_failed(daily):
    failed = {**daily, "status": "failed", "endTime": "2025-03-06T11:00:00.000Z"}
    result = reprocess_dates(failed, ["2025-03-04"])
    assert result["status"] == "failed"
    assert result["endTime"] == "2025-03-06T11:00:00.000Z"


def test_several_dates_in_one_argument(unified):
    result = skip_dates(unified, ["2025-03-07, 2025-03-06"])
    assert result["pendingDates"] == []
    assert result["completedDates"][-2:] == ["2025-03-06", "2025-03-07"]


def test_unsorted_target_keeps_its_order_and_gets_values_appended():
    doc = {
        "pendingDates": ["2025-03-02", "2025-03-01"],
        "completedDates": ["2025-03-09", "2025-03-03"],
    }
    result = skip_dates(doc, ["2025-03-01", "2025-03-02"])
    assert result["completedDates"] == ["2025-03-09", "2025-03-03", "2025-03-01", "2025-03-02"]
    assert result["pendingDates"] == []


def test_a_date_in_both_lists_is_not_duplicated():
    corrupt = {"pendingDates": ["2025-03-01"], "completedDates": ["2025-03-01", "2025-03-02"]}
    result = skip_dates(corrupt, ["2025-03-01"])
    assert result == {"pendingDates": [], "completedDates": ["2025-03-01", "2025-03-02"]}


def test_large_lists_stay_sorted_and_input_untouched():
    dates = days("1900-01-01", 100_000)
    doc = {"pendingDates": dates[50_000:], "completedDates": dates[:50_000], "stats": {}}
    snapshot = orjson.dumps(doc)

    result = reprocess_dates(doc, ["1950-01-01..1950-12-31", "1900-01-01"])
    result = skip_dates(result, ["2040-01-01..2040-01-31"])

    assert orjson.dumps(doc) == snapshot
    assert result["pendingDates"] == sorted(result["pendingDates"])
    assert result["completedDates"] == sorted(result["completedDates"])
    assert len(result["pendingDates"]) == 50_000 + 365 + 1 - 31
    assert set(result["pendingDates"]).isdisjoint(result["completedDates"])
    assert len(result["pendingDates"]) + len(result["completedDates"]) == 100_000


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(days("2025-03-01", 40)), unique=True),
    st.lists(st.sampled_from(days("2025-03-01", 40)), min_size=1),
)
def test_property_skip_keeps_lists_sorted_and_disjoint(pending, chosen):
    pending = sorted(pending)
    completed = sorted(set(days("2025-03-01", 40)) - set(pending))
    doc = {"pendingDates": pending, "completedDates": completed}
    if not set(chosen) <= set(pending):
        with pytest.raises(InterventionError):
            skip_dates(doc, chosen)
        return
    result = skip_dates(doc, chosen)
    assert result["pendingDates"] == sorted(set(pending) - set(chosen))
    assert result["completedDates"] == sorted(set(completed) | set(chosen))
    assert doc == {"pendingDates": pending, "completedDates": completed}


@pytest.mark.parametrize(
    ("fn", "sample", "dates", "message"),
    [
        (
            skip_dates,
            "reconciliation_checkpoint",
            ["2025-02-28"],
            "2025-02-28 is not in pendingDates",
        ),
        (
            skip_dates,
            "reconciliation_checkpoint",
            ["2025-03-01"],
            "2025-03-01 is already in completedDates",
        ),
        (
            skip_dates,
            "reconciliation_checkpoint",
            ["2025-03-06", "2025-03-09", "2025-03-10"],
            "2025-03-09, 2025-03-10 are not in pendingDates",
        ),
        (
            skip_dates,
            "reconciliation_checkpoint",
            ["2025-04-01..2025-04-30"],
            "no date of 2025-04-01..2025-04-30 is in pendingDates",
        ),
        (
            skip_dates,
            "reconciliation_checkpoint",
            ["2025-03-01..2025-03-04"],
            "no date of 2025-03-01..2025-03-04 is in pendingDates",
        ),
        (
            skip_dates,
            "reconciliation_checkpoint",
            ["2025-02-30"],
            "'2025-02-30' is not a real date",
        ),
        (skip_dates, "reconciliation_checkpoint", [], "no dates given"),
        (
            reprocess_dates,
            "reconciliation_checkpoint",
            ["2025-03-06"],
            "2025-03-06 is already in pendingDates",
        ),
        (
            reprocess_dates,
            "reconciliation_checkpoint",
            ["2025-03-07..2025-03-01"],
            "range '2025-03-07..2025-03-01' is reversed",
        ),
        (
            skip_dates,
            "daily_reconciliation_checkpoint",
            ["2025-03-04"],
            "2025-03-04 is already in processedDates",
        ),
        (
            skip_dates,
            "daily_reconciliation_checkpoint",
            ["2025-03-09"],
            "2025-03-09 is not in dates",
        ),
        (
            reprocess_dates,
            "daily_reconciliation_checkpoint",
            ["2025-03-05"],
            "2025-03-05 is not in processedDates",
        ),
        (skip_dates, "my-process", ["2025-03-06"], "cannot skip dates of a managed checkpoint"),
        (reprocess_dates, "my-process", ["2025-03-06"], "cannot reprocess dates of a managed"),
    ],
)
def test_date_refusals(fn, sample, dates, message):
    doc = load(sample)
    before = copy.deepcopy(doc)
    with pytest.raises(InterventionError) as excinfo:
        fn(doc, dates)
    assert message in str(excinfo.value)
    assert doc == before


def test_refusal_of_many_dates_is_abbreviated(unified):
    with pytest.raises(InterventionError) as excinfo:
        skip_dates(unified, [f"2026-01-{d:02d}" for d in range(1, 16)])
    assert str(excinfo.value) == (
        "2026-01-01, 2026-01-02, 2026-01-03, 2026-01-04, 2026-01-05, 2026-01-06, 2026-01-07, "
        "2026-01-08, 2026-01-09, 2026-01-10 and 5 more are not in pendingDates"
    )


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"name": "x"}, "cannot skip dates of an unknown checkpoint"),
        (
            {"pendingDates": "2025-03-06", "completedDates": []},
            "pendingDates is a string, not a list",
        ),
        ({"pendingDates": ["2025-03-06"]}, "completedDates is missing"),
        ({"dates": ["2025-03-06"], "processedDates": None}, "processedDates is a null, not a list"),
        ([1, 2], "the checkpoint is a list, not a JSON object"),
    ],
)
def test_skip_refuses_documents_without_the_lists(doc, message):
    with pytest.raises(InterventionError) as excinfo:
        skip_dates(doc, ["2025-03-06"])
    assert message in str(excinfo.value)


# --------------------------------------------------------------------------- items


def test_skip_and_reprocess_items_on_the_managed_sample(managed):
    before = copy.deepcopy(managed)

    skipped = skip_items(managed, ["item2"])
    reprocessed = reprocess_items(managed, ["item1"])

    assert managed == before
    # (its progress is kept from the lists, 33 = 1 of 3: it follows them)
    assert skipped == {
        **before,
        "pendingItems": ["item3"],
        "processedItems": ["item1", "item2"],
        "progress": 67,
    }
    assert reprocessed == {
        **before,
        "pendingItems": ["item1", "item2", "item3"],
        "processedItems": [],
        "progress": 0,
    }
    assert diff(managed, skipped).summary() == (
        "item2 pendingItems → processedItems; progress 33 → 67"
    )
    assert errors(skipped) == [] and errors(reprocessed) == []


def test_reprocess_items_reopens_a_completed_job(managed):
    done = {**managed, "status": "completed", "progress": 100, "pendingItems": [],
            "processedItems": ["item1", "item2", "item3"]}  # fmt: skip
    result = reprocess_items(done, ["item3", "item1"])
    assert result["status"] == "running"
    assert result["progress"] == 33  # kept in step with the lists, as the job keeps it
    assert result["pendingItems"] == ["item1", "item3"]
    assert result["processedItems"] == ["item2"]


def test_skip_items_moves_a_progress_kept_from_the_lists_and_no_other(managed):
    # the sample: 1 of 3 items, progress 33 = round(100 * 1 / 3)
    assert skip_items(managed, ["item2"])["progress"] == 67
    assert skip_items(managed, ["item2", "item3"])["progress"] == 100
    # a progress the job measures otherwise (records, bytes…) is left as it wrote it
    assert skip_items({**managed, "progress": 40}, ["item2"])["progress"] == 40


def test_items_move_in_the_jobs_order_and_a_sorted_list_stays_sorted(managed):
    """A list of one item was taken for a sorted one: the items skipped went in sorted
    before and after it ("a" between "  spaced  " and "c"). Items now move in the order the
    list they leave has them, after those already there; a list of two or more in order
    stays in order."""
    doc = {**managed, "pendingItems": ["c", "  spaced  ", "b"], "processedItems": ["a"]}
    result = skip_items(doc, ["  spaced  ", "c"])
    assert result["processedItems"] == ["a", "c", "  spaced  "]
    assert result["pendingItems"] == ["b"]
    doc = {**managed, "pendingItems": ["z", "b", "y"], "processedItems": ["a", "c"]}
    assert skip_items(doc, ["y", "b"])["processedItems"] == ["a", "b", "c", "y"]
    doc = {**managed, "pendingItems": ["z", "b", "y"], "processedItems": ["c", "a"]}
    assert skip_items(doc, ["y", "b"])["processedItems"] == ["c", "a", "b", "y"]
    done = {**managed, "pendingItems": [], "processedItems": ["x3", "x1", "x2"]}
    assert reprocess_items(done, ["x2", "x3"])["pendingItems"] == ["x3", "x2"]


def test_items_python_finds_equal_are_moved_one_by_one(managed):
    """100 and 100.0, 1 and true are different JSON items: a skip of "100" took the whole
    lot out of pendingItems (a set of values) and put one back, losing the others."""
    doc = {**managed, "pendingItems": [100, 100.0, 1, True, "a"], "processedItems": []}
    result = skip_items(doc, ["100", "1"])
    assert result["pendingItems"] == [100.0, True, "a"]
    assert [(type(v), v) for v in result["processedItems"]] == [(int, 100), (int, 1)]
    result = skip_items(doc, ["100.0"])
    assert result["pendingItems"] == [100, 1, True, "a"]
    assert [(type(v), v) for v in result["processedItems"]] == [(float, 100.0)]
    # a number typed finds the one item equal to it when no item is that very value
    doc = {**managed, "pendingItems": [2.0, "x"], "processedItems": [1]}
    assert skip_items(doc, ["2"])["processedItems"] == [1, 2.0]
    # and back again, by type and value too
    done = {**managed, "pendingItems": [], "processedItems": [7, 7.0, False, 0]}
    result = reprocess_items(done, ["7.0", "0"])
    assert [(type(v), v) for v in result["processedItems"]] == [(int, 7), (bool, False)]
    assert [(type(v), v) for v in result["pendingItems"]] == [(float, 7.0), (int, 0)]
    with pytest.raises(InterventionError, match="8 is not in pendingItems"):
        skip_items(done, ["8"])


def test_numeric_items_match_their_decimal_form(managed):
    doc = {**managed, "pendingItems": [3, 1, 2], "processedItems": []}
    result = skip_items(doc, ["2", 3])
    assert result["pendingItems"] == [1]
    assert result["processedItems"] == [3, 2]  # (in the job's order)


PADDED = [" padded", "tab\t", "padded", 1.5, 2.0, "2", 7, 10**30]


@pytest.mark.parametrize(
    ("items", "moved"),
    [
        ([" padded"], [" padded"]),  # the exact value first ...
        (["tab\t", "padded "], ["tab\t", "padded"]),  # ... else as typed without blanks
        (["1.5"], [1.5]),  # a number as the JSON number it writes
        (["2.0", "07", "1e30"], [2.0, 7]),  # (1e30 is not the integer 10**30)
        (["2", " 2"], ["2"]),  # a string item of that text before the number
        (["2.00"], [2.0]),  # the list's own value moves
        ([2, "1000000000000000000000000000000"], [2.0, 10**30]),
    ],
)
def test_items_are_taken_by_their_exact_value_or_the_number_they_write(managed, items, moved):
    doc = {**managed, "pendingItems": PADDED, "processedItems": [], "progress": 0}
    if "1e30" in items:
        with pytest.raises(InterventionError) as excinfo:
            skip_items(doc, items)
        assert str(excinfo.value) == "item 1e30 is not in pendingItems"
        items = items[:-1]
    result = skip_items(doc, items)
    assert result["processedItems"] == moved
    assert [type(value) for value in result["processedItems"]] == [type(value) for value in moved]
    assert result["pendingItems"] == [value for value in PADDED if value not in moved]
    back = reprocess_items(result, items)  # (repr tells 2.0 from 2)
    assert sorted(map(repr, back["pendingItems"])) == sorted(map(repr, PADDED))


@pytest.mark.parametrize(
    ("fn", "items", "message"),
    [
        (skip_items, ["item1"], "item1 is already in processedItems"),
        (skip_items, ["item9", "item8"], "item9, item8 are not in pendingItems"),
        (skip_items, ["  "], "an empty item name was given"),
        (skip_items, [], "no items given"),
        (reprocess_items, ["item2"], "item2 is already in pendingItems"),
        (reprocess_items, ["item7"], "item7 is not in processedItems"),
        (skip_items, [["item2"]], "items must be strings or numbers"),
    ],
)
def test_item_refusals(managed, fn, items, message):
    before = copy.deepcopy(managed)
    with pytest.raises(InterventionError) as excinfo:
        fn(managed, items)
    assert message in str(excinfo.value)
    assert managed == before


@pytest.mark.parametrize(
    ("sample", "kind"),
    [
        ("reconciliation_checkpoint", "unified-reconciliation"),
        ("daily_reconciliation_checkpoint", "daily-reconciliation"),
    ],
)
def test_items_of_a_date_checkpoint_are_refused(sample, kind):
    with pytest.raises(InterventionError) as excinfo:
        skip_items(load(sample), ["item1"])
    assert str(excinfo.value) == (
        f"cannot skip items of a {kind} checkpoint: only managed checkpoints "
        "(pendingItems/processedItems) have items"
    )


# --------------------------------------------------------------------------- set_field


def test_set_nested_number(unified):
    before = copy.deepcopy(unified)

    result = set_field(unified, "/stats/failedRecords", 40)

    assert unified == before
    assert result == {**before, "stats": {**before["stats"], "failedRecords": 40}}
    assert result["pendingDates"] is unified["pendingDates"]  # only the path is copied
    assert result["stats"] is not unified["stats"]


@pytest.mark.parametrize(
    ("pointer", "value"),
    [
        ("/progress", 50.5),  # number ↔ number
        ("/status", "completed"),
        ("/pendingItems", ["item3"]),
        ("/pendingItems/0", "itemX"),
        ("/extra", {"note": "added by an operator"}),  # new key in an existing object
        ("/progress", 0),
    ],
)
def test_set_field_accepts(managed, pointer, value):
    result = set_field(managed, pointer, value)
    assert resolve_pointer(result, pointer) == value
    assert managed == load("my-process")


def test_set_field_endtime_null_and_back(daily):
    finished = set_field(daily, "/endTime", "2025-03-06T11:00:00.000Z")
    assert finished["endTime"] == "2025-03-06T11:00:00.000Z"
    assert set_field(finished, "/endTime", None)["endTime"] is None
    assert set_field(daily, "/lastProcessedDate", None)["lastProcessedDate"] is None


def test_set_field_escaped_pointer():
    doc = {"a/b": {"m~n": 1}}
    assert set_field(doc, "/a~1b/m~0n", 2) == {"a/b": {"m~n": 2}}


def test_set_field_value_is_copied(managed):
    value = ["a", {"b": [1]}]
    result = set_field(managed, "/extra", value)
    value[1]["b"].append(2)
    assert result["extra"] == ["a", {"b": [1]}]


def test_set_field_in_a_list_copies_the_list():
    doc = {"jobs": [{"id": 1, "state": "a"}, {"id": 2, "state": "b"}]}
    result = set_field(doc, "/jobs/1/state", "c")
    assert doc["jobs"][1]["state"] == "b"
    assert result["jobs"][1]["state"] == "c"
    assert result["jobs"][0] is doc["jobs"][0]


@pytest.mark.parametrize(
    ("pointer", "value", "message"),
    [
        ("/stats/timeouts", "3", '/stats/timeouts is a number; refusing "3" (a string)'),
        ("/stats/timeouts", True, "/stats/timeouts is a number; refusing true (a boolean)"),
        ("/stats/timeouts", None, "/stats/timeouts is a number; refusing null (a null)"),
        ("/stats", [1], "/stats is an object; refusing [1] (a list)"),
        ("/pendingDates", "2025-03-06", '/pendingDates is a list; refusing "2025-03-06"'),
        ("/lastProcessedDate", 5, "/lastProcessedDate is a string; refusing 5 (a number)"),
        ("/stats/x/y", 1, "/stats/x/y: there is no /stats/x"),
        ("/nope/x", 1, "/nope/x: there is no /nope"),
        ("/stats/timeouts/x", 1, "/stats/timeouts is a number, it has no fields"),
        ("/pendingDates/2", "2025-03-08", "'2' is not an index of the list (it has 2 entries)"),
        ("/pendingDates/-", "2025-03-08", "'-' is not an index of the list"),
        ("/pendingDates/01", "2025-03-08", "'01' is not an index of the list"),
        ("", {}, 'the pointer "" is the whole document; replace the document instead'),
        ("stats", 1, "'stats' is not a JSON pointer (it must start with /)"),
        ("/stats/a~2b", 1, "is not a JSON pointer (bad ~ escape)"),
        ("/stats/failedRecords", math.nan, "/stats/failedRecords: nan is not a JSON number"),
        ("/stats/failedRecords", math.inf, "inf is not a JSON number"),
        ("/extra", {1: "a"}, "/extra: key 1 is not a string"),
        ("/extra", {1, 2}, "/extra: {1, 2} is a set, not a JSON value"),
        ("/extra", [1, math.nan], "/extra/1: nan is not a JSON number"),
    ],
)
def test_set_field_refusals(unified, pointer, value, message):
    before = copy.deepcopy(unified)
    with pytest.raises(InterventionError) as excinfo:
        set_field(unified, pointer, value)
    assert message in str(excinfo.value)
    assert unified == before


def _nested(levels: int) -> list:
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


def test_set_field_refuses_a_value_nesting_the_document_too_deep():
    """Checked before the value is copied: a value thousands of levels deep overflowed the
    stack (a 500 in the console, a traceback from edit_checkpoint)."""
    doc = {"note": None, "stats": {"note": None}}
    for pointer, levels in (("/note", 64), ("/stats/note", 63), ("/note", 5_000)):
        with pytest.raises(InterventionError) as excinfo:
            set_field(doc, pointer, {"a": _nested(levels)})
        assert str(excinfo.value) == (
            f"{pointer}: the value is nested more than {64 - pointer.count('/')} levels deep; "
            "a checkpoint is at most 64 levels deep"
        )
    assert set_field(doc, "/note", _nested(63)) == {"note": _nested(63), "stats": {"note": None}}
    assert doc == {"note": None, "stats": {"note": None}}


def test_replace_document_refuses_a_document_nested_too_deep(unified):
    with pytest.raises(InterventionError) as excinfo:
        replace_document(unified, {"a": _nested(5_000)})
    assert str(excinfo.value) == (
        "the new document is nested more than 64 levels deep; a checkpoint is at most 64 "
        "levels deep"
    )
    assert replace_document(unified, {"a": _nested(63)}) == {"a": _nested(63)}


def test_set_field_null_may_be_replaced_by_anything():
    doc = {"note": None}
    assert set_field(doc, "/note", {"a": 1}) == {"note": {"a": 1}}
    assert set_field(doc, "/note", None) == {"note": None}


# --------------------------------------------------------------------------- replace_document


def test_replace_document_copies(unified, daily):
    result = replace_document(unified, daily)
    assert result == daily
    result["processedDates"].append("x")
    assert daily == load("daily_reconciliation_checkpoint")


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ([1, 2], "the new document is a list, not a JSON object"),
        ("{}", "the new document is a string, not a JSON object"),
        (None, "the new document is a null, not a JSON object"),
        ({"a": {"b": [0.5, math.inf]}}, "/a/b/1: inf is not a JSON number"),
        ({"a": (1, 2)}, "/a: (1, 2) is a tuple, not a JSON value"),
    ],
)
def test_replace_document_refusals(unified, new, message):
    with pytest.raises(InterventionError) as excinfo:
        replace_document(unified, new)
    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    ("sample", "unit"),
    [
        ("reconciliation_checkpoint", "dates"),
        ("daily_reconciliation_checkpoint", "dates"),
        ("my-process", "items"),
    ],
)
def test_each_list_leads_to_the_intervention_that_takes_its_values(sample, unit):
    """LIST_ACTIONS (what the console offers per list) agrees with what the functions do."""
    from checkpoints_admin.checkpoints.interventions import LIST_ACTIONS, unit_of
    from checkpoints_admin.checkpoints.kinds import detect_kind

    doc = load(sample)
    kind = detect_kind(doc)
    assert unit_of(kind) == unit
    functions = {
        ("dates", "skip"): skip_dates,
        ("dates", "reprocess"): reprocess_dates,
        ("items", "skip"): skip_items,
        ("items", "reprocess"): reprocess_items,
    }
    for key, action in LIST_ACTIONS[kind].items():
        taken = [
            v for v in doc[key] if action == "reprocess" or v not in doc.get("processedDates", [])
        ]
        after = functions[unit, action](doc, [str(taken[0])])
        assert after != doc, (key, action)
    assert unit_of("unknown") is None


def test_set_field_without_add_refuses_a_new_field_naming_the_near_one(managed):
    from checkpoints_admin.checkpoints.errors import UnknownField

    with pytest.raises(UnknownField) as excinfo:
        set_field(managed, "/Progress", 50, add=False)
    assert str(excinfo.value) == (
        "/Progress: there is no field 'Progress' at the top (did you mean /progress?); it "
        "would be added as a new field"
    )
    with pytest.raises(UnknownField, match=r"^/zzz: there is no field 'zzz' at the top; it"):
        set_field(managed, "/zzz", 1, add=False)
    assert set_field(managed, "/progress", 50, add=False)["progress"] == 50
    assert set_field(managed, "/zzz", 1)["zzz"] == 1  # adding is the default


def test_takeable_values_are_those_the_action_can_take_now(managed):
    from checkpoints_admin.checkpoints.interventions import takeable

    unified = {"pendingDates": ["2025-03-09", "2025-13-45", "2025-03-09", "2025-03-06", "x"],
               "completedDates": ["2025-03-01"]}  # fmt: skip
    assert takeable(unified, "unified-reconciliation", "skip") == ["2025-03-09", "2025-03-06"]
    assert takeable(unified, "unified-reconciliation", "reprocess") == ["2025-03-01"]
    daily = {"dates": ["2025-03-04", "2025-03-05", "2025-03-06"], "processedDates": ["2025-03-04"]}
    assert takeable(daily, "daily-reconciliation", "skip", count=1) == ["2025-03-05"]
    assert takeable(daily, "daily-reconciliation", "reprocess") == ["2025-03-04"]
    assert takeable({**managed, "pendingItems": ["item2", " ", "item2", "item3"]},
                    "managed", "skip") == ["item2", "item3"]  # fmt: skip
    assert takeable(managed, "unknown", "skip") == []


def test_done_already_is_a_daily_checkpoints_processed_dates_in_its_dates_list() -> None:
    daily = load("daily_reconciliation_checkpoint")  # dates 03-04, 03-05; 03-04 processed
    assert done_already(daily, DAILY, "dates", daily["dates"]) == {"2025-03-04"}
    assert done_already(daily, DAILY, "dates", ["2025-03-05"]) == set()
    # Every other list's values are its action's to take.
    assert done_already(daily, DAILY, "processedDates", daily["processedDates"]) == set()
    unified = load("reconciliation_checkpoint")
    assert done_already(unified, UNIFIED, "pendingDates", unified["pendingDates"]) == set()
