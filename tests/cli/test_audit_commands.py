"""``verify_audit`` and ``export_audit`` over entries made by the real commands."""

from __future__ import annotations

import csv
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from checkpoints_admin.conf import get_store
from tests.tampering import tamper

pytestmark = pytest.mark.django_db

REASON = "month-end correction"
UNIFIED = "reconciliation_checkpoint"


def run(*args, **options):
    stdout = StringIO()
    call_command(*args, stdout=stdout, stderr=StringIO(), **options)
    return stdout.getvalue()


@pytest.fixture
def three_entries(samples_dir):
    run("skip_dates", UNIFIED, "2025-03-06", reason=REASON, yes=True)
    run("edit_checkpoint", "my-process", "--set", "/progress=50", reason=REASON, yes=True)
    run("reset_checkpoints", "daily_reconciliation_checkpoint", reason=REASON, yes=True)
    return samples_dir


def test_verify_passes_on_an_untouched_log(three_entries) -> None:
    assert run("verify_audit").startswith("Audit chain intact: 3 entries")
    result = json.loads(run("verify_audit", "--json"))
    assert (result["ok"], result["checked"], result["first_break"]) == (True, 3, None)


def test_verify_names_the_first_altered_entry(three_entries) -> None:
    tamper("UPDATE checkpoints_admin_auditentry SET reason = %s WHERE seq = 2", ["nothing to see"])
    stdout = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit", "--json", stdout=stdout)
    assert excinfo.value.returncode == 1
    assert "entry 2" in str(excinfo.value)
    assert "\n" not in str(excinfo.value)
    result = json.loads(stdout.getvalue())
    assert (result["ok"], result["first_break"]) == (False, 2)


def test_a_recorded_head_tells_that_the_newest_entries_were_deleted(three_entries) -> None:
    """Deleting the newest entries leaves a shorter chain that verifies on its own; the head
    an earlier run printed (kept elsewhere) tells."""
    said = run("verify_audit")
    head = said.rsplit("Head: ", 1)[1].strip()
    result = json.loads(run("verify_audit", "--json"))
    assert head == f"3:{result['head']['hash']}" and result["head"]["seq"] == 3
    assert run("verify_audit", "--expect-head", head).startswith("Audit chain intact: 3")
    tamper("DELETE FROM checkpoints_admin_auditentry WHERE seq = 3")
    assert run("verify_audit").startswith("Audit chain intact: 2 entries")  # (alone: unseen)
    with pytest.raises(CommandError) as excinfo:
        run("verify_audit", "--expect-head", head)
    assert (excinfo.value.returncode, str(excinfo.value)) == (
        1,
        "Audit log cut short: entry 3, the newest when its head was recorded, is missing "
        "(it ends at entry 2).",
    )
    with pytest.raises(CommandError) as excinfo:
        run("verify_audit", "--expect-head", "2:" + "0" * 64)
    assert "entry 2: its hash is not the one recorded for it" in str(excinfo.value)
    with pytest.raises(CommandError) as excinfo:
        run("verify_audit", "--expect-head", "three")
    assert "expected SEQ:HASH (42:<64 hex digits>), not 'three'" in str(excinfo.value)


def test_verify_of_an_empty_log(db) -> None:
    result = json.loads(run("verify_audit", "--json"))
    assert (result["ok"], result["checked"], result["first_break"]) == (True, 0, None)


def test_export_jsonl_one_record_per_entry_with_filters(three_entries) -> None:
    records = [json.loads(line) for line in run("export_audit", "--format", "jsonl").splitlines()]
    assert [(r["id"], r["action"], r["checkpoint"], r["source"]) for r in records] == [
        (1, "skip", UNIFIED, "cli"),
        (2, "edit", "my-process", "cli"),
        (3, "reset", "daily_reconciliation_checkpoint", "cli"),
    ]
    assert {r["reason"] for r in records} == {REASON}
    only = run("export_audit", "--format", "jsonl", "--checkpoint", "my-process").splitlines()
    assert [json.loads(line)["id"] for line in only] == [2]
    assert run("export_audit", "--since", "2999-01-01") == ""
    assert len(run("export_audit", "--since", "2000-01-01T00:00:00Z").splitlines()) == 3


def test_export_csv_to_a_file(three_entries, tmp_path) -> None:
    target = tmp_path / "audit.csv"
    said = run("export_audit", "--format", "csv", "--output", str(target))
    assert said == f"Exported 3 entries to {target}.\n"
    rows = list(csv.DictReader(target.open(newline="", encoding="utf-8")))
    assert [row["id"] for row in rows] == ["1", "2", "3"]
    assert rows[1]["checkpoint"] == "my-process"
    assert json.loads(rows[1]["patch"])[0]["path"] == "/progress"
    # Written through a temporary file, nothing of it left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.csv", "checkpoints"]


