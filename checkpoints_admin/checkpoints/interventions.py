"""Manual interventions as pure functions: a document in, a new document out.

The input is never modified. The result is a new top-level dict that shares every value the
intervention did not touch with the input (only the changed lists and objects are copied), so
a million-date list costs one pass; treat both documents as read-only afterwards.

Every refusal is an ``InterventionError`` whose message names the offending value.

Decisions:

- Date arguments are ``"2025-03-01"`` or inclusive ranges ``"2025-03-01..2025-03-07"``; one
  argument may hold several, separated by commas or whitespace. Only real calendar dates are
  accepted; a reversed range or one longer than ``MAX_RANGE_DAYS`` days is refused.
- A single date must be in the source list (and not already in the target). A range applies
  to those of its dates that are in the source list and is refused only when none is; its
  dates already in the target are then ignored.
- On a unified reconciliation checkpoint a gap (a date inside the range of both lists but in
  neither, which validation warns about) counts as in the source list: skipping adds it to
  ``completedDates``, reprocessing to ``pendingDates``, alone or inside a range.
- Skipping changes nothing but the lists: ``lastProcessedDate``, times and stats stay as the
  job wrote them. One exception: a managed ``progress`` that the job keeps in step with its
  item lists (it equals ``round(100 * processed / all)`` before the change) follows the
  move, as the job would have written it; a progress measured otherwise is left alone.
- Reprocessing on a daily or managed checkpoint whose ``status`` is ``completed`` sets it back
  to ``running`` (and a daily ``endTime`` to ``null``), so the job resumes instead of treating
  the run as finished. ``failed`` and other statuses are left alone; managed ``progress`` too,
  but for the exception above.
- A list sorted ascending stays sorted (new values merged in); an unsorted list keeps its order
  and gets the new values appended in date/argument order.
- ``set_field`` replaces or adds one value by RFC 6901 pointer: the new value must have the JSON
  type of the old one (numbers are interchangeable; ``null`` may be replaced by anything, and
  only a known nullable field such as ``endTime`` may be set to ``null``). A new key may be
  added to an existing object; a missing parent, a list index out of range and the root are
  refused (use ``replace_document`` for the whole document). A value that would nest the
  document deeper than ``MAX_WRITTEN_DEPTH`` levels is refused, as the raw editor refuses it.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from itertools import filterfalse, islice
from typing import Any, Final

from checkpoints_admin.checkpoints.diff import escape_token
from checkpoints_admin.checkpoints.errors import InterventionError, UnknownField
from checkpoints_admin.checkpoints.kinds import (
    DAILY,
    MANAGED,
    UNIFIED,
    all_strings,
    detect_kind,
    is_date,
    is_sorted,
    item_key,
    plural,
    with_article,
)
from checkpoints_admin.checkpoints.store import MAX_WRITTEN_DEPTH, nests_beyond

__all__ = [
    "LIST_ACTIONS",
    "TAKEABLE_SCAN",
    "MAX_RANGE_DAYS",
    "MAX_SELECTION_DAYS",
    "NULLABLE_FIELDS",
    "done_already",
    "is_item",
    "named",
    "parse_dates",
    "reprocess_dates",
    "reprocess_items",
    "replace_document",
    "set_field",
    "skip_dates",
    "skip_items",
    "takeable",
    "unit_of",
]

#: Longest inclusive range accepted, in days (about 274 years).
MAX_RANGE_DAYS: Final = 100_000
#: At most this many days in all the dates and ranges of one change.
MAX_SELECTION_DAYS: Final = 400_000
#: Fields that may be set to ``null`` whatever they hold now.
NULLABLE_FIELDS: Final = frozenset({"endTime", "lastProcessedDate"})

_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_SPLIT_RE: Final = re.compile(r"[\s,]+")
_MAX_NAMED: Final = 10


#: Which intervention a list of each kind leads to: the list a value leaves.
LIST_ACTIONS: Final[dict[str, dict[str, str]]] = {
    UNIFIED: {"pendingDates": "skip", "completedDates": "reprocess"},
    DAILY: {"dates": "skip", "processedDates": "reprocess"},
    MANAGED: {"pendingItems": "skip", "processedItems": "reprocess"},
}


def unit_of(kind: str) -> str | None:
    """``dates`` or ``items``: what a skip or reprocess of this kind works on (None: nothing)."""
    if kind in (UNIFIED, DAILY):
        return "dates"
    if kind == MANAGED:
        return "items"
    return None


#: How far down a list :func:`takeable` looks for values a skip or reprocess can take.
TAKEABLE_SCAN: Final = 100_000


def takeable(data: Mapping[str, Any], kind: str, action: str, count: int = 3) -> list[Any]:
    """The first ``count`` distinct values a ``skip`` or ``reprocess`` of ``data`` can take
    now, in the order of the list they leave (a daily job's skip: its dates not processed
    yet); real dates for dates, non-blank strings for items. Looks at most TAKEABLE_SCAN
    values down the list."""
    source = next((key for key, act in LIST_ACTIONS.get(kind, {}).items() if act == action), "")
    values = data.get(source) if source else None
    if not isinstance(values, list):
        return []
    if unit_of(kind) != "dates":
        wanted = (v for v in islice(values, TAKEABLE_SCAN) if isinstance(v, str) and v.strip())
        return list(islice(dict.fromkeys(wanted), count))
    done = done_already(data, kind, source, islice(values, TAKEABLE_SCAN))
    found: list[str] = []
    for value in islice(values, TAKEABLE_SCAN):
        if is_date(value) and value not in done and value not in found:
            found.append(value)
            if len(found) == count:
                break
    return found


def done_already(data: Mapping[str, Any], kind: str, key: str, among: Iterable[Any]) -> set[Any]:
    """Those of ``among`` (values of the list ``key``) that the list's action
    (:data:`LIST_ACTIONS`) cannot take, being done already: a daily checkpoint's ``dates``
    holds its processed dates too. None on any other list: each of its values is the action's
    to take."""
    processed = data.get("processedDates")
    if kind != DAILY or key != "dates" or not isinstance(processed, list):
        return set()
    wanted = {value for value in among if not isinstance(value, dict | list)}
    return wanted.intersection(value for value in processed if not isinstance(value, dict | list))


# --------------------------------------------------------------------------- dates


def _parse_date(text: str, *, within: str | None = None) -> date:
    if is_date(text):  # the calendar check the validator uses
        return date.fromisoformat(text)
    where = f" in {within!r}" if within is not None and within != text else ""
    if not _DATE_RE.match(text):
        raise InterventionError(f"{text!r}{where} is not a date (expected YYYY-MM-DD)")
    raise InterventionError(f"{text!r}{where} is not a real date")


def _tokens(values: Iterable[str]) -> list[str]:
    if isinstance(values, str):
        values = [values]
    tokens: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise InterventionError(f"{value!r} is not a date (expected a string YYYY-MM-DD)")
        tokens.extend(t for t in _SPLIT_RE.split(value) if t)
    return tokens


def _span(token: str) -> tuple[date, int]:
    """The first date one argument names and how many days it spans (checked, not
    expanded)."""
    if ".." not in token:
        return _parse_date(token), 1
    first_text, _, last_text = token.partition("..")
    first = _parse_date(first_text, within=token)
    last = _parse_date(last_text, within=token)
    if last < first:
        raise InterventionError(f"range {token!r} is reversed (its end is before its start)")
    days = (last - first).days + 1
    if days > MAX_RANGE_DAYS:
        raise InterventionError(
            f"range {token!r} spans {days:,} days; at most {MAX_RANGE_DAYS:,} are accepted"
        )
    return first, days


def _date_groups(values: Iterable[str]) -> list[tuple[str, list[str], bool]]:
    """(argument, its dates, is a range) for every argument; refuses an empty request, and
    one naming more than MAX_SELECTION_DAYS days in all before building any of them (many
    long ranges would otherwise cost memory without bound)."""
    spans = [(token, *_span(token)) for token in _tokens(values)]
    if not spans:
        raise InterventionError("no dates given")
    total = sum(days for _, _, days in spans)
    if total > MAX_SELECTION_DAYS:
        raise InterventionError(
            f"the dates and ranges given span {total:,} days in all; at most "
            f"{MAX_SELECTION_DAYS:,} are accepted in one change"
        )
    return [
        (token, [(first + timedelta(days=n)).isoformat() for n in range(days)], ".." in token)
        for token, first, days in spans
    ]


def parse_dates(values: Iterable[str]) -> list[str]:
    """The dates named by single dates and inclusive ``A..B`` ranges: sorted, without repeats."""
    found: set[str] = set()
    for _, dates, _ in _date_groups(values):
        found.update(dates)
    return sorted(found)


def date_runs(dates: Iterable[str]) -> list[str]:
    """Real dates as single dates and ``A..B`` runs of consecutive days, sorted: the shortest
    arguments :func:`parse_dates` reads back as the same dates."""
    days = sorted({date.fromisoformat(value) for value in dates})
    runs: list[str] = []
    for day in days:
        if runs and date.fromisoformat(runs[-1][-10:]) + timedelta(days=1) == day:
            runs[-1] = f"{runs[-1][:10]}..{day.isoformat()}"
        else:
            runs.append(day.isoformat())
    return runs


# --------------------------------------------------------------------------- lists


def named(values: Sequence[Any]) -> str:
    """Values as a message names them: the first ten, then how many more. Text as it is,
    ``true``, ``false`` and ``null`` as JSON writes them, numbers as Python does."""
    shown = ", ".join(map(_named_value, values[:_MAX_NAMED]))
    if len(values) > _MAX_NAMED:
        shown += f" and {len(values) - _MAX_NAMED} more"
    return shown


def _named_value(value: Any) -> str:
    value = value.value if isinstance(value, _Exact) else value
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool):
        return "null" if value is None else str(value).lower()
    return str(value)


def _list_field(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        shown = "missing" if key not in data else f"{with_article(_json_type(value))}, not a list"
        raise InterventionError(f"{key} is {shown}; cannot change it")
    return value


def _merge(target: list[Any], values: list[Any], *, dates: bool = True) -> list[Any]:
    """A new list: ``target`` plus ``values``, kept sorted when ``target`` is sorted. For
    items, only when it has two or more: the order of a job's items is its own, which a list
    of one or none does not tell (a date list is in date order)."""
    if values and (dates or len(target) > 1) and is_sorted(target):
        try:
            # Timsort merges the two sorted runs in one pass.
            return sorted(target + sorted(values))
        except TypeError:
            pass
    return target + values


def _in_order_of(source: list[Any], values: list[Any]) -> list[Any]:
    """``values`` (found in ``source``) in the order ``source`` has them: items move in the
    job's order, whatever order they were asked for in. One pass over ``source``."""
    wanted = set(values)  # (items of one type: _transfer_exact orders the others)
    found = [value for value in source if value in wanted]
    ordered = list(dict.fromkeys(found))
    placed = set(ordered)
    return ordered + [value for value in values if value not in placed]


