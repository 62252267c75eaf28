"""``/status.json``: visibility, schema (every key's type), caching headers and the 304 flow."""

from __future__ import annotations

import re

import orjson
import pytest

from checkpoints_admin.checkpoints import CheckpointStore
from checkpoints_admin.models import StatusJob

pytestmark = pytest.mark.django_db

ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
ENTRY_KEYS = [
    "name", "displayName", "kind", "state", "progress", "done", "pending", "rate", "eta",
    "lastUpdate", "errors", "warnings",
]  # fmt: skip


def _number(value):
    return type(value) in (int, float)


def test_private_anonymous_gets_401_json(client, samples_dir, private):
    response = client.get("/status.json")

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": "Sign in to read the status feed, or ask for STATUS_PAGE_PUBLIC."
    }
    assert response["WWW-Authenticate"] == 'Session realm="Checkpoints Admin"'
    assert "no-store" in response["Cache-Control"]
    assert b"my-process" not in response.content


def test_private_signed_in(signed_in, samples_dir, private):
    response = signed_in.get("/status.json")

    assert response.status_code == 200
    assert response["Cache-Control"] == "private, max-age=10"
    assert "Cookie" in response["Vary"]
    assert [entry["name"] for entry in response.json()["checkpoints"]] == [
        "daily_reconciliation_checkpoint",
        "my-process",
        "reconciliation_checkpoint",
    ]


@pytest.mark.parametrize("who", ["anonymous", "signed in"])
def test_public(client, stakeholder, samples_dir, public, who):
    if who == "signed in":
        client.force_login(stakeholder, backend="django.contrib.auth.backends.ModelBackend")

    response = client.get("/status.json")

    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=10"
    assert len(response.json()["checkpoints"]) == 3


def test_metrics_token_does_not_open_the_feed(client, samples_dir, private, metrics_token):
    response = client.get("/status.json", headers={"Authorization": f"Bearer {metrics_token}"})

    assert response.status_code == 401


def test_schema_types_of_every_key(client, samples_dir, public):
    (samples_dir / "broken.json").write_bytes(b"{nope")

    feed = orjson.loads(client.get("/status.json").content)

    assert list(feed) == ["generatedAt", "overall", "checkpoints"]
    assert ISO_Z.fullmatch(feed["generatedAt"])
    overall = feed["overall"]
    assert list(overall) == ["state", "message", "jobs", "attention", "states"]
    assert overall["state"] in ("ok", "attention", "empty")
    assert type(overall["message"]) is str
    assert (overall["jobs"], overall["attention"]) == (4, 4)  # the samples are old: stalled
    assert overall["states"] == {"corrupt": 1, "stalled": 3}
    for entry in feed["checkpoints"]:
        assert list(entry) == ENTRY_KEYS
        assert type(entry["name"]) is str and type(entry["displayName"]) is str
        assert entry["kind"] is None or entry["kind"] in (
            "unified-reconciliation",
            "daily-reconciliation",
            "managed",
            "unknown",
        )
        assert entry["state"] in ("pending", "running", "stalled", "completed", "failed", "corrupt")
        assert entry["progress"] is None or (
            _number(entry["progress"]) and 0 <= entry["progress"] <= 1
        )
        for key in ("done", "pending"):
            assert entry[key] is None or (type(entry[key]) is int and entry[key] >= 0)
        assert entry["rate"] is None or (_number(entry["rate"]) and entry["rate"] >= 0)
        for key in ("eta", "lastUpdate"):
            assert entry[key] is None or ISO_Z.fullmatch(entry[key])
        for key in ("errors", "warnings"):
            assert type(entry[key]) is int and entry[key] >= 0
    by_name = {entry["name"]: entry for entry in feed["checkpoints"]}
    assert by_name["broken"]["kind"] is None and by_name["broken"]["errors"] == 1
    assert by_name["my-process"]["lastUpdate"] == "2025-03-06T09:05:00.000Z"
    assert by_name["my-process"]["eta"] is None  # stalled: no finish time


def test_304_flow(client, samples_dir, public):
    first = client.get("/status.json")
    etag = first["ETag"]

    again = client.get("/status.json", headers={"If-None-Match": etag})
    weak = client.get("/status.json", headers={"If-None-Match": f'"other", W/{etag}'})
    other = client.get("/status.json", headers={"If-None-Match": '"something-else"'})

    assert first.status_code == 200 and etag.startswith('"')
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    assert again["Cache-Control"] == "public, max-age=10"
    assert weak.status_code == 304
    assert other.status_code == 200 and other["ETag"] == etag

    store = CheckpointStore(samples_dir)
    current = store.read("my-process")
    store.write("my-process", {**current.data, "progress": 66}, expected_version=current.version)
    changed = client.get("/status.json", headers={"If-None-Match": etag})

    assert changed.status_code == 200
    assert changed["ETag"] != etag
    by_name = {entry["name"]: entry for entry in changed.json()["checkpoints"]}
    assert by_name["my-process"]["progress"] == 0.66


def test_304_only_after_the_visibility_check(client, signed_in, samples_dir, private):
    etag = signed_in.get("/status.json")["ETag"]
    signed_in.logout()

    response = signed_in.get("/status.json", headers={"If-None-Match": etag})

    assert response.status_code == 401


def test_hidden_jobs_and_display_names(client, samples_dir, public):
    StatusJob.objects.create(name="my-process", hidden=True)
    StatusJob.objects.create(name="reconciliation_checkpoint", display_name="Reconciliation")

    feed = client.get("/status.json").json()

    assert [(entry["name"], entry["displayName"]) for entry in feed["checkpoints"]] == [
        ("daily_reconciliation_checkpoint", "daily_reconciliation_checkpoint"),
        ("reconciliation_checkpoint", "Reconciliation"),
    ]
    assert feed["overall"]["jobs"] == 2


def test_hostile_display_name_is_plain_json_text(client, samples_dir, public):
    hostile = '</script><script>alert("x")</script>\\ \u2028 "quoted" & \n'
    StatusJob.objects.create(name="my-process", display_name=hostile)

    response = client.get("/status.json")

    assert response["Content-Type"] == "application/json"
    entry = {e["name"]: e for e in orjson.loads(response.content)["checkpoints"]}["my-process"]
    assert entry["displayName"] == hostile


def test_only_safe_methods(client, samples_dir, public):
    assert client.post("/status.json").status_code == 405
    assert client.head("/status.json").status_code == 200


def test_no_operator_details(client, samples_dir, public):
    body = client.get("/status.json").content

    for secret in (b"item1", b"item2", b"pendingItems", b"2025-03-05", b"stats", b"successful"):
        assert secret not in body
