"""The list of checkpoints: columns, search, filters, sort, pages, the live htmx partial."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import write_json

HTMX = {"HX-Request": "true"}


def names(response) -> list[str]:
    return re.findall(
        r'<td class="name mono"><a href="/checkpoints/([^/]+)/">', response.content.decode()
    )


def managed(progress: int, status: str = "running") -> dict:
    return {
        "id": "job",
        "created": "2025-03-06T09:00:00.000Z",
        "lastUpdated": "2025-03-06T09:05:00.000Z",
        "status": status,
        "progress": progress,
        "processedItems": [],
        "pendingItems": [],
    }


def test_the_page_lists_every_sample_with_its_columns(viewer, samples_dir):
    response = viewer.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert names(response) == [
        "daily_reconciliation_checkpoint",
        "my-process",
        "reconciliation_checkpoint",
    ]
    assert "<title>Checkpoints · Checkpoints Admin</title>" in html
    assert '<td class="kind" title="unified-reconciliation">unified</td>' in html
    assert '<td class="kind" title="daily-reconciliation">daily</td>' in html
    assert '<td class="kind" title="managed">managed</td>' in html
    # unified: records-based progress and rate, 2 completed and 4 pending dates
    assert "84.4 %" in html
    assert "24.0 rec/s" in html
    assert '<span class="count count--warning" title="2 warnings">2</span>' in html
    assert "3 checkpoint files" in html
    assert 'hx-trigger="every 5s, visible-again from:document"' in html
    # the messages' live region is there, empty, for messages an htmx step sends later
    assert '<div class="messages" role="status"></div>' in html


def test_state_counts_and_badges(viewer, samples_dir):
    html = viewer.get("/").content.decode()
    # The seed's jobs were last updated in 2024/2025: far beyond the stale threshold.
    assert html.count('<span class="badge badge--stalled">') == 4  # 3 rows + the chip
    assert 'aria-current="true"' not in html


def test_search_by_name_is_case_insensitive(viewer, samples_dir):
    assert names(viewer.get("/?q=DAILY")) == ["daily_reconciliation_checkpoint"]
    response = viewer.get("/?q=nothing-like-this")
    assert names(response) == []
    html = response.content.decode()
    assert "No checkpoint matches these filters." in html
    assert re.search(
        r'<div class="table-meta">\s*<span data-announce>\s*0 of 3 match\s*</span>', html
    )
    assert "<thead>" not in html  # no column headings to sort over an empty table


def test_filter_by_state_and_kind(viewer, samples_dir):
    write_json(samples_dir, "finished", managed(100, "completed"))
    write_json(samples_dir, "broken-job", managed(10, "failed"))
    assert names(viewer.get("/?state=completed")) == ["finished"]
    assert names(viewer.get("/?state=failed")) == ["broken-job"]
    assert names(viewer.get("/?kind=managed")) == ["broken-job", "finished", "my-process"]
    assert names(viewer.get("/?kind=managed&state=stalled")) == ["my-process"]


def test_unknown_filter_values_fall_back_to_defaults(viewer, samples_dir):
    response = viewer.get("/?state=exploded&kind=<b>&sort=nope&order=sideways&page=-3")
    assert response.status_code == 200
    assert len(names(response)) == 3


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "sort=progress&order=desc",
            ["reconciliation_checkpoint", "daily_reconciliation_checkpoint", "my-process"],
        ),
        (
            "sort=name&order=desc",
            ["reconciliation_checkpoint", "my-process", "daily_reconciliation_checkpoint"],
        ),
        (
            "sort=pending",
            ["daily_reconciliation_checkpoint", "my-process", "reconciliation_checkpoint"],
        ),
        (
            "sort=rate&order=desc",
            ["reconciliation_checkpoint", "my-process", "daily_reconciliation_checkpoint"],
        ),
        (
            "sort=warnings&order=desc",
            ["reconciliation_checkpoint", "daily_reconciliation_checkpoint", "my-process"],
        ),
    ],
)
def test_sort_by_any_column(viewer, samples_dir, query, expected):
    assert names(viewer.get(f"/?{query}")) == expected


def test_rows_without_a_value_sort_last_both_ways(viewer, samples_dir):
    # daily has no rate: last ascending and descending
    assert names(viewer.get("/?sort=rate"))[-1] == "daily_reconciliation_checkpoint"
    assert names(viewer.get("/?sort=rate&order=desc"))[-1] == "daily_reconciliation_checkpoint"


def test_the_sorted_column_header_shows_its_direction_and_links_to_the_other(viewer, samples_dir):
    html = viewer.get("/?sort=eta&order=asc&q=re").content.decode()
    assert 'aria-sort="ascending"' in html
    assert 'href="?sort=eta&amp;order=desc&amp;q=re"' in html
    # the page's sort travels with the filter form
    assert '<input type="hidden" name="sort" value="eta" form="filters">' in html


def test_fifty_per_page(viewer, checkpoints_dir):
    for index in range(120):
        write_json(checkpoints_dir, f"job-{index:03d}", managed(index % 100))
    first = viewer.get("/")
    assert names(first) == [f"job-{index:03d}" for index in range(50)]
    html = first.content.decode()
    assert "1–50 of 120" in html
    assert "Page 1 of 3" in html
    assert 'href="?page=2"' in html
    third = viewer.get("/?page=3")
    assert names(third) == [f"job-{index:03d}" for index in range(100, 120)]
    assert names(viewer.get("/?page=999")) == names(third)
    assert names(viewer.get("/?page=abc")) == names(first)


def test_filters_keep_the_page_links_consistent(viewer, checkpoints_dir):
    for index in range(60):
        write_json(checkpoints_dir, f"job-{index:03d}", managed(50))
    html = viewer.get("/?q=job&sort=name&order=desc").content.decode()
    assert 'href="?q=job&amp;sort=name&amp;order=desc&amp;page=2"' in html


def test_the_htmx_request_gets_only_the_table(viewer, samples_dir):
    response = viewer.get("/?q=my", headers=HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="checkpoint-table"')
    assert "<html" not in html
    assert "<form" not in html
    assert names(response) == ["my-process"]
    assert 'hx-get="/?q=my"' in html
    assert "HX-Request" in response["Vary"]


def test_a_history_restore_gets_the_whole_page(viewer, samples_dir):
    response = viewer.get("/", headers={**HTMX, "HX-History-Restore-Request": "true"})
    assert "<html" in response.content.decode()


def test_the_live_table_shows_files_created_changed_and_removed_by_jobs(viewer, samples_dir):
    assert "new-job" not in names(viewer.get("/", headers=HTMX))
    write_json(samples_dir, "new-job", managed(20))
    response = viewer.get("/", headers=HTMX)
    assert "new-job" in names(response)
    assert "20.0 %" in response.content.decode()
    write_json(samples_dir, "new-job", managed(75))
    assert "75.0 %" in viewer.get("/?q=new-job", headers=HTMX).content.decode()
    (samples_dir / "new-job.json").unlink()
    assert "new-job" not in names(viewer.get("/", headers=HTMX))


def test_corrupt_files_are_listed_with_their_error_and_a_raw_link(viewer, samples_dir):
    (samples_dir / "broken.json").write_bytes(b'{"pendingDates": ["2025-03-01",\n')
    response = viewer.get("/?state=corrupt")
    assert names(response) == ["broken"]
    html = response.content.decode()
    assert '<span class="badge badge--corrupt">' in html
    assert '<a href="/checkpoints/broken/raw">raw bytes</a>' in html
    assert "line 2" in html
    # one error in the Errors column, as the status feed and the sort count it
    assert '<span class="count count--error" title="1 error">1</span>' in html


def test_files_left_out_of_the_list_are_named_with_why(viewer, samples_dir, tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text('{"secret": true}')
    (samples_dir / "evil.json").symlink_to(secret)
    (samples_dir / "café.json").write_text("{}")
    (samples_dir / "copy.json.json").write_text("{}")
    (samples_dir / "folder.json").mkdir()
    response = viewer.get("/")
    assert not {"evil", "café", "copy.json", "folder"} & set(names(response))
    opening = '<div class="alert alert--warning alert--page" role="status">'
    notice = response.content.decode().split(opening)[1]
    notice = " ".join(notice.split("</div>")[0].split())
    assert notice == (
        "<p><strong>Not listed:</strong> <code>café.json</code>, <code>copy.json.json</code>: "
        "not checkpoint names (letters, digits, dot, dash and underscore, starting with a "
        "letter or digit). <code>evil.json</code>: symbolic links leading outside the "
        "checkpoints directory: refused and never read. <code>folder.json</code>: not regular "
        "files.</p>"
    )
    assert str(tmp_path) not in notice and "secret" not in notice  # the target is not told

    for path in ("evil.json", "café.json", "copy.json.json"):
        (samples_dir / path).unlink()
    (samples_dir / "folder.json").rmdir()
    assert "Not listed" not in viewer.get("/").content.decode()


def test_files_that_are_not_checkpoints_are_not_listed(viewer, samples_dir):
    (samples_dir / "notes.txt").write_text("hello")
    (samples_dir / "my-process.json.lock").write_text("")
    assert len(names(viewer.get("/"))) == 3


def test_an_empty_directory_says_where_checkpoints_come_from(viewer, checkpoints_dir):
    html = viewer.get("/").content.decode()
    assert "No checkpoint files yet." in html
    assert f"Jobs create them in {checkpoints_dir}; they appear here within seconds." in html
    assert "alert--warning" not in html
    assert "0 checkpoint files" in html
    assert re.search(
        r'<div class="table-meta">\s*<span data-announce>\s*0 checkpoints\s*</span>', html
    )


DAILY_PENDING = '{"completedDates": [], "pendingDates": ["2025-03-06"]}\n'


def test_an_empty_directory_the_audit_log_knows_checkpoints_of_is_a_warning(
    viewer, make_user, checkpoints_dir
):
    """A wrong CHECKPOINTS_DIR or a volume not mounted (an empty one, in a container) looked
    like a fresh install; the audit log knows better, unless its last change was a reset.
    Who may not read the log learns only that it records checkpoints."""
    from django.contrib.auth.models import Permission
    from django.test import Client

    from checkpoints_admin import services

    actor = services.Actor("ops", "cli")
    (checkpoints_dir / "daily.json").write_text(DAILY_PENDING)
    services.apply("daily", "skip", {"dates": ["2025-03-06"]}, actor=actor, reason="r")
    (checkpoints_dir / "daily.json").unlink()  # (as if another directory were mounted)
    html = viewer.get("/").content.decode()
    assert 'class="alert alert--warning alert--page"' in html
    assert (
        f"The checkpoints directory {checkpoints_dir} is empty, yet the audit log&#x27;s "
        "latest entry, #1 (skip of &#x27;daily&#x27;, "
        in html
        and "is about a checkpoint that should be in it. Check that CHECKPOINTS_DIR is the "
        "directory the jobs write to"
        in html
    )
    # The table's refresh (a fragment, shared by every reader) says only what is there.
    fragment = viewer.get("/", headers={"HX-Request": "true"}).content.decode()
    assert "No checkpoint files yet." in fragment and "alert" not in fragment

    lister = make_user("", username="lister")
    lister.user_permissions.add(Permission.objects.get(codename="view_checkpoints"))
    client = Client()
    client.force_login(lister, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/audit/").status_code in (302, 403)
    html = client.get("/").content.decode()
    assert (
        f"The checkpoints directory {checkpoints_dir} is empty, yet the audit log records "
        "changes to checkpoints that should be in it." in html
    )
    assert "#1" not in html and "&#x27;daily&#x27;" not in html

    # A file left out of the list (its name is not a checkpoint's): not empty, and said so.
    (checkpoints_dir / "da ily.json").write_text("{}")
    html = viewer.get("/").content.decode()
    assert "is empty, yet" not in html and "Not listed:" in html
    (checkpoints_dir / "da ily.json").unlink()

    (checkpoints_dir / "daily.json").write_text('{"pendingDates": []}\n')
    services.apply("daily", "reset", {}, actor=actor, reason="start over")
    html = viewer.get("/").content.decode()
    assert "alert--warning" not in html
    assert f"Jobs create them in {checkpoints_dir}; they appear here within seconds." in html


def test_sorting_by_eta_puts_jobs_that_show_none_last(viewer, checkpoints_dir):
    """Stalled and failed jobs show no ETA (they will not finish on their own), so they sort
    with the rows that have none, though their last rate gives a shorter one."""
    from datetime import UTC, datetime, timedelta

    def stamp(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    now = datetime.now(UTC)
    running = {**managed(50), "created": stamp(now - timedelta(minutes=10))}
    running["lastUpdated"] = stamp(now)
    write_json(checkpoints_dir, "a-running", running)
    write_json(checkpoints_dir, "b-stalled", managed(90))  # last updated in 2025
    write_json(checkpoints_dir, "c-failed", managed(95, status="failed"))

    for order in ("asc", "desc"):
        listed = names(viewer.get(f"/?sort=eta&order={order}"))
        assert listed[0] == "a-running"
        assert set(listed[1:]) == {"b-stalled", "c-failed"}


def test_sorting_by_eta_follows_the_time_left_from_now(viewer, checkpoints_dir, settings):
    """The column counts down to each job's expected finish; the sort follows it, not the
    ETA each job had at its own last update."""
    from tests.conftest import running_unified

    settings.STALE_AFTER_SECONDS = 3600
    # an ETA of 60 min as of 30 min ago: 30 min left
    write_json(checkpoints_dir, "updated-earlier", running_unified(250, minutes_ago=30))
    # an ETA of 37 min as of now: 37 min left
    write_json(checkpoints_dir, "updated-now", running_unified(350, minutes_ago=0))
    assert names(viewer.get("/?sort=eta&order=asc")) == ["updated-earlier", "updated-now"]
    assert names(viewer.get("/?sort=eta&order=desc")) == ["updated-now", "updated-earlier"]
