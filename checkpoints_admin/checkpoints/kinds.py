"""Checkpoint kinds: detection from a document's keys and the integrity rules of each kind.

``validate`` returns findings: errors are what would break or corrupt processing, warnings
are what an operator should look at. Every finding names the offending value by a JSON
pointer (RFC 6901) and says in plain English what is wrong.

Date lists can hold a million entries, so the checks use single passes rather than a parse
of each string: date validity is one regex pass over the list joined by newlines (only over
the lines that differ from a recently checked all-valid list), and a strictly ascending list
is counted, intersected and searched by its order, its set of values built only when a rule
needs it.
"""

from __future__ import annotations

import calendar
import operator
import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any, Final, TypeGuard

from checkpoints_admin.checkpoints.runs import agreeing_run

if TYPE_CHECKING:
    from checkpoints_admin.checkpoints.summary import Summary

UNIFIED: Final = "unified-reconciliation"
DAILY: Final = "daily-reconciliation"
MANAGED: Final = "managed"
UNKNOWN: Final = "unknown"
KINDS: Final = (UNIFIED, DAILY, MANAGED, UNKNOWN)

#: The values a document's ``status`` may take (daily and managed kinds).
STATUSES: Final = ("pending", "running", "completed", "failed")

ERROR: Final = "error"
WARNING: Final = "warning"

#: Per rule and list, how many offending entries get a finding of their own before the
#: rest are grouped into one finding that gives their count.
MAX_LISTED: Final = 5
#: Gaps are listed one finding each up to this many, then grouped into one finding.
MAX_GAPS_LISTED: Final = 3

#: Where each kind keeps the time of its last update (used by the stale warning).
LAST_UPDATE_FIELD: Final = {UNIFIED: "lastUpdateTime", DAILY: "lastRun", MANAGED: "lastUpdated"}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in a checkpoint document."""

    severity: str  # "error" | "warning"
    pointer: str  # RFC 6901 JSON pointer; "" is the whole document
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def __str__(self) -> str:
        return f"{self.severity}: {self.pointer or '(document)'}: {self.message}"


def json_pointer(*tokens: str | int) -> str:
    """The RFC 6901 pointer of a path: ``json_pointer("a/b", 0) == "/a~1b/0"``."""
    return "".join("/" + str(token).replace("~", "~0").replace("/", "~1") for token in tokens)


def check_kind(kind: str | None) -> None:
    """Refuse a ``kind`` argument that names no kind (None means: detect it)."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown checkpoint kind {kind!r}; expected one of {', '.join(KINDS)}")


def detect_kind(data: Any) -> str:
    """The kind of a checkpoint document, guessed from its keys (``unknown`` for non-objects)."""
    if not isinstance(data, Mapping):
        return UNKNOWN
    if "id" in data and "status" in data and "progress" in data:
        # What CheckpointManager writes; a job's own fields may share a date kind's names
        # ("dates", "pendingDates"…): only both lists of that kind make it one.
        if "pendingDates" in data and "completedDates" in data:
            return UNIFIED
        if "dates" in data and "processedDates" in data:
            return DAILY
        return MANAGED
    if "pendingDates" in data or "completedDates" in data:
        return UNIFIED
    if "dates" in data or "processedDates" in data:
        return DAILY
    if "id" in data and "status" in data and "progress" in data:
        return MANAGED
    return UNKNOWN


# --- dates -----------------------------------------------------------------------------

# A real ISO date, calendar included: month lengths and leap years (year 0000 does not
# exist in ISO 8601 as Python reads it). One regex pass over all dates of a list joined
# by newlines is several times faster than parsing each string.
_LEAP_DAY: Final = (
    r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)-02-29"
)
_DATE_PATTERN: Final = (
    r"(?:(?!0000)[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))|" + _LEAP_DAY + ")"
)
_DATE_RE: Final = re.compile(_DATE_PATTERN)
_BAD_LINE_RE: Final = re.compile(r"^(?!" + _DATE_PATTERN + r"$)", re.MULTILINE)
_TIME_RE: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?"
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?",
    re.IGNORECASE,
)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_EPOCH_MS: Final = (
    int((datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - _EPOCH).total_seconds()) * 1000
)
# Month-day suffixes of a common and of a leap year, to spell dates without parsing.
_DAYS_COMMON: Final = tuple(
    (date(2001, 1, 1) + timedelta(days=n)).strftime("-%m-%d") for n in range(365)
)
_DAYS_LEAP: Final = tuple(
    (date(2000, 1, 1) + timedelta(days=n)).strftime("-%m-%d") for n in range(366)
)


def is_date(value: Any) -> bool:
    """True for a string holding a real ISO date such as ``2025-03-01``."""
    return type(value) is str and _DATE_RE.fullmatch(value) is not None


def date_ordinal(value: Any) -> int | None:
    """The proleptic ordinal of a real ISO date string, None when it is not one."""
    if not is_date(value):
        return None
    return date.fromisoformat(value).toordinal()


def invalid_dates(values: Iterable[str]) -> set[str]:
    """The strings of ``values`` that are not real ISO dates ``YYYY-MM-DD``."""
    values = values if isinstance(values, list | tuple) else list(values)
    if not values:
        return set()
    joined = _lines(values)
    if joined is not None:
        return _invalid_lines(values, joined)
    return {value for value in values if _DATE_RE.fullmatch(value) is None}


