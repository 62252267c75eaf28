"""The console's roles as groups: viewer (read), operator (change), admin (reset, users)."""

from __future__ import annotations

from typing import Any

from django.db import migrations

VIEWER = [
    ("checkpoints_admin", "view_checkpoints"),
    ("checkpoints_admin", "view_auditentry"),
]
OPERATOR = [*VIEWER, ("checkpoints_admin", "change_checkpoints")]
ADMIN = [
    *OPERATOR,
    ("checkpoints_admin", "reset_checkpoints"),
    ("checkpoints_admin", "view_statusjob"),
    ("checkpoints_admin", "add_statusjob"),
    ("checkpoints_admin", "change_statusjob"),
    ("checkpoints_admin", "delete_statusjob"),
    ("auth", "view_user"),
    ("auth", "add_user"),
    ("auth", "change_user"),
    ("auth", "delete_user"),
    ("auth", "view_group"),
]
ROLES = {"viewer": VIEWER, "operator": OPERATOR, "admin": ADMIN}


def create_roles(apps: Any, schema_editor: Any) -> None:
    from django.contrib.auth.management import create_permissions

    alias = schema_editor.connection.alias
    # Permissions are normally created after all migrations ran (post_migrate); create the
    # ones the groups need now, so a fresh database gets working roles in one migrate.
    for label in ("auth", "checkpoints_admin"):
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=alias)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, wanted in ROLES.items():
        group, _ = Group.objects.using(alias).get_or_create(name=name)
        permissions = [
            Permission.objects.using(alias).get(content_type__app_label=app, codename=codename)
            for app, codename in wanted
        ]
        group.permissions.add(*permissions)


def remove_roles(apps: Any, schema_editor: Any) -> None:
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("checkpoints_admin", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
