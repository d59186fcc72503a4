"""The three roles of the service, each a Django group of the same name, and what each may do.

The data migrations created the groups; ``sync_roles`` (run after every migrate, and after the test runner's
flushes) keeps their permissions exactly as listed here."""

from __future__ import annotations

CLINICIAN = "clinician"
NURSE = "nurse"
ADMIN = "admin"
ROLES = (CLINICIAN, NURSE, ADMIN)

_CLINICAL = ("patient", "assessment", "treatmentplan")
# Booking (issue 17): nurses and clinicians book and move; admins define locations and sessions.
_BOOKING = ["view_appointment", "book_appointment", "view_location", "view_session", "view_sessionchange"]
_CLINIC_SETUP = ("location", "session", "sessionchange")
# Reminders (issue 16): the patient's contact details and the reminders sent, for the roles that contact patients;
# the reminder settings for admins only (who do not see contact details).
_CONTACT = ["add_contactpreference", "change_contactpreference", "view_contactpreference", "view_remindersend"]
# Recall (issue 16): nurses and clinicians see the recall list and record contact attempts; admins set its numbers.
_RECALL = ["view_contactattempt", "add_contactattempt", "record_contact", "view_recallsettings"]

# app label → codenames, per role.
ROLE_PERMISSIONS: dict[str, dict[str, list[str]]] = {
    CLINICIAN: {
        "recommender": [
            *(f"{action}_{model}" for model in _CLINICAL for action in ("add", "change", "view")),
            "view_labprofile",
            "view_doserecord",
            *_BOOKING,
            *_CONTACT,
            *_RECALL,
        ]
    },
    NURSE: {
        "recommender": [
            *(f"view_{model}" for model in _CLINICAL),
            "view_doserecord",
            "record_dose",
            *_BOOKING,
            *_CONTACT,
            *_RECALL,
        ]
    },
    ADMIN: {
        # Everything in the app but deleting clinical records or editing their history.
        "recommender": [
            *(f"{action}_{model}" for model in _CLINICAL for action in ("add", "change", "view")),
            *(
                f"{action}_{model}"
                for model in ("labprofile", "accesstoken", "clinicclosure", "fhircodemapping")
                for action in ("add", "change", "delete", "view")
            ),
            "add_doserecord",
            "change_doserecord",
            "view_doserecord",
            "record_dose",
            *(f"{action}_{model}" for model in _CLINIC_SETUP for action in ("add", "change", "delete", "view")),
            "view_appointment",
            "book_appointment",
            *(
                f"view_historical{model}"
                for model in (*_CLINICAL, "labprofile", "doserecord", "clinicclosure", *_CLINIC_SETUP, "appointment")
            ),
            "view_accessrecord",  # the access audit: read and export, never changed
            "add_remindersettings",
            "change_remindersettings",
            "view_remindersettings",
            "view_historicalremindersettings",
            *_RECALL,
            "add_recallsettings",
            "change_recallsettings",
            "view_historicalcontactattempt",
            "view_historicalrecallsettings",
            # CDS Hooks: register EHR clients; read the cards issued and the clinicians' feedback on them.
            *(f"{action}_cdsclient" for action in ("add", "change", "delete", "view")),
            "view_cdscard",
            "view_cdsfeedback",
        ],
        "auth": ["add_user", "change_user", "view_user", "add_group", "change_group", "view_group", "view_permission"],
        "axes": ["view_accessattempt", "delete_accessattempt", "view_accesslog", "view_accessfailurelog"],
        # The background tasks' queue (reminders): to see that workers keep up. Arguments are reminder ids only.
        "django_tasks_database": ["view_dbtaskresult"],
    },
}


def sync_roles(**kwargs) -> None:
    """Create the role groups if missing and set their permissions to exactly ROLE_PERMISSIONS."""
    from django.contrib.auth.models import Group, Permission
    from django.db.models import Q

    for role, by_app in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = Q(pk__in=[])
        for app_label, codenames in by_app.items():
            wanted |= Q(content_type__app_label=app_label, codename__in=codenames)
        group.permissions.set(Permission.objects.filter(wanted))


def has_clinical_role(user) -> bool:
    """Whether an active user belongs to one of the three roles (staff or superuser status alone is not a role)."""
    if not getattr(user, "is_active", False) or not user.is_authenticated:
        return False
    cached = getattr(user, "_clinical_role", None)
    if cached is None:
        cached = user._clinical_role = user.groups.filter(name__in=ROLES).exists()
    return cached
