"""URLs of the status page, the status feed and the metrics."""

from django.urls import URLPattern, URLResolver, path

from checkpoints_admin.views import status

urlpatterns: list[URLPattern | URLResolver] = [
    path("status/", status.status_page, name="status"),
    path("status.json", status.status_json, name="status_json"),
    path("metrics", status.metrics, name="metrics"),
]