def _lines(values: Sequence[Any]) -> str | None:
    """``values`` one per line, when each is a string without a line break (else None)."""
    if not values:
        return None
    try:
        joined = "\n".join(values)
    except TypeError:  # not all strings
        return None
    return joined if joined.count("\n") == len(values) - 1 else None


def _invalid_lines(values: Sequence[str], joined: str) -> set[str]:
    """:func:`invalid_dates` of ``values``, given them joined one per line."""
    unchecked = _unchecked_lines(joined)
    if unchecked is None:
        return set()
    if _BAD_LINE_RE.search(unchecked) is None:
        _remember_valid(joined)
        return set()
    return {value for value in values if _DATE_RE.fullmatch(value) is None}


#: Recently checked date lists (joined by newlines) made only of real dates, with their
#: order once worked out (strictly ascending, ascending). A list that differs from one of
#: them in a few places (the next version of a document: a date skipped, a few dates done)
#: only needs its changed lines checked; an unchanged list none, nor its order (the same
#: text is the same strings in the same order).
_ALL_VALID: dict[str, tuple[bool, bool] | None] = {}
_ALL_VALID_ENTRIES: Final = 8
_ALL_VALID_MAX_CHARS: Final = 16 * 1024 * 1024  # per list (1.5 million dates)
_ALL_VALID_TOTAL_CHARS: Final = 32 * 1024 * 1024
_ALL_VALID_GUARD: Final = threading.Lock()
_CHUNK: Final = 1 << 16


def _remember_valid(joined: str, order: tuple[bool, bool] | None = None) -> None:
    if len(joined) > _ALL_VALID_MAX_CHARS:
        return
    with _ALL_VALID_GUARD:
        known = _ALL_VALID.pop(joined, None)
        _ALL_VALID[joined] = order or known
        total = sum(map(len, _ALL_VALID))
        while len(_ALL_VALID) > _ALL_VALID_ENTRIES or total > _ALL_VALID_TOTAL_CHARS:
            oldest = next(iter(_ALL_VALID))
            total -= len(oldest)
            del _ALL_VALID[oldest]


def _unchecked_lines(joined: str) -> str | None:
    """The lines of ``joined`` that no remembered all-valid list vouches for.

    None when ``joined`` is remembered as a whole; else the smallest run of lines (as one
    string) outside of which ``joined`` repeats a remembered list line for line, or all of it.
    """
    with _ALL_VALID_GUARD:
        if joined in _ALL_VALID:
            return None
        known_lists = list(_ALL_VALID)
    best = joined
    first, last = joined[:11], joined[-11:]
    for known in reversed(known_lists):  # the most recent first
        if not known.startswith(first) and not known.endswith(last):
            continue  # nothing in common at either end
        head = _common_prefix(known, joined)
        tail = _common_suffix(known, joined, min(len(known), len(joined)) - head)
        # Whole lines inside the common head, and whole lines after a newline inside the
        # common tail, are lines of ``known``: real dates.
        start = joined.rfind("\n", 0, head) + 1
        stop = joined.find("\n", len(joined) - tail)
        changed = joined[start : stop if stop >= 0 else len(joined)]
        if len(changed) < len(best):
            best = changed
            if len(best) * 16 <= len(joined):
                break
    return best


def _common_prefix(a: str, b: str) -> int:
    """The length of the longest common prefix of two strings (compared a chunk at a time)."""
    return agreeing_run(
        min(len(a), len(b)),
        lambda low, high: a.startswith(b[low:high], low),
        first_step=64,
        growth=2,
        max_step=_CHUNK,
    )


def _common_suffix(a: str, b: str, limit: int) -> int:
    """The length of the longest common suffix of two strings, at most ``limit``."""
    len_a, len_b = len(a), len(b)
    return agreeing_run(
        limit,
        lambda low, high: a.endswith(b[len_b - high : len_b - low], 0, len_a - low),
        first_step=64,
        growth=2,
        max_step=_CHUNK,
    )


def _date_chunks(first: int, last: int) -> Iterator[list[str]]:
    """ISO strings of the dates from ordinal ``first`` to ``last``, a year at a time."""
    if first > last:
        return
    start = date.fromordinal(first)
    year, index = start.year, first - date(start.year, 1, 1).toordinal()
    remaining = last - first + 1
    while remaining > 0:
        days = _DAYS_LEAP if calendar.isleap(year) else _DAYS_COMMON
        prefix = f"{year:04d}"
        chunk = [prefix + suffix for suffix in days[index : index + remaining]]
        yield chunk
        remaining -= len(chunk)
        year, index = year + 1, 0


#: While a :func:`shared_list_checks` block runs: the checks below already made, by list.
_SHARED_CHECKS: ContextVar[dict[int, tuple[Sequence[Any], dict[str, bool]]] | None] = ContextVar(
    "shared_list_checks", default=None
)
_SHARED_MIN: Final = 1024  # shorter lists are checked again: as fast as looking them up


@contextmanager
def shared_list_checks() -> Iterator[None]:
    """Within this block, :func:`is_sorted`, :func:`strictly_ascending` and
    :func:`all_strings` look at each list object once, however many steps (an intervention,
    its diff, the validation of its result) ask. The lists must not change inside it."""
    token = _SHARED_CHECKS.set({})
    try:
        yield
    finally:
        _SHARED_CHECKS.reset(token)