_CONTAINERS: Final = (dict, list)


def _present(wanted: set[Any], values: list[Any]) -> set[Any]:
    """Those of ``wanted`` found in ``values``: one pass, no set of a million values built."""
    try:
        return wanted.intersection(values)
    except TypeError:  # an object or a list inside (a corrupt document) matches nothing
        return wanted.intersection(v for v in values if not isinstance(v, dict | list))


_Group = tuple[str, list[Any], bool]  # (argument as given, its values, is a range)


def _wanted(groups: list[_Group]) -> set[Any]:
    return {value for _, values, _ in groups for value in values}


def _date_ends(values: list[Any]) -> tuple[str, str] | None:
    """The smallest and largest real dates of ``values`` (None when there is none): the ends
    of the span validation sees (``kinds.date_range``), which skips impossible dates.

    A sorted list of strings has them as its first and last real dates: found from its
    ends, without a check per entry of a million-date list.
    """
    if all_strings(values) and is_sorted(values):
        first = next(filter(is_date, values), None)
        if first is None:
            return None
        return first, next(filter(is_date, reversed(values)))
    dates = [v for v in values if is_date(v)]
    return (min(dates), max(dates)) if dates else None


def _gaps(wanted: set[Any], *lists: list[Any]) -> set[Any]:
    """Those of ``wanted`` inside the range of the dates of ``lists`` (each in none of them)."""
    ends = [end for values in lists if (pair := _date_ends(values)) for end in pair]
    if not ends:
        return set()
    first, last = min(ends), max(ends)
    return {value for value in wanted if first <= value <= last}


