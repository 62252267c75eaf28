"""Diffs and documents shaped for templates."""

from __future__ import annotations

from checkpoints_admin import presenters


def test_a_date_move_is_a_group_with_a_text_diff():
    old = {"pendingDates": ["2025-03-06", "2025-03-07"], "completedDates": ["2025-03-05"]}
    new = {"pendingDates": ["2025-03-07"], "completedDates": ["2025-03-05", "2025-03-06"]}
    view = presenters.present_diff(old, new)
    assert view.summary == "2025-03-06 pendingDates → completedDates"
    assert [(g.key, g.kind, g.source, g.target, g.count) for g in view.groups] == [
        ("m0", "moved", "/pendingDates", "/completedDates", 1)
    ]
    assert view.groups[0].shown == ["2025-03-06"]
    assert view.fields == []
    kinds = [(line.kind, line.old, line.new, line.text) for line in view.text]
    assert kinds[0] == ("hunk", None, None, "@@ -1,9 +1,9 @@")
    assert ("removed", 3, None, '    "2025-03-06",') in kinds
    assert ("added", None, 7, '    "2025-03-06"') in kinds


def test_field_changes_keep_absent_sides_apart():
    view = presenters.present_diff({"a": 1, "gone": True}, {"a": 2, "new": "<b>"})
    rows = {row.pointer: row for row in view.fields}
    assert (rows["/a"].before, rows["/a"].after) == ("1", "2")
    assert rows["/gone"].removed and rows["/gone"].after == ""
    assert rows["/new"].added and rows["/new"].after == '"<b>"'


def test_created_and_identical_documents():
    created = presenters.present_diff(None, {"x": 1})
    assert created.summary == "created"
    assert created.fields == [presenters.FieldRow("/x", "", "1", True, False)]
    # a whole document created or deleted: one row per top-level field, each cut on its own
    document = {
        "status": "running",
        "a/b~c": None,
        "dates": [f"2025-01-{d:02d}" for d in range(1, 29)],
    }
    rows = presenters.present_diff(document, None).fields
    assert [(row.pointer, row.removed, row.added) for row in rows] == [
        ("/status", True, False),
        ("/a~1b~0c", True, False),
        ("/dates", True, False),
    ]
    assert [row.before for row in rows[:2]] == ['"running"', "null"]
    assert rows[2].before.startswith('["2025-01-01","2025-01-02",') and rows[2].before.endswith("…")
    assert {row.after for row in rows} == {""}
    # an empty document is still one row
    assert presenters.present_diff(None, {}).fields == [
        presenters.FieldRow("(document)", "", "{}", True, False)
    ]
    same = presenters.present_diff({"x": 1}, {"x": 1})
    assert same.empty
    assert same.text == []


def test_big_documents_skip_the_line_diff_but_keep_the_groups():
    old = {"pendingDates": [f"d{n:06d}" for n in range(6000)], "completedDates": []}
    new = {"pendingDates": [], "completedDates": old["pendingDates"]}
    view = presenters.present_diff(old, new)
    assert view.text is None
    assert "6,004 lines long" in view.text_note
    group = view.groups[0]
    assert group.count == 6000
    assert len(group.shown) == presenters.MAX_SHOWN_VALUES
    assert group.more == 6000 - presenters.MAX_SHOWN_VALUES
    assert view.group("m0") is group
    assert view.group("zz") is None


def test_pretty_documents_are_cut_at_a_line():
    data = {"values": list(range(10_000))}
    full = presenters.pretty_document(data, limit=10**9)
    assert not full.truncated
    cut = presenters.pretty_document(data, limit=1000)
    assert cut.truncated
    assert len(cut.text) <= 1000
    assert full.text.startswith(cut.text)
    assert cut.text.endswith(",")
    assert cut.total_bytes == len(full.text)


def test_pretty_lays_out_a_document_deeper_than_orjson_writes_the_same_way():
    """orjson reads 1,024 levels but writes 255: a file another program wrote that deep is
    laid out without recursion, as orjson lays out what it can write."""
    import json

    import orjson
    from hypothesis import given, settings
    from hypothesis import strategies as st

    deep: list = []
    for n in range(1000):
        deep = [deep, {"level": n, "name": 'ü\n"x"'}]
    text = presenters.pretty({"id": "x", "deep": deep})
    assert json.loads(text) == {"id": "x", "deep": deep}
    assert text.startswith('{\n  "id": "x",\n  "deep": [\n    [\n      [\n')
    assert presenters._pretty_deep({}) == "{}" and presenters._pretty_deep([[]]) == "[\n  []\n]"

    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**63 - 1)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text()
    )
    documents = st.recursive(
        scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=30
    )

    @settings(max_examples=300, deadline=None)
    @given(documents)
    def same_layout(value) -> None:
        expected = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
        assert presenters._pretty_deep(value) == expected

    same_layout()


def test_a_time_kept_as_epoch_milliseconds_is_shown_as_a_time_too():
    """The field table said "lastUpdateTime 1709743156789 → 1709743216789" only."""
    view = presenters.present_diff(
        {"lastUpdateTime": 1709743156789, "endTime": None, "stats": {"startTime": 5}},
        {"lastUpdateTime": 1709743216789, "endTime": 1709743216789, "stats": {"startTime": 6}},
    )
    times = {row.pointer: (row.before_time, row.after_time) for row in view.fields}
    assert times == {
        "/lastUpdateTime": ("2024-03-06 16:39:16.789 UTC", "2024-03-06 16:40:16.789 UTC"),
        "/endTime": ("", "2024-03-06 16:40:16.789 UTC"),  # (null is no time)
        "/stats/startTime": ("", ""),  # (a field of that name elsewhere is not the job's time)
    }


def test_a_patch_excerpt_is_laid_out_as_the_whole_patch_and_says_what_it_leaves_out() -> None:
    small = [{"op": "add", "path": f"/a/{n}", "value": n} for n in range(300)]
    excerpt = presenters.patch_excerpt(small)
    assert excerpt.text == presenters.pretty(small[:200])
    assert (excerpt.count, excerpt.note) == (300, "The first 200 operations are shown.")
    assert presenters.patch_excerpt(small[:3]).text == presenters.pretty(small[:3])
    assert presenters.patch_excerpt(small[:3]).note == ""
    # by size too: a few long operations, then one too long to show at all
    long = [{"op": "replace", "path": "/items", "value": ["x" * 10] * 2_000}] * 3
    excerpt = presenters.patch_excerpt(long, chars=50_000)
    assert excerpt.text == presenters.pretty(long[:1])
    assert excerpt.note == "The first operation is shown."
    excerpt = presenters.patch_excerpt(long, chars=1_000)
    assert excerpt.text.startswith('[\n  {\n    "op": "replace",') and excerpt.text.endswith(
        "\n  …"
    )
    assert len(excerpt.text) <= 1_010
    assert excerpt.note == (
        "The first operation is 39.1 KiB long: its beginning is shown, and 2 more operations."
    )
    assert presenters.patch_excerpt([]) == presenters.PatchExcerpt("[]", 0, "")
