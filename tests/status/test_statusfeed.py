"""The status data: jobs, overall verdict, feed bytes and ETag, 30-day strips, card texts."""

from __future__ import annotations

import dataclasses
import os
import time
from datetime import UTC, date, datetime

import orjson
import pytest

from checkpoints_admin import statusfeed
from checkpoints_admin.checkpoints import CheckpointStore
from checkpoints_admin.models import StatusJob
from checkpoints_admin.statusfeed import JobSettings

NOW = datetime(2025, 3, 6, 10, 20, tzinfo=UTC)
HOUR = 3600.0


@pytest.fixture
def store(samples_dir) -> CheckpointStore:
    return CheckpointStore(samples_dir)


def test_jobs_of_the_samples(store):
    report = statusfeed.build_report(store, now=NOW, stale_after=HOUR, settings={})

    assert [(job.name, job.display_name, job.kind, job.state) for job in report.jobs] == [
        (
            "daily_reconciliation_checkpoint",
            "daily_reconciliation_checkpoint",
            "daily-reconciliation",
            "running",
        ),
        ("my-process", "my-process", "managed", "stalled"),
        (
            "reconciliation_checkpoint",
            "reconciliation_checkpoint",
            "unified-reconciliation",
            "stalled",
        ),
    ]
    assert report.generated_at == NOW
    assert report.overall == statusfeed.Overall(
        "attention", "2 of 3 jobs need attention", 3, 2, {"running": 1, "stalled": 2}
    )


def test_feed_values_of_the_samples(store):
    report = statusfeed.build_report(store, now=NOW, stale_after=1e12, settings={})

    body, etag = statusfeed.feed_bytes(report)

    feed = orjson.loads(body)
    assert list(feed) == ["generatedAt", "overall", "checkpoints"]
    assert feed["generatedAt"] == "2025-03-06T10:20:00.000Z"
    assert feed["overall"] == {
        "state": "ok",
        "message": "All 3 jobs on track",
        "jobs": 3,
        "attention": 0,
        "states": {"running": 3},
    }
    daily, managed, unified = feed["checkpoints"]
    assert daily == {
        "name": "daily_reconciliation_checkpoint",
        "displayName": "daily_reconciliation_checkpoint",
        "kind": "daily-reconciliation",
        "state": "running",
        "progress": 0.5,
        "done": 1,
        "pending": 1,
        "rate": None,
        "eta": None,
        "lastUpdate": "2025-03-06T10:15:23.456Z",
        "errors": 0,
        "warnings": 0,
    }
    assert managed == {
        "name": "my-process",
        "displayName": "my-process",
        "kind": "managed",
        "state": "running",
        "progress": 0.33,
        "done": 1,
        "pending": 2,
        "rate": pytest.approx(1 / 300),
        "eta": "2025-03-06T09:15:00.000Z",
        "lastUpdate": "2025-03-06T09:05:00.000Z",
        "errors": 0,
        "warnings": 0,
    }
    rate = 7231 / 300.666
    assert unified == {
        "name": "reconciliation_checkpoint",
        "displayName": "reconciliation_checkpoint",
        "kind": "unified-reconciliation",
        "state": "running",
        "progress": pytest.approx(7231 / 8564),
        "done": 4,
        "pending": 2,
        "rate": pytest.approx(rate),
        "eta": "2024-03-06T16:40:12.215Z",
        "lastUpdate": "2024-03-06T16:39:16.789Z",
        "errors": 0,
        "warnings": 1,  # the seed's real gap, 2025-03-05
    }
    assert etag.startswith('"') and etag.endswith('"') and len(etag) == 34


def test_stalled_job_has_no_eta_and_one_more_warning(store):
    running = statusfeed.build_report(store, now=NOW, stale_after=1e12, settings={})
    stalled = statusfeed.build_report(store, now=NOW, stale_after=HOUR, settings={})

    before = {job.name: job for job in running.jobs}["my-process"]
    after = {job.name: job for job in stalled.jobs}["my-process"]
    assert (before.state, after.state) == ("running", "stalled")
    assert before.eta is not None and after.eta is None
    assert after.warnings == before.warnings + 1