def _shared(check: Callable[[Sequence[Any]], bool], items: Sequence[Any]) -> bool:
    known = _SHARED_CHECKS.get()
    if known is None or len(items) < _SHARED_MIN:
        return check(items)
    seen = known.get(id(items))
    if seen is None or seen[0] is not items:  # (the list is held, so its id is not reused)
        seen = known[id(items)] = (items, {})
    result = seen[1].get(check.__name__)
    if result is None:
        result = seen[1][check.__name__] = check(items)
    return result


def _is_sorted(items: Sequence[Any]) -> bool:
    try:
        return all(map(operator.le, items, islice(items, 1, None)))
    except TypeError:
        return False


def _strictly_ascending(items: Sequence[Any]) -> bool:
    try:
        return all(map(operator.lt, items, islice(items, 1, None)))
    except TypeError:  # values that do not compare
        return False


def _all_strings(items: Sequence[Any]) -> bool:
    return operator.countOf(map(type, items), str) == len(items)


def is_sorted(items: Sequence[Any]) -> bool:
    """True when ``items`` (all strings) are in ascending order; False on mixed types."""
    return _shared(_is_sorted, items)


def strictly_ascending(items: Sequence[Any]) -> bool:
    """True when ``items`` are in strictly ascending order (so each is there once)."""
    return _shared(_strictly_ascending, items)


def all_strings(items: Sequence[Any]) -> bool:
    """Every item is a ``str`` (not a subclass): ``set(map(type, items)) <= {str}``, faster."""
    return _shared(_all_strings, items)


class DateList:
    """One date list of a document, taken apart in a few passes (no per-date parse).

    A list of strings in strictly ascending order (the usual date list) holds each once: its
    set of values is only built if a rule needs it; counts, common values and membership
    come from the order (slices and binary search).
    """

    __slots__ = (
        "_common",
        "_valid",
        "_values",
        "invalid",
        "items",
        "ordered",
        "strings",
        "unique",
    )

    items: list[Any]  # the list as found ([] when the field is absent or not a list)
    strings: list[str]  # its string entries (``items`` itself when all are strings)
    invalid: set[str]  # distinct strings that are not real dates
    ordered: bool  # all entries are strings, in ascending order
    unique: bool  # all entries are strings, in strictly ascending order (each once)

    def __init__(
        self,
        items: list[Any],
        strings: list[str],
        invalid: set[str],
        order: tuple[bool, bool] | None = None,
    ) -> None:
        self.items, self.strings, self.invalid = items, strings, invalid
        self._values: set[str] | None = None
        self._valid: set[str] | None = None
        self._common: tuple[DateList, set[str]] | None = None  # the last ``common`` result
        if len(strings) < len(items):
            self.ordered = self.unique = False
        elif order is not None:  # (known: the same strings in the same order were checked)
            self.unique, self.ordered = order
        else:
            self.unique = strictly_ascending(strings)
            self.ordered = self.unique or is_sorted(strings)

    @property
    def values(self) -> set[str]:
        """Distinct strings."""
        if self._values is None:
            self._values = set(self.strings)
        return self._values

    @property
    def valid(self) -> set[str]:
        """Distinct real dates (worked out once: the span and its gaps ask for it)."""
        if self._valid is None:
            self._valid = self.values - self.invalid if self.invalid else self.values
        return self._valid

    @property
    def count(self) -> int:
        """How many distinct strings."""
        return len(self.strings) if self.unique else len(self.values)

    @property
    def distinct(self) -> bool:
        """No string appears twice."""
        return self.unique or len(self.values) == len(self.strings)

    @property
    def clean(self) -> bool:
        """Sorted real dates without duplicates: the list can be binary-searched."""
        return self.unique and not self.invalid

    def __contains__(self, value: str) -> bool:
        if self.unique:
            index = bisect_left(self.strings, value)
            return index < len(self.strings) and self.strings[index] == value
        return value in self.values

    def common(self, other: DateList) -> set[str]:
        """The strings of both lists (``self.values & other.values``); do not change it.

        Kept, so a summary and the rules asking for the same pair share it; on ``self`` only,
        so that two lists never refer to each other (a cycle would keep big sets alive until
        the garbage collector runs).
        """
        for memo, partner in ((self._common, other), (other._common, self)):
            if memo is not None and memo[0] is partner:
                return memo[1]
        if self.unique and other.unique:
            found = _common_sorted(self.strings, other.strings)
        else:
            found = self.values & other.values
        self._common = (other, found)
        return found


def _common_sorted(a: list[str], b: list[str]) -> set[str]:
    """The strings of two strictly ascending lists of strings that are in both."""
    if not a or not b:
        return set()
    low, high = max(a[0], b[0]), min(a[-1], b[-1])
    if low > high:  # the ranges do not overlap
        return set()
    a = a[bisect_left(a, low) : bisect_right(a, high)]
    b = b[bisect_left(b, low) : bisect_right(b, high)]
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    if len(small) * 32 >= len(large):
        return set(small).intersection(large)
    found = set()
    for value in small:
        index = bisect_left(large, value)
        if index < len(large) and large[index] == value:
            found.add(value)
    return found


def scan_dates(value: Any) -> DateList:
    """Take a date list apart; a value that is not a list counts as an empty list.

    A list of real dates checked lately (the same text: an unchanged list of the next
    version of a document) is not checked again, nor is its order.
    """
    items: list[Any] = value if isinstance(value, list) else []
    joined = _lines(items) if all_strings(items) else None
    if joined is not None:
        with _ALL_VALID_GUARD:
            order = _ALL_VALID.get(joined, _UNSEEN)
        if order is not _UNSEEN and order is not None:
            return DateList(items, items, set(), order)
        scan = DateList(items, items, set() if order is None else _invalid_lines(items, joined))
        if not scan.invalid:
            _remember_valid(joined, (scan.unique, scan.ordered))
        return scan
    strings = items if all_strings(items) else [item for item in items if type(item) is str]
    return DateList(items, strings, invalid_dates(strings))


