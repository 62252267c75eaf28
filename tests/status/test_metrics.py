"""``/metrics``: the collectors' values on the samples, parsed back, and who may scrape."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from checkpoints_admin import metrics
from checkpoints_admin.checkpoints import CheckpointInfo, CheckpointStore
from checkpoints_admin.models import StatusJob
from checkpoints_admin.services import Actor, apply

NOW = datetime(2025, 3, 6, 10, 20, tzinfo=UTC)
HOUR = 3600.0
DAILY, MANAGED, UNIFIED = (
    "daily_reconciliation_checkpoint",
    "my-process",
    "reconciliation_checkpoint",
)
KINDS = {DAILY: "daily-reconciliation", MANAGED: "managed", UNIFIED: "unified-reconciliation"}


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of the exposition as {(sample name, labels): value}."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def of(name: str, checkpoint: str, **labels: str) -> tuple[str, frozenset]:
    return (
        name,
        frozenset({"checkpoint": checkpoint, "kind": KINDS[checkpoint], **labels}.items()),
    )


def family_types(text: str) -> dict[str, str]:
    return {family.name: family.type for family in text_string_to_metric_families(text)}


@pytest.mark.django_db
def test_values_of_the_samples(samples_dir):
    text = metrics.render(CheckpointStore(samples_dir), stale_after=HOUR, now=NOW).decode()

    values = parse(text)
    assert values[("checkpoints_admin_directory_readable", frozenset())] == 1
    assert values[("checkpoints_admin_checkpoints", frozenset())] == 3
    assert values[of("checkpoint_progress_ratio", DAILY)] == 0.5
    assert values[of("checkpoint_progress_ratio", MANAGED)] == 0.33
    assert values[of("checkpoint_progress_ratio", UNIFIED)] == pytest.approx(7231 / 8564)
    assert values[of("checkpoint_last_update_timestamp_seconds", DAILY)] == pytest.approx(
        datetime(2025, 3, 6, 10, 15, 23, 456000, tzinfo=UTC).timestamp()
    )
    assert values[of("checkpoint_last_update_timestamp_seconds", UNIFIED)] == pytest.approx(
        1709743156.789
    )
    assert {name: values[of("checkpoint_pending_units", name)] for name in KINDS} == {
        DAILY: 1,
        MANAGED: 2,
        UNIFIED: 2,
    }
    assert {name: values[of("checkpoint_completed_units", name)] for name in KINDS} == {
        DAILY: 1,
        MANAGED: 1,
        UNIFIED: 4,
    }
    assert {
        outcome: values[of("checkpoint_records", UNIFIED, outcome=outcome)]
        for outcome in ("successful", "failed", "timeouts")
    } == {"successful": 7189, "failed": 42, "timeouts": 3}
    assert not any(
        name == "checkpoint_records" and ("checkpoint", MANAGED) in labels
        for name, labels in values
    )
    assert {name: values[of("checkpoint_stalled", name)] for name in KINDS} == {
        DAILY: 0,
        MANAGED: 1,
        UNIFIED: 1,
    }
    assert {name: values[of("checkpoint_corrupt", name)] for name in KINDS} == {
        DAILY: 0,
        MANAGED: 0,
        UNIFIED: 0,
    }
    assert {
        (name, severity): values[of("checkpoint_findings", name, severity=severity)]
        for name in KINDS
        for severity in ("error", "warning")
    } == {
        (DAILY, "error"): 0, (DAILY, "warning"): 0,
        (MANAGED, "error"): 0, (MANAGED, "warning"): 1,  # stale
        (UNIFIED, "error"): 0, (UNIFIED, "warning"): 2,  # the gap, and stale
    }  # fmt: skip
    assert {
        action: values[("checkpoints_admin_audit_entries_total", frozenset({("action", action)}))]
        for action in ("create", "edit", "skip", "reprocess", "reset", "restore")
    } == dict.fromkeys(("create", "edit", "skip", "reprocess", "reset", "restore"), 0)
    assert family_types(text) == {
        "checkpoints_admin_directory_readable": "gauge",
        "checkpoints_admin_checkpoints": "gauge",
        "checkpoint_progress_ratio": "gauge",
        "checkpoint_last_update_timestamp_seconds": "gauge",
        "checkpoint_file_modified_timestamp_seconds": "gauge",
        "checkpoint_pending_units": "gauge",
        "checkpoint_completed_units": "gauge",
        "checkpoint_records": "gauge",
        "checkpoint_stalled": "gauge",
        "checkpoint_corrupt": "gauge",
        "checkpoint_findings": "gauge",
        "checkpoints_admin_audit_entries": "counter",
    }


@pytest.mark.django_db
def test_file_modification_times_are_given_for_every_file_a_corrupt_one_too(samples_dir):
    """A document without a time of its own (a running daily job), or no document at all,
    still tells a monitor when its file was last written."""
    path = samples_dir / f"{DAILY}.json"
    data = json.loads(path.read_text())
    for key in ("lastRun", "startTime", "endTime"):
        del data[key]
    path.write_text(json.dumps(data))
    (samples_dir / "broken.json").write_bytes(b'{"status": ')
    os.utime(path, (1_700_000_000, 1_700_000_000))
    os.utime(samples_dir / "broken.json", (1_700_000_100, 1_700_000_100))

    values = parse(metrics.render(CheckpointStore(samples_dir), stale_after=HOUR, now=NOW).decode())
    assert of("checkpoint_last_update_timestamp_seconds", DAILY) not in values
    assert values[of("checkpoint_file_modified_timestamp_seconds", DAILY)] == 1_700_000_000
    broken = (
        "checkpoint_file_modified_timestamp_seconds",
        frozenset({("checkpoint", "broken"), ("kind", "")}),
    )
    assert values[broken] == 1_700_000_100
    os.utime(path, (1_700_000_500, 1_700_000_500))  # written again, the same bytes
    values = parse(metrics.render(CheckpointStore(samples_dir), stale_after=HOUR, now=NOW).decode())
    assert values[of("checkpoint_file_modified_timestamp_seconds", DAILY)] == 1_700_000_500


@pytest.mark.django_db
def test_audit_entries_by_action(samples_dir):
    store = CheckpointStore(samples_dir)
    actor = Actor("operator", "cli")
    apply(
        UNIFIED, "skip", {"dates": ["2025-03-06"]}, actor=actor, reason="vendor outage", store=store
    )
    apply(UNIFIED, "reprocess", {"dates": ["2025-03-06"]}, actor=actor, reason="back", store=store)
    apply(UNIFIED, "skip", {"dates": ["2025-03-07"]}, actor=actor, reason="again", store=store)

    text = metrics.render(store, stale_after=HOUR, now=NOW).decode()

    values = parse(text)
    entries = {
        labels: value
        for (name, labels), value in values.items()
        if name == "checkpoints_admin_audit_entries_total"
    }
    assert entries == {
        frozenset({("action", "create")}): 0,
        frozenset({("action", "edit")}): 0,
        frozenset({("action", "skip")}): 2,
        frozenset({("action", "reprocess")}): 1,
        frozenset({("action", "reset")}): 0,
        frozenset({("action", "restore")}): 0,
    }
    assert "vendor outage" not in text and "operator" not in text
    assert values[of("checkpoint_completed_units", UNIFIED)] == 5


@pytest.mark.django_db
def test_corrupt_file(checkpoints_dir):
    (checkpoints_dir / "broken.json").write_bytes(b"[1, 2")

    values = parse(metrics.render(CheckpointStore(checkpoints_dir), stale_after=HOUR).decode())

    labels = {("checkpoint", "broken"), ("kind", "")}
    assert values[("checkpoint_corrupt", frozenset(labels))] == 1
    assert values[("checkpoint_findings", frozenset({*labels, ("severity", "error")}))] == 1
    assert values[("checkpoint_stalled", frozenset(labels))] == 0
    assert ("checkpoint_progress_ratio", frozenset(labels)) not in values


@pytest.mark.django_db
def test_excluded_checkpoints_are_left_out(samples_dir):
    text = metrics.render(
        CheckpointStore(samples_dir), stale_after=HOUR, exclude={MANAGED}
    ).decode()

    values = parse(text)
    assert values[("checkpoints_admin_checkpoints", frozenset())] == 2
    assert MANAGED not in text


class ListedStore:
    """Stands in for a directory listing with names no real directory could produce."""

    def __init__(self, infos):
        self.infos = infos

    def list(self):
        return list(self.infos)


@pytest.mark.django_db
def test_hostile_label_values_are_escaped():
    hostile = 'evil"} 1\nfake_metric{x="y'
    info = CheckpointInfo(
        name=hostile,
        size=1,
        modified=0.0,
        version=None,
        kind=None,
        summary=None,
        findings=(),
        error="bad",
    )

    text = metrics.render(ListedStore([info]), stale_after=HOUR).decode()

    families = {family.name for family in text_string_to_metric_families(text)}
    assert "fake_metric" not in families
    values = parse(text)
    assert values[("checkpoint_corrupt", frozenset({("checkpoint", hostile), ("kind", "")}))] == 1


# -- the endpoint: who may scrape ------------------------------------------------------------


@pytest.mark.django_db
def test_private_anonymous_gets_401(client, samples_dir, private):
    response = client.get("/metrics")

    assert response.status_code == 401
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["WWW-Authenticate"] == 'Bearer realm="Checkpoints Admin"'
    assert b"checkpoint_" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "seen"), [("viewer", 3), ("operator", 3), ("", 2)])
@pytest.mark.parametrize("visibility", ["private", "public"])
def test_a_console_role_sees_every_checkpoint_a_stakeholder_what_the_page_shows(
    client, samples_dir, settings, django_user_model, role, seen, visibility
):
    """Hidden jobs are left out of the status page for the people who read it (signed in
    without a role); /metrics does not show them either."""
    from django.contrib.auth.models import Group

    settings.STATUS_PAGE_PUBLIC = visibility == "public"
    StatusJob.objects.create(name=MANAGED, hidden=True)
    user = django_user_model.objects.create_user("someone", password="a-long-password-1")
    if role:
        user.groups.add(Group.objects.get(name=role))
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "no-cache" in response["Cache-Control"]
    values = parse(response.content.decode())
    assert values[("checkpoints_admin_checkpoints", frozenset())] == seen
    assert (MANAGED.encode() in response.content) == (seen == 3)


@pytest.mark.django_db
def test_public_anonymous_sees_what_the_page_shows(client, samples_dir, public):
    StatusJob.objects.create(name=MANAGED, hidden=True)

    response = client.get("/metrics")

    assert response.status_code == 200
    values = parse(response.content.decode())
    assert values[("checkpoints_admin_checkpoints", frozenset())] == 2
    assert MANAGED.encode() not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("visibility", ["private", "public"])
def test_token_sees_every_checkpoint(client, samples_dir, settings, metrics_token, visibility):
    settings.STATUS_PAGE_PUBLIC = visibility == "public"
    StatusJob.objects.create(name=MANAGED, hidden=True)

    response = client.get("/metrics", headers={"Authorization": f"Bearer {metrics_token}"})

    assert response.status_code == 200
    assert parse(response.content.decode())[("checkpoints_admin_checkpoints", frozenset())] == 3


@pytest.mark.django_db
@pytest.mark.parametrize("visibility", ["private", "public"])
@pytest.mark.parametrize(
    "header", ["Bearer wrong-token", "Bearer s3cret-metrics-token-and-more", "Bearer ", "bearer x"]
)
def test_wrong_token_is_refused(client, samples_dir, settings, metrics_token, visibility, header):
    settings.STATUS_PAGE_PUBLIC = visibility == "public"

    response = client.get("/metrics", headers={"Authorization": header})

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == (
        'Bearer realm="Checkpoints Admin", error="invalid_token"'
    )
    assert b"checkpoint_" not in response.content


@pytest.mark.django_db
def test_wrong_token_is_refused_even_when_signed_in(signed_in, samples_dir, metrics_token):
    response = signed_in.get("/metrics", headers={"Authorization": "Bearer nope"})

    assert response.status_code == 401


@pytest.mark.django_db
def test_token_without_a_configured_token_is_ignored(client, samples_dir, private, settings):
    settings.METRICS_TOKEN = ""

    response = client.get("/metrics", headers={"Authorization": "Bearer "})

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="Checkpoints Admin"'
    # what would work, in the same words as when a token is set (they tell nobody which)
    assert response.content.decode().startswith(
        "Sign in, or send the METRICS_TOKEN set on the server as Authorization: Bearer <token>."
    )


@pytest.mark.django_db
def test_without_a_token_sent_a_configured_one_is_asked_for(
    client, samples_dir, private, metrics_token
):
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response.content.decode().startswith(
        "Sign in, or send the METRICS_TOKEN set on the server as Authorization: Bearer <token>."
    )


@pytest.mark.django_db
def test_other_schemes_fall_back_to_visibility(client, samples_dir, metrics_token, private):
    response = client.get("/metrics", headers={"Authorization": f"Basic {metrics_token}"})

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="Checkpoints Admin"'
