"""Audited interventions through the web path against a bare store write, in the same run.

1. ``POST /checkpoints/<name>/skip/apply`` (test client, SQLite, signed in): one audited skip
   of one date, bound to the file's version — the lock, the preview under it, validation,
   both snapshots, the journal, the chained audit entry, the durable write and the redirect.
   Against ``CheckpointStore.write`` of a document of the same size (also durable: temp file,
   fsync, replace, directory fsync). Goal: at least 0.3x the bare write's rate.
2. The whole flow an operator goes through — ``POST …/preview`` (page rendered with the diff)
   and then the apply — against the same baseline. No goal; it says what the pages cost.
3. Where an apply's time goes, against the same baseline (no goal): ``services.apply`` called
   directly (the audited write without HTTP), and a signed-in POST to a view that does nothing
   (what Django's request handling, the session and the middleware cost on their own).
   And the protocol's floor: the least an audited change can be, the same steps written
   with bare calls — lock, read, the change, a date check, encode, hash, the journal row and
   a snapshot committed (SQLite, WAL, ``synchronous=FULL``), the durable write, then the
   journal row's delete and a chained entry committed — with none of the console's checks,
   diff, summary, delta or forms. Against the same baseline it says how much of the goal's
   budget (1/0.3 = 3.33x) this machine's disk leaves for everything else.
4. One skip on a checkpoint of 1,000,000 pending dates (100,000 with ``--quick``), page by
   page: the preview, the apply, the result page and the checkpoint page after it, against a
   bare read and write of the same file (no goal).

The checkpoint is a unified reconciliation document with 1,000 pending dates (200 with
``--quick``); every intervention skips the next pending date, so each one changes the file.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Results, compare, install_urls, parse_args, report  # noqa: E402

GOAL_APPLY = 0.3
NAME = "bench-job"
REASON = "benchmark: upstream never delivers"


def setup_django(root: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{root / 'bench.sqlite3'}"
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    os.environ["CHECKPOINTS_DIR"] = str(root / "checkpoints")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from django.contrib.auth.decorators import login_required
    from django.http import HttpRequest, HttpResponse
    from django.views.decorators.http import require_POST

    @require_POST
    @login_required
    def nothing(request: HttpRequest) -> HttpResponse:
        return HttpResponse(b"ok", content_type="text/plain")

    install_urls("bench_interventions_urls", {"nothing": nothing})


def form_post(client, url: str, data: dict[str, str]):
    """POST ``data`` urlencoded, as a browser sends the console's forms (none is multipart)."""
    from urllib.parse import urlencode

    return client.post(url, urlencode(data), content_type="application/x-www-form-urlencoded")


def document(pending: int) -> dict:
    from datetime import date, timedelta

    start = date(2020, 1, 1)
    days = [(start + timedelta(days=n)).isoformat() for n in range(pending + 10)]
    return {
        "lastProcessedDate": days[9],
        "pendingDates": days[10:],
        "completedDates": days[:10],
        "startTime": 1709742856123,
        "lastUpdateTime": 1709743156789,
        "stats": {
            "totalRecords": 1_000_000,
            "processedRecords": 7231,
            "successfulRecords": 7189,
            "failedRecords": 42,
            "timeouts": 3,
        },
    }


