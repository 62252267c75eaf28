"""Project middleware."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


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