def test_export_refuses_bad_values(db, tmp_path) -> None:
    with pytest.raises(CommandError) as excinfo:
        run("export_audit", "--since", "2025-13-45")
    assert "expected YYYY-MM-DD" in str(excinfo.value)
    with pytest.raises(CommandError) as excinfo:
        run("export_audit", "--checkpoint", "../x")
    assert excinfo.value.returncode == 2
    with pytest.raises(CommandError) as excinfo:
        run("export_audit", "--output", str(tmp_path / "no-such-dir" / "audit.jsonl"))
    assert excinfo.value.returncode == 2
    assert not (tmp_path / "no-such-dir").exists()
    for output, said in (
        (str(tmp_path), f"--output {tmp_path} is a directory: give a file name in it."),
        # a directory still to be made: it wrote a file of that name
        (f"{tmp_path}/new/", f"--output {tmp_path}/new/ is a directory: give a file name in it."),
        ("", "--output needs a file name (or - for standard output)."),
        (" ", "--output needs a file name (or - for standard output)."),
    ):
        with pytest.raises(CommandError) as excinfo:
            run("export_audit", "--output", output)
        assert (excinfo.value.returncode, str(excinfo.value)) == (2, said)
    assert not (tmp_path / "new").exists()
    # Never among the checkpoints (a typo would replace a job's file, unlocked, unaudited)
    directory = get_store().directory
    job = directory / "my-process.json"
    job.write_bytes(b'{"id": "my-process-1"}\n')
    for output in (str(job), str(directory / "audit.jsonl"), f"{directory}/sub/../x.jsonl"):
        with pytest.raises(CommandError) as excinfo:
            run("export_audit", "--output", output)
        assert excinfo.value.returncode == 2
        assert str(excinfo.value) == (
            f"--output {output} is in the checkpoints directory ({directory.resolve()}), where "
            "the export could replace a checkpoint: write it elsewhere."
        )
    assert job.read_bytes() == b'{"id": "my-process-1"}\n'
    assert sorted(p.name for p in directory.iterdir()) == ["my-process.json"]
    # A time before year 1 in UTC is no time to start from (not a traceback).
    with pytest.raises(CommandError) as excinfo:
        run("export_audit", "--since", "0001-01-01T00:00:00+05:00")
    assert "expected YYYY-MM-DD or an ISO 8601 time" in str(excinfo.value)


def test_export_needs_no_checkpoints_directory(three_entries, tmp_path, settings) -> None:
    """The log alone (a backup host): the check of where the file goes does not need the
    checkpoints directory to be there."""
    settings.CHECKPOINTS_DIR = tmp_path / "not-here"
    target = tmp_path / "audit.jsonl"
    assert run("export_audit", "--output", str(target)) == f"Exported 3 entries to {target}.\n"
    assert len(target.read_text().splitlines()) == 3


def test_export_to_standard_output_by_dash_and_a_replaced_file_keeps_its_mode(
    three_entries, tmp_path
) -> None:
    assert len(run("export_audit", "--output", "-").splitlines()) == 3
    target = tmp_path / "audit.jsonl"
    target.write_text("old")
    target.chmod(0o644)
    run("export_audit", "--output", str(target))
    assert len(target.read_text().splitlines()) == 3
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)