def protocol_floor(root: Path, bare, name: str, count: int):
    """A batch of ``count`` audited skips reduced to the protocol's bare steps (see the module
    docstring, 3.), on ``bare``'s copy of ``name``, with an SQLite database of its own."""
    import hashlib
    import sqlite3
    import zlib
    from datetime import date

    import orjson

    from checkpoints_admin.checkpoints.store import encode_document, version_of

    db = sqlite3.connect(root / "floor.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE snapshot (sha TEXT PRIMARY KEY, data BLOB)")
    db.execute("CREATE TABLE journal (id INTEGER PRIMARY KEY, payload TEXT)")
    db.execute("CREATE TABLE entry (seq INTEGER PRIMARY KEY, hash TEXT, payload TEXT)")
    path = bare.path_for(name)

    def one() -> None:
        with bare.lock(name):
            raw = path.read_bytes()
            document = orjson.loads(raw)
            day = document["pendingDates"].pop(0)
            document.setdefault("skippedDates", []).append(day)
            for key in ("pendingDates", "completedDates", "skippedDates"):
                for value in document[key]:
                    date.fromisoformat(value)
            after = encode_document(document)
            version = version_of(after)
            payload = orjson.dumps({"skip": day, "base": version_of(raw), "result": version})
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "INSERT OR IGNORE INTO snapshot VALUES (?, ?)", (version, zlib.compress(after, 1))
            )
            journal = db.execute("INSERT INTO journal (payload) VALUES (?)", (payload,)).lastrowid
            db.execute("COMMIT")
            bare.write_raw(name, after, parsed=True)  # reentrant: the lock is this thread's
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM journal WHERE id = ?", (journal,))
            seq, previous = db.execute(
                "SELECT seq, hash FROM entry ORDER BY seq DESC LIMIT 1"
            ).fetchone() or (0, "")
            chained = hashlib.sha256(previous.encode() + payload).hexdigest()
            db.execute("INSERT INTO entry VALUES (?, ?, ?)", (seq + 1, chained, payload))
            db.execute("COMMIT")
            db.execute("PRAGMA synchronous=FULL")

    def batch() -> None:
        for _ in range(count):
            one()

    return batch


def big_flow(client, store, pending: int) -> None:
    """One skip on a big checkpoint as an operator goes through it, page by page (no goal):
    each step's best of three against a bare read and write of the same file."""
    import time

    from checkpoints_admin.checkpoints.store import version_of

    name = "bench-big"
    store.write(name, document(pending))
    path = store.path_for(name)
    days = iter(store.read(name).data["pendingDates"][:3])
    assert client.get(f"/checkpoints/{name}/").status_code == 200  # the page the operator came from
    best: dict[str, float] = {}

    def step(label: str, call) -> object:
        start = time.perf_counter()
        response = call()
        best[label] = min(best.get(label, float("inf")), time.perf_counter() - start)
        return response

    for day in days:
        shown = step(
            "preview page",
            lambda d=day: form_post(client, f"/checkpoints/{name}/skip/preview", {"dates": d}),
        )
        assert shown.status_code == 200, shown.status_code
        fields = {"dates": day, "base_version": version_of(path.read_bytes()), "reason": REASON}
        applied = step(
            "apply", lambda f=fields: form_post(client, f"/checkpoints/{name}/skip/apply", f)
        )
        assert applied.status_code == 302, applied.status_code
        result = step("result page", lambda a=applied: client.get(a["Location"]))
        assert result.status_code == 200, result.status_code
        client.cookies.pop("messages", None)
        page = step("checkpoint page after it", lambda: client.get(f"/checkpoints/{name}/"))
        assert page.status_code == 200, page.status_code

    def bare() -> None:
        store.write(name, store.read(name).data)

    baseline = min(_timed(bare) for _ in range(3))
    print(f"a skip on a checkpoint of {pending:,} pending dates ({path.stat().st_size:,} bytes):")
    for label, value in best.items():
        report(f"  {label} vs a bare read and write of it", value, baseline)


