"""Fixtures of the console tests: users of every role and clients signed in as them."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from django.contrib.auth.models import Group
from django.test import Client

ROLES = ("viewer", "operator", "admin", "superuser")
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture
def make_user(django_user_model) -> Callable:
    """Create a user with a console role (a group of the 0002_roles migration) or superuser."""

    def make(role: str, username: str | None = None):
        user = django_user_model.objects.create_user(
            username=username or f"{role}-user", password=f"{role}-password-123"
        )
        if role == "superuser":
            user.is_superuser = True
            user.is_staff = True
            user.save()
        elif role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def signed_in(make_user) -> Callable[[str], Client]:
    """A test client signed in with a user of ``role`` (``""``: a user with no role)."""

    def sign_in(role: str) -> Client:
        client = Client()
        client.force_login(make_user(role), backend=MODEL_BACKEND)
        return client

    return sign_in


@pytest.fixture
def viewer(signed_in) -> Client:
    return signed_in("viewer")


def write_json(directory: Path, name: str, data: object) -> Path:
    """Write a checkpoint file the way a job would (2-space JSON)."""
    path = directory / f"{name}.json"
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    return path


def text_of(response) -> str:
    return response.content.decode()


def scripts_of(html: str) -> list[str]:
    return re.findall(r"<script\b[^>]*>", html)


@pytest.fixture(autouse=True)
def fresh_listing(monkeypatch):
    """Every request lists the directory again (tests write files in place between requests);
    the listing cache has its own tests."""
    monkeypatch.setattr("checkpoints_admin.queries.LIST_CACHE_SECONDS", 0.0)
    yield
    from checkpoints_admin import queries

    queries.clear_cache()
