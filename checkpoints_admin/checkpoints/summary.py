"""Summaries of checkpoint documents: progress, counts, rate, ETA and state, per kind.

``summarize`` never raises on a document's content: a field of the wrong type is treated
as absent, so a document with errors still summarises with what it has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from checkpoints_admin.checkpoints.kinds import (
    DAILY,
    MANAGED,
    STATUSES,
    UNIFIED,
    UNKNOWN,
    DateScans,
    Finding,
    check_kind,
    clock_findings,
    detect_kind,
    epoch_ms_time,
    integrity_findings,
    is_number,
    parse_time,
)

STATES: Final = ("pending", "running", "stalled", "completed", "failed")
#: States in which a job is expected to go on, so that an ETA means something.
MOVING_STATES: Final = frozenset({"pending", "running"})


@dataclass(frozen=True, slots=True)
class Summary:
    """What a checkpoint says about its job, in a shape common to every kind."""

    kind: str
    status: str | None = None  # the document's own status when it has one
    progress: float | None = None  # 0..1
    done: int = 0
    pending: int = 0
    total: int | None = None
    unit: str = ""  # "dates" | "items" | "records" | "" (unit of done/pending/total)
    rate: float | None = None  # rate_unit per second, start -> last update
    started: datetime | None = None  # aware UTC
    last_update: datetime | None = None  # aware UTC
    eta_seconds: float | None = None
    first_date: str | None = None
    last_date: str | None = None
    records: Mapping[str, int] = field(default_factory=dict)
    gaps: int = 0
    rate_unit: str = ""  # unit of rate ("records" for unified jobs that count records)
    last_update_field: str = ""  # the top-level key last_update was read from

    def eta_in(self, state: str) -> float | None:
        """The seconds left worth showing for a job in ``state``: only while it is expected
        to go on (pending or running), never from the last rate of a stalled, failed or
        completed one."""
        return self.eta_seconds if state in MOVING_STATES else None

    @property
    def expected_finish(self) -> datetime | None:
        """The last update plus the ETA worked out then, whatever the state; None without
        either (or past any date, at a rate that slow)."""
        if self.eta_seconds is None or self.last_update is None:
            return None
        try:
            return self.last_update + timedelta(seconds=self.eta_seconds)
        except OverflowError:
            return None

    def finish_at(self, state: str) -> datetime | None:
        """When a job in ``state`` is expected to finish (a time already past means it is
        overdue); None unless it is expected to go on (pending or running) at a known rate."""
        return self.expected_finish if state in MOVING_STATES else None

    def state(self, *, now: datetime, stale_after: float | None) -> str:
        """One of STATES; ``stalled`` is a running job idle for more than ``stale_after`` s."""
        status = self.status if self.status in STATUSES else None
        if status == "pending" and self.done > 0 and self.last_update is not None:
            # Work is being recorded though the field says it has not started (a job that
            # went on after a reset wrote its initial document again): running, so that it
            # shows as stalled when it stops.
            status = "running"
        if status in ("failed", "completed", "pending"):
            return status
        if status is None:
            if self.kind == UNKNOWN:
                return "pending"
            if self.pending == 0 and self.done > 0:
                return "completed"
            if self.done == 0 and self.last_update is None:
                return "pending"
        if self.last_update is not None and stale_after is not None:
            if now.tzinfo is None:
                now = now.replace(tzinfo=UTC)
            if (now - self.last_update).total_seconds() > stale_after:
                return "stalled"
        return "running"

    def saved_while_running(self, *, now: datetime, stale_after: float | None) -> float | None:
        """Seconds since the job's last save when it is running (not stalled, not finished):
        it may save again any moment. None otherwise."""
        if self.last_update is None or self.state(now=now, stale_after=stale_after) != "running":
            return None
        return max(0.0, (now - self.last_update).total_seconds())


_RATE_PERIODS: Final = (("s", 1), ("min", 60), ("h", 3600), ("d", 86400), ("wk", 604800))
_SHORT_UNITS: Final = {"records": "rec", "dates": "dates", "items": "items"}
_LONG_PERIODS: Final = {"d": "day", "wk": "week"}


def rate_text(rate: float | None, unit: str, *, short: bool = True) -> str | None:
    """A rate in units per second as people read it: ``24.0 rec/s``, ``3.2 dates/h``, per
    the first of second, minute, hour, day and week it reaches one in (``< 0.1 items/wk``
    at the slowest); None for no rate. ``short``: ``rec`` and ``/d``; else ``records`` and
    ``/day``."""
    if rate is None or not rate > 0:
        return None
    value, per = rate * 604800, "wk"
    for candidate, factor in _RATE_PERIODS:
        if rate * factor >= 1:
            value, per = rate * factor, candidate
            break
    amount = "< 0.1" if value < 0.1 else f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
    word = (_SHORT_UNITS.get(unit, unit) if short else unit) or "units"
    return f"{amount} {word}/{per if short else _LONG_PERIODS.get(per, per)}"


def _count(mapping: Mapping[str, Any], key: str) -> int | None:
    value = mapping.get(key)
    return value if type(value) is int and value >= 0 else None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    elapsed = (end - start).total_seconds()
    return elapsed if elapsed > 0 else None


def _per_second(amount: int | None, elapsed: float | None) -> float | None:
    if amount is None or elapsed is None:
        return None
    return amount / elapsed


def _eta(remaining: int | None, rate: float | None) -> float | None:
    if remaining is None or not rate:
        return None
    return max(remaining, 0) / rate


def _unified(data: Mapping[str, Any], scans: DateScans) -> Summary:
    pending_dates = scans("pendingDates")
    completed_dates = scans("completedDates")
    covered = scans.span("pendingDates", "completedDates")
    # A CheckpointManager job keeping its dates in these lists (with id, status, progress)
    # has its times and status as the manager writes them.
    started = epoch_ms_time(data.get("startTime")) or parse_time(data.get("created"))
    updated = epoch_ms_time(data.get("lastUpdateTime"))
    updated_field = "lastUpdateTime"
    touched = parse_time(data.get("lastUpdated"))
    # The later of the two: a job moved onto CheckpointManager keeps the seed's
    # lastUpdateTime, which the manager does not change, and saves lastUpdated.
    if touched is not None and (updated is None or touched > updated):
        updated, updated_field = touched, "lastUpdated"
    elapsed = _seconds(started, updated)
    stats = data.get("stats")
    stats = stats if isinstance(stats, Mapping) else {}
    total_records = _count(stats, "totalRecords")
    processed = _count(stats, "processedRecords")
    records = {
        name: value
        for name, key in (
            ("successful", "successfulRecords"),
            ("failed", "failedRecords"),
            ("timeouts", "timeouts"),
        )
        if (value := _count(stats, key)) is not None
    }
    # The distinct completed dates, and the distinct pending ones not also completed.
    done = completed_dates.count
    left = pending_dates.count - len(pending_dates.common(completed_dates))
    total = done + left
    # The job's record counters measure progress while dates are left; with none left the
    # run is done, whatever its estimate of the records said (dates skipped by a person,
    # an estimate that was too high): then the dates are the measure, and it is 100 %.
    if total_records and processed is not None and (left or not total):
        progress: float | None = min(processed / total_records, 1.0)
        rate = _per_second(processed, elapsed)
        eta = _eta(total_records - processed, rate)
        rate_unit = "records"
    else:
        progress = done / total if total else None
        rate = _per_second(done, elapsed)
        eta = _eta(left, rate)
        rate_unit = "dates"
    status = data.get("status")
    return Summary(
        kind=UNIFIED,
        status=status if isinstance(status, str) else None,
        progress=progress,
        done=done,
        pending=left,
        total=total,
        unit="dates",
        rate=rate,
        started=started,
        last_update=updated,
        last_update_field=updated_field if updated is not None else "",
        eta_seconds=eta,
        first_date=covered.first,
        last_date=covered.last,
        records=records,
        gaps=covered.gaps,
        rate_unit=rate_unit,
    )


def _status(data: Mapping[str, Any]) -> str | None:
    status = data.get("status")
    return status if type(status) is str else None


def _daily(data: Mapping[str, Any], scans: DateScans) -> Summary:
    listed = scans("dates")
    covered = scans.span("dates", "processedDates")
    done = len(listed.common(scans("processedDates")))
    total = listed.count
    started = parse_time(data.get("startTime"))
    last_run = parse_time(data.get("lastRun"))
    ended = parse_time(data.get("endTime"))
    touched = parse_time(data.get("lastUpdated"))  # as a CheckpointManager job writes it
    times = [
        (moment, key)
        for moment, key in (
            (started, "startTime"),
            (last_run, "lastRun"),
            (ended, "endTime"),
            (touched, "lastUpdated"),
        )
        if moment is not None
    ]
    updated, updated_field = None, ""
    for moment, key in times:  # the latest; on a tie, the key that names an update most
        if updated is None or moment >= updated:
            updated, updated_field = moment, key
    elapsed = _seconds(started, ended or last_run)
    rate = _per_second(done, elapsed)
    return Summary(
        kind=DAILY,
        status=_status(data),
        progress=done / total if total else None,
        done=done,
        pending=total - done,
        total=total,
        unit="dates",
        rate=rate,
        started=started,
        last_update=updated,
        last_update_field=updated_field if updated is not None else "",
        eta_seconds=_eta(total - done, rate),
        first_date=covered.first,
        last_date=covered.last,
        gaps=covered.gaps,
        rate_unit="dates",
    )


def _managed(data: Mapping[str, Any], scans: DateScans) -> Summary:
    percent = data.get("progress")
    progress = percent / 100 if is_number(percent) and 0 <= percent <= 100 else None
    processed_items = data.get("processedItems")
    pending_items = data.get("pendingItems")
    has_items = isinstance(processed_items, list) or isinstance(pending_items, list)
    done = len(processed_items) if isinstance(processed_items, list) else 0
    left = len(pending_items) if isinstance(pending_items, list) else 0
    started = parse_time(data.get("created"))
    updated = parse_time(data.get("lastUpdated"))
    elapsed = _seconds(started, updated)
    rate = _per_second(done, elapsed) if has_items else None
    eta = _eta(left, rate)
    if eta is None and progress and elapsed is not None:
        eta = elapsed * (1 - progress) / progress
    return Summary(
        kind=MANAGED,
        status=_status(data),
        progress=progress,
        done=done,
        pending=left,
        total=done + left if has_items else None,
        unit="items" if has_items else "",
        rate=rate,
        started=started,
        last_update=updated,
        last_update_field="lastUpdated" if updated is not None else "",
        eta_seconds=eta,
        rate_unit="items" if has_items else "",
    )


def summarize(data: Any, *, kind: str | None = None) -> Summary:
    """The summary of a document as ``kind`` (default: detected); never raises on content."""
    return _summarize(data, kind, None)


def examine(
    data: Any,
    *,
    kind: str | None = None,
    now: datetime | None = None,
    stale_after: float | None = None,
) -> tuple[Summary, list[Finding]]:
    """``summarize`` and ``validate`` together, each date list scanned once."""
    scans = DateScans(data) if isinstance(data, Mapping) else None
    summary = _summarize(data, kind, scans)
    findings = integrity_findings(data, kind=kind, scans=scans)
    if now is not None and stale_after is not None and summary.kind != UNKNOWN:
        findings.extend(clock_findings(summary, now=now, stale_after=stale_after))
    return summary, findings


_SUMMARIZERS: Final = {UNIFIED: _unified, DAILY: _daily, MANAGED: _managed}


def _summarize(data: Any, kind: str | None, scans: DateScans | None) -> Summary:
    check_kind(kind)
    if not isinstance(data, Mapping):
        return Summary(kind=UNKNOWN)
    kind = kind or detect_kind(data)
    summarizer = _SUMMARIZERS.get(kind)
    if summarizer is None:
        return Summary(kind=UNKNOWN, status=_status(data))
    return summarizer(data, scans or DateScans(data))
