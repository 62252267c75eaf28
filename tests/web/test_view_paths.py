"""User-facing paths of the read-only pages that the main page tests do not reach: a user who
may read checkpoints but not the audit log, odd query parameters, unreadable inputs."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from tests.web.conftest import MODEL_BACKEND, text_of, write_json

NAME = "my-process"


@pytest.fixture
def reader(django_user_model) -> Client:
    """A signed-in user who may read checkpoints but not the audit log (no role group)."""
    user = django_user_model.objects.create_user(username="reader", password="reader-pass-123")
    user.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="checkpoints_admin", codename="view_checkpoints"
        )
    )
    client = Client()
    client.force_login(user, backend=MODEL_BACKEND)
    return client


def test_a_reader_without_the_audit_log_cannot_compare_snapshots(reader, samples_dir):
    refused = reader.get(f"/diff/?a=entry:1:before&b=checkpoint:{NAME}")
    assert refused.status_code == 403
    assert "Comparing audit snapshots needs access to the audit log." in text_of(refused)
    allowed = reader.get(f"/diff/?a=checkpoint:{NAME}&b=checkpoint:{NAME}")
    assert allowed.status_code == 200


def test_a_reader_without_the_audit_log_sees_no_history(reader, samples_dir):
    response = reader.get(f"/checkpoints/{NAME}/?tab=history")
    assert response.status_code == 200
    assert "?tab=history" not in text_of(response)
    assert "Audit entries</a>" not in text_of(response)
    assert reader.get("/audit/").status_code == 403


def test_the_list_says_why_when_the_directory_cannot_be_listed(viewer, tmp_path, settings):
    regular = tmp_path / "not-a-directory"
    regular.write_text("x")
    settings.CHECKPOINTS_DIR = regular
    response = viewer.get("/")
    assert response.status_code == 200
    alert = '<div class="alert alert--page" role="alert">The checkpoints directory '
    assert alert in text_of(response)
    assert "not-a-directory&#x27; is not a directory.</div>" in text_of(response)
    # The diff page still offers its form, with no names to pick.
    assert viewer.get("/diff/").status_code == 200


def test_a_missing_directory_is_said_and_never_created(viewer, tmp_path, settings):
    """A wrong CHECKPOINTS_DIR, or a volume not mounted, must not look like an empty list."""
    missing = tmp_path / "not-mounted" / "checkpoints"
    settings.CHECKPOINTS_DIR = missing
    listed = text_of(viewer.get("/"))
    assert "checkpoints&#x27; does not exist.</div>" in listed
    assert '<div class="alert alert--page" role="alert">The checkpoints directory' in listed
    # the table does not say the opposite ("No checkpoint files yet", "Live")
    assert "No checkpoint files yet" not in listed
    assert "<strong>Nothing can be listed.</strong>" in listed
    assert 'class="live live--off"' in listed
    page = viewer.get("/checkpoints/anything/")
    assert page.status_code == 503
    assert "does not exist" in text_of(page)
    assert viewer.get("/checkpoints/anything/raw").status_code == 503
    feed = viewer.get("/status.json")
    assert feed.status_code == 503
    assert feed.json() == {"error": "The checkpoints cannot be read right now."}
    assert viewer.get("/healthz").status_code == 503
    # anonymous readers of a public status page are not told the server's paths
    settings.STATUS_PAGE_PUBLIC = True
    public = Client().get("/status/")
    assert public.status_code == 503
    assert "Please look again in a few minutes." in text_of(public)
    assert "not-mounted" not in text_of(public)
    assert not missing.exists() and not missing.parent.exists()


def test_a_directory_that_goes_away_is_said_too(viewer, tmp_path, settings):
    """A volume unmounted under a running console: the store made before says so too."""
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    settings.CHECKPOINTS_DIR = directory
    assert viewer.get("/").status_code == 200
    directory.rmdir()
    page = viewer.get("/checkpoints/anything/")
    assert page.status_code == 503
    assert "checkpoints&#x27; does not exist. Check CHECKPOINTS_DIR" in text_of(page)
    assert "does not exist.</div>" in text_of(viewer.get("/"))
    assert not directory.exists()


def test_a_checkpoint_larger_than_the_limit_is_a_413_page(viewer, samples_dir, settings):
    settings.CHECKPOINT_MAX_BYTES = 10
    assert viewer.get(f"/checkpoints/{NAME}/").status_code == 413
    assert viewer.get(f"/checkpoints/{NAME}/raw").status_code == 413


def test_a_diff_side_that_cannot_be_read_is_a_422(viewer, checkpoints_dir):
    """It was a 404, as for an entry that is not there; the file is there, not comparable."""
    (checkpoints_dir / "broken.json").write_bytes(b"{not json")
    write_json(checkpoints_dir, "fine", {"id": "fine"})
    response = viewer.get("/diff/?a=checkpoint:broken&b=checkpoint:fine")
    assert response.status_code == 422
    assert "Checkpoint “broken” cannot be read" in text_of(response)  # at the field
    assert '<input type="text" id="id_a"' in text_of(response)


@pytest.mark.parametrize(
    "query",
    ["?page=abc", "?page=-3", "?page=99999", "?sort=nonsense&order=sideways", "?state=%00"],
)
def test_malformed_list_parameters_still_show_the_list(viewer, samples_dir, query):
    response = viewer.get("/" + query)
    assert response.status_code == 200
    assert NAME in text_of(response)


@pytest.mark.parametrize(
    "query", ["?tab=nonsense", "?tab=calendar", "?tab=lists&list=nonsense&page=abc", "?month=x"]
)
def test_malformed_detail_parameters_still_show_the_checkpoint(viewer, samples_dir, query):
    # my-process is a managed (item) checkpoint: it has no calendar to show.
    response = viewer.get(f"/checkpoints/{NAME}/" + query)
    assert response.status_code == 200
    assert NAME in text_of(response)
