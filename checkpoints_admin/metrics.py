"""Prometheus metrics: custom collectors over the store's cached summaries and the audit log.

A scrape takes one snapshot: a row per checkpoint from ``store.list()`` (stat-only, summaries
cached per file version) and one ``GROUP BY`` over the audit log. ``prometheus_client``
renders it through a dedicated registry, so names, help, types and label escaping are its own.
Rendering costs far more than the snapshot, so the text of the last snapshot is kept and
served again while the snapshot is equal (exact: no time-based staleness).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from django.db.models import Count
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from checkpoints_admin.checkpoints import CheckpointError, CheckpointInfo, CheckpointStore
from checkpoints_admin.checkpoints.kinds import ahead_of_clock, count_findings
from checkpoints_admin.logcontext import log_unavailable

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
LABELS = ("checkpoint", "kind")


class Row(NamedTuple):
    """One checkpoint's values; ``None`` leaves the sample out (unknown)."""

    name: str
    kind: str  # "" when corrupt
    corrupt: bool
    progress: float | None
    last_update: float | None  # Unix time
    modified: float  # the file's modification time (Unix time)
    pending: int | None
    completed: int | None
    records: tuple[tuple[str, int], ...]
    stalled: bool
    errors: int
    warnings: int


class _Static(NamedTuple):
    key: tuple[str, str | None, str | None, float]
    row: Row  # stalled False, warnings without the stale one


_static_cache: dict[str, _Static] = {}


def _static(info: CheckpointInfo) -> Row:
    key = (info.name, info.version, info.error, info.modified)
    cached = _static_cache.get(info.name)
    if cached is not None and cached.key == key:
        return cached.row
    errors = count_findings(info.findings)[0]
    warnings = len(info.findings) - errors
    summary = info.summary
    if info.corrupt or summary is None:
        row = Row(info.name, info.kind or "", True, None, None, info.modified, None, None, (),
                  False, errors + (1 if info.corrupt else 0), warnings)  # fmt: skip
    else:
        row = Row(
            info.name,
            info.kind or "",
            False,
            summary.progress,
            summary.last_update.timestamp() if summary.last_update is not None else None,
            info.modified,
            summary.pending,
            summary.done,
            tuple(summary.records.items()),
            False,
            errors,
            warnings,
        )
    _static_cache[info.name] = _Static(key, row)
    return row


def checkpoint_rows(
    store: CheckpointStore,
    *,
    stale_after: float,
    exclude: Collection[str] = (),
    now: datetime | None = None,
) -> tuple[Row, ...]:
    """A row per listed checkpoint (but ``exclude``), stalled as of ``now``."""
    now = now or datetime.now(UTC)
    infos = store.list()
    rows = []
    for info in infos:
        if info.name in exclude:
            continue
        row = _static(info)
        summary = info.summary
        if summary is not None and summary.state(now=now, stale_after=stale_after) == "stalled":
            row = row._replace(stalled=True, warnings=row.warnings + 1)
        if ahead_of_clock(summary, now):  # updated in the future: a warning too
            row = row._replace(warnings=row.warnings + 1)
        rows.append(row)
    if len(_static_cache) > 2 * len(infos) + 64:
        _static_cache.clear()
    return tuple(rows)


def audit_counts() -> tuple[tuple[str, int], ...]:
    """Audit entries per action, every action present (0 when it never happened)."""
    from checkpoints_admin.models import AuditEntry
    from checkpoints_admin.services import ACTIONS

    counts = dict.fromkeys(ACTIONS, 0)
    rows = AuditEntry.objects.order_by().values_list("action").annotate(n=Count("pk"))
    for action, n in rows:
        counts[action] = n
    return tuple(counts.items())


