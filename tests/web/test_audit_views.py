"""The audit log pages: filters, keyset pages, an entry with its diff and chain, exports."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from checkpoints_admin import audit, services
from checkpoints_admin.models import AuditEntry
from checkpoints_admin.views import audit as audit_views
from tests.tampering import tamper
from tests.web.conftest import write_json

HTMX = {"HX-Request": "true"}


def seqs(response) -> list[int]:
    return [
        int(n)
        for n in re.findall(
            r'<td class="num audit__seq"><a href="/audit/(\d+)/">', response.content.decode()
        )
    ]


def add_entries(count: int, **fields) -> None:
    for index in range(count):
        audit.append_entry(
            actor=fields.get("actor", "bob"),
            source=fields.get("source", "cli"),
            action=fields.get("action", "edit"),
            checkpoint=fields.get("checkpoint", "job"),
            reason=f"reason {index}",
            summary=f"change {index}",
            created=fields.get("created"),
        )


@pytest.fixture
def interventions(samples_dir):
    """Three real interventions on the samples: a web skip, a cli edit, a web reprocess."""
    web = services.Actor(name="jane.doe", source="web", address="10.1.2.3")
    services.apply(
        "reconciliation_checkpoint",
        "skip",
        {"dates": ["2025-03-06"]},
        actor=web,
        reason="Upstream data for 2025-03-06 is known bad",
    )
    services.apply(
        "my-process",
        "edit",
        {"set": {"/progress": 50}},
        actor=services.Actor(name="ops", source="cli"),
        reason="progress was reported wrong",
    )
    services.apply(
        "reconciliation_checkpoint",
        "reprocess",
        {"dates": ["2025-03-01..2025-03-03"]},
        actor=web,
        reason="Reprocess the first days after the fix",
    )
    return samples_dir


def test_a_summary_does_not_repeat_the_action_beside_its_chip(viewer, db):
    """Resets were recorded as "reset: deleted file …", restores are "restore to before #N:
    …": the log shows them without the word its action chip says already. The stored
    summaries stay as they were (they are hashed into the chain)."""
    old = "reset: deleted file job.json (1,234 bytes kept in the before snapshot)"
    add_entries(1, action="reset")
    audit.append_entry(
        actor="bob", source="cli", action="reset", checkpoint="job", reason="r", summary=old
    )
    audit.append_entry(
        actor="bob",
        source="cli",
        action="restore",
        checkpoint="job",
        reason="r",
        summary="restore to before #2: re-created job.json",
    )
    html = viewer.get("/audit/").content.decode()
    summaries = re.findall(r'<td class="wrap audit__summary">([^<]*)</td>', html)
    assert summaries == [
        "to before #2: re-created job.json",
        "deleted file job.json (1,234 bytes kept in the before snapshot)",
        "change 0",
    ]
    assert AuditEntry.objects.get(seq=2).summary == old
    assert audit.verify_chain().ok


def test_a_summary_naming_a_field_called_like_its_action_is_shown_whole(viewer, samples_dir):
    """Only a restore's and an old reset's own word is dropped: an edit of a field named
    "edit" keeps the field's name in its summary."""
    write_json(samples_dir, "job", {"id": "job", "edit": 1, "skip": 2})
    actor = services.Actor(name="bob", source="cli")
    for pointer in ("/edit", "/skip"):
        services.apply("job", "edit", {"set": {pointer: 3}}, actor=actor, reason="counted again")
    html = viewer.get("/audit/").content.decode()
    assert re.findall(r'<td class="wrap audit__summary">([^<]*)</td>', html) == [
        "skip 2 → 3",
        "edit 1 → 3",
    ]
    history = viewer.get("/checkpoints/job/?tab=history").content.decode()
    assert "skip 2 → 3" in history
    assert "edit 1 → 3" in history


def test_the_log_is_newest_first(viewer, interventions):
    response = viewer.get("/audit/")
    assert response.status_code == 200
    assert seqs(response) == [3, 2, 1]
    html = response.content.decode()
    assert "3 dates completedDates → pendingDates (2025-03-01 … 2025-03-03)" in html
    assert '<span class="chip chip--web">web</span>' in html
    assert '<span class="chip chip--action chip--edit">edit</span>' in html