def test_etag_ignores_generated_at_but_not_content(store):
    settings = {"my-process": JobSettings(display_name="Nightly import")}
    first, first_etag = statusfeed.feed_bytes(
        statusfeed.build_report(store, now=NOW, stale_after=1e12, settings=settings)
    )
    later = datetime(2025, 3, 6, 11, 0, tzinfo=UTC)
    second, second_etag = statusfeed.feed_bytes(
        statusfeed.build_report(store, now=later, stale_after=1e12, settings=settings)
    )
    renamed, renamed_etag = statusfeed.feed_bytes(
        statusfeed.build_report(
            store,
            now=later,
            stale_after=1e12,
            settings={"my-process": JobSettings(display_name="Nightly import (v2)")},
        )
    )

    assert first != second
    assert first_etag == second_etag
    assert renamed_etag != second_etag
    assert orjson.loads(renamed)["checkpoints"][1]["displayName"] == "Nightly import (v2)"


def test_hidden_jobs_are_left_out_and_position_orders(store):
    settings = {
        "my-process": JobSettings(hidden=True),
        "reconciliation_checkpoint": JobSettings(display_name="Reconciliation", position=-1),
    }

    report = statusfeed.build_report(store, now=NOW, stale_after=1e12, settings=settings)
    everything = statusfeed.build_report(
        store, now=NOW, stale_after=1e12, settings=settings, include_hidden=True
    )

    assert [job.display_name for job in report.jobs] == [
        "Reconciliation",
        "daily_reconciliation_checkpoint",
    ]
    assert report.overall.jobs == 2
    assert [job.name for job in everything.jobs] == [
        "reconciliation_checkpoint",
        "daily_reconciliation_checkpoint",
        "my-process",
    ]


@pytest.mark.django_db
def test_job_settings_come_from_status_jobs(store):
    StatusJob.objects.create(name="my-process", display_name="Item import", description="Nightly.")
    StatusJob.objects.create(name="daily_reconciliation_checkpoint", hidden=True, position=3)

    assert statusfeed.job_settings() == {
        "my-process": JobSettings("Item import", "Nightly.", False, 0),
        "daily_reconciliation_checkpoint": JobSettings("", "", True, 3),
    }
    report = statusfeed.build_report(store, now=NOW, stale_after=1e12)
    assert [(job.display_name, job.description) for job in report.jobs] == [
        ("Item import", "Nightly."),
        ("reconciliation_checkpoint", ""),
    ]


def test_corrupt_file_is_a_job_needing_attention(checkpoints_dir):
    (checkpoints_dir / "broken.json").write_bytes(b'{"status": "running",')
    store = CheckpointStore(checkpoints_dir)

    report = statusfeed.build_report(store, now=NOW, stale_after=HOUR, settings={})

    (job,) = report.jobs
    assert (job.name, job.kind, job.state, job.progress, job.errors) == (
        "broken",
        None,
        "corrupt",
        None,
        1,
    )
    assert report.overall.message == "The job needs attention"
    entry = orjson.loads(statusfeed.feed_bytes(report)[0])["checkpoints"][0]
    assert entry["state"] == "corrupt"
    assert entry["lastUpdate"] is None


def test_a_job_without_a_time_of_its_own_shows_when_its_file_was_written(store, samples_dir):
    """As the list does: a running daily job records no update time in its document."""
    path = samples_dir / "daily_reconciliation_checkpoint.json"
    data = orjson.loads(path.read_bytes())
    for key in ("lastRun", "startTime", "endTime"):
        del data[key]
    path.write_bytes(orjson.dumps(data))
    os.utime(path, (1_741_255_200, 1_741_255_200))  # 2025-03-06 10:00:00 UTC

    report = statusfeed.build_report(store, now=NOW, stale_after=HOUR, settings={})
    daily = next(job for job in report.jobs if job.name == "daily_reconciliation_checkpoint")
    assert daily.last_update == datetime(2025, 3, 6, 10, 0, tzinfo=UTC)
    entries = orjson.loads(statusfeed.feed_bytes(report)[0])["checkpoints"]
    assert entries[0]["lastUpdate"] == "2025-03-06T10:00:00.000Z"

    os.utime(path, (1_741_255_500, 1_741_255_500))  # written again, the same bytes
    report = statusfeed.build_report(store, now=NOW, stale_after=HOUR, settings={})
    entries = orjson.loads(statusfeed.feed_bytes(report)[0])["checkpoints"]
    assert entries[0]["lastUpdate"] == "2025-03-06T10:05:00.000Z"


