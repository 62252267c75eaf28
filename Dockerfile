# syntax=docker/dockerfile:1
# Checkpoints Admin: the ops console served by gunicorn, static files by whitenoise.

# --- build: a virtualenv with the pinned dependencies and the project --------------------------
FROM python:3.13-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.lock ./
RUN pip install --require-virtualenv -r requirements.lock
COPY manage.py gunicorn.conf.py ./
COPY checkpoints_admin ./checkpoints_admin
COPY templates ./templates
COPY static ./static
COPY docker ./docker
# The app runs from /app (manage.py, gunicorn and `python -m` find the package there, and
# settings find templates/ and static/ beside it); only its dependencies live in the venv.
RUN mkdir -p /tmp/checkpoints \
    && DJANGO_SECRET_KEY=collectstatic-only CHECKPOINTS_DIR=/tmp/checkpoints \
       DATABASE_URL=sqlite:////tmp/collectstatic-never-opened.sqlite3 \
       python manage.py collectstatic --noinput

# --- runtime: the slim image, the virtualenv, the app, a non-root user -------------------------
FROM python:3.13-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8000 \
    CHECKPOINTS_DIR=/data/checkpoints
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /data/checkpoints \
    && chown app:app /data/checkpoints
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=root:root /app /app
WORKDIR /app
USER app
VOLUME ["/data/checkpoints"]
EXPOSE 8000
# Python's own modules: the slim image has no curl or wget. /healthz, asked where gunicorn
# listens (GUNICORN_BIND or PORT), is exempt from the HTTPS redirect and answers 200 only when
# the database and the checkpoints directory are usable.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["gunicorn", "--config", "/app/gunicorn.conf.py", "checkpoints_admin.wsgi"]