def _select(
    groups: list[_Group],
    in_source: set[Any],
    in_target: set[Any],
    source_name: str,
    target_name: str,
    noun: str,
) -> list[Any]:
    """The values to move, in argument order; refuses with every offending value named.

    ``in_source``/``in_target``: the requested values found in the source/target list (gaps
    that may be filled count as in the source).
    """
    chosen: list[Any] = []
    seen: set[Any] = set()
    already: list[Any] = []
    missing: list[Any] = []
    empty_ranges: list[str] = []
    for token, values, is_range in groups:
        present = [v for v in values if v in in_source]
        if is_range:
            if not present:
                empty_ranges.append(token)
        else:
            for value in values:
                if value in in_source:
                    continue
                (already if value in in_target else missing).append(value)
        for value in present:
            if value not in seen:
                seen.add(value)
                chosen.append(value)
    problems = []
    # An item is named after its noun: a message may start with it, and a sentence's capital
    # letter would change an item's name (a date's does not).
    if missing:
        problems.append(
            f"{_noun(noun, missing)}{named(missing)} {_verb(missing)} not in {source_name}"
        )
    if already:
        problems.append(
            f"{_noun(noun, already)}{named(already)} {_verb(already)} already in {target_name}"
        )
    if empty_ranges:
        problems.append(f"no {noun} of {named(empty_ranges)} is in {source_name}")
    if problems:
        raise InterventionError("; ".join(problems))
    return chosen


