"""Audit benchmarks: audited interventions vs bare writes, chain verification, snapshot size.

Run: ``.venv/bin/python benchmarks/bench_audit.py [--quick]``. Uses a temporary SQLite
database, and also a temporary PostgreSQL database when ``DATABASE_URL`` names a server.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import Results, parse_args  # noqa: E402

# The PostgreSQL child gets the server's URL in BENCH_AUDIT_PG_URL: by then this process has
# pointed DATABASE_URL at its own SQLite file.
PG_URL = os.environ.get("BENCH_AUDIT_PG_URL") or os.environ.get("DATABASE_URL", "")
HAS_PG = PG_URL.startswith(("postgres://", "postgresql://"))


def unified(completed: int, pending: int) -> dict:
    first = date(1900, 1, 1).toordinal()
    dates = [date.fromordinal(first + i).isoformat() for i in range(completed + pending)]
    return {
        "lastProcessedDate": dates[completed - 1],
        "pendingDates": dates[completed:],
        "completedDates": dates[:completed],
        "startTime": 1709742856123,
        "lastUpdateTime": 1709743156789,
        "stats": {
            "totalRecords": 8564,
            "processedRecords": 7231,
            "successfulRecords": 7189,
            "failedRecords": 42,
            "timeouts": 0,
        },
    }


def rate_line(label: str, rate: float, baseline: float, goal: float) -> bool:
    ratio = rate / baseline if baseline else 0.0
    passed = ratio >= goal
    print(
        f"{label}: {rate:,.1f}/s vs {baseline:,.1f}/s = {ratio:.2f}× (goal ≥ {goal:g}×) "
        f"{'PASS' if passed else 'MISS'}",
        flush=True,
    )
    return passed


def bench_throughput(backend: str, results: Results, quick: bool) -> None:
    from checkpoints_admin import services
    from checkpoints_admin.checkpoints import CheckpointStore

    directory = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    store = CheckpointStore(directory)
    count, rounds = (25, 5) if quick else (100, 8)
    document = unified(2000, 400)
    actor = services.Actor("bench", "cli")

    # Every edit writes a value never written before: no snapshot is found already stored.
    values = iter(range(1, 1_000_000_000))

    def bare() -> float:
        store.write("bare", document)
        start = time.perf_counter()
        for _ in range(count):
            data = store.read("bare").data
            data["stats"] = {**data["stats"], "timeouts": next(values)}
            store.write("bare", data)
        return count / (time.perf_counter() - start)

    def write_only() -> float:
        # CheckpointStore.write alone (no read): what "a bare write" can also mean.
        store.write("written", document)
        data = store.read("written").data
        start = time.perf_counter()
        for _ in range(count):
            data["stats"] = {**data["stats"], "timeouts": next(values)}
            store.write("written", data)
        return count / (time.perf_counter() - start)

    def audited() -> float:
        store.write("audited", document)
        start = time.perf_counter()
        for _ in range(count):
            services.apply(
                "audited",
                "edit",
                {"set": {"/stats/timeouts": next(values)}},
                actor=actor,
                reason="benchmark",
                store=store,
            )
        return count / (time.perf_counter() - start)

    def prepared(on: bool) -> None:
        # DATABASE_PREPARED_STATEMENTS (PostgreSQL; on by default).
        from django.conf import settings

        settings.DATABASE_PREPARED_STATEMENTS = on

    # Interleaved rounds, best of each, so all see the same machine (fsync times vary a lot
    # while other processes write). On PostgreSQL also without prepared statements, in turn.
    bare_rate = audited_rate = write_rate = unprepared_rate = 0.0
    for round_ in range(rounds):
        bare_rate = max(bare_rate, bare())
        if backend == "postgresql" and round_ % 2:  # (each in turn right after the bare run)
            prepared(False)
            unprepared_rate = max(unprepared_rate, audited())
            prepared(True)
        audited_rate = max(audited_rate, audited())
        write_rate = max(write_rate, write_only())
        if backend == "postgresql" and not round_ % 2:
            prepared(False)
            unprepared_rate = max(unprepared_rate, audited())
            prepared(True)
    label = (
        f"audited edits/s ({backend}, best of {rounds}×{count} edits of a 2,400-date checkpoint; "
        "baseline: the same edit as a bare read and CheckpointStore.write)"
    )
    results.add(f"throughput {backend}", rate_line(label, audited_rate, bare_rate, 0.3))
    print(
        f"  vs CheckpointStore.write alone (no read) {write_rate:,.1f}/s = "
        f"{audited_rate / write_rate:.2f}× (INFO)",
        flush=True,
    )
    if backend == "postgresql":
        print(
            f"  with DATABASE_PREPARED_STATEMENTS=false: {unprepared_rate:,.1f}/s = "
            f"{unprepared_rate / bare_rate:.2f}× the bare edit, "
            f"{unprepared_rate / write_rate:.2f}× the write alone (INFO)",
            flush=True,
        )


def bench_verify(backend: str, results: Results, quick: bool) -> None:
    from django.db import connection, models, transaction
    from django.utils import timezone

    from checkpoints_admin import audit
    from checkpoints_admin.models import AuditEntry, Snapshot

    total = 10_000 if quick else 100_000
    start_seq = (AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()) or 0
    prev = AuditEntry.objects.filter(seq=start_seq).values_list("hash", flat=True).first()
    prev = prev or audit.GENESIS
    snapshots = [Snapshot.store(f'{{"n": {i}}}\n'.encode()) for i in range(20)]
    key = audit.get_settings().audit_hmac_key
    created = timezone.now() - timedelta(days=1)

    def fill(entries: list[AuditEntry]) -> None:
        # The model refuses bulk_create (entries are appended one by one); these rows are
        # chained and hashed here, so they go in through the plain QuerySet's bulk_create.
        models.QuerySet.bulk_create(AuditEntry.objects.all(), entries)

    t0 = time.perf_counter()
    batch: list[AuditEntry] = []
    with transaction.atomic():
        for n in range(1, total + 1):
            before, after = snapshots[n % 20], snapshots[(n + 1) % 20]
            entry = AuditEntry(
                seq=start_seq + n,
                created=created + timedelta(microseconds=n * 7),
                actor=f"user{n % 13}",
                source="cli",
                address="",
                action="edit",
                checkpoint=f"job-{n % 50}",
                reason="bulk benchmark entry",
                base_version=before.pk,
                result_version=after.pk,
                before_id=before.pk,
                after_id=after.pk,
                patch=[{"op": "replace", "path": "/n", "value": (n + 1) % 20}],
                summary="n changed",
                findings=[],
                outcome="applied",
                prev_hash=prev,
            )
            entry.hash = audit.entry_hash(entry, prev, key=key)
            prev = entry.hash
            batch.append(entry)
            if len(batch) == 5000:
                fill(batch)
                batch = []
        if batch:
            fill(batch)
    print(f"inserted {total:,} chained entries in {time.perf_counter() - t0:.1f} s", flush=True)

    # Baseline: fetching the same columns in the same pages, without decoding or hashing.
    quote = connection.ops.quote_name
    table = quote(AuditEntry._meta.db_table)
    columns = ", ".join(quote(c) for c in audit._COLUMNS)
    t0 = time.perf_counter()
    rows, last = 0, -1
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                f"SELECT {columns} FROM {table} WHERE seq > %s ORDER BY seq LIMIT 2000", [last]
            )
            page = cursor.fetchall()
            rows += len(page)
            if len(page) < 2000:
                break
            last = page[-1][0]
    read = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = audit.verify_chain()
    verify = time.perf_counter() - t0
    assert result.ok, result.message
    assert result.checked == rows
    ratio = verify / read
    passed = ratio <= 6
    print(
        f"verify_chain ({backend}, {rows:,} entries): {verify:.2f} s "
        f"({rows / verify:,.0f} entries/s) vs fetching the rows {read:.2f} s = {ratio:.2f}× "
        f"(goal ≤ 6×) {'PASS' if passed else 'MISS'}",
        flush=True,
    )
    results.add(f"verify {backend}", passed)


def bench_snapshots(backend: str, results: Results, quick: bool) -> None:
    """Store 100 successive versions of a big checkpoint exactly as ``services.apply`` does
    (each after-version against its before-version) and compare with plain copies."""
    from checkpoints_admin import services
    from checkpoints_admin.checkpoints import CheckpointStore, interventions
    from checkpoints_admin.checkpoints.store import encode_document
    from checkpoints_admin.models import Snapshot

    size = 100_000 if quick else 1_000_000
    edits = 100
    document = unified(size - edits, edits)
    known = set(Snapshot.objects.values_list("sha", flat=True))
    raw = encode_document(document)
    raw_total = len(raw)
    t0 = time.perf_counter()
    snapshot = Snapshot.store(raw)
    for day in list(document["pendingDates"]):
        document = interventions.skip_dates(document, [day])
        after_raw = encode_document(document)
        snapshot = Snapshot.store(after_raw, base=snapshot, base_raw=raw)
        raw, raw_total = after_raw, raw_total + len(after_raw)
    elapsed = time.perf_counter() - t0
    new = Snapshot.objects.exclude(sha__in=known)
    stored = sum(len(bytes(d)) for d in new.values_list("data", flat=True).iterator(10))
    count, full = new.count(), new.filter(base=None).count()
    assert Snapshot.objects.get(pk=snapshot.sha).raw == raw  # the last version reads back
    ratio = stored / raw_total
    goal = 0.02
    passed = ratio <= goal
    print(
        f"snapshot store ({backend}, {edits} skips of a {size:,}-date checkpoint: {count} "
        f"snapshots, {full} full, {elapsed / (edits + 1) * 1e3:.0f} ms each): "
        f"{stored / 1e6:,.2f} MB vs {raw_total / 1e6:,.1f} MB of plain copies = {ratio:.4f}× "
        f"(goal ≤ {goal:g}×) {'PASS' if passed else 'MISS'}",
        flush=True,
    )
    results.add(f"snapshot size {backend}", passed)

    # For information: one audited skip of this checkpoint against one bare write of it.
    directory = Path(tempfile.mkdtemp(prefix="bench-audit-snap-"))
    store = CheckpointStore(directory)
    store.write("big", unified(size - 3, 3))
    actor = services.Actor("bench", "cli")
    t0 = time.perf_counter()
    for day in store.read("big").data["pendingDates"]:
        services.apply(
            "big", "skip", {"dates": [day]}, actor=actor, reason="benchmark", store=store
        )
    audited = (time.perf_counter() - t0) / 3
    t0 = time.perf_counter()
    for _ in range(3):
        store.write("big", store.read("big").data)
    bare = (time.perf_counter() - t0) / 3
    print(
        f"one audited skip of the {size:,}-date checkpoint: {audited:.2f} s vs a bare "
        f"read-and-write {bare:.2f} s = {bare / audited:.2f}× (no goal) INFO",
        flush=True,
    )


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django
    from django.conf import settings

    if not settings.configured or not hasattr(django, "_bench_setup"):
        django.setup()
        django._bench_setup = True  # type: ignore[attr-defined]
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(sql)


def run_backend(backend: str, results: Results, quick: bool) -> None:
    print(f"== {backend}", flush=True)
    bench_throughput(backend, results, quick)
    bench_verify(backend, results, quick)
    bench_snapshots(backend, results, quick)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    results = Results("audit")
    started = datetime.now(UTC)
    # One Django setup per process: SQLite here; PostgreSQL in a child process of its own.
    if os.environ.get("BENCH_AUDIT_BACKEND") == "postgresql":
        name = os.environ["BENCH_AUDIT_DB"]
        setup_django(urlunsplit(urlsplit(PG_URL)._replace(path=f"/{name}")))
        run_backend("postgresql", results, args.quick)
        results.summary()
        return
    with tempfile.TemporaryDirectory(prefix="bench-audit-db-") as tmp:
        setup_django(f"sqlite:///{tmp}/bench.sqlite3")
        run_backend("sqlite", results, args.quick)
    if HAS_PG:
        import subprocess

        name = f"bench_audit_{uuid.uuid4().hex[:8]}"
        pg_admin(f"CREATE DATABASE {name}")
        try:
            child = subprocess.run(
                [sys.executable, __file__, *sys.argv[1:]],
                env={
                    **os.environ,
                    "BENCH_AUDIT_BACKEND": "postgresql",
                    "BENCH_AUDIT_DB": name,
                    "BENCH_AUDIT_PG_URL": PG_URL,
                },
                capture_output=True,
                text=True,
            )
            lines = child.stdout.strip().splitlines()
            for line in lines[:-1]:
                print(line, flush=True)
            if child.returncode != 0:
                print(child.stderr[-3000:], file=sys.stderr)
                results.add("postgresql run", False)
            else:
                # Fold the child's verdicts into this run's summary.
                summary = lines[-1] if lines else ""
                results.add("postgresql", "MISS" not in summary)
        finally:
            pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    else:
        print("(PostgreSQL skipped: DATABASE_URL does not name a PostgreSQL server)")
    print(f"took {(datetime.now(UTC) - started).total_seconds():.0f} s", flush=True)
    results.summary()


if __name__ == "__main__":
    main()
