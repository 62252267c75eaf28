"""One checkpoint's page: summary, findings, calendar, lists, raw bytes, history, errors."""

from __future__ import annotations

import html
import os
import re
from datetime import date, timedelta

import pytest

from checkpoints_admin import audit, services
from checkpoints_admin.conf import get_store
from tests.web.conftest import write_json

HTMX = {"HX-Request": "true"}
URL = "/checkpoints/reconciliation_checkpoint/"


def day(html: str, iso: str) -> str | None:
    """The state of a calendar day cell, None when the day is not on the page."""
    match = re.search(rf'data-date="{iso}" data-state="(\w+)"', html)
    return match.group(1) if match else None


def values(html: str) -> list[str]:
    block = re.search(r'<ol class="values[^"]*">(.*?)</ol>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", block.group(1)) if block else []


def test_the_summary_card(viewer, samples_dir):
    response = viewer.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<h1 class="mono">reconciliation_checkpoint</h1>' in html
    assert '<span class="badge badge--stalled badge--lg">' in html
    assert "<strong>7,231</strong> / 8,564 records" in html
    assert "<strong>4</strong> / 6 dates" in html
    assert "<strong>84.4 %</strong>" in html
    assert "24.0 rec/s" in html
    assert "2025-03-01 → 2025-03-07" in html
    assert (
        'href="/checkpoints/reconciliation_checkpoint/?tab=calendar&amp;month=first-gap">1 date</a>'
        in html
    )
    # the stats of the document, each as a tile
    assert '<dt class="mono">failedRecords</dt><dd>42</dd>' in html
    assert '<dt class="mono">totalRecords</dt><dd>8,564</dd>' in html


def test_findings_show_severity_pointer_and_message(viewer, samples_dir):
    html = viewer.get(URL).content.decode()
    findings = re.findall(
        r'<li class="finding finding--(\w+)">\s*<span class="finding__sev">\w+</span>\s*'
        r'<code class="finding__pointer">([^<]*)</code>\s*<span>([^<]*)</span>',
        html,
    )
    assert [(severity, pointer) for severity, pointer, _ in findings] == [
        ("warning", "/pendingDates"),
        ("warning", "/lastUpdateTime"),
    ]
    assert "2025-03-05" in findings[0][2]
    assert "not updated for" in findings[1][2]


def test_errors_come_before_warnings(viewer, checkpoints_dir):
    write_json(
        checkpoints_dir,
        "clash",
        {
            "pendingDates": ["2025-03-02", "2025-03-05"],
            "completedDates": ["2025-03-01", "2025-03-02"],
            "startTime": 1709742856123,
            "lastUpdateTime": 1709743156789,
        },
    )
    html = viewer.get("/checkpoints/clash/").content.decode()
    severities = re.findall(r'<li class="finding finding--(\w+)">', html)
    assert severities[0] == "error"
    assert severities == sorted(severities)  # "error" < "warning"
    assert day(html, "2025-03-02") == "conflict"


def test_the_calendar_shows_each_day_state(viewer, samples_dir):
    html = viewer.get(URL).content.decode()
    assert "<h3>March 2025</h3>" in html
    assert day(html, "2025-03-01") == "completed"
    assert day(html, "2025-03-04") == "completed"
    assert day(html, "2025-03-05") == "gap"
    assert day(html, "2025-03-06") == "pending"
    assert day(html, "2025-03-07") == "pending"
    assert day(html, "2025-03-08") == "outside"
    assert 'title="2025-03-05 · gap: inside the range, in neither list"' in html
    # weekday rows: 2025-03-01 is a Saturday
    saturday = html.index('<span class="calendar__label" role="rowheader">Sat</span>')
    sunday = html.index('<span class="calendar__label" role="rowheader">Sun</span>')
    assert saturday < html.index('data-date="2025-03-01"') < sunday
    assert "Jump to first gap" in html


def test_the_calendar_pages_by_month(viewer, samples_dir):
    html = viewer.get(URL + "?tab=calendar&month=2025-02").content.decode()
    assert "<h3>February 2025</h3>" in html
    assert day(html, "2025-02-28") == "outside"
    assert day(html, "2025-03-01") is None
    assert 'href="/checkpoints/reconciliation_checkpoint/?tab=calendar&amp;month=2025-01"' in html
    assert 'href="/checkpoints/reconciliation_checkpoint/?tab=calendar&amp;month=2025-03"' in html


def test_jump_to_the_first_gap(viewer, checkpoints_dir):
    completed = [(date(2024, 1, 1) + timedelta(days=n)).isoformat() for n in range(400)]
    completed.remove("2025-01-20")
    write_json(
        checkpoints_dir,
        "long",
        {
            "pendingDates": ["2025-02-04", "2025-02-05"],
            "completedDates": completed,
            "startTime": 1709742856123,
            "lastUpdateTime": 1709743156789,
        },
    )
    default = viewer.get("/checkpoints/long/").content.decode()
    assert "<h3>February 2025</h3>" in default  # the first pending date's month
    html = viewer.get("/checkpoints/long/?tab=calendar&month=first-gap").content.decode()
    assert "<h3>January 2025</h3>" in html
    assert "First gap: <code>2025-01-20</code>" in html
    assert 'class="day day--gap day--target" data-date="2025-01-20"' in html


def test_a_bad_month_shows_the_default_month(viewer, samples_dir):
    for bad in ("2025-13", "March", "2025-02-30", "<script>"):
        response = viewer.get(URL, {"tab": "calendar", "month": bad})
        assert response.status_code == 200
        assert "<h3>March 2025</h3>" in response.content.decode()


def test_daily_kind_calendar(viewer, samples_dir):
    html = viewer.get("/checkpoints/daily_reconciliation_checkpoint/").content.decode()
    assert day(html, "2025-03-04") == "completed"
    assert day(html, "2025-03-05") == "pending"
    assert day(html, "2025-03-03") == "outside"


def test_managed_kind_shows_its_items(viewer, samples_dir):
    html = viewer.get("/checkpoints/my-process/").content.decode()
    assert "Calendar" not in html
    assert 'aria-current="page">Items</a>' in html
    assert '<h2 id="tabs-title" class="visually-hidden">Items</h2>' in html
    assert values(html) == ["item2", "item3"]
    assert 'Processed items <span class="count-pill">1</span>' in html
    other = viewer.get("/checkpoints/my-process/?tab=lists&list=processedItems").content.decode()
    assert values(other) == ["item1"]


def test_date_lists_and_their_search(viewer, samples_dir):
    html = viewer.get(URL + "?tab=lists&list=completedDates").content.decode()
    assert values(html) == ["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04"]
    html = viewer.get(URL + "?tab=lists&list=completedDates&q=03-0").content.decode()
    assert len(values(html)) == 4
    html = viewer.get(URL + "?tab=lists&list=completedDates&q=03-02").content.decode()
    assert values(html) == ["2025-03-02"]
    assert "matching “03-02”" in html
    html = viewer.get(URL + "?tab=lists&list=completedDates&q=1999").content.decode()
    assert "Nothing matches “1999”." in html


def test_the_tabs_swapped_in_alone_search_and_link_on_the_page_address(viewer, samples_dir):
    """The tabs partial (htmx) has the page's address for its search form: an empty one made
    htmx search on the current address, repeating its query (?tab=lists&…&tab=lists&…)."""
    tabs = viewer.get(URL + "?tab=lists&list=completedDates", headers=HTMX).content.decode()
    assert f'<form method="get" action="{URL}" role="search" hx-get="{URL}"' in tabs
    assert f'href="{URL}?tab=calendar" hx-get="{URL}?tab=calendar"' in tabs


def test_an_unknown_list_name_shows_the_first_list(viewer, samples_dir):
    html = viewer.get(URL + "?tab=lists&list=nope").content.decode()
    assert values(html) == ["2025-03-06", "2025-03-07"]


@pytest.fixture
def big(checkpoints_dir):
    """A unified checkpoint with 200,000 pending dates."""
    start = date(1500, 1, 1).toordinal()
    pending = [date.fromordinal(start + n).isoformat() for n in range(200_000)]
    write_json(
        checkpoints_dir,
        "big",
        {
            "pendingDates": pending,
            "completedDates": [],
            "startTime": 1709742856123,
            "lastUpdateTime": 1709743156789,
        },
    )
    return pending


def test_a_big_checkpoint_is_paginated(viewer, big):
    html = viewer.get("/checkpoints/big/?tab=lists").content.decode()
    assert values(html) == big[:50]
    assert "1–50 of 200,000" in html
    assert "Page 1 of 4,000" in html
    assert len(html) < 200_000
    last = viewer.get("/checkpoints/big/?tab=lists&page=4000").content.decode()
    assert values(last) == big[-50:]
    found = viewer.get("/checkpoints/big/?tab=lists&q=1600-02-").content.decode()
    assert values(found) == [f"1600-02-{n:02d}" for n in range(1, 30)]


def test_a_big_checkpoint_calendar_and_raw_are_bounded(viewer, big):
    html = viewer.get("/checkpoints/big/").content.decode()
    assert "<h3>January 1500</h3>" in html
    assert html.count('data-state="pending"') == 31
    raw_tab = viewer.get("/checkpoints/big/?tab=raw").content.decode()
    assert "the first 256.0\xa0KB are shown" in raw_tab
    assert len(raw_tab) < 450_000


def test_the_raw_tab_pretty_prints_the_document(viewer, samples_dir):
    html = viewer.get(URL + "?tab=raw").content.decode()
    assert (
        '<pre class="code" tabindex="0">{\n  &quot;lastProcessedDate&quot;: &quot;2025-03-05&quot;,'
        in html
    )
    assert 'href="/checkpoints/reconciliation_checkpoint/raw?download=1" download' in html


def test_raw_serves_the_exact_bytes(viewer, checkpoints_dir):
    raw = b'{"id":"x","status":"running","progress":5}'
    (checkpoints_dir / "compact.json").write_bytes(raw)
    response = viewer.get("/checkpoints/compact/raw")
    assert response.status_code == 200
    assert response.content == raw
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == 'inline; filename="compact.json"'
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    download = viewer.get("/checkpoints/compact/raw?download=1")
    assert download["Content-Disposition"] == 'attachment; filename="compact.json"'
    assert download.content == raw


def test_a_corrupt_file_shows_its_error_the_lines_around_and_a_raw_link(viewer, checkpoints_dir):
    raw = b'{\n  "pendingDates": [\n    "2025-03-01",\n  ],\n  "x": 1\n}\n'
    (checkpoints_dir / "broken.json").write_bytes(raw)
    response = viewer.get("/checkpoints/broken/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<span class="badge badge--corrupt">' in html
    assert "This file is not a readable checkpoint document." in html
    assert '<li class="is-bad"><span class="ln">3</span>' in html
    assert 'href="/checkpoints/broken/raw"' in html
    assert viewer.get("/checkpoints/broken/raw").content == raw


def test_history_tab_lists_the_audit_entries(viewer, samples_dir):
    actor = services.Actor(name="jane.doe", source="web", address="10.0.0.7")
    services.apply(
        "reconciliation_checkpoint",
        "skip",
        {"dates": ["2025-03-06"]},
        actor=actor,
        reason="bad day",
    )
    html = viewer.get(URL + "?tab=history").content.decode()
    assert '<a href="/audit/1/">1</a>' in html
    assert "jane.doe" in html
    assert "2025-03-06 pendingDates → completedDates" in html
    assert '<td class="audit__reason"><q title="bad day">bad day</q></td>' in html  # why
    assert 'href="/diff/?a=entry:1:after&amp;b=checkpoint:reconciliation_checkpoint"' in html
    # the page now shows the file after the skip
    assert day(viewer.get(URL).content.decode(), "2025-03-06") == "completed"


def test_history_tab_shows_an_old_reset_without_repeating_its_action(viewer, samples_dir):
    # resets were recorded as "reset: deleted file …"; the action chip says "reset" already
    audit.append_entry(
        actor="ops",
        source="cli",
        action="reset",
        checkpoint="reconciliation_checkpoint",
        reason="start again",
        summary="reset: deleted file reconciliation_checkpoint.json (12 bytes kept)",
    )
    html = viewer.get(URL + "?tab=history").content.decode()
    assert (
        '<td class="wrap">deleted file reconciliation_checkpoint.json (12 bytes kept)</td>' in html
    )


def test_history_tab_without_entries(viewer, samples_dir):
    assert "No interventions recorded." in viewer.get(URL + "?tab=history").content.decode()


def test_htmx_requests_get_the_fragment_they_swap(viewer, samples_dir):
    tabs = viewer.get(URL + "?tab=raw", headers=HTMX).content.decode()
    assert tabs.lstrip().startswith('<section id="tabs"')
    assert "<html" not in tabs
    overview = viewer.get(URL + "?part=overview", headers=HTMX).content.decode()
    assert overview.lstrip().startswith('<div id="overview"')
    assert "Findings" in overview
    results = viewer.get(
        URL + "?tab=lists&list=completedDates&q=03-01",
        headers={**HTMX, "HX-Target": "list-results"},
    ).content.decode()
    assert results.lstrip().startswith('<div id="list-results"')
    assert values(results) == ["2025-03-01"]


def test_a_missing_checkpoint_is_a_404_page(viewer, samples_dir):
    response = viewer.get("/checkpoints/nope/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "There is no checkpoint named “nope”." in html
    assert "Checkpoints Admin" in html  # the console's layout, not a bare error
    assert viewer.get("/checkpoints/nope/raw").status_code == 404


def test_a_name_in_the_wrong_case_is_answered_with_the_one_meant(signed_in, samples_dir):
    operator = signed_in("operator")
    for typed, url in (
        ("RECONCILIATION_CHECKPOINT", "/checkpoints/RECONCILIATION_CHECKPOINT/"),
        ("RECONCILIATION_CHECKPOINT", "/checkpoints/RECONCILIATION_CHECKPOINT/raw"),
        ("Reconciliation_Checkpoint", "/checkpoints/Reconciliation_Checkpoint/skip/"),
    ):
        response = operator.get(url)
        assert response.status_code == 404, url
        assert (
            f"There is no checkpoint named “{typed}”. Did you mean reconciliation_checkpoint?"
        ) in response.content.decode(), url
    # Two that differ only in case: no guess between them.
    write_json(samples_dir, "Job", {"id": "a"})
    write_json(samples_dir, "JOB", {"id": "b"})
    html = operator.get("/checkpoints/job/").content.decode()
    assert "There is no checkpoint named “job”." in html
    assert "Did you mean" not in html


def test_findings_quote_an_integer_beyond_64_bits_as_the_file_has_it(viewer, samples_dir):
    path = samples_dir / "reconciliation_checkpoint.json"
    path.write_bytes(
        path.read_bytes().replace(
            b'"totalRecords": 8564', b'"totalRecords": 99999999999999999999999'
        )
    )
    page = viewer.get("/checkpoints/reconciliation_checkpoint/").content.decode()
    assert "totalRecords must be a whole number, not 99999999999999999999999" in page
    assert "not 1e+23" not in page
    info = {i.name: i for i in get_store().list()}["reconciliation_checkpoint"]
    assert [f.message for f in info.findings if f.pointer == "/stats/totalRecords"] == [
        "totalRecords must be a whole number, not 99999999999999999999999"
    ]


def test_the_raw_tab_shows_an_integer_beyond_64_bits_as_the_file_has_it(viewer, samples_dir):
    path = samples_dir / "reconciliation_checkpoint.json"
    written = path.read_bytes().replace(
        b'"totalRecords": 8564', b'"totalRecords": 99999999999999999999999'
    )
    path.write_bytes(written)
    page = viewer.get("/checkpoints/reconciliation_checkpoint/?tab=raw").content.decode()
    shown = page.split('<pre class="code" tabindex="0">')[1].split("</pre>")[0]
    assert html.unescape(shown) == written.decode()
    assert "Shown as the file has it, not laid out again" in page
    # any other file is laid out as always
    page = viewer.get("/checkpoints/my-process/?tab=raw").content.decode()
    assert "Shown as the file has it" not in page


def test_a_name_the_protocol_refuses_is_a_400_page(viewer, samples_dir):
    (samples_dir / "x.lock.json").write_text("{}")
    response = viewer.get("/checkpoints/x.lock/")
    assert response.status_code == 400
    assert "Bad request" in response.content.decode()
    assert viewer.get("/checkpoints/x.lock/raw").status_code == 400


SECRET = b'{"secret": "outside-the-directory-7f3a"}'

TRAVERSALS = (
    "/checkpoints/..%2Fsecret/",
    "/checkpoints/..%2fsecret/raw",
    "/checkpoints/%2e%2e%2fsecret/raw",
    "/checkpoints/..%252Fsecret/raw",
    "/checkpoints/%252e%252e%252fsecret/",
    "/checkpoints/secret%00/raw",
    "/checkpoints/my-process%00.json/raw",
    "/checkpoints/../secret/raw",
    "/checkpoints/..%5Csecret/raw",
    "/checkpoints/.secret/raw",
    "/checkpoints/%2Ftmp%2Fsecret/raw",
)


@pytest.mark.parametrize("url", TRAVERSALS)
def test_traversal_attempts_never_reach_the_filesystem(viewer, samples_dir, url):
    (samples_dir.parent / "secret.json").write_bytes(SECRET)
    response = viewer.get(url)
    assert response.status_code in (400, 404)
    assert b"outside-the-directory" not in response.content


def test_a_symlink_leaving_the_directory_is_refused(viewer, samples_dir):
    outside = samples_dir.parent / "secret.json"
    outside.write_bytes(SECRET)
    os.symlink(outside, samples_dir / "escape.json")
    for url in ("/checkpoints/escape/", "/checkpoints/escape/raw"):
        response = viewer.get(url)
        # a good name whose file is refused: not a bad request
        assert response.status_code == 403
        assert b"is a symbolic link that leads outside the checkpoints directory" in (
            response.content
        )
        assert SECRET not in response.content


def test_a_checkpoint_removed_or_broken_while_open_reloads_the_page(viewer, samples_dir):
    path = samples_dir / "my-process.json"
    path.write_text("{")
    poll = viewer.get("/checkpoints/my-process/?part=overview", headers=HTMX)
    assert poll.status_code == 200
    assert poll["HX-Refresh"] == "true"
    path.unlink()
    poll = viewer.get("/checkpoints/my-process/?part=overview", headers=HTMX)
    assert poll["HX-Refresh"] == "true"
    assert viewer.get("/checkpoints/my-process/").status_code == 404


# --- a checkpoint the audit log knows that has no file now -----------------------------------


def reset(name: str, actor: str = "ada.admin", reason: str = "job rewritten, start over"):
    return services.apply(
        name,
        "reset",
        {},
        actor=services.Actor(name=actor, source="web", address="10.0.0.9"),
        reason=reason,
    ).entry


def test_a_reset_checkpoint_shows_its_reset_history_and_restore(signed_in, samples_dir):
    operator = signed_in("operator")
    skip = services.apply(
        "reconciliation_checkpoint",
        "skip",
        {"dates": ["2025-03-06"]},
        actor=services.Actor(name="jane.doe", source="cli"),
        reason="bad day",
    ).entry
    entry = reset("reconciliation_checkpoint", reason="upstream replayed <everything>")
    response = operator.get(URL)
    assert response.status_code == 404
    html = response.content.decode()
    assert "This checkpoint has no file now" in html
    assert '<span class="chip chip--action chip--reset">reset</span> by' in html
    assert "<strong>ada.admin</strong>" in html
    assert f'<a href="/audit/{entry.seq}/">entry #{entry.seq}</a>' in html
    assert '<blockquote class="reason">upstream replayed &lt;everything&gt;</blockquote>' in html
    # the last entries, newest first, and the log filtered to this checkpoint
    assert re.findall(r'<td class="num"><a href="/audit/(\d+)/">', html) == [
        str(entry.seq),
        str(skip.seq),
    ]
    assert "diff with current" not in html  # there is no current file
    assert 'href="/audit/?checkpoint=reconciliation_checkpoint"' in html
    restore = f"/checkpoints/reconciliation_checkpoint/restore/?entry={entry.seq}&amp;side=before"
    assert f'<a class="button button--primary" href="{restore}" data-restore>' in html
    # the link leads to the restore flow's preview of the content before the reset
    preview = operator.get(restore.replace("&amp;", "&"))
    assert preview.status_code == 200
    assert 're-creates <span class="mono">reconciliation_checkpoint.json</span>' in (
        preview.content.decode()
    )


def test_a_viewer_sees_the_history_of_a_reset_checkpoint_but_no_restore(viewer, samples_dir):
    entry = reset("my-process")
    response = viewer.get("/checkpoints/my-process/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "This checkpoint has no file now" in html
    assert f'<a href="/audit/{entry.seq}/">entry #{entry.seq}</a>' in html
    assert "/restore/" not in html
    assert "Restore…" not in html


def test_a_checkpoint_removed_outside_the_console_offers_its_last_recorded_content(
    signed_in, samples_dir
):
    operator = signed_in("operator")
    skip = services.apply(
        "reconciliation_checkpoint",
        "skip",
        {"dates": ["2025-03-06"]},
        actor=services.Actor(name="jane.doe", source="web"),
        reason="bad day",
    ).entry
    (samples_dir / "reconciliation_checkpoint.json").unlink()
    response = operator.get(URL)
    assert response.status_code == 404
    html = response.content.decode()
    assert "It was removed since outside the console" in html
    assert (
        f"/checkpoints/reconciliation_checkpoint/restore/?entry={skip.seq}&amp;side=after" in html
    )


def test_a_checkpoint_name_the_log_never_saw_keeps_the_plain_404(signed_in, samples_dir):
    reset("my-process")
    response = signed_in("operator").get("/checkpoints/never-seen/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "There is no checkpoint named “never-seen”." in html
    assert "no file now" not in html


def test_without_the_audit_log_a_reset_checkpoint_is_the_plain_404(make_user, samples_dir):
    from django.contrib.auth.models import Permission
    from django.test import Client

    reset("my-process")
    user = make_user("")
    user.user_permissions.add(Permission.objects.get(codename="view_checkpoints"))
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/checkpoints/my-process/")
    assert response.status_code == 404
    assert "There is no checkpoint named “my-process”." in response.content.decode()
    assert "ada.admin" not in response.content.decode()
