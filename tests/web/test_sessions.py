"""Sessions and the console's auth backend: server-side, revocable, and cheap to check.

Every request loads its session row and its user again, so signing out (anywhere), a password
change or a deactivated account ends a session at its next request; permissions and the role
shown in the header come from one query.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, authenticate
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.signals import user_login_failed
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client

from checkpoints_admin.permissions import ConsoleBackend, role_of
from checkpoints_admin.sessions import SessionStore

CONSOLE_BACKEND = "checkpoints_admin.permissions.ConsoleBackend"


def sign_in(username: str, password: str) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": password})
    assert response.status_code == 302, response.status_code
    return client


def test_signing_in_keeps_the_session_in_the_database_through_the_console_backend(
    make_user, samples_dir
):
    make_user("operator")
    client = sign_in("operator-user", "operator-password-123")
    assert client.session[BACKEND_SESSION_KEY] == CONSOLE_BACKEND
    (row,) = Session.objects.all()
    assert row.session_key == client.cookies["sessionid"].value
    assert client.get("/").status_code == 200


def test_a_session_row_deleted_elsewhere_ends_the_session_at_the_next_request(
    make_user, samples_dir
):
    make_user("viewer")
    client = sign_in("viewer-user", "viewer-password-123")
    assert client.get("/").status_code == 200
    # What signing out in another worker does: the row goes, nothing in this process hears it.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_session")
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_an_expired_session_row_is_not_loaded(make_user, samples_dir):
    make_user("viewer")
    client = sign_in("viewer-user", "viewer-password-123")
    key = client.cookies["sessionid"].value
    assert SessionStore(key).load()
    Session.objects.filter(session_key=key).update(expire_date="2000-01-01T00:00:00Z")
    store = SessionStore(key)
    assert store.load() == {}
    assert store.session_key is None
    assert client.get("/").status_code == 302


def test_a_password_changed_elsewhere_signs_the_session_out(make_user, samples_dir):
    user = make_user("viewer")
    client = sign_in("viewer-user", "viewer-password-123")
    assert client.get("/").status_code == 200
    user.set_password("another-password-456")
    user.save()
    assert client.get("/").status_code == 302


def test_a_deactivated_account_is_signed_out(make_user, samples_dir):
    user = make_user("operator")
    client = sign_in("operator-user", "operator-password-123")
    user.is_active = False
    user.save()
    assert client.get("/").status_code == 302


def test_a_session_signed_in_through_the_plain_model_backend_stays_valid(make_user, samples_dir):
    client = Client()
    client.force_login(make_user("viewer"), backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/").status_code == 200


def test_the_backend_loads_the_same_user_as_the_orm(make_user, db):
    user = make_user("operator")
    loaded = ConsoleBackend().get_user(user.pk)
    assert loaded is not None
    assert {f.attname: getattr(loaded, f.attname) for f in user._meta.concrete_fields} == {
        f.attname: getattr(user, f.attname) for f in user._meta.concrete_fields
    }
    assert loaded.date_joined.tzinfo is not None
    assert ConsoleBackend().get_user(user.pk + 1000) is None


def test_a_wrong_password_is_refused_once_for_all_backends(make_user, rf, db):
    make_user("viewer")
    failures = []

    def record(**kwargs):
        failures.append(kwargs)

    user_login_failed.connect(record)
    try:
        request = rf.post("/accounts/login/")
        with pytest.raises(PermissionDenied):
            ConsoleBackend().authenticate(request, username="viewer-user", password="nope")
        assert authenticate(request, username="viewer-user", password="nope") is None
        assert authenticate(request, username="nobody", password="nope") is None
        user = authenticate(request, username="viewer-user", password="viewer-password-123")
    finally:
        user_login_failed.disconnect(record)
    assert len(failures) == 2
    assert user is not None and user.backend == CONSOLE_BACKEND


def test_permissions_and_groups_come_from_one_query(make_user, db, django_assert_num_queries):
    user = make_user("viewer")
    user.groups.add(Group.objects.get(name="operator"))
    user.user_permissions.add(Permission.objects.get(codename="view_group"))
    expected = ModelBackend().get_all_permissions(type(user).objects.get(pk=user.pk))
    assert "auth.view_group" in expected and "checkpoints_admin.change_checkpoints" in expected

    fresh = type(user).objects.get(pk=user.pk)
    with django_assert_num_queries(1):
        assert fresh.has_perm("checkpoints_admin.change_checkpoints")
        assert not fresh.has_perm("checkpoints_admin.reset_checkpoints")
        assert fresh.get_all_permissions() == expected
        assert role_of(fresh) == "operator"


def test_a_user_without_groups_or_permissions_has_none(make_user, db):
    user = make_user("")
    assert ConsoleBackend().get_all_permissions(user) == set()
    assert role_of(user) == "no role"
    assert not user.has_perm("checkpoints_admin.view_checkpoints")


def test_a_superuser_has_every_permission_as_with_the_model_backend(make_user, db):
    user = make_user("superuser")
    expected = ModelBackend().get_all_permissions(type(user).objects.get(pk=user.pk))
    assert len(expected) == Permission.objects.count()

    fresh = type(user).objects.get(pk=user.pk)
    assert ConsoleBackend().get_all_permissions(fresh) == expected
    assert fresh.get_all_permissions() == expected
    assert role_of(fresh) == "superuser"
