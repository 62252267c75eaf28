from django.contrib import admin
from django.urls import include, path

from checkpoints_admin.views import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include("checkpoints_admin.status_urls")),
    path("", include("checkpoints_admin.console_urls")),
]

# A form too large to read says so (views.errors.request_refused).
handler400 = "checkpoints_admin.views.errors.request_refused"
# An unreachable database answers 503 with Retry-After (views.errors.server_error).
handler500 = "checkpoints_admin.views.errors.server_error"