def reasons(html: str) -> list[tuple[str, str]]:
    """Each row's reason as the log shows it: (the full text on hover, the words shown)."""
    return [
        (title, shown)
        for title, shown in re.findall(
            r'<td class="audit__reason"><q title="([^"]*)">([^<]*)</q></td>', html
        )
    ]


def test_the_log_says_why(viewer, interventions):
    """The README: the log shows who, when, from where, why. A long reason is cut, whole
    on hover; a person's words are escaped."""
    long = "Upstream data is known bad; " + "the vendor re-sends it next week. " * 8
    for reason, summary in [
        (long.strip(), "progress 1 → 2"),
        ('<b>bold</b> & "quoted"\non two lines', "progress 2 → 3"),
    ]:
        audit.append_entry(
            actor="ops", source="cli", action="edit", checkpoint="job", reason=reason,
            summary=summary,
        )  # fmt: skip
    html = viewer.get("/audit/").content.decode()
    assert '<th scope="col">Reason</th>' in html
    shown = reasons(html)
    assert shown[0] == (
        "&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;\non two lines",
        "&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;\non two lines",
    )
    assert "<b>bold</b>" not in html
    title, words = shown[1]
    assert title == long.strip()
    assert words == long[:119] + "…"
    assert shown[2:] == [
        ("Reprocess the first days after the fix", "Reprocess the first days after the fix"),
        ("progress was reported wrong", "progress was reported wrong"),
        ("Upstream data for 2025-03-06 is known bad", "Upstream data for 2025-03-06 is known bad"),
    ]
    # the htmx partial (a filter applied in place) has the column too
    partial = viewer.get("/audit/?actor=ops", headers=HTMX).content.decode()
    assert [words for _title, words in reasons(partial)][-1] == "progress was reported wrong"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("checkpoint=reconciliation_checkpoint", [3, 1]),
        ("actor=ops", [2]),
        ("actor=OPS", [2]),  # user names in any case
        ("actor=op", []),  # whole names: no namesakes
        ("checkpoint=reconciliation", []),
        ("action=skip", [1]),
        ("source=web", [3, 1]),
        ("source=web&action=reprocess", [3]),
        ("checkpoint=nothing", []),
    ],
)
def test_filters(viewer, interventions, query, expected):
    assert seqs(viewer.get(f"/audit/?{query}")) == expected


def test_the_name_filters_offer_the_names_they_take(viewer, interventions, samples_dir):
    page = viewer.get("/audit/").content.decode()
    checkpoints = page.split('<datalist id="audit-checkpoints">')[1].split("</datalist>")[0]
    assert '<option value="reconciliation_checkpoint">' in checkpoints
    assert '<option value="my-process">' in checkpoints
    actors = page.split('<datalist id="audit-actors">')[1].split("</datalist>")[0]
    offered = re.findall(r'<option value="([^"]+)">', actors)
    # the actors of the entries shown, and the reader; not every account
    assert offered == sorted({entry.actor for entry in AuditEntry.objects.all()} | {"viewer-user"})
    # Applied on Enter or on leaving the field, not at each key: a part of a name finds nothing.
    assert 'hx-trigger="change from:.filters__text,' in page


def test_the_compare_page_offers_every_name_only_while_they_are_few(viewer, samples_dir):
    """With thousands of checkpoints every page of /diff/ carried all their names (450 KB
    for 10,000); beyond the audit log's limit it offers those of the sides given."""
    from checkpoints_admin.views.audit import DATALIST_MAX

    def offered(url: str) -> list[str]:
        page = viewer.get(url).content.decode()
        listed = page.split('<datalist id="sides">')[1].split("</datalist>")[0]
        return re.findall(r'<option value="checkpoint:([^"]+)">', listed)

    assert "my-process" in offered("/diff/")
    for n in range(DATALIST_MAX):
        write_json(samples_dir, f"job-{n:04d}", {"id": f"job-{n}", "status": "running"})
    assert offered("/diff/") == []
    assert offered("/diff/?a=checkpoint:job-0007&b=checkpoint:my-process") == [
        "job-0007",
        "my-process",
    ]


