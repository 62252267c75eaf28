#!/bin/sh
# Container entrypoint: wait for the database, apply migrations, create the first admin when
# DJANGO_SUPERUSER_PASSWORD is given, then exec the command (gunicorn by default) so it runs
# as PID 1 and receives the container's signals.
set -eu

python manage.py wait_for_database --timeout "${DATABASE_WAIT_SECONDS:-60}"
if [ "${MIGRATE_ON_START:-true}" = "true" ]; then
    python manage.py migrate --noinput
fi
if [ -n "${DJANGO_SUPERUSER_PASSWORD:-}" ]; then
    python manage.py bootstrap --no-samples
fi
exec "$@"
