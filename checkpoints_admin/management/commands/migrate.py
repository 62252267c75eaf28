"""``migrate``: Django's, one instance at a time on PostgreSQL.

Several console instances starting at once each migrate (the container's entrypoint does,
``MIGRATE_ON_START``); on a fresh or upgraded database they raced and all but one failed
(a type or table created twice). Here each waits for a session advisory lock first, then
finds the work done.
"""

from __future__ import annotations

from typing import Any, Final

from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import connections

#: The advisory lock key migrations take (another than the audit chain's).
MIGRATE_LOCK_KEY: Final = 0x436B70744D6967  # "CkptMig"


class Command(DjangoMigrate):
    help = (
        f"{DjangoMigrate.help} On PostgreSQL under an advisory lock, so that instances "
        "starting at once migrate one after the other."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":
            super().handle(*args, **options)
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATE_LOCK_KEY])
        try:
            super().handle(*args, **options)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATE_LOCK_KEY])
