"""Fixtures of the status tests: people, visibility, the metrics token."""

from __future__ import annotations

import pytest

PASSWORD = "a-long-test-password-1234"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture
def stakeholder(django_user_model):
    """A signed-in person with no group at all: the status page needs only a sign-in."""
    return django_user_model.objects.create_user("stakeholder", password=PASSWORD)


@pytest.fixture
def signed_in(client, stakeholder):
    client.force_login(stakeholder, backend=MODEL_BACKEND)
    return client


@pytest.fixture
def public(settings):
    settings.STATUS_PAGE_PUBLIC = True


@pytest.fixture
def private(settings):
    settings.STATUS_PAGE_PUBLIC = False


@pytest.fixture
def metrics_token(settings) -> str:
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    return settings.METRICS_TOKEN