def test_filter_by_dates(viewer, db):
    add_entries(2, created=datetime(2025, 3, 1, 12, tzinfo=UTC))
    add_entries(3, created=datetime(2025, 3, 5, 23, 59, tzinfo=UTC))
    add_entries(1, created=datetime(2025, 3, 9, tzinfo=UTC))
    assert seqs(viewer.get("/audit/?since=2025-03-02&until=2025-03-05")) == [5, 4, 3]
    assert seqs(viewer.get("/audit/?until=2025-03-01")) == [2, 1]
    assert seqs(viewer.get("/audit/?since=2025-03-09")) == [6]


def test_bad_filters_are_reported_not_crashed_on(viewer, interventions):
    response = viewer.get("/audit/?since=2025-03-09&until=2025-03-01&checkpoint=../etc&action=drop")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<p>To: The end date is before the start date.</p>" in html
    assert "<p>Checkpoint: Not a checkpoint name.</p>" in html
    assert seqs(response) == [3, 2, 1]


def test_a_bad_filter_is_named_by_the_label_on_the_page(viewer, db):
    """The date filters read From and To on the page: an error names them so, not by the
    query parameter (since, until) the page never shows."""
    html = viewer.get("/audit/?since=garbage&action=drop").content.decode()
    assert "<p>From: Enter a valid date.</p>" in html
    assert "<p>Action: Select a valid choice. drop is not one of the available choices.</p>" in html
    assert "since:" not in html


def test_keyset_pages_never_count_or_offset(viewer, db):
    add_entries(120)
    with CaptureQueriesContext(connection) as queries:
        first = viewer.get("/audit/")
    sql = " ".join(query["sql"].upper() for query in queries.captured_queries)
    assert "OFFSET" not in sql
    assert "COUNT(" not in sql
    assert seqs(first) == list(range(120, 70, -1))
    html = first.content.decode()
    assert 'href="?before=71"' in html
    assert "‹ Newer</span>" in html  # disabled on the first page
    second = viewer.get("/audit/?before=71")
    assert seqs(second) == list(range(70, 20, -1))
    assert 'href="?after=70"' in second.content.decode()
    assert 'href="?before=21"' in second.content.decode()
    third = viewer.get("/audit/?before=21")
    assert seqs(third) == list(range(20, 0, -1))
    assert "Older ›</span>" in third.content.decode()
    back = viewer.get("/audit/?after=70")
    assert seqs(back) == list(range(120, 70, -1))


def test_keyset_pages_keep_the_filters(viewer, db):
    add_entries(60, checkpoint="alpha")
    add_entries(5, checkpoint="beta")
    first = viewer.get("/audit/?checkpoint=alpha")
    assert seqs(first) == list(range(60, 10, -1))
    assert 'href="?checkpoint=alpha&amp;before=11"' in first.content.decode()
    assert seqs(viewer.get("/audit/?checkpoint=alpha&before=11")) == list(range(10, 0, -1))


def test_the_htmx_request_gets_only_the_log(viewer, interventions):
    html = viewer.get("/audit/?actor=ops", headers=HTMX).content.decode()
    assert html.lstrip().startswith('<section id="audit-log"')
    assert "<form" not in html


