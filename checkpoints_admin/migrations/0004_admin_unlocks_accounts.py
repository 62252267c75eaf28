"""The admin role unlocks accounts: it reads and deletes django-axes' records of failed
sign-ins in /admin/ (deleting a user's access attempt ends their lock-out)."""

from __future__ import annotations

from typing import Any

from django.db import migrations

UNLOCK = [
    ("axes", "view_accessattempt"),
    ("axes", "delete_accessattempt"),
    ("axes", "view_accessfailurelog"),
    ("axes", "delete_accessfailurelog"),
]
# Added to the roles of 0002_roles.
ROLES = {"admin": UNLOCK}


def _permissions(apps: Any, alias: str, wanted: list[tuple[str, str]]) -> list[Any]:
    Permission = apps.get_model("auth", "Permission")
    return [
        Permission.objects.using(alias).get(content_type__app_label=app, codename=codename)
        for app, codename in wanted
    ]


def grant(apps: Any, schema_editor: Any) -> None:
    from django.contrib.auth.management import create_permissions

    alias = schema_editor.connection.alias
    # Permissions are normally created after all migrations ran (post_migrate): on a fresh
    # database axes' do not exist yet. Create the missing ones now (those there are kept).
    app_config = apps.get_app_config("axes")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0, using=alias)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    for name, wanted in ROLES.items():
        # A role an admin deleted on purpose is not brought back.
        for group in Group.objects.using(alias).filter(name=name):
            group.permissions.add(*_permissions(apps, alias, wanted))


def revoke(apps: Any, schema_editor: Any) -> None:
    alias = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, wanted in ROLES.items():
        found = [
            permission
            for app, codename in wanted
            for permission in Permission.objects.using(alias).filter(
                content_type__app_label=app, codename=codename
            )
        ]
        for group in Group.objects.using(alias).filter(name=name):
            group.permissions.remove(*found)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("axes", "0008_accessfailurelog"),
        ("checkpoints_admin", "0003_audit_indexes"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
