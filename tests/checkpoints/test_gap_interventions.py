"""Gaps of a reconciliation checkpoint (dates inside the range, in neither list) can be
skipped (marked done) or reprocessed (queued), alone or inside a range; validation then stops
warning about them. Unified and daily alike."""

from __future__ import annotations

import copy
from datetime import date, timedelta

import pytest

from checkpoints_admin.checkpoints import kinds
from checkpoints_admin.checkpoints.errors import InterventionError
from checkpoints_admin.checkpoints.interventions import reprocess_dates, skip_dates

GAP = "2025-03-05"


def gap_warnings(document: dict) -> list[str]:
    return [
        f.message
        for f in kinds.validate(document)
        if f.severity == "warning" and "inside the range" in f.message
    ]


def test_the_sample_has_one_gap(unified) -> None:
    assert GAP not in unified["pendingDates"] + unified["completedDates"]
    assert len(gap_warnings(unified)) == 1


def test_skipping_a_gap_marks_it_done(unified) -> None:
    before = copy.deepcopy(unified)
    after = skip_dates(unified, [GAP])
    assert after["completedDates"] == ["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04", GAP]
    assert after["pendingDates"] == before["pendingDates"]
    assert unified == before  # the input is untouched
    assert gap_warnings(after) == []


def test_reprocessing_a_gap_queues_it(unified) -> None:
    after = reprocess_dates(unified, [GAP])
    assert after["pendingDates"] == [GAP, "2025-03-06", "2025-03-07"]
    assert after["completedDates"] == unified["completedDates"]
    assert gap_warnings(after) == []


def test_a_range_fills_its_gaps_and_moves_its_pending_dates(unified) -> None:
    after = skip_dates(unified, ["2025-03-04..2025-03-08"])
    assert after["completedDates"] == [
        "2025-03-01",
        "2025-03-02",
        "2025-03-03",
        "2025-03-04",
        GAP,
        "2025-03-06",
        "2025-03-07",
    ]
    assert after["pendingDates"] == []


@pytest.mark.parametrize(
    ("fn", "dates", "message"),
    [
        (skip_dates, ["2025-02-28"], "2025-02-28 is not in pendingDates"),
        (skip_dates, ["2025-03-08"], "2025-03-08 is not in pendingDates"),
        (reprocess_dates, ["2025-03-08"], "2025-03-08 is not in completedDates"),
        (skip_dates, ["2025-03-08..2025-03-20"], "no date of 2025-03-08..2025-03-20 is in"),
        (reprocess_dates, ["2025-03-06"], "2025-03-06 is already in pendingDates"),
    ],
)
def test_dates_outside_the_range_are_still_refused(unified, fn, dates, message) -> None:
    before = copy.deepcopy(unified)
    with pytest.raises(InterventionError, match=message):
        fn(unified, dates)
    assert unified == before


def test_malformed_values_in_the_lists_do_not_widen_the_range(unified) -> None:
    unified["completedDates"].append("not a date")
    unified["pendingDates"].append(42)
    with pytest.raises(InterventionError, match="2025-03-08 is not in pendingDates"):
        skip_dates(unified, ["2025-03-08"])
    assert GAP in skip_dates(unified, [GAP])["completedDates"]


def test_a_gap_in_a_large_checkpoint(unified) -> None:
    start = date(2000, 1, 1)
    days = [(start + timedelta(days=n)).isoformat() for n in range(100_000)]
    hole = days.pop(50_000)
    document = {**unified, "completedDates": days[:70_000], "pendingDates": days[70_000:]}
    after = reprocess_dates(document, [hole])
    assert after["pendingDates"][0] == hole
    assert len(after["pendingDates"]) == len(days) - 70_000 + 1
    assert after["completedDates"] is document["completedDates"]  # untouched, shared


@pytest.mark.parametrize(
    "completed",
    [
        ["1-1-1", "2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04", "zz"],  # sorted, junk
        ["2025-03-04", "2025-03-01", "2025-03-03", "2025-03-02"],  # unsorted
        ["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04", "2025-03-04"],  # a repeat
        ["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04", "2025-03-99"],  # impossible
        ["2025-02-30", "2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04"],  # impossible
    ],
)
def test_the_range_of_a_gap_comes_from_the_real_dates_alone(unified, completed) -> None:
    """The span is the one validation warns about (``kinds.date_range``): impossible dates
    such as 2025-03-99, though date-shaped, do not widen it."""
    unified["completedDates"] = completed
    assert GAP in skip_dates(unified, [GAP])["completedDates"]
    for outside in ("2025-02-28", "2025-03-08", "2025-03-20"):
        with pytest.raises(InterventionError, match=f"{outside} is not in pendingDates"):
            skip_dates(unified, [outside])
    unified["pendingDates"] = ["zz"]  # no date left after the completed ones: no gap
    with pytest.raises(InterventionError, match=f"{GAP} is not in pendingDates"):
        skip_dates(unified, [GAP])


DAILY = {
    "runId": "daily-1",
    "status": "completed",
    "dates": ["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-05"],
    "processedDates": ["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-05"],
    "startTime": "2025-03-06T00:00:00Z",
    "endTime": "2025-03-06T01:00:00Z",
}
DAILY_GAP = "2025-03-04"


def test_a_daily_checkpoints_gap_can_be_skipped_and_reprocessed() -> None:
    """The calendar offered them (its findings warn about the gap), and both were refused:
    "2025-03-04 is not in dates", "… is not in processedDates"."""
    assert len(gap_warnings(DAILY)) == 1
    skipped = skip_dates(DAILY, [DAILY_GAP])
    assert skipped["dates"] == ["2025-03-01", "2025-03-02", "2025-03-03", DAILY_GAP, "2025-03-05"]
    assert skipped["processedDates"] == skipped["dates"]
    assert gap_warnings(skipped) == []

    queued = reprocess_dates(DAILY, [DAILY_GAP])
    assert queued["dates"] == skipped["dates"]
    assert queued["processedDates"] == DAILY["processedDates"]  # the gap is pending
    assert (queued["status"], queued["endTime"]) == ("running", None)
    assert gap_warnings(queued) == []


def test_a_range_over_a_daily_gap_takes_it_with_the_rest() -> None:
    queued = reprocess_dates(DAILY, ["2025-03-03..2025-03-05"])
    assert queued["dates"][2:5] == ["2025-03-03", DAILY_GAP, "2025-03-05"]
    assert queued["processedDates"] == ["2025-03-01", "2025-03-02"]
    running = {**DAILY, "status": "running", "processedDates": ["2025-03-01"]}
    skipped = skip_dates(running, ["2025-03-02..2025-03-05"])
    assert skipped["processedDates"] == skipped["dates"]


def test_a_date_outside_a_daily_checkpoints_range_is_still_refused() -> None:
    with pytest.raises(InterventionError, match="2025-03-09 is not in dates"):
        skip_dates(DAILY, ["2025-03-09"])
    with pytest.raises(InterventionError, match="2025-02-28 is not in processedDates"):
        reprocess_dates(DAILY, ["2025-02-28"])


def test_a_processed_date_outside_a_daily_checkpoints_dates_widens_no_range() -> None:
    """Its findings flag such a date; it made the span of gaps reach back to it, so a date
    a month before the run was taken for a gap and added to dates."""
    stray = {**DAILY, "status": "running", "processedDates": ["2025-01-01", "2025-03-01"]}
    with pytest.raises(InterventionError, match="2025-02-01 is not in dates"):
        skip_dates(stray, ["2025-02-01"])
