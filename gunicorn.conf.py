"""gunicorn settings for Checkpoints Admin, read from the environment.

Used by the container (``gunicorn checkpoints_admin.wsgi``) and for bare-metal runs:
``gunicorn -c gunicorn.conf.py checkpoints_admin.wsgi``.
"""

import multiprocessing
import os


def _int(name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    """A whole-number setting; a wrong value stops the start naming it."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if (
        not value.isdigit()
        or int(value) < minimum
        or (maximum is not None and int(value) > maximum)
    ):
        bounds = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
        raise SystemExit(f"error: {name} must be a whole number {bounds}, not {value!r}.")
    return int(value)


def _bool(name: str, default: bool) -> bool:
    """A true/false setting; a wrong value stops the start naming it."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SystemExit(f"error: {name} must be true or false, not {value!r}.")


bind = os.environ.get("GUNICORN_BIND", "").strip() or f"0.0.0.0:{_int('PORT', 8000, 1, 65535)}"
workers = _int("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8), 1)
threads = _int("GUNICORN_THREADS", 1, 1)
worker_class = "gthread" if threads > 1 else "sync"

# A request that runs longer than this is killed and logged; large checkpoints parse in well
# under a second, so a minute only catches real hangs (a stuck filesystem, a lost database).
timeout = _int("GUNICORN_TIMEOUT", 60, 1)
# On SIGTERM workers finish the requests in flight (an intervention never stops half-way).
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle workers now and then so a slow leak cannot grow without bound.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)

# Logs to stdout/stderr, where the container runtime collects them.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "").strip() or "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "").strip().lower() or "info"
# One JSON object per request, built with json.dumps: a format string left a client's
# backslash (in its User-Agent, its path) unescaped, which broke the line for log parsers.
logger_class = "checkpoints_admin.accesslog.JsonAccessLogger"

# Behind a reverse proxy that sets X-Forwarded-For / X-Forwarded-Proto.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "").strip() or "127.0.0.1"
# Heartbeat files in memory, not on a possibly slow container filesystem.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# gunicorn's control socket (for gunicornc) only where one is asked for: its default path,
# under $HOME, cannot be created in the image (an error at every start) and would be shared
# by every instance one user runs.
control_socket_path = os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip()
control_socket_disable = not control_socket_path
if control_socket_path:
    control_socket = control_socket_path
# Load the application in the master so a broken configuration fails at start, once.
preload_app = _bool("GUNICORN_PRELOAD", True)


def when_ready(server: object) -> None:
    """With the application preloaded, read the checkpoints directory once in the master,
    before the workers start: each worker (those replacing recycled ones included) then
    begins with every file's summary, read again only when the file changes, instead of
    reading thousands of files at its first page."""
    if not preload_app:
        return
    from checkpoints_admin.checkpoints import CheckpointError
    from checkpoints_admin.conf import get_store

    log = server.log  # type: ignore[attr-defined]
    try:
        count = len(get_store().list())
    except CheckpointError as exc:
        log.warning("checkpoints not read before the workers start: %s", exc)
        return
    log.info("%d checkpoint(s) read before the workers start", count)