def test_an_entry_shows_who_when_where_why_and_what(viewer, interventions):
    response = viewer.get("/audit/3/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Entry #3" in html
    # one h1, and no heading level skipped below it (the reason's h3 came right after it)
    levels = [int(level) for level in re.findall(r"<h([1-6])\b", html)]
    assert levels.count(1) == 1
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False)), levels
    assert "jane.doe" in html
    assert '<span class="chip chip--web">web</span> <span class="mono">10.1.2.3</span>' in html
    assert '<blockquote class="reason">Reprocess the first days after the fix</blockquote>' in html
    summary = "3 dates completedDates → pendingDates (2025-03-01 … 2025-03-03)"
    assert f'<p class="diff-summary">{summary}</p>' in html
    group = "moved <code>/completedDates</code> → <code>/pendingDates</code>"
    assert f"<strong>3</strong>\n            {group}" in html
    assert '<tr class="added"><td class="ln"></td><td class="ln">4</td>' in html
    assert 'href="/audit/3/before"' in html
    assert 'href="/audit/3/after"' in html
    assert 'href="/diff/?a=entry:3:before&amp;b=checkpoint:reconciliation_checkpoint"' in html
    assert "✓ Intact" in html
    assert "RFC 6902, 2 operations" in html
    assert "&quot;op&quot;: &quot;replace&quot;" in html


def test_a_patch_of_megabytes_is_shown_by_its_beginning(viewer, samples_dir, settings):
    """Restoring a reset checkpoint is one operation carrying the whole document: the entry
    page (and the preview) showed all of it, megabytes that hung the browser's tab."""
    settings.CHECKPOINT_MAX_BYTES = 64 * 1024 * 1024
    items = [f"item-{n:07d}" for n in range(200_000)]
    write_json(samples_dir, "big", {"id": "big-1", "status": "running", "pendingItems": items})
    actor = services.Actor(name="ops", source="cli")
    services.apply("big", "reset", {}, actor=actor, reason="start again")
    restored = services.apply("big", "restore", {"entry": 1}, actor=actor, reason="undo")

    response = viewer.get(f"/audit/{restored.entry.seq}/")

    assert response.status_code == 200
    assert len(response.content) < 300_000  # the operation is 4.6 MB
    html = response.content.decode()
    assert "RFC 6902, 1 operation</span>" in html
    assert (
        "The first operation is 4.6 MiB long: its beginning is shown. The export has the whole "
        "patch."
    ) in html
    assert "item-0000100" in html and "item-0199999" not in html


def test_the_previous_and_next_entry_links(viewer, interventions):
    html = viewer.get("/audit/2/").content.decode()
    assert 'href="/audit/1/" rel="prev"' in html
    assert 'href="/audit/3/" rel="next"' in html
    assert 'rel="next"' not in viewer.get("/audit/3/").content.decode()


def test_verify_the_chain_up_to_an_entry(viewer, interventions):
    html = viewer.get("/audit/2/?verify=1").content.decode()
    assert "✓ The chain verifies up to this entry and to its end (3 entries)." in html
    fragment = viewer.get("/audit/2/?verify=1", headers=HTMX).content.decode()
    assert fragment.lstrip().startswith('<div id="chain-verify">')


def test_readers_pressing_verify_at_once_share_one_verification(viewer, interventions, monkeypatch):
    """Every press hashed every entry and rebuilt every snapshot: presses made while one
    runs share the next one; a press never gets a verification that started before it."""
    import threading

    runs = []
    release = threading.Event()
    real = audit.verify_chain

    def verify():
        runs.append(1)
        if len(runs) == 1:
            release.wait(30)  # (the first holds the others back until they have all asked)
        return real()

    monkeypatch.setattr(audit, "verify_chain", verify)
    results = []
    first = threading.Thread(target=lambda: results.append(audit.shared_verification()))
    first.start()
    while not runs:
        release.wait(0.01)
    asked = audit._verification_asked
    others = [
        threading.Thread(target=lambda: results.append(audit.shared_verification()))
        for _ in range(3)
    ]
    for thread in others:
        thread.start()
    while audit._verification_asked < asked + 3:
        release.wait(0.01)
    release.set()
    for thread in (first, *others):
        thread.join(30)
    assert len(runs) == 2  # the first, then one for the three that asked meanwhile
    assert [result.ok for result in results] == [True] * 4
    # one after another, each press verifies the log as it is
    for _ in range(2):
        assert "✓ The chain verifies" in viewer.get("/audit/2/?verify=1").content.decode()
    assert len(runs) == 4