def test_empty_directory(checkpoints_dir):
    report = statusfeed.build_report(
        CheckpointStore(checkpoints_dir), now=NOW, stale_after=HOUR, settings={}
    )

    assert report.jobs == ()
    assert report.overall == statusfeed.Overall("empty", "No jobs to show yet", 0, 0, {})
    assert orjson.loads(statusfeed.feed_bytes(report)[0])["checkpoints"] == []


def test_overall_messages():
    def job(state, errors=0):
        return statusfeed.JobStatus(
            "n",
            "n",
            "",
            "managed",
            state,
            None,
            None,
            None,
            None,
            "",
            None,
            "",
            None,
            None,
            errors,
            0,
        )

    assert statusfeed.overall([job("running")]).message == "The job is on track"
    assert statusfeed.overall([job("running"), job("completed")]).message == "All 2 jobs on track"
    assert statusfeed.overall([job("failed"), job("running")]).message == (
        "1 of 2 jobs needs attention"
    )
    # Integrity errors need attention even when the job itself runs.
    assert statusfeed.overall([job("running", errors=2)]).state == "attention"


def test_unified_strip_of_the_sample(store):
    cards = statusfeed.strips(
        store, statusfeed.build_report(store, now=NOW, stale_after=HOUR, settings={}).jobs
    )

    strip = cards["reconciliation_checkpoint"]
    assert len(strip.days) == 30
    assert (strip.start, strip.end) == (date(2025, 2, 6), date(2025, 3, 7))
    assert [(day.day.isoformat(), day.state) for day in strip.days[-7:]] == [
        ("2025-03-01", "completed"),
        ("2025-03-02", "completed"),
        ("2025-03-03", "completed"),
        ("2025-03-04", "completed"),
        ("2025-03-05", "gap"),
        ("2025-03-06", "pending"),
        ("2025-03-07", "pending"),
    ]
    assert {day.state for day in strip.days[:-7]} == {"outside"}
    assert (strip.completed, strip.pending, strip.gaps) == (4, 2, 1)
    assert "my-process" not in cards  # items, not dates: no strip


def test_daily_strip_of_the_sample(store):
    jobs = statusfeed.build_report(store, now=NOW, stale_after=HOUR, settings={}).jobs

    strip = statusfeed.strips(store, jobs)["daily_reconciliation_checkpoint"]

    assert [(day.day.isoformat(), day.state) for day in strip.days[-2:]] == [
        ("2025-03-04", "completed"),
        ("2025-03-05", "pending"),
    ]
    assert (strip.completed, strip.pending, strip.gaps) == (1, 1, 0)


def test_strip_days_the_checkpoint_page_calendar_would_flag(store, samples_dir):
    """A day in both lists is shown done (the checkpoint page flags it as an error); days
    that are not strings in the lists count for nothing."""
    path = samples_dir / "reconciliation_checkpoint.json"
    document = orjson.loads(path.read_bytes())
    document["pendingDates"] = ["2025-03-04", *document["pendingDates"], 7]
    path.write_bytes(orjson.dumps(document))
    jobs = statusfeed.build_report(store, now=NOW, stale_after=HOUR, settings={}).jobs

    strip = statusfeed.strips(store, jobs)["reconciliation_checkpoint"]

    assert [(day.day.isoformat(), day.state) for day in strip.days[-4:]] == [
        ("2025-03-04", "completed"),
        ("2025-03-05", "gap"),
        ("2025-03-06", "pending"),
        ("2025-03-07", "pending"),
    ]
    assert (strip.completed, strip.pending, strip.gaps) == (4, 2, 1)


def test_card_texts(store):
    report = statusfeed.build_report(store, now=NOW, stale_after=1e12, settings={})
    strips = statusfeed.strips(store, report.jobs)
    cards = {job.name: statusfeed.Card(job, strips.get(job.name)) for job in report.jobs}

    unified = cards["reconciliation_checkpoint"]
    assert (unified.state_word, unified.percent, unified.counts, unified.rate) == (
        "Running",
        "84.4 % of records",
        "4 of 6 dates done",
        "24.0 records/s",
    )
    assert unified.strip_label == "30 days to 2025-03-07: 4 completed, 2 pending, 1 gap"
    assert unified.strip_days[-3][1] == "2025-03-05: gap (neither done nor planned)"
    managed = cards["my-process"]
    assert (managed.percent, managed.counts, managed.rate, managed.attention) == (
        "33.0 %",
        "1 of 3 items done",
        "12.0 items/h",
        "",
    )
    assert managed.strip_days == [] and managed.strip_label == ""
    one = statusfeed.Card(dataclasses.replace(report.jobs[0], done=0, total=1, unit="dates"), None)
    assert one.counts == "0 of 1 date done"
    one = statusfeed.Card(
        dataclasses.replace(report.jobs[0], done=1, total=None, unit="items"), None
    )
    assert one.counts == "1 item done"


