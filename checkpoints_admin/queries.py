"""Read-side helpers of the console: rows of the list, loaded checkpoints, calendars, pages.

Nothing here writes. The list works on ``CheckpointStore.list()`` (stat-keyed cached infos);
a checkpoint's page loads its document once per version (:func:`load_checkpoint` keeps the
parsed document and what is derived from it, keyed by the sha256 of the bytes), so paging
through a million dates never parses the file again.
"""

from __future__ import annotations

import calendar
import os
import threading
import time
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from itertools import islice
from operator import countOf, itemgetter, lt
from pathlib import Path
from typing import Any, Final, cast

import orjson
from django.core.paginator import Page, Paginator
from django.utils import timezone

from checkpoints_admin.checkpoints import Checkpoint, CheckpointInfo, CheckpointStore
from checkpoints_admin.checkpoints.kinds import (
    DAILY,
    MANAGED,
    UNIFIED,
    Finding,
    ahead_of_clock,
    count_findings,
    detect_kind,
    findings_as_of,
    validate,
)
from checkpoints_admin.checkpoints.store import (
    decode_document,
    file_findings,
    version_of,
    wide_integers,
    with_literals,
)
from checkpoints_admin.checkpoints.summary import STATES, Summary, summarize

PAGE_SIZE: Final = 50
LIST_STATES: Final = (*STATES, "corrupt")
DATE_KINDS: Final = (UNIFIED, DAILY)

# --- the list of checkpoints ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One checkpoint of the list, with its state and finding counts at the time of the page."""

    info: CheckpointInfo
    state: str
    errors: int
    warnings: int

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def summary(self) -> Summary | None:
        return self.info.summary

    @property
    def modified(self) -> datetime:
        return datetime.fromtimestamp(self.info.modified, tz=UTC)

    @property
    def last_update(self) -> datetime:
        """The document's own last update time, else the file's modification time."""
        summary = self.info.summary
        if summary is not None and summary.last_update is not None:
            return summary.last_update
        return self.modified


def build_rows(infos: Iterable[CheckpointInfo], *, now: datetime, stale_after: float) -> list[Row]:
    """Rows for ``infos``: state (``corrupt`` when unreadable) and error/warning counts.

    A row counts the warnings that depend on the clock too (``kinds.clock_findings``: the
    stale-running one exactly when the state is ``stalled``, and a last update in the future).
    """
    rows = []
    for info in infos:
        summary = info.summary
        if info.corrupt or summary is None:
            rows.append(Row(info, "corrupt", 1, 0))
            continue
        errors, warnings = count_findings(info.findings)
        state = summary.state(now=now, stale_after=stale_after)
        stale = state == "stalled" and summary.last_update is not None
        clock = (1 if stale else 0) + (1 if ahead_of_clock(summary, now) else 0)
        rows.append(Row(info, state, errors, warnings + clock))
    return rows


def state_counts(rows: Iterable[Row]) -> dict[str, int]:
    """How many rows are in each of LIST_STATES (all keys present, in that order)."""
    counts = dict.fromkeys(LIST_STATES, 0)
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    return counts


def _summary_value(attribute: str) -> Callable[[Row], Any]:
    def get(row: Row) -> Any:
        return getattr(row.info.summary, attribute, None) if row.info.summary else None

    return get


# Sort keys of the list's columns; a row without a value sorts last in both directions.
SORT_KEYS: Final[dict[str, Callable[[Row], Any]]] = {
    "name": lambda row: row.name.casefold(),
    "kind": lambda row: row.info.kind,
    "state": lambda row: LIST_STATES.index(row.state),
    "progress": _summary_value("progress"),
    "done": _summary_value("done"),
    "pending": _summary_value("pending"),
    "rate": _summary_value("rate"),
    # by the finish the column counts down to (the ETA as of each job's own last update
    # would put a job updated long ago before one just updated)
    "eta": lambda row: row.info.summary.finish_at(row.state) if row.info.summary else None,
    "updated": lambda row: row.last_update,
    "errors": lambda row: row.errors,
    "warnings": lambda row: row.warnings,
    "size": lambda row: row.info.size,
}


def select_rows(
    rows: Sequence[Row],
    *,
    q: str = "",
    state: str = "",
    kind: str = "",
    sort: str = "name",
    descending: bool = False,
) -> list[Row]:
    """Rows whose name contains ``q`` (case-insensitive), of ``state`` and ``kind``, sorted.

    Ties keep the order of ``rows`` (the store lists by name), so pages are stable.
    """
    needle = q.casefold().strip()
    key = SORT_KEYS.get(sort, SORT_KEYS["name"])
    keyed: list[tuple[Any, Row]] = []
    without: list[Row] = []
    for row in rows:
        if (
            (needle and needle not in row.name.casefold())
            or (state and row.state != state)
            or (kind and row.info.kind != kind)
        ):
            continue
        value = key(row)
        if value is None:
            without.append(row)
        else:
            keyed.append((value, row))
    keyed.sort(key=itemgetter(0), reverse=descending)
    return [row for _, row in keyed] + without