_UNSEEN: Final[Any] = object()


class DateScans:
    """The date lists of one document, each taken apart once however often it is asked for.

    Lets ``summary.examine`` summarise and validate a document with one pass per list.
    The document must not change while a DateScans is in use.
    """

    __slots__ = ("_data", "_ranges", "_scans")

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data
        self._scans: dict[str, DateList] = {}
        self._ranges: dict[tuple[str, ...], DateRange] = {}

    def __call__(self, key: str) -> DateList:
        scan = self._scans.get(key)
        if scan is None:
            scan = self._scans[key] = scan_dates(self._data.get(key))
        return scan

    def span(self, *keys: str) -> DateRange:
        """``date_range`` of the lists at ``keys``, worked out once."""
        covered = self._ranges.get(keys)
        if covered is None:
            covered = self._ranges[keys] = date_range([self(key) for key in keys])
        return covered


@dataclass(frozen=True, slots=True)
class DateRange:
    """The span of a kind's date lists and the days inside it that none of them holds."""

    first: str | None = None
    last: str | None = None
    gaps: int = 0

    def gap_dates(self, lists: Sequence[DateList], limit: int) -> list[str]:
        """The first ``limit`` dates of the span that none of ``lists`` holds, in order."""
        first, last = date_ordinal(self.first), date_ordinal(self.last)
        if not self.gaps or first is None or last is None:
            return []
        wanted = min(limit, self.gaps)
        if all(dates.clean for dates in lists) and all(
            not a.common(b) for i, a in enumerate(lists) for b in lists[i + 1 :]
        ):
            sorted_lists = [dates.items for dates in lists]
            return [_nth_gap(sorted_lists, first, last, n) for n in range(1, wanted + 1)]
        present = [dates.valid for dates in lists]
        found: list[str] = []
        # A year at a time, so the set difference runs in C rather than a loop per date.
        for chunk in _date_chunks(first, last):
            missing = set(chunk).difference(*present)
            if missing:
                found.extend(sorted(missing)[: wanted - len(found)])
                if len(found) >= wanted:
                    break
        return found

    def is_gap(self, value: str, lists: Sequence[DateList]) -> bool:
        """True when ``value`` is strictly inside the span and in none of ``lists``."""
        if self.first is None or self.last is None:
            return False
        return self.first < value < self.last and not any(value in d for d in lists)


def _nth_gap(lists: Sequence[Sequence[str]], first: int, last: int, n: int) -> str:
    """The ``n``-th date from ``first`` to ``last`` missing from the sorted ``lists``."""

    def missing_up_to(ordinal: int) -> int:
        value = date.fromordinal(ordinal).isoformat()
        return (ordinal - first + 1) - sum(bisect_right(lst, value) for lst in lists)

    low, high = first, last
    while low < high:
        middle = (low + high) // 2
        if missing_up_to(middle) >= n:
            high = middle
        else:
            low = middle + 1
    return date.fromordinal(low).isoformat()


def date_range(lists: Sequence[DateList]) -> DateRange:
    """The span of the real dates in ``lists`` and how many days inside it none holds."""
    if all(dates.clean for dates in lists):
        # Sorted lists: their ends give the span without a pass over the dates.
        ends = [dates.items[i] for dates in lists if dates.items for i in (0, -1)]
        if not ends:
            return DateRange()
        low, high = min(ends), max(ends)
        filled = [dates for dates in lists if dates.items]
        if len(filled) == 1:
            count = filled[0].count
        elif len(filled) == 2:
            count = filled[0].count + filled[1].count - len(filled[0].common(filled[1]))
        else:
            count = len(set().union(*(dates.values for dates in filled)))
        first, last = date_ordinal(low), date_ordinal(high)
        assert first is not None and last is not None
        return DateRange(low, high, (last - first + 1) - count)
    sets = [dates.valid for dates in lists if dates.valid]
    if not sets:
        return DateRange()
    low, high = min(min(dates) for dates in sets), max(max(dates) for dates in sets)
    if len(sets) == 1:
        count = len(sets[0])
    elif len(sets) == 2:
        count = len(sets[0]) + len(sets[1]) - len(sets[0] & sets[1])
    else:
        count = len(set().union(*sets))
    first, last = date_ordinal(low), date_ordinal(high)
    assert first is not None and last is not None
    return DateRange(low, high, (last - first + 1) - count)


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from an ISO 8601 string (naive means UTC), None when invalid."""
    if type(value) is not str or not _TIME_RE.fullmatch(value):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return None


#: Fields that hold a time as epoch milliseconds when they hold a whole number: the unified
#: kind's ``startTime`` and ``lastUpdateTime``, and an ``endTime`` beside them.
EPOCH_MS_FIELDS: Final = frozenset({"startTime", "lastUpdateTime", "endTime"})


def epoch_ms_time(value: Any) -> datetime | None:
    """An aware UTC datetime from epoch milliseconds, None when not a usable integer."""
    if type(value) is not int or not 0 <= value <= _MAX_EPOCH_MS:
        return None
    return _EPOCH + timedelta(milliseconds=value)


def time_at(pointer: str, value: Any) -> datetime | None:
    """The time ``value`` stands for when the field at ``pointer`` keeps one as epoch
    milliseconds (a top-level :data:`EPOCH_MS_FIELDS` field, as the unified kind's checks
    take them), else None."""
    if pointer.count("/") != 1 or pointer[1:] not in EPOCH_MS_FIELDS:
        return None
    return epoch_ms_time(value)


def is_number(value: Any) -> TypeGuard[int | float]:
    """True for a JSON number (not a boolean)."""
    return type(value) is int or type(value) is float


# --- findings ----------------------------------------------------------------------------


def _show(value: Any) -> str:
    """A short plain rendering of a JSON value for a message."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return repr(text)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


