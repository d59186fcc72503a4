from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "clinician": ["view_doserecord"],
    "nurse": ["view_doserecord"],
    "admin": ["view_doserecord", "add_doserecord", "change_doserecord", "view_historicaldoserecord"],
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("recommender")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=role)
        perms = list(Permission.objects.filter(content_type__app_label="recommender", codename__in=codenames))
        if len(perms) != len(codenames):
            raise RuntimeError(f"permissions missing for {role}")
        group.permissions.add(*perms)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in GRANTS.items():
        for group in Group.objects.filter(name=role):
            group.permissions.remove(*Permission.objects.filter(codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [("recommender", "0005_doses")]
    operations = [migrations.RunPython(grant, revoke)]
