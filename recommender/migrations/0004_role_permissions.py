from django.contrib.auth.management import create_permissions
from django.db import migrations

CLINICAL = ("patient", "assessment", "treatmentplan")
ROLE_PERMISSIONS = {
    "clinician": [
        *(f"{action}_{model}" for model in CLINICAL for action in ("add", "change", "view")),
        "view_labprofile",
    ],
    "nurse": [*(f"view_{model}" for model in CLINICAL), "record_dose"],
    "admin": "all",
}


def grant(apps, schema_editor):
    # Permissions are normally created after migrations; create them now so they can be granted.
    app_config = apps.get_app_config("recommender")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        if codenames == "all":
            # Admins run the service, but clinical records are never hard-deleted and history is never edited.
            perms = (
                Permission.objects.filter(content_type__app_label__in=["recommender", "auth"])
                .exclude(codename__in=[f"delete_{model}" for model in CLINICAL])
                .exclude(content_type__model__startswith="historical", codename__regex=r"^(add|change|delete)_")
            )
        else:
            perms = Permission.objects.filter(content_type__app_label="recommender", codename__in=codenames)
            missing = set(codenames) - set(perms.values_list("codename", flat=True))
            if missing:
                raise RuntimeError(f"permissions not found for {role}: {sorted(missing)}")
        group.permissions.add(*perms)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name__in=ROLE_PERMISSIONS):
        group.permissions.clear()


class Migration(migrations.Migration):
    dependencies = [("recommender", "0003_clinical_records"), ("contenttypes", "0002_remove_content_type_name")]
    operations = [migrations.RunPython(grant, revoke)]