def test_export_into_a_reader_that_stops_early_ends_quietly(cli) -> None:
    """``export_audit | head``: the pipe closes mid-way; no traceback, nothing left open."""
    import subprocess
    import sys

    fill = (
        "import django; django.setup()\n"
        "from checkpoints_admin import audit\n"
        "for n in range(600):\n"
        "    audit.append_entry(actor='ops', source='cli', action='edit', checkpoint='job',\n"
        "                       reason='r' * 200, summary=f'change {n}')\n"
    )
    made = subprocess.run([sys.executable, "-c", fill], env=cli.env, capture_output=True)
    assert made.returncode == 0, made.stderr
    process = cli.popen("export_audit", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = process.stdout.readline()
    process.stdout.close()  # the reader goes away with most of the log unread
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 1
    assert json.loads(first)["id"] == 1
    assert stderr == b""


def forge_journal_row(samples_dir, payload) -> int:
    """A journal row put into the database by someone without the audit key, naming the
    file's current version as the result, as if a console process had written it and died."""
    from checkpoints_admin.checkpoints.store import version_of
    from checkpoints_admin.models import PendingChange

    version = version_of((samples_dir / f"{UNIFIED}.json").read_bytes())
    row = PendingChange.objects.create(
        checkpoint=UNIFIED, action="edit", payload=payload, base_version="0" * 64,
        result_version=version,
    )  # fmt: skip
    return row.pk


FORGED = {
    "actor": "alice",
    "source": "web",
    "address": "10.0.0.7",
    "action": "edit",
    "checkpoint": UNIFIED,
    "reason": "Approved by CFO",
    "summary": "status running → completed",
}


@pytest.mark.parametrize(
    "payload",
    [
        FORGED,
        {**FORGED, "seal": "0" * 64},
        {},  # (recovery failed on it with a KeyError, every change of the checkpoint too)
        ["not", "an", "object"],
    ],
    ids=["unsealed", "wrong-seal", "empty", "not-an-object"],
)
def test_a_journal_row_the_console_did_not_write_is_never_recorded(
    samples_dir, settings, payload
) -> None:
    """Recovery turned any journal row into a chained entry, signed with the real key: anyone
    able to write to the database could add a change in someone else's name."""
    settings.AUDIT_HMAC_KEY = "the-installation-key"
    run("edit_checkpoint", "my-process", "--set", "/progress=50", reason=REASON, yes=True)
    pk = forge_journal_row(samples_dir, payload)
    stderr = StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit", stdout=StringIO(), stderr=stderr)
    assert excinfo.value.returncode == 1
    said = str(excinfo.value)
    assert said.startswith("Audit chain intact: 1 entry")
    assert said.endswith(
        ". But 1 journal row cannot be recorded (above): check it, then remove it with "
        "--discard-unsealed."
    )
    assert f"Journal row {pk} (edit of {UNIFIED}" in stderr.getvalue()
    assert "is not recorded:" in stderr.getvalue()
    # The next change of that checkpoint goes through, without recording the row.
    run("skip_dates", UNIFIED, "2025-03-06", reason=REASON, yes=True)
    from checkpoints_admin.models import AuditEntry, PendingChange

    assert "alice" not in set(AuditEntry.objects.values_list("actor", flat=True))
    assert PendingChange.objects.filter(pk=pk).exists()

    stderr = StringIO()
    call_command("verify_audit", "--discard-unsealed", stdout=StringIO(), stderr=stderr)
    assert stderr.getvalue().startswith(f"Discarded: Journal row {pk} (edit of {UNIFIED}")
    assert not PendingChange.objects.exists()
    assert run("verify_audit").startswith("Audit chain intact")


def test_a_journal_row_sealed_without_the_key_is_never_recorded(samples_dir, settings) -> None:
    """The seal is keyed like the entries: knowing how it is computed is not enough."""
    from checkpoints_admin import audit
    from checkpoints_admin.models import AuditEntry, PendingChange

    settings.AUDIT_HMAC_KEY = "the-installation-key"
    pk = forge_journal_row(samples_dir, FORGED)
    row = PendingChange.objects.get(pk=pk)
    row.payload = {**FORGED, "seal": audit.journal_seal(
        row.checkpoint, row.action, row.base_version, row.result_version, FORGED, key=""
    )}  # fmt: skip
    row.save()
    with pytest.raises(CommandError):
        call_command("verify_audit", stdout=StringIO(), stderr=StringIO())
    assert not AuditEntry.objects.exists()
    # Sealed with the key, as the console seals its own: recorded (the file has its result).
    row.payload = {**FORGED, "seal": audit.journal_seal(
        row.checkpoint, row.action, row.base_version, row.result_version, FORGED
    )}  # fmt: skip
    row.save()
    assert run("verify_audit").startswith("Audit chain intact: 1 entry,")
    assert list(AuditEntry.objects.values_list("actor", "outcome")) == [("alice", "recovered")]


def test_only_a_row_recovery_will_not_record_can_be_discarded(samples_dir, settings) -> None:
    """What ``--discard-unsealed`` deletes goes through services, which deletes no row the
    console sealed: that one is a change, which recovery records."""
    from checkpoints_admin import audit, services
    from checkpoints_admin.models import PendingChange

    settings.AUDIT_HMAC_KEY = "the-installation-key"
    sealed = PendingChange.objects.get(pk=forge_journal_row(samples_dir, FORGED))
    sealed.payload = {**FORGED, "seal": audit.journal_seal(
        sealed.checkpoint, sealed.action, sealed.base_version, sealed.result_version, FORGED
    )}  # fmt: skip
    sealed.save()
    unsealed = PendingChange.objects.get(pk=forge_journal_row(samples_dir, FORGED))
    with pytest.raises(ValueError, match=f"journal row {sealed.pk} is the console's own"):
        services.discard_unrecorded(sealed)
    services.discard_unrecorded(unsealed)
    assert list(PendingChange.objects.values_list("pk", flat=True)) == [sealed.pk]
