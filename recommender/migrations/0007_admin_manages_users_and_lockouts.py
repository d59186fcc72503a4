"""The admin group runs users, groups and login lockouts. (0004 could not grant the auth permissions: Django
creates them only after all migrations have run, so they are created here first.)"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "auth": ["add_user", "change_user", "view_user", "add_group", "change_group", "view_group", "view_permission"],
    # Unlocking an account is deleting its access attempts.
    "axes": [
        "view_accessattempt",
        "delete_accessattempt",
        "view_accesslog",
        "view_accessfailurelog",
    ],
}


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    admin, _ = Group.objects.get_or_create(name="admin")
    for app_label, codenames in GRANTS.items():
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        perms = list(Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames))
        missing = set(codenames) - {p.codename for p in perms}
        if missing:
            raise RuntimeError(f"permissions not found: {sorted(missing)}")
        admin.permissions.add(*perms)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for admin in Group.objects.filter(name="admin"):
        for app_label, codenames in GRANTS.items():
            admin.permissions.remove(
                *Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("recommender", "0006_dose_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("axes", "0010_accessattemptexpiration"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