def _timed(call) -> float:
    import time

    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> int:
    args = parse_args(__doc__ or "")
    pending = 200 if args.quick else 1000
    batch = 10 if args.quick else 25
    repeat = 3 if args.quick else 5
    results = Results("interventions")
    root = Path(tempfile.mkdtemp(prefix="bench-interventions-"))
    try:
        (root / "checkpoints").mkdir()
        setup_django(root)
        from django.contrib.auth import get_user_model
        from django.test import Client

        from checkpoints_admin.checkpoints import CheckpointStore
        from checkpoints_admin.checkpoints.store import version_of
        from checkpoints_admin.conf import get_store

        store = get_store()
        store.write(NAME, document(pending))
        user = get_user_model().objects.create_superuser("bench", password="bench-password-1")
        client = Client()
        client.force_login(user)
        path = store.path_for(NAME)
        queue = list(store.read(NAME).data["pendingDates"])

        def apply_skip(day: str) -> None:
            response = form_post(
                client,
                f"/checkpoints/{NAME}/skip/apply",
                {"dates": day, "base_version": version_of(path.read_bytes()), "reason": REASON},
            )
            assert response.status_code == 302, response.status_code
            # The result page a person is sent to shows (and so clears) the message; without
            # that the success messages would pile up in the cookie.
            client.cookies.pop("messages", None)

        def apply_batch() -> None:
            for _ in range(batch):
                apply_skip(queue.pop(0))

        def flow_batch() -> None:
            for _ in range(batch):
                day = queue.pop(0)
                shown = form_post(client, f"/checkpoints/{NAME}/skip/preview", {"dates": day})
                assert shown.status_code == 200, shown.status_code
                apply_skip(day)

        bare = CheckpointStore(root / "bare")
        payload = store.read(NAME).data

        def write_batch() -> None:
            for _ in range(batch):
                bare.write(NAME, payload)

        print(
            f"{batch} interventions per batch on a checkpoint of {pending:,} pending dates "
            f"({len(path.read_bytes()):,} bytes)",
            flush=True,
        )
        apply_time, write_time = compare(apply_batch, write_batch, repeat)
        # A rate of at least GOAL_APPLY x the bare write's is a time at most 1/GOAL_APPLY x.
        results.add(
            "apply",
            report(
                f"audited skip via POST …/apply, {batch} per batch, vs bare store.write",
                apply_time,
                write_time,
                round(1 / GOAL_APPLY, 2),
            ),
        )
        flow_time, flow_write_time = compare(flow_batch, write_batch, repeat)
        report(
            f"preview page + apply, {batch} per batch, vs bare store.write",
            flow_time,
            flow_write_time,
        )
        from checkpoints_admin import services

        actor = services.Actor("bench", "web", "127.0.0.1")

        def service_batch() -> None:
            for _ in range(batch):
                services.apply(
                    NAME,
                    "skip",
                    {"dates": [queue.pop(0)]},
                    actor=actor,
                    reason=REASON,
                    expected_version=version_of(path.read_bytes()),
                )

        def nothing_batch() -> None:
            for _ in range(batch):
                response = form_post(client, "/nothing", {"reason": REASON})
                assert response.status_code == 200, response.status_code

        service_time, service_write_time = compare(service_batch, write_batch, repeat)
        report("services.apply (no HTTP) vs bare store.write", service_time, service_write_time)
        from django.test import override_settings

        with override_settings(ROOT_URLCONF="bench_interventions_urls"):
            nothing_time, nothing_write_time = compare(nothing_batch, write_batch, repeat)
        report(
            "signed-in POST to a view doing nothing vs bare store.write",
            nothing_time,
            nothing_write_time,
        )
        bare.write(NAME, store.read(NAME).data)
        floor_batch = protocol_floor(root, bare, NAME, batch)
        floor_time, floor_write_time = compare(floor_batch, write_batch, repeat)
        report(
            "the protocol's floor (bare calls, no Django) vs bare store.write",
            floor_time,
            floor_write_time,
        )
        left = 1 / GOAL_APPLY - floor_time / floor_write_time - nothing_time / nothing_write_time
        per_write = floor_write_time / batch
        print(
            f"  the goal leaves {left:.2f}x a bare write ({left * per_write * 1e3:.2f} ms) "
            "for all the rest: validation, diff and summary, snapshot deltas, forms, the "
            "version check, the message and the redirect",
            flush=True,
        )
        big_flow(client, store, 100_000 if args.quick else 1_000_000)
        print(
            f"  {batch / apply_time:,.1f} audited interventions/s "
            f"= {write_time / apply_time:.2f}x the bare write rate (goal >= {GOAL_APPLY}x); "
            f"{batch / flow_time:,.1f} previewed and applied/s; "
            f"{batch / write_time:,.1f} bare writes/s",
            flush=True,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    results.summary()
    return 0


if __name__ == "__main__":
    sys.exit(main())