def test_card_attention_words(store):
    report = statusfeed.build_report(store, now=NOW, stale_after=HOUR, settings={})

    card = statusfeed.Card({job.name: job for job in report.jobs}["my-process"])

    assert (card.state_word, card.rate, card.attention) == (
        "Stalled",
        "",
        "No progress reported for longer than expected.",
    )


def test_iso_z_rounds_to_milliseconds_in_utc():
    moment = datetime.fromisoformat("2025-03-06T12:15:23.456789+02:00")

    assert statusfeed.iso_z(moment) == "2025-03-06T10:15:23.456Z"


def _age_directory(directory):
    """Make the directory look quiet: its last change a minute ago."""
    then = time.time() - 60
    os.utime(directory, (then, then))


@pytest.mark.django_db
def test_cached_feed_is_reused_while_the_directory_is_quiet(store, samples_dir):
    _age_directory(samples_dir)

    first = statusfeed.cached_feed(store, stale_after=HOUR)
    second = statusfeed.cached_feed(store, stale_after=HOUR)

    assert second is first


@pytest.mark.django_db
def test_cached_feed_sees_a_store_write_at_once(store, samples_dir):
    _age_directory(samples_dir)
    first = statusfeed.cached_feed(store, stale_after=HOUR)
    current = store.read("my-process")

    store.write("my-process", {**current.data, "progress": 90}, expected_version=current.version)
    second = statusfeed.cached_feed(store, stale_after=HOUR)

    assert second is not first
    assert second.etag != first.etag
    assert {job.name: job.progress for job in second.report.jobs}["my-process"] == 0.9


@pytest.mark.django_db
def test_cached_feed_sees_a_status_job_change_at_once(store, samples_dir):
    _age_directory(samples_dir)
    first = statusfeed.cached_feed(store, stale_after=HOUR)

    StatusJob.objects.create(name="my-process", display_name="Item import")
    second = statusfeed.cached_feed(store, stale_after=HOUR)

    assert {job.name: job.display_name for job in second.report.jobs}["my-process"] == (
        "Item import"
    )
    assert second.etag != first.etag


@pytest.mark.django_db
def test_cached_feed_expires(store, samples_dir, monkeypatch):
    """An in-place write leaves the directory untouched; the cache's age bounds the delay."""
    _age_directory(samples_dir)
    first = statusfeed.cached_feed(store, stale_after=HOUR)
    path = samples_dir / "my-process.json"
    path.write_bytes(path.read_bytes().replace(b'"progress": 33', b'"progress": 34'))

    cached = statusfeed.cached_feed(store, stale_after=HOUR)
    monkeypatch.setattr(statusfeed, "FEED_CACHE_SECONDS", 0.0)
    expired = statusfeed.cached_feed(store, stale_after=HOUR)

    assert cached is first
    assert {job.name: job.progress for job in expired.report.jobs}["my-process"] == 0.34


@pytest.mark.django_db
def test_cached_feed_is_not_kept_for_a_directory_changed_just_now(store, samples_dir):
    first = statusfeed.cached_feed(store, stale_after=HOUR)  # samples copied just now

    assert statusfeed.cached_feed(store, stale_after=HOUR) is not first


def test_strips_from_the_reports_listing_need_no_second_scan(store, monkeypatch):
    report = statusfeed.build_report(store, now=NOW, stale_after=HOUR, settings={})
    expected = statusfeed.strips(store, report.jobs)
    assert {info.name for info in report.infos} == {job.name for job in report.jobs}

    def no_scan() -> None:
        raise AssertionError("the directory was listed again")

    monkeypatch.setattr(store, "list", no_scan)
    assert statusfeed.strips(store, report.jobs, report.infos) == expected
