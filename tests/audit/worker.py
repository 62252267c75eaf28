"""A separate process for the audit tests: ``python -m tests.audit.worker COMMAND ...``.

It runs against the database named by ``DATABASE_URL`` and the directory ``CHECKPOINTS_DIR``
(both set by the test), so several real processes can share them, be killed, and be checked.
Each command prints one JSON line on stdout.
"""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402

from checkpoints_admin import audit, services  # noqa: E402
from checkpoints_admin.checkpoints import CheckpointError, CheckpointStore  # noqa: E402
from checkpoints_admin.checkpoints.store import version_of  # noqa: E402
from checkpoints_admin.models import AuditEntry, PendingChange  # noqa: E402


def out(value: object) -> None:
    print(json.dumps(value), flush=True)


def cmd_migrate() -> None:
    call_command("migrate", verbosity=0, interactive=False)
    out({"migrated": True})


def cmd_work(name: str, kind: str, count: str, tag: str) -> None:
    """Apply ``count`` interventions of one kind to one checkpoint (concurrency test)."""
    actor = services.Actor(f"worker-{tag}", "cli")
    done = []
    for i in range(int(count)):
        if kind == "skip":
            # tag "a" skips even-numbered dates, "b" odd ones: distinct dates per process.
            offset = 0 if tag == "a" else 1
            day = f"2030-01-{2 * i + offset + 1:02d}"
            applied = services.apply(name, "skip", {"dates": [day]}, actor=actor, reason=f"w{tag}")
        elif kind == "edit":
            applied = services.apply(
                name, "edit", {"set": {"/progress": i + 1}}, actor=actor, reason=f"w{tag}"
            )
        else:  # cycle: create, edit, reset, restore (delete and re-create included)
            applied = cycle_step(name, i, actor, f"w{tag}")
        done.append(applied.entry.seq)
    out({"seqs": done})


def cycle_step(name: str, i: int, actor: services.Actor, reason: str):
    store = services.get_store()
    if not store.exists(name):
        last_reset = AuditEntry.objects.filter(checkpoint=name, action="reset").order_by("-seq")
        if (i // 4) % 2 and last_reset.exists():
            entry = last_reset.first()
            return services.apply(
                name, "restore", {"entry": entry.seq, "side": "before"}, actor=actor, reason=reason
            )
        document = {"id": name, "status": "running", "progress": 0, "pendingItems": ["x"]}
        return services.apply(name, "create", {"document": document}, actor=actor, reason=reason)
    if i % 4 == 3:
        return services.apply(name, "reset", {}, actor=actor, reason=reason)
    progress = services.get_store().read(name).data["progress"]
    return services.apply(
        name, "edit", {"set": {"/progress": (progress + 7) % 100}}, actor=actor, reason=reason
    )


def cmd_killloop(name: str, rounds: str, seed: str) -> None:
    """Fork children that apply interventions forever; SIGKILL each at a random moment.

    Between rounds the next child's first apply recovers what the killed one left.
    """
    rng = random.Random(int(seed))
    connections.close_all()
    kills = 0
    for _ in range(int(rounds)):
        pid = os.fork()
        if pid == 0:  # child: never returns
            try:
                actor = services.Actor("looper", "cli")
                i = 0
                while True:
                    cycle_step(name, i, actor, "kill test")
                    i += 1
            finally:
                os._exit(1)
        time.sleep(rng.uniform(0.05, 0.35))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        kills += 1
    out({"kills": kills})


def cmd_recover() -> None:
    entries = services.recover_pending()
    out({"recovered": [(e.seq, e.outcome) for e in entries]})


def cmd_state() -> None:
    """Everything the tests check afterwards: the chain, the entries, the journal, the files."""
    result = audit.verify_chain()
    store = services.get_store()
    versions = {}
    for path in sorted(store.directory.glob("*.json")):
        versions[path.stem] = version_of(path.read_bytes())
    out(
        {
            "verify": result.as_dict(),
            "entries": list(
                AuditEntry.objects.order_by("seq").values_list(
                    "seq", "checkpoint", "action", "outcome", "base_version", "result_version"
                )
            ),
            "pending": PendingChange.objects.count(),
            "versions": versions,
        }
    )


def cmd_limited(name: str, limit: str) -> None:
    """Apply an edit that makes the file larger than RLIMIT_FSIZE allows (a real write error)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), int(limit)))
    store = services.get_store()
    data = store.read(name).data
    grown = [*data["pendingItems"], "y" * 10_000]  # a small patch, a larger file
    try:
        services.apply(
            name,
            "edit",
            {"document": {**data, "pendingItems": grown}},
            actor=services.Actor("limited", "cli"),
            reason="grow past the file size limit",
        )
    except CheckpointError as exc:
        out({"error": type(exc).__name__, "message": str(exc)})
    else:
        out({"error": None})


def cmd_stopped(name: str) -> None:
    """Skip a date of ``name`` and stop dead once its journal row is committed, before the
    file is replaced (as a process killed at that moment): a journal row for recovery."""
    CheckpointStore.install = lambda *args, **kwargs: os._exit(0)  # type: ignore[method-assign]
    pending = services.get_store().read(name).data["pendingDates"]
    services.apply(name, "skip", {"dates": pending[:1]}, actor=services.Actor("eve", "cli"),
                   reason="stopped half way")  # fmt: skip
    raise AssertionError("the apply went on past the journal")


def cmd_hold(name: str, seconds: str) -> None:
    """Hold a checkpoint's lock (as a job would) for a while."""
    store = CheckpointStore(os.environ["CHECKPOINTS_DIR"])
    with store.lock(name):
        out({"locked": name})
        time.sleep(float(seconds))


COMMANDS = {
    "migrate": cmd_migrate,
    "work": cmd_work,
    "killloop": cmd_killloop,
    "recover": cmd_recover,
    "state": cmd_state,
    "limited": cmd_limited,
    "hold": cmd_hold,
    "stopped": cmd_stopped,
}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
