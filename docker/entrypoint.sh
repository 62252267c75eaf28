#!/bin/sh
# Container entrypoint: wait for the database, apply migrations, create the first admin when
# DJANGO_SUPERUSER_PASSWORD is given, then exec the command (gunicorn by default) so it runs
# as PID 1 and receives the container's signals. A one-off command (`docker run IMAGE
# python manage.py …`) runs as it is: it neither migrates the database the running console
# uses nor creates accounts.
set -eu

# The same words as every other boolean setting: true/false, 1/0, yes/no, on/off (checked
# before waiting for the database, so a typo is said at once).
migrate="$(printf '%s' "${MIGRATE_ON_START:-true}" | tr -d '[:space:]' | tr '[:upper:]' '[:lower:]')"
case "${migrate:-true}" in
    true | 1 | yes | on) migrate=true ;;
    false | 0 | no | off) migrate=false ;;
    *)
        echo "error: MIGRATE_ON_START must be true or false, not '${MIGRATE_ON_START}'." >&2
        exit 2
        ;;
esac

# The mode of the files the console creates (a new checkpoint, a checkpoint's lock file):
# UMASK=0002 makes them writable by the directory's group too, for jobs that run as other
# users in it (see the README). Unset: the umask the container runtime gives (0022).
umask_value="$(printf '%s' "${UMASK:-}" | tr -d '[:space:]')"
case "$umask_value" in
    "") ;;
    [0-7][0-7][0-7] | 0[0-7][0-7][0-7]) umask "$umask_value" ;;
    *)
        echo "error: UMASK must be an octal mask such as 0002 or 0022, not '${UMASK}'." >&2
        exit 2
        ;;
esac

# gunicorn reads WEB_CONCURRENCY itself, before gunicorn.conf.py can check it, and stops with a
# Python traceback on a value that is not a number: said here in one line instead.
# (blanks around it are allowed, as gunicorn.conf.py allows them; "1 2" is not 12)
workers="$(printf '%s' "${WEB_CONCURRENCY:-}" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')"
case "$workers" in
    "") ;;
    *[!0-9]*) workers_bad=1 ;;
    *[1-9]*) ;;
    *) workers_bad=1 ;;  # (only zeros)
esac
if [ -n "${workers_bad:-}" ]; then
    echo "error: WEB_CONCURRENCY must be a whole number of at least 1, not '${WEB_CONCURRENCY}'." >&2
    exit 2
fi

case " $* " in
    *" manage.py "* | *"/manage.py "*) exec "$@" ;;
esac

python manage.py wait_for_database --timeout "${DATABASE_WAIT_SECONDS:-60}"
if [ "$migrate" = true ]; then
    python manage.py migrate --noinput
fi
if [ -n "${DJANGO_SUPERUSER_PASSWORD:-}" ]; then
    python manage.py bootstrap --no-samples
fi
# The server need not keep the first admin's password in its environment (/proc/1/environ).
unset DJANGO_SUPERUSER_PASSWORD
exec "$@"