def test_a_verification_never_answers_a_press_made_after_the_log_changed(viewer, interventions):
    """It reused one for five minutes while the newest entry stayed: a row changed in the
    middle of the log meanwhile still showed as verified (and, repaired, as broken)."""
    assert "✓ The chain verifies" in viewer.get("/audit/2/?verify=1").content.decode()
    tamper("UPDATE checkpoints_admin_auditentry SET reason = 'tampered' WHERE seq = 2")
    assert "✗ Broken at entry #2" in viewer.get("/audit/3/?verify=1").content.decode()
    tamper(
        "UPDATE checkpoints_admin_auditentry SET reason = %s WHERE seq = 2",
        ["progress was reported wrong"],
    )
    assert "✓ The chain verifies" in viewer.get("/audit/3/?verify=1").content.decode()


def test_a_tampered_entry_shows_the_break(viewer, interventions):
    tamper("UPDATE checkpoints_admin_auditentry SET reason = 'nothing to see' WHERE seq = 2")
    html = viewer.get("/audit/2/").content.decode()
    assert "✗ Broken" in html
    assert "this entry does not match its hash" in html
    verify = viewer.get("/audit/3/?verify=1").content.decode()
    assert "✗ Broken at entry #2" in verify
    # entries before the break still verify
    assert (
        "✓ The chain verifies up to this entry" in viewer.get("/audit/1/?verify=1").content.decode()
    )


def test_missing_entries_are_404(viewer, interventions):
    missing = viewer.get("/audit/99/")
    assert missing.status_code == 404
    assert "There is no audit entry #99." in missing.content.decode()
    assert '<a href="/audit/">← Audit log</a>' in missing.content.decode()
    assert viewer.get("/audit/99/before").status_code == 404
    assert viewer.get("/audit/1/sideways").status_code == 404


def test_snapshots_are_the_exact_bytes(viewer, interventions):
    current = (interventions / "reconciliation_checkpoint.json").read_bytes()
    after = viewer.get("/audit/3/after")
    assert after.status_code == 200
    assert after.content == current
    assert after["Content-Security-Policy"] == "default-src 'none'; sandbox"
    before = viewer.get("/audit/1/before?download=1")
    assert json.loads(before.content)["pendingDates"] == ["2025-03-06", "2025-03-07"]
    assert before["Content-Disposition"] == (
        'attachment; filename="reconciliation_checkpoint.1.before.json"'
    )


def test_a_create_has_no_before_snapshot(viewer, checkpoints_dir):
    services.apply(
        "fresh",
        "create",
        {"document": {"id": "fresh", "status": "pending", "progress": 0}},
        actor=services.Actor(name="ops", source="web"),
        reason="new job",
    )
    assert viewer.get("/audit/1/before").status_code == 404
    html = viewer.get("/audit/1/").content.decode()
    assert '<p class="diff-summary">created</p>' in html
    assert "no file" in html


def test_exports(viewer, interventions):
    jsonl = viewer.get("/audit/export.jsonl")
    assert jsonl.status_code == 200
    assert jsonl["Content-Disposition"] == 'attachment; filename="audit.jsonl"'
    records = [json.loads(line) for line in b"".join(jsonl.streaming_content).splitlines()]
    assert [record["seq"] for record in records] == [1, 2, 3]
    only = viewer.get("/audit/export.csv?checkpoint=my-process")
    rows = list(csv.DictReader(io.StringIO(b"".join(only.streaming_content).decode())))
    assert [row["seq"] for row in rows] == ["2"]
    assert only["Content-Disposition"] == 'attachment; filename="audit-my-process.csv"'
    assert viewer.get("/audit/export.xml").status_code == 404


