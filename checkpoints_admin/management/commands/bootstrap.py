"""First-run setup for a local console: sample checkpoints and a first admin account.

``make run`` calls this after ``migrate``. It is idempotent: it fills the checkpoints directory
only when it holds no checkpoint, and creates an account only when no superuser exists.
"""

from __future__ import annotations

import os
import secrets
import string
from importlib import resources
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from checkpoints_admin.checkpoints import CheckpointExists
from checkpoints_admin.conf import get_store

PASSWORD_ALPHABET = string.ascii_letters + string.digits


class Command(BaseCommand):
    help = (
        "Fill an empty checkpoints directory with the sample checkpoints and create a first "
        "admin account when there is none (password from DJANGO_SUPERUSER_PASSWORD, else a "
        "random one printed once)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--username",
            default=os.environ.get("DJANGO_SUPERUSER_USERNAME", "").strip() or "admin",
            help="Name of the first admin account (default: admin, or DJANGO_SUPERUSER_USERNAME).",
        )
        parser.add_argument(
            "--no-samples", action="store_true", help="Do not copy the sample checkpoints."
        )

    def handle(self, *args: Any, username: str, no_samples: bool, **options: Any) -> None:
        if not no_samples:
            self.copy_samples()
        self.create_admin(username)

    def copy_samples(self) -> None:
        store = get_store()
        if store.names():  # (without reading and parsing every checkpoint)
            return
        samples = resources.files("checkpoints_admin") / "samples"
        copied = []
        for sample in sorted(samples.iterdir(), key=lambda entry: entry.name):
            if sample.name.endswith(".json"):
                name = sample.name.removesuffix(".json")
                try:
                    # Through the store (lock, atomic write), byte for byte; a checkpoint a
                    # job created meanwhile is left alone.
                    store.write_raw(name, sample.read_bytes(), create=True)
                except CheckpointExists:
                    continue
                copied.append(name)
        if copied:
            self.stdout.write(
                f"Copied {len(copied)} sample checkpoints into {store.directory}: "
                f"{', '.join(copied)}"
            )

    @transaction.atomic
    def create_admin(self, username: str) -> None:
        users = get_user_model()
        if users.objects.filter(is_superuser=True).exists():
            return
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        generated = not password
        if generated:
            # Letters and digits only: a terminal's double-click selects it whole (a leading
            # "-" or a "_" would cut it short).
            password = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(20))
        user = users.objects.create_superuser(username=username, email="", password=password)
        group = Group.objects.filter(name="admin").first()
        if group is not None:
            user.groups.add(group)
        if generated:
            self.stdout.write(
                self.style.WARNING(
                    f"Created the first admin account: {username} / {password}\n"
                    "This password is shown only once; change it after signing in."
                )
            )
        else:
            self.stdout.write(f"Created the first admin account {username!r}.")
