"""What stakeholders see: one line per visible job, an overall verdict, a 30-day strip.

Built from ``store.list()`` (cached, stat-only) and the ``StatusJob`` rows set in the admin.
Nothing here shows a raw document, a date list, a user name or a reason. The per-checkpoint
part that does not depend on the clock is cached by (name, version), so a request costs a
directory scan, one small query and the serialisation.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from typing import Any, Final

import orjson
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from checkpoints_admin.checkpoints import CheckpointError, CheckpointInfo, CheckpointStore
from checkpoints_admin.checkpoints.kinds import ahead_of_clock, count_findings
from checkpoints_admin.checkpoints.summary import MOVING_STATES, Summary, rate_text
from checkpoints_admin.queries import (
    DATE_KINDS,
    DateIndex,
    directory_stamp,
    stamp_settled,
)

#: States that make the overall banner say "need attention".
ATTENTION_STATES: Final = frozenset({"stalled", "failed", "corrupt"})
#: Days in the strip of a job whose progress is a set of dates (``DATE_KINDS``).
STRIP_DAYS: Final = 30
DAY_STATES: Final = ("completed", "pending", "gap", "outside")
#: How long a built feed may be served again while the directory looks unchanged. Changes made
#: through the store (atomic replace) show at once; in-place writes and the clock (stalled) wait
#: at most this long.
FEED_CACHE_SECONDS: float = 2.0


@dataclass(frozen=True, slots=True)
class Day:
    """One cell of the 30-day strip."""

    day: date
    state: str  # one of DAY_STATES


@dataclass(frozen=True, slots=True)
class Strip:
    """The 30 days ending at the job's latest date, with counts for the text beside it."""

    days: tuple[Day, ...]
    completed: int
    pending: int
    gaps: int

    @property
    def start(self) -> date:
        return self.days[0].day

    @property
    def end(self) -> date:
        return self.days[-1].day


@dataclass(frozen=True, slots=True)
class JobStatus:
    """One visible job as the status page and the feed show it."""

    name: str
    display_name: str
    description: str
    kind: str | None
    state: str
    progress: float | None
    done: int | None
    pending: int | None
    total: int | None
    unit: str
    rate: float | None
    rate_unit: str  # the rate's and the progress's unit ("records" for unified stats)
    eta: datetime | None
    last_update: datetime | None
    errors: int
    warnings: int
    eta_iso: str | None = None
    last_update_iso: str | None = None

    @property
    def needs_attention(self) -> bool:
        return self.state in ATTENTION_STATES or self.errors > 0

    @property
    def date_based(self) -> bool:
        return self.kind in DATE_KINDS


@dataclass(frozen=True, slots=True)
class Overall:
    """The banner: ``state`` is "ok", "attention", "empty" or "unavailable" (page only)."""

    state: str
    message: str
    jobs: int
    attention: int
    states: dict[str, int]

    @property
    def counts(self) -> list[tuple[str, str, int]]:
        """(state, word, count) of the states present, the worst first."""
        order = ("failed", "corrupt", "stalled", "running", "pending", "completed")
        ranked = sorted(self.states, key=lambda s: order.index(s) if s in order else len(order))
        return [(s, STATE_WORDS.get(s, s).lower(), self.states[s]) for s in ranked]