class CheckpointCollector(Collector):
    """Per checkpoint (labels ``checkpoint``, ``kind``): progress, counts, staleness, findings."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self.rows = rows

    def collect(self) -> Iterator[Metric]:
        checkpoints = GaugeMetricFamily(
            "checkpoints_admin_checkpoints", "Checkpoint files in the directory.", labels=()
        )
        progress = GaugeMetricFamily(
            "checkpoint_progress_ratio", "Progress of the checkpoint, 0 to 1.", labels=LABELS
        )
        last_update = GaugeMetricFamily(
            "checkpoint_last_update_timestamp_seconds",
            "When the job last updated the checkpoint (Unix time).",
            labels=LABELS,
        )
        modified = GaugeMetricFamily(
            "checkpoint_file_modified_timestamp_seconds",
            "When the checkpoint file was last written (Unix time), a corrupt one included.",
            labels=LABELS,
        )
        pending = GaugeMetricFamily(
            "checkpoint_pending_units",
            "Units (dates or items) still to process.",
            labels=LABELS,
        )
        completed = GaugeMetricFamily(
            "checkpoint_completed_units", "Units (dates or items) processed.", labels=LABELS
        )
        records = GaugeMetricFamily(
            "checkpoint_records",
            "Records by outcome (unified reconciliation stats).",
            labels=(*LABELS, "outcome"),
        )
        stalled = GaugeMetricFamily(
            "checkpoint_stalled",
            "1 when the job says running but has not updated within the stale threshold.",
            labels=LABELS,
        )
        corrupt = GaugeMetricFamily(
            "checkpoint_corrupt", "1 when the file cannot be read as a checkpoint.", labels=LABELS
        )
        findings = GaugeMetricFamily(
            "checkpoint_findings",
            "Integrity findings by severity (the stale warning included).",
            labels=(*LABELS, "severity"),
        )
        for row in self.rows:
            labels = [row.name, row.kind]
            corrupt.add_metric(labels, 1 if row.corrupt else 0)
            if row.progress is not None:
                progress.add_metric(labels, row.progress)
            if row.last_update is not None:
                last_update.add_metric(labels, row.last_update)
            modified.add_metric(labels, row.modified)
            if row.pending is not None:
                pending.add_metric(labels, row.pending)
            if row.completed is not None:
                completed.add_metric(labels, row.completed)
            for outcome, value in row.records:
                records.add_metric([*labels, outcome], value)
            stalled.add_metric(labels, 1 if row.stalled else 0)
            findings.add_metric([*labels, "error"], row.errors)
            findings.add_metric([*labels, "warning"], row.warnings)
        checkpoints.add_metric([], len(self.rows))
        yield from (checkpoints, progress, last_update, modified, pending, completed, records)
        yield from (stalled, corrupt, findings)


class DirectoryCollector(Collector):
    """Whether the checkpoints directory could be listed: a scrape still answers when it
    cannot, so an alert can say so rather than see the whole target down."""

    def __init__(self, readable: bool) -> None:
        self.readable = readable

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "checkpoints_admin_directory_readable",
            "1 when the checkpoints directory could be listed, 0 when not (missing, not a "
            "directory, no permission).",
            value=1 if self.readable else 0,
        )


class AuditCollector(Collector):
    """Audit entries by action."""

    def __init__(self, counts: Sequence[tuple[str, int]]) -> None:
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        entries = CounterMetricFamily(
            "checkpoints_admin_audit_entries",
            "Audit log entries (manual interventions) by action.",
            labels=("action",),
        )
        for action, n in self.counts:
            entries.add_metric([action], n)
        yield entries


def registry_for(
    rows: Sequence[Row] | None, counts: Sequence[tuple[str, int]]
) -> CollectorRegistry:
    """A dedicated registry (never the global one) holding the collectors; ``rows`` None:
    the directory could not be listed."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DirectoryCollector(rows is not None))
    if rows is not None:
        registry.register(CheckpointCollector(rows))
    registry.register(AuditCollector(counts))
    return registry


_rendered: dict[
    frozenset[str], tuple[tuple[Row, ...] | None, tuple[tuple[str, int], ...], bytes]
] = {}
_render_lock = threading.Lock()


def render(
    store: CheckpointStore | None,
    *,
    stale_after: float,
    exclude: Collection[str] = (),
    now: datetime | None = None,
) -> bytes:
    """The Prometheus text exposition of every metric.

    When the directory cannot be listed (``store`` None: it is missing; or a CheckpointError,
    logged), only ``checkpoints_admin_directory_readable 0`` and the audit log's counts: the
    per-checkpoint series end, as they would with the console down.
    """
    rows: tuple[Row, ...] | None = None
    if store is not None:
        try:
            rows = checkpoint_rows(store, stale_after=stale_after, exclude=exclude, now=now)
        except CheckpointError as exc:
            log_unavailable(exc.message)
    counts = audit_counts()
    key = frozenset(exclude)
    last = _rendered.get(key)
    if last is not None and last[0] == rows and last[1] == counts:
        return last[2]
    with _render_lock:  # one render at a time: concurrent scrapes of a big dir would pile up
        body = generate_latest(registry_for(rows, counts))
        if len(_rendered) > 8:
            _rendered.clear()
        _rendered[key] = (rows, counts, body)
    return body
