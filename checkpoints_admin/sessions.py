"""The session engine: Django's database sessions, loaded with one plain query.

``SESSION_ENGINE = "checkpoints_admin.sessions"``. Sessions stay rows of
``django_session`` (the same table and encoding as ``django.contrib.sessions.backends.db``,
so switching engines keeps everyone signed in), read on every request: signing out in one
worker ends the session in all of them. Only the read is different — every signed-in request
loads its session, and a parameterised ``SELECT`` of the one column needed costs a fraction
of building the ORM query for it. Saving, creating and deleting are Django's own.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import connections, router
from django.utils import timezone


class SessionStore(DatabaseSessionStore):
    """Database sessions whose load is a single ``SELECT session_data`` by key, unexpired."""

    def _get_session_from_db(self) -> Any:
        model = self.model
        connection = connections[router.db_for_read(model)]
        opts = model._meta
        quote = connection.ops.quote_name
        expire_date = opts.get_field("expire_date")
        data, key, expires = (
            quote(str(field.column))
            for field in (opts.get_field("session_data"), opts.pk, expire_date)
        )
        sql = f"SELECT {data} FROM {quote(opts.db_table)} WHERE {key} = %s AND {expires} > %s"
        now = expire_date.get_db_prep_value(timezone.now(), connection)
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.session_key, now])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return model(session_key=cast(str, self.session_key), session_data=row[0])