def _verb(values: Sequence[Any]) -> str:
    return "is" if len(values) == 1 else "are"


def _noun(noun: str, values: Sequence[Any]) -> str:
    if noun != "item":
        return ""
    return "item " if len(values) == 1 else "items "


def _transfer(
    data: Mapping[str, Any],
    groups: list[_Group],
    source_key: str,
    target_key: str,
    noun: str,
    *,
    fill_gaps: bool = False,
    exact: bool = False,
) -> dict[str, Any]:
    """Move the requested values from one list of the document to another; with
    ``fill_gaps``, requested dates in neither list but inside their range are added to the
    target; with ``exact``, items of mixed types matched by type and value
    (:func:`_exact_items`)."""
    source = _list_field(data, source_key)
    target = _list_field(data, target_key)
    if exact:
        # Items that are not all strings: 100 and 100.0, 1 and true are distinct items,
        # which Python's sets would take for one (and move, or drop, together).
        return _transfer_exact(data, groups, source, target, source_key, target_key, noun)
    wanted = _wanted(groups)
    in_source, in_target = _present(wanted, source), _present(wanted, target)
    movable = in_source
    if fill_gaps and (neither := wanted - in_source - in_target):
        movable = in_source | _gaps(neither, source, target)
    chosen = _select(groups, movable, in_target, source_key, target_key, noun)
    moving = in_source.intersection(chosen)
    result = dict(data)
    if moving:  # (only gaps filled: the source list stays as it is, shared)
        result[source_key] = list(filterfalse(moving.__contains__, source))
    # A value in both lists (a corrupt document) leaves the source and is not added twice.
    added = [v for v in chosen if v not in in_target]
    if noun != "date" and len(added) > 1:
        added = _in_order_of(source, added)
    result[target_key] = _merge(target, added, dates=noun == "date")
    return result


def _exact_items(data: Mapping[str, Any]) -> bool:
    """Whether the item lists mix types, so that items must be matched by type and value
    (decided once per intervention: a pass over each list)."""
    return not _one_type(data["pendingItems"], data["processedItems"])


def _one_type(*lists: list[Any]) -> bool:
    """Whether the lists' values are all strings, all integers or all floats: Python's
    equality then tells items apart as JSON does, and sets can match them (at C speed)."""
    if all(all_strings(values) for values in lists):
        return True
    types: set[type] = set()
    for values in lists:
        types.update(map(type, values))
    return len(types) == 1 and types <= {int, float}


class _Exact:
    """An item compared as JSON tells it from others: by type and value (``100`` is not
    ``100.0``, ``1`` is not ``true``), shown and ordered as the value itself."""

    __slots__ = ("key", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.key = item_key(value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Exact) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)  # (an object or a list item: unhashable, as it is raw)

    def __str__(self) -> str:
        return str(self.value)

    def __repr__(self) -> str:
        return repr(self.value)