def exported_seqs(response) -> list[int]:
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).splitlines()
    return [json.loads(line)["seq"] for line in lines]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("actor=jane.doe", [1, 3]),
        ("source=cli", [2]),
        ("action=reprocess", [3]),
        ("checkpoint=reconciliation_checkpoint&action=skip", [1]),
        ("until=2000-01-01", []),
        ("since=2000-01-01&until=2999-12-31&actor=ops", [2]),
    ],
)
def test_an_export_takes_every_filter_of_the_log(viewer, interventions, query, expected):
    """The export next to a filtered log hands over what that log shows, all pages of it."""
    assert exported_seqs(viewer.get(f"/audit/export.jsonl?{query}")) == expected
    assert seqs(viewer.get(f"/audit/?{query}")) == expected[::-1]


def test_filtering_the_log_in_place_updates_the_export_links(viewer, interventions):
    """htmx swaps only the log: its response carries the export links along, out of band."""
    html = viewer.get("/audit/?actor=ops&before=9", headers=HTMX).content.decode()
    oob = r'<div id="audit-exports"[^>]*hx-swap-oob="true"[^>]*>(.*?)</div>'
    links = re.search(oob, html, re.S)
    assert links is not None
    assert 'href="/audit/export.jsonl?actor=ops"' in links.group(1)
    assert 'href="/audit/export.csv?actor=ops"' in links.group(1)
    full = viewer.get("/audit/?actor=ops").content.decode()
    assert full.count('id="audit-exports"') == 1
    assert "hx-swap-oob" not in full


@pytest.mark.parametrize(
    ("query", "field"),
    [("since=garbage", "since"), ("checkpoint=../x", "checkpoint"), ("until=2025-02-30", "until")],
)
def test_an_export_with_a_bad_filter_exports_nothing(viewer, interventions, query, field):
    """A filter that does not parse refuses the export: dropping it would hand over more."""
    response = viewer.get(f"/audit/export.jsonl?{query}")
    assert response.status_code == 400
    assert "Content-Disposition" not in response
    page = response.content.decode()
    assert f"Nothing was exported: {field}:" in page


def test_a_bad_filter_turns_the_export_links_off_on_the_log(viewer, interventions):
    """The log says the filter is wrong; its export links do not lead to the refusal."""
    for headers in ({}, HTMX):
        html = viewer.get("/audit/?actor=ops&since=garbage", headers=headers).content.decode()
        links = re.search(r'<div id="audit-exports"[^>]*>(.*?)</div>', html, re.S)
        assert links is not None
        assert "/audit/export" not in links.group(1)
        assert links.group(1).count('aria-disabled="true"') == 2
        assert "From: Enter a valid date." in html
    # a bad page position is not a filter: the export (which takes none) stays offered
    html = viewer.get("/audit/?actor=ops&before=x").content.decode()
    assert 'href="/audit/export.jsonl?actor=ops"' in html


