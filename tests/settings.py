"""Minimal test settings: the production module with a test key, plain HTTP and fast hashing."""

import os
import tempfile
from pathlib import Path

os.environ.setdefault(
    "DJANGO_SECRET_KEY", "tests-only-secret-key-not-for-production-use-0123456789"
)
os.environ.setdefault("DJANGO_HTTPS", "false")
os.environ.setdefault("CHECKPOINTS_DIR", tempfile.mkdtemp(prefix="checkpoints-tests-"))
if not os.environ.get("DATABASE_URL", "").strip():
    os.environ["DATABASE_URL"] = (
        f"sqlite:///{Path(tempfile.mkdtemp(prefix='db-tests-')) / 'db.sqlite3'}"
    )

from checkpoints_admin.settings import *  # noqa: E402, F403

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not shared memory: live-server threads then open connections of their own.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(Path(tempfile.mkdtemp(prefix="db-tests-")) / "test.sqlite3")
    }
STATIC_ROOT = Path(tempfile.mkdtemp(prefix="static-tests-"))
WHITENOISE_USE_FINDERS = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
LOGGING = {"version": 1, "disable_existing_loggers": False}
AXES_ENABLED = True