# Words whose first sound is not the one their first letter suggests: "a unified-…",
# "a UTF-8 …", "an hour".
_CONSONANT_SOUND: Final = ("eu", "one", "uni", "url", "usa", "use", "usu", "utf", "uti")
_VOWEL_SOUND: Final = ("heir", "honest", "honor", "honour", "hour")


def with_article(word: str) -> str:
    """``a list``, ``an object``, ``an unknown``, ``a unified-reconciliation``: the word with
    its indefinite article, chosen by how the word sounds."""
    lower = word.lower()
    if lower.startswith(_VOWEL_SOUND):
        vowel = True
    elif lower.startswith(_CONSONANT_SOUND):
        vowel = False
    else:
        vowel = lower[:1] in ("a", "e", "i", "o", "u")
    return f"{'an' if vowel else 'a'} {word}"


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 date``, ``1,003 dates`` (``many``: the plural when it is not word + s)."""
    return f"{count:,} {word}" if count == 1 else f"{count:,} {many or word + 's'}"


class _Report:
    """Collects findings and orders them: errors first, then document order."""

    def __init__(self, data: Mapping[str, Any], scans: DateScans) -> None:
        self.scans = scans
        self._order = {key: index for index, key in enumerate(data)}
        self._items: list[tuple[int, int, int, Finding]] = []

    def add(self, severity: str, pointer: str, message: str) -> None:
        if pointer:
            token = pointer[1:].split("/", 1)[0].replace("~1", "/").replace("~0", "~")
            position = self._order.get(token, len(self._order))
        else:
            position = -1
        rank = 0 if severity == ERROR else 1
        self._items.append((rank, position, len(self._items), Finding(severity, pointer, message)))

    def has(self, key: str) -> bool:
        """True when the document has the top-level ``key``."""
        return key in self._order

    def error(self, pointer: str, message: str) -> None:
        self.add(ERROR, pointer, message)

    def warning(self, pointer: str, message: str) -> None:
        self.add(WARNING, pointer, message)

    def many(
        self,
        severity: str,
        key: str,
        hits: Sequence[tuple[int, str]],
        total: int,
        rest: str,
    ) -> None:
        """Findings for list entries ``hits`` (index, message); the rest grouped as one."""
        for index, message in hits[:MAX_LISTED]:
            self.add(severity, json_pointer(key, index), message)
        if total > MAX_LISTED:
            self.add(severity, json_pointer(key), f"{total - MAX_LISTED:,} more {rest} in {key}")

    def findings(self) -> list[Finding]:
        return [item[3] for item in sorted(self._items)]


def _report_entries(
    report: _Report,
    key: str,
    items: Sequence[Any],
    indices: Sequence[int],
    message: Callable[[Any], str],
    rest: str,
) -> None:
    """Errors for the entries of ``items`` at ``indices``; only the listed ones are worded."""
    hits = [(index, message(items[index])) for index in indices[:MAX_LISTED]]
    report.many(ERROR, key, hits, len(indices), rest)


def _report_duplicates(
    report: _Report, key: str, entries: Iterable[tuple[int, Any, Any]], rest: str
) -> set[Any]:
    """Errors for repeated entries, given as (index, comparison key, item); the keys seen."""
    seen: set[Any] = set()
    hits: list[tuple[int, str]] = []
    count = 0
    for index, item_key, item in entries:
        if item_key in seen:
            count += 1
            if len(hits) < MAX_LISTED:
                hits.append((index, f"{_show(item)} appears more than once in {key}"))
        else:
            seen.add(item_key)
    if count:
        report.many(ERROR, key, hits, count, rest)
    return seen


def _check_date_list(
    report: _Report, data: Mapping[str, Any], key: str, *, required: bool
) -> DateList:
    if key not in data:
        if required:
            report.error("", f"{key} is missing")
        return scan_dates(None)
    items = data[key]
    if not isinstance(items, list):
        report.error(json_pointer(key), f"{key} must be a list of dates, not {_type_name(items)}")
        return scan_dates(None)
    dates = report.scans(key)
    if len(dates.strings) < len(items):
        _report_entries(
            report,
            key,
            items,
            [index for index, item in enumerate(items) if type(item) is not str],
            lambda item: f"{key} must hold date strings, not {_show(item)}",
            "entries that are not strings",
        )
    if not dates.distinct:
        _report_duplicates(
            report,
            key,
            ((index, item, item) for index, item in enumerate(items) if type(item) is str),
            "duplicate dates",
        )
    if dates.invalid:
        invalid = dates.invalid
        _report_entries(
            report,
            key,
            items,
            [i for i, item in enumerate(items) if type(item) is str and item in invalid],
            lambda item: f"{_show(item)} is not a real date (expected YYYY-MM-DD)",
            "entries that are not real dates",
        )
    if not dates.ordered and len(dates.strings) == len(items):
        _warn_unsorted(report, key, items)
    return dates


def _warn_unsorted(report: _Report, key: str, items: list[str]) -> None:
    for index in range(1, len(items)):
        if items[index] < items[index - 1]:
            report.warning(
                json_pointer(key, index),
                f"{key} is not sorted: {_show(items[index])} comes after {_show(items[index - 1])}",
            )
            return


def _check_gaps(
    report: _Report,
    keys: tuple[str, str],
    where: str,
    last_processed: str | None = None,
) -> DateRange:
    """Warnings for the days inside the span of the lists at ``keys`` that none holds."""
    covered = report.scans.span(*keys)
    lists = [report.scans(key) for key in keys]
    pointer_key = keys[0]
    if not covered.gaps:
        return covered
    gaps = covered.gap_dates(lists, MAX_GAPS_LISTED)
    pointer = json_pointer(pointer_key) if report.has(pointer_key) else ""
    if covered.gaps <= MAX_GAPS_LISTED:
        for gap in gaps:
            own = " (it is the lastProcessedDate)" if gap == last_processed else ""
            report.warning(pointer, f"{gap} is inside the range but {where}{own}")
        return covered
    note = ""
    if last_processed is not None and covered.is_gap(last_processed, lists):
        note = f" (lastProcessedDate {last_processed} is one of them)"
    report.warning(
        pointer,
        f"{covered.gaps:,} dates inside the range {covered.first} … {covered.last} are "
        f"{where}: {', '.join(gaps)} …{note}",
    )
    return covered


def _check_date_field(report: _Report, data: Mapping[str, Any], key: str) -> str | None:
    """A single date field (string or null); its value when it is a real date."""
    if key not in data or data[key] is None:
        return None
    value = data[key]
    if type(value) is not str:
        report.error(
            json_pointer(key), f"{key} must be a date string or null, not {_type_name(value)}"
        )
        return None
    if not is_date(value):
        report.error(json_pointer(key), f"{_show(value)} is not a real date (expected YYYY-MM-DD)")
        return None
    return value


def _check_iso_time(report: _Report, data: Mapping[str, Any], key: str) -> datetime | None:
    if key not in data or data[key] is None:
        return None
    value = data[key]
    if type(value) is not str:
        report.error(
            json_pointer(key),
            f"{key} must be an ISO 8601 time string or null, not {_type_name(value)}",
        )
        return None
    parsed = parse_time(value)
    if parsed is None:
        report.error(
            json_pointer(key),
            f"{_show(value)} is not an ISO 8601 time such as 2025-03-06T10:15:23.456Z",
        )
    return parsed


def _check_epoch_ms(report: _Report, data: Mapping[str, Any], key: str) -> int | None:
    if key not in data or data[key] is None:
        return None
    value = data[key]
    if type(value) is not int:
        report.error(
            json_pointer(key), f"{key} must be epoch milliseconds (an integer), not {_show(value)}"
        )
        return None
    if epoch_ms_time(value) is None:
        report.error(json_pointer(key), f"{key} {value} is not a usable time in epoch milliseconds")
        return None
    return value


def _check_status(report: _Report, data: Mapping[str, Any], *, required: bool) -> str | None:
    if "status" not in data:
        if required:
            report.error("", "status is missing")
        return None
    value = data["status"]
    if type(value) is not str:
        report.error(json_pointer("status"), f"status must be a string, not {_type_name(value)}")
        return None
    if value not in STATUSES:
        # A job may have statuses of its own ("cancelled"); only the state shown suffers.
        report.warning(
            json_pointer("status"),
            f"status {_show(value)} is not one of {', '.join(STATUSES)}, so the state shown "
            "is worked out from the rest of the document",
        )
        return None
    return value


def _validate_unified(report: _Report, data: Mapping[str, Any]) -> None:
    last = _check_date_field(report, data, "lastProcessedDate")
    pending = _check_date_list(report, data, "pendingDates", required=True)
    completed = _check_date_list(report, data, "completedDates", required=True)
    both = pending.common(completed)
    if both:
        _report_entries(
            report,
            "pendingDates",
            pending.items,
            [i for i, item in enumerate(pending.items) if type(item) is str and item in both],
            lambda item: f"{_show(item)} is both pending and completed",
            "dates that are also completed",
        )
    start = _check_epoch_ms(report, data, "startTime")
    updated = _check_epoch_ms(report, data, "lastUpdateTime")
    if start is not None and updated is not None and start > updated:
        report.warning(
            json_pointer("startTime"),
            f"startTime ({epoch_ms_time(start):%Y-%m-%d %H:%M:%S} UTC) is after lastUpdateTime "
            f"({epoch_ms_time(updated):%Y-%m-%d %H:%M:%S} UTC)",
        )
    if "stats" in data:
        _check_stats(report, data["stats"])
    covered = _check_gaps(
        report,
        ("pendingDates", "completedDates"),
        "in neither pendingDates nor completedDates",
        last,
    )
    if (
        last is not None
        and last not in pending
        and last not in completed
        and not covered.is_gap(last, (pending, completed))
    ):  # a gap inside the range already names it
        report.warning(
            json_pointer("lastProcessedDate"),
            f"lastProcessedDate {last} is neither in completedDates nor in pendingDates",
        )


def _check_stats(report: _Report, stats: Any) -> None:
    if not isinstance(stats, Mapping):
        report.error(
            json_pointer("stats"), f"stats must be an object of counts, not {_type_name(stats)}"
        )
        return
    counts: dict[str, int] = {}
    for key, value in stats.items():
        pointer = json_pointer("stats", key)
        if type(value) is not int:
            report.error(pointer, f"{key} must be a whole number, not {_show(value)}")
        elif value < 0:
            report.error(pointer, f"{key} cannot be negative ({value})")
        else:
            counts[key] = value
    total, processed = counts.get("totalRecords"), counts.get("processedRecords")
    if total is not None and processed is not None and processed > total:
        report.error(
            json_pointer("stats", "processedRecords"),
            f"processedRecords ({processed:,}) is more than totalRecords ({total:,})",
        )
    ok, failed = counts.get("successfulRecords"), counts.get("failedRecords")
    if processed is not None and ok is not None and failed is not None and processed != ok + failed:
        report.warning(
            json_pointer("stats", "processedRecords"),
            f"processedRecords ({processed:,}) is not successfulRecords + failedRecords "
            f"({ok:,} + {failed:,} = {ok + failed:,})",
        )
    missing = [key for key in STATS_COUNTERS if key not in stats]
    if missing:
        # (A job reading stats.totalRecords would fail on such a document.)
        report.warning(
            json_pointer("stats"),
            f"stats has no {', '.join(missing)}: the job's record counts are missing",
        )


#: The counters a unified job keeps in ``stats``.
STATS_COUNTERS: Final = (
    "totalRecords",
    "processedRecords",
    "successfulRecords",
    "failedRecords",
    "timeouts",
)


def _validate_daily(report: _Report, data: Mapping[str, Any]) -> None:
    last_run = _check_iso_time(report, data, "lastRun")
    dates = _check_date_list(report, data, "dates", required=True)
    processed = _check_date_list(report, data, "processedDates", required=True)
    both = dates.common(processed)
    if processed.count > len(both) and "dates" in data and isinstance(data["dates"], list):
        extra = processed.values - dates.values
        _report_entries(
            report,
            "processedDates",
            processed.items,
            [i for i, item in enumerate(processed.items) if type(item) is str and item in extra],
            lambda item: f"{_show(item)} is in processedDates but not in dates",
            "dates that are not in dates",
        )
    last = _check_date_field(report, data, "lastProcessedDate")
    status = _check_status(report, data, required=False)
    start = _check_iso_time(report, data, "startTime")
    end = _check_iso_time(report, data, "endTime")
    if status == "running" and data.get("endTime") is not None:
        report.error(
            json_pointer("endTime"),
            f"endTime is set ({_show(data['endTime'])}) while status is 'running'",
        )
    if start is not None and end is not None and start > end:
        report.warning(
            json_pointer("startTime"),
            f"startTime {data['startTime']} is after endTime {data['endTime']}",
        )
    if start is not None and last_run is not None and start > last_run and end is None:
        report.warning(
            json_pointer("startTime"),
            f"startTime {data['startTime']} is after lastRun {data['lastRun']}",
        )
    if status == "completed":
        left = dates.count - len(both)
        if left:
            report.warning(
                json_pointer("status"),
                f"status is 'completed' but {plural(left, 'date')} of dates "
                f"{'is' if left == 1 else 'are'} not in processedDates",
            )
    _check_gaps(report, ("dates", "processedDates"), "not in dates")
    if last is not None and last not in processed:
        report.warning(
            json_pointer("lastProcessedDate"), f"lastProcessedDate {last} is not in processedDates"
        )


def item_key(item: Any) -> Any:
    """An item as JSON tells it from others: JSON's 1, 1.0 and true are different items,
    which Python finds equal (a set of them keeps one)."""
    return item if type(item) is str else (type(item).__name__, item)


def _check_items(report: _Report, data: Mapping[str, Any], key: str) -> set[Any]:
    """Duplicates in an item list; the item keys (see item_key) of its scalar items."""
    if key not in data:
        return set()
    items = data[key]
    if not isinstance(items, list):
        report.error(json_pointer(key), f"{key} must be a list, not {_type_name(items)}")
        return set()
    if all_strings(items):
        seen: set[Any] = set(items)
        if len(seen) == len(items):
            return seen
    # Structured items cannot be compared cheaply; nothing to check for them.
    return _report_duplicates(
        report,
        key,
        (
            (index, item_key(item), item)
            for index, item in enumerate(items)
            if not isinstance(item, list | dict)
        ),
        "duplicate items",
    )


def _validate_managed(report: _Report, data: Mapping[str, Any]) -> None:
    if "id" not in data:
        report.error("", "id is missing")
    elif type(data["id"]) is not str:
        report.error(json_pointer("id"), f"id must be a string, not {_type_name(data['id'])}")
    created = _check_iso_time(report, data, "created")
    updated = _check_iso_time(report, data, "lastUpdated")
    if created is not None and updated is not None and created > updated:
        report.warning(
            json_pointer("created"),
            f"created {data['created']} is after lastUpdated {data['lastUpdated']}",
        )
    status = _check_status(report, data, required=True)
    progress = data.get("progress")
    if "progress" not in data:
        report.error("", "progress is missing")
    elif not is_number(progress):
        report.error(
            json_pointer("progress"),
            f"progress must be a number from 0 to 100, not {_show(progress)}",
        )
    elif not 0 <= progress <= 100:
        report.error(
            json_pointer("progress"), f"progress must be between 0 and 100, not {progress}"
        )
    elif status == "completed" and progress < 100:
        report.warning(
            json_pointer("progress"), f"status is 'completed' but progress is {progress}"
        )
    processed = _check_items(report, data, "processedItems")
    pending = _check_items(report, data, "pendingItems")
    both = processed & pending
    if both:
        items = data["pendingItems"]
        _report_entries(
            report,
            "pendingItems",
            items,
            [
                index
                for index, item in enumerate(items)
                if not isinstance(item, list | dict) and item_key(item) in both
            ],
            lambda item: f"{_show(item)} is both pending and processed",
            "items that are also processed",
        )
    left = data.get("pendingItems")
    if status == "completed" and isinstance(left, list) and left:
        # (the daily kind says the same of its dates; a job reset under it may end so)
        report.warning(
            json_pointer("status"),
            f"status is 'completed' but {plural(len(left), 'item')} "
            f"{'is' if len(left) == 1 else 'are'} still in pendingItems",
        )


_VALIDATORS: Final = {
    UNIFIED: _validate_unified,
    DAILY: _validate_daily,
    MANAGED: _validate_managed,
}


def validate(
    data: Any,
    *,
    kind: str | None = None,
    now: datetime | None = None,
    stale_after: float | None = None,
) -> list[Finding]:
    """The findings of a document: errors first, then warnings, each in document order.

    ``kind`` forces the rules of that kind (default: detected). The stale-running warning
    is only given when both ``now`` and ``stale_after`` (seconds) are given.
    """
    if now is not None and stale_after is not None:
        from checkpoints_admin.checkpoints.summary import examine

        return examine(data, kind=kind, now=now, stale_after=stale_after)[1]
    return integrity_findings(data, kind=kind)


def integrity_findings(
    data: Any, *, kind: str | None = None, scans: DateScans | None = None
) -> list[Finding]:
    """The time-independent findings of ``validate`` (``scans`` shares work with a summary)."""
    check_kind(kind)
    if not isinstance(data, Mapping):
        return [Finding(ERROR, "", f"a checkpoint must be a JSON object, not {_type_name(data)}")]
    report = _Report(data, scans or DateScans(data))
    validator = _VALIDATORS.get(kind or detect_kind(data))
    if validator is not None:
        validator(report, data)
    return report.findings()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return plural(seconds, "second")
    minutes = seconds // 60
    if minutes < 120:
        return plural(minutes, "minute")
    hours = minutes // 60
    if hours < 48:
        return plural(hours, "hour")
    return plural(hours // 24, "day")


def stale_finding(summary: Summary, *, now: datetime, stale_after: float) -> Finding | None:
    """The warning for a running checkpoint not updated for longer than ``stale_after`` s."""
    if summary.state(now=now, stale_after=stale_after) != "stalled" or summary.last_update is None:
        return None
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    idle = (now - summary.last_update).total_seconds()
    field = summary.last_update_field or LAST_UPDATE_FIELD.get(summary.kind, "")
    return Finding(
        WARNING,
        json_pointer(field) if field else "",
        f"running but not updated for {_duration(idle)} "
        f"(since {summary.last_update:%Y-%m-%d %H:%M:%S} UTC; threshold {_duration(stale_after)})",
    )


#: A last update further ahead of the clock than this is a clock that is wrong.
FUTURE_SLACK_SECONDS: Final = 300


def ahead_of_clock(summary: Summary | None, now: datetime) -> bool:
    """Whether the last update of ``summary`` is further ahead of ``now`` than the slack
    allows (the condition of :func:`future_finding`, without building the finding)."""
    if summary is None or summary.last_update is None:
        return False
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return (summary.last_update - now).total_seconds() > FUTURE_SLACK_SECONDS


def future_finding(summary: Summary, *, now: datetime) -> Finding | None:
    """The warning for a last update ahead of ``now`` (a wrong clock, a mistyped time): such a
    job could never show as stalled."""
    if summary.last_update is None or not ahead_of_clock(summary, now):
        return None
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    ahead = (summary.last_update - now).total_seconds()
    field = summary.last_update_field or LAST_UPDATE_FIELD.get(summary.kind, "")
    return Finding(
        WARNING,
        json_pointer(field) if field else "",
        f"the last update is {_duration(ahead)} in the future "
        f"({summary.last_update:%Y-%m-%d %H:%M:%S} UTC): a clock or the time is wrong, and "
        "the job cannot show as stalled",
    )


def clock_findings(summary: Summary, *, now: datetime, stale_after: float) -> list[Finding]:
    """The findings that depend on the clock: running but not updated for longer than
    ``stale_after`` seconds, or updated in the future."""
    found = (
        stale_finding(summary, now=now, stale_after=stale_after),
        future_finding(summary, now=now),
    )
    return [finding for finding in found if finding is not None]


def findings_as_of(
    findings: Iterable[Finding], summary: Summary, *, now: datetime, stale_after: float
) -> list[Finding]:
    """``findings`` (the time-independent ones) with those that depend on the clock as of
    ``now``: running but not updated for too long, or updated in the future."""
    return [*findings, *clock_findings(summary, now=now, stale_after=stale_after)]


def count_findings(findings: Iterable[Finding]) -> tuple[int, int]:
    """``(errors, warnings)``."""
    findings = list(findings)
    errors = sum(1 for finding in findings if finding.severity == ERROR)
    return errors, len(findings) - errors