# How long a built listing is served again while the directory looks unchanged. Files created,
# removed or replaced atomically (as the store and the manager write) change the directory and
# show at once; in-place writes by other tools and the clock (stalled) wait at most this long.
LIST_CACHE_SECONDS: float = 2.0
# A directory modified this recently may change again within the same mtime tick.
DIR_TICK_NS: Final = 50_000_000
_MEMO_ENTRIES: Final = 64


class Listing:
    """The rows of one directory at one moment, with memoised selections and fragments."""

    def __init__(
        self,
        rows: list[Row],
        *,
        now: datetime,
        stamp: tuple[int, int] | None,
        unlisted: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.rows = rows
        #: The ``*.json`` files the rows leave out, each with why (``CheckpointStore.unlisted``).
        self.unlisted = tuple(unlisted)
        self.now = now
        self.stamp = stamp
        self.built = time.monotonic()
        self.counts = state_counts(rows)
        self._selections: dict[tuple[Any, ...], list[Row]] = {}
        self._fragments: dict[tuple[str, str], str] = {}

    def select(
        self,
        *,
        q: str = "",
        state: str = "",
        kind: str = "",
        sort: str = "name",
        descending: bool = False,
    ) -> list[Row]:
        """:func:`select_rows` over these rows, remembered for this listing."""
        key = (q, state, kind, sort, descending)
        selected = self._selections.get(key)
        if selected is None:
            selected = select_rows(
                self.rows, q=q, state=state, kind=kind, sort=sort, descending=descending
            )
            if len(self._selections) >= _MEMO_ENTRIES:
                self._selections.clear()
            self._selections[key] = selected
        return selected

    def fragment(self, name: str, query: str, render: Callable[[], str]) -> str:
        """The HTML fragment ``name`` for ``query``, rendered once for this listing."""
        key = (name, query)
        html = self._fragments.get(key)
        if html is None:
            html = render()
            if len(self._fragments) >= _MEMO_ENTRIES:
                self._fragments.clear()
            self._fragments[key] = html
        return html


_LISTINGS: dict[tuple[str, float], Listing] = {}
_LISTINGS_LOCK = threading.Lock()


def directory_stamp(directory: Path) -> tuple[int, int] | None:
    """The directory's ``(inode, mtime_ns)``, None when it cannot be stat-ed. Files created,
    removed or replaced atomically in it change the stamp; the list and the status feed key
    their caches on it."""
    try:
        st = os.stat(directory)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def stamp_settled(stamp: tuple[int, int] | None, *, wall_ns: int) -> bool:
    """True when what was built under ``stamp`` may be kept: the directory was last changed
    more than one mtime tick before ``wall_ns`` (else it could change again unnoticed)."""
    return stamp is not None and wall_ns - stamp[1] > DIR_TICK_NS


def listing(store: CheckpointStore, *, stale_after: float) -> Listing:
    """The rows of the store's checkpoints, built again only when the directory changed or
    after LIST_CACHE_SECONDS; so polling a quiet directory of thousands of files is cheap.

    Raises CheckpointError when the directory cannot be listed.
    """
    key = (str(store.directory), stale_after)
    stamp = directory_stamp(store.directory)
    built = _LISTINGS.get(key)
    if (
        built is not None
        and stamp is not None
        and built.stamp == stamp
        and time.monotonic() - built.built < LIST_CACHE_SECONDS
    ):
        return built
    with _LISTINGS_LOCK:
        now = timezone.now()
        rows = build_rows(store.list(), now=now, stale_after=stale_after)
        fresh = Listing(rows, now=now, stamp=stamp, unlisted=store.unlisted())
        # A directory changed within the last tick could change again under the same mtime.
        if stamp_settled(stamp, wall_ns=time.time_ns()):
            if len(_LISTINGS) > 16:
                _LISTINGS.clear()
            _LISTINGS[key] = fresh
        else:
            _LISTINGS.pop(key, None)
    return fresh


def paginate(items: Sequence[Any], page: int, per_page: int = PAGE_SIZE) -> Page:
    """The page ``page`` of ``items`` (out-of-range pages give the last page)."""
    return Paginator(items, per_page).get_page(page)


# --- one checkpoint -------------------------------------------------------------------------


def _iso_ordinal(value: str) -> int | None:
    try:
        return date.fromisoformat(value).toordinal() if len(value) == 10 else None
    except (TypeError, ValueError):
        return None


def _string_set(value: Any) -> set[str]:
    """The strings of a JSON list (nothing else of it), as a set."""
    if not isinstance(value, list):
        return set()
    if countOf(map(type, value), str) == len(value):  # the usual case: one pass in C
        return set(value)
    return {item for item in value if type(item) is str}


class _Ascending:
    """A strictly ascending list of strings, searched by bisection: as good as a set for
    ``in`` and iteration, without building one (a million dates cost a set of a million)."""

    __slots__ = ("items",)

    def __init__(self, items: list[str]) -> None:
        self.items = items

    @classmethod
    def or_set(cls, value: Any) -> _Ascending | set[str]:
        """``value`` as is when it is a strictly ascending list of strings, else its set."""
        if (
            isinstance(value, list)
            and countOf(map(type, value), str) == len(value)
            and all(map(lt, value, islice(value, 1, None)))
        ):
            return cls(value)
        return _string_set(value)

    def __contains__(self, value: object) -> bool:
        if type(value) is not str:
            return False
        index = bisect_left(self.items, value)
        return index < len(self.items) and self.items[index] == value

    def __iter__(self) -> Iterator[str]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class DateIndex:
    """The dates of a date-kind checkpoint, for calendars and gap finding: sets, or for a
    unified checkpoint's ascending lists the lists themselves."""

    def __init__(
        self,
        completed: set[str] | _Ascending,
        pending: set[str] | _Ascending,
        summary: Summary,
    ) -> None:
        self.completed = completed
        self.pending = pending
        self.first = summary.first_date
        self.last = summary.last_date
        self.gaps = summary.gaps

    @classmethod
    def of(cls, data: Mapping[str, Any], kind: str, summary: Summary) -> DateIndex:
        if kind == UNIFIED:
            return cls(
                _Ascending.or_set(data.get("completedDates")),
                _Ascending.or_set(data.get("pendingDates")),
                summary,
            )
        processed = _string_set(data.get("processedDates"))
        return cls(processed, _string_set(data.get("dates")) - processed, summary)

    def state_of(self, value: str) -> str:
        """``completed``, ``pending``, ``conflict`` (both), ``gap`` (in the range, in neither)
        or ``outside`` (beyond the range)."""
        done, waiting = value in self.completed, value in self.pending
        if done and waiting:
            return "conflict"
        if done:
            return "completed"
        if waiting:
            return "pending"
        if self.first is not None and self.last is not None and self.first < value < self.last:
            return "gap"
        return "outside"

    @cached_property
    def first_pending(self) -> str | None:
        """The earliest real date among the pending values.

        ISO dates sort as strings do, so the smallest string is the answer when it is a real
        date; only when it is not (rare: a corrupt value) are the others looked at.
        """
        if isinstance(self.pending, _Ascending):
            return next((v for v in self.pending if _iso_ordinal(v) is not None), None)
        if not self.pending:
            return None
        smallest = min(self.pending)
        if _iso_ordinal(smallest) is not None:
            return smallest
        return min((v for v in self.pending if _iso_ordinal(v) is not None), default=None)

    @cached_property
    def first_gap(self) -> str | None:
        """The earliest date inside the range that is in neither list (binary search)."""
        if not self.gaps or self.first is None:
            return None
        dates = sorted(
            value
            for value in set(self.completed).union(self.pending)
            if self.first <= value <= (self.last or value) and _iso_ordinal(value) is not None
        )
        if not dates:
            return None
        start = _iso_ordinal(dates[0])
        assert start is not None
        low, high = 0, len(dates)
        # All of dates[:low] are consecutive days from the first date.
        while low < high:
            middle = (low + high) // 2
            if _iso_ordinal(dates[middle]) == start + middle:
                low = middle + 1
            else:
                high = middle
        if low == len(dates):
            return None
        return date.fromordinal(start + low).isoformat()


class Loaded:
    """A checkpoint read once: its document, kind, summary, time-independent findings.

    The summary and findings are worked out when first asked for (an apply needs neither),
    then kept with the loaded checkpoint for every later page of the same version.
    """

    def __init__(self, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint
        self.kind = detect_kind(checkpoint.data)

    @cached_property
    def summary(self) -> Summary:
        return summarize(self.checkpoint.data, kind=self.kind)

    @cached_property
    def findings(self) -> tuple[Finding, ...]:
        findings = validate(self.checkpoint.data, kind=self.kind)
        checkpoint = self.checkpoint
        return tuple(file_findings(findings, checkpoint.raw, checkpoint.data, self.wide_integers))

    @cached_property
    def wide_integers(self) -> list[tuple[list[str | int], str]]:
        """The file's integers beyond 64 bits (path, literal): the document has them only as
        the nearest float, so pages show such a file as it is written."""
        return wide_integers(self.checkpoint.raw)

    @cached_property
    def shown_data(self) -> dict[str, Any]:
        """The document as a person is shown it: integers beyond 64 bits as written."""
        return cast(dict[str, Any], with_literals(self.checkpoint.data, self.wide_integers))

    @property
    def name(self) -> str:
        return self.checkpoint.name

    @property
    def data(self) -> dict[str, Any]:
        return self.checkpoint.data

    @property
    def is_date_kind(self) -> bool:
        return self.kind in DATE_KINDS

    @cached_property
    def dates(self) -> DateIndex | None:
        if not self.is_date_kind:
            return None
        return DateIndex.of(self.checkpoint.data, self.kind, self.summary)

    def findings_at(self, *, now: datetime, stale_after: float) -> list[Finding]:
        """The findings with the stale-running warning as of ``now``; errors first."""
        findings = findings_as_of(self.findings, self.summary, now=now, stale_after=stale_after)
        return sorted(findings, key=lambda finding: finding.severity != "error")

    @cached_property
    def lists(self) -> list[ListField]:
        return list_fields(self.checkpoint.data, self.kind)

    @cached_property
    def stats(self) -> dict[str, Any]:
        """The document's ``stats`` object when it has one (unified jobs count records)."""
        stats = self.checkpoint.data.get("stats")
        return dict(stats) if isinstance(stats, dict) else {}

    @cached_property
    def figures(self) -> list[tuple[int, int, str]]:
        """``(done, total, unit)`` lines under the progress bar, the one progress counts first."""
        summary = self.summary
        lines: list[tuple[int, int, str]] = []
        processed, total = self.stats.get("processedRecords"), self.stats.get("totalRecords")
        if summary.rate_unit == "records" and type(processed) is int and type(total) is int:
            lines.append((processed, total, "records"))
        if summary.total is not None and summary.unit:
            lines.append((summary.done, summary.total, summary.unit))
        return lines


# Recently loaded checkpoints by (directory, name, version); bounded by count and by the
# memory they take, about CACHE_MEMORY_PER_BYTE times their bytes parsed (a million items of
# 27 MB kept 166 MB), in each server process: the last one loaded is kept whatever its size.
_CACHE: OrderedDict[tuple[str, str, str], Loaded] = OrderedDict()
_CACHE_LOCK = threading.Lock()
CACHE_ENTRIES: Final = 16
CACHE_MEMORY: Final = 192 * 1024 * 1024
CACHE_MEMORY_PER_BYTE: Final = 6


def load_checkpoint(store: CheckpointStore, name: str) -> Loaded:
    """The checkpoint ``name`` parsed and summarised, reusing the work for unchanged bytes.

    Raises the store's errors: InvalidCheckpointName, CheckpointNotFound, CorruptCheckpoint,
    CheckpointTooLarge.
    """
    raw = store.read_raw(name)
    version = version_of(raw)
    key = (str(store.directory), name, version)
    with _CACHE_LOCK:
        loaded = _CACHE.get(key)
        if loaded is not None:
            _CACHE.move_to_end(key)
            return loaded
    data = decode_document(raw, name=name)
    return _keep(key, Loaded(Checkpoint(name=name, data=data, raw=raw, version=version)))


def _keep(key: tuple[str, str, str], loaded: Loaded) -> Loaded:
    with _CACHE_LOCK:
        _CACHE[key] = loaded
        _CACHE.move_to_end(key)
        total = sum(len(item.checkpoint.raw) for item in _CACHE.values())
        limit = CACHE_MEMORY // CACHE_MEMORY_PER_BYTE
        while len(_CACHE) > 1 and (len(_CACHE) > CACHE_ENTRIES or total > limit):
            _, dropped = _CACHE.popitem(last=False)
            total -= len(dropped.checkpoint.raw)
    return loaded


def remember_written(store: CheckpointStore, checkpoint: Checkpoint) -> None:
    """Keep a checkpoint this process just wrote (its document as written, not to be changed),
    so that the pages showing it next need not read and parse it again."""
    _keep((str(store.directory), checkpoint.name, checkpoint.version), Loaded(checkpoint))


def document_of_version(store: CheckpointStore, name: str, version: str) -> dict[str, Any] | None:
    """The document of checkpoint ``name`` at ``version`` when it is among the loaded ones
    (versions are the sha256 of the bytes, so this is exactly the content they had), as a
    person is shown it (:attr:`Loaded.shown_data`)."""
    with _CACHE_LOCK:
        loaded = _CACHE.get((str(store.directory), name, version))
    return loaded.shown_data if loaded is not None else None


def clear_cache() -> None:
    """Forget every loaded checkpoint and every listing."""
    with _CACHE_LOCK:
        _CACHE.clear()
    with _LISTINGS_LOCK:
        _LISTINGS.clear()


# --- the month calendar ---------------------------------------------------------------------

WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAY_STATE_WORDS: Final = {
    "completed": "completed",
    "pending": "pending",
    "conflict": "both pending and completed",
    "gap": "gap: inside the range, in neither list",
    "outside": "outside the range",
}


@dataclass(frozen=True, slots=True)
class Day:
    date: str
    day: int
    state: str
    today: bool

    @property
    def title(self) -> str:
        return f"{self.date} · {DAY_STATE_WORDS.get(self.state, self.state)}"


@dataclass(frozen=True, slots=True)
class Month:
    year: int
    month: int
    rows: list[tuple[str, list[Day | None]]]  # one row per weekday: (label, cell per week)
    counts: dict[str, int]

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        return f"{calendar.month_name[self.month]} {self.year}"

    @property
    def previous(self) -> str | None:
        if self.year == 1 and self.month == 1:
            return None
        year, month = (self.year, self.month - 1) if self.month > 1 else (self.year - 1, 12)
        return f"{year:04d}-{month:02d}"

    @property
    def next(self) -> str | None:
        if self.year == 9999 and self.month == 12:
            return None
        year, month = (self.year, self.month + 1) if self.month < 12 else (self.year + 1, 1)
        return f"{year:04d}-{month:02d}"


def parse_month(value: str | None) -> tuple[int, int] | None:
    """``(year, month)`` of ``YYYY-MM`` (or of a full date), None when not one."""
    if not value or len(value) not in (7, 10):
        return None
    try:
        parsed = date.fromisoformat(value if len(value) == 10 else value + "-01")
    except ValueError:
        return None
    return parsed.year, parsed.month


def default_month(index: DateIndex, today: date) -> tuple[int, int]:
    """Where the work is: the first pending date's month, else the last date's, else today's."""
    for candidate in (index.first_pending, index.last):
        month = parse_month(candidate)
        if month is not None:
            return month
    return today.year, today.month


def month_grid(index: DateIndex, year: int, month: int, *, today: date) -> Month:
    """The month as weekday rows and week columns, each day with its state."""
    first_weekday, length = calendar.monthrange(year, month)
    columns = (first_weekday + length + 6) // 7
    rows: list[tuple[str, list[Day | None]]] = [(label, [None] * columns) for label in WEEKDAYS]
    counts = dict.fromkeys(DAY_STATE_WORDS, 0)
    start = date(year, month, 1)
    for offset in range(length):
        day = start + timedelta(days=offset)
        iso = day.isoformat()
        state = index.state_of(iso)
        counts[state] += 1
        position = first_weekday + offset
        rows[position % 7][1][position // 7] = Day(iso, day.day, state, day == today)
    return Month(year, month, rows, counts)


# --- the date and item lists ----------------------------------------------------------------

LIST_LABELS: Final = {
    "pendingDates": "Pending dates",
    "completedDates": "Completed dates",
    "dates": "Dates",
    "processedDates": "Processed dates",
    "pendingItems": "Pending items",
    "processedItems": "Processed items",
}
_PREFERRED: Final = {
    UNIFIED: ("pendingDates", "completedDates"),
    DAILY: ("dates", "processedDates"),
    MANAGED: ("pendingItems", "processedItems"),
}


@dataclass(frozen=True, slots=True)
class ListField:
    key: str
    label: str
    count: int


def list_fields(data: dict[str, Any], kind: str) -> list[ListField]:
    """The document's top-level lists, the kind's own first (pending before done)."""
    preferred = [key for key in _PREFERRED.get(kind, ()) if isinstance(data.get(key), list)]
    others = [
        key for key, value in data.items() if isinstance(value, list) and key not in preferred
    ]
    return [
        ListField(key, LIST_LABELS.get(key, key), len(data[key])) for key in [*preferred, *others]
    ]


def search_list(values: list[Any], q: str) -> list[Any]:
    """The values whose text contains ``q`` (case-insensitive); all of them for an empty ``q``."""
    needle = q.strip().casefold()
    if not needle:
        return values
    return [value for value in values if needle in _text(value).casefold()]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)