def _exact(value: Any) -> Any:
    """``value`` as an :class:`_Exact` (an object or a list, matching nothing, as it is)."""
    return value if isinstance(value, dict | list) else _Exact(value)


def _transfer_exact(
    data: Mapping[str, Any],
    groups: list[_Group],
    source: list[Any],
    target: list[Any],
    source_key: str,
    target_key: str,
    noun: str,
) -> dict[str, Any]:
    """:func:`_transfer` of items of mixed types, each matched by type and value. Only the
    items Python finds equal to one asked for are compared exactly: a list of a million
    costs a pass of set lookups, not a million wrappers."""
    exact_groups = [(token, [_exact(v) for v in values], rng) for token, values, rng in groups]
    wanted = _wanted(exact_groups)
    plain = {w.value for w in wanted if isinstance(w, _Exact)}
    in_source = _exact_hits(source, plain) & wanted
    in_target = _exact_hits(target, plain) & wanted
    chosen = _select(exact_groups, in_source, in_target, source_key, target_key, noun)
    moving = in_source.intersection(chosen)
    result = dict(data)
    if moving:
        gone = {m.value for m in moving}
        result[source_key] = [
            item
            for item in source
            if type(item) in _CONTAINERS or item not in gone or _Exact(item) not in moving
        ]
    added: list[Any] = [v for v in chosen if v not in in_target]
    if len(added) > 1:
        position: dict[_Exact, int] = {}
        wanted_added, plain_added = set(added), {v.value for v in added}
        for index, item in enumerate(source):
            if type(item) not in _CONTAINERS and item in plain_added:
                key = _Exact(item)
                if key in wanted_added:
                    position.setdefault(key, index)
        added.sort(key=lambda v: position.get(v, len(source)))
    result[target_key] = _merge(target, [v.value for v in added], dates=False)
    return result


def _exact_hits(values: list[Any], plain: set[Any]) -> set[_Exact]:
    """The items of ``values`` Python finds equal to one of ``plain``, compared exactly."""
    return {_Exact(v) for v in values if type(v) not in _CONTAINERS and v in plain}


