"""``/status.json`` and ``/metrics`` against baselines measured in the same run.

1. ``/status.json`` over 1,000 checkpoints, in requests per second, against a minimal Django
   view (``HttpResponse(b"ok")``) served through the same middleware by the same test Client.
   Goal: at least 0.2x the minimal view's throughput.
   Also shown: the same with the feed cache off (every request lists and rebuilds), and 304s.
2. A ``/metrics`` scrape over 10,000 checkpoints against ``store.list()`` alone (both warm:
   the store's summaries are cached): unchanged directory (the last rendering is reused) and
   after one file changed (a full rendering). No goal; the ratios say what scraping costs.

``--quick`` uses 200 and 1,000 checkpoints. The checkpoint files are generated with plain
writes (they are fixtures; the app only reads them here).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Results, install_urls, measure, parse_args, report  # noqa: E402

GOAL_FEED = 0.2


def documents(count: int) -> list[tuple[str, dict]]:
    """``count`` checkpoints of the three kinds, each a little different."""
    result = []
    for i in range(count):
        day = 1 + i % 28
        if i % 3 == 0:
            doc: dict = {
                "lastProcessedDate": f"2025-03-{day:02d}",
                "pendingDates": [f"2025-04-{d:02d}" for d in range(1, 1 + i % 5)],
                "completedDates": [f"2025-03-{d:02d}" for d in range(1, day + 1)],
                "startTime": 1709742856123,
                "lastUpdateTime": 1709743156789 + i,
                "stats": {
                    "totalRecords": 10_000 + i,
                    "processedRecords": 5_000 + i,
                    "successfulRecords": 4_900 + i,
                    "failedRecords": 100,
                    "timeouts": i % 7,
                },
            }
            result.append((f"reconciliation-{i:05d}", doc))
        elif i % 3 == 1:
            doc = {
                "lastRun": "2025-03-06T10:15:23.456Z",
                "dates": [f"2025-03-{d:02d}" for d in range(1, day + 1)],
                "processedDates": [f"2025-03-{d:02d}" for d in range(1, day // 2 + 1)],
                "lastProcessedDate": f"2025-03-{max(1, day // 2):02d}",
                "status": "running" if i % 5 else "completed",
                "startTime": "2025-03-06T09:15:23.456Z",
                "endTime": None,
            }
            result.append((f"daily-{i:05d}", doc))
        else:
            doc = {
                "id": f"job-{i}",
                "created": "2025-03-06T09:00:00.000Z",
                "lastUpdated": "2025-03-06T09:05:00.000Z",
                "status": "running",
                "progress": i % 101,
                "processedItems": [f"item{n}" for n in range(i % 4)],
                "pendingItems": [f"item{n}" for n in range(i % 4, 6)],
            }
            result.append((f"job-{i:05d}", doc))
    return result


def fill(directory: Path, count: int) -> None:
    from checkpoints_admin.checkpoints.store import encode_document

    directory.mkdir(parents=True, exist_ok=True)
    # Written a minute ago: the store re-reads files younger than its mtime granularity window.
    then = time.time() - 60
    for name, doc in documents(count):
        path = directory / f"{name}.json"
        path.write_bytes(encode_document(doc))
        os.utime(path, (then, then))
    os.utime(directory, (then, then))


def setup_django(root: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{root / 'bench.sqlite3'}"
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    os.environ["CHECKPOINTS_DIR"] = str(root / "empty")
    (root / "empty").mkdir()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    # The baseline: the least a Django view does, behind the same middleware and URL include.
    from django.http import HttpRequest, HttpResponse

    def minimal(request: HttpRequest) -> HttpResponse:
        return HttpResponse(b"ok", content_type="text/plain")

    install_urls("bench_status_urls", {"minimal": minimal})


def per_request(client, url: str, count: int, repeat: int, **headers: str) -> float:
    def run() -> None:
        for _ in range(count):
            response = client.get(url, headers=headers)
            assert response.status_code in (200, 304), (url, response.status_code)

    return measure(run, repeat) / count


def main() -> int:
    args = parse_args(__doc__.splitlines()[0])
    feed_size, metrics_size = (200, 1_000) if args.quick else (1_000, 10_000)
    requests, repeat = (50, 3) if args.quick else (200, 5)
    results = Results("status")
    root = Path(tempfile.mkdtemp(prefix="bench-status-"))
    try:
        setup_django(root)
        from django.test import Client, override_settings

        from checkpoints_admin import statusfeed
        from checkpoints_admin.conf import get_store
        from checkpoints_admin.models import StatusJob

        StatusJob.objects.bulk_create(
            StatusJob(name=f"job-{i:05d}", display_name=f"Job {i}", hidden=i % 30 == 2)
            for i in range(2, 600, 3)
        )
        client = Client()
        cache_seconds = statusfeed.FEED_CACHE_SECONDS

        feed_dir = root / "feed"
        fill(feed_dir, feed_size)
        with override_settings(
            ROOT_URLCONF="bench_status_urls", CHECKPOINTS_DIR=feed_dir, STATUS_PAGE_PUBLIC=True
        ):
            first = client.get("/status.json")
            assert first.status_code == 200
            etag = first["ETag"]
            per_request(client, "/status.json", 5, 1)
            per_request(client, "/minimal", 5, 1)
            feed = per_request(client, "/status.json", requests, repeat)
            baseline = per_request(client, "/minimal", requests * 4, repeat)
            cached = per_request(client, "/status.json", requests, repeat, If_None_Match=etag)
            statusfeed.FEED_CACHE_SECONDS = 0.0
            try:
                uncached = per_request(client, "/status.json", max(10, requests // 10), repeat)
            finally:
                statusfeed.FEED_CACHE_SECONDS = cache_seconds
        ratio = baseline / feed
        passed = ratio >= GOAL_FEED
        print(
            f"/status.json {feed_size:,} checkpoints: {1 / feed:,.0f} req/s vs minimal view "
            f"{1 / baseline:,.0f} req/s = {ratio:.2f}× (goal ≥ {GOAL_FEED:g}×) "
            f"{'PASS' if passed else 'MISS'}",
            flush=True,
        )
        results.add(f"status.json {feed_size:,}", passed)
        print(
            f"/status.json 304 (If-None-Match): {1 / cached:,.0f} req/s "
            f"({baseline / cached:.2f}× the minimal view)",
            flush=True,
        )
        print(
            f"/status.json with the feed cache off: {1 / uncached:,.0f} req/s "
            f"({baseline / uncached:.2f}× the minimal view; INFO)",
            flush=True,
        )

        metrics_dir = root / "metrics"
        fill(metrics_dir, metrics_size)
        with override_settings(
            ROOT_URLCONF="bench_status_urls", CHECKPOINTS_DIR=metrics_dir, STATUS_PAGE_PUBLIC=True
        ):
            store = get_store()
            start = time.perf_counter()
            store.list()
            cold = time.perf_counter() - start
            print(f"store.list() first read of {metrics_size:,} files: {cold:.2f} s", flush=True)
            response = client.get("/metrics")
            assert response.status_code == 200 and b"checkpoint_progress_ratio" in response.content
            listing = measure(store.list, repeat)
            scrape = measure(lambda: client.get("/metrics"), repeat)
            name, doc = documents(6)[5]  # a managed job, not hidden: its progress changes
            bumps = iter(range(10**9))

            def change_one() -> None:
                store.write(name, {**doc, "progress": next(bumps) % 100})

            changed = measure(lambda: client.get("/metrics"), repeat, setup=change_one)
            print(f"/metrics body: {len(response.content) / 1e6:.1f} MB", flush=True)
        label = f"/metrics {metrics_size:,} checkpoints"
        results.add(
            f"metrics {metrics_size:,} unchanged",
            report(f"{label}, unchanged dir vs store.list()", scrape, listing),
        )
        results.add(
            f"metrics {metrics_size:,} changed",
            report(f"{label}, one file changed vs store.list()", changed, listing),
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    results.summary()
    return 0


if __name__ == "__main__":
    sys.exit(main())
