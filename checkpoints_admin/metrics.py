"""Prometheus metrics: custom collectors over the store's cached summaries and the audit log.

Every scrape walks ``store.list()`` (stat-only, summaries cached per file version) and asks
the database for one ``GROUP BY``; ``prometheus_client`` renders the text, so names, help,
types and label escaping are its own.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import UTC, datetime

from django.db.models import Count
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from checkpoints_admin.checkpoints import CheckpointStore

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
SEVERITIES = ("error", "warning")
LABELS = ("checkpoint", "kind")


class CheckpointCollector(Collector):
    """Per checkpoint (labels ``checkpoint``, ``kind``): progress, counts, staleness, findings."""

    def __init__(
        self,
        store: CheckpointStore,
        *,
        stale_after: float,
        exclude: Collection[str] = (),
        now: datetime | None = None,
    ) -> None:
        self.store = store
        self.stale_after = stale_after
        self.exclude = frozenset(exclude)
        self.now = now

    def collect(self) -> Iterator[Metric]:
        now = self.now or datetime.now(UTC)
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
        pending = GaugeMetricFamily(
            "checkpoint_pending_units",
            "Units (dates, items or records) still to process.",
            labels=LABELS,
        )
        completed = GaugeMetricFamily(
            "checkpoint_completed_units",
            "Units (dates, items or records) processed.",
            labels=LABELS,
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
        count = 0
        for info in self.store.list():
            if info.name in self.exclude:
                continue
            count += 1
            labels = [info.name, info.kind or ""]
            errors = sum(1 for finding in info.findings if finding.severity == "error")
            warnings = len(info.findings) - errors
            summary = info.summary
            is_stalled = False
            if info.corrupt or summary is None:
                corrupt.add_metric(labels, 1)
                errors += 1 if info.corrupt else 0
            else:
                corrupt.add_metric(labels, 0)
                is_stalled = summary.state(now=now, stale_after=self.stale_after) == "stalled"
                if summary.progress is not None:
                    progress.add_metric(labels, summary.progress)
                if summary.last_update is not None:
                    last_update.add_metric(labels, summary.last_update.timestamp())
                pending.add_metric(labels, summary.pending)
                completed.add_metric(labels, summary.done)
                for outcome, value in summary.records.items():
                    records.add_metric([*labels, outcome], value)
            stalled.add_metric(labels, 1 if is_stalled else 0)
            findings.add_metric([*labels, "error"], errors)
            findings.add_metric([*labels, "warning"], warnings + (1 if is_stalled else 0))
        checkpoints.add_metric([], count)
        yield checkpoints
        yield progress
        yield last_update
        yield pending
        yield completed
        yield records
        yield stalled
        yield corrupt
        yield findings


class AuditCollector(Collector):
    """Audit entries by action, every action present (0 when it never happened)."""

    def collect(self) -> Iterator[Metric]:
        from checkpoints_admin.models import AuditEntry
        from checkpoints_admin.services import ACTIONS

        counts = dict.fromkeys(ACTIONS, 0)
        rows = AuditEntry.objects.order_by().values_list("action").annotate(n=Count("pk"))
        for action, n in rows:
            counts[action] = n
        entries = CounterMetricFamily(
            "checkpoints_admin_audit_entries",
            "Audit log entries (manual interventions) by action.",
            labels=("action",),
        )
        for action, n in counts.items():
            entries.add_metric([action], n)
        yield entries


def registry_for(
    store: CheckpointStore,
    *,
    stale_after: float,
    exclude: Collection[str] = (),
    now: datetime | None = None,
) -> CollectorRegistry:
    """A dedicated registry holding the checkpoint and audit collectors (never the global one)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CheckpointCollector(store, stale_after=stale_after, exclude=exclude, now=now))
    registry.register(AuditCollector())
    return registry


def render(
    store: CheckpointStore,
    *,
    stale_after: float,
    exclude: Collection[str] = (),
    now: datetime | None = None,
) -> bytes:
    """The Prometheus text exposition of every metric."""
    return generate_latest(registry_for(store, stale_after=stale_after, exclude=exclude, now=now))