def _require_mapping(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InterventionError(
            f"the checkpoint is {with_article(_json_type(data))}, not a JSON object"
        )
    return data


def _date_kind(data: Mapping[str, Any], action: str) -> str:
    kind = detect_kind(data)
    if kind not in (UNIFIED, DAILY):
        raise InterventionError(
            f"cannot {action} dates of {with_article(kind)} checkpoint: only reconciliation "
            "checkpoints "
            "(pendingDates/completedDates or dates/processedDates) have dates"
        )
    return kind


def skip_dates(data: Mapping[str, Any], dates: Iterable[str]) -> dict[str, Any]:
    """Mark dates done without processing them.

    Unified: pendingDates (or a gap) → completedDates. Daily: add to processedDates (each must
    be in dates, or a gap: a date inside their range, which is added to dates too).
    """
    data = _require_mapping(data)
    kind = _date_kind(data, "skip")
    groups = _date_groups(dates)
    if kind == UNIFIED:
        return _transfer(data, groups, "pendingDates", "completedDates", "date", fill_gaps=True)
    all_dates = _list_field(data, "dates")
    processed = _list_field(data, "processedDates")
    wanted = _wanted(groups)
    in_processed = _present(wanted, processed)
    in_dates = _present(wanted, all_dates)
    gaps = _daily_gaps(wanted - in_dates - in_processed, all_dates)
    chosen = _select(
        groups, (in_dates - in_processed) | gaps, in_processed, "dates", "processedDates", "date"
    )
    result = _fill_daily_gaps(data, chosen, gaps)
    result["processedDates"] = _merge(processed, chosen)
    return result


def _daily_gaps(neither: set[Any], all_dates: list[Any]) -> set[Any]:
    """Those of ``neither`` (in neither list of a daily checkpoint) inside the range of its
    ``dates``: the gaps its findings warn about (a processed date outside ``dates``, which
    they flag as such, widens nothing)."""
    return _gaps(neither, all_dates) if neither else set()


def _fill_daily_gaps(data: Mapping[str, Any], chosen: list[Any], gaps: set[Any]) -> dict[str, Any]:
    """A copy of ``data`` whose ``dates`` has the gaps among ``chosen`` (kept sorted)."""
    result = dict(data)
    filled = [value for value in chosen if value in gaps]
    if filled:
        result["dates"] = _merge(data["dates"], filled)
    return result


def reprocess_dates(data: Mapping[str, Any], dates: Iterable[str]) -> dict[str, Any]:
    """Have dates processed again.

    Unified: completedDates (or a gap) → pendingDates. Daily: remove from processedDates (or
    add a gap, a date inside their range in neither list, to dates); a ``completed`` run goes
    back to ``running`` with ``endTime`` null.
    """
    data = _require_mapping(data)
    kind = _date_kind(data, "reprocess")
    groups = _date_groups(dates)
    if kind == UNIFIED:
        return _transfer(data, groups, "completedDates", "pendingDates", "date", fill_gaps=True)
    all_dates = _list_field(data, "dates")
    processed = _list_field(data, "processedDates")
    wanted = _wanted(groups)
    in_processed = _present(wanted, processed)
    gaps = _daily_gaps(wanted - in_processed - _present(wanted, all_dates), all_dates)
    chosen = _select(groups, in_processed | gaps, set(), "processedDates", "dates", "date")
    removing = set(chosen) - gaps
    result = _fill_daily_gaps(data, chosen, gaps)
    if removing:
        result["processedDates"] = list(filterfalse(removing.__contains__, processed))
    if result.get("status") == "completed":
        result["status"] = "running"
        if "endTime" in result:
            result["endTime"] = None
    return result


# --------------------------------------------------------------------------- items


def is_item(value: Any) -> bool:
    """Whether skip and reprocess can take ``value`` as an item: text that is not blank, or a
    number (``true``, ``null``, an object or a list is none)."""
    if isinstance(value, str):
        return bool(value.strip())
    return isinstance(value, int | float) and not isinstance(value, bool)


_INT_RE: Final = re.compile(r"-?[0-9]+\Z")
#: A number as an argument writes it (JSON's form; leading zeros too: "007" is 7).
_NUMBER_RE: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")


def _number(text: str) -> int | float | None:
    """The number ``text`` writes (None: not a number, or none a document can hold)."""
    if not _NUMBER_RE.match(text):
        return None
    try:
        number = int(text) if _INT_RE.match(text) else float(text)
    except ValueError:  # more digits than Python reads as an integer
        return None
    return number if math.isfinite(number) else None


def _item_groups(data: Mapping[str, Any], items: Iterable[Any], *, exact: bool) -> list[_Group]:
    """One group per item argument: the item of exactly that value when a list has one (a
    job's item may begin or end with blanks); else the argument without surrounding blanks,
    as typed, or the number it writes (arguments are text, a job's items may be numbers).
    The value moved is the list's own (``2.0`` stays a float)."""
    if isinstance(items, str):
        items = [items]
    # Per argument: what it may mean, in that order, and what it means when no list has any
    # of those (what a refusal names).
    choices: list[tuple[list[Any], Any]] = []
    for item in items:
        if not is_item(item):
            if isinstance(item, str):
                raise InterventionError("an empty item name was given")
            raise InterventionError(f"{item!r}: items must be strings or numbers")
        if not isinstance(item, str):
            choices.append(([item], item))
            continue
        stripped = item.strip()
        number = _number(stripped)
        choices.append(([item, stripped, *([] if number is None else [number])], stripped))
    if not choices:
        raise InterventionError("no items given")
    pending, processed = data["pendingItems"], data["processedItems"]
    if exact:
        values = _resolve_exact(choices, pending, processed)
        return [(str(v), [v], False) for v in values]
    wanted = {choice for options, _ in choices for choice in options}
    present = _present(wanted, pending) | _present(wanted, processed)
    # The lists' own values, not the arguments': "2" finds the item 2.0, and moves 2.0.
    known = {value: value for value in present}
    values = [
        next((known[choice] for choice in options if choice in known), otherwise)
        for options, otherwise in choices
    ]
    return [(str(v), [v], False) for v in values]


def _resolve_exact(choices: list[tuple[list[Any], Any]], *lists: list[Any]) -> list[Any]:
    """Each argument as the lists' own value, for lists mixing types: the first of its
    meanings a list has as that very JSON value (``100`` is not ``100.0``, ``1`` not
    ``true``); else the one number equal to it ("2" finds the item 2.0), never a boolean;
    else the argument (which the move then refuses as not there)."""
    plain = {choice for options, _ in choices for choice in options}
    exact: dict[_Exact, Any] = {}
    for values in lists:
        for value in values:
            if type(value) not in _CONTAINERS and value in plain:
                exact.setdefault(_Exact(value), value)
    equal: dict[Any, list[Any]] = {}
    for key, value in exact.items():
        if type(value) in (int, float):
            equal.setdefault(value, []).append(key.value)
    resolved = []
    for options, otherwise in choices:
        found = next((exact[_Exact(c)] for c in options if _Exact(c) in exact), _NONE)
        if found is _NONE:
            numbers = [equal.get(c, []) for c in options if type(c) in (int, float)]
            found = next((only[0] for only in numbers if len(only) == 1), otherwise)
        resolved.append(found)
    return resolved


_NONE: Final = object()


def _managed(data: Mapping[str, Any], action: str) -> None:
    kind = detect_kind(data)
    if kind != MANAGED:
        raise InterventionError(
            f"cannot {action} items of {with_article(kind)} checkpoint: only managed checkpoints "
            "(pendingItems/processedItems) have items"
        )
    _list_field(data, "pendingItems")
    _list_field(data, "processedItems")


def skip_items(data: Mapping[str, Any], items: Iterable[Any]) -> dict[str, Any]:
    """Managed: move items from pendingItems to processedItems without processing them."""
    data = _require_mapping(data)
    _managed(data, "skip")
    exact = _exact_items(data)
    groups = _item_groups(data, items, exact=exact)
    moved = _transfer(data, groups, "pendingItems", "processedItems", "item", exact=exact)
    return _follow_progress(data, moved)


def _item_progress(data: Mapping[str, Any]) -> int | None:
    """``progress`` as a managed job that counts its items works it out (the seed's
    ``round(100 * processed / all)``), or None without both item lists."""
    done, left = data.get("processedItems"), data.get("pendingItems")
    if not isinstance(done, list) or not isinstance(left, list) or not (done or left):
        return None
    return round(100 * len(done) / (len(done) + len(left)))


def _follow_progress(before: Mapping[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Keep ``progress`` in step with the item lists when the job keeps it so (it matched
    them before the move); a progress the job measures otherwise is left as it is."""
    progress = before.get("progress")
    if type(progress) is not int or progress != _item_progress(before):
        return after
    moved = _item_progress(after)
    if moved is not None and moved != progress:
        after["progress"] = moved
    return after


def reprocess_items(data: Mapping[str, Any], items: Iterable[Any]) -> dict[str, Any]:
    """Managed: move items from processedItems back to pendingItems; ``completed`` → ``running``."""
    data = _require_mapping(data)
    _managed(data, "reprocess")
    exact = _exact_items(data)
    groups = _item_groups(data, items, exact=exact)
    result = _follow_progress(
        data, _transfer(data, groups, "processedItems", "pendingItems", "item", exact=exact)
    )
    if result.get("status") == "completed":
        result["status"] = "running"
    return result


# --------------------------------------------------------------------------- fields


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


_SCALARS: Final = (str, int, float, bool, type(None))


def _json_copy(value: Any, pointer: str) -> Any:
    """A copy of a JSON value; refuses anything JSON cannot hold, naming where it is."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InterventionError(f"{pointer or 'the document'}: {value!r} is not a JSON number")
        return value
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, Mapping):
        copy: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InterventionError(f"{pointer or 'the document'}: key {key!r} is not a string")
            copy[key] = _json_copy(item, f"{pointer}/{escape_token(key)}")
        return copy
    if isinstance(value, list):
        types = set(map(type, value))
        if types <= {str, int, bool, type(None)}:
            return list(value)
        return [_json_copy(item, f"{pointer}/{i}") for i, item in enumerate(value)]
    raise InterventionError(
        f"{pointer or 'the document'}: {value!r} is {with_article(type(value).__name__)}, not "
        "a JSON value"
    )


def _check_depth(value: Any, pointer: str, levels_above: int) -> None:
    limit = MAX_WRITTEN_DEPTH - levels_above
    if nests_beyond(value, limit):
        where = f"{pointer}: the value" if pointer else "the new document"
        raise InterventionError(
            f"{where} is nested more than {limit} levels deep; a checkpoint is at most "
            f"{MAX_WRITTEN_DEPTH} levels deep"
        )


def _parse_pointer(pointer: str) -> list[str]:
    if not isinstance(pointer, str):
        raise InterventionError(f"{pointer!r} is not a JSON pointer")
    if pointer == "":
        raise InterventionError(
            'the pointer "" is the whole document; replace the document instead'
        )
    if not pointer.startswith("/"):
        raise InterventionError(f"{pointer!r} is not a JSON pointer (it must start with /)")
    tokens = []
    for raw in pointer[1:].split("/"):
        if re.search(r"~(?![01])", raw):
            raise InterventionError(f"{pointer!r} is not a JSON pointer (bad ~ escape)")
        tokens.append(raw.replace("~1", "/").replace("~0", "~"))
    return tokens


def _index(container: list[Any], token: str, pointer: str) -> int:
    if not re.fullmatch(r"0|[1-9][0-9]*", token) or int(token) >= len(container):
        raise InterventionError(
            f"{pointer}: {token!r} is not an index of the list "
            f"(it has {plural(len(container), 'entry', 'entries')})"
        )
    return int(token)


def _check_type(pointer: str, key: str | int, old: Any, new: Any) -> None:
    old_type, new_type = _json_type(old), _json_type(new)
    if old_type == new_type or old is None:
        return
    if new is None and isinstance(key, str) and key in NULLABLE_FIELDS:
        return
    raise InterventionError(
        f"{pointer} is {with_article(old_type)}; refusing {_show(new)} ({with_article(new_type)})"
    )


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    return text if len(text) <= 60 else text[:59] + "…"


def set_field(
    data: Mapping[str, Any], pointer: str, value: Any, *, add: bool = True
) -> dict[str, Any]:
    """Set one value by RFC 6901 pointer, keeping its JSON type (see the module's decisions).
    ``add=False`` refuses a key the object does not have (most often a typo: /Progress for
    /progress), naming the nearest one."""
    data = _require_mapping(data)
    tokens = _parse_pointer(pointer)
    _check_depth(value, pointer, len(tokens))
    value = _json_copy(value, pointer)
    result: dict[str, Any] = dict(data)
    container: Any = result
    walked = ""
    for position, token in enumerate(tokens):
        last = position == len(tokens) - 1
        if isinstance(container, dict):
            key: str | int = token
            if token not in container:
                if last and not add:
                    near = difflib.get_close_matches(token, list(container), n=1, cutoff=0.6)
                    hint = f" (did you mean {walked}/{escape_token(near[0])}?)" if near else ""
                    raise UnknownField(
                        f"{pointer}: there is no field {token!r} at "
                        f"{walked or 'the top'}{hint}; it would be added as a new field"
                    )
                if last:
                    container[token] = value
                    return result
                raise InterventionError(f"{pointer}: there is no {walked}/{escape_token(token)}")
        elif isinstance(container, list):
            key = _index(container, token, pointer)
        else:
            raise InterventionError(
                f"{pointer}: {walked or 'the document'} is {with_article(_json_type(container))}, "
                "it has no fields"
            )
        current = container[key]
        if last:
            _check_type(pointer, key, current, value)
            container[key] = value
            return result
        # Copy each container on the way down so the input stays untouched.
        if isinstance(current, Mapping):
            child: Any = dict(current)
        elif isinstance(current, list):
            child = list(current)
        else:
            child = current
        container[key] = child
        container = child
        walked += f"/{escape_token(token)}"
    raise AssertionError("unreachable")  # pragma: no cover


def replace_document(data: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The whole document replaced by ``new`` (a JSON object, copied)."""
    if not isinstance(new, Mapping):
        raise InterventionError(
            f"the new document is {with_article(_json_type(new))}, not a JSON object"
        )
    _check_depth(new, "", 0)
    result = _json_copy(new, "")
    assert isinstance(result, dict)
    return result
