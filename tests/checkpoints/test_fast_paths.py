"""The fast paths of validate, diff and json_patch give exactly what the general paths give.

``diff`` and ``json_patch`` look only at the edited middle of a long list of unique strings
(``_small_edit``); ``json_patch`` trusts a given ``delta``; ``invalid_dates`` checks only the
lines a remembered all-valid list does not vouch for. Each is compared here with the general
path (the fast path switched off) or with a plain reference, over generated documents that
include malformed dates, other JSON values, duplicates and unsorted lists.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any

import jsonpatch
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkpoints_admin.checkpoints import diff as diff_module
from checkpoints_admin.checkpoints import kinds as kinds_module
from checkpoints_admin.checkpoints import manager as manager_module
from checkpoints_admin.checkpoints import store as store_module
from checkpoints_admin.checkpoints.diff import diff, json_patch
from checkpoints_admin.checkpoints.kinds import date_range, invalid_dates, scan_dates, validate
from checkpoints_admin.checkpoints.store import duplicate_key, first_duplicate_key
from checkpoints_admin.checkpoints.summary import examine, summarize

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ODD_DATES = [
    "2025-13-45",
    "2025-02-30",
    "2025-02-29",
    "2024-02-29",
    "1900-02-29",
    "2000-02-29",
    "0000-01-01",
    " 2025-01-01",
    "2025-01-01 ",
    "2025-1-01",
    "20250101",
    "2025-W01-1",
    "２０２５-01-01",
    "2025-01-01\n2025-01-02",
    "",
    "\n",
    "9999-12-31",
    "0001-01-01",
]
ODD_VALUES: list[Any] = [1, 0, 1.0, -0.0, True, False, None, {"a": 1}, ["2025-01-01"]]
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    # monkeypatch is only used through monkeypatch.context(), undone after each example.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def reference_invalid(values: list[str]) -> set[str]:
    """Real dates by a full parse of each string: the plain definition of a real date."""
    bad = set()
    for value in values:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            bad.add(value)
            continue
        try:
            date.fromisoformat(value)
        except ValueError:
            bad.add(value)
    return bad


def _dates(start: date, count: int) -> list[str]:
    return [(start + timedelta(days=n)).isoformat() for n in range(count)]


@st.composite
def date_lists(draw: st.DrawFn, *, min_size: int = 64, max_size: int = 160) -> list[Any]:
    """Mostly sorted unique real dates (with gaps), sometimes spoiled in a few places."""
    start = date(draw(st.integers(1, 9000)), 1, 1) + timedelta(days=draw(st.integers(0, 364)))
    size = draw(st.integers(min_size, max_size))
    keep = draw(st.lists(st.booleans(), min_size=size * 2, max_size=size * 2))
    span = _dates(start, size * 2)
    values: list[Any] = [d for d, kept in zip(span, keep, strict=True) if kept] or span[:size]
    for _ in range(draw(st.integers(0, 3)) if values else 0):
        spoil = draw(st.sampled_from(["odd", "value", "duplicate", "swap", "none"]))
        at = draw(st.integers(0, len(values) - 1))
        if spoil == "odd":
            values.insert(at, draw(st.sampled_from(ODD_DATES)))
        elif spoil == "value":
            values.insert(at, draw(st.sampled_from(ODD_VALUES)))
        elif spoil == "duplicate":
            values.insert(at, values[draw(st.integers(0, len(values) - 1))])
        elif spoil == "swap" and at + 1 < len(values):
            values[at], values[at + 1] = values[at + 1], values[at]
    return values


@st.composite
def edited(draw: st.DrawFn, values: list[Any]) -> list[Any]:
    """``values`` with a few entries removed, inserted or replaced (a new list)."""
    result = list(values)
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["remove", "insert", "replace", "move", "append", "garble"]))
        at = draw(st.integers(0, max(0, len(result) - 1)))
        new_value = draw(
            st.one_of(
                st.sampled_from(ODD_DATES),
                st.sampled_from(ODD_VALUES),
                st.dates().map(date.isoformat),
                st.sampled_from(result or ["2025-01-01"]),
            )
        )
        if action == "remove" and result:
            del result[at]
        elif action == "garble" and result and type(result[at]) is str:
            # One character more or less at either end: only the ends of the line differ.
            text = result[at]
            result[at] = draw(st.sampled_from([f"1{text}", f"{text}1", text[1:], text[:-1]]))
        elif action == "insert":
            result.insert(at, new_value)
        elif action == "replace" and result:
            result[at] = new_value
        elif action == "move" and result:
            moving = result.pop(at)
            result.insert(draw(st.integers(0, len(result))), moving)
        else:
            result.append(new_value)
    return result


@st.composite
def version_pairs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two versions of a unified or daily checkpoint, the second edited from the first."""
    first, second = draw(date_lists()), draw(date_lists(min_size=0))
    if draw(st.booleans()):
        old = {"lastProcessedDate": "2025-03-05", "pendingDates": first, "completedDates": second}
        old.update(startTime=1709742856123, lastUpdateTime=1709743156789)
        keys = ("pendingDates", "completedDates")
    else:
        old = {"dates": first, "processedDates": second, "status": "running"}
        old.update(lastRun="2025-03-06T10:15:23.456Z")
        keys = ("dates", "processedDates")
    new = dict(old)
    for key in keys:
        if draw(st.booleans()):
            new[key] = draw(edited(old[key]))
    if draw(st.booleans()):  # a value moved from one list to the other
        source, target = keys if draw(st.booleans()) else keys[::-1]
        if new[source]:
            new[source] = list(new[source])
            value = new[source].pop(draw(st.integers(0, len(new[source]) - 1)))
            new[target] = sorted_or_appended(new[target], value)
    if draw(st.booleans()):  # fresh objects everywhere, as after reading the file again
        new = orjson.loads(orjson.dumps(new))
    return old, new


