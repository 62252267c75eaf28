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

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, models, transaction

from checkpoints_admin.checkpoints import CheckpointExists
from checkpoints_admin.conf import get_store
from checkpoints_admin.services import database_problem

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
        # Everything that can refuse is checked first: a refusal changes nothing.
        try:
            wanted = not get_user_model().objects.filter(is_superuser=True).exists()
        except DatabaseError as exc:
            raise CommandError(
                f"Database error: {database_problem(exc)}. Run `manage.py migrate` first; "
                "nothing was changed.",
                returncode=1,
            ) from exc
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        if wanted:
            self.check_account(username, password)
        if not no_samples:
            self.copy_samples()
        if wanted:
            self.create_admin(username, password)

    def check_account(self, username: str, password: str) -> None:
        """Refuse a name the sign-in form would not take, or a chosen password the
        password validators refuse (a generated one passes them)."""
        users = get_user_model()
        problems = []
        try:
            field = users._meta.get_field(users.USERNAME_FIELD)
            assert isinstance(field, models.Field)
            field.clean(username, None)
        except ValidationError as exc:
            problems.append(f"Username {username!r}: {' '.join(exc.messages)}")
        if password:
            try:
                password_validation.validate_password(password, users(username=username))
            except ValidationError as exc:
                problems.append(f"DJANGO_SUPERUSER_PASSWORD: {' '.join(exc.messages)}")
        if problems:
            raise CommandError(
                f"Cannot create the first admin account. {' '.join(problems)} Nothing was changed.",
                returncode=2,
            )

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
    def create_admin(self, username: str, password: str) -> None:
        users = get_user_model()
        if users.objects.filter(is_superuser=True).exists():
            return
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