def test_diff_between_two_checkpoints(viewer, samples_dir):
    response = viewer.get(
        "/diff/?a=checkpoint:reconciliation_checkpoint&b=checkpoint:daily_reconciliation_checkpoint"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert '<td class="pointer">/lastProcessedDate</td>' in html
    assert '<td class="before">&quot;2025-03-05&quot;</td>' in html
    assert '<td class="after">&quot;2025-03-04&quot;</td>' in html
    # the text diff's lines say in words whether they were added or removed, not by colour
    # and sign alone; its columns have headings; it scrolls, so it takes the keyboard focus
    assert '<div class="textdiff" tabindex="0" role="region" aria-label="Text diff">' in html
    assert '<th scope="col">Line before</th><th scope="col">Line after</th>' in html
    assert (
        '<span class="mark"><span aria-hidden="true">+</span>'
        '<span class="visually-hidden">added: </span></span>'
    ) in html
    assert (
        '<span class="mark"><span aria-hidden="true">−</span>'
        '<span class="visually-hidden">removed: </span></span>'
    ) in html


def test_diff_between_a_snapshot_and_the_current_file(viewer, interventions):
    html = viewer.get(
        "/diff/?a=entry:1:before&b=checkpoint:reconciliation_checkpoint"
    ).content.decode()
    assert "reconciliation_checkpoint before entry #1" in html
    assert "moved <code>/completedDates</code> → <code>/pendingDates</code>" in html


def test_diff_between_two_snapshots(viewer, interventions):
    html = viewer.get("/diff/?a=entry:1:before&b=entry:3:after").content.decode()
    assert '<p class="diff-summary">' in html
    assert "No change" not in html


def test_diff_with_an_absent_side_and_bad_input(viewer, interventions):
    html = viewer.get("/diff/?a=checkpoint:gone&b=checkpoint:my-process").content.decode()
    assert "no such checkpoint file: absent" in html
    assert '<p class="diff-summary">created</p>' in html
    bad = viewer.get("/diff/?a=../../etc/passwd&b=checkpoint:my-process")
    assert bad.status_code == 200
    assert "Give checkpoint:NAME or entry:NUMBER:before (or :after)." in bad.content.decode()
    # the message is tied to its field, which says it is wrong
    field = re.search(r'<input type="text" id="id_a"[^>]*>', bad.content.decode()).group(0)
    assert field.endswith(' aria-invalid="true" aria-describedby="id_a_error">')
    assert ' value="../../etc/passwd" ' in field  # kept as typed, to be corrected
    assert '<ul class="errorlist" id="id_a_error" role="alert">' in bad.content.decode()
    missing = viewer.get("/diff/?a=entry:99:before&b=checkpoint:my-process")
    assert missing.status_code == 404
    page = missing.content.decode()
    assert "There is no audit entry #99." in page  # next to its field, the form kept
    assert 'value="entry:99:before"' in page and '<input type="text" id="id_b"' in page


def test_the_sides_offer_the_checkpoints_recent_versions(viewer, interventions):
    page = viewer.get("/diff/?a=checkpoint:reconciliation_checkpoint").content.decode()
    offered = page.split('<datalist id="sides">')[1].split("</datalist>")[0]
    versions = re.findall(r'<option value="(entry:[^"]+)" label="([^"]+)">', offered)
    assert versions and all(value.startswith("entry:") for value, _ in versions)
    assert {label.split(" #")[0] for _, label in versions} <= {"before", "after"}
    assert '<option value="checkpoint:my-process">' in offered


def test_large_list_changes_are_summarised_and_paged(viewer, checkpoints_dir, monkeypatch):
    """With htmx, a page of the list comes from the lists the entry's page made: the two
    snapshots are not read, parsed and diffed again (a second for a million items)."""
    pending = [f"2024-{month:02d}-{day:02d}" for month in range(1, 4) for day in range(1, 29)]
    write_json(checkpoints_dir, "many", {"pendingDates": pending, "completedDates": []})
    services.apply(
        "many",
        "skip",
        {"dates": ["2024-01-01..2024-03-28"]},
        actor=services.Actor(name="ops", source="web"),
        reason="skip the quarter",
    )
    html = viewer.get("/audit/1/").content.decode()
    assert "<strong>84</strong>" in html
    assert "the first 50 of 84" in html
    assert "Show all 84, paged" in html
    expanded = viewer.get("/audit/1/?group=m0&page=1").content.decode()
    assert "1–84 of 84" in expanded
    diffs = []
    real_diff = audit_views.present_diff
    monkeypatch.setattr(
        audit_views, "present_diff", lambda *a, **k: diffs.append(a) or real_diff(*a, **k)
    )
    fragment = viewer.get("/audit/1/?group=m0&page=1", headers=HTMX).content.decode()
    assert fragment.lstrip().startswith('<div id="values-m0"')
    assert fragment.count("<li>") == 84
    assert diffs == []
    assert viewer.get("/audit/1/?group=zz&page=1", headers=HTMX).status_code == 200
    assert len(diffs) == 1  # a list it does not have: the page made again, as before


def test_an_entry_lists_the_findings_its_result_had(viewer, interventions):
    html = viewer.get("/audit/3/").content.decode()
    assert "<h2>Findings when applied</h2>" in html
    assert (
        '<li class="finding finding--warning"><span class="finding__sev">warning</span>'
        '<code class="finding__pointer">/pendingDates</code><span>2025-03-05 is inside the range'
    ) in html