@dataclass(frozen=True, slots=True)
class StatusReport:
    generated_at: datetime
    overall: Overall
    jobs: tuple[JobStatus, ...]
    entries: tuple[dict[str, Any], ...] = ()  # the feed's entries of ``jobs``, when built
    # The listing the report was built from, so the page's strips need no second scan.
    infos: tuple[CheckpointInfo, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class JobSettings:
    """A job's ``StatusJob`` row, or the defaults when it has none."""

    display_name: str = ""
    description: str = ""
    hidden: bool = False
    position: int = 0


@dataclass(frozen=True, slots=True)
class _Fixed:
    """The clock-independent part of a job, cached per (name, version)."""

    summary: Summary | None
    kind: str | None
    errors: int
    warnings: int
    eta: datetime | None
    eta_iso: str | None
    last_update_iso: str | None


_fixed_cache: dict[tuple[str, str | None, str | None], _Fixed] = {}
_strip_cache: dict[tuple[str, str], Strip | None] = {}


def iso_z(moment: datetime) -> str:
    """``2025-03-06T10:15:23.456Z``: UTC with milliseconds, as the checkpoint files write times."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def job_settings() -> dict[str, JobSettings]:
    """The ``StatusJob`` rows by checkpoint name (one query)."""
    from checkpoints_admin.models import StatusJob

    rows = StatusJob.objects.values_list(
        "name", "display_name", "description", "hidden", "position"
    )
    return {
        name: JobSettings(display_name or "", description or "", bool(hidden), position or 0)
        for name, display_name, description, hidden, position in rows
    }


def _fixed(info: CheckpointInfo) -> _Fixed:
    key = (info.name, info.version, info.error)
    fixed = _fixed_cache.get(key)
    if fixed is not None:
        return fixed
    errors = count_findings(info.findings)[0]
    warnings = len(info.findings) - errors
    summary = info.summary
    if info.corrupt or summary is None:
        errors += 1 if info.corrupt else 0
        fixed = _Fixed(None, info.kind, errors, warnings, None, None, None)
    else:
        eta = summary.expected_finish  # shown only while the job is expected to go on
        last = summary.last_update
        fixed = _Fixed(
            summary,
            info.kind,
            errors,
            warnings,
            eta,
            iso_z(eta) if eta is not None else None,
            iso_z(last) if last is not None else None,
        )
    _fixed_cache[key] = fixed
    return fixed


def _forget_stale(cache: dict[Any, Any], infos: Sequence[CheckpointInfo]) -> None:
    """Drop entries of files that changed or went away, so the caches stay the size of the dir."""
    if len(cache) > 2 * len(infos) + 64:
        names = {info.name for info in infos}
        for key in [key for key in cache if key[0] not in names]:
            cache.pop(key, None)
        if len(cache) > 2 * len(infos) + 64:
            cache.clear()


@dataclass(frozen=True, slots=True)
class _Listed:
    """A job with its feed entry and sort key, cached while file, settings and state hold."""

    job: JobStatus
    entry: dict[str, Any]
    order: tuple[int, str, str]


_listed_cache: dict[tuple[str, str | None, str | None, JobSettings, str, float, bool], _Listed] = {}


def _state(info: CheckpointInfo, fixed: _Fixed, now: datetime, stale_after: float) -> str:
    if fixed.summary is None:
        return "corrupt" if info.corrupt else "pending"
    return fixed.summary.state(now=now, stale_after=stale_after)


def _listed(
    info: CheckpointInfo, settings: JobSettings, *, now: datetime, stale_after: float
) -> _Listed:
    fixed = _fixed(info)
    state = _state(info, fixed, now, stale_after)
    ahead = ahead_of_clock(fixed.summary, now)
    key = (info.name, info.version, info.error, settings, state, info.modified, ahead)
    listed = _listed_cache.get(key)
    if listed is None:
        job = _make_job(info, settings, fixed, state, ahead)
        order = (settings.position, job.display_name.casefold(), job.name)
        listed = _listed_cache[key] = _Listed(job, _feed_entry(job), order)
    return listed


def _make_job(
    info: CheckpointInfo, settings: JobSettings, fixed: _Fixed, state: str, ahead: bool = False
) -> JobStatus:
    summary = fixed.summary
    display_name = settings.display_name or info.name
    if summary is None:
        return JobStatus(
            name=info.name,
            display_name=display_name,
            description=settings.description,
            kind=fixed.kind,
            state=state,
            progress=None,
            done=None,
            pending=None,
            total=None,
            unit="",
            rate=None,
            rate_unit="",
            eta=None,
            last_update=None,
            errors=fixed.errors,
            warnings=fixed.warnings,
        )
    moving = state in MOVING_STATES  # a finish time only means something then
    last_update, last_update_iso = summary.last_update, fixed.last_update_iso
    if last_update is None:  # a document without a time of its own: when its file was written
        last_update = datetime.fromtimestamp(info.modified, UTC)
        last_update_iso = iso_z(last_update)
    return JobStatus(
        name=info.name,
        display_name=display_name,
        description=settings.description,
        kind=fixed.kind,
        state=state,
        progress=summary.progress,
        done=summary.done,
        pending=summary.pending,
        total=summary.total,
        unit=summary.unit,
        rate=summary.rate,
        rate_unit=summary.rate_unit,
        eta=fixed.eta if moving else None,
        last_update=last_update,
        errors=fixed.errors,
        # The warnings that depend on the clock: running but stale, updated in the future.
        warnings=fixed.warnings + (1 if state == "stalled" else 0) + (1 if ahead else 0),
        eta_iso=fixed.eta_iso if moving else None,
        last_update_iso=last_update_iso,
    )


def overall(jobs: Sequence[JobStatus]) -> Overall:
    """The banner's verdict over the visible jobs."""
    states: dict[str, int] = {}
    for job in jobs:
        states[job.state] = states.get(job.state, 0) + 1
    attention = sum(1 for job in jobs if job.needs_attention)
    count = len(jobs)
    if count == 0:
        return Overall("empty", "No jobs to show yet", 0, 0, states)
    if count == 1:
        message = "The job needs attention" if attention else "The job is on track"
    elif attention == 0:
        message = f"All {count} jobs on track"
    else:
        message = f"{attention} of {count} jobs {'needs' if attention == 1 else 'need'} attention"
    return Overall("attention" if attention else "ok", message, count, attention, states)


def unavailable_report(now: datetime) -> StatusReport:
    """What the page says when the checkpoints directory cannot be read."""
    message = "Job status is unavailable right now"
    return StatusReport(now, Overall("unavailable", message, 0, 0, {}), ())


def build_report(
    store: CheckpointStore,
    *,
    now: datetime | None = None,
    stale_after: float,
    settings: Mapping[str, JobSettings] | None = None,
    include_hidden: bool = False,
) -> StatusReport:
    """The visible jobs in page order (admin position, then display name) and the verdict."""
    now = now or datetime.now(UTC)
    infos = store.list()
    if settings is None:
        settings = job_settings()
    default = JobSettings()
    listed = []
    for info in infos:
        job_setting = settings.get(info.name, default)
        if job_setting.hidden and not include_hidden:
            continue
        listed.append(_listed(info, job_setting, now=now, stale_after=stale_after))
    _forget_stale(_fixed_cache, infos)
    _forget_stale(_listed_cache, infos)
    listed.sort(key=attrgetter("order"))
    jobs = tuple(item.job for item in listed)
    entries = tuple(item.entry for item in listed)
    return StatusReport(now, overall(jobs), jobs, entries, tuple(infos))


def _feed_entry(job: JobStatus) -> dict[str, Any]:
    return {
        "name": job.name,
        "displayName": job.display_name,
        "kind": job.kind,
        "state": job.state,
        "progress": job.progress,
        "done": job.done,
        "pending": job.pending,
        "rate": job.rate,
        "eta": job.eta_iso,
        "lastUpdate": job.last_update_iso,
        "errors": job.errors,
        "warnings": job.warnings,
    }


def feed_bytes(report: StatusReport) -> tuple[bytes, str]:
    """The ``/status.json`` body and its ETag (a hash of everything but ``generatedAt``)."""
    body = orjson.dumps(
        {
            "overall": {
                "state": report.overall.state,
                "message": report.overall.message,
                "jobs": report.overall.jobs,
                "attention": report.overall.attention,
                "states": report.overall.states,
            },
            "checkpoints": report.entries or [_feed_entry(job) for job in report.jobs],
        }
    )
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    # generatedAt goes first; splicing it in keeps the hashed part byte-identical.
    head = b'{"generatedAt":' + orjson.dumps(iso_z(report.generated_at)) + b","
    return head + body[1:], etag


@dataclass(frozen=True, slots=True)
class Feed:
    """A built report with its feed body and ETag."""

    report: StatusReport
    body: bytes
    etag: str


@dataclass(frozen=True, slots=True)
class _Built:
    feed: Feed
    directory: tuple[int, int]  # the directory's (inode, mtime_ns) before it was listed
    generation: int
    at: float  # time.monotonic()


_feed_cache: dict[tuple[str, float, bool], _Built] = {}
_generation = 0


@receiver(post_save, sender="checkpoints_admin.StatusJob")
@receiver(post_delete, sender="checkpoints_admin.StatusJob")
def _status_job_changed(**kwargs: object) -> None:
    global _generation
    _generation += 1


def cached_feed(
    store: CheckpointStore, *, stale_after: float, include_hidden: bool = False
) -> Feed:
    """The feed, built again only when the directory or a ``StatusJob`` changed, or after
    FEED_CACHE_SECONDS; so polling a quiet directory of thousands of files costs one stat."""
    key = (str(store.directory), stale_after, include_hidden)
    wall_ns = time.time_ns()
    stamp = directory_stamp(store.directory)
    generation = _generation
    built = _feed_cache.get(key)
    if (
        built is not None
        and stamp is not None
        and built.directory == stamp
        and built.generation == generation
        and time.monotonic() - built.at < FEED_CACHE_SECONDS
    ):
        return built.feed
    report = build_report(store, stale_after=stale_after, include_hidden=include_hidden)
    body, etag = feed_bytes(report)
    feed = Feed(report, body, etag)
    # A directory changed within the last tick could change again under the same mtime.
    if stamp is not None and stamp_settled(stamp, wall_ns=wall_ns):
        if len(_feed_cache) > 16:
            _feed_cache.clear()
        _feed_cache[key] = _Built(feed, stamp, generation, time.monotonic())
    return feed


def date_strip(
    data: Mapping[str, Any], summary: Summary, *, days: int = STRIP_DAYS
) -> Strip | None:
    """The ``days`` days ending at the job's latest date, each completed/pending/gap/outside."""
    if summary.kind not in DATE_KINDS or not summary.first_date or not summary.last_date:
        return None
    try:
        last = date.fromisoformat(summary.last_date)
    except ValueError:
        return None
    index = DateIndex.of(data, summary.kind, summary)  # the calendar's day states
    cells = []
    for offset in range(days - 1, -1, -1):
        day = last - timedelta(days=offset)
        state = index.state_of(day.isoformat())
        cells.append(Day(day, "completed" if state == "conflict" else state))
    return Strip(
        tuple(cells),
        completed=sum(1 for cell in cells if cell.state == "completed"),
        pending=sum(1 for cell in cells if cell.state == "pending"),
        gaps=sum(1 for cell in cells if cell.state == "gap"),
    )


def strips(
    store: CheckpointStore,
    jobs: Iterable[JobStatus],
    infos: Sequence[CheckpointInfo] | None = None,
) -> dict[str, Strip]:
    """The 30-day strips of the date-based jobs, read once per file version.

    ``infos`` is the listing the jobs came from (``StatusReport.infos``); without it the
    directory is listed again.
    """
    if infos is None:
        infos = store.list()
    by_name = {info.name: info for info in infos}
    result: dict[str, Strip] = {}
    for job in jobs:
        info = by_name.get(job.name)
        if not job.date_based or info is None or info.version is None or info.summary is None:
            continue
        key = (info.name, info.version)
        if key in _strip_cache:
            strip = _strip_cache[key]
        else:
            try:
                checkpoint = store.read(info.name)
            except CheckpointError:
                continue
            strip = date_strip(checkpoint.data, info.summary)
            if checkpoint.version == info.version:
                _strip_cache[key] = strip
        if strip is not None:
            result[job.name] = strip
    _forget_stale(_strip_cache, infos)
    return result


STATE_WORDS: Final = {
    "completed": "Completed",
    "running": "Running",
    "pending": "Not started",
    "stalled": "Stalled",
    "failed": "Failed",
    "corrupt": "Unreadable",
}
ATTENTION_WORDS: Final = {
    "stalled": "No progress reported for longer than expected.",
    "failed": "The job reported a failure.",
    "corrupt": "The checkpoint file cannot be read.",
}
DAY_WORDS: Final = {
    "completed": "completed",
    "pending": "pending",
    "gap": "gap (neither done nor planned)",
    "outside": "outside the job's range",
}


@dataclass(frozen=True, slots=True)
class Card:
    """A job as the status page's card shows it; every value is plain text (autoescaped)."""

    job: JobStatus
    strip: Strip | None = None
    now: datetime | None = None

    @property
    def eta_overdue(self) -> bool:
        """The expected finish time has passed while the job still runs."""
        return self.job.eta is not None and self.now is not None and self.job.eta < self.now

    @property
    def state_word(self) -> str:
        return STATE_WORDS.get(self.job.state, self.job.state.capitalize())

    @property
    def attention(self) -> str:
        """Why the job needs attention, in a stakeholder's words ("" when it does not)."""
        if self.job.state in ATTENTION_WORDS:
            return ATTENTION_WORDS[self.job.state]
        if self.job.errors:
            return "The checkpoint has integrity problems; operators have been shown them."
        return ""

    @property
    def percent(self) -> str:
        job = self.job
        if job.progress is None:
            return ""
        text = f"{job.progress * 100:.1f} %"
        if job.rate_unit and job.rate_unit != job.unit:
            text += f" of {job.rate_unit}"
        return text

    @property
    def counts(self) -> str:
        """``4 of 6 dates done`` (or ``3 items done`` when the total is unknown)."""
        job = self.job
        if job.done is None or not job.unit:
            return ""
        if job.total:
            return f"{job.done:,} of {job.total:,} {_counted(job.unit, job.total)} done"
        return f"{job.done:,} {_counted(job.unit, job.done)} done"

    @property
    def rate(self) -> str:
        if not self.job.rate or self.job.state not in ("running", "pending"):
            return ""
        return rate_text(self.job.rate, self.job.rate_unit or self.job.unit, short=False) or ""

    @property
    def strip_days(self) -> list[tuple[Day, str]]:
        """The strip's cells with their hover text (``2025-03-05: gap …``)."""
        if self.strip is None:
            return []
        return [(day, f"{day.day.isoformat()}: {DAY_WORDS[day.state]}") for day in self.strip.days]

    @property
    def strip_label(self) -> str:
        """The strip in words, for screen readers and for people who do not read colours."""
        strip = self.strip
        if strip is None:
            return ""
        parts = [f"{strip.completed} completed", f"{strip.pending} pending"]
        if strip.gaps:
            parts.append(f"{strip.gaps} {'gap' if strip.gaps == 1 else 'gaps'}")
        return f"{STRIP_DAYS} days to {strip.end.isoformat()}: " + ", ".join(parts)


def _counted(unit: str, count: int) -> str:
    """``dates`` for any count but one, ``date`` for one."""
    return unit.removesuffix("s") if count == 1 else unit
