"""Project middleware."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from checkpoints_admin.formdata import mark_not_utf8
from checkpoints_admin.logcontext import log_unavailable

logger = logging.getLogger(__name__)


class HealthCheckMiddleware:
    """Answer ``/healthz`` before host validation and the HTTPS redirect.

    Load balancers and the container's HEALTHCHECK call it by IP address over plain HTTP,
    which ALLOWED_HOSTS and SECURE_SSL_REDIRECT would otherwise refuse.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == "/healthz":
            from checkpoints_admin.views.health import healthz

            return healthz(request)
        return self.get_response(request)


class FormDataMiddleware:
    """A posted form whose bytes are not UTF-8 names those fields (:mod:`formdata`), for the
    forms to refuse, instead of reaching them as other text. It reads the body before
    anything reads the form (the CSRF check does), so that a multipart body is still there
    to read twice."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        mark_not_utf8(request)
        return self.get_response(request)


class CheckpointsDirectoryMiddleware:
    """A page that needs the checkpoints directory while it is missing (a wrong
    ``CHECKPOINTS_DIR``, a volume not mounted) answers 503 and says so, instead of a 500.

    The console never creates the directory (see :func:`conf.get_store`). Signed-in users
    read the path; anonymous readers of a public status page only that it is unavailable.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from checkpoints_admin.checkpoints import CheckpointsDirectoryError

        if not isinstance(exception, CheckpointsDirectoryError):
            return None
        log_unavailable(exception.message)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            message = (
                f"{exception.message[:1].upper()}{exception.message[1:]}. Check CHECKPOINTS_DIR, "
                "or that its volume is mounted."
            )
        else:
            message = "The checkpoints cannot be read right now."
        # (status.json and /metrics answer for themselves, in their own format)
        from checkpoints_admin.views.errors import error_page

        return error_page(request, 503, "Checkpoints unavailable", message)
