"""The project's URLs plus one view that fails, to see the 500 page users get."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from checkpoints_admin.urls import urlpatterns as project_urls


def failing_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret internal detail /etc/checkpoints.conf")


urlpatterns = [path("failing/", failing_view), *project_urls]
