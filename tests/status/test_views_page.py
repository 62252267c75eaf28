"""``/status/``: who sees it, the full page and its htmx partial, escaping, what it never shows."""

from __future__ import annotations

import re

import pytest

from checkpoints_admin.models import StatusJob
from checkpoints_admin.services import Actor, apply

pytestmark = pytest.mark.django_db


def test_private_anonymous_is_sent_to_sign_in(client, samples_dir, private):
    response = client.get("/status/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/status/"


def test_private_anonymous_poll_reloads_the_page(client, samples_dir, private):
    response = client.get("/status/", headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert response["HX-Refresh"] == "true"
    assert b"my-process" not in response.content


@pytest.mark.parametrize(
    ("visibility", "who"),
    [("private", "signed in"), ("public", "anonymous"), ("public", "signed in")],
)
def test_who_sees_the_page(client, stakeholder, samples_dir, settings, visibility, who):
    settings.STATUS_PAGE_PUBLIC = visibility == "public"
    if who == "signed in":
        client.force_login(stakeholder, backend="django.contrib.auth.backends.ModelBackend")

    response = client.get("/status/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html
    assert "3 of 3 jobs need attention" in html
    assert html.count('class="job job--stalled"') == 3
    assert "private" in response["Cache-Control"]


def test_full_page(signed_in, samples_dir):
    StatusJob.objects.create(
        name="reconciliation_checkpoint",
        display_name="Missing calculations",
        description="Fills in the figures of missed dates.",
    )

    response = signed_in.get("/status/")

    html = response.content.decode()
    assert response.templates[0].name == "status/status.html"
    assert '<link rel="stylesheet" href="/static/css/status.css">' in html
    assert '<noscript><meta http-equiv="refresh" content="30"></noscript>' in html
    assert 'hx-get="/status/"' in html and 'hx-trigger="every 30s' in html
    assert "Missing calculations" in html
    assert "Fills in the figures of missed dates." in html
    assert "84.4 % of records" in html
    assert "4 of 6 dates done" in html
    assert '<progress class="bar bar--big bar--stalled" max="1" value="0.8443"' in html
    assert "No progress reported for longer than expected." in html
    assert 'title="2024-03-06 16:39:16 UTC"' in html  # last update, absolute on hover
    assert html.count('class="strip__day ') == 60  # two date-based jobs, 30 days each
    assert 'title="2025-03-05: gap (neither done nor planned)"' in html
    # one image with its words (a list given the image role hid its items from the list)
    assert (
        '<div class="strip__days" role="img"'
        ' aria-label="30 days to 2025-03-07: 4 completed, 2 pending, 1 gap">'
    ) in html
    assert '<span class="strip__day strip__day--gap"' in html


def test_htmx_partial(signed_in, samples_dir):
    response = signed_in.get("/status/", headers={"HX-Request": "true"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]
    assert "<html" not in html and "<header" not in html.split("<article")[0]
    assert html.lstrip().startswith('<section id="status-board"')
    assert html.rstrip().endswith("</section>")
    assert "3 of 3 jobs need attention" in html
    assert html.count('class="job job--stalled"') == 3


def test_hidden_jobs_and_order(signed_in, samples_dir):
    StatusJob.objects.create(name="my-process", hidden=True)
    StatusJob.objects.create(name="reconciliation_checkpoint", display_name="A first", position=-1)

    html = signed_in.get("/status/").content.decode()

    names = re.findall(r'<h2 class="job__name" id="job-\d+">(.*?)</h2>', html)
    # a file name may wrap after its _ - . (a narrow card breaks it there, not mid-word)
    assert names == ["A first", "daily_<wbr>reconciliation_<wbr>checkpoint"]
    assert "my-process" not in html
    assert "2 of 2 jobs need attention" in html


def test_hostile_text_is_escaped(signed_in, samples_dir):
    StatusJob.objects.create(
        name="my-process",
        display_name='<script>alert("name")</script>',
        description="<img src=x onerror=alert(1)> & done",
    )

    html = signed_in.get("/status/").content.decode()

    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; done" in html


def test_hostile_file_names_are_never_listed(client, samples_dir, public):
    hostile = '<b onmouseover=alert(1)>"x"</b>'
    (samples_dir / f"{hostile.replace('/', '_')}.json").write_text('{"status": "running"}')

    page = client.get("/status/").content.decode()
    feed = client.get("/status.json").content.decode()
    metrics = client.get("/metrics").content.decode()

    for body in (page, feed, metrics):
        assert "onmouseover" not in body
    assert "3 of 3 jobs need attention" in page


def test_no_documents_date_lists_or_operator_details(signed_in, samples_dir):
    apply(
        "reconciliation_checkpoint",
        "skip",
        {"dates": ["2025-03-06"]},
        actor=Actor("bob.operator", "cli"),
        reason="vendor outage, ticket OPS-1234",
    )

    html = signed_in.get("/status/").content.decode()

    assert "5 of 6 dates done" in html
    for secret in (
        "bob.operator", "OPS-1234", "vendor outage", "pendingDates", "completedDates",
        "processedItems", "item1", "totalRecords", "successfulRecords", "lastProcessedDate",
    ):  # fmt: skip
        assert secret not in html


def test_content_security_policy_holds(signed_in, samples_dir):
    response = signed_in.get("/status/")

    html = response.content.decode()
    assert "Content-Security-Policy" in response
    assert " style=" not in html and "<style" not in html
    for tag in re.findall(r"<script[^>]*>", html):
        assert " src=" in tag and " nonce=" in tag


def test_corrupt_checkpoint_card(signed_in, checkpoints_dir):
    (checkpoints_dir / "broken.json").write_bytes(b"{nope")

    html = signed_in.get("/status/").content.decode()

    assert "The job needs attention" in html
    assert "Unreadable" in html
    assert "The checkpoint file cannot be read." in html
    assert "Progress unknown" in html
    assert "bar-unknown" not in html  # (no dash above the words saying it)


def test_empty_directory(signed_in, checkpoints_dir):
    html = signed_in.get("/status/").content.decode()

    assert "No jobs to show yet" in html
    assert 'class="banner banner--empty"' in html


def test_only_safe_methods(signed_in, samples_dir):
    assert signed_in.post("/status/").status_code == 405


def test_unreadable_directory(client, tmp_path, settings, public):
    regular = tmp_path / "not-a-directory"
    regular.write_text("x")
    settings.CHECKPOINTS_DIR = regular

    page = client.get("/status/")
    feed = client.get("/status.json")
    metrics = client.get("/metrics")

    assert page.status_code == 503
    assert "Job status is unavailable right now" in page.content.decode()
    assert 'class="banner banner--unavailable"' in page.content.decode()
    assert str(regular) not in page.content.decode()
    assert feed.status_code == 503
    assert feed.json() == {"error": "The checkpoints cannot be read right now."}
    assert "no-store" in feed["Cache-Control"]
    # Metrics still answer, saying the directory cannot be read (an alert can name that,
    # where a failed scrape looks like the console down), with no checkpoint series.
    assert metrics.status_code == 200
    assert b"\ncheckpoints_admin_directory_readable 0.0\n" in metrics.content
    assert b"checkpoint_progress_ratio" not in metrics.content
    assert b"checkpoints_admin_checkpoints " not in metrics.content
    assert b'checkpoints_admin_audit_entries_total{action="skip"} 0.0' in metrics.content
    assert str(regular).encode() not in feed.content + metrics.content
    assert regular.read_text() == "x"


def test_many_jobs_come_a_page_at_a_time(signed_in, checkpoints_dir):
    """Ten thousand jobs made one page of tens of megabytes: the cards come a page at a
    time, the banner still counts them all, and the refresh keeps the page."""
    import json

    for n in range(130):
        document = {"id": f"j{n}", "status": "completed", "progress": 100}
        (checkpoints_dir / f"job-{n:03}.json").write_text(json.dumps(document))
    first = signed_in.get("/status/").content.decode()
    assert first.count('<li class="job ') == 60
    assert "Jobs 1–60 of 130" in first
    assert "130 completed" in first
    assert 'href="?page=2" rel="next"' in first
    last = signed_in.get("/status/?page=3").content.decode()
    assert last.count('<li class="job ') == 10
    assert "Jobs 121–130 of 130" in last and 'rel="next"' not in last
    assert 'hx-get="/status/?page=3"' in last  # the refresh stays on this page
    names = re.findall(r'id="job-\d+">(.*?)</h2>', last)
    assert names[0] == "job-<wbr>120" and names[-1] == "job-<wbr>129"
