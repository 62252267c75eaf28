"""The stakeholder status page, the JSON status feed and the Prometheus metrics.

Visibility: private by default, so the page sends anonymous people to the sign-in page while
the machine endpoints answer ``401`` (JSON for the feed, plain text for the metrics) instead of
a redirect. ``STATUS_PAGE_PUBLIC`` opens the page and the feed to anyone. ``/metrics`` is
visible as the page is, or with ``Authorization: Bearer <METRICS_TOKEN>`` when that is set.
"""

from __future__ import annotations

import logging

from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRefresh

from checkpoints_admin import metrics as metrics_module
from checkpoints_admin import statusfeed
from checkpoints_admin.checkpoints import (
    CheckpointError,
    CheckpointsDirectoryError,
    CheckpointStore,
)
from checkpoints_admin.conf import get_settings, get_store
from checkpoints_admin.logcontext import log_unavailable
from checkpoints_admin.permissions import VIEW_CHECKPOINTS
from checkpoints_admin.views.common import HtmxHttpRequest

#: Seconds a browser or proxy may reuse the feed; the page refreshes every REFRESH_SECONDS.
FEED_MAX_AGE = 10
REFRESH_SECONDS = 30
#: Job cards per page of the status page.
STATUS_PAGE_SIZE = 60
REALM = 'realm="Checkpoints Admin"'

logger = logging.getLogger(__name__)


def _visible(request: HttpRequest) -> bool:
    return get_settings().status_page_public or request.user.is_authenticated


@require_safe
@vary_on_headers("HX-Request")
def status_page(request: HtmxHttpRequest) -> HttpResponse:
    """The page for stakeholders: an overall banner and a card per visible job."""
    if not _visible(request):
        if request.htmx:
            # A poll after the session ended: reload, which lands on the sign-in page.
            return HttpResponseClientRefresh()
        return redirect_to_login(request.get_full_path())
    app = get_settings()
    now = timezone.now()
    try:
        store = get_store()
        report = statusfeed.cached_feed(store, stale_after=app.stale_after_seconds).report
        # A page of cards at a time: ten thousand jobs made a page of tens of megabytes
        # (the banner still counts them all; the feed gives them all).
        page = Paginator(report.jobs, STATUS_PAGE_SIZE).get_page(request.GET.get("page"))
        strips = statusfeed.strips(store, page.object_list, report.infos)
    except CheckpointError as exc:
        logger.error("status page: %s", exc)
        report, strips = statusfeed.unavailable_report(now), {}
        page = Paginator(report.jobs, STATUS_PAGE_SIZE).get_page(1)
    cards = [statusfeed.Card(job, strips.get(job.name), now) for job in page.object_list]
    template = "status/status.html"
    if request.htmx:
        template += "#board"
    response = render(
        request,
        template,
        {
            "report": report,
            "overall": report.overall,
            "cards": cards,
            "page": page,
            "refresh_seconds": REFRESH_SECONDS,
            "public": app.status_page_public,
        },
        status=503 if report.overall.state == "unavailable" else 200,
    )
    # The page carries a CSRF token in the header's sign-out form: never in a shared cache.
    patch_cache_control(response, private=True, no_cache=True, max_age=0)
    return response


@require_safe
def status_json(request: HttpRequest) -> HttpResponse:
    """The status feed (schema in the README); ETag over everything but ``generatedAt``."""
    app = get_settings()
    if not _visible(request):
        refused = JsonResponse(
            {"error": "Sign in to read the status feed, or ask for STATUS_PAGE_PUBLIC."},
            status=401,
        )
        refused["WWW-Authenticate"] = f"Session {REALM}"
        patch_cache_control(refused, private=True, no_store=True)
        return refused
    try:
        feed = statusfeed.cached_feed(get_store(), stale_after=app.stale_after_seconds)
    except CheckpointError as exc:
        logger.error("status feed: %s", exc)
        failed = JsonResponse({"error": "The checkpoints cannot be read right now."}, status=503)
        patch_cache_control(failed, no_store=True)
        return failed
    response = HttpResponse(feed.body, content_type="application/json")
    response["ETag"] = feed.etag
    if app.status_page_public:
        patch_cache_control(response, public=True, max_age=FEED_MAX_AGE)
    else:
        patch_cache_control(response, private=True, max_age=FEED_MAX_AGE)
    # Answers 304 to a matching If-None-Match (weak comparison), with ETag and Cache-Control.
    return get_conditional_response(request, etag=feed.etag, response=response) or response


def _bearer_token(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def _metrics_unauthorized(message: str, challenge: str) -> HttpResponse:
    response = HttpResponse(message + "\n", status=401, content_type="text/plain; charset=utf-8")
    response["WWW-Authenticate"] = challenge
    return response


@require_safe
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics. The token or a user of a console role sees every checkpoint; the
    status page's other readers (signed in without a role, anonymous visitors of a public
    page) see what the page shows them (hidden jobs left out)."""
    app = get_settings()
    token = _bearer_token(request) if app.metrics_token else None
    exclude: frozenset[str] = frozenset()
    if token is not None:
        if not constant_time_compare(token, app.metrics_token):
            return _metrics_unauthorized(
                "The metrics token is wrong.",
                f'Bearer {REALM}, error="invalid_token"',
            )
    elif request.user.has_perm(VIEW_CHECKPOINTS):
        pass
    elif request.user.is_authenticated or app.status_page_public:
        exclude = frozenset(name for name, job in statusfeed.job_settings().items() if job.hidden)
    else:
        # (The same words whether a token is set or not: they tell nobody which.)
        return _metrics_unauthorized(
            "Sign in, or send the METRICS_TOKEN set on the server as "
            "Authorization: Bearer <token>.",
            f"Bearer {REALM}",
        )
    try:
        store: CheckpointStore | None = get_store()
    except CheckpointsDirectoryError as exc:
        log_unavailable(exc.message)
        store = None  # the metrics say so: checkpoints_admin_directory_readable 0
    body = metrics_module.render(store, stale_after=app.stale_after_seconds, exclude=exclude)
    return HttpResponse(body, content_type=metrics_module.CONTENT_TYPE)