def sorted_or_appended(values: list[Any], value: Any) -> list[Any]:
    try:
        return sorted([*values, value])
    except TypeError:
        return [*values, value]


def general_diff(old: Any, new: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as patched:
        patched.setattr(diff_module, "_small_edit", lambda old, new: None)
        return diff(old, new), json_patch(old, new)


def cold_validate(data: Any) -> list[Any]:
    kinds_module._ALL_VALID.clear()
    return validate(data, now=NOW, stale_after=3600.0)


@SETTINGS
@given(pair=version_pairs(), sorted_check=st.booleans())
def test_diff_and_patch_match_the_general_path(
    pair: tuple[dict[str, Any], dict[str, Any]],
    sorted_check: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, new = pair
    with monkeypatch.context() as patched:
        if sorted_check:  # the pass that long lists take instead of a set
            patched.setattr(diff_module, "_SORTED_CHECK_MIN", 0)
        delta, patch = diff(old, new), json_patch(old, new)
        patch_with_delta = json_patch(old, new, delta=delta)
    expected_delta, expected_patch = general_diff(old, new, monkeypatch)
    assert delta == expected_delta
    assert delta.summary() == expected_delta.summary()
    assert delta.lines() == expected_delta.lines()
    assert patch == expected_patch
    assert patch_with_delta == expected_patch
    assert jsonpatch.apply_patch(old, patch) == new


@SETTINGS
@given(pair=version_pairs())
def test_validate_with_a_remembered_version_matches_a_cold_check(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    old, new = pair
    expected = cold_validate(new)
    kinds_module._ALL_VALID.clear()
    validate(old)  # remembers the lists of ``old`` that are all real dates
    assert validate(new, now=NOW, stale_after=3600.0) == expected
    assert validate(new, now=NOW, stale_after=3600.0) == expected  # ``new`` remembered too
    assert examine(new, now=NOW, stale_after=3600.0) == (summarize(new), expected)


@SETTINGS
@given(values=date_lists(min_size=1), data=st.data())
def test_invalid_dates_match_a_full_parse(values: list[Any], data: st.DataObject) -> None:
    strings = [value for value in values if type(value) is str]
    kinds_module._ALL_VALID.clear()
    assert invalid_dates(strings) == reference_invalid(strings)
    # Checked against remembered lists: this one, a valid list it was edited from, both.
    known = [value for value in data.draw(edited(strings)) if type(value) is str]
    if not reference_invalid(known):
        kinds_module._ALL_VALID.clear()
        invalid_dates(known)
        assert invalid_dates(strings) == reference_invalid(strings)
    other = [value for value in data.draw(edited(strings)) if type(value) is str]
    assert invalid_dates(other) == reference_invalid(other)


def test_a_changed_line_next_to_remembered_ones_is_checked() -> None:
    good = _dates(date(2024, 1, 1), 400)
    kinds_module._ALL_VALID.clear()
    assert invalid_dates(good) == set()
    for at, bad in (
        (0, "2024-01-0"),
        (0, "12024-01-01"),
        (200, "2024-02-30"),
        (200, f"1{good[200]}"),  # only the first character of the line differs
        (200, f"{good[200]}1"),
        (399, "2025-02-04x"),
        (399, ""),
    ):
        spoiled = [*good[:at], bad, *good[at + 1 :]]
        assert invalid_dates(spoiled) == {bad}
    # A value split across two lines of a remembered list is not a real date.
    joined = [*good[:10], good[10][:5], good[10][5:], *good[11:]]
    assert invalid_dates(joined) == {good[10][:5], good[10][5:]}
    # One list extending another: the new last line is checked.
    assert invalid_dates([*good, "2025-13-01"]) == {"2025-13-01"}
    assert invalid_dates(good[:-1] + [good[-1] + "1"]) == {good[-1] + "1"}


def test_a_skip_in_a_long_date_list_patches_one_move() -> None:
    pending = _dates(date(1900, 1, 1), 5000)
    old = {"pendingDates": pending, "completedDates": _dates(date(1890, 1, 1), 100)}
    new = {
        "pendingDates": pending[:2500] + pending[2501:],
        "completedDates": sorted([*old["completedDates"], pending[2500]]),
    }
    delta = diff(old, new)
    assert delta.summary() == f"{pending[2500]} pendingDates → completedDates"
    assert delta.lists == ()
    patch = json_patch(old, new, delta=delta)
    assert patch == json_patch(old, new)
    assert patch == [
        {"op": "remove", "path": "/pendingDates/2500"},
        {"op": "add", "path": "/completedDates/100", "value": pending[2500]},
    ]


def test_a_string_subclass_in_the_kept_head_takes_the_general_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Text(str):
        pass

    old = {"items": [f"item-{n:04d}" for n in range(200)]}
    new = {"items": [Text(old["items"][0]), *old["items"][1:150], *old["items"][151:]]}
    # Not a list of strings only: compared position by position, like the general path.
    assert diff(old, new) == general_diff(old, new, monkeypatch)[0]
    assert diff(old, new).changes[0].pointer == "/items"
    assert json_patch(old, new) == general_diff(old, new, monkeypatch)[1]


def test_equal_lists_of_fresh_strings_are_no_change() -> None:
    old = {"pendingDates": _dates(date(2000, 1, 1), 300)}
    new = orjson.loads(orjson.dumps(old))
    assert diff(old, new).empty
    assert json_patch(old, new) == []


def test_a_reordered_long_list_is_reported_and_replaced_like_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = {"pendingDates": _dates(date(2000, 1, 1), 300)}
    reordered = list(old["pendingDates"])
    reordered[100], reordered[101] = reordered[101], reordered[100]
    new = {"pendingDates": reordered}
    delta, patch = diff(old, new), json_patch(old, new)
    assert (delta, patch) == general_diff(old, new, monkeypatch)
    assert delta.reordered == ("/pendingDates",)
    assert json_patch(old, new, delta=delta) == patch
    assert jsonpatch.apply_patch(old, patch) == new


def test_duplicates_brought_in_by_an_edit_take_the_general_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pending = _dates(date(2000, 1, 1), 300)
    for sorted_check in (0, 10**9):
        monkeypatch.setattr(diff_module, "_SORTED_CHECK_MIN", sorted_check)
        for duplicate in (pending[3], pending[-3]):  # one of the head, one of the tail
            new = {"pendingDates": [*pending[:150], duplicate, *pending[150:]]}
            old = {"pendingDates": pending}
            delta, patch = diff(old, new), json_patch(old, new)
            monkeypatch.setattr(diff_module, "_small_edit", lambda old, new: None)
            assert (delta, patch) == (diff(old, new), json_patch(old, new))
            assert delta.changes and delta.changes[0].pointer == "/pendingDates"
            monkeypatch.undo()
            monkeypatch.setattr(diff_module, "_SORTED_CHECK_MIN", sorted_check)


@SETTINGS
@given(pair=version_pairs())
def test_validate_and_summary_of_sorted_lists_match_the_set_path(
    pair: tuple[dict[str, Any], dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counting, common dates and membership by order give what sets of the lists give."""
    for document in pair:
        findings = validate(document, now=NOW, stale_after=3600.0)
        summary = summarize(document)
        with monkeypatch.context() as patched:
            # No list is known to be strictly ascending: every rule works on sets.
            patched.setattr(kinds_module, "strictly_ascending", lambda items: False)
            assert validate(document, now=NOW, stale_after=3600.0) == findings
            assert summarize(document) == summary


@SETTINGS
@given(first=date_lists(min_size=0, max_size=80), second=date_lists(min_size=0, max_size=80))
def test_date_lists_answer_like_sets(first: list[Any], second: list[Any]) -> None:
    a, b = scan_dates(first), scan_dates(second)
    for scan, items in ((a, first), (b, second)):
        strings = [item for item in items if type(item) is str]
        values = set(strings)
        assert scan.values == values
        assert scan.count == len(values)
        assert scan.distinct == (len(values) == len(strings))
        assert scan.valid == values - reference_invalid(strings)
        ordered = len(strings) == len(items) and strings == sorted(strings)
        assert scan.ordered == ordered
        assert scan.clean == (ordered and len(scan.valid) == len(items))
        for probe in [*strings[:5], *strings[-5:], *ODD_DATES, "0000", "9999-99-99"]:
            assert (probe in scan) == (probe in values)
    assert a.common(b) == a.values & b.values
    covered = date_range([a, b])
    real = sorted(a.valid | b.valid)
    if real:
        first, last = (date.fromisoformat(real[i]).toordinal() for i in (0, -1))
        assert (covered.first, covered.last) == (real[0], real[-1])
        assert covered.gaps == last - first + 1 - len(real)
        # The first gaps, found day by day from the start.
        present = set(real)
        days = (date.fromordinal(n).isoformat() for n in range(first, last + 1))
        missing = list(islice((d for d in days if d not in present), 4))
        assert covered.gap_dates([a, b], 4) == missing
    else:
        assert covered == kinds_module.DateRange()


def test_common_dates_of_sorted_lists_of_very_different_sizes() -> None:
    long = _dates(date(2000, 1, 1), 2000)
    few = ["1999-12-31", long[0], long[700], "2000-03-05x", long[-1], "2100-01-01"]
    assert scan_dates(long).common(scan_dates(sorted(few))) == {long[0], long[700], long[-1]}
    assert scan_dates(few[:2]).common(scan_dates(long)) == {long[0]}  # ranges touch
    assert scan_dates([long[-1], "2100-01-01"]).common(scan_dates(long)) == {long[-1]}
    assert scan_dates(["1999-01-01"]).common(scan_dates(long)) == set()


def test_a_sorted_list_with_a_repeated_date_is_not_clean() -> None:
    dates = ["2025-03-01", "2025-03-01", "2025-03-03", "2025-03-07"]
    scan = scan_dates(dates)
    assert scan.ordered and not scan.distinct and not scan.clean
    covered = date_range([scan, scan_dates(["2025-03-02"])])
    assert covered.gaps == 3
    assert covered.gap_dates([scan, scan_dates(["2025-03-02"])], 5) == [
        "2025-03-04",
        "2025-03-05",
        "2025-03-06",
    ]


def _naive_common(a: str, b: str, limit: int, *, from_end: bool) -> int:
    n = 0
    while n < limit and (a[-1 - n] == b[-1 - n] if from_end else a[n] == b[n]):
        n += 1
    return n


@settings(max_examples=300, deadline=None)
@given(
    base=st.text(alphabet="ab\n", max_size=3000),
    edits=st.lists(st.tuples(st.integers(min_value=0), st.sampled_from("abc")), max_size=3),
    prefix=st.sampled_from(["", "q"]),
    suffix=st.sampled_from(["", "x", "xyz"]),
    cut=st.integers(min_value=0),
)
def test_common_prefix_and_suffix_match_a_character_by_character_scan(
    base: str, edits: list[tuple[int, str]], prefix: str, suffix: str, cut: int
) -> None:
    other = list(base)
    for position, char in edits:
        if other:
            other[position % len(other)] = char
    b = prefix + "".join(other) + suffix
    shorter = min(len(base), len(b))
    assert kinds_module._common_prefix(base, b) == _naive_common(base, b, shorter, from_end=False)
    limit = shorter - cut % (shorter + 1)
    assert kinds_module._common_suffix(base, b, limit) == _naive_common(
        base, b, limit, from_end=True
    )


def test_shared_list_checks_look_at_each_list_once_inside_the_block():
    start = date(2020, 1, 1)
    unique = [(start + timedelta(days=n)).isoformat() for n in range(2000)]
    dates = sorted(unique * 2)
    with kinds_module.shared_list_checks():
        assert kinds_module.strictly_ascending(unique) and kinds_module.all_strings(unique)
        unique.append(7)  # (breaking the block's rule shows the first answers are kept)
        assert kinds_module.strictly_ascending(unique) and kinds_module.all_strings(unique)
        assert not kinds_module.strictly_ascending(dates)  # another list: its own answer
        assert kinds_module.is_sorted(dates)
    assert not kinds_module.strictly_ascending(unique) and not kinds_module.all_strings(unique)


@given(st.lists(st.one_of(st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 3)), max_size=3000))
def test_shared_list_checks_give_the_answers_of_the_plain_checks(values):
    plain = (
        kinds_module.is_sorted(values),
        kinds_module.strictly_ascending(values),
        kinds_module.all_strings(values),
    )
    with kinds_module.shared_list_checks():
        for _ in range(2):
            shared = (
                kinds_module.is_sorted(values),
                kinds_module.strictly_ascending(values),
                kinds_module.all_strings(values),
            )
            assert shared == plain


def _json_string(text: str, ascii_only: bool, escape_colons: bool) -> str:
    literal = json.dumps(text, ensure_ascii=ascii_only)
    return literal.replace(":", "\\u003a") if escape_colons else literal


_TEXT = st.text(alphabet=':a"\\é b', max_size=6)
_STRING = st.builds(_json_string, _TEXT, st.booleans(), st.booleans())
_SCALAR = st.one_of(
    _STRING,
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
    st.sampled_from(["true", "false", "null"]),
)
_COLON = st.sampled_from([":", " : ", ":\n  "])


def _object(pairs: list[tuple[str, str, str]]) -> str:
    return "{" + ",".join(f"{key}{colon}{value}" for key, colon, value in pairs) + "}"


# Keys from a small alphabet, so that objects often give one twice.
_KEY = st.builds(_json_string, st.sampled_from(["a", "b", "a:b", ":", "é"]), st.booleans(),
                 st.booleans())  # fmt: skip
_VALUE = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda items: "[" + ",".join(items) + "]"),
        st.lists(st.tuples(_KEY, _COLON, inner), max_size=4).map(_object),
    ),
    max_leaves=12,
)
_DOCUMENT = st.lists(st.tuples(_KEY, _COLON, _VALUE), max_size=5).map(_object)


@SETTINGS
@given(raw=_DOCUMENT)
def test_duplicate_key_is_what_the_second_parse_finds(raw: str) -> None:
    """Counting colons answers without the second parse only when it must be right: the
    same key as ``first_duplicate_key``, over keys and strings with colons (escaped too)."""
    encoded = raw.encode()
    assert duplicate_key(encoded, orjson.loads(encoded)) == first_duplicate_key(encoded)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ('{"a": "x:y", "b": ["c:", {"d": 1}]}', None),
        ('{"a": 1, "b": {"a": 2}}', None),
        ('{"a": 1, "a": 2}', "a"),
        ('{"a": {"b": 1, "b": 2}}', "b"),
        ('{"l": [{"k": 1, "k": 1}]}', "k"),
        ('{"a": 1, "a" : 2}', "a"),
        # An escaped colon is a colon only once parsed: it would hide the duplicate's count.
        ('{"t": "\\u003a", "a": 1, "a": 2}', "a"),
    ],
)
def test_duplicate_key_examples(raw: str, key: str | None) -> None:
    encoded = raw.encode()
    assert duplicate_key(encoded, orjson.loads(encoded)) == key


# Text with the letters of null, quotes, backslashes and line breaks, to mislead a search.
_TRICKY = st.text(alphabet='nulx"\\\n ', max_size=12)
_NUMBER = st.one_of(
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), 0.5]),
)
_JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), _NUMBER, _TRICKY),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(_TRICKY, inner, max_size=4)
    ),
    max_leaves=16,
)


def _encoded(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document, option=store_module._DUMP_OPTIONS)


@SETTINGS
@given(document=st.dictionaries(_TRICKY, _JSONISH, max_size=6))
def test_the_first_non_finite_number_is_the_full_walks(document: dict[str, Any]) -> None:
    """Walking only the top-level fields whose text holds a null finds the NaN or Infinity
    the walk of the whole document finds first, over keys and strings made to mislead the
    search (quotes, backslashes, line breaks, "null" in them)."""
    assert store_module._first_non_finite(document, _encoded(document)) == (
        store_module._non_finite(document, [])
    )


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"endTime": None, "dates": ["2025-01-01"] * 1000}, None),
        ({"a": None, "b": [1, {"c": float("nan")}]}, ["b", 1, "c"]),
        ({'k"ey\\': float("inf"), "n": None}, ['k"ey\\']),
        ({"null": "null", "x": [float("-inf")]}, ["x", 0]),
        # more u than are looked at one by one: the whole document is walked
        ({"s": ["queued"] * (store_module._NULL_PROBES + 5), "r": float("nan")}, ["r"]),
        ({"s": ["queued"] * (store_module._NULL_PROBES + 5), "r": 0.5}, None),
        ({"s": ["queued"] * (store_module._NULL_PROBES + 5), "r": None}, None),
    ],
)
def test_the_first_non_finite_number_examples(document, path) -> None:
    assert store_module._first_non_finite(document, _encoded(document)) == path


@pytest.mark.parametrize(
    "key", ["endTime", 'k"ey', "back\\slash\\", '\\"', "line\nbreak", "  indented"]
)
def test_only_the_fields_holding_a_null_are_walked(monkeypatch, key: str) -> None:
    """A daily checkpoint's ``"endTime": null`` no longer has its million dates walked: only
    the field the null is in, whatever its key holds."""
    walked: list[list[str | int]] = []
    walk = store_module._non_finite

    def recording(node: Any, path: list[str | int]) -> list[str | int] | None:
        walked.append(list(path))
        return walk(node, path)

    monkeypatch.setattr(store_module, "_non_finite", recording)
    document = {"dates": ["2025-01-01"] * 100, key: None, "later": [1.5, {"n": None}]}
    assert store_module._first_non_finite(document, _encoded(document)) is None
    assert walked[0] == [key] and ["later"] in walked
    assert [] not in walked and ["dates"] not in walked


def _containers(node: Any) -> list[int]:
    """The ids of every list and object in ``node``."""
    if isinstance(node, dict):
        return [id(node), *(i for value in node.values() for i in _containers(value))]
    if isinstance(node, list):
        return [id(node), *(i for item in node for i in _containers(item))]
    if isinstance(node, tuple):  # (immutable itself, but what it holds may not be)
        return [i for item in node for i in _containers(item)]
    return []


class _Tag(str):
    """A string subclass, as a job may put in an update (an enum's value, say)."""


_FINITE_JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        _TRICKY,
        _TRICKY.map(_Tag),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(_TRICKY, inner, max_size=4),
    ),
    max_leaves=20,
)


@SETTINGS
@given(document=st.dictionaries(_TRICKY, _FINITE_JSON, max_size=6))
def test_the_managers_copy_is_what_encoding_and_parsing_again_gave(document) -> None:
    """The manager's deep copy (``init()``, ``data``) equals the document encoded and parsed
    again, as it was made before, and shares no list or object with it: the caller may
    change it as it likes."""
    copy = manager_module._copy(document)
    assert copy == orjson.loads(orjson.dumps(document))
    assert not set(_containers(copy)) & set(_containers(document))
    assert all(type(value) is not tuple for value in copy.values())
