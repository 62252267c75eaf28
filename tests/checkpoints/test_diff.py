"""Structural diff and RFC 6902 patches (checkpoints/diff.py)."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta

import jsonpatch
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkpoints_admin.checkpoints.diff import (
    ABSENT,
    Change,
    Delta,
    ListChange,
    Move,
    diff,
    escape_token,
    json_patch,
)


def strict(value) -> str:
    """Canonical text that tells 1, 1.0 and true apart and ignores key order."""
    return json.dumps(value, sort_keys=True)


def apply(old, patch):
    return jsonpatch.apply_patch(old, patch)


# --------------------------------------------------------------------------- diff: samples


def test_single_move_between_lists(unified):
    new = copy.deepcopy(unified)
    new["pendingDates"].remove("2025-03-06")
    new["completedDates"].append("2025-03-06")

    delta = diff(unified, new)

    assert delta == Delta(moves=(Move("2025-03-06", "/pendingDates", "/completedDates"),))
    assert not delta.empty
    assert delta.summary() == "2025-03-06 pendingDates → completedDates"
    assert delta.lines() == ["2025-03-06: pendingDates → completedDates"]


def test_several_moves_are_summarised_as_a_range(unified):
    new = copy.deepcopy(unified)
    new["completedDates"] = ["2025-03-04"]
    new["pendingDates"] = ["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-06", "2025-03-07"]

    delta = diff(unified, new)

    assert delta.moves == tuple(
        Move(d, "/completedDates", "/pendingDates")
        for d in ("2025-03-01", "2025-03-02", "2025-03-03")
    )
    assert delta.lists == ()
    assert delta.summary() == "3 dates completedDates → pendingDates (2025-03-01 … 2025-03-03)"


def test_job_progress_on_the_daily_sample(daily):
    new = copy.deepcopy(daily)
    new["processedDates"].append("2025-03-05")
    new["lastProcessedDate"] = "2025-03-05"
    new["status"] = "completed"
    new["endTime"] = "2025-03-06T10:20:00.000Z"

    delta = diff(daily, new)

    assert delta.lists == (ListChange("/processedDates", ("2025-03-05",), ()),)
    assert delta.changes == (
        Change("/lastProcessedDate", "2025-03-04", "2025-03-05"),
        Change("/status", "running", "completed"),
        Change("/endTime", None, "2025-03-06T10:20:00.000Z"),
    )
    assert delta.moves == ()
    assert delta.summary() == (
        "2025-03-05 added to processedDates; lastProcessedDate 2025-03-04 → 2025-03-05; "
        "status running → completed; and 1 more"
    )
    assert delta.lines() == [
        "processedDates: added 2025-03-05",
        'lastProcessedDate: "2025-03-04" → "2025-03-05"',
        'status: "running" → "completed"',
        'endTime: null → "2025-03-06T10:20:00.000Z"',
    ]


def test_scalar_changes_summary(managed):
    new = {**managed, "status": "completed", "progress": 100}

    delta = diff(managed, new)

    assert delta.summary() == "status running → completed; progress 33 → 100"
    assert delta.lines() == ['status: "running" → "completed"', "progress: 33 → 100"]


def test_nested_objects_are_recursed(unified):
    new = copy.deepcopy(unified)
    new["stats"]["failedRecords"] = 40
    del new["stats"]["timeouts"]
    new["stats"]["retries"] = 2

    delta = diff(unified, new)

    assert delta.changes == (
        Change("/stats/failedRecords", 42, 40),
        Change("/stats/timeouts", 3, ABSENT),
        Change("/stats/retries", ABSENT, 2),
    )
    assert delta.summary() == (
        "stats.failedRecords 42 → 40; stats.timeouts removed; stats.retries added (2)"
    )
    assert delta.lines() == [
        "stats.failedRecords: 42 → 40",
        "stats.timeouts: removed (was 3)",
        "stats.retries: added 2",
    ]


def test_identical_documents_give_an_empty_delta(unified, daily, managed):
    for doc in (unified, daily, managed):
        delta = diff(doc, copy.deepcopy(doc))
        assert delta == Delta()
        assert delta.empty
        assert delta.summary() == "no change"
        assert delta.lines() == []
        assert json_patch(doc, copy.deepcopy(doc)) == []


# --------------------------------------------------------------------------- diff: absent files


def test_created_from_absent(managed):
    delta = diff(None, managed)

    assert delta.changes == (Change("", ABSENT, managed),)
    assert delta.created and not delta.deleted
    assert delta.summary() == "created"
    assert delta.lines()[0] == "document created (7 keys)"
    assert delta.lines()[1:3] == ['id: "my-process-1"', 'created: "2025-03-06T09:00:00.000Z"']
    assert len(delta.lines()) == 8


def test_deleted(managed):
    delta = diff(managed, None)

    assert delta.changes == (Change("", managed, ABSENT),)
    assert delta.deleted and not delta.created
    assert delta.summary() == "deleted"
    assert delta.lines()[0] == "document deleted (7 keys)"


def test_both_absent():
    assert diff(None, None) == Delta()
    assert json_patch(None, None) == []


def test_absent_sentinel_survives_copies():
    assert copy.copy(ABSENT) is ABSENT
    assert copy.deepcopy(ABSENT) is ABSENT
    assert repr(ABSENT) == "ABSENT"
    assert ABSENT != None  # noqa: E711


# --------------------------------------------------------------------------- diff: details


def test_pointers_escape_tilde_and_slash():
    assert escape_token("a/b~c") == "a~1b~0c"
    delta = diff({"a/b": {"m~n": 1}}, {"a/b": {"m~n": 2}})
    assert delta.changes == (Change("/a~1b/m~0n", 1, 2),)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (1, 1.0),
        (1, True),
        (0, False),
        (1.0, True),
        ("1", 1),
        (None, 0),
        ([], {}),
        ({}, None),
        (0.0, -0.0),
    ],
)
def test_json_types_are_compared_strictly(old, new):
    delta = diff({"v": old}, {"v": new})
    assert delta.changes == (Change("/v", old, new),)
    patched = apply({"v": old}, json_patch({"v": old}, {"v": new}))
    assert strict(patched) == strict({"v": new})


def test_strict_inside_lists():
    old = {"flags": [1, 2], "objs": [{"a": 1}]}
    new = {"flags": [True, 2], "objs": [{"a": 1.0}]}

    delta = diff(old, new)

    assert delta.changes == (Change("/flags/0", 1, True), Change("/objs/0/a", 1, 1.0))
    assert strict(apply(old, json_patch(old, new))) == strict(new)


def test_float_lists_are_compared_by_position():
    old = {"v": [0.0, 1.5]}
    new = {"v": [-0.0, 1.5]}
    assert diff(old, new).changes == (Change("/v/0", 0.0, -0.0),)
    assert strict(apply(old, json_patch(old, new))) == strict(new)


def test_shared_values_are_not_walked():
    big = [f"d{n}" for n in range(10)]
    assert diff({"a": big, "n": 1}, {"a": big, "n": 2}).changes == (Change("/n", 1, 2),)


def test_added_and_removed_keep_list_order():
    old = {"tags": ["c", "a", "b", "z"]}
    new = {"tags": ["y", "c", "b", "x"]}

    delta = diff(old, new)

    assert delta.lists == (ListChange("/tags", added=("y", "x"), removed=("a", "z")),)
    # y, x is no range (out of order): listed; a … z is
    assert delta.summary() == ("2 values added to tags (y, x); 2 values removed from tags (a, z)")
    moved = diff({"todo": ["b3", "a1", "c9"], "done": []}, {"todo": [], "done": ["b3", "a1", "c9"]})
    assert moved.summary().endswith("todo → done (b3, a1, …)")


def test_items_unit_and_value_lines(managed):
    new = {**managed, "pendingItems": ["item2", "item3", "item4", "item5"]}

    delta = diff(managed, new)

    assert delta.summary() == "2 items added to pendingItems (item4, item5)"
    assert delta.lines() == ["pendingItems: added item4, item5"]


def test_reorder_only_is_reported_separately():
    old = {"pendingDates": ["2025-03-01", "2025-03-02"], "n": 1}
    new = {"pendingDates": ["2025-03-02", "2025-03-01"], "n": 1}

    delta = diff(old, new)

    assert delta == Delta(reordered=("/pendingDates",))
    assert not delta.empty
    assert delta.summary() == "pendingDates reordered"
    assert delta.lines() == ["pendingDates: reordered (same values)"]
    assert apply(old, json_patch(old, new)) == new


def test_lists_with_duplicates_are_compared_as_values():
    old = {"v": [1, 1, 2]}
    new = {"v": [1, 2, 2]}
    assert diff(old, new).changes == (Change("/v/1", 1, 2),)
    longer = {"v": [1, 1, 2, 2]}
    assert diff(old, longer).changes == (Change("/v", [1, 1, 2], [1, 1, 2, 2]),)
    assert diff(old, longer).lists == ()


def test_lists_of_objects_are_compared_by_position():
    old = {"jobs": [{"id": 1, "state": "a"}, {"id": 2, "state": "b"}]}
    new = {"jobs": [{"id": 1, "state": "a"}, {"id": 2, "state": "c"}]}
    assert diff(old, new).changes == (Change("/jobs/1/state", "b", "c"),)
    shorter = {"jobs": [{"id": 1, "state": "a"}]}
    assert diff(old, shorter).changes == (Change("/jobs", old["jobs"], shorter["jobs"]),)


def test_type_change_of_a_list_is_one_change():
    assert diff({"a": [1]}, {"a": {"0": 1}}).changes == (Change("/a", [1], {"0": 1}),)


def test_move_is_not_repeated_as_added_or_removed():
    old = {"pending": ["a", "b", "c"], "done": ["x"]}
    new = {"pending": ["c", "d"], "done": ["x", "a"]}

    delta = diff(old, new)

    assert delta.moves == (Move("a", "/pending", "/done"),)
    assert delta.lists == (ListChange("/pending", added=("d",), removed=("b",)),)
    assert delta.summary() == "a pending → done; d added to pending; b removed from pending"


def test_move_between_nested_lists():
    old = {"queues": {"high": ["j1", "j2"], "low": []}}
    new = {"queues": {"high": ["j2"], "low": ["j1"]}}
    assert diff(old, new).moves == (Move("j1", "/queues/high", "/queues/low"),)


def test_a_value_added_to_two_lists_moves_to_the_first_only():
    old = {"a": ["v"], "b": [], "c": []}
    new = {"a": [], "b": ["v"], "c": ["v"]}

    delta = diff(old, new)

    assert delta.moves == (Move("v", "/a", "/b"),)
    assert delta.lists == (ListChange("/c", added=("v",), removed=()),)


def test_big_moves_are_abbreviated():
    dates = [(date(2025, 1, 1) + timedelta(days=n)).isoformat() for n in range(3000)]
    old = {"pendingDates": dates, "completedDates": []}
    new = {"pendingDates": dates[2000:], "completedDates": dates[:2000]}

    delta = diff(old, new)

    assert len(delta.moves) == 2000
    assert delta.moves[0] == Move("2025-01-01", "/pendingDates", "/completedDates")
    assert all(type(m) is Move for m in delta.moves)
    assert [m.value for m in delta.moves] == dates[:2000]
    assert delta.summary() == (
        "2,000 dates pendingDates → completedDates (2025-01-01 … 2030-06-23)"
    )
    (line,) = delta.lines()
    assert line.startswith("2,000 dates pendingDates → completedDates: 2025-01-01, 2025-01-02")
    assert line.endswith("2025-01-20 and 1,980 more")


def test_summary_is_abbreviated_with_and_n_more():
    old = {f"k{i}": i for i in range(8)}
    new = {f"k{i}": i + 1 for i in range(8)}
    assert diff(old, new).summary() == "k0 0 → 1; k1 1 → 2; k2 2 → 3; and 5 more"
    assert len(diff(old, new).lines()) == 8


def test_long_values_are_clipped():
    old = {"note": "x" * 500}
    new = {"note": "y" * 500}
    summary = diff(old, new).summary()
    assert len(summary) < 140
    assert "…" in summary


def test_containers_in_summary_are_shown_by_size():
    delta = diff({"a": {"x": 1}}, {"a": [1, 2]})
    assert delta.summary() == "a {1 key} → [2 items]"
    assert delta.lines() == ['a: {"x":1} → [1,2]']


# --------------------------------------------------------------------------- json_patch


def test_patch_for_a_skip_is_small(unified):
    new = copy.deepcopy(unified)
    new["pendingDates"].remove("2025-03-06")
    new["completedDates"].append("2025-03-06")

    patch = json_patch(unified, new)

    assert patch == [
        {"op": "remove", "path": "/pendingDates/0"},
        {"op": "add", "path": "/completedDates/4", "value": "2025-03-06"},
    ]
    assert apply(unified, patch) == new


def test_patch_create_replaces_the_root(managed):
    patch = json_patch(None, managed)
    assert patch == [{"op": "replace", "path": "", "value": managed}]
    assert apply({}, patch) == managed
    assert apply(None, patch) == managed


def test_patch_delete_replaces_the_root_with_null(managed):
    patch = json_patch(managed, None)
    assert patch == [{"op": "replace", "path": "", "value": None}]
    assert apply(managed, patch) is None


def test_patch_keys_with_special_characters():
    old = {"a/b": 1, "m~n": {"": 2}, "gone": 0}
    new = {"a/b": 2, "m~n": {"": 3}, "new/key": [1]}
    patch = json_patch(old, new)
    assert {"op": "replace", "path": "/a~1b", "value": 2} in patch
    assert {"op": "replace", "path": "/m~0n/", "value": 3} in patch
    assert {"op": "remove", "path": "/gone"} in patch
    assert {"op": "add", "path": "/new~1key", "value": [1]} in patch
    assert apply(old, patch) == new


def test_patch_big_rewrite_of_a_list_is_one_replace():
    old = {"items": [f"i{n}" for n in range(100)]}
    new = {"items": [f"j{n}" for n in range(100)]}
    assert json_patch(old, new) == [{"op": "replace", "path": "/items", "value": new["items"]}]


def test_patch_emptying_a_list():
    old = {"pendingDates": ["2025-03-06", "2025-03-07"]}
    new = {"pendingDates": []}
    assert json_patch(old, new) == [{"op": "replace", "path": "/pendingDates", "value": []}]
    one = {"pendingDates": ["2025-03-06"]}
    assert json_patch(one, new) == [{"op": "remove", "path": "/pendingDates/0"}]


def test_patch_insert_at_the_front_of_a_value_list():
    old = {"log": [{"n": 1}, {"n": 2}, {"n": 3}]}
    new = {"log": [{"n": 0}, {"n": 1}, {"n": 2}, {"n": 3}]}
    assert json_patch(old, new) == [{"op": "add", "path": "/log/0", "value": {"n": 0}}]
    assert apply(old, json_patch(old, new)) == new


def test_patch_input_documents_unchanged(unified):
    before = copy.deepcopy(unified)
    new = copy.deepcopy(unified)
    new["pendingDates"] = ["2025-03-08"]
    json_patch(unified, new)
    diff(unified, new)
    assert unified == before


def test_large_list_patch_is_correct():
    names = [f"item-{n:06d}" for n in range(20_000)]
    old = {"pendingItems": names}
    new = {"pendingItems": [n for i, n in enumerate(names) if i % 97] + ["item-x", "item-y"]}
    patch = json_patch(old, new)
    assert len(patch) == 209
    assert apply(old, patch) == new


# --------------------------------------------------------------------------- properties

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
keys = st.text(alphabet="ab/~-0", max_size=4)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=5),
    max_leaves=15,
)
documents = st.dictionaries(keys, json_values, max_size=6)


@st.composite
def mutated(draw, value, depth=0):
    """A variant of ``value`` sharing most of it (so diffs are partial, not total)."""
    choice = draw(st.integers(0, 5))
    if choice == 0 or depth > 4:
        return draw(json_values)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            action = draw(st.integers(0, 3))
            if action == 0:
                continue
            out[key] = draw(mutated(item, depth + 1)) if action == 1 else item
        for key in draw(st.lists(keys, max_size=2)):
            out[key] = draw(json_values)
        return out
    if isinstance(value, list):
        out = [draw(mutated(item, depth + 1)) if draw(st.booleans()) else item for item in value]
        if out and draw(st.booleans()):
            del out[draw(st.integers(0, len(out) - 1))]
        if draw(st.booleans()):
            out.insert(draw(st.integers(0, len(out))), draw(json_values))
        return out
    return value if draw(st.booleans()) else draw(scalars)


@st.composite
def document_pairs(draw):
    old = draw(documents)
    if draw(st.booleans()):
        return old, draw(documents)
    return old, draw(mutated(old))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document_pairs())
def test_property_patch_turns_old_into_new(pair):
    old, new = pair
    frozen_old, frozen_new = strict(old), strict(new)

    patch = json_patch(old, new)

    assert strict(apply(old, patch)) == strict(new)
    assert strict(old) == frozen_old and strict(new) == frozen_new
    json.dumps(patch)  # the patch is plain JSON


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_property_identical_documents_have_no_diff(doc):
    twin = copy.deepcopy(doc)
    assert diff(doc, twin).empty
    assert json_patch(doc, twin) == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document_pairs())
def test_property_diff_is_empty_only_for_equal_documents(pair):
    old, new = pair
    assert diff(old, new).empty == (strict(old) == strict(new))


DAY_POOL = [(date(2025, 3, 1) + timedelta(days=n)).isoformat() for n in range(30)]
date_lists = st.lists(st.sampled_from(DAY_POOL), unique=True, max_size=30)


@settings(max_examples=200, deadline=None)
@given(date_lists, date_lists, date_lists, date_lists, st.booleans())
def test_property_date_lists(pending_old, done_old, pending_new, done_new, sort):
    if sort:
        pending_old, done_old = sorted(pending_old), sorted(done_old)
        pending_new, done_new = sorted(pending_new), sorted(done_new)
    old = {"pendingDates": pending_old, "completedDates": done_old}
    new = {"pendingDates": pending_new, "completedDates": done_new}

    delta = diff(old, new)

    assert apply(old, json_patch(old, new)) == new
    # Every list's new content is explained by what stayed, moves and additions.
    for key in old:
        pointer = f"/{key}"
        lists = {lc.pointer: lc for lc in delta.lists}
        change = lists.get(pointer, ListChange(pointer, (), ()))
        moved_out = {m.value for m in delta.moves if m.source == pointer}
        moved_in = {m.value for m in delta.moves if m.target == pointer}
        assert set(new[key]) == (
            (set(old[key]) - set(change.removed) - moved_out) | set(change.added) | moved_in
        )
        assert not (moved_out & set(change.removed))
        assert not (moved_in & set(change.added))
    assert delta.changes == ()
    assert delta.empty == (old == new)


def test_summary_numbers_have_thousands_separators_the_lines_and_patch_do_not():
    old = {"stats": {"processedRecords": 7231, "rate": -1234.5, "big": 1.5e23}}
    new = {"stats": {"processedRecords": 7236, "rate": 0.25, "big": 2.0}}
    delta = diff(old, new)
    assert delta.summary() == (
        "stats.processedRecords 7,231 → 7,236; stats.rate -1,234.5 → 0.25; stats.big 1.5e+23 → 2.0"
    )
    assert delta.lines()[0] == "stats.processedRecords: 7231 → 7236"
    assert json_patch(old, new)[0] == {
        "op": "replace",
        "path": "/stats/processedRecords",
        "value": 7236,
    }
    # an epoch time is an instant, not an amount; true is no number
    other = diff(
        {"lastUpdateTime": 1709743156789, "ok": True},
        {"lastUpdateTime": 1709743157789, "ok": False, "total": 12345},
    )
    assert other.summary() == (
        "lastUpdateTime 1709743156789 → 1709743157789; ok true → false; total added (12,345)"
    )


def test_a_key_that_dots_would_make_ambiguous_is_named_by_its_pointer():
    """Fields read as dotted paths (stats.processedRecords, as UI.md's summaries do); a key
    holding ".", "/" or "~", or an empty one, is named by its JSON pointer instead."""
    delta = diff(
        {"a/b": 1, "f": {"g.h": 1}, "i": {"j": {"k": 1}}},
        {"a/b": 2, "f": {"g.h": 2}, "i": {"j": {"k": 2}}},
    )
    assert delta.summary() == "/a~1b 1 → 2; /f/g.h 1 → 2; i.j.k 1 → 2"
    assert diff({"c~d": {"": 1}}, {"c~d": {"": 2}}).summary() == "/c~0d/ 1 → 2"


def test_a_summary_tells_a_string_from_the_value_it_would_read_as():
    """The item "1.5" and the number 1.5 both read "1.5"; "  spaced  " read "spaced"; two
    dates apart read as a range ("2025-03-01 … 2025-03-03")."""
    removed = ["1.5", "true", "  spaced  ", "plain", "2025-03-06"]
    before, after = {"pendingItems": ["kept", *removed]}, {"pendingItems": ["kept"]}
    assert diff(before, after).summary() == '5 items removed from pendingItems ("1.5", "true", …)'
    assert diff(before, after).lines() == [
        'pendingItems: removed "1.5", "true", "  spaced  ", plain, 2025-03-06'
    ]
    moved = diff({"pending": ["1.5"], "done": [1.5]}, {"pending": [], "done": [1.5, "1.5"]})
    assert '"1.5"' in moved.summary()
    two = diff({"pendingDates": ["2025-03-01", "2025-03-03", "2025-03-09"]},
               {"pendingDates": ["2025-03-09"]})  # fmt: skip
    assert two.summary() == "2 dates removed from pendingDates (2025-03-01, 2025-03-03)"
