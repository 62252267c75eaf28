"""Project middleware: the health check before host checks, and the log context."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from checkpoints_admin.logcontext import RequestContextFilter, RequestContextMiddleware


@pytest.mark.django_db
def test_healthz_answers_any_host_over_plain_http(client, checkpoints_dir, settings) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["checkpoints.example.com"]
    response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    # Everything else still gets the host check and the HTTPS redirect.
    assert client.get("/", HTTP_HOST="10.1.2.3:8000").status_code == 400
    redirect = client.get("/", HTTP_HOST="checkpoints.example.com")
    assert redirect.status_code == 301
    assert redirect["Location"] == "https://checkpoints.example.com/"


@pytest.mark.django_db
def test_metrics_are_scraped_over_plain_http_with_the_token(client, samples_dir, settings) -> None:
    """A redirect to https would send Prometheus (and its token) through the proxy."""
    settings.SECURE_SSL_REDIRECT = True
    settings.METRICS_TOKEN = "scrape-token-0123456789"
    response = client.get(
        "/metrics",
        HTTP_HOST="localhost",
        HTTP_AUTHORIZATION="Bearer scrape-token-0123456789",
    )
    assert response.status_code == 200
    assert b"checkpoint_progress_ratio" in response.content
    assert client.get("/status/", HTTP_HOST="localhost").status_code == 301


@pytest.mark.django_db
def test_log_lines_carry_the_request_user_and_checkpoint() -> None:
    logger = logging.getLogger("checkpoints_admin.tests")
    records: list[logging.LogRecord] = []

    def view(request: HttpRequest) -> HttpResponse:
        logger.info("acting")
        return HttpResponse("ok")

    middleware = RequestContextMiddleware(view)
    request = RequestFactory().post("/checkpoints/job-1/skip")
    request.user = User(username="olga")

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Capture()
    handler.addFilter(RequestContextFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:

        def run(request: HttpRequest) -> HttpResponse:
            middleware.process_view(request, view, (), {"name": "job-1"})
            return view(request)

        RequestContextMiddleware(run)(request)
        anonymous = RequestFactory().get("/")
        anonymous.user = AnonymousUser()
        RequestContextMiddleware(view)(anonymous)
        logger.info("outside any request")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)

    acting, anonymous_line, outside = records
    assert (acting.user, acting.checkpoint) == ("olga", "job-1")
    assert len(acting.request_id) == 16
    assert not hasattr(anonymous_line, "user")
    assert anonymous_line.request_id != acting.request_id
    assert not hasattr(outside, "request_id")
